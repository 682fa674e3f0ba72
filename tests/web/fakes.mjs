// Test doubles shared by the connection and session tests (not a test file itself).
export class FakeTimers {
  constructor(start = 1_000_000) {
    this.t = start;
    this.queue = new Map();
    this.nextId = 1;
    this.now = () => this.t;
    this.set = (fn, ms) => {
      const id = this.nextId++;
      this.queue.set(id, { at: this.t + ms, fn });
      return id;
    };
    this.clear = (id) => this.queue.delete(id);
  }

  /** Move time forward, firing due timers in order (including ones they schedule). */
  advance(ms) {
    const end = this.t + ms;
    for (;;) {
      let due = null;
      for (const [id, timer] of this.queue) if (timer.at <= end && (!due || timer.at < due[1].at)) due = [id, timer];
      if (!due) break;
      this.queue.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = end;
  }

  pending() {
    return this.queue.size;
  }
}

export class MemoryStorage {
  constructor() { this.data = new Map(); }
  getItem(key) { return this.data.has(key) ? this.data.get(key) : null; }
  setItem(key, value) { this.data.set(key, String(value)); }
  removeItem(key) { this.data.delete(key); }
}

/** A WebSocket stand-in: tests drive open/message/close by hand. */
export function fakeWebSocketClass() {
  const sockets = [];
  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      this.closed = null;
      sockets.push(this);
    }
    send(data) { this.sent.push(JSON.parse(data)); }
    close(code, reason) { this.readyState = 3; this.closed = { code, reason }; }
    // test drivers
    open() { this.readyState = 1; this.onopen?.({}); }
    receive(frame) { this.onmessage?.({ data: JSON.stringify(frame) }); }
    drop(code = 1006, reason = "") { this.readyState = 3; this.onclose?.({ code, reason }); }
  }
  return { FakeWebSocket, sockets };
}
