// Starts ONE Miniflare (workerd) with KV, D1, R2 and a SQLite-backed Durable Object bound to
// worker.mjs, posts every case of a JSON file to it and prints {"results": {name: answer}}.
//
//   node run-oracle.mjs cases.json > answers.json      (cases.json: [{name, primitive, ops}, ...])
//
// Storage is in memory (nothing persists between runs). Each case starts from an empty KV
// namespace / R2 bucket / D1 database (the worker clears them) or a Durable Object of its own.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { Miniflare } from "miniflare";

export const COMPATIBILITY_DATE = "2026-07-01";

const here = dirname(fileURLToPath(import.meta.url));
const input = process.argv[2] ? readFileSync(process.argv[2], "utf8") : readFileSync(0, "utf8");
const cases = JSON.parse(input);

const mf = new Miniflare({
  modules: true,
  scriptPath: join(here, "worker.mjs"),
  compatibilityDate: COMPATIBILITY_DATE,
  kvNamespaces: ["KV"],
  d1Databases: ["DB"],
  r2Buckets: ["BUCKET"],
  durableObjects: { OBJ: { className: "Oracle", useSQLite: true } },
});

const run = `${Date.now()}-${process.pid}`;
const results = {};
try {
  await mf.ready;
  // Cases of different primitives do not share state, but KV/R2/D1 cases share one store each,
  // so they run one at a time; Durable Object cases each have their own object.
  for (const spec of cases) {
    const response = await mf.dispatchFetch("http://oracle.local/", {
      method: "POST",
      body: JSON.stringify({ case: spec, run }),
    });
    const text = await response.text();
    try {
      results[spec.name] = JSON.parse(text);
    } catch {
      results[spec.name] = { fatal: { type: "Error", message: `HTTP ${response.status}: ${text}` } };
    }
  }
} finally {
  await mf.dispose();
}
process.stdout.write(JSON.stringify({ runtime: "workerd via miniflare", results }));
