"""Scenario files (gridsim.scenarios.schema) and the storm generator (gridsim.scenarios.storms).

Schema errors must be one line naming the file, the YAML line and the field;
every bundled scenario must load and fit its model; storms must be
reproducible per (seed, run) and shaped by the weights and the footprint.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gridsim.cli import main
from gridsim.core import compile_topology, sweep_storms
from gridsim.scenarios import (
    Cause, ScenarioError, StormSpec, check_against, element_weights, load_scenario, parse_scenario,
    sample_storms, sample_storms_csr, storm_from_faults, storms_to_csr,
)
from gridsim.scenarios.storms import element_kinds, element_xy_km
from gridsim.scenarios.schema import WEIGHT_KINDS

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
BUNDLED = ["single_fault.yaml", "planned_maintenance.yaml", "storm_small.yaml", "storm_montecarlo.yaml",
           "compare_strategies.yaml"]


@pytest.fixture(scope="module")
def topo_of():
    """``topo_of(name)`` -> compiled topology of a bundled model, once per module."""
    from gridsim.model import load_model

    cache: dict = {}

    def get(name):
        if name not in cache:
            cache[name] = compile_topology(load_model(name))
        return cache[name]

    return get


# --------------------------------------------------------------------------- bundled scenarios

def test_the_five_bundled_scenarios_exist():
    assert sorted(p.name for p in SCENARIOS.glob("*.yaml")) == sorted(BUNDLED)


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_scenario_loads_and_fits_its_model(name, topo_of):
    s = load_scenario(SCENARIOS / name)
    assert s.path == (SCENARIOS / name).resolve()
    topo = topo_of(s.model_ref())
    check_against(s, topo)  # every element, depot bus and the storm's weights fit the model
    assert s.faults or s.planned or s.storm


def test_bundled_scenarios_cover_every_section():
    s = {n: load_scenario(SCENARIOS / n) for n in BUNDLED}
    assert len(s["single_fault.yaml"].faults) == 1
    assert s["planned_maintenance.yaml"].planned[0].notice_days == 7
    small = s["storm_small.yaml"]
    assert len(small.faults) >= 3 and any(f.temporary for f in small.faults)
    assert {f.cause for f in small.faults} >= {Cause.WEATHER, Cause.VEGETATION}
    mc = s["storm_montecarlo.yaml"]
    assert mc.storm.footprint is not None and mc.runs > 1
    assert len(s["compare_strategies.yaml"].strategies) == 5


def test_defaults():
    s = parse_scenario("model: cigre_mv\n")
    assert s.faults == [] and s.planned == [] and s.storm is None
    assert s.crews.count == 2 and s.crews.depots == [] and s.crews.speed_kmh is None
    assert s.strategies == ["wspt"] and s.runs == 1 and s.seed == 0
    f = parse_scenario("model: m\nfaults: [{element: 'LINE : 3'}]\n").faults[0]
    assert (f.element, f.time_min, f.repair_min, f.cause, f.temporary) == ("line:3", 0.0, None, Cause.UNKNOWN, False)
    st = parse_scenario("model: m\nstorm: {n_faults: 4}\n").storm
    assert st.causes == {Cause.WEATHER: 1.0} and st.fraction_temporary == 0
    assert st.weights.resolved()["line_ol"] == 1.0
    assert parse_scenario("model: m\ncrews: {depots: ['bus:58', 3, [1.5, 2]], count: 3}\n").crews.depots == \
        [58, 3, (1.5, 2.0)]


def test_relative_model_and_customers_paths_resolve_against_the_file(tmp_path):
    (tmp_path / "net.json").write_text("{}")
    (tmp_path / "sc.yaml").write_text("model: net.json\ncustomers: cust.csv\n")
    s = load_scenario(tmp_path / "sc.yaml")
    assert s.model_ref() == str(tmp_path / "net.json")
    assert s.customers_ref() == str(tmp_path / "cust.csv")
    assert parse_scenario("model: simbench:1-LV-rural1--0-sw\n").model_ref() == "simbench:1-LV-rural1--0-sw"


# --------------------------------------------------------------------------- schema errors

# (YAML text, line named, field named, words of the explanation)
BAD = [
    ("model: m\nfaults:\n  - element: line:17\n    repair: 240\n", 4, "faults[0].repair",
     "unknown key 'repair'; expected one of: element, time_min, repair_min"),
    ("model: m\nfaults:\n  - element: line:17\n    repair_min: -5\n", 4, "faults[0].repair_min", ">= 0, got -5"),
    ("model: m\nfaults:\n  - element: line:17\n    repair_min: {dist: normal, params: {x: 1}}\n", 4,
     "faults[0].repair_min.dist", "'lognormal'"),
    ("model: m\nfaults:\n  - element: line:17\n    repair_min:\n      dist: lognormal\n"
     "      params: {mean_min: 30}\n", 6, "faults[0].repair_min.params", "lognormal needs median_min, sigma"),
    ("model: m\nfaults:\n  - element: line:17\n    cause: lightning\n", 4, "faults[0].cause", "'third_party'"),
    ("model: m\nfaults:\n  - element: line:1\n  - element: pole:17\n", 4, "faults[1].element",
     "unknown element type 'pole'"),
    ("model: m\nplanned:\n  - elements: [line:1]\n    start_min: 600\n    end_min: 480\n", 5,
     "planned[0].end_min", "must be after start_min (600)"),
    ("model: m\nplanned:\n  - elements: [line:1]\n    start_min: 600\n    end_min: -1\n", 5,
     "planned[0].end_min", ">= 0"),
    ("model: m\nstrategies: [wspt,\n  fastest]\n", 3, "strategies[1]", "unknown strategy 'fastest'; known:"),
    ("name: x\nfaults: []\n", 1, "model", "missing"),
    ("model: m\nstorm:\n  n_faults: {poison: 3}\n", 3, "storm.n_faults.poison", "unknown key 'poison'"),
    ("model: m\nstorm:\n  n_faults: 3\n  weights: {cable: 3}\n", 4, "storm.weights.cable",
     "expected one of: line, line_ol"),
    ("model: m\nstorm:\n  n_faults: 3\n  fraction_temporary: 1.5\n", 4, "storm.fraction_temporary", "<= 1"),
    ("model: m\nstorm:\n  n_faults: 3\n  footprint: {center_km: [0, 0], radius_km: 0}\n", 4,
     "storm.footprint.radius_km", "> 0"),
    ("model: m\ncrews:\n  count: 3\n  depots: [58, 318]\n", 4, "crews.depots", "one depot for all crews"),
    ("model: m\nruns: 0\n", 2, "runs", ">= 1"),
    ("model: m\nstart: yesterday\n", 2, "start", "datetime"),
]


@pytest.mark.parametrize("text, line, field, words", BAD, ids=[b[2] for b in BAD])
def test_schema_error_is_one_line_naming_file_line_and_field(text, line, field, words, tmp_path):
    path = tmp_path / "bad_scenario.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith(f"bad_scenario.yaml line {line}: {field}: "), msg
    assert words in msg, msg


def test_malformed_yaml_and_wrong_top_level(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("model: m\nfaults:\n  - element: line:1\n   time_min: 3\n")
    with pytest.raises(ScenarioError, match=r"^s\.yaml line 4 column 4: malformed YAML"):
        load_scenario(p)
    p.write_text("- a\n- b\n")
    with pytest.raises(ScenarioError, match=r"^s\.yaml line 1: expected a mapping .* found list$"):
        load_scenario(p)
    with pytest.raises(ScenarioError, match="scenario file not found"):
        load_scenario(tmp_path / "nope.yaml")


def test_check_against_names_file_line_and_element(tmp_path, topo_of):
    p = tmp_path / "s.yaml"
    p.write_text("model: cigre_mv\nfaults:\n  - element: line:3\n  - element: line:999\n"
                 "planned:\n  - {elements: [trafo:0], start_min: 0, end_min: 60}\n")
    topo = topo_of("cigre_mv")
    with pytest.raises(ScenarioError) as exc:
        check_against(load_scenario(p), topo)
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith("s.yaml line 4: faults[1].element: line 999 does not exist in model 'cigre_mv'"), msg
    p.write_text("model: cigre_mv\nplanned:\n  - elements: [line:1,\n      trafo:77]\n    start_min: 0\n"
                 "    end_min: 60\n")
    with pytest.raises(ScenarioError, match=r"^s\.yaml line 4: planned\[0\]\.elements\[1\]: trafo 77 does not"):
        check_against(load_scenario(p), topo)
    p.write_text("model: cigre_mv\ncrews:\n  count: 1\n  depots: [4242]\n")
    with pytest.raises(ScenarioError, match=r"^s\.yaml line 4: crews\.depots\[0\]: depot bus 4242 does not"):
        check_against(load_scenario(p), topo)
    p.write_text("model: cigre_mv\nstorm:\n  n_faults: 2\n  footprint: {center_km: [500, 500], radius_km: 1}\n")
    with pytest.raises(ScenarioError, match=r"^s\.yaml line 2: storm: no element .* footprint"):
        check_against(load_scenario(p), topo)


def test_cli_schema_prints_json_schema(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "gridsim scenario"
    assert schema["additionalProperties"] is False
    assert {"model", "faults", "planned", "storm", "crews", "strategies", "runs", "seed"} <= set(schema["properties"])
    assert schema["required"] == ["model"]


# --------------------------------------------------------------------------- storms

def _storm(text: str) -> StormSpec:
    return parse_scenario("model: m\nstorm:\n" + "".join(f"  {ln}\n" for ln in text.strip().splitlines())).storm


MC = """
n_faults: {poisson: 6}
duration_min: 300
weights: {line_ol: 1, line_cs: 0.2, trafo: 0.5}
repair_min:
  line: {dist: lognormal, params: {median_min: 240, sigma: 0.5}}
  trafo: {dist: uniform, params: {low_min: 300, high_min: 600}}
fraction_temporary: 0.3
causes: {weather: 2, vegetation: 1}
"""


def test_storms_are_deterministic_per_seed_and_run(topo_of):
    topo = topo_of("mv_oberrhein")
    spec = _storm(MC)
    a = sample_storms(spec, topo, None, 30, seed=5)
    b = sample_storms(spec, topo, None, 30, seed=5)
    assert all(x.same_as(y) for x, y in zip(a, b))
    # run i is the same whatever subset / order samples it (what executors rely on)
    part = sample_storms(spec, topo, None, seed=5, runs=[29, 3, 17])
    assert [p.run for p in part] == [29, 3, 17]
    assert all(p.same_as(a[p.run]) for p in part)
    c = sample_storms(spec, topo, None, 30, seed=6)
    assert not all(x.same_as(y) for x, y in zip(a, c))
    # storms are well formed
    for s in a:
        assert len(set(s.elements.tolist())) == len(s)          # distinct elements
        assert np.all(np.diff(s.time_min) >= 0) and np.all((s.time_min >= 0) & (s.time_min < 300))
        assert np.all(s.repair_min[s.temporary] == 0) and np.all(s.repair_min[~s.temporary] > 0)
        assert {c for *_, c, _ in s.faults()} <= {Cause.WEATHER, Cause.VEGETATION}
    n = np.array([len(s) for s in a])
    assert n.min() != n.max()                                   # Poisson, not fixed
    assert sum(s.temporary.sum() for s in a) > 0


def test_zero_weight_kind_is_never_drawn(topo_of):
    topo = topo_of("mv_oberrhein")
    kinds = element_kinds(topo)
    spec = _storm("n_faults: 12\nweights: {line_ol: 0, line_cs: 1, trafo: 0, bus: 0, switch: 0, trafo3w: 0}\n")
    storms = sample_storms(spec, topo, None, 200, seed=1)
    drawn = np.concatenate([s.elements for s in storms])
    assert drawn.size == 200 * 12
    assert set(kinds[drawn].tolist()) == {WEIGHT_KINDS.index("line_cs")}
    # and the other way round: only transformers (2 in this model) -> every storm holds both, no more
    spec = _storm("n_faults: 5\nweights: {line: 0, trafo: 1}\n")
    for s in sample_storms(spec, topo, None, 10, seed=2):
        assert sorted(s.labels(topo)) == ["trafo:114", "trafo:142"]


def test_line_weight_scales_with_length(topo_of):
    topo = topo_of("mv_oberrhein")
    spec = _storm("n_faults: 1\nweights: {line: 1, trafo: 0}\n")
    w = element_weights(spec, topo)
    net = topo.model.net
    lines = np.flatnonzero(np.asarray(topo.elem_type) == 0)
    km = net.line.length_km.reindex(np.asarray(topo.elem_id)[lines]).to_numpy()
    in_svc = net.line.in_service.reindex(np.asarray(topo.elem_id)[lines]).to_numpy()
    np.testing.assert_allclose(w[lines], np.where(in_svc, km, 0.0))
    # frequency follows the weights: the longest in-service line is drawn far more often than the shortest
    drawn = sample_storms_csr(spec, topo, None, 4000, seed=3)[1]
    counts = np.bincount(drawn, minlength=topo.n_elements)[lines]
    long_, short = lines[np.argmax(w[lines])], lines[np.argmin(np.where(w[lines] > 0, w[lines], np.inf))]
    assert counts[np.searchsorted(lines, long_)] > 5 * max(counts[np.searchsorted(lines, short)], 1)


def test_footprint_far_from_half_the_network_draws_none_from_there(topo_of):
    topo = topo_of("mv_oberrhein")
    xy = element_xy_km(topo)
    x_mid = float(np.nanmedian(xy[:, 0]))
    y_mid = float(np.nanmedian(xy[:, 1]))
    # a huge circle whose edge runs (almost straight) through the median x: it covers the east half only
    r = 1000.0
    spec = _storm(f"n_faults: 10\nweights: {{line: 1, trafo: 1}}\n"
                  f"footprint: {{center_km: [{x_mid + r}, {y_mid}], radius_km: {r}}}\n")
    drawn = np.concatenate([s.elements for s in sample_storms(spec, topo, None, 300, seed=4)])
    assert drawn.size == 3000
    assert np.all(np.isfinite(xy[drawn, 0]))          # unknown coordinates count as outside (weight 0)
    assert np.all(xy[drawn, 0] >= x_mid - 0.1)
    # with `outside`, the west half comes back, but rarer than the east
    spec = _storm(f"n_faults: 10\nweights: {{line: 1, trafo: 1}}\n"
                  f"footprint: {{center_km: [{x_mid + r}, {y_mid}], radius_km: {r}, intensity: 4, outside: 1}}\n")
    drawn = sample_storms_csr(spec, topo, None, 300, seed=4)[1]
    west = int((xy[drawn, 0] < x_mid - 0.1).sum())
    assert 0 < west < drawn.size / 3


def test_linear_profile_fades_to_zero_at_the_edge(topo_of):
    topo = topo_of("mv_oberrhein")
    xy = element_xy_km(topo)
    spec = _storm("n_faults: 1\nweights: {line: 1, trafo: 1, bus: 1}\n"
                  "footprint: {center_km: [0, 0], radius_km: 4, intensity: 2, profile: linear}\n")
    flat = _storm("n_faults: 1\nweights: {line: 1, trafo: 1, bus: 1}\n")
    w, w0 = element_weights(spec, topo), element_weights(flat, topo)
    d = np.hypot(xy[:, 0], xy[:, 1])
    ok = np.isfinite(d) & (w0 > 0)
    np.testing.assert_allclose(w[ok], w0[ok] * 2 * np.clip(1 - d[ok] / 4, 0, 1))


def test_sweep_storms_accepts_the_csr(topo_of):
    topo = topo_of("mv_oberrhein")
    spec = _storm(MC)
    storms = sample_storms(spec, topo, None, 50, seed=9)
    indptr, elems = sample_storms_csr(spec, topo, None, 50, seed=9)
    assert indptr.dtype == np.int64 and elems.dtype == np.int64 and indptr[-1] == elems.size
    for s in range(50):  # same elements as the full storms (CSR in position order)
        assert sorted(elems[indptr[s]:indptr[s + 1]].tolist()) == sorted(storms[s].elements.tolist())
    res = sweep_storms(topo, (indptr, elems))
    res2 = sweep_storms(topo, storms_to_csr(storms))
    assert res.customers.shape == (50,)
    np.testing.assert_array_equal(res.customers, res2.customers)
    # reference: a storm's loss is that of its elements as a list of references
    for s in (0, 7):
        ref = sweep_storms(topo, [storms[s].labels(topo)])
        assert ref.customers[0] == res.customers[s]


def test_fixed_count_larger_than_the_candidates_takes_them_all(topo_of):
    topo = topo_of("cigre_mv")
    spec = _storm("n_faults: 50\nweights: {line: 0, trafo: 1}\n")
    s = sample_storms(spec, topo, None, 1, seed=0)[0]
    assert len(s) == len(topo.model.net.trafo)
    assert sample_storms_csr(_storm("n_faults: 0"), topo, None, 3, seed=0)[0].tolist() == [0, 0, 0, 0]


def test_storm_from_fixed_faults(topo_of):
    s = load_scenario(SCENARIOS / "storm_small.yaml")
    topo = topo_of(s.model)
    st = storm_from_faults(s, topo, seed=s.seed)
    assert st.labels(topo) == [f.element for f in sorted(s.faults, key=lambda f: f.time_min)]
    by_el = dict(zip(st.labels(topo), st.repair_min))
    assert by_el["line:40"] == 240 and by_el["line:17"] == 180 and by_el["line:99"] == 0
    assert by_el["trafo:114"] > 0
    assert storm_from_faults(s, topo, seed=s.seed).same_as(st)
