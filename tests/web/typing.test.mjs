import test from "node:test";
import assert from "node:assert/strict";
import { TypingBoard, TypingSender, typingLabel } from "../../web/lib/typing.js";
import { TYPING_EXPIRES_MS, TYPING_THROTTLE_MS } from "../../web/protocol.js";

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

test("typing sender sends active at most once per 2 s while typing", () => {
  const time = clock();
  const sent = [];
  const sender = new TypingSender({ send: (f) => sent.push(f), now: time.now });
  sender.input("h");
  for (let i = 0; i < 19; i++) {
    time.advance(100);
    sender.input("hello".slice(0, (i % 5) + 1));
  }
  assert.equal(sent.length, 1);
  time.advance(TYPING_THROTTLE_MS - 1900);
  sender.input("hello!");
  assert.deepEqual(sent, [{ type: "typing", active: true }, { type: "typing", active: true }]);
});

test("typing sender ends with active false on stop and on an emptied input, once", () => {
  const time = clock();
  const sent = [];
  const sender = new TypingSender({ send: (f) => sent.push(f), now: time.now });
  sender.stop();
  assert.deepEqual(sent, [], "nothing to end before typing");
  sender.input("hi");
  sender.input("   ");
  sender.input("");
  assert.deepEqual(sent, [{ type: "typing", active: true }, { type: "typing", active: false }]);
  sender.input("again");
  assert.equal(sent.length, 3, "typing after a stop is announced at once, not throttled");
  sender.stop();
  sender.stop();
  assert.deepEqual(sent.at(-1), { type: "typing", active: false });
  assert.equal(sent.length, 4);
});

test("typing sender retries on the next keystroke when the send did not go out", () => {
  const time = clock();
  let connected = false;
  const sent = [];
  const sender = new TypingSender({ send: (f) => (connected ? sent.push(f) > 0 : false), now: time.now });
  sender.input("a");
  connected = true;
  time.advance(10);
  sender.input("ab");
  assert.equal(sent.length, 1);
  sender.reset();
  sender.stop();
  assert.equal(sent.length, 1, "after reset (new socket) there is nothing to end");
});

test("typing board expires others after 6 s without a refresh", () => {
  const time = clock();
  const board = new TypingBoard({ now: time.now });
  assert.equal(board.update({ user: "u1", name: "Ann", active: true, expires_in: TYPING_EXPIRES_MS }), true);
  assert.equal(board.label(), "Ann is typing…");
  time.advance(5000);
  board.update({ user: "u1", name: "Ann", active: true, expires_in: TYPING_EXPIRES_MS });
  time.advance(5999);
  assert.deepEqual(board.expire(), []);
  assert.equal(board.nextExpiry(), time.now() + 1);
  time.advance(1);
  assert.deepEqual(board.expire(), ["u1"]);
  assert.equal(board.label(), "");
  assert.equal(board.nextExpiry(), null);
});

test("typing board honours a shorter expires_in, caps a longer one, and ends on active false", () => {
  const time = clock();
  const board = new TypingBoard({ now: time.now });
  board.update({ user: "u1", name: "Ann", active: true, expires_in: 1000 });
  board.update({ user: "u2", name: "Bob", active: true, expires_in: 60_000 });
  board.update({ user: "u3", name: "Cy", active: true });
  assert.equal(board.label(), "Ann, Bob and Cy are typing…");
  time.advance(1000);
  assert.deepEqual(board.names(), ["Bob", "Cy"], "expired entries are hidden even before expire()");
  assert.deepEqual(board.expire(), ["u1"]);
  assert.equal(board.update({ user: "u3", active: false }), true);
  time.advance(TYPING_EXPIRES_MS - 1000);
  assert.deepEqual(board.expire(), ["u2"]);
});

test("typing labels for one to many names", () => {
  assert.equal(typingLabel([]), "");
  assert.equal(typingLabel(["Ann", "Bob"]), "Ann and Bob are typing…");
  assert.equal(typingLabel(["A", "B", "C", "D"]), "Several people are typing…");
});
