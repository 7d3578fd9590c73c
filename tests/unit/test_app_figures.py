"""The web app's figures are pure functions of a topology and a live snapshot (no browser, no server).

The map of a snapshot, patched with :func:`map_patch` from an older snapshot, must equal the map drawn from
scratch: the patch is applied here with a small re-implementation of Dash's client-side patch operations.
"""
import copy

import numpy as np
import pytest

from gridsim.app.figures import (DEAD, ENERGIZED, FAULTED, ISOLATED, STATE_NAMES, background_image, is_big,
                                 kpi_items, map_figure, map_geometry, map_patch, map_state, outage_rows,
                                 sparkline_figure, switching_plan_rows)
from gridsim.live import LiveEngine
from gridsim.live.replay import scenario_crews, scenario_events
from gridsim.scenarios import load_scenario


def apply_patch(fig: dict, patch) -> dict:
    """Dash's Patch operations (the ones map_patch uses) applied to a figure dict."""
    fig = copy.deepcopy(fig)
    for op in patch.to_plotly_json()["operations"]:
        *path, last = op["location"]
        node = fig
        for k in path:
            node = node[k]
        assert op["operation"] == "Assign", op
        node[last] = op["params"]["value"]
    return fig


def _plain(fig):
    """Comparable form: typed arrays stay as they are, everything else as JSON values."""
    return fig


@pytest.fixture(scope="module")
def storm():
    sc = load_scenario("scenarios/storm_small.yaml")
    events = scenario_events(sc)
    eng = LiveEngine(sc.model, db=":memory:", options={"crews": scenario_crews(sc)})
    return eng, events


def test_geometry_draws_every_bus_and_segment(storm):
    eng, _ = storm
    g = map_geometry(eng.topo, eng.model)
    assert g.n_bus == len(eng.model.net.bus)
    assert np.isfinite(g.bus_xy).all()
    assert g.n_seg >= len(eng.model.net.line[eng.model.net.line.in_service])
    assert not is_big(g)
    fig = map_figure(g, map_state(g, eng.snapshot()), snap=eng.snapshot())
    buses = fig["data"][g.trace["buses"]]
    assert len(buses["customdata"]) == g.n_bus and len(buses["marker"]["color"]) == g.n_bus
    assert all(t["type"] == "scatter" for t in fig["data"]), "no WebGL on the live map"
    crit = [fig["data"][g.trace[f"critical: {c}"]] for c in g.crit]
    n_crit = eng.model.customers["class"].isin(["hospital", "station", "water", "telecom", "government"]).sum()
    assert sum(len(t["x"]) for t in crit) == n_crit
    assert fig["layout"]["uirevision"] and "images" not in fig["layout"]


def test_states_follow_the_storm_and_patches_rebuild_the_full_figure(storm):
    eng, events = storm
    g = map_geometry(eng.topo, eng.model)
    s0 = eng.snapshot()
    st0 = map_state(g, s0)
    assert (st0.bus_code == ENERGIZED).all()
    fig = map_figure(g, st0, snap=s0)
    seen = set()
    prev = st0
    for k, e in enumerate(events[:400]):
        eng.apply(e)
        if k % 23:
            continue
        snap = eng.snapshot()
        st = map_state(g, snap)
        seen |= set(np.unique(st.bus_code).tolist()) | set(np.unique(st.seg_code).tolist())
        p = map_patch(g, prev, st, snap=snap)
        if p is not None:
            fig = apply_patch(fig, p)
        full = map_figure(g, st, snap=snap)
        for i, (a, b) in enumerate(zip(fig["data"], full["data"])):
            if i == g.trace["highlight"]:
                continue
            assert a == b, f"trace {i} ({b['name']}) differs after event {k}"
        prev = st
    assert {ENERGIZED, DEAD, FAULTED} <= seen
    assert map_patch(g, prev, prev) is None


def test_patch_of_a_small_change_is_small(storm):
    eng, events = storm
    g = map_geometry(eng.topo, eng.model)
    st = map_state(g, eng.snapshot())
    code = st.bus_code.copy()
    code[:5] = DEAD
    new = type(st)(**{**st.__dict__, "bus_code": code, "version": st.version + 1})
    p = map_patch(g, st, new)
    ops = p.to_plotly_json()["operations"]
    assert 5 <= len(ops) <= 12
    assert all(op["location"][:2] == ["data", g.trace["buses"]] or op["location"][0] == "layout" for op in ops)


def test_big_model_draws_the_network_as_one_image():
    eng = LiveEngine("sb_mvlv_urban", db=":memory:")
    g = map_geometry(eng.topo, eng.model)
    assert is_big(g)
    bg = background_image(g, width_px=600)
    assert bg["source"].startswith("data:image/png;base64,")
    st = map_state(g, eng.snapshot())
    fig = map_figure(g, st, background=bg)
    assert fig["layout"]["images"][0]["source"] == bg["source"]
    assert len(fig["data"][g.trace["buses"]]["x"]) == 0          # all energized: in the image
    code = st.bus_code.copy()
    code[:100] = DEAD
    new = type(st)(**{**st.__dict__, "bus_code": code, "version": st.version + 1})
    import json

    import plotly.io.json as pj
    text = pj.to_json_plotly(map_patch(g, st, new))
    assert len(text) < 50_000
    assert len(json.loads(text)["operations"]) == 2               # the bus overlay and the version


def test_state_names_and_isolation():
    assert STATE_NAMES[ISOLATED] == "isolated"


def test_kpis_tables_and_sparkline(storm):
    eng, events = storm
    for e in events[:60]:
        eng.apply(e)
    snap = eng.snapshot()
    items = dict((k, v) for k, _, v in kpi_items(snap, {"cs.sms": 3, "cs.ivr": 0}))
    assert items["customers-out"] == f"{snap.kpis['customers_out']:,}"
    assert items["queues"].startswith("3")
    rows = outage_rows(snap)
    assert rows and {"id", "status", "customers_out", "critical", "etr", "owner", "deadline"} <= set(rows[0])
    flisr = next(o["flisr"] for o in snap.outages if o.get("flisr"))
    steps = switching_plan_rows(flisr)
    assert steps and any(r["max_loading_percent"] for r in steps if r["purpose"] == "transfer")
    sp = sparkline_figure(snap.customers_out_series)
    assert len(sp["data"][0]["x"]) == len(snap.customers_out_series)
