"""Analytic expected reliability (`expected_reliability`, `gridsim reliability`) and `gridsim indices`.

Checks: hand-computed indices on small hand-built networks (the arithmetic is
written in each test), a brute-force reference (a plain-Python loop over every
fault with networkx on the pandapower net, no gridsim kernels) against the
vectorised result without FLISR, FLISR never worse than no FLISR, the FLISR
plans used equal ``plan_flisr``'s, rate / repair overrides, feeders, errors
and the two CLI commands.
"""
from __future__ import annotations

import json
import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from gridsim.cli import main
from gridsim.core import compile_topology, find_affected, sweep_single_faults
from gridsim.errors import UnknownElementError
from gridsim.reliability.analytic import (
    DEFAULT_RATES, DEFAULT_REPAIR_MIN, ReliabilityError, expected_reliability, node_feeders,
)

CABLE = "NA2XS2Y 1x95 RM/25 12/20 kV"   # pandapower std type, type "cs"
ONLY_LINES = {"trafo": 0.0, "trafo3w": 0.0, "switch": 0.0, "bus": 0.0, "line_cs_per_km": 0.1}


def _customers(rows):
    return pd.DataFrame(rows, columns=["customer_id", "bus", "class", "count", "p_kw", "priority"])


@pytest.fixture
def hand_model(make_model):
    """Three lines, a breaker, a fuse and a remote sectionalizer.

    ::

        ext_grid
          b0 --CB(sw0)-- line0 (1 km) -- b1 --LBS(sw1, remote)-- line1 (2 km) -- b2   homes: 100 x 2 kW
                                          \\
                                           fuse -- line2 (0.5 km) -- b3   hospital (100 kW) + 9 homes (18 kW)

    All lines are cables (``cs``). Customers: b2 100, b3 10, N_T = 110.
    """
    import pandapower as pp

    net = pp.create_empty_network()
    b = [pp.create_bus(net, vn_kv=20.0, name=f"b{i}") for i in range(4)]
    pp.create_ext_grid(net, b[0])
    pp.create_line(net, b[0], b[1], length_km=1.0, std_type=CABLE)
    pp.create_line(net, b[1], b[2], length_km=2.0, std_type=CABLE)
    pp.create_line(net, b[1], b[3], length_km=0.5, std_type=CABLE)
    pp.create_switch(net, b[0], 0, et="l", type="CB")
    pp.create_switch(net, b[1], 1, et="l", type="LBS")
    pp.create_load(net, b[2], p_mw=0.2)
    pp.create_load(net, b[3], p_mw=0.118)
    cust = _customers([("homes-2", 2, "residential", 100, 200.0, 1.0),
                       ("hospital-1", 3, "hospital", 1, 100.0, 1000.0),
                       ("homes-3", 3, "residential", 9, 18.0, 1.0)])
    meta = {"devices": {"fuses": [{"line": 2, "bus": 1}], "remote_switches": [0, 1]}}
    return make_model(net, meta=meta, customers=cust)


# --------------------------------------------------------------------------- hand-computed

def test_hand_computed_without_flisr(hand_model):
    r = expected_reliability(hand_model, rates=ONLY_LINES, repair_min={"line_cs": 240}, flisr=False)
    # rates: line0 0.1 x 1 km = 0.1, line1 0.1 x 2 = 0.2, line2 0.1 x 0.5 = 0.05 /yr; repair 240 min.
    # line0 trips the CB: b1 b2 b3 (110 customers); line1 has no device: the CB trips, 110 customers;
    # line2 blows its fuse: b3 (10 customers). Everybody waits for the repair (240 min > 5: sustained).
    # SAIFI = (0.1*110 + 0.2*110 + 0.05*10) / 110 = 33.5 / 110
    # SAIDI = 240 * 33.5 / 110;  CAIDI = 240;  ASAI = 1 - SAIDI / 525600
    # ENS = 4 h * (0.1*318 + 0.2*318 + 0.05*118) kW = 405.2 kWh;  MAIFI = 0
    s = r.system
    assert s["customers"] == 110
    assert s["saifi"] == pytest.approx(33.5 / 110, rel=1e-12)
    assert s["saidi"] == pytest.approx(240 * 33.5 / 110, rel=1e-12)
    assert s["caidi"] == pytest.approx(240.0, rel=1e-12)
    assert s["asai"] == pytest.approx(1 - 240 * 33.5 / 110 / 525600, rel=1e-12)
    assert s["ens_kwh"] == pytest.approx(405.2, rel=1e-12)
    assert s["maifi"] == 0.0
    assert s["cmi"] == pytest.approx(240 * 33.5, rel=1e-12)
    assert r.system_without_flisr is None
    # one feeder, line:0 (the first line below the source), holding every customer
    assert list(r.feeders["feeder"]) == ["line:0"]
    assert r.feeders.loc[0, "saidi"] == pytest.approx(s["saidi"], rel=1e-12)
    # the hospital at b3: all three faults leave it out until repair: 0.35 /yr, 0.35 * 4 h = 1.4 h/yr;
    # listed by rate x repair: line1 (48), line0 (24), line2 (12)
    h = r.critical_exposure.set_index("customer_id").loc["hospital-1"]
    assert h["interruptions_per_yr"] == pytest.approx(0.35, rel=1e-12)
    assert h["outage_h_per_yr"] == pytest.approx(1.4, rel=1e-12)
    assert h["faults_until_repair"] == 3
    assert h["elements"] == "line:1 line:0 line:2"
    assert h["feeder"] == "line:0" and h["bus"] == 3
    f = r.faults.set_index("element")
    assert f.loc["line:1", "customers_interrupted"] == 110 and f.loc["line:2", "customers_interrupted"] == 10
    assert f.loc["line:1", "cmi_per_yr"] == pytest.approx(0.2 * 110 * 240, rel=1e-12)


def test_hand_computed_with_flisr(hand_model):
    r = expected_reliability(hand_model, rates=ONLY_LINES, repair_min={"line_cs": 240})
    # With FLISR, line1's fault: the CB trips (110 out), the remote LBS on line1 isolates the fault and
    # the CB recloses within a minute (remote operations, 30 s each): b1 and b3 (10 customers) see a
    # momentary interruption, b2 (100) waits for the repair. line0 and line2: no switching helps
    # (no tie): as without FLISR.
    # SAIFI = (0.1*110 + 0.2*100 + 0.05*10) / 110 = 31.5 / 110;  MAIFI = 0.2*10 / 110
    # SAIDI = 240 * 31.5 / 110;  ENS = 4 h * (0.1*318 + 0.2*200 + 0.05*118) = 310.8 kWh
    s = r.system
    assert s["saifi"] == pytest.approx(31.5 / 110, rel=1e-12)
    assert s["maifi"] == pytest.approx(2.0 / 110, rel=1e-12)
    assert s["saidi"] == pytest.approx(240 * 31.5 / 110, rel=1e-12)
    assert s["ens_kwh"] == pytest.approx(310.8, rel=1e-12)
    assert r.system_without_flisr["saidi"] == pytest.approx(240 * 33.5 / 110, rel=1e-12)
    # hospital: sustained 0.1 + 0.05 /yr (0.6 h/yr), momentary 0.2 /yr; out until repair by line0, line2
    h = r.critical_exposure.set_index("customer_id").loc["hospital-1"]
    assert h["interruptions_per_yr"] == pytest.approx(0.15, rel=1e-12)
    assert h["momentary_per_yr"] == pytest.approx(0.2, rel=1e-12)
    assert h["outage_h_per_yr"] == pytest.approx(0.6, rel=1e-12)
    assert h["faults_until_repair"] == 2 and h["elements"] == "line:0 line:2"
    assert h["outage_h_per_yr_without_flisr"] == pytest.approx(1.4, rel=1e-12)
    assert h["faults_until_repair_without_flisr"] == 3
    f = r.faults.set_index("element")
    assert f.loc["line:1", "customers_until_repair"] == 100


def test_momentary_threshold_and_short_repairs(hand_model):
    # a repair of 5 min is momentary (IEEE 1366: sustained means > 5 min): everything moves to MAIFI
    r = expected_reliability(hand_model, rates=ONLY_LINES, repair_min={"line_cs": 5}, flisr=False)
    assert r.system["saifi"] == 0.0 and r.system["saidi"] == 0.0 and math.isnan(r.system["caidi"])
    assert r.system["maifi"] == pytest.approx(33.5 / 110, rel=1e-12)
    # a threshold of 1 min makes the FLISR reclose (~1 min) ... still momentary only if <= 1 min
    r2 = expected_reliability(hand_model, rates=ONLY_LINES, repair_min={"line_cs": 240},
                              momentary_threshold_min=0.0)
    assert r2.system["maifi"] == 0.0
    assert r2.system["saifi"] == pytest.approx(33.5 / 110, rel=1e-12)   # every interruption sustained


# --------------------------------------------------------------------------- brute-force reference

def _rates_by_hand(model, positions_labels):
    """lambda and repair per element label, from the documented defaults, in plain Python."""
    net = model.net
    lam, rep = {}, {}
    for lab in positions_labels:
        kind, eid = lab.split(":")
        eid = int(eid)
        if kind == "line":
            ol = str(net.line.at[eid, "type"]) == "ol"
            lam[lab] = net.line.at[eid, "length_km"] * DEFAULT_RATES["line_ol_per_km" if ol else "line_cs_per_km"]
            rep[lab] = DEFAULT_REPAIR_MIN["line_ol" if ol else "line_cs"]
        else:
            lam[lab] = DEFAULT_RATES[kind]
            rep[lab] = DEFAULT_REPAIR_MIN[kind]
    return lam, rep


def _reference(model, labels=None):
    """Without FLISR, by brute force: per fault, the buses cut off from every source once the faulted
    element is removed and the tripping device (from find_affected) opened (networkx on the
    pandapower graph); then the formulas in plain Python. Returns (system dict, bus hours, per-fault
    customers interrupted)."""
    from pandapower.topology import create_nxgraph

    net = model.net
    topo = compile_topology(model)
    g = create_nxgraph(net, respect_switches=True, include_out_of_service=False)
    sources = set(net.ext_grid.bus[net.ext_grid.in_service])
    dev = model.devices.set_index("device_id")
    sw = net.switch
    cust = model.customers.groupby("bus")["count"].sum().to_dict()
    p_kw = model.customers.groupby("bus")["p_kw"].sum().to_dict()

    def supplied(view):
        out = set()
        for s in sources:
            if s in view:
                out |= nx.node_connected_component(view, s)
        return out

    before = supplied(g)
    n_t = sum(c for b, c in cust.items() if b in before)
    df = sweep_single_faults(topo)
    live = df[df["in_service"]]
    if labels is None:
        labels = [f"{t}:{i}" for t, i in zip(live["element_type"], live["element_id"])]
    lam, rep = _rates_by_hand(model, labels)
    freq, dur, per_fault = {}, {}, {}
    for lab in labels:
        kind, eid = lab.split(":")
        eid = int(eid)
        gone_nodes, gone_edges = [], []

        def cut(table, idx):
            gone_edges.extend((u, v, k) for u, v, k in g.edges(keys=True) if k == (table, idx))

        if kind == "bus":
            gone_nodes.append(eid)
        else:
            cut(kind, eid)
        trip = find_affected(topo, [lab]).trips[0].device
        if trip:
            d = dev.loc[trip]
            if d["switch_id"] >= 0:
                s = sw.loc[int(d["switch_id"])]
                table = {"l": "line", "t": "trafo", "b": "switch"}[s["et"]]
                cut(table, int(s["element"]) if s["et"] != "b" else int(d["switch_id"]))
            else:
                cut(d["element_type"], int(d["element_id"]))
        view = nx.restricted_view(g, gone_nodes, gone_edges)
        out = before - supplied(view)
        per_fault[lab] = sum(cust.get(b, 0) for b in out)
        for b in out:
            if rep[lab] > 5:
                freq[b] = freq.get(b, 0.0) + lam[lab]
                dur[b] = dur.get(b, 0.0) + lam[lab] * rep[lab]
    ci = sum(cust.get(b, 0) * f for b, f in freq.items())
    cmi = sum(cust.get(b, 0) * d for b, d in dur.items())
    ens = sum(p_kw.get(b, 0.0) * d / 60 for b, d in dur.items())
    system = {"saifi": ci / n_t, "saidi": cmi / n_t, "ens_kwh": ens, "customers": n_t}
    return system, {b: d / 60 for b, d in dur.items()}, per_fault


@pytest.mark.parametrize("name", ["cigre_mv", "mv_oberrhein"])
def test_against_brute_force_without_flisr(name, bundled_model):
    model = bundled_model(name)
    ref, bus_h, per_fault = _reference(model)
    r = expected_reliability(model, flisr=False)
    assert r.system["customers"] == ref["customers"]
    for k in ("saifi", "saidi", "ens_kwh"):
        assert r.system[k] == pytest.approx(ref[k], rel=1e-9), k
    # per bus with customers (a fault that interrupts no customer is skipped: it weighs in no index)
    buses = r.buses.set_index("bus")
    got = buses["outage_h_per_yr"][buses["customers"] > 0]
    for b, h in got.items():
        assert h == pytest.approx(bus_h.get(b, 0.0), rel=1e-9, abs=1e-12), b
    f = r.faults.set_index("element")["customers_interrupted"]
    for lab, c in per_fault.items():
        assert f.get(lab, 0) == c, lab


def test_brute_force_zones_on_a_meshed_model(bundled_model):
    """lv_schutterwald is operated meshed: zones come from the low-link DFS; a sample of faults."""
    model = bundled_model("lv_schutterwald")
    topo = compile_topology(model)
    assert not topo.analysis().radial
    df = sweep_single_faults(topo)
    live = df[df["in_service"]]
    labels = [f"{t}:{i}" for t, i in zip(live["element_type"], live["element_id"])]
    rng = np.random.default_rng(7)
    sample = [labels[i] for i in rng.choice(len(labels), 150, replace=False)]
    sample += [lab for lab in labels if lab.startswith("trafo")]
    _, _, per_fault = _reference(model, sample)
    r = expected_reliability(topo, flisr=False)
    f = r.faults.set_index("element")["customers_interrupted"]
    for lab in sample:
        assert f.get(lab, 0) == per_fault[lab], lab


def test_zones_match_the_sweep(bundled_model):
    """Customers in each no-FLISR zone == the sweep's customers_interrupted, every element."""
    model = bundled_model("mv_oberrhein")
    topo = compile_topology(model)
    df = sweep_single_faults(topo)
    r = expected_reliability(topo, flisr=False, rates={"bus": 1.0, "trafo": 1.0, "switch": 1.0})
    f = r.faults.set_index("element")["customers_interrupted"]
    want = df[df["in_service"] & (df["customers_interrupted"] > 0)]
    assert len(f) == len(want)
    for t, i, c in zip(want["element_type"], want["element_id"], want["customers_interrupted"]):
        assert f[f"{t}:{i}"] == c


# --------------------------------------------------------------------------- FLISR

@pytest.mark.parametrize("name", ["cigre_mv", "mv_oberrhein"])
def test_flisr_never_worse(name, bundled_model):
    r = expected_reliability(bundled_model(name))
    s, s0 = r.system, r.system_without_flisr
    assert s["saidi"] <= s0["saidi"] + 1e-9
    assert s["saifi"] <= s0["saifi"] + 1e-9
    assert s["ens_kwh"] <= s0["ens_kwh"] + 1e-6
    assert (r.feeders["saidi"] <= r.feeders["saidi_without_flisr"] + 1e-9).all()
    ce = r.critical_exposure
    assert (ce["outage_h_per_yr"] <= ce["outage_h_per_yr_without_flisr"] + 1e-12).all()
    assert (ce["faults_until_repair"] <= ce["faults_until_repair_without_flisr"]).all()
    # the no-FLISR figures inside a FLISR run are those of a run without FLISR
    assert r.system_without_flisr == pytest.approx(expected_reliability(bundled_model(name), flisr=False).system)


def test_plans_are_plan_flisr(bundled_model):
    """The shared planner yields exactly plan_flisr's plans."""
    from gridsim.reliability.analytic import _flisr_plans
    from gridsim.restore.flisr import plan_flisr

    topo = compile_topology(bundled_model("mv_oberrhein"))
    df = sweep_single_faults(topo)
    todo = np.flatnonzero(df["in_service"].to_numpy() & (df["customers_interrupted"].to_numpy() > 0))
    sample = todo[np.random.default_rng(3).choice(todo.size, 40, replace=False)]
    for pos, plan in zip(sample, _flisr_plans(topo, None, None, sample)):
        ref = plan_flisr(topo, int(pos))
        assert np.array_equal(plan.nodes, ref.nodes)
        assert np.array_equal(plan.restored_min, ref.restored_min)


def test_flisr_nodes_are_the_trip_zones(bundled_model):
    """Where a device trips, the FLISR plan interrupts exactly the no-FLISR zone."""
    from gridsim.reliability.analytic import _flisr_plans, _zones

    topo = compile_topology(bundled_model("mv_oberrhein"))
    a = topo.analysis()
    df = sweep_single_faults(topo)
    cand = np.flatnonzero(df["in_service"].to_numpy() & (df["customers_interrupted"].to_numpy() > 0)
                          & (df["tripping_device"].astype(str).to_numpy() != ""))
    k, s, e = _zones(topo, None, cand)
    for i, plan in enumerate(_flisr_plans(topo, None, None, cand)):
        zone = np.concatenate([a.node_at[s[j]:e[j]] for j in np.flatnonzero(k == i)])
        assert set(plan.nodes.tolist()) == set(zone.tolist()), topo.element_label(int(cand[i]))


# --------------------------------------------------------------------------- inputs

def test_rates_are_linear_and_overridable(hand_model):
    base = expected_reliability(hand_model, flisr=False)
    double = expected_reliability(hand_model, flisr=False, rates={k: 2 * v for k, v in DEFAULT_RATES.items()})
    for k in ("saifi", "saidi", "ens_kwh", "cmi"):
        assert double.system[k] == pytest.approx(2 * base.system[k], rel=1e-12)
    assert double.system["caidi"] == pytest.approx(base.system["caidi"], rel=1e-12)
    # model.yaml reliability section, then arguments on top
    hand_model.meta["reliability"] = {"rates": dict(ONLY_LINES), "repair_min": {"line_cs": 240}}
    y = expected_reliability(hand_model, flisr=False)
    assert y.system["saifi"] == pytest.approx(33.5 / 110, rel=1e-12)
    # an element override: line:1 never fails -> (0.1*110 + 0.05*10) / 110
    e = expected_reliability(hand_model, flisr=False, rates={"line:1": 0.0})
    assert e.system["saifi"] == pytest.approx(11.5 / 110, rel=1e-12)
    assert e.assumptions["rate_overrides"] == {"line:1": 0.0}
    # a per-element repair time: line:2 takes 60 min -> SAIDI = (0.1*110*240 + 0.2*110*240 + 0.05*10*60) / 110
    e = expected_reliability(hand_model, flisr=False, repair_min={"line:2": 60})
    assert e.system["saidi"] == pytest.approx((0.3 * 110 * 240 + 0.05 * 10 * 60) / 110, rel=1e-12)
    hand_model.meta["reliability"] = {"momentary_threshold_min": 500}   # every repair (<= 480 min) momentary
    assert expected_reliability(hand_model, flisr=False).system["saifi"] == 0.0


@pytest.mark.parametrize("kwargs, needle", [
    ({"rates": {"trafo": -0.1}}, "rates.trafo"),
    ({"rates": {"trafo": "often"}}, "expected a number"),
    ({"rates": {"cable": 0.1}}, "unknown key 'cable'"),
    ({"repair_min": {"line_cs": float("inf")}}, "repair_min.line_cs"),
    ({"repair_min": [1, 2]}, "expected a mapping"),
    ({"momentary_threshold_min": -1}, "momentary_threshold_min"),
])
def test_bad_inputs(hand_model, kwargs, needle):
    with pytest.raises(ReliabilityError, match=needle.replace(".", r"\.").replace("'", "'")):
        expected_reliability(hand_model, flisr=False, **kwargs)


def test_unknown_element_and_bad_yaml(hand_model):
    with pytest.raises(UnknownElementError, match="line 99"):
        expected_reliability(hand_model, flisr=False, rates={"line:99": 0.1})
    hand_model.meta["reliability"] = {"rate": {}}
    with pytest.raises(ReliabilityError, match="reliability.rate"):
        expected_reliability(hand_model, flisr=False)
    hand_model.meta["reliability"] = {"rates": {"bus": -1}}
    with pytest.raises(ReliabilityError, match="model.yaml reliability.rates.bus"):
        expected_reliability(hand_model, flisr=False)


# --------------------------------------------------------------------------- feeders

def test_feeders_derived_and_from_net(bundled_model):
    topo = compile_topology(bundled_model("mv_oberrhein"))
    codes, names = node_feeders(topo)
    fed = {names[c] for c in codes[topo.bus_node] if c >= 0}
    # two HV/MV transformers, two lines leaving each MV busbar
    assert {n for n in fed if n.startswith("line:")} == {"line:62", "line:193", "line:162", "line:165"}
    r = expected_reliability(topo, flisr=False)
    assert r.feeders["customers"].sum() == r.system["customers"]
    assert r.feeders["cmi"].sum() == pytest.approx(r.system["cmi"], rel=1e-12)
    # a synthetic model numbers its feeders in net.bus.feeder
    from gridsim.model import load_model
    syn = load_model("synth:400:1")
    rs = expected_reliability(syn, flisr=False)
    assert rs.assumptions["feeders"] == "net.bus.feeder"
    assert all(f.startswith(("feeder:", "substation")) for f in rs.feeders["feeder"])
    n_feeders = int(syn.net.bus["feeder"].max()) + 1
    assert len(rs.feeders[rs.feeders["feeder"].str.startswith("feeder:")]) <= n_feeders
    assert rs.feeders["customers"].sum() == rs.system["customers"]


def test_result_json_is_valid(bundled_model):
    r = expected_reliability(bundled_model("cigre_mv"))
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert set(d) >= {"system", "feeders", "critical_exposure", "assumptions"}
    assert len(d["critical_exposure"]) == 8


# --------------------------------------------------------------------------- CLI

def run(args, capsys):
    code = main(args)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_cli_reliability_json_matches_api(capsys, bundled_model):
    code, out, err = run(["reliability", "cigre_mv", "--json"], capsys)
    assert code == 0, err
    d = json.loads(out)
    r = expected_reliability(bundled_model("cigre_mv"))
    assert d["system"]["saidi"] == pytest.approx(r.system["saidi"], rel=1e-12)
    assert d["system_without_flisr"]["saifi"] == pytest.approx(r.system_without_flisr["saifi"], rel=1e-12)
    assert [f["feeder"] for f in d["feeders"]] == list(r.feeders["feeder"])
    assert [c["customer_id"] for c in d["critical_exposure"]] == list(r.critical_exposure["customer_id"])
    assert d["assumptions"]["rates_per_yr"] == DEFAULT_RATES
    code, out, err = run(["reliability", "cigre_mv", "--json", "--no-flisr", "--rate", "trafo=0.03",
                          "--repair", "line_cs=300"], capsys)
    assert code == 0, err
    d = json.loads(out)
    r = expected_reliability(bundled_model("cigre_mv"), flisr=False, rates={"trafo": 0.03},
                             repair_min={"line_cs": 300})
    assert d["flisr"] is False and d["system_without_flisr"] is None
    assert d["system"]["saidi"] == pytest.approx(r.system["saidi"], rel=1e-12)


def test_cli_reliability_text(capsys):
    code, out, err = run(["reliability", "cigre_mv"], capsys)
    assert code == 0, err
    for needle in ("System indices", "with FLISR", "without FLISR", "SAIDI", "ASAI", "ENS", "Feeders",
                   "Critical exposure", "failure rates", "computed in"):
        assert needle in out


def test_cli_indices(capsys):
    from pathlib import Path

    log = Path(__file__).resolve().parents[2] / "examples" / "interruptions.csv"
    code, out, err = run(["indices", str(log), "--customers-served", "1200", "--json"], capsys)
    assert code == 0, err
    d = json.loads(out)
    for k in ("saifi", "saidi", "caidi", "caifi", "asai", "maifi", "cemi_n", "cmi", "ens_kwh"):
        assert k in d
    # examples/interruptions.csv by hand: sustained 250 + 400 + 1 + 120 + 60 = 831 customer interruptions,
    # CMI = 250*90 + 400*240 + 1*75 + 120*45 + 60*165 = 133,875 min; momentary 1 + 250 + 1 = 252
    assert d["saifi"] == pytest.approx(831 / 1200)
    assert d["cmi"] == pytest.approx(133875)
    assert d["maifi"] == pytest.approx(252 / 1200)
    code, out, err = run(["indices", str(log), "--customers-served", "1200"], capsys)
    assert code == 0 and "SAIFI" in out and "CEMI1" in out


@pytest.mark.parametrize("args, needle", [
    (["reliability", "no_such_model"], "no_such_model"),
    (["reliability", "cigre_mv", "--rate", "trafo=-1"], "rates.trafo"),
    (["reliability", "cigre_mv", "--rate", "trafo"], "KEY=VALUE"),
    (["reliability", "cigre_mv", "--rate", "cable=1"], "unknown key"),
    (["reliability", "cigre_mv", "--repair", "line:9999=60"], "line 9999 does not exist"),
    (["indices", "no_such_log.csv", "--customers-served", "10"], "not found"),
    (["indices", "LOG", "--customers-served", "ten"], "--customers-served"),
    (["indices", "LOG", "--customers-served", "-5"], "customers_served"),
    (["indices", "BAD", "--customers-served", "10"], "column"),
])
def test_cli_errors_one_line_exit_2(args, needle, capsys, tmp_path):
    from pathlib import Path

    log = Path(__file__).resolve().parents[2] / "examples" / "interruptions.csv"
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,start\nA,0\n")
    args = [str(log) if a == "LOG" else str(bad) if a == "BAD" else a for a in args]
    code, out, err = run(args, capsys)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert needle in lines[0]
    assert "Traceback" not in err + out
