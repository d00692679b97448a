"""Network evidence beside the DOM: the widget's own XHR/fetch/WebSocket traffic.

Recorded from Playwright's network events with the probe's clock. Used to tell push from
polling (and the poll interval), to give each DOM instant its resolution (a bubble that came
with a poll response happened at the server some time within the last poll gap) and to read
server timestamps of messages from JSON payloads.
"""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

#: a DOM change this soon after a response or frame is taken to have been caused by it
CAUSE_WINDOW_S = 0.5
MAX_BODY = 256 * 1024
_TS_KEYS = ("ts", "timestamp", "created_at", "createdAt", "time", "date", "sent_at", "sentAt",
            "created", "server_time")
_SECRETISH = re.compile(r"(?i)(token|auth|key|secret|password|session|cookie|sig)")


def endpoint(method: str, url: str) -> str:
    """Requests to one endpoint share method, origin and path (not the query)."""
    parts = urlsplit(url)
    return f"{method} {parts.scheme}://{parts.netloc}{parts.path}"


def mask_url(url: str) -> str:
    """The URL with secret-looking query values masked (dumps go into bug reports)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = "&".join(
        (f"{k}=***" if _SECRETISH.search(k) else f"{k}={v}")
        for k, _, v in (item.partition("=") for item in parts.query.split("&")))
    return parts._replace(query=query).geturl()


def poll_interval(times: list[float]) -> float | None:
    """The regular gap between requests to one endpoint (median), or None when irregular or
    too few (three gaps at least, spread under 35 %)."""
    if len(times) < 4:
        return None
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    middle = statistics.median(gaps)
    if middle < 0.2 or middle > 120:
        return None
    spread = statistics.pstdev(gaps) / middle
    return round(middle, 3) if spread < 0.35 else None


def epoch_seconds(value: Any) -> float | None:
    """Epoch seconds from a server timestamp (seconds, milliseconds, microseconds, ISO)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        v = float(value)
        for scale in (1, 1e3, 1e6):
            if 1e9 <= v / scale <= 5e9:
                return v / scale
        return None
    if isinstance(value, str) and re.match(r"^\d{4}-\d\d-\d\dT", value):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed.timestamp() if parsed.tzinfo else None
    return None


def texts_with_times(payload: Any) -> list[tuple[str, float]]:
    """(string, server time) for every object in a JSON payload that has a timestamp field
    beside string values: how a message's server instant is found by its text."""
    out: list[tuple[str, float]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            stamp = next((epoch_seconds(node[k]) for k in _TS_KEYS if k in node
                          and epoch_seconds(node[k]) is not None), None)
            if stamp is not None:
                for value in node.values():
                    if isinstance(value, str) and 2 <= len(value) <= 4000:
                        out.append((value, stamp))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(payload)
    return out


@dataclass
class NetworkLog:
    """What the widget said over the network, as it happened."""

    records: list[dict[str, Any]] = field(default_factory=list)
    responses: dict[str, list[float]] = field(default_factory=dict)   # endpoint -> instants
    frames_in: list[float] = field(default_factory=list)              # WebSocket frames in
    server_times: dict[str, float] = field(default_factory=dict)      # normalized text -> ts

    def add(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        kind, t = record["kind"], record["t"]
        if kind == "response" and record.get("resource_type") in ("xhr", "fetch"):
            self.responses.setdefault(endpoint(record["method"], record["url"]), []).append(t)
        elif kind == "ws_in":
            self.frames_in.append(t)
        body = record.get("json")
        if body is not None:
            for text, stamp in texts_with_times(body):
                self.server_times.setdefault(" ".join(text.split()).casefold(), stamp)

    def add_body(self, record: dict[str, Any], body: Any) -> None:
        record["json"] = body
        for text, stamp in texts_with_times(body):
            self.server_times.setdefault(" ".join(text.split()).casefold(), stamp)

    def server_time(self, text: str) -> float | None:
        return self.server_times.get(" ".join(text.split()).casefold())

    def cause(self, t: float) -> dict[str, Any]:
        """How a DOM change at ``t`` reached the page, and so how exactly ``t`` dates it:
        ``{"time_source", "resolution_s", "transport", "poll_interval_s"}``."""
        best: tuple[float, str, str | None] = (-1.0, "dom", None)
        for t_in in reversed(self.frames_in):
            if t_in <= t + 0.02:
                if t - t_in <= CAUSE_WINDOW_S:
                    best = (t_in, "websocket", None)
                break
        for key, times in self.responses.items():
            before = [x for x in times if x <= t + 0.02]
            if before and t - before[-1] <= CAUSE_WINDOW_S and before[-1] > best[0]:
                best = (before[-1], "polling", key)
        _, transport, key = best
        if transport == "polling" and key is not None:
            times = self.responses[key]
            at = max(i for i, x in enumerate(times) if x <= t + 0.02)
            gap = times[at] - times[at - 1] if at > 0 else None
            interval = poll_interval(times[: at + 1]) or poll_interval(times)
            return {"time_source": "dom+poll", "transport": "polling",
                    "resolution_s": round(gap, 3) if gap is not None else interval,
                    "poll_interval_s": interval}
        if transport == "websocket":
            return {"time_source": "dom+push", "transport": "websocket", "resolution_s": 0.05}
        return {"time_source": "dom", "transport": None, "resolution_s": None}

    def summary(self) -> dict[str, Any]:
        """Push or polling, and each polled endpoint's interval."""
        polled = {key: poll_interval(times) for key, times in self.responses.items()}
        polled = {k: v for k, v in polled.items() if v is not None}
        transport = "polling" if polled and not self.frames_in else (
            "websocket" if self.frames_in else None)
        return {"transport": transport, "poll_intervals_s": polled,
                "websocket_frames_in": len(self.frames_in), "records": len(self.records)}

    def dump(self) -> list[dict[str, Any]]:
        return [{**r, "url": mask_url(r.get("url", ""))} for r in self.records]


def parse_json(text: str | None) -> Any:
    if not text or len(text) > MAX_BODY:
        return None
    stripped = text.lstrip()
    if stripped[:1] not in ("{", "["):
        return None
    try:
        return json.loads(stripped)
    except ValueError:
        return None
