import test from "node:test";
import assert from "node:assert/strict";
import { Backoff } from "../../web/lib/backoff.js";
import { RECONNECT_BASE_MS, RECONNECT_CAP_MS } from "../../web/protocol.js";

test("backoff ceilings double from the base up to the cap", () => {
  const backoff = new Backoff({ baseMs: 500, capMs: 30000, random: () => 0.999999 });
  const waits = Array.from({ length: 10 }, () => backoff.next());
  const ceilings = [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000];
  waits.forEach((wait, i) => {
    assert.ok(wait < ceilings[i], `wait ${i} = ${wait} < ${ceilings[i]}`);
    assert.ok(wait >= ceilings[i] - 1, `wait ${i} = ${wait} is near the top with random ~1`);
  });
});

test("backoff jitter spans the whole range from zero", () => {
  const zero = new Backoff({ random: () => 0 });
  assert.deepEqual([zero.next(), zero.next(), zero.next()], [0, 0, 0]);
  const half = new Backoff({ baseMs: 500, capMs: 30000, random: () => 0.5 });
  assert.deepEqual([half.next(), half.next(), half.next(), half.next()], [250, 500, 1000, 2000]);
});

test("backoff stays within bounds for random draws and huge attempt counts", () => {
  let seed = 7;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const backoff = new Backoff({ random });
  for (let i = 0; i < 2000; i++) {
    const ceiling = backoff.ceiling();
    const wait = backoff.next();
    assert.ok(Number.isInteger(wait) && wait >= 0 && wait < ceiling && ceiling <= RECONNECT_CAP_MS);
  }
});

test("backoff never escapes its bounds when random misbehaves", () => {
  for (const value of [1, 1.5, -0.2, Number.NaN]) {
    const backoff = new Backoff({ random: () => value });
    const wait = backoff.next();
    assert.ok(wait >= 0 && wait < RECONNECT_BASE_MS, `random ${value} gave ${wait}`);
  }
});

test("backoff reset starts again from the base", () => {
  const backoff = new Backoff({ random: () => 0.5 });
  for (let i = 0; i < 8; i++) backoff.next();
  backoff.reset();
  assert.equal(backoff.attempt, 0);
  assert.equal(backoff.next(), RECONNECT_BASE_MS / 2);
});

test("backoff refuses nonsense settings", () => {
  assert.throws(() => new Backoff({ baseMs: 0 }), RangeError);
  assert.throws(() => new Backoff({ baseMs: 1000, capMs: 10 }), RangeError);
});
