import test from "node:test";
import assert from "node:assert/strict";
import { RESUME_TIMEOUT_MS, RoomSession } from "../../web/lib/session.js";
import { FakeTimers, MemoryStorage } from "./fakes.mjs";

const E = "ep1";
const ME = { user: "u-me", name: "Me", device: "d1" };
const msg = (seq, extra = {}) => ({ type: "chat.message", seq, epoch: E, id: `${E}.${seq}`, user: "u-ann", name: "Ann", text: `m${seq}`, ts: seq, nonce: `x${seq}`, ...extra });

function setup({ storage = new MemoryStorage(), connected = true } = {}) {
  const timers = new FakeTimers();
  const sent = [];
  const changes = [];
  let n = 0;
  const link = { connected };
  const session = new RoomSession({
    room: "general",
    send: (frame) => (link.connected ? (sent.push(frame), true) : false),
    storage,
    device: "web-1",
    now: timers.now,
    setTimer: timers.set,
    clearTimer: timers.clear,
    nonce: () => `nonce${++n}`,
    onChange: (kind) => changes.push(kind),
  });
  return { session, sent, changes, timers, storage, link };
}

const welcome = (extra = {}) => ({ type: "welcome", room: "general", epoch: E, seq: 2, you: ME, recovered: false, events: [msg(1), msg(2)], roster: [{ user: "u-ann", name: "Ann", devices: 2 }], typing: [], ...extra });

test("session says hello without resume first, and with {epoch, seq} after a welcome", () => {
  const { session, sent } = setup();
  session.onOpen();
  assert.deepEqual(sent.at(-1), { type: "hello", batch: true, device: "web-1" });
  session.onFrame(welcome());
  session.onFrame(msg(3));
  session.onDisconnected();
  session.onOpen();
  assert.deepEqual(sent.at(-1), { type: "hello", batch: true, resume: { epoch: E, seq: 3 }, device: "web-1" });
});

test("a batch is taken frame by frame, in order", () => {
  const { session } = setup();
  session.onOpen();
  session.onFrame(welcome());
  assert.equal(session.sendMessage("mine").ok, true);
  session.onFrame({
    type: "batch",
    frames: [
      { type: "chat.ack", nonce: "nonce1", seq: 3, id: `${E}.3`, duplicate: false },
      msg(3, { user: ME.user, name: ME.name, text: "mine", nonce: "nonce1" }),
      msg(4),
    ],
  });
  assert.deepEqual(session.pendingMessages(), []);
  assert.deepEqual([...session.stream.messages.keys()], [1, 2, 3, 4]);
  session.onFrame({ type: "batch", frames: "not a list" }); // ignored, as any malformed frame
  session.onFrame({ type: "batch", frames: [null, 3, "x", { type: "batch", frames: [msg(9)] }, msg(5)] });
  assert.deepEqual([...session.stream.messages.keys()], [1, 2, 3, 4, 5]); // junk and nesting skipped
});

test("session queues while disconnected and resends with the same nonce after reconnect", () => {
  const { session, sent, link } = setup();
  session.onOpen();
  session.onFrame(welcome());
  link.connected = false;
  session.onDisconnected();
  assert.equal(session.sendMessage("  hello  ").ok, true);
  assert.deepEqual(session.pendingMessages().map((i) => [i.nonce, i.text, i.status]), [["nonce1", "hello", "queued"]]);
  link.connected = true;
  session.onOpen();
  session.onFrame(welcome({ recovered: true, seq: 2, events: [] }));
  assert.deepEqual(sent.at(-1), { type: "chat.send", nonce: "nonce1", text: "hello" });
  assert.equal(session.pendingMessages()[0].status, "sent");
  // The socket dies before the ack: the next welcome resends, same nonce.
  session.onDisconnected();
  session.onOpen();
  session.onFrame(welcome({ recovered: true, seq: 2, events: [] }));
  assert.deepEqual(sent.filter((f) => f.type === "chat.send").map((f) => f.nonce), ["nonce1", "nonce1"]);
  session.onFrame({ type: "chat.ack", nonce: "nonce1", seq: 3, id: `${E}.3`, duplicate: true });
  assert.equal(session.pending.size, 0);
});

test("session keeps unsent messages across a reload and sends them after the first welcome", () => {
  const storage = new MemoryStorage();
  const before = setup({ storage, connected: false });
  before.session.sendMessage("survive the reload");
  const after = setup({ storage });
  assert.equal(after.session.pendingMessages()[0].text, "survive the reload");
  after.session.onOpen();
  after.session.onFrame(welcome());
  assert.deepEqual(after.sent.at(-1), { type: "chat.send", nonce: "nonce1", text: "survive the reload" });
});

test("session treats its own message in a recovered stream as delivered", () => {
  const { session, link } = setup();
  session.onOpen();
  session.onFrame(welcome());
  session.sendMessage("mine");
  link.connected = false;
  session.onDisconnected();
  link.connected = true;
  session.onOpen();
  session.onFrame(welcome({ recovered: true, seq: 3, events: [msg(3, { user: ME.user, name: ME.name, text: "mine", nonce: "nonce1" })] }));
  assert.equal(session.pending.size, 0, "no resend: the recovered events contain it");
  assert.deepEqual(session.stream.ordered().map((m) => m.text), ["m1", "m2", "mine"]);
});

test("session sends resume on a seq gap and ignores duplicates", () => {
  const { session, sent } = setup();
  session.onOpen();
  session.onFrame(welcome());
  session.onFrame(msg(2));
  session.onFrame(msg(4));
  assert.deepEqual(sent.at(-1), { type: "resume", epoch: E, seq: 2 });
  session.onFrame({ type: "resumed", epoch: E, seq: 4, recovered: true, events: [msg(3), msg(4)] });
  assert.deepEqual(session.stream.ordered().map((m) => m.seq), [1, 2, 3, 4]);
});

test("session rate limit pauses sending for retry_after and then resends", () => {
  const { session, sent, timers } = setup();
  session.onOpen();
  session.onFrame(welcome());
  session.sendMessage("one");
  session.onFrame({ type: "error", code: "rate_limited", message: "slow down", nonce: "nonce1", retry_after: 2.5 });
  assert.equal(session.isBlocked(), true);
  assert.equal(session.sendMessage("two").ok, false);
  assert.match(session.notices.at(-1).text, /3 s/);
  const sends = () => sent.filter((f) => f.type === "chat.send").length;
  assert.equal(sends(), 1);
  timers.advance(2499);
  assert.equal(sends(), 1);
  timers.advance(1);
  assert.equal(session.isBlocked(), false);
  assert.deepEqual(sent.at(-1), { type: "chat.send", nonce: "nonce1", text: "one" });
  assert.equal(session.notices.length, 0, "the rate notice goes away with the pause");
});

test("session marks a refused message failed inline; retry and discard", () => {
  const { session, sent } = setup();
  session.onOpen();
  session.onFrame(welcome());
  session.sendMessage("bad");
  session.onFrame({ type: "error", code: "bad_message", message: "nope", nonce: "nonce1" });
  assert.deepEqual(session.pendingMessages().map((i) => [i.status, i.error]), [["failed", "nope"]]);
  session.onDisconnected();
  session.onOpen();
  session.onFrame(welcome({ recovered: true, events: [] }));
  assert.equal(sent.filter((f) => f.type === "chat.send").length, 1, "failed ones are not resent by themselves");
  session.retry("nonce1");
  assert.equal(sent.filter((f) => f.type === "chat.send").length, 2);
  session.discard("nonce1");
  assert.equal(session.pending.size, 0);
  session.onFrame({ type: "error", code: "bad_json", message: "frame is not valid JSON" });
  assert.equal(session.notices.at(-1).text, "frame is not valid JSON");
});

test("session refuses empty and over-long text before sending", () => {
  const { session, sent } = setup();
  session.onOpen();
  session.onFrame(welcome());
  assert.equal(session.sendMessage("   ").ok, false);
  assert.match(session.sendMessage("x".repeat(4001)).error, /4000/);
  assert.equal(sent.filter((f) => f.type === "chat.send").length, 0);
});

test("session edits and deletes only its own messages, and applies the stream events", () => {
  const { session, sent } = setup();
  session.onOpen();
  session.onFrame(welcome({ seq: 3, events: [msg(1), msg(2), msg(3, { user: ME.user, name: ME.name })] }));
  assert.equal(session.editMessage(1, "hijack").ok, false);
  assert.equal(session.editMessage(3, "fixed").ok, true);
  assert.deepEqual(sent.at(-1), { type: "chat.edit", nonce: "nonce1", target: 3, text: "fixed" });
  assert.equal(session.pendingChange(3).kind, "edit");
  session.onFrame({ type: "chat.ack", nonce: "nonce1", seq: 4, id: `${E}.4`, duplicate: false });
  session.onFrame({ type: "chat.edited", seq: 4, epoch: E, id: `${E}.4`, user: ME.user, name: ME.name, target: 3, text: "fixed", ts: 9 });
  assert.equal(session.stream.messages.get(3).text, "fixed");
  session.deleteMessage(3);
  session.onFrame({ type: "error", code: "not_found", message: "message 3 was deleted", nonce: "nonce2" });
  assert.equal(session.pending.size, 0);
  assert.equal(session.notices.at(-1).text, "Delete failed: message 3 was deleted");
});

test("session tracks presence per user with device counts", () => {
  const { session } = setup();
  session.onOpen();
  session.onFrame(welcome());
  assert.deepEqual([...session.roster], [["u-ann", { name: "Ann", devices: 2 }]]);
  session.onFrame({ type: "presence.join", user: "u-bob", name: "Bob", devices: 1 });
  session.onFrame({ type: "presence.leave", user: "u-ann", name: "Ann", devices: 1 });
  assert.equal(session.roster.get("u-ann").devices, 1);
  session.onFrame({ type: "presence.leave", user: "u-ann", name: "Ann", devices: 0 });
  assert.deepEqual([...session.roster.keys()], ["u-bob"]);
});

test("session applies a presence.diff: leaves, then joins (its own join too, idempotently)", () => {
  const { session } = setup();
  session.onOpen();
  session.onFrame(welcome());
  session.onFrame({
    type: "presence.diff",
    joins: [
      { user: "u-bob", name: "Bob", devices: 1 },
      { user: ME.user, name: "Me", devices: 1 },
    ],
    leaves: [{ user: "u-ann", name: "Ann" }],
  });
  assert.deepEqual([...session.roster.keys()].sort(), [ME.user, "u-bob"].sort());
  session.onFrame({ type: "presence.diff", joins: [{ user: "u-bob", name: "Bob", devices: 1 }], leaves: [] });
  assert.equal(session.roster.size, 2);
});

test("a large room is a count; presence.roster brings the names back", () => {
  const { session, changes } = setup();
  session.onOpen();
  session.onFrame(welcome({ roster: [], online: 250 }));
  assert.equal(session.roster.size, 0);
  assert.equal(session.peopleHere(), 250);
  session.onFrame({ type: "presence.count", online: 251 });
  assert.equal(session.peopleHere(), 251);
  assert.equal(changes.at(-1), "roster");
  session.onFrame({ type: "presence.roster", online: 2, roster: [{ user: "u-bob", name: "Bob", devices: 1 }, { user: ME.user, name: "Me", devices: 1 }] });
  assert.equal(session.headcount, null);
  assert.equal(session.peopleHere(), 2);
  assert.deepEqual([...session.roster.keys()], ["u-bob", ME.user]);
  session.onFrame(welcome()); // a small room's welcome (no online field from older servers): the roster
  assert.equal(session.peopleHere(), 1);
  session.onFrame({ type: "presence.count", online: 120 });
  assert.equal(session.roster.size, 0);
});

test("session shows others typing, hides its own, expires after 6 s and clears on their message", () => {
  const { session, timers, sent } = setup();
  session.onOpen();
  session.onFrame(welcome({ typing: ["u-ann", ME.user] }));
  assert.equal(session.typing.label(), "Ann is typing…");
  session.onFrame({ type: "typing", user: ME.user, name: "Me", active: true, expires_in: 6000 });
  assert.equal(session.typing.label(), "Ann is typing…");
  timers.advance(6000);
  assert.equal(session.typing.label(), "");
  session.onFrame({ type: "typing", user: "u-ann", name: "Ann", active: true, expires_in: 6000 });
  session.onFrame(msg(3));
  assert.equal(session.typing.label(), "");
  session.typingInput("h");
  session.typingInput("he");
  session.sendMessage("he");
  assert.deepEqual(sent.filter((f) => f.type === "typing"), [{ type: "typing", active: true }, { type: "typing", active: false }]);
});

test("session asks again when a resume gets no answer, and stops once resumed", () => {
  const { session, sent, timers } = setup();
  session.onOpen();
  session.onFrame(welcome());
  session.onFrame(msg(4));
  const resumes = () => sent.filter((f) => f.type === "resume").length;
  assert.equal(resumes(), 1);
  timers.advance(RESUME_TIMEOUT_MS);
  assert.equal(resumes(), 2);
  session.onFrame({ type: "resumed", epoch: E, seq: 4, recovered: true, events: [msg(3), msg(4)] });
  timers.advance(RESUME_TIMEOUT_MS * 3);
  assert.equal(resumes(), 2);
  assert.deepEqual(session.stream.ordered().map((m) => m.seq), [1, 2, 3, 4]);
});

test("session keeps the newest feature flags from welcome and flags.changed", () => {
  const { session, changes } = setup();
  session.onOpen();
  assert.equal(session.feature("message-edits"), true); // no flag: the feature is on
  session.onFrame(welcome({ flags: { version: 3, values: { "message-edits": false, "page-size": 50 } } }));
  assert.equal(session.feature("message-edits"), false);
  assert.ok(changes.includes("flags"));
  session.onFrame({ type: "flags.changed", version: 4, values: { "message-edits": true } });
  assert.equal(session.feature("message-edits"), true);
  session.onFrame({ type: "flags.changed", version: 2, values: { "message-edits": false } });
  assert.deepEqual(session.flags, { version: 4, values: { "message-edits": true } });
});

test("session sends a message with only an attachment (docs/uploads.md)", () => {
  const { session, sent } = setup();
  session.onOpen();
  session.onFrame(welcome());
  const file = { id: "f_" + "b".repeat(24), name: "a.txt", kind: "text", url: "/files/f" };
  assert.equal(session.sendMessage("   ", [file]).ok, true);
  assert.deepEqual(sent.at(-1), { type: "chat.send", nonce: "nonce1", text: "", attachments: [file.id] });
  assert.equal(session.sendMessage("   ").ok, false);
});

test("a hello said in the socket's URL is not said again as a frame", () => {
  const { session, sent } = setup();
  assert.deepEqual(session.hello(), { type: "hello", batch: true, device: "web-1" });
  session.onOpen({ helloSent: true });
  assert.equal(sent.length, 0);
  session.onFrame(welcome());
  session.onDisconnected();
  assert.deepEqual(session.hello(), { type: "hello", batch: true, resume: { epoch: E, seq: 2 }, device: "web-1" });
});
