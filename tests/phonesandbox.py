"""The simulated phone company as a subprocess for tests and benches (one SIP stack each)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PhoneSandbox:
    def __init__(self, directory: Path, *, time_scale: float):
        self.directory = directory
        self.port = free_udp_port()
        self.truth_path = directory / "truth.jsonl"
        self.time_scale = time_scale
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> PhoneSandbox:
        ready = self.directory / "ready"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "svcbench.sandbox.phone", "--port", str(self.port),
             "--time-scale", str(self.time_scale), "--truth", str(self.truth_path),
             "--ready-file", str(ready)],
            stdout=subprocess.DEVNULL, stderr=(self.directory / "ivr.log").open("w"), env=env)
        deadline = time.time() + 120
        while not ready.exists():
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("phone sandbox did not start: "
                                   + (self.directory / "ivr.log").read_text()[-500:])
            time.sleep(0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def uri(self, scenario: str, tag: str) -> str:
        return f"sip:{scenario}+{tag}@127.0.0.1:{self.port}"

    def truth(self, tag: str) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        if not self.truth_path.exists():
            return out
        for line in self.truth_path.read_text().splitlines():
            row = json.loads(line)
            if row["tag"] == tag:
                out.setdefault(row["kind"], []).append(row)
        return out
