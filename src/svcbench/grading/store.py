"""Grades in SQLite (table ``quality_grades``) and what each graded interaction was.

An *interaction* is what a grader sees: the question the shopper asked, what came back (the
company's email replies without quoted history, the chat transcript, or, for a phone call,
the shopper's notes and stopwatch marks), and the scenario's answer key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..models import COUNTED_OUTCOMES, Channel, Probe, ProbeStatus, format_instant, utcnow
from .grader import KeyGrade, grade_reply
from .keys import AnswerKey, key_from_checks

if TYPE_CHECKING:
    from ..config import Config, Scenario
    from ..store import Store
    from .settings import GradingSettings

#: web-form replies arrive by email and are graded like email
GRADED_CHANNELS = frozenset({Channel.EMAIL, Channel.FORM, Channel.CHAT, Channel.PHONE})
GRADER_KINDS = ("key", "human", "model")
#: message actors whose words are the company's person speaking
_PERSON_ACTORS = ("human", "agent")


@dataclass(frozen=True)
class Line:
    at: datetime
    who: str
    text: str


@dataclass
class Interaction:
    probe: Probe
    question: str | None
    #: what came back, in order (company lines; for chat the shopper's lines too)
    lines: list[Line] = field(default_factory=list)
    #: where ``lines`` came from: 'email replies', 'chat transcript', 'shopper notes'
    source: str = ""
    key: AnswerKey | None = None
    languages: list[str] = field(default_factory=lambda: ["en"])

    def company_text(self) -> str:
        """The words graded against the answer key: the company's (or, by phone, the notes)."""
        return "\n".join(ln.text for ln in self.lines if ln.who != "shopper")

    @property
    def has_answer(self) -> bool:
        return bool(self.company_text().strip())


def scenario_key(scenario: Scenario | None) -> AnswerKey | None:
    """The scenario's answer key; its older ``checks`` count as required facts if it has none."""
    if scenario is None:
        return None
    if scenario.answer_key is not None:
        return scenario.answer_key
    if scenario.checks:
        return key_from_checks(scenario.checks)
    return None


def interaction(store: Store, config: Config | None, probe: Probe) -> Interaction:
    """What a grader needs to see for one probe."""
    scenario = config.scenarios.get(probe.scenario) if config and probe.scenario else None
    question = scenario.question_for(probe.channel) if scenario else None
    lines: list[Line] = []
    source = ""
    if probe.channel in (Channel.EMAIL, Channel.FORM):
        from ..probes.email.classify import own_text

        source = "email replies"
        for m in store.messages(probe.id):
            if m["direction"] == "in" and m["actor"] in _PERSON_ACTORS:
                lines.append(Line(m["at"], "company", own_text(m["text"] or "").strip()))
    elif probe.channel == Channel.CHAT:
        source = "chat transcript"
        for m in store.messages(probe.id):
            if m["direction"] == "out":
                lines.append(Line(m["at"], "shopper", m["text"] or ""))
            elif m["actor"] in _PERSON_ACTORS:
                lines.append(Line(m["at"], "agent", m["text"] or ""))
            elif m["actor"] == "bot":
                lines.append(Line(m["at"], "bot", m["text"] or ""))
    elif probe.channel == Channel.PHONE:
        from ..probes.manual._base import effective

        source = "shopper notes"
        for e in effective(store.events(probe.id)):
            if e.kind == "call.note" and e.data.get("text"):
                lines.append(Line(e.at, "notes", str(e.data["text"])))
            elif e.kind == "call.resolved":
                lines.append(Line(e.at, "mark", "(shopper marked the call resolved)"))
    # a bot's words are not the person's answer, but stay on screen for the reviewer
    return Interaction(probe=probe, question=question, lines=lines, source=source,
                       key=scenario_key(scenario),
                       languages=list(scenario.languages) if scenario else ["en"])


def key_grade(item: Interaction) -> KeyGrade | None:
    if item.key is None:
        return None
    text = "\n".join(ln.text for ln in item.lines if ln.who in ("company", "agent", "notes"))
    return grade_reply(item.key, text, item.languages, str(item.probe.channel))


def grade_by_key(store: Store, config: Config, probe: Probe) -> KeyGrade | None:
    """Grade a finished probe by its scenario's answer key and store the rubric results."""
    if probe.channel not in GRADED_CHANNELS:
        return None
    item = interaction(store, config, probe)
    result = key_grade(item)
    if result is None or result.fully_answered is None:
        return result
    detail = {**result.detail(), "source": item.source}
    values: dict[str, float | None] = {}
    for rubric_item in config.grading.rubric:
        if rubric_item.from_key:
            found = result.result(rubric_item.from_key)
            values[rubric_item.id] = None if found is None else float(found)
    save_grades(store, probe.id, kind="key", reviewer=None, values=values,
                detail={k: detail for k in values})
    return result


def grader_name(kind: str, reviewer: str | None) -> str:
    return kind if kind == "key" else f"{kind}:{reviewer}"


def save_grades(store: Store, probe_id: str, *, kind: str, reviewer: str | None,
                values: Mapping[str, float | None], detail: Mapping[str, Any] | None = None,
                prompt_version: str | None = None, at: datetime | None = None) -> None:
    """Store one grader's values for one probe in one transaction (replacing its earlier)."""
    if kind not in GRADER_KINDS:
        raise ValueError(f"unknown grader kind {kind!r}")
    if kind != "key" and not reviewer:
        raise ValueError("human and model grades need a reviewer or model id")
    when = format_instant(at or utcnow())
    grader = grader_name(kind, reviewer)
    with store.transaction() as conn:
        for item, value in values.items():
            conn.execute(
                "INSERT OR REPLACE INTO quality_grades (probe_id, grader, kind, reviewer, item, "
                "value, detail, prompt_version, graded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (probe_id, grader, kind, reviewer, item, value,
                 json.dumps((detail or {}).get(item, {}), ensure_ascii=False, sort_keys=True),
                 prompt_version, when))


@dataclass(frozen=True)
class GradeRow:
    probe_id: str
    grader: str
    kind: str
    reviewer: str | None
    item: str
    value: float | None
    detail: dict[str, Any]
    prompt_version: str | None
    graded_at: str


def load_grades(conn, probe_ids: Iterable[str] | None = None,
                kinds: Iterable[str] | None = None, *, detail: bool = True) -> list[GradeRow]:
    """Stored grades (``detail=False`` skips decoding the details, for aggregates)."""
    sql = ("SELECT probe_id, grader, kind, reviewer, item, value, detail, prompt_version, "
           "graded_at FROM quality_grades")
    where, params = [], []
    if kinds is not None:
        kinds = list(kinds)
        where.append(f"kind IN ({', '.join('?' for _ in kinds)})")
        params += kinds
    if probe_ids is not None:
        ids = list(probe_ids)
        where.append("probe_id IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(ids))
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY probe_id, grader, item"
    return [GradeRow(r[0], r[1], r[2], r[3], r[4], r[5],
                     json.loads(r[6] or "{}") if detail else {}, r[7], r[8])
            for r in conn.execute(sql, params)]


def gradable_probes(store: Store, *, channel: str | None = None, company: str | None = None,
                    quarter: str | None = None) -> list[Probe]:
    """Finished probes a person answered (email, form, chat, phone), oldest first."""
    sql = ("SELECT p.* FROM probes p JOIN measurements m ON m.probe_id = p.id "
           "WHERE p.status = ? AND m.answered_by_human = 1 AND p.channel IN ('email', 'form', "
           "'chat', 'phone') AND m.outcome IN (SELECT value FROM json_each(?))")
    params: list[Any] = [ProbeStatus.DONE, json.dumps(sorted(COUNTED_OUTCOMES))]
    for column, value in (("p.channel", channel), ("p.company", company),
                          ("m.quarter", quarter)):
        if value is not None:
            sql += f" AND {column} = ?"
            params.append(value)
    sql += " AND p.plugin != 'simulated' ORDER BY p.started_at, p.id"
    return [store.probe_from_row(dict(r)) for r in store.db.query(sql, params)]


def rubric_of(config: Config | None) -> GradingSettings:
    from .settings import GradingSettings

    return config.grading if config is not None else GradingSettings()
