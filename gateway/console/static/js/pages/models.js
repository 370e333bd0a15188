// Models: every registered model, base models and fine-tunes, with their lineage at a glance.

import { listAll } from "../api.js";
import { add, badge, card, fmt, h, link, table } from "../dom.js";

export const modelHref = (id) => `#/models/${encodeURIComponent(id)}`;

export async function render(main) {
  const models = (await listAll("/v1/models")).sort((a, b) => b.created - a.created);
  add(
    main,
    h("h1", {}, "Models"),
    card(
      null,
      table(
        [
          ["Model", (m) => link(modelHref(m.id), m.id)],
          ["Kind", (m) => `${m.kind}${m.format === "lora" ? " (LoRA)" : ""}`],
          ["From", (m) => (m.parent ? link(modelHref(m.parent), m.parent) : "–")],
          ["Aliases", (m) => (m.aliases?.length ? m.aliases.map((a) => h("span.tag", {}, a)) : "–")],
          ["Parameters", (m) => fmt.params(m.num_parameters)],
          ["Context", (m) => fmt.int(m.context_length)],
          ["Status", (m) => badge(m.status)],
          ["Created", (m) => fmt.time(m.created)],
          [
            "",
            (m) =>
              m.status === "ready"
                ? h(
                    "a.button.small",
                    {
                      href: `#/deployments?model=${encodeURIComponent(m.id)}`,
                      onclick: (e) => e.stopPropagation(),
                    },
                    "Deploy",
                  )
                : null,
          ],
        ],
        models,
        {
          empty: "No models registered.",
          onRow: (m) => {
            location.hash = modelHref(m.id);
          },
        },
      ),
    ),
  );
}
