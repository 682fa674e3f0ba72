// Static guards over web/: user content must never reach an HTML parser, and the client must
// load nothing from another origin (no CDN).
import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const WEB = fileURLToPath(new URL("../../web/", import.meta.url));

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

test("no HTML-parsing sinks anywhere in web/", () => {
  const sinks = /\b(innerHTML|outerHTML|insertAdjacentHTML|document\.write|createContextualFragment|DOMParser|srcdoc|eval\s*\(|new Function)\b/;
  for (const path of files(WEB).filter((p) => p.endsWith(".js"))) {
    readFileSync(path, "utf8").split("\n").forEach((line, i) => {
      assert.ok(!sinks.test(line), `${relative(WEB, path)}:${i + 1}: ${line.trim()}`);
    });
  }
});

test("no external URLs are loaded (no CDN, everything same-origin)", () => {
  for (const path of files(WEB).filter((p) => /\.(js|html|css)$/.test(p))) {
    const text = readFileSync(path, "utf8");
    for (const match of text.matchAll(/(?:src|href)\s*=\s*["'](https?:)?\/\/[^"']+|@import\s+url\(\s*["']?https?:|from\s+["']https?:/g)) {
      assert.fail(`${relative(WEB, path)} loads something external: ${match[0]}`);
    }
  }
});

test("every module under web/ parses as an ES module and index.html loads main.js", async () => {
  for (const path of files(WEB).filter((p) => p.endsWith(".js") && !p.endsWith("main.js") && !p.includes("/views/"))) {
    await import(path); // pure modules import without a DOM
  }
  assert.match(readFileSync(join(WEB, "index.html"), "utf8"), /<script type="module" src="\/main\.js"><\/script>/);
});
