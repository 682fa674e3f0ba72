import test from "node:test";
import assert from "node:assert/strict";
import { formatTime, plural, relativeTime, statusLabel } from "../../web/lib/format.js";

const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);

test("relative times accept ms, seconds and ISO strings", () => {
  assert.equal(relativeTime(NOW - 5_000, NOW), "just now");
  assert.equal(relativeTime(NOW - 5 * 60_000, NOW), "5 min ago");
  assert.equal(relativeTime((NOW - 3 * 3600_000) / 1000, NOW), "3 h ago");
  assert.equal(relativeTime(new Date(NOW - 2 * 86400_000).toISOString(), NOW), "2 d ago");
  assert.equal(relativeTime(null, NOW), "");
  assert.equal(relativeTime("not a date", NOW), "");
  assert.equal(relativeTime(NOW + 60_000, NOW), "just now", "clock skew never shows negative times");
});

test("connection status labels count down to the next attempt", () => {
  assert.equal(statusLabel("connecting"), "Connecting…");
  assert.equal(statusLabel("live"), "Live");
  assert.equal(statusLabel("reconnecting", NOW + 4200, NOW), "Reconnecting in 5 s");
  assert.equal(statusLabel("reconnecting", NOW - 10, NOW), "Reconnecting…");
  assert.equal(statusLabel("offline"), "Offline");
  assert.equal(statusLabel("stopped"), "Disconnected");
});

test("times show the clock for today and a date for older messages", () => {
  const today = formatTime(NOW - 60_000, NOW, "en-GB");
  assert.match(today, /^\d{2}:\d{2}$/);
  assert.match(formatTime(NOW - 40 * 86400_000, NOW, "en-GB"), /2026, \d{2}:\d{2}$/);
  assert.equal(formatTime(Number.NaN, NOW), "");
  assert.equal(plural(1, "member"), "1 member");
  assert.equal(plural(3, "member"), "3 members");
});
