// Parts of the job page built from what the job recorded: how it was launched, its checkpoints,
// how the model did after training (its answers beside the base model's), and its settings.

import { api, path } from "../api.js";
import { card, codeBlock, errorBox, facts, fill, fmt, h, link, table } from "../dom.js";

const shellWord = (w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replaceAll("'", "'\\''")}'`);

/** The launch command and DeepSpeed config, from the event the training service logs at launch. */
export function launchCard(events) {
  const launch = events.find((e) => Array.isArray(e.data?.command));
  if (!launch) return null;
  const { command, env = {}, deepspeed_config: ds } = launch.data;
  const commandText = [
    ...Object.entries(env).map(([k, v]) => `${k}=${shellWord(String(v))}`),
    ...command.map(shellWord),
  ].join(" ");
  return card(
    "Launch",
    codeBlock("Command", { id: "launch-command", text: commandText }),
    ds ? codeBlock("DeepSpeed config", { id: "deepspeed-config", text: JSON.stringify(ds, null, 2) }) : null,
  );
}

/** The job's checkpoints, newest first, each deployable; `deployed` remembers (model -> the
 * deployment created here) across redraws; `kept` says whether the job saves any. */
export function checkpointsTable(checkpoints, deployed, kept) {
  const model = (c) => c.fine_tuned_model_checkpoint;
  return table(
    [
      ["Step", (c) => c.step_number],
      ["Model", (c) => link(`#/models/${encodeURIComponent(model(c))}`, model(c))],
      ["Train loss", (c) => fmt.num(c.metrics?.train_loss)],
      ["Validation loss", (c) => fmt.num(c.metrics?.valid_loss)],
      ["Validation accuracy", (c) => percent(c.metrics?.valid_mean_token_accuracy)],
      ["Saved", (c) => fmt.time(c.created_at)],
      ["", (c) => deployCell(model(c), deployed)],
    ],
    checkpoints,
    {
      empty: kept
        ? "No checkpoint yet."
        : "This job keeps no checkpoints: set Checkpoints to steps or epoch in a new fine-tune.",
    },
  );
}

function deployCell(model, deployed) {
  const cell = h("div.actions");
  const show = (dep) =>
    fill(
      cell,
      h("a", { href: "#/deployments", title: `${dep.id} serves ${model}` }, `Deploying as ${dep.id}`),
    );
  if (deployed.has(model)) return show(deployed.get(model));
  const button = h(
    "button.small",
    {
      type: "button",
      onclick: async () => {
        button.disabled = true;
        try {
          const dep = await api("/v1/deployments", { method: "POST", body: { model } });
          deployed.set(model, dep);
          show(dep);
        } catch (err) {
          button.disabled = false;
          fill(cell, button, errorBox(err));
        }
      },
    },
    "Deploy",
  );
  return fill(cell, button);
}

/** What a finished job produced: the model, where it was deployed, its aliases, the final
 * evaluation and the before/after answers side by side. Null for a job that produced nothing. */
export async function resultCard(job) {
  if (!job.fine_tuned_model) return null;
  const model = job.fine_tuned_model;
  const { metrics = {}, comparisons = [] } = job.evaluation || {};
  // The registry says which aliases point at the model now (moving the job's alias may fail).
  const registered = await api(path("/v1/models", model)).catch(() => null);
  const aliases = (registered?.aliases ?? []).map((a) => `${registered.name || model}@${a}`);
  return card(
    "Result",
    h(
      "p",
      {},
      "New model ",
      link(`#/models/${encodeURIComponent(model)}`, model),
      `, fine-tuned from ${job.model}.`,
      job.deployment ? [" Deployed as ", link("#/deployments", job.deployment), "."] : null,
      aliases.length ? [" Aliases: ", aliases.map((a, i) => [i ? ", " : "", h("code", {}, a)]), "."] : null,
    ),
    facts(
      Object.entries(metrics)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, /accuracy/.test(k) ? percent(v) : fmt.num(v)]),
      { columns: true },
    ),
    comparisons.length
      ? h(
          "div",
          { id: "before-after" },
          h("h3", {}, "Before and after"),
          comparisons.map((c) =>
            h(
              "div.comparison",
              {},
              h("div.prompt", {}, h("span.muted", {}, "Prompt "), c.prompt),
              h(
                "div.answers",
                {},
                answer(`Base: ${job.model}`, c.base, "base"),
                answer("Fine-tuned", c.fine_tuned, "fine-tuned"),
              ),
            ),
          ),
        )
      : null,
  );
}

function answer(title, text, cls) {
  return h("div.answer", { class: cls }, h("div.who", {}, title), h("div.text", {}, text || "(no answer)"));
}

const percent = (x) => (x === undefined || x === null ? "–" : `${(x * 100).toFixed(1)}%`);

/** Who the job is: its model, data, options and resolved hyperparameters. */
export function summaryCard(j) {
  const dataset = (id) => (id ? link(`#/datasets/${encodeURIComponent(id)}`, id) : null);
  const model = (id) => (id ? link(`#/models/${encodeURIComponent(id)}`, id) : null);
  return card(
    "Job",
    facts([
      ["Base model", model(j.model)],
      ["Fine-tuned model", model(j.fine_tuned_model)],
      ["Training file", dataset(j.training_file)],
      ["Validation file", dataset(j.validation_file)],
      ["Before/after prompts", j.eval_prompts?.join(" · ")],
      ["Deploy when done", j.auto_deploy ? "yes" : null],
      ["Alias", j.alias],
      ["Seed", j.seed],
      ["Created", fmt.time(j.created_at)],
      ["Finished", j.finished_at ? fmt.time(j.finished_at) : null],
      ["Trained tokens", j.trained_tokens ? fmt.int(j.trained_tokens) : null],
    ]),
    h("h3", {}, "Hyperparameters (resolved)"),
    facts(
      Object.entries(j.hyperparameters || {}).map(([k, v]) => [k, String(v)]),
      { columns: true },
    ),
  );
}
