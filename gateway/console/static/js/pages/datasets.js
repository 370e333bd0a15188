// Datasets: upload with a progress bar, and the list of uploaded files.

import { listAll, upload } from "../api.js";
import { add, badge, card, errorBox, fill, fmt, h, link, progress, table } from "../dom.js";

const fileHref = (id) => `#/datasets/${encodeURIComponent(id)}`;

export async function render(main) {
  const list = h("div", { id: "datasets" });
  const reload = async () => {
    const files = await listAll("/v1/files");
    fill(list, filesTable(files));
    return files;
  };
  add(main, h("h1", {}, "Datasets"), uploadCard(reload), card("Uploaded", list));
  await reload();
}

function uploadCard(reload) {
  const input = h("input", { id: "dataset-file", type: "file", accept: ".json,.jsonl,application/json" });
  const bar = progress();
  bar.hidden = true;
  const result = h("div");
  const button = h("button.primary", { type: "submit" }, "Upload");
  const form = h(
    "form.upload",
    {
      onsubmit: async (e) => {
        e.preventDefault();
        const file = input.files[0];
        if (!file) return fill(result, errorBox({ message: "Choose a file to upload first." }));
        button.disabled = true;
        bar.hidden = false;
        fill(result);
        try {
          const f = await upload("/v1/files", file, { purpose: "fine-tune" }, (sent, total) =>
            bar.set(
              sent / total,
              sent < total ? `${fmt.bytes(sent)} of ${fmt.bytes(total)}` : "Uploaded; validating…",
            ),
          );
          location.hash = fileHref(f.id);
        } catch (err) {
          bar.hidden = true;
          fill(result, errorBox(err));
          // A file that fails validation is still kept, with its report: point to it.
          const files = await reload();
          const kept = files.find((f) => f.status === "error" && err.message.includes(f.id));
          if (kept)
            add(
              result,
              h("a.button", { href: fileHref(kept.id), id: "see-report" }, "See every problem by line"),
            );
        } finally {
          button.disabled = false;
        }
      },
    },
    input,
    button,
  );
  return card(
    "Upload a dataset",
    h(
      "p.muted",
      {},
      "JSONL or a JSON array of conversations: ShareGPT ",
      h("code", {}, '{"conversations": [{"from", "value"}]}'),
      " or OpenAI ",
      h("code", {}, '{"messages": [{"role", "content"}]}'),
      ". It is checked as it arrives; ",
      "every problem is listed by line with the field at fault.",
    ),
    form,
    bar,
    result,
  );
}

function filesTable(files) {
  return table(
    [
      ["File", (f) => link(fileHref(f.id), f.filename)],
      ["Id", (f) => h("code", {}, f.id)],
      ["Examples", (f) => fmt.int(f.num_examples)],
      ["Format", (f) => f.format],
      ["Size", (f) => fmt.bytes(f.bytes)],
      ["Problems", (f) => problems(f)],
      ["Status", (f) => badge(f.status)],
      ["Uploaded", (f) => fmt.time(f.created_at)],
    ],
    files.sort((a, b) => b.created_at - a.created_at),
    {
      empty: "No datasets yet: upload one above.",
      onRow: (f) => {
        location.hash = fileHref(f.id);
      },
    },
  );
}

function problems(f) {
  if (!f.num_errors && !f.num_warnings) return h("span.muted", {}, "none");
  return [
    f.num_errors ? h("span.count.bad", {}, `${f.num_errors} errors`) : null,
    f.num_warnings ? h("span.count.warn", {}, `${f.num_warnings} warnings`) : null,
  ];
}
