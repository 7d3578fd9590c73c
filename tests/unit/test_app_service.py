"""The app's shared service, what-if answers, comparison results and settings (no browser)."""
import time

import pytest

from gridsim.app.config import AppConfig, AppConfigError, config_from
from gridsim.app.results import load_compare_result
from gridsim.app.service import LiveService
from gridsim.app.whatif import WhatIfError, run_whatif
from gridsim.live import LiveEngine
from gridsim.live.replay import scenario_crews, scenario_events
from gridsim.scenarios import compare_strategies, load_scenario


@pytest.fixture(scope="module")
def service():
    sc = load_scenario("scenarios/storm_small.yaml")
    eng = LiveEngine(sc.model, db=":memory:", options={"crews": scenario_crews(sc)})
    for e in scenario_events(sc)[:60]:
        eng.apply(e)
    return LiveService(AppConfig(replay=None), engine=eng)


def test_fault_whatif_leaves_the_live_state_alone(service):
    before = service.engine.version
    sent = len(service.engine.sent)
    res = run_whatif(service, "fault", element="line:99")
    assert service.engine.version == before and len(service.engine.sent) == sent
    s = res["summary"]
    assert s["customers_out"] > 0 and s["new_outages"] and res["affected_bus_rows"]
    assert sum(r["customers"] for r in res["by_class"]) == s["customers_out"]
    assert res["plan"]["steps"], "a FLISR switching plan"
    assert res["restoration"] and {"crew", "fault", "etr"} <= set(res["restoration"][0])
    assert res["notices"]["counts"], "the notices a real fault would send"
    assert res["event"] is None                                  # a fault is never published


def test_switch_and_planned_whatifs(service):
    res = run_whatif(service, "switch", element="switch:14", action="close")
    assert res["event"] == {"type": "switch_close", "device": "switch:14"}
    assert res["capacity"] is not None
    res = run_whatif(service, "planned", elements=["line:99"], start_in_min=600, duration_min=120)
    assert res["event"]["type"] == "planned_outage_scheduled"
    assert res["summary"]["customers_out"] > 0
    assert any(q.startswith("cs.") for q in res["notices"]["counts"]), "advance notices previewed"
    with pytest.raises(WhatIfError):
        run_whatif(service, "fault", element=None)
    with pytest.raises(WhatIfError):
        run_whatif(service, "fault", element="line:999999")


def test_map_state_cache_and_queue_stats(service):
    snap = service.snapshot()
    st = service.map_state(snap)
    assert service.map_state(snap) is st and service.map_state_at(snap.version) is st
    assert service.map_state_at(-1) is None
    assert service.queue_stats() == []                           # the engine here has no queue


def test_compare_result_round_trip(tmp_path):
    from gridsim.scenarios.report import write_compare_outputs
    sc = load_scenario("scenarios/storm_montecarlo.yaml")
    res = compare_strategies(sc, ["fifo", "wspt"], runs=3)
    write_compare_outputs(res, tmp_path / "r", scenario_name=sc.name)
    back, summary = load_compare_result(tmp_path / "r")
    assert back.strategies == ("fifo", "wspt") and back.baseline == "fifo" and len(back.runs) == 3
    assert back.best("saidi") == res.best("saidi")
    from gridsim.app.strategies_callbacks import render_comparison
    assert render_comparison(back, summary)


def test_replay_feed_runs_in_the_background(tmp_path):
    cfg = config_from(queue=f"sqlite:///{tmp_path}/q.db", speed=0)
    assert cfg.replay and cfg.model == "mv_oberrhein" and not cfg.fresh_replay
    svc = LiveService(cfg)
    svc.start()
    try:
        for _ in range(200):
            if svc.status["state"] == "replay finished":
                break
            time.sleep(0.1)
        assert svc.status["state"] == "replay finished", svc.status
        assert svc.status["applied"] > 100 and svc.engine.snapshot().outages
        assert any(s.depth for s in svc.queue_stats())
    finally:
        svc.close()


def test_settings():
    assert config_from().replay == "scenarios/storm_small.yaml"
    assert config_from().host == "127.0.0.1" and config_from().port == 8050
    assert config_from().fresh_replay and config_from().queue_url == "sqlite:///var/replay.db"
    assert config_from(model="sb_mvlv_urban").replay is None
    assert config_from(live=True).replay is None
    with pytest.raises(AppConfigError):
        config_from(replay="nope.yaml")
    with pytest.raises(AppConfigError):
        config_from(replay="scenarios/storm_small.yaml", live=True)
    with pytest.raises(AppConfigError):
        config_from(poll_ms=10)
