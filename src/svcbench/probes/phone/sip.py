"""The SIP/RTP user agent behind one small interface.

The probe, the simulated IVR and the bench only see :class:`SipStack` and :class:`SipCall`:
dial or answer, read and write 8 kHz 16-bit mono PCM, send and receive DTMF, hang up.
Two backends: PyPI ``baresip-python`` (it bundles libre and libbaresip; one stack per
process; places and answers calls) and, as a fallback that only places calls, Debian's
``baresip`` binary (:mod:`.sip_debian`). :func:`open_stack` picks one (``auto``: the Python
binding when importable, else Debian's binary); :func:`available` says why none can be used,
so callers can skip or fail with that reason instead of a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SAMPLE_RATE = 8000
BYTES_PER_SECOND = SAMPLE_RATE * 2


class SipError(Exception):
    """A call could not be placed or went wrong on our side; ``reason`` is one line."""

    def __init__(self, reason: str, *, status: int | None = None, ours: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.ours = ours


BACKENDS = ("auto", "python", "debian")
#: overrides ``sip_backend = "auto"`` (e.g. to test the Debian fallback on a machine with both)
BACKEND_ENV = "SVCBENCH_SIP_BACKEND"


def resolve(backend: str = "auto") -> tuple[str, str | None]:
    """The backend ``backend`` means here ("python" or "debian") and None, or the reason no
    SIP stack can be used."""
    if backend == "auto":
        backend = os.environ.get(BACKEND_ENV, "").strip().lower() or "auto"
    if backend not in BACKENDS:
        return backend, f"unknown SIP backend {backend!r} (auto, python or debian)"
    if backend == "python":
        return "python", _python_missing()
    from .sip_debian import available as debian_missing

    if backend == "debian":
        return "debian", debian_missing()
    python = _python_missing()
    if python is None:
        return "python", None
    debian = debian_missing()
    return ("debian", None) if debian is None else ("python", f"{python}; {debian}")


def available(backend: str = "auto") -> str | None:
    """None when a SIP stack (of ``backend``) can be used here, else the reason it cannot."""
    return resolve(backend)[1]


def open_stack(account: Account, *, backend: str = "auto", max_call_s: float = 1800.0,
               **options: Any) -> Any:
    """An unstarted stack of the chosen backend (a :class:`SipStack` or a
    :class:`.sip_debian.DebianStack`); raises :class:`SipError` when none can be used."""
    name, reason = resolve(backend)
    if reason:
        raise SipError(reason)
    if name == "debian":
        from .sip_debian import DebianStack

        return DebianStack(account, max_call_s=max_call_s, **options)
    return SipStack(account, **options)


def call_failed(text: str, status: int | None) -> SipError:
    """The error for a call the far end or the network refused, with whose it is."""
    text = text.removeprefix("call failed: ")
    if status in (415, 488, 606):
        return SipError(f"no audio codec in common with the far end ({text}): check "
                        "channels.phone.account.codecs", status=status)
    return SipError(f"call failed: {text}", status=status, ours=status not in (486, 600, 603))


def _python_missing() -> str | None:
    try:
        import baresip  # noqa: F401
        from baresip import Runtime  # noqa: F401  (loads the native extension)
    except ImportError as exc:
        return f"the SIP stack is not installed (pip install --pre 'svcbench[phone]'): {exc}"
    except OSError as exc:  # pragma: no cover - a broken wheel on an odd platform
        return f"the SIP stack cannot load here: {exc}"
    return None


@dataclass(frozen=True)
class Account:
    """Who we call as. ``registrar`` None dials directly (no REGISTER)."""

    user: str = "shopper"
    domain: str = "127.0.0.1"
    password: str = ""
    registrar: str | None = None
    auth_user: str | None = None
    transport: str = "udp"
    codecs: tuple[str, ...] = ("pcmu", "pcma")
    register: bool = False


@dataclass
class Signal:
    """One signalling fact with its wall-clock instant (ringing, established, closed)."""

    kind: str
    at: float
    text: str | None = None


class CallSignals:
    """What every backend's call shares: DTMF listeners and the closed flag."""

    closed: asyncio.Event
    _dtmf: list[Callable[[str, float], None]]

    def on_dtmf(self, callback: Callable[[str, float], None]) -> None:
        self._dtmf.append(callback)

    @property
    def is_closed(self) -> bool:
        return self.closed.is_set()


@dataclass
class SipCall(CallSignals):
    """One call. Audio is read with the instant its last sample arrived."""

    _call: Any
    stack: SipStack
    signals: list[Signal] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    established: asyncio.Event = field(default_factory=asyncio.Event)
    close_reason: str | None = None
    #: the address the caller dialed (To), on incoming calls
    dialed: str = ""
    _dtmf: list[Callable[[str, float], None]] = field(default_factory=list)

    def _on_event(self, event: Any, now: float) -> None:
        name = event.event.name
        kind = {"CALL_RINGING": "ringing", "CALL_PROGRESS": "progress",
                "CALL_ESTABLISHED": "established", "CALL_CLOSED": "closed",
                "CALL_RTPESTAB": "rtp"}.get(name)
        if kind is None:
            return
        self.signals.append(Signal(kind, now, event.text))
        if kind == "established":
            self.established.set()
        if kind == "closed":
            self.close_reason = event.text or ""
            self.closed.set()

    def _on_digit(self, digit: Any) -> None:
        for callback in list(self._dtmf):
            callback(digit.digit, time.time())

    def read(self, max_bytes: int = 32000) -> tuple[bytes, float]:
        """Received PCM since the last read, and the wall-clock time of its last sample."""
        from baresip import AudioNotActive, AudioRestarted

        at = time.time()
        try:
            return self._call.audio.read(max_bytes), at
        except (AudioNotActive, AudioRestarted):
            return b"", at

    def write(self, pcm: bytes) -> int:
        from baresip import AudioNotActive, AudioRestarted

        try:
            return self._call.audio.write(pcm)
        except (AudioNotActive, AudioRestarted):
            return 0

    def tx_buffered(self) -> int:
        from baresip import AudioNotActive

        try:
            return self._call.audio.info().tx_buffered
        except AudioNotActive:
            return 0

    def flush(self) -> None:
        from baresip import AudioNotActive, AudioRestarted

        with contextlib.suppress(AudioNotActive, AudioRestarted):
            self._call.audio.flush_tx()

    def rx_packets(self) -> int | None:
        stats = getattr(self._call, "final_stats", None)
        return getattr(stats, "rx_packets", None) if stats else None

    async def send_dtmf(self, digits: str) -> None:
        from baresip import BaresipError

        try:
            await self._call.send_dtmf(digits)
        except ValueError as exc:
            raise SipError(f"cannot send DTMF {digits!r}: {exc}") from None
        except BaresipError as exc:
            raise SipError(f"DTMF not sent: {exc}") from None

    async def answer(self) -> None:
        await self._call.answer()

    async def hangup(self) -> None:
        from baresip import BaresipError

        if self.is_closed:
            return
        with contextlib.suppress(BaresipError):
            await self._call.hangup()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closed.wait(), 2)


class SipStack:
    """One baresip runtime and user agent (one per process), as an async context manager."""

    backend = "python"

    def __init__(self, account: Account, *, listen: str = "127.0.0.1:0",
                 interface: str | None = "127.0.0.1", max_calls: int | None = None,
                 rtp_timeout_s: int = 0, catch_all: bool = False):
        self.account = account
        self.listen = listen
        self.interface = interface
        self.max_calls = max_calls
        self.rtp_timeout_s = rtp_timeout_s
        self.catch_all = catch_all  # answer calls to any user at this address (the sandbox)
        self._runtime: Any = None
        self._ua: Any = None
        # events can arrive before dial() returns the call's handle: keep them until then
        self._calls: dict[int, SipCall] = {}
        self._early: dict[int, list[tuple[Any, float]]] = {}

    async def __aenter__(self) -> SipStack:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        reason = _python_missing()
        if reason:
            raise SipError(reason)
        import baresip

        account = self.account
        config = baresip.Config(
            net_interface=self.interface, max_concurrent_calls=self.max_calls,
            rtp_timeout=self.rtp_timeout_s, native_log_level="error",
            expose_headers=("To",) if self.catch_all else (),
            extra_config_text=f"sip_listen {self.listen}\n")
        self._runtime = baresip.Runtime(native_log_level="error")
        try:
            await self._runtime.start(config)
            self._ua = await baresip.UserAgent.create(self._runtime, baresip.Account(
                user=account.user, domain=account.domain, password=account.password,
                registrar=account.registrar, auth_user=account.auth_user,
                transport=account.transport,  # type: ignore[arg-type]
                reg_interval=600 if account.register else 0,
                audio_codecs=account.codecs,
                extra_params=("catchall=yes",) if self.catch_all else ()))
        except (baresip.BaresipError, ValueError) as exc:
            await self.close()
            raise SipError(f"SIP stack did not start: {exc}") from None
        if not account.register:
            self._ua.on(self._route)
        if account.register:
            try:
                self._ua.on(self._route)
                await self._ua.register(timeout=5)
            except baresip.RegistrationError as exc:
                status = getattr(exc, "status", None)
                await self.close()
                if status in (401, 403, 407):
                    raise SipError(f"registration refused ({status}): check the SIP "
                                   "credentials", status=status) from None
                raise SipError(f"registrar unreachable or refused: {exc}",
                               status=status) from None

    async def close(self) -> None:
        if self._runtime is not None:
            runtime, self._runtime, self._ua = self._runtime, None, None
            with contextlib.suppress(Exception):
                await runtime.close()

    def on_incoming(self, callback: Callable[[SipCall], None]) -> None:
        from baresip import Event

        dialed: dict[int, str] = {}

        def note(event: Any) -> None:  # runs before on_incoming's listener (subscribed first)
            if event.event is Event.CALL_INCOMING:
                dialed[event.call] = event.to or ""

        def incoming(call: Any) -> None:
            wrapped = self._wrap(call)
            wrapped.dialed = dialed.pop(call.handle, "") or str(call.headers.get("To", ""))
            callback(wrapped)

        self._ua.on(note)
        self._ua.on_incoming(incoming)

    def _route(self, event: Any) -> None:
        if not event.call:
            return
        call = self._calls.get(event.call)
        if call is None:
            self._early.setdefault(event.call, []).append((event, time.time()))
        else:
            call._on_event(event, time.time())
            if call.is_closed:
                self._calls.pop(event.call, None)

    def _wrap(self, call: Any, since: float | None = None) -> SipCall:
        """Our call for the binding's ``call``, with the events that came before it; only
        those since ``since`` (when it was dialed): a handle is a native address, reused by
        a later call, and an ended call's last events kept under it must not end the new
        one (a dial failed as "Rejected by user" though the far end had answered)."""
        wrapped = SipCall(call, self)
        self._calls[call.handle] = wrapped
        for event, at in self._early.pop(call.handle, []):
            if since is None or at >= since:
                wrapped._on_event(event, at)
        stale = time.time() - 60.0
        self._early = {h: evs for h, evs in self._early.items() if evs[-1][1] > stale}
        call.on_dtmf(wrapped._on_digit)
        return wrapped

    async def dial(self, uri: str, *, timeout: float = 60.0) -> SipCall:
        """Place a call and wait until it is answered; ringing is recorded in ``signals``."""
        import baresip

        dialed = time.time()
        try:
            raw = await self._ua.dial(uri)
        except (baresip.BaresipError, ValueError) as exc:
            raise SipError(f"could not dial {uri}: {exc}") from None
        call = self._wrap(raw, since=dialed)
        call.signals.insert(0, Signal("dialed", dialed))
        # an answer or a refusal (488) in a few ms can come before the binding's Call
        # object listens, which then waits out the timeout and hangs up (as "Rejected by
        # user"); our router kept those early events, so trust our own flags too
        waiting = asyncio.ensure_future(raw.wait_established(timeout=timeout))
        ours = [asyncio.ensure_future(call.established.wait()),
                asyncio.ensure_future(call.closed.wait())]
        try:
            await asyncio.wait({waiting, *ours}, return_when=asyncio.FIRST_COMPLETED)
            if not waiting.done():
                waiting.cancel()
                if call.established.is_set():
                    return call  # answered; closed since, it is the far end's hang-up
                text = call.close_reason or ""
                raise call_failed(text, baresip.errors.split_status(text)[0])
            await waiting
        except baresip.CallTimeout:
            raise SipError(f"no answer within {timeout:g} s", ours=False) from None
        except baresip.CallFailed as exc:
            raise call_failed(str(exc), getattr(exc, "status", None)) from None
        finally:
            for flag in ours:
                flag.cancel()
        return call
