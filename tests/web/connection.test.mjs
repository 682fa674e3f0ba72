import test from "node:test";
import assert from "node:assert/strict";
import { Backoff } from "../../web/lib/backoff.js";
import { CONNECT_TIMEOUT_MS, Connection } from "../../web/lib/connection.js";
import { HEARTBEAT_MS, HEARTBEAT_TIMEOUT_MS, RECONNECT_STABLE_MS } from "../../web/protocol.js";
import { FakeTimers, fakeWebSocketClass } from "./fakes.mjs";

function setup({ online = true, random = () => 0.5, onClose } = {}) {
  const timers = new FakeTimers();
  const { FakeWebSocket, sockets } = fakeWebSocketClass();
  const statuses = [];
  const frames = [];
  const state = { online };
  const conn = new Connection({
    url: "ws://x/api/rooms/general/ws",
    WebSocketImpl: FakeWebSocket,
    backoff: new Backoff({ random }),
    setTimer: timers.set,
    clearTimer: timers.clear,
    now: timers.now,
    isOnline: () => state.online,
    onOpen: () => conn.send({ type: "hello" }),
    onFrame: (f) => frames.push(f),
    onStatus: (s, retryAt) => statuses.push(retryAt ? `${s}@${retryAt - timers.t}` : s),
    onClose,
  });
  return { conn, timers, sockets, statuses, frames, state };
}

test("connection goes live on welcome, not on open", () => {
  const { conn, sockets, statuses } = setup();
  conn.start();
  assert.deepEqual(statuses, ["connecting"]);
  sockets[0].open();
  assert.deepEqual(sockets[0].sent, [{ type: "hello" }]);
  assert.equal(conn.status, "connecting");
  sockets[0].receive({ type: "welcome" });
  assert.equal(conn.status, "live");
});

test("connection retries with growing jittered delays and resets after a stable connection", () => {
  const { conn, timers, sockets, statuses } = setup();
  conn.start();
  sockets[0].drop();
  assert.deepEqual(statuses.at(-1), "reconnecting@250");
  timers.advance(250);
  assert.equal(sockets.length, 2);
  sockets[1].drop();
  assert.equal(statuses.at(-1), "reconnecting@500");
  timers.advance(500);
  sockets[2].open();
  sockets[2].receive({ type: "welcome" });
  timers.advance(RECONNECT_STABLE_MS - 1);
  sockets[2].drop(1001);
  assert.equal(statuses.at(-1), "reconnecting@1000", "a short-lived connection does not reset the backoff");
  timers.advance(1000);
  sockets[3].open();
  sockets[3].receive({ type: "welcome" });
  timers.advance(RECONNECT_STABLE_MS);
  sockets[3].drop(1001);
  assert.equal(statuses.at(-1), "reconnecting@250", "reset after staying up");
});

test("connection waits while offline and reconnects at once when woken", () => {
  const { conn, timers, sockets, state } = setup();
  conn.start();
  state.online = false;
  sockets[0].drop();
  assert.equal(conn.status, "offline");
  timers.advance(60_000);
  assert.equal(sockets.length, 1, "no attempts while offline");
  state.online = true;
  conn.wake();
  assert.equal(sockets.length, 2);
  assert.equal(conn.status, "connecting");
  sockets[1].drop();
  assert.equal(conn.status, "reconnecting");
  conn.wake();
  assert.equal(sockets.length, 3, "visible/online again skips the remaining wait");
});

test("connection goes offline when the browser says so and stops retrying", () => {
  const { conn, timers, sockets } = setup();
  conn.start();
  sockets[0].drop();
  conn.offline();
  assert.equal(conn.status, "offline");
  timers.advance(60_000);
  assert.equal(sockets.length, 1);
});

test("connection replaces a socket that does not open in time", () => {
  const { conn, timers, sockets } = setup();
  conn.start();
  timers.advance(CONNECT_TIMEOUT_MS);
  assert.equal(sockets[0].closed.code, 4000);
  assert.equal(conn.status, "reconnecting");
});

test("connection pings while live and replaces a socket that stays silent", () => {
  const { conn, timers, sockets } = setup();
  conn.start();
  sockets[0].open();
  sockets[0].receive({ type: "welcome" });
  timers.advance(HEARTBEAT_MS);
  assert.deepEqual(sockets[0].sent.at(-1), { type: "ping" });
  sockets[0].receive({ type: "pong" });
  timers.advance(HEARTBEAT_TIMEOUT_MS);
  assert.equal(conn.status, "live", "the pong cancelled the timeout");
  timers.advance(HEARTBEAT_MS - HEARTBEAT_TIMEOUT_MS + HEARTBEAT_TIMEOUT_MS);
  assert.equal(sockets[0].closed?.reason, "heartbeat timeout");
  assert.equal(conn.status, "reconnecting");
});

test("connection stops for good when onClose says so, and after stop()", () => {
  const { conn, timers, sockets } = setup({ onClose: (info) => info.code !== 1008 });
  conn.start();
  sockets[0].open();
  sockets[0].drop(1008, "session expired");
  assert.equal(conn.status, "stopped");
  assert.deepEqual(conn.lastClose, { code: 1008, reason: "session expired", opened: true });
  timers.advance(60_000);
  assert.equal(sockets.length, 1);
  const other = setup();
  other.conn.start();
  other.sockets[0].open();
  other.conn.stop();
  assert.equal(other.sockets[0].closed.code, 1000);
  assert.equal(other.timers.pending(), 0);
  assert.equal(other.conn.send({ type: "ping" }), false);
});

test("connection ignores frames that are not JSON objects", () => {
  const { conn, sockets, frames } = setup();
  conn.start();
  sockets[0].open();
  sockets[0].onmessage({ data: "not json" });
  sockets[0].onmessage({ data: "42" });
  sockets[0].receive({ type: "pong" });
  assert.deepEqual(frames, [{ type: "pong" }]);
});

test("a url given as a function is asked again for every connection", () => {
  const timers = new FakeTimers();
  const { FakeWebSocket, sockets } = fakeWebSocketClass();
  let n = 0;
  const conn = new Connection({
    url: () => `ws://x/api/rooms/general/ws?hello=${++n}`,
    WebSocketImpl: FakeWebSocket,
    backoff: new Backoff({ random: () => 0.5 }),
    setTimer: timers.set,
    clearTimer: timers.clear,
    now: timers.now,
    isOnline: () => true,
  });
  conn.start();
  sockets[0].open();
  sockets[0].drop(1006);
  timers.advance(60_000);
  // every attempt (the reconnect, then retries after connect timeouts) asked for a fresh url
  assert.ok(sockets.length >= 2);
  assert.deepEqual(sockets.map((s) => s.url), sockets.map((_, i) => `ws://x/api/rooms/general/ws?hello=${i + 1}`));
  conn.stop();
});
