// What a job says as it runs: its events, followed live over server-sent events, and the tail of
// its ranks' output.

import { api, follow, path } from "../api.js";
import { fill, h } from "../dom.js";
import { ACTIVE } from "./jobs.js";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Follow the events of the job at `url` from after the id `lastId()` gives, calling onEvent
 * with each. The stream ends when the job pauses or ends, so it is opened again while the job
 * can go on. Returns a function that stops following. */
export function followJobEvents(url, lastId, onEvent) {
  const stop = new AbortController();
  const run = async () => {
    while (!stop.signal.aborted) {
      try {
        await follow(path(url, "events"), { after: lastId(), signal: stop.signal }, onEvent);
      } catch (err) {
        if (stop.signal.aborted) return;
        console.warn("the job's event stream failed; following it again", err);
        await sleep(2000);
      }
      // Ended: the job is done, or paused until someone resumes it.
      let job = await api(url).catch(() => null);
      while (!stop.signal.aborted && job?.status === "paused") {
        await sleep(2000);
        job = await api(url).catch(() => job);
      }
      if (job && !ACTIVE.has(job.status)) return;
    }
  };
  run();
  return () => stop.abort();
}

/** The events as log lines in `pre`; of the metrics lines only the last, unless `everyMetric`. */
export function showEvents(pre, events, everyMetric) {
  const atBottom = scrolledToEnd(pre);
  const lastMetric = events.findLast((e) => e.type === "metrics");
  const lines = events.filter((e) => everyMetric || e.type !== "metrics" || e === lastMetric);
  fill(
    pre,
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
  if (atBottom) pre.scrollTop = pre.scrollHeight;
}

/** The ranks' log tail (GET …/logs) in `pre`, and what it holds in `note`. */
export function showRankLog(pre, note, { text, truncated }, tailLines) {
  if (text === pre.textContent) return;
  const atBottom = scrolledToEnd(pre);
  pre.textContent = text;
  fill(
    note,
    text
      ? `The last ${tailLines} lines the ranks wrote${truncated ? "; older lines are left out" : ""}.`
      : "The ranks have written nothing yet.",
  );
  if (atBottom) pre.scrollTop = pre.scrollHeight;
}

/** Whether the user is reading the end of `el`, so new lines should keep it there. */
function scrolledToEnd(el) {
  return el.scrollHeight - el.scrollTop - el.clientHeight < 30;
}
