"""One plain test per bug the fuzzing found (README.md lists them), each with the smallest input that
broke gridsim before its fix. Numbers (R1, R2, ...) match the README's list."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import fuzzkit
from gridsim.errors import (GridsimError, InputFileError, ModelLoadError, ModelValidationError, NetworkStructureError,
                            QueueError)


# --------------------------------------------------------------------------- helpers

def net_doc(text: str) -> dict:
    return json.loads(text)


def set_table(doc: dict, table: str, fn) -> dict:
    """Apply ``fn(frame)`` to the split-orient frame of ``table`` inside a pandapower JSON document."""
    frame = json.loads(doc["_object"][table]["_object"])
    fn(frame)
    doc["_object"][table]["_object"] = json.dumps(frame, allow_nan=True)
    return doc


def set_cell(doc: dict, table: str, row: int, col: str, value) -> dict:
    return set_table(doc, table, lambda f: f["data"][row].__setitem__(f["columns"].index(col), value))


def drop_column(doc: dict, table: str, col: str) -> dict:
    def drop(f):
        i = f["columns"].index(col)
        f["columns"].pop(i)
        for r in f["data"]:
            r.pop(i)
    doc["_object"][table].get("dtype", {}).pop(col, None)
    return set_table(doc, table, drop)


def load_json(tmp_path: Path, doc_or_text) -> None:
    from gridsim.model import load_model

    path = tmp_path / "net.json"
    path.write_text(doc_or_text if isinstance(doc_or_text, str) else json.dumps(doc_or_text, allow_nan=True))
    return load_model(str(path))


def one_line(exc: BaseException, *needles: str) -> str:
    msg = str(exc)
    assert "\n" not in msg and len(msg) <= 1000 * max(1, len(getattr(exc, "issues", ()))), msg[:300]
    for n in needles:
        assert n in msg, msg[:300]
    return msg


# --------------------------------------------------------------------------- network JSON

def test_r01_deeply_nested_network_json(tmp_path):
    with pytest.raises(InputFileError) as e:
        load_json(tmp_path, "[" * 100_000 + "]" * 100_000)
    one_line(e.value, "net.json", "nested too deeply")


def test_r02_missing_column(tmp_path, tiny_json_text):
    with pytest.raises(NetworkStructureError) as e:
        load_json(tmp_path, drop_column(net_doc(tiny_json_text), "line", "length_km"))
    one_line(e.value, "net.json", "line.length_km", "missing")


@pytest.mark.parametrize("value", [None, "x", "\n", [3], float("inf")])
def test_r03_bus_reference_not_an_integer(tmp_path, tiny_json_text, value):
    with pytest.raises(NetworkStructureError) as e:
        load_json(tmp_path, set_cell(net_doc(tiny_json_text), "switch", 0, "bus", value))
    one_line(e.value, "switch.bus", "integer ids")


def test_r04_duplicated_bus_ids(tmp_path, tiny_json_text):
    doc = set_table(net_doc(tiny_json_text), "bus", lambda f: f["index"].__setitem__(5, 0))
    with pytest.raises(ModelValidationError) as e:
        load_json(tmp_path, doc)
    one_line(e.value, "bus index 0 used more than once")


def test_r05_table_that_is_not_a_table(tmp_path, tiny_json_text):
    doc = net_doc(tiny_json_text)
    doc["_object"]["impedance"] = float("nan")
    with pytest.raises(NetworkStructureError) as e:
        load_json(tmp_path, doc)
    one_line(e.value, "'impedance' must be a table")


def test_r06_element_ids_that_are_not_integers(tmp_path, tiny_json_text):
    doc = set_table(net_doc(tiny_json_text), "trafo", lambda f: f.__setitem__("index", ["id0"]))
    with pytest.raises(NetworkStructureError) as e:
        load_json(tmp_path, doc)
    one_line(e.value, "trafo ids must be integers")


def test_r07_third_party_message_is_one_short_line(tmp_path, tiny_json_text):
    doc = net_doc(tiny_json_text)
    doc["_object"]["version"] = "a" * 10_685
    with pytest.raises(InputFileError) as e:
        load_json(tmp_path, doc)
    assert len(one_line(e.value, "net.json")) < 600


def test_r08_unreadable_column_type(tmp_path, tiny_json_text):
    doc = net_doc(tiny_json_text)
    doc["_object"]["ext_grid"]["dtype"]["in_service"] = []
    try:
        load_json(tmp_path, doc)
    except GridsimError as e:
        one_line(e, "net.json")


def test_r09_element_table_without_bus_column(tmp_path, tiny_json_text):
    doc = net_doc(tiny_json_text)
    doc["_object"]["storage"] = json.loads(json.dumps(doc["_object"]["bus"]))
    with pytest.raises(NetworkStructureError) as e:
        load_json(tmp_path, doc)
    one_line(e.value, "storage.bus", "missing")


@pytest.mark.parametrize("value", [None, {}, "a" * 1000, 0, float("inf")])
def test_r10_net_scalars(tmp_path, tiny_json_text, value):
    doc = net_doc(tiny_json_text)
    doc["_object"]["sn_mva"] = value
    with pytest.raises(GridsimError) as e:
        load_json(tmp_path, doc)
    one_line(e.value, "net.json")


@pytest.mark.parametrize("table,col,value", [("bus", "vn_kv", 0.0), ("line", "r_ohm_per_km", None),
                                             ("trafo", "parallel", None), ("trafo", "vn_lv_kv", "+"),
                                             ("trafo", "tap_neutral", -1e308)])
def test_r11_electrical_parameters_the_power_flow_divides_by(tmp_path, tiny_json_text, table, col, value):
    with pytest.raises(NetworkStructureError) as e:
        load_json(tmp_path, set_cell(net_doc(tiny_json_text), table, 0, col, value))
    one_line(e.value, f"{table}.{col}")


# --------------------------------------------------------------------------- customers CSV

def read_csv_text(tmp_path: Path, text: str):
    from gridsim.model import read_customers

    path = tmp_path / "customers.csv"
    path.write_text(text)
    return read_customers(path)


@pytest.mark.parametrize("bus", ["inf", "1e400", "99999999999999999999999", "nan"])
def test_r12_bus_that_is_not_a_finite_integer(tmp_path, bus):
    with pytest.raises(InputFileError) as e:
        read_csv_text(tmp_path, f"customer_id,bus,class,count\nC1,{bus},residential,1\n")
    one_line(e.value, "customers.csv line 2", "'bus'")


def test_r13_count_that_overflows(tmp_path):
    with pytest.raises(InputFileError) as e:
        read_csv_text(tmp_path, "customer_id,bus,class,count\nC1,3,residential,9223372036854775805\n")
    one_line(e.value, "'count'", "larger than")


def test_r14_long_cells_are_not_echoed_whole(tmp_path):
    with pytest.raises(InputFileError) as e:
        read_csv_text(tmp_path, "customer_id,bus,class,count\nC1," + "é" * 100_000 + ",residential,1\n")
    assert len(one_line(e.value, "'bus'")) < 400


def test_r15_parser_error_is_one_line(tmp_path):
    with pytest.raises(InputFileError) as e:
        read_csv_text(tmp_path, "customer_id,bus,class,count\nC1,3,residential,1\nC2,3,residential,1,x,y,z\n")
    one_line(e.value, "malformed CSV")


@pytest.mark.parametrize("value", ["inf", "-1e+308"])
@pytest.mark.parametrize("col", ["p_kw", "priority"])
def test_r16_infinite_or_huge_demand_or_priority(tmp_path, col, value):
    with pytest.raises(InputFileError) as e:
        read_csv_text(tmp_path, f"customer_id,bus,class,count,{col}\nC1,3,residential,1,{value}\n")
    one_line(e.value, f"'{col}'", "finite")


def test_r17_customer_id_longer_than_events_accept(tmp_path):
    with pytest.raises(InputFileError) as e:
        read_csv_text(tmp_path, "customer_id,bus,class,count\n" + "x" * 129 + ",3,residential,1\n")
    one_line(e.value, "'customer_id'", "128")


# --------------------------------------------------------------------------- model.yaml

def load_folder(tmp_path: Path, yaml_text: str, net_text: str | None):
    from gridsim.model import load_model

    (tmp_path / "model.yaml").write_text(yaml_text)
    if net_text is not None:
        (tmp_path / "net.json").write_text(net_text)
    return load_model(str(tmp_path))


@pytest.mark.parametrize("yaml_text,needle", [
    ("customers: {critical: 7}\n", "customers.critical"),
    ("devices: {fuses: -9223372036854775805}\n", "devices.fuses"),
    ("devices: {reclosers: [-213697165164762959446016]}\n", "devices.reclosers[0]"),
    ("devices: {fuses: [{line: 1, bus: -212689157114774519808}]}\n", "devices.fuses[0].bus"),
    ("devices: {remote_switches: [1e999]}\n", "remote_switches[0]"),
    ("switching: {travel_factor: .nan}\n", "switching.travel_factor"),
    ("switching: {crew_speed_kmh: .inf}\n", "switching.crew_speed_kmh"),
    ("name: [1, 2]\n", "'name' must be text"),
    ("devices: {remote_switches: [" + "9" * 5000 + "]}\n", "malformed YAML"),
    ("customers: {critical: [{customer_id: H9, class: hospital, bus: 3, p_kw: '" + " " * 1337 + "'}]}\n", "p_kw"),
])
def test_r18_model_yaml_values_of_the_wrong_shape(tmp_path, tiny_json_text, yaml_text, needle):
    with pytest.raises(GridsimError) as e:
        load_folder(tmp_path, yaml_text, tiny_json_text)
    one_line(e.value, needle)


@pytest.mark.parametrize("source,needle", [
    ("{loader: pandapower.networks.create_cigre_network_mv, args: 5}", "source args"),
    ("{loader: pandapower.networks.create_cigre_network_mv, kwargs: 3}", "source kwargs"),
    ("{loader: pandapower.networks.create_cigre_network_mv, kwargs: '" + "😀" * 50 + "'}", "source kwargs"),
])
def test_r19_model_source_of_the_wrong_shape(tmp_path, monkeypatch, source, needle):
    monkeypatch.setenv("GRIDSIM_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(ModelLoadError) as e:
        load_folder(tmp_path, f"source: {source}\n", None)
    one_line(e.value, needle)


def test_r20_yaml_alias_bomb(tmp_path, tiny_json_text):
    from test_fuzz_model_yaml import bomb

    t0 = time.perf_counter()
    with pytest.raises(ModelLoadError) as e:
        load_folder(tmp_path, bomb(9), tiny_json_text)
    assert time.perf_counter() - t0 < 10
    assert len(one_line(e.value, "model.yaml")) < 400


# --------------------------------------------------------------------------- scenario YAML

@pytest.fixture
def scenario_dir(tmp_path, tiny_json_text):
    (tmp_path / "net.json").write_text(tiny_json_text)
    return tmp_path


def run_scenario_text(folder: Path, text: str):
    from gridsim.scenarios import load_scenario, run_scenario

    path = folder / "s.yaml"
    path.write_text(text)
    sc = load_scenario(path)
    return run_scenario(sc)


@pytest.mark.parametrize("text,needle", [
    ("model: net.json\nfaults: [{element: line:1, repair_min: {dist: lognormal}}]\n", "lognormal needs"),
    ("model: net.json\nstart: 9999-12-31T23:59:59\nfaults: [{element: line:1}]\n", "between 1970 and 2200"),
    ("model: net.json\nfaults: [{element: line:1, time_min: 9223372036854775805}]\n", "faults[0].time_min"),
    ("model: net.json\nfaults: [{element: line:1, time_min: 1e16}]\n", "faults[0].time_min"),
    ("model: net.json\ndescription: " + "[" * 1300 + "]" * 1300 + "\n", "nested too deeply"),
    ("model: net.json\nfaults: [{element: line:0}, {element: line:0, time_min: 5}]\n", "given twice"),
    ("model: net.json\nruns: '" + '"' * 12_000 + "'\n", "runs"),
    ("model: net.json\nruns: " + "9" * 5000 + "\n", "malformed YAML"),
    ("model: net.json\nfaults: [{element: line:1, repair_min: "
     "{dist: lognormal, params: {median_min: 60, sigma: 400}}}]\n", "sigma"),
])
def test_r21_scenario_mistakes_caught_at_load(scenario_dir, text, needle):
    from gridsim.scenarios import ScenarioError

    with pytest.raises(ScenarioError) as e:
        run_scenario_text(scenario_dir, text)
    assert len(one_line(e.value, "s.yaml", needle)) < 600


# --------------------------------------------------------------------------- events (API, file)

@pytest.fixture
def engine(tmp_path, tiny_json_text):
    from gridsim.live import LiveEngine

    (tmp_path / "net.json").write_text(tiny_json_text)
    e = LiveEngine(str(tmp_path / "net.json"), db=tmp_path / "live.db")
    yield e
    e.close()


@pytest.mark.parametrize("event", [
    {"type": "tick", "id": "x", "time": fuzzkit.nested(3000, 0, "list")},
    {"type": "tick", "id": fuzzkit.nested(3100, 0, "dict"), "time": "2025-01-06T16:00:00"},
    {"type": fuzzkit.nested(3400, 0, "dict"), "id": "y", "time": "2025-01-06T16:00:00"},
    {"type": "tick\ud800", "id": "x", "time": "2025-01-06T16:00:00"},
    {"type": "tick", "id": "x\udcff", "time": "2025-01-06T16:00:00"},
    {"type": '"' * 1000, "id": "x", "time": "2025-01-06T16:00:00"},
    {"type": "tick", "id": "x", "time": "2025-01-06T16:00:00", "v": "a" * 1000},
])
def test_r22_apply_never_raises_and_records_the_rejection(engine, event):
    before = engine.snapshot()
    r = engine.apply(event)
    assert not r.accepted and "\n" not in r.reason and len(r.reason) < 400
    assert engine.snapshot().version == before.version
    assert len(engine.rejected()) == 1


def test_r23_events_file_that_is_a_folder(tmp_path):
    from gridsim.live import EventError, read_events_file

    with pytest.raises(EventError) as e:
        read_events_file(tmp_path)
    one_line(e.value, str(tmp_path), "cannot read")


def test_r24_line_separator_inside_a_json_string(tmp_path):
    from gridsim.live import read_events_file

    path = tmp_path / "e.jsonl"
    ev = {"type": "customer_call", "id": "c1", "time": "2025-01-06T16:00:00", "customer_id": "L0",
          "text": "a\u2028b\u0085c"}
    path.write_text(json.dumps(ev, ensure_ascii=False) + "\n", encoding="utf-8")
    assert read_events_file(path)[0]["text"] == "a\u2028b\u0085c"


# --------------------------------------------------------------------------- queues

@pytest.mark.parametrize("message,needle", [
    ({"id": fuzzkit.nested(3000, 0, "dict"), "schema": "s", "created_at": "c"}, "'id'"),
    ({"id": "a", "schema": "s", "created_at": "c", "event": fuzzkit.nested(3000, 0, "list")}, "JSON-serialisable"),
    ({"id": "a", "schema": "s", "created_at": "c", "event": {"x": "\ud800"}}, "surrogate"),
    ({"id": "b\ud800", "schema": "s", "created_at": "c"}, "surrogate"),
    ({"id": "\\" * 5000, "schema": "s", "created_at": "c", "event": float("nan")}, "JSON-serialisable"),
])
def test_r25_publish_refuses_with_one_line_and_writes_nothing(tmp_path, message, needle):
    from gridsim.queues import open_queue

    with open_queue(f"sqlite:///{tmp_path}/q.db") as q:
        with pytest.raises(QueueError) as e:
            q.publish_batch([("grid.events", {"id": "ok", "schema": "s", "created_at": "c"}),
                             ("grid.events", message)])
        assert len(one_line(e.value, "grid.events", needle)) < 400
        assert q.stats(["grid.events"])[0].depth == 0


# --------------------------------------------------------------------------- CLI

def cli(args, capsys, cwd: Path, monkeypatch):
    from gridsim.cli import main

    monkeypatch.chdir(cwd)
    code = main(list(args))
    cap = capsys.readouterr()
    return code, cap.err


@pytest.mark.parametrize("args,needle", [
    (["sweep"], "Missing argument 'model'"),
    (["sweep", "x", "--top", "abc"], "Invalid value for '--top'"),
    (["workorders", "--json=1"], "does not take a value"),
])
def test_r26_usage_errors_are_one_line(tmp_path, capsys, monkeypatch, args, needle):
    code, err = cli(args, capsys, tmp_path, monkeypatch)
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ") and needle in err


def test_r27_control_characters_in_a_path(tmp_path, capsys, monkeypatch):
    code, err = cli(["workorders", "--db", "x\x0by\nz"], capsys, tmp_path, monkeypatch)
    assert code == 2 and len(err.splitlines()) == 1 and "x\\x0by z" in err


@pytest.mark.parametrize("model", ["a" * 5000, "net.json\x00"])
def test_r28_path_the_os_refuses(tmp_path, capsys, monkeypatch, model):
    code, err = cli(["validate", model], capsys, tmp_path, monkeypatch)
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("error: ")


def test_r29_events_push_of_a_folder(tmp_path, capsys, monkeypatch):
    (tmp_path / "outdir").mkdir()
    code, err = cli(["events", "push", "outdir"], capsys, tmp_path, monkeypatch)
    assert code == 2 and "cannot read" in err and len(err.splitlines()) == 1


def test_r30_huge_synthetic_model(tmp_path, capsys, monkeypatch):
    t0 = time.perf_counter()
    code, err = cli(["validate", "synth:99999999999"], capsys, tmp_path, monkeypatch)
    assert code == 2 and "at most 200,000 buses" in err and time.perf_counter() - t0 < 10


def test_r31_plan_with_millions_of_crews(tmp_path, capsys, monkeypatch, tiny_json_text):
    (tmp_path / "net.json").write_text(tiny_json_text)
    t0 = time.perf_counter()
    code, err = cli(["plan", "net.json", "--fault", "line:1", "--crews", "10000000"], capsys, tmp_path, monkeypatch)
    assert code == 2 and "--crews 10000000" in err and time.perf_counter() - t0 < 10


# --------------------------------------------------------------------------- found by the 2,000-case runs

def test_r32_control_characters_in_field_names(tmp_path):
    from gridsim.live.events import EventError, parse_event
    from gridsim.scenarios import ScenarioError, parse_scenario

    with pytest.raises(EventError) as e:
        parse_event({"type": "tick", "id": "f0", "time": "2025-01-06T16:00:00", "\r": 1})
    one_line(e.value, "\\r: unknown field")
    with pytest.raises(ScenarioError) as e:
        parse_scenario("model: cigre_mv\nplanned: [{elements: [line:1], start_min: 1, end_min: 2, \"\\r\": 1}]\n",
                       "s.yaml")
    one_line(e.value, "s.yaml line 2", "unknown key")


def test_r33_model_source_with_a_very_long_function_name(tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDSIM_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(ModelLoadError) as e:
        load_folder(tmp_path, "source: {loader: pandapower.networks." + "a" * 300 + "}\n", None)
    one_line(e.value, "does not exist")


@pytest.mark.parametrize("col", ["vk_percent", "vn_hv_kv", "sn_mva"])
def test_r34_transformer_without_rating_or_impedance(tmp_path, tiny_json_text, col):
    with pytest.raises(NetworkStructureError) as e:
        load_json(tmp_path, drop_column(net_doc(tiny_json_text), "trafo", col))
    one_line(e.value, f"trafo.{col}", "missing")



@pytest.mark.parametrize("value", [False, 0])
def test_r36_transformers_in_parallel_zero(tmp_path, tiny_json_text, value):
    with pytest.raises(NetworkStructureError) as e:
        load_json(tmp_path, set_cell(net_doc(tiny_json_text), "trafo", 0, "parallel", value))
    one_line(e.value, "trafo.parallel", "> 0")


def test_r37_long_switch_type_in_a_validation_message(tmp_path, tiny_json_text):
    with pytest.raises(ModelValidationError) as e:
        load_json(tmp_path, set_cell(net_doc(tiny_json_text), "switch", 0, "et", "a" * 1000 + "\n"))
    assert len(one_line(e.value, "switch.et")) < 400


@pytest.mark.parametrize("table", ["impedance", "vsc", "ward"])
def test_r38_element_table_given_as_null(tmp_path, tiny_json_text, table):
    """``"impedance": null`` in net.json loaded, then compile_topology crashed on ``len(None)`` (the same for
    the power flow's tables). A null element table is now no table at all."""
    from gridsim.core import compile_topology, sweep_single_faults
    doc = net_doc(tiny_json_text)
    doc["_object"][table] = None
    model = load_json(tmp_path, doc)
    assert table not in model.net
    sweep_single_faults(compile_topology(model))


def test_r38_element_table_not_a_table(tmp_path, tiny_json_text):
    doc = net_doc(tiny_json_text)
    doc["_object"]["impedance"] = 5
    with pytest.raises(ModelValidationError) as e:
        load_json(tmp_path, doc)
    one_line(e.value, "impedance", "must be a table")
