import test from "node:test";
import assert from "node:assert/strict";
import { rolloutOf, withRollout } from "../../web/lib/flags.js";

test("withRollout changes the first rollout rule, or adds one serving on", () => {
  const flag = { rules: [{ users: ["u1"], variant: "on" }, { variant: "on", rollout: 10 }] };
  assert.equal(rolloutOf(flag), 10);
  assert.deepEqual(withRollout(flag, 25), [{ users: ["u1"], variant: "on" }, { variant: "on", rollout: 25 }]);
  assert.equal(flag.rules[1].rollout, 10); // the original is untouched
  assert.equal(rolloutOf({}), null);
  assert.deepEqual(withRollout({}, 5), [{ variant: "on", rollout: 5 }]);
  assert.deepEqual(withRollout({ variants: { a: 1, b: 2 }, default: "b" }, 5), [{ variant: "b", rollout: 5 }]);
});
