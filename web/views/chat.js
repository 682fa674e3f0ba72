// One room's screen: header (search, invite, people), notices, the message list, presence,
// typing line and the composer (with edit mode and rate-limit pause).
import { HISTORY_PAGE_SIZE, MAX_TEXT_CHARS } from "../protocol.js";
import { describeError, uploadFile } from "../lib/api.js";
import { formatTime, plural } from "../lib/format.js";
import { checkSearch, isPrivateRoom } from "../lib/validate.js";
import { copyText, h, icon, replace } from "./dom.js";
import { messageList } from "./messages.js";

export function chatView({ room, session, api, sharePrivateLink = false }) {
  const isPrivate = isPrivateRoom(room);
  const roomLabel = isPrivate ? "this private room" : `#${room}`;
  const list = messageList({ session, onEdit: startEdit, onDelete: confirmDelete });
  let editing = null; // the message being edited
  let history = { loading: false, error: null };
  let blockTimer = null;

  // -- header ----------------------------------------------------------------------------------
  const peopleCount = h("span", { class: "count" }, "0");
  const peopleButton = h("button", { type: "button", class: "secondary people-toggle", "aria-expanded": "false", "aria-controls": "people" }, icon("people"), h("span", { class: "label" }, "People"), peopleCount);
  const searchButton = h("button", { type: "button", class: "secondary", "aria-expanded": "false", "aria-controls": "search-bar" }, icon("search"), h("span", { class: "label" }, "Search"));
  const inviteButton = h("button", { type: "button", class: "secondary" }, icon("link"), h("span", { class: "label" }, "Invite"));
  const head = h("div", { class: "chat-head" },
    h("h2", { class: "room-title", title: room }, isPrivate ? "Private room" : `#${room}`),
    h("div", { class: "chat-actions" }, searchButton, inviteButton, peopleButton));

  // -- share (private link / invite) -------------------------------------------------------------
  const share = h("div", { class: "share", hidden: true, role: "region", "aria-label": "Share this room" });
  function showShare(title, url, note) {
    const input = h("input", { id: "share-url", readonly: true, value: url, "aria-label": title, onfocus: (e) => e.target.select() });
    const copied = h("span", { class: "muted small", role: "status" });
    replace(share,
      h("div", { class: "share-head" }, h("strong", {}, title), h("button", { type: "button", class: "icon-button", "aria-label": "Close", onclick: () => (share.hidden = true) }, "×")),
      h("div", { class: "row" }, input, h("button", { type: "button", onclick: async () => {
        copied.textContent = (await copyText(url, input)) ? "Copied." : "Select and copy the link.";
      } }, "Copy")),
      h("small", { class: "muted" }, note), " ", copied);
    share.hidden = false;
  }
  inviteButton.addEventListener("click", async () => {
    inviteButton.disabled = true;
    try {
      const invite = await api.createInvite(room);
      const url = new URL(invite.url, window.location.origin).href;
      const expires = invite.expires_at ? ` It expires ${formatTime(typeof invite.expires_at === "number" && invite.expires_at < 1e12 ? invite.expires_at * 1000 : invite.expires_at)}.` : "";
      showShare("Invite link", url, `Anyone with this link can join.${expires}`);
    } catch (failure) {
      notice(`Could not make an invite: ${describeError(failure)}`);
    } finally {
      inviteButton.disabled = false;
    }
  });
  if (sharePrivateLink) {
    showShare("Your private room's link", `${window.location.origin}/#/room/${room}`, "The room cannot be found without this link: share it with the people you want here.");
  }

  // -- search ----------------------------------------------------------------------------------
  const searchInput = h("input", { id: "search-input", type: "search", autocomplete: "off", "aria-label": `Search ${roomLabel}`, placeholder: `Search ${roomLabel}` });
  const searchForm = h("form", { id: "search-bar", class: "search-bar row", role: "search", hidden: true, novalidate: true },
    searchInput, h("button", { type: "submit" }, "Search"));
  const results = h("div", { class: "search-results", hidden: true, role: "region", "aria-label": "Search results" });
  searchButton.addEventListener("click", () => {
    const open = searchForm.hidden;
    searchForm.hidden = !open;
    searchButton.setAttribute("aria-expanded", String(open));
    if (open) searchInput.focus();
    else results.hidden = true;
  });
  searchForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const check = checkSearch(searchInput.value);
    results.hidden = false;
    const closeButton = h("button", { type: "button", class: "secondary", onclick: () => { results.hidden = true; searchInput.focus(); } }, "Close");
    if (!check.ok) {
      replace(results, h("div", { class: "results-head" }, h("p", { class: "form-error" }, check.error), closeButton));
      return;
    }
    replace(results, h("p", { class: "muted", role: "status" }, "Searching…"));
    try {
      const answer = await api.search(room, check.value);
      const found = Array.isArray(answer?.results) ? answer.results : [];
      replace(results,
        h("div", { class: "results-head" }, h("p", { role: "status" }, found.length ? `${plural(found.length, "result")} for “${check.value}”` : `Nothing found for “${check.value}”.`), closeButton),
        h("ol", { class: "messages" }, found.map((m) => h("li", { class: "msg" },
          h("div", { class: "msg-head" }, h("span", { class: "author" }, m.name), h("time", {}, formatTime(m.ts))),
          h("p", { class: "msg-text" }, m.text)))));
    } catch (failure) {
      replace(results, h("div", { class: "results-head" }, h("p", { class: "form-error" }, describeError(failure)), closeButton));
    }
  });

  // -- notices ---------------------------------------------------------------------------------
  const notices = h("div", { class: "notices", role: "status", "aria-live": "polite" });
  let localNotices = [];
  function notice(text) {
    localNotices = [...localNotices.slice(-1), { id: `local-${Date.now()}`, text, local: true }];
    renderNotices();
  }
  function renderNotices() {
    const all = [...session.notices, ...localNotices];
    replace(notices, all.map((item) => h("div", { class: "notice" }, h("span", {}, item.text),
      h("button", { type: "button", class: "icon-button", "aria-label": "Dismiss", onclick: () => {
        if (item.local) {
          localNotices = localNotices.filter((n) => n !== item);
          renderNotices();
        } else session.dismissNotice(item.id);
      } }, "×"))));
  }

  // -- people ----------------------------------------------------------------------------------
  const peopleList = h("ul", { class: "people-list" });
  const peopleHeading = h("h3", {}, "Here now");
  const people = h("aside", { id: "people", class: "people", tabindex: "-1", "aria-label": "People in this room" }, peopleHeading, peopleList);
  function setPeople(open) {
    section.classList.toggle("show-people", open);
    peopleButton.setAttribute("aria-expanded", String(open));
  }
  peopleButton.addEventListener("click", () => setPeople(!section.classList.contains("show-people")));
  people.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      setPeople(false);
      peopleButton.focus();
    }
  });
  function renderPeople() {
    const entries = [...session.roster.entries()].sort((a, b) => a[1].name.localeCompare(b[1].name));
    const here = session.peopleHere();
    peopleCount.textContent = String(here);
    peopleHeading.textContent = `Here now (${here})`;
    if (session.headcount !== null) {
      replace(peopleList, [h("li", { class: "muted" }, `${plural(here, "person", "people")} here: too many to list.`)]);
      return;
    }
    replace(peopleList, entries.map(([user, entry]) => h("li", {},
      h("span", { class: "presence-dot", "aria-hidden": "true" }),
      h("span", { class: "person" }, entry.name, user === session.me?.user ? " (you)" : ""),
      entry.devices > 1 ? h("span", { class: "muted small", title: "Connected devices" }, ` · ${plural(entry.devices, "device")}`) : null)));
  }

  // -- composer --------------------------------------------------------------------------------
  const typingLine = h("p", { class: "typing" });
  const input = h("textarea", { id: "composer-input", rows: 1, maxlength: MAX_TEXT_CHARS + 200, enterkeyhint: "send", autocomplete: "off", placeholder: `Message ${roomLabel}` });
  const sendButton = h("button", { type: "submit", class: "primary send" }, "Send");
  const hint = h("p", { class: "composer-hint", id: "composer-hint", role: "status" });
  const editBar = h("div", { class: "edit-bar", hidden: true }, h("span", {}, "Editing your message"),
    h("button", { type: "button", class: "link-button", onclick: () => cancelEdit() }, "Cancel"));
  input.setAttribute("aria-describedby", "composer-hint");
  // Attachments (docs/uploads.md): pick or drop a file; it is uploaded (with progress) and sent
  // as a message with the composer's text.
  const fileInput = h("input", { type: "file", id: "composer-file", class: "visually-hidden" });
  const attachLabel = h("label", { for: "composer-file", class: "attach", title: "Attach a file" }, "📎", h("span", { class: "visually-hidden" }, "Attach a file"));
  const progress = h("progress", { class: "upload-progress", max: 1, value: 0, hidden: true, "aria-label": "Upload progress" });
  const composer = h("form", { class: "composer", novalidate: true },
    editBar,
    h("label", { for: "composer-input", class: "visually-hidden" }, `Message ${roomLabel}`),
    h("div", { class: "composer-row" }, attachLabel, fileInput, input, sendButton), progress, hint);

  async function attach(file) {
    if (!file || editing) return;
    progress.hidden = false;
    progress.value = 0;
    hint.textContent = `Uploading ${file.name}…`;
    try {
      const upload = await uploadFile(file, {
        onProgress: (fraction) => {
          progress.value = fraction;
          hint.textContent = `Uploading ${file.name}… ${Math.round(fraction * 100)}%`;
        },
      });
      const result = session.sendMessage(input.value, [upload]);
      if (!result.ok) {
        hint.textContent = result.error;
        return;
      }
      input.value = "";
      autosize();
      renderHint();
      list.scrollToBottom();
    } catch (failure) {
      hint.textContent = `Upload failed: ${describeError(failure)}`;
    } finally {
      progress.hidden = true;
      fileInput.value = "";
    }
  }
  fileInput.addEventListener("change", () => attach(fileInput.files?.[0]));
  for (const target of [composer]) {
    target.addEventListener("dragover", (event) => {
      if (event.dataTransfer?.types?.includes("Files")) {
        event.preventDefault();
        composer.classList.add("dropping");
      }
    });
    target.addEventListener("dragleave", () => composer.classList.remove("dropping"));
    target.addEventListener("drop", (event) => {
      composer.classList.remove("dropping");
      const file = event.dataTransfer?.files?.[0];
      if (file) {
        event.preventDefault();
        attach(file);
      }
    });
  }

  function autosize() {
    input.style.height = "auto";
    const borders = input.offsetHeight - input.clientHeight;
    input.style.height = `${Math.min(input.scrollHeight + borders, 160)}px`;
  }
  input.addEventListener("input", () => {
    autosize();
    if (!editing) session.typingInput(input.value);
    if (input.value.trim().length > MAX_TEXT_CHARS) hint.textContent = `${input.value.trim().length} / ${MAX_TEXT_CHARS} characters: too long to send.`;
    else renderHint();
  });
  input.addEventListener("blur", () => session.typingStop());
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    } else if (event.key === "Escape" && editing) {
      cancelEdit();
    }
  });
  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    if (editing && input.value.trim() === editing.text) {
      cancelEdit(); // nothing changed: nothing to send
      return;
    }
    const result = editing ? session.editMessage(editing.seq, input.value) : session.sendMessage(input.value);
    if (!result.ok) {
      hint.textContent = result.error;
      return;
    }
    editing = null;
    editBar.hidden = true;
    sendButton.textContent = "Send";
    input.value = "";
    autosize();
    session.typingStop();
    renderHint();
    list.scrollToBottom();
    input.focus();
  });

  function startEdit(message) {
    editing = message;
    editBar.hidden = false;
    sendButton.textContent = "Save";
    input.value = message.text;
    autosize();
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }
  function cancelEdit() {
    editing = null;
    editBar.hidden = true;
    sendButton.textContent = "Send";
    input.value = "";
    autosize();
    input.focus();
  }
  function confirmDelete(message) {
    if (!window.confirm("Delete this message for everyone?")) return;
    const result = session.deleteMessage(message.seq);
    if (!result.ok) notice(result.error);
  }

  function renderHint() {
    if (blockTimer !== null) {
      clearInterval(blockTimer);
      blockTimer = null;
    }
    const blocked = session.isBlocked();
    sendButton.disabled = blocked;
    if (blocked) {
      const tick = () => {
        const left = Math.max(0, Math.ceil((session.blockedUntil - Date.now()) / 1000));
        hint.textContent = `Sending is paused for ${left} s (too many messages).`;
      };
      tick();
      blockTimer = setInterval(tick, 500);
    } else if (!session.live) {
      hint.textContent = "Not connected: your messages are kept and sent when the connection is back.";
    } else {
      hint.textContent = "";
    }
  }

  // -- history ---------------------------------------------------------------------------------
  async function loadOlder() {
    if (history.loading || session.stream.oldestSeq === null) return;
    history = { loading: true, error: null };
    renderHistory();
    try {
      const page = await api.messages(room, { beforeSeq: session.stream.oldestSeq, limit: HISTORY_PAGE_SIZE });
      list.preservingScroll(() => {
        session.stream.applyHistory(page);
        list.render({});
      });
      history = { loading: false, error: null };
    } catch (failure) {
      history = { loading: false, error: `Could not load older messages: ${describeError(failure)}` };
    }
    renderHistory();
  }
  function renderHistory() {
    list.renderHistory({ ...history, onLoad: loadOlder, roomLabel });
  }

  const section = h("section", { class: "chat", "aria-label": isPrivate ? "Private room" : `Room ${room}` },
    head, share, searchForm, notices,
    h("div", { class: "chat-body" },
      h("div", { class: "conversation" }, list.scroller, list.jump, results),
      people),
    typingLine, composer);

  /** The session changed (see RoomSession.onChange kinds). */
  function update(kind, info) {
    if (kind === "messages") {
      list.render(info);
      renderHistory();
    } else if (kind === "pending") {
      list.render({});
    } else if (kind === "roster" || kind === "me") {
      renderPeople();
      if (kind === "me") {
        list.render({});
        renderHint();
      }
    } else if (kind === "typing") {
      typingLine.textContent = session.feature("typing-indicators") ? session.typing.label() : "";
    } else if (kind === "flags") {
      applyFlags();
    } else if (kind === "notice") {
      renderNotices();
    } else if (kind === "blocked") {
      renderHint();
    }
  }

  /** Feature flags: each boolean flag that is off adds `flag-<key>-off` to the view (style.css hides
   * what it gates); `data-flags-version` tells tests which version the page shows. */
  function applyFlags() {
    const values = session.flags?.values ?? {};
    for (const name of [...section.classList]) if (name.startsWith("flag-")) section.classList.remove(name);
    for (const [key, value] of Object.entries(values)) {
      if (value === false) section.classList.add(`flag-${key}-off`);
    }
    section.dataset.flagsVersion = String(session.flags?.version ?? 0);
    if (!session.feature("message-edits") && editing) cancelEdit();
    typingLine.textContent = session.feature("typing-indicators") ? session.typing.label() : "";
  }

  /** The connection status changed. */
  function setStatus() {
    renderHint();
    list.renderPending();
  }

  function destroy() {
    if (blockTimer !== null) clearInterval(blockTimer);
  }

  renderPeople();
  renderHistory();
  renderHint();
  list.render({});
  return { element: section, update, setStatus, destroy, focusComposer: () => input.focus() };
}
