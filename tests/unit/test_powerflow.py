"""Radial power flow (gridsim.restore.powerflow) against pandapower's runpp, the reference.

Every model is solved twice on the same switching state: by the sweep and by
``pandapower.runpp(net, calculate_voltage_angles=True)`` (default init: flat
start does not converge with the 150-degree transformer shifts). Tolerances:
|dvm| <= 1e-3 pu, |dloading| <= 1 percentage point (the sweep is exact, so
the observed errors are ~1e-9 pu / ~1e-6 %: see the printed report with -s).
"""
from __future__ import annotations

import copy
import time

import numpy as np
import pandas as pd
import pytest

pp = pytest.importorskip("pandapower")
pn = pytest.importorskip("pandapower.networks")

from gridsim.core import compile_topology  # noqa: E402
from gridsim.model.model import DEVICE_COLUMNS, Model  # noqa: E402
from gridsim.restore.powerflow import (  # noqa: E402
    PowerFlowError, check_capacity, compile_pf, net_with_state, run_radial_pf,
)
from gridsim.types import PP_SWITCH_TYPE  # noqa: E402

VM_TOL_PU = 1e-3
LOADING_TOL_PERCENT = 1.0


def make_model(net, name="test") -> Model:
    """Model with one residential customer per load and one device per pandapower switch."""
    ld = net.load
    customers = pd.DataFrame({
        "customer_id": [f"load:{i}" for i in ld.index], "bus": ld.bus.to_numpy(np.int64),
        "class": "residential", "count": 1, "p_kw": ld.p_mw.to_numpy(float) * 1e3, "priority": 1.0})
    sw = net.switch
    et = sw.et.astype(str).to_numpy()
    kinds = [PP_SWITCH_TYPE.get(t, PP_SWITCH_TYPE["DS"]) for t in sw.get("type", pd.Series("DS", sw.index))]
    devices = pd.DataFrame({
        "device_id": [f"switch:{i}" for i in sw.index],
        "kind": [getattr(k, "value", str(k)) for k in kinds],
        "element_type": pd.Series(et).map({"l": "line", "t": "trafo", "t3": "trafo3w", "b": "switch"}).to_numpy(),
        "element_id": np.where(et == "b", sw.index.to_numpy(), sw.element.to_numpy()).astype(np.int64),
        "bus": sw.bus.to_numpy(np.int64), "remote": False, "switch_id": sw.index.to_numpy(np.int64),
        "normally_open": ~sw.closed.to_numpy(bool), "origin": "pandapower"})
    return Model(name, net, customers, devices[list(DEVICE_COLUMNS)], {}, name)


def reference(net):
    net = copy.deepcopy(net)
    pp.runpp(net, calculate_voltage_angles=True)
    return net


def deviations(res, ref_net) -> tuple[float, float]:
    """Max |dvm| over supplied buses and max |dloading| over energised lines and trafos."""
    vm_ref = ref_net.res_bus.vm_pu.reindex(res.bus_ids).to_numpy(float)
    sup = np.isfinite(res.vm_pu)
    assert np.isfinite(vm_ref[sup]).all()
    assert np.isnan(vm_ref[~sup]).all(), "buses unsupplied for us are supplied for pandapower"
    dvm = float(np.max(np.abs(res.vm_pu[sup] - vm_ref[sup]), initial=0.0))
    dld = 0.0
    for table, ids, ld in (("line", res.line_ids, res.line_loading_percent),
                           ("trafo", res.trafo_ids, res.trafo_loading_percent),
                           ("trafo3w", res.trafo3w_ids, res.trafo3w_loading_percent)):
        if not len(ids):
            continue
        ref = ref_net[f"res_{table}"].loading_percent.reindex(ids).to_numpy(float)
        live = np.isfinite(ld)
        dld = max(dld, float(np.max(np.abs(ld[live] - ref[live]), initial=0.0)))
    return dvm, dld


def assert_matches(res, ref_net, label):
    assert res.method == "radial", f"{label}: expected the sweep, got {res.method}"
    assert res.converged
    dvm, dld = deviations(res, ref_net)
    print(f"\n[powerflow] {label}: max|dvm|={dvm:.2e} pu, max|dloading|={dld:.2e} %, iterations={res.iterations}")
    assert dvm <= VM_TOL_PU
    assert dld <= LOADING_TOL_PERCENT


def compile_all(net, name):
    model = make_model(net, name)
    topo = compile_topology(model)
    return model, topo, compile_pf(model, topo)


# ---------------------------------------------------------------------------
# bundled models
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def oberrhein():
    return compile_all(pn.mv_oberrhein(), "mv_oberrhein")


def test_mv_oberrhein_matches_runpp(oberrhein):
    model, topo, pf = oberrhein
    res = run_radial_pf(pf, topo)
    assert_matches(res, reference(model.net), "mv_oberrhein")
    assert len(model.net.ext_grid) == 2 and np.isfinite(res.vm_pu).all()


def test_mv_oberrhein_changed_state_matches_runpp(oberrhein):
    """Close a tie and open a sectionalizer on the same feeder loop; compare with runpp on the same switches."""
    model, topo, pf = oberrhein
    net = model.net
    tie = int(net.switch.index[~net.switch.closed.to_numpy(bool)][0])
    closed_state = topo.make_state(close=[tie])
    an = topo.analysis(closed_state)
    assert not an.radial
    # a closed line switch on the loop the tie just closed: the first one that makes it radial again
    cand = net.switch.index[(net.switch.et == "l").to_numpy() & net.switch.closed.to_numpy(bool)]
    state = None
    for sid in cand:
        st = topo.make_state(open=[int(sid)], base=closed_state)
        a2 = topo.analysis(st)
        if a2.radial and a2.supplied[topo.bus_node].all():
            state = st
            break
    assert state is not None, "no sectionalizer found that makes the closed loop radial again"
    res = run_radial_pf(pf, topo, state)
    assert_matches(res, reference(net_with_state(pf, topo, state)), "mv_oberrhein tie transfer")
    base = run_radial_pf(pf, topo)
    assert not np.allclose(res.vm_pu, base.vm_pu)


def test_meshed_state_falls_back_to_pandapower(oberrhein):
    model, topo, pf = oberrhein
    tie = int(model.net.switch.index[~model.net.switch.closed.to_numpy(bool)][0])
    state = topo.make_state(close=[tie])
    res = run_radial_pf(pf, topo, state)
    assert res.method == "pandapower" and res.converged
    ref = reference(net_with_state(pf, topo, state))
    assert deviations(res, ref) == (0.0, 0.0)


def test_cigre_mv_matches_runpp():
    model, topo, pf = compile_all(pn.create_cigre_network_mv(with_der=False), "cigre_mv")
    res = run_radial_pf(pf, topo)
    assert_matches(res, reference(model.net), "cigre_mv")


def test_lv_schutterwald_matches_runpp():
    """lv_schutterwald as loaded has one 5-line loop (lines 8293/8294/8820/8823/13417 at bus 3005):
    the sweep hands it to pandapower; opening switch 304 (line 13417 at bus 3209) makes it radial."""
    net = pn.lv_schutterwald()
    model, topo, pf = compile_all(net, "lv_schutterwald")
    assert run_radial_pf(pf, topo).method == "pandapower"
    state = topo.make_state(open=[304])
    assert topo.analysis(state).radial
    res = run_radial_pf(pf, topo, state)
    assert_matches(res, reference(net_with_state(pf, topo, state)), "lv_schutterwald (switch 304 open)")


@pytest.fixture(scope="module")
def simbench_rural():
    sb = pytest.importorskip("simbench")
    return compile_all(sb.get_simbench_net("1-MVLV-rural-all-0-sw"), "1-MVLV-rural-all-0-sw")


def test_simbench_rural_matches_runpp(simbench_rural):
    """Two parallel HV/MV transformers (90, 91) between the same bus bars are folded into one tree branch."""
    model, topo, pf = simbench_rural
    assert not topo.analysis().radial
    res = run_radial_pf(pf, topo)
    assert_matches(res, reference(model.net), "1-MVLV-rural-all-0-sw")
    t = res.trafo_loading_percent[np.isin(res.trafo_ids, [90, 91])]
    assert np.isfinite(t).all()


# ---------------------------------------------------------------------------
# hand-built nets
# ---------------------------------------------------------------------------


def test_trafo3w_reverse_line_and_taps_match_runpp():
    """
    ::

        ext_grid
          b0 (110 kV) ==trafo3w== b1 (20 kV) --line0--> b3 --line1 (from b4 to b3)-- b4
                          ||
                          b2 (10 kV) --line2-- b5          trafo3w tap +2 at hv; sgen at b4,
                                                             storage at b5, shunt at b3, ZIP load at b4
    """
    net = pp.create_empty_network()
    b = [pp.create_bus(net, vn_kv=v) for v in (110.0, 20.0, 10.0, 20.0, 20.0, 10.0)]
    pp.create_ext_grid(net, b[0], vm_pu=1.02, va_degree=5.0)
    pp.create_transformer3w(net, b[0], b[1], b[2], std_type="63/25/38 MVA 110/20/10 kV", tap_pos=2)
    pp.create_line(net, b[1], b[3], 3.0, "NA2XS2Y 1x185 RM/25 12/20 kV")
    pp.create_line(net, b[4], b[3], 2.0, "NA2XS2Y 1x95 RM/25 12/20 kV")
    pp.create_line(net, b[2], b[5], 1.5, "NA2XS2Y 1x95 RM/25 6/10 kV")
    pp.create_load(net, b[3], p_mw=4.0, q_mvar=1.0)
    pp.create_load(net, b[4], p_mw=3.0, q_mvar=1.2, const_z_p_percent=30, const_i_q_percent=40)
    pp.create_load(net, b[5], p_mw=2.0, q_mvar=0.5)
    pp.create_sgen(net, b[4], p_mw=1.0, q_mvar=-0.2)
    pp.create_storage(net, b[5], p_mw=0.5, max_e_mwh=2.0)
    pp.create_shunt(net, b[3], q_mvar=-0.5)
    pp.create_switch(net, b[3], 0, et="l", type="CB")
    model, topo, pf = compile_all(net, "t3")
    res = run_radial_pf(pf, topo)
    assert_matches(res, reference(net), "trafo3w hand-built")
    ref = reference(net)
    assert np.nanmax(np.abs(res.va_degree - ref.res_bus.va_degree.to_numpy())) < 1e-4


def test_capacity_check_flags_overload_and_undervoltage(tiny_net):
    model, topo, pf = compile_all(tiny_net, "tiny")
    ok = check_capacity(pf, topo, None)
    assert ok.ok and ok.worst_element == "line:0" and ok.overloaded == ()
    tiny_net.load.loc[0, "p_mw"] = 12.0
    model, topo, pf = compile_all(tiny_net, "tiny")
    bad = check_capacity(pf, topo, None, max_loading_percent=100.0, vm_min_pu=0.975)
    assert not bad.ok and "line:0" in bad.overloaded and bad.min_vm_bus == 2
    assert 2 in bad.voltage_violations and bad.max_loading_percent > 100
    res = run_radial_pf(pf, topo, topo.make_state(open=[1]))     # b3 cut off: NaN, not a violation
    assert np.isnan(res.vm_pu[3]) and np.isnan(res.line_loading_percent[2])


def test_refuses_pv_generators(tiny_net):
    pp.create_gen(tiny_net, 2, p_mw=0.1, vm_pu=1.0)
    model = make_model(tiny_net)
    with pytest.raises(PowerFlowError, match="non-slack generator"):
        compile_pf(model, compile_topology(model))


def test_pf_of_another_topology_is_refused(tiny_net, oberrhein):
    _, topo, _ = oberrhein
    _, _, pf_tiny = compile_all(tiny_net, "tiny")
    with pytest.raises(PowerFlowError, match="not compiled"):
        run_radial_pf(pf_tiny, topo)


# ---------------------------------------------------------------------------
# random radial networks
# ---------------------------------------------------------------------------

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

LINE_TYPES = ("NA2XS2Y 1x95 RM/25 12/20 kV", "NA2XS2Y 1x185 RM/25 12/20 kV", "48-AL1/8-ST1A 20.0",
              "94-AL1/15-ST1A 20.0")


@st.composite
def radial_nets(draw):
    n = draw(st.integers(2, 25))
    parents = [draw(st.integers(0, i - 1)) for i in range(1, n)]
    net = pp.create_empty_network()
    buses = [pp.create_bus(net, vn_kv=20.0) for _ in range(n)]
    pp.create_ext_grid(net, buses[0], vm_pu=draw(st.floats(0.98, 1.05)))
    for i, p in enumerate(parents, start=1):
        a, b = (buses[p], buses[i]) if draw(st.booleans()) else (buses[i], buses[p])
        pp.create_line(net, a, b, draw(st.floats(0.05, 4.0)), draw(st.sampled_from(LINE_TYPES)))
        if draw(st.booleans()):
            pp.create_load(net, buses[i], p_mw=draw(st.floats(0.0, 0.8)), q_mvar=draw(st.floats(-0.1, 0.3)))
    return net


@settings(max_examples=30, deadline=None)
@given(net=radial_nets())
def test_random_radial_nets_match_runpp(net):
    model, topo, pf = compile_all(net, "random")
    res = run_radial_pf(pf, topo)
    assert res.method == "radial" and res.converged
    dvm, dld = deviations(res, reference(net))
    assert dvm <= VM_TOL_PU and dld <= LOADING_TOL_PERCENT


# ---------------------------------------------------------------------------
# speed
# ---------------------------------------------------------------------------


def test_capacity_checks_on_many_states_mv_oberrhein(oberrhein):
    """A few hundred tie-transfer checks, each a new state, all give an answer (their time is
    printed for information; speed is measured by benchmarks, not asserted in tests)."""
    model, topo, pf = oberrhein
    sw = model.net.switch
    line_sw = sw.index[(sw.et == "l") & sw.closed].to_numpy()
    check_capacity(pf, topo, topo.make_state(open=[int(line_sw[0])]))  # warm-up
    states = [topo.make_state(open=[int(s)]) for s in line_sw[:300]]
    t0 = time.perf_counter()
    for s in states:
        check_capacity(pf, topo, s)
    elapsed = time.perf_counter() - t0
    print(f"\n[powerflow] {len(states)} capacity checks on mv_oberrhein: {elapsed * 1e3:.1f} ms")
    assert all(np.isfinite(check_capacity(pf, topo, s).max_loading_percent) for s in states[:20])
