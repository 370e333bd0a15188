// Deployments: load a model with its resources, follow its status, delete it.

import { api, listAll, path, poll } from "../api.js";
import { add, badge, card, errorBox, fill, fmt, h, link, table } from "../dom.js";
import { modelHref } from "./models.js";

const BUSY = new Set(["pending", "loading"]);

export async function render(main, _params, query) {
  const models = (await listAll("/v1/models"))
    .filter((m) => m.status === "ready")
    .sort((a, b) => b.created - a.created);
  const list = h("div", { id: "deployments" });
  const note = h("div");
  const refresh = async () => {
    const deps = (await listAll("/v1/deployments"))
      .filter((d) => d.status !== "deleted")
      .sort((a, b) => b.created_at - a.created_at);
    fill(
      list,
      table(
        [
          ["Id", (d) => h("code", {}, d.id)],
          ["Model", (d) => link(modelHref(d.resolved_model), d.model)],
          ["Status", (d) => [badge(d.status), d.error ? h("div.error-text", {}, d.error.message) : null]],
          ["Backend", (d) => d.backend],
          ["Resources", (d) => `${d.replicas} × ${d.gpus_per_replica ? `${d.gpus_per_replica} GPU` : "CPU"}`],
          ["Max context", (d) => (d.max_context ? fmt.int(d.max_context) : "model's")],
          ["Created", (d) => fmt.time(d.created_at)],
          [
            "",
            (d) =>
              h(
                "div.actions",
                {},
                d.status === "ready"
                  ? h(
                      "a.button.small.primary",
                      { href: `#/playground?model=${encodeURIComponent(d.model)}` },
                      "Chat",
                    )
                  : null,
                h("button.small.danger", { onclick: () => remove(d, note, watch) }, "Delete"),
              ),
          ],
        ],
        deps,
        { empty: "Nothing deployed yet." },
      ),
    );
    return deps.some((d) => BUSY.has(d.status)); // keep refreshing while one is starting
  };
  let stop = () => {};
  const watch = () => {
    stop();
    stop = poll(refresh, 2000);
  };
  add(
    main,
    h("h1", {}, "Deployments"),
    createCard(models, query.get("model"), watch),
    card("Deployed", note, list),
  );
  watch();
  return () => stop();
}

function createCard(models, preselect, watch) {
  const num = (id, value, min, max) => h("input", { id, name: id, type: "number", value, min, max, step: 1 });
  const fields = {
    model: h(
      "select",
      { id: "deploy-model", name: "model" },
      models.map((m) => h("option", { value: m.id, selected: m.id === preselect }, m.id)),
    ),
    backend: h(
      "select",
      { id: "deploy-backend", name: "backend" },
      ["auto", "transformers", "vllm"].map((b) => h("option", { value: b }, b)),
    ),
    replicas: num("deploy-replicas", 1, 1, 16),
    gpus_per_replica: num("deploy-gpus", 0, 0),
    max_context: h("input", {
      id: "deploy-context",
      name: "max_context",
      type: "number",
      min: 1,
      placeholder: "the model's",
    }),
    max_concurrent_requests: h("input", {
      id: "deploy-concurrency",
      name: "max_concurrent_requests",
      type: "number",
      min: 1,
      max: 1024,
      placeholder: "default",
    }),
  };
  const message = h("div");
  const field = (label, input, hint) =>
    h("label.field", {}, h("span", {}, label), input, hint ? h("small", {}, hint) : null);
  const form = h(
    "form",
    {
      onsubmit: async (e) => {
        e.preventDefault();
        const body = { model: fields.model.value, backend: fields.backend.value };
        for (const k of ["replicas", "gpus_per_replica", "max_context", "max_concurrent_requests"]) {
          if (fields[k].value !== "") body[k] = Number(fields[k].value);
        }
        fill(message);
        try {
          await api("/v1/deployments", { method: "POST", body });
          watch();
        } catch (err) {
          fill(message, errorBox(err));
        }
      },
    },
    h(
      "div.grid.three",
      {},
      field("Model", fields.model),
      field("Backend", fields.backend, "auto: vLLM on a GPU host that has it"),
      field("Replicas", fields.replicas, "engine copies to balance over"),
      field("GPUs per replica", fields.gpus_per_replica, "0 runs on the CPU"),
      field("Max context", fields.max_context, "prompt plus completion tokens"),
      field("Max concurrent requests", fields.max_concurrent_requests, "sequences batched together"),
    ),
    message,
    h("div.actions", {}, h("button.primary", { type: "submit", id: "deploy-submit" }, "Deploy")),
  );
  return card("Deploy a model", form);
}

async function remove(d, note, watch) {
  if (!confirm(`Delete deployment ${d.id} of ${d.model}?`)) return;
  try {
    await api(path("/v1/deployments", d.id), { method: "DELETE" });
    fill(note);
  } catch (err) {
    fill(note, errorBox(err));
  }
  watch();
}
