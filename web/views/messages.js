// The message list: keyed rendering of the stream (only changed messages are rebuilt), the
// caller's unacknowledged messages below it, scroll pinning and "load older".
// Every piece of user content is set with textContent (via h()), never parsed as HTML.
import { formatTime } from "../lib/format.js";
import { h, replace } from "./dom.js";

const GROUP_WINDOW_MS = 5 * 60 * 1000;
const PINNED_PX = 80;

/** Attachments (docs/uploads.md): image previews from the 256 px variant, other files as links. */
export function attachmentList(attachments) {
  if (!Array.isArray(attachments) || attachments.length === 0) return null;
  return h("ul", { class: "msg-attachments" }, ...attachments.map((file) => {
    const url = typeof file.url === "string" && file.url.startsWith("/files/") ? file.url : null;
    if (!url) return null;
    const preview = typeof file.preview === "string" && file.preview.startsWith("/files/") ? file.preview : null;
    const full = typeof file.full === "string" && file.full.startsWith("/files/") ? file.full : url;
    const name = String(file.name ?? "file");
    if (file.kind === "image" && preview) {
      return h("li", { class: "attachment image" },
        h("a", { href: full, target: "_blank", rel: "noopener" },
          h("img", { class: "attachment-preview", src: preview, alt: name, loading: "lazy" })));
    }
    return h("li", { class: "attachment file" },
      h("a", { href: `${url}?download=1`, rel: "noopener" }, name));
  }));
}

export function messageList({ session, onEdit, onDelete }) {
  const nodes = new Map(); // seq -> {li, key}
  const log = h("ol", { class: "messages", role: "log", "aria-live": "polite", "aria-relevant": "additions text", "aria-label": "Messages" });
  const pendingList = h("ol", { class: "messages pending-list", "aria-label": "Your unsent messages" });
  const historyBar = h("div", { class: "history-bar" });
  const scroller = h("div", { class: "scroller", tabindex: "0", "aria-label": "Conversation" }, historyBar, log, pendingList);
  const jump = h("button", { type: "button", class: "jump", hidden: true, onclick: () => scrollToBottom() }, "New messages ↓");
  let openMenu = null;
  // Follow the bottom while the user is there, also when the box shrinks (notices, the
  // on-screen keyboard, the composer growing).
  let stick = true;
  scroller.addEventListener("scroll", () => {
    stick = isPinned();
    if (stick) jump.hidden = true;
  });
  if (typeof ResizeObserver === "function") {
    new ResizeObserver(() => {
      if (stick) scroller.scrollTop = scroller.scrollHeight;
    }).observe(scroller);
  }

  function isPinned() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < PINNED_PX;
  }

  function scrollToBottom() {
    scroller.scrollTop = scroller.scrollHeight;
    stick = true;
    jump.hidden = true;
  }

  function buildMessage(message, continued, own, change) {
    const date = new Date(message.ts);
    const valid = Number.isFinite(date.getTime());
    const time = h("time", { datetime: valid ? date.toISOString() : null, title: valid ? date.toLocaleString() : null }, formatTime(message.ts));
    const head = h("div", { class: "msg-head" }, h("span", { class: "author" }, own ? `${message.name} (you)` : message.name), time);
    const body = message.deleted
      ? h("p", { class: "msg-text msg-deleted" }, "Message deleted")
      : h("p", { class: "msg-text" }, message.text);
    const files = message.deleted ? null : attachmentList(message.attachments);
    const tags = h("div", { class: "msg-tags" },
      message.edited && !message.deleted ? h("span", { class: "tag" }, "edited") : null,
      change ? h("span", { class: "tag tag-pending" }, change.kind === "edit" ? "saving edit…" : "deleting…") : null);
    const li = h("li", { class: `msg${own ? " own" : ""}${continued ? " continued" : ""}${message.deleted ? " deleted" : ""}`, dataset: { seq: String(message.seq) } }, head, message.text || message.deleted || !files ? body : null, files, tags);
    if (own && !message.deleted && !change) {
      const actions = h("div", { class: "msg-actions", hidden: true },
        h("button", { type: "button", class: "edit-action", onclick: () => { closeMenu(); onEdit(message); } }, "Edit"),
        h("button", { type: "button", class: "danger", onclick: () => { closeMenu(); onDelete(message); } }, "Delete"));
      const more = h("button", { type: "button", class: "msg-more", "aria-expanded": "false", "aria-label": `Actions for your message at ${formatTime(message.ts)}` }, "⋯");
      more.addEventListener("click", () => {
        const opening = actions.hidden;
        closeMenu();
        if (opening) {
          actions.hidden = false;
          more.setAttribute("aria-expanded", "true");
          openMenu = { actions, more };
          actions.querySelector("button").focus();
        }
      });
      li.append(more, actions);
    }
    return li;
  }

  function closeMenu() {
    if (!openMenu) return;
    openMenu.actions.hidden = true;
    openMenu.more.setAttribute("aria-expanded", "false");
    openMenu = null;
  }

  /** Re-render after a change; `info` = {snapshot, appended} from the session. */
  function render(info = {}) {
    const pinned = stick || isPinned();
    const me = session.me?.user;
    if (info.snapshot) log.setAttribute("aria-busy", "true");
    const keep = new Set();
    let previous = null;
    let previousMessage = null;
    for (const message of session.stream.ordered()) {
      keep.add(message.seq);
      const own = Boolean(me && message.user === me);
      const continued = Boolean(previousMessage && previousMessage.user === message.user && !previousMessage.deleted
        && message.ts - previousMessage.ts < GROUP_WINDOW_MS && message.ts >= previousMessage.ts);
      const change = own ? session.pendingChange(message.seq) : null;
      const key = `${message.rev}|${continued}|${own}|${change ? change.kind : ""}`;
      let entry = nodes.get(message.seq);
      if (!entry || entry.key !== key) {
        const li = buildMessage(message, continued, own, change);
        if (entry) entry.li.replaceWith(li);
        entry = { li, key };
        nodes.set(message.seq, entry);
      }
      const wanted = previous ? previous.nextSibling : log.firstChild;
      if (wanted !== entry.li) log.insertBefore(entry.li, wanted);
      previous = entry.li;
      previousMessage = message;
    }
    for (const [seq, entry] of nodes) {
      if (!keep.has(seq)) {
        entry.li.remove();
        nodes.delete(seq);
      }
    }
    renderPending();
    if (info.snapshot) log.removeAttribute("aria-busy");
    const ownNew = (info.appended ?? []).some((event) => event.user === me);
    if (info.snapshot || pinned || ownNew) scrollToBottom();
    else if ((info.appended ?? []).some((event) => event.type === "chat.message")) jump.hidden = false;
  }

  function renderPending() {
    const items = session.pendingMessages().map((item) => {
      const status = item.status === "failed"
        ? h("div", { class: "msg-tags", role: "alert" },
            h("span", { class: "tag tag-error" }, `Not sent: ${item.error}`),
            h("button", { type: "button", class: "link-button", onclick: () => session.retry(item.nonce) }, "Retry"),
            h("button", { type: "button", class: "link-button", onclick: () => session.discard(item.nonce) }, "Discard"))
        : h("div", { class: "msg-tags" }, h("span", { class: "tag tag-pending" }, session.live ? "sending…" : "waiting for connection…"));
      return h("li", { class: `msg own pending${item.status === "failed" ? " failed" : ""}` },
        h("div", { class: "msg-head" }, h("span", { class: "author" }, `${session.me?.name ?? "You"} (you)`)),
        item.text ? h("p", { class: "msg-text" }, item.text) : null,
        attachmentList(item.attachments),
        status);
    });
    replace(pendingList, items);
    if (stick) scroller.scrollTop = scroller.scrollHeight;
  }

  /** The bar above the list: load older / beginning of the room / an error with retry. */
  function renderHistory({ loading = false, error = null, onLoad, roomLabel }) {
    const stream = session.stream;
    if (error) {
      replace(historyBar, h("span", { class: "form-error" }, error), " ", h("button", { type: "button", class: "link-button", onclick: onLoad }, "Try again"));
    } else if (stream.epoch === null) {
      replace(historyBar);
    } else if (stream.hasOlder) {
      replace(historyBar, h("button", { type: "button", class: "secondary", disabled: loading, onclick: onLoad }, loading ? "Loading…" : "Load older messages"));
    } else {
      replace(historyBar, h("span", { class: "muted small" }, `This is the beginning of ${roomLabel}.`));
    }
  }

  /** Keep the view where it was while older messages are added above. */
  function preservingScroll(fn) {
    const before = scroller.scrollHeight;
    const top = scroller.scrollTop;
    fn();
    scroller.scrollTop = top + (scroller.scrollHeight - before);
  }

  return { scroller, jump, render, renderPending, renderHistory, preservingScroll, scrollToBottom, isPinned };
}
