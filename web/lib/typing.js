// Typing indicators. TypingSender decides when to send `typing {active}` (at most one
// `active: true` per throttle window while typing; `active: false` on send, blur or an empty
// input). TypingBoard holds who else is typing and expires them. No DOM; time is injected.
import { TYPING_EXPIRES_MS, TYPING_THROTTLE_MS } from "../protocol.js";

export class TypingSender {
  constructor({ send, now = () => Date.now(), throttleMs = TYPING_THROTTLE_MS }) {
    this.send = send;
    this.now = now;
    this.throttleMs = throttleMs;
    this.active = false;
    this.lastSentAt = null;
  }

  /** The input changed; `text` is its current value. */
  input(text) {
    if (!String(text).trim()) {
      this.stop();
      return;
    }
    const now = this.now();
    if (this.active && this.lastSentAt !== null && now - this.lastSentAt < this.throttleMs) return;
    if (this.send({ type: "typing", active: true }) === false) return; // not connected: try next keystroke
    this.active = true;
    this.lastSentAt = now;
  }

  /** The message was sent, the input lost focus or was emptied. */
  stop() {
    if (!this.active) return;
    this.active = false;
    this.lastSentAt = null;
    this.send({ type: "typing", active: false });
  }

  /** The connection was replaced: the server forgot us, so nothing needs ending. */
  reset() {
    this.active = false;
    this.lastSentAt = null;
  }
}

export class TypingBoard {
  constructor({ now = () => Date.now(), expiresMs = TYPING_EXPIRES_MS } = {}) {
    this.now = now;
    this.expiresMs = expiresMs;
    /** user -> {name, until, since} */
    this.users = new Map();
  }

  /** A `typing` frame from someone else. Returns true if the visible state changed. */
  update({ user, name, active, expires_in: expiresIn }) {
    if (typeof user !== "string") return false;
    if (!active) return this.users.delete(user);
    const now = this.now();
    const ttl = Number.isFinite(expiresIn) && expiresIn > 0 ? Math.min(expiresIn, this.expiresMs) : this.expiresMs;
    const previous = this.users.get(user);
    this.users.set(user, { name: String(name ?? user), until: now + ttl, since: previous?.since ?? now });
    return !previous || previous.name !== name;
  }

  /** The user stopped (sent a message, left). Returns true if they were shown. */
  remove(user) {
    return this.users.delete(user);
  }

  clear() {
    this.users.clear();
  }

  /** Drop everyone whose typing ran out; returns their user ids. */
  expire() {
    const now = this.now();
    const gone = [];
    for (const [user, entry] of this.users) {
      if (entry.until <= now) {
        this.users.delete(user);
        gone.push(user);
      }
    }
    return gone;
  }

  /** When the next expiry is due (ms timestamp), or null. */
  nextExpiry() {
    let next = null;
    for (const entry of this.users.values()) next = next === null ? entry.until : Math.min(next, entry.until);
    return next;
  }

  /** Names of those typing, in the order they started. */
  names() {
    const now = this.now();
    return [...this.users.values()]
      .filter((entry) => entry.until > now)
      .sort((a, b) => a.since - b.since)
      .map((entry) => entry.name);
  }

  label() {
    return typingLabel(this.names());
  }
}

/** "Ann is typing…", "Ann and Bob are typing…", "Ann, Bob and Cy are typing…", "Several people are typing…". */
export function typingLabel(names) {
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  if (names.length === 3) return `${names[0]}, ${names[1]} and ${names[2]} are typing…`;
  return "Several people are typing…";
}
