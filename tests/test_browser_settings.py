"""The shared Chromium's launch flags, and the workspace keys for browser contexts and the
start window (docs/scale.md)."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta

import pytest

from browserloop import needs_chromium
from svcbench import browser as pool
from svcbench.config import load_config
from svcbench.errors import ConfigError
from svcbench.schedule import Ticker
from svcbench.workspace import Workspace


def _set_workspace_keys(root, text: str) -> None:
    path = root / "svcbench.toml"
    path.write_text(path.read_text().replace("[workspace]", "[workspace]\n" + text, 1))


def _browser_processes() -> dict[int, list[str]]:
    """Chromium browser processes under this test process (not a /bin/sh wrapper): argv."""
    from pathlib import Path

    parents, argvs = {}, {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text()
                                      .rsplit(")", 1)[1].split()[1])
            argvs[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes().replace(
                b"\0", b" ").decode(errors="replace").split()
        except (OSError, IndexError, ValueError):
            continue

    def mine(pid: int) -> bool:
        while pid > 1 and pid in parents:
            if pid == os.getpid():
                return True
            pid = parents[pid]
        return False

    return {pid: argv for pid, argv in argvs.items() if mine(pid) and pid != os.getpid()
            and "--remote-debugging-pipe" in argv and not argv[0].endswith("sh")
            and not any(a.startswith("--type=") for a in argv)}


async def _command_line_and_targets(executable: str) -> tuple[list[str], list[dict]]:
    others = _browser_processes()     # e.g. a session browser of other tests
    shared = pool.SharedBrowser(1, headless=True)
    browser = await shared.acquire(executable)
    try:
        context = await browser.new_context()
        await context.new_page()
        cdp = await browser.new_browser_cdp_session()
        started = [argv for pid, argv in _browser_processes().items() if pid not in others]
        assert len(started) == 1, started
        argv = started[0]
        targets = (await cdp.send("Target.getTargets"))["targetInfos"]
        await context.close()
        return argv, targets
    finally:
        await shared.release()


@needs_chromium
@pytest.mark.skipif(not os.path.exists(pool.FULL_CHROMIUM), reason="no full Chromium")
def test_the_full_browser_gets_our_disabled_features_and_keeps_playwrights():
    argv, targets = asyncio.run(_command_line_and_targets(pool.FULL_CHROMIUM))
    lists = [a.split("=", 1)[1].split(",") for a in argv if a.startswith("--disable-features=")]
    # Chromium keeps the last one: it must still hold every feature Playwright disables
    # (this fails when a Playwright upgrade adds one: copy it to PLAYWRIGHT_DISABLED_FEATURES)
    assert len(lists) == 2 and set(lists[0]) <= set(lists[-1])
    assert {"WebUIOmniboxPopup", "WebUIOmniboxAimPopup"} <= set(lists[-1])
    # so a context's window preloads no address-bar popup (a WebUI renderer of ~60-75 MB)
    assert [t["type"] for t in targets if t["type"] != "browser"] == ["page"], targets


@needs_chromium
def test_the_default_build_is_the_headless_shell_where_installed():
    from svcbench.probes.chat.connectors.browser.connector import _chromium

    if os.environ.get("SVCBENCH_CHROMIUM") or not os.path.exists(pool.HEADLESS_SHELL):
        pytest.skip("SVCBENCH_CHROMIUM is set, or the headless shell is not installed")
    assert pool.CHROMIUM == pool.HEADLESS_SHELL  # noqa: SIM300
    assert _chromium(headless=True) == pool.HEADLESS_SHELL
    assert _chromium(headless=False) == pool.FULL_CHROMIUM   # the shell shows no window


def test_workspace_keys_set_the_start_window_and_the_browser_limit(workspace_dir,
                                                                   monkeypatch):
    monkeypatch.delenv(pool.LIMIT_ENV, raising=False)
    default = Workspace.open(workspace_dir)
    ticker = Ticker(default)
    assert ticker.start_window == timedelta(minutes=10) and pool.limit() == 8
    default.close()
    _set_workspace_keys(workspace_dir, 'start_window = "90s"\nbrowser_max_contexts = 3')
    ws = Workspace.open(workspace_dir)
    try:
        assert Ticker(ws).start_window == timedelta(seconds=90)
        assert pool.limit() == 3
        assert asyncio.run(_shared_limit()) == 3        # the tick's shared browser takes it
        monkeypatch.setenv(pool.LIMIT_ENV, "5")          # the env var overrides the key
        Ticker(ws)
        assert pool.limit() == 5 and asyncio.run(_shared_limit()) == 5
        monkeypatch.setenv(pool.LIMIT_ENV, "many")
        with pytest.raises(ConfigError, match=r"^\$SVCBENCH_BROWSER_MAX_CHATS: 'many' is not"):
            Ticker(ws)
    finally:
        pool.set_limit(None)
        ws.close()


async def _shared_limit() -> int:
    return pool.shared().limit


@pytest.mark.parametrize(("text", "key", "words"), [
    ('start_window = "soon"', "workspace.start_window", "is not a duration"),
    ('start_window = "0m"', "workspace.start_window", "positive"),
    ("browser_max_contexts = 0", "workspace.browser_max_contexts", "greater than or equal"),
    ('browser_max_contexts = "eight"', "workspace.browser_max_contexts", "integer"),
])
def test_bad_workspace_keys_name_file_and_key(workspace_dir, text, key, words):
    _set_workspace_keys(workspace_dir, text)
    with pytest.raises(ConfigError) as info:
        load_config(workspace_dir)
    assert info.value.file == str(workspace_dir / "svcbench.toml")
    assert info.value.key == key and words in info.value.problem


def test_a_bad_limit_variable_is_one_line_and_exit_2(workspace_dir, cli):
    result = cli("tick", cwd=workspace_dir, env={pool.LIMIT_ENV: "0"})
    assert result.returncode == 2, result.stderr
    assert result.stderr == ("svcbench: error: $SVCBENCH_BROWSER_MAX_CHATS: '0' is not a "
                             "whole number of at least 1\n")
