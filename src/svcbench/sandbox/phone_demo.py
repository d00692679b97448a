"""The demo's automated phone calls: a few simulated companies called over SIP on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

#: (scenario, what the demo shows with it)
DEMO_SCENARIOS = ("quick", "fake-human", "no-zero", "broken-promise")


def skip_reason() -> str | None:
    from ..probes.phone import voice
    from ..probes.phone.sip import available

    reason = available("python")  # the simulated company answers on baresip-python only
    if reason:
        return f"the simulated company needs baresip-python: {reason}"
    if not voice.MOH_DIR.exists() or not voice.PROMPTS_DIR.exists():
        return "Debian's IVR prompts or hold music are missing (scripts/install-system-deps)"
    import shutil

    if not (shutil.which("flite") or shutil.which("espeak-ng")):
        return "no speech synthesiser (flite or espeak-ng) installed"
    return None


def demo_calls(root: Path, companies: list[str], say: Callable[[str], None], *,
               time_scale: float = 0.1, campaign: str = "demo-live") -> str | None:
    """Call up to four companies at once; returns a note when the calls were skipped."""
    reason = skip_reason()
    if reason:
        return f"automated phone calls skipped: {reason}"
    from datetime import timedelta

    from ..lifecycle import finish_probe
    from ..models import Channel, Outcome, Probe, ProbeStatus, new_id, utcnow
    from ..plugins import probe_plugin
    from ..probes.phone import SipEndpoint, plan_for, to_events
    from ..probes.phone.engine import CallEngine
    from ..probes.phone.sip import Account, SipStack
    from ..workspace import Workspace
    from .phone import PhoneSandbox

    folder = root / "sandbox" / "phone"
    folder.mkdir(parents=True, exist_ok=True)
    jobs = list(zip(companies, DEMO_SCENARIOS, strict=False))
    say(f"Automated phone calls over SIP on 127.0.0.1: {len(jobs)} companies at once "
        f"(the simulated IVR's clock runs {1 / time_scale:.0f}x fast)")
    with PhoneSandbox(folder, time_scale=time_scale) as box:
        async def go():
            async with SipStack(Account()) as stack:
                engines = [CallEngine(stack, plan_for(SipEndpoint(uri=box.uri(s, c)), 240))
                           for c, s in jobs]
                return await asyncio.gather(*(e.run() for e in engines))

        results = asyncio.run(go())
    ws = Workspace.open(root)
    plugin = probe_plugin("sip")
    try:
        for (company, scenario), result in zip(jobs, results, strict=True):
            now = utcnow()
            probe = Probe(id=new_id(), company=company, channel=Channel.PHONE, plugin="sip",
                          campaign=campaign, scenario=None, status=ProbeStatus.RUNNING,
                          due_at=now, started_at=now, deadline_at=now + timedelta(minutes=5))
            events = to_events(probe.id, result)
            ws.store.add_probe(probe, events)
            outcome = plugin.outcome(probe, events, utcnow()) or Outcome.FAILED
            m = finish_probe(ws.store, probe, outcome, config=ws.config,
                             reason=plugin.outcome_reason(probe, events))
            say(f"  {company} ({scenario}): {outcome}"
                + (f", live agent after {m.wait_s:.1f} s" if m.wait_s else ""))
    finally:
        ws.close()
    return None
