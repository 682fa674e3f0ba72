// Pure helpers for feature flags (docs/flags.md): rollout edits for the admin page, and the
// bucketing hash, identical to app/flags/hashing.py (shared test vectors), for clients that need it.

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

/** MurmurHash3 x86_32 of a string's UTF-8 bytes (the same function as app/flags/hashing.py). */
export function murmur3(text, seed = 0) {
  const data = new TextEncoder().encode(text);
  const full = data.length & ~3;
  let h = seed >>> 0;
  let k;
  for (let i = 0; i < full; i += 4) {
    k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  k = 0;
  switch (data.length & 3) {
    case 3: k ^= data[full + 2] << 16; // falls through
    case 2: k ^= data[full + 1] << 8; // falls through
    case 1:
      k ^= data[full];
      k = Math.imul(k, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      h ^= Math.imul(k, 0x1b873593);
  }
  h ^= data.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A user's bucket (0..9999) for a flag's salt: murmur3(salt + ":" + user) % 10000 (docs/flags.md). */
export function bucket(salt, user) {
  return murmur3(`${salt}:${user}`) % 10000;
}
