"""Multi-fault scenarios, reachability and random networks against networkx / pandapower
references built in tests/naive.py (never from gridsim's own output)."""
from __future__ import annotations

import copy

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import naive
from gridsim.core import compile_topology, energized, find_affected, sweep_single_faults, sweep_storms
from gridsim.types import CRITICAL_CLASSES, CLASS_ORDER

CRIT_VALUES = [c.value for c in CLASS_ORDER if c in CRITICAL_CLASSES]


@pytest.fixture(scope="module")
def oberrhein():
    net = pn.mv_oberrhein()
    model = naive.model_from_net(net, seed=21)
    return net, model, compile_topology(model)


def _elements(net):
    out = [("line", i) for i in net.line.index] + [("trafo", i) for i in net.trafo.index]
    out += [("trafo3w", i) for i in net.trafo3w.index] + [("bus", i) for i in net.bus.index]
    out += [("switch", i) for i in net.switch.index[net.switch.et == "b"]]
    return out


def _meshed_state(net, topo, rng, n_close=3):
    """Close some normally-open switches (ties): meshed operation. Returns (state, switch_closed)."""
    opened = net.switch.index[~net.switch.closed].to_numpy()
    close = rng.choice(opened, min(n_close, len(opened)), replace=False)
    state = topo.make_state(close=list(close))
    return state, state.switch_closed


def check_find_affected(net, model, topo, state, switch_closed, rng, n=40, base_faults=()):
    g = naive.grid_graph(net, switch_closed)
    elems = _elements(net)
    for _ in range(n):
        k = int(rng.integers(1, 6))
        faults = [elems[i] for i in rng.choice(len(elems), k, replace=False)]
        imp = find_affected(topo, [f"{t}:{i}" for t, i in faults], state, customer_ids=True)
        lost = naive.lost_buses(g, faults, base_faults)
        cust, crit, by_class = naive.customer_totals(model.customers, lost)
        assert set(int(b) for b in imp.buses) == lost, faults
        assert (imp.customers, imp.critical, imp.by_class) == (cust, crit, by_class), faults
        assert set(str(c) for c in imp.customer_ids) == naive.customer_ids_on(model.customers, lost)


def test_find_affected_radial(oberrhein):
    net, model, topo = oberrhein
    assert naive.is_radial(naive.grid_graph(net))
    check_find_affected(net, model, topo, None, None, np.random.default_rng(1))


def test_find_affected_meshed(oberrhein):
    net, model, topo = oberrhein
    rng = np.random.default_rng(2)
    state, closed = _meshed_state(net, topo, rng)
    assert not naive.is_radial(naive.grid_graph(net, closed))
    check_find_affected(net, model, topo, state, closed, rng)


def test_find_affected_on_top_of_faulted_state(oberrhein):
    """Counts exclude what the state's own faults already cut off."""
    net, model, topo = oberrhein
    rng = np.random.default_rng(3)
    base = [("line", int(net.line.index[40])), ("bus", int(net.bus.index[100]))]
    for closed_ties in (False, True):
        state = topo.make_state(faults=[f"{t}:{i}" for t, i in base])
        closed = None
        if closed_ties:
            state, closed = _meshed_state(net, topo, rng)
            state = topo.make_state(faults=[f"{t}:{i}" for t, i in base], base=state)
        check_find_affected(net, model, topo, state, closed, rng, n=20, base_faults=base)


def test_energized(oberrhein):
    net, model, topo = oberrhein
    rng = np.random.default_rng(4)
    elems = _elements(net)
    for meshed in (False, True, True):
        state, closed = _meshed_state(net, topo, rng) if meshed else (topo.base_state(), None)
        faults = [elems[i] for i in rng.choice(len(elems), 4, replace=False)]
        state = topo.make_state(faults=[f"{t}:{i}" for t, i in faults], base=state)
        exp = naive.supplied_buses(naive.grid_graph(net, closed), faults)
        got = energized(topo, state)
        assert set(int(b) for b in got.index[got.to_numpy()]) == exp
        assert set(got.index) == set(net.bus.index)


def _scenarios(topo, n_elem, rng, n=120):
    sizes = rng.integers(0, 8, n)
    pos = [rng.choice(n_elem, k, replace=True) for k in sizes]  # repeats allowed on purpose
    indptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return pos, (indptr, np.concatenate(pos).astype(np.int64))


@pytest.mark.parametrize("meshed", [False, True])
def test_sweep_storms(oberrhein, meshed):
    net, model, topo = oberrhein
    rng = np.random.default_rng(5 + meshed)
    state, closed = _meshed_state(net, topo, rng) if meshed else (None, None)
    g = naive.grid_graph(net, closed)
    pos, csr = _scenarios(topo, topo.n_elements, rng)
    res = sweep_storms(topo, csr, state)
    assert res.method == ("bfs" if meshed else "intervals")
    labels = [[topo.element_label(p) for p in ps] for ps in pos]
    res2 = sweep_storms(topo, labels, state)  # list-of-lists input
    for s, lab in enumerate(labels):
        faults = [(x.split(":")[0], int(x.split(":")[1])) for x in lab]
        lost = naive.lost_buses(g, faults)
        cust, crit, by_class = naive.customer_totals(model.customers, lost)
        exp = (len(lost), cust, crit)
        assert (res.buses[s], res.customers[s], res.critical[s]) == exp, lab
        assert (res2.buses[s], res2.customers[s], res2.critical[s]) == exp, lab
        assert {c: int(res.critical_by_class[c][s]) for c in CRIT_VALUES} == \
            {c: by_class.get(c, 0) for c in CRIT_VALUES}
    assert res.customers.sum() > 0 and res.critical.sum() > 0


# --------------------------------------------------------------------------- random networks

@st.composite
def random_nets(draw):
    """A random tree of 3..14 buses, plus extra lines (meshes), parallel lines,
    bus-bus switches, 1..3 ext_grids, random open switches and out-of-service
    lines / buses. (No fixed sketch: the shape is drawn.)"""
    n = draw(st.integers(3, 14))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    net = pp.create_empty_network()
    for _ in range(n):
        pp.create_bus(net, vn_kv=20.0)
    lt = "NA2XS2Y 1x95 RM/25 12/20 kV"
    for v in range(1, n):
        u = int(rng.integers(0, v))
        if rng.random() < 0.15:  # a bus-bus switch instead of a line
            pp.create_switch(net, u, v, et="b", type=str(rng.choice(["CB", "DS", "LBS"])))
        else:
            lid = pp.create_line(net, u, v, length_km=1.0, std_type=lt)
            if rng.random() < 0.3:
                pp.create_switch(net, int(rng.choice([u, v])), lid, et="l",
                                 type=str(rng.choice(["CB", "LBS"])), closed=bool(rng.random() < 0.8))
    for _ in range(draw(st.integers(0, 3))):  # extra lines: meshes or parallel lines
        u, v = (int(x) for x in rng.integers(0, n, 2))
        if u != v:
            lid = pp.create_line(net, u, v, length_km=1.0, std_type=lt)
            if rng.random() < 0.5:
                pp.create_switch(net, u, lid, et="l", type="LBS", closed=bool(rng.random() < 0.5))
    if len(net.line) > 1 and rng.random() < 0.3:  # a parallel line
        f, t = net.line.iloc[0][["from_bus", "to_bus"]]
        pp.create_line(net, int(f), int(t), length_km=1.0, std_type=lt)
    for b in rng.choice(n, int(rng.integers(1, 4)), replace=False):
        pp.create_ext_grid(net, int(b))
    if len(net.line) and rng.random() < 0.3:  # (a tree of one bus has no line)
        net.line.loc[rng.choice(net.line.index.to_numpy()), "in_service"] = False
    if rng.random() < 0.2:
        net.bus.loc[int(rng.integers(0, n)), "in_service"] = False
    return net, seed


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_nets())
def test_random_nets_sweep_and_find_affected(arg):
    net, seed = arg
    model = naive.model_from_net(net, seed=seed % 1000)
    topo = compile_topology(model)
    cix = naive.CustomerIndex(model.customers)
    df = sweep_single_faults(topo)
    for r in df.itertuples():
        lost = naive.unsupplied_after(net, r.element_type, r.element_id)
        assert (r.buses_unsupplied, r.customers_unsupplied, r.critical_unsupplied) == (len(lost), *cix.totals(lost)), \
            (r.element_type, r.element_id)
    g = naive.grid_graph(net)
    if naive.is_radial(g):
        trips = naive.TripReference(g, naive.protective_devices(model.devices))
        ref = naive.GraphReference(net)
        for r in df.itertuples():
            devs, branch = trips.expected((r.element_type, r.element_id))
            assert (r.tripping_device in devs) if devs else r.tripping_device == ""
            lost = ref.lost([(r.element_type, r.element_id)], [branch] if branch else [])
            assert r.customers_interrupted == cix.totals(lost)[0]
    rng = np.random.default_rng(seed)
    elems = _elements(net)
    for _ in range(3):
        faults = [elems[i] for i in rng.choice(len(elems), int(rng.integers(1, min(5, len(elems)) + 1)),
                                               replace=False)]
        imp = find_affected(topo, [f"{t}:{i}" for t, i in faults])
        lost = naive.lost_buses(g, faults)
        assert set(int(b) for b in imp.buses) == lost
        assert imp.customers == cix.totals(lost)[0]
        res = sweep_storms(topo, [[f"{t}:{i}" for t, i in faults]])
        assert (res.buses[0], res.customers[0], res.critical[0]) == (len(lost), *cix.totals(lost))
