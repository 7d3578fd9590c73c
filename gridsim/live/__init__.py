"""Live operation: events in, state + outage records + work orders + messages out (see docs/live.md)."""
from gridsim.live.engine import ApplyResult, EventRejected, LiveEngine, LiveError, LiveOptions, Snapshot
from gridsim.live.events import EVENT_TYPES, EventError, event_json_schema, parse_event
from gridsim.live.messages import MESSAGE_MODELS, SCHEMAS, validate_message, write_schemas
from gridsim.live.replay import read_events_file, replay, scenario_events
from gridsim.live.store import LiveStoreError

__all__ = ["LiveEngine", "LiveOptions", "ApplyResult", "Snapshot", "EventRejected", "LiveError", "LiveStoreError",
           "EVENT_TYPES", "EventError", "event_json_schema", "parse_event", "MESSAGE_MODELS", "SCHEMAS",
           "validate_message", "write_schemas", "read_events_file", "replay", "scenario_events"]
