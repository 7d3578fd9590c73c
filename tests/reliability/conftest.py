"""Fixtures of the fuzzing suite and the summary of cases run (see README.md)."""
from __future__ import annotations

import pytest

import fuzzkit


@pytest.fixture(scope="session")
def tiny_json_text() -> str:
    """pandapower JSON text of :func:`fuzzkit.tiny_net` (empty tables dropped)."""
    return fuzzkit.compact_net_json(fuzzkit.tiny_net())


@pytest.fixture(scope="module")
def web_app(tmp_path_factory):
    """The web app on a storm in progress (mv_oberrhein): (app, service, signed-in test clients, protected
    callback ids)."""
    from gridsim.app.auth import Role, User, Users, hash_password, operator_callback_ids
    from gridsim.app.config import AppConfig
    from gridsim.app.factory import build_app
    from gridsim.app.service import LiveService
    from gridsim.live import LiveEngine
    from gridsim.live.replay import scenario_crews, scenario_events
    from gridsim.scenarios import load_scenario
    sc = load_scenario("scenarios/storm_small.yaml")
    out = tmp_path_factory.mktemp("results")
    # a database-backed engine, as served (the audit trail is read from it)
    eng = LiveEngine(sc.model, queue=f"sqlite:///{out}/web.db", options={"crews": scenario_crews(sc)})
    for e in scenario_events(sc)[:80]:            # a storm in progress: outages, crews, work orders
        eng.apply(e)
    svc = LiveService(AppConfig(replay=None, results_dirs=(str(out),), compare_out=str(out)), engine=eng)
    users = Users({"olga": User("olga", Role.OPERATOR, hash_password(fuzzkit.WEB_PASSWORDS["olga"])),
                   "victor": User("victor", Role.VIEWER, hash_password(fuzzkit.WEB_PASSWORDS["victor"]))}, "fuzz")
    app = build_app(svc, users, secret_key="f" * 40)
    clients = {u: fuzzkit.web_client(app, u) for u in fuzzkit.WEB_PASSWORDS}
    yield app, svc, clients, set(operator_callback_ids(app))
    for job in list(getattr(svc, "jobs", {}).values()):
        if hasattr(job, "cancel"):
            job.cancel()
    eng.close()


def pytest_terminal_summary(terminalreporter):
    if not fuzzkit.CASES_RUN:
        return
    terminalreporter.section("reliability fuzzing: cases run")
    for name, s in sorted(fuzzkit.CASES_RUN.items()):
        terminalreporter.write_line(f"{name:<48} {s['cases']:>6} cases  {s['seconds']:8.1f} s")


def pytest_collection_modifyitems(config, items):
    from pathlib import Path

    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.reliability)
