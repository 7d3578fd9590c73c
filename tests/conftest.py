"""Shared fixtures: bundled models loaded once per session, and a tiny hand-built net."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def bundled_model():
    """``bundled_model(name)`` -> Model, each bundled model loaded once per session (do not modify it)."""
    from gridsim.model import load_model

    cache: dict = {}

    def get(name: str):
        if name not in cache:
            cache[name] = load_model(name)
        return cache[name]

    return get


@pytest.fixture
def tiny_net():
    """A 4-bus radial MV net.

    ::

        ext_grid
           |
          b0 --line0-- b1 --line1-- b2
                        \\
                         line2-- b3     (switch 0: CB on line0 at b0,
                                         switch 1: LBS on line2 at b1)
        loads at b2 and b3
    """
    import pandapower as pp

    net = pp.create_empty_network()
    b = [pp.create_bus(net, vn_kv=20.0, name=f"b{i}") for i in range(4)]
    pp.create_ext_grid(net, b[0])
    pp.create_line(net, b[0], b[1], length_km=1.0, std_type="NA2XS2Y 1x95 RM/25 12/20 kV")
    pp.create_line(net, b[1], b[2], length_km=2.0, std_type="NA2XS2Y 1x95 RM/25 12/20 kV")
    pp.create_line(net, b[1], b[3], length_km=1.5, std_type="NA2XS2Y 1x95 RM/25 12/20 kV")
    pp.create_switch(net, b[0], 0, et="l", type="CB")
    pp.create_switch(net, b[1], 2, et="l", type="LBS")
    pp.create_load(net, b[2], p_mw=0.4)
    pp.create_load(net, b[3], p_mw=0.1)
    return net


@pytest.fixture
def make_model():
    """``make_model(net, meta=None, customers=None)`` -> Model with derived customers and devices."""
    from gridsim.model import Model, build_device_table, derive_customers

    def make(net, meta=None, customers=None):
        meta = meta or {}
        cust = customers if customers is not None else derive_customers(net)
        return Model(name="test", net=net, customers=cust, devices=build_device_table(net, meta), meta=meta)

    return make
