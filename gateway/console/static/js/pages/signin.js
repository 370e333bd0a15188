// Sign in: the API key is kept in this browser and sent as `Authorization: Bearer <key>`.

import { api, auth } from "../api.js";
import { errorBox, fill, h } from "../dom.js";

/** The sign-in form; `route` is the page to go back to, `error` why the last key was refused. */
export function render(main, { route, error }) {
  const key = h("input", {
    id: "api-key",
    type: "password",
    required: true,
    autocomplete: "off",
    placeholder: "tf-…",
    "aria-label": "API key",
  });
  const status = h("div", {}, error ? errorBox(error) : null);
  const form = h(
    "form.signin",
    {
      onsubmit: async (e) => {
        e.preventDefault();
        auth.signIn(key.value.trim());
        try {
          await api("/v1/models"); // a cheap call that proves the key
        } catch (err) {
          // A refused key (401) brings the shell back here with the error; others show here.
          if (err.status !== 401) {
            auth.signOut();
            fill(status, errorBox(err));
          }
          return;
        }
        // Back to the page that asked for a sign-in, re-rendered now that a key is set.
        const target = route || "/datasets";
        if (location.hash === `#${target}`) window.dispatchEvent(new HashChangeEvent("hashchange"));
        else location.hash = `#${target}`;
      },
    },
    h("h1", {}, "Sign in to TuneForge"),
    h("p.muted", {}, "Fine-tune models on your data, then deploy and chat with them."),
    h("label", { for: "api-key" }, "API key"),
    key,
    h("p.hint", {}, "Kept in this browser only and sent with every request as a Bearer token."),
    status,
    h("button.primary", { type: "submit" }, "Sign in"),
  );
  fill(main, form);
  key.focus();
}
