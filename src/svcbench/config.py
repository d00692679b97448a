"""Workspace configuration: companies, shoppers, scenarios, campaigns, as TOML.

A workspace is a directory holding ``svcbench.toml`` and a ``probes/`` folder whose ``*.toml``
files define ``[[company]]``, ``[[shopper]]``, ``[[scenario]]`` and ``[[campaign]]`` tables (any
mix per file). Every error names the file, the key and the problem on one line.

Secrets never live in config: credentials are named by environment variable (``password_env``)
and read only when a probe needs them.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .errors import ConfigError
from .fastpath import WORKSPACE_FILE
from .grading.keys import AnswerKey
from .grading.settings import GradingSettings
from .hours import WEEKDAYS, BusinessCalendar, Schedule, check_holiday_region, parse_interval
from .models import Channel

_SLUG = r"^[a-z0-9][a-z0-9._-]*$"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}
_SECRET_KEYS = {"password", "secret", "token", "api_key", "apikey"}


def parse_duration(value: Any) -> timedelta:
    """'90s', '15m', '72h', '3d', '1w' or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration like '90s', '15m', '72h' or '3d'")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"{value!r} must be a positive duration")
    if seconds > 3660 * 86400:  # past this, date arithmetic overflows
        raise ValueError(f"{value!r} is too long a duration (at most 10 years)")
    return timedelta(seconds=seconds)


def _check_interval(text: str) -> str:
    parse_interval(text)
    return text


def _check_weekday(name: str) -> str:
    if name not in WEEKDAYS:
        raise ValueError(f"unknown weekday {name!r} (use {', '.join(WEEKDAYS)})")
    return name


def _check_duration(text: str) -> str:
    parse_duration(text)
    return text


#: '09:00-17:00', '22:00-06:00' (overnight) or '09:00-24:00'; checked where it is written, so
#: errors point at the exact entry (company[0].hours.fri[1])
IntervalText = Annotated[str, AfterValidator(_check_interval)]
Weekday = Annotated[str, AfterValidator(_check_weekday)]
DurationText = Annotated[str, AfterValidator(_check_duration)]
WeeklyHours = dict[Weekday, list[IntervalText]]


def _reject_plain_secrets(data: Any) -> Any:
    if isinstance(data, dict):
        for key in data:
            if str(key).lower() in _SECRET_KEYS:
                # the key rides along in ctx so the error can name it (smtp.password)
                raise PydanticCustomError(
                    "plain_secret",
                    "secrets are not stored in config; name an environment variable with "
                    "'{key}_env' instead",
                    {"key": str(key)},
                )
    return data


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _no_plain_secrets(cls, data: Any) -> Any:
        return _reject_plain_secrets(data)


class Holidays(_Model):
    country: str
    subdiv: str | None = None

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        check_holiday_region(value, None)
        return value

    @field_validator("subdiv")
    @classmethod
    def _known_subdiv(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and "country" in info.data:
            check_holiday_region(info.data["country"], value)
        return value


class ScheduleVersion(_Model):
    valid_from: date
    hours: WeeklyHours


class ChannelEndpoint(BaseModel):
    """How to reach a company on one channel. Plugin-specific keys are checked by the plugin."""

    model_config = ConfigDict(extra="allow", frozen=True)
    enabled: bool = True

    @model_validator(mode="before")
    @classmethod
    def _no_plain_secrets(cls, data: Any) -> Any:
        return _reject_plain_secrets(data)

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class Company(_Model):
    id: str = Field(pattern=_SLUG)
    name: str = Field(min_length=1)
    industry: str = "general"
    website: str | None = None
    timezone: str = "UTC"
    #: weekly hours in local time: {"mon": ["09:00-17:00"], "sat": []}; absent means always open
    hours: WeeklyHours | None = None
    #: later versions of the weekly hours, each valid from a date
    hours_changes: list[ScheduleVersion] = []
    holidays: Holidays | None = None
    closed_dates: list[date] = []
    #: per-date hours replacing the weekly ones, e.g. {"2026-12-24" = ["09:00-12:00"]}
    special_hours: dict[date, list[IntervalText]] = {}
    channels: dict[Channel, ChannelEndpoint] = {}

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @model_validator(mode="after")
    def _calendar_valid(self) -> Company:
        self.calendar()  # raises ValueError naming the problem
        return self

    def calendar(self) -> BusinessCalendar:
        schedules = [Schedule.from_mapping(self.hours)] if self.hours is not None else []
        schedules += [Schedule.from_mapping(v.hours, v.valid_from) for v in self.hours_changes]
        return _calendar(
            self.timezone,
            tuple(schedules),
            self.holidays.country if self.holidays else None,
            self.holidays.subdiv if self.holidays else None,
            frozenset(self.closed_dates),
            tuple(
                (day, tuple(parse_interval(t) for t in texts))
                for day, texts in sorted(self.special_hours.items())
            ),
        )


def _calendar(tz, schedules, country, subdiv, closed, overrides) -> BusinessCalendar:
    kwargs: dict[str, Any] = {"timezone": tz, "holiday_country": country,
                              "holiday_subdiv": subdiv, "closed_dates": closed,
                              "overrides": overrides}
    if schedules:
        kwargs["schedules"] = schedules
    return BusinessCalendar(**kwargs)


class MailServer(_Model):
    host: str
    port: int = Field(gt=0, lt=65536)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = None
    #: CA bundle for self-signed test servers; None means the system store
    ca_file: Path | None = None
    #: bounds each read from the server
    timeout_s: float = Field(default=30.0, gt=0)
    #: bounds a whole session (connect to QUIT/LOGOUT), however the server trickles bytes
    deadline_s: float = Field(default=120.0, gt=0)


class ImapServer(MailServer):
    security: Literal["starttls", "tls", "none"] = "tls"
    deadline_s: float = Field(default=300.0, gt=0)
    #: folders to collect from; the \\Junk special-use folder is added when the server has one
    folders: list[str] = ["INBOX"]


class Shopper(_Model):
    id: str = Field(pattern=_SLUG)
    name: str = Field(min_length=1)
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    #: reply address per probe as local+token@domain (some providers reject '+')
    plus_addressing: bool = True
    smtp: MailServer | None = None
    imap: ImapServer | None = None
    phone: str | None = None


class Check(_Model):
    """An expected-answer check applied to the human reply text."""

    name: str
    pattern: str

    @field_validator("pattern")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return value


class ChatScript(_Model):
    """How a chat probe behaves; every phase has its own timeout."""

    greeting_wait_s: float = Field(default=3.0, ge=0)
    ask_human_after_bot_turns: int = Field(default=1, ge=0)
    ask_human_text: str = "Could I talk to a person, please?"
    follow_up: str | None = None
    close_text: str | None = "Thanks, that's all. Bye!"
    connect_timeout_s: float = Field(default=20.0, gt=0)
    first_reply_timeout_s: float = Field(default=120.0, gt=0)
    human_timeout_s: float = Field(default=600.0, gt=0)
    follow_up_timeout_s: float = Field(default=120.0, gt=0)


class Scenario(_Model):
    id: str = Field(pattern=_SLUG)
    subject: str = "Question about an order"
    question: str = Field(min_length=1)
    #: per-channel question text, overriding ``question``
    questions: dict[Channel, str] = {}
    checks: list[Check] = []
    chat: ChatScript = ChatScript()
    #: languages of the question (and of the answer key's phrasings): "en", "de", ...
    languages: list[str] = Field(default=["en"], min_length=1)
    #: what a good answer contains (svcbench.grading); ``checks`` count as facts without one
    answer_key: AnswerKey | None = None

    @model_validator(mode="after")
    def _key_languages(self) -> Scenario:
        if self.answer_key is not None:
            extra = sorted(self.answer_key.languages() - set(self.languages))
            if extra:
                raise ValueError(f"answer_key has phrases in {', '.join(extra)}, not in "
                                 f"languages ({', '.join(self.languages)})")
        return self

    def question_for(self, channel: Channel) -> str:
        return self.questions.get(channel, self.question)


_DEFAULT_DEADLINES = {
    Channel.EMAIL: "72h", Channel.CHAT: "20m", Channel.PHONE: "30m",
    Channel.RETURNS: "30d", Channel.DELIVERY: "30d", Channel.FORM: "72h",
}


class Campaign(_Model):
    id: str = Field(pattern=_SLUG)
    name: str | None = None
    #: company ids, or ["*"] for every company
    companies: list[str] = ["*"]
    industries: list[str] = []
    channels: list[Channel]
    scenarios: list[str] = Field(min_length=1)
    shopper: str | None = None
    quarter: str | None = Field(default=None, pattern=r"^\d{4}Q[1-4]$")
    probes_per_quarter: int = Field(default=4, ge=1, le=1000)
    #: share of probes deliberately sent outside the company's business hours
    out_of_hours_share: float = Field(default=0.2, ge=0, le=1)
    seed: int = 0
    deadlines: dict[Channel, DurationText] = {}
    #: "probes": conversations; "availability": cheap chat availability checks spread over
    #: the companies' posted hours (they start no conversation; see docs/chat.md)
    kind: Literal["probes", "availability"] = "probes"

    @model_validator(mode="after")
    def _availability_is_chat(self) -> Campaign:
        if self.kind == "availability" and list(self.channels) != [Channel.CHAT]:
            raise ValueError('kind = "availability" checks the chat channel only: '
                             'use channels = ["chat"]')
        return self

    def deadline_for(self, channel: Channel) -> timedelta:
        if self.kind == "availability" and channel not in self.deadlines:
            return timedelta(minutes=10)
        return parse_duration(self.deadlines.get(channel, _DEFAULT_DEADLINES[channel]))


class Targets(_Model):
    """Thresholds for 'share within target', in seconds, per channel."""

    phone: list[float] = [30, 120]
    chat: list[float] = [30, 120]
    email: list[float] = [3600, 43200, 86400]
    returns: list[float] = [7 * 86400, 14 * 86400]
    delivery: list[float] = [3 * 86400, 7 * 86400]
    form: list[float] = [3600, 43200, 86400]

    def for_channel(self, channel: Channel) -> list[float]:
        return list(getattr(self, channel.value))


class Scoring(_Model):
    """How a company's channel score is made (0-100, higher is better)."""

    #: weights of the score's parts; they are normalised to sum to 1
    weights: dict[str, float] = {"speed": 0.5, "within_target": 0.3, "human": 0.2}
    minimum_sample: int = Field(default=3, ge=1)
    #: ranks shown as tied when confidence intervals of the median overlap
    bootstrap_samples: int = Field(default=200, ge=0, le=10000)
    top_n: int = Field(default=10, ge=1)
    #: rank companies that offer only a web form (no email address) in the email ranking too,
    #: by their form probes, marked "via web form" (docs/forms.md); `report
    #: --merge-form-into-email` / `--separate-form` overrides it
    merge_form_into_email: bool = False


class WorkspaceSettings(_Model):
    name: str = "svcbench workspace"
    database: Path = Path("svcbench.db")
    reports: Path = Path("reports")
    probes: Path = Path("probes")
    log_file: Path | None = None
    #: node_exporter textfile collector file, rewritten after every tick
    prometheus_textfile: Path | None = None
    #: a tick starts no new work after this long and caps its network deadlines to it (a
    #: conversation already under way runs to its own timeouts; an overlapping cron run
    #: meanwhile just exits 75)
    tick_budget: DurationText = "10m"
    #: while probes it started are still in progress (a chat in a queue, a call), a tick also
    #: starts probes that become due up to this long after it began (never past tick_budget)
    start_window: DurationText = "10m"
    #: browser probes (chats, web forms) holding a browser context at once in one tick; the
    #: others wait for a place ($SVCBENCH_BROWSER_MAX_CHATS overrides; docs/scale.md)
    browser_max_contexts: int = Field(default=8, ge=1, le=500)

    #: first wait before retrying a probe our side could not start; doubles up to the max
    retry_backoff: DurationText = "1m"
    #: the longest wait between two retries
    retry_backoff_max: DurationText = "2h"

    #: machine/region label recorded on every new probe (default: $SVCBENCH_REGION, hostname)
    region: str | None = None

    @property
    def tick_budget_s(self) -> float:
        return parse_duration(self.tick_budget).total_seconds()

    @property
    def start_window_td(self) -> timedelta:
        return parse_duration(self.start_window)

    @property
    def retry_backoff_td(self) -> timedelta:
        return parse_duration(self.retry_backoff)

    @property
    def retry_backoff_max_td(self) -> timedelta:
        return parse_duration(self.retry_backoff_max)


class WorkspaceFile(_Model):
    workspace: WorkspaceSettings = WorkspaceSettings()
    targets: Targets = Targets()
    scoring: Scoring = Scoring()
    grading: GradingSettings = GradingSettings()


class Config(BaseModel):
    """Everything loaded from one workspace."""

    root: Path
    settings: WorkspaceSettings
    targets: Targets
    scoring: Scoring
    grading: GradingSettings = GradingSettings()
    companies: dict[str, Company] = {}
    shoppers: dict[str, Shopper] = {}
    scenarios: dict[str, Scenario] = {}
    campaigns: dict[str, Campaign] = {}
    #: where each definition came from, for error messages: ("company", id) -> file
    sources: dict[tuple[str, str], str] = {}
    #: where in its file each definition is, for error keys: ("company", id) -> "company[2]"
    positions: dict[tuple[str, str], str] = {}

    def key_of(self, section: str, ident: str, *rest: Any) -> str:
        """The error key of a definition's field: key_of("campaign", "q4", "companies", 1)."""
        prefix = self.positions.get((section, ident), f"{section}[id={ident}]")
        return _key_path((prefix, *rest))

    @property
    def database_path(self) -> Path:
        return self.root / self.settings.database

    @property
    def reports_dir(self) -> Path:
        return self.root / self.settings.reports

    def company(self, ident: str) -> Company:
        try:
            return self.companies[ident]
        except KeyError:
            known = ", ".join(sorted(self.companies)) or "none defined"
            raise ConfigError(f"unknown company {ident!r} (known: {known})") from None

    def campaign_companies(self, campaign: Campaign) -> list[Company]:
        ids = sorted(self.companies) if "*" in campaign.companies else campaign.companies
        chosen = [self.companies[i] for i in ids]
        if campaign.industries:
            chosen = [c for c in chosen if c.industry in campaign.industries]
        return chosen


def _key_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if item == "[key]":  # pydantic's marker for "the dict key itself", already named
            continue
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
        else:
            parts.append(str(item))
    return ".".join(parts)


def _validation_error(exc: ValidationError, file: str, prefix: str) -> ConfigError:
    first = exc.errors()[0]
    loc = tuple(first["loc"])
    if first["type"] == "plain_secret":
        loc += (first["ctx"]["key"],)
    key = _key_path((prefix, *loc)) if prefix else _key_path(loc)
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"] == "missing":
        message = "required key is missing"
    elif first["type"] == "string_pattern_mismatch" and loc and loc[-1] == "id":
        message = (f"{first['input']!r} is not a valid id (lowercase letters, digits, '.', '_' "
                   "and '-', starting with a letter or digit)")
    elif first["type"] == "string_pattern_mismatch":
        message = f"{first['input']!r} does not match {first['ctx']['pattern']}"
    elif first["type"] == "enum":
        message = f"unknown value {first['input']!r}: {message}"
    return ConfigError(message, file=file, key=key)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", file=str(path)) from None
    except RecursionError:
        raise ConfigError("invalid TOML: tables or arrays nested too deeply",
                          file=str(path)) from None


_SECTIONS = {"company": Company, "shopper": Shopper, "scenario": Scenario, "campaign": Campaign}
_PLURAL = {"company": "companies", "shopper": "shoppers", "scenario": "scenarios",
           "campaign": "campaigns"}


def find_workspace(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` holding svcbench.toml."""
    from .fastpath import nearest_workspace

    found = nearest_workspace(start)
    if found is None:
        raise ConfigError(
            f"no {WORKSPACE_FILE} here or above; run 'svcbench init' or pass --workspace",
            file=str((start or Path.cwd()).resolve()),
        )
    return found


def load_config(root: Path) -> Config:
    """Load and cross-check a workspace; raises ConfigError naming file and key."""
    root = root.resolve()
    ws_path = root / WORKSPACE_FILE
    try:
        ws = WorkspaceFile.model_validate(read_toml(ws_path))
    except ValidationError as exc:
        raise _validation_error(exc, str(ws_path), "") from None
    config = Config(root=root, settings=ws.workspace, targets=ws.targets, scoring=ws.scoring,
                    grading=ws.grading)
    probes_dir = root / ws.workspace.probes
    files = sorted(probes_dir.rglob("*.toml")) if probes_dir.is_dir() else []
    for path in files:
        data = read_toml(path)
        for section, items in data.items():
            if section not in _SECTIONS:
                raise ConfigError(
                    f"unknown table (expected {', '.join(f'[[{s}]]' for s in _SECTIONS)})",
                    file=str(path), key=section,
                )
            if not isinstance(items, list):
                raise ConfigError(f"write it as [[{section}]] (an array of tables)",
                                  file=str(path), key=section)
            target = getattr(config, _PLURAL[section])
            for index, item in enumerate(items):
                prefix = f"{section}[{index}]"
                try:
                    model = _SECTIONS[section].model_validate(item)
                except ValidationError as exc:
                    raise _validation_error(exc, str(path), prefix) from None
                if model.id in target:
                    first = config.sources[(section, model.id)]
                    raise ConfigError(f"duplicate {section} id {model.id!r} (first in {first})",
                                      file=str(path), key=f"{prefix}.id")
                target[model.id] = model
                config.sources[(section, model.id)] = str(path)
                config.positions[(section, model.id)] = prefix
    _cross_check(config)
    return config


def _cross_check(config: Config) -> None:
    def known(ids: Any) -> str:
        return ", ".join(sorted(ids)) or "none defined"

    for campaign in config.campaigns.values():
        file = config.sources[("campaign", campaign.id)]
        for index, ident in enumerate(campaign.companies):
            if ident != "*" and ident not in config.companies:
                raise ConfigError(f"unknown company {ident!r} (known: {known(config.companies)})",
                                  file=file,
                                  key=config.key_of("campaign", campaign.id, "companies", index))
        for index, ident in enumerate(campaign.scenarios):
            if ident not in config.scenarios:
                raise ConfigError(
                    f"unknown scenario {ident!r} (known: {known(config.scenarios)})", file=file,
                    key=config.key_of("campaign", campaign.id, "scenarios", index))
        if campaign.shopper and campaign.shopper not in config.shoppers:
            raise ConfigError(f"unknown shopper {campaign.shopper!r} "
                              f"(known: {known(config.shoppers)})", file=file,
                              key=config.key_of("campaign", campaign.id, "shopper"))


def named_secrets(config: Config) -> list[tuple[str, str, str]]:
    """Every environment variable the config names for a secret (keys ending in ``_env``), as
    (file, key, variable): what ``config check`` verifies before a probe needs it."""
    found: list[tuple[str, str, str]] = []

    def walk(value: Any, path: tuple[Any, ...], file: str) -> None:
        if isinstance(value, BaseModel):
            for key, item in value:  # fields and extra keys alike
                walk(item, (*path, key), file)
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, (*path, str(key)), file)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, (*path, i), file)
        elif isinstance(value, str) and path and str(path[-1]).endswith("_env"):
            found.append((file, _key_path(path), value))

    for section, definitions in (("company", config.companies), ("shopper", config.shoppers)):
        for ident, definition in definitions.items():
            prefix = config.positions.get((section, ident), f"{section}[id={ident}]")
            walk(definition, (prefix,), config.sources.get((section, ident), ""))
    return found
