// Form checks made before anything is sent, with the rules and patterns of web/protocol.js
// (the same ones the server enforces). Each returns {ok: true, value} or {ok: false, error}.
import {
  MAX_PASSWORD_CHARS,
  MAX_SEARCH_CHARS,
  MIN_PASSWORD_CHARS,
  PRIVATE_ROOM_PATTERN,
  ROOM_NAME_PATTERN,
  isValidRoom,
  isValidUsername,
  normalizeDisplayName,
  normalizeRoomName,
} from "../protocol.js";

const NEW_ROOM_RULE = "Room names are 1-32 lower-case letters, digits and dashes (not at either end).";
const ROOM_RULE =
  "Room names are 1-32 lower-case letters, digits and dashes (not at either end), or a 64-character private room id.";

/** A public room name typed by the user (normalised as the server would expect it). */
export function checkNewRoomName(raw) {
  const room = normalizeRoomName(String(raw));
  if (!new RegExp(ROOM_NAME_PATTERN).test(room)) return { ok: false, error: NEW_ROOM_RULE };
  return { ok: true, value: room };
}

/** What someone typed to join a room: a name, a private id, a `#/room/<room>` link or an invite URL. */
export function parseRoomTarget(raw) {
  const text = String(raw).trim();
  if (!text) return { ok: false, error: "Enter a room name or a link." };
  const invite = text.match(/^(?:https?:\/\/[^/]+)?\/i\/([A-Za-z0-9_-]+)\/?$/);
  if (invite) return { ok: true, invite: text, value: null };
  const link = text.match(/#\/room\/([^/?#\s]+)/);
  const candidate = link ? decodeURIComponent(link[1]) : text;
  const room = new RegExp(PRIVATE_ROOM_PATTERN).test(candidate.toLowerCase())
    ? candidate.toLowerCase()
    : normalizeRoomName(candidate);
  if (!isValidRoom(room)) return { ok: false, error: ROOM_RULE };
  return { ok: true, value: room };
}

/** The room named by a location hash (`#/room/<room>`), or null. */
export function roomFromHash(hash) {
  const match = String(hash).match(/^#\/room\/([^/?#]+)\/?$/);
  if (!match) return null;
  let room;
  try {
    room = decodeURIComponent(match[1]);
  } catch {
    return null;
  }
  return isValidRoom(room) ? room : null;
}

export function isPrivateRoom(room) {
  return new RegExp(PRIVATE_ROOM_PATTERN).test(room);
}

export function checkUsername(raw) {
  const name = String(raw).trim();
  if (!isValidUsername(name)) return { ok: false, error: "User names are 3-32 letters, digits, '_', '.' or '-'." };
  return { ok: true, value: name };
}

export function checkPassword(raw) {
  const password = String(raw);
  if (password.length < MIN_PASSWORD_CHARS || password.length > MAX_PASSWORD_CHARS) {
    return { ok: false, error: `Passwords are ${MIN_PASSWORD_CHARS}-${MAX_PASSWORD_CHARS} characters.` };
  }
  return { ok: true, value: password };
}

export function checkGuestName(raw) {
  const name = normalizeDisplayName(raw);
  if (name === null) return { ok: false, error: "Nicknames are 1-32 characters, without control or invisible characters." };
  return { ok: true, value: name };
}

export function checkSearch(raw) {
  const q = String(raw).trim();
  if (!q) return { ok: false, error: "Type something to search for." };
  if (q.length > MAX_SEARCH_CHARS) return { ok: false, error: `Searches are at most ${MAX_SEARCH_CHARS} characters.` };
  return { ok: true, value: q };
}
