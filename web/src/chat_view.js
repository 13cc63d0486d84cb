// The conversation: the history of the current session, the composer (Enter sends, Shift+Enter
// is a new line, Esc stops), streamed replies with their token counts and speed, Stop,
// regenerate and copy.
import { renderMarkdown } from "./markdown.js";

export class ChatView {
  constructor(api, settings, hooks) {
    this.api = api;
    this.settings = settings;
    this.hooks = hooks; // { ensureSession(): Promise<id>, replied() }
    this.sessionId = null;
    this.abort = null; // the AbortController of the reply being streamed
    this.messages = document.getElementById("messages");
    this.errorLine = document.getElementById("error-line");
    this.input = document.getElementById("input");
    this.sendButton = document.getElementById("send");
    this.stopButton = document.getElementById("stop");

    document.getElementById("composer").addEventListener("submit", (e) => {
      e.preventDefault();
      this.send();
    });
    this.input.addEventListener("keydown", (e) => {
      // isComposing: Enter that confirms an input-method candidate (Chinese, Japanese) is not a send.
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.send();
      }
    });
    this.stopButton.addEventListener("click", () => this.stop());
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.abort) this.stop();
    });
  }

  showError(message) {
    this.errorLine.textContent = message;
    this.errorLine.hidden = !message;
  }

  async load(id) {
    this.stop();
    this.sessionId = id;
    this.messages.replaceChildren();
    this.showError("");
    if (id === null) return;
    const chat = await this.api.getChat(id);
    for (const m of chat.history) this.addMessage(m.dir === "input" ? "user" : "assistant", m.msg);
    this.updateRegenerate();
    this.scrollToEnd();
  }

  addMessage(role, text) {
    const el = document.createElement("article");
    el.className = `msg ${role}`;
    el.setAttribute("aria-label", role === "user" ? "You" : "Assistant");
    const body = document.createElement("div");
    body.className = "msg-body";
    const meta = document.createElement("div");
    meta.className = "msg-meta";
    el.append(body, meta);
    el.text = text;
    if (role === "user") {
      body.textContent = text;
    } else {
      body.innerHTML = renderMarkdown(text);
      const stats = document.createElement("span");
      stats.className = "msg-stats";
      const copy = document.createElement("button");
      copy.type = "button";
      copy.className = "copy";
      copy.textContent = "Copy";
      copy.setAttribute("aria-label", "Copy this reply");
      copy.addEventListener("click", () => copyText(el.text, copy));
      meta.append(stats, copy);
    }
    this.messages.append(el);
    return el;
  }

  setText(el, text) {
    el.text = text;
    el.querySelector(".msg-body").innerHTML = renderMarkdown(text);
  }

  // Only the last reply can be regenerated (the server replaces the last exchange's reply).
  updateRegenerate() {
    for (const b of this.messages.querySelectorAll("button.regenerate")) b.remove();
    const last = this.messages.lastElementChild;
    if (!last || !last.classList.contains("assistant") || this.abort) return;
    const b = document.createElement("button");
    b.type = "button";
    b.className = "regenerate";
    b.textContent = "Regenerate";
    b.setAttribute("aria-label", "Regenerate this reply");
    b.addEventListener("click", () => this.regenerate());
    last.querySelector(".msg-meta").append(b);
  }

  scrollToEnd() {
    this.messages.scrollTop = this.messages.scrollHeight;
  }

  async send() {
    const text = this.input.value;
    if (!text.trim() || this.abort) return;
    this.showError("");
    let id;
    try {
      id = await this.hooks.ensureSession();
    } catch (e) {
      return this.showError(e.message);
    }
    this.input.value = "";
    const user = this.addMessage("user", text);
    const ok = await this.stream(id, { msg: text });
    if (!ok && !user.nextElementSibling) {
      // Refused before anything was recorded: give the text back to edit and resend.
      user.remove();
      this.input.value = text;
    }
  }

  async regenerate() {
    const last = this.messages.lastElementChild;
    if (!last || this.abort || this.sessionId === null) return;
    this.showError("");
    last.remove();
    await this.stream(this.sessionId, { regenerate: true });
  }

  // Streams one reply into a new assistant message; false when the server refused it.
  async stream(id, body) {
    const reply = this.addMessage("assistant", "");
    reply.classList.add("streaming");
    this.abort = new AbortController();
    this.setBusy(true);
    let text = "";
    let pending = null;
    const flush = () => {
      pending = null;
      this.setText(reply, text);
      this.scrollToEnd();
    };
    let ok = true;
    try {
      const done = await this.api.streamInput(id, { ...body, ...this.settings.sampling() }, (piece) => {
        text += piece;
        if (!pending) pending = setTimeout(flush, 50); // re-render markdown at most 20 times a second
      }, this.abort.signal);
      text = done.msg;
      reply.querySelector(".msg-stats").textContent = describe(done);
    } catch (e) {
      if (e.name === "AbortError") {
        reply.querySelector(".msg-stats").textContent = "stopped";
      } else {
        this.showError(e.message);
        ok = text !== "";
      }
    } finally {
      if (pending) clearTimeout(pending);
      this.abort = null;
      this.setBusy(false);
    }
    reply.classList.remove("streaming");
    if (ok) flush();
    else reply.remove();
    this.updateRegenerate();
    this.hooks.replied();
    return ok;
  }

  stop() {
    if (this.abort) this.abort.abort();
  }

  setBusy(busy) {
    this.sendButton.disabled = busy;
    this.stopButton.hidden = !busy;
    this.messages.setAttribute("aria-busy", String(busy));
    if (!busy) this.input.focus();
  }
}

// "42 tokens · 310.5 tokens/s · prompt 17 tokens" (what the server knows about the reply).
function describe(done) {
  const parts = [];
  const usage = done.usage || {};
  const timing = done.timing || {};
  if (usage.completion_tokens !== undefined) parts.push(`${usage.completion_tokens} tokens`);
  if (timing.tokens_per_second !== undefined) parts.push(`${timing.tokens_per_second.toFixed(1)} tokens/s`);
  if (usage.prompt_tokens !== undefined) parts.push(`prompt ${usage.prompt_tokens} tokens`);
  if (done.finish_reason === "length") parts.push("reached max tokens");
  return parts.join(" · ");
}

async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard permission (a page not served from localhost/https): select and copy.
    const area = document.createElement("textarea");
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  button.textContent = "Copied";
  setTimeout(() => (button.textContent = "Copy"), 1500);
}
