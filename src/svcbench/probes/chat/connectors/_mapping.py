"""Mapping arbitrary JSON chat payloads to ChatEvents with JSONPath rules (after Botium).

Botium maps text only; a probe also needs the event kind, the author's actor, the server
timestamp and queue data, so each of those has its own path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from ..events import Actor, ChatEvent, ChatEventKind
from ._actors import ActorRules
from ._jsonpath import find_all, find_one, validate_path

TimeUnit = Literal["s", "ms", "us", "iso"]


class EventMapping(BaseModel):
    """Where each part of an event sits in a payload (defaults: the sandbox chat API)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: selects the event objects in one response body or frame ("$" = the payload is one)
    list_path: str = "$.events[*]"
    #: unique id per event, for de-duplication across polls
    id_path: str | None = "$.seq"
    kind_path: str | None = "$.type"
    #: raw kind value -> event kind; values not listed are ignored
    kinds: dict[str, ChatEventKind] = {
        "message": ChatEventKind.MESSAGE, "queue_position": ChatEventKind.QUEUE_POSITION,
        "wait_estimate": ChatEventKind.WAIT_ESTIMATE, "agent_joined": ChatEventKind.AGENT_JOINED,
        "chat_ended": ChatEventKind.CHAT_ENDED,
    }
    actor_path: str | None = "$.author.kind"
    actor_name_path: str | None = "$.author.name"
    text_path: str | None = "$.text"
    t_server_path: str | None = "$.ts"
    t_server_unit: TimeUnit = "s"
    position_path: str | None = "$.position"
    wait_path: str | None = "$.wait_s"
    wait_unit: Literal["s", "ms", "min"] = "s"
    #: the value at ``list_path`` is an HTML fragment: its elements matching this selector
    #: (``div.msg``, ``li[data-id]``) are the events (see _html.py for the item shape)
    html_items: str | None = None
    #: kind of every event when ``kind_path`` is off (``kind_path = false``)
    kind: ChatEventKind = ChatEventKind.MESSAGE

    @model_validator(mode="before")
    @classmethod
    def _false_switches_off(cls, data: Any) -> Any:
        # TOML has no null: `id_path = false` switches a default path off
        if isinstance(data, dict):
            data = {k: (None if v is False and k.endswith(("_path", "html_items")) else v)
                    for k, v in data.items()}
        return data

    @field_validator("html_items")
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        if value is not None:
            from ._html import parse_selector

            parse_selector(value)
        return value

    @field_validator("list_path", "id_path", "kind_path", "actor_path", "actor_name_path",
                     "text_path", "t_server_path", "position_path", "wait_path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        return validate_path(value)


class MalformedPayload(ValueError):
    """A payload that does not fit the mapping (the message says which part)."""


def server_time(value: Any, unit: TimeUnit) -> float | None:
    """Epoch seconds from a timestamp in the given unit; None if absent."""
    if value is None or value == "":
        return None
    if unit == "iso":
        if isinstance(value, dict) and "$date" in value:  # Meteor/EJSON
            return float(value["$date"]) / 1000
        text = str(value).replace("Z", "+00:00")
        return datetime.fromisoformat(text).timestamp()
    number = float(value)
    return number / {"s": 1, "ms": 1e3, "us": 1e6}[unit]


def map_payload(payload: Any, mapping: EventMapping, rules: ActorRules,
                t_local: float) -> list[tuple[Any, ChatEvent]]:
    """(event id, ChatEvent) for each event in a payload; MalformedPayload if it cannot map."""
    items = find_all(mapping.list_path, payload)
    if mapping.html_items is not None:
        from ._html import extract

        fragments = [i for i in items if i is not None]
        if any(not isinstance(f, str) for f in fragments):
            raise MalformedPayload(f"expected an HTML fragment at {mapping.list_path}")
        items = [item for fragment in fragments for item in extract(fragment,
                                                                     mapping.html_items)]
    elif mapping.list_path.endswith("[*]") and not items \
            and not _container_at(payload, mapping):
        raise MalformedPayload(f"no event list at {mapping.list_path}")
    out: list[tuple[Any, ChatEvent]] = []
    for item in items:
        if not isinstance(item, dict):
            raise MalformedPayload(f"event is a {type(item).__name__}, not an object")
        if mapping.kind_path is None:
            raw_kind, kind = mapping.kind.value, mapping.kind
        else:
            raw_kind = find_one(mapping.kind_path, item, "message")
            kind = mapping.kinds.get(str(raw_kind))
        if kind is None:
            continue
        try:
            t_server = server_time(find_one(mapping.t_server_path, item), mapping.t_server_unit)
        except (TypeError, ValueError) as exc:
            raise MalformedPayload(f"bad server timestamp: {exc}") from None
        actor: Actor | None = None
        name = find_one(mapping.actor_name_path, item)
        if kind in (ChatEventKind.MESSAGE, ChatEventKind.AGENT_JOINED):
            author_type = find_one(mapping.actor_path, item)
            if mapping.actor_path and author_type is None and name is None:
                # guessing would risk counting an unknown author as a human reply
                raise MalformedPayload(f"{raw_kind} event has no author at {mapping.actor_path}")
            actor = rules.classify(author_type, name)
        text = find_one(mapping.text_path, item)
        data: dict[str, Any] = {}
        if name is not None:
            data["author"] = str(name)
        if kind is ChatEventKind.QUEUE_POSITION:
            position = find_one(mapping.position_path, item)
            if position is None:
                continue  # a status without a position (yet): nothing announced
            try:
                data["position"] = int(position)
            except (TypeError, ValueError):
                raise MalformedPayload(f"queue position {position!r} is not a number") from None
        elif kind is ChatEventKind.WAIT_ESTIMATE:
            wait = find_one(mapping.wait_path, item)
            try:
                factor = {"s": 1.0, "ms": 0.001, "min": 60.0}[mapping.wait_unit]
                data["wait_s"] = float(wait) * factor
            except (TypeError, ValueError):
                raise MalformedPayload(f"wait estimate {wait!r} is not a number") from None
        elif kind is ChatEventKind.AGENT_JOINED:
            data["agent"] = str(name) if name is not None else None
        out.append((find_one(mapping.id_path, item), ChatEvent(
            kind=kind, t_local=t_local, actor=actor,
            text=str(text) if text is not None else None, t_server=t_server, data=data,
            raw=item)))
    return out


def _container_at(payload: Any, mapping: EventMapping) -> bool:
    """Whether the list the path points into exists (an empty list is fine, a missing one not)."""
    parent = mapping.list_path[: -len("[*]")]
    found = find_all(parent, payload) if parent else [payload]
    return bool(found) and isinstance(found[0], list | dict)
