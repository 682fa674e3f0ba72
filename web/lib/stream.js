// A room's stream as the client holds it: epoch/seq bookkeeping, dedupe, gap detection,
// the message list (with edits and deletes applied), older history, and the queue of
// unsent frames that survives a reload. No DOM; storage, time and randomness are injected.

/** A fresh nonce: 22 characters of [A-Za-z0-9_-] (132 random bits). */
export function makeNonce(getRandomValues = (bytes) => globalThis.crypto.getRandomValues(bytes)) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  let out = "";
  for (const byte of getRandomValues(new Uint8Array(22))) out += alphabet[byte & 63];
  return out;
}

const STREAM_TYPES = new Set(["chat.message", "chat.edited", "chat.deleted"]);

function isStreamEvent(event) {
  return event && STREAM_TYPES.has(event.type) && Number.isSafeInteger(event.seq) && event.seq > 0;
}

/** Seq/epoch bookkeeping and the message view of one room. */
export class RoomStream {
  constructor() {
    this.clear();
  }

  clear() {
    this.epoch = null;
    /** The highest seq applied with no hole below it (down to the oldest event held). */
    this.seq = 0;
    /** seq -> message {seq, id, user, name, text, ts, nonce, edited, deleted, rev} */
    this.messages = new Map();
    /** Edits/deletes whose target is not held (yet): applied if the message arrives later. */
    this.lateEdits = new Map();
    this.lateDeletes = new Set();
    /** The lowest seq known (event or history); `before_seq` for "load older". */
    this.oldestSeq = null;
    this.hasOlder = false;
    /** Events that arrived above a hole, waiting for the `resumed` that fills it. */
    this.buffer = new Map();
    this.resuming = false;
    this._sorted = null;
  }

  /** What to send in `hello.resume` / `resume`: null before the first welcome. */
  resumePoint() {
    return this.epoch === null ? null : { epoch: this.epoch, seq: this.seq };
  }

  /**
   * Apply a `welcome` or `resumed` frame. Recovered (same epoch): append exactly the missed
   * events, dropping any already held. Otherwise the view is replaced by the snapshot and
   * older history becomes loadable. Returns {snapshot, applied: [events], gap}.
   */
  applyRecovery(frame) {
    const events = (Array.isArray(frame.events) ? frame.events : []).filter(isStreamEvent);
    events.sort((a, b) => a.seq - b.seq);
    const head = Number.isSafeInteger(frame.seq) ? frame.seq : 0;
    const recovered = frame.recovered === true && this.epoch !== null && frame.epoch === this.epoch;
    const applied = [];
    if (!recovered) {
      const buffered = this.buffer;
      this.clear();
      this.buffer = buffered;
      this.epoch = frame.epoch;
      for (const event of events) {
        this._apply(event);
        applied.push(event);
      }
      this.seq = Math.max(head, events.length ? events[events.length - 1].seq : 0);
      this.oldestSeq = events.length ? events[0].seq : head + 1;
      this.hasOlder = this.oldestSeq > 1;
    } else {
      for (const event of events) {
        if (event.seq <= this.seq) continue; // a duplicate
        this._apply(event);
        applied.push(event);
        this.seq = event.seq;
      }
      this.seq = Math.max(this.seq, head);
    }
    this.resuming = false;
    for (const [seq, event] of this.buffer) {
      if (seq <= this.seq || event.epoch !== this.epoch) this.buffer.delete(seq);
    }
    applied.push(...this._drain());
    const gap = this.buffer.size > 0;
    if (gap) this.resuming = true;
    return { snapshot: !recovered, applied, gap };
  }

  /**
   * A live stream event. Returns "applied", "duplicate" (seq already held: ignored),
   * "gap" (a hole or another epoch: the caller must send `resume` with resumePoint()),
   * or "buffered" (held until the pending `resumed` arrives). Non-stream frames: "ignored".
   */
  receive(event) {
    if (!isStreamEvent(event)) return "ignored";
    if (this.epoch === null) return "ignored"; // before the welcome: the welcome covers it
    if (event.epoch !== this.epoch) {
      if (this.resuming) return "buffered";
      this.resuming = true;
      return "gap";
    }
    if (event.seq <= this.seq || this.buffer.has(event.seq)) return "duplicate";
    if (event.seq === this.seq + 1 && !this.resuming) {
      this._apply(event);
      this.seq = event.seq;
      return "applied";
    }
    this.buffer.set(event.seq, event);
    if (this.resuming) return "buffered";
    this.resuming = true;
    return "gap";
  }

  /** Older history from GET /messages (oldest first). Returns the messages added. */
  applyHistory(page) {
    if (!page || (page.epoch !== undefined && page.epoch !== this.epoch)) return [];
    const added = [];
    for (const message of Array.isArray(page.messages) ? page.messages : []) {
      if (!Number.isSafeInteger(message.seq) || this.messages.has(message.seq)) continue;
      this._addMessage(message);
      added.push(message);
      this.oldestSeq = this.oldestSeq === null ? message.seq : Math.min(this.oldestSeq, message.seq);
    }
    this.hasOlder = page.has_more === true && (this.oldestSeq ?? 0) > 1;
    return added;
  }

  /** Messages in seq order. */
  ordered() {
    if (this._sorted === null) this._sorted = [...this.messages.values()].sort((a, b) => a.seq - b.seq);
    return this._sorted;
  }

  _drain() {
    const applied = [];
    while (this.buffer.has(this.seq + 1)) {
      const event = this.buffer.get(this.seq + 1);
      this.buffer.delete(this.seq + 1);
      this._apply(event);
      this.seq = event.seq;
      applied.push(event);
    }
    return applied;
  }

  _apply(event) {
    this.oldestSeq = this.oldestSeq === null ? event.seq : Math.min(this.oldestSeq, event.seq);
    if (event.type === "chat.message") {
      this._addMessage(event);
      return;
    }
    const target = this.messages.get(event.target);
    if (event.type === "chat.edited") {
      if (target) Object.assign(target, { text: event.text, edited: true, rev: target.rev + 1 });
      else this.lateEdits.set(event.target, event.text);
    } else if (event.type === "chat.deleted") {
      if (target) Object.assign(target, { text: "", attachments: [], deleted: true, rev: target.rev + 1 });
      else this.lateDeletes.add(event.target);
    }
  }

  _addMessage(message) {
    const entry = {
      seq: message.seq,
      id: message.id ?? `${this.epoch}.${message.seq}`,
      user: message.user,
      name: message.name,
      text: typeof message.text === "string" ? message.text : "",
      attachments: Array.isArray(message.attachments) ? message.attachments.filter((a) => a && typeof a === "object") : [],
      ts: message.ts,
      nonce: message.nonce ?? null,
      edited: message.edited === true,
      deleted: message.deleted === true,
      rev: 0,
    };
    if (this.lateEdits.has(entry.seq)) {
      entry.text = this.lateEdits.get(entry.seq);
      entry.edited = true;
      this.lateEdits.delete(entry.seq);
    }
    if (this.lateDeletes.has(entry.seq) || entry.deleted) {
      entry.text = "";
      entry.attachments = [];
      entry.deleted = true;
      this.lateDeletes.delete(entry.seq);
    }
    this.messages.set(entry.seq, entry);
    this._sorted = null;
  }
}

/**
 * Frames not yet acknowledged (sends, edits, deletes), in order, kept in memory and in a
 * Storage-like object (sessionStorage in the browser) so a reload keeps them. Each keeps its
 * nonce for ever: a resend after a reconnect uses the same one and the server dedupes it.
 */
export class PendingQueue {
  constructor({ storage = null, key = "edgeroom.pending", now = () => Date.now() } = {}) {
    this.storage = storage;
    this.key = key;
    this.now = now;
    this.items = [];
    this._load();
  }

  _load() {
    if (!this.storage) return;
    let raw = null;
    try {
      raw = this.storage.getItem(this.key);
    } catch {
      return;
    }
    if (!raw) return;
    try {
      const items = JSON.parse(raw);
      if (!Array.isArray(items)) return;
      for (const item of items) {
        if (!item || typeof item.nonce !== "string" || !["send", "edit", "delete"].includes(item.kind)) continue;
        // After a reload nothing is in flight: whatever was "sent" is resent with its nonce.
        this.items.push({ ...item, status: item.status === "failed" ? "failed" : "queued" });
      }
    } catch {
      // A corrupt entry is dropped rather than breaking the page.
    }
  }

  _save() {
    if (!this.storage) return;
    try {
      if (this.items.length) this.storage.setItem(this.key, JSON.stringify(this.items));
      else this.storage.removeItem(this.key);
    } catch {
      // Quota or private mode: the in-memory queue still works.
    }
  }

  /** Queue a frame: {kind: "send"|"edit"|"delete", nonce, text?, target?, epoch?}. */
  add(fields) {
    const item = { status: "queued", error: null, createdAt: this.now(), ...fields };
    this.items.push(item);
    this._save();
    return item;
  }

  get(nonce) {
    return this.items.find((item) => item.nonce === nonce) ?? null;
  }

  /** Acknowledged (or seen in the stream): out of the queue. Returns the item or null. */
  remove(nonce) {
    const index = this.items.findIndex((item) => item.nonce === nonce);
    if (index < 0) return null;
    const [item] = this.items.splice(index, 1);
    this._save();
    return item;
  }

  _set(nonce, changes) {
    const item = this.get(nonce);
    if (!item) return null;
    Object.assign(item, changes);
    this._save();
    return item;
  }

  markSent(nonce) {
    return this._set(nonce, { status: "sent" });
  }

  markQueued(nonce) {
    return this._set(nonce, { status: "queued", error: null });
  }

  markFailed(nonce, error) {
    return this._set(nonce, { status: "failed", error });
  }

  /** Everything that should go out on the next (re)connect, in order (failed ones wait for the user). */
  toSend() {
    return this.items.filter((item) => item.status !== "failed");
  }

  /** Drop edits/deletes made against another epoch: their targets' seqs mean nothing now. */
  dropStale(epoch) {
    const stale = this.items.filter((item) => item.kind !== "send" && item.epoch && item.epoch !== epoch);
    if (stale.length) {
      this.items = this.items.filter((item) => !stale.includes(item));
      this._save();
    }
    return stale;
  }

  all() {
    return [...this.items];
  }

  get size() {
    return this.items.length;
  }
}

/** The client frame for a queued item. */
export function frameFor(item) {
  if (item.kind === "send") {
    const frame = { type: "chat.send", nonce: item.nonce, text: item.text };
    if (item.attachments?.length) frame.attachments = item.attachments.map((a) => a.id);
    return frame;
  }
  if (item.kind === "edit") return { type: "chat.edit", nonce: item.nonce, target: item.target, text: item.text };
  return { type: "chat.delete", nonce: item.nonce, target: item.target };
}
