"""Choosing the SIP backend (baresip-python, Debian's baresip) and its failure paths; no
calls are placed here (the calls are in test_phone_probe.py, for each backend)."""

from __future__ import annotations

import asyncio
import struct
import time

import pytest

from svcbench.probes.phone import sip, sip_debian


@pytest.fixture
def missing(monkeypatch):
    """Pretend a backend is not installed: missing("python") / missing("debian")."""
    monkeypatch.delenv(sip.BACKEND_ENV, raising=False)

    def hide(name: str) -> None:
        if name == "python":
            monkeypatch.setattr(sip, "_python_missing", lambda: "no baresip-python here")
        else:
            monkeypatch.setattr(sip_debian, "available", lambda: "no Debian baresip here")
    return hide


def test_auto_prefers_the_python_binding_then_debian(missing, monkeypatch):
    monkeypatch.setattr(sip, "_python_missing", lambda: None)
    monkeypatch.setattr(sip_debian, "available", lambda: None)
    assert sip.resolve("auto") == ("python", None)
    missing("python")
    assert sip.resolve("auto") == ("debian", None)
    assert isinstance(sip.open_stack(sip.Account()), sip_debian.DebianStack)
    missing("debian")
    name, reason = sip.resolve("auto")
    assert "no baresip-python here" in reason and "no Debian baresip here" in reason


def test_explicit_backend_and_environment(missing, monkeypatch):
    monkeypatch.setattr(sip, "_python_missing", lambda: None)
    monkeypatch.setattr(sip_debian, "available", lambda: None)
    monkeypatch.setenv(sip.BACKEND_ENV, "debian")
    assert sip.resolve("auto")[0] == "debian"
    assert sip.resolve("python")[0] == "python"  # the config's explicit choice wins
    monkeypatch.setenv(sip.BACKEND_ENV, "pjsip")
    assert "unknown SIP backend 'pjsip'" in sip.resolve("auto")[1]
    with pytest.raises(sip.SipError, match="unknown SIP backend"):
        sip.open_stack(sip.Account())


def test_no_sip_stack_is_our_failure_not_the_companys(missing):
    from svcbench.models import Channel, Probe
    from svcbench.probes.phone import SipEndpoint, SipPhoneProbe, place_call, to_events

    missing("python")
    missing("debian")
    result = asyncio.run(place_call(SipEndpoint(uri="sip:quick@127.0.0.1:9"), sip.Account(), 30))
    probe = Probe(id="p", company="x", channel=Channel.PHONE, plugin="sip")
    events = to_events("p", result)
    plugin = SipPhoneProbe()
    assert plugin.outcome(probe, events, events[-1].at) == "failed"
    assert "no Debian baresip here" in plugin.outcome_reason(probe, events)


def test_demo_says_why_it_skips_calls(missing, tmp_path):
    from svcbench.sandbox.phone_demo import demo_calls

    missing("python")  # the simulated company answers on baresip-python only
    note = demo_calls(tmp_path, ["a"], say=lambda _: None)
    assert note and note.startswith("automated phone calls skipped") and "baresip-python" in note


def test_bad_backend_name_is_a_config_error():
    from pydantic import ValidationError

    from svcbench.probes.phone import SipEndpoint

    with pytest.raises(ValidationError, match="sip_backend"):
        SipEndpoint(uri="sip:x@127.0.0.1", sip_backend="pjsip")


def test_debian_account_line_and_refusals():
    agent = sip_debian._Agent(
        sip.Account(user="anna", domain="sip.example.com", password="s3cret",
                    registrar="proxy.example.com", register=True, codecs=("pcmu",)),
        directory=None, interface=None, listen="127.0.0.1:0", rtp_timeout_s=0, idle=None)
    line = agent._account_line()
    assert line.startswith("<sip:anna@sip.example.com;transport=udp>;regint=600")
    assert ';outbound="sip:proxy.example.com"' in line and "audio_codecs=PCMU" in line
    bad = sip_debian._Agent(sip.Account(user="a;b"), directory=None, interface=None,
                            listen="127.0.0.1:0", rtp_timeout_s=0, idle=None)
    with pytest.raises(sip.SipError, match="cannot take"):
        bad._account_line()
    with pytest.raises(sip.SipError, match="places calls"):
        sip_debian.DebianStack(sip.Account(), catch_all=True)


def test_debian_reads_the_decoder_dump_as_it_grows(tmp_path):
    """What Debian's sndfile filter writes (a WAV whose header says 0 bytes while the call
    runs) is read frame-aligned as it grows; wideband is brought to 8 kHz mono."""
    snd = tmp_path / "snd"
    snd.mkdir()
    agent = sip_debian._Agent(sip.Account(), tmp_path, interface=None, listen="",
                              rtp_timeout_s=0, idle=None)
    call = sip_debian.DebianCall(agent, stack=None, ends_at=0)
    assert call.read()[0] == b""
    dump = snd / "dump-2026-12-01-dec.wav"
    header = sip_debian._wav_header(0)
    dump.write_bytes(header[:20])  # header still being written
    assert call.read()[0] == b""
    dump.write_bytes(header + b"\x01\x00\x02\x00\x03")  # an odd byte: half a sample
    assert call.read()[0] == b"\x01\x00\x02\x00"
    with dump.open("ab") as fh:
        fh.write(b"\x00")
    assert call.read()[0] == b"\x03\x00"
    assert call.read()[0] == b""
    assert sip_debian._data_chunk(header) == (44, 8000, 1)
    wide = struct.pack("<4h", 100, 100, 200, 200)
    assert len(sip_debian._to_line_rate(wide, 16000, 1)) == 4  # 4 samples at 16 kHz -> 2


def test_debian_frees_the_part_of_the_dump_already_read(tmp_path):
    """The decoder's dump grows 16 KB a second for the whole call: what was read is given
    back to the filesystem (hole punched), while baresip goes on appending to it."""
    import os

    snd = tmp_path / "snd"
    snd.mkdir()
    agent = sip_debian._Agent(sip.Account(), tmp_path, interface=None, listen="",
                              rtp_timeout_s=0, idle=None)
    call = sip_debian.DebianCall(agent, stack=None, ends_at=0)
    dump = snd / "dump-dec.wav"
    audio = bytes(range(256)) * (3 * 2**20 // 256)  # 3 MB (about 3 minutes of a call)
    with dump.open("wb") as writer:  # the writer keeps its own handle, as baresip does
        writer.write(sip_debian._wav_header(0) + audio[: 2**20])
        writer.flush()
        got = b"".join(call.read(2**20)[0] for _ in range(3))
        writer.write(audio[2**20:])
        writer.flush()
        got += b"".join(call.read(2**20)[0] for _ in range(4))
    assert got == audio  # every byte read once, in order, punched holes or not
    size, on_disk = dump.stat().st_size, dump.stat().st_blocks * 512
    assert size == 44 + len(audio)
    assert on_disk < 2**20 + 8192, (size, on_disk)  # only the unread tail and the header
    assert os.path.getsize(dump) == size


def test_an_ended_calls_late_events_do_not_end_a_new_call_on_its_handle():
    """A call handle is a native address, and a later call may get it again. An ended
    call's last event, kept under that handle for a call not yet wrapped, was replayed on
    the next call dialed there: under CI load a one-way line the far end had answered
    failed as "call not placed: call failed: Rejected by user"."""
    from types import SimpleNamespace

    def event(name, text=""):
        return SimpleNamespace(call=0x5A5A, event=SimpleNamespace(name=name), text=text)

    def raw():
        return SimpleNamespace(handle=0x5A5A, on_dtmf=lambda callback: None)

    stack = sip.SipStack(sip.Account())
    old = stack._wrap(raw())
    stack._route(event("CALL_CLOSED", "Rejected by user"))
    assert old.is_closed
    stack._route(event("CALL_CLOSED", "Rejected by user"))  # late, after it was dropped
    dialed = time.time()
    stack._route(event("CALL_RINGING"))  # the new call's, before dial() returned it
    new = stack._wrap(raw(), since=dialed)
    assert not new.is_closed and [s.kind for s in new.signals] == ["ringing"]
    stack._route(event("CALL_ESTABLISHED"))
    assert [s.kind for s in new.signals] == ["ringing", "established"]


def test_an_answer_heard_before_the_binding_listens_is_an_answer():
    """SIPp's one-way line answers at once. Under CI load its CALL_ESTABLISHED came before
    the binding's Call object was listening (our router kept it): the binding waited out
    the ring timeout, hung up (our BYE, "Rejected by user") and the dial failed as "call
    failed: Rejected by user" on a line that had answered."""
    from types import SimpleNamespace

    baresip = pytest.importorskip("baresip")

    def event(name, text=""):
        return SimpleNamespace(call=0x77, event=SimpleNamespace(name=name), text=text)

    stack = sip.SipStack(sip.Account())

    class Deaf:  # the binding's Call that missed the answer
        handle = 0x77

        def on_dtmf(self, callback):
            pass

        async def wait_established(self, timeout):
            await asyncio.sleep(timeout)
            stack._route(event("CALL_CLOSED", "Rejected by user"))  # its hang-up
            raise baresip.CallTimeout("call not established")

    class Agent:
        async def dial(self, uri):
            stack._route(event("CALL_ESTABLISHED"))  # before the Call object exists
            return Deaf()

    stack._ua = Agent()
    call = asyncio.run(stack.dial("sip:one-way@127.0.0.1", timeout=1.0))
    assert not call.is_closed and "established" in [s.kind for s in call.signals]
