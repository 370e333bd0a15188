// One job, live: controls for its status, progress bar with ETA, loss chart with the validation
// points, the before/after answers once it is done, checkpoints to deploy, its events and the
// ranks' log tail (job_logs.js), the launch command and the resolved settings (job_details.js).

import { api, hasRoute, path, poll } from "../api.js";
import { lineChart } from "../charts.js";
import { add, badge, card, errorBox, fill, fmt, h, progress } from "../dom.js";
import { ACTIVE } from "./jobs.js";
import { checkpointsTable, launchCard, resultCard, summaryCard } from "./job_details.js";
import { followJobEvents, showEvents, showRankLog } from "./job_logs.js";

const CONTROLS = [
  // [action, label, statuses it applies to, button class]
  ["pause", "Pause", ["queued", "running"], ""],
  ["resume", "Resume", ["paused"], ""],
  ["cancel", "Cancel", ["validating_files", "queued", "running", "paused"], "danger"],
];
const LOG_TAIL_LINES = 200;

export async function render(main, [id]) {
  // Panels and buttons whose routes this gateway lacks stay hidden.
  const route = (name) => `/v1/fine_tuning/jobs/{job_id}/${name}`;
  const checks = [
    ["checkpoints", "get", route("checkpoints")],
    ["logs", "get", route("logs")],
    ...CONTROLS.map(([action]) => [action, "post", route(action)]),
  ];
  const routes = Object.fromEntries(
    await Promise.all(checks.map(async ([name, method, route]) => [name, await hasRoute(method, route)])),
  );
  const view = new JobView(id, routes);
  add(main, view.el);
  const stopFollowing = followJobEvents(
    view.url,
    () => view.events.at(-1)?.id,
    (e) => view.addEvent(e),
  );
  const stopPolling = poll(() => view.refresh(), 2000);
  return () => {
    stopFollowing();
    stopPolling();
  };
}

class JobView {
  constructor(id, routes) {
    this.id = id;
    this.routes = routes;
    this.url = path("/v1/fine_tuning/jobs", id);
    this.events = []; // oldest first, as the stream sends them
    this.metrics = []; // the data of the metrics events
    this.validation = new Map(); // step -> validation loss, from checkpoints and the evaluation
    this.deployed = new Map(); // checkpoint model -> the deployment its Deploy button created
    this.title = h("div.title-row");
    this.message = h("div");
    this.bar = progress();
    this.bar.id = "job-progress";
    this.numbers = h("div.stats.small");
    this.chart = lineChart({ xTitle: "step", yTitle: "loss" });
    this.chart.el.id = "loss-chart";
    this.result = h("div", { id: "job-result" });
    this.checkpoints = h("div", { id: "job-checkpoints" });
    this.log = h("pre.log", { id: "job-log" });
    this.showMetrics = h("input", {
      type: "checkbox",
      id: "log-metrics",
      onchange: () => this.renderEvents(),
    });
    this.rankLog = h("pre.log", { id: "job-rank-log" });
    this.rankLogNote = h("p.hint");
    this.summary = h("div");
    this.launch = h("div");
    this.el = h(
      "div",
      {},
      this.title,
      this.message,
      card("Progress", this.bar, this.numbers),
      card("Loss", this.chart.el),
      this.result,
      routes.checkpoints ? card("Checkpoints", this.checkpoints) : null,
      card("Events", h("label.inline", {}, this.showMetrics, " show every metrics line"), this.log),
      routes.logs ? card("Rank log", this.rankLogNote, this.rankLog) : null,
      this.launch,
      this.summary,
    );
  }

  addEvent(e) {
    this.events.push(e);
    if (e.type === "metrics" && e.data) this.metrics.push(e.data);
    // "Checkpoint at step N" events carry the checkpoint's metrics, pruned checkpoints' too.
    const valid = e.data?.metrics?.valid_loss;
    if (e.data?.model && valid !== undefined) this.validation.set(e.data.step, valid);
    // A stream's first burst holds the whole history: draw once it has arrived.
    this.drawSoon ??= setTimeout(() => {
      this.drawSoon = null;
      this.drawLive();
    }, 100);
  }

  drawLive() {
    if (this.job) this.renderProgress();
    this.renderChart();
    this.renderEvents();
    if (!this.launch.firstChild) fill(this.launch, launchCard(this.events));
  }

  async refresh() {
    const [job, logs, checkpoints] = await Promise.all([
      api(this.url),
      this.routes.logs
        ? api(path(this.url, "logs"), { query: { tail: LOG_TAIL_LINES } }).catch(() => null)
        : null,
      this.routes.checkpoints ? api(path(this.url, "checkpoints"), { query: { limit: 100 } }) : null,
    ]);
    this.job = job;
    if (job.status !== "running") this.pausing = false;
    for (const c of checkpoints?.data ?? []) {
      if (c.metrics?.valid_loss !== undefined) this.validation.set(c.step_number, c.metrics.valid_loss);
    }
    const final = job.evaluation?.metrics?.valid_loss;
    if (final !== undefined && job.total_steps) this.validation.set(job.total_steps, final);
    this.renderTitle();
    this.renderProgress();
    this.renderChart();
    if (logs) showRankLog(this.rankLog, this.rankLogNote, logs, LOG_TAIL_LINES);
    if (checkpoints) this.renderCheckpoints(checkpoints.data);
    const { step, estimated_finish, ...lasting } = job;
    if (changed(this, "summary", lasting)) fill(this.summary, summaryCard(job));
    const active = ACTIVE.has(job.status);
    if (!active && !this.resultShown) {
      this.resultShown = true;
      fill(this.result, await resultCard(job));
    }
    return active;
  }

  renderTitle() {
    const j = this.job;
    // Redrawn only when it changes, so a click on a button is never lost to a redraw.
    if (!changed(this, "title", [j.status, j.fine_tuned_model, j.error, this.pausing, this.actionError]))
      return;
    const controls = CONTROLS.filter(
      ([action, , statuses]) => this.routes[action] && statuses.includes(j.status),
    ).map(([action, label, , cls]) => {
      const pausing = action === "pause" && this.pausing;
      return h(
        "button",
        {
          class: cls,
          id: `job-${action}`,
          disabled: pausing,
          title: pausing ? "The job saves a checkpoint after its current step, then stops" : null,
          onclick: (e) => this.act(action, e.target),
        },
        pausing ? "Pausing…" : label,
      );
    });
    const done = j.status === "succeeded" && j.fine_tuned_model;
    const model = encodeURIComponent(j.fine_tuned_model);
    fill(
      this.title,
      h("h1", {}, j.id),
      badge(j.status),
      h(
        "div.actions",
        {},
        controls,
        done
          ? h("a.button.primary", { id: "job-deploy", href: `#/deployments?model=${model}` }, "Deploy")
          : null,
        done
          ? h(
              "a.button",
              { href: `#/playground?model=${model}&compare=${encodeURIComponent(j.model)}` },
              "Compare with base",
            )
          : null,
      ),
    );
    if (!this.actionError) fill(this.message, j.error ? errorBox(j.error) : null);
  }

  async act(action, button) {
    button.disabled = true;
    this.actionError = false;
    try {
      const job = await api(path(this.url, action), { method: "POST" });
      // A running job pauses after its current step: say so until it has.
      this.pausing = action === "pause" && job.status === "running";
    } catch (err) {
      this.actionError = true;
      fill(this.message, errorBox(err));
    }
    delete this.seen.title; // the button pressed was disabled: draw it afresh
    await this.refresh();
  }

  renderProgress() {
    const j = this.job;
    const last = this.metrics.at(-1);
    // The live metrics are newer than the polled job, except right after a resume.
    const step = Math.max(last?.step ?? 0, j.step ?? 0);
    const total = last?.total_steps || j.total_steps;
    const eta = this.eta(last);
    if (j.status === "succeeded") this.bar.set(1, "Done");
    else if (!total || !step)
      this.bar.set(
        0,
        ACTIVE.has(j.status) ? `${statusWords(j.status)}: waiting for the first step…` : j.status,
      );
    else {
      const where = `Step ${step} of ${total}`;
      const label =
        j.status === "running"
          ? `${where}${eta !== null ? ` · about ${fmt.duration(eta)} left` : ""}`
          : `${where} · ${statusWords(j.status)}`;
      this.bar.set(step / total, label);
    }
    this.bar.classList.toggle("paused", j.status === "paused");
    const epochs = j.hyperparameters?.n_epochs;
    fill(
      this.numbers,
      stat("Epoch", last ? `${fmt.num(last.epoch, 3)}${epochs ? ` / ${epochs}` : ""}` : "–"),
      stat("Loss", last ? fmt.num(last.loss) : "–"),
      stat("Token accuracy", pct(last?.train_mean_token_accuracy)),
      stat("Learning rate", last?.learning_rate !== undefined ? fmt.num(last.learning_rate, 3) : "–"),
      stat("Tokens / s", last?.tokens_per_second ? fmt.int(Math.round(last.tokens_per_second)) : "–"),
      stat("Elapsed", last ? fmt.duration(last.elapsed_s) : "–"),
      stat("ETA", j.status === "running" && eta !== null ? fmt.duration(eta) : "–", "job-eta", {
        title:
          j.status === "running" && j.estimated_finish ? `done about ${fmt.time(j.estimated_finish)}` : null,
      }),
    );
  }

  /** Seconds left, as the training service estimates them; null when it has not yet. */
  eta(last) {
    if (this.job.estimated_finish) return Math.max(0, this.job.estimated_finish - Date.now() / 1000);
    return last?.eta_s ?? null;
  }

  renderChart() {
    const series = [{ label: "training loss", points: this.metrics.map((m) => ({ x: m.step, y: m.loss })) }];
    if (this.validation.size) {
      const points = [...this.validation].map(([x, y]) => ({ x, y })).sort((a, b) => a.x - b.x);
      series.push({ label: "validation loss", points, pointRadius: 5, showLine: false });
    }
    this.chart.update(series, {
      xMax: this.metrics.at(-1)?.total_steps || this.job?.total_steps || undefined,
    });
  }

  renderCheckpoints(checkpoints) {
    // Redrawn only when the list changes, so a click on Deploy is never lost to a redraw.
    if (
      !changed(
        this,
        "checkpoints",
        checkpoints.map((c) => c.id),
      )
    )
      return;
    const kept = (this.job.hyperparameters?.save_strategy ?? "no") !== "no";
    fill(this.checkpoints, checkpointsTable(checkpoints, this.deployed, kept));
  }

  renderEvents() {
    showEvents(this.log, this.events, this.showMetrics.checked);
  }
}

/** Whether `value` differs from the one last seen under `name` on `owner`; remembers it. */
function changed(owner, name, value) {
  const key = JSON.stringify(value);
  owner.seen ??= {};
  if (owner.seen[name] === key) return false;
  owner.seen[name] = key;
  return true;
}

function stat(label, value, id, attrs = {}) {
  return h("div.stat", { id, ...attrs }, h("div.value", {}, value), h("div.label", {}, label));
}

const pct = (x) => (x === undefined || x === null ? "–" : `${(x * 100).toFixed(1)}%`);
const statusWords = (status) => status.replaceAll("_", " ");
