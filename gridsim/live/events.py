"""Events into the live engine: versioned JSON schemas, validated with pydantic.

Every event is a JSON object with

- ``type``: one of :data:`EVENT_TYPES`;
- ``id``: the event's unique id (a duplicate id is rejected: sources can
  re-send safely);
- ``time``: ISO 8601 timestamp (naive = UTC) of when it happened in the field;
- ``v``: schema version, ``1`` (the default);
- ``actor``: who or what sent it (``scada``, ``ami``, ``crew-2``, a user name...),
  recorded in the outage history and the audit trail;

plus the fields of its type (below). Unknown fields are refused (a typo is an
error, not a silent default). :func:`parse_event` turns a dict or a JSON line
into an event or raises :class:`EventError` with one line naming the field.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from typing import Annotated, Any, Literal, Union

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from gridsim.errors import GridsimError, brief, printable

__all__ = ["EventError", "Event", "EVENT_TYPES", "CREW_STATUSES", "parse_event", "event_json_schema",
           "MAX_EVENT_BYTES", "max_event_bytes",
           "BreakerTrip", "BreakerReclose", "SwitchOpen", "SwitchClose", "FaultIndicator",
           "MeterLastGasp", "MeterRestored", "CustomerCall", "CrewStatus", "RepairComplete",
           "PlannedOutageScheduled", "PlannedOutageStarted", "PlannedOutageEnded", "Measurement",
           "WorkOrderUpdate", "Tick"]

#: Largest event accepted by default (bytes of its JSON text); ``GRIDSIM_MAX_EVENT_BYTES`` overrides it.
MAX_EVENT_BYTES = 16 * 1024
CREW_STATUSES = ("available", "dispatched", "en_route", "on_site", "repaired")
_ID = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@/+-]+$")]
_REF = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_:.+-]+$")]


class EventError(GridsimError, ValueError):
    """An event that cannot be read (malformed JSON, unknown type, a bad field)."""


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    id: _ID
    time: dt.datetime
    v: Literal[1] = 1
    actor: Annotated[str, Field(max_length=64)] = "system"

    @field_validator("time")
    @classmethod
    def _naive_utc(cls, t: dt.datetime) -> dt.datetime:
        if t.tzinfo is not None:
            t = t.astimezone(dt.timezone.utc).replace(tzinfo=None)
        if not dt.datetime(1970, 1, 1) <= t <= dt.datetime(2200, 1, 1):
            raise ValueError("time must lie between 1970 and 2200")
        return t


class BreakerTrip(_Event):
    """A protective device opened on a fault (SCADA). ``device``: ``switch:12`` or a
    model device id such as ``fuse:line:40``; ``fault_element`` (optional): where
    the relay's fault locator puts the fault. At least one of the two is given."""
    type: Literal["breaker_trip"]
    device: _REF | None = None
    fault_element: _REF | None = None
    cause: Literal["equipment", "weather", "vegetation", "third_party", "overload", "unknown"] = "unknown"


class BreakerReclose(_Event):
    """The device closed again (automatic reclose, operator, or a fuse replaced)."""
    type: Literal["breaker_reclose"]
    device: _REF


class SwitchOpen(_Event):
    type: Literal["switch_open"]
    device: _REF
    outage_id: _ID | None = None


class SwitchClose(_Event):
    type: Literal["switch_close"]
    device: _REF
    outage_id: _ID | None = None


class FaultIndicator(_Event):
    """A fault-passage indicator at ``device`` saw fault current: the fault is downstream of it."""
    type: Literal["fault_indicator"]
    device: _REF


class MeterLastGasp(_Event):
    type: Literal["meter_last_gasp"]
    customer_id: _ID


class MeterRestored(_Event):
    type: Literal["meter_restored"]
    customer_id: _ID


class CustomerCall(_Event):
    type: Literal["customer_call"]
    customer_id: _ID
    text: Annotated[str, Field(max_length=2000)] | None = None


class CrewStatus(_Event):
    """A crew's status. ``outage_id`` or ``element`` names the work for dispatched /
    en route / on site / repaired; ``location``: a bus id the crew is at or near."""
    type: Literal["crew_status"]
    crew_id: _ID
    status: Literal["available", "dispatched", "en_route", "on_site", "repaired"]
    outage_id: _ID | None = None
    element: _REF | None = None
    location_bus: int | None = Field(default=None, ge=0, le=2**53)


class RepairComplete(_Event):
    type: Literal["repair_complete"]
    element: _REF | None = None
    outage_id: _ID | None = None
    crew_id: _ID | None = None


class PlannedOutageScheduled(_Event):
    """Maintenance switching announced: ``elements`` taken out from ``start`` to ``end``."""
    type: Literal["planned_outage_scheduled"]
    planned_id: _ID
    elements: Annotated[list[_REF], Field(min_length=1, max_length=200)]
    start: dt.datetime
    end: dt.datetime
    reason: Annotated[str, Field(max_length=500)] = "maintenance"

    @field_validator("start", "end")
    @classmethod
    def _naive(cls, t: dt.datetime) -> dt.datetime:
        return t.astimezone(dt.timezone.utc).replace(tzinfo=None) if t.tzinfo is not None else t


class PlannedOutageStarted(_Event):
    type: Literal["planned_outage_started"]
    planned_id: _ID


class PlannedOutageEnded(_Event):
    type: Literal["planned_outage_ended"]
    planned_id: _ID


class Measurement(_Event):
    """An optional analog value (kept in the snapshot, not acted on)."""
    type: Literal["measurement"]
    element: _REF
    quantity: Annotated[str, Field(max_length=32, pattern=r"^[a-z_]+$")]
    value: float

    @field_validator("value")
    @classmethod
    def _finite(cls, x: float) -> float:
        if not math.isfinite(x):
            raise ValueError("value must be a finite number")
        return x


class WorkOrderUpdate(_Event):
    """An operator acknowledges or closes a work order (or acknowledges its escalation)."""
    type: Literal["work_order_update"]
    work_order_id: _ID
    status: Literal["acknowledged", "done"]
    note: Annotated[str, Field(max_length=500)] | None = None


class Tick(_Event):
    """The clock moved on (deadlines and escalations are checked); no other effect."""
    type: Literal["tick"]


Event = Annotated[Union[BreakerTrip, BreakerReclose, SwitchOpen, SwitchClose, FaultIndicator, MeterLastGasp,
                        MeterRestored, CustomerCall, CrewStatus, RepairComplete, PlannedOutageScheduled,
                        PlannedOutageStarted, PlannedOutageEnded, Measurement, WorkOrderUpdate, Tick],
                  Field(discriminator="type")]
EVENT_TYPES = ("breaker_trip", "breaker_reclose", "switch_open", "switch_close", "fault_indicator",
               "meter_last_gasp", "meter_restored", "customer_call", "crew_status", "repair_complete",
               "planned_outage_scheduled", "planned_outage_started", "planned_outage_ended", "measurement",
               "work_order_update", "tick")
_ADAPTER: TypeAdapter = TypeAdapter(Event)


def _first_error(e: ValidationError, raw: Any) -> str:
    err = e.errors()[0]
    loc = [str(x) for x in err.get("loc", ())]
    # the discriminated union puts the type first in the location: drop it
    if loc and isinstance(raw, dict) and loc[0] == str(raw.get("type")):
        loc = loc[1:]
    field = ".".join(printable(x) for x in loc) or "event"
    msg = err.get("msg", "invalid")
    if err.get("type") == "extra_forbidden":
        msg = "unknown field"
    elif err.get("type") == "union_tag_invalid":
        field, msg = "type", f"unknown event type {brief(raw.get('type'))}; known: {', '.join(EVENT_TYPES)}"
    elif err.get("type") == "union_tag_not_found":
        field, msg = "type", "missing; give the event type, e.g. breaker_trip"
    return f"{field}: {msg}"


def max_event_bytes() -> int:
    """The event size limit: ``GRIDSIM_MAX_EVENT_BYTES`` if set, else :data:`MAX_EVENT_BYTES`."""
    from gridsim.model.limits import limit

    try:
        return limit("GRIDSIM_MAX_EVENT_BYTES")
    except GridsimError as e:
        raise EventError(str(e)) from None


def parse_event(raw: Any, *, max_bytes: int | None = None):
    """A validated event from a dict, a JSON text or an event object; raises :class:`EventError`.

    ``max_bytes``: largest JSON text accepted (default :func:`max_event_bytes`)."""
    if max_bytes is None:
        max_bytes = max_event_bytes()
    if isinstance(raw, BaseModel) and type(raw).__name__ in _CLASSES:
        return raw
    if isinstance(raw, (bytes, bytearray)):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise EventError(f"event is not UTF-8 text ({e.reason} at byte {e.start})") from None
    if isinstance(raw, str):
        if len(raw) > max_bytes:
            raise EventError(f"event is {len(raw)} bytes, more than the limit of {max_bytes} "
                             "(GRIDSIM_MAX_EVENT_BYTES)")
        try:
            raw = json.loads(raw)
        except (json.JSONDecodeError, RecursionError) as e:
            raise EventError(f"event is not valid JSON: {getattr(e, 'msg', str(e))}") from None
    if not isinstance(raw, dict):
        raise EventError(f"an event must be a JSON object, got {type(raw).__name__}")
    try:
        size = len(orjson.dumps(raw, default=str))
    except (orjson.JSONEncodeError, ValueError, TypeError, RecursionError) as e:
        raise EventError(f"event cannot be serialised: {e}") from None
    if size > max_bytes:
        raise EventError(f"event is {size} bytes, more than the limit of {max_bytes} (GRIDSIM_MAX_EVENT_BYTES)")
    if raw.get("v", 1) != 1 and "type" in raw:
        raise EventError(f"v: event schema version {brief(raw.get('v'))} is not supported (this engine reads v1)")
    try:
        return _ADAPTER.validate_python(raw)
    except ValidationError as e:
        eid = raw.get("id")
        where = f"event {eid!r}" if isinstance(eid, str) and len(eid) <= 128 else "event"
        raise EventError(f"{where}: {_first_error(e, raw)}") from None


_CLASSES = {c.__name__ for c in (BreakerTrip, BreakerReclose, SwitchOpen, SwitchClose, FaultIndicator,
                                 MeterLastGasp, MeterRestored, CustomerCall, CrewStatus, RepairComplete,
                                 PlannedOutageScheduled, PlannedOutageStarted, PlannedOutageEnded, Measurement,
                                 WorkOrderUpdate, Tick)}


def event_json_schema() -> dict:
    """JSON Schema of every event type (version 1)."""
    schema = _ADAPTER.json_schema()
    schema["$id"] = "https://gridsim.example/schemas/event/1"
    schema["title"] = "gridsim event (v1)"
    return schema
