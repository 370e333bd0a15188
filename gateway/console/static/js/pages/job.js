// One job, live: progress bar with ETA, loss chart, log tail, launch command and DeepSpeed
// config, checkpoints and the controls; refreshed until the job ends.

import { api, hasRoute, path, poll } from "../api.js";
import { lineChart } from "../charts.js";
import { add, badge, card, errorBox, facts, fill, fmt, h, link, progress, table } from "../dom.js";
import { ACTIVE } from "./jobs.js";
import { evaluationCard, launchCard } from "./job_details.js";

const CONTROLS = [
  // [action, label, statuses it applies to, button class]
  ["pause", "Pause", ["running"], ""],
  ["resume", "Resume", ["paused"], ""],
  ["cancel", "Cancel", ["validating_files", "queued", "running", "paused"], "danger"],
];

export async function render(main, [id]) {
  const routes = {
    checkpoints: await hasRoute("get", "/v1/fine_tuning/jobs/{job_id}/checkpoints"),
    ...Object.fromEntries(
      await Promise.all(
        CONTROLS.map(async ([action]) => [
          action,
          await hasRoute("post", `/v1/fine_tuning/jobs/{job_id}/${action}`),
        ]),
      ),
    ),
  };
  const view = new JobView(id, routes);
  add(main, view.el);
  return poll(() => view.refresh(), 1500);
}

class JobView {
  constructor(id, routes) {
    this.id = id;
    this.routes = routes;
    this.title = h("div.title-row");
    this.message = h("div");
    this.bar = progress();
    this.bar.id = "job-progress";
    this.numbers = h("div.stats.small");
    this.chart = lineChart({ xTitle: "step", yTitle: "loss" });
    this.chart.el.id = "loss-chart";
    this.log = h("pre.log", { id: "job-log" });
    this.showMetrics = h("input", { type: "checkbox", id: "log-metrics", onchange: () => this.renderLog() });
    this.summary = h("div");
    this.launch = h("div");
    this.extra = h("div");
    this.events = [];
    this.el = h(
      "div",
      {},
      this.title,
      this.message,
      card("Progress", this.bar, this.numbers),
      card("Loss", this.chart.el),
      card("Log", h("label.inline", {}, this.showMetrics, " show every metrics line"), this.log),
      this.launch,
      this.summary,
      this.extra,
    );
  }

  async refresh() {
    const [job, events] = await Promise.all([
      api(path("/v1/fine_tuning/jobs", this.id)),
      api(path("/v1/fine_tuning/jobs", this.id, "events"), { query: { limit: 1000 } }),
    ]);
    this.job = job;
    this.events = events.data.slice().reverse(); // the API lists newest first
    const metrics = this.events.filter((e) => e.type === "metrics" && e.data).map((e) => e.data);
    this.renderTitle();
    this.renderProgress(metrics);
    this.chart.update(lossSeries(metrics), { xMax: metrics.at(-1)?.total_steps });
    this.renderLog();
    // Built once, so the blocks the user opened stay open while the page refreshes.
    if (!this.launch.firstChild) fill(this.launch, launchCard(this.events));
    fill(this.summary, this.summaryCard());
    const active = ACTIVE.has(job.status);
    if (!active) await this.renderFinished();
    return active;
  }

  renderTitle() {
    const j = this.job;
    const controls = CONTROLS.filter(
      ([action, , statuses]) => this.routes[action] && statuses.includes(j.status),
    ).map(([action, label, , cls]) =>
      h(
        "button",
        {
          class: cls,
          id: `job-${action}`,
          onclick: async (e) => {
            e.target.disabled = true;
            try {
              await api(path("/v1/fine_tuning/jobs", j.id, action), { method: "POST" });
            } catch (err) {
              fill(this.message, errorBox(err));
            }
            await this.refresh();
          },
        },
        label,
      ),
    );
    const done = j.status === "succeeded" && j.fine_tuned_model;
    fill(
      this.title,
      h("h1", {}, j.id),
      badge(j.status),
      h(
        "div.actions",
        {},
        controls,
        done
          ? h(
              "a.button.primary",
              { id: "job-deploy", href: `#/deployments?model=${encodeURIComponent(j.fine_tuned_model)}` },
              "Deploy",
            )
          : null,
        done
          ? h(
              "a.button",
              {
                href: `#/playground?model=${encodeURIComponent(j.fine_tuned_model)}&compare=${encodeURIComponent(j.model)}`,
              },
              "Compare with base",
            )
          : null,
      ),
    );
    fill(this.message, j.error ? errorBox(j.error) : null);
  }

  renderProgress(metrics) {
    const j = this.job;
    const last = metrics.at(-1);
    if (j.status === "succeeded") this.bar.set(1, "Done");
    else if (!last) this.bar.set(0, ACTIVE.has(j.status) ? "Waiting for the first step…" : j.status);
    else this.bar.set(last.step / last.total_steps, `Step ${last.step} of ${last.total_steps}`);
    const epochs = j.hyperparameters?.n_epochs;
    const running = j.status === "running" && last;
    fill(
      this.numbers,
      stat("Epoch", last ? `${fmt.num(last.epoch, 3)}${epochs ? ` / ${epochs}` : ""}` : "–"),
      stat("Loss", last ? fmt.num(last.loss) : "–"),
      stat("ETA", running ? fmt.duration(eta(metrics)) : "–"),
      stat("Elapsed", last ? fmt.duration(last.elapsed_s) : "–"),
      stat("Tokens / s", last?.tokens_per_second ? fmt.int(Math.round(last.tokens_per_second)) : "–"),
    );
  }

  renderLog() {
    const atBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 30;
    const lines = this.events.filter(
      (e) => this.showMetrics.checked || e.type !== "metrics" || e === this.lastMetric(),
    );
    fill(
      this.log,
      lines.map((e) =>
        h(
          "div",
          { class: `level-${e.level}` },
          h("span.muted", {}, new Date(e.created_at * 1000).toLocaleTimeString("en-GB")),
          " ",
          e.message,
        ),
      ),
    );
    if (atBottom) this.log.scrollTop = this.log.scrollHeight;
  }

  lastMetric() {
    return this.events.findLast((e) => e.type === "metrics");
  }

  summaryCard() {
    const j = this.job;
    return card(
      "Job",
      facts([
        ["Base model", link(`#/models/${encodeURIComponent(j.model)}`, j.model)],
        [
          "Fine-tuned model",
          j.fine_tuned_model
            ? link(`#/models/${encodeURIComponent(j.fine_tuned_model)}`, j.fine_tuned_model)
            : null,
        ],
        ["Training file", link(`#/datasets/${encodeURIComponent(j.training_file)}`, j.training_file)],
        [
          "Validation file",
          j.validation_file
            ? link(`#/datasets/${encodeURIComponent(j.validation_file)}`, j.validation_file)
            : null,
        ],
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

  async renderFinished() {
    if (this.finishedShown) return;
    this.finishedShown = true;
    const parts = [];
    if (this.routes.checkpoints) {
      const cps = await api(path("/v1/fine_tuning/jobs", this.id, "checkpoints"), { query: { limit: 100 } });
      parts.push(
        card(
          "Checkpoints",
          table(
            [
              ["Step", (c) => c.step_number],
              [
                "Model",
                (c) =>
                  link(
                    `#/models/${encodeURIComponent(c.fine_tuned_model_checkpoint)}`,
                    c.fine_tuned_model_checkpoint,
                  ),
              ],
              ["Train loss", (c) => fmt.num(c.metrics?.train_loss)],
              ["Validation loss", (c) => fmt.num(c.metrics?.valid_loss)],
              [
                "",
                (c) =>
                  h(
                    "a.button.small",
                    { href: `#/deployments?model=${encodeURIComponent(c.fine_tuned_model_checkpoint)}` },
                    "Deploy",
                  ),
              ],
            ],
            cps.data,
            { empty: "No checkpoints were kept." },
          ),
        ),
      );
    }
    if (this.job.fine_tuned_model) parts.push(await evaluationCard(this.job));
    fill(this.extra, parts);
  }
}

function stat(label, value) {
  return h("div.stat", {}, h("div.value", {}, value), h("div.label", {}, label));
}

/** Training loss, and validation loss where the trainer reports it. */
function lossSeries(metrics) {
  const series = [{ label: "training loss", points: metrics.map((m) => ({ x: m.step, y: m.loss })) }];
  const valid = metrics
    .filter((m) => m.valid_loss !== undefined)
    .map((m) => ({ x: m.step, y: m.valid_loss }));
  if (valid.length) series.push({ label: "validation loss", points: valid });
  return series;
}

/** Seconds left at the pace of the steps so far (set-up time before the first step excluded). */
function eta(metrics) {
  const first = metrics[0];
  const last = metrics.at(-1);
  const steps = last.step - first.step;
  const seconds = last.elapsed_s - first.elapsed_s;
  const perStep = steps > 0 ? seconds / steps : last.elapsed_s / Math.max(1, last.step);
  return perStep * (last.total_steps - last.step);
}
