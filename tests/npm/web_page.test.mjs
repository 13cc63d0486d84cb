// The chat page at / in a real browser (Debian's Chromium through playwright-core, headless)
// against real `shuo serve`s, started by run_web_page_test.sh: SHUO_WEB_URL (in-process sessions,
// --ctx 32768), SHUO_ECHO_URL (process mode with the echo backend). Each test saves a screenshot
// in SHUO_SCREENSHOT_DIR.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.SHUO_WEB_URL;
const echoBase = process.env.SHUO_ECHO_URL;
const shots = process.env.SHUO_SCREENSHOT_DIR;
let browser;

before(async () => {
  browser = await chromium.launch({ executablePath: process.env.SHUO_CHROMIUM, headless: true });
});
after(async () => {
  await browser?.close();
});

// A fresh profile (empty localStorage) at `url`; script errors fail the test.
async function openPage(t, url, viewport = { width: 1100, height: 800 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  t.after(async () => {
    await context.close();
    assert.deepEqual(errors, [], "no script errors on the page");
  });
  await page.goto(url);
  await page.waitForFunction(() => !document.getElementById("model-info").textContent.includes("connecting"));
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function setSettings(page, values) {
  await page.click("#open-settings");
  for (const [id, value] of Object.entries(values)) await page.fill(`#${id}`, String(value));
  await page.click("#close-settings");
}

async function metric(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = text.match(new RegExp(`^${name} (\\S+)$`, "m"));
  return m ? Number(m[1]) : NaN;
}

async function waitFor(fn, what, ms = 20_000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function currentSession(page) {
  return Number(await page.evaluate(() => localStorage.getItem("shuo.chat")));
}

// Sends `text` with Enter and waits until the reply has finished streaming.
async function send(page, text) {
  const before = await page.locator(".msg.assistant").count();
  await page.fill("#input", text);
  await page.press("#input", "Enter");
  await page.waitForFunction(
    (n) => document.querySelectorAll(".msg.assistant").length > n && !document.querySelector(".msg.streaming"),
    before,
  );
}

test("a message gets a streamed reply with its token counts, and the header shows the model", async (t) => {
  const page = await openPage(t, base);
  assert.match(await page.textContent("#model-info"), /stories260K · context 32768 tokens/);
  await setSettings(page, { "set-temperature": 0, "set-max-tokens": 48 });
  // The reply comes as text/event-stream (shuo's streaming extension of POST /chat/{id}/input).
  const response = page.waitForResponse((r) => r.url().endsWith("/input"));
  await send(page, "Once upon a time");
  assert.equal((await response).headers()["content-type"], "text/event-stream");
  const reply = page.locator(".msg.assistant").last();
  assert.match(await reply.locator(".msg-stats").textContent(), /^48 tokens · [\d.]+ tokens\/s · prompt \d+ tokens · reached max tokens$/);
  // What the page shows is what the server recorded.
  const id = await currentSession(page);
  const chat = await (await fetch(`${base}/chat/${id}`)).json();
  assert.equal(chat.history.length, 2);
  assert.equal(chat.history[0].msg, "Once upon a time");
  assert.equal((await reply.locator(".msg-body").innerText()).trim(), chat.history[1].msg.trim());
  // Shift+Enter is a new line, not a send.
  await page.fill("#input", "line one");
  await page.press("#input", "Shift+Enter");
  await page.type("#input", "line two");
  assert.equal(await page.inputValue("#input"), "line one\nline two");
  assert.equal(await page.locator(".msg.user").count(), 1);
  await shot(page, "streamed_reply");
});

test("Stop (button and Esc) cancels the generation on the server and keeps the partial reply", async (t) => {
  const page = await openPage(t, base);
  // A reply that never ends by itself: ignore_eos (shuo's own field) added to the page's request.
  await page.route("**/chat/*/input", (route) => {
    const body = JSON.parse(route.request().postData());
    route.continue({ postData: JSON.stringify({ ...body, ignore_eos: true }) });
  });
  await setSettings(page, { "set-temperature": 1, "set-max-tokens": 30000 });
  for (const how of ["button", "Escape"]) {
    const generatedBefore = await metric(base, "shuo_engine_generated_tokens_total");
    await page.fill("#input", `Tell me a long story (${how})`);
    await page.press("#input", "Enter");
    // Text arrives while the server is still generating: the reply streams.
    await page.waitForFunction(() => {
      const s = document.querySelector(".msg.streaming .msg-body");
      return s && s.textContent.length > 20;
    });
    assert.equal(await metric(base, "shuo_engine_running_sequences"), 1);
    assert.ok(await page.isVisible("#stop"));
    if (how === "button") await page.click("#stop");
    else await page.keyboard.press("Escape");
    await waitFor(async () => (await metric(base, "shuo_engine_running_sequences")) === 0, "the sequence to be freed");
    const generated = (await metric(base, "shuo_engine_generated_tokens_total")) - generatedBefore;
    assert.ok(generated < 30000, `stopped after ${generated} tokens`);
    await page.waitForFunction(() => !document.querySelector(".msg.streaming"));
    assert.equal(await page.locator(".msg.assistant .msg-stats").last().textContent(), "stopped");
    assert.ok(await page.isHidden("#stop"));
  }
  // Both partial replies were recorded (a reload shows them).
  const id = await currentSession(page);
  await waitFor(async () => (await (await fetch(`${base}/chat/${id}`)).json()).history.length === 4, "the partial replies to be recorded");
  const chat = await (await fetch(`${base}/chat/${id}`)).json();
  assert.ok(chat.history[1].msg.length > 0 && chat.history[3].msg.length > 0);
  await shot(page, "stopped");
});

test("a reload keeps the conversation; the sidebar renames, switches and deletes", async (t) => {
  const page = await openPage(t, base);
  await setSettings(page, { "set-temperature": 0, "set-max-tokens": 24 });
  await send(page, "你好, Lily!");
  await send(page, "What did Tim do?");
  const texts = await page.locator(".msg .msg-body").allInnerTexts();
  assert.equal(texts.length, 4);
  assert.equal(texts[0], "你好, Lily!");
  await page.reload();
  await page.waitForFunction(() => document.querySelectorAll(".msg").length === 4);
  assert.deepEqual(await page.locator(".msg .msg-body").allInnerTexts(), texts);
  const id = await currentSession(page);
  const item = page.locator(`#session-list li[data-id="${id}"]`);
  assert.equal((await item.locator(".session-title").textContent()).trim(), "你好, Lily!");

  await item.getByRole("button", { name: /^Rename/ }).click();
  await page.fill("#session-list input.rename", "Lily's chat");
  await page.press("#session-list input.rename", "Enter");
  await page.waitForFunction((i) => document.querySelector(`#session-list li[data-id="${i}"] .session-title`)?.textContent === "Lily's chat", id);
  await shot(page, "reloaded");
  await page.reload();
  await page.waitForFunction(() => document.querySelectorAll(".msg").length === 4);
  assert.equal(await page.locator(`#session-list li[data-id="${id}"] .session-title`).textContent(), "Lily's chat");

  // New chat, then back through the sidebar.
  await page.click("#new-chat");
  assert.equal(await page.locator(".msg").count(), 0);
  await page.locator(`#session-list li[data-id="${id}"] .session-title`).click();
  await page.waitForFunction(() => document.querySelectorAll(".msg").length === 4);

  page.once("dialog", (d) => d.accept());
  await page.locator(`#session-list li[data-id="${id}"]`).getByRole("button", { name: /^Delete/ }).click();
  await page.waitForFunction((i) => !document.querySelector(`#session-list li[data-id="${i}"]`), id);
  assert.equal((await fetch(`${base}/chat/${id}`)).status, 404);
});

test("a reply holding HTML is shown as text and never runs", async (t) => {
  const page = await openPage(t, echoBase);
  // The echo backend repeats the message, so the server's reply carries this markup.
  const attack = `<img src=x onerror="window.__pwned='img'"> <script>window.__pwned='script'</script> **bold**`;
  await send(page, attack);
  const reply = page.locator(".msg.assistant").last();
  const text = await reply.locator(".msg-body").textContent();
  assert.ok(text.includes(`<img src=x onerror="window.__pwned='img'">`), text);
  assert.ok(text.includes("<script>window.__pwned='script'</script>"), text);
  assert.equal(await reply.locator("img, script").count(), 0);
  assert.equal(await reply.locator("strong").textContent(), "bold"); // markdown still renders
  await page.waitForTimeout(200); // give a broken image's onerror its chance to fire
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  await shot(page, "html_as_text");
});

test("the QA tab answers a question", async (t) => {
  const page = await openPage(t, base);
  await setSettings(page, { "set-temperature": 0, "set-max-tokens": 32 });
  await page.click("#tab-qa");
  assert.ok(await page.isHidden("#chat-view"));
  await page.fill("#qa-title", "Where did Lily go?");
  await page.fill("#qa-text", "Lily went to the park with her mom.");
  await page.click("#qa-ask");
  await page.waitForSelector(".qa-entry .answer");
  const id = Number(await page.evaluate(() => localStorage.getItem("shuo.qa")));
  const qa = await (await fetch(`${base}/qa/${id}`)).json();
  assert.equal(qa.history.length, 2);
  assert.equal(qa.history[0].title, "Where did Lily go?");
  assert.ok(qa.history[1].msg.length > 0);
  assert.equal((await page.locator(".qa-entry .answer").innerText()).trim(), qa.history[1].msg.trim());
  await shot(page, "qa");
});

test("a refused message shows the error line and gives the text back", async (t) => {
  const page = await openPage(t, base);
  const big = "word ".repeat(14000); // 70 kB: over the demo API's 64 KiB message limit (413)
  await page.fill("#input", big);
  await page.press("#input", "Enter");
  await page.waitForSelector("#error-line:not([hidden])");
  assert.match(await page.textContent("#error-line"), /^Error 413: msg: is 70000 bytes/);
  assert.equal(await page.locator(".msg").count(), 0);
  assert.equal(await page.inputValue("#input"), big);
  await shot(page, "error_line");
});

test("at phone width (375 px) nothing scrolls sideways", async (t) => {
  const page = await openPage(t, echoBase, { width: 375, height: 740 });
  const long = "x".repeat(400) + "\n```\n" + "const a = 1; ".repeat(60) + "\n```";
  await send(page, long);
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok((await overflow()) <= 0, `page is ${await overflow()} px wider than the screen`);
  assert.ok(await page.isHidden("#sidebar .session-title >> nth=0"), "the sidebar is a closed drawer");
  await shot(page, "phone");
  await page.click("#toggle-sidebar");
  await page.waitForSelector("#sidebar.open");
  assert.ok((await overflow()) <= 0);
  await page.click("#open-settings");
  assert.ok((await overflow()) <= 0);
  await shot(page, "phone_drawer_settings");
});
