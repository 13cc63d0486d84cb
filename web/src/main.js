// The page's wiring: the model line, tabs, sidebar ↔ conversation, settings. The current chat's
// id is remembered in localStorage, so a reload opens it again (its history comes from the server).
import { Api } from "./api.js";
import { ChatView } from "./chat_view.js";
import { QaView } from "./qa_view.js";
import { Settings } from "./settings.js";
import { Sidebar } from "./sidebar.js";

const CURRENT = "shuo.chat";
const settings = new Settings();
const api = new Api(() => settings.apiKey);

const chat = new ChatView(api, settings, {
  ensureSession: async () => {
    if (chat.sessionId !== null) return chat.sessionId;
    const id = await api.newChat(settings.personality);
    chat.sessionId = id;
    localStorage.setItem(CURRENT, String(id));
    sidebar.setCurrent(id);
    return id;
  },
  replied: () => sidebar.refresh().catch(() => {}),
});

const sidebar = new Sidebar(api, {
  select: (id) => open(id),
  create: () => open(null),
  deleted: (id) => {
    if (id === chat.sessionId) open(sidebar.sessions[0]?.id ?? null);
  },
  error: (message) => chat.showError(message),
});

const qa = new QaView(api, settings);

async function open(id) {
  if (id === null) localStorage.removeItem(CURRENT);
  else localStorage.setItem(CURRENT, String(id));
  sidebar.setCurrent(id);
  try {
    await chat.load(id);
  } catch (e) {
    chat.showError(e.message);
  }
  document.getElementById("input").focus();
}

function selectTab(name) {
  for (const tab of ["chat", "qa"]) {
    const on = tab === name;
    document.getElementById(`tab-${tab}`).setAttribute("aria-selected", String(on));
    document.getElementById(`${tab}-view`).hidden = !on;
  }
  document.getElementById("sidebar").hidden = name !== "chat";
  if (name === "qa") qa.show();
}
document.getElementById("tab-chat").addEventListener("click", () => selectTab("chat"));
document.getElementById("tab-qa").addEventListener("click", () => selectTab("qa"));

async function start() {
  const info = document.getElementById("model-info");
  try {
    const model = await api.model();
    info.textContent = `${model.id} · context ${model.max_model_len ?? "?"} tokens`;
    document.title = `${model.id} · shuo`;
  } catch (e) {
    info.textContent = "model unknown";
    chat.showError(e.message);
  }
  try {
    const sessions = await sidebar.refresh();
    const saved = Number(localStorage.getItem(CURRENT));
    await open(sessions.some((s) => s.id === saved) ? saved : null);
  } catch (e) {
    chat.showError(e.message);
  }
}

start();
