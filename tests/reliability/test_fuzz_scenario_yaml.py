"""Fuzzing scenario YAML: a valid scenario on the 6-bus net (faults, a planned outage, a storm with a
footprint, crews, strategies) mutated — values replaced by hostile ones (wrong types, NaN / inf, huge
numbers, unicode, long strings, deep nesting), keys dropped or added, unknown elements and depots,
out-of-order times (a planned outage ending before it starts, negative times), broken YAML text — and read
with ``load_scenario``; an accepted scenario is checked against the compiled model (``check_against``) and
its first run is simulated (``run_scenario``).

Holds when: only a GridsimError comes out, one line naming the scenario file, nothing hangs.
"""
from __future__ import annotations

import copy
import shutil
import tempfile
import warnings
from pathlib import Path

import pytest
import yaml
from hypothesis import strategies as st

import fuzzkit
from fuzzkit import hostile, run_fuzz
from gridsim.errors import GridsimError

BASE = {
    "name": "fuzz",
    "description": "what-if on the 6-bus test net",
    "model": "net.json",
    "start": "2025-01-06T08:00:00",
    "faults": [{"element": "line:1", "time_min": 0, "repair_min": 120, "cause": "equipment"},
               {"element": "line:3", "time_min": 30, "temporary": True},
               {"element": "trafo:0", "time_min": 45,
                "repair_min": {"dist": "lognormal", "params": {"median_min": 240, "sigma": 0.6}}}],
    "planned": [{"name": "maint", "elements": ["line:2"], "start_min": 60, "end_min": 180, "notice_days": 5}],
    "storm": {"n_faults": {"poisson": 2}, "duration_min": 360, "weights": {"line": 1.0},
              "footprint": {"center_km": [0.0, 0.0], "radius_km": 5.0, "profile": "linear"},
              "repair_min": {"line": 240}, "fraction_temporary": 0.1, "causes": {"weather": 1.0}},
    "crews": {"count": 2, "depots": [1], "speed_kmh": 40, "shift_h": 12},
    "strategies": ["wspt", "critical_first"],
    "runs": 2,
    "seed": 1,
}
KEYS = {
    "": list(BASE) + ["colour", "Faults"],
    "faults.0": ["element", "time_min", "repair_min", "cause", "temporary", "duration"],
    "planned.0": ["name", "elements", "start_min", "end_min", "notice_days"],
    "storm": ["n_faults", "duration_min", "weights", "footprint", "repair_min", "fraction_temporary", "causes"],
    "storm.footprint": ["center_km", "radius_km", "intensity", "outside", "profile"],
    "crews": ["count", "depots", "speed_kmh", "shift_h"],
}
ELEMENTS = ["line:1", "line:999", "bus:5", "switch:3", "trafo3w:0", "line:-1", "line:1.5", "LINE:1", "line:",
            ":1", "line:" + "9" * 25, "trafo:0", "bus:0", "switch:0", " line:2 "]


def _paths(d, prefix=()):
    out = [prefix] if prefix else []
    if isinstance(d, dict):
        for k, v in d.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            out += _paths(v, prefix + (i,))
    return out


PATHS = _paths(BASE)
TIME_PATHS = [p for p in PATHS if p[-1] in ("time_min", "start_min", "end_min", "duration_min", "notice_days",
                                            "repair_min", "value_min", "median_min", "sigma", "speed_kmh", "shift_h",
                                            "radius_km", "poisson", "count", "runs", "seed")]
YAML_TEXT = ["", "---", "~", "[1, 2", "model: [", "\tfaults: []", "!!python/object/apply:os.system ['true']",
             "model: !!binary aGk=", "model: &x net.json\nname: *y", "{model: a, model: b}", "? [a]\n: 1",
             "%YAML 9.9\n---\nmodel: x", "start: 2001-12-14t21:59:43.10-05:00", "runs: !!float .nan",
             "'unterminated", "- - -", "model: !!set {x}", "\x00", "\ufeffmodel: net.json", "model: [\x85]",
             "runs: " + "9" * 5000, "seed: -" + "1" * 4400, "start: 10000-01-01", "start: 1969-12-31T23:59:59Z"]


@st.composite
def mutation(draw):
    kind = draw(st.sampled_from(["set", "set", "set", "time", "time", "delete", "add", "element", "order",
                                 "text"]))
    if kind == "set":
        return ("set", draw(st.sampled_from(PATHS)), draw(st.one_of(hostile, st.integers(-3, 12))))
    if kind == "time":
        return ("set", draw(st.sampled_from(TIME_PATHS)),
                draw(st.one_of(fuzzkit.numbers, st.integers(-10, 10**7), st.sampled_from(["1e999", "-1", "NaN"]))))
    if kind == "delete":
        return ("delete", draw(st.sampled_from(PATHS)))
    if kind == "add":
        where = draw(st.sampled_from(sorted(KEYS)))
        path = tuple(int(p) if p.isdigit() else p for p in where.split(".") if p)
        return ("set", path + (draw(st.sampled_from(KEYS[where])),), draw(hostile))
    if kind == "element":
        return ("set", draw(st.sampled_from([("faults", 0, "element"), ("planned", 0, "elements", 0),
                                             ("crews", "depots", 0)])), draw(st.sampled_from(ELEMENTS)))
    if kind == "order":  # times out of order
        return ("order", draw(st.sampled_from(["planned_backwards", "negative_start", "fault_before_start",
                                               "many_faults", "many_depots", "start_far"])),
                draw(st.integers(0, 5000)))
    return ("text", draw(st.sampled_from(YAML_TEXT)), draw(st.sampled_from(["replace", "append", "prepend",
                                                                          "truncate"])), draw(st.integers(0, 4000)))


def _set(doc, path, value, delete=False):
    node = doc
    for p in path[:-1]:
        if isinstance(node, dict) and p in node:
            node = node[p]
        elif isinstance(node, list) and isinstance(p, int) and p < len(node):
            node = node[p]
        else:
            return
    last = path[-1]
    if isinstance(node, dict):
        if delete:
            node.pop(last, None)
        else:
            node[last] = value
    elif isinstance(node, list) and isinstance(last, int) and last < len(node):
        if delete:
            node.pop(last)
        else:
            node[last] = value


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(fuzzkit.Deep, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", "@@DEEP@@"))


def apply_mutations(ops) -> bytes:
    doc = copy.deepcopy(BASE)
    text_ops, deep = [], []
    for op in ops:
        if op[0] == "set":
            v = op[2]
            if isinstance(v, fuzzkit.Deep):
                deep.append(v)
            _set(doc, op[1], v if isinstance(v, fuzzkit.Deep) else fuzzkit.real(v))
        elif op[0] == "delete":
            _set(doc, op[1], None, delete=True)
        elif op[0] == "order":
            _, what, n = op
            if what == "planned_backwards":
                _set(doc, ("planned", 0, "end_min"), 10)
            elif what == "negative_start":
                _set(doc, ("faults", 0, "time_min"), -n)
            elif what == "fault_before_start":
                _set(doc, ("start",), "1900-01-01T00:00:00")
            elif what == "many_faults":
                doc["faults"] = [{"element": f"line:{i % 4}", "time_min": i} for i in range(n)]
            elif what == "many_depots":
                _set(doc, ("crews", "depots"), list(range(n)))
            else:
                _set(doc, ("start",), "9999-12-31T23:59:59")
        else:
            text_ops.append(op)
    try:
        text = yaml.dump(doc, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=10**9)
    except (yaml.YAMLError, RecursionError, ValueError):
        text = "model: net.json\n"
    for d in deep:
        flow = ("[" * d.depth + "0" + "]" * d.depth) if d.kind == "list" else ("{a: " * d.depth + "0" + "}" * d.depth)
        text = text.replace("'@@DEEP@@'", flow, 1).replace("@@DEEP@@", flow, 1)
    for _, snippet, mode, n in text_ops:
        if mode == "replace":
            text = snippet
        elif mode == "append":
            text = text + "\n" + snippet
        elif mode == "prepend":
            text = snippet + "\n" + text
        else:
            text = text[: n % (len(text) + 1)]
    return text.encode("utf-8", "surrogatepass")


def check_scenario_file(data: bytes, root: Path, topo) -> None:
    from gridsim.restore.plan import PlanWarning
    from gridsim.scenarios import load_scenario, run_scenario
    from gridsim.scenarios.schema import check_against

    path = root / "fuzz.yaml"
    path.write_bytes(data)
    try:
        sc = load_scenario(path)
        check_against(sc, topo)
        if sc.model_ref() != str(root / "net.json"):
            return  # another model (a bundled name, a missing file): not run here
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PlanWarning)   # a documented warning, not an error
            run_scenario(sc, run=0)
    except GridsimError as e:
        fuzzkit.assert_clear(e, names=(path.name, "net.json", "model"))
    except fuzzkit.Hang:
        raise
    except Exception as e:  # noqa: BLE001
        raise AssertionError(f"scenario crashed: {type(e).__name__}: {str(e)[:300]}") from e


@pytest.fixture(scope="module")
def scenario_root(tmp_path_factory, tiny_json_text):
    from gridsim.core import compile_topology
    from gridsim.model import load_model

    root = tmp_path_factory.mktemp("scenario")
    (root / "net.json").write_text(tiny_json_text)
    return root, compile_topology(load_model(str(root / "net.json")))


@pytest.mark.parametrize("size", fuzzkit.SIZES)
def test_fuzz_scenario_yaml(size, scenario_root):
    root, topo = scenario_root
    ops = st.lists(mutation(), min_size=1, max_size=3)
    run_fuzz("scenario YAML", ops, lambda o: check_scenario_file(apply_mutations(o), root, topo), size)


def explore():  # for exploration scripts: (strategy, check)
    from gridsim.core import compile_topology
    from gridsim.model import load_model

    root = Path(tempfile.mkdtemp())
    (root / "net.json").write_text(fuzzkit.compact_net_json(fuzzkit.tiny_net()))
    topo = compile_topology(load_model(str(root / "net.json")))
    return st.lists(mutation(), min_size=1, max_size=3), lambda o: check_scenario_file(apply_mutations(o), root, topo)
