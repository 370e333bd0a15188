// The hyperparameters the new fine-tune form offers, grouped as the form shows them, and the
// seed's preset. Each is [name, label, hint, kind]: a kind has input attributes, `options` for
// a choice, or `boolean`. An empty field or "auto" leaves the value to the training service.

// The seed's values for its self-cognition example; the browser test checks they equal
// examples/self_cognition.hyperparameters.json.
export const SEED_PRESET = {
  n_epochs: 20,
  batch_size: 8,
  learning_rate: 0.001,
  lr_scheduler_type: "cosine",
  warmup_ratio: 0.05,
  zero_stage: 2,
};

const count = { type: "number", min: 1, step: 1 };
const real = { type: "number", min: 0, step: "any" };

export const TRAINING = [
  ["n_epochs", "Epochs", "passes over the data", count],
  ["batch_size", "Batch size", "global, over all GPUs", count],
  ["learning_rate", "Learning rate", "peak", real],
  ["lr_scheduler_type", "Schedule", "decay after warmup", { options: ["cosine", "linear", "constant"] }],
  ["warmup_ratio", "Warmup ratio", "share of steps", { ...real, max: 0.99 }],
  ["weight_decay", "Weight decay", "AdamW", real],
  ["max_grad_norm", "Gradient clipping", "0 turns it off", real],
  ["model_max_length", "Max length", "tokens per example", { ...count, min: 16 }],
  ["logging_steps", "Log every", "steps", count],
];

export const LORA = [
  ["lora_alpha", "LoRA alpha", "scaling numerator", count],
  ["lora_dropout", "LoRA dropout", "on the adapter's inputs", { ...real, max: 0.99 }],
];

export const RESOURCES = [
  ["num_nodes", "Nodes", "hosts the GPUs spread over", count],
  ["offload_optimizer", "Offload optimizer", "Adam states in CPU memory (ZeRO 1-3)", { boolean: true }],
  ["offload_param", "Offload parameters", "weights in CPU memory (ZeRO-3)", { boolean: true }],
  [
    "gradient_checkpointing",
    "Gradient checkpointing",
    "recompute activations: less memory",
    { boolean: true },
  ],
];

export const ADVANCED = [
  ["packing", "Packing", "conversations packed together, no padding", { boolean: true }],
  ["gradient_accumulation_steps", "Gradient accumulation", "micro batches per step", count],
  ["save_strategy", "Checkpoints", "when to save one", { options: ["no", "steps", "epoch"] }],
  ["save_steps", "Checkpoint every", "steps (with steps)", count],
  ["save_total_limit", "Keep at most", "checkpoints", count],
];

/** The control of one hyperparameter; its `read()` gives the value to send, or undefined. */
export function control([name, , , kind]) {
  const id = `hp-${name}`;
  let el;
  if (kind.boolean || kind.options) {
    const options = kind.boolean
      ? [
          ["on", "on"],
          ["off", "off"],
        ]
      : kind.options.map((o) => [o, o]);
    el = document.createElement("select");
    for (const [value, text] of [["", "auto"], ...options]) el.add(new Option(text, value));
  } else {
    el = document.createElement("input");
    for (const [k, v] of Object.entries(kind)) el.setAttribute(k, v);
    el.placeholder = "auto";
  }
  Object.assign(el, { id, name });
  el.read = () => {
    if (el.value === "") return undefined;
    if (kind.boolean) return el.value === "on";
    return kind.type === "number" ? Number(el.value) : el.value;
  };
  return el;
}
