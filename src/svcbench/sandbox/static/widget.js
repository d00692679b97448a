// A small vendor-style chat widget for the svcbench sandbox. It talks to the sandbox chat API of
// the company given in ?company= (same origin as this frame) and renders every pushed event as a
// bubble in a role=log list: <div class="msg" data-author="bot|agent|system|visitor" data-kind=...>.
// Query options: shadow=1 (render inside an open shadow root), lang=de, name/email (visitor),
// delay=ms (slow-loading launcher).
(() => {
  "use strict";
  const params = new URLSearchParams(location.search);
  const company = params.get("company") || "demo";
  const lang = params.get("lang") === "de" ? "de" : "en";
  const visitor = { name: params.get("name") || "Guest", email: params.get("email") || null };
  const api = `${location.origin}/c/${encodeURIComponent(company)}`;

  const TEXT = {
    en: {
      open: "Open chat", close: "Close chat", title: "Chat with us", send: "Send",
      message: "Message", placeholder: "Type your message...",
      queue: (n) => `You are number ${n} in the queue.`,
      wait: (w) => `Expected wait: ${w}.`,
      seconds: (n) => `${n} ${n === 1 ? "second" : "seconds"}`,
      minutes: (n) => `${n} ${n === 1 ? "minute" : "minutes"}`,
      joined: (name) => `${name} joined the chat`,
      ended: "The chat has ended.", lost: "Connection lost.", unavailable: "Chat is unavailable right now.",
    },
    de: {
      open: "Open chat", close: "Close chat", title: "Chatten Sie mit uns", send: "Senden",
      message: "Message", placeholder: "Ihre Nachricht...",
      queue: (n) => `Sie sind Nummer ${n} in der Warteschlange.`,
      wait: (w) => `Wartezeit: ca. ${w}.`,
      seconds: (n) => `${n} Sekunden`,
      minutes: (n) => `${n} ${n === 1 ? "Minute" : "Minuten"}`,
      joined: (name) => `${name} ist dem Chat beigetreten`,
      ended: "Der Chat wurde beendet.", lost: "Verbindung unterbrochen.",
      unavailable: "Der Chat ist gerade nicht erreichbar.",
    },
  }[lang];

  const formatWait = (s) => (s < 90 ? TEXT.seconds(Math.round(s)) : TEXT.minutes(Math.round(s / 60)));

  // -- DOM -------------------------------------------------------------------------------------
  const host = document.getElementById("chat-root");
  let root = host;
  if (params.get("shadow") === "1") {
    root = host.attachShadow({ mode: "open" });
    const css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = "widget.css";
    root.appendChild(css);
  }
  const el = (tag, props = {}, ...children) => {
    const node = Object.assign(document.createElement(tag), props);
    node.append(...children);
    return node;
  };

  const launcher = el("button", { className: "launcher", type: "button" }, TEXT.open);
  const log = el("div", { className: "log" });
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  const input = el("textarea", { rows: 1, placeholder: TEXT.placeholder });
  input.setAttribute("aria-label", TEXT.message);
  const sendButton = el("button", { type: "submit" }, TEXT.send);
  const form = el("form", { className: "composer" }, input, sendButton);
  const closeButton = el("button", { type: "button", textContent: "\u00d7" });
  closeButton.setAttribute("aria-label", TEXT.close);
  const panel = el("section", { className: "panel", hidden: true },
    el("header", {}, el("span", {}, TEXT.title), closeButton), log, form);
  panel.setAttribute("aria-label", TEXT.title);

  const delay = Number(params.get("delay") || 0);
  setTimeout(() => root.append(launcher, panel), delay);

  // An icon-font ligature glyph (private-use code point), as real widgets put next to names.
  const ICON = { agent: "\ue7fd", bot: "\uea4b" };

  const bubble = (author, kind, text, name) => {
    const node = el("div", { className: `msg msg-${author}` });
    node.dataset.author = author;
    node.dataset.kind = kind;
    if (name && (author === "agent" || author === "bot")) {
      node.append(el("span", { className: "author" },
        el("i", { className: "icon", ariaHidden: "true" }, ICON[author]), name));
    }
    node.append(el("span", { className: "text" }, text));
    log.append(node);
    log.scrollTop = log.scrollHeight;
  };

  // -- chat session ----------------------------------------------------------------------------
  let socket = null;
  let chat = null;
  let ended = false;
  const outbox = [];
  const seen = new Set();

  // Servers often follow a structured queue/wait frame with the same news as a system text;
  // the widget shows its own localized line for the structured frame and skips that text.
  let announcedSeq = null;

  const render = (frame) => {
    if (frame.seq != null) {
      if (seen.has(frame.seq)) return;
      seen.add(frame.seq);
    }
    const author = frame.author || {};
    const announced = announcedSeq;
    announcedSeq = null;
    switch (frame.type) {
      case "message":
        if (author.kind === "system" && announced != null && frame.seq === announced + 1) break;
        bubble(author.kind || "system", "message", frame.text || "", author.name);
        break;
      case "queue_position": {
        let line = TEXT.queue(frame.position);
        if (frame.wait_s != null) line += ` ${TEXT.wait(formatWait(frame.wait_s))}`;
        bubble("system", "queue_position", line);
        announcedSeq = frame.seq;
        break;
      }
      case "wait_estimate":
        bubble("system", "wait_estimate", TEXT.wait(formatWait(frame.wait_s)));
        announcedSeq = frame.seq;
        break;
      case "agent_joined":
        bubble("system", "agent_joined", TEXT.joined(author.name || frame.text || "An agent"));
        break;
      case "chat_ended":
        finish(TEXT.ended);
        break;
      default:
        break;  // unknown frame types are ignored, like real widgets do
    }
  };

  const finish = (line) => {
    if (ended) return;
    ended = true;
    bubble("system", "chat_ended", line);
    input.disabled = true;
    sendButton.disabled = true;
  };

  const flush = () => {
    while (socket && socket.readyState === WebSocket.OPEN && outbox.length) {
      socket.send(JSON.stringify({ type: "message", text: outbox.shift() }));
    }
  };

  const start = async () => {
    try {
      const response = await fetch(`${api}/api/chats`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ visitor }),
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      chat = await response.json();
    } catch (err) {
      bubble("system", "error", TEXT.unavailable);
      return;
    }
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/c/${encodeURIComponent(company)}` +
      `/ws/chats/${encodeURIComponent(chat.chat_id)}?token=${encodeURIComponent(chat.token)}`);
    socket.addEventListener("open", flush);
    socket.addEventListener("message", (event) => {
      try { render(JSON.parse(event.data)); } catch (err) { /* garbage frame: ignore */ }
    });
    socket.addEventListener("close", () => { if (!ended) finish(TEXT.lost); });
  };

  launcher.addEventListener("click", () => {
    launcher.hidden = true;
    panel.hidden = false;
    input.focus();
    if (!chat) start();
  });

  closeButton.addEventListener("click", () => {
    panel.hidden = true;
    launcher.hidden = false;
    if (chat && !ended) {
      fetch(`${api}/api/chats/${encodeURIComponent(chat.chat_id)}/close`, { method: "POST" });
    }
  });

  const submit = () => {
    const text = input.value.trim();
    if (!text || ended) return;
    input.value = "";
    outbox.push(text);
    flush();
  };
  form.addEventListener("submit", (event) => { event.preventDefault(); submit(); });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); submit(); }
  });
})();
