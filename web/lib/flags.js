// Pure helpers for feature-flag definitions (docs/flags.md), used by the admin page.

/** The percentage of the flag's first rollout rule, or null when it has none. */
export function rolloutOf(flag) {
  const rule = (flag.rules ?? []).find((r) => "rollout" in r);
  return rule ? rule.rollout : null;
}

/** The flag's rules with the first rollout rule at `percent` (one serving "on" is added if none). */
export function withRollout(flag, percent) {
  const rules = (flag.rules ?? []).map((r) => ({ ...r }));
  const rule = rules.find((r) => "rollout" in r);
  if (rule) rule.rollout = percent;
  else rules.push({ variant: "on" in (flag.variants ?? { on: true }) ? "on" : flag.default, rollout: percent });
  return rules;
}
