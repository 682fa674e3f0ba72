// Wire constants of the chat protocol (docs/protocol.md). The same strings live in
// app/chat/protocol.py and app/chat/names.py; tests/app/test_protocol_js.py keeps them in step.

export const CLIENT_TYPES = ["hello", "chat.send", "chat.edit", "chat.delete", "typing", "resume", "ping"];
export const SERVER_TYPES = [
  "welcome", "chat.message", "chat.edited", "chat.deleted", "chat.ack",
  "presence.join", "presence.leave", "presence.diff", "presence.count", "presence.roster", "typing", "resumed", "pong", "error",
  "batch", // several frames in one message (hello.batch: true)
  "flags.changed", // feature flags (docs/flags.md)
];
export const ERROR_CODES = [
  "bad_json", "bad_message", "too_long", "rate_limited", "not_author", "not_found", "bad_nonce",
  // Feature flags (docs/flags.md).
  "disabled",
  // Attachments (docs/uploads.md).
  "bad_attachment",
];

export const MAX_TEXT_CHARS = 4000;
export const MAX_FRAME_BYTES = 16 * 1024;
// Attachments (docs/uploads.md): ids of the sender's own public uploads, at most this many.
export const MAX_ATTACHMENTS = 4;

export const ROOM_NAME_PATTERN = "^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$";
export const PRIVATE_ROOM_PATTERN = "^[0-9a-f]{64}$";
export const USERNAME_PATTERN = "^[A-Za-z0-9_.-]{3,32}$";

export function normalizeRoomName(raw) {
  return raw.trim().toLowerCase().replace(/[\s_]+/g, "-");
}

export function isValidRoom(room) {
  return new RegExp(ROOM_NAME_PATTERN).test(room) || new RegExp(PRIVATE_ROOM_PATTERN).test(room);
}

export function isValidUsername(name) {
  return new RegExp(USERNAME_PATTERN).test(name);
}

// Client-side constants that mirror the server's rules (app/chat/presence.py, app/chat/names.py,
// app/chat/protocol.py). Kept here so the whole client reads them from one place.
export const TYPING_THROTTLE_MS = 2000;
export const TYPING_EXPIRES_MS = 6000;
export const NONCE_PATTERN = "^[A-Za-z0-9_-]{1,64}$";
export const MAX_DISPLAY_NAME_CHARS = 32;
export const MAX_DEVICE_CHARS = 64;
export const MAX_SEARCH_CHARS = 200;
export const HISTORY_PAGE_SIZE = 50;
export const MIN_PASSWORD_CHARS = 8;
export const MAX_PASSWORD_CHARS = 256;
// Reconnect policy: full-jitter exponential backoff; the attempt counter resets once a
// connection has stayed up for RECONNECT_STABLE_MS.
export const RECONNECT_BASE_MS = 500;
export const RECONNECT_CAP_MS = 30000;
export const RECONNECT_STABLE_MS = 10000;
// Heartbeat: a `ping` every HEARTBEAT_MS while live; no frame at all for HEARTBEAT_TIMEOUT_MS
// after it means the connection is dead and is replaced.
export const HEARTBEAT_MS = 25000;
export const HEARTBEAT_TIMEOUT_MS = 10000;

// Control, format, surrogate, private-use, unassigned and line/paragraph separator characters:
// the Unicode categories app/chat/names.py refuses in display names.
const FORBIDDEN_NAME_CHARS = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/u;

/** A guest nickname after the server's normalisation (trim + NFC), or null if it breaks the rules. */
export function normalizeDisplayName(raw) {
  const name = String(raw).trim().normalize("NFC");
  const length = [...name].length;
  if (length < 1 || length > MAX_DISPLAY_NAME_CHARS || FORBIDDEN_NAME_CHARS.test(name)) return null;
  return name;
}

export function isValidNonce(nonce) {
  return typeof nonce === "string" && new RegExp(NONCE_PATTERN).test(nonce);
}
