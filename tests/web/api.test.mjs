import test from "node:test";
import assert from "node:assert/strict";
import { ApiError, createApi, decodeError, describeError, socketUrl } from "../../web/lib/api.js";

function fakeFetch(status, body, headers = {}) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, init });
    const text = body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body);
    return { status, ok: status >= 200 && status < 300, headers: new Map(Object.entries(headers)), text: async () => text };
  };
  return { fetch, calls };
}

test("api sends JSON with same-origin credentials and returns the body", async () => {
  const { fetch, calls } = fakeFetch(201, { user: { id: "u1", name: "ann", guest: false }, token: "t" });
  const api = createApi({ fetch });
  const answer = await api.signup("ann", "secret123");
  assert.equal(answer.user.name, "ann");
  assert.equal(calls[0].url, "/api/auth/signup");
  assert.equal(calls[0].init.method, "POST");
  assert.equal(calls[0].init.credentials, "same-origin");
  assert.equal(calls[0].init.headers["content-type"], "application/json");
  assert.deepEqual(JSON.parse(calls[0].init.body), { username: "ann", password: "secret123" });
});

test("api builds the documented paths and queries", async () => {
  const { fetch, calls } = fakeFetch(200, {});
  const api = createApi({ fetch });
  await api.messages("general", { beforeSeq: 51, limit: 50 });
  await api.messages("general");
  await api.search("general", "a&b c");
  await api.createInvite("general", 48);
  await api.createPrivateRoom();
  await api.joinRoom("general");
  assert.deepEqual(calls.map((c) => `${c.init.method} ${c.url}`), [
    "GET /api/rooms/general/messages?before_seq=51&limit=50",
    "GET /api/rooms/general/messages",
    "GET /api/rooms/general/search?q=a%26b+c",
    "POST /api/rooms/general/invites",
    "POST /api/rooms",
    "POST /api/rooms/general/join",
  ]);
  assert.deepEqual(JSON.parse(calls[3].init.body), { ttl_hours: 48 });
  assert.deepEqual(JSON.parse(calls[4].init.body), { private: true });
});

test("api decodes structured errors with retry_after", async () => {
  const { fetch } = fakeFetch(429, { error: { code: "rate_limited", message: "Too many attempts.", retry_after: 12.5 } });
  const error = await createApi({ fetch }).login("ann", "wrongpass").catch((e) => e);
  assert.ok(error instanceof ApiError);
  assert.deepEqual([error.status, error.code, error.message, error.retryAfter], [429, "rate_limited", "Too many attempts.", 12.5]);
  assert.equal(describeError(error), "Too many attempts. Try again in 13 s.");
});

test("api turns a 500, a non-JSON page and a network failure into specific errors", async () => {
  const internal = await createApi(fakeFetch(500, { error: "internal error", request_id: "r-9" })).me().catch((e) => e);
  assert.equal(internal.code, "internal");
  assert.match(internal.message, /r-9/);
  const html = await createApi(fakeFetch(404, "<html>Not found</html>")).me().catch((e) => e);
  assert.deepEqual([html.status, html.code], [404, "http_404"]);
  const down = await createApi({ fetch: async () => { throw new TypeError("Failed to fetch"); } }).rooms().catch((e) => e);
  assert.deepEqual([down.status, down.code], [0, "unreachable"]);
  const gateway = await createApi(fakeFetch(503, "", { "retry-after": "30" })).rooms().catch((e) => e);
  assert.deepEqual([gateway.code, gateway.retryAfter], ["unavailable", 30]);
  const garbled = await createApi(fakeFetch(200, "<html>")).rooms().catch((e) => e);
  assert.equal(garbled.code, "bad_response");
  assert.equal(await createApi(fakeFetch(204)).logout(), null);
});

test("decodeError fills in missing fields", () => {
  const error = decodeError(409, { error: {} });
  assert.deepEqual([error.code, error.message], ["http_409", "The server answered 409."]);
  assert.equal(describeError(new Error("x")), "Something went wrong. Try again.");
});

test("socket URLs follow the page's scheme and host", () => {
  assert.equal(socketUrl({ protocol: "https:", host: "chat.example" }, "general"), "wss://chat.example/api/rooms/general/ws");
  assert.equal(socketUrl({ protocol: "http:", host: "127.0.0.1:8787" }, "a-b"), "ws://127.0.0.1:8787/api/rooms/a-b/ws");
  assert.equal(
    socketUrl({ protocol: "https:", host: "chat.example" }, "general", { type: "hello", batch: true }),
    "wss://chat.example/api/rooms/general/ws?hello=%7B%22type%22%3A%22hello%22%2C%22batch%22%3Atrue%7D",
  );
});
