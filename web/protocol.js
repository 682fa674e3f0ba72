// Wire constants of the chat protocol (docs/protocol.md). The same strings live in
// app/chat/protocol.py and app/chat/names.py; tests/app/test_protocol_js.py keeps them in step.

export const CLIENT_TYPES = ["hello", "chat.send", "chat.edit", "chat.delete", "typing", "resume", "ping"];
export const SERVER_TYPES = [
  "welcome", "chat.message", "chat.edited", "chat.deleted", "chat.ack",
  "presence.join", "presence.leave", "typing", "resumed", "pong", "error",
];
export const ERROR_CODES = ["bad_json", "bad_message", "too_long", "rate_limited", "not_author", "not_found", "bad_nonce"];

export const MAX_TEXT_CHARS = 4000;
export const MAX_FRAME_BYTES = 16 * 1024;

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
