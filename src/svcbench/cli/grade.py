"""Commands: grade (a reviewer grades answers in the terminal), grade stats, grade auto,
grade model."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ..render.safe import clean
from ._app import app
from ._common import (
    JsonOption,
    WorkspaceOption,
    console,
    fail,
    open_workspace,
    print_json,
    quarter_option,
)
from ._output import Output, output_options

if TYPE_CHECKING:
    from ..grading.settings import GradingSettings
    from ..grading.store import Interaction

grade_app = typer.Typer(help="Answer quality: grade answers by hand in the terminal (one key "
                        "per rubric item: y/n or 1-5, s can't tell, b back, j/k scroll, x skip, "
                        "q quit); "
                        "agreement statistics; answer-key and model grading.")
app.add_typer(grade_app, name="grade")

_REVIEWER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


@grade_app.callback(invoke_without_command=True)
def grade(
    ctx: typer.Context,
    reviewer: str = typer.Option(None, "--reviewer", "-r", envvar="SVCBENCH_REVIEWER",
                                 help="Who is grading (stored with every grade)."),
    channel: str = typer.Option(None, "--channel", "-c",
                                help="Only email, form, chat or phone."),
    company: str = typer.Option(None, "--company", help="Only this company (slug)."),
    quarter: str = typer.Option(None, "--quarter", "-q", help="Only this quarter (2026Q4)."),
    second: bool = typer.Option(False, "--second-opinion",
                                help="Only answers someone else graded (for agreement)."),
    workspace: Path | None = WorkspaceOption,
) -> None:
    """Walk through answers you have not graded yet: the question, what came back, the answer
    key and the automatic grade; one key per rubric item (y/n or 1-5), s = can't tell,
    b = back, x = skip the answer, q = quit. Each answer's grades are stored when complete."""
    if ctx.invoked_subcommand is not None:
        return
    if not reviewer:
        fail("--reviewer: say who is grading (or set SVCBENCH_REVIEWER)")
    if not _REVIEWER.match(reviewer):
        fail(f"--reviewer: {reviewer!r} is not a reviewer id (letters, digits, . _ @ -)")
    if channel is not None and channel not in ("email", "form", "chat", "phone"):
        fail(f"--channel: {channel!r} is not one of email, form, chat, phone")
    quarter = quarter_option(quarter)
    ws = open_workspace(workspace)
    if company is not None and company not in ws.config.companies:
        fail(f"--company: unknown company {company!r}")
    if not sys.stdin.isatty():
        fail("stdin is not a terminal: `svcbench grade` reads single key presses")
    from ..grading.store import gradable_probes

    store = ws.store
    graded_by = _graders(store)
    probes = [p for p in gradable_probes(store, channel=channel, company=company,
                                         quarter=quarter)
              if f"human:{reviewer}" not in graded_by.get(p.id, set())
              and (not second or any(g.startswith("human:") for g in graded_by.get(p.id, ())))]
    if not probes:
        console().print("Nothing to grade: every answered probe here has your grade.")
        return
    done = _run_view(ws, probes, reviewer)
    console().print(f"Graded {done} of {len(probes)} answers as {reviewer}.")


def _graders(store) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for probe_id, grader in store.conn.execute(
            "SELECT DISTINCT probe_id, grader FROM quality_grades"):
        out.setdefault(probe_id, set()).add(grader)
    return out


def _run_view(ws, probes, reviewer: str) -> int:
    import select
    import termios
    import tty

    from rich.live import Live

    from ..grading.store import interaction, key_grade, save_grades

    settings = ws.config.grading
    names = ws.store.company_names()
    fd = sys.stdin.fileno()
    saved_tty = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    done = 0
    try:
        index = 0
        state: dict[str, Any] = {}

        def load(i: int) -> None:
            inter = interaction(ws.store, ws.config, probes[i])
            state.update(inter=inter, key=key_grade(inter), values={}, item=0, message="",
                         scroll=0)

        load(index)
        with Live(console=console(), auto_refresh=False, screen=True) as live:
            while True:
                live.update(_screen(state, settings, index, len(probes), reviewer, names),
                            refresh=True)
                ready, _, _ = select.select([fd], [], [], 0.2)
                if not ready:
                    continue
                for key in os.read(fd, 64).decode("utf-8", errors="ignore"):
                    action = _press(state, settings, key)
                    if action == "quit":
                        return done
                    if action in ("save", "skip"):
                        if action == "save":
                            save_grades(ws.store, probes[index].id, kind="human",
                                        reviewer=reviewer, values=state["values"])
                            done += 1
                        index += 1
                        if index >= len(probes):
                            return done
                        message = "saved" if action == "save" else "skipped"
                        load(index)
                        state["message"] = f"{message}; next answer"
                        break
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved_tty)


#: lines of the answer shown at once; j / k scroll through longer ones
PAGE_LINES = 12


def transcript_rows(inter: Interaction, width: int = 100) -> list[tuple[str, str]]:
    """(who, text) per screen line: the answer's lines cleaned and wrapped, none left out."""
    import textwrap

    rows = []
    for line in inter.lines:
        for text_line in clean(line.text).splitlines():
            if text_line.strip():
                rows += [(line.who, part) for part in textwrap.wrap(text_line, width)]
    return rows


def _press(state: dict[str, Any], settings: GradingSettings, key: str) -> str | None:
    """Apply one key press; returns 'save', 'skip', 'quit' or None."""
    if key in ("j", "k"):
        state["scroll"] = max(0, state.get("scroll", 0) + (PAGE_LINES // 2) * (
            1 if key == "j" else -1))
        return None
    items = settings.rubric
    if state["item"] >= len(items):  # all answered: confirm
        if key in ("\r", "\n", " "):
            return "save"
        if key == "b":
            state["item"] = len(items) - 1
        elif key == "q":
            return "quit"
        return None
    item = items[state["item"]]
    if key == "q":
        return "quit"
    if key == "x":
        return "skip"
    if key == "b":
        state["item"] = max(0, state["item"] - 1)
        return None
    value: float | None
    if key == "s":
        value = None
    elif item.kind == "yes_no" and key.lower() in ("y", "n"):
        value = 1.0 if key.lower() == "y" else 0.0
    elif item.kind == "scale" and key.isdigit() and item.low <= int(key) <= item.high:
        value = float(key)
    else:
        hint = "y or n" if item.kind == "yes_no" else f"{item.low}-{item.high}"
        state["message"] = f"{item.label}: press {hint} (s = can't tell)"
        return None
    state["values"][item.id] = value
    state["item"] += 1
    state["message"] = ""
    return None


def _screen(state, settings: GradingSettings, index: int, total: int, reviewer: str,
            names: dict[str, str]):
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    inter: Interaction = state["inter"]
    probe = inter.probe
    parts: list[Any] = []
    when = probe.started_at.strftime("%Y-%m-%d %H:%M") if probe.started_at else ""
    parts.append(Text(f"Answer {index + 1} of {total} · reviewer {reviewer} · "
                      f"{probe.channel} · {names.get(probe.company, probe.company)} · {when} · "
                      f"probe {probe.id[:8]}", style="bold"))
    if inter.question:
        parts.append(Text("Asked: " + " ".join(inter.question.split())[:400], style="dim"))
    parts.append(Text(f"What came back ({inter.source}):", style="bold"))
    rows = transcript_rows(inter)
    top = min(state.get("scroll", 0), max(0, len(rows) - PAGE_LINES))
    state["scroll"] = top
    for who, text_line in rows[top:top + PAGE_LINES]:
        parts.append(Text(f"  [{who}] ", style="cyan").append(text_line))
    if len(rows) > PAGE_LINES:
        parts.append(Text(f"  lines {top + 1}-{min(top + PAGE_LINES, len(rows))} of "
                          f"{len(rows)}: j / k scroll", style="dim"))
    if not inter.lines:
        parts.append(Text("  (nothing recorded)", style="dim"))
    parts.append(_key_panel(inter, state["key"]))
    table = Table.grid(padding=(0, 2))
    for item_no, item in enumerate(settings.rubric):
        marker = "›" if item_no == state["item"] else " "
        value = state["values"].get(item.id, "…") if item.id in state["values"] else ""
        shown_value = item.label_of(value) if isinstance(value, float) else (
            "can't tell" if item.id in state["values"] else "")
        choices = "y/n" if item.kind == "yes_no" else f"{item.low}-{item.high}"
        table.add_row(marker, f"{item.label} ({choices})", shown_value,
                      item.question if item_no == state["item"] else "")
    parts.append(Panel(table, title="your grade", title_align="left"))
    if state["item"] >= len(settings.rubric):
        parts.append(Text("Enter saves this grade · b back · q quit", style="bold yellow"))
    else:
        item = settings.rubric[state["item"]]
        anchors = "  ".join(f"{k}: {v}" for k, v in item.anchors.items())
        parts.append(Text(anchors, style="dim"))
        parts.append(Text("keys: y/n or 1-5 grade · s can't tell · b back · j/k scroll · "
                          "x skip answer · q quit", style="dim"))
    if state["message"]:
        parts.append(Text(state["message"], style="magenta"))
    return Panel(Group(*parts), title="svcbench grade", title_align="left")


def _key_panel(inter: Interaction, grade):
    from rich.text import Text

    text = Text()
    if inter.key is None or grade is None:
        text.append("Answer key: none for this scenario", style="dim")
        return text
    key = inter.key.for_channel(str(inter.probe.channel))
    text.append("Answer key:\n", style="bold")
    for fact in key.facts:
        ok = fact.id in grade.covered
        text.append(f"  {'✓' if ok else '✗'} {fact.label}", style="green" if ok else "red")
        if ok:
            text.append(f"  “{clean(grade.evidence.get(fact.id, ''))}”", style="dim")
        text.append("\n")
    for fact in key.extras:
        if fact.id in grade.extras:
            text.append(f"  + {fact.label}\n", style="green")
    for fact in key.forbidden:
        if fact.id in grade.forbidden:
            text.append(f"  ! {fact.label}\n", style="red")
    full = grade.fully_answered
    text.append("Automatic grade: ", style="bold")
    text.append("fully answered" if full else "no reply" if full is None else
                f"not fully answered ({len(grade.covered)} of {grade.facts_total} facts)")
    if grade.flags:
        text.append(f" · flags: {', '.join(grade.flags)}", style="yellow")
    return text


AGREEMENT_KEYS = ("item", "pair", "n", "percent", "kappa", "weighted_kappa")


@grade_app.command("stats")
@output_options
def stats(
    quarter: str = typer.Option(None, "--quarter", "-q", help="Only this quarter's probes."),
    out: Output = Output(),
    workspace: Path | None = WorkspaceOption,
) -> None:
    """Agreement per rubric item (percent, Cohen's kappa, weighted kappa for scales).

    People with each other; the answer key and each model with the people's consensus.
    --json prints one object per item and pair of graders with the keys item, pair, n,
    percent (0-1), kappa and weighted_kappa (null when undefined).
    """
    from ..grading.quality import load_quality_frame

    quarter = quarter_option(quarter)
    ws = open_workspace(workspace)
    frame = load_quality_frame(ws.store.conn, ws.config.grading,
                               quarters=[quarter] if quarter else None)
    method = frame.methodology

    def table(rows: list[dict[str, Any]]) -> None:
        from rich.table import Table

        con = console()
        by = ", ".join(f"{k} {v}" for k, v in method["graded_by"].items()) or "none"
        con.print(f"{method['graded_probes']} graded probes (grades used from: {by})"
                  + (f" in {quarter}" if quarter else ""))
        if not rows:
            con.print("No item was graded twice yet: agreement needs two graders on one "
                      "answer (svcbench grade --second-opinion).")
            return
        grid = Table(title="agreement per rubric item", title_justify="left")
        for header in ("item", "graders", "n", "agreement", "kappa", "weighted kappa"):
            grid.add_column(header, justify="left" if header in ("item", "graders") else "right")
        for a in rows:
            grid.add_row(a["item"], a["pair"], str(a["n"]), _fmt(a["percent"], pct=True),
                         _fmt(a["kappa"]), _fmt(a["weighted_kappa"]))
        con.print(grid)

    out.emit(method["agreement"], table=table, columns=list(AGREEMENT_KEYS))


def _fmt(value: float | None, *, pct: bool = False) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.0f}%" if pct else f"{value:.2f}"


@grade_app.command("auto")
def auto(
    workspace: Path | None = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Grade every answered probe again by its scenario's answer key (after a key changed)."""
    from ..grading.store import gradable_probes, grade_by_key

    ws = open_workspace(workspace)
    counts = {"graded": 0, "fully_answered": 0, "no_key": 0}
    for probe in gradable_probes(ws.store):
        result = grade_by_key(ws.store, ws.config, probe)
        if result is None or result.fully_answered is None:
            counts["no_key"] += 1
            continue
        counts["graded"] += 1
        counts["fully_answered"] += bool(result.fully_answered)
    if as_json:
        print_json(counts)
        return
    typer.echo(f"graded {counts['graded']} answers by answer key "
               f"({counts['fully_answered']} fully answered); {counts['no_key']} without a key "
               "or an answer")


@grade_app.command("model")
def model(
    limit: int = typer.Option(0, "--limit", min=0, help="At most this many answers (0 = all)."),
    again: bool = typer.Option(False, "--again", help="Also answers this model graded."),
    workspace: Path | None = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Grade answers with the model named by grading.model (never runs unconfigured)."""
    from ..grading.model import grade_with_model
    from ..grading.store import gradable_probes

    ws = open_workspace(workspace)
    model_id = ws.config.grading.model
    graded = _graders(ws.store)
    probes = [p for p in gradable_probes(ws.store)
              if again or f"model:{model_id}" not in graded.get(p.id, set())]
    if limit:
        probes = probes[:limit]
    run = grade_with_model(ws.store, ws.config, probes)
    if as_json:
        print_json({"model": run.model, "graded": run.graded, "skipped": run.skipped,
                    "failures": run.failures})
        return
    typer.echo(f"{run.model}: graded {run.graded} answers, skipped {run.skipped} without an "
               f"answer, {len(run.failures)} item answers unusable")
    for failure in run.failures[:10]:
        typer.echo(f"  {failure}", err=True)
