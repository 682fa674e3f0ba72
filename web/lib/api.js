// The REST API (docs/api.md) behind one fetch wrapper: JSON in and out, cookies same-origin,
// every failure turned into an ApiError {status, code, message, retryAfter}. No DOM.

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

const seg = (value) => encodeURIComponent(String(value));

function retryAfterFrom(value) {
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : null;
}

/** Turn a non-2xx answer into an ApiError, whatever its body looks like. */
export function decodeError(status, body, headers = null) {
  const headerRetry = retryAfterFrom(headers?.get?.("retry-after"));
  if (body && typeof body === "object") {
    const error = body.error;
    if (error && typeof error === "object") {
      const code = typeof error.code === "string" && error.code ? error.code : `http_${status}`;
      const message = typeof error.message === "string" && error.message ? error.message : `The server answered ${status}.`;
      return new ApiError(status, code, message, retryAfterFrom(error.retry_after) ?? headerRetry);
    }
    if (typeof error === "string" && status >= 500) {
      const id = body.request_id ? ` (request id ${body.request_id})` : "";
      return new ApiError(status, "internal", `The server had an internal error${id}. Try again.`, headerRetry);
    }
  }
  if (status === 502 || status === 503 || status === 504) {
    return new ApiError(status, "unavailable", "The server is not available right now.", headerRetry);
  }
  return new ApiError(status, `http_${status}`, `The server answered ${status}.`, headerRetry);
}

/**
 * Upload a file with POST /api/uploads (docs/uploads.md), reporting progress as a 0-1 fraction.
 * XMLHttpRequest because fetch() cannot report upload progress. Resolves to the `upload` object.
 */
export function uploadFile(file, { onProgress = () => {}, base = "" } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${base}/api/uploads?name=${encodeURIComponent(file.name || "file")}`);
    xhr.withCredentials = true;
    xhr.setRequestHeader("accept", "application/json");
    if (file.type) xhr.setRequestHeader("content-type", file.type);
    xhr.upload.onprogress = (event) => { if (event.lengthComputable) onProgress(event.loaded / event.total); };
    xhr.onerror = () => reject(new ApiError(0, "unreachable", "The upload failed: the server cannot be reached."));
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { body = null; }
      if (xhr.status === 201 && body?.upload) resolve(body.upload);
      else reject(decodeError(xhr.status, body));
    };
    xhr.send(file);
  });
}

export function createApi({ fetch: fetchImpl = (...args) => globalThis.fetch(...args), base = "" } = {}) {
  async function request(method, path, body) {
    const init = { method, credentials: "same-origin", headers: { accept: "application/json" } };
    if (body !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetchImpl(base + path, init);
    } catch {
      throw new ApiError(0, "unreachable", "The server cannot be reached. Check your connection.");
    }
    if (response.status === 204) return null;
    let text = "";
    try {
      text = await response.text();
    } catch {
      throw new ApiError(0, "unreachable", "The connection dropped while the server was answering.");
    }
    let data = null;
    let isJson = false;
    if (text) {
      try {
        data = JSON.parse(text);
        isJson = true;
      } catch {
        isJson = false;
      }
    }
    if (!response.ok) throw decodeError(response.status, data, response.headers);
    if (text && !isJson) throw new ApiError(response.status, "bad_response", "The server sent an answer this page cannot read.");
    return data;
  }

  const query = (params) => {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null) search.set(key, String(value));
    const text = search.toString();
    return text ? `?${text}` : "";
  };

  return {
    request,
    me: () => request("GET", "/api/me"),
    signup: (username, password) => request("POST", "/api/auth/signup", { username, password }),
    login: (username, password) => request("POST", "/api/auth/login", { username, password }),
    guest: (name) => request("POST", "/api/auth/guest", { name }),
    logout: () => request("POST", "/api/auth/logout"),
    rooms: () => request("GET", "/api/rooms"),
    createRoom: (name) => request("POST", "/api/rooms", { name }),
    createPrivateRoom: (title) => request("POST", "/api/rooms", title ? { private: true, title } : { private: true }),
    room: (room) => request("GET", `/api/rooms/${seg(room)}`),
    joinRoom: (room) => request("POST", `/api/rooms/${seg(room)}/join`),
    messages: (room, { beforeSeq, limit } = {}) =>
      request("GET", `/api/rooms/${seg(room)}/messages${query({ before_seq: beforeSeq, limit })}`),
    search: (room, q, { limit } = {}) => request("GET", `/api/rooms/${seg(room)}/search${query({ q, limit })}`),
    createInvite: (room, ttlHours) =>
      request("POST", `/api/rooms/${seg(room)}/invites`, ttlHours ? { ttl_hours: ttlHours } : {}),
  };
}

/**
 * The WebSocket URL of a room, on the page's own origin. With `hello` (the hello frame's fields),
 * the hello rides on the upgrade and the welcome follows the 101 (docs/protocol.md).
 */
export function socketUrl(location, room, hello = null) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = hello ? `?hello=${encodeURIComponent(JSON.stringify(hello))}` : "";
  return `${scheme}//${location.host}/api/rooms/${seg(room)}/ws${query}`;
}

/** A user-facing sentence for any error the client meets. */
export function describeError(error) {
  if (error instanceof ApiError) {
    if (error.code === "rate_limited" && error.retryAfter) {
      return `${error.message} Try again in ${Math.ceil(error.retryAfter)} s.`;
    }
    return error.message;
  }
  return "Something went wrong. Try again.";
}
