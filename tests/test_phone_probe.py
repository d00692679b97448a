"""The automated phone probe over real SIP/RTP on 127.0.0.1 against the simulated IVR."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from svcbench.probes.phone.sip import available

pytestmark = pytest.mark.skipif(
    available() is not None or not Path("/usr/share/asterisk/moh").exists()
    or shutil.which("flite") is None,
    reason=f"SIP stack or Debian audio missing: {available()} (scripts/install-system-deps)")

SCALE = 0.15  # the company's clock runs ~7x faster: a 40 s queue takes 6 s


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    from svcbench.sandbox.phone import PhoneSandbox

    with PhoneSandbox(tmp_path_factory.mktemp("phone"), time_scale=SCALE) as box:
        yield box


def _endpoint(uri: str, **extra):
    from svcbench.probes.phone import SipEndpoint

    return SipEndpoint.model_validate({"plugin": "sip", "uri": uri, **extra})


def _calls(sandbox, jobs):
    """Run several calls at once through one SIP stack; {tag: CallResult}."""
    from svcbench.probes.phone import plan_for
    from svcbench.probes.phone.engine import CallEngine
    from svcbench.probes.phone.sip import Account, SipStack

    async def go():
        async with SipStack(Account()) as stack:
            engines = {tag: CallEngine(stack, plan_for(_endpoint(sandbox.uri(sc, tag), **ex),
                                                       abandon))
                       for tag, (sc, abandon, ex) in jobs.items()}
            results = await asyncio.gather(*(e.run() for e in engines.values()))
            return dict(zip(engines, results, strict=True))

    return asyncio.run(go())


def _first(result, kind, **match):
    for k, at, data in result.events:
        if k == kind and all(data.get(a) == b for a, b in match.items()):
            return at, data
    return None


def test_calls_reach_the_agent_and_ignore_recordings(sandbox):
    results = _calls(sandbox, {"q": ("quick", 120, {}), "f": ("fake-human", 120, {}),
                               "s": ("silent-fake-human", 120, {})})
    for tag, result in results.items():
        truth = sandbox.truth(tag)
        assert result.failed is None, (tag, result.failed)
        connected = _first(result, "call.connected")
        assert connected and connected[1]["rings"] >= 1
        assert _first(result, "call.option_pressed", option="0"), tag
        agent = _first(result, "call.agent_answered")
        trail = [(round(at - result.events[0][1], 1), k, d.get("detector"), d.get("reason"))
                 for k, at, d in result.events if d.get("detector") != "segment"]
        assert agent is not None, (tag, trail, truth)
        assert abs(agent[0] - truth["agent_answered"][0]["at"]) <= 1.0, tag
        assert _first(result, "call.detector", detector="human_confirmed")
        hold = _first(result, "call.hold_started")
        assert hold is not None and hold[0] < agent[0]
        assert abs(hold[0] - truth["hold_started"][0]["at"]) <= 1.5, tag
        hung = [d for k, _, d in result.events if k == "call.hung_up"]
        assert hung[-1]["by"] == "us"
    # the recorded "Hi, thanks for waiting" never counted as the agent
    for tag in ("f", "s"):
        truth = sandbox.truth(tag)
        agent_at = _first(results[tag], "call.agent_answered")[0]
        assert agent_at > truth["fake_human"][0]["at"] + 1.0
        assert _first(results[tag], "call.detector", detector="human_rejected")
    music = _first(results["q"], "call.hold_music")
    assert music[1]["playing"] is True
    assert _first(results["s"], "call.hold_music")[1]["playing"] is False
    assert _first(results["q"], "call.wait_announced") is not None
    assert _first(results["q"], "call.queue_position") is not None


def test_company_hang_up_and_abandonment_and_our_failures(sandbox, tmp_path):
    from svcbench.probes.phone import SipPhoneProbe, to_events
    from svcbench.probes.phone.sip import Account, SipStack

    results = _calls(sandbox, {"h": ("hangs-up", 120, {}), "n": ("nobody", 12, {})})
    plugin = SipPhoneProbe()

    def outcome(result):
        from svcbench.models import Channel, Probe

        probe = Probe(id="p", company="x", channel=Channel.PHONE, plugin="sip")
        events = to_events("p", result)
        return plugin.outcome(probe, events, events[-1].at), \
            plugin.outcome_reason(probe, events)

    assert outcome(results["n"]) == ("abandoned", "abandoned after 12 s without a live agent")
    status, reason = outcome(results["h"])
    assert status == "unanswered" and "the company hung up" in reason, reason

    async def unreachable():
        await SipStack(Account(registrar="127.0.0.1:9", register=True)).start()

    from svcbench.probes.phone.sip import SipError

    with pytest.raises(SipError, match="registrar"):
        asyncio.run(unreachable())


def test_bad_ivr_script_is_a_config_error():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="dtmf"):
        _endpoint("sip:x@127.0.0.1", ivr=[{"expect": ["agent"], "dtmf": "0x"}])
    with pytest.raises(ValidationError, match="uri"):
        _endpoint("tel:+1800")


def test_dial_command_records_the_call(sandbox, tmp_path):
    from typer.testing import CliRunner

    from svcbench.cli import app

    root = tmp_path / "ws"
    runner = CliRunner()
    assert runner.invoke(app, ["init", str(root)]).exit_code == 0
    (root / "probes" / "phone-sim.toml").write_text(
        '[[company]]\nid = "dial-sim"\nname = "Dial Sim"\n'
        '[company.channels.phone]\nplugin = "sip"\n'
        f'uri = "{sandbox.uri("direct", "cli")}"\n')
    result = runner.invoke(app, ["phone", "dial", "dial-sim", "--json", "-w", str(root)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout[result.stdout.index("{"):])
    assert data["outcome"] == "answered", (data["reason"], sandbox.truth("cli"))
    kinds = [e["kind"] for e in data["events"]]
    assert "call.agent_answered" in kinds and "call.connected" in kinds
    assert data["measurement"]["wait_s"] > 0


class _RefusingRegistrar:
    """A UDP registrar on loopback that challenges every REGISTER and refuses every answer
    (wrong credentials): 401 with a digest challenge, then 403."""

    def __init__(self):
        import socket
        import threading

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.seen: list[str] = []
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop:
            try:
                data, addr = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            text = data.decode(errors="replace")
            if not text.startswith("REGISTER"):
                continue
            self.seen.append(text)
            headers = [line for line in text.split("\r\n")
                       if line.split(":", 1)[0].lower() in ("via", "from", "to", "call-id",
                                                             "cseq")]
            headers = [h + ";tag=reg1" if h.lower().startswith("to:") else h for h in headers]
            if "authorization:" in text.lower():
                status = "403 Forbidden"
            else:
                status = "401 Unauthorized"
                headers.append('WWW-Authenticate: Digest realm="svcbench", nonce="n0nce", '
                               'algorithm=MD5, qop="auth"')
            reply = f"SIP/2.0 {status}\r\n" + "\r\n".join(headers) + "\r\nContent-Length: 0\r\n\r\n"
            self.sock.sendto(reply.encode(), addr)

    def close(self):
        self._stop = True
        self._thread.join(2)
        self.sock.close()


def test_wrong_credentials_fail_on_our_side():
    from svcbench.probes.phone import SipEndpoint, place_call
    from svcbench.probes.phone.sip import Account

    registrar = _RefusingRegistrar()
    try:
        account = Account(user="anna", domain=f"127.0.0.1:{registrar.port}",
                          password="wrong", register=True)
        endpoint = SipEndpoint(uri="sip:quick@127.0.0.1:9")
        result = asyncio.run(place_call(endpoint, account, 30))
    finally:
        registrar.close()
    assert registrar.seen and any("authorization:" in m.lower() for m in registrar.seen)
    assert result.failed and "credentials" in result.failed, result.failed
