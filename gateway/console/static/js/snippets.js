// Copy-paste snippets of a request: curl, and Python with the official openai SDK.

const shellQuote = (s) => `'${s.replaceAll("'", "'\\''")}'`;

/** The gateway's base URL as this page sees it. */
export const baseUrl = () => location.origin;

export function curl(route, body, { stream = false } = {}) {
  return [
    `curl ${stream ? "-N " : ""}${baseUrl()}${route} \\`,
    '  -H "Authorization: Bearer $TUNEFORGE_API_KEY" \\',
    '  -H "Content-Type: application/json" \\',
    `  -d ${shellQuote(JSON.stringify(body, null, 2))}`,
  ].join("\n");
}

/** A Python literal of a JSON value; JSON strings are valid Python strings. */
function py(v, indent) {
  if (v === null || v === undefined) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v !== "object") return JSON.stringify(v);
  const inner = `${indent}    `;
  const items = Array.isArray(v)
    ? v.map((x) => py(x, inner))
    : Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${py(x, inner)}`);
  const [open, close] = Array.isArray(v) ? ["[", "]"] : ["{", "}"];
  if (!items.length) return open + close;
  return `${open}\n${items.map((i) => `${inner}${i},`).join("\n")}\n${indent}${close}`;
}

function kwargs(body, indent = "    ") {
  return Object.entries(body)
    .map(([k, v]) => `${indent}${k}=${py(v, indent)},`)
    .join("\n");
}

function client() {
  return [
    "import os",
    "from openai import OpenAI",
    "",
    `client = OpenAI(base_url="${baseUrl()}/v1", api_key=os.environ["TUNEFORGE_API_KEY"])`,
  ];
}

export function pythonChat(body) {
  const { stream, ...rest } = body;
  const lines = [...client(), ""];
  if (stream) {
    lines.push(
      "stream = client.chat.completions.create(",
      kwargs({ ...rest, stream: true }),
      ")",
      "for chunk in stream:",
      "    if chunk.choices and chunk.choices[0].delta.content:",
      '        print(chunk.choices[0].delta.content, end="", flush=True)',
      "print()",
    );
  } else {
    lines.push(
      "resp = client.chat.completions.create(",
      kwargs(rest),
      ")",
      "print(resp.choices[0].message.content)",
    );
  }
  return lines.join("\n");
}

// Arguments of the SDK's fine_tuning.jobs.create; TuneForge's other fields go in extra_body.
const OPENAI_FINE_TUNE = new Set([
  "model",
  "training_file",
  "validation_file",
  "suffix",
  "seed",
  "hyperparameters",
  "method",
  "metadata",
  "integrations",
]);

export function pythonFineTune(body) {
  const extra = Object.fromEntries(Object.entries(body).filter(([k]) => !OPENAI_FINE_TUNE.has(k)));
  const known = Object.fromEntries(Object.entries(body).filter(([k]) => OPENAI_FINE_TUNE.has(k)));
  return [
    ...client(),
    "",
    "job = client.fine_tuning.jobs.create(",
    kwargs(Object.keys(extra).length ? { ...known, extra_body: extra } : known),
    ")",
    "print(job.id, job.status)",
  ].join("\n");
}
