// Full-jitter exponential backoff: the n-th retry waits a uniform random time in
// [0, min(cap, base * 2^n)). No DOM; `random` is injectable for tests.
import { RECONNECT_BASE_MS, RECONNECT_CAP_MS } from "../protocol.js";

export class Backoff {
  constructor({ baseMs = RECONNECT_BASE_MS, capMs = RECONNECT_CAP_MS, random = Math.random } = {}) {
    if (!(baseMs > 0) || !(capMs >= baseMs)) throw new RangeError("backoff needs 0 < baseMs <= capMs");
    this.baseMs = baseMs;
    this.capMs = capMs;
    this.random = random;
    this.attempt = 0;
  }

  /** The upper bound of the wait before retry number `attempt` (0-based). */
  ceiling(attempt = this.attempt) {
    // 2 ** attempt overflows to Infinity for huge attempts; min() keeps the cap.
    return Math.min(this.capMs, this.baseMs * 2 ** Math.min(attempt, 60));
  }

  /** The wait before the next retry, in ms; each call counts one attempt. */
  next() {
    const ceiling = this.ceiling();
    this.attempt += 1;
    const r = this.random();
    const unit = r >= 0 && r < 1 ? r : 0; // a misbehaving random source never escapes the bounds
    return Math.floor(unit * ceiling);
  }

  /** Back to the first step (after a connection that stayed up). */
  reset() {
    this.attempt = 0;
  }
}
