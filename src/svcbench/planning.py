"""Campaign plans: which probe goes to which company on which channel, and when (pure).

Probes are spread over the quarter: the quarter is cut into equal slots per company and
channel, and one due time is drawn inside each slot, a share of them deliberately outside
the company's business hours (customers write at night and on Sundays too). Draws are uniform
over the slot's open (or closed) time, taken from the company's open intervals computed once
per plan (``BusinessCalendar.timeline``), never by asking the calendar instant by instant.
Everything is derived from the campaign's seed, so planning again gives the same probes with
the same ids: ``plan`` is safe to re-run (``plan_sync`` keeps the stored plans current).
"""

from __future__ import annotations

import hashlib
import random
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from .config import Campaign, Company, Config
from .hours import OpenTimeline, from_micros, micros
from .models import Channel, Probe, ProbeStatus, quarter_of, utcnow
from .plugins import plugin_for

_PLAN_NAMESPACE = uuid.UUID("2b0c7a7e-9a0f-4d1e-8a0e-6c4f1f0b9d31")
_TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_MICROSECOND = timedelta(microseconds=1)


def quarter_bounds(quarter: str) -> tuple[datetime, datetime]:
    """[start, end) of a quarter like '2026Q4', in UTC."""
    try:
        year, q = int(quarter[:4]), int(quarter[5])
        if quarter[4] != "Q" or not 1 <= q <= 4 or len(quarter) != 6:
            raise ValueError
    except (ValueError, IndexError):
        raise ValueError(f"{quarter!r} is not a quarter like '2026Q4'") from None
    start = datetime(year, 3 * (q - 1) + 1, 1, tzinfo=UTC)
    end = datetime(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1, tzinfo=UTC)
    return start, end


def previous_quarter(quarter: str) -> str:
    start, _ = quarter_bounds(quarter)
    return quarter_of(start - timedelta(days=1))


def new_token() -> str:
    """10 random base32 characters: the probe's handle in reply addresses and references."""
    # one 50-bit draw instead of ten secrets.choice calls: planning makes tens of thousands
    value = secrets.randbits(50)
    return "".join(_TOKEN_ALPHABET[(value >> (5 * i)) & 31] for i in range(10))


#: a random byte -> a token character: 256 is a multiple of 32, so each is equally likely
_TOKEN_TABLE = bytes(_TOKEN_ALPHABET[b & 31].encode()[0] for b in range(256))


def new_tokens(n: int) -> list[str]:
    """``n`` tokens as ``new_token`` makes them (10 uniform characters of the alphabet),
    from one draw of random bytes."""
    text = secrets.token_bytes(10 * n).translate(_TOKEN_TABLE).decode("ascii")
    return [text[i:i + 10] for i in range(0, 10 * n, 10)]


@dataclass(frozen=True, slots=True)
class PlannedProbe:
    campaign: str
    company: str
    channel: Channel
    scenario: str
    index: int
    due_at: datetime
    deadline_at: datetime
    out_of_hours: bool
    #: derived from the others when not given (plan_campaign knows the quarter already)
    id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            quarter = quarter_of(self.due_at)
            object.__setattr__(self, "id", plan_id(
                f"{self.campaign}/{self.company}/{self.channel}/{quarter}/{self.index}"))


_NAMESPACE_BYTES = _PLAN_NAMESPACE.bytes


def plan_id(key: str) -> str:
    """``str(uuid.uuid5(_PLAN_NAMESPACE, key))``, without building UUID objects (a first plan
    makes 100,000s of ids; tests check it equals uuid5)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + key.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _draw_fallback(start_us: int, end_us: int, fraction: float,
                   timeline: OpenTimeline) -> tuple[int, bool]:
    """A slot without the wanted kind of time (a shop open around the clock has no night):
    a uniform draw instead, and whether it is outside business hours."""
    instant = start_us + int((end_us - start_us) * fraction)
    return instant, not timeline.is_open(from_micros(instant))


def plan_campaign(campaign: Campaign, companies: list[Company], quarter: str, *,
                  not_before: datetime | None = None) -> list[PlannedProbe]:
    """Due times for every company and channel of a campaign in one quarter.

    ``not_before`` moves slots that start in the past (a campaign planned mid-quarter) into
    the rest of the quarter, so nothing is due retroactively. Each slot's instant is drawn
    uniform over its open (or, out of hours, closed) time: a fraction from the seeded
    generator, turned into an instant by ``OpenTimeline.pick_many`` for all slots at once.
    """
    deadlines = {ch: campaign.deadline_for(ch) for ch in campaign.channels}
    planned = [
        PlannedProbe(campaign.id, company.id, draw.channel, draw.scenario, draw.index,
                     (due := from_micros(draw.due_us)), due + deadlines[draw.channel],
                     draw.out_of_hours, draw.id)
        for company in companies
        for draw in draw_slots(campaign, company, quarter, not_before=not_before)]
    return sorted(planned, key=lambda p: (p.due_at, p.id))


class Draw(NamedTuple):
    """One slot of a company's plan, its due time in microseconds since the epoch (what a
    first plan stores by the ten thousand, without building datetimes)."""

    id: str
    channel: Channel
    scenario: str
    index: int
    due_us: int
    out_of_hours: bool


def draw_slots(campaign: Campaign, company: Company, quarter: str, *,
               not_before: datetime | None = None) -> list[Draw]:
    """One company's slots of ``plan_campaign``, unsorted."""
    q_start, q_end = quarter_bounds(quarter)
    window_start = max(q_start, not_before) if not_before else q_start
    channels = [ch for ch in campaign.channels
                if (e := company.channels.get(ch)) is not None and e.enabled]
    if window_start >= q_end or not channels:
        return []
    window_us, end_us = micros(window_start), micros(q_end)
    scenarios = campaign.scenarios
    timeline = company.calendar().timeline(window_start, q_end)  # shared by its channels
    n = campaign.probes_per_quarter
    slot_us = ((q_end - window_start) / n) // _MICROSECOND
    slot_lows = [window_us + slot_us * index for index in range(n)]
    slot_highs = [min(low + slot_us, end_us) for low in slot_lows]
    # availability checks measure the posted hours: none is planned outside them
    share = 0.0 if campaign.kind == "availability" else campaign.out_of_hours_share
    fractions, wants = [], []
    for channel in channels:
        rng = random.Random(f"{campaign.seed}:{campaign.id}:{company.id}:{channel}:{quarter}")
        out_of_hours = set(rng.sample(range(n), round(n * share)))
        fractions += [rng.random() for _ in range(n)]
        wants += [index not in out_of_hours for index in range(n)]
    lows, highs = slot_lows * len(channels), slot_highs * len(channels)
    picks = timeline.pick_many(lows, highs, fractions, wants)
    prefix = f"{campaign.id}/{company.id}/"
    draws = []
    for k, instant in enumerate(picks):
        channel, index = channels[k // n], k % n
        if instant is None:
            instant, outside = _draw_fallback(lows[k], highs[k], fractions[k], timeline)
        else:
            outside = not wants[k]
        draws.append(Draw(plan_id(f"{prefix}{channel}/{quarter}/{index}"), channel,
                          scenarios[index % len(scenarios)], index, instant, outside))
    return draws


#: the probe plugin of an availability campaign's checks
AVAILABILITY_PLUGIN = "chat_availability"


def to_probe(planned: PlannedProbe, campaign: Campaign, company: Company,
             plugin: str | None = None, *, token: str | None = None,
             created_at: datetime | None = None) -> Probe:
    """The probe to store; ``plugin``, ``token`` and ``created_at`` save making them for each
    of a company's probes."""
    if campaign.kind == "availability":
        plugin = AVAILABILITY_PLUGIN
    return Probe(
        id=planned.id, company=planned.company, channel=planned.channel,
        plugin=plugin or plugin_for(company, planned.channel), campaign=planned.campaign,
        scenario=planned.scenario, shopper=campaign.shopper, status=ProbeStatus.PLANNED,
        due_at=planned.due_at, deadline_at=planned.deadline_at, token=token or new_token(),
        state={"out_of_hours": planned.out_of_hours, "plan_index": planned.index},
        created_at=created_at or utcnow(),
    )


def campaign_quarter(campaign: Campaign, now: datetime) -> str:
    return campaign.quarter or quarter_of(now)


def plan_all(config: Config, now: datetime, campaign_ids: list[str] | None = None,
             quarter: str | None = None) -> list[Probe]:
    """Probes for the given (default: all) campaigns, ready to insert with if_absent=True."""
    probes = []
    for campaign in config.campaigns.values():
        if campaign_ids and campaign.id not in campaign_ids:
            continue
        q = quarter or campaign_quarter(campaign, now)
        companies = {c.id: c for c in config.campaign_companies(campaign)}
        for planned in plan_campaign(campaign, list(companies.values()), q, not_before=now):
            probes.append(to_probe(planned, campaign, companies[planned.company]))
    return probes
