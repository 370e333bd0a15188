// Memory for a run's model states per GPU under DeepSpeed ZeRO, before submitting. Mixed
// precision with Adam, as in the ZeRO paper (Rajbhandari et al., 2020): per trained parameter
// 2 bytes of weights, 2 of gradients and 12 of optimizer state (fp32 master weights, momentum,
// variance). Activations and buffers come on top and depend on batch and sequence length.

import { fmt, h, table } from "./dom.js";

const WEIGHTS = 2;
const GRADS = 2;
const OPTIMIZER = 12;

/** Bytes per GPU and in host memory for one ZeRO stage over `gpus` ranks. */
export function zeroMemory({
  params,
  trainable,
  stage,
  gpus,
  offloadOptimizer = false,
  offloadParam = false,
}) {
  const n = Math.max(1, gpus);
  const weights = (WEIGHTS * params) / (stage >= 3 ? n : 1);
  const grads = (GRADS * trainable) / (stage >= 2 ? n : 1);
  const optimizer = (OPTIMIZER * trainable) / (stage >= 1 ? n : 1);
  // ZeRO-Offload moves optimizer states to the host from stage 1; parameters only at stage 3.
  const optimizerOnCpu = offloadOptimizer && stage >= 1;
  const weightsOnCpu = offloadParam && stage === 3;
  return {
    stage,
    gpu: (weightsOnCpu ? 0 : weights) + grads + (optimizerOnCpu ? 0 : optimizer),
    cpu: (weightsOnCpu ? weights * n : 0) + (optimizerOnCpu ? optimizer * n : 0),
  };
}

/** The estimate for the chosen settings in a sentence, and a table of the four stages.
 * A LoRA run trains only its adapter, left out here (a small fraction of the weights). */
export function memoryEstimate(params, hp) {
  const base = { params, trainable: hp.lora_r > 0 ? 0 : params, gpus: hp.num_gpus };
  const chosen = zeroMemory({
    ...base,
    stage: hp.zero_stage,
    offloadOptimizer: hp.offload_optimizer,
    offloadParam: hp.offload_param,
  });
  const rows = [0, 1, 2, 3].map((stage) => ({
    stage,
    plain: zeroMemory({ ...base, stage }),
    offloaded: zeroMemory({ ...base, stage, offloadOptimizer: true }),
  }));
  const gpus = `${hp.num_gpus} GPU${hp.num_gpus > 1 ? "s" : ""}`;
  const el = h(
    "div",
    {},
    h(
      "p.estimate",
      {},
      "Model states need about ",
      h("b", {}, fmt.bytes(chosen.gpu)),
      ` per GPU with ZeRO-${hp.zero_stage} on ${gpus}`,
      chosen.cpu ? [", and ", h("b", {}, fmt.bytes(chosen.cpu)), " of host memory"] : null,
      ` (${fmt.params(params)} parameters${hp.lora_r ? ", LoRA adapter not counted" : ""}).`,
    ),
    table(
      [
        ["ZeRO stage", (r) => `ZeRO-${r.stage}`],
        ["Per GPU", (r) => fmt.bytes(r.plain.gpu)],
        ["Optimizer offloaded: per GPU", (r) => (r.stage ? fmt.bytes(r.offloaded.gpu) : "–")],
        ["Host memory", (r) => (r.stage ? fmt.bytes(r.offloaded.cpu) : "–")],
      ],
      rows,
    ),
    h("p.hint", {}, "bf16 weights and gradients, fp32 Adam states; activations come on top."),
  );
  el.querySelector("table").classList.add("compact");
  el.querySelectorAll("tbody tr")[hp.zero_stage].classList.add("selected");
  return el;
}
