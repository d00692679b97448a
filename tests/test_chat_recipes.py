"""Widget recipes: the data files, recognition from page facts, key-by-key override, and
recognition plus a whole conversation on sandbox imitations of vendors' embeds (real Chromium).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from svcbench.errors import ConfigError
from svcbench.plugins import Secrets
from svcbench.probes.chat.connector import AnchoredClock, Visitor
from svcbench.probes.chat.connectors.browser import BrowserConnector, BrowserOptions, recipes
from svcbench.sandbox.chat import ChatBehaviour, ChatSandbox
from svcbench.sandbox.imitations import IMITATIONS

REQUIRED = {"intercom", "zendesk-classic", "zendesk-messaging", "livechat", "tawkto", "crisp",
            "freshchat", "tidio", "drift", "hubspot", "helpscout-beacon", "gorgias",
            "zoho-salesiq", "olark", "chatwoot", "rocketchat", "tiledesk",
            "salesforce-embedded", "comm100", "liveperson"}
QUESTION = "Hi, do you ship to Norway and how long does it take?"


def test_every_required_widget_has_a_recipe_saying_what_it_was_verified_against():
    found = recipes.builtin_recipes()
    assert set(found) >= REQUIRED
    for recipe in found.values():
        assert recipe.verified_against and all(len(s) > 20 for s in recipe.verified_against)
        assert recipe.detect.scripts or recipe.detect.globals
        BrowserOptions.model_validate({"url": "http://127.0.0.1/", **recipe.options})


def test_a_bad_recipe_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match=r"recipe x.toml: options: .*unknown browser option"):
        recipes._load_one("x.toml", 'name = "x"\ntitle = "X"\nverified_against = ["a source '
                                    'long enough"]\nverified = "y"\n[detect]\nglobals = ["X"]\n'
                                    '[options]\nno_such_key = 1\n')
    with pytest.raises(ConfigError, match="recipe y.toml"):
        recipes._load_one("y.toml", "name = [")


@pytest.mark.parametrize(("facts", "expected"), [
    ({"scripts": ["https://widget.intercom.io/widget/x1"], "globals": ["Intercom"]}, "intercom"),
    ({"scripts": ["https://static.zdassets.com/ekr/snippet.js?key=1"], "globals": ["zE"]},
     "zendesk-messaging"),
    ({"scripts": ["https://static.zdassets.com/ekr/snippet.js?key=1"],
      "globals": ["zE", "zESettings"], "selectors": ["iframe#webWidget"]}, "zendesk-classic"),
    ({"scripts": ["https://cdn.livechatinc.com/tracking.js"]}, "livechat"),
    ({"globals": ["$zoho.salesiq"], "selectors": ["#zsiqwidget"]}, "zoho-salesiq"),
    ({"frames": ["https://x.example/ hubspot-conversations-iframe"]}, "hubspot"),
    ({"scripts": ["https://example.org/app.js"], "globals": ["jQuery"]}, None),
])
def test_recognition_from_page_facts(facts, expected):
    ranked = recipes.recognise(facts)
    assert (ranked[0][0].name if ranked else None) == expected


def test_recipe_keys_are_overridden_one_by_one():
    recipe = recipes.get("gorgias")
    mine = BrowserOptions(url="http://127.0.0.1/", open_js="window.myOpen()")
    merged = recipes.apply(recipe, mine)
    assert merged.open_js == "window.myOpen()"                       # ours
    assert merged.frame_selector == recipe.options["frame_selector"]  # the recipe's
    with pytest.raises(ConfigError, match="unknown chat recipe 'nope'"):
        recipes.get("nope")


def test_recipe_data_files_parse_as_plain_toml():
    folder = Path(recipes.__file__).resolve().parents[4] / "data" / "chat_recipes"
    names = {tomllib.loads(p.read_text())["name"] for p in folder.glob("*.toml")}
    assert names == set(recipes.builtin_recipes())


# -- imitations in real Chromium ----------------------------------------------------------------

@pytest.fixture(scope="module")
def sandbox():
    behaviour = {"bot_reply_after": 0.25, "queue_positions": [(0.4, 2)],
                 "agent_joined_after": 1.5, "agent_reply_after": 0.3}
    companies = {"shop": ChatBehaviour(**behaviour),
                 "closed": ChatBehaviour(**behaviour, offline=True)}
    with ChatSandbox(companies) as running:
        yield running


def make(url: str, **options) -> BrowserConnector:
    return BrowserConnector({"url": url, **options}, clock=AnchoredClock(), secrets=Secrets({}),
                            visitor=Visitor("Guest"))


def test_each_imitation_is_recognised_as_its_vendor(browser_loop, sandbox):
    async def recognise(vendor: str) -> tuple[str | None, list]:
        chat = make(f"{sandbox.base_url}/c/shop/imitate/{vendor}")
        try:
            report = await chat.inspect()
        finally:
            await chat.close()
        return report["recipe"], report

    for vendor in IMITATIONS:
        name, report = browser_loop.run(recognise(vendor))
        assert name == vendor, report
        assert report["ready"], report                    # opened and a composer found


@pytest.mark.parametrize("vendor", ["intercom", "zendesk-messaging", "crisp"])
def test_config_of_only_connector_and_url_measures_a_recipe_widget(browser_loop, sandbox,
                                                                   vendor):
    from svcbench.config import ChatScript
    from svcbench.probes.chat.script import run_chat

    script = ChatScript(greeting_wait_s=0.3, ask_human_after_bot_turns=0, close_text=None,
                        connect_timeout_s=40, first_reply_timeout_s=8, human_timeout_s=10)
    chat = make(f"{sandbox.base_url}/c/shop/imitate/{vendor}")
    run = browser_loop.run(run_chat(chat, script, QUESTION, clock=chat.clock))
    assert chat.recipe is not None and chat.recipe.name == vendor
    assert run.outcome.value == "answered", run.reason
    kinds = [e.kind for e in run.events]
    for kind in ("chat.queue_position", "chat.agent_joined"):
        assert kind in kinds, (vendor, kinds)
    said = [(e.data["actor"], e.data["text"]) for e in run.events if e.kind == "chat.message"]
    assert said.count(("visitor", QUESTION)) == 1
    assert said[0][0] == "bot" and said[-1][0] == "agent"
    replies = [e for e in run.events if e.kind == "chat.message" and e.data["actor"] != "visitor"
               and e.data.get("role") != "greeting"]
    assert replies[0].data["actor"] == "bot"              # first reply, then first human reply


def test_vendor_api_saying_offline_is_unavailable(browser_loop, sandbox):
    from svcbench.config import ChatScript
    from svcbench.probes.chat.script import run_chat

    chat = make(f"{sandbox.base_url}/c/closed/imitate/tawkto?offline=1")
    run = browser_loop.run(run_chat(chat, ChatScript(connect_timeout_s=40), QUESTION,
                                    clock=chat.clock))
    assert run.outcome.value == "unavailable"
    assert "reports it is offline" in run.reason


# -- svcbench chat inspect ----------------------------------------------------------------------

def test_chat_inspect_reports_recipe_findings_snippet_and_dumps(sandbox, tmp_path, cli):
    import json

    url = f"{sandbox.base_url}/c/shop/imitate/gorgias"
    before = len(sandbox.chats("shop"))
    result = cli("chat", "inspect", url, "--json", "--dump-dir", str(tmp_path / "dump"))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["recipe"] == "gorgias" and report["ready"] is True
    assert report["recognition"][0]["why"][0].startswith("script ")
    assert report["found"]["launcher"].startswith("js: ")
    assert "textarea" in report["found"]["composer"]
    assert 'connector = "browser"' in report["snippet"] and url in report["snippet"]
    assert (tmp_path / "dump" / "screenshot.png").read_bytes()[:4] == b"\x89PNG"
    dom = (tmp_path / "dump" / "dom.html").read_text()
    assert "gorgias-chat-container" in dom and "Type your message" in dom
    network = json.loads((tmp_path / "dump" / "network.json").read_text())
    assert any("/api/chats" in r["url"] for r in network["records"])
    opened = sandbox.chats("shop")[before:]
    assert opened and all(chat.first_message_at is None for chat in opened)   # nothing said

    offline = cli("chat", "inspect", f"{sandbox.base_url}/c/closed/widget",
                  "--dump-dir", str(tmp_path / "off"))
    assert offline.returncode == 1
    assert "unavailable" in offline.stdout and "offline form" in offline.stdout


def test_chat_inspect_rejects_a_bad_url_in_one_line(cli):
    result = cli("chat", "inspect", "ftp://example.org/")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "not an http(s) URL" in result.stderr
