// edgeroom browser client: entry module. Static ES modules, no build step, no framework.
//
// Notes for the server side (what this client relies on):
// - REST (docs/api.md): GET /api/me; POST /api/auth/{signup,login,guest,logout};
//   GET /api/rooms; POST /api/rooms ({name} or {private: true}); POST /api/rooms/<room>/join
//   (called before opening every room, so history and search work);
//   GET /api/rooms/<room>/messages?before_seq=&limit=50; GET /api/rooms/<room>/search?q=;
//   POST /api/rooms/<room>/invites ({} -> default TTL); invite URLs /i/<code> are followed as links.
// - WebSocket /api/rooms/<room>/ws?hello=<JSON> (same origin, cookie auth; the hello {resume?,
//   device, batch} rides on the upgrade). Sends:
//   chat.send, chat.edit, chat.delete, typing {active}, resume {epoch, seq}, ping (every 25 s while
//   live; no frame within 10 s after it replaces the socket). Handles: welcome, resumed,
//   chat.message/edited/deleted, chat.ack, presence.join/leave/diff (and presence.devices if ever sent),
//   typing, pong, error.
// - Assumptions beyond the docs: the 401/403/404 of a refused upgrade are invisible to the browser,
//   so after a close with 1008 or two failed attempts the client re-checks GET /api/me (401 -> sign-in
//   screen). History messages may carry `deleted: true` / `edited: true`; edits of messages held are
//   applied from the stream. `invite.url` may be absolute or relative; `expires_at` and
//   `last_activity` may be ISO strings, seconds or ms. `device` in hello is a per-tab random id.
//   Error bodies of 4xx are {error: {code, message, retry_after?}}; anything else is shown as
//   "The server answered <status>". presence.join/leave carry the device count after the change,
//   so a second device of a present user may come as presence.join {devices: 2} and a leaving
//   one as presence.leave {devices: 1}: the client sets the count and drops the user at 0.
//   GET /api/rooms/<room>/messages returns only messages (no edit/delete events), with edits applied.
// - Attachments (docs/uploads.md): a picked or dropped file is sent with XMLHttpRequest (for upload
//   progress) as a raw body to POST /api/uploads?name=<file name> (cookie auth, Content-Type from the
//   File); the answer's `upload.id` goes into chat.send `attachments`. chat.message `attachments`
//   are rendered as <img> previews of `preview` (256 px variant) linking to `full`, or as download
//   links to `url`; only same-origin /files/ URLs are used.
// - Serving: web/ as static files at "/", index.html for "/"; routes are in the hash
//   (#/room/<room>), so no server-side fallback is needed. Unsent frames live in sessionStorage
//   under "edgeroom.pending.<room>" (cleared on logout) and are resent with their nonce.
// - Tests: `node --test tests/web/*.test.mjs` (pure modules) and `python -m pytest tests/web`
//   (runs those plus real-Chromium tests of this client against a scripted API and socket).
import { createApi, describeError, socketUrl } from "./lib/api.js";
import { Connection } from "./lib/connection.js";
import { statusLabel } from "./lib/format.js";
import { RoomSession } from "./lib/session.js";
import { makeNonce } from "./lib/stream.js";
import { isPrivateRoom, roomFromHash } from "./lib/validate.js";
import { authView } from "./views/auth.js";
import { chatView } from "./views/chat.js";
import { h, replace } from "./views/dom.js";
import { roomsView } from "./views/rooms.js";

const api = createApi();
const root = document.getElementById("app");
const storage = (() => {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
})();
const device = (() => {
  const key = "edgeroom.device";
  try {
    const existing = storage?.getItem(key);
    if (existing) return existing;
    const id = `web-${makeNonce().slice(0, 12)}`;
    storage?.setItem(key, id);
    return id;
  } catch {
    return `web-${makeNonce().slice(0, 12)}`;
  }
})();

const state = { user: null, room: null, session: null, connection: null, view: null, rooms: null, statusTimer: null };

// -- shell ---------------------------------------------------------------------------------------
const statusText = h("span", { class: "status-text", "aria-hidden": "true" });
const statusLive = h("span", { class: "visually-hidden", role: "status", "aria-live": "polite" });
const retryNow = h("button", { type: "button", class: "link-button", hidden: true, onclick: () => state.connection?.wake() }, "Retry now");
const statusPill = h("div", { class: "status", dataset: { status: "idle" } }, h("span", { class: "dot", "aria-hidden": "true" }), statusText, retryNow, statusLive);
const menuButton = h("button", { type: "button", class: "icon-button menu-button", "aria-label": "Rooms", "aria-expanded": "false", "aria-controls": "drawer" }, "☰");
const userName = h("span", { class: "user-name" });
const logoutButton = h("button", { type: "button", class: "secondary" }, "Log out");
const topbar = h("header", { class: "topbar" },
  menuButton, h("a", { class: "brand", href: "#/" }, "edgeroom"), statusPill,
  h("div", { class: "user" }, userName, logoutButton));
const drawer = h("div", { id: "drawer", class: "drawer" });
const drawerUser = h("p", { class: "drawer-user muted small" });
const backdrop = h("div", { class: "backdrop", hidden: true, onclick: () => setDrawer(false) });
const content = h("main", { id: "main", class: "content", tabindex: "-1" });
const shell = h("div", { class: "app" }, h("a", { class: "skip-link", href: "#main", onclick: (event) => { event.preventDefault(); (document.getElementById("composer-input") ?? content).focus(); } }, "Skip to content"), topbar, h("div", { class: "layout" }, drawer, backdrop, content));

function setDrawer(open) {
  shell.classList.toggle("drawer-open", open);
  menuButton.setAttribute("aria-expanded", String(open));
  backdrop.hidden = !open;
  if (open) drawer.querySelector("a, button, input")?.focus();
}
menuButton.addEventListener("click", () => setDrawer(!shell.classList.contains("drawer-open")));
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && shell.classList.contains("drawer-open")) {
    setDrawer(false);
    menuButton.focus();
  }
});
logoutButton.addEventListener("click", async () => {
  logoutButton.disabled = true;
  try {
    await api.logout();
  } catch {
    // Signed out locally either way; the cookie expires on its own.
  }
  logoutButton.disabled = false;
  signedOut();
});

// -- connection status ---------------------------------------------------------------------------
function showStatus(status, retryAt) {
  statusPill.dataset.status = status;
  clearInterval(state.statusTimer);
  const paint = () => {
    statusText.textContent = statusLabel(status, retryAt);
  };
  paint();
  if (status === "reconnecting" && retryAt) state.statusTimer = setInterval(paint, 1000);
  statusLive.textContent = status === "reconnecting" ? "Connection lost. Reconnecting." : statusLabel(status);
  retryNow.hidden = !(status === "reconnecting" || status === "offline");
}

// -- rooms ---------------------------------------------------------------------------------------
function closeRoom() {
  state.connection?.stop();
  state.session?.dispose();
  state.view?.destroy();
  clearInterval(state.statusTimer);
  Object.assign(state, { room: null, session: null, connection: null, view: null, clearUnread: null });
  document.title = "edgeroom";
  statusPill.dataset.status = "idle";
  statusText.textContent = "";
  statusLive.textContent = "";
  retryNow.hidden = true;
}

function lobby(message = null) {
  closeRoom();
  state.rooms?.setCurrent(null);
  replace(content, h("section", { class: "lobby" },
    h("h2", {}, `Welcome${state.user ? `, ${state.user.name}` : ""}`),
    message ? h("p", { class: "form-error", role: "alert" }, message) : null,
    h("p", {}, "Pick a public room, join one by name or link, or create your own."),
    h("button", { type: "button", class: "primary lobby-rooms", onclick: () => setDrawer(true) }, "Browse rooms")));
}

async function openRoom(room, { sharePrivateLink = false } = {}) {
  closeRoom();
  setDrawer(false);
  state.room = room;
  state.rooms?.setCurrent(room);
  replace(content, h("p", { class: "muted loading", role: "status" }, "Opening the room…"));
  try {
    await api.joinRoom(room);
  } catch (failure) {
    if (state.room !== room) return;
    if (failure.status === 401) return signedOut();
    if (failure.status === 404) return lobby(`There is no room "${room}". Check the link, or create it.`);
    if (failure.status === 403) return lobby(`You cannot join this room: ${describeError(failure)}`);
    // Unreachable or a server error: the socket below keeps trying and the view says so.
  }
  if (state.room !== room) return;
  startRoom(room, sharePrivateLink);
}

function startRoom(room, sharePrivateLink) {
  let failedOpens = 0;
  let unread = 0; // messages from others while the page was hidden, shown in the title
  const connection = new Connection({
    // The hello rides on each upgrade (one round trip less per join), made when connecting.
    url: () => socketUrl(window.location, room, session.hello()),
    onOpen: () => session.onOpen({ helloSent: true }),
    onFrame: (frame) => session.onFrame(frame),
    onStatus: (status, retryAt) => {
      if (status !== "live") session.onDisconnected();
      if (status === "live") failedOpens = 0;
      showStatus(status, retryAt);
      view.setStatus(status);
    },
    onClose: (info) => {
      failedOpens = info.opened ? 0 : failedOpens + 1;
      if (info.code === 1008 || failedOpens === 2) checkSession();
      return true;
    },
  });
  const session = new RoomSession({
    room,
    device,
    storage,
    send: (frame) => connection.send(frame),
    onChange: (kind, info) => {
      view.update(kind, info);
      if (kind === "messages" && !info.snapshot && document.visibilityState === "hidden") {
        unread += info.appended.filter((event) => event.type === "chat.message" && event.user !== session.me?.user).length;
        setTitle();
      }
    },
  });
  const setTitle = () => {
    const name = isPrivateRoom(room) ? "Private room" : `#${room}`;
    document.title = `${unread ? `(${unread}) ` : ""}${name} · edgeroom`;
  };
  state.clearUnread = () => {
    unread = 0;
    setTitle();
  };
  const view = chatView({ room, session, api, sharePrivateLink });
  Object.assign(state, { session, connection, view });
  replace(content, view.element);
  setTitle();
  connection.start();
  if (window.matchMedia("(min-width: 721px)").matches) view.focusComposer();
}

async function checkSession() {
  try {
    await api.me();
  } catch (failure) {
    if (failure.status === 401) signedOut("Your session has ended. Sign in again.");
  }
}

function route() {
  const room = roomFromHash(window.location.hash);
  if (!state.user) return;
  if (room) {
    if (room !== state.room) openRoom(room, { sharePrivateLink: state.pendingShare === room });
    state.pendingShare = null;
  } else {
    if (window.location.hash && window.location.hash !== "#/") lobby("That link does not name a valid room.");
    else lobby();
  }
}

function goToRoom(room, share = false) {
  state.pendingShare = share ? room : null;
  const hash = `#/room/${encodeURIComponent(room)}`;
  if (window.location.hash === hash) route();
  else window.location.hash = hash; // hashchange -> route()
}

// -- sign in / out -------------------------------------------------------------------------------
function signedIn(user) {
  state.user = user;
  userName.textContent = user ? `${user.name}${user.guest ? " (guest)" : ""}` : "";
  state.rooms = roomsView({ api, onOpenRoom: (room) => goToRoom(room), onPrivateCreated: (room) => goToRoom(room, true) });
  drawerUser.textContent = user ? `Signed in as ${user.name}${user.guest ? " (guest)" : ""}` : "";
  replace(drawer, drawerUser, state.rooms.element);
  replace(root, shell);
  state.rooms.refresh();
  route();
}

function signedOut(message = null) {
  closeRoom();
  state.user = null;
  try {
    for (let i = storage?.length - 1; i >= 0; i--) {
      const key = storage.key(i);
      if (key?.startsWith("edgeroom.pending.")) storage.removeItem(key); // not for the next person
    }
  } catch {
    // Storage unavailable: nothing was kept.
  }
  showAuth(message ? { message } : null);
}

function showAuth(server = null) {
  replace(root, authView({
    api,
    server,
    onRetry: server ? start : null,
    onSignedIn: async (user) => {
      if (user) return signedIn(user);
      try {
        signedIn((await api.me()).user);
      } catch (failure) {
        showAuth({ message: describeError(failure) });
      }
    },
  }));
}

async function start() {
  replace(root, h("p", { class: "muted loading", role: "status" }, "Connecting to edgeroom…"));
  try {
    const answer = await api.me();
    signedIn(answer.user);
  } catch (failure) {
    if (failure.status === 401) showAuth();
    else if (failure.code === "unreachable") showAuth({ message: "The server is unreachable. You can sign in once it is back." });
    else showAuth({ message: `The chat service is not available right now (HTTP ${failure.status || "error"}). Try again in a moment.` });
  }
}

// -- page lifecycle ------------------------------------------------------------------------------
window.addEventListener("hashchange", route);
window.addEventListener("online", () => state.connection?.wake());
window.addEventListener("offline", () => state.connection?.offline());
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") {
    state.clearUnread?.();
    state.connection?.wake();
    state.rooms?.refresh();
  }
});
// Keep the composer above the on-screen keyboard: size the app to the visual viewport.
if (window.visualViewport) {
  const fit = () => {
    document.documentElement.style.setProperty("--app-height", `${window.visualViewport.height}px`);
    if (window.scrollY !== 0) window.scrollTo(0, 0);
  };
  window.visualViewport.addEventListener("resize", fit);
  window.visualViewport.addEventListener("scroll", fit);
  fit();
}

start();
