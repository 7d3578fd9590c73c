"""Messages out of the live engine: their schemas (pydantic) and where they go.

Every message is a JSON object with ``schema`` (``gridsim.<name>/<version>``),
``id`` (the idempotency key: the same fact always gets the same id, so a
consumer that sees an id twice drops the second copy) and ``created_at`` (ISO
8601, the engine's clock). The engine builds messages as plain dicts (fast:
10,000 notices per outage); :data:`MESSAGE_MODELS` are the contracts, written
to ``docs/schemas/`` by :func:`write_schemas` and checked by the tests.

Routing (``gridsim.live.engine``):

- per-customer messages (outage notice, ETR update, restoration, planned
  notice) go to each of the customer's channels ``sms`` -> ``cs.sms`` and
  ``ivr`` -> ``cs.ivr`` (an outbound call); the same message id on every
  channel, so a customer gets one notice per outage after dedup;
- area-level messages (``customer_id`` null) go to ``cs.web`` and ``cs.social``;
- critical-customer alerts go to ``cs.key_accounts``;
- automatic call answers to ``cs.ivr``; work orders to the department's queue
  (``ops.repair``, ``ops.switching``, ``cs.key_accounts``); escalations to
  ``ops.supervisor``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["MESSAGE_MODELS", "SCHEMAS", "CHANNEL_QUEUES", "AREA_QUEUES", "message_json_schemas", "write_schemas",
           "validate_message"]

#: customer channel -> queue of per-customer messages
CHANNEL_QUEUES = {"sms": "cs.sms", "ivr": "cs.ivr"}
#: queues of area-level messages
AREA_QUEUES = ("cs.web", "cs.social")

OUTAGE_STATUSES = ("scheduled", "predicted", "confirmed", "dispatched", "on_site", "isolated", "repaired",
                   "restored", "cancelled")


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    created_at: str


class OutageNotice(_Msg):
    """An outage began: to each affected customer (``customer_id``) and to the area queues (null)."""
    schema_: Literal["gridsim.outage_notice/1"]
    outage_id: str
    customer_id: str | None
    status: str                    # predicted | confirmed | ... (a predicted outage is not yet confirmed)
    area: str                      # the device or feeder section out, e.g. "fuse:line:40 (feeder switch:121)"
    customers: int                 # customers out in this outage
    critical: int                  # critical customers out
    cause: str
    start: str
    etr: str | None                # estimated restoration time, null while unknown


class EtrUpdate(_Msg):
    schema_: Literal["gridsim.etr_update/1"]
    outage_id: str
    customer_id: str | None
    etr: str | None
    previous_etr: str | None
    reason: str


class ProgressUpdate(_Msg):
    """Dispatched, on site, isolated, repaired: to the area queues and to critical customers' key accounts."""
    schema_: Literal["gridsim.progress_update/1"]
    outage_id: str
    customer_id: str | None
    status: Literal["dispatched", "on_site", "isolated", "repaired"]
    detail: str
    etr: str | None


class Restoration(_Msg):
    schema_: Literal["gridsim.restoration/1"]
    outage_id: str
    customer_id: str | None
    restored_at: str
    duration_min: float
    customers: int                 # customers back with this message (area-level: all of the step)


class CriticalAlert(_Msg):
    schema_: Literal["gridsim.critical_alert/1"]
    outage_id: str
    customer_id: str
    customer_class: str
    name: str | None
    start: str
    etr: str | None


class PlannedNotice(_Msg):
    schema_: Literal["gridsim.planned_notice/1"]
    outage_id: str
    customer_id: str | None
    window_start: str
    window_end: str
    reason: str
    customers: int


class CallAnswer(_Msg):
    schema_: Literal["gridsim.call_answer/1"]
    call_id: str
    customer_id: str
    outage_id: str | None
    etr: str | None
    text: str


class WorkOrder(_Msg):
    schema_: Literal["gridsim.work_order/1"]
    work_order_id: str
    outage_id: str
    department: Literal["repair", "switching", "key_accounts"]
    owner: str
    due_at: str
    status: Literal["open", "acknowledged", "done", "cancelled"]
    action: str


class Escalation(_Msg):
    schema_: Literal["gridsim.escalation/1"]
    work_order_id: str
    outage_id: str
    department: str
    owner: str
    due_at: str
    overdue_min: float


MESSAGE_MODELS: dict[str, type[_Msg]] = {
    "gridsim.outage_notice/1": OutageNotice,
    "gridsim.etr_update/1": EtrUpdate,
    "gridsim.progress_update/1": ProgressUpdate,
    "gridsim.restoration/1": Restoration,
    "gridsim.critical_alert/1": CriticalAlert,
    "gridsim.planned_notice/1": PlannedNotice,
    "gridsim.call_answer/1": CallAnswer,
    "gridsim.work_order/1": WorkOrder,
    "gridsim.escalation/1": Escalation,
}
SCHEMAS = tuple(MESSAGE_MODELS)


def validate_message(msg: dict) -> BaseModel:
    """Check one message dict against its schema (raises pydantic's ValidationError)."""
    model = MESSAGE_MODELS[msg["schema"]]
    data = dict(msg)
    data["schema_"] = data.pop("schema")
    return model.model_validate(data)


def message_json_schemas() -> dict[str, dict]:
    """schema name -> JSON Schema (with the ``schema`` property spelled as on the wire)."""
    out = {}
    for name, model in MESSAGE_MODELS.items():
        s = model.model_json_schema()
        props = s["properties"]
        props = {("schema" if k == "schema_" else k): v for k, v in props.items()}
        props["schema"]["title"] = "Schema"
        s["properties"] = {"schema": props.pop("schema"), **props}
        s["required"] = ["schema" if r == "schema_" else r for r in s.get("required", [])]
        s["$id"] = f"https://gridsim.example/schemas/{name.replace('gridsim.', '')}"
        s["title"] = name
        s["description"] = (model.__doc__ or "").strip() or name
        out[name] = s
    return out


def write_schemas(folder: str | Path) -> list[Path]:
    """Write one ``<name>.v<version>.json`` per message schema (and ``event.v1.json``) into ``folder``."""
    from gridsim.live.events import event_json_schema
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    items = list(message_json_schemas().items()) + [("gridsim.event/1", event_json_schema())]
    for name, schema in items:
        base, version = name.removeprefix("gridsim.").split("/")
        p = folder / f"{base}.v{version}.json"
        p.write_text(json.dumps(schema, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        written.append(p)
    return written


# ---------------------------------------------------------------------------
# one human line per message (gridsim consume, the web app's Queues page)
# ---------------------------------------------------------------------------

def _hm(t: str | None) -> str:
    return t[11:16] if isinstance(t, str) and len(t) >= 16 else "unknown"


def _who(m: dict) -> str:
    return m["customer_id"] if m.get("customer_id") else "area"


_LINES = {
    "gridsim.outage_notice/1": lambda m: (f"{m['created_at']}  OUTAGE {m['outage_id']} ({m['status']}) -> {_who(m)}: "
                                          f"{m['customers']} customers out at {m['area']} since {_hm(m['start'])}, "
                                          f"cause {m['cause']}, ETR {_hm(m['etr'])}"),
    "gridsim.etr_update/1": lambda m: (f"{m['created_at']}  ETR {m['outage_id']} -> {_who(m)}: {_hm(m['previous_etr'])} "
                                       f"-> {_hm(m['etr'])} ({m['reason']})"),
    "gridsim.progress_update/1": lambda m: (f"{m['created_at']}  PROGRESS {m['outage_id']} -> {_who(m)}: {m['status']}"
                                            f" - {m['detail']}, ETR {_hm(m['etr'])}"),
    "gridsim.restoration/1": lambda m: (f"{m['created_at']}  RESTORED {m['outage_id']} -> {_who(m)}: power back at "
                                        f"{_hm(m['restored_at'])} after {m['duration_min']:.0f} min"),
    "gridsim.critical_alert/1": lambda m: (f"{m['created_at']}  CRITICAL {m['outage_id']}: {m['customer_class']} "
                                           f"{m['customer_id']}{' (' + m['name'] + ')' if m.get('name') else ''} out "
                                           f"since {_hm(m['start'])}, ETR {_hm(m['etr'])}"),
    "gridsim.planned_notice/1": lambda m: (f"{m['created_at']}  PLANNED {m['outage_id']} -> {_who(m)}: "
                                           f"{m['window_start'][:16]} to {m['window_end'][:16]} ({m['reason']})"),
    "gridsim.call_answer/1": lambda m: f"{m['created_at']}  ANSWER to {m['customer_id']}: {m['text']}",
    "gridsim.work_order/1": lambda m: (f"{m['created_at']}  WORK {m['work_order_id']} [{m['status']}] "
                                       f"{m['department']} / {m['owner']}, due {_hm(m['due_at'])}: {m['action']}"),
    "gridsim.escalation/1": lambda m: (f"{m['created_at']}  ESCALATION {m['work_order_id']}: {m['department']} / "
                                       f"{m['owner']} overdue by {m['overdue_min']:.0f} min (due {_hm(m['due_at'])})"),
}


def _register_renderers() -> None:
    from gridsim.queues.render import register_renderer
    for name, fn in _LINES.items():
        register_renderer(name, fn)


_register_renderers()
