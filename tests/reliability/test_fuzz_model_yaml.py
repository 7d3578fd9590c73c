"""Fuzzing model.yaml: a model folder (the 6-bus net.json + a valid model.yaml) whose model.yaml is
mutated — values replaced by hostile ones (wrong types, NaN / inf, huge numbers, unicode, long strings,
deep nesting), keys dropped or added, unknown switch / line ids, broken YAML text (truncated, tabs, tags,
anchors / alias bombs, duplicate keys) — and, in a quarter of the cases, with no net.json so that the
mutated ``source`` section is used. What loads is compiled, swept and planned (FLISR and a crew
schedule read the switching times).

Holds when: only a GridsimError comes out, one line naming model.yaml or the section / field, nothing
hangs; what loads works downstream.
"""
from __future__ import annotations

import copy
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import strategies as st

import fuzzkit
from fuzzkit import hostile, run_fuzz
from gridsim.errors import GridsimError, ModelValidationError

BASE = {
    "name": "tiny",
    "description": "6-bus test net",
    "source": {"loader": "pandapower.networks.create_cigre_network_mv", "args": [], "kwargs": {"with_der": False}},
    "customers": {"critical": [{"customer_id": "H9", "class": "hospital", "bus": 3, "name": "Clinic",
                                "count": 1, "p_kw": 200.0}]},
    "devices": {"fuses": [{"line": 1, "bus": 2}], "reclosers": [{"line": 2, "bus": 2}],
                "switch_kinds": {0: "recloser"}, "remote_switches": [0, 1, 2]},
    "switching": {"remote_operate_s": 30.0, "manual_operate_min": 15.0, "crew_speed_kmh": 40.0,
                  "manual_dispatch_min": 30.0, "travel_factor": 1.3},
    "priority_weights": {"hospital": 1000.0},
}
SECTION_KEYS = {
    "source": ["loader", "args", "kwargs"],
    "customers": ["critical", "rule"],
    "devices": ["fuses", "reclosers", "switch_kinds", "remote_switches"],
    "switching": list(BASE["switching"]) + ["unknown_time"],
    "priority_weights": ["hospital", "residential", "water", "spaceship"],
}
LOADERS = ["pandapower.networks.create_cigre_network_mv", "pandapower.networks.mv_oberrhein", "os.system",
           "pandapower.networks", "pandapower.networks.__dict__", "simbench.get_simbench_net", "builtins.eval",
           "pandapower.networks.nope", "", "pandapower.networks.create_cigre_network_lv"]


def _paths(d, prefix=()):
    """Every key path of a nested dict / list (the places a mutation can hit)."""
    out = [prefix] if prefix else []
    if isinstance(d, dict):
        for k, v in d.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            out += _paths(v, prefix + (i,))
    return out


PATHS = _paths(BASE)
YAML_TEXT = ["", "---", "~", "[1, 2", "a: b: c", "\t- tab", "!!python/object:os.system {}", "!!binary aGk=",
             "a: &x [1]\nb: *y", "{a: 1, a: 2}", "? [complex, key]\n: 1", "%YAML 9.9\n---\nx: 1",
             "2001-12-14t21:59:43.10-05:00", "!!float .nan", "0x_1F", "'unterminated", "- - - - -",
             "devices: {remote_switches: [" + "9" * 5000 + "]}", "name: " + "[" * 3000 + "]" * 3000,
             "a: !!set {x, y}", "a: !!omap [b: 1]", "\x00", "\ufeffname: x", "name: [\x85]"]


def bomb(levels: int) -> str:
    """A 'billion laughs' alias bomb: 9 ** levels references from a few hundred bytes."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    lines.append(f"devices: {{fuses: *a{levels}, remote_switches: *a{levels}}}")
    lines.append(f"customers: {{critical: *a{levels}}}")
    return "\n".join(lines) + "\n"


@st.composite
def mutation(draw):
    kind = draw(st.sampled_from(["set", "set", "set", "set", "delete", "add", "section", "loader", "text", "bomb"]))
    if kind == "set":
        return ("set", draw(st.sampled_from(PATHS)), draw(st.one_of(hostile, st.integers(-3, 12))))
    if kind == "delete":
        return ("delete", draw(st.sampled_from(PATHS)))
    if kind == "add":
        sec = draw(st.sampled_from(sorted(SECTION_KEYS)))
        return ("set", (sec, draw(st.sampled_from(SECTION_KEYS[sec]))), draw(hostile))
    if kind == "section":
        return ("set", (draw(st.sampled_from(sorted(SECTION_KEYS) + ["name", "live", "??"])),), draw(hostile))
    if kind == "loader":
        return ("set", ("source", "loader"), draw(st.sampled_from(LOADERS)))
    if kind == "bomb":
        return ("bomb", draw(st.integers(2, 9)))
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


# deep values written as flow YAML without recursion in the dumper
_Dumper.add_representer(fuzzkit.Deep, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", "@@DEEP@@"))


def apply_mutations(ops) -> tuple[bytes, bool]:
    """(model.yaml bytes, whether net.json is kept)."""
    doc = copy.deepcopy(BASE)
    text_ops, deep = [], []
    for op in ops:
        if op[0] == "set":
            v = op[2]
            if isinstance(v, fuzzkit.Deep):
                deep.append(v)
            _set(doc, op[1], fuzzkit.real(v) if not isinstance(v, fuzzkit.Deep) else v)
        elif op[0] == "delete":
            _set(doc, op[1], None, delete=True)
        else:
            text_ops.append(op)
    try:
        text = yaml.dump(doc, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=10**9)
    except (yaml.YAMLError, RecursionError, ValueError):
        text = "name: undumpable\n"
    for d in deep:  # a flow sequence / mapping nested d.depth levels
        flow = ("[" * d.depth + "0" + "]" * d.depth) if d.kind == "list" else ("{a: " * d.depth + "0" + "}" * d.depth)
        text = text.replace("'@@DEEP@@'", flow, 1).replace("@@DEEP@@", flow, 1)
    for op in text_ops:
        if op[0] == "bomb":
            text = bomb(op[1])
            continue
        _, snippet, mode, n = op
        if mode == "replace":
            text = snippet
        elif mode == "append":
            text = text + "\n" + snippet
        elif mode == "prepend":
            text = snippet + "\n" + text
        else:
            text = text[: n % (len(text) + 1)]
    keep_net = not any(op[0] == "set" and op[1][:1] == ("source",) for op in ops) or len(ops) % 2 == 0
    return text.encode("utf-8", "surrogatepass"), keep_net


def check_model_folder(case: tuple[bytes, bool], root: Path, net_text: str) -> None:
    from gridsim.core import compile_topology, sweep_single_faults
    from gridsim.model import load_model
    from gridsim.restore import plan_flisr
    from gridsim.restore.plan import plan_restoration

    data, keep_net = case
    folder = Path(tempfile.mkdtemp(dir=root))
    try:
        (folder / "model.yaml").write_bytes(data)
        if keep_net:
            (folder / "net.json").write_text(net_text)
        names = ("model.yaml", *SECTION_KEYS, "net.json", "source", "loader", "no such file")
        try:
            model = load_model(str(folder))
        except ModelValidationError as e:
            fuzzkit.assert_clear(e, names=tuple(f"{i.element}" for i in e.issues) or ("validation",))
            return
        except GridsimError as e:
            fuzzkit.assert_clear(e, names=names)
            return
        except fuzzkit.Hang:
            raise
        except Exception as e:  # noqa: BLE001
            raise AssertionError(f"model.yaml crashed the loader: {type(e).__name__}: {str(e)[:300]}") from e
        try:
            topo = compile_topology(model)
            sweep_single_faults(topo)
            if len(model.net.line):
                ref = f"line:{int(model.net.line.index[-1])}"
                plan_flisr(topo, ref)
                plan_restoration(topo, [ref], 1, model=model)
        except GridsimError as e:
            fuzzkit.assert_clear(e)
        except fuzzkit.Hang:
            raise
        except Exception as e:  # noqa: BLE001
            raise AssertionError(f"a model.yaml that loaded crashed downstream: {type(e).__name__}: "
                                 f"{str(e)[:300]}") from e
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("size", fuzzkit.SIZES)
def test_fuzz_model_yaml(size, tmp_path, tiny_json_text, monkeypatch):
    monkeypatch.setenv("GRIDSIM_CACHE_DIR", str(tmp_path / "cache"))
    ops = st.lists(mutation(), min_size=1, max_size=3)
    run_fuzz("model.yaml", ops, lambda o: check_model_folder(apply_mutations(o), tmp_path, tiny_json_text), size)


def explore():  # for exploration scripts: (strategy, check)
    import os

    root = Path(tempfile.mkdtemp())
    os.environ["GRIDSIM_CACHE_DIR"] = str(root / "cache")
    net_text = fuzzkit.compact_net_json(fuzzkit.tiny_net())
    return st.lists(mutation(), min_size=1, max_size=3), \
        lambda o: check_model_folder(apply_mutations(o), root, net_text)
