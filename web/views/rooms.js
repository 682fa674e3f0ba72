// The room list (a sidebar on wide screens, a drawer on phones): public rooms with member
// counts and last activity, join by name or link, create a public or a private room.
import { describeError } from "../lib/api.js";
import { plural, relativeTime } from "../lib/format.js";
import { checkNewRoomName, parseRoomTarget } from "../lib/validate.js";
import { h, replace } from "./dom.js";

export function roomsView({ api, onOpenRoom, onPrivateCreated }) {
  let current = null;
  let rooms = [];
  let loadError = null;
  let loading = false;
  const list = h("ul", { class: "room-list", "aria-label": "Public rooms" });
  const listStatus = h("p", { class: "muted small", role: "status" });

  // -- join ------------------------------------------------------------------------------------
  const joinInput = h("input", { id: "join-room", autocomplete: "off", autocapitalize: "none", spellcheck: "false", placeholder: "name, link or invite", "aria-describedby": "join-error" });
  const joinError = h("p", { id: "join-error", class: "form-error", role: "alert" });
  const joinForm = h("form", { class: "stack", novalidate: true },
    h("label", { for: "join-room" }, "Join a room"),
    h("div", { class: "row" }, joinInput, h("button", { type: "submit" }, "Join")),
    joinError);
  joinForm.addEventListener("submit", (event) => {
    event.preventDefault();
    joinError.textContent = "";
    const target = parseRoomTarget(joinInput.value);
    if (!target.ok) {
      joinError.textContent = target.error;
      joinInput.focus();
      return;
    }
    joinInput.value = "";
    if (target.invite) {
      window.location.assign(target.invite); // the server redirects to /#/room/<room>
      return;
    }
    onOpenRoom(target.value);
  });

  // -- create ----------------------------------------------------------------------------------
  const createInput = h("input", { id: "new-room", autocomplete: "off", autocapitalize: "none", spellcheck: "false", maxlength: 64, placeholder: "e.g. book-club", "aria-describedby": "new-room-hint new-room-error" });
  const createError = h("div", { id: "new-room-error", class: "form-error", role: "alert" });
  const createButton = h("button", { type: "submit" }, "Create");
  const createForm = h("form", { class: "stack", novalidate: true },
    h("label", { for: "new-room" }, "New public room"),
    h("div", { class: "row" }, createInput, createButton),
    h("small", { id: "new-room-hint", class: "muted" }, "Lower-case letters, digits and dashes; up to 32."),
    createError);
  createInput.addEventListener("input", () => {
    const raw = createInput.value;
    createError.textContent = raw.trim() && !checkNewRoomName(raw).ok ? checkNewRoomName(raw).error : "";
  });
  createForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(createError);
    const check = checkNewRoomName(createInput.value);
    if (!check.ok) {
      createError.textContent = check.error;
      createInput.focus();
      return;
    }
    createButton.disabled = true;
    try {
      await api.createRoom(check.value);
      createInput.value = "";
      refresh();
      onOpenRoom(check.value);
    } catch (failure) {
      if (failure.code === "room_exists") {
        replace(createError, `"${check.value}" already exists. `,
          h("button", { type: "button", class: "link-button", onclick: () => onOpenRoom(check.value) }, "Open it"));
      } else {
        createError.textContent = describeError(failure);
      }
    } finally {
      createButton.disabled = false;
    }
  });

  const privateError = h("p", { class: "form-error", role: "alert" });
  const privateButton = h("button", { type: "button", class: "secondary wide" }, "New private room");
  privateButton.addEventListener("click", async () => {
    privateError.textContent = "";
    privateButton.disabled = true;
    try {
      const created = await api.createPrivateRoom();
      onPrivateCreated(created.room);
    } catch (failure) {
      privateError.textContent = describeError(failure);
    } finally {
      privateButton.disabled = false;
    }
  });

  const refreshButton = h("button", { type: "button", class: "icon-button", "aria-label": "Refresh the room list", title: "Refresh", onclick: () => refresh() }, "↻");
  const element = h("nav", { class: "rooms", "aria-label": "Rooms" },
    h("div", { class: "rooms-head" }, h("h2", {}, "Public rooms"), refreshButton),
    listStatus,
    list,
    h("div", { class: "rooms-forms" }, joinForm, createForm,
      h("div", { class: "stack" }, privateButton, h("small", { class: "muted" }, "Only people with the link can find it."), privateError)),
  );

  function render() {
    const items = rooms.map((room) => {
      const meta = [plural(room.members ?? 0, "member"), relativeTime(room.last_activity)].filter(Boolean).join(" · ");
      return h("li", {},
        h("a", {
          href: `#/room/${encodeURIComponent(room.room)}`,
          class: "room-link",
          "aria-current": room.room === current ? "page" : null,
        },
        h("span", { class: "room-name" }, room.title && room.title !== room.room ? room.title : `#${room.room}`),
        h("span", { class: "room-meta" }, meta)));
    });
    replace(list, items);
    if (loadError) replace(listStatus, loadError, " ", h("button", { type: "button", class: "link-button", onclick: () => refresh() }, "Retry"));
    else listStatus.textContent = loading && !rooms.length ? "Loading rooms…" : rooms.length ? "" : "No public rooms yet. Create the first one.";
  }

  async function refresh() {
    loading = true;
    render();
    try {
      const answer = await api.rooms();
      rooms = Array.isArray(answer?.rooms) ? answer.rooms : [];
      loadError = null;
    } catch (failure) {
      loadError = `Could not load rooms: ${describeError(failure)}`;
    } finally {
      loading = false;
      render();
    }
  }

  function setCurrent(room) {
    current = room;
    render();
  }

  render();
  return { element, refresh, setCurrent };
}
