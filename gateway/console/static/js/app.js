// The console's shell: sign-in gate, navigation and the page for the part of the URL after '#'.

import { auth } from "./api.js";
import { fill, h, errorBox } from "./dom.js";
import * as datasets from "./pages/datasets.js";
import * as dataset from "./pages/dataset.js";
import * as deployments from "./pages/deployments.js";
import * as finetune from "./pages/finetune.js";
import * as job from "./pages/job.js";
import * as jobs from "./pages/jobs.js";
import * as model from "./pages/model.js";
import * as models from "./pages/models.js";
import * as playground from "./pages/playground.js";
import * as signin from "./pages/signin.js";

// [pattern, page module, nav section]; a page exports render(main, params, query) and may
// return a function that stops its polling when the user leaves.
const ROUTES = [
  [/^\/datasets$/, datasets, "datasets"],
  [/^\/datasets\/(.+)$/, dataset, "datasets"],
  [/^\/finetune$/, finetune, "finetune"],
  [/^\/jobs$/, jobs, "jobs"],
  [/^\/jobs\/(.+)$/, job, "jobs"],
  [/^\/models$/, models, "models"],
  [/^\/models\/(.+)$/, model, "models"],
  [/^\/deployments$/, deployments, "deployments"],
  [/^\/playground$/, playground, "playground"],
];

const main = document.getElementById("main");
let leave = null;
let generation = 0;
let refusal = null; // why the last key was refused, shown on the sign-in form

function parseHash() {
  const [route, search = ""] = location.hash.replace(/^#/, "").split("?");
  return { route: route || "/datasets", query: new URLSearchParams(search) };
}

function showAccount() {
  const signedIn = Boolean(auth.key);
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("account").hidden = !signedIn;
  document.getElementById("key-hint").textContent = signedIn ? `Key …${auth.key.slice(-4)}` : "";
}

async function show() {
  if (leave) leave();
  leave = null;
  generation++;
  showAccount();
  const { route, query } = parseHash();
  if (!auth.key) {
    document.title = "Sign in · TuneForge";
    signin.render(main, { route, error: refusal });
    refusal = null;
    return;
  }
  const match = ROUTES.map(([re, page, section]) => [route.match(re), page, section]).find(([m]) => m);
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", a.dataset.section === match?.[2]);
    if (a.dataset.section === match?.[2]) document.title = `${a.textContent} · TuneForge`;
  }
  if (!match) {
    fill(
      main,
      h(
        "section.card",
        {},
        h("h2", {}, "Page not found"),
        h(
          "p",
          {},
          "Nothing lives at ",
          h("code", {}, route),
          ". ",
          h("a", { href: "#/datasets" }, "Go to datasets"),
          ".",
        ),
      ),
    );
    return;
  }
  const [m, page] = match;
  const mine = ++generation;
  const view = h("div.view");
  fill(main, view);
  window.scrollTo(0, 0);
  try {
    const stop = await page.render(view, m.slice(1).map(decodeURIComponent), query);
    // The user may have moved on while the page loaded: stop what it started at once.
    if (mine === generation) leave = stop || null;
    else if (stop) stop();
  } catch (err) {
    view.append(errorBox(err));
  }
}

document.getElementById("sign-out").addEventListener("click", () => {
  auth.signOut();
  location.hash = "#/datasets";
  show();
});
// Any call answered 401 means the key is no longer good: sign out and ask for another.
window.addEventListener("tuneforge:unauthorized", (e) => {
  if (!auth.key) return;
  auth.signOut();
  refusal = e.detail;
  show();
});
window.addEventListener("hashchange", show);
show();
