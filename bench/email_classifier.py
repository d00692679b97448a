"""Email classifier quality and speed on the labelled corpus in tests/data/emails.

Prints precision/recall/F1 per kind and for human vs automatic, a confusion matrix, the
misclassified files, and parse+classify throughput.

    .venv/bin/python bench/email_classifier.py [--rounds 20] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import time
import tomllib
from collections import Counter
from datetime import datetime
from pathlib import Path

from svcbench.probes.email.classify import AUTOMATIC_KINDS, MailKind, classify
from svcbench.probes.email.parse import parse_email

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "emails"


def load(corpus: Path) -> list[tuple[str, MailKind, bytes, dict]]:
    manifest_path = corpus / "manifest.toml"
    manifest = tomllib.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    defaults = manifest.pop("defaults", {})
    items = []
    for path in sorted(corpus.rglob("*.eml")):
        rel = path.relative_to(corpus).as_posix()
        context = {**defaults, **manifest.get(rel, {})}
        kwargs = {k: datetime.fromisoformat(v) if k.endswith("_at") else v
                  for k, v in context.items()}
        items.append((rel, MailKind(path.parent.name), path.read_bytes(), kwargs))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--rounds", type=int, default=20, help="passes for the timing")
    args = parser.parse_args()

    items = load(args.corpus)
    results = [(rel, expected, classify(parse_email(raw), **kw))
               for rel, expected, raw, kw in items]
    kinds = list(MailKind)

    print(f"corpus: {args.corpus} ({len(items)} messages)")
    print(f"\n{'kind':<18}{'precision':>10}{'recall':>8}{'F1':>7}{'support':>9}")
    for kind in kinds:
        p, r, f, n = prf([(e is kind, g.kind is kind) for _, e, g in results])
        print(f"{kind.value:<18}{p:>10.3f}{r:>8.3f}{f:>7.3f}{n:>9}")
    print()
    for label, positive in (("human", lambda k: k is MailKind.HUMAN),
                            ("automatic", lambda k: k in AUTOMATIC_KINDS)):
        p, r, f, n = prf([(positive(e), positive(g.kind)) for _, e, g in results])
        print(f"{label:<18}{p:>10.3f}{r:>8.3f}{f:>7.3f}{n:>9}")
    correct = sum(e is g.kind for _, e, g in results)
    print(f"\naccuracy (exact kind): {correct}/{len(results)} = {correct / len(results):.3f}")
    print(f"flagged for review: {sum(g.review for _, _, g in results)}")

    short = {MailKind.BOUNCE: "bnc", MailKind.OUT_OF_OFFICE: "ooo", MailKind.AUTO_ACK: "ack",
             MailKind.AUTO_OTHER: "oth", MailKind.AUTO_ACK_SUSPECT: "sus", MailKind.HUMAN: "hum"}
    matrix = Counter((e, g.kind) for _, e, g in results)
    print("\nconfusion matrix (rows: expected, columns: predicted)")
    print(" " * 18 + "".join(f"{short[k]:>6}" for k in kinds))
    for expected in kinds:
        print(f"{expected.value:<18}" + "".join(f"{matrix[(expected, k)]:>6}" for k in kinds))

    wrong = [(rel, e, g) for rel, e, g in results if g.kind is not e]
    print(f"\nmisclassified: {len(wrong)}")
    for rel, e, g in wrong:
        print(f"  {rel}: expected {e.value}, got {g.kind.value} ({'; '.join(g.reasons)})")

    raws = [(raw, kw) for _, _, raw, kw in items]
    total_bytes = sum(len(raw) for raw, _ in raws)
    start = time.perf_counter()
    for _ in range(args.rounds):
        for raw, _kw in raws:
            parse_email(raw)
    parse_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(args.rounds):
        for raw, kw in raws:
            classify(parse_email(raw), **kw)
    both_s = time.perf_counter() - start
    n = len(raws) * args.rounds
    print(f"\nthroughput over {n} messages ({total_bytes / len(raws) / 1024:.1f} KiB average):")
    print(f"  parse only:        {n / parse_s:8.0f} msg/s")
    print(f"  parse + classify:  {n / both_s:8.0f} msg/s "
          f"({both_s / n * 1000:.2f} ms per message)")

    big = (b"From: big@shop.example\nSubject: big\nContent-Type: text/plain\n\n"
           + b"All work and no play makes Jack a dull boy.\n" * 450_000)
    start = time.perf_counter()
    parsed = parse_email(big)
    result = classify(parsed)
    print(f"  one {len(big) / 1e6:.0f} MB message: {time.perf_counter() - start:.3f} s "
          f"(text capped at {len(parsed.text)} chars, kind {result.kind.value})")


if __name__ == "__main__":
    main()
