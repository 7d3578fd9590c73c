"""Single-fault sweep and tripping devices against independent references (tests/naive.py).

Every expectation here comes from pandapower (``unsupplied_buses`` before/after,
or ``create_nxgraph`` + connected components) or from a networkx walk on a graph
built in tests/naive.py - never from gridsim's own output.
"""
from __future__ import annotations

import copy

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest

import naive
from gridsim.core import compile_topology, find_affected, sweep_single_faults

SIMBENCH = ["1-MVLV-urban-all-0-sw", "1-EHVHVMVLV-mixed-all-0-sw"]


# --------------------------------------------------------------------------- nets

@pytest.fixture(scope="module")
def cigre_net():
    return pn.create_cigre_network_mv(with_der=False)


@pytest.fixture(scope="module")
def oberrhein_net():
    return pn.mv_oberrhein()


@pytest.fixture(scope="module")
def schutterwald_net():
    return pn.lv_schutterwald()


def hand_net():
    """Trafo3w, bus-bus switches, a trafo, a slack gen as a second source, a parallel line.

    ::

        ext_grid                                              gen (slack)
           |                                                      |
          b0 110 kV                                              b9 20 kV
           | (CB sw0 on the trafo3w at b0)                        |
        [trafo3w 0]--mv-- b1 --L0-- b3 --L1-- b4 =sw3 CB= b5 --L2-- b6 --L4-- b9
           |              |   (CB sw1   (recloser on L1     (bus-bus)     (LBS sw5 at b6, OPEN tie)
           lv             |    at b1)    at b4: downstream end)
           |           trafo 0
          b2 10 kV        |
           |             b10 0.4 kV --L5-- b11 --L6-- b12
           L3 (CB sw2 at b2)      (fuse at b10)  \\--L8--/  (L8 parallel to L6, out of service)
           |
          b7 =sw4 DS= b8 --L7-- b13     (fuse on L7, bus unknown)
                (bus-bus)
    """
    net = pp.create_empty_network()
    kv = {0: 110.0, 2: 10.0, 7: 10.0, 8: 10.0, 13: 10.0, 10: 0.4, 11: 0.4, 12: 0.4}
    b = [pp.create_bus(net, vn_kv=kv.get(i, 20.0), name=f"b{i}") for i in range(14)]
    pp.create_ext_grid(net, b[0])
    pp.create_gen(net, b[9], p_mw=0.0, vm_pu=1.0, slack=True)
    pp.create_transformer3w(net, b[0], b[1], b[2], std_type="63/25/38 MVA 110/20/10 kV")
    pp.create_transformer(net, b[1], b[10], std_type="0.4 MVA 20/0.4 kV")
    mv = "NA2XS2Y 1x95 RM/25 12/20 kV"
    lv = "NAYY 4x50 SE"
    # L0..L8 as in the sketch
    for f, t, typ in [(1, 3, mv), (3, 4, mv), (5, 6, mv), (2, 7, mv), (6, 9, mv), (10, 11, lv),
                      (11, 12, lv), (8, 13, mv), (11, 12, lv)]:
        pp.create_line(net, b[f], b[t], length_km=1.0, std_type=typ)
    net.line.loc[8, "in_service"] = False
    pp.create_switch(net, b[0], 0, et="t3", type="CB")
    pp.create_switch(net, b[1], 0, et="l", type="CB")
    pp.create_switch(net, b[2], 3, et="l", type="CB")
    pp.create_switch(net, b[4], b[5], et="b", type="CB")
    pp.create_switch(net, b[7], b[8], et="b", type="DS")
    pp.create_switch(net, b[6], 4, et="l", type="LBS", closed=False)
    return net


HAND_EXTRA = [
    {"kind": "recloser", "element_type": "line", "element_id": 1, "bus": 4},
    {"kind": "fuse", "element_type": "line", "element_id": 5, "bus": 10},
    {"kind": "fuse", "element_type": "line", "element_id": 7, "bus": -1},
]


def _random_variant(net, seed, *, n_close=2, n_open=3, n_out=3, trafo_out=True):
    """Copy of ``net`` with ties closed (meshed operation), switches opened, lines / a trafo out."""
    rng = np.random.default_rng(seed)
    v = copy.deepcopy(net)
    sw = v.switch
    opened = sw.index[~sw.closed.astype(bool)].to_numpy()
    closed = sw.index[sw.closed.astype(bool)].to_numpy()
    if len(opened):
        v.switch.loc[rng.choice(opened, min(n_close, len(opened)), replace=False), "closed"] = True
    if len(closed):
        v.switch.loc[rng.choice(closed, min(n_open, len(closed)), replace=False), "closed"] = False
    v.line.loc[rng.choice(v.line.index.to_numpy(), n_out, replace=False), "in_service"] = False
    if trafo_out and len(v.trafo) > 1:
        v.trafo.loc[rng.choice(v.trafo.index.to_numpy()), "in_service"] = False
    return v


# --------------------------------------------------------------------------- checks

def check_sweep_pandapower(net, model, topo, state=None):
    """Every row of the sweep vs pandapower's unsupplied_buses with the element out."""
    df = sweep_single_faults(topo, state)
    assert len(df) == len(net.line) + len(net.trafo) + len(net.trafo3w) + int((net.switch.et == "b").sum()) \
        + len(net.bus)
    cix = naive.CustomerIndex(model.customers)
    bad = []
    for r in df.itertuples():
        lost = naive.unsupplied_after(net, r.element_type, r.element_id)
        cust, crit = cix.totals(lost)
        got = (r.buses_unsupplied, r.customers_unsupplied, r.critical_unsupplied)
        if got != (len(lost), cust, crit):
            bad.append((r.element_type, r.element_id, got, (len(lost), cust, crit)))
    assert not bad, f"{len(bad)} faults differ from pandapower, e.g. {bad[:5]}"
    return df


def check_sweep_graph(net, model, topo, rows=None):
    """Sweep rows vs connected components on pandapower's create_nxgraph(net)."""
    df = sweep_single_faults(topo)
    if rows is not None:
        df = df.iloc[rows]
    ref = naive.GraphReference(net)
    cix = naive.CustomerIndex(model.customers)
    bad = []
    for r in df.itertuples():
        lost = ref.lost([(r.element_type, r.element_id)])
        exp = (len(lost), *cix.totals(lost))
        got = (r.buses_unsupplied, r.customers_unsupplied, r.critical_unsupplied)
        if got != exp:
            bad.append((r.element_type, r.element_id, got, exp))
    assert not bad, f"{len(bad)} of {len(df)} faults differ from the reference, e.g. {bad[:5]}"


def check_trips_radial(net, model, topo):
    """Tripping device and customers interrupted vs the walk towards the source."""
    g = naive.grid_graph(net)
    assert naive.is_radial(g), "this check needs radial operation"
    trips = naive.TripReference(g, naive.protective_devices(model.devices))
    ref = naive.GraphReference(net)
    cix = naive.CustomerIndex(model.customers)
    df = sweep_single_faults(topo)
    bad, n_dev = [], 0
    for r in df.itertuples():
        fault = (r.element_type, int(r.element_id))
        devs, branch = trips.expected(fault)
        lost = ref.lost([fault], [branch] if branch else [])
        exp_int = cix.totals(lost)[0]
        ok_dev = (r.tripping_device in devs) if devs else (r.tripping_device == "")
        if not ok_dev or r.customers_interrupted != exp_int:
            bad.append((fault, r.tripping_device, sorted(devs), r.customers_interrupted, exp_int))
        n_dev += bool(devs)
    assert not bad, f"{len(bad)} trips differ, e.g. {bad[:5]}"
    assert n_dev > 0, "the net has no protective device: the check would be empty"


def check_trip_identity(net, model, topo):
    """Meshed operation: when a device is given, customers_interrupted equals the
    customers unsupplied with the fault out and the device's branch opened."""
    df = sweep_single_faults(topo)
    dev = model.devices.set_index("device_id")
    ref = naive.GraphReference(net)
    cix = naive.CustomerIndex(model.customers)
    bad, n = [], 0
    for r in df[df.tripping_device != ""].itertuples():
        d = dev.loc[r.tripping_device]
        branch = (d.element_type, int(d.element_id), int(d.bus))
        lost = ref.lost([(r.element_type, int(r.element_id))], [branch])
        exp = cix.totals(lost)[0]
        n += 1
        if r.customers_interrupted != exp:
            bad.append((r.element_type, r.element_id, r.tripping_device, r.customers_interrupted, exp))
    assert not bad, f"{len(bad)} of {n} trips break the identity, e.g. {bad[:5]}"


# --------------------------------------------------------------------------- the reference itself

def test_graph_reference_agrees_with_unsupplied_buses(cigre_net):
    """GraphReference (used for the big nets) answers like pandapower's unsupplied_buses."""
    for net in (cigre_net, hand_net(), _random_variant(cigre_net, 3)):
        ref = naive.GraphReference(net)
        for etype, table in (("line", net.line), ("trafo", net.trafo), ("trafo3w", net.trafo3w),
                             ("bus", net.bus), ("switch", net.switch[net.switch.et == "b"])):
            for eid in table.index:
                assert ref.lost([(etype, eid)]) == naive.unsupplied_after(net, etype, eid), (etype, eid)


# --------------------------------------------------------------------------- bundled pandapower nets

def test_sweep_cigre_every_fault(cigre_net):
    model = naive.model_from_net(cigre_net, seed=1)
    df = check_sweep_pandapower(cigre_net, model, compile_topology(model))
    assert df.customers_unsupplied.sum() > 0


def test_sweep_oberrhein_every_fault(oberrhein_net):
    model = naive.model_from_net(oberrhein_net, seed=2)
    check_sweep_pandapower(oberrhein_net, model, compile_topology(model))


def test_sweep_schutterwald_every_fault(schutterwald_net):
    model = naive.model_from_net(schutterwald_net, seed=3)
    check_sweep_graph(schutterwald_net, model, compile_topology(model))


def test_sweep_with_derived_customers(oberrhein_net):
    """Customers from gridsim's derive_customers (loads) instead of random ones."""
    from gridsim.model import derive_customers
    model = naive.model_from_net(oberrhein_net, customers=derive_customers(oberrhein_net))
    check_sweep_graph(oberrhein_net, model, compile_topology(model))


@pytest.mark.parametrize("which,seed", [("cigre", 0), ("cigre", 1), ("cigre", 2), ("oberrhein", 0),
                                        ("oberrhein", 1), ("oberrhein", 2), ("schutterwald", 0)])
def test_sweep_variants(which, seed, request):
    """Ties closed (meshed operation), switches opened, lines and a trafo out of service."""
    net = request.getfixturevalue(f"{which}_net")
    v = _random_variant(net, seed)
    model = naive.model_from_net(v, seed=seed)
    topo = compile_topology(model)
    if which == "schutterwald" or seed > 0:  # pandapower's own graph, built once (much faster)
        check_sweep_graph(v, model, topo)
        check_trip_identity(v, model, topo)
    else:
        check_sweep_pandapower(v, model, topo)
        check_trip_identity(v, model, topo)


def test_sweep_state_matches_compiled_variant(oberrhein_net):
    """Switch changes given as a State give the same answer as a net compiled with them."""
    rng = np.random.default_rng(7)
    sw = oberrhein_net.switch
    to_close = rng.choice(sw.index[~sw.closed].to_numpy(), 3, replace=False)
    to_open = rng.choice(sw.index[sw.closed].to_numpy(), 4, replace=False)
    model = naive.model_from_net(oberrhein_net, seed=4)
    topo = compile_topology(model)
    state = topo.make_state(open=[f"switch:{s}" for s in to_open], close=list(to_close))
    v = copy.deepcopy(oberrhein_net)
    v.switch.loc[to_close, "closed"] = True
    v.switch.loc[to_open, "closed"] = False
    check_sweep_pandapower(v, naive.model_from_net(v, customers=model.customers), topo, state)


def test_sweep_hand_net():
    net = hand_net()
    model = naive.model_from_net(net, devices_extra=HAND_EXTRA, seed=5)
    topo = compile_topology(model)
    df = check_sweep_pandapower(net, model, topo)
    # the trafo3w fault takes b1..b8, b10..b13 but not b9 (the slack gen's bus)
    row = df[(df.element_type == "trafo3w")].iloc[0]
    assert row.buses_unsupplied == 12
    check_trips_radial(net, model, topo)


def test_sweep_hand_net_meshed():
    """Tie L4 closed (two sources in parallel) and parallel line L8 in service."""
    net = hand_net()
    net.switch.loc[5, "closed"] = True
    net.line.loc[8, "in_service"] = True
    model = naive.model_from_net(net, devices_extra=HAND_EXTRA, seed=6)
    topo = compile_topology(model)
    assert not naive.is_radial(naive.grid_graph(net))
    df = check_sweep_pandapower(net, model, topo)
    check_trip_identity(net, model, topo)
    # with both sources the trafo3w fault only loses the 10 kV side and the 0.4 kV side
    row = df[(df.element_type == "trafo3w")].iloc[0]
    assert row.buses_unsupplied == 4  # b2, b7, b8, b13 (b1.. fed by the gen through the tie)


# --------------------------------------------------------------------------- tripping devices

def _random_protection(net, seed, n=8):
    """Fuses and reclosers on random lines at a random end (sometimes unknown)."""
    rng = np.random.default_rng(seed)
    out = []
    for lid in rng.choice(net.line.index.to_numpy(), min(n, len(net.line)), replace=False):
        ends = [int(net.line.at[lid, "from_bus"]), int(net.line.at[lid, "to_bus"]), -1]
        out.append({"kind": str(rng.choice(["fuse", "recloser"])), "element_type": "line",
                    "element_id": int(lid), "bus": int(rng.choice(ends))})
    return out


@pytest.mark.parametrize("which", ["cigre", "oberrhein"])
def test_tripping_radial(which, request):
    """Fails without the _upstream_protection fix in gridsim/core/impact.py (oberrhein
    line 162: CB at the upstream end, recloser at the downstream end)."""
    net = request.getfixturevalue(f"{which}_net")
    model = naive.model_from_net(net, devices_extra=_random_protection(net, 11, n=30), seed=8)
    check_trips_radial(net, model, compile_topology(model))


def test_tripping_schutterwald_identity(schutterwald_net):
    """schutterwald as loaded is not radial (closed loops): check the identity only."""
    net = schutterwald_net
    model = naive.model_from_net(net, devices_extra=_random_protection(net, 11, n=30), seed=8)
    check_trip_identity(net, model, compile_topology(model))


@pytest.mark.parametrize("seed", range(4))
def test_tripping_hand_net_random_protection(seed):
    net = hand_net()
    model = naive.model_from_net(net, devices_extra=_random_protection(net, seed, n=5), seed=seed)
    check_trips_radial(net, model, compile_topology(model))


def test_find_affected_trips_agree_with_sweep(cigre_net):
    """find_affected reports, per fault, the same trip as the sweep row (checked above)."""
    model = naive.model_from_net(cigre_net, devices_extra=_random_protection(cigre_net, 1), seed=9)
    topo = compile_topology(model)
    df = sweep_single_faults(topo).set_index(["element_type", "element_id"])
    trips = naive.TripReference(naive.grid_graph(cigre_net), naive.protective_devices(model.devices))
    for lid in cigre_net.line.index:
        imp = find_affected(topo, [f"line:{lid}"])
        devs, _ = trips.expected(("line", lid))
        (trip,) = imp.trips
        assert (trip.device in devs) if devs else trip.device == ""
        assert trip.customers_interrupted == df.loc[("line", lid), "customers_interrupted"]


# --------------------------------------------------------------------------- SimBench

@pytest.fixture(scope="module")
def simbench_nets():
    sb = pytest.importorskip("simbench")
    cache = {}

    def get(code):
        if code not in cache:
            cache[code] = sb.get_simbench_net(code)
        return cache[code]
    return get


@pytest.mark.parametrize("code", SIMBENCH)
def test_sweep_simbench_sample(code, simbench_nets):
    net = simbench_nets(code)
    model = naive.model_from_net(net, seed=12)
    topo = compile_topology(model)
    rows = np.random.default_rng(2024).choice(topo.n_elements, 300, replace=False)
    check_sweep_graph(net, model, topo, rows=rows)


@pytest.mark.full
@pytest.mark.parametrize("code", SIMBENCH)
def test_sweep_simbench_every_fault(code, simbench_nets):
    net = simbench_nets(code)
    model = naive.model_from_net(net, seed=12)
    check_sweep_graph(net, model, compile_topology(model))
