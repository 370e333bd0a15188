// Small DOM helpers: elements from data (text is always set as text, never parsed as HTML),
// formatting, and the few widgets every page shares.

/** An element: h("a.btn", {href: "#/"}, "text", child, ...); null children are skipped. */
export function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.classList.add(...String(v).split(" ").filter(Boolean));
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

/** Append children, skipping null ones (Element.append would write "null"). */
export function add(el, ...children) {
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replace an element's content. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function card(title, ...children) {
  return h("section.card", {}, title ? h("h2", {}, title) : null, ...children);
}

/** A table from rows; columns are [heading, row => cell]. */
export function table(columns, rows, { empty = "Nothing yet.", onRow } = {}) {
  if (!rows.length) return h("p.muted.empty", {}, empty);
  return h(
    "table",
    {},
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        columns.map(([title]) => h("th", {}, title)),
      ),
    ),
    h(
      "tbody",
      {},
      rows.map((row) =>
        h(
          "tr",
          {
            class: onRow ? "clickable" : null,
            onclick: onRow ? () => onRow(row) : null,
          },
          columns.map(([, cell]) => h("td", {}, cell(row))),
        ),
      ),
    ),
  );
}

const STATUS_TONE = {
  processed: "ok",
  succeeded: "ok",
  ready: "ok",
  running: "busy",
  loading: "busy",
  validating_files: "busy",
  pending: "wait",
  queued: "wait",
  paused: "wait",
  failed: "bad",
  error: "bad",
  cancelled: "off",
  deleted: "off",
};

export function badge(status) {
  return h("span.badge", { class: STATUS_TONE[status] || "off" }, status.replaceAll("_", " "));
}

/** A progress bar; returns the element with set(fraction, label). */
export function progress() {
  const bar = h("div.bar");
  const label = h("span.progress-label");
  const el = h("div.progress", { role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100 }, bar, label);
  el.set = (fraction, text) => {
    const pct = Math.max(0, Math.min(100, fraction * 100));
    bar.style.width = `${pct}%`;
    el.setAttribute("aria-valuenow", pct.toFixed(1));
    label.textContent = text ?? `${pct.toFixed(0)}%`;
  };
  el.set(0);
  return el;
}

/** A red box with an error's message and the parameter at fault. */
export function errorBox(err) {
  return h(
    "div.alert.error",
    { role: "alert" },
    err.message,
    err.param ? h("span.param", {}, ` (${err.param})`) : null,
  );
}

export function notice(text, tone = "info") {
  return h(`div.alert.${tone}`, {}, text);
}

/** A button that copies text, confirming briefly. */
export function copyButton(getText, label = "Copy") {
  const btn = h(
    "button.small",
    {
      type: "button",
      onclick: async () => {
        await navigator.clipboard?.writeText(getText()).catch(() => {});
        btn.textContent = "Copied";
        setTimeout(() => {
          btn.textContent = label;
        }, 1200);
      },
    },
    label,
  );
  return btn;
}

/** Definition list from [label, value] pairs; null values are left out. */
export function facts(pairs, { columns = false } = {}) {
  return h(
    "dl.facts",
    { class: columns ? "cols" : null },
    pairs
      .filter(([, v]) => v !== null && v !== undefined && v !== "")
      .map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
  );
}

export const fmt = {
  int: (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US")),
  num: (n, digits = 4) =>
    n === null || n === undefined || Number.isNaN(n)
      ? "–"
      : String(parseFloat(Number(n).toPrecision(digits))),
  bytes(n) {
    const units = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    for (; n >= 1024 && i < units.length - 1; i++) n /= 1024;
    return `${n.toFixed(i && n < 10 ? 1 : 0)} ${units[i]}`;
  },
  params(n) {
    if (!n) return "–";
    for (const [d, s] of [
      [1e9, "B"],
      [1e6, "M"],
      [1e3, "K"],
    ])
      if (n >= d) return `${(n / d).toFixed(1)}${s}`;
    return String(n);
  },
  time: (unix) =>
    unix
      ? new Date(unix * 1000).toLocaleString("en-GB", {
          day: "2-digit",
          month: "short",
          hour: "2-digit",
          minute: "2-digit",
          second: "2-digit",
        })
      : "–",
  duration(s) {
    if (s === null || s === undefined || !Number.isFinite(s)) return "–";
    s = Math.round(s);
    const m = Math.floor(s / 60);
    return m ? `${m} min ${String(s % 60).padStart(2, "0")} s` : `${s} s`;
  },
};

/** Link to a page of the console. */
export function link(href, text) {
  return h("a", { href }, text);
}

/** A collapsed block of code with a copy button; set(text) replaces the code. */
export function codeBlock(title, { id, text = "" } = {}) {
  const pre = h("pre", {}, text);
  const el = h(
    "details.snippet",
    { id },
    h(
      "summary",
      {},
      title,
      copyButton(() => pre.textContent),
    ),
    pre,
  );
  el.set = (value) => {
    pre.textContent = value;
  };
  return el;
}
