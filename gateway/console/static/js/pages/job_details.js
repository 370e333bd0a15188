// Parts of the job page built from what the job recorded: how it was launched, and how the
// model did before and after training.

import { api, path } from "../api.js";
import { card, codeBlock, fmt, h, link, table } from "../dom.js";

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

/** Evaluation metrics before and after training, from the fine-tuned model's lineage. */
export async function evaluationCard(job) {
  const model = await api(path("/v1/models", job.fine_tuned_model));
  const metrics = model.lineage?.metrics || {};
  const names = [
    ...new Set(
      Object.keys(metrics)
        .filter((k) => /^eval_(before|after)_/.test(k))
        .map((k) => k.replace(/^eval_(before|after)_/, "")),
    ),
  ];
  const rows = names.map((name) => ({
    name,
    before: metrics[`eval_before_${name}`],
    after: metrics[`eval_after_${name}`],
  }));
  const other = Object.entries(metrics).filter(([k]) => !/^eval_(before|after)_/.test(k));
  return card(
    "Result",
    h(
      "p",
      {},
      "New model ",
      link(`#/models/${encodeURIComponent(model.id)}`, model.id),
      `, fine-tuned from ${model.parent}.`,
    ),
    other.length
      ? h(
          "dl.facts",
          {},
          other.map(([k, v]) => [h("dt", {}, k), h("dd", {}, fmt.num(v))]),
        )
      : null,
    rows.length
      ? table(
          [
            ["Metric", (r) => r.name],
            ["Before", (r) => fmt.num(r.before)],
            ["After", (r) => fmt.num(r.after)],
          ],
          rows,
        )
      : null,
  );
}
