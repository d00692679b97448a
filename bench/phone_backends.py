"""The two SIP backends side by side against the simulated IVR's ground truth.

    .venv/bin/python bench/phone_backends.py [--calls 4] [--parallel 2] [--scale 0.15]

For each backend installed here (baresip-python; Debian's baresip, one process per call):
--calls calls to the "quick" scenario, --parallel at a time; prints how many reached the
agent, the error (probe minus truth, s) of hold start and agent answered, the time from
dialing to 200 OK, and CPU and peak memory of the probe process and of each kind of child
process (Debian's baresip, one per call; the recogniser workers; the simulated company,
which runs on baresip-python in its own process), sampled as in bench/phone_timing.py.
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
from svcbench.probes.phone.sip import Account, available, open_stack  # noqa: E402
from svcbench.sandbox.phone import PhoneSandbox  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from phone_timing import ABANDON_S, Processes  # noqa: E402


def first(result, kind):
    return next(((at, d) for k, at, d in result.events if k == kind), (None, {}))


async def run(box, backend, calls, parallel):
    sem = asyncio.Semaphore(parallel)
    async with open_stack(Account(), backend=backend, max_call_s=ABANDON_S + 120) as stack:
        async def one(tag):
            async with sem:
                endpoint = SipEndpoint(uri=box.uri("quick", tag))
                return tag, await CallEngine(stack, plan_for(endpoint, ABANDON_S)).run()
        return dict(await asyncio.gather(*(one(f"{backend}-{i}") for i in range(calls))))


def median_abs(values):
    return f"{statistics.median(abs(v) for v in values):.2f} s" if values else "n/a"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=4)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--scale", type=float, default=0.15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, \
            PhoneSandbox(Path(tmp), time_scale=args.scale) as box:
        for backend in ("python", "debian"):
            if available(backend):
                print(f"{backend}: skipped ({available(backend)})")
                continue
            cpu0, wall0 = time.process_time(), time.time()
            with Processes() as children:
                results = asyncio.run(run(box, backend, args.calls, args.parallel))
            wall = time.time() - wall0
            cpu = time.process_time() - cpu0
            agent, hold, answer, reached, failed = [], [], [], 0, []
            for tag, result in results.items():
                truth = box.truth(tag)
                if result.failed:
                    failed.append(result.failed)
                    continue
                got, _ = first(result, "call.agent_answered")
                if got is not None and truth.get("agent_answered"):
                    reached += 1
                    agent.append(got - truth["agent_answered"][0]["at"])
                held, _ = first(result, "call.hold_started")
                if held is not None and truth.get("hold_started"):
                    hold.append(held - truth["hold_started"][0]["at"])
                _, connected = first(result, "call.connected")
                if connected:
                    answer.append(connected["answer_s"])
            print(f"{backend}: {args.calls} calls ({args.parallel} at a time, scale "
                  f"{args.scale}) in {wall:.1f} s; reached the agent {reached}/{args.calls}; "
                  f"failed {len(failed)} {failed[:1]}; median |error| agent {median_abs(agent)}, "
                  f"hold {median_abs(hold)}; dial to 200 OK median "
                  f"{statistics.median(answer) if answer else float('nan'):.2f} s "
                  f"(the IVR rings {6.0 * args.scale:.1f} s); probe CPU {cpu:.1f} s, peak RSS "
                  f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
                  f"child processes: {children.summary()}; "
                  f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
