"""The live engine on hand-built networks: every event type accepted and rejected, outage records,
trouble-call grouping, work orders and escalation with a controllable clock, messages.

Expected values are worked out by hand from the sketches below (customer counts, which customers
are out after each switching step, deadlines, ETRs).
"""
from __future__ import annotations

import datetime as dt
from collections import Counter

import pandas as pd
import pytest

from gridsim.live import LiveEngine, validate_message

T0 = dt.datetime(2025, 1, 6, 16, 0, 0)
STD = "NA2XS2Y 1x95 RM/25 12/20 kV"


def at(minutes: float) -> str:
    return (T0 + dt.timedelta(minutes=minutes)).isoformat()


@pytest.fixture
def ring_model(make_model):
    """Feeder with a fuse-protected lateral and a tie to a second source.

    ::

        grid A                                             grid B
          |                                                  |
         b0 --line0-- b1 --line1-- b2          b4 ----------+
         [CB sw0 at b0]  [fuse on line1 at b1]  |
                      |                         |
                      +--line2-- b3 --line3-----+
                   [LBS sw1 at b1]  [LBS sw2 at b3, normally open: the tie]

        customers: b2: R1, R2 (residential), H1 (hospital, channels ivr;sms);
                   b3: R3, R4, R5 (residential);  b4: R6 (fed from grid B)
    """
    import pandapower as pp
    net = pp.create_empty_network()
    b = [pp.create_bus(net, vn_kv=20.0, name=f"b{i}") for i in range(5)]
    pp.create_ext_grid(net, b[0])
    pp.create_ext_grid(net, b[4])
    for f, t in ((0, 1), (1, 2), (1, 3), (3, 4)):
        pp.create_line(net, b[f], b[t], length_km=1.0, std_type=STD)
    pp.create_switch(net, b[0], 0, et="l", type="CB")            # sw0
    pp.create_switch(net, b[1], 2, et="l", type="LBS")           # sw1
    pp.create_switch(net, b[3], 3, et="l", type="LBS", closed=False)  # sw2: tie
    for bus in (2, 3, 4):
        pp.create_load(net, b[bus], p_mw=0.1)
    cust = pd.DataFrame({
        "customer_id": ["R1", "R2", "H1", "R3", "R4", "R5", "R6"],
        "bus": [2, 2, 2, 3, 3, 3, 4],
        "class": ["residential", "residential", "hospital", "residential", "residential", "residential",
                  "residential"],
        "count": [1] * 7, "p_kw": [5.0] * 7, "priority": [1.0, 1.0, 1000.0, 1.0, 1.0, 1.0, 1.0],
        "channels": ["sms;web", "sms", "ivr;sms;web", "sms", "sms", "sms", "sms"],
        "name": [None, None, "St. Mary", None, None, None, None],
    })
    meta = {"devices": {"fuses": [{"line": 1, "bus": 1}], "remote_switches": [0, 1, 2]}}
    return make_model(net, meta=meta, customers=cust)


@pytest.fixture
def engine(ring_model):
    return LiveEngine(ring_model, db=":memory:", options={"crews": [{"id": "crew-1", "depot": 0}]})


def ev(etype, eid, minutes, **fields):
    return {"type": etype, "id": eid, "time": at(minutes), **fields}


def msgs(engine, schema=None, queue=None):
    return [(q, m) for q, m in engine.sent if (schema is None or m["schema"] == schema)
            and (queue is None or q == queue)]


def by_customer(engine, schema):
    """customer id -> set of message ids (dedup by id across channels)."""
    out: dict = {}
    for _, m in msgs(engine, schema):
        if m.get("customer_id") is not None:
            out.setdefault(m["customer_id"], set()).add(m["id"])
    return out


def out_customers(engine) -> set:
    snap = engine.snapshot()
    t = engine.topo
    out = set()
    for cid, node in zip(t.cust_ids, t.cust_node):
        row = t.node_bus_row[node]
        if not snap.bus_energized[row]:
            out.add(str(cid))
    return out


# ---------------------------------------------------------------------------
# a fault, its isolation, transfer and repair
# ---------------------------------------------------------------------------

def test_fault_isolation_transfer_repair(engine):
    r = engine.apply(ev("breaker_trip", "e1", 0, device="switch:0", fault_element="line:2", cause="weather"))
    assert r.accepted, r.reason
    # the CB opened: b1, b2, b3 dead -> 6 customers (R6 on grid B stays)
    assert out_customers(engine) == {"R1", "R2", "H1", "R3", "R4", "R5"}
    o = engine.outage_table().iloc[0]
    assert (o.outage_id, o.type, o.status, o.customers, o.critical) == ("O1", "fault", "confirmed", 6, 1)
    # notices wait for notify_after_s (60 s): nothing to customers yet
    assert not msgs(engine, "gridsim.outage_notice/1")
    engine.advance(at(1.5))
    notices = by_customer(engine, "gridsim.outage_notice/1")
    assert set(notices) == {"R1", "R2", "H1", "R3", "R4", "R5"}
    assert all(len(ids) == 1 for ids in notices.values())           # one notice per customer after dedup
    h1 = [q for q, m in msgs(engine, "gridsim.outage_notice/1") if m["customer_id"] == "H1"]
    assert sorted(h1) == ["cs.ivr", "cs.sms"]                       # both channels, same id
    alerts = msgs(engine, "gridsim.critical_alert/1")
    assert [(q, m["customer_id"], m["customer_class"], m["name"]) for q, m in alerts] == \
        [("cs.key_accounts", "H1", "hospital", "St. Mary")]
    area = msgs(engine, "gridsim.outage_notice/1", "cs.web") + msgs(engine, "gridsim.outage_notice/1", "cs.social")
    assert [m["customer_id"] for _, m in area] == [None, None]
    # isolate line2 (open sw1), reclose the CB: b1, b2 back; b3 still out
    assert engine.apply(ev("switch_open", "e2", 3, device="switch:1")).accepted
    assert engine.apply(ev("breaker_reclose", "e3", 4, device="switch:0")).accepted
    assert out_customers(engine) == {"R3", "R4", "R5"}
    back = by_customer(engine, "gridsim.restoration/1")
    assert set(back) == {"R1", "R2", "H1"}
    assert engine.outage_table().iloc[0].status == "isolated"
    # close the tie: b3 fed from grid B through line3 (line2 is faulted, no loop)
    assert engine.apply(ev("switch_close", "e4", 6, device="switch:2")).accepted
    assert out_customers(engine) == set()
    assert set(by_customer(engine, "gridsim.restoration/1")) == {"R1", "R2", "H1", "R3", "R4", "R5"}
    assert engine.outage_table().iloc[0].status == "isolated"      # fault still there: not restored
    assert engine.apply(ev("repair_complete", "e5", 200, element="line:2", crew_id="crew-1")).accepted
    rec = engine.outage_table().iloc[0]
    assert rec.status == "restored"
    for _, m in engine.sent:
        validate_message(m)
    # history: every change with time and actor
    hist = engine.snapshot().outages[0]["history"]
    assert [h["status"] for h in hist][0] == "confirmed"
    assert "restored" in [h["status"] for h in hist]


def test_momentary_interruption_sends_nothing(engine):
    assert engine.apply(ev("breaker_trip", "t1", 0, device="switch:0")).accepted
    assert engine.apply(ev("breaker_reclose", "t2", 2 / 60, device="switch:0")).accepted
    engine.advance(at(5))
    o = engine.snapshot().outages[0]
    assert o["status"] == "restored" and o["momentary"]
    assert not msgs(engine, "gridsim.outage_notice/1") and not msgs(engine, "gridsim.restoration/1")


# ---------------------------------------------------------------------------
# rejected events leave the state untouched
# ---------------------------------------------------------------------------

BAD = [
    ("not json", "{nope"),
    ("unknown type", {"type": "explode", "id": "x1", "time": at(0)}),
    ("missing type", {"id": "x1", "time": at(0)}),
    ("extra field", {"type": "switch_open", "id": "x1", "time": at(0), "device": "switch:1", "colour": "red"}),
    ("bad time", {"type": "switch_open", "id": "x1", "time": "yesterday", "device": "switch:1"}),
    ("unknown element", {"type": "breaker_trip", "id": "x1", "time": at(0), "fault_element": "line:99"}),
    ("unknown device", {"type": "switch_open", "id": "x1", "time": at(0), "device": "switch:77"}),
    ("unknown customer", {"type": "customer_call", "id": "x1", "time": at(0), "customer_id": "NOPE"}),
    ("already closed", {"type": "switch_close", "id": "x1", "time": at(0), "device": "switch:1"}),
    ("already open", {"type": "switch_open", "id": "x1", "time": at(0), "device": "switch:2"}),
    ("trip without target", {"type": "breaker_trip", "id": "x1", "time": at(0)}),
    ("repair of nothing", {"type": "repair_complete", "id": "x1", "time": at(0), "element": "line:1"}),
    ("unknown planned", {"type": "planned_outage_started", "id": "x1", "time": at(0), "planned_id": "nope"}),
    ("unknown work order", {"type": "work_order_update", "id": "x1", "time": at(0), "work_order_id": "W9",
                            "status": "done"}),
    ("nan measurement", {"type": "measurement", "id": "x1", "time": at(0), "element": "line:1",
                         "quantity": "i_ka", "value": float("nan")}),
    ("window backwards", {"type": "planned_outage_scheduled", "id": "x1", "time": at(0), "planned_id": "p",
                          "elements": ["line:1"], "start": at(100), "end": at(50)}),
    ("huge", {"type": "customer_call", "id": "x1", "time": at(0), "customer_id": "R1", "text": "x" * 20000}),
    ("list", [1, 2, 3]),
]


@pytest.mark.parametrize("name,raw", BAD, ids=[b[0] for b in BAD])
def test_bad_events_rejected_state_untouched(engine, name, raw):
    assert engine.apply(ev("breaker_trip", "ok1", 0, device="switch:0", fault_element="line:2")).accepted
    before = engine.snapshot()
    sent = len(engine.sent)
    r = engine.apply(raw)
    assert not r.accepted and r.reason and "\n" not in r.reason
    after = engine.snapshot()
    assert after.version == before.version
    assert (after.bus_energized == before.bus_energized).all()
    assert after.outages == before.outages and after.work_orders == before.work_orders
    assert len(engine.sent) == sent
    assert engine.rejected()[-1]["reason"] == r.reason


def test_duplicate_and_out_of_order_rejected(engine):
    assert engine.apply(ev("switch_open", "d1", 10, device="switch:1")).accepted
    r = engine.apply(ev("switch_close", "d1", 11, device="switch:1"))
    assert not r.accepted and "duplicate" in r.reason
    r = engine.apply(ev("switch_close", "d2", 10 - 61, device="switch:1"))   # 61 min before the clock
    assert not r.accepted and "out of order" in r.reason
    assert engine.apply(ev("switch_close", "d3", 10 - 5, device="switch:1")).accepted  # small lag is fine


# ---------------------------------------------------------------------------
# calls, last gasps, grouping
# ---------------------------------------------------------------------------

def test_call_inside_outage_gets_answer_with_etr(engine):
    engine.apply(ev("breaker_trip", "c1", 0, device="switch:0", fault_element="line:2"))
    r = engine.apply(ev("customer_call", "c2", 5, customer_id="R4", text="no power"))
    assert r.accepted
    (q, m), = msgs(engine, "gridsim.call_answer/1")
    assert q == "cs.ivr" and m["outage_id"] == "O1" and m["customer_id"] == "R4"
    assert m["etr"] == engine.snapshot().outages[0]["etr"] and m["etr"] is not None
    assert engine.snapshot().outages[0]["calls"] == 1


@pytest.fixture
def fused_model(make_model):
    """Three fused laterals under one breaker.

    ::

        grid -- b0 --line0-- b1 --line1-- b2   (C2a, C2b)     fuse on line1 at b1
               [CB sw0]       +--line2-- b3   (C3a)           fuse on line2 at b1
                              +--line3-- b4   (C4a, C4b)      fuse on line3 at b1
    """
    import pandapower as pp
    net = pp.create_empty_network()
    b = [pp.create_bus(net, vn_kv=20.0) for _ in range(5)]
    pp.create_ext_grid(net, b[0])
    for f, t in ((0, 1), (1, 2), (1, 3), (1, 4)):
        pp.create_line(net, b[f], b[t], length_km=1.0, std_type=STD)
    pp.create_switch(net, b[0], 0, et="l", type="CB")
    for bus in (2, 3, 4):
        pp.create_load(net, b[bus], p_mw=0.1)
    cust = pd.DataFrame({"customer_id": ["C2a", "C2b", "C3a", "C4a", "C4b"], "bus": [2, 2, 3, 4, 4],
                         "class": ["residential"] * 5, "count": [1] * 5, "p_kw": [1.0] * 5,
                         "priority": [1.0] * 5, "channels": ["sms"] * 5})
    meta = {"devices": {"fuses": [{"line": 1, "bus": 1}, {"line": 2, "bus": 1}, {"line": 3, "bus": 1}]}}
    return make_model(net, meta=meta, customers=cust)


def test_reports_under_one_fuse_predict_that_fuse(fused_model):
    eng = LiveEngine(fused_model, db=":memory:")
    eng.apply(ev("customer_call", "g1", 0, customer_id="C2a"))
    assert eng.outage_table().empty                         # one report: below min_reports (2)
    eng.apply(ev("meter_last_gasp", "g2", 1, customer_id="C2b"))
    (o,) = eng.snapshot().outages
    assert (o["type"], o["status"], o["device"], o["customers"]) == ("predicted", "predicted", "fuse:line:1", 2)
    # a call from inside the predicted outage is answered with it
    eng.apply(ev("customer_call", "g3", 2, customer_id="C2b"))
    assert msgs(eng, "gridsim.call_answer/1")[-1][1]["outage_id"] == o["outage_id"]
    # a meter reporting power cancels the prediction
    eng.apply(ev("meter_restored", "g4", 3, customer_id="C2a"))
    assert eng.snapshot().outages[0]["status"] == "cancelled"


def test_reports_under_two_fuses_roll_up_to_the_breaker(fused_model):
    eng = LiveEngine(fused_model, db=":memory:")
    eng.apply(ev("customer_call", "h1", 0, customer_id="C2a"))
    eng.apply(ev("customer_call", "h2", 1, customer_id="C4b"))
    (o,) = eng.snapshot().outages
    assert (o["device"], o["customers"]) == ("switch:0", 5)   # all five below the CB
    # the breaker's trip confirms it (same record, now a confirmed fault outage)
    eng.apply(ev("breaker_trip", "h3", 2, device="switch:0"))
    outs = eng.snapshot().outages
    assert [x["status"] for x in outs] == ["cancelled", "confirmed"]
    assert outs[1]["customers"] == 5


def test_reports_outside_window_are_forgotten(fused_model):
    eng = LiveEngine(fused_model, db=":memory:", options={"report_window_min": 10})
    eng.apply(ev("customer_call", "w1", 0, customer_id="C2a"))
    eng.apply(ev("customer_call", "w2", 11, customer_id="C2b"))
    assert eng.outage_table().empty


# ---------------------------------------------------------------------------
# crews, ETR, work orders, escalation
# ---------------------------------------------------------------------------

def test_crew_events_drive_status_and_etr(engine):
    engine.apply(ev("breaker_trip", "k1", 0, device="switch:0", fault_element="line:2"))
    engine.advance(at(1.5))
    assert engine.apply(ev("crew_status", "k2", 5, crew_id="crew-1", status="dispatched", element="line:2")).accepted
    o = engine.snapshot().outages[0]
    assert o["status"] == "dispatched" and o["crew"] == "crew-1"
    # no coordinates in this net: travel counts 30 min; a line repair 240 min -> 5 + 30 + 240
    assert o["etr"] == at(275)[:19]
    wo = {w["work_order_id"]: w for w in engine.snapshot().work_orders}
    assert wo["O1-repair"]["status"] == "acknowledged"
    assert engine.apply(ev("crew_status", "k3", 50, crew_id="crew-1", status="on_site", element="line:2")).accepted
    o = engine.snapshot().outages[0]
    assert o["status"] == "on_site" and o["etr"] == at(290)[:19]        # 50 + 240
    upd = [m for _, m in msgs(engine, "gridsim.etr_update/1") if m["customer_id"] == "R3"]
    assert upd[-1]["etr"] == at(290)[:19] and upd[-1]["previous_etr"] == at(275)[:19]
    prog = [m["status"] for _, m in msgs(engine, "gridsim.progress_update/1", "cs.web")]
    assert prog == ["dispatched", "on_site"]


def test_escalation_fires_once_when_deadline_passes(engine):
    engine.apply(ev("breaker_trip", "s1", 0, device="switch:0", fault_element="line:2"))
    wo = {w["work_order_id"]: w for w in engine.snapshot().work_orders}
    # a hospital is out: class "critical" -> repair due in 15 min, key accounts in 10 min
    assert wo["O1-repair"]["due_at"] == at(15)[:19] and wo["O1-key_accounts"]["due_at"] == at(10)[:19]
    assert wo["O1-repair"]["owner"] == "repair-desk"
    engine.advance(at(9))
    assert not msgs(engine, "gridsim.escalation/1")
    engine.advance(at(11))
    esc = msgs(engine, "gridsim.escalation/1")
    assert [(q, m["work_order_id"]) for q, m in esc] == [("ops.supervisor", "O1-key_accounts")]
    engine.apply(ev("work_order_update", "s2", 12, work_order_id="O1-repair", status="acknowledged",
                    actor="alice"))
    engine.advance(at(20))
    engine.advance(at(30))
    assert [m["work_order_id"] for _, m in msgs(engine, "gridsim.escalation/1")] == ["O1-key_accounts"]
    assert engine.work_order_table().set_index("work_order_id").loc["O1-repair", "status"] == "acknowledged"


# ---------------------------------------------------------------------------
# planned outage
# ---------------------------------------------------------------------------

def test_planned_outage_notices_window_and_restoration(engine):
    r = engine.apply(ev("planned_outage_scheduled", "p1", 0, planned_id="M1", elements=["line:1"],
                        start=at(60 * 24 * 3), end=at(60 * 24 * 3 + 480), reason="cable joint"))
    assert r.accepted, r.reason
    pn = by_customer(engine, "gridsim.planned_notice/1")
    assert set(pn) == {"R1", "R2", "H1"}                  # b2 behind line1
    m = [m for _, m in msgs(engine, "gridsim.planned_notice/1") if m["customer_id"] == "H1"][0]
    assert (m["window_start"], m["window_end"]) == (at(4320)[:19], at(4800)[:19])
    assert "P-M1-key_accounts" in {w["work_order_id"] for w in engine.snapshot().work_orders}
    assert out_customers(engine) == set()
    engine.apply(ev("planned_outage_started", "p2", 4320, planned_id="M1"))
    assert out_customers(engine) == {"R1", "R2", "H1"}
    engine.apply(ev("planned_outage_ended", "p3", 4790, planned_id="M1"))
    assert out_customers(engine) == set()
    assert set(by_customer(engine, "gridsim.restoration/1")) == {"R1", "R2", "H1"}
    assert engine.snapshot().outages[0]["status"] == "restored"


def test_measurement_and_snapshot_versions(engine):
    v0 = engine.snapshot().version
    engine.apply(ev("measurement", "m1", 0, element="line:0", quantity="i_ka", value=0.12))
    s = engine.snapshot()
    assert s.version == v0 + 1 and s.measurements["line:0/i_ka"][1] == 0.12
    assert engine.snapshot() is s                        # cached per version
    with pytest.raises(ValueError):
        s.bus_energized[0] = False                       # read-only


def test_message_counts_of_a_whole_sequence(engine):
    """Every message validates against its schema and ids are unique per queue."""
    for e in [ev("breaker_trip", "a1", 0, device="switch:0", fault_element="line:2"),
              ev("crew_status", "a2", 3, crew_id="crew-1", status="dispatched", element="line:2"),
              ev("switch_open", "a3", 4, device="switch:1"), ev("breaker_reclose", "a4", 5, device="switch:0"),
              ev("customer_call", "a5", 7, customer_id="R3"),
              ev("switch_close", "a6", 8, device="switch:2"),
              ev("crew_status", "a7", 40, crew_id="crew-1", status="on_site", element="line:2"),
              ev("repair_complete", "a8", 200, element="line:2", crew_id="crew-1")]:
        assert engine.apply(e).accepted, e
    for q, m in engine.sent:
        validate_message(m)
    c = Counter((q, m["id"]) for q, m in engine.sent)
    assert max(c.values()) == 1


def test_a_handler_failing_half_way_leaves_the_state_as_the_log_says(engine, monkeypatch):
    """A bug in a handler (it changed the state, then raised) must not leave a half-applied event:
    the engine rebuilds its state from the accepted-event log."""
    assert engine.apply(ev("breaker_trip", "f1", 0, device="switch:0", fault_element="line:2")).accepted
    before = engine.snapshot()
    original = engine._on_switch_open

    def broken(e, ch):
        original(e, ch)                # opens sw1 (and records it) ...
        raise RuntimeError("boom")     # ... then fails
    monkeypatch.setattr(engine, "_on_switch_open", broken)
    r = engine.apply(ev("switch_open", "f2", 1, device="switch:1"))
    assert not r.accepted and "internal error RuntimeError: boom" in r.reason
    after = engine.snapshot()
    assert (after.bus_energized == before.bus_energized).all()
    assert after.open_devices == before.open_devices and after.outages == before.outages
    monkeypatch.undo()
    assert engine.apply(ev("switch_open", "f3", 2, device="switch:1")).accepted   # the engine goes on


def test_fork_is_a_private_copy(engine):
    engine.apply(ev("breaker_trip", "w1", 0, device="switch:0", fault_element="line:2"))
    twin = engine.fork()
    assert (twin.snapshot().bus_energized == engine.snapshot().bus_energized).all()
    assert twin.apply(ev("switch_open", "w2", 1, device="switch:1")).accepted
    assert twin.apply(ev("breaker_reclose", "w3", 2, device="switch:0")).accepted
    assert out_customers(twin) == {"R3", "R4", "R5"}
    assert out_customers(engine) == {"R1", "R2", "H1", "R3", "R4", "R5"}      # live state untouched
    assert not engine.has_event("w2")


def test_apply_batch_equals_one_by_one(ring_model, tmp_path):
    """Group commit gives the same records and messages as one transaction per event; an event rejected
    in the middle of a batch does not take the others with it."""
    from gridsim.queues import open_queue
    evs = [ev("breaker_trip", "b1", 0, device="switch:0", fault_element="line:2"),
           ev("switch_open", "b2", 2, device="switch:1"),
           ev("switch_open", "b3", 2.5, device="switch:1"),          # rejected: already open
           ev("breaker_reclose", "b4", 3, device="switch:0"),
           ev("customer_call", "b5", 4, customer_id="R4"),
           ev("switch_close", "b6", 5, device="switch:2")]
    one = LiveEngine(ring_model, queue=open_queue(f"sqlite:///{tmp_path}/one.db"))
    r1 = [one.apply(e) for e in evs]
    many = LiveEngine(ring_model, queue=open_queue(f"sqlite:///{tmp_path}/many.db"))
    r2 = many.apply_batch(evs)
    assert [r.accepted for r in r1] == [r.accepted for r in r2] == [True, True, False, True, True, True]
    assert one.snapshot().outages == many.snapshot().outages
    ids1 = sorted((s.queue, s.depth) for s in one.queue.stats())
    ids2 = sorted((s.queue, s.depth) for s in many.queue.stats())
    assert ids1 == ids2 and sum(d for _, d in ids1) > 0
    one.close()
    many.close()
    # the batch was committed: a restart sees every accepted event
    again = LiveEngine(ring_model, queue=open_queue(f"sqlite:///{tmp_path}/many.db"))
    assert again.snapshot().outages == many.snapshot().outages
    assert all(again.has_event(e["id"]) for e in evs if e["id"] != "b3")


def test_engine_energization_equals_the_core_traversal(bundled_model):
    """The engine's one-BFS energization agrees with Topology.analysis (itself checked against
    pandapower's unsupplied_buses in test_core_reference) on random switch states and faults."""
    import numpy as np
    from gridsim.core.topology import State
    eng = LiveEngine(bundled_model("mv_oberrhein"), db=":memory:")
    t = eng.topo
    rng = np.random.default_rng(7)
    for _ in range(40):
        sc = t.switch_closed.copy()
        flip = rng.choice(len(sc), size=15, replace=False)
        sc[flip] = ~sc[flip]
        st = State(sc, tuple(sorted(set(rng.choice(t.n_elements, size=3, replace=False).tolist()))))
        assert (eng._energized(st) == t.analysis(st).supplied).all()


def test_fault_indicator_is_noted_on_the_outage_around_it(engine):
    engine.apply(ev("breaker_trip", "i1", 0, device="switch:0", fault_element="line:2"))
    assert engine.apply(ev("fault_indicator", "i2", 1, device="switch:1")).accepted
    o = engine.snapshot().outages[0]
    assert o["indicators"] == ["switch:1"]
    assert any("fault indicator at switch:1" in h["detail"] for h in o["history"])
    r = engine.apply(ev("fault_indicator", "i3", 2, device="fuse:line:9"))
    assert not r.accepted and "fuse:line:9" in r.reason and "does not exist" in r.reason
