import test from "node:test";
import assert from "node:assert/strict";
import { bucket, murmur3, rolloutOf, withRollout } from "../../web/lib/flags.js";

test("withRollout changes the first rollout rule, or adds one serving on", () => {
  const flag = { rules: [{ users: ["u1"], variant: "on" }, { variant: "on", rollout: 10 }] };
  assert.equal(rolloutOf(flag), 10);
  assert.deepEqual(withRollout(flag, 25), [{ users: ["u1"], variant: "on" }, { variant: "on", rollout: 25 }]);
  assert.equal(flag.rules[1].rollout, 10); // the original is untouched
  assert.equal(rolloutOf({}), null);
  assert.deepEqual(withRollout({}, 5), [{ variant: "on", rollout: 5 }]);
  assert.deepEqual(withRollout({ variants: { a: 1, b: 2 }, default: "b" }, 5), [{ variant: "b", rollout: 5 }]);
});

test("murmur3 and bucket match the server's vectors (tests/app/flags/test_hashing.py)", () => {
  assert.equal(murmur3(""), 0);
  assert.equal(murmur3("", 1), 0x514e28b7);
  assert.equal(murmur3("a"), 0x3c2569b2);
  assert.equal(murmur3("abcd"), 0x43ed676a);
  assert.equal(murmur3("hello"), 0x248bfa47);
  assert.equal(murmur3("The quick brown fox jumps over the lazy dog"), 0x2e4ff723);
  assert.deepEqual([0, 1, 2].map((i) => bucket("new-composer", `u_${i}`)), [2960, 3807, 3208]);
  assert.equal(bucket("ünïcode", "u_é"), 7866); // UTF-8, as in Python
});
