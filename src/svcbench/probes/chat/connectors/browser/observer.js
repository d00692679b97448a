// svcbench chat observer: installed in every frame before the page's own scripts run.
//
// Until configured it only notes when each element first appeared (page clock) and watches
// every shadow root; configure() points it at the conversation (by CSS selectors, or learned
// from where our own question appears) and from then on every bubble and status-line change is
// reported to Python through the binding, once per message identity: an element that replaces
// a removed one with the same text (a re-render, the stored copy replacing an optimistic draft)
// is reported as a re-render of it, not as a new message.
(() => {
  if (window.__svcbench) return;
  const BINDING = "__BINDING__";
  const now = () => performance.timeOrigin + performance.now();
  const born = new WeakMap();
  const observed = new WeakSet();
  const roots = [];
  const reported = new WeakMap();     // element -> bubble id
  const reportedText = new WeakMap(); // element -> its normalized text when seen
  const keyed = new Map();            // id-like attribute value -> bubble id
  const pending = new Set();          // matching elements without visible text yet
  let removed = [];                   // recently removed bubbles: {id, norm, t}
  let cfg = null;
  let learned = null;                 // {log, question}
  let nextId = 1;
  const statusText = new Map();       // status element -> last text reported

  const PRIVATE = /[\ue000-\uf8ff]/g;
  const norm = (s) => (s || "").replace(PRIVATE, "").replace(/\s+/g, " ").trim().toLowerCase();
  const matches = (el, sel) => { try { return !!sel && el.matches(sel); } catch (e) { return false; } };
  const visible = (el) => !!el && el.getClientRects && el.getClientRects().length > 0;
  const textOf = (el, sel) => {
    let node = el;
    if (sel) { try { node = el.querySelector(sel); } catch (e) { node = null; } }
    if (!node) return "";
    return (node.innerText ?? node.textContent ?? "").trim();
  };
  const emit = (payload) => { try { window[BINDING](payload); } catch (e) { /* not exposed here */ } };

  // -- every element's first appearance, in every (shadow) root --------------------------------
  const mark = (node, t) => {
    if (node.nodeType !== 1 && node.nodeType !== 11) return;
    if (node.nodeType === 1 && !born.has(node)) born.set(node, t);
    const all = node.querySelectorAll ? node.querySelectorAll("*") : [];
    for (const el of all) {
      if (!born.has(el)) born.set(el, t);
      if (el.shadowRoot) watch(el.shadowRoot, t);
    }
    if (node.shadowRoot) watch(node.shadowRoot, t);
  };
  const deepAll = (selector) => {
    const out = [];
    for (const root of roots) {
      try { root.querySelectorAll(selector).forEach((el) => out.push(el)); } catch (e) { /* bad selector */ }
    }
    return out;
  };

  // -- bubbles -----------------------------------------------------------------------------------
  const logOf = (el) => {
    if (learned) {
      const log = learned.log;
      return el.parentElement === log || el.parentNode === log ? log : null;
    }
    if (!cfg || !cfg.messageSelector || !matches(el, cfg.messageSelector)) return null;
    if (cfg.logSelector) {
      const log = el.closest(cfg.logSelector);
      return log || null;
    }
    return el.parentElement;
  };
  const sideOf = (el, log) => {
    try {
      const range = document.createRange();
      range.selectNodeContents(el);
      const box = range.getBoundingClientRect();
      const host = log && log.getBoundingClientRect ? log : (log && log.host) || el.parentElement;
      const frame = host.getBoundingClientRect();
      if (!frame.width || !box.width) return null;
      const left = (box.left - frame.left) / frame.width;
      const right = (frame.right - box.right) / frame.width;
      return Math.round((left - right) * 100) / 100;   // > 0: towards the right
    } catch (e) { return null; }
  };
  const authorGuess = (el, text) => {
    if (cfg && cfg.authorNameSelector) return textOf(el, cfg.authorNameSelector) || null;
    for (const child of el.children) {
      const t = (child.innerText || "").trim();
      if (t && t.length <= 40 && norm(t) !== norm(text) && norm(text).startsWith(norm(t))) return t;
    }
    return null;
  };
  const identityKey = (el) => el.getAttribute("data-id") || el.getAttribute("data-message-id")
    || el.getAttribute("data-key") || el.getAttribute("data-msg-id") || el.id || null;

  const consider = (el, t) => {
    if (reported.has(el) || !el.isConnected) return;
    const log = logOf(el);
    if (!log) return;
    if (cfg && cfg.ignoreSelector && matches(el, cfg.ignoreSelector)) return;
    const full = textOf(el, null);
    const text = cfg && cfg.textSelector ? textOf(el, cfg.textSelector) : full;
    if (!text || !visible(el)) { pending.add(el); return; }
    pending.delete(el);
    const key = identityKey(el);
    const n = norm(text);
    let rerenderOf = null;
    if (key && keyed.has(key)) rerenderOf = keyed.get(key);
    if (rerenderOf === null) {
      const hit = removed.findIndex((r) => r.norm === n && t - r.t < 5000);
      if (hit >= 0) rerenderOf = removed.splice(hit, 1)[0].id;
    }
    const id = rerenderOf ?? nextId++;
    reported.set(el, id);
    reportedText.set(el, n);
    if (key) keyed.set(key, id);
    if (rerenderOf !== null) return;      // the same message drawn again: nothing new
    const attrs = {};
    for (const a of el.attributes) attrs[a.name] = a.value;
    const first = born.get(el) ?? t;
    emit({
      type: "bubble", id, t: Math.min(first, t), text, attrs, side: sideOf(el, log),
      author_name: authorGuess(el, text),
      rule_hits: (cfg && cfg.ruleSelectors || []).map((s) => s === null || matches(el, s)),
      url: location.href,
    });
  };

  const forget = (node, t) => {
    if (node.nodeType !== 1 && node.nodeType !== 11) return;
    const check = (el) => {
      const id = reported.get(el);
      if (id !== undefined && !el.isConnected) {
        removed.push({ id, norm: reportedText.get(el) || "", t });
        reported.delete(el);
      }
    };
    if (node.nodeType === 1) check(node);
    if (node.querySelectorAll) node.querySelectorAll("*").forEach(check);
  };

  const scanBubbles = (t) => {
    if (learned) {
      if (!learned.log.isConnected) relearn(t);
      if (learned) for (const el of learned.log.children) consider(el, t);
    } else if (cfg && cfg.messageSelector) {
      for (const el of deepAll(cfg.messageSelector)) consider(el, t);
    }
    for (const el of [...pending]) {
      if (!el.isConnected) pending.delete(el); else consider(el, t);
    }
  };

  // -- status lines (changed in place, not appended) -----------------------------------------
  const statusElements = () => {
    const found = new Set();
    if (cfg && cfg.statusSelector) deepAll(cfg.statusSelector).forEach((el) => found.add(el));
    if (cfg && cfg.genericStatus) {
      deepAll("[role=status], [aria-live]").forEach((el) => {
        const log = learned ? learned.log : null;
        if (el.getAttribute("role") === "log") return;
        if (log && (el === log || (el.contains && el.contains(log)) || (log.contains && log.contains(el)))) return;
        if (cfg.logSelector && (matches(el, cfg.logSelector) || el.closest(cfg.logSelector))) return;
        if ((el.innerText || "").length > 300) return;
        found.add(el);
      });
    }
    return found;
  };
  const scanStatus = (t) => {
    if (!cfg) return;
    for (const el of statusElements()) {
      const text = visible(el) ? (el.innerText || "").trim() : "";
      if (statusText.get(el) === text) continue;
      statusText.set(el, text);
      if (text) emit({ type: "status", t, text, url: location.href, tag: el.tagName.toLowerCase() });
    }
  };

  // -- mutations -------------------------------------------------------------------------------
  const onMutations = (mutations) => {
    const t = now();
    const cutoff = t - 5000;
    removed = removed.filter((r) => r.t >= cutoff);
    for (const m of mutations) m.removedNodes.forEach((n) => forget(n, t));
    for (const m of mutations) m.addedNodes.forEach((n) => mark(n, t));
    if (cfg) { scanStatus(t); scanBubbles(t); }   // "joined" before the reply it came with
  };
  const watch = (root, t) => {
    if (observed.has(root)) return;
    observed.add(root);
    roots.push(root);
    new MutationObserver(onMutations).observe(root, {
      childList: true, subtree: true, characterData: true,
      attributes: true, attributeFilter: ["style", "class", "hidden"],
    });
    if (root !== document) mark(root, t);
  };
  const attachShadow = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (init) {
    const shadow = attachShadow.call(this, init);
    try { watch(shadow, now()); } catch (e) { /* never break the page */ }
    return shadow;
  };
  watch(document, now());
  if (document.documentElement) mark(document.documentElement, now());

  // -- discovery -------------------------------------------------------------------------------
  const WORDS = __WORDS__;
  const re = (s) => new RegExp(s, "i");
  const CHAT = re(WORDS.launcher), MESSAGE = re(WORDS.composer), NOT_COMPOSER = re(WORDS.not_composer);
  const OFFLINE = re(WORDS.offline);
  const label = (el) => [el.getAttribute("aria-label"), el.getAttribute("placeholder"),
    el.getAttribute("title"), el.getAttribute("name"), el.id,
    el.labels && el.labels[0] && el.labels[0].innerText].filter(Boolean).join(" ");
  const isTextField = (el) => el.matches("textarea, [contenteditable=''], [contenteditable=true], " +
    "input:not([type]), input[type=text], input[type=email], input[type=tel], input[type=search]");

  const describe = (el) => {
    const form = el.closest("form");
    const fields = form ? [...form.querySelectorAll("input, textarea, select")]
      .filter((f) => visible(f) && f.type !== "hidden" && f.type !== "submit") : [];
    return {
      tag: el.tagName.toLowerCase(), type: el.getAttribute("type"), name: el.getAttribute("name"),
      id: el.id || null, autocomplete: el.getAttribute("autocomplete"), label: label(el),
      form_fields: fields.length, required: el.required || el.getAttribute("aria-required") === "true",
      form_fields_labels: fields.map(label).slice(0, 6),
    };
  };
  const composerScore = (el) => {
    const d = describe(el);
    let score = 0;
    if (MESSAGE.test(d.label)) score += 3;
    if (d.tag === "textarea" || d.tag !== "input") score += 1;
    if (d.type === "email" || d.type === "tel" || /name|email|tel/i.test(d.autocomplete || "")) score -= 6;
    if (NOT_COMPOSER.test(d.label) && !MESSAGE.test(d.label)) score -= 6;
    if (d.form_fields > 2) score -= 2;
    if (d.form_fields_labels.some((l) => l !== d.label && NOT_COMPOSER.test(l))) score -= 6;
    return score;
  };
  const findComposer = () => {
    const candidates = deepAll("textarea, [contenteditable=''], [contenteditable=true], input")
      .filter((el) => visible(el) && isTextField(el) && !el.disabled && !el.readOnly);
    let best = null, bestScore = -Infinity;
    for (const el of candidates) {
      const s = composerScore(el);
      if (s > bestScore) { best = el; bestScore = s; }
    }
    return best;
  };
  const findLaunchers = () => {
    const candidates = deepAll("button, [role=button], a[href], [tabindex], svc-chat-launcher")
      .filter(visible);
    const out = [];
    for (const el of candidates) {
      const name = [el.getAttribute("aria-label"), el.getAttribute("title"), (el.innerText || "").slice(0, 80)]
        .filter(Boolean).join(" ").trim();
      let score = CHAT.test(name) ? 3 : 0;
      const box = el.getBoundingClientRect();
      let fixed = false;
      for (let p = el; p && p.nodeType === 1; p = p.parentElement || (p.getRootNode && p.getRootNode().host)) {
        if (getComputedStyle(p).position === "fixed") { fixed = true; break; }
      }
      if (fixed && box.right > innerWidth * 0.6 && box.bottom > innerHeight * 0.6) score += 2;
      if (el.matches("a[href]")) score -= 1;
      if (el.closest("nav, header, footer, main, article")) score -= 2;
      if (score > 0) out.push({ element: el, score, label: name.slice(0, 60) || el.tagName.toLowerCase() });
    }
    out.sort((a, b) => b.score - a.score);
    return out.slice(0, 5);
  };
  const pageState = () => {
    const composer = findComposer();
    // offline wording counts only where a widget is: a widget's own frame, or a fixed overlay
    // (and shadow roots) on the host page; never the shop's ordinary text
    const overlay = (el) => {
      for (let p = el; p && p.nodeType === 1; p = p.parentElement) {
        if (getComputedStyle(p).position === "fixed") return true;
      }
      return false;
    };
    let text = "";
    if (window !== window.top) {
      text = (document.body && document.body.innerText || "").slice(0, 4000);
    } else {
      const parts = [];
      if (document.body) for (const el of document.body.querySelectorAll("*")) {
        if (getComputedStyle(el).position === "fixed") parts.push(el.innerText || "");
        if (parts.length > 20) break;
      }
      for (const root of roots) if (root !== document) parts.push(root.host && root.textContent || "");
      text = parts.join("\n").slice(0, 4000);
    }
    const forms = deepAll("form").filter((f) => visible(f)
      && (window !== window.top || overlay(f) || f.getRootNode() !== document)).map((f) => ({
      text: (f.innerText || "").slice(0, 300),
      fields: [...f.querySelectorAll("input, textarea")].filter(visible).map(describe),
    }));
    return {
      url: location.href,
      composer: composer ? { ...describe(composer), score: composerScore(composer) } : null,
      offline_text: (text.match(OFFLINE) || [null])[0],
      forms,
      log_candidates: deepAll("[role=log], [aria-live]").filter(visible).length,
    };
  };

  const deepest = (target) => {
    let best = null, bestLength = Infinity;
    for (const root of roots) {
      for (const el of root.querySelectorAll("*")) {
        if (el.matches("script, style, textarea, input") || !visible(el)) continue;
        const length = norm(el.innerText).length;
        if (length < target.length || length > bestLength) continue;
        if (!norm(el.innerText).includes(target)) continue;
        best = el;
        bestLength = length;
      }
    }
    return best;
  };
  const LOGLIKE = /messages|conversation|chat-?log|thread|transcript|history/i;
  const logLike = (el) => {
    if (!el || el.nodeType !== 1) return false;
    if (el.getAttribute("role") === "log" || el.hasAttribute("aria-live")) return true;
    const style = getComputedStyle(el);
    return /(auto|scroll)/.test(style.overflowY) || LOGLIKE.test(String(el.className || ""));
  };
  const learnFrom = (question) => {
    const target = norm(question);
    if (!target) return null;
    let item = deepest(target);
    if (!item) return null;
    const composer = findComposer();
    const grows = (el) => norm(el.innerText).length > target.length + 120;
    while (item.parentElement && !logLike(item.parentElement) && !grows(item.parentElement)
           && !(composer && item.parentElement.contains(composer))
           && item.parentElement.children.length === 1) {
      item = item.parentElement;
    }
    const log = item.parentElement || item.parentNode;
    if (!log || (composer && log.contains && log.contains(composer) && !logLike(log))) return null;
    return { log, question: target };
  };
  const relearn = (t) => {
    const again = learned && learnFrom(learned.question);
    learned = again || null;
  };

  window.__svcbench = {
    configure(config) {
      cfg = config;
      const t = now();
      scanBubbles(t);
      scanStatus(t);
      return true;
    },
    learn(question) {
      if (learned && learned.log.isConnected) return true;
      const found = learnFrom(question);
      if (!found) return false;
      learned = found;
      cfg = cfg || {};
      const t = now();
      scanBubbles(t);
      scanStatus(t);
      return true;
    },
    learnedLog() {
      if (!learned) return null;
      const log = learned.log;
      return { tag: log.tagName ? log.tagName.toLowerCase() : "#shadow-root",
               id: log.id || null, cls: log.className || null, role: log.getAttribute ? log.getAttribute("role") : null,
               children: log.children.length };
    },
    findComposer, findLaunchers, pageState, describe,
    contains(text) {
      const target = norm(text);
      return roots.some((root) => {
        const node = root === document ? document.body : root;
        return node && norm(node.innerText ?? node.textContent).includes(target);
      });
    },
    facts(selectors, globals) {
      const scripts = [...document.scripts].map((s) => s.src).filter(Boolean);
      const frames = [...document.querySelectorAll("iframe")].map((f) =>
        [f.src, f.id, f.name, f.title].filter(Boolean).join(" "));
      const hits = selectors.filter((s) => deepAll(s).length > 0);
      const present = globals.filter((g) => {
        let v = window;
        for (const part of g.split(".")) { if (v == null) return false; v = v[part]; }
        return v !== undefined && v !== null;
      });
      return { scripts, frames, selectors: hits, globals: present, url: location.href };
    },
    dump() {
      const parts = [];
      for (const root of roots) {
        const node = root === document ? document.documentElement : root;
        if (!node) continue;
        parts.push(root === document ? node.outerHTML
          : `<!-- shadow root of <${root.host.tagName.toLowerCase()}> -->` + root.innerHTML);
      }
      return parts.join("\n");
    },
  };
})();
