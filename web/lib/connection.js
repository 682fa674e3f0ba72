// One room's WebSocket, kept alive: full-jitter backoff between attempts (reset after a stable
// connection), reconnect at once when the page comes back online or visible, a ping heartbeat
// that replaces a dead socket, and a status for the UI. No DOM: the WebSocket class, timers,
// clock and online check are injected (the browser's by default).
import {
  HEARTBEAT_MS,
  HEARTBEAT_TIMEOUT_MS,
  RECONNECT_STABLE_MS,
} from "../protocol.js";
import { Backoff } from "./backoff.js";

export const CONNECT_TIMEOUT_MS = 10000;

/**
 * status: "connecting" | "live" | "reconnecting" (retryAt set) | "offline" | "stopped".
 * "live" starts when the server's `welcome` arrives, not when the socket opens.
 */
export class Connection {
  constructor({
    url,
    WebSocketImpl = globalThis.WebSocket,
    backoff = new Backoff(),
    setTimer = (fn, ms) => setTimeout(fn, ms),
    clearTimer = (id) => clearTimeout(id),
    now = () => Date.now(),
    isOnline = () => globalThis.navigator?.onLine !== false,
    onOpen = () => {},
    onFrame = () => {},
    onStatus = () => {},
    onClose = () => {},
  }) {
    Object.assign(this, { url, WebSocketImpl, backoff, setTimer, clearTimer, now, isOnline });
    Object.assign(this, { onOpen, onFrame, onStatus, onClose });
    this.socket = null;
    this.status = "stopped";
    this.retryAt = null;
    this.lastClose = null;
    this._timers = {};
  }

  start() {
    if (this.status !== "stopped") return;
    this._connect();
  }

  /** Close for good (leaving the room, signing out). */
  stop() {
    this._clearAll();
    this._drop(1000, "leaving");
    this._setStatus("stopped");
  }

  /** Online / visible again, or the user asked: retry now instead of waiting. */
  wake() {
    if (this.status === "reconnecting" || this.status === "offline") {
      this._clear("retry");
      this._connect();
    } else if (this.status === "live") {
      this.probe();
    }
  }

  /** The browser says it went offline: stop retrying until it comes back. */
  offline() {
    if (this.status === "stopped") return;
    this._clear("retry");
    if (this.status !== "live") {
      this._drop(4000, "offline");
      this._setStatus("offline");
    }
    // A live socket may well survive a short blip; the heartbeat decides.
    else this.probe();
  }

  /** Send a frame if the socket is open. Returns true if it went out. */
  send(frame) {
    const socket = this.socket;
    if (!socket || socket.readyState !== 1) return false;
    try {
      socket.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  /** Send a ping now and replace the socket if nothing comes back in time. */
  probe() {
    if (!this.socket || this.socket.readyState !== 1) return;
    if (this._timers.pong !== undefined) return;
    this.send({ type: "ping" });
    this._set("pong", HEARTBEAT_TIMEOUT_MS, () => this._fail(4000, "heartbeat timeout"));
  }

  _connect() {
    this._clearAll();
    if (!this.isOnline()) {
      this._setStatus("offline");
      return;
    }
    this._setStatus("connecting");
    let socket;
    try {
      socket = new this.WebSocketImpl(typeof this.url === "function" ? this.url() : this.url);
    } catch {
      this._scheduleRetry();
      return;
    }
    this.socket = socket;
    let opened = false;
    this._set("connect", CONNECT_TIMEOUT_MS, () => this._fail(4000, "connect timeout"));
    socket.onopen = () => {
      if (this.socket !== socket) return;
      opened = true;
      this._clear("connect");
      this.onOpen();
    };
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      this._clear("pong");
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!frame || typeof frame !== "object") return;
      if (frame.type === "welcome" && this.status !== "live") this._goLive();
      this.onFrame(frame);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.lastClose = { code: event.code, reason: event.reason, opened };
      this._lost();
    };
    socket.onerror = () => {
      // A close event always follows; nothing to do here.
    };
  }

  _goLive() {
    this._setStatus("live");
    this._set("stable", RECONNECT_STABLE_MS, () => this.backoff.reset());
    this._heartbeat();
  }

  _heartbeat() {
    this._set("heartbeat", HEARTBEAT_MS, () => {
      this.probe();
      this._heartbeat();
    });
  }

  _fail(code, reason) {
    const socket = this.socket;
    this.lastClose = { code, reason, opened: this.status === "live" };
    this._drop(code, reason);
    if (socket) this._lost();
  }

  _lost() {
    this._clearAll();
    const keepGoing = this.onClose(this.lastClose) !== false;
    if (this.status === "stopped") return;
    if (!keepGoing) {
      this._setStatus("stopped");
      return;
    }
    if (!this.isOnline()) {
      this._setStatus("offline");
      return;
    }
    this._scheduleRetry();
  }

  _scheduleRetry() {
    const delay = this.backoff.next();
    this.retryAt = this.now() + delay;
    this._set("retry", delay, () => this._connect());
    this._setStatus("reconnecting");
  }

  _drop(code, reason) {
    const socket = this.socket;
    this.socket = null;
    if (!socket) return;
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    try {
      socket.close(code, reason);
    } catch {
      // Already closing.
    }
  }

  _setStatus(status) {
    if (status !== "reconnecting") this.retryAt = null;
    const changed = status !== this.status;
    this.status = status;
    if (changed || status === "reconnecting") this.onStatus(status, this.retryAt);
  }

  _set(name, ms, fn) {
    this._clear(name);
    this._timers[name] = this.setTimer(() => {
      delete this._timers[name];
      fn();
    }, ms);
  }

  _clear(name) {
    if (this._timers[name] !== undefined) {
      this.clearTimer(this._timers[name]);
      delete this._timers[name];
    }
  }

  _clearAll() {
    for (const name of Object.keys(this._timers)) this._clear(name);
  }
}
