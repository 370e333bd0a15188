// One dataset: its validation report by line, token statistics under a base model, and the
// preview of what the model learns, trained tokens highlighted.

import { api, download, hasRoute, listAll, path } from "../api.js";
import { barChart } from "../charts.js";
import { add, badge, card, errorBox, facts, fill, fmt, h, table } from "../dom.js";

export async function render(main, [id]) {
  const file = await api(path("/v1/files", id));
  const models = (await listAll("/v1/models")).filter((m) => m.kind === "base" && m.status === "ready");
  add(main, header(file));
  if ((file.num_errors || file.num_warnings) && (await hasRoute("get", "/v1/files/{file_id}/report"))) {
    add(main, reportCard(file));
  } else if (file.status === "error" && file.status_details) {
    add(main, card("Validation", errorBox({ message: file.status_details })));
  }
  const analysis = file.status === "processed" && models.length ? await analysisCards(file, models) : null;
  if (analysis) add(main, analysis);
}

function header(file) {
  const deleteButton = h(
    "button.danger",
    {
      onclick: async () => {
        if (!confirm(`Delete ${file.filename} (${file.id})?`)) return;
        try {
          await api(path("/v1/files", file.id), { method: "DELETE" });
          location.hash = "#/datasets";
        } catch (err) {
          deleteButton.after(errorBox(err));
        }
      },
    },
    "Delete",
  );
  return h(
    "div",
    {},
    h(
      "div.title-row",
      {},
      h("h1", {}, file.filename),
      badge(file.status),
      h(
        "div.actions",
        {},
        file.status === "processed"
          ? h(
              "a.button.primary",
              { href: `#/finetune?file=${encodeURIComponent(file.id)}` },
              "Fine-tune on it",
            )
          : null,
        h(
          "button",
          { onclick: () => download(path("/v1/files", file.id, "content"), file.filename) },
          "Download",
        ),
        deleteButton,
      ),
    ),
    card(
      null,
      facts([
        ["Id", h("code", {}, file.id)],
        ["Examples", fmt.int(file.num_examples)],
        ["Format", file.format],
        ["Size", fmt.bytes(file.bytes)],
        ["Uploaded", fmt.time(file.created_at)],
        ["SHA-256", h("code.wrap", {}, file.sha256)],
      ]),
    ),
  );
}

function reportCard(file) {
  const body = h("div");
  const rows = [];
  const more = h("button", { onclick: () => load() }, "Show more");
  const load = async () => {
    const page = await api(path("/v1/files", file.id, "report"), {
      query: { after: rows.at(-1)?.number || 0, limit: 100 },
    });
    rows.push(...page.data);
    fill(
      body,
      page.truncated ? h("p.muted", {}, "The report keeps the first problems; the counts are exact.") : null,
      table(
        [
          ["Line", (p) => p.line ?? (p.index !== null ? `record ${p.index}` : "file")],
          ["Field", (p) => (p.path ? h("code", {}, p.path) : "–")],
          ["", (p) => h("span.count", { class: p.severity === "error" ? "bad" : "warn" }, p.severity)],
          ["Problem", (p) => p.message],
        ],
        rows,
      ),
      page.has_more ? more : null,
    );
  };
  load();
  return card(`Validation: ${fmt.int(file.num_errors)} errors, ${fmt.int(file.num_warnings)} warnings`, body);
}

async function analysisCards(file, models) {
  const cards = [];
  if (await hasRoute("get", "/v1/files/{file_id}/stats")) cards.push(statsCard);
  if (await hasRoute("get", "/v1/files/{file_id}/preview")) cards.push(previewCard);
  if (!cards.length) return null;
  const wrap = h("div.analysis");
  const picker = h(
    "select",
    { id: "stats-model", "aria-label": "Base model" },
    models.map((m) => h("option", { value: m.id }, m.id)),
  );
  const show = async () => {
    fill(wrap, h("p.muted", {}, "Tokenizing with ", picker.value, "…"));
    const parts = await Promise.allSettled(cards.map((make) => make(file, picker.value)));
    fill(
      wrap,
      parts.map((p) => (p.status === "fulfilled" ? p.value : errorBox(p.reason))),
    );
  };
  picker.addEventListener("change", show);
  show();
  return h(
    "div",
    {},
    h("div.toolbar", {}, h("label", { for: "stats-model" }, "As seen by base model"), picker),
    wrap,
  );
}

async function statsCard(file, model) {
  const s = await api(path("/v1/files", file.id, "stats"), { query: { model } });
  const d = s.tokens_per_example;
  return card(
    "Statistics",
    h(
      "div.stats",
      { id: "dataset-stats" },
      stat("Examples", fmt.int(s.num_examples)),
      stat("Tokens", fmt.int(s.total_tokens)),
      stat("Trained tokens", fmt.int(s.assistant_tokens), "carry loss, after truncation"),
      stat(
        "Over length",
        fmt.int(s.num_truncated),
        `longer than ${fmt.int(s.model_max_length)} tokens`,
        s.num_truncated ? "warn" : null,
      ),
      stat(
        "Nothing to learn",
        fmt.int(s.num_without_trained_tokens),
        "skipped by training",
        s.num_without_trained_tokens ? "warn" : null,
      ),
      stat(
        "Suggested epochs",
        fmt.int(s.suggested_epochs),
        `${fmt.int(s.estimated_trained_tokens)} tokens trained`,
      ),
    ),
    h("h3", {}, "Tokens per example: smallest, median, mean, 95th percentile, largest"),
    barChart({
      labels: ["min", "median", "mean", "p95", "max"],
      values: [d.min, d.p50, d.mean, d.p95, d.max],
      label: "tokens",
      yTitle: "tokens",
    }),
    s.warnings.length
      ? h(
          "ul.warnings",
          {},
          s.warnings.map((w) => h("li", {}, w)),
        )
      : null,
  );
}

function stat(label, value, hint, tone) {
  return h(
    "div.stat",
    { class: tone },
    h("div.value", {}, value),
    h("div.label", {}, label),
    hint ? h("div.hint", {}, hint) : null,
  );
}

async function previewCard(file, model) {
  const p = await api(path("/v1/files", file.id, "preview"), { query: { model, n: 3 } });
  return card(
    "What the model learns",
    h(
      "p.muted",
      {},
      "Each example exactly as the model is fed it. ",
      h("mark.trained", {}, "Highlighted"),
      " tokens carry the loss (the assistant's answers); " + "the rest is context.",
    ),
    p.data.map((ex) =>
      h(
        "div.preview",
        {},
        h(
          "div.preview-head",
          {},
          h("code", {}, ex.id),
          h(
            "span.muted",
            {},
            `${ex.num_tokens} tokens, ${ex.num_trained_tokens} trained` + (ex.truncated ? ", truncated" : ""),
          ),
        ),
        h(
          "pre.segments",
          {},
          ex.segments.map((s) => (s.trained ? h("mark.trained", {}, s.text) : h("span", {}, s.text))),
        ),
      ),
    ),
  );
}
