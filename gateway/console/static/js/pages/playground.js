// Playground: chat with a deployed model, streaming, optionally side by side with another
// (say the base model), and the request as curl or Python.

import { api, listAll, streamChat } from "../api.js";
import { add, card, copyButton, errorBox, fill, h } from "../dom.js";
import { curl, pythonChat } from "../snippets.js";

export async function render(main, _params, query) {
  const [deployments, models] = await Promise.all([listAll("/v1/deployments"), listAll("/v1/models")]);
  const deployed = [...new Set(deployments.filter((d) => d.status === "ready").map((d) => d.model))];
  const others = models.filter((m) => m.status === "ready" && !deployed.includes(m.id)).map((m) => m.id);
  const pg = new Playground(deployed, others, query.get("model"), query.get("compare"));
  add(main, h("h1", {}, "Playground"), pg.el);
  return () => pg.abort();
}

class Column {
  constructor(model) {
    this.model = model;
    this.messages = [];
    this.transcript = h("div.transcript");
    this.el = h("div.column", {}, h("div.column-head", {}, model), this.transcript);
  }
}

class Playground {
  constructor(deployed, others, model, compare) {
    const options = (selected, blank) => [
      blank ? h("option", { value: "" }, blank) : null,
      h(
        "optgroup",
        { label: "Deployed" },
        deployed.map((m) => h("option", { value: m, selected: m === selected }, m)),
      ),
      others.length
        ? h(
            "optgroup",
            { label: "Not deployed" },
            others.map((m) => h("option", { value: m, selected: m === selected }, m)),
          )
        : null,
    ];
    this.model = h("select", { id: "chat-model" }, options(model || deployed[0]));
    this.compare = h("select", { id: "chat-compare" }, options(compare, "none"));
    this.system = h("textarea", {
      id: "chat-system",
      rows: 3,
      placeholder: "Optional instructions for the model",
    });
    this.temperature = h("input", {
      id: "chat-temperature",
      type: "number",
      min: 0,
      max: 2,
      step: 0.1,
      value: 0.7,
    });
    this.maxTokens = h("input", { id: "chat-max-tokens", type: "number", min: 1, step: 1, value: 256 });
    this.stream = h("input", { id: "chat-stream", type: "checkbox", checked: true });
    this.input = h("textarea", {
      id: "chat-input",
      rows: 2,
      placeholder: "Ask something… (Enter sends, Shift+Enter for a new line)",
    });
    this.send = h("button.primary", { id: "chat-send", type: "submit" }, "Send");
    this.stop = h("button", { type: "button", hidden: true, onclick: () => this.abort() }, "Stop");
    this.columns = h("div.columns");
    this.code = h("div");
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        this.submit();
      }
    });
    for (const el of [this.model, this.compare]) el.addEventListener("change", () => this.reset());
    const field = (label, input) => h("label.field", {}, h("span", {}, label), input);
    this.el = h(
      "div.playground",
      {},
      h(
        "aside.settings",
        {},
        card(
          null,
          field("Model", this.model),
          field("Side by side with", this.compare),
          field("System prompt", this.system),
          field("Temperature", this.temperature),
          field("Max tokens", this.maxTokens),
          h("label.inline", {}, this.stream, " stream the answer"),
          h("button.link", { type: "button", onclick: () => this.reset() }, "Clear the conversation"),
        ),
      ),
      h(
        "div.chat",
        {},
        this.columns,
        h(
          "form.composer",
          {
            onsubmit: (e) => {
              e.preventDefault();
              this.submit();
            },
          },
          this.input,
          this.send,
          this.stop,
        ),
        this.code,
      ),
    );
    this.el.addEventListener("input", () => this.showCode());
    this.reset();
  }

  reset() {
    this.abort();
    this.chats = [this.model.value, this.compare.value].filter(Boolean).map((m) => new Column(m));
    this.lastBody = null;
    fill(
      this.columns,
      this.chats.map((c) => c.el),
    );
    this.columns.classList.toggle("two", this.chats.length > 1);
    this.showCode();
  }

  abort() {
    this.controller?.abort();
  }

  body(chat, extra = []) {
    const messages = [
      ...(this.system.value.trim() ? [{ role: "system", content: this.system.value.trim() }] : []),
      ...chat.messages,
      ...extra,
    ];
    return {
      model: chat.model,
      messages,
      temperature: Number(this.temperature.value),
      max_tokens: Number(this.maxTokens.value),
      stream: this.stream.checked,
    };
  }

  showCode() {
    if (!this.chats?.length) return fill(this.code);
    // The request the text being typed would send; else the last one sent; else an example.
    const typed = this.input.value.trim();
    const body =
      typed || !this.lastBody
        ? this.body(this.chats[0], [{ role: "user", content: typed || "Hello!" }])
        : this.lastBody;
    const curlText = curl("/v1/chat/completions", body, { stream: body.stream });
    const pyText = pythonChat(body);
    fill(
      this.code,
      h(
        "details.snippet",
        { id: "chat-code" },
        h(
          "summary",
          {},
          "Code for this request",
          copyButton(() => curlText, "Copy as curl"),
          copyButton(() => pyText, "Copy as Python"),
        ),
        h(
          "div.grid",
          {},
          h("pre", { id: "snippet-curl" }, curlText),
          h("pre", { id: "snippet-python" }, pyText),
        ),
      ),
    );
  }

  async submit() {
    const text = this.input.value.trim();
    if (!text || this.busy) return;
    this.busy = true;
    this.send.disabled = true;
    this.stop.hidden = false;
    this.input.value = "";
    this.controller = new AbortController();
    await Promise.all(this.chats.map((chat) => this.ask(chat, text, this.controller.signal)));
    this.busy = false;
    this.send.disabled = false;
    this.stop.hidden = true;
    this.showCode();
    this.input.focus();
  }

  async ask(chat, text, signal) {
    const user = { role: "user", content: text };
    const body = this.body(chat, [user]);
    if (chat === this.chats[0]) this.lastBody = body;
    chat.messages.push(user);
    add(chat.transcript, h("div.bubble.user", {}, text));
    const answer = h("div.bubble.assistant", {}, h("span.typing", {}, "…"));
    const meta = h("div.meta");
    add(chat.transcript, answer, meta);
    const started = performance.now();
    let content = "";
    let usage = null;
    let finish = null;
    try {
      if (body.stream) {
        await streamChat(
          { ...body, stream_options: { include_usage: true } },
          (chunk) => {
            if (chunk.usage) usage = chunk.usage;
            const choice = chunk.choices?.[0];
            if (choice?.delta?.content) {
              content += choice.delta.content;
              answer.textContent = content;
            }
            if (choice?.finish_reason) finish = choice.finish_reason;
            chat.transcript.scrollTop = chat.transcript.scrollHeight;
          },
          signal,
        );
      } else {
        const resp = await api("/v1/chat/completions", { method: "POST", body, signal });
        content = resp.choices[0].message.content;
        finish = resp.choices[0].finish_reason;
        usage = resp.usage;
        answer.textContent = content;
      }
      chat.messages.push({ role: "assistant", content });
      const seconds = (performance.now() - started) / 1000;
      meta.textContent = [
        usage ? `${usage.completion_tokens} tokens` : null,
        `${seconds.toFixed(1)} s`,
        usage && seconds ? `${(usage.completion_tokens / seconds).toFixed(1)} tokens/s` : null,
        finish && finish !== "stop" ? `stopped: ${finish}` : null,
      ]
        .filter(Boolean)
        .join(" · ");
    } catch (err) {
      chat.messages.pop(); // the question goes unanswered: leave it out of the history
      if (err.name === "AbortError") {
        answer.textContent = content || "(stopped)";
      } else {
        const box = errorBox(err);
        if (err.code === "model_not_found") {
          box.append(
            " ",
            h("a", { href: `#/deployments?model=${encodeURIComponent(chat.model)}` }, `Deploy ${chat.model}`),
          );
        }
        answer.replaceWith(box);
      }
    }
  }
}
