"""gridsim events push / live --drain / outages / workorders: the documented session, and user mistakes
(one line, exit code 2, nothing written)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from gridsim.cli import main

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "examples" / "events.jsonl"


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GRIDSIM_QUEUE", raising=False)
    return tmp_path


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(list(args))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_push_drain_records(here, capsys):
    code, out, _ = run(capsys, "events", "push", str(EVENTS))
    assert code == 0 and "8 events checked, 8 published to grid.events" in out
    code, out, _ = run(capsys, "live", "mv_oberrhein", "--drain")
    assert code == 0 and "grid.events: 8 events applied" in out
    code, out, _ = run(capsys, "outages", "--all", "--json")
    rec = json.loads(out)["outages"]
    assert [(o["outage_id"], o["status"], o["device"], o["fault_element"]) for o in rec] == \
        [("O1", "restored", "fuse:line:40", "line:40")]
    code, out, _ = run(capsys, "workorders", "--all", "--json")
    wo = {w["work_order_id"]: w for w in json.loads(out)["work_orders"]}
    assert set(wo) == {"O1-repair", "O1-switching", "O1-key_accounts"}
    assert all(w["status"] == "done" for w in wo.values())
    assert wo["O1-switching"]["escalated"] and not wo["O1-repair"]["escalated"]   # the crew acknowledged
    code, out, _ = run(capsys, "consume", "cs.ivr", "--json")
    msgs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    answer = [m for m in msgs if m["schema"] == "gridsim.call_answer/1"]
    assert [(m["customer_id"], m["outage_id"]) for m in answer] == [("L72", "O1")]
    # restart: the same database resumes, nothing applied twice
    code, out, _ = run(capsys, "events", "push", str(EVENTS))
    code, out, _ = run(capsys, "live", "mv_oberrhein", "--drain")
    assert code == 0 and "resuming after 8 events" in out and "grid.events: 0 events applied" in out


def test_bad_event_file_pushes_nothing(here, capsys):
    bad = here / "bad.jsonl"
    lines = EVENTS.read_text().splitlines()
    lines.insert(3, '{"type": "switch_open", "id": "x", "time": "2025-01-06T16:00:00", "device": "switch:62", '
                    '"colour": "red"}')
    bad.write_text("\n".join(lines) + "\n")
    code, out, err = run(capsys, "events", "push", str(bad))
    assert code == 2 and err.strip() == f"error: {bad}:4: event 'x': colour: unknown field"
    code, out, _ = run(capsys, "queues", "--json")
    depth = {q["queue"]: q["depth"] for q in json.loads(out)}
    assert depth["grid.events"] == 0


@pytest.mark.parametrize("args,needle", [
    (["live", "cigre_mv", "--replay", str(ROOT / "scenarios" / "storm_small.yaml")], "not 'cigre_mv'"),
    (["live", "mv_oberrhein", "--speed", "-1", "--drain"], "--speed must be >= 0"),
    (["outages"], "no live database here"),
    (["workorders", "--db", "nowhere.db"], "no live database here"),
    (["events", "push", "missing.jsonl"], "missing.jsonl: cannot read"),
    (["live", "mv_oberrhein", "--drain", "--queue", "amqp://x"], "unsupported queue URL"),
])
def test_user_mistakes_one_line_exit_2(here, capsys, args, needle):
    code, out, err = run(capsys, *args)
    assert code == 2, out + err
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
