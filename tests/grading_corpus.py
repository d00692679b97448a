"""The labelled replies in tests/data/grading, graded by the example workspace's keys."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from svcbench.config import load_config
from svcbench.grading.store import Interaction, Line, key_grade, scenario_key
from svcbench.models import Channel, Probe

CORPUS = Path(__file__).parent / "data" / "grading"
AT = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)


def load(split: str) -> list[dict]:
    return [json.loads(line) for line in (CORPUS / f"{split}.jsonl").read_text("utf-8")
            .splitlines() if line.strip()]


def interaction_of(item: dict, config) -> Interaction:
    from svcbench.probes.email.classify import own_text

    scenario = config.scenarios[item["scenario"]]
    channel = Channel(item["channel"])
    if channel == Channel.EMAIL:
        lines = [Line(AT, "company", own_text(item["text"]))]
    elif channel == Channel.CHAT:
        lines = [Line(AT, who, text) for who, text in item["transcript"]]
    else:
        lines = [Line(AT, "notes", text) for text in item["notes"]]
    probe = Probe(id=item["id"], company="c", channel=channel, plugin=str(channel),
                  scenario=scenario.id)
    return Interaction(probe=probe, question=scenario.question_for(channel), lines=lines,
                       key=scenario_key(scenario), languages=list(scenario.languages))


@dataclass
class Score:
    items: int
    fully_correct: int
    facts: int
    facts_correct: int
    misses: list[str]

    @property
    def fully_accuracy(self) -> float:
        return self.fully_correct / self.items

    @property
    def fact_accuracy(self) -> float:
        return self.facts_correct / self.facts

    def summary(self) -> str:
        return (f"fully answered {self.fully_correct}/{self.items} ({self.fully_accuracy:.0%}), "
                f"facts {self.facts_correct}/{self.facts} ({self.fact_accuracy:.0%})")


def score(split: str, workspace_dir: Path) -> Score:
    config = load_config(workspace_dir)
    items = load(split)
    s = Score(len(items), 0, 0, 0, [])
    for item in items:
        inter = interaction_of(item, config)
        grade = key_grade(inter)
        labels = item["labels"]
        if grade.fully_answered is bool(labels["fully_answered"]):
            s.fully_correct += 1
        else:
            s.misses.append(f"{item['id']}: fully_answered {grade.fully_answered}")
        key = inter.key.for_channel(item["channel"])
        for group, found, expected in (
                (key.facts, grade.covered, labels["covered"]),
                (key.extras, grade.extras, labels["extras"]),
                (key.forbidden, grade.forbidden, labels["forbidden"])):
            for fact in group:
                s.facts += 1
                if (fact.id in found) == (fact.id in expected):
                    s.facts_correct += 1
                else:
                    what = "found" if fact.id in found else "missed"
                    s.misses.append(f"{item['id']}: {fact.id} {what}")
    return s
