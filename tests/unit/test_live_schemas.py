"""docs/schemas holds the current JSON Schemas, and the engine's real messages validate against them
(checked with the independent `jsonschema` validator, not with our own pydantic models)."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from gridsim.live import SCHEMAS, write_schemas

DOCS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


def test_docs_schemas_are_current(tmp_path):
    written = write_schemas(tmp_path)
    assert len(written) == len(SCHEMAS) + 1
    for p in written:
        doc = DOCS / p.name
        assert doc.exists(), f"{doc} missing: run python -c 'from gridsim.live import write_schemas; " \
                             f"write_schemas(\"docs/schemas\")'"
        assert json.loads(doc.read_text()) == json.loads(p.read_text()), f"{doc} is stale: regenerate it"


@pytest.fixture(scope="module")
def replay_messages():
    from gridsim.live import LiveEngine, replay, scenario_events
    from gridsim.scenarios import load_scenario
    sc = load_scenario(Path(__file__).resolve().parents[2] / "scenarios" / "storm_small.yaml")
    eng = LiveEngine(sc.model, db=":memory:")
    replay(eng, scenario_events(sc), speed=0)
    return eng.sent


def test_every_message_of_a_storm_replay_validates(replay_messages):
    schemas = {}
    for name in SCHEMAS:
        base, v = name.removeprefix("gridsim.").split("/")
        schemas[name] = json.loads((DOCS / f"{base}.v{v}.json").read_text())
    seen = set()
    for _, m in replay_messages:
        jsonschema.validate(m, schemas[m["schema"]])
        seen.add(m["schema"])
    # a storm with crews, calls and deadlines produces most kinds
    assert {"gridsim.outage_notice/1", "gridsim.restoration/1", "gridsim.etr_update/1", "gridsim.critical_alert/1",
            "gridsim.call_answer/1", "gridsim.work_order/1", "gridsim.escalation/1",
            "gridsim.progress_update/1"} <= seen


def test_schema_rejects_a_wrong_message():
    doc = json.loads((DOCS / "outage_notice.v1.json").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"schema": "gridsim.outage_notice/1", "id": "x"}, doc)


def test_event_schema_documents_every_type():
    from gridsim.live import EVENT_TYPES
    doc = json.loads((DOCS / "event.v1.json").read_text())
    text = json.dumps(doc)
    for t in EVENT_TYPES:
        assert f'"{t}"' in text
