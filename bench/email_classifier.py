"""Email classifier quality and speed on the labelled corpus in tests/data/emails.

Prints, for the development part, the held-out part (never tuned on) and leave-one-source-out
(each helpdesk family's messages classified with that helpdesk's fingerprint removed):
precision/recall per kind and for human vs automatic, confusion matrix and misclassified
files; then corpus sources and parse+classify throughput.

    .venv/bin/python bench/email_classifier.py [--rounds 20] [--corpus DIR] [--quiet]
"""

from __future__ import annotations

import argparse
import time
import tomllib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from svcbench.probes.email.classify import AUTOMATIC_KINDS, MailKind, classify
from svcbench.probes.email.parse import parse_email
from svcbench.probes.email.phrases import helpdesks

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "emails"
CONTEXT_KEYS = ("sent_at", "arrived_at")


@dataclass
class Item:
    rel: str
    expected: MailKind
    raw: bytes
    context: dict
    split: str
    source: str
    family: str | None


def load(corpus: Path) -> list[Item]:
    manifest = tomllib.loads((corpus / "manifest.toml").read_text())
    defaults = manifest.pop("defaults", {})
    items = []
    for path in sorted(corpus.rglob("*.eml")):
        rel = path.relative_to(corpus).as_posix()
        entry = {**defaults, **manifest.get(rel, {})}
        context = {k: datetime.fromisoformat(entry[k]) for k in CONTEXT_KEYS if k in entry}
        items.append(Item(rel, MailKind(path.parent.name), path.read_bytes(), context,
                          entry.get("split", "dev"), entry.get("source", "?"),
                          entry.get("family")))
    return items


def prf(pairs: list[tuple[bool, bool]]) -> tuple[float, float, float, int]:
    """Precision, recall, F1 and support for (expected positive, predicted positive) pairs."""
    tp = sum(e and p for e, p in pairs)
    fp = sum(p and not e for e, p in pairs)
    fn = sum(e and not p for e, p in pairs)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, tp + fn


def _same(expected: MailKind, got: MailKind) -> bool:
    # auto_ack_suspect is an acknowledgement flagged for review
    norm = {MailKind.AUTO_ACK_SUSPECT: MailKind.AUTO_ACK}
    return norm.get(expected, expected) is norm.get(got, got)


def report(title: str, results: list[tuple[Item, object]], quiet: bool) -> tuple[float, float]:
    print(f"\n=== {title}: {len(results)} messages ===")
    kinds = [k for k in MailKind if k is not MailKind.AUTO_ACK_SUSPECT]
    print(f"{'kind':<18}{'precision':>10}{'recall':>8}{'F1':>7}{'support':>9}")
    for kind in kinds:
        p, r, f, n = prf([(_same(i.expected, kind), _same(g.kind, kind)) for i, g in results])
        print(f"{kind.value:<18}{p:>10.3f}{r:>8.3f}{f:>7.3f}{n:>9}")
    human = prf([(i.expected is MailKind.HUMAN, g.kind is MailKind.HUMAN) for i, g in results])
    auto = prf([(i.expected in AUTOMATIC_KINDS, g.kind in AUTOMATIC_KINDS) for i, g in results])
    print(f"{'HUMAN':<18}{human[0]:>10.3f}{human[1]:>8.3f}{human[2]:>7.3f}{human[3]:>9}")
    print(f"{'automatic':<18}{auto[0]:>10.3f}{auto[1]:>8.3f}{auto[2]:>7.3f}{auto[3]:>9}")
    correct = sum(_same(i.expected, g.kind) for i, g in results)
    print(f"exact kind: {correct}/{len(results)} = {correct / max(1, len(results)):.3f}; "
          f"flagged for review: {sum(g.review for _, g in results)}; "
          f"wrong and not flagged: "
          f"{sum(not _same(i.expected, g.kind) and not g.review for i, g in results)}")
    wrong = [(i, g) for i, g in results if not _same(i.expected, g.kind)]
    if not quiet:
        short = {MailKind.BOUNCE: "bnc", MailKind.OUT_OF_OFFICE: "ooo", MailKind.AUTO_ACK: "ack",
                 MailKind.AUTO_OTHER: "oth", MailKind.HUMAN: "hum"}
        norm = {MailKind.AUTO_ACK_SUSPECT: MailKind.AUTO_ACK}
        matrix = Counter((norm.get(i.expected, i.expected), norm.get(g.kind, g.kind))
                         for i, g in results)
        print("confusion (rows expected, columns predicted)")
        print(" " * 18 + "".join(f"{short[k]:>6}" for k in kinds))
        for e in kinds:
            print(f"{e.value:<18}" + "".join(f"{matrix[(e, k)]:>6}" for k in kinds))
        for i, g in wrong:
            print(f"  {i.rel}: expected {i.expected.value}, got {g.kind.value} "
                  f"({g.confidence:.2f}{', review' if g.review else ''}): "
                  f"{'; '.join(g.reasons[:-1])[:300]}")
    return human[0], human[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--rounds", type=int, default=5, help="passes for the timing")
    parser.add_argument("--quiet", action="store_true", help="no per-file lists")
    args = parser.parse_args()

    items = load(args.corpus)
    parsed = {i.rel: parse_email(i.raw) for i in items}
    results = [(i, classify(parsed[i.rel], **i.context)) for i in items]
    print(f"corpus: {args.corpus}: {len(items)} messages")
    print("by source: " + ", ".join(f"{k} {v}" for k, v in
                                    Counter(i.source for i in items).most_common()))
    print("by kind: " + ", ".join(f"{k.value} {v}" for k, v in
                                  Counter(i.expected for i in items).most_common()))
    figures = {}
    for split in ("dev", "heldout"):
        figures[split] = report(f"{split} part", [r for r in results if r[0].split == split],
                                args.quiet)
    loso = []
    families = sorted({i.family for i in items if i.family})
    all_desks = helpdesks()
    for family in families:
        desks = tuple(d for d in all_desks if d.key != family)
        for i in items:
            if i.family == family:
                loso.append((i, classify(parsed[i.rel], desks=desks, **i.context)))
    figures["loso"] = report(f"leave-one-source-out ({len(families)} helpdesk families, each "
                             "classified without its own fingerprint)", loso, args.quiet)
    print("\nhuman precision / recall: " + "; ".join(
        f"{k} {p:.3f} / {r:.3f}" for k, (p, r) in figures.items())
        + " (targets: held-out >= 0.97, leave-one-source-out >= 0.95)")

    raws = [i.raw for i in items]
    start = time.perf_counter()
    for _ in range(args.rounds):
        for raw in raws:
            parse_email(raw)
    parse_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(args.rounds):
        for i in items:
            classify(parse_email(i.raw), **i.context)
    both_s = time.perf_counter() - start
    n = len(raws) * args.rounds
    print(f"\nthroughput over {n} messages ({sum(map(len, raws)) / len(raws) / 1024:.1f} KiB "
          "average):")
    print(f"  parse only:        {n / parse_s:8.0f} msg/s")
    print(f"  parse + classify:  {n / both_s:8.0f} msg/s ({both_s / n * 1000:.2f} ms per message)")
    big = (b"From: big@shop.example\nSubject: big\nContent-Type: text/plain\n\n"
           + b"All work and no play makes Jack a dull boy.\n" * 450_000)
    start = time.perf_counter()
    one = parse_email(big)
    result = classify(one)
    print(f"  one {len(big) / 1e6:.0f} MB message: {time.perf_counter() - start:.3f} s "
          f"(text capped at {len(one.text)} chars, kind {result.kind.value})")


if __name__ == "__main__":
    main()
