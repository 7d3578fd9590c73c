"""Input size limits: every one enforced with a one-line error naming its environment variable, every one
configurable, a bad setting refused (gridsim/model/limits.py; the table is in README.md)."""
from __future__ import annotations

import json

import pytest

from gridsim.errors import GridsimError, InputTooLargeError, SettingError


def test_defaults_and_overrides(monkeypatch):
    from gridsim.model.limits import limit

    for name in ("GRIDSIM_MAX_NET_MB", "GRIDSIM_MAX_INPUT_MB", "GRIDSIM_MAX_EVENT_BYTES", "GRIDSIM_MAX_BATCH"):
        monkeypatch.delenv(name, raising=False)
    assert limit("GRIDSIM_MAX_NET_MB") == 256 * 2**20
    assert limit("GRIDSIM_MAX_INPUT_MB") == 64 * 2**20
    assert limit("GRIDSIM_MAX_EVENT_BYTES") == 16 * 1024
    assert limit("GRIDSIM_MAX_BATCH") == 10_000
    monkeypatch.setenv("GRIDSIM_MAX_INPUT_MB", "0.5")
    assert limit("GRIDSIM_MAX_INPUT_MB") == 2**19


@pytest.mark.parametrize("value", ["abc", "0", "-1", "nan", "inf"])
def test_bad_setting_is_refused(monkeypatch, value):
    from gridsim.model.limits import limit

    monkeypatch.setenv("GRIDSIM_MAX_BATCH", value)
    with pytest.raises(SettingError, match="GRIDSIM_MAX_BATCH"):
        limit("GRIDSIM_MAX_BATCH")


def test_network_json_limit(tmp_path, monkeypatch, tiny_json_text):
    from gridsim.model import load_model

    path = tmp_path / "net.json"
    path.write_text(tiny_json_text)
    monkeypatch.setenv("GRIDSIM_MAX_NET_MB", str(len(tiny_json_text) / 2**20 / 2))
    with pytest.raises(InputTooLargeError, match=r"net\.json: .* over the limit .*GRIDSIM_MAX_NET_MB"):
        load_model(str(path))
    monkeypatch.setenv("GRIDSIM_MAX_NET_MB", "1")
    assert len(load_model(str(path)).net.bus) == 6


def test_customers_csv_limit(tmp_path, monkeypatch, tiny_json_text):
    from gridsim.model import load_model

    (tmp_path / "net.json").write_text(tiny_json_text)
    cust = tmp_path / "customers.csv"
    cust.write_text("customer_id,bus,class,count\n" + "".join(f"C{i},3,residential,1\n" for i in range(2000)))
    monkeypatch.setenv("GRIDSIM_MAX_INPUT_MB", "0.01")
    with pytest.raises(InputTooLargeError, match=r"customers\.csv: .*GRIDSIM_MAX_INPUT_MB"):
        load_model(str(tmp_path / "net.json"), customers=cust)


def test_model_yaml_limit(tmp_path, monkeypatch, tiny_json_text):
    from gridsim.model import load_model

    (tmp_path / "net.json").write_text(tiny_json_text)
    (tmp_path / "model.yaml").write_text("name: big\ndescription: '" + "x" * 20_000 + "'\n")
    monkeypatch.setenv("GRIDSIM_MAX_INPUT_MB", "0.01")
    with pytest.raises(InputTooLargeError, match=r"model\.yaml: .*GRIDSIM_MAX_INPUT_MB"):
        load_model(str(tmp_path))


def test_scenario_limit_file_and_text(tmp_path, monkeypatch):
    from gridsim.scenarios import ScenarioError, load_scenario, parse_scenario

    text = "model: cigre_mv\ndescription: '" + "x" * 20_000 + "'\n"
    path = tmp_path / "big.yaml"
    path.write_text(text)
    monkeypatch.setenv("GRIDSIM_MAX_INPUT_MB", "0.01")
    with pytest.raises(ScenarioError, match=r"big\.yaml: .*GRIDSIM_MAX_INPUT_MB"):
        load_scenario(path)
    with pytest.raises(ScenarioError, match=r"web\.yaml: .*GRIDSIM_MAX_INPUT_MB"):
        parse_scenario(text, "web.yaml")


def test_event_size_limit(monkeypatch):
    from gridsim.live import EventError
    from gridsim.live.events import parse_event

    ev = {"type": "customer_call", "id": "c1", "time": "2025-01-06T16:00:00", "customer_id": "L0", "text": "x" * 1500}
    parse_event(ev)
    monkeypatch.setenv("GRIDSIM_MAX_EVENT_BYTES", "1000")
    for raw in (ev, json.dumps(ev)):
        with pytest.raises(EventError, match="GRIDSIM_MAX_EVENT_BYTES"):
            parse_event(raw)
    monkeypatch.setenv("GRIDSIM_MAX_EVENT_BYTES", "-5")
    with pytest.raises(EventError, match="GRIDSIM_MAX_EVENT_BYTES"):
        parse_event(ev)


def test_events_file_limit(tmp_path, monkeypatch):
    from gridsim.live import EventError, read_events_file

    path = tmp_path / "e.jsonl"
    path.write_text("".join(json.dumps({"type": "tick", "id": f"t{i}", "time": "2025-01-06T16:00:00"}) + "\n"
                            for i in range(500)))
    monkeypatch.setenv("GRIDSIM_MAX_INPUT_MB", "0.01")
    with pytest.raises(EventError, match="GRIDSIM_MAX_INPUT_MB"):
        read_events_file(path)


def test_apply_batch_limit_applies_nothing(tmp_path, monkeypatch, tiny_json_text):
    from gridsim.live import LiveEngine

    (tmp_path / "net.json").write_text(tiny_json_text)
    engine = LiveEngine(str(tmp_path / "net.json"), db=":memory:")
    ticks = [{"type": "tick", "id": f"t{i}", "time": f"2025-01-06T16:{i:02d}:00"} for i in range(6)]
    monkeypatch.setenv("GRIDSIM_MAX_BATCH", "5")
    version = engine.snapshot().version
    with pytest.raises(InputTooLargeError, match="GRIDSIM_MAX_BATCH"):
        engine.apply_batch(iter(ticks))      # a generator too: read no further than the limit
    assert engine.snapshot().version == version and engine.clock is None
    assert len(engine.apply_batch(ticks[:5])) == 5


def test_events_push_limit_pushes_nothing(tmp_path, monkeypatch, capsys):
    from gridsim.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GRIDSIM_QUEUE", raising=False)
    path = tmp_path / "e.jsonl"
    path.write_text("".join(json.dumps({"type": "tick", "id": f"t{i}", "time": "2025-01-06T16:00:00"}) + "\n"
                            for i in range(6)))
    monkeypatch.setenv("GRIDSIM_MAX_BATCH", "5")
    assert main(["events", "push", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "GRIDSIM_MAX_BATCH" in err and "nothing was pushed" in err
    assert main(["queues", "--json"]) == 0
    depth = {q["queue"]: q["depth"] for q in json.loads(capsys.readouterr().out)}
    assert depth["grid.events"] == 0


def test_limit_errors_are_gridsim_errors():
    assert issubclass(InputTooLargeError, GridsimError) and issubclass(SettingError, GridsimError)
