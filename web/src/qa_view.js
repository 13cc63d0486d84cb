// The QA tab: a question (title + details) in, an answer out, through POST /qa/{id}/input. The
// page keeps one QA session (its id in localStorage) and shows its recorded questions.
import { renderMarkdown } from "./markdown.js";

const KEY = "shuo.qa";

export class QaView {
  constructor(api, settings) {
    this.api = api;
    this.settings = settings;
    this.id = Number(localStorage.getItem(KEY)) || null;
    this.loaded = false;
    this.answers = document.getElementById("qa-answers");
    this.errorLine = document.getElementById("qa-error-line");
    this.title = document.getElementById("qa-title");
    this.text = document.getElementById("qa-text");
    this.button = document.getElementById("qa-ask");
    document.getElementById("qa-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.ask();
    });
  }

  showError(message) {
    this.errorLine.textContent = message;
    this.errorLine.hidden = !message;
  }

  async show() {
    if (this.loaded || this.id === null) return;
    try {
      const qa = await this.api.getQa(this.id);
      const h = qa.history;
      for (let i = 0; i + 1 < h.length; i += 2) this.addEntry(h[i].title, h[i].msg, h[i + 1].msg);
      this.loaded = true;
    } catch {
      this.id = null; // gone (another data dir, a deleted file): a new session on the next question
    }
  }

  async session() {
    if (this.id === null) {
      this.id = await this.api.newQa();
      localStorage.setItem(KEY, String(this.id));
      this.loaded = true;
    }
    return this.id;
  }

  addEntry(title, text, answer) {
    const el = document.createElement("article");
    el.className = "qa-entry";
    const q = document.createElement("div");
    q.className = "msg user";
    q.textContent = text ? `${title}\n\n${text}` : title;
    const a = document.createElement("div");
    a.className = "msg assistant answer";
    a.innerHTML = renderMarkdown(answer);
    el.append(q, a);
    this.answers.append(el);
    this.answers.scrollTop = this.answers.scrollHeight;
  }

  async ask() {
    const title = this.title.value.trim();
    const text = this.text.value.trim();
    if (!title && !text) return;
    this.showError("");
    this.button.disabled = true;
    try {
      const id = await this.session();
      const { answer } = await this.api.ask(id, { title, text, ...this.settings.sampling() });
      this.addEntry(title, text, answer);
      this.title.value = "";
      this.text.value = "";
    } catch (e) {
      this.showError(e.message);
    } finally {
      this.button.disabled = false;
    }
  }
}
