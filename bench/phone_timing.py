"""Phone probe timing against the simulated IVR's ground truth, and concurrency.

    .venv/bin/python bench/phone_timing.py [--calls 24] [--seeds 1] [--concurrent 20]
                                           [--scale 0.15] [--parallel 4]
                                           [--split dev|held-out|fresh|blind|blind2|blind3|
                                                    blind4|blind5|blind6|blind7|blind8|all]
                                           [--backend python|debian]
                                           [--scenario NAME ...] [--dump FILE.json]

Part 1: ``--calls`` calls per split and seed, cycling through the scenarios of
``data/phone/ivr_scenarios.toml`` with that ``split`` (those meant to end with an agent);
each call's tag seeds the simulator's jitter of ring, hold and announcement times. Run
``--parallel`` (4) at a time. Prints, per split (dev: rules may be tuned on it; held-out:
never tuned on; fresh: espeak-ng voices, inspected call by call once and tuned on since;
blind: other espeak-ng voices and wording, inspected once and tuned on since; blind2:
Festival's voices, other espeak-ng variants, GSM-coded and recombined recorded prompts,
run once; blind3: real line conditions (telephone band, noise floor, level, lost packets,
echo) with voices and music transformed by sox, run once and tuned on since; blind4:
louder floors (18-22 dB SNR, 50 and 60 Hz hum), band, loss and echo together, a handset's
strong echo, voices, variants and music transforms no split used, run once and tuned on
since; blind5: clean and noisy lines, company hang-ups, written blind, never inspected;
blind6: the same kinds of lines, greetings without "how can I help", run once and tuned on
since; blind7: other companies, wording, voices and music on the same mix of noisy, clean
and lightly impaired lines, written blind, run once and tuned on since; blind8: written
2026-12-04, blind of the probe, the same kind of mix again, run once and tuned on since), the
error (probe minus truth, seconds) of hold start, agent answered, wait announced and
transferred: n, median |error|, max |error| and the share within 0.5 s; and false "agent
answered" on recordings (an agent event a second or more before the truth's agent) and
false transfers.
Hold start is defined in docs/phone.md (end of the IVR's last prompt before the queue) and
the simulator's truth uses the same definition. Part 2: ``--concurrent`` simultaneous calls
through one SIP stack of ``--backend`` (python: baresip-python; debian: Debian's baresip),
with CPU time and peak memory of the probe process and of every child process, sampled from
/proc (the simulated company, the recogniser workers, one baresip per call on the Debian
backend). ``--calls 0`` runs part 2 only. ``--hang-ups`` also calls each split's company
hang-ups (nobody answers, the company drops the call) once at time scale 1, so their holds
are as long as the rules that judge a hang-up need, and prints each outcome: unanswered is
the company's; failed is one of our rules taking the company's hang-up for our failure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from svcbench.probes.phone import SipEndpoint, plan_for  # noqa: E402
from svcbench.probes.phone.engine import CallEngine  # noqa: E402
from svcbench.probes.phone.recognise import shared  # noqa: E402
from svcbench.probes.phone.sip import Account, available, open_stack  # noqa: E402
from svcbench.sandbox.phone import PhoneSandbox, load_scenarios  # noqa: E402

#: probe event -> truth kind, per measure
MEASURES = {"hold started": ("call.hold_started", "hold_started"),
            "agent answered": ("call.agent_answered", "agent_answered"),
            "wait announced": ("call.wait_announced", "wait_announced"),
            "transferred": ("call.transferred", "transferred")}


def proc_stat(pid: int) -> tuple[int, float, float]:
    """(parent pid, utime + stime in seconds, RSS in MB) of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"),
            int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20)


def proc_kind(pid: int) -> str:
    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    name = Path(cmd[0].decode(errors="replace")).name
    if name == "baresip":
        return "baresip"
    if b"svcbench.probes.phone.recognise" in cmd:
        return "recogniser"
    if b"svcbench.sandbox.phone" in cmd:
        return "company"
    return name or "other"


class Processes:
    """Samples our child processes every 0.25 s (a thread): last CPU and peak RSS per pid,
    so processes that ended during the run (one baresip per call) are counted too."""

    def __init__(self) -> None:
        import threading

        self.seen: dict[int, list] = {}  # pid -> [kind, cpu at first sight, cpu, peak MB]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.sample()
        for row in self.seen.values():  # only what they use from now on
            row[1] = row[2]

    def sample(self) -> None:
        me = os.getpid()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            try:
                ppid, cpu, rss = proc_stat(pid)
                if ppid != me:
                    continue
                row = self.seen.get(pid)
                if row is None:
                    row = self.seen[pid] = [proc_kind(pid), 0.0, cpu, rss]
                row[2], row[3] = cpu, max(row[3], rss)
            except (OSError, IndexError, ValueError):
                continue

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self.sample()

    def __enter__(self) -> Processes:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def summary(self) -> str:
        parts = []
        for kind in sorted({row[0] for row in self.seen.values()}):
            rows = [r for r in self.seen.values() if r[0] == kind]
            cpu = sum(r[2] - r[1] for r in rows)
            peak = max(r[3] for r in rows)
            parts.append(f"{kind} x{len(rows)}: CPU {cpu:.1f} s, peak RSS {peak:.0f} MB each"
                         + (f" (sum of peaks {sum(r[3] for r in rows):.0f} MB)"
                            if len(rows) > 1 else ""))
        return "; ".join(parts)


def first(result, kind):
    """The earliest instant of a kind (a transcript read after the fact is emitted late)."""
    undone = result.undone()
    return min((at for i, (k, at, _) in enumerate(result.events)
                if k == kind and i not in undone), default=None)


def scenarios(split: str) -> list[str]:
    return [name for name, s in load_scenarios().items()
            if s.split == split and s.agent and not s.hangup_after_s
            and not getattr(s, "fault", "") and getattr(s, "hears_caller", True)]


def hang_up_scenarios(split: str) -> list[str]:
    """The split's lines where nobody answers and the company hangs up, that play some
    sound (a line that plays nothing is ours by its own rule)."""
    return [name for name, s in load_scenarios().items()
            if s.split == split and s.hangup_after_s and not s.agent
            and not getattr(s, "fault", "") and (s.menu or s.hold == "music"
                                                 or s.announce_every_s)]


def score_hang_ups(jobs, results):
    """A company hang-up is the company's (unanswered); failed is our rule misfiring."""
    from svcbench.models import Channel, Probe
    from svcbench.probes.phone import SipPhoneProbe, to_events

    plugin, ours = SipPhoneProbe(), 0
    probe = Probe(id="p", company="x", channel=Channel.PHONE, plugin="sip")
    for tag, scenario in jobs:
        events = to_events("p", results[tag])
        outcome = plugin.outcome(probe, events, events[-1].at)
        ours += outcome == "failed"
        print(f"    {tag} ({scenario}): {outcome}"
              + (f": {plugin.outcome_reason(probe, events)}" if outcome == "failed" else ""))
    print(f"  company hang-ups: {len(jobs)} calls, the company's (unanswered): "
          f"{len(jobs) - ours}, ours (failed): {ours}")


#: each call's cutoff, as a campaign's default phone deadline (place_call's budget)
ABANDON_S = 600.0


async def run_calls(box, jobs, parallel, backend="python"):
    sem = asyncio.Semaphore(parallel)
    async with open_stack(Account(), backend=backend, max_call_s=ABANDON_S + 120) as stack:
        async def one(tag, scenario):
            async with sem:
                endpoint = SipEndpoint(uri=box.uri(scenario, tag))
                return tag, await CallEngine(stack, plan_for(endpoint, ABANDON_S)).run()
        return dict(await asyncio.gather(*(one(t, s) for t, s in jobs)))


def summary(name, errors):
    if not errors:
        print(f"    {name:16s} n=  0")
        return
    absolute = [abs(e) for e in errors]
    print(f"    {name:16s} n={len(errors):3d}  median |err| {statistics.median(absolute):5.2f} s"
          f"  max |err| {max(absolute):5.2f} s  within 0.5 s: "
          f"{sum(a <= 0.5 for a in absolute)}/{len(errors)}"
          f" ({100 * sum(a <= 0.5 for a in absolute) / len(errors):.0f} %)")


def score(box, jobs, results, split):
    errors = {m: [] for m in MEASURES}
    false_agent = missed = failed = false_transfer = 0
    for tag, scenario in jobs:
        result, truth = results[tag], box.truth(tag)
        if result.failed:
            failed += 1
            print(f"    failed: {tag} ({scenario}): {result.failed}")
            continue
        for name, (kind, truth_kind) in MEASURES.items():
            got, real = first(result, kind), truth.get(truth_kind, [{}])[0].get("at")
            if name == "agent answered":
                if got is None:
                    missed += 1
                    print(f"    agent missed: {tag} ({scenario})")
                    continue
                if real is None or got < real - 1.0:
                    false_agent += 1
                    print(f"    false agent: {tag} ({scenario}) "
                          f"{got - real if real else 0.0:+.1f} s")
                    continue
            if name == "transferred" and got is not None and real is None:
                false_transfer += 1
                print(f"    false transfer: {tag} ({scenario})")
                continue
            if got is None or real is None:
                if real is not None:
                    print(f"    {name} missed: {tag} ({scenario})")
                continue
            errors[name].append(got - real)
            if abs(got - real) > 0.5:
                print(f"    outlier: {tag} ({scenario}) {name} {got - real:+.2f} s")
    print(f"  {split}: {len(jobs)} calls over {', '.join(sorted(set(s for _, s in jobs)))}")
    for name in MEASURES:
        summary(name, errors[name])
    print(f"    false 'agent answered' on recordings: {false_agent}; agent missed: {missed}; "
          f"false transfers: {false_transfer}; failed calls: {failed}")


class RecognitionTimes:
    """Per segment: seconds waited for a recogniser worker, and seconds recognising
    (wraps the pool and its workers while the concurrency run lasts)."""

    def __init__(self) -> None:
        import threading

        from svcbench.probes.phone import recognise

        self.rows: list[tuple[float, float]] = []
        self._mod, self._local = recognise, threading.local()
        self._pool, self._worker = recognise.RecogniserPool.recognise, \
            recognise.Recogniser.recognise

    def __enter__(self) -> RecognitionTimes:
        pool, worker, local, rows = self._pool, self._worker, self._local, self.rows

        def timed_worker(w, samples, **kw):
            t0 = time.monotonic()
            try:
                return worker(w, samples, **kw)
            finally:
                local.took = time.monotonic() - t0

        def timed_pool(p, samples, **kw):
            t0 = time.monotonic()
            heard = pool(p, samples, **kw)
            rows.append((time.monotonic() - t0 - local.took, local.took))
            return heard

        self._mod.Recogniser.recognise = timed_worker
        self._mod.RecogniserPool.recognise = timed_pool
        return self

    def __exit__(self, *exc: object) -> None:
        self._mod.Recogniser.recognise = self._worker
        self._mod.RecogniserPool.recognise = self._pool

    def summary(self) -> str:
        if not self.rows:
            return "no segments recognised"
        waits, took = [r[0] for r in self.rows], [r[1] for r in self.rows]
        return (f"{len(self.rows)} segments recognised in {statistics.median(took):.2f} s "
                f"(median, max {max(took):.2f} s), waited for a worker "
                f"{statistics.median(waits):.2f} s (median, max {max(waits):.2f} s)")


def keep(dump, box, jobs, results):
    """Each call's events and truth, in seconds after dialing (for --dump)."""
    for tag, scenario in jobs:
        t0 = results[tag].events[0][1]
        dump[tag] = {"scenario": scenario, "failed": results[tag].failed,
                     "events": [(round(at - t0, 2), k, d) for k, at, d in results[tag].events],
                     "truth": sorted((round(r["at"] - t0, 2), r["kind"])
                                     for rows in box.truth(tag).values() for r in rows)}


#: the scenario splits, in the order ``--split all`` runs them
SPLITS = ("dev", "held-out", "fresh", "blind", "blind2", "blind3", "blind4", "blind5",
          "blind6", "blind7", "blind8")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=24, help="calls per split and seed")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--concurrent", type=int, default=20, help="0 skips part 2")
    parser.add_argument("--scale", type=float, default=0.15)
    parser.add_argument("--parallel", type=int, default=4, help="calls at a time in part 1")
    parser.add_argument("--split", default="all", choices=(*SPLITS, "all"))
    parser.add_argument("--backend", choices=("python", "debian"), default="python",
                        help="the probe's SIP backend (the simulated company runs on its own)")
    parser.add_argument("--hang-ups", action="store_true",
                        help="also call each split's company hang-ups once, at time scale 1 "
                             "(a hold as long as a real one), and print their outcomes")
    parser.add_argument("--dump", type=Path, help="write each call's events and truth (JSON)")
    parser.add_argument("--scenario", action="append", default=[], metavar="NAME",
                        help="only this scenario of the split (repeatable; never a held-out "
                             "or unspent blind one to tune a rule)")
    args = parser.parse_args()
    unknown = sorted(set(args.scenario) - set(load_scenarios()))
    if unknown:
        parser.error(f"--scenario: no such scenario: {', '.join(unknown)}")
    if available(args.backend):
        print(f"{args.backend} backend: {available(args.backend)}")
        return 1
    dump: dict = {}
    splits = SPLITS if args.split == "all" else (args.split,)
    splits = splits if args.calls else ()  # --calls 0: concurrency only
    with tempfile.TemporaryDirectory() as tmp, \
            PhoneSandbox(Path(tmp), time_scale=args.scale, jitter=True) as box:
        print(f"timing vs ground truth: simulated IVR at time scale {args.scale}, "
              f"{args.parallel} calls in "
              f"parallel, {args.seeds} seed(s), load average {os.getloadavg()[0]:.1f}")
        for split in splits:
            names = [n for n in scenarios(split) if not args.scenario or n in args.scenario]
            if not names:
                continue
            jobs = [(f"{split}-s{seed}-{i}", names[i % len(names)])
                    for seed in range(args.seeds) for i in range(args.calls)]
            results = asyncio.run(run_calls(box, jobs, args.parallel, args.backend))
            score(box, jobs, results, split)
            print(f"    (load average after the split: {os.getloadavg()[0]:.1f})")
            keep(dump, box, jobs, results)
        if args.hang_ups:
            (Path(tmp) / "hang-ups").mkdir()
            with PhoneSandbox(Path(tmp) / "hang-ups", time_scale=1.0, jitter=True) as real:
                jobs = [(f"{split}-hang-up-{i}", name) for split in splits
                        for i, name in enumerate(hang_up_scenarios(split))]
                print(f"company hang-ups at time scale 1: {len(jobs)} calls")
                results = asyncio.run(run_calls(real, jobs, args.parallel, args.backend))
                score_hang_ups(jobs, results)
                keep(dump, real, jobs, results)
        if args.dump:
            args.dump.write_text(json.dumps(dump, indent=1, default=str))
        if not args.concurrent:
            return 0
        recogniser = shared()
        cpu0 = time.process_time()
        wall0 = time.time()
        jobs = [(f"c{i}", "quick") for i in range(args.concurrent)]
        with Processes() as children, RecognitionTimes() as recognition:
            results = asyncio.run(run_calls(box, jobs, args.concurrent, args.backend))
        wall = time.time() - wall0
        cpu = time.process_time() - cpu0
        if args.dump:
            keep(dump, box, jobs, results)
            args.dump.write_text(json.dumps(dump, indent=1, default=str))
        answered = sum(1 for r in results.values() if first(r, "call.agent_answered"))
        errors = sorted(abs(first(r, "call.agent_answered") - box.truth(t)["agent_answered"][0]
                            ["at"]) for t, r in results.items()
                        if first(r, "call.agent_answered") and box.truth(t).get("agent_answered"))
        failed = [r.failed for r in results.values() if r.failed]
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"concurrency ({args.backend} backend): {args.concurrent} simultaneous calls in "
              f"{wall:.1f} s wall; {answered} reached the agent; {len(failed)} failed "
              f"{sorted(set(failed))[:2]}; agent |error| median "
              f"{statistics.median(errors) if errors else float('nan'):.2f} s, max "
              f"{max(errors, default=float('nan')):.2f} s; probe process CPU {cpu:.1f} s "
              f"({100 * cpu / wall:.0f} % of one core), peak RSS {peak_mb:.0f} MB; "
              f"{len(recogniser._all)} recogniser workers; child processes: "
              f"{children.summary()}; {recognition.summary()}; "
              f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
