// Jobs: every fine-tuning job with its status, refreshed while any is still going.

import { listAll, poll } from "../api.js";
import { add, badge, card, fill, fmt, h, link, table } from "../dom.js";

export const ACTIVE = new Set(["validating_files", "queued", "running", "paused"]);

export function render(main) {
  const body = h("div");
  add(
    main,
    h(
      "div.title-row",
      {},
      h("h1", {}, "Fine-tuning jobs"),
      h("div.actions", {}, h("a.button.primary", { href: "#/finetune" }, "New fine-tune")),
    ),
    card(null, body),
  );
  return poll(async () => {
    const jobs = await listAll("/v1/fine_tuning/jobs", { limit: 100 });
    fill(
      body,
      table(
        [
          ["Job", (j) => link(`#/jobs/${encodeURIComponent(j.id)}`, j.id)],
          ["Base model", (j) => j.model],
          [
            "Fine-tuned model",
            (j) =>
              j.fine_tuned_model
                ? link(`#/models/${encodeURIComponent(j.fine_tuned_model)}`, j.fine_tuned_model)
                : "–",
          ],
          ["Status", (j) => badge(j.status)],
          ["Created", (j) => fmt.time(j.created_at)],
          ["Took", (j) => (j.finished_at ? fmt.duration(j.finished_at - j.created_at) : "–")],
        ],
        jobs,
        {
          empty: "No fine-tuning jobs yet.",
          onRow: (j) => {
            location.hash = `#/jobs/${encodeURIComponent(j.id)}`;
          },
        },
      ),
    );
    return jobs.some((j) => ACTIVE.has(j.status));
  }, 3000);
}
