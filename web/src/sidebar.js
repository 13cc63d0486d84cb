// The conversation list: switch, rename (inline), delete, and the new-chat button. On narrow
// screens it is a drawer opened from the top bar.

export class Sidebar {
  constructor(api, handlers) {
    this.api = api;
    this.handlers = handlers; // { select(id), create(), deleted(id), error(message) }
    this.list = document.getElementById("session-list");
    this.nav = document.getElementById("sidebar");
    this.toggle = document.getElementById("toggle-sidebar");
    this.sessions = [];
    this.current = null;
    document.getElementById("new-chat").addEventListener("click", () => {
      this.close();
      handlers.create();
    });
    this.toggle.addEventListener("click", () => this.open(!this.nav.classList.contains("open")));
  }

  open(open) {
    this.nav.classList.toggle("open", open);
    this.toggle.setAttribute("aria-expanded", String(open));
  }
  close() { this.open(false); }

  async refresh() {
    this.sessions = (await this.api.listChats()).reverse(); // newest first
    this.render();
    return this.sessions;
  }

  setCurrent(id) {
    this.current = id;
    this.render();
  }

  render() {
    this.list.replaceChildren();
    for (const s of this.sessions) {
      const li = document.createElement("li");
      li.dataset.id = s.id;
      if (s.id === this.current) li.classList.add("current");
      const name = s.title || `Chat ${s.id}`;
      const open = button(name, "session-title", `Open ${name}`, () => {
        this.close();
        this.handlers.select(s.id);
      });
      if (s.id === this.current) open.setAttribute("aria-current", "true");
      const rename = button("✎", "icon", `Rename ${name}`, () => this.startRename(li, s));
      const del = button("✕", "icon", `Delete ${name}`, () => this.remove(s, name));
      li.append(open, rename, del);
      this.list.append(li);
    }
  }

  startRename(li, s) {
    const input = document.createElement("input");
    input.type = "text";
    input.value = s.title || "";
    input.setAttribute("aria-label", "New name");
    input.className = "rename";
    li.replaceChildren(input);
    input.focus();
    let finished = false;
    const finish = async (save) => {
      if (finished) return;
      finished = true;
      if (save && input.value.trim() !== (s.title || "")) {
        try {
          await this.api.renameChat(s.id, input.value.trim());
          s.title = input.value.trim();
        } catch (e) {
          this.handlers.error(e.message);
        }
      }
      this.render();
    };
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") finish(true);
      else if (e.key === "Escape") finish(false);
    });
    input.addEventListener("blur", () => finish(true));
  }

  async remove(s, name) {
    if (!confirm(`Delete “${name}” and its history?`)) return;
    try {
      await this.api.deleteChat(s.id);
      this.sessions = this.sessions.filter((x) => x.id !== s.id);
      this.render();
      this.handlers.deleted(s.id);
    } catch (e) {
      this.handlers.error(e.message);
    }
  }
}

function button(text, cls, label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = cls;
  b.textContent = text;
  b.setAttribute("aria-label", label);
  b.title = label;
  b.addEventListener("click", onClick);
  return b;
}
