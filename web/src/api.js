// The page's client for shuo's APIs: /v1/models, the demo sessions API (spec §3) and shuo's
// extensions of it (streamed input, rename, delete). Every failure becomes an ApiError whose
// message is what the error line shows.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class Api {
  constructor(getApiKey) {
    this.getApiKey = getApiKey;
  }

  headers(json) {
    const h = {};
    if (json) h["Content-Type"] = "application/json";
    const key = this.getApiKey();
    if (key) h.Authorization = "Bearer " + key;
    return h;
  }

  async request(method, path, body, signal) {
    let res;
    try {
      res = await fetch(path, {
        method,
        headers: this.headers(body !== undefined),
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (e) {
      if (e.name === "AbortError") throw e;
      throw new ApiError(0, "network", "The server cannot be reached (" + e.message + ").");
    }
    if (!res.ok) throw await errorOf(res);
    return res;
  }

  async json(method, path, body) {
    return (await this.request(method, path, body)).json();
  }

  async model() {
    const list = await this.json("GET", "/v1/models");
    return list.data[0];
  }

  listChats() { return this.json("GET", "/chat?titles=1"); }
  getChat(id) { return this.json("GET", `/chat/${id}`); }
  renameChat(id, title) { return this.json("PATCH", `/chat/${id}`, { title }); }
  deleteChat(id) { return this.json("DELETE", `/chat/${id}`); }

  // POST /chat streams "key:value" lines while the session starts; the id comes last.
  async newChat(personality) {
    const res = await this.request("POST", "/chat", personality ? { personality } : {});
    return idFromLines(await res.text());
  }

  async newQa() {
    const res = await this.request("POST", "/qa", {});
    return idFromLines(await res.text());
  }
  getQa(id) { return this.json("GET", `/qa/${id}`); }
  ask(id, question) { return this.json("POST", `/qa/${id}/input`, question); }

  // Streams a reply: onDelta(text) for each piece; resolves with the "done" event's data.
  // `signal` aborting (Stop) ends the request; the server then cancels the generation.
  async streamInput(id, body, onDelta, signal) {
    const res = await this.request("POST", `/chat/${id}/input`, { ...body, stream: true }, signal);
    const reader = res.body.getReader();
    const decoder = new TextDecoder(); // stream mode: a character split across chunks waits
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = parseEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (event.name === "delta") onDelta(event.data.text);
        else if (event.name === "done") return event.data;
        else if (event.name === "error") throw new ApiError(500, event.data.error.code, event.data.error.message);
      }
    }
    throw new ApiError(0, "truncated", "The reply ended before it was complete.");
  }
}

function parseEvent(block) {
  const event = { name: "message", data: null };
  for (const line of block.split("\n")) {
    if (line.startsWith("event: ")) event.name = line.slice(7);
    else if (line.startsWith("data: ")) event.data = JSON.parse(line.slice(6));
  }
  return event;
}

function idFromLines(text) {
  const lines = text.split("\n");
  const err = lines.find((l) => l.startsWith("error:"));
  if (err) throw new ApiError(502, "start_failed", err.slice(6));
  const idLine = lines.find((l) => l.startsWith("id:"));
  if (!idLine) throw new ApiError(502, "start_failed", "The session did not start.");
  return Number(idLine.slice(3));
}

// The OpenAI-shaped error body of a response, as one line for people.
async function errorOf(res) {
  let code = "", message = "";
  try {
    const body = await res.json();
    code = body.error?.code || "";
    message = body.error?.message || "";
  } catch {
    message = res.statusText;
  }
  if (res.status === 429) {
    const retry = res.headers.get("Retry-After");
    message = "The server is busy (429)" + (retry ? `; retry in ${retry} s` : "") + ": " + message;
  } else if (code === "context_length_exceeded") {
    message = "The message does not fit the model's context: " + message;
  } else {
    message = `Error ${res.status}: ${message}`;
  }
  return new ApiError(res.status, code, message);
}
