// A small vendor-style chat widget for the svcbench sandbox. It talks to the sandbox chat API of
// the company given in ?company= (same origin as this frame) and renders events as bubbles in a
// role=log list: <div class="msg" data-author="bot|agent|system|visitor" data-kind=...>.
//
// Options (query string, or window.SVC_WIDGET_CONFIG when a loader writes this widget into an
// about:blank iframe): shadow=1 (render inside an open shadow root), lang=de, name/email
// (visitor), delay=ms (slow-loading launcher), open=1 (panel already open, no launcher), and the
// behaviours real widgets have (see the sandbox docs):
//   status=1      queue position and operator name in a header status line changed in place
//   optimistic=1  the visitor's message drawn twice as a draft, then replaced by the stored copy
//   poll=SECONDS  poll the events endpoint instead of a WebSocket push
//   opaque=1      author markers are numeric ids and hashed classes, not data-author
//   rerender=1    every update re-renders the whole message list (new elements, same text)
//   echo=0        never draw the visitor's own messages
//   hide=1        the conversation is drawn into a collapsed (invisible) container
//   api=ORIGIN    where the chat API is (default: this document's origin)
(() => {
  "use strict";
  const params = new URLSearchParams(window.SVC_WIDGET_CONFIG || location.search);
  const flag = (key) => params.get(key) === "1";
  const company = params.get("company") || "demo";
  const lang = params.get("lang") === "de" ? "de" : "en";
  const visitor = { name: params.get("name") || "Guest", email: params.get("email") || null };
  const origin = params.get("api") || location.origin;
  const api = `${origin}/c/${encodeURIComponent(company)}`;
  const pollEvery = Number(params.get("poll") || 0) * 1000;
  const statusMode = flag("status");
  const opaque = flag("opaque");

  const TEXT = {
    en: {
      open: "Open chat", close: "Close chat", title: "Chat with us", send: "Send",
      message: "Message", placeholder: "Type your message...",
      queue: (n) => `You are number ${n} in the queue.`,
      queueHtml: (n) => `You are number <b>${n}</b> in the queue`,
      wait: (w) => `Expected wait: ${w}.`,
      seconds: (n) => `${n} ${n === 1 ? "second" : "seconds"}`,
      minutes: (n) => `${n} ${n === 1 ? "minute" : "minutes"}`,
      joined: (name) => `${name} joined the chat`,
      chattingWith: (name) => `You are now chatting with ${name}`,
      connecting: "Connecting you with an operator...",
      ended: "The chat has ended.", lost: "Connection lost.", unavailable: "Chat is unavailable right now.",
      offline: "We're offline right now. Leave us a message and we'll get back to you by email.",
      name: "Your name", email: "Email", leave: "Leave a message",
    },
    de: {
      open: "Open chat", close: "Close chat", title: "Chatten Sie mit uns", send: "Senden",
      message: "Message", placeholder: "Ihre Nachricht...",
      queue: (n) => `Sie sind Nummer ${n} in der Warteschlange.`,
      queueHtml: (n) => `Sie sind Nummer <b>${n}</b> in der Warteschlange`,
      wait: (w) => `Wartezeit: ca. ${w}.`,
      seconds: (n) => `${n} Sekunden`,
      minutes: (n) => `${n} ${n === 1 ? "Minute" : "Minuten"}`,
      joined: (name) => `${name} ist dem Chat beigetreten`,
      chattingWith: (name) => `Sie chatten jetzt mit ${name}`,
      connecting: "Wir verbinden Sie mit einem Mitarbeiter...",
      ended: "Der Chat wurde beendet.", lost: "Verbindung unterbrochen.",
      unavailable: "Der Chat ist gerade nicht erreichbar.",
      offline: "Wir sind gerade nicht da. Hinterlassen Sie uns eine Nachricht.",
      name: "Ihr Name", email: "E-Mail", leave: "Nachricht hinterlassen",
    },
  }[lang];

  const formatWait = (s) => (s < 90 ? TEXT.seconds(Math.round(s)) : TEXT.minutes(Math.round(s / 60)));

  // -- DOM -------------------------------------------------------------------------------------
  let host = document.getElementById("chat-root");
  if (!host) {
    host = document.createElement("div");
    host.id = "chat-root";
    document.body.appendChild(host);
  }
  let root = host;
  const stylesheet = params.get("css") || "widget.css";
  if (flag("shadow")) {
    root = host.attachShadow({ mode: "open" });
  }
  if (flag("shadow") || params.get("css")) {
    const css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = stylesheet;
    root.appendChild(css);
  }
  const el = (tag, props = {}, ...children) => {
    const node = Object.assign(document.createElement(tag), props);
    node.append(...children);
    return node;
  };

  const launcher = el("button", { className: "launcher", type: "button" }, TEXT.open);
  const log = el("div", { className: opaque ? "c-9x2" : "log" });
  if (!opaque) {
    log.setAttribute("role", "log");
    log.setAttribute("aria-live", "polite");
  }
  const logBox = flag("hide") ? el("div", { className: "collapsed" }, log) : log;
  if (flag("hide")) logBox.style.display = "none";
  const input = el("textarea", { rows: 1, placeholder: TEXT.placeholder });
  input.setAttribute("aria-label", TEXT.message);
  const sendButton = el("button", { type: "submit" }, TEXT.send);
  const composer = el("form", { className: "composer" }, input, sendButton);
  const closeButton = el("button", { type: "button", textContent: "\u00d7" });
  closeButton.setAttribute("aria-label", TEXT.close);
  const status = el("span", { className: "status" });
  status.setAttribute("aria-live", "polite");
  const header = el("header", {}, el("span", { className: "title" }, TEXT.title), status, closeButton);
  const panel = el("section", { className: "panel", hidden: true }, header, logBox, composer);
  panel.setAttribute("aria-label", TEXT.title);

  const delay = Number(params.get("delay") || 0);
  setTimeout(() => {
    root.append(launcher, panel);
    if (flag("open")) openPanel();
  }, delay);

  // An icon-font ligature glyph (private-use code point), as real widgets put next to names.
  const ICON = { agent: "\ue7fd", bot: "\uea4b" };
  const OPAQUE_UID = { visitor: "1001", bot: "7", agent: "1042", system: "0" };

  // The widget's model: what it shows, re-rendered from scratch with rerender=1.
  const items = [];   // {key, author, kind, text, name, node}

  const draw = (item) => {
    const node = el("div");
    if (opaque) {
      node.className = `r-${(item.key.length * 7919 % 997).toString(36)} ${item.author === "visitor" ? "mine" : "theirs"}`;
      node.dataset.uid = OPAQUE_UID[item.author] || "0";
      if (item.author === "visitor") node.style.alignSelf = "flex-end";
      if (item.author === "system") node.style.alignSelf = "center";
    } else {
      node.className = `msg msg-${item.author}` + (item.draft ? " draft" : "");
      node.dataset.author = item.author;
      node.dataset.kind = item.kind;
    }
    if (item.name && (item.author === "agent" || item.author === "bot")) {
      node.append(el("span", { className: "author" },
        el("i", { className: "icon", ariaHidden: "true" }, ICON[item.author]), item.name));
    }
    node.append(el("span", { className: "text" }, item.text));
    item.node = node;
    return node;
  };

  const refresh = () => {
    if (flag("rerender")) {
      log.replaceChildren(...items.map(draw));
    }
    log.scrollTop = log.scrollHeight;
  };

  let drafts = 0;
  const add = (author, kind, text, name, extra = {}) => {
    if (author === "visitor" && params.get("echo") === "0") return null;
    const item = { key: extra.key || `d${++drafts}`, author, kind, text, name, draft: !!extra.draft };
    const before = extra.before || null;
    const index = before ? items.indexOf(before) : -1;
    if (index >= 0) items.splice(index, 0, item); else items.push(item);
    if (!flag("rerender")) {
      const node = draw(item);
      if (before && before.node && before.node.isConnected) log.insertBefore(node, before.node);
      else log.append(node);
    }
    refresh();
    return item;
  };

  const remove = (item) => {
    const index = items.indexOf(item);
    if (index >= 0) items.splice(index, 1);
    if (!flag("rerender") && item.node) item.node.remove();
  };

  const setStatus = (html) => {
    status.innerHTML = html;
  };

  // -- chat session ----------------------------------------------------------------------------
  let socket = null;
  let chat = null;
  let ended = false;
  let lastSeq = 0;
  const outbox = [];
  const seen = new Set();
  const pendingDrafts = [];   // [text, [draft items]] awaiting the stored copy

  // Servers often follow a structured queue/wait frame with the same news as a system text;
  // the widget shows its own localized line for the structured frame and skips that text.
  let announcedSeq = null;

  const render = (frame) => {
    if (frame.seq != null) {
      if (seen.has(frame.seq)) return;
      seen.add(frame.seq);
      lastSeq = Math.max(lastSeq, frame.seq);
    }
    const author = frame.author || {};
    const announced = announcedSeq;
    announcedSeq = null;
    switch (frame.type) {
      case "message": {
        if (author.kind === "system" && announced != null && frame.seq === announced + 1) break;
        const kind = author.kind || "system";
        if (kind === "visitor") {
          // the stored copy replaces the optimistic drafts of the same text
          const waiting = pendingDrafts.findIndex(([text]) => text === (frame.text || ""));
          if (waiting >= 0) {
            const [, draftItems] = pendingDrafts.splice(waiting, 1)[0];
            add(kind, "message", frame.text || "", author.name, { key: `s${frame.seq}`, before: draftItems[0] });
            draftItems.forEach(remove);
            if (statusMode && !agentShown) setStatus(TEXT.connecting);   // same render pass
            break;
          }
        }
        add(kind, "message", frame.text || "", author.name, { key: `s${frame.seq}` });
        break;
      }
      case "queue_position": {
        if (statusMode) { setStatus(TEXT.queueHtml(frame.position)); announcedSeq = frame.seq; break; }
        let line = TEXT.queue(frame.position);
        if (frame.wait_s != null) line += ` ${TEXT.wait(formatWait(frame.wait_s))}`;
        add("system", "queue_position", line, null, { key: `s${frame.seq}` });
        announcedSeq = frame.seq;
        break;
      }
      case "wait_estimate":
        if (statusMode) { announcedSeq = frame.seq; break; }   // the status line shows position only
        add("system", "wait_estimate", TEXT.wait(formatWait(frame.wait_s)), null, { key: `s${frame.seq}` });
        announcedSeq = frame.seq;
        break;
      case "agent_joined":
        if (statusMode) { agentShown = true; setStatus(TEXT.chattingWith(author.name || "an agent")); break; }
        add("system", "agent_joined", TEXT.joined(author.name || frame.text || "An agent"), null, { key: `s${frame.seq}` });
        break;
      case "chat_ended":
        finish(TEXT.ended);
        break;
      default:
        break;  // unknown frame types are ignored, like real widgets do
    }
  };
  let agentShown = false;

  const finish = (line) => {
    if (ended) return;
    ended = true;
    add("system", "chat_ended", line, null);
    input.disabled = true;
    sendButton.disabled = true;
  };

  const deliver = async (text) => {
    if (pollEvery) {
      try {
        await fetch(`${api}/api/chats/${encodeURIComponent(chat.chat_id)}/messages`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${chat.token}` },
          body: JSON.stringify({ text }),
        });
      } catch (err) { /* shown as never echoed */ }
      return true;
    }
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "message", text }));
      return true;
    }
    return false;
  };

  const flush = async () => {
    while (chat && outbox.length) {
      if (!(await deliver(outbox[0]))) return;
      outbox.shift();
    }
  };

  const poll = async () => {
    if (ended || !chat) return;
    try {
      const response = await fetch(`${api}/api/chats/${encodeURIComponent(chat.chat_id)}/events?after=${lastSeq}`,
        { headers: { authorization: `Bearer ${chat.token}` } });
      if (response.ok) {
        const body = await response.json();
        (body.events || []).forEach(render);
      } else if (response.status === 410 || response.status === 404) {
        finish(TEXT.lost);
        return;
      }
    } catch (err) { /* try again next time */ }
    setTimeout(poll, pollEvery);
  };

  const showOffline = () => {
    // the composer is replaced by a "leave a message" form; its first field is the name
    const nameField = el("input", { type: "text", name: "name", placeholder: TEXT.name });
    nameField.setAttribute("aria-label", TEXT.name);
    const emailField = el("input", { type: "email", name: "email", placeholder: TEXT.email });
    emailField.setAttribute("aria-label", TEXT.email);
    const note = el("textarea", { rows: 3, name: "message", placeholder: TEXT.message });
    const form = el("form", { className: "offline-form" },
      el("p", {}, TEXT.offline), nameField, emailField, note,
      el("button", { type: "submit" }, TEXT.leave));
    form.addEventListener("submit", (event) => { event.preventDefault(); form.replaceChildren(el("p", {}, "Thanks!")); });
    composer.replaceWith(form);
    logBox.hidden = true;
  };

  const showContactForm = () => {
    // a pre-chat contact form (no offline wording): its fields are not a chat composer
    const fields = ["Your name", "Email", "Your question"].map((label, i) => {
      const field = el(i === 2 ? "textarea" : "input", { name: ["name", "email", "question"][i] });
      if (i === 1) field.type = "email";
      field.setAttribute("aria-label", label);
      return field;
    });
    composer.replaceWith(el("form", { className: "contact-form" }, ...fields,
      el("button", { type: "button" }, "Start")));
  };

  const start = async () => {
    if (params.get("form") === "contact") { showContactForm(); return; }
    try {
      const state = await fetch(`${api}/api/status`);
      if (state.ok && (await state.json()).online === false) { showOffline(); return; }
      const response = await fetch(`${api}/api/chats`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ visitor }),
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      chat = await response.json();
    } catch (err) {
      add("system", "error", TEXT.unavailable, null);
      return;
    }
    if (pollEvery) {
      flush();
      poll();
      return;
    }
    const wsOrigin = origin.replace(/^http/, "ws");
    socket = new WebSocket(`${wsOrigin}/c/${encodeURIComponent(company)}` +
      `/ws/chats/${encodeURIComponent(chat.chat_id)}?token=${encodeURIComponent(chat.token)}`);
    socket.addEventListener("open", flush);
    socket.addEventListener("message", (event) => {
      try { render(JSON.parse(event.data)); } catch (err) { /* garbage frame: ignore */ }
    });
    socket.addEventListener("close", () => { if (!ended) finish(TEXT.lost); });
  };

  const openPanel = () => {
    launcher.hidden = true;
    panel.hidden = false;
    input.focus();
    if (!chat) start();
  };
  launcher.addEventListener("click", openPanel);
  window.addEventListener("message", (event) => {   // a loader on the host page opens us
    if (event.data === "svc-chat:open") openPanel();
  });

  closeButton.addEventListener("click", () => {
    panel.hidden = true;
    if (!flag("open")) launcher.hidden = false;
    if (chat && !ended) {
      fetch(`${api}/api/chats/${encodeURIComponent(chat.chat_id)}/close`, { method: "POST" });
    }
  });

  const submit = () => {
    const text = input.value.trim();
    if (!text || ended) return;
    input.value = "";
    if (flag("optimistic")) {
      // drawn at once, twice (two render passes), replaced when the server's copy arrives
      const first = add("visitor", "message", text, visitor.name, { draft: true });
      const entry = [text, first ? [first] : []];
      pendingDrafts.push(entry);
      setTimeout(() => {
        if (!pendingDrafts.includes(entry)) return;
        const second = add("visitor", "message", text, visitor.name, { draft: true });
        if (second) entry[1].push(second);
      }, 30);
    }
    outbox.push(text);
    flush();
  };
  composer.addEventListener("submit", (event) => { event.preventDefault(); submit(); });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); submit(); }
  });
})();
