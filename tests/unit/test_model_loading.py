"""Loading bundled models, files and folders; customers; devices; errors naming the file."""
from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pandapower as pp
import pytest
import yaml

from gridsim.errors import InputFileError, ModelLoadError, ModelValidationError
from gridsim.model import (
    BUNDLED_MODELS, CUSTOMER_COLUMNS, DEVICE_COLUMNS, Model, build_device_table, derive_customers, list_models,
    load_model, read_customers, write_customers,
)
from gridsim.model import loader
from gridsim.types import CRITICAL_CLASSES, DEFAULT_PRIORITY, CustomerClass, DeviceKind

REPO = Path(__file__).resolve().parents[2]
CLASS_VALUES = {c.value for c in CustomerClass}


@pytest.fixture
def fresh_memory_cache():
    """Empty the in-process caches for one test, then put the session's entries back."""
    saved = dict(loader._NET_CACHE), dict(loader._MODEL_CACHE)
    loader.clear_memory_cache()
    yield
    loader.clear_memory_cache()
    loader._NET_CACHE.update(saved[0])
    loader._MODEL_CACHE.update(saved[1])


# --------------------------------------------------------------------------- bundled models

@pytest.mark.parametrize("name", list(BUNDLED_MODELS))
def test_bundled_model_loads_valid(bundled_model, name):
    model = bundled_model(name)
    assert isinstance(model, Model) and model.name == name
    assert len(model.net.bus) > 0 and (REPO / "models" / name / "model.yaml").is_file()
    cust = model.customers
    assert list(cust.columns[:len(CUSTOMER_COLUMNS)]) == list(CUSTOMER_COLUMNS)
    assert cust["bus"].dtype == np.int64 and cust["count"].dtype == np.int64
    assert cust["p_kw"].dtype == float and cust["priority"].dtype == float
    assert set(cust["class"]) <= CLASS_VALUES
    assert cust["customer_id"].is_unique and (cust["count"] >= 1).all()
    assert cust["bus"].isin(model.net.bus.index).all()
    # every critical class is present
    assert {c.value for c in CRITICAL_CLASSES} <= set(cust["class"])
    dev = model.devices
    assert tuple(dev.columns) == DEVICE_COLUMNS and dev["device_id"].is_unique
    assert set(dev["kind"]) <= {k.value for k in DeviceKind}
    assert (dev["origin"] == "pandapower").sum() == len(model.net.switch)
    assert set(model.meta["switching"]) >= {"remote_operate_s", "manual_operate_min", "crew_speed_kmh"}


def test_mv_oberrhein_critical_mix(bundled_model):
    crit = bundled_model("mv_oberrhein").customers.query("`class` != 'residential'")
    assert crit["class"].value_counts().to_dict() == {
        "hospital": 2, "station": 2, "government": 2, "water": 1, "telecom": 1}
    assert (crit["priority"] == crit["class"].map({c.value: w for c, w in DEFAULT_PRIORITY.items()})).all()


def test_sb_complete_scales_critical_facilities(bundled_model):
    model = bundled_model("sb_complete")
    n_crit = model.customers["class"].isin([c.value for c in CRITICAL_CLASSES]).sum()
    assert n_crit >= len(model.net.load) // 600
    assert len(model.net.bus) == 37587


def test_bundled_model_yaml_devices_applied(bundled_model):
    model = bundled_model("mv_oberrhein")
    meta = model.meta["devices"]
    dev = model.devices.set_index("device_id")
    for sw, kind in meta["switch_kinds"].items():
        assert dev.at[f"switch:{sw}", "kind"] == kind
    assert (dev["kind"] == "fuse").sum() == len(meta["fuses"]) > 0
    assert set(dev.loc[dev["remote"] & (dev["origin"] == "pandapower"), "switch_id"]) == set(meta["remote_switches"])


def test_load_returns_independent_copies():
    a = load_model("cigre_mv")
    a.net.line.drop(a.net.line.index, inplace=True)
    a.customers.loc[0, "count"] = 999
    b = load_model("cigre_mv")
    assert len(b.net.line) > 0 and b.customers.loc[0, "count"] != 999


def test_derived_customers_deterministic(fresh_memory_cache):
    a, b = load_model("mv_oberrhein"), load_model("mv_oberrhein")
    pd.testing.assert_frame_equal(a.customers, b.customers)
    pd.testing.assert_frame_equal(a.devices, b.devices)
    loader.clear_memory_cache()  # rebuilt from the disk cache
    c = load_model("mv_oberrhein")
    pd.testing.assert_frame_equal(a.customers, c.customers)
    pd.testing.assert_frame_equal(derive_customers(a.net), derive_customers(c.net))


def test_model_yaml_matches_build_script():
    """The committed model.yaml files are what models/build_models.py writes."""
    spec = importlib.util.spec_from_file_location("build_models", REPO / "models" / "build_models.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for name in ("cigre_mv", "mv_oberrhein"):
        built = yaml.safe_load(yaml.dump(mod.build_meta(name), Dumper=mod._Dumper, sort_keys=False))
        assert built == yaml.safe_load((REPO / "models" / name / "model.yaml").read_text())


def test_list_models(bundled_model):
    for name in BUNDLED_MODELS:
        bundled_model(name)  # warm
    df = list_models()
    assert list(df["name"]) == list(BUNDLED_MODELS)
    assert {"name", "buses", "lines", "customers", "critical", "source"} <= set(df.columns)
    assert (df["critical"] >= 5).all() and (df["customers"] > df["critical"]).all()


# --------------------------------------------------------------------------- derivation rules

def test_derive_customers_classes_and_counts():
    """LV H/G/L profile loads count 1; an MV load is an LV area of p_kw/2 households; HS above 36 kV is bulk."""
    net = pp.create_empty_network()
    ehv, mv, lv = (pp.create_bus(net, vn_kv=v) for v in (220.0, 20.0, 0.4))
    pp.create_load(net, lv, p_mw=0.004, profile="H0-A")
    pp.create_load(net, lv, p_mw=0.010, profile="G1-B")
    pp.create_load(net, lv, p_mw=0.010, profile="L2-A")
    pp.create_load(net, mv, p_mw=0.5, profile="lv_rural1")
    pp.create_load(net, mv, p_mw=0.3)
    pp.create_load(net, ehv, p_mw=100.0, profile="HS3")
    pp.create_load(net, lv, p_mw=0.004, in_service=False)
    df = derive_customers(net, priority_weights={"residential": 2.0})
    assert list(df["customer_id"]) == ["L0", "L1", "L2", "L3", "L4", "L5"]
    assert list(df["class"]) == ["residential", "commercial", "agricultural", "residential", "residential",
                                 "industrial"]
    assert list(df["count"]) == [1, 1, 1, 250, 150, 1]
    assert df.loc[0, "priority"] == 2.0 and df.loc[1, "priority"] == DEFAULT_PRIORITY[CustomerClass.COMMERCIAL]
    assert df.loc[3, "p_kw"] == pytest.approx(500.0)


def test_build_device_table_kinds_and_elements():
    """
    b0 --line0-- b1 ==trafo0== b2 -[bus-bus switch]- b3
    """
    net = pp.create_empty_network()
    b0, b1, b3 = pp.create_bus(net, 20.0), pp.create_bus(net, 20.0), None
    b2 = pp.create_bus(net, 0.4)
    b3 = pp.create_bus(net, 0.4)
    pp.create_ext_grid(net, b0)
    pp.create_line(net, b0, b1, 1.0, "NA2XS2Y 1x95 RM/25 12/20 kV")
    pp.create_transformer(net, b1, b2, "0.4 MVA 20/0.4 kV")
    pp.create_switch(net, b0, 0, et="l", type="CB")
    pp.create_switch(net, b1, 0, et="t", type="LBS", closed=False)
    pp.create_switch(net, b2, b3, et="b", type=None)
    pp.create_switch(net, b1, 0, et="l", type="DS")
    meta = {"devices": {"fuses": [0], "reclosers": [{"line": 0, "bus": b0}],
                        "switch_kinds": {3: "recloser"}, "remote_switches": [1]}}
    dev = build_device_table(net, meta).set_index("device_id")
    assert list(dev.index) == ["switch:0", "switch:1", "switch:2", "switch:3", "fuse:line:0", "recloser:line:0"]
    assert list(dev["kind"]) == ["breaker", "load_break_switch", "disconnector", "recloser", "fuse", "recloser"]
    assert list(dev["element_type"]) == ["line", "trafo", "switch", "line", "line", "line"]
    assert dev.at["switch:2", "element_id"] == 2
    assert list(dev["normally_open"]) == [False, True, False, False, False, False]
    assert list(dev["remote"]) == [False, True, False, False, False, True]
    assert list(dev["switch_id"]) == [0, 1, 2, 3, -1, -1] and dev.at["fuse:line:0", "bus"] == -1
    # without model.yaml: breakers (and reclosers) are remote
    assert list(build_device_table(net, {})["remote"]) == [True, False, False, False]


def test_bad_switch_kind_in_yaml(tiny_net):
    with pytest.raises(ModelLoadError, match="switch_kinds.*'relay'"):
        build_device_table(tiny_net, {"devices": {"switch_kinds": {0: "relay"}}})


# --------------------------------------------------------------------------- user files

def test_user_customers_csv_keeps_unknown_columns(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,bus,class,count,p_kw,priority,channels,account_manager\n"
                    "H1,1,hospital,1,800,,ivr;sms,Ann\n"
                    "R1,5,residential,40,,7.5,sms,\n")
    model = load_model("cigre_mv", customers=path)
    cust = model.customers.set_index("customer_id")
    assert list(model.customers.columns[:6]) == list(CUSTOMER_COLUMNS)
    assert cust.at["H1", "account_manager"] == "Ann" and cust.at["H1", "channels"] == "ivr;sms"
    assert cust.at["H1", "priority"] == DEFAULT_PRIORITY[CustomerClass.HOSPITAL]
    assert cust.at["R1", "priority"] == 7.5 and cust.at["R1", "p_kw"] == 0.0 and cust.at["R1", "count"] == 40


def test_customers_roundtrip_csv_and_parquet(tmp_path, tiny_net):
    df = derive_customers(tiny_net)
    for name in ("c.csv", "c.parquet"):
        back = read_customers(write_customers(df, tmp_path / name))
        pd.testing.assert_frame_equal(back[list(CUSTOMER_COLUMNS)], df[list(CUSTOMER_COLUMNS)])


@pytest.mark.parametrize("row, match", [
    ("C3,1,hosp,1", r"customers.csv line 3: column 'class': class 'hosp' is not one of hospital, station"),
    ("C3,1,hospital,many", r"customers.csv line 3: column 'count': 'many' is not an integer"),
    ("C3,x1,hospital,1", r"customers.csv line 3: column 'bus': 'x1' is not an integer"),
])
def test_bad_customer_rows_name_file_line_column(tmp_path, row, match):
    path = tmp_path / "customers.csv"
    path.write_text(f"customer_id,bus,class,count\nC2,1,residential,1\n{row}\n")
    with pytest.raises(InputFileError, match=match):
        load_model("cigre_mv", customers=path)


def test_customers_csv_missing_column_and_empty(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,bus,count\nC1,1,1\n")
    with pytest.raises(InputFileError, match="customers.csv: missing column.*class"):
        read_customers(path)
    path.write_text("")
    with pytest.raises(InputFileError, match="customers.csv: file is empty"):
        read_customers(path)
    with pytest.raises(InputFileError, match="not found"):
        read_customers(tmp_path / "nope.csv")


def test_customers_on_unknown_bus_refused_at_load(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,bus,class,count\nC1,999,hospital,1\nC2,1,residential,-2\n")
    with pytest.raises(ModelValidationError) as exc:
        load_model("cigre_mv", customers=path)
    assert {i.code for i in exc.value.issues} == {"customer_unknown_bus", "negative_count"}


def test_pandapower_json_file_and_folder(tmp_path, tiny_net):
    pp.to_json(tiny_net, str(tmp_path / "grid.json"))
    model = load_model(tmp_path / "grid.json")
    assert model.name == "grid" and list(model.customers["customer_id"]) == ["L0", "L1"]
    folder = tmp_path / "mymodel"
    folder.mkdir()
    pp.to_json(tiny_net, str(folder / "net.json"))
    (folder / "customers.csv").write_text("customer_id,bus,class,count\nH1,3,hospital,1\nR1,2,residential,12\n")
    (folder / "model.yaml").write_text(
        "devices:\n  fuses: [{line: 1, bus: 1}]\n  remote_switches: [1]\n"
        "switching: {crew_speed_kmh: 25}\npriority_weights: {hospital: 5000}\n")
    model = load_model(folder)
    assert model.name == "mymodel"
    assert model.customers.set_index("customer_id").at["H1", "priority"] == 5000.0
    assert model.meta["switching"]["crew_speed_kmh"] == 25 and model.meta["switching"]["remote_operate_s"] == 30.0
    dev = model.devices.set_index("device_id")
    assert dev.at["fuse:line:1", "bus"] == 1 and dev.at["switch:1", "remote"] and not dev.at["switch:0", "remote"]
    # priority_weights argument beats model.yaml
    model = load_model(folder, priority_weights={"hospital": 7})
    assert model.customers.set_index("customer_id").at["H1", "priority"] == 7.0


def test_priority_weights_override_bundled():
    model = load_model("mv_oberrhein", priority_weights={"hospital": 1.5, "residential": 0.5})
    by_class = model.customers.groupby("class")["priority"].first()
    assert by_class["hospital"] == 1.5 and by_class["residential"] == 0.5
    assert by_class["station"] == DEFAULT_PRIORITY[CustomerClass.STATION]
    assert load_model("mv_oberrhein").customers.groupby("class")["priority"].first()["hospital"] == 1000.0
    with pytest.raises(ModelLoadError, match="priority_weights: class 'hospitals'"):
        load_model("mv_oberrhein", priority_weights={"hospitals": 1})


def test_malformed_json_names_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"_module": "pandapower.auxiliary",\n  "bus": [1, 2,\n')
    with pytest.raises(InputFileError, match=r"broken.json line \d+ column \d+: malformed JSON"):
        load_model(path)
    path.write_text('{"hello": 1}')
    with pytest.raises(InputFileError, match="broken.json: not a pandapower network"):
        load_model(path)


def test_malformed_yaml_names_file_and_line(tmp_path, tiny_net):
    pp.to_json(tiny_net, str(tmp_path / "net.json"))
    (tmp_path / "model.yaml").write_text("devices:\n  fuses: [1, 2\nswitching: {a: 1}\n")
    with pytest.raises(InputFileError, match=r"model.yaml line \d+ column \d+: malformed YAML"):
        load_model(tmp_path)
    (tmp_path / "model.yaml").write_text("- just\n- a list\n")
    with pytest.raises(InputFileError, match="model.yaml: expected a mapping"):
        load_model(tmp_path)


def test_missing_files(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        load_model(tmp_path / "nope.json")
    with pytest.raises(InputFileError, match="no net.json"):
        load_model(tmp_path)
    with pytest.raises(InputFileError, match="customers file not found"):
        load_model("cigre_mv", customers=tmp_path / "c.csv")


def test_unknown_name_lists_bundled_models():
    with pytest.raises(ModelLoadError) as exc:
        load_model("mv_oberrhine")
    msg = str(exc.value)
    assert "\n" not in msg and all(name in msg for name in BUNDLED_MODELS)


def test_simbench_code(tmp_path):
    model = load_model("simbench:1-LV-rural1--0-sw")
    assert model.name == "1-LV-rural1--0-sw" and len(model.customers) == len(model.net.load)
    with pytest.raises(ModelLoadError, match="not one of the .* SimBench codes"):
        load_model("simbench:1-LV-rural1--0-swx")


def test_synth_dispatch(monkeypatch, tiny_net, make_model):
    calls = []

    def make_synthetic(n_buses, seed=0):
        calls.append((n_buses, seed))
        return make_model(tiny_net)

    monkeypatch.setitem(sys.modules, "gridsim.model.synth", types.SimpleNamespace(make_synthetic=make_synthetic))
    load_model("synth:100")
    model = load_model("synth:50:7", priority_weights={"residential": 3})
    assert calls == [(100, 0), (50, 7)] and model.spec == "synth:50:7"
    assert (model.customers["priority"] == 3.0).all()
    for bad in ("synth:", "synth:x", "synth:10:1:2", "synth:-5"):
        with pytest.raises(ModelLoadError, match="synth:N"):
            load_model(bad)


def test_disk_cache_used_and_repaired(tmp_path, monkeypatch, fresh_memory_cache):
    monkeypatch.setenv("GRIDSIM_CACHE_DIR", str(tmp_path))
    loader.clear_memory_cache()
    load_model("cigre_mv")
    (pkl,) = tmp_path.glob("*.pkl")
    assert pp.__version__ in pkl.name
    loader.clear_memory_cache()
    pkl.write_bytes(b"garbage")  # a truncated / stale entry is rebuilt, not an error
    assert len(load_model("cigre_mv").net.bus) == 15
    assert pkl.stat().st_size > 1000
