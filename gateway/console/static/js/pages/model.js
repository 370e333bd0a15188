// One model: lineage (ancestors, descendants, the job and data it came from), aliases,
// export and LoRA merge.

import { api, hasRoute, listAll, path } from "../api.js";
import { add, badge, card, errorBox, facts, fill, fmt, h, link } from "../dom.js";
import { modelHref } from "./models.js";

export async function render(main, [id]) {
  const [model, all] = await Promise.all([api(path("/v1/models", id)), listAll("/v1/models")]);
  const record = (await hasRoute("get", "/v1/registry/models/{model_id}"))
    ? await api(path("/v1/registry/models", id))
    : null;
  const message = h("div");
  add(
    main,
    h(
      "div.title-row",
      {},
      h("h1", {}, model.id),
      badge(model.status),
      h(
        "div.actions",
        {},
        model.status === "ready"
          ? h("a.button.primary", { href: `#/deployments?model=${encodeURIComponent(model.id)}` }, "Deploy")
          : null,
        h("a.button", { href: path("/v1/models", model.id, "download"), download: "" }, "Export (.tar)"),
        await mergeButton(model, message),
        deleteButton(model, message),
      ),
    ),
    message,
    record?.error ? errorBox(record.error) : null,
    card(
      "Model",
      facts([
        ["Kind", `${model.kind}${model.format === "lora" ? " (LoRA adapter)" : ""}`],
        ["Name", model.name ? `${model.name} v${model.version}` : null],
        ["Architecture", model.architecture],
        ["Parameters", fmt.int(model.num_parameters)],
        ["Context", `${fmt.int(model.context_length)} tokens`],
        ["Owned by", model.owned_by],
        ["Created", fmt.time(model.created)],
        ["Precision", record?.dtype],
        ["Size", record ? fmt.bytes(record.size_bytes) : null],
        [
          "Chat round trip",
          record ? (record.round_trip.passed ? "passed" : `failed: ${record.round_trip.message}`) : null,
        ],
      ]),
    ),
    await lineageCard(model, all),
    await aliasCard(model, message),
  );
}

async function lineageCard(model, all) {
  const ancestors = [];
  for (let m = model; m.parent && ancestors.length < 20;) {
    m = all.find((x) => x.id === m.parent) || (await api(path("/v1/models", m.parent)));
    ancestors.unshift(m);
  }
  const children = all.filter((m) => m.parent === model.id);
  const node = (m, current) =>
    h(current ? "span.node.current" : "a.node", current ? {} : { href: modelHref(m.id) }, m.id);
  const lin = model.lineage;
  return card(
    "Lineage",
    h(
      "div.lineage",
      { id: "lineage" },
      ancestors.map((m) => [node(m), h("span.arrow", {}, "→")]),
      node(model, true),
      children.length
        ? [
            h("span.arrow", {}, "→"),
            h(
              "span.children",
              {},
              children.map((m) => node(m)),
            ),
          ]
        : null,
    ),
    lin
      ? facts([
          ["Job", link(`#/jobs/${encodeURIComponent(lin.job_id)}`, lin.job_id)],
          ["Training file", link(`#/datasets/${encodeURIComponent(lin.training_file)}`, lin.training_file)],
          ["Dataset SHA-256", h("code.wrap", {}, lin.training_file_sha256)],
          ["Validation file", lin.validation_file || null],
          ["Merged from", lin.merged_from ? link(modelHref(lin.merged_from), lin.merged_from) : null],
          ...Object.entries(lin.metrics || {}).map(([k, v]) => [k, fmt.num(v)]),
          [
            "Hyperparameters",
            h(
              "div",
              {},
              Object.entries(lin.hyperparameters || {}).map(([k, v]) =>
                h("span.tag.plain", {}, `${k} = ${v}`),
              ),
            ),
          ],
        ])
      : h("p.muted", {}, "A base model: it was registered, not trained here."),
  );
}

async function aliasCard(model, message) {
  const canSet = model.name && (await hasRoute("put", "/v1/registry/models/{name}/aliases/{alias}"));
  if (!canSet && !model.aliases?.length) return null;
  const aliasUrl = (alias) =>
    `${path("/v1/registry/models", model.name)}/aliases/${encodeURIComponent(alias)}`;
  const act = (method, alias, body) => async () => {
    try {
      await api(aliasUrl(alias), { method, body });
      location.reload();
    } catch (err) {
      fill(message, errorBox(err));
    }
  };
  const input = h("input", { id: "alias-name", placeholder: "e.g. production", pattern: "[A-Za-z0-9_\\-]+" });
  return card(
    "Aliases",
    h(
      "p.muted",
      {},
      "Send ",
      h("code", {}, `${model.name || model.id}@<alias>`),
      " as model to follow an alias.",
    ),
    h(
      "div.tags",
      {},
      (model.aliases || []).map((a) =>
        h(
          "span.tag",
          {},
          a,
          canSet ? h("button.link", { title: `Delete ${a}`, onclick: act("DELETE", a) }, "×") : null,
        ),
      ),
    ),
    canSet
      ? h(
          "form.inline",
          {
            onsubmit: (e) => {
              e.preventDefault();
              if (input.value) act("PUT", input.value, { model: model.id })();
            },
          },
          input,
          h("button", { type: "submit" }, "Point alias here"),
        )
      : null,
  );
}

async function mergeButton(model, message) {
  if (model.format !== "lora" || !(await hasRoute("post", "/v1/registry/models/{model_id}/merge")))
    return null;
  const btn = h(
    "button",
    {
      onclick: async () => {
        btn.disabled = true;
        fill(message, h("p.muted", {}, "Merging the adapter into its base…"));
        try {
          const merged = await api(`${path("/v1/registry/models", model.id)}/merge`, {
            method: "POST",
            body: {},
          });
          location.hash = modelHref(merged.id);
        } catch (err) {
          fill(message, errorBox(err));
          btn.disabled = false;
        }
      },
    },
    "Merge into base",
  );
  return btn;
}

function deleteButton(model, message) {
  return h(
    "button.danger",
    {
      onclick: async () => {
        if (!confirm(`Delete ${model.id}?`)) return;
        try {
          await api(path("/v1/models", model.id), { method: "DELETE" });
          location.hash = "#/models";
        } catch (err) {
          fill(message, errorBox(err));
        }
      },
    },
    "Delete",
  );
}
