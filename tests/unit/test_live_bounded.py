"""A long-running engine keeps a bounded state (issue 7, soak): closed outages beyond a retention leave
memory (their records stay in the database), event ids beyond a window are looked up in the event log,
and a what-if fork copies the state instead of replaying the whole log.

References: an engine that keeps everything (retention off) for the messages, CMI and active outages;
the database itself for the archived records; a fork built by replaying the log (the definition of the
state) for :meth:`LiveEngine.fork`.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from gridsim.live import LiveEngine, replay, scenario_events
from gridsim.live.replay import scenario_crews
from gridsim.scenarios import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCEN = ROOT / "scenarios" / "storm_small.yaml"


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(SCEN)


@pytest.fixture(scope="module")
def events(scenario):
    return scenario_events(scenario)


def _engine(scenario, db, **options):
    return LiveEngine(scenario.model, db=db, options={"crews": scenario_crews(scenario), **options})


def _comparable(snap) -> dict:
    return {"time": snap.time, "energized": snap.bus_energized.tolist(),
            "bus_outage": snap.bus_outage, "faulted": snap.faulted, "open": snap.open_devices,
            "outages": snap.outages, "work_orders": snap.work_orders, "crews": snap.crews, "kpis": snap.kpis}


def test_closed_outages_leave_memory_but_not_the_database(scenario, events, tmp_path):
    full = _engine(scenario, ":memory:", keep_closed_outages=10**9)
    replay(full, events, speed=0)
    lean = _engine(scenario, tmp_path / "lean.db", keep_closed_outages=2)
    replay(lean, events, speed=0)
    closed_full = [o for o in full.outages.values() if o.status in ("restored", "cancelled")]
    assert len(closed_full) > 2, "the storm must close more outages than the retention keeps"
    closed_lean = [o for o in lean.outages.values() if o.status in ("restored", "cancelled")]
    assert len(closed_lean) == 2
    # the same active outages, the same customer minutes (messages: the next test)
    active = lambda e: sorted(o.id for o in e.outages.values() if o.status not in ("restored", "cancelled"))
    assert active(lean) == active(full)
    assert lean.snapshot().kpis["cmi"] == pytest.approx(full.snapshot().kpis["cmi"], abs=0.2)
    assert lean.snapshot().kpis["archived_outages"] == len(closed_full) - 2
    # the archived records are in the database with their history
    con = sqlite3.connect(tmp_path / "lean.db")
    in_db = {r[0]: r[1] for r in con.execute("SELECT outage_id, status FROM live_outages")}
    hist = {r[0] for r in con.execute("SELECT DISTINCT outage_id FROM live_history")}
    con.close()
    assert set(in_db) == set(full.outages)
    assert all(in_db[o.id] == o.status for o in full.outages.values())
    assert set(full.outages) <= hist
    # work orders of archived outages left memory with them
    assert all(w.outage in lean.outages for w in lean.work_orders.values())
    lean.close()


def test_messages_do_not_depend_on_the_retention(scenario, events):
    full = _engine(scenario, ":memory:", keep_closed_outages=10**9)
    replay(full, events, speed=0)
    lean = _engine(scenario, ":memory:", keep_closed_outages=0, keep_closed_hours=0.0)
    replay(lean, events, speed=0)
    assert lean._archived > 0
    assert [(q, m) for q, m in lean.sent] == [(q, m) for q, m in full.sent]


def test_old_event_ids_are_found_in_the_log(scenario, events, tmp_path, monkeypatch):
    monkeypatch.setattr(LiveEngine, "SEEN_WINDOW", 5)
    eng = _engine(scenario, tmp_path / "w.db")
    real = [e for e in events if e["type"] != "tick"]     # a tick that changes nothing is not logged
    head = real[:20]
    st = replay(eng, head, speed=0)
    assert st.rejected == 0
    assert len(eng._seen) == 5 and eng.events_applied == 20
    # the first event left the in-memory window: still a duplicate (the log has it)
    r = eng.apply(head[0])
    assert not r.accepted and "duplicate" in r.reason
    assert eng.has_event(head[0]["id"]) and not eng.has_event("never-sent")
    # after a restart, too
    eng.close()
    eng = _engine(scenario, tmp_path / "w.db")
    assert not eng.apply(head[1]).accepted
    assert eng.events_applied == 20
    assert eng.apply(real[20]).accepted
    eng.close()


def test_fork_copies_the_state_it_would_replay(scenario, events, tmp_path):
    live = _engine(scenario, tmp_path / "f.db", keep_closed_outages=10**9)
    replay(live, events[: len(events) // 2], speed=0)
    twin, ref = live.fork(), live._fork_by_replay()
    # the log leaves out ticks that changed nothing: the replayed fork catches up with the live clock
    ref.advance(live.clock, event_id="catch-up")
    assert twin.version == live.version
    assert _comparable(twin.snapshot()) == _comparable(ref.snapshot())
    # the same what-if on both: same answer, same messages; the live engine does not move
    version = live.version
    fault = next(f"line:{int(i)}" for i in live.topo.elem_offsets[next(k for k in live.topo.elem_offsets
                                                                        if k.value == "line")][1]
                 if f"line:{int(i)}" not in live.snapshot().faulted)
    ev = {"type": "breaker_trip", "id": "whatif:1", "time": live.clock.isoformat(), "fault_element": fault}
    a, b = twin.apply(ev), ref.apply(ev)
    assert a.accepted == b.accepted and a.reason == b.reason
    assert twin.sent == ref.sent and _comparable(twin.snapshot()) == _comparable(ref.snapshot())
    assert live.version == version and not live.has_event("whatif:1")
    # the twin's arrays are its own
    assert not np.shares_memory(twin.node_out, live.node_out)
    live.close()
