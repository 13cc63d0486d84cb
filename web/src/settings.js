// The settings panel: sampling for each message, the personality of new chats and an API key,
// kept in localStorage. Empty fields are left out, so the server's defaults apply.

const KEY = "shuo.settings";
const FIELDS = {
  personality: "set-personality",
  temperature: "set-temperature",
  top_p: "set-top-p",
  max_tokens: "set-max-tokens",
  seed: "set-seed",
  api_key: "set-api-key",
};

export class Settings {
  constructor() {
    let saved = {};
    try {
      saved = JSON.parse(localStorage.getItem(KEY) || "{}");
    } catch {
      saved = {};
    }
    this.values = { temperature: "0.7", top_p: "0.9", max_tokens: "512", ...saved };
    this.panel = document.getElementById("settings");
    this.opener = document.getElementById("open-settings");
    for (const [name, id] of Object.entries(FIELDS)) {
      const el = document.getElementById(id);
      el.value = this.values[name] ?? "";
      el.addEventListener("input", () => {
        this.values[name] = el.value;
        localStorage.setItem(KEY, JSON.stringify(this.values));
      });
    }
    this.opener.addEventListener("click", () => this.show(this.panel.hidden));
    document.getElementById("close-settings").addEventListener("click", () => this.show(false));
  }

  show(open) {
    this.panel.hidden = !open;
    this.opener.setAttribute("aria-expanded", String(open));
    if (open) document.getElementById(FIELDS.personality).focus();
  }

  get personality() { return (this.values.personality || "").trim(); }
  get apiKey() { return (this.values.api_key || "").trim(); }

  // The sampling fields of an input body.
  sampling() {
    const out = {};
    const num = (name, parse) => {
      const v = (this.values[name] ?? "").toString().trim();
      if (v !== "" && !Number.isNaN(parse(v))) out[name] = parse(v);
    };
    num("temperature", Number);
    num("top_p", Number);
    num("max_tokens", (v) => parseInt(v, 10));
    num("seed", (v) => parseInt(v, 10));
    return out;
  }
}
