"""FLISR on hand-built networks (ASCII sketches) and on bundled models.

References are independent of gridsim's kernels: the plan's switching is
applied to a copy of the pandapower net, then pandapower's own topology
(``unsupplied_buses``) says who is still out and ``runpp`` says whether the
receiving side stays within limits.
"""
from __future__ import annotations

import copy

import numpy as np
import pandapower as pp
import pandapower.topology as top
import pytest

from gridsim.core import compile_topology, sweep_single_faults
from gridsim.errors import GridsimError
from gridsim.restore import FlisrError, add_flisr_columns, plan_flisr

CABLE = "NA2XS2Y 1x240 RM/25 12/20 kV"


def feeder_net(*, tie: bool = True, tie_max_i_ka: float | None = None, island_zones: int = 1,
               second_tie: bool = False, n6_load_mw: float = 0.5,
               tie2_max_i_ka: float | None = None):
    """Two substations, feeder A faulted, feeder B (and C) receive.

    ::

        A0(110kV, ext_grid)          B0(110kV, ext_grid)        C0(110kV, ext_grid)
          | trafo                     | trafo                    | trafo
        A1 ─CB s0─ l0 ─ n2 ─LBS s1─ l1 ─ n3 ─ l2 ─ n4 ─LBS s2─ l3 ─ n5 [─LBS s3─ l4 ─ n6]
                                                                 │             │
                                                          tie t1 (open LBS at n5)   (second tie t2,
                                                                 │              open LBS at n6)
        B1 ─CB─ lb0 ─ m2 ─ lb1 ─ m5 ────────────────────────────┘              │
        C1 ─CB─ lc0 ─ k2 ───────────────────────────────────────────────────────┘

    Loads 0.5 MW at n2..n5 (and n6: ``n6_load_mw``), 1 MW at m2, 0.5 MW at k2.
    Returns (net, ids) with ids of buses, lines and switches by name.
    """
    net = pp.create_empty_network(sn_mva=1.0)
    ids = {}

    def bus(name, kv=20.0):
        ids[name] = pp.create_bus(net, vn_kv=kv, name=name)
        return ids[name]

    def line(name, a, b, km=2.0):
        ids[name] = pp.create_line(net, ids[a], ids[b], length_km=km, std_type=CABLE, name=name)
        return ids[name]

    def sw(name, at, ln, kind, closed=True):
        ids[name] = pp.create_switch(net, ids[at], ids[ln], et="l", type=kind, closed=closed, name=name)

    for s in ("A", "B", "C"):
        bus(f"{s}0", 110.0)
        bus(f"{s}1")
        pp.create_ext_grid(net, ids[f"{s}0"], vm_pu=1.0)
        pp.create_transformer(net, ids[f"{s}0"], ids[f"{s}1"], std_type="25 MVA 110/20 kV")
    for n in ("n2", "n3", "n4", "n5", "m2", "m5", "k2"):
        bus(n)
    line("l0", "A1", "n2")
    line("l1", "n2", "n3")
    line("l2", "n3", "n4")
    line("l3", "n4", "n5")
    sw("s0", "A1", "l0", "CB")
    sw("s1", "n2", "l1", "LBS")
    sw("s2", "n4", "l3", "LBS")
    line("lb0", "B1", "m2")
    line("lb1", "m2", "m5")
    sw("sb", "B1", "lb0", "CB")
    line("lc0", "C1", "k2")
    sw("sc", "C1", "lc0", "CB")
    for n in ("n2", "n3", "n4", "n5"):
        pp.create_load(net, ids[n], p_mw=0.5, q_mvar=0.1)
    pp.create_load(net, ids["m2"], p_mw=1.0, q_mvar=0.2)
    pp.create_load(net, ids["k2"], p_mw=0.5, q_mvar=0.1)
    if island_zones >= 2:
        bus("n6")
        line("l4", "n5", "n6")
        sw("s3", "n5", "l4", "LBS")
        pp.create_load(net, ids["n6"], p_mw=n6_load_mw, q_mvar=0.2 * n6_load_mw)
    if tie:
        line("t1", "n5", "m5", km=1.0)
        sw("st1", "n5", "t1", "LBS", closed=False)
        if tie_max_i_ka is not None:
            net.line.loc[ids["t1"], "max_i_ka"] = tie_max_i_ka
    if second_tie:
        line("t2", "n6", "k2", km=1.0)
        sw("st2", "n6", "t2", "LBS", closed=False)
        if tie2_max_i_ka is not None:
            net.line.loc[ids["t2"], "max_i_ka"] = tie2_max_i_ka
    return net, ids


def _model(make_model, net, remote_all=True):
    meta = {"devices": {"remote_switches": list(net.switch.index)}} if remote_all else {}
    return make_model(net, meta=meta)


def apply_plan(net, plan):
    """A copy of ``net`` with the plan's steps applied (pandapower switches by id;
    model.yaml devices on lines by taking the line out)."""
    out = copy.deepcopy(net)
    steps = list(plan.steps)
    if plan.tripping_device:   # tripped devices are open until a step recloses them
        from gridsim.restore import SwitchingStep
        for dev in plan.tripping_device.split("+"):
            steps.insert(0, SwitchingStep(0.0, "open", dev, True, "trip"))
    for s in steps:
        kind, _, rest = s.device.partition(":")
        if kind == "switch":
            out.switch.loc[int(rest), "closed"] = s.action == "close"
        elif rest.startswith("line:"):
            out.line.loc[int(rest.split(":")[1]), "in_service"] = s.action == "close"
    et, eid = plan.fault.split(":")
    if et == "bus":
        out.bus.loc[int(eid), "in_service"] = False
    else:
        out[et].loc[int(eid), "in_service"] = False
    return out


def customers_out(model, buses) -> int:
    c = model.customers
    return int(c.loc[c.bus.isin(list(buses)), "count"].sum())


def check_against_pandapower(model, plan, *, max_loading=100.0, vm_min=0.95):
    """The plan's claims, checked with pandapower alone."""
    net = model.net
    after = apply_plan(net, plan)
    before_out = set(top.unsupplied_buses(net))
    out = set(top.unsupplied_buses(after)) - before_out
    if plan.fault.startswith("bus:"):      # pandapower leaves out-of-service buses out of the list
        out.add(int(plan.fault.split(":")[1]))
    assert customers_out(model, out) == plan.customers_until_repair, plan.fault
    if any(s.purpose == "transfer" for s in plan.steps):
        pp.runpp(after)
        assert after.res_line.loading_percent.max() <= max_loading + 1e-6
        assert after.res_bus.vm_pu.min() >= vm_min - 1e-6
        last = [s for s in plan.steps if s.purpose == "transfer"][-1]
        # the last transfer reports the state the plan ends in: its minimum voltage is
        # runpp's over the receiving side (the part fed through the same transformer)
        g = top.create_nxgraph(after, include_trafos=False, include_trafo3ws=False)
        side = list(top.connected_component(g, int(last.via.split()[1])))
        assert last.min_vm_pu == pytest.approx(after.res_bus.vm_pu[side].min(), abs=2e-4)
    return out


def names(net, ids, buses):
    inv = {v: k for k, v in ids.items() if k[0] in "ABCnmk"}
    return {inv[b] for b in buses}


# --------------------------------------------------------------------------- hand-built cases


def test_tie_available(make_model):
    net, ids = feeder_net()
    m = _model(make_model, net)
    plan = plan_flisr(compile_topology(m), f"line:{ids['l2']}")
    assert plan.tripping_device == f"switch:{ids['s0']}"
    acts = [(s.action, s.device, s.purpose) for s in plan.steps]
    assert ("open", f"switch:{ids['s1']}", "isolate") in acts
    assert ("open", f"switch:{ids['s2']}", "isolate") in acts
    assert ("close", f"switch:{ids['s0']}", "reclose") in acts
    assert ("close", f"switch:{ids['st1']}", "transfer") in acts
    # isolation before reclose and transfer
    t = {s.device: s.t_min for s in plan.steps}
    assert t[f"switch:{ids['s1']}"] < t[f"switch:{ids['s0']}"]
    assert t[f"switch:{ids['s2']}"] < t[f"switch:{ids['st1']}"]
    out = check_against_pandapower(m, plan)
    assert names(net, ids, out) == {"n3", "n4"}
    assert plan.customers_interrupted == customers_out(m, [ids[n] for n in ("n2", "n3", "n4", "n5")])
    tr = [s for s in plan.steps if s.purpose == "transfer"][0]
    assert tr.customers_restored == customers_out(m, [ids["n5"]])
    assert tr.max_loading_percent is not None and tr.min_vm_pu is not None


def test_no_tie(make_model):
    net, ids = feeder_net(tie=False)
    m = _model(make_model, net)
    plan = plan_flisr(compile_topology(m), f"line:{ids['l2']}")
    assert not any(s.purpose == "transfer" for s in plan.steps)
    out = check_against_pandapower(m, plan)
    assert names(net, ids, out) == {"n3", "n4", "n5"}
    assert plan.infeasible == ()


def test_tie_over_capacity(make_model):
    net, ids = feeder_net(tie_max_i_ka=0.005)     # 5 A: far below the ~15 A of n5's load
    m = _model(make_model, net)
    plan = plan_flisr(compile_topology(m), f"line:{ids['l2']}")
    assert not any(s.purpose == "transfer" for s in plan.steps)
    assert any(a.tie == f"switch:{ids['st1']}" and f"line:{ids['t1']}" in a.reason and "loaded" in a.reason
               for a in plan.infeasible)
    # the reference agrees that the transfer would overload the tie
    trial = apply_plan(net, plan)
    trial.switch.loc[ids["st1"], "closed"] = True
    pp.runpp(trial)
    assert trial.res_line.loading_percent[ids["t1"]] > 100
    out = check_against_pandapower(m, plan)
    assert names(net, ids, out) == {"n3", "n4", "n5"}


def test_split_transfer(make_model):
    # n5 + n6 together overload the tie; n5 alone fits: open s3, close the tie
    net, ids = feeder_net(island_zones=2, n6_load_mw=6.0, tie_max_i_ka=0.1)
    m = _model(make_model, net)
    plan = plan_flisr(compile_topology(m), f"line:{ids['l2']}")
    acts = [(s.action, s.device, s.purpose) for s in plan.steps]
    assert ("open", f"switch:{ids['s3']}", "sectionalize") in acts
    assert ("close", f"switch:{ids['st1']}", "transfer") in acts
    t = {s.device: s.t_min for s in plan.steps}
    assert t[f"switch:{ids['s3']}"] <= t[f"switch:{ids['st1']}"]
    out = check_against_pandapower(m, plan)
    assert names(net, ids, out) == {"n3", "n4", "n6"}
    # whole-island transfer really does not fit (reference)
    trial = apply_plan(net, plan)
    trial.switch.loc[ids["s3"], "closed"] = True
    pp.runpp(trial)
    assert trial.res_line.loading_percent[ids["t1"]] > 100


def test_two_ties(make_model):
    # n5 + n6 (~0.106 kA) fit through neither tie (t1 0.05 kA, t2 0.1 kA); n5 alone
    # (~0.015 kA) fits t1 and n6 alone (~0.091 kA) fits t2: split at s3, both ties close
    net, ids = feeder_net(island_zones=2, n6_load_mw=3.0, tie_max_i_ka=0.05, second_tie=True, tie2_max_i_ka=0.1)
    m = _model(make_model, net)
    plan = plan_flisr(compile_topology(m), f"line:{ids['l2']}")
    closes = {s.device for s in plan.steps if s.purpose == "transfer"}
    assert closes == {f"switch:{ids['st1']}", f"switch:{ids['st2']}"}
    assert ("open", f"switch:{ids['s3']}", "sectionalize") in [(s.action, s.device, s.purpose) for s in plan.steps]
    out = check_against_pandapower(m, plan)
    assert names(net, ids, out) == {"n3", "n4"}


def test_manual_devices_take_crew_time(make_model):
    net, ids = feeder_net()
    m = make_model(net, meta={"devices": {"remote_switches": [ids["s0"]]},
                              "switching": {"manual_dispatch_min": 40.0, "manual_operate_min": 10.0,
                                            "remote_operate_s": 30.0, "crew_speed_kmh": 40.0}})
    plan = plan_flisr(compile_topology(m), f"line:{ids['l2']}")
    t = {s.device: s for s in plan.steps}
    first = min(t[f"switch:{ids['s1']}"].t_min, t[f"switch:{ids['s2']}"].t_min)
    assert first == pytest.approx(50.0)               # dispatch 40 + operate 10
    assert not t[f"switch:{ids['s1']}"].remote
    # the breaker recloses remotely 30 s after the upstream isolation
    assert t[f"switch:{ids['s0']}"].t_min == pytest.approx(t[f"switch:{ids['s1']}"].t_min + 0.5)


def test_fault_upstream_of_everything_and_bus_fault(make_model):
    net, ids = feeder_net()
    m = _model(make_model, net)
    topo = compile_topology(m)
    plan = plan_flisr(topo, f"line:{ids['l0']}")       # first section: the breaker isolates it
    assert not any(s.purpose == "reclose" for s in plan.steps)
    check_against_pandapower(m, plan)
    plan = plan_flisr(topo, f"bus:{ids['n4']}")
    out = check_against_pandapower(m, plan)
    assert names(net, ids, out) == {"n3", "n4"}


def test_bad_input(make_model):
    net, ids = feeder_net()
    net.line.loc[ids["lb1"], "in_service"] = False
    m = _model(make_model, net)
    topo = compile_topology(m)
    with pytest.raises(FlisrError, match="out of service"):
        plan_flisr(topo, f"line:{ids['lb1']}")
    with pytest.raises(GridsimError, match="line 999 does not exist"):
        plan_flisr(topo, "line:999")
    with pytest.raises(FlisrError, match="unknown FLISR option"):
        plan_flisr(topo, f"line:{ids['l2']}", options={"max_loading": 80})
    with pytest.raises(FlisrError, match="capacity"):
        plan_flisr(topo, f"line:{ids['l2']}", options={"capacity": "magic"})


def test_to_dict_contract(make_model):
    net, ids = feeder_net()
    d = plan_flisr(compile_topology(_model(make_model, net)), f"line:{ids['l2']}").to_dict()
    for key in ("fault", "tripping_device", "customers_interrupted", "customers_until_repair",
                "critical_until_repair", "steps"):
        assert key in d
    for s in d["steps"]:
        assert {"t_min", "action", "device", "remote", "customers_restored", "critical_restored"} <= set(s)
        assert s["action"] in ("open", "close")
        if s["purpose"] == "transfer":
            assert s["max_loading_percent"] is not None and s["min_vm_pu"] is not None


# --------------------------------------------------------------------------- bundled models


@pytest.mark.parametrize("name", ["mv_oberrhein", "cigre_mv"])
def test_sample_against_pandapower(bundled_model, name):
    """A fixed random sample of faults: the customers left until repair are what
    pandapower's topology leaves unsupplied after the plan's switching, and the
    final state passes runpp's limits."""
    m = bundled_model(name)
    topo = compile_topology(m)
    df = sweep_single_faults(topo)
    cand = np.flatnonzero(df.in_service.to_numpy() & (df.customers_interrupted.to_numpy() > 0)
                          & (df.element_type.astype(str).to_numpy() == "line"))
    rng = np.random.default_rng(7)
    for p in rng.choice(cand, size=min(12, cand.size), replace=False):
        plan = plan_flisr(topo, int(p))
        check_against_pandapower(m, plan)
        assert plan.customers_restored_by_switching + plan.customers_until_repair == plan.customers_interrupted


def test_sweep_columns_match_single_plans(bundled_model):
    m = bundled_model("mv_oberrhein")
    topo = compile_topology(m)
    df = sweep_single_faults(topo, flisr=True)
    for col in ("customers_restored_by_switching", "customers_until_repair", "critical_until_repair"):
        assert col in df
    live = df[df.in_service & (df.customers_interrupted > 0)]
    assert ((live.customers_restored_by_switching + live.customers_until_repair) == live.customers_interrupted).all()
    # FLISR never leaves more customers out than the fault itself cuts off
    assert (live.customers_until_repair <= live.customers_unsupplied).all()
    for p in live.sample(8, random_state=1).index:
        plan = plan_flisr(topo, int(p))
        assert plan.customers_until_repair == df.customers_until_repair[p]
    out = df[~df.in_service]
    assert (out.customers_until_repair == 0).all()


def test_local_capacity_check_agrees_with_full(bundled_model):
    m = bundled_model("mv_oberrhein")
    topo = compile_topology(m)
    base = sweep_single_faults(topo)
    local = add_flisr_columns(topo, base, options={"capacity": "local"})
    full = add_flisr_columns(topo, base, options={"capacity": "full"})
    assert (local.customers_until_repair == full.customers_until_repair).all()


def test_local_check_agrees_with_full_on_mvlv_sample(bundled_model):
    """sb_mvlv_urban (MV + LV, LV buses below 0.95 pu before any fault): the local
    check of the receiving side and the whole-network power flow decide alike."""
    m = bundled_model("sb_mvlv_urban")
    topo = compile_topology(m)
    df = sweep_single_faults(topo)
    # MV line faults (the ones whose islands have ties to other feeders)
    mv_lines = m.net.line.index[m.net.bus.vn_kv.reindex(m.net.line.from_bus).to_numpy() >= 1.0]
    mv = df.in_service & (df.customers_interrupted > 0) & (df.element_type.astype(str) == "line") \
        & df.element_id.isin(mv_lines)
    cand = df.index[mv].to_numpy()
    rng = np.random.default_rng(3)
    transfers = 0
    for p in rng.choice(cand, size=min(10, cand.size), replace=False):
        a = plan_flisr(topo, int(p))
        b = plan_flisr(topo, int(p), options={"capacity": "full"})
        assert a.customers_until_repair == b.customers_until_repair, topo.element_label(int(p))
        assert [s.device for s in a.steps] == [s.device for s in b.steps]
        transfers += sum(s.purpose == "transfer" for s in a.steps) + len(a.infeasible)
    assert transfers > 0       # the sample exercises transfer checks


def test_meshed_ring_both_sides_trip(make_model):
    """The tie between feeders A and B closed: a fault on l2 is fed from both
    substations, both breakers trip, the section n3-n4 is isolated and both
    breakers reclose (n2 from A, n5/n6 from B through the closed tie)."""
    net, ids = feeder_net(island_zones=2, second_tie=True)
    net.switch.loc[ids["st1"], "closed"] = True
    m = _model(make_model, net)
    topo = compile_topology(m)
    assert not topo.analysis().radial
    plan = plan_flisr(topo, f"line:{ids['l2']}")
    assert set(plan.tripping_device.split("+")) == {f"switch:{ids['s0']}", f"switch:{ids['sb']}"}
    assert plan.customers_interrupted == customers_out(m, [ids[n] for n in ("n2", "n3", "n4", "n5", "n6", "m2",
                                                                            "m5")])
    out = check_against_pandapower(m, plan)
    assert names(net, ids, out) == {"n3", "n4"}
    # l4 (n5-n6, LBS s3 at n5): s3 isolates it from the ring, n6 stays in the faulted
    # section (no device at its end of l4) and waits, though tie t2 touches it
    plan = plan_flisr(topo, f"line:{ids['l4']}")
    assert ("open", f"switch:{ids['s3']}") in [(s.action, s.device) for s in plan.steps]
    out = check_against_pandapower(m, plan)
    assert names(net, ids, out) == {"n6"}


@pytest.mark.parametrize("name", ["mv_oberrhein", "sb_mvlv_urban"])
def test_a_kept_planner_plans_as_fresh_ones(bundled_model, name):
    """The scenario simulator keeps one planner per process for the faults of storm after storm
    (its remembered transfer checks serve faults of the same section): its plans, in any order,
    are those of plan_flisr with a planner of its own."""
    from gridsim.restore.flisr import _plan_shared, _shared_planner

    m = bundled_model(name)
    topo = compile_topology(m)
    df = sweep_single_faults(topo)
    cand = np.flatnonzero(df.in_service.to_numpy() & (df.customers_interrupted.to_numpy() > 0))
    rng = np.random.default_rng(5)
    sample = rng.choice(cand, size=min(300, cand.size), replace=False)
    sample = np.concatenate([sample, sample[:20]])          # a fault again: from the memo of its checks
    P = _shared_planner(topo)
    transfers = 0
    for p in sample:
        a, b = _plan_shared(P, int(p)), plan_flisr(topo, int(p))
        assert repr(a.to_dict()) == repr(b.to_dict()), topo.element_label(int(p))
        assert np.array_equal(a.nodes, b.nodes) and np.array_equal(a.restored_min, b.restored_min)
        transfers += len(a.infeasible) + sum(s.purpose == "transfer" for s in a.steps)
    assert transfers > 0 and P._memo      # the sample exercises transfer checks, some remembered
