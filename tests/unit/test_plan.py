"""Restoration planning (gridsim.restore.plan): precedence, customers per job, ETRs, replan, CLI.

The references are independent of gridsim's topology code: networkx graphs
built from the pandapower tables (tests/naive.py) answer "which buses are
lost", "which faults lie on a bus's path to the source" and "from which
minute is a bus reachable again when the repairs end at these times".
"""
from __future__ import annotations

import json
import math
import warnings

import networkx as nx
import numpy as np
import pandapower as pp
import pandas as pd
import pytest

import naive
from gridsim.cli import main
from gridsim.core import compile_topology
from gridsim.errors import GridsimError, UnknownElementError
from gridsim.restore.plan import (
    DEFAULT_REPAIR_MIN, PlanInputError, PlanWarning, etr_for, plan_restoration, replan,
)
from gridsim.restore.schedule import UnknownStrategyError
from gridsim.types import DEFAULT_PRIORITY, ElementType

MV = "NA2XS2Y 1x95 RM/25 12/20 kV"


# --------------------------------------------------------------------------- networks

def radial_net():
    """A transformer, a trunk and two levels of laterals (x, y in km beside each bus).

    ::

        ext_grid
           |
          b0 (0,0) 110 kV
           |  trafo 0
          b1 (0,0) --L0-- b2 (2,0) --L1-- b3 (4,0) --L2-- b4 (6,0)
                           |
                           L3
                           |
                          b5 (2,-2) --L4-- b6 (4,-2)
                           |
                           L5
                           |
                          b7 (2,-4)
    """
    net = pp.create_empty_network()
    xy = [(0, 0), (0, 0), (2, 0), (4, 0), (6, 0), (2, -2), (4, -2), (2, -4)]
    for i in range(8):
        pp.create_bus(net, vn_kv=110.0 if i == 0 else 20.0, name=f"b{i}")
    net.bus["x"] = [p[0] for p in xy]
    net.bus["y"] = [p[1] for p in xy]
    pp.create_ext_grid(net, 0)
    pp.create_transformer(net, 0, 1, std_type="25 MVA 110/20 kV")
    for f, t in [(1, 2), (2, 3), (3, 4), (2, 5), (5, 6), (5, 7)]:
        pp.create_line(net, f, t, length_km=2.0, std_type=MV)
    return net


RADIAL_CUSTOMERS = [  # (customer_id, bus, class, count)
    ("R2", 2, "residential", 10), ("R3", 3, "residential", 20), ("H4", 4, "hospital", 1),
    ("R4", 4, "residential", 5), ("R5", 5, "residential", 7), ("W6", 6, "water", 1),
    ("C6", 6, "commercial", 3), ("R7", 7, "residential", 4),
]


def customers_frame(rows):
    return pd.DataFrame({
        "customer_id": [r[0] for r in rows], "bus": [r[1] for r in rows], "class": [r[2] for r in rows],
        "count": np.asarray([r[3] for r in rows], np.int64), "p_kw": np.ones(len(rows)),
        "priority": [DEFAULT_PRIORITY[r[2]] for r in rows],
    })


def meshed_net():
    """A closed ring (meshed operation) with a spur.

    ::

        ext_grid
           |
          b0 --L0-- b1 --L1-- b2
           |                   |
           L3                  L2
           |                   |
          b4 -------L4------- b3 --L5-- b5
    """
    net = pp.create_empty_network()
    for i in range(6):
        pp.create_bus(net, vn_kv=20.0, name=f"b{i}")
    net.bus["x"] = [0.0, 2.0, 4.0, 4.0, 0.0, 6.0]
    net.bus["y"] = [0.0, 0.0, 0.0, -2.0, -2.0, -2.0]
    pp.create_ext_grid(net, 0)
    for f, t in [(0, 1), (1, 2), (2, 3), (0, 4), (4, 3), (3, 5)]:
        pp.create_line(net, f, t, length_km=2.0, std_type=MV)
    return net


MESHED_CUSTOMERS = [("M1", 1, "residential", 3), ("M2", 2, "hospital", 1), ("M3", 3, "residential", 6),
                    ("M4", 4, "residential", 2), ("M5", 5, "residential", 9)]


def compiled(net, rows=None, *, seed=0):
    model = naive.model_from_net(net, customers_frame(rows) if rows else None, seed=seed)
    return model, compile_topology(model)


@pytest.fixture(scope="module")
def radial():
    """(net, model, topo) of :func:`radial_net` with RADIAL_CUSTOMERS, compiled once (read-only)."""
    net = radial_net()
    return (net, *compiled(net, RADIAL_CUSTOMERS))


def random_tree_net(rng, n_bus, *, extra_lines=0):
    """A random tree of lines rooted at bus 0 (+ ``extra_lines`` closing loops), random x / y."""
    net = pp.create_empty_network()
    for i in range(n_bus):
        pp.create_bus(net, vn_kv=20.0)
    net.bus["x"] = rng.uniform(0, 10, n_bus)
    net.bus["y"] = rng.uniform(0, 10, n_bus)
    pp.create_ext_grid(net, 0)
    for i in range(1, n_bus):
        pp.create_line(net, int(rng.integers(0, i)), i, length_km=1.0, std_type=MV)
    for _ in range(extra_lines):
        a, b = rng.choice(n_bus, 2, replace=False)
        pp.create_line(net, int(a), int(b), length_km=1.0, std_type=MV)
    return net


# --------------------------------------------------------------------------- references

def ref_key(label):
    t, i = label.split(":")
    return t, int(i)


def lost_alone(g, label):
    return naive.lost_buses(g, [ref_key(label)])


def ref_owner(g, labels):
    """Radial: per lost bus, the nearest fault on its path (smallest lost set; a bus before its line)."""
    lost = naive.lost_buses(g, [ref_key(f) for f in labels])
    alone = {f: lost_alone(g, f) for f in labels}
    owner = {}
    for b in lost:
        on_path = [f for f in labels if b in alone[f]]
        owner[b] = min(on_path, key=lambda f: (len(alone[f]), 0 if f.startswith("bus:") else 1))
    return owner


def ref_parent(g, labels):
    """Radial: the nearest fault upstream of each fault (-> label or None)."""
    alone = {f: lost_alone(g, f) for f in labels}
    out = {}
    for f in labels:
        cands = []
        if alone[f]:
            for h in labels:
                if h == f or not alone[f] <= alone[h]:
                    continue
                if alone[h] == alone[f] and not (f.startswith("bus:") and not h.startswith("bus:")):
                    continue          # equal sets: only a branch is upstream of the bus it feeds
                cands.append(h)
        out[f] = min(cands, key=lambda h: (len(alone[h]), 0 if h.startswith("bus:") else 1)) if cands else None
    return out


def replay_etr(g, labels, finish):
    """Per lost bus, the first repair end from which it is reachable again (networkx replay)."""
    keys = [ref_key(f) for f in labels]
    lost = naive.lost_buses(g, keys)
    out = {}
    for t in sorted(set(finish)):
        sup = naive.supplied_buses(g, [k for k, c in zip(keys, finish) if c > t])
        for b in lost:
            if b in sup and b not in out:
                out[b] = t
    return out


def path_etr(g, labels, finish, bus):
    """Radial: the last repair end among the faults on the bus's path to the source."""
    fin = dict(zip(labels, finish))
    path = nx.shortest_path(g, naive.SUPER, bus)
    on = [f"bus:{b}" for b in path if isinstance(b, int) and f"bus:{b}" in fin]
    for a, b in zip(path, path[1:]):
        for key in g[a][b]:
            if f"{key[0]}:{key[1]}" in fin:
                on.append(f"{key[0]}:{key[1]}")
    return max(fin[f] for f in on)


def plan_bus_etr(plan, topo):
    rows = topo.node_bus_row[plan.nodes]
    ok = rows >= 0
    return {int(b): float(t) for b, t in zip(topo.bus_ids[rows[ok]], plan.node_etr_min[ok])}


def plan_bus_owner(plan, topo):
    rows = topo.node_bus_row[plan.nodes]
    ok = (rows >= 0) & (plan.node_job >= 0)
    return {int(b): plan.faults[j] for b, j in zip(topo.bus_ids[rows[ok]], plan.node_job[ok])}


# --------------------------------------------------------------------------- precedence and customers

def test_precedence_and_owners_on_the_sketch(radial):
    net, model, topo = radial
    faults = ["line:0", "line:3", "line:4", "bus:5", "line:2"]
    plan = plan_restoration(topo, faults, 2)
    parent = {f: (None if p < 0 else plan.faults[p]) for f, p in zip(plan.faults, plan.parent)}
    # read off the sketch: L3 hangs below L0, bus 5 below L3, L4 below bus 5, L2 below L0 (L1 is healthy)
    assert parent == {"line:0": None, "line:3": "line:0", "bus:5": "line:3", "line:4": "bus:5",
                      "line:2": "line:0"}
    owner = plan_bus_owner(plan, topo)
    assert owner == {2: "line:0", 3: "line:0", 4: "line:2", 5: "bus:5", 7: "bus:5", 6: "line:4"}
    cust = dict(zip(plan.faults, plan.customers))
    assert cust == {"line:0": 30, "line:3": 0, "bus:5": 11, "line:4": 4, "line:2": 6}
    crit = dict(zip(plan.faults, plan.critical))
    assert crit == {"line:0": 0, "line:3": 0, "bus:5": 0, "line:4": 1, "line:2": 1}
    g = naive.grid_graph(net)
    assert parent == ref_parent(g, faults)


@pytest.mark.parametrize("seed", range(12))
def test_customers_per_job_and_etr_vs_networkx_radial(seed):
    rng = np.random.default_rng(seed)
    net = random_tree_net(rng, int(rng.integers(8, 16)))
    model, topo = compiled(net, seed=seed)
    n_f = int(rng.integers(1, 6))
    lines = [f"line:{i}" for i in rng.choice(len(net.line), n_f, replace=False)]
    buses = [f"bus:{i}" for i in rng.choice(np.arange(1, len(net.bus)), int(rng.integers(0, 2)), replace=False)]
    faults = lines + buses
    plan = plan_restoration(topo, faults, int(rng.integers(1, 4)), strategy="wspt")
    assert plan.radial
    g = naive.grid_graph(net)
    # who is lost, and which fault each lost bus waits for
    owner = ref_owner(g, faults)
    assert plan_bus_owner(plan, topo) == owner
    cust = model.customers.groupby("bus")["count"].sum()
    for j, f in enumerate(plan.faults):
        expected = sum(int(cust.get(b, 0)) for b, o in owner.items() if o == f)
        assert plan.customers[j] == expected, f
    parent = {f: (None if p < 0 else plan.faults[p]) for f, p in zip(plan.faults, plan.parent)}
    assert parent == ref_parent(g, faults)
    # ETR per bus: the deepest unrepaired fault on its path, and a networkx replay of the repairs
    got = plan_bus_etr(plan, topo)
    replay = replay_etr(g, list(plan.faults), list(plan.finish_min))
    assert got.keys() == replay.keys()
    for b, t in replay.items():
        assert got[b] == pytest.approx(t)
        assert got[b] == pytest.approx(path_etr(g, list(plan.faults), list(plan.finish_min), b))
    # per customer through the public accessor
    for r in model.customers.itertuples():
        e = etr_for(plan, r.customer_id)
        if r.bus in replay:
            assert e == pytest.approx(replay[r.bus])
        else:
            assert e is None


@pytest.mark.parametrize("seed", range(8))
def test_lost_buses_and_etr_vs_networkx_meshed(seed):
    rng = np.random.default_rng(100 + seed)
    net = random_tree_net(rng, int(rng.integers(8, 14)), extra_lines=2)
    model, topo = compiled(net, seed=seed)
    faults = [f"line:{i}" for i in rng.choice(len(net.line), int(rng.integers(2, 6)), replace=False)]
    if rng.random() < 0.5:
        faults.append(f"bus:{int(rng.integers(1, len(net.bus)))}")
    plan = plan_restoration(topo, faults, 2, strategy="fifo")
    g = naive.grid_graph(net)
    assert not naive.is_radial(g) and not plan.radial
    replay = replay_etr(g, list(plan.faults), list(plan.finish_min))
    got = plan_bus_etr(plan, topo)
    assert got.keys() == replay.keys()
    for b, t in replay.items():
        assert got[b] == pytest.approx(t), b
    # every lost bus waits for a fault whose repair is needed on some path: its own ETR is not earlier
    for b, f in plan_bus_owner(plan, topo).items():
        j = plan.faults.index(f)
        assert plan.etr_min[j] >= got[b] - 1e-9


def test_meshed_ring_sketch():
    net = meshed_net()
    model, topo = compiled(net, MESHED_CUSTOMERS)
    # L0 and L4 cut b1, b2, b3 off (b4 stays fed by L3); either repair brings them back; b5 also needs L5
    plan = plan_restoration(topo, [{"element": "line:0", "repair_min": 100},
                                   {"element": "line:4", "repair_min": 300},
                                   {"element": "line:5", "repair_min": 50}],
                            [{"depot": 0, "id": "a"}, {"depot": 0, "id": "b"}, {"depot": 5, "id": "c"}],
                            strategy="exact")
    assert not plan.radial
    fin = dict(zip(plan.faults, plan.finish_min))
    etr = plan_bus_etr(plan, topo)
    assert set(etr) == {1, 2, 3, 5}
    first = min(fin["line:0"], fin["line:4"])
    for b in (1, 2, 3):
        assert etr[b] == pytest.approx(first)
    assert etr[5] == pytest.approx(max(first, fin["line:5"]))
    assert plan.etr_for("M4") is None
    assert plan.etr_for("M2") == pytest.approx(first)


# --------------------------------------------------------------------------- times, coordinates, objective

def test_travel_repair_defaults_and_objective(radial):
    net, model, topo = radial
    plan = plan_restoration(topo, ["line:3", "trafo:0"], 1, strategy="fifo", model=model)
    rep = dict(zip(plan.faults, plan.repair_min))
    assert rep == {"line:3": DEFAULT_REPAIR_MIN[ElementType.LINE], "trafo:0": DEFAULT_REPAIR_MIN[ElementType.TRAFO]}
    # one crew at the source bus b0 (0, 0), 40 km/h, road factor 1.3; fifo with upstream first: trafo, then L3
    assert plan.crew_depot == ("bus:0",)
    assert [plan.faults[j] for j in plan.routes[0]] == ["trafo:0", "line:3"]
    t, l3 = plan.faults.index("trafo:0"), plan.faults.index("line:3")
    assert plan.travel_min[t] == pytest.approx(0.0)
    assert plan.travel_min[l3] == pytest.approx(math.hypot(2.0, -1.0) * 1.3 * 60 / 40)
    assert plan.finish_min[t] == pytest.approx(480.0)
    assert plan.finish_min[l3] == pytest.approx(480.0 + plan.travel_min[l3] + 240.0)
    # objective from the customers table: every customer is out from 0 until its ETR
    cust = customers_frame(RADIAL_CUSTOMERS)
    etr = np.array([plan.etr_for(c) for c in cust.customer_id])
    assert np.all(etr > 0)                   # the trafo cuts everybody off
    assert plan.cmi == pytest.approx(float((cust["count"] * etr).sum()))
    assert plan.weighted_cmi == pytest.approx(float((cust["count"] * cust["priority"] * etr).sum()))
    assert plan.critical_h_by_class == pytest.approx({"hospital": etr[2] / 60, "water": etr[5] / 60})
    assert plan.makespan_min == pytest.approx(plan.finish_min[l3])


def test_better_strategies_are_not_worse(radial):
    net, model, topo = radial
    faults = ["line:0", "line:2", "line:4", "line:5", "line:1"]
    val = {s: plan_restoration(topo, faults, 2, strategy=s).weighted_cmi
           for s in ("fifo", "most_customers", "critical_first", "wspt", "local_search", "exact")}
    assert val["exact"] <= min(val.values()) + 1e-6
    assert val["local_search"] <= val["wspt"] + 1e-6


def test_start_min_counts_minutes_before_the_plan(radial):
    net, model, topo = radial
    p0 = plan_restoration(topo, ["line:2"], 1)
    p1 = plan_restoration(topo, [{"element": "line:2", "start_min": -30}], 1)
    assert p1.etr_for("H4") == pytest.approx(p0.etr_for("H4"))     # same schedule ...
    assert p1.cmi == pytest.approx(p0.cmi + 30 * 6)                  # ... but 30 more minutes for 6 customers


def test_geo_coordinates_are_projected_to_km():
    net = radial_net()
    lon0, lat0 = 8.0, 48.0
    k = math.pi / 180 * 6371.0
    lon = lon0 + net.bus["x"].to_numpy() / (k * math.cos(math.radians(lat0)))
    lat = lat0 + net.bus["y"].to_numpy() / k
    net.bus["geo"] = [json.dumps({"coordinates": [a, b], "type": "Point"}) for a, b in zip(lon, lat)]
    net.bus = net.bus.drop(columns=["x", "y"])
    model, topo = compiled(net, RADIAL_CUSTOMERS)
    plan = plan_restoration(topo, ["line:2"], 1, model=model)
    # b0 (0, 0) -> midpoint of b3 (4, 0) and b4 (6, 0): 5 km (the projection keeps distances to < 0.1 %)
    assert plan.travel_min[0] == pytest.approx(5.0 * 1.3 * 60 / 40, rel=2e-3)


def test_missing_coordinates_warn_and_travel_zero():
    net = radial_net()
    net.bus = net.bus.drop(columns=["x", "y"])
    model, topo = compiled(net, RADIAL_CUSTOMERS)
    with pytest.warns(PlanWarning, match="coordinates"):
        plan = plan_restoration(topo, ["line:2", "line:4"], 1)
    assert np.all(plan.travel_min == 0)
    # coordinates given per bus through the options
    xy = np.column_stack([radial_net().bus["x"], radial_net().bus["y"]])
    plan = plan_restoration(topo, ["line:2"], 1, options={"coords": xy})
    assert plan.travel_min[0] == pytest.approx(5.0 * 1.3 * 60 / 40)


def test_crews_from_dicts_and_timestamps(radial):
    net, model, topo = radial
    # by hand: north takes L2 (hospital) and south L5 -> 1005 x 244.3 + 4 x 241.95 = 246,489 weighted
    # minutes; swapped: 1005 x 247.5 + 4 x 249.5 = 249,735
    crews = [{"id": "north", "depot": (6.0, 0.0), "speed_kmh": 60, "available_from_min": 3},
             {"id": "south", "depot": "bus:7", "shift_end_min": 30}]
    plan = plan_restoration(topo, ["line:2", "line:5"], crews, strategy="exact",
                            options={"start_time": "2026-01-05T08:00"})
    route = {plan.crew_ids[k]: [plan.faults[j] for j in r] for k, r in enumerate(plan.routes)}
    assert route == {"north": ["line:2"], "south": ["line:5"]}
    j = plan.faults.index("line:2")
    assert plan.start_min[j] == pytest.approx(3 + 1.0 * 1.3 * 60 / 60)
    assert plan.overtime_min == pytest.approx(plan.finish_min[plan.faults.index("line:5")] - 30)
    assert plan.etr_for("H4") == pd.Timestamp("2026-01-05T08:00") + pd.Timedelta(minutes=plan.finish_min[j])
    d = plan.to_dict(customers=True)
    json.dumps(d)
    assert d["outages"][j]["etr"] == plan.etr_for("H4").isoformat()
    assert {c["customer_id"] for c in d["customers"]} == {"H4", "R4", "R7"}


# --------------------------------------------------------------------------- switching

def test_switching_restored_nodes_leave_the_job_and_count_their_minutes(radial):
    net, model, topo = radial
    node = {int(b): int(topo.bus_node[i]) for i, b in enumerate(topo.bus_ids)}
    # L3 trips: b2 and b3 are interrupted until reclosing (1 min); b7 is fed through a tie after 20 min;
    # b6 is in the plan of L3 too, but L4 (also faulted) keeps it out until repaired
    sw = {"line:3": ([node[2], node[3], node[7], node[6], node[5]], [1.0, 1.0, 20.0, 20.0, np.inf])}
    plain = plan_restoration(topo, ["line:3", "line:4"], 1, strategy="exact")
    plan = plan_restoration(topo, ["line:3", "line:4"], 1, strategy="exact", options={"switched": sw})
    j3 = plan.faults.index("line:3")
    assert plain.customers[j3] == 11 and plan.customers[j3] == 7 and plan.customers_switched[j3] == 4
    assert plan.etr_for("R7") == pytest.approx(20.0)
    assert plan.etr_for("R2") == pytest.approx(1.0)
    assert plan.etr_for("R5") == pytest.approx(plan.finish_min[j3])
    fin = dict(zip(plan.faults, plan.finish_min))
    assert plan.etr_for("W6") == pytest.approx(max(fin.values()))
    cust = customers_frame(RADIAL_CUSTOMERS).set_index("customer_id")
    cmi = sum(cust.at[c, "count"] * plan.etr_for(c) for c in cust.index if plan.etr_for(c) is not None)
    assert plan.cmi == pytest.approx(cmi)
    assert plan.to_dict()["customers_switched"] == 10 + 20 + 4


def test_flisr_option_uses_plan_flisr_when_available():
    from gridsim.restore import flisr  # fails loudly if FLISR is missing
    from gridsim import load_model
    model = load_model("mv_oberrhein")
    topo = compile_topology(model)
    fault = "line:127"
    sp = flisr.plan_flisr(topo, fault)
    plan = plan_restoration(topo, [fault], 2, options={"flisr": True})
    by_switch = np.isfinite(sp.restored_min)
    lost = set(plan.nodes[plan.node_job >= 0].tolist())
    # nodes the switching plan brings back come back at its minutes, the others wait for the repair
    etr = dict(zip(plan.nodes.tolist(), plan.node_etr_min.tolist()))
    for v, t in zip(sp.nodes.tolist(), sp.restored_min.tolist()):
        if math.isfinite(t):
            assert etr[v] == pytest.approx(t)
        elif v in lost:
            assert etr[v] == pytest.approx(plan.finish_min[0])
    assert by_switch.any() and (~by_switch).any()      # this fault has both kinds of customers
    assert plan.customers[0] == int(topo.node_cust[sp.nodes[~by_switch & np.isin(sp.nodes, list(lost))]].sum())
    assert plan.customers[0] == sp.customers_until_repair
    assert plan.to_dict()["customers_switched"] == sp.customers_restored_by_switching
    assert plan.cmi < plan_restoration(topo, [fault], 2).cmi


# --------------------------------------------------------------------------- replan

def test_replan_longer_repair_pushes_etrs_and_keeps_finished_jobs(radial):
    net, model, topo = radial
    plan = plan_restoration(topo, ["line:0", "line:2", "line:4"], 1, strategy="fifo")
    order = [plan.faults[j] for j in plan.routes[0]]
    assert order == ["line:0", "line:2", "line:4"]
    j0, j2, j4 = (plan.faults.index(f) for f in order)
    now = plan.start_min[j2] + 10                       # L0 done, the crew is repairing L2
    new = replan(plan, now_min=now, repair_updates={"line:2": 240 + 90})
    assert new.status[j0] == "done" and new.status[j2] == "in_progress" and new.status[j4] == "planned"
    assert new.finish_min[j0] == plan.finish_min[j0] and new.crew[j0] == plan.crew[j0]
    assert new.start_min[j2] == plan.start_min[j2]
    assert new.finish_min[j2] == pytest.approx(plan.finish_min[j2] + 90)
    assert new.etr_for("H4") == pytest.approx(plan.etr_for("H4") + 90)
    assert new.etr_for("W6") == pytest.approx(plan.etr_for("W6") + 90)   # the crew comes 90 min later
    assert new.etr_for("R2") == pytest.approx(plan.etr_for("R2"))       # L0's customers are back already
    assert new.cmi > plan.cmi


def test_replan_delay_done_and_rescheduling(radial):
    net, model, topo = radial
    crews = [{"id": "a", "depot": 1}, {"id": "b", "depot": 1}]
    plan = plan_restoration(topo, ["line:1", "line:3", "line:2", "line:4"], crews, strategy="wspt")
    first = {k: int(r[0]) for k, r in enumerate(plan.routes) if len(r)}
    now = min(plan.start_min[j] for j in first.values()) + 5
    new = replan(plan, now_min=now, delays={"a": 60}, done=[plan.faults[first[1]]])
    ka = plan.crew_ids.index("a")
    ja = first[ka]
    assert new.status[ja] == "in_progress" and new.crew[ja] == ka
    assert new.finish_min[ja] == pytest.approx(plan.finish_min[ja] + 60)
    jb = first[1 - ka]
    assert new.status[jb] == "done" and new.finish_min[jb] == pytest.approx(now)
    # every job is still on exactly one route, and nothing planned starts before now
    assert sorted(int(j) for r in new.routes for j in r) == [0, 1, 2, 3]
    for j in range(4):
        if new.status[j] == "planned":
            assert new.start_min[j] - new.travel_min[j] >= now - 1e-9
    # a second replan later on keeps the first one's done jobs
    later = replan(new, now_min=new.makespan_min + 1)
    assert set(later.status) == {"done"}
    assert np.allclose(later.finish_min, new.finish_min)


def test_replan_on_meshed_ring_matches_a_replay():
    net = meshed_net()
    model, topo = compiled(net, MESHED_CUSTOMERS)
    plan = plan_restoration(topo, ["line:0", "line:4", "line:5"], 1, strategy="fifo")
    first = int(plan.routes[0][0])
    new = replan(plan, now_min=plan.start_min[first] + 1, repair_updates={plan.faults[first]: 600})
    assert new.status[first] == "in_progress"
    assert new.finish_min[first] == pytest.approx(plan.start_min[first] + 600)
    g = naive.grid_graph(net)
    replay = replay_etr(g, list(new.faults), list(new.finish_min))
    got = plan_bus_etr(new, topo)
    assert got.keys() == replay.keys()
    for b, t in replay.items():
        assert got[b] == pytest.approx(t)


def test_replan_errors(radial):
    net, model, topo = radial
    plan = plan_restoration(topo, ["line:1", "line:3"], 1, strategy="fifo")
    with pytest.raises(PlanInputError, match="unknown crew"):
        replan(plan, now_min=10, delays={"zz": 5})
    with pytest.raises(PlanInputError, match="not a fault of this plan"):
        replan(plan, now_min=10, done=["line:5"])
    with pytest.raises(PlanInputError, match=">= 0"):
        replan(plan, now_min=10, repair_updates={"line:1": -3})
    done = replan(plan, now_min=plan.makespan_min + 1)
    with pytest.raises(PlanInputError, match="already repaired"):
        replan(done, now_min=plan.makespan_min + 2, repair_updates={"line:1": 500})


# --------------------------------------------------------------------------- input errors

@pytest.mark.parametrize("faults, crews, kw, err, needle", [
    (["line:99"], 1, {}, UnknownElementError, "line 99 does not exist"),
    (["line:1", "line:1"], 1, {}, PlanInputError, "given twice"),
    ([], 1, {}, PlanInputError, "no fault"),
    (["line:1"], 0, {}, PlanInputError, "no crews"),
    (["line:1"], [], {}, PlanInputError, "no crews"),
    ([{"element": "line:1", "repair_min": -5}], 1, {}, PlanInputError, ">= 0"),
    ([{"element": "line:1", "start_min": 5}], 1, {}, PlanInputError, "start_min"),
    ([{"elem": "line:1"}], 1, {}, PlanInputError, "element"),
    (["line:1"], [{"depot": 99}], {}, PlanInputError, "depot bus"),
    (["line:1"], [{"speed_kmh": 0}], {}, PlanInputError, "speed_kmh"),
    (["line:1"], [{"shift_end_min": "late"}], {}, PlanInputError, "shift_end_min"),
    (["line:1"], [{"available_from_min": 50, "shift_end_min": 10}], {}, PlanInputError, "shift_end_min"),
    (["line:1"], 1, {"strategy": "nope"}, UnknownStrategyError, "nope"),
    (["line:1"], 1, {"options": {"colour": 1}}, PlanInputError, "colour"),
    (["line:1"], 1, {"options": {"repair_min": {"pole": 3}}}, PlanInputError, "pole"),
    (["line:1"], 1, {"options": {"start_time": "soon"}}, PlanInputError, "start_time"),
])
def test_input_errors(faults, crews, kw, err, needle, radial):
    net, model, topo = radial
    with pytest.raises(err, match=needle) as info:
        plan_restoration(topo, faults, crews, **kw)
    assert isinstance(info.value, GridsimError)


def test_out_of_service_fault_and_unknown_customer():
    net = radial_net()
    net.line.loc[5, "in_service"] = False
    model, topo = compiled(net, RADIAL_CUSTOMERS)
    with pytest.raises(PlanInputError, match="out of service"):
        plan_restoration(topo, ["line:5"], 1)
    # bus 7 is in service but dead already (L5 is out): its repair is a job that delays nobody
    plan = plan_restoration(topo, ["bus:7", "line:2"], 1, strategy="exact")
    j7 = plan.faults.index("bus:7")
    assert plan.customers[j7] == 0 and plan.parent[j7] == -1
    assert plan.etr_for("R7") is None
    assert plan.routes[0][0] == plan.faults.index("line:2")   # the hospital's repair first
    plan = plan_restoration(topo, ["line:2"], 1)
    with pytest.raises(UnknownElementError, match="nobody"):
        plan.etr_for("nobody")
    assert plan.etr_for("R2") is None


# --------------------------------------------------------------------------- CLI

def run(args, capsys):
    code = main(args)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_cli_plan_json_matches_api(capsys):
    from gridsim import load_model
    code, out, err = run(["plan", "cigre_mv", "--fault", "line:1", "--fault", "line:7=90", "--crews", "2",
                          "--strategy", "exact", "--json"], capsys)
    assert code == 0, err
    d = json.loads(out)
    for key in ("model", "strategy", "objective", "outages", "crews", "customers_interrupted"):
        assert key in d
    for key in ("weighted_cmi", "cmi", "critical_h_by_class", "makespan_min"):
        assert key in d["objective"]
    assert [o["fault"] for o in d["outages"]] == ["line:1", "line:7"]
    for key in ("etr_min", "customers", "crew", "start_min", "finish_min", "upstream"):
        assert key in d["outages"][0]
    model = load_model("cigre_mv")
    plan = plan_restoration(compile_topology(model), ["line:1", {"element": "line:7", "repair_min": 90}], 2,
                            strategy="exact")
    assert d["objective"]["weighted_cmi"] == pytest.approx(plan.weighted_cmi, rel=1e-6)
    assert [o["etr_min"] for o in d["outages"]] == pytest.approx(list(plan.etr_min), rel=1e-6)
    assert len(d["crews"]) == 2 and sum(len(c["jobs"]) for c in d["crews"]) == 2


def test_cli_plan_flisr_counts_switching(capsys):
    from gridsim.restore import flisr  # fails loudly if FLISR is missing
    from gridsim import load_model
    code, out, err = run(["plan", "mv_oberrhein", "--fault", "line:127", "--crews", "1", "--flisr", "--json"],
                         capsys)
    assert code == 0, err
    d = json.loads(out)
    sp = flisr.plan_flisr(compile_topology(load_model("mv_oberrhein")), "line:127")
    assert d["customers_switched"] == sp.customers_restored_by_switching
    assert d["outages"][0]["customers"] == sp.customers_until_repair


def test_cli_plan_table(capsys):
    code, out, err = run(["plan", "cigre_mv", "--fault", "line:1", "--fault", "line:3", "--crews", "1"], capsys)
    assert code == 0, err
    for needle in ("crew-1", "line:1", "line:3", "ETR", "weighted"):
        assert needle in out


@pytest.mark.parametrize("args, needle", [
    (["--fault", "line:999", "--crews", "2"], "line 999 does not exist"),
    (["--fault", "line:1", "--crews", "0"], "--crews 0"),
    (["--fault", "line:1=-5", "--crews", "1"], ">= 0"),
    (["--fault", "line:1=abc", "--crews", "1"], "line:1=abc"),
    (["--fault", "line:1", "--crews", "1", "--strategy", "magic"], "magic"),
])
def test_cli_plan_errors(args, needle, capsys):
    code, out, err = run(["plan", "cigre_mv", *args], capsys)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert needle in lines[0]
    assert "Traceback" not in out + err


def test_cli_plan_out_of_service_fault(tmp_path, capsys):
    net = radial_net()
    net.line.loc[5, "in_service"] = False
    pp.to_json(net, str(tmp_path / "net.json"))
    code, out, err = run(["plan", str(tmp_path), "--fault", "line:5", "--crews", "1"], capsys)
    assert code == 2
    assert err.startswith("error:") and "out of service" in err


# --------------------------------------------------------------------------- the simulator's re-planner

def ref_node_data(topo, out, switched, fstart):
    """The plain-Python ``_node_data``: a dict of the lost nodes, one loop per switched node (the
    reference of the version that sums in a kernel)."""
    from gridsim.restore.plan import _effective_start
    from gridsim.types import CLASS_ORDER

    J = len(out.parent)
    eff_start = _effective_start(out.parent, fstart)
    nodes, owner = out.nodes, out.owner
    sw_time = np.full(len(nodes), np.inf)
    extra = {}
    pos = {int(v): i for i, v in enumerate(nodes)} if switched else {}
    for j, (snodes, rmin) in switched.items():
        for v, t in zip(snodes.tolist(), rmin.tolist()):
            i = pos.get(v)
            if i is not None:
                if owner[i] == j and math.isfinite(t):
                    sw_time[i] = min(sw_time[i], fstart[j] + t)
            elif math.isfinite(t) and v > 0:
                s0, e0 = extra.get(v, (math.inf, -math.inf))
                extra[v] = (min(s0, fstart[j]), max(e0, fstart[j] + t))
    keep = ~np.isfinite(sw_time)
    cls = topo.node_class[nodes].astype(np.float64)
    crit = np.zeros((J, len(CLASS_ORDER)))
    for c in [CLASS_ORDER.index(c) for c in topo.critical_classes]:
        crit[:, c] = np.bincount(owner[keep], weights=cls[keep, c], minlength=J)
    extra_nodes = np.fromiter(extra.keys(), np.int64, len(extra))
    return {
        "weight": np.bincount(owner[keep], weights=topo.node_weighted[nodes][keep], minlength=J),
        "customers": np.bincount(owner[keep], weights=topo.node_cust[nodes][keep], minlength=J),
        "customers_switched": np.bincount(owner[~keep], weights=topo.node_cust[nodes][~keep], minlength=J),
        "crit_by_class": crit,
        "node_start": eff_start[owner] if len(nodes) else np.zeros(0), "sw_time": sw_time,
        "extra_nodes": extra_nodes,
        "extra_start": np.asarray([extra[v][0] for v in extra_nodes.tolist()], np.float64),
        "extra_end": np.asarray([extra[v][1] for v in extra_nodes.tolist()], np.float64),
    }


@pytest.mark.parametrize("seed", range(8))
def test_node_data_matches_the_plain_python_reference(seed):
    """Switching times, per-job sums (in bincount's order: equal to the last bit) and the nodes
    interrupted only until switching, radial (even seeds) and meshed (odd seeds)."""
    from gridsim.restore.plan import _node_data, _outage_meshed, _outage_radial

    rng = np.random.default_rng(seed)
    net = random_tree_net(rng, 30, extra_lines=2 if seed % 2 else 0)
    model, topo = compiled(net, seed=seed)
    a = topo.analysis()
    assert a.radial == (seed % 2 == 0)
    labels = [f"line:{i}" for i in rng.choice(net.line.index.to_numpy(), int(rng.integers(1, 7)), replace=False)]
    positions = topo.element_positions(labels)
    out = _outage_radial(topo, a, positions) if a.radial else _outage_meshed(topo, a, positions)
    fstart = -rng.uniform(0, 60, len(labels))
    switched = {}
    for j in range(len(labels)):
        if rng.random() < 0.8:
            nodes = rng.choice(topo.n_node, int(rng.integers(0, topo.n_node)), replace=False).astype(np.int64)
            rmin = np.where(rng.random(nodes.size) < 0.3, np.inf, rng.uniform(0, 90, nodes.size))
            switched[j] = (nodes, rmin)
    got, ref = _node_data(topo, out, switched, fstart), ref_node_data(topo, out, switched, fstart)
    assert got.keys() == ref.keys()
    for k in ref:
        assert np.array_equal(got[k], ref[k]), k


@pytest.fixture(scope="module")
def oberrhein():
    from gridsim import load_model

    model = load_model("mv_oberrhein")
    return model, compile_topology(model)


@pytest.mark.parametrize("strategy", ["fifo", "most_customers", "critical_first", "wspt", "local_search"])
def test_replanner_matches_plan_restoration(oberrhein, strategy):
    """The scenario simulator's re-planner (the per-fault work once, steps 2-3 in one kernel, the
    problem built without checking again) plans as plan_restoration does with the same switching:
    the same routes, and the same times and ETRs to the last bit."""
    from gridsim.restore import plan_flisr
    from gridsim.restore.plan import PlanOptions, _Replanner

    model, topo = oberrhein
    rng = np.random.default_rng(len(strategy))
    live = model.net.line.index[model.net.line.in_service.to_numpy()].to_numpy()
    labels = [f"line:{i}" for i in rng.choice(live, 12, replace=False)]
    plans = [plan_flisr(topo, lab) for lab in labels]
    repair = rng.uniform(60, 400, len(labels))
    rp = _Replanner(topo, topo.element_positions(labels), repair, [(p.nodes, p.restored_min) for p in plans],
                    model=model)
    assert rp.ok
    src = topo.bus_ids[topo.node_bus_row[topo.source_nodes[0]]]
    spec = [{"id": "c1"}, {"id": "c2", "depot": (3.5, -1.25), "speed_kmh": 25.0}, {"id": "c3", "depot": int(src)}]
    for _ in range(8):
        jobs = np.sort(rng.choice(len(labels), int(rng.integers(1, len(labels) + 1)), replace=False))
        fstart = -rng.uniform(0, 180, len(jobs))
        avail = rng.uniform(0, 90, len(spec))
        crews = [{**c, "available_from_min": float(avail[k]), "shift_end_min": float(avail[k] + 480)}
                 for k, c in enumerate(spec)]
        faults = [{"element": labels[i], "repair_min": float(repair[i]), "start_min": float(fstart[n])}
                  for n, i in enumerate(jobs)]
        sw = {labels[i]: (plans[i].nodes, plans[i].restored_min) for i in jobs}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PlanWarning)
            ref = plan_restoration(topo, faults, crews, strategy=strategy, options=PlanOptions(switched=sw),
                                   model=model)
        got = rp.plan(jobs, fstart, rp.read_crews(crews), strategy)
        assert [r.tolist() for r in got.routes] == [r.tolist() for r in ref.routes]
        assert got.crew_ids == ref.crew_ids
        for f in ("travel_min", "start_min", "finish_min", "etr_min", "job_xy_km"):
            assert np.array_equal(getattr(got, f), getattr(ref, f)), f
