"""Shop pages imitating how known vendors' widgets sit on a page, for testing recognition.

Each imitation reproduces only the outside of a vendor's embed as public sources describe it
(the loader script's URL, the globals it defines, its container and iframe ids, its JS API
for opening), written independently of the recipe files; inside is the sandbox widget with
one of its real-widget behaviours. ``/vendor-cdn/<host>/<path>`` serves an empty stand-in for
the loader script, so script URLs read like the real ones.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping

#: vendor -> (loader script path, page script defining globals + containers, widget options)
IMITATIONS: dict[str, dict[str, str]] = {
    "intercom": {
        "script": "widget.intercom.io/widget/abc123",
        "inner": "opaque=1",
        "setup": """
window.intercomSettings = { app_id: "abc123" };
const frame = embed("intercom-container", "iframe",
                    { name: "intercom-messenger-frame", title: "Intercom live chat" });
window.Intercom = function (command) { if (command === "show") open(frame); };
""",
    },
    "zendesk-messaging": {
        "script": "static.zdassets.com/ekr/snippet.js?key=k1",
        "script_id": "ze-snippet",
        "inner": "status=1",
        "setup": """
const frame = embed(null, "iframe", { title: "Messaging window" });
window.zE = function (scope, action) {
  if (scope === "messenger" && action === "open") open(frame);
};
""",
    },
    "livechat": {
        "script": "cdn.livechatinc.com/tracking.js",
        "inner": "optimistic=1",
        "setup": """
window.__lc = { license: 123 };
const frame = embed("chat-widget-container", "iframe",
                    { id: "chat-widget", title: "LiveChat chat widget" });
const state = { availability: OFFLINE ? "offline" : "online", visibility: "minimized" };
window.LiveChatWidget = {
  call(method) { if (method === "maximize") open(frame); },
  get(what) { return what === "state" ? state : null; },
};
""",
    },
    "tawkto": {
        "script": "embed.tawk.to/5f95a8362915ea4ba0968cb8/default",
        "inner": "rerender=1",
        "setup": """
window.Tawk_API = window.Tawk_API || {};
const frame = embed("tawkchat-container", "iframe", { title: "chat widget" });
Tawk_API.maximize = () => open(frame);
Tawk_API.getStatus = () => (OFFLINE ? "offline" : "online");
""",
    },
    "crisp": {
        "script": "client.crisp.chat/l.js",
        "inner": "",
        "setup": """
window.CRISP_WEBSITE_ID = "b8f9b119";
window.$crisp = [];
const box = document.createElement("div");
box.className = "crisp-client";
box.innerHTML = '<div id="crisp-chatbox"><div id="chat-root"></div></div>';
document.body.appendChild(box);
window.SVC_WIDGET_CONFIG = INNER_QUERY;
const script = document.createElement("script");
script.src = "/static/widget.js";
document.body.appendChild(script);
$crisp.push = (command) => {
  if (command[0] === "do" && command[1] === "chat:open") window.postMessage("svc-chat:open", "*");
};
$crisp.is = (what) => (what === "website:available" ? !OFFLINE : undefined);
""",
    },
    "chatwoot": {
        "script": "/packs/js/sdk.js",
        "inner": "poll=1.0",
        "setup": """
window.chatwootSettings = { position: "right" };
const holder = document.createElement("div");
holder.className = "woot-widget-holder";
document.body.appendChild(holder);
const frame = embed(null, "iframe", { id: "chatwoot_live_chat_widget" }, holder);
window.chatwootSDK = { run() {} };
window.$chatwoot = { toggle(state) { if (state === "open") open(frame); } };
""",
    },
    "hubspot": {
        "script": "js.hs-scripts.com/4242.js",
        "inner": "",
        "setup": """
const frame = embed("hubspot-messages-iframe-container", "iframe",
                    { id: "hubspot-conversations-iframe", title: "Chat Widget" });
window.HubSpotConversations = { widget: { open() { open(frame); } } };
""",
    },
    "gorgias": {
        "script": "config.gorgias.chat/bundle-loader/01J5V1J9ZV",
        "inner": "status=1&optimistic=1",
        "setup": """
const frame = embed("gorgias-chat-container", "iframe",
                    { id: "chat-window", title: "Gorgias live chat messenger" });
window.GorgiasChat = { init: () => Promise.resolve(), open() { open(frame); } };
""",
    },
}

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{company} - Online shop</title>
<style>body {{ margin: 0; font: 15px/1.45 system-ui, sans-serif; }} header {{ background: #1d3557;
color: #fff; padding: 14px 28px; }} main {{ padding: 24px 28px; }}
.chat-frame {{ position: fixed; right: 16px; bottom: 16px; width: 380px; height: 560px;
               border: 0; }}
.crisp-client {{ position: fixed; right: 16px; bottom: 16px; width: 380px; height: 560px; }}
</style>
<script{script_id} src="/vendor-cdn/{script}" async></script>
</head><body>
<header><h1>{company}</h1><nav><a href="#">Shop</a> <a href="#">Contact</a></nav></header>
<main><p>Spring offers. Questions? Our team is happy to help in the chat.</p></main>
<script>
(() => {{
  const OFFLINE = {offline};
  const INNER_QUERY = {inner_query};
  const embed = (containerId, tag, attrs, parent) => {{
    let holder = parent || document.body;
    if (containerId) {{
      holder = document.createElement("div");
      holder.id = containerId;
      document.body.appendChild(holder);
    }}
    const frame = document.createElement(tag);
    Object.entries(attrs).forEach(([k, v]) => frame.setAttribute(k, v));
    frame.className = "chat-frame";
    frame.src = "/static/widget.html?" + INNER_QUERY;
    holder.appendChild(frame);
    return frame;
  }};
  const open = (frame) => frame.contentWindow.postMessage("svc-chat:open", "*");
  {setup}
}})();
</script>
</body></html>
"""


def imitation_html(vendor: str, company: str, query: Mapping[str, str]) -> str | None:
    """The shop page for ``company`` embedding the ``vendor`` imitation, or None."""
    spec = IMITATIONS.get(vendor)
    if spec is None:
        return None
    inner = f"company={company}" + (f"&{spec['inner']}" if spec["inner"] else "")
    extra = query.get("inner")
    if extra:
        inner += "&" + extra
    if vendor == "crisp":
        inner += "&css=/static/widget.css"
    script = spec["script"].lstrip("/")
    return PAGE.format(
        company=html.escape(company), script=html.escape(script, quote=True),
        script_id=f' id="{spec["script_id"]}"' if spec.get("script_id") else "",
        offline="true" if query.get("offline") == "1" else "false",
        inner_query=json.dumps(inner), setup=spec["setup"])
