"""Text from companies is data: no markup, control codes or formulas reach an output."""

from __future__ import annotations

import csv
import io
import re

import pytest

from svcbench.render.safe import CsvWriter, clean, csv_cell, make_console, markup, plain
from svcbench.workspace import init_workspace

# a name that tries everything: rich markup, a rich link, an OSC title change, a screen clear,
# a bidi override, a C1 control, a carriage return and a formula
EVIL = ("=HYPERLINK(\"http://x\")Evil [/nope] [link=https://evil.example]click[/link] "
        "\x1b]0;pwned\x07\x1b[2J\u202egnp.exe\x9b\rend")
EVIL_TOML = (EVIL.replace("\\", "\\\\").replace('"', '\\"').replace("\x1b", "\\u001b")
             .replace("\x07", "\\u0007").replace("\u202e", "\\u202e").replace("\x9b", "\\u009b")
             .replace("\r", "\\r"))
# what may legitimately remain of an escape sequence: rich's own colours (SGR) and cursor
# movements of a live view; never OSC (title, hyperlink) or erase-display
_OUR_ESCAPES = re.compile(r"\x1b\[[0-9;]*m")


def test_clean_makes_controls_visible_and_keeps_text():
    assert clean("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert clean("\x9b\u202e\u2066x") == "\\x9b\\u202e\\u2066x"
    assert clean("Zürich\tcafé\nline 2 日本") == "Zürich\tcafé\nline 2 日本"
    assert clean("cr\rlf") == "cr\\x0dlf"


def test_console_never_reads_external_text_as_markup_or_controls():
    out = make_console(file=io.StringIO(), force_terminal=True, width=200)
    out.print("Evil [/nope] [link=https://x]y[/link] :smile: \x1b]0;t\x07")
    out.print(plain("[/]\x1b[2J"), markup("[bold]{}[/bold] said {}", "[/x]", "\x1b]8;;u\x07"))
    from rich.table import Table

    table = Table()
    table.add_column("name")
    table.add_row("[/nope]\x1b[2J")
    out.print(table)
    text = out.file.getvalue()
    assert "[/nope]" in text and "[link=https://x]y[/link]" in text and ":smile:" in text
    assert "[/x]" in text and "\\x1b]8;;u\\x07" in text
    assert "\x1b]" not in text and "\x1b[2J" not in text
    assert not _OUR_ESCAPES.sub("", text).count("\x1b")


@pytest.mark.parametrize("value", [
    "=HYPERLINK(\"http://x\",\"y\")", "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0", "\t=1+2", "\r=1+2", "\uff1d1+2",
])
def test_csv_cell_neutralises_formulas(value):
    assert csv_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["-3", "+1.5", "-0.25e3", "Northwind", "", "a=b", 12, None,
                                   -4.5])
def test_csv_cell_leaves_numbers_and_plain_text(value):
    assert csv_cell(value) == value


def test_csv_writer_quotes_carriage_returns_and_round_trips():
    buffer = io.StringIO()
    writer = CsvWriter(buffer, ["name", "n"])
    writer.writeheader()
    writer.writerows([{"name": "a\rb", "n": 1}, {"name": "=1+1", "n": 2}])
    assert '"a\rb"' in buffer.getvalue()
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue(), newline="")))
    assert [r["name"] for r in rows] == ["a\rb", "'=1+1"]
    raw = io.StringIO()
    CsvWriter(raw, ["name"], raw=True).writerow({"name": "=1+1"})
    assert raw.getvalue() == "=1+1\r\n"


@pytest.fixture(scope="module")
def evil_workspace(tmp_path_factory):
    from conftest import run_cli

    root = init_workspace(tmp_path_factory.mktemp("evil") / "ws")
    companies = root / "probes" / "companies.toml"
    text = companies.read_text()
    assert 'name = "Northwind Outfitters"' in text
    companies.write_text(text.replace('name = "Northwind Outfitters"', f'name = "{EVIL_TOML}"'))
    for day in ("02", "03", "04"):
        result = run_cli("log", "call", "northwind-outfitters", "--at", f"2026-03-{day}T10:15",
                         "--agent-after", "1m35s", cwd=root)
        assert result.returncode == 0, result.stderr
    return root


def run_exact(*args: str, cwd, env=None) -> tuple[int, str, str]:
    """The CLI's output exactly as written (run_cli's text mode turns \\r into \\n)."""
    import os
    import subprocess

    from conftest import SVCBENCH

    done = subprocess.run([str(SVCBENCH), *args], cwd=cwd, capture_output=True,
                          env={**os.environ, "COLUMNS": "200", **(env or {})}, timeout=120)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def _assert_inert(output: str) -> None:
    assert "\x1b]" not in output and "\x1b[2J" not in output and "\u202e" not in output
    assert "\x9b" not in output and "\r" not in output
    assert not _OUR_ESCAPES.sub("", output).count("\x1b")


@pytest.mark.parametrize("args", [("results",), ("report", "--quarter", "2026Q1"),
                                  ("probes",)])
def test_terminal_commands_print_evil_names_literally(evil_workspace, args):
    code, stdout, stderr = run_exact(*args, cwd=evil_workspace,
                                     env={"FORCE_COLOR": "1", "TERM": "xterm-256color"})
    assert code == 0, stderr
    _assert_inert(stdout + stderr)
    if args[0] != "probes":  # probes lists slugs, not names
        assert "[/nope]" in stdout
        assert "\\x1b]0;pwned" in stdout


def test_csv_outputs_neutralise_formulas(evil_workspace, cli, tmp_path):
    code, stdout, stderr = run_exact("results", "--csv", cwd=evil_workspace)
    assert code == 0, stderr
    rows = list(csv.DictReader(io.StringIO(stdout, newline="")))
    assert rows and all(r["company_name"] == "'" + EVIL for r in rows)
    code, stdout, stderr = run_exact("results", "--csv", "--raw-csv", cwd=evil_workspace)
    assert {r["company_name"] for r in csv.DictReader(io.StringIO(stdout, newline=""))} == {EVIL}
    result = cli("report", "--quarter", "2026Q1", "-f", "csv", "-o", str(tmp_path),
                 cwd=evil_workspace)
    assert result.returncode == 0, result.stderr
    with (tmp_path / "rankings-2026Q1.csv").open(newline="", encoding="utf-8") as f:
        names = {r["name"] for r in csv.DictReader(f) if r["company"] == "northwind-outfitters"}
    assert names == {"'" + EVIL}


def test_chat_transcript_with_markup_and_controls_renders(capsys, monkeypatch):
    from types import SimpleNamespace

    from svcbench.cli import chat

    monkeypatch.setenv("FORCE_COLOR", "1")
    transcript = [
        {"at": "2026-03-02T10:00:00.000000Z", "actor": "shopper", "role": None,
         "text": "Where is my order?"},
        {"at": "2026-03-02T10:00:09.000000Z", "actor": "Agent [/]", "role": "human",
         "text": "[/] [link=https://evil.example]hi[/link] \x1b]0;t\x07\x1b[2J"},
    ]
    measured = SimpleNamespace(metrics={}, first_response_s=9.0, wait_s=9.0)
    chat._render("0123456789", "Evil [/nope]", "answered", "[/]", measured, transcript)
    output = capsys.readouterr().out
    assert "Evil [/nope]" in output and "[link=https://evil.example]hi[/link]" in output
    _assert_inert(output)
