import test from "node:test";
import assert from "node:assert/strict";
import { PendingQueue, RoomStream, frameFor, makeNonce } from "../../web/lib/stream.js";
import { isValidNonce } from "../../web/protocol.js";

const E = "ep1";
const msg = (seq, text = `m${seq}`, extra = {}) => ({
  type: "chat.message", seq, epoch: E, id: `${E}.${seq}`, user: "u1", name: "Ann", text, ts: 1000 + seq, nonce: `n${seq}`, ...extra,
});
const welcome = (seq, events, extra = {}) => ({ type: "welcome", epoch: E, seq, recovered: false, events, ...extra });
const texts = (stream) => stream.ordered().map((m) => m.text);

class MemoryStorage {
  constructor() { this.data = new Map(); }
  getItem(key) { return this.data.has(key) ? this.data.get(key) : null; }
  setItem(key, value) { this.data.set(key, String(value)); }
  removeItem(key) { this.data.delete(key); }
}

test("stream snapshot replaces the view and marks older history loadable", () => {
  const stream = new RoomStream();
  assert.equal(stream.resumePoint(), null);
  const result = stream.applyRecovery(welcome(60, [msg(58), msg(59), msg(60)]));
  assert.equal(result.snapshot, true);
  assert.deepEqual(stream.resumePoint(), { epoch: E, seq: 60 });
  assert.deepEqual(texts(stream), ["m58", "m59", "m60"]);
  assert.equal(stream.hasOlder, true);
  assert.equal(stream.oldestSeq, 58);
  // A second snapshot (epoch changed) throws the old view away.
  const again = stream.applyRecovery({ type: "welcome", epoch: "ep2", seq: 2, recovered: false, events: [{ ...msg(1), epoch: "ep2" }, { ...msg(2), epoch: "ep2" }] });
  assert.equal(again.snapshot, true);
  assert.deepEqual(texts(stream), ["m1", "m2"]);
  assert.equal(stream.hasOlder, false);
  assert.deepEqual(stream.resumePoint(), { epoch: "ep2", seq: 2 });
});

test("stream snapshot of an empty room has nothing older", () => {
  const stream = new RoomStream();
  stream.applyRecovery(welcome(0, []));
  assert.equal(stream.hasOlder, false);
  assert.deepEqual(stream.resumePoint(), { epoch: E, seq: 0 });
});

test("stream recovered welcome appends exactly the missed events, deduped by seq", () => {
  const stream = new RoomStream();
  stream.applyRecovery(welcome(3, [msg(1), msg(2), msg(3)]));
  const result = stream.applyRecovery({ type: "welcome", epoch: E, seq: 6, recovered: true, events: [msg(3, "dup"), msg(5), msg(4), msg(6), msg(6, "dup")] });
  assert.equal(result.snapshot, false);
  assert.deepEqual(result.applied.map((e) => e.seq), [4, 5, 6]);
  assert.deepEqual(texts(stream), ["m1", "m2", "m3", "m4", "m5", "m6"]);
  assert.equal(stream.hasOlder, false, "recovery keeps the history state");
  assert.deepEqual(stream.resumePoint(), { epoch: E, seq: 6 });
});

test("stream treats recovered:true with a foreign epoch as a snapshot", () => {
  const stream = new RoomStream();
  stream.applyRecovery(welcome(2, [msg(1), msg(2)]));
  const result = stream.applyRecovery({ epoch: "other", seq: 1, recovered: true, events: [{ ...msg(1, "new"), epoch: "other" }] });
  assert.equal(result.snapshot, true);
  assert.deepEqual(texts(stream), ["new"]);
});

test("stream ignores live duplicates and applies the next seq", () => {
  const stream = new RoomStream();
  stream.applyRecovery(welcome(2, [msg(1), msg(2)]));
  assert.equal(stream.receive(msg(2, "again")), "duplicate");
  assert.equal(stream.receive(msg(1, "again")), "duplicate");
  assert.equal(stream.receive(msg(3)), "applied");
  assert.equal(stream.receive(msg(3)), "duplicate");
  assert.deepEqual(texts(stream), ["m1", "m2", "m3"]);
  assert.equal(stream.receive({ type: "pong" }), "ignored");
});

test("stream detects a gap, buffers until resumed, then applies in order", () => {
  const stream = new RoomStream();
  stream.applyRecovery(welcome(7, [msg(7)]));
  assert.equal(stream.receive(msg(9)), "gap");
  assert.deepEqual(stream.resumePoint(), { epoch: E, seq: 7 }, "resume from the last contiguous seq");
  assert.equal(stream.receive(msg(10)), "buffered");
  assert.equal(stream.receive(msg(9)), "duplicate", "already buffered");
  assert.deepEqual(texts(stream), ["m7"]);
  const result = stream.applyRecovery({ type: "resumed", epoch: E, seq: 9, recovered: true, events: [msg(8), msg(9)] });
  assert.deepEqual(result.applied.map((e) => e.seq), [8, 9, 10]);
  assert.equal(result.gap, false);
  assert.deepEqual(texts(stream), ["m7", "m8", "m9", "m10"]);
  assert.equal(stream.receive(msg(11)), "applied");
});

test("stream asks to resume when an event comes from another epoch", () => {
  const stream = new RoomStream();
  stream.applyRecovery(welcome(1, [msg(1)]));
  assert.equal(stream.receive({ ...msg(2), epoch: "new" }), "gap");
  assert.equal(stream.receive({ ...msg(3), epoch: "new" }), "buffered");
  const result = stream.applyRecovery({ type: "resumed", epoch: "new", seq: 3, recovered: false, events: [{ ...msg(1, "a"), epoch: "new" }, { ...msg(2, "b"), epoch: "new" }, { ...msg(3, "c"), epoch: "new" }] });
  assert.equal(result.snapshot, true);
  assert.deepEqual(texts(stream), ["a", "b", "c"]);
});

test("stream reports a gap that the resumed answer did not fill", () => {
  const stream = new RoomStream();
  stream.applyRecovery(welcome(1, [msg(1)]));
  stream.receive(msg(5));
  const result = stream.applyRecovery({ type: "resumed", epoch: E, seq: 3, recovered: true, events: [msg(2), msg(3)] });
  assert.equal(result.gap, true);
  assert.deepEqual(stream.resumePoint(), { epoch: E, seq: 3 });
});

test("stream applies edits and deletes, also to messages that arrive later", () => {
  const stream = new RoomStream();
  stream.applyRecovery(welcome(12, [
    { type: "chat.edited", seq: 11, epoch: E, id: `${E}.11`, user: "u1", name: "Ann", target: 5, text: "edited 5", ts: 1 },
    { type: "chat.deleted", seq: 12, epoch: E, id: `${E}.12`, user: "u1", name: "Ann", target: 6, ts: 2 },
  ]));
  assert.equal(stream.oldestSeq, 11);
  stream.receive(msg(13));
  stream.receive({ type: "chat.edited", seq: 14, epoch: E, user: "u1", name: "Ann", target: 13, text: "changed", ts: 3 });
  const m13 = stream.messages.get(13);
  assert.equal(m13.text, "changed");
  assert.equal(m13.edited, true);
  assert.equal(m13.rev, 1);
  stream.receive({ type: "chat.deleted", seq: 15, epoch: E, user: "u1", name: "Ann", target: 13, ts: 4 });
  assert.equal(stream.messages.get(13).deleted, true);
  assert.equal(stream.messages.get(13).text, "");
  const added = stream.applyHistory({ epoch: E, messages: [msg(5), msg(6), msg(7)], has_more: true });
  assert.equal(added.length, 3);
  assert.equal(stream.messages.get(5).text, "edited 5");
  assert.equal(stream.messages.get(6).deleted, true);
  assert.equal(stream.messages.get(7).text, "m7");
  assert.equal(stream.oldestSeq, 5);
  assert.equal(stream.hasOlder, true);
});

test("stream history prepends older messages without duplicates and stops at has_more false", () => {
  const stream = new RoomStream();
  stream.applyRecovery(welcome(4, [msg(3), msg(4)]));
  assert.equal(stream.applyHistory({ epoch: E, messages: [msg(1), msg(2), msg(3)], has_more: false }).length, 2);
  assert.deepEqual(texts(stream), ["m1", "m2", "m3", "m4"]);
  assert.equal(stream.hasOlder, false);
  assert.deepEqual(stream.applyHistory({ epoch: "stale", messages: [msg(0)], has_more: false }), [], "another epoch is ignored");
  assert.deepEqual(stream.applyHistory({ epoch: E, messages: [{ ...msg(2), deleted: true }], has_more: false }), []);
});

test("stream keeps message text as data, never interpreted", () => {
  const stream = new RoomStream();
  const html = "<img src=x onerror=alert(1)><script>alert(2)</script>";
  stream.applyRecovery(welcome(1, [msg(1, html)]));
  assert.equal(stream.messages.get(1).text, html);
});

test("pending queue survives a reload through the injected storage", () => {
  const storage = new MemoryStorage();
  const first = new PendingQueue({ storage, key: "k", now: () => 5 });
  first.add({ kind: "send", nonce: "a1", text: "hello" });
  first.add({ kind: "send", nonce: "b2", text: "world" });
  first.add({ kind: "edit", nonce: "c3", target: 4, text: "x", epoch: E });
  first.markSent("a1");
  first.markFailed("b2", "too long");
  const reloaded = new PendingQueue({ storage, key: "k" });
  assert.deepEqual(reloaded.all().map((i) => [i.nonce, i.status]), [["a1", "queued"], ["b2", "failed"], ["c3", "queued"]]);
  assert.equal(reloaded.get("a1").text, "hello");
  assert.deepEqual(reloaded.toSend().map((i) => i.nonce), ["a1", "c3"], "failed ones wait for the user");
  reloaded.remove("a1");
  reloaded.remove("b2");
  reloaded.remove("c3");
  assert.equal(storage.getItem("k"), null, "an empty queue leaves nothing behind");
  assert.equal(new PendingQueue({ storage, key: "k" }).size, 0);
});

test("pending queue shrugs off corrupt or failing storage", () => {
  const storage = new MemoryStorage();
  storage.setItem("k", "{not json");
  assert.equal(new PendingQueue({ storage, key: "k" }).size, 0);
  storage.setItem("k", JSON.stringify([{ nonce: 5 }, { nonce: "ok", kind: "send", text: "t" }, null, { nonce: "x", kind: "bogus" }]));
  assert.deepEqual(new PendingQueue({ storage, key: "k" }).all().map((i) => i.nonce), ["ok"]);
  const broken = { getItem() { throw new Error("denied"); }, setItem() { throw new Error("quota"); }, removeItem() { throw new Error("x"); } };
  const queue = new PendingQueue({ storage: broken, key: "k" });
  queue.add({ kind: "send", nonce: "n", text: "still works" });
  assert.equal(queue.size, 1);
});

test("pending queue drops edits and deletes of another epoch but keeps messages", () => {
  const queue = new PendingQueue();
  queue.add({ kind: "send", nonce: "s" , text: "t" });
  queue.add({ kind: "edit", nonce: "e", target: 1, text: "t", epoch: "old" });
  queue.add({ kind: "delete", nonce: "d", target: 1, epoch: "new" });
  assert.deepEqual(queue.dropStale("new").map((i) => i.nonce), ["e"]);
  assert.deepEqual(queue.all().map((i) => i.nonce), ["s", "d"]);
});

test("frames for queued items carry the same nonce", () => {
  assert.deepEqual(frameFor({ kind: "send", nonce: "n1", text: "hi" }), { type: "chat.send", nonce: "n1", text: "hi" });
  assert.deepEqual(frameFor({ kind: "edit", nonce: "n2", target: 3, text: "x" }), { type: "chat.edit", nonce: "n2", target: 3, text: "x" });
  assert.deepEqual(frameFor({ kind: "delete", nonce: "n3", target: 3 }), { type: "chat.delete", nonce: "n3", target: 3 });
});

test("nonces match the protocol's nonce rule and differ", () => {
  const seen = new Set();
  for (let i = 0; i < 200; i++) {
    const nonce = makeNonce();
    assert.ok(isValidNonce(nonce), nonce);
    seen.add(nonce);
  }
  assert.equal(seen.size, 200);
  assert.equal(makeNonce((bytes) => bytes.fill(255)), "_".repeat(22));
});

test("attachments (docs/uploads.md): sent as ids, kept on messages, dropped on delete", () => {
  const file = { id: "f_" + "a".repeat(24), name: "cat.png", kind: "image", url: "/files/x", preview: "/files/x/256" };
  assert.deepEqual(
    frameFor({ kind: "send", nonce: "n1", text: "", attachments: [file] }),
    { type: "chat.send", nonce: "n1", text: "", attachments: [file.id] },
  );
  const stream = new RoomStream();
  stream.applyRecovery(welcome(1, [{ ...msg(1), attachments: [file, "junk"] }]));
  assert.deepEqual(stream.messages.get(1).attachments, [file]);
  stream.receive({ type: "chat.deleted", seq: 2, epoch: E, target: 1 });
  assert.deepEqual(stream.messages.get(1).attachments, []);
});
