"""gridsim.model.synth: synthetic radial MV systems of exactly N buses."""
from __future__ import annotations

import copy
import json

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from gridsim.model.model import CUSTOMER_COLUMNS, DEVICE_COLUMNS, Model
from gridsim.model.synth import make_synthetic
from gridsim.types import CRITICAL_CLASSES, DEFAULT_PRIORITY

pp = pytest.importorskip("pandapower")
topology = pytest.importorskip("pandapower.topology")


@pytest.fixture(scope="module")
def m2000() -> Model:
    return make_synthetic(2000)


@pytest.fixture(scope="module")
def m12345() -> Model:
    return make_synthetic(12345, seed=3)


def _graph(net, respect_switches=True):
    return topology.create_nxgraph(net, respect_switches=respect_switches, include_out_of_service=False)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 50, 1000, 12345])
def test_exact_bus_count(n):
    m = make_synthetic(n)
    assert len(m.net.bus) == n
    assert m.name == m.spec == f"synth:{n}"
    assert list(m.devices.columns) == list(DEVICE_COLUMNS)
    assert list(m.customers.columns[: len(CUSTOMER_COLUMNS)]) == list(CUSTOMER_COLUMNS)


def test_name_with_seed():
    m = make_synthetic(60, seed=5)
    assert m.name == "synth:60:5"
    assert m.meta["source"] == {**m.meta["source"], "generator": "gridsim.model.synth", "n_buses": 60, "seed": 5}
    assert set(m.meta) >= {"source", "customers", "devices", "switching"}


def test_invalid_size():
    with pytest.raises(ValueError):
        make_synthetic(0)


def test_deterministic():
    a, b, c = make_synthetic(3000, seed=1), make_synthetic(3000, seed=1), make_synthetic(3000, seed=2)
    for table in ("bus", "line", "switch", "load", "trafo", "ext_grid"):
        pd.testing.assert_frame_equal(a.net[table], b.net[table])
    pd.testing.assert_frame_equal(a.customers, b.customers)
    pd.testing.assert_frame_equal(a.devices, b.devices)
    assert not a.net.line[["from_bus", "to_bus"]].equals(c.net.line[["from_bus", "to_bus"]])
    assert not np.allclose(a.net.load["p_mw"].sum(), c.net.load["p_mw"].sum())


@pytest.mark.parametrize("fixture", ["m2000", "m12345"])
def test_radial_in_operation_meshed_with_ties(fixture, request):
    net = request.getfixturevalue(fixture).net
    g = _graph(net)
    assert nx.is_connected(g)
    assert g.number_of_nodes() == len(net.bus)
    assert g.number_of_edges() == g.number_of_nodes() - 1
    ties = net.switch[~net.switch["closed"]]
    assert len(ties) > 0 and (ties["type"] == "LBS").all() and (ties["et"] == "l").all()
    closed = copy.deepcopy(net)
    closed.switch["closed"] = True
    g2 = _graph(closed)
    assert g2.number_of_edges() == g2.number_of_nodes() - 1 + len(ties)
    assert len(nx.cycle_basis(nx.Graph(g2))) == len(ties)


def test_substations_and_ties_between_substations():
    m = make_synthetic(40000)
    net = m.net
    assert net.bus.loc[0, "vn_kv"] == 110.0 and list(net.ext_grid["bus"]) == [0]
    assert len(net.trafo) == m.meta["source"]["substations"] == 8
    assert set(net.trafo["hv_bus"]) == {0}
    # substation of every feeder bus, from the feeder head lines
    head = net.line[net.line["from_bus"].isin(net.trafo["lv_bus"])]
    feeder_sub = pd.Series(head["from_bus"].to_numpy(), index=net.bus.loc[head["to_bus"], "feeder"].to_numpy())
    ties = net.switch[~net.switch["closed"]]
    ends = net.line.loc[ties["element"], ["from_bus", "to_bus"]]
    sub_a = feeder_sub.loc[net.bus.loc[ends["from_bus"], "feeder"]].to_numpy()
    sub_b = feeder_sub.loc[net.bus.loc[ends["to_bus"], "feeder"]].to_numpy()
    cross = sub_a != sub_b
    assert cross.any() and not cross.all()
    assert 0.3 < ties.merge(m.devices, left_index=True, right_on="switch_id")["remote"].mean() < 0.7


def test_feeder_heads_carry_breakers(m2000):
    net, dev = m2000.net, m2000.devices
    subs = set(net.trafo["lv_bus"])
    heads = net.line[net.line["from_bus"].isin(subs)]
    n_feeders = m2000.meta["source"]["feeders"]
    assert 8 <= n_feeders <= 12 and len(heads) == n_feeders
    cb = net.switch[net.switch["type"] == "CB"]
    assert set(cb["element"]) == set(heads.index)
    assert (cb["closed"]).all() and (cb["et"] == "l").all()
    assert (cb["bus"].to_numpy() == net.line.loc[cb["element"], "from_bus"].to_numpy()).all()
    brk = dev[dev["kind"] == "breaker"]
    assert len(brk) == len(cb) and brk["remote"].all()


def test_device_table(m12345):
    net, dev = m12345.net, m12345.devices
    assert dev["device_id"].is_unique
    sw = dev[dev["origin"] == "pandapower"]
    assert len(sw) == len(net.switch)
    assert (sw["device_id"] == "switch:" + sw["switch_id"].astype(str)).all()
    s = net.switch.loc[sw["switch_id"]]
    assert (sw["element_id"].to_numpy() == s["element"].to_numpy()).all()
    assert (sw["bus"].to_numpy() == s["bus"].to_numpy()).all()
    assert (sw["normally_open"].to_numpy() == ~s["closed"].to_numpy()).all()
    assert set(sw["kind"]) == {"breaker", "load_break_switch"}
    lbs = sw[(sw["kind"] == "load_break_switch") & ~sw["normally_open"]]
    assert 0.1 < lbs["remote"].mean() < 0.5
    fuses = dev[dev["kind"] == "fuse"]
    assert len(fuses) > 0
    assert (fuses["origin"] == "model.yaml").all() and (fuses["switch_id"] == -1).all()
    assert (fuses["device_id"] == "fuse:line:" + fuses["element_id"].astype(str)).all()
    assert fuses["element_id"].isin(net.line.index).all()
    ends = net.line.loc[fuses["element_id"], ["from_bus", "to_bus"]].to_numpy()
    assert (ends[:, 0] == fuses["bus"].to_numpy()).all()


def test_customers(m12345):
    cust, net = m12345.customers, m12345.net
    assert cust["customer_id"].is_unique
    assert cust["bus"].isin(net.bus.index).all()
    assert (cust["count"] >= 1).all() and (cust["p_kw"] > 0).all()
    assert (cust["priority"] == cust["class"].map({c.value: w for c, w in DEFAULT_PRIORITY.items()})).all()
    per_load = cust[cust["customer_id"].str.startswith("L")]
    assert len(per_load) == len(net.load)
    res = per_load[per_load["class"] == "residential"]
    assert (res["count"] == np.maximum(1, np.round(res["p_kw"] / 2))).all()
    assert {"commercial", "industrial"} <= set(per_load["class"])
    assert set(cust["class"]) >= {c.value for c in CRITICAL_CLASSES}
    crit = cust[cust["class"].isin({c.value for c in CRITICAL_CLASSES})]
    assert 5 <= len(crit) <= 8 and (crit["count"] == 1).all()


def test_critical_classes_from_1000():
    cust = make_synthetic(1000).customers
    assert set(cust["class"]) >= {c.value for c in CRITICAL_CLASSES}


def test_geometry(m2000):
    net = m2000.net
    geo = net.bus["geo"].map(json.loads)
    assert (geo.map(lambda g: g["type"]) == "Point").all()
    lon = geo.map(lambda g: g["coordinates"][0]).to_numpy()
    assert np.all((lon > 5) & (lon < 20))
    tree = net.line[net.line["to_bus"].to_numpy() > net.line["from_bus"].to_numpy()]
    tree = tree[~tree.index.isin(net.switch.loc[~net.switch["closed"], "element"])]
    dx = net.bus["x"].to_numpy()[tree["from_bus"]] - net.bus["x"].to_numpy()[tree["to_bus"]]
    dy = net.bus["y"].to_numpy()[tree["from_bus"]] - net.bus["y"].to_numpy()[tree["to_bus"]]
    within = np.hypot(dx, dy) <= tree["length_km"].to_numpy() + 1e-3
    assert within.all()
    assert tree["length_km"].between(0.1, 0.5).all()


def test_power_flow_base_case(m2000):
    net = copy.deepcopy(m2000.net)
    pp.runpp(net, numba=False)  # pandapower's numba JIT costs ~15 s to compile; same results
    assert net.converged
    vm = net.res_bus["vm_pu"]
    assert vm.between(0.93, 1.07).all(), (vm.min(), vm.max())
    assert net.res_line["loading_percent"].max() < 100.0
    assert net.res_trafo["loading_percent"].max() < 100.0
    feeder_mw = net.load.groupby(net.bus.loc[net.load["bus"], "feeder"].to_numpy())["p_mw"].sum()
    assert feeder_mw.between(1.0, 8.0).all()
