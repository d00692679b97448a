"""Debian's ``baresip`` binary (package ``baresip-core``) behind the interface of :mod:`.sip`.

The fallback when PyPI ``baresip-python`` is not installed. One baresip process per call,
driven over its ``ctrl_tcp`` module (netstring-framed JSON: commands in, responses and call
events out). Baresip 1.0 has no long command for DTMF, so digits are typed on its stdin
(``stdio`` module: a key press, then an emulated key release). Audio, as 8 kHz 16-bit mono:

- **heard**: the ``sndfile`` filter writes the decoded stream to ``<dir>/snd/*-dec.wav`` as
  RTP arrives; :meth:`DebianCall.read` reads what was appended since the last read (the
  file lives in a private temporary folder, removed when the call ends).
- **said**: what :meth:`DebianCall.write` is given in one go becomes a WAV file that the
  ``aufile`` source plays (``/ausrc aufile,<path>``). Baresip 1.0's menu hangs a call up when
  its source file ends, and ``aufile`` holds the whole file in memory, so every file is
  padded with ``IDLE_S`` of silence and a fresh silent file is handed over before the
  current one runs out (``REFRESH_S``): memory per process stays the same whatever the
  call's length (padding to the end of the call cost 16 KB per second of budget, 67 MB
  for an hour). The refreshing stops at the call's time budget (``max_call_s``), so a
  baresip whose probe died hangs up by itself.

Verified against baresip 1.0.0 (Debian 12): modules/ctrl_tcp/ctrl_tcp.c (message format),
modules/menu/menu.c (``AUDIO_ERROR`` hangs up), ``aufile`` loads the whole file at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import os
import re
import shutil
import socket
import struct
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .sip import BYTES_PER_SECOND, SAMPLE_RATE, Account, CallSignals, Signal, SipError, call_failed

NEEDED = ("account", "menu", "ctrl_tcp", "stdio", "aufile", "sndfile", "g711")
CODEC_MODULES = {"pcmu": "g711", "pcma": "g711", "g722": "g722", "opus": "opus", "gsm": "gsm",
                 "l16": "l16", "g726": "g726"}
_EVENTS = {"CALL_RINGING": "ringing", "CALL_PROGRESS": "progress",
           "CALL_ESTABLISHED": "established", "CALL_CLOSED": "closed", "CALL_RTPESTAB": "rtp"}
_DIGITS = re.compile(r"^[0-9*#]+$")
_STATUS = re.compile(r"^\s*(\d{3})\b")
#: seconds of silence after what each audio file says (a second costs 16 KB in baresip)
IDLE_S = 60.0
#: hand baresip a fresh silent file when the current one has less than this left
REFRESH_S = 30.0


def module_dir() -> Path | None:
    """Where Debian keeps baresip's modules (``/usr/lib/baresip/modules`` on bookworm)."""
    dirs = [Path("/usr/lib/baresip/modules"), *sorted(Path("/usr/lib").glob("*/baresip/modules"))]
    return next((d for d in dirs if (d / "ctrl_tcp.so").exists()), None)


def available() -> str | None:
    """None when Debian's baresip can place calls here, else the reason it cannot."""
    if shutil.which("baresip") is None:
        return "Debian's baresip is not installed (scripts/install-system-deps: baresip-core)"
    folder = module_dir()
    if folder is None:
        return "Debian's baresip has no ctrl_tcp module (package baresip-core)"
    missing = [m for m in NEEDED if not (folder / f"{m}.so").exists()]
    if missing:
        return f"Debian's baresip lacks the modules {', '.join(missing)} (package baresip-core)"
    return None


def _free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wav_header(data_len: int) -> bytes:
    return b"RIFF" + struct.pack("<I", 36 + data_len) + b"WAVE" + b"fmt " + struct.pack(
        "<IHHIIHH", 16, 1, 1, SAMPLE_RATE, BYTES_PER_SECOND, 2, 16) + b"data" + struct.pack(
        "<I", data_len)


def _write_wav(path: Path, samples: bytes, silence_bytes: int) -> None:
    """``samples`` then ``silence_bytes`` of zeros (a sparse tail: no memory, little disk)."""
    with path.open("wb") as fh:
        fh.write(_wav_header(len(samples) + silence_bytes) + samples)
        fh.truncate(44 + len(samples) + silence_bytes)


def _data_chunk(head: bytes) -> tuple[int, int, int] | None:
    """(offset of the samples, sample rate, channels) of a WAV being written, or None."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos, rate, channels = 12, SAMPLE_RATE, 1
    while pos + 8 <= len(head):
        kind, size = head[pos:pos + 4], struct.unpack("<I", head[pos + 4:pos + 8])[0]
        if kind == b"fmt " and pos + 16 <= len(head):
            channels, rate = struct.unpack("<HI", head[pos + 10:pos + 16])
        if kind == b"data":
            return pos + 8, rate, channels
        pos += 8 + size + (size & 1)
    return None


#: free the dump's disk blocks of what was read every this many bytes (64 s at 8 kHz)
FREE_EVERY = 1 << 20
_PUNCH_HOLE = 0x02 | 0x01  # FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE (linux/falloc.h)


def _free_read_part(fh: Any, freed: int, read_to: int) -> int:
    """Give back the disk blocks of the part of the dump already read (baresip keeps
    appending at its own offset; the file keeps its size): 20 hour-long calls would
    otherwise hold 1.2 GB in the temporary folder, in memory where /tmp is a tmpfs.
    Returns the new freed offset; where the filesystem cannot punch holes, nothing is
    freed until the call's folder is removed."""
    start, end = max(freed, 4096), read_to & ~4095  # whole blocks, never the WAV header
    fallocate = _fallocate()
    if end <= start:
        return freed
    ok = fallocate is not None and fallocate(fh.fileno(), _PUNCH_HOLE, start, end - start) == 0
    return end if ok else read_to  # not supported: do not try again for every read


@functools.cache
def _fallocate() -> Any:
    import ctypes
    import ctypes.util

    try:
        fallocate = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").fallocate
    except (OSError, AttributeError):
        return None
    fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong]
    return fallocate


def _to_line_rate(pcm: bytes, rate: int, channels: int) -> bytes:
    """8 kHz mono from what a wideband codec decoded (G.722 16 kHz, Opus 48 kHz stereo)."""
    if rate == SAMPLE_RATE and channels == 1:
        return pcm
    import numpy as np

    x = np.frombuffer(pcm, dtype="<i2").reshape(-1, channels)[:, 0].astype(np.float64)
    n = int(len(x) * SAMPLE_RATE / rate)
    y = np.interp(np.arange(n) * rate / SAMPLE_RATE, np.arange(len(x)), x) if n else x[:0]
    return y.astype("<i2").tobytes()


class _Agent:
    """One baresip process with its ctrl_tcp connection."""

    def __init__(self, account: Account, directory: Path, *, interface: str | None,
                 listen: str, rtp_timeout_s: int, idle: Path):
        self.account = account
        self.dir = directory
        self.interface = interface
        self.listen = listen
        self.rtp_timeout_s = rtp_timeout_s
        self.idle = idle
        self.proc: asyncio.subprocess.Process | None = None
        self.events: list[Callable[[dict[str, Any]], None]] = []
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[str, asyncio.Future] = {}
        self._tokens = itertools.count(1)
        self._tasks: list[asyncio.Task] = []
        self.exited = asyncio.Event()
        #: (event type, param) of the first REGISTER_OK / REGISTER_FAIL
        self.registration: asyncio.Future | None = None

    def _config(self, ctrl_port: int) -> str:
        folder = module_dir()
        modules = dict.fromkeys(CODEC_MODULES.get(c.lower(), "") for c in self.account.codecs)
        modules.pop("", None)
        modules.setdefault("g711", None)
        lines = ["poll_method epoll", f"sip_listen {self.listen}",
                 f"audio_source aufile,{self.idle}", "audio_player aufile,/dev/null",
                 f"module_path {folder}", f"ctrl_tcp_listen 127.0.0.1:{ctrl_port}",
                 f"snd_path {self.dir / 'snd'}"]
        if self.interface:
            lines.append(f"net_interface {self.interface}")
        if self.rtp_timeout_s:
            lines.append(f"rtp_timeout {self.rtp_timeout_s}")
        lines += [f"module {m}.so" for m in modules if (folder / f"{m}.so").exists()]
        lines += ["module aufile.so", "module sndfile.so", "module stdio.so",
                  "module_app account.so", "module_app menu.so", "module_app ctrl_tcp.so"]
        return "\n".join(lines) + "\n"

    def _account_line(self) -> str:
        a = self.account
        for value in (a.user, a.domain, a.password, a.auth_user or "", a.registrar or ""):
            if any(ch in value for ch in ';<>"\r\n'):
                raise SipError("the SIP account has a character Debian's baresip cannot take "
                               "(one of ; < > \" or a line break)")
        line = f"<sip:{a.user}@{a.domain};transport={a.transport}>"
        line += f";regint={600 if a.register else 0}"
        line += ";audio_codecs=" + ",".join(c.upper() for c in a.codecs)
        if a.password:
            line += f";auth_user={a.auth_user or a.user};auth_pass={a.password}"
        if a.registrar:
            registrar = a.registrar if a.registrar.startswith("sip") else f"sip:{a.registrar}"
            line += f';outbound="{registrar}"'
        return line + "\n"

    async def start(self) -> None:
        """Start baresip; a registering account is added once the control connection is up
        (``/uanew``), so its REGISTER result arrives as an event instead of before we listen."""
        (self.dir / "snd").mkdir(parents=True, exist_ok=True)
        line = self._account_line()
        if self.account.register and len(line) > 240:  # ctrl_tcp's command buffer is 256
            raise SipError("the SIP account is too long for Debian's baresip control "
                           "interface (user, domain, registrar and password over 200 chars)")
        accounts = self.dir / "accounts"
        fd = os.open(accounts, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the password
        with os.fdopen(fd, "w") as fh:
            fh.write("" if self.account.register else line)
        for _attempt in range(3):  # the control port is picked free, but may be taken meanwhile
            port = _free_tcp_port()
            (self.dir / "config").write_text(self._config(port))
            log = (self.dir / "baresip.log").open("wb")
            self.proc = await asyncio.create_subprocess_exec(
                shutil.which("baresip") or "baresip", "-f", str(self.dir),
                stdin=asyncio.subprocess.PIPE, stdout=log, stderr=asyncio.subprocess.STDOUT,
                start_new_session=True)
            log.close()
            if await self._connect(port):
                self._tasks = [asyncio.create_task(self._read_loop()),
                               asyncio.create_task(self._watch())]
                if self.account.register:
                    self.registration = asyncio.get_running_loop().create_future()
                    if not self.account.password and self.proc.stdin:
                        # baresip 1.0 asks a registering account without one for a password
                        self.proc.stdin.write(b"\n")
                    reply = await self.command("uanew", line.strip())  # its data echoes line
                    if not reply.get("ok"):
                        raise SipError("Debian's baresip refused the SIP account")
                return
            await self.stop()
        raise SipError("Debian's baresip did not start: " + self.log_tail())

    async def _connect(self, port: int) -> bool:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.returncode is not None:
                return False
            try:
                self._reader, self._writer = await asyncio.open_connection("127.0.0.1", port)
                return True
            except OSError:
                await asyncio.sleep(0.05)
        return False

    def log_tail(self) -> str:
        try:
            text = (self.dir / "baresip.log").read_text(errors="replace")
        except OSError:
            return "no log"
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)
        lines = [ln.strip() for ln in text.replace("\r", "\n").splitlines()
                 if ln.strip() and not ln.startswith("[0:")]
        return " / ".join(lines[-3:]) or "no output"

    async def _watch(self) -> None:
        assert self.proc is not None
        await self.proc.wait()
        self.exited.set()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(SipError("Debian's baresip exited: " + self.log_tail()))

    async def _read_loop(self) -> None:
        assert self._reader is not None
        buf = b""
        while True:
            data = await self._reader.read(65536)
            if not data:
                return
            buf += data
            while b":" in buf:
                size, _, rest = buf.partition(b":")
                if not size.isdigit():
                    return  # not a netstring: the stream cannot be trusted any more
                n = int(size)
                if len(rest) < n + 1:
                    break
                payload, buf = rest[:n], rest[n + 1:]
                try:
                    message = json.loads(payload)
                except ValueError:
                    continue
                self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        if message.get("response"):
            fut = self._pending.pop(str(message.get("token")), None)
            if fut is not None and not fut.done():
                fut.set_result(message)
        elif message.get("event"):
            kind = message.get("type")
            if kind in ("REGISTER_OK", "REGISTER_FAIL") and self.registration is not None \
                    and not self.registration.done():
                self.registration.set_result((kind, str(message.get("param") or "")))
            for callback in list(self.events):
                callback(message)

    async def command(self, command: str, params: str | None = None,
                      timeout: float = 10.0) -> dict[str, Any]:
        if self._writer is None or self.exited.is_set():
            raise SipError("Debian's baresip is not running: " + self.log_tail())
        token = str(next(self._tokens))
        body: dict[str, Any] = {"command": command, "token": token}
        if params is not None:
            body["params"] = params
        raw = json.dumps(body).encode()
        fut = asyncio.get_running_loop().create_future()
        self._pending[token] = fut
        self._writer.write(str(len(raw)).encode() + b":" + raw + b",")
        await self._writer.drain()
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise SipError(f"Debian's baresip did not answer {command!r}") from None
        finally:
            self._pending.pop(token, None)

    async def type_keys(self, keys: str) -> None:
        if self.proc is None or self.proc.stdin is None:
            raise SipError("Debian's baresip is not running")
        self.proc.stdin.write(keys.encode())
        await self.proc.stdin.drain()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        proc, self.proc = self.proc, None
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 2)  # time to send a BYE
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        self.exited.set()


@dataclass
class DebianCall(CallSignals):
    """One call in its own baresip process; the same methods as :class:`.sip.SipCall`."""

    agent: _Agent
    stack: DebianStack
    #: the call's time budget: no source is refreshed after it
    ends_at: float
    #: no later than this the file baresip plays now runs out
    source_ends: float = 0.0
    signals: list[Signal] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    close_reason: str | None = None
    #: our side ended the call (the UA died, its audio source ran out), not the far end
    failure: str | None = None
    dialed: str = ""
    _dtmf: list[Callable[[str, float], None]] = field(default_factory=list)
    _rx: Any = None
    _rx_at: int | None = None
    _rx_format: tuple[int, int] = (SAMPLE_RATE, 1)
    #: the dump is freed on disk up to here (what was read is not kept)
    _rx_freed: int = 0
    _pending: bytearray = field(default_factory=bytearray)
    _flushing: bool = False
    _playing: bytes = b""
    _play_start: float = 0.0
    _files: itertools.count = field(default_factory=lambda: itertools.count(1))
    _task: asyncio.Future | None = None
    _switching: asyncio.Lock = field(default_factory=asyncio.Lock)
    _keeper: asyncio.Future | None = None

    def _on_event(self, message: dict[str, Any]) -> None:
        kind = message.get("type", "")
        now = time.time()
        param = message.get("param")
        if kind == "CALL_DTMF_START" and param:
            for callback in list(self._dtmf):
                callback(str(param)[0], now)
            return
        if kind == "AUDIO_ERROR":
            self.failure = f"our audio source failed in Debian's baresip ({param})"
            return
        signal = _EVENTS.get(kind)
        if signal is None:
            return
        self.signals.append(Signal(signal, now, param))
        if signal == "closed":
            self._close(str(param or ""))

    def _close(self, reason: str) -> None:
        if self.closed.is_set():
            return
        self.close_reason = reason
        self.closed.set()

    def read(self, max_bytes: int = 32000) -> tuple[bytes, float]:
        """Received PCM appended to the decoder's dump since the last read, and now."""
        at = time.time()
        if self._rx is None:
            found = sorted((self.agent.dir / "snd").glob("*-dec.wav"))
            if not found:
                return b"", at
            self._rx = found[-1].open("r+b")  # writable: to free what was read
        if self._rx_at is None:
            self._rx.seek(0)
            head = _data_chunk(self._rx.read(4096))
            if head is None:
                return b"", at
            self._rx_at, rate, channels = head
            self._rx_format = (rate, max(1, channels))
        rate, channels = self._rx_format
        frame = 2 * channels
        want = max_bytes * rate * channels // SAMPLE_RATE
        self._rx.seek(self._rx_at)
        data = self._rx.read(want - want % frame)
        data = data[: len(data) - len(data) % frame]
        self._rx_at += len(data)
        if self._rx_at - self._rx_freed >= FREE_EVERY:
            self._rx_freed = _free_read_part(self._rx, self._rx_freed, self._rx_at)
        return _to_line_rate(data, rate, channels), at

    def write(self, pcm: bytes) -> int:
        """Queue PCM; what is written in one go (before the event loop runs) plays as one
        file, after what is still playing."""
        if self.is_closed or not pcm:
            return 0
        self._pending += pcm
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().call_soon(self._start_flush)
        return len(pcm)

    def _start_flush(self) -> None:
        self._task = asyncio.ensure_future(self._flush_pending())

    def _unplayed(self, now: float) -> bytes:
        done = int((now - self._play_start) * BYTES_PER_SECOND) & ~1
        return self._playing[done:] if done < len(self._playing) else b""

    async def _flush_pending(self) -> None:
        now = time.time()
        samples = self._unplayed(now) + bytes(self._pending)
        self._pending.clear()
        self._flushing = False
        await self._play(samples, now)

    async def _play(self, samples: bytes, now: float) -> None:
        path = self.agent.dir / f"say-{next(self._files)}.wav"
        await asyncio.get_running_loop().run_in_executor(
            None, _write_wav, path, samples, int(IDLE_S * SAMPLE_RATE) * 2)
        async with self._switching:
            await self._source(path, samples)
        old = self.agent.dir / f"say-{int(path.stem.split('-')[1]) - 1}.wav"
        with contextlib.suppress(OSError):
            old.unlink()

    async def _source(self, path: Path, samples: bytes) -> None:
        self._playing, self._play_start = samples, time.time()
        try:
            await self.agent.command("ausrc", f"aufile,{path}")
        except SipError:
            self._playing = b""
            return
        self.source_ends = self._play_start + len(samples) / BYTES_PER_SECOND + IDLE_S

    async def keep_source(self, idle: Path) -> None:
        """Baresip 1.0 hangs up when its audio file ends: hand it the silent file again
        before that, while nothing we say is still playing, until the call's budget."""
        tick = min(1.0, REFRESH_S / 3)
        while not self.is_closed:
            await asyncio.sleep(tick)
            now = time.time()
            if now >= self.ends_at or self.source_ends - now > REFRESH_S:
                continue
            async with self._switching:
                if not self._unplayed(now) and not self._pending and not self.is_closed:
                    await self._source(idle, b"")

    def tx_buffered(self) -> int:
        """Bytes still to be sent of what plays now (not counting unflushed writes)."""
        return len(self._unplayed(time.time()))

    def flush(self) -> None:
        self._pending.clear()
        if self._playing and not self.is_closed:
            self._playing = b""
            self._task = asyncio.ensure_future(self._play(b"", time.time()))

    def rx_packets(self) -> int | None:
        return None

    async def send_dtmf(self, digits: str) -> None:
        if not _DIGITS.match(digits):
            raise SipError(f"cannot send DTMF {digits!r} with Debian's baresip 1.0 "
                           "(digits 0-9, * and # only)")
        for digit in digits:
            await self.agent.type_keys(digit)
            await asyncio.sleep(0.2)  # the stdio module releases a key after a pause

    async def answer(self) -> None:
        raise SipError("the Debian baresip backend places calls; it does not answer them")

    async def hangup(self) -> None:
        if not self.is_closed:
            with contextlib.suppress(SipError):
                await self.agent.command("hangup", timeout=3)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.closed.wait(), 2)
        self._close(self.close_reason or "hung up")
        await self.stack._release(self)


class DebianStack:
    """Places calls through Debian's baresip: one process per call, same interface as
    :class:`.sip.SipStack`."""

    backend = "debian"

    def __init__(self, account: Account, *, listen: str = "127.0.0.1:0",
                 interface: str | None = "127.0.0.1", max_calls: int | None = None,
                 rtp_timeout_s: int = 0, catch_all: bool = False, max_call_s: float = 1800.0):
        if catch_all:
            raise SipError("the Debian baresip backend places calls; it does not answer them")
        self.account = account
        self.listen = listen
        self.interface = interface
        self.rtp_timeout_s = rtp_timeout_s
        self.max_call_s = max_call_s
        self._dir: Path | None = None
        self._calls: dict[int, DebianCall] = {}
        self._serial = itertools.count(1)

    async def __aenter__(self) -> DebianStack:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _agent(self, name: str) -> _Agent:
        assert self._dir is not None
        folder = self._dir / name
        folder.mkdir()
        return _Agent(self.account, folder, interface=self.interface, listen=self.listen,
                      rtp_timeout_s=self.rtp_timeout_s, idle=self._dir / "idle.wav")

    async def start(self) -> None:
        reason = available()
        if reason:
            raise SipError(reason)
        self._dir = Path(tempfile.mkdtemp(prefix="svcbench-baresip-"))
        _write_wav(self._dir / "idle.wav", b"", int(IDLE_S * SAMPLE_RATE) * 2)
        if self.account.register:  # fail here, like the Python stack, before any dial
            agent = self._agent("register")
            try:
                await agent.start()
                await self._registered(agent)
            except SipError:
                await self.close()
                raise
            finally:
                await agent.stop()

    async def _registered(self, agent: _Agent, timeout: float = 5.0) -> None:
        assert agent.registration is not None
        try:
            kind, text = await asyncio.wait_for(agent.registration, timeout)
        except TimeoutError:
            raise SipError(f"registrar unreachable or refused: no answer within {timeout:g} s"
                           ) from None
        if kind == "REGISTER_OK":
            return
        match = _STATUS.match(text)
        status = int(match.group(1)) if match else None
        if status in (401, 403, 407):
            raise SipError(f"registration refused ({status}): check the SIP credentials",
                           status=status)
        raise SipError(f"registrar unreachable or refused: {text}", status=status)

    async def close(self) -> None:
        for call in list(self._calls.values()):
            with contextlib.suppress(Exception):
                await call.hangup()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    async def _release(self, call: DebianCall) -> None:
        if call._keeper is not None:
            call._keeper.cancel()
        await call.agent.stop()
        if call._rx is not None:
            call._rx.close()
            call._rx = None
        self._calls.pop(id(call), None)
        shutil.rmtree(call.agent.dir, ignore_errors=True)

    def on_incoming(self, callback: Callable[[Any], None]) -> None:
        raise SipError("the Debian baresip backend places calls; it does not answer them")

    async def dial(self, uri: str, *, timeout: float = 60.0) -> DebianCall:
        """Place a call and wait until it is answered; ringing is recorded in ``signals``."""
        if self._dir is None:
            raise SipError("the SIP stack is not started")
        dialed = time.time()
        agent = self._agent(f"call-{next(self._serial)}")
        # the config's source (the silent file) starts once the call has media, not before
        call = DebianCall(agent, self, ends_at=dialed + timeout + self.max_call_s,
                          source_ends=dialed + IDLE_S)
        call.signals.append(Signal("dialed", dialed))
        self._calls[id(call)] = call
        agent.events.append(call._on_event)
        try:
            await agent.start()
            if self.account.register:
                await self._registered(agent)
            reply = await agent.command("dial", uri)
            if not reply.get("ok"):
                raise SipError(f"could not dial {uri}: {reply.get('data') or 'refused'}")
            established = asyncio.create_task(self._established(call))
            exited = asyncio.create_task(agent.exited.wait())
            done, _ = await asyncio.wait({established, exited}, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
            for task in (established, exited):
                task.cancel()
            if not done:
                raise SipError(f"no answer within {timeout:g} s", ours=False)
            if established not in done:
                raise SipError("Debian's baresip exited: " + agent.log_tail())
            if call.is_closed:
                text = call.close_reason or ""
                match = _STATUS.match(text)
                status = int(match.group(1)) if match else None
                raise call_failed(text, status)
        except BaseException:
            await call.hangup()
            raise
        asyncio.ensure_future(self._watch(call))
        call._keeper = asyncio.ensure_future(call.keep_source(agent.idle))
        return call

    async def _established(self, call: DebianCall) -> None:
        while not call.is_closed and not any(s.kind == "established" for s in call.signals):
            await asyncio.sleep(0.01)

    async def _watch(self, call: DebianCall) -> None:
        """A baresip process that dies mid-call is our failure, never the company's."""
        await call.agent.exited.wait()
        if not call.is_closed:
            call.failure = call.failure or "Debian's baresip exited mid-call: " + \
                call.agent.log_tail()
            call._close("our user agent exited")
