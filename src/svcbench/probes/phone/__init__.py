"""Automated phone probe (``plugin = "sip"``): one SIP call, timed from signalling and audio.

``[company.channels.phone]`` with ``plugin = "sip"`` and a ``uri`` places the call through the
SIP account given there (direct to the URI when it has no registrar); the company's ``ivr``
steps are data. Events are the phone stopwatch's (``svcbench call``), so measurements and
rankings are unchanged; this plugin adds time to answer and rings (SIP ringing to 200 OK) and
announced versus actual wait. Heavy imports (SIP stack, numpy, pocketsphinx) stay inside
functions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ...models import Channel, Event, Measurement, Outcome, Probe
from ..manual.phone import PHONE_EVENTS, PhoneProbe

if TYPE_CHECKING:
    from ...hours import BusinessCalendar
    from ...plugins import ProbeContext

AUTO_EVENTS = PHONE_EVENTS + ("call.ringing", "call.connected", "call.queue_position",
                              "call.detector", "call.failed")
_DTMF = r"^[0-9*#ABCD]{1,20}$"


class IvrStep(BaseModel):
    """Expect to hear any of ``expect`` (keyphrases or topics), then press ``dtmf`` or
    ``say`` a phrase."""

    model_config = ConfigDict(extra="forbid")
    expect: list[str] = []
    dtmf: str | None = Field(default=None, pattern=_DTMF)
    say: str | None = Field(default=None, min_length=1, max_length=200)
    timeout_s: float = Field(default=60.0, gt=0)


class SipAccountOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str = "shopper"
    domain: str = "127.0.0.1"
    registrar: str | None = None
    #: REGISTER before dialing (a SIP account); False dials the URI directly (a trunk by IP)
    registration: bool = False
    password_env: str | None = None
    auth_user: str | None = None
    transport: Literal["udp", "tcp", "tls"] = "udp"
    codecs: list[str] = ["pcmu", "pcma"]


class SipEndpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plugin: str = "sip"
    uri: str = Field(pattern=r"^sips?:[^\s]+$")
    account: SipAccountOptions = SipAccountOptions()
    ivr: list[IvrStep] = []
    default_digit: str = Field(default="0", pattern=_DTMF)
    ask_agent_phrase: str = "Representative."
    hello_phrase: str = "Hello?"
    closing_phrase: str = "Thank you, that is all I needed. Goodbye."
    #: hang up without an agent after this long; default: the campaign's phone deadline
    abandon_after_s: float | None = Field(default=None, gt=0)
    ring_timeout_s: float = Field(default=60.0, gt=0)
    #: keep a WAV of what we heard (off by default: record only where it is lawful)
    record: bool = False
    #: the SIP user agent: "auto" (baresip-python if installed, else Debian's baresip,
    #: overridable with SVCBENCH_SIP_BACKEND), "python" or "debian"
    sip_backend: Literal["auto", "python", "debian"] = "auto"


def plan_for(endpoint: SipEndpoint, abandon_after_s: float) -> Any:
    from .engine import CallPlan, Step

    return CallPlan(
        uri=endpoint.uri,
        steps=tuple(Step(tuple(s.expect), s.dtmf, s.say, s.timeout_s) for s in endpoint.ivr),
        default_digit=endpoint.default_digit, ask_agent_phrase=endpoint.ask_agent_phrase,
        hello_phrase=endpoint.hello_phrase, closing_phrase=endpoint.closing_phrase,
        abandon_after_s=endpoint.abandon_after_s or abandon_after_s,
        ring_timeout_s=endpoint.ring_timeout_s, record=endpoint.record)


def account_for(endpoint: SipEndpoint, secrets: Any) -> Any:
    from .sip import Account

    a = endpoint.account
    password = secrets.get(a.password_env, what="channels.phone.account.password_env") or ""
    return Account(user=a.user, domain=a.domain, password=password, registrar=a.registrar,
                   auth_user=a.auth_user, transport=a.transport, codecs=tuple(a.codecs),
                   register=a.registration)


async def place_call(endpoint: SipEndpoint, account: Any, abandon_after_s: float,
                     emit: Any = None) -> Any:
    """Run one call to the end; returns the engine's CallResult (never raises for SIP)."""
    from .engine import CallEngine, CallResult
    from .sip import SipError, available, open_stack

    reason = available(endpoint.sip_backend)
    if reason:
        return CallResult(failed=reason)
    try:
        async with open_stack(account, backend=endpoint.sip_backend,
                              max_call_s=abandon_after_s + 120) as stack:
            engine = CallEngine(stack, plan_for(endpoint, abandon_after_s), emit=emit)
            return await engine.run()
    except SipError as exc:
        return CallResult(failed=exc.reason)


def to_events(probe_id: str, result: Any) -> list[Event]:
    events = [Event(probe_id=probe_id, kind=kind, at=datetime.fromtimestamp(at, UTC),
                    data={k: v for k, v in data.items() if k != "confirmed_at"},
                    source="sip" if kind in ("call.ringing", "call.connected") else "local")
              for kind, at, data in result.events]
    for event in events:  # the engine names what it takes back by index; the store, by id
        if event.kind == "call.undo":
            event.data["event_id"] = events[event.data.pop("event")].id
    if result.failed and not any(e.kind == "call.failed" for e in events):
        events.append(Event(probe_id=probe_id, kind="call.failed",
                            at=datetime.now(UTC), data={"reason": result.failed}))
    return events


class SipPhoneProbe(PhoneProbe):
    name = "sip"
    channel = Channel.PHONE
    automatic = True
    endpoint_model = SipEndpoint
    event_kinds = AUTO_EVENTS

    def endpoint(self, probe: Probe, ctx: ProbeContext) -> SipEndpoint:
        from pydantic import ValidationError

        from ...config import _key_path
        from ...errors import ConfigError

        company = ctx.company(probe)
        raw = company.channels.get(Channel.PHONE)
        if raw is None:
            raise ConfigError(f"company {company.id} has no [company.channels.phone]")
        try:
            return SipEndpoint.model_validate(raw.options)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = _key_path(("company", company.id, "channels", "phone", *first["loc"]))
            raise ConfigError(first["msg"], key=key) from None

    async def start(self, probe: Probe, ctx: ProbeContext) -> list[Event]:
        endpoint = self.endpoint(probe, ctx)
        account = account_for(endpoint, ctx.secrets)
        now = ctx.clock()
        abandon = (probe.deadline_at - now).total_seconds() if probe.deadline_at else 600.0
        result = await place_call(endpoint, account, max(30.0, abandon))
        if endpoint.record and result.recording is not None:
            save_recording(ctx, probe, result.recording)
        return to_events(probe.id, result)

    def outcome(self, probe: Probe, events: list[Event], now: datetime) -> Outcome | None:
        kinds = {e.kind for e in events}
        if "call.failed" in kinds:
            return Outcome.FAILED
        if "call.agent_answered" in kinds:
            return Outcome.ANSWERED
        hung = [e for e in events if e.kind == "call.hung_up"]
        if hung:
            return Outcome.ABANDONED if hung[-1].data.get("abandoned") else Outcome.UNANSWERED
        if probe.deadline_at is not None and now >= probe.deadline_at:
            return Outcome.FAILED  # a call never outlives its deadline unless we crashed
        return None

    def outcome_reason(self, probe: Probe, events: list[Event]) -> str | None:
        for kind in ("call.failed", "call.hung_up"):
            found = [e for e in events if e.kind == kind]
            if found:
                return found[-1].data.get("reason")
        return None

    def measure(self, probe: Probe, events: list[Event],
                calendar: BusinessCalendar) -> Measurement:
        from .measure import automatic_metrics

        measurement = super().measure(probe, events, calendar)
        measurement.metrics.update(automatic_metrics(events))
        return measurement


def save_recording(ctx: ProbeContext, probe: Probe, samples: Any) -> None:
    from .voice import save_wav

    folder = ctx.config.root / "recordings"
    folder.mkdir(exist_ok=True)
    save_wav(folder / f"{probe.id}.wav", samples)
