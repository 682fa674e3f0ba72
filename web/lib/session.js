// One open room: turns server frames into state (stream, roster, typing, pending queue,
// notices) and user actions into client frames. No DOM and no socket: `send` is injected
// (Connection.send), so is storage, time and the nonce source; the view subscribes to onChange.
import { MAX_TEXT_CHARS } from "../protocol.js";
import { PendingQueue, RoomStream, frameFor, makeNonce } from "./stream.js";
import { TypingBoard, TypingSender } from "./typing.js";

let noticeIds = 0;

/** A `resume` that got no `resumed` in this long is sent again. */
export const RESUME_TIMEOUT_MS = 5000;

export class RoomSession {
  constructor({
    room,
    send,
    storage = null,
    device = null,
    now = () => Date.now(),
    setTimer = (fn, ms) => setTimeout(fn, ms),
    clearTimer = (id) => clearTimeout(id),
    nonce = () => makeNonce(),
    onChange = () => {},
  }) {
    Object.assign(this, { room, send, device, now, setTimer, clearTimer, nonce, onChange });
    this.stream = new RoomStream();
    this.pending = new PendingQueue({ storage, key: `edgeroom.pending.${room}`, now });
    this.roster = new Map(); // user -> {name, devices}
    this.headcount = null; // how many are here when the room is too large to list them, else null
    this.flags = null; // feature flags: {version, values} from welcome and flags.changed
    this.typing = new TypingBoard({ now });
    this.typingSender = new TypingSender({ send: (frame) => (this.live ? this.send(frame) : false), now });
    this.me = null;
    this.live = false;
    this.blockedUntil = 0;
    this.notices = []; // [{id, text, kind}]
    this._typingTimer = null;
    this._blockTimer = null;
    this._resumeTimer = null;
  }

  // -- connection events ---------------------------------------------------------------------
  /** The hello for the next connection: what we hold, so the server can fill the gap. */
  hello() {
    const hello = { type: "hello", batch: true }; // frames of one server tick may come as one batch
    const point = this.stream.resumePoint();
    if (point) hello.resume = point;
    if (this.device) hello.device = this.device;
    return hello;
  }

  /** The socket opened: say hello, unless it was said in the socket's URL (`helloSent`). */
  onOpen({ helloSent = false } = {}) {
    this.typingSender.reset();
    if (!helloSent) this.send(this.hello());
  }

  /** The socket is gone: sends wait in the queue; nobody is "typing" any more. */
  onDisconnected() {
    this.live = false;
    if (this._resumeTimer !== null) this.clearTimer(this._resumeTimer);
    this._resumeTimer = null;
    this.typingSender.reset();
    if (this.typing.users.size) {
      this.typing.clear();
      this.onChange("typing");
    }
  }

  onFrame(frame) {
    switch (frame.type) {
      case "batch": // the frames of one server tick, in order (never nested)
        for (const inner of Array.isArray(frame.frames) ? frame.frames : []) {
          if (inner && typeof inner === "object" && inner.type !== "batch") this.onFrame(inner);
        }
        return undefined;
      case "welcome":
        return this._welcome(frame);
      case "resumed":
        return this._recovery(frame);
      case "chat.message":
      case "chat.edited":
      case "chat.deleted":
        return this._event(frame);
      case "chat.ack":
        if (this.pending.remove(frame.nonce)) this.onChange("pending");
        return undefined;
      case "presence.join":
      case "presence.leave":
      case "presence.devices":
        return this._presence(frame);
      case "presence.diff": // several arrivals and departures, published together
        return this._presenceDiff(frame);
      case "presence.count": // a large room: only how many are here
        this.roster = new Map();
        this.headcount = Number.isInteger(frame.online) ? frame.online : 0;
        return this.onChange("roster");
      case "presence.roster": // small again: everyone's names
        this._setRoster(frame);
        return this.onChange("roster");
      case "typing":
        return this._typing(frame);
      case "flags.changed": // feature flags (docs/flags.md)
        return this._flags(frame);
      case "error":
        return this._error(frame);
      default:
        return undefined; // pong and anything newer than this client
    }
  }

  /** Feature flags evaluated for this user: `{version, values: {key: value}}`; older versions are ignored. */
  _flags(update) {
    const version = Number.isInteger(update.version) ? update.version : 0;
    if (this.flags && version < this.flags.version) return;
    this.flags = { version, values: update.values && typeof update.values === "object" ? update.values : {} };
    this.onChange("flags");
  }

  /** A feature behind a boolean flag is on unless the flag says otherwise. */
  feature(key) {
    return this.flags?.values?.[key] !== false;
  }

  _welcome(frame) {
    this.me = frame.you ?? this.me;
    this._setRoster(frame);
    this.typing.clear();
    for (const user of Array.isArray(frame.typing) ? frame.typing : []) {
      if (user !== this.me?.user) this.typing.update({ user, name: this.roster.get(user)?.name ?? user, active: true });
    }
    this.live = true;
    if (frame.flags) this._flags(frame.flags);
    this._recovery(frame);
    for (const item of this.pending.dropStale(this.stream.epoch)) {
      this._notice(`Your ${item.kind === "edit" ? "edit" : "delete"} was dropped: the room's history was reset.`);
    }
    // Whatever went out on the old socket without an ack goes again, with the same nonce.
    for (const item of this.pending.all()) if (item.status === "sent") this.pending.markQueued(item.nonce);
    this.flush();
    this.onChange("me");
    this.onChange("roster");
    this.onChange("typing");
    this.onChange("pending");
    this._scheduleTypingExpiry();
  }

  _recovery(frame) {
    const result = this.stream.applyRecovery(frame);
    this._reconcile(result.applied);
    if (result.gap) this._askResume();
    this.onChange("messages", { snapshot: result.snapshot, appended: result.applied });
  }

  _event(frame) {
    const outcome = this.stream.receive(frame);
    if (outcome === "gap") this._askResume();
    if (outcome !== "applied") return;
    this._reconcile([frame]);
    if (frame.type === "chat.message" && this.typing.remove(frame.user)) this.onChange("typing");
    this.onChange("messages", { snapshot: false, appended: [frame] });
  }

  _askResume() {
    const point = this.stream.resumePoint();
    if (!point || !this.live) return;
    this.send({ type: "resume", epoch: point.epoch, seq: point.seq });
    if (this._resumeTimer !== null) this.clearTimer(this._resumeTimer);
    this._resumeTimer = this.setTimer(() => {
      this._resumeTimer = null;
      if (this.stream.resuming) this._askResume(); // the answer was lost: ask again
    }, RESUME_TIMEOUT_MS);
  }

  /** Our own events seen in the stream are delivered, ack or not. */
  _reconcile(events) {
    let changed = false;
    for (const event of events) {
      if (event.nonce && this.me && event.user === this.me.user && this.pending.remove(event.nonce)) changed = true;
    }
    if (changed) this.onChange("pending");
  }

  /** How many people are here (the roster's size, or the count of a large room). */
  peopleHere() {
    return this.headcount ?? this.roster.size;
  }

  /** A whole roster (`welcome`, `presence.roster`); an `online` above its size means a large room. */
  _setRoster(frame) {
    this.roster = new Map();
    for (const entry of Array.isArray(frame.roster) ? frame.roster : []) {
      this.roster.set(entry.user, { name: entry.name, devices: entry.devices ?? 1 });
    }
    const online = Number.isInteger(frame.online) ? frame.online : this.roster.size;
    this.headcount = online > this.roster.size ? online : null;
  }

  _presence(frame) {
    if (typeof frame.user !== "string") return;
    const devices = Number.isInteger(frame.devices) ? frame.devices : frame.type === "presence.leave" ? 0 : 1;
    if (devices <= 0) {
      this.roster.delete(frame.user);
      if (this.typing.remove(frame.user)) this.onChange("typing");
    } else {
      this.roster.set(frame.user, { name: frame.name ?? this.roster.get(frame.user)?.name ?? frame.user, devices });
    }
    this.onChange("roster");
  }

  _presenceDiff(frame) {
    for (const left of Array.isArray(frame.leaves) ? frame.leaves : []) {
      this._presence({ type: "presence.leave", ...left, devices: 0 });
    }
    for (const joined of Array.isArray(frame.joins) ? frame.joins : []) {
      this._presence({ type: "presence.join", ...joined });
    }
  }

  _typing(frame) {
    if (this.me && frame.user === this.me.user) return;
    if (this.typing.update(frame) || !frame.active) this.onChange("typing");
    this._scheduleTypingExpiry();
  }

  _scheduleTypingExpiry() {
    if (this._typingTimer !== null) this.clearTimer(this._typingTimer);
    this._typingTimer = null;
    const next = this.typing.nextExpiry();
    if (next === null) return;
    this._typingTimer = this.setTimer(() => {
      this._typingTimer = null;
      if (this.typing.expire().length) this.onChange("typing");
      this._scheduleTypingExpiry();
    }, Math.max(0, next - this.now()));
  }

  _error(frame) {
    const item = frame.nonce ? this.pending.get(frame.nonce) : null;
    if (frame.code === "rate_limited") {
      const seconds = Number.isFinite(frame.retry_after) && frame.retry_after > 0 ? frame.retry_after : 1;
      this.blockedUntil = Math.max(this.blockedUntil, this.now() + Math.ceil(seconds * 1000));
      if (item) this.pending.markQueued(item.nonce); // goes again once the wait is over
      this._notice(`You are sending too fast. Sending is paused for ${Math.ceil(seconds)} s.`, "rate");
      this._scheduleUnblock();
      this.onChange("blocked");
      this.onChange("pending");
      return;
    }
    if (item && item.kind === "send") {
      this.pending.markFailed(item.nonce, frame.message || frame.code);
      this.onChange("pending");
      return;
    }
    if (item) this.pending.remove(item.nonce);
    const what = item ? (item.kind === "edit" ? "Edit failed: " : "Delete failed: ") : "";
    this._notice(what + (frame.message || frame.code));
  }

  _scheduleUnblock() {
    if (this._blockTimer !== null) this.clearTimer(this._blockTimer);
    this._blockTimer = this.setTimer(() => {
      this._blockTimer = null;
      this.blockedUntil = 0;
      this.notices = this.notices.filter((notice) => notice.kind !== "rate");
      this.onChange("blocked");
      this.onChange("notice");
      this.flush();
    }, Math.max(0, this.blockedUntil - this.now()));
  }

  _notice(text, kind = "error") {
    this.notices = this.notices.filter((notice) => notice.kind !== kind || kind === "error");
    this.notices.push({ id: ++noticeIds, text, kind });
    if (this.notices.length > 3) this.notices.shift();
    this.onChange("notice");
  }

  dismissNotice(id) {
    this.notices = this.notices.filter((notice) => notice.id !== id);
    this.onChange("notice");
  }

  // -- user actions --------------------------------------------------------------------------
  isBlocked() {
    return this.blockedUntil > this.now();
  }

  /** Send everything queued, in order, if connected and not rate limited. */
  flush() {
    if (!this.live || this.isBlocked()) return;
    let changed = false;
    for (const item of this.pending.toSend()) {
      if (item.status !== "queued") continue;
      if (!this.send(frameFor(item))) break;
      this.pending.markSent(item.nonce);
      changed = true;
    }
    if (changed) this.onChange("pending");
  }

  _checkText(raw) {
    const text = String(raw).trim();
    if (!text) return { ok: false, error: "Type a message first." };
    if (text.length > MAX_TEXT_CHARS) {
      return { ok: false, error: `Messages are at most ${MAX_TEXT_CHARS} characters (this one has ${text.length}).` };
    }
    return { ok: true, text };
  }

  /** Queue a message (shown as "sending" until acked) and send it if possible.
   *  `attachments`: uploads ({id, name, kind, preview, ...}) from POST /api/uploads; with any, the text may be empty. */
  sendMessage(raw, attachments = []) {
    const check = attachments.length && !String(raw).trim() ? { ok: true, text: "" } : this._checkText(raw);
    if (!check.ok) return check;
    if (this.isBlocked()) return { ok: false, error: "Sending is paused for a moment (rate limit)." };
    const item = this.pending.add({ kind: "send", nonce: this.nonce(), text: check.text, attachments });
    this.typingSender.stop();
    this.onChange("pending");
    this.flush();
    return { ok: true, nonce: item.nonce };
  }

  editMessage(seq, raw) {
    const check = this._checkText(raw);
    if (!check.ok) return check;
    if (!this.isOwn(seq)) return { ok: false, error: "You can only edit your own messages." };
    if (this.isBlocked()) return { ok: false, error: "Sending is paused for a moment (rate limit)." };
    const item = this.pending.add({ kind: "edit", nonce: this.nonce(), target: seq, text: check.text, epoch: this.stream.epoch });
    this.flush();
    return { ok: true, nonce: item.nonce };
  }

  deleteMessage(seq) {
    if (!this.isOwn(seq)) return { ok: false, error: "You can only delete your own messages." };
    if (this.isBlocked()) return { ok: false, error: "Sending is paused for a moment (rate limit)." };
    const item = this.pending.add({ kind: "delete", nonce: this.nonce(), target: seq, epoch: this.stream.epoch });
    this.flush();
    return { ok: true, nonce: item.nonce };
  }

  retry(nonce) {
    if (this.pending.markQueued(nonce)) {
      this.onChange("pending");
      this.flush();
    }
  }

  discard(nonce) {
    if (this.pending.remove(nonce)) this.onChange("pending");
  }

  isOwn(seq) {
    const message = this.stream.messages.get(seq);
    return Boolean(message && this.me && message.user === this.me.user && !message.deleted);
  }

  /** Unacknowledged messages (not edits/deletes), to show as "sending" / "failed". */
  pendingMessages() {
    return this.pending.all().filter((item) => item.kind === "send");
  }

  /** Is an edit or delete of this message waiting for its ack? */
  pendingChange(seq) {
    return this.pending.all().find((item) => item.kind !== "send" && item.target === seq) ?? null;
  }

  typingInput(text) {
    this.typingSender.input(text);
  }

  typingStop() {
    this.typingSender.stop();
  }

  /** Leaving the room: timers off (the queue stays in storage for next time). */
  dispose() {
    if (this._typingTimer !== null) this.clearTimer(this._typingTimer);
    if (this._blockTimer !== null) this.clearTimer(this._blockTimer);
    if (this._resumeTimer !== null) this.clearTimer(this._resumeTimer);
    this._typingTimer = this._blockTimer = this._resumeTimer = null;
    this.live = false;
  }
}
