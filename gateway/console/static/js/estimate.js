// The memory check of a job before it is submitted, as the training service makes it
// (POST /v1/fine_tuning/jobs/estimate: the same check that refuses a job that cannot fit), so
// the console keeps no formula of its own. Asked once the form has been still for a moment.

import { api, ApiError } from "./api.js";
import { errorBox, fill, fmt, h, table } from "./dom.js";

const GIB = 1024 ** 3;
const gib = (n) => fmt.bytes(n * GIB);
// The training service's parts of a device's memory, in the order they are shown.
const PARTS = ["parameters", "gradients", "optimizer", "activations"];

/** Shows the service's estimate for the request bodies it is given, in `el`; returns
 * update(body), which asks again `delay` ms after the last call. */
export function memoryEstimator(el, { delay = 400 } = {}) {
  let timer = null;
  let asked = 0;
  let inFlight = null;
  const ask = async (body) => {
    const mine = ++asked;
    inFlight?.abort();
    inFlight = new AbortController();
    el.classList.add("pending");
    try {
      const estimate = await api("/v1/fine_tuning/jobs/estimate", {
        method: "POST",
        body,
        signal: inFlight.signal,
      });
      if (mine === asked) fill(el, estimateView(estimate, body.hyperparameters));
    } catch (err) {
      // A newer request replaced this one; anything else is the service's refusal of the form.
      if (mine === asked && err instanceof ApiError) fill(el, errorBox(err));
    } finally {
      if (mine === asked) el.classList.remove("pending");
    }
  };
  return (body) => {
    clearTimeout(timer);
    timer = setTimeout(() => ask(body), delay);
  };
}

/** The estimate in a sentence, with what each part takes and, when it does not fit, the
 * service's suggestion. */
export function estimateView(e, hp = {}) {
  const ranks = (hp.num_gpus || 1) * (hp.num_nodes || 1);
  const stage = hp.zero_stage ?? "auto";
  const share = Math.min(1, e.per_device_gib / (e.device_gib || 1));
  return h(
    "div.estimate",
    { class: e.fits ? "fits" : "too-big" },
    h(
      "p",
      {},
      h("span.badge", { class: e.fits ? "ok" : "bad" }, e.fits ? "fits" : "does not fit"),
      " Needs about ",
      h("b", {}, gib(e.per_device_gib)),
      " per device, of the ",
      gib(e.device_gib),
      ` a device has, with ZeRO-${stage} on ${ranks} rank${ranks > 1 ? "s" : ""}`,
      e.cpu_offload_gib ? [", and ", h("b", {}, gib(e.cpu_offload_gib)), " of host memory per node"] : null,
      ` (${fmt.params(e.trainable_parameters)} trained parameters).`,
    ),
    h(
      "div.meter",
      { role: "meter", "aria-valuenow": (share * 100).toFixed(1), "aria-valuemin": 0, "aria-valuemax": 100 },
      h("div.bar", { style: `width: ${(share * 100).toFixed(1)}%` }),
    ),
    e.fits ? null : h("div.alert.warn", { id: "estimate-suggestion" }, `Does not fit: ${e.suggestion}.`),
    compact(
      table(
        [
          ["Part", (p) => p],
          ["Per device", (p) => gib(e.breakdown_gib[p] ?? 0)],
        ],
        [
          ...PARTS.filter((p) => p in e.breakdown_gib),
          ...Object.keys(e.breakdown_gib).filter((p) => !PARTS.includes(p)),
        ],
      ),
    ),
    h(
      "p.hint",
      {},
      "Activations depend on batch size and max length; a device keeps some memory in reserve.",
    ),
  );
}

function compact(el) {
  el.classList.add("compact");
  return el;
}
