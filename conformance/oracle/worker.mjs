// Conformance oracle: runs a JSON script of binding operations on Cloudflare's own runtime
// (workerd, started by Miniflare in run-oracle.mjs) and returns every result or error in the
// normal form that conformance/normalize.py also produces for primitives/.
//
// POST / with {"case": {"name", "primitive", "ops"}, "run": "<unique run id>"}.
// Answer: {"now_ms": <case start>, "results": [<normal form per op>]}.
//
// An op is {"op": <method>, "args": [...], "kw": {...}, "as": <name>, "on": <name>}: the method
// is called on the binding (or on the object an earlier op saved with "as"), and "kw" becomes a
// trailing options object, exactly as the Python Workers SDK turns keyword arguments into one.
// Special args: {"$bytes": b64}, {"$repeat": [s, n]}, {"$now_s": d}, {"$now_ms": d},
// {"$date": d} (Date of now_ms + d), {"$ref": "name.path"}, {"$undefined": true}.
import { DurableObject } from "cloudflare:workers";

function b64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function unb64(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

function lookup(refs, path) {
  const [name, ...rest] = path.split(".");
  if (!(name in refs)) throw new Error(`conformance: no saved result ${name}`);
  let value = refs[name];
  for (const part of rest) value = value == null ? value : value[part];
  return value;
}

function resolve(value, env) {
  if (Array.isArray(value)) return value.map((v) => resolve(v, env));
  if (value === null || typeof value !== "object") return value;
  if ("$bytes" in value) return unb64(value.$bytes);
  if ("$repeat" in value) return value.$repeat[0].repeat(value.$repeat[1]);
  if ("$concat" in value) return value.$concat.map((v) => resolve(v, env)).join("");
  if ("$now_s" in value) return Math.floor(env.now_ms / 1000) + value.$now_s;
  if ("$now_ms" in value) return env.now_ms + value.$now_ms;
  if ("$date" in value) return new Date(env.now_ms + value.$date);
  if ("$ref" in value) return lookup(env.refs, value.$ref);
  if ("$undefined" in value) return undefined;
  if ("$nan" in value) return NaN;
  const out = {};
  for (const [k, v] of Object.entries(value)) out[k] = resolve(v, env);
  return out;
}

const R2_FIELDS = [
  "key", "version", "size", "etag", "httpEtag", "uploaded", "httpMetadata", "customMetadata",
  "range", "storageClass", "ssecKeyMd5",
];

function isR2Object(x) {
  return typeof x === "object" && x !== null && "httpEtag" in x && "etag" in x && "version" in x;
}

export function ser(x) {
  if (x === undefined || x === null) return null;
  if (typeof x === "number") {
    if (Number.isNaN(x)) return { $num: "NaN" };
    if (!Number.isFinite(x)) return { $num: x > 0 ? "Infinity" : "-Infinity" };
    return x;
  }
  if (typeof x === "bigint") return { $bigint: String(x) };
  if (typeof x !== "object") return x;
  if (x instanceof ArrayBuffer) return { $bytes: b64(new Uint8Array(x)) };
  if (ArrayBuffer.isView(x)) return { $bytes: b64(new Uint8Array(x.buffer, x.byteOffset, x.byteLength)) };
  if (x instanceof Date) return { $date: x.getTime() };
  if (x instanceof Map) return { $map: [...x.entries()].map(([k, v]) => [k, ser(v)]) };
  if (Array.isArray(x)) return x.map(ser);
  if (isR2Object(x)) {
    const out = {};
    for (const f of R2_FIELDS) if (x[f] !== undefined) out[f] = ser(x[f]);
    out.checksums = ser(x.checksums.toJSON());
    if ("body" in x) out.bodyUsed = x.bodyUsed;
    return out;
  }
  if (typeof x.uploadPart === "function" && "uploadId" in x) {
    return { key: x.key, uploadId: ser(x.uploadId) };
  }
  if (typeof x.toArray === "function" && "columnNames" in x) return { $type: "SqlStorageCursor" };
  const proto = Object.getPrototypeOf(x);
  if (proto !== Object.prototype && proto !== null) {
    if (x instanceof Error) return errorForm(x);
    const name = x.constructor?.name ?? "Object";
    if (typeof x.toString === "function" && name === "DurableObjectId") return { $id: x.toString() };
    return { $type: name };
  }
  const out = {};
  for (const [k, v] of Object.entries(x)) if (v !== undefined) out[k] = ser(v);
  return out;
}

export function errorForm(e) {
  const error = { type: e?.name ?? "Error", message: String(e?.message ?? e) };
  if (e?.cause instanceof Error) error.cause = e.cause.message;
  return { error };
}

class Thrown extends Error {}

// Runs `ops` against `root`; `special(op, env)` handles primitive-specific ops (returns
// undefined to fall through to a plain method call).
export async function runOps(ops, root, env, special) {
  const results = [];
  for (const op of ops) {
    let value;
    try {
      if (op.op === "throw") throw new Thrown(op.message ?? "thrown by the script");
      const handled = special ? await special(op, env) : undefined;
      if (handled !== undefined) {
        value = handled.value;
      } else {
        const target = op.on ? lookup(env.refs, op.on) : root;
        if (op.prop) {
          value = target[op.prop];
        } else {
          const args = resolve(op.args ?? [], env);
          if (op.kw !== undefined) args.push(resolve(op.kw, env));
          if (typeof target?.[op.op] !== "function") throw new Error(`conformance: no method ${op.op}`);
          value = await target[op.op](...args);
        }
      }
      if (op.as) env.refs[op.as] = value;
      results.push(ser(value));
    } catch (e) {
      if (e instanceof Thrown) throw e;
      if (op.as) env.refs[op.as] = null;
      results.push(errorForm(e));
    }
  }
  return results;
}

function sqlCursorResult(cursor, read) {
  if (read === "one") return { row: ser(cursor.one()), columnNames: cursor.columnNames };
  if (read === "raw") return { raw: ser([...cursor.raw()]), columnNames: cursor.columnNames };
  const rows = ser(cursor.toArray());
  return {
    rows,
    columnNames: cursor.columnNames,
    rowsRead: cursor.rowsRead,
    rowsWritten: cursor.rowsWritten,
  };
}

export class Oracle extends DurableObject {
  async run(ops, nowMs) {
    const env = { now_ms: nowMs, refs: {} };
    const storage = this.ctx.storage;
    const special = async (op, env) => {
      const on = op.on ? lookup(env.refs, op.on) : storage;
      if (op.op === "sql") {
        const cursor = storage.sql.exec(resolve(op.sql, env), ...resolve(op.bind ?? [], env));
        return { value: sqlCursorResult(cursor, op.read) };
      }
      if (op.op === "databaseSize") return { value: storage.sql.databaseSize };
      if (op.op === "transaction") {
        try {
          const value = await on.transaction(async (txn) => {
            env.refs.txn = txn;
            return await runOps(op.ops, txn, env, special);
          });
          return { value };
        } catch (e) {
          if (e instanceof Thrown) return { value: errorForm(e) };
          throw e;
        }
      }
      if (op.op === "rollback") {
        on.rollback();
        return { value: null };
      }
      return undefined;
    };
    return await runOps(ops, storage, env, special);
  }

  async alarm() {}
}

async function resetKV(kv) {
  let cursor;
  do {
    const page = await kv.list({ cursor });
    await Promise.all(page.keys.map((k) => kv.delete(k.name)));
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
}

async function resetR2(bucket) {
  let cursor;
  do {
    const page = await bucket.list({ cursor });
    if (page.objects.length) await bucket.delete(page.objects.map((o) => o.key));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
}

// The same on both sides: drop every table, then make last_insert_rowid() 0 again.
export const D1_RESET = [
  "CREATE TABLE IF NOT EXISTS _conformance_reset(x)",
  "INSERT INTO _conformance_reset(rowid, x) VALUES (0, 0)",
  "DROP TABLE _conformance_reset",
];

async function resetD1(db) {
  const { results } = await db
    .prepare(
      "SELECT type, name FROM sqlite_master WHERE type IN ('table','view') " +
        "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name <> 'd1_migrations'",
    )
    .all();
  for (const { type, name } of results) {
    await db.prepare(`DROP ${type === "view" ? "VIEW" : "TABLE"} IF EXISTS "${name}"`).run();
  }
  // Pragmas a case may set persist on the one database: back to D1's defaults.
  for (const pragma of [
    "foreign_keys = ON", "defer_foreign_keys = OFF", "case_sensitive_like = OFF",
    "ignore_check_constraints = OFF", "legacy_alter_table = OFF", "recursive_triggers = OFF",
    "reverse_unordered_selects = OFF",
  ]) {
    await db.prepare(`PRAGMA ${pragma}`).run();
  }
  for (const sql of D1_RESET) await db.prepare(sql).run();
}

function d1Special(db) {
  const statement = (spec, env, on) => {
    const stmt = (on ?? db).prepare(resolve(spec.sql, env));
    return spec.bind ? stmt.bind(...resolve(spec.bind, env)) : stmt;
  };
  return async (op, env) => {
    if (op.op === "stmt") {
      const args = resolve(op.args ?? [], env);
      if (op.kw !== undefined) args.push(resolve(op.kw, env));
      const on = op.on ? lookup(env.refs, op.on) : db;
      const stmt = statement(op, env, on);
      return { value: await stmt[op.call ?? "all"](...args) };
    }
    if (op.op === "batch") {
      const on = op.on ? lookup(env.refs, op.on) : db;
      return { value: await on.batch(op.stmts.map((s) => statement(s, env, on))) };
    }
    return undefined;
  };
}

async function runNamespaceOps(ops, ns, env) {
  const special = async (op, env) => {
    const hex = (s) => /^[0-9a-f]{64}$/.test(s);
    if (op.op === "idInfo") {
      const id = ns.idFromName(op.name);
      const text = id.toString();
      return {
        value: {
          length: text.length, hex: hex(text), name: id.name ?? null,
          equalsSame: id.equals(ns.idFromName(op.name)),
          sameString: text === ns.idFromName(op.name).toString(),
          differs: !id.equals(ns.idFromName(op.name + "!")),
        },
      };
    }
    if (op.op === "uniqueInfo") {
      const a = ns.newUniqueId();
      const b = ns.newUniqueId();
      const text = a.toString();
      return { value: { length: text.length, hex: hex(text), name: a.name ?? null, distinct: !a.equals(b) } };
    }
    if (op.op === "roundTrip") {
      const id = ns.idFromName(op.name);
      const back = ns.idFromString(id.toString());
      return { value: { equals: back.equals(id), name: back.name ?? null } };
    }
    return undefined;
  };
  return await runOps(ops, ns, env, special);
}

export default {
  async fetch(request, bindings) {
    const { case: spec, run } = await request.json();
    const env = { now_ms: Date.now(), refs: {} };
    let results;
    try {
      switch (spec.primitive) {
        case "kv":
          await resetKV(bindings.KV);
          results = await runOps(spec.ops, bindings.KV, env);
          break;
        case "d1":
          await resetD1(bindings.DB);
          results = await runOps(spec.ops, bindings.DB, env, d1Special(bindings.DB));
          break;
        case "r2":
          await resetR2(bindings.BUCKET);
          results = await runOps(spec.ops, bindings.BUCKET, env);
          break;
        case "do": {
          const stub = bindings.OBJ.get(bindings.OBJ.idFromName(`${run}:${spec.name}`));
          results = await stub.run(spec.ops, env.now_ms);
          break;
        }
        case "do_ns":
          results = await runNamespaceOps(spec.ops, bindings.OBJ, env);
          break;
        default:
          throw new Error(`unknown primitive ${spec.primitive}`);
      }
    } catch (e) {
      return Response.json({ now_ms: env.now_ms, fatal: errorForm(e).error });
    }
    return Response.json({ now_ms: env.now_ms, results });
  },
};
