"""Phone probe timing against the simulated IVR's ground truth, and concurrency.

    .venv/bin/python bench/phone_timing.py [--calls 12] [--concurrent 20] [--scale 0.15]

Part 1: --calls calls (scenarios cycled: quick, no-zero, silent, fake-human,
silent-fake-human, broken-promise), run 4 at a time; prints the error (probe minus truth, s)
of hold start, agent answered and wait announcement, and false "agent answered" on
recordings (an agent event before the truth's agent instant). Part 2: --concurrent
simultaneous calls through one SIP stack, with CPU time and peak memory of the probe process
(the simulated company runs in its own process and is measured separately).
"""

from __future__ import annotations

import argparse
import asyncio
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
from svcbench.probes.phone.sip import Account, SipStack  # noqa: E402
from svcbench.sandbox.phone import PhoneSandbox  # noqa: E402

SCENARIOS = ["quick", "no-zero", "silent", "fake-human", "silent-fake-human", "broken-promise"]


def proc_cpu(pid: int) -> float:
    """utime + stime of a live process, in seconds (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first(result, kind):
    return next((at for k, at, _ in result.events if k == kind), None)


async def run_calls(box, jobs, parallel):
    sem = asyncio.Semaphore(parallel)
    async with SipStack(Account()) as stack:
        async def one(tag, scenario):
            async with sem:
                endpoint = SipEndpoint(uri=box.uri(scenario, tag))
                return tag, await CallEngine(stack, plan_for(endpoint, 300)).run()
        return dict(await asyncio.gather(*(one(t, s) for t, s in jobs)))


def summary(name, errors):
    if not errors:
        print(f"  {name:22s} n=0")
        return
    absolute = [abs(e) for e in errors]
    print(f"  {name:22s} n={len(errors):3d} median |err| {statistics.median(absolute):.2f} s, "
          f"max |err| {max(absolute):.2f} s, within 0.5 s: "
          f"{sum(a <= 0.5 for a in absolute)}/{len(errors)}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=12)
    parser.add_argument("--concurrent", type=int, default=20)
    parser.add_argument("--scale", type=float, default=0.15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, \
            PhoneSandbox(Path(tmp), time_scale=args.scale) as box:
        jobs = [(f"t{i}", SCENARIOS[i % len(SCENARIOS)]) for i in range(args.calls)]
        results = asyncio.run(run_calls(box, jobs, 4))
        hold, agent, wait, false_agent, missed, failed = [], [], [], 0, 0, 0
        for tag, result in results.items():
            truth = box.truth(tag)
            if result.failed:
                failed += 1
                continue
            got = first(result, "call.agent_answered")
            real = truth.get("agent_answered", [{}])[0].get("at")
            if got is None:
                missed += 1
            elif real is None or got < real - 1.0:
                false_agent += 1
                offset = got - real if real else 0.0
                print(f"  false agent: {tag} ({dict(jobs)[tag]}) at {offset:+.1f} s")
            else:
                agent.append(got - real)
            if first(result, "call.hold_started") and truth.get("hold_started"):
                hold.append(first(result, "call.hold_started") - truth["hold_started"][0]["at"])
            mine = {"agent": got - real if got is not None and real is not None else None,
                    "hold": hold[-1] if first(result, "call.hold_started") else None}
            for name, error in mine.items():
                if error is not None and abs(error) > 0.5:
                    print(f"  outlier: {tag} ({dict(jobs)[tag]}) {name} {error:+.1f} s")
            if first(result, "call.wait_announced") and truth.get("wait_announced"):
                wait.append(first(result, "call.wait_announced")
                            - truth["wait_announced"][0]["at"])
        print(f"timing vs ground truth: {args.calls} calls, simulated IVR at time scale "
              f"{args.scale}, 4 in parallel, 2-core shared machine")
        summary("hold started", hold)
        summary("agent answered", agent)
        summary("wait announced", wait)
        print(f"  false 'agent answered' on recordings: {false_agent}; agent missed: {missed}; "
              f"failed calls: {failed}")

        recogniser = shared()
        cpu0 = time.process_time()
        others0 = proc_cpu(box.proc.pid) + proc_cpu(recogniser._proc.pid)
        wall0 = time.time()
        jobs = [(f"c{i}", "quick") for i in range(args.concurrent)]
        results = asyncio.run(run_calls(box, jobs, args.concurrent))
        wall = time.time() - wall0
        cpu = time.process_time() - cpu0
        ivr_cpu = proc_cpu(box.proc.pid)
        rec_cpu = proc_cpu(recogniser._proc.pid)
        others = ivr_cpu + rec_cpu - others0
        answered = sum(1 for r in results.values() if first(r, "call.agent_answered"))
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"concurrency: {args.concurrent} simultaneous calls in {wall:.1f} s wall; "
              f"{answered} reached the agent; probe process CPU {cpu:.1f} s "
              f"({100 * cpu / wall:.0f} % of one core), peak RSS {peak_mb:.0f} MB; "
              f"recogniser + simulated company processes CPU {others:.1f} s; "
              f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
