// New fine-tune: base model, training and validation data, hyperparameters (a preset or
// "auto"), LoRA or full, GPUs, nodes, ZeRO stage and offload with the training service's memory
// estimate, what to do after training (before/after prompts, deploy, alias), then the request as
// JSON, curl and Python. Only the fields this gateway accepts are offered.

import { api, hasRoute, listAll, schemaFields } from "../api.js";
import { add, card, codeBlock, errorBox, fill, fmt, h, notice } from "../dom.js";
import { memoryEstimator } from "../estimate.js";
import { ADVANCED, control, LORA, RESOURCES, SEED_PRESET, TRAINING } from "../hyperparameters.js";
import { curl, pythonFineTune } from "../snippets.js";

export async function render(main, _params, query) {
  const [models, files, known, jobFields, canEstimate] = await Promise.all([
    listAll("/v1/models"),
    listAll("/v1/files"),
    schemaFields("Hyperparameters"),
    schemaFields("CreateFineTuningJob"),
    hasRoute("post", "/v1/fine_tuning/jobs/estimate"),
  ]);
  const ready = models
    .filter((m) => m.status === "ready")
    .sort((a, b) => (a.kind === "base" ? 0 : 1) - (b.kind === "base" ? 0 : 1));
  const usable = files.filter((f) => f.status === "processed").sort((a, b) => b.created_at - a.created_at);
  add(main, h("h1", {}, "New fine-tune"));
  if (!usable.length) {
    add(
      main,
      notice("Upload a dataset first: a fine-tune needs a processed training file.", "warn"),
      h("a.button.primary", { href: "#/datasets" }, "Go to datasets"),
    );
    return;
  }
  // A gateway whose schema cannot be read gets the hyperparameters every version accepts.
  const offered = (group) => group.filter(([name]) => (known.size ? known.has(name) : group === TRAINING));
  const options = { offered, jobFields, canEstimate };
  add(main, new JobForm(ready, usable, query.get("file"), options).el);
}

const field = (label, input, hint) =>
  h("label.field", {}, h("span", {}, label), input, hint ? h("small", {}, hint) : null);

class JobForm {
  constructor(models, files, fileId, { offered, jobFields, canEstimate }) {
    this.jobFields = jobFields;
    const select = (id, items, value, label, optional) =>
      h(
        "select",
        { id, name: id },
        optional ? h("option", { value: "" }, "none") : null,
        items.map((x) => h("option", { value: x.id, selected: x.id === value }, label(x))),
      );
    this.model = select(
      "model",
      models,
      models[0]?.id,
      (m) => `${m.id} · ${m.kind} · ${fmt.params(m.num_parameters)}`,
    );
    this.trainingFile = select(
      "training_file",
      files,
      fileId || files[0].id,
      (f) => `${f.filename} · ${f.num_examples} examples · ${f.id}`,
    );
    this.validationFile = select("validation_file", files, null, (f) => `${f.filename} · ${f.id}`, true);
    this.suffix = h("input", {
      id: "suffix",
      name: "suffix",
      maxlength: 40,
      placeholder: "e.g. xiaozhi",
      pattern: "[A-Za-z0-9_\\-]*",
    });
    this.seed = h("input", { id: "seed", name: "seed", type: "number", step: 1, placeholder: "random" });
    this.groups = Object.fromEntries(
      Object.entries({ TRAINING, LORA, RESOURCES, ADVANCED }).map(([k, group]) => [k, offered(group)]),
    );
    this.hp = Object.fromEntries(
      Object.values(this.groups)
        .flat()
        .map((spec) => [spec[0], control(spec)]),
    );
    this.lora = h("input", { id: "method-lora", type: "radio", name: "method", value: "lora" });
    this.full = h("input", {
      id: "method-full",
      type: "radio",
      name: "method",
      value: "full",
      checked: true,
    });
    this.loraR = h("input", { id: "hp-lora_r", type: "number", min: 1, step: 1, value: 8 });
    this.gpus = h("input", { id: "hp-num_gpus", type: "number", min: 1, step: 1, value: 1 });
    this.zero = h(
      "select",
      { id: "hp-zero_stage" },
      [0, 1, 2, 3].map((s) => h("option", { value: s, selected: s === 2 }, `ZeRO-${s}`)),
    );
    this.estimate = h("div", { id: "memory-estimate" });
    this.estimator = canEstimate ? memoryEstimator(this.estimate) : () => {};
    // One prompt a line; the seed's check asks the model who it is.
    this.evalPrompts = h("textarea", { id: "eval_prompts", name: "eval_prompts", rows: 3 }, "你是谁");
    this.autoDeploy = h("input", { id: "auto_deploy", name: "auto_deploy", type: "checkbox" });
    this.alias = h("input", {
      id: "alias",
      name: "alias",
      maxlength: 64,
      placeholder: "e.g. prod",
      pattern: "[a-z][a-z0-9_\\-]*",
    });
    this.snippets = {
      json: codeBlock("JSON", { id: "request-json" }),
      curl: codeBlock("curl", { id: "request-curl" }),
      python: codeBlock("Python", { id: "request-python" }),
    };
    this.result = h("div");
    this.el = this.build();
    this.el.addEventListener("input", () => this.refresh());
    this.el.addEventListener("change", () => this.refresh());
    this.refresh();
  }

  fields(group, cls = "div.grid.three") {
    return h(
      cls,
      {},
      this.groups[group].map(([name, label, hint]) => field(label, this.hp[name], hint)),
    );
  }

  build() {
    const method = (input, label, hint) =>
      h("label.choice", {}, input, h("span", {}, h("b", {}, label), h("small", {}, hint)));
    const preset = (id, label, values) =>
      h("button.small", { type: "button", id, onclick: () => this.preset(values) }, label);
    this.loraFields = h(
      "div.grid.three",
      {},
      field("LoRA rank", this.loraR, "adapter size"),
      this.groups.LORA.map(([name, label, hint]) => field(label, this.hp[name], hint)),
    );
    const advanced = this.groups.ADVANCED.length
      ? h("details.more", {}, h("summary", {}, "More options"), this.fields("ADVANCED"))
      : null;
    return h(
      "form.job-form",
      {
        onsubmit: (e) => {
          e.preventDefault();
          this.submit();
        },
      },
      card(
        "Model and data",
        h(
          "div.grid",
          {},
          field("Base model", this.model),
          field("Training file", this.trainingFile),
          field("Validation file", this.validationFile, "optional: scored at each checkpoint and at the end"),
          field("Suffix", this.suffix, "added to the new model's name"),
          field("Seed", this.seed, "makes the run reproducible"),
        ),
      ),
      card(
        "Hyperparameters",
        h(
          "div.toolbar",
          {},
          h("span.muted", {}, "Presets:"),
          preset("preset-seed", "Seed's values", SEED_PRESET),
          preset("preset-auto", "All auto", {}),
        ),
        this.fields("TRAINING"),
        advanced,
        h("p.hint", {}, "Empty fields are auto: the training service picks them."),
      ),
      card(
        "Method",
        h(
          "div.choices",
          {},
          method(this.full, "Full fine-tuning", "every weight is trained"),
          method(this.lora, "LoRA", "a small adapter on the frozen base"),
        ),
        this.loraFields,
      ),
      card(
        "Resources",
        h(
          "div.grid.three",
          {},
          field("GPUs", this.gpus, "ranks in all; CPU processes on a host without GPUs"),
          field("DeepSpeed", this.zero, "partitions optimizer, gradients, weights"),
          this.groups.RESOURCES.map(([name, label, hint]) => field(label, this.hp[name], hint)),
        ),
        this.estimate,
      ),
      this.afterTrainingCard(),
      card(
        "Review",
        h(
          "p.muted",
          {},
          "The request this form sends. The launch command and the DeepSpeed config " +
            "appear on the job page as soon as the job launches.",
        ),
        Object.values(this.snippets),
      ),
      this.result,
      h("div.actions", {}, h("button.primary.big", { type: "submit", id: "submit-job" }, "Start fine-tune")),
    );
  }

  /** The before/after prompts, auto_deploy and alias, where the gateway takes them. */
  afterTrainingCard() {
    const offered = (name) => this.jobFields.has(name);
    if (!["eval_prompts", "auto_deploy", "alias"].some(offered)) return null;
    return card(
      "After training",
      h(
        "div.grid.three",
        {},
        offered("eval_prompts")
          ? field(
              "Before/after prompts",
              this.evalPrompts,
              "one a line: answered by the base and the new model",
            )
          : null,
        offered("auto_deploy")
          ? h(
              "label.field",
              {},
              h("span", {}, "Deploy"),
              h("span.check", {}, this.autoDeploy, " deploy the new model when the job succeeds"),
            )
          : null,
        offered("alias") ? field("Alias", this.alias, "moved to the new model when the job succeeds") : null,
      ),
    );
  }

  preset(values) {
    for (const [name, input] of Object.entries(this.hp)) input.value = values[name] ?? "";
    if (values.zero_stage !== undefined) this.zero.value = values.zero_stage;
    this.refresh();
  }

  body() {
    const hyperparameters = {};
    for (const [name, input] of Object.entries(this.hp)) {
      const value = input.read();
      if (value !== undefined && (this.lora.checked || !name.startsWith("lora_")))
        hyperparameters[name] = value;
    }
    hyperparameters.zero_stage = Number(this.zero.value);
    hyperparameters.num_gpus = Number(this.gpus.value) || 1;
    hyperparameters.lora_r = this.lora.checked ? Number(this.loraR.value) || 8 : 0;
    const body = { model: this.model.value, training_file: this.trainingFile.value };
    if (this.validationFile.value) body.validation_file = this.validationFile.value;
    if (this.suffix.value) body.suffix = this.suffix.value;
    if (this.seed.value !== "") body.seed = Number(this.seed.value);
    body.hyperparameters = hyperparameters;
    const prompts = this.evalPrompts.value
      .split("\n")
      .map((p) => p.trim())
      .filter(Boolean);
    if (this.jobFields.has("eval_prompts") && prompts.length) body.eval_prompts = prompts;
    if (this.autoDeploy.checked) body.auto_deploy = true;
    if (this.alias.value) body.alias = this.alias.value;
    return body;
  }

  refresh() {
    this.loraFields.hidden = !this.lora.checked;
    this.clearRefusal(); // it was about the form as it was
    const body = this.body();
    this.estimator(body);
    // Only the text changes, so a snippet the user opened stays open while they edit.
    this.snippets.json.set(JSON.stringify(body, null, 2));
    this.snippets.curl.set(curl("/v1/fine_tuning/jobs", body));
    this.snippets.python.set(pythonFineTune(body));
  }

  clearRefusal() {
    for (const el of this.el.querySelectorAll(".invalid")) el.classList.remove("invalid");
    fill(this.result);
  }

  async submit() {
    const button = this.el.querySelector("#submit-job");
    button.disabled = true;
    this.clearRefusal();
    try {
      const job = await api("/v1/fine_tuning/jobs", { method: "POST", body: this.body() });
      location.hash = `#/jobs/${encodeURIComponent(job.id)}`;
    } catch (err) {
      fill(this.result, errorBox(err));
      // Point at the field the gateway named, e.g. hyperparameters.num_gpus -> #hp-num_gpus.
      const name = (err.param || "").replace(/^hyperparameters\./, "");
      const input = name && this.el.querySelector(`#hp-${CSS.escape(name)}, [name="${CSS.escape(name)}"]`);
      input?.classList.add("invalid");
      input?.focus();
      button.disabled = false;
    }
  }
}
