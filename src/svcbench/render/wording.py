"""Every English phrase of a report: industry lines, headlines, outcomes, streaks, seals.

Rankings (``svcbench.rank``) are numbers only; the vocabulary per channel is data
(``data/wording/channels.toml``), the grammar is here.
"""

from __future__ import annotations

import functools
import math
import tomllib
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..rank import ChannelRanking, Highlights, IndustryFact, OverallRow, Report, Streak


@functools.cache
def _data() -> dict[str, Any]:
    text = resources.files("svcbench").joinpath("data/wording/channels.toml").read_text(
        encoding="utf-8")
    return tomllib.loads(text)


def vocabulary(channel: str) -> dict[str, Any]:
    """The channel's words, falling back to the defaults key by key."""
    data = _data()
    base = dict(data["default"])
    own = data.get(channel, {})
    outcomes = {**base["outcomes"], **own.get("outcomes", {})}
    return {**base, **own, "outcomes": outcomes}


def outcome_label(channel: str, outcome: str | None) -> str:
    """'refunded' for an answered return, 'delivered' for an answered order, ..."""
    if outcome is None:
        return ""
    return vocabulary(channel)["outcomes"].get(str(outcome), str(outcome).replace("_", " "))


# -- numbers in words -----------------------------------------------------------------------


def plural(noun: str, count: int) -> str:
    if count == 1:
        return noun
    if noun == "company":
        return "companies"
    return noun + "s"


def duration_phrase(seconds: float) -> str:
    """30 -> '30 seconds', 120 -> '2 minutes', 43200 -> '12 hours', 604800 -> '7 days'."""
    s = float(seconds)
    if s < 60 or s % 60:
        value, unit = s, "second"
    elif s < 3600 or s % 3600:
        value, unit = s / 60, "minute"
    elif s <= 48 * 3600 or s % 86400:
        value, unit = s / 3600, "hour"
    else:
        value, unit = s / 86400, "day"
    return f"{value:g} {plural(unit, 1 if value == 1 else 2)}"


def plain_duration(seconds: float | None) -> str:
    """A duration in plain units: '14 s', '38 min', '5.2 hours', '2.1 days'."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.1f} days"


def wait_promise_verdict(row: dict) -> str:
    """'announced 2 min, actual 7 min: broken' (medians; 'broken in 1 of 3' when mixed)."""
    n, broken = row["calls"], row["broken"]
    verdict = "kept" if not broken else "broken" if broken == n else f"broken in {broken} of {n}"
    medians = " (medians)" if n > 1 else ""
    return (f"announced {_wait(row['announced_median_s'])}, actual "
            f"{_wait(row['actual_median_s'])}{medians}: {verdict}")


def _wait(seconds: float) -> str:
    """'45 s', '2 min', '7.5 min' (queue waits: half minutes matter)."""
    if seconds < 90 or seconds >= 90 * 60:
        return plain_duration(seconds)
    return f"{seconds / 60:.1f}".removesuffix(".0") + " min"


def wait_promise_note() -> str:
    """What the phone wait-promise table compares, and where the numbers come from."""
    from ..probes.phone.measure import PROMISE_SLACK_S

    return ("Announced wait versus actual wait: the first wait a company's line announced "
            "(\"your wait is about 2 minutes\", heard by the automated probe or timed by a "
            "person) against the time from that announcement to a live agent. Kept when the "
            f"agent came within the announced wait plus {PROMISE_SLACK_S:.0f} s or 25 %, "
            "whichever is more; calls logged afterwards (estimated instants) are not judged.")


def form_not_automatable(section: dict) -> str:
    """'form not automatable: 2 probes (Acme: captcha; Brightcart: login), counted for no one'"""
    parts = "; ".join(f"{row['name']}: {row['kind']}" for row in section["companies"])
    n = section["blocked"]
    return (f"form not automatable: {n} web-form probe{'s' if n != 1 else ''} met a CAPTCHA, "
            f"bot check or login wall ({parts}); counted for no one")


#: the mark of an email row that is a form-only company's web-form probes
VIA_WEB_FORM = "via web form"


def form_merge_note(report: Report) -> str:
    """The methodology sentence for form-only companies in the email ranking ('' when off)."""
    if not report.form_merged_into_email:
        return ""
    ranking = report.channels.get("email")
    merged = sum(1 for r in ranking.rows if r.via_form_n) if ranking else 0
    return (f"Companies that publish no email address are ranked in the email ranking by their "
            f"web-form probes, marked \"{VIA_WEB_FORM}\" ({merged} "
            f"{plural('company', merged)} this period); a company with an email address keeps "
            "only its email probes, and a form-only company's probes count once overall (in "
            "the web-form channel)")


def form_finding_cells(row: dict, business_hours: bool) -> dict[str, str]:
    """One company's web-form findings as short texts: form only, acknowledgement, human
    reply, form broken."""
    from . import duration

    mode = "business hours" if business_hours else "clock time"
    broken = row["broken"]
    words = "; ".join(f"\u201c{w}\u201d" for w in (broken or {}).get("words", []))
    return {
        "form_only": "no email address, form only" if row["form_only"] else "",
        "ack": (f"{row['acknowledged']} of {row['counted']}, median "
                f"{duration(row['ack_median_s'])} (clock time)" if row["acknowledged"]
                else f"none of {row['counted']}"),
        "human": (f"{row['human_replies']} of {row['counted']}, median "
                  f"{duration(row['human_median_s'])} ({mode})" if row["human_replies"]
                  else f"none of {row['counted']}"),
        "broken": (f"form broken: {broken['probes']} "
                   f"{plural('probe', broken['probes'])} on {', '.join(broken['dates'])} (UTC)"
                   + (f", the page said {words}" if words else "")) if broken else "",
    }


def headline(channel: str, seconds: float | None) -> str:
    """The channel's headline value: '14 s to a live agent', '2.1 days to refund'."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    return vocabulary(channel)["headline"].format(d=plain_duration(seconds))


_ONE_IN = (10, 12, 15, 20, 25, 30, 40, 50, 60, 75, 100)


def share_phrase(k: int, n: int, noun: str) -> str:
    """'4 in 10 emails', '1 in 20 calls', 'almost all chats', 'none of the 12 orders'."""
    nouns = plural(noun, n)
    if n == 0:
        return f"no {nouns}"
    if k == 0:
        return f"none of the {n} {nouns}" if n > 1 else f"not the one {noun}"
    if k == n:
        return f"all {n} {nouns}" if n > 1 else f"the one {noun}"
    share = k / n
    tenths = round(share * 10)
    if share >= 0.95:
        return f"almost all {nouns}"
    if tenths >= 1:
        return f"{tenths} in 10 {plural(noun, 10)}"
    if share >= 0.01:
        nice = min(_ONE_IN, key=lambda d: abs(math.log(d * share)))
        return f"1 in {nice} {plural(noun, 2)}"
    return f"fewer than 1 in 100 {plural(noun, 2)}"


def _percent(k: int, n: int) -> str:
    pct = 100.0 * k / n if n else 0.0
    return f"{pct:.0f}%" if pct >= 1 or pct == 0 else "<1%"


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."


# -- industry lines -------------------------------------------------------------------------


def industry_line(channel: str, fact: IndustryFact) -> str:
    """One fact as a sentence that says exactly what was counted."""
    words = vocabulary(channel)
    t = duration_phrase(fact.target_s) if fact.target_s is not None else ""
    if fact.kind == "companies_half_within":
        phrase = share_phrase(fact.k, fact.n, "company")
        only = "only " if 0 < fact.k / fact.n < 0.25 else ""
        return _sentence(f"{only}{phrase} ({_percent(fact.k, fact.n)}, {fact.k} of {fact.n}) "
                         f"{words['half_within'].format(t=t)}")
    phrase = share_phrase(fact.k, fact.n, words["noun"])
    if fact.kind == "probes_over":
        return _sentence(f"{phrase} ({_percent(fact.k, fact.n)}) {words['over'].format(t=t)}")
    verb = words["never"]
    if fact.k == 1 or phrase.startswith("1 in"):
        verb = verb.replace("were never", "was never")
    return _sentence(f"{phrase} ({_percent(fact.k, fact.n)}) {verb}")


def industry_lines(ranking: ChannelRanking) -> list[str]:
    return [industry_line(ranking.channel, fact) for fact in ranking.industry]


# -- overall, streaks, newcomers, movers, seals ---------------------------------------------


def top_n_summary(row: OverallRow, top_n: int) -> str:
    m = len(row.channel_ranks)
    return f"top {top_n} in {row.top_n_channels} of {m} {plural('channel', m)}"


_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
             "ninth", "tenth", "eleventh", "twelfth")


def streak_phrase(streak: Streak, *, monthly: bool, top_n: int) -> str:
    unit = "month" if monthly else "quarter"
    if streak.kind == "top_n_year":
        return f"in the Top {top_n} every {unit} this year"
    where = "top-rated" if streak.kind == "top" else f"in the Top {top_n}"
    if streak.at_least:
        return f"{where} for at least {streak.periods} {plural(unit, 2)} in a row"
    return f"{where} for a {_ORDINALS[streak.periods - 1]} {unit} in a row"


def highlight_lines(report: Report, key: str) -> list[str]:
    """Sentences for one channel's (or 'overall') highlights."""
    found: Highlights | None = report.highlights.get(key)
    if found is None:
        return []
    names = _names(report, key)
    lines = []
    for streak in found.streaks:
        phrase = streak_phrase(streak, monthly=report.monthly, top_n=report.top_n)
        lines.append(f"{names.get(streak.company, streak.company)}: {phrase}.")
    if found.newcomers:
        listed = ", ".join(names.get(c, c) for c in found.newcomers)
        lines.append(f"New in the Top {report.top_n}: {listed}.")
    if found.movers:
        listed = ", ".join(f"{names.get(c, c)} (up {d} {plural('place', d)})"
                           for c, d in found.movers)
        lines.append(f"Best movers since {report.previous_quarter}: {listed}.")
    return lines


def _names(report: Report, key: str) -> dict[str, str]:
    rows = report.overall if key == "overall" else report.channels[key].rows
    return {r.company: r.name for r in rows}


def seal(score: float | None) -> str:
    """The seal band of a score ('Elite', 'Excellent', 'Approved') or ''."""
    if score is None:
        return ""
    for band in _data()["seals"]:
        if score >= band["min"]:
            return str(band["name"])
    return ""


def seal_bands() -> list[tuple[str, float, float]]:
    """(name, lowest, highest) per band, best first: ('Elite', 90, 100), ..."""
    bands = _data()["seals"]
    out, top = [], 100.0
    for band in bands:
        out.append((str(band["name"]), float(band["min"]), top))
        top = float(band["min"]) - 0.1
    return out


# -- provenance -----------------------------------------------------------------------------

_SOURCE_NAMES = {"live": "live probes", "manual": "manual logs", "csv": "CSV imports",
                 "simulated": "simulated (synthetic, not measured)"}


def source_line(report: Report, source: Any) -> str:
    """'live probes: 120 (118 counted)', 'merged from anna.db (batch 3f2a): ...'."""
    what = _SOURCE_NAMES.get(source.source, source.source)
    if source.merge_batch:
        file = report.batches.get(source.merge_batch, "another database")
        what = f"{what}, merged from {file} (batch {source.merge_batch[:8]})"
    state = "" if source.included else "; left out (--include-simulated to show)"
    return f"{what}: {source.probes} probes ({source.counted} counted){state}"


def simulated_banner(report: Report) -> str:
    if not report.simulated_counted:
        return ""
    return (f"INCLUDES SIMULATED DATA: {report.simulated_counted} of the counted probes are "
            "synthetic (svcbench simulate), not measurements.")
