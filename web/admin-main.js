// Feature-flags admin page (entry module of admin.html): list flags, flip the kill switch, change a rollout, read the audit log.
// Talks to /admin/flags (docs/flags.md) with the operator token (kept in sessionStorage) or the
// admin's session cookie. Every write sends If-Match with the version shown, so a flag someone
// else changed meanwhile is refused (412) and the list reloads instead of overwriting it.

import { rolloutOf, withRollout } from "./lib/flags.js";

const $ = (selector) => document.querySelector(selector);
const tokenKey = "edgeroom.operatorToken";

function headers(extra = {}) {
  const token = sessionStorage.getItem(tokenKey);
  return { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra };
}

async function call(method, path, body, extra) {
  const response = await fetch(path, { method, headers: headers(extra), body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = data?.error ?? {};
    throw new Error(`${response.status} ${error.code ?? ""}: ${error.message ?? "request failed"}`);
  }
  return data;
}

function say(text, isError = false) {
  const message = $("#message");
  message.textContent = text;
  message.className = isError ? "off" : "";
}

function cell(...children) {
  const td = document.createElement("td");
  td.append(...children);
  return td;
}

function button(text, onclick, attrs = {}) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.addEventListener("click", onclick);
  for (const [k, v] of Object.entries(attrs)) b.setAttribute(k, v);
  return b;
}

async function write(key, method, body, version) {
  try {
    const answer = await call(method, `/admin/flags/${encodeURIComponent(key)}`, body, { "if-match": `"${version}"` });
    say(`${key}: saved as version ${answer.flag.version}`);
  } catch (failure) {
    say(`${key}: ${failure.message}`, true);
  }
  await refresh();
}

function row(flag) {
  const tr = document.createElement("tr");
  tr.dataset.flag = flag.key;
  const state = document.createElement("span");
  state.className = flag.enabled ? "on" : "off";
  state.textContent = flag.enabled ? "on" : "off";
  const toggle = button(flag.enabled ? "Turn off" : "Turn on", () => write(flag.key, "PATCH", { enabled: !flag.enabled }, flag.version), { "data-action": "toggle" });
  const percent = document.createElement("input");
  percent.type = "number";
  percent.min = "0";
  percent.max = "100";
  percent.step = "0.01";
  percent.value = rolloutOf(flag) ?? "";
  percent.setAttribute("aria-label", `${flag.key} rollout percent`);
  const save = button("Set rollout", () => write(flag.key, "PATCH", { rules: withRollout(flag, Number(percent.value)) }, flag.version), { "data-action": "rollout" });
  tr.append(cell(flag.key), cell(state, " ", toggle), cell(flag.type ?? "boolean"), cell(percent, " ", save), cell(String(flag.version)),
    cell(button("History", () => audit(flag.key))));
  return tr;
}

async function audit(key) {
  const path = key ? `/admin/flags/${encodeURIComponent(key)}/history?limit=50` : "/admin/audit?limit=50";
  const list = $("#audit");
  try {
    const { entries } = await call("GET", path);
    list.replaceChildren(...entries.map((e) => {
      const li = document.createElement("li");
      li.textContent = `${new Date(e.at).toISOString()} ${e.actor} ${e.action} ${e.flag} v${e.version}`;
      return li;
    }));
  } catch (failure) {
    say(failure.message, true);
  }
}

async function refresh() {
  try {
    const { flags, version } = await call("GET", "/admin/flags");
    $("#flags tbody").replaceChildren(...Object.values(flags).map(row));
    document.body.dataset.flagsVersion = String(version);
    await audit(null);
  } catch (failure) {
    say(failure.message, true);
  }
}

$("#auth").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("#token").value.trim();
  if (token) sessionStorage.setItem(tokenKey, token);
  else sessionStorage.removeItem(tokenKey);
  $("#token").value = "";
  refresh();
});

refresh();
