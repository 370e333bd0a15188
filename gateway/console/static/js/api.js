// The gateway's REST API as the console uses it: the API key, JSON calls, uploads with
// progress, streamed chat, and which optional routes this gateway has.

const KEY = "tuneforge.apiKey";

export const auth = {
  get key() {
    return localStorage.getItem(KEY) || "";
  },
  signIn(key) {
    localStorage.setItem(KEY, key);
  },
  signOut() {
    localStorage.removeItem(KEY);
  },
};

/** An error from the gateway, carrying OpenAI's envelope fields. */
export class ApiError extends Error {
  constructor(status, error) {
    super(error?.message || `Request failed with status ${status}`);
    this.status = status;
    this.code = error?.code || null;
    this.param = error?.param || null;
  }
}

function headers(extra = {}) {
  const h = { ...extra };
  if (auth.key) h.Authorization = `Bearer ${auth.key}`;
  return h;
}

/** `base` followed by ids, each encoded (model ids hold ':', '/' and '@'). */
export function path(base, ...ids) {
  return [base, ...ids.map((id) => encodeURIComponent(id))].join("/");
}

function withQuery(url, query) {
  const q = Object.entries(query || {}).filter(([, v]) => v !== undefined && v !== null && v !== "");
  return q.length ? `${url}?${new URLSearchParams(q)}` : url;
}

async function failure(resp) {
  let body = null;
  try {
    body = await resp.json();
  } catch {
    /* not JSON: a proxy's page, say */
  }
  return refused(new ApiError(resp.status, body?.error || { message: `${resp.status} ${resp.statusText}` }));
}

/** The error, after telling the console when it means the key was refused (the shell signs out). */
function refused(err) {
  if (err.status === 401) window.dispatchEvent(new CustomEvent("tuneforge:unauthorized", { detail: err }));
  return err;
}

/** Call the API; resolves to the parsed JSON, rejects with an ApiError. */
export async function api(url, { method = "GET", body, query, signal } = {}) {
  const init = { method, signal, headers: headers(body ? { "Content-Type": "application/json" } : {}) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const resp = await fetch(withQuery(url, query), init);
  if (!resp.ok) throw await failure(resp);
  return resp.json();
}

/** Every page of a list route, in order. */
export async function listAll(url, query = {}) {
  const out = [];
  for (let after = null; ;) {
    const page = await api(url, { query: { ...query, after } });
    out.push(...page.data);
    if (!page.has_more || !page.data.length) return out;
    after = page.data[page.data.length - 1].id;
  }
}

/** Upload a file as multipart form data; XMLHttpRequest because fetch reports no upload progress. */
export function upload(url, file, fields, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    form.append("file", file);
    xhr.open("POST", url);
    for (const [k, v] of Object.entries(headers())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded, e.total);
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        /* handled below */
      }
      if (xhr.status >= 200 && xhr.status < 300 && body) resolve(body);
      else reject(refused(new ApiError(xhr.status, body?.error)));
    };
    xhr.onerror = () => reject(new ApiError(0, { message: "The gateway could not be reached." }));
    xhr.send(form);
  });
}

/** The `data:` payloads of a server-sent event stream, parsed as JSON, until `[DONE]`. A failure
 * after the first byte arrives as an error frame, then [DONE]: it rejects with an ApiError. */
async function* sseData(resp) {
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const lines = buffer.split(/\r?\n/);
    buffer = lines.pop();
    for (const line of lines) {
      if (!line.startsWith("data:")) continue; // comments (pings) and blank separators
      const data = line.slice(5).trim();
      if (data === "[DONE]") return;
      const item = JSON.parse(data);
      if (item.error) throw new ApiError(200, item.error);
      yield item;
    }
  }
}

async function openStream(url, init) {
  const resp = await fetch(url, {
    ...init,
    headers: headers({ ...init.headers, Accept: "text/event-stream" }),
  });
  if (!resp.ok) throw await failure(resp);
  return resp;
}

/** Stream a chat completion; calls onChunk with each parsed chunk. */
export async function streamChat(body, onChunk, signal) {
  const resp = await openStream("/v1/chat/completions", {
    method: "POST",
    signal,
    body: JSON.stringify({ ...body, stream: true }),
    headers: { "Content-Type": "application/json" },
  });
  for await (const chunk of sseData(resp)) onChunk(chunk);
}

/** Follow a server-sent event list route (`?stream=true`) from `after`; calls onItem with each
 * item and resolves when the server ends the stream. */
export async function follow(url, { after, signal } = {}, onItem) {
  const resp = await openStream(withQuery(url, { stream: "true", after }), { signal });
  for await (const item of sseData(resp)) onItem(item);
}

/** Fetch a file with the key and hand it to the browser as a download. */
export async function download(url, filename) {
  const resp = await fetch(url, { headers: headers() });
  if (!resp.ok) throw await failure(resp);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await resp.blob());
  link.download = filename;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

let openapi = null;

/** The gateway's OpenAPI document, fetched once; empty when it cannot be read. */
function apiDocument() {
  openapi ??= fetch("/openapi.json")
    .then((r) => (r.ok ? r.json() : {}))
    .catch(() => ({}));
  return openapi;
}

/** Whether the gateway has a route, read from its OpenAPI document: panels whose routes are
 * missing stay hidden, so the console works with older and newer gateways alike. */
export async function hasRoute(method, route) {
  const doc = await apiDocument();
  return Boolean(doc.paths?.[route]?.[method.toLowerCase()]);
}

/** The fields a wire type of the gateway has, e.g. schemaFields("Hyperparameters"). */
export async function schemaFields(name) {
  const doc = await apiDocument();
  return new Set(Object.keys(doc.components?.schemas?.[name]?.properties || {}));
}

/** Call `refresh` now and every `ms` until it returns false or the returned stop() is called. */
export function poll(refresh, ms) {
  let timer = null;
  let stopped = false;
  const tick = async () => {
    let again = true;
    try {
      again = (await refresh()) !== false;
    } catch (err) {
      console.warn("refresh failed", err);
    }
    if (again && !stopped) timer = setTimeout(tick, ms);
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
