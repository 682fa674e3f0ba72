import test from "node:test";
import assert from "node:assert/strict";
import {
  PRIVATE_ROOM_PATTERN, ROOM_NAME_PATTERN, USERNAME_PATTERN, isValidRoom, isValidUsername, normalizeDisplayName,
} from "../../web/protocol.js";
import {
  checkGuestName, checkNewRoomName, checkPassword, checkSearch, checkUsername, isPrivateRoom, parseRoomTarget, roomFromHash,
} from "../../web/lib/validate.js";

const HEX = "a".repeat(63) + "f";

test("new room names are normalised and checked with ROOM_NAME_PATTERN", () => {
  const pattern = new RegExp(ROOM_NAME_PATTERN);
  for (const [raw, want] of [["General", "general"], ["  Team Chat ", "team-chat"], ["a_b", "a-b"], ["x", "x"], ["a".repeat(32), "a".repeat(32)]]) {
    const result = checkNewRoomName(raw);
    assert.deepEqual(result, { ok: true, value: want }, raw);
    assert.ok(pattern.test(result.value));
  }
  for (const raw of ["", "-lead", "trail-", "a".repeat(33), "ünïcode", "a/b", "semi;colon", HEX.slice(0, 40) + "!"]) {
    const result = checkNewRoomName(raw);
    assert.equal(result.ok, false, raw);
    assert.match(result.error, /1-32 lower-case letters/);
  }
});

test("room targets accept names, private ids, hash links and invite URLs", () => {
  assert.deepEqual(parseRoomTarget("Lobby"), { ok: true, value: "lobby" });
  assert.deepEqual(parseRoomTarget(HEX.toUpperCase()), { ok: true, value: HEX });
  assert.deepEqual(parseRoomTarget(`https://chat.example/#/room/${HEX}`), { ok: true, value: HEX });
  assert.deepEqual(parseRoomTarget("/#/room/general"), { ok: true, value: "general" });
  assert.equal(parseRoomTarget("https://chat.example/i/AbC_12-x").invite, "https://chat.example/i/AbC_12-x");
  assert.equal(parseRoomTarget("").ok, false);
  assert.equal(parseRoomTarget("#/room/Bad--Name!").ok, false);
});

test("room names from the location hash follow isValidRoom", () => {
  assert.equal(roomFromHash("#/room/general"), "general");
  assert.equal(roomFromHash(`#/room/${HEX}`), HEX);
  assert.equal(roomFromHash("#/room/General"), null, "no silent normalisation of links");
  assert.equal(roomFromHash("#/room/%E0%A4%A"), null, "bad escapes are refused");
  assert.equal(roomFromHash("#/"), null);
  assert.equal(isPrivateRoom(HEX), true);
  assert.equal(isPrivateRoom("general"), false);
});

test("the validators agree with the shared patterns", () => {
  const samples = ["ab", "abc", "a.b_c-d", "x".repeat(32), "x".repeat(33), "with space", "ünï", "general", "-x", HEX, HEX + "0"];
  for (const sample of samples) {
    assert.equal(checkUsername(sample).ok, new RegExp(USERNAME_PATTERN).test(sample), `username ${sample}`);
    assert.equal(isValidUsername(sample), new RegExp(USERNAME_PATTERN).test(sample));
    const room = new RegExp(ROOM_NAME_PATTERN).test(sample) || new RegExp(PRIVATE_ROOM_PATTERN).test(sample);
    assert.equal(isValidRoom(sample), room, `room ${sample}`);
  }
});

test("guest nicknames: 1-32 characters, trimmed, NFC, no control or invisible characters", () => {
  assert.deepEqual(checkGuestName("  Ann  "), { ok: true, value: "Ann" });
  assert.equal(normalizeDisplayName("Cafe\u0301"), "Caf\u00e9");
  assert.equal(checkGuestName("😀".repeat(32)).ok, true, "counted in code points, as Python does");
  assert.equal(checkGuestName("x".repeat(33)).ok, false);
  for (const bad of ["", "   ", "a\u0000b", "zero\u200bwidth", "rtl\u202eoverride", "line\u2028sep", "tab\there"]) {
    assert.equal(checkGuestName(bad).ok, false, JSON.stringify(bad));
  }
});

test("passwords and searches have the server's lengths", () => {
  assert.equal(checkPassword("1234567").ok, false);
  assert.equal(checkPassword("12345678").ok, true);
  assert.equal(checkPassword("x".repeat(257)).ok, false);
  assert.deepEqual(checkSearch("  hello "), { ok: true, value: "hello" });
  assert.equal(checkSearch(" ").ok, false);
  assert.equal(checkSearch("q".repeat(201)).ok, false);
});
