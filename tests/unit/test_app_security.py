"""Roles are enforced on the server: every state-changing callback refuses anonymous (401) and viewers (403)
when its endpoint is called directly, and an operator's action reaches the engine with the user's name.

The test discovers the callbacks from the app itself (everything registered through operator_callback), then
posts raw JSON to Dash's callback endpoint as a client would, without a browser.
"""
import re

import pytest

from gridsim.app.auth import AppConfigError, Role, User, Users, hash_password, load_users, operator_callback_ids
from gridsim.app.config import AppConfig
from gridsim.app.factory import build_app
from gridsim.app.service import LiveService
from gridsim.live import LiveEngine
from gridsim.live.replay import scenario_crews, scenario_events
from gridsim.scenarios import load_scenario

PASSWORDS = {"olga": "operator-pw-1", "victor": "viewer-pw-1"}


@pytest.fixture(scope="module")
def app_and_service(tmp_path_factory):
    sc = load_scenario("scenarios/storm_small.yaml")
    eng = LiveEngine(sc.model, db=":memory:", options={"crews": scenario_crews(sc)})
    for e in scenario_events(sc)[:80]:
        eng.apply(e)
    out = tmp_path_factory.mktemp("compare")
    svc = LiveService(AppConfig(replay=None, results_dirs=(str(out),), compare_out=str(out)), engine=eng)
    users = Users({"olga": User("olga", Role.OPERATOR, hash_password(PASSWORDS["olga"])),
                   "victor": User("victor", Role.VIEWER, hash_password(PASSWORDS["victor"]))}, "test")
    return build_app(svc, users, secret_key="t" * 32), svc


def _client(app, user=None):
    c = app.server.test_client()
    if user is not None:
        page = c.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
        r = c.post("/login", data={"username": user, "password": PASSWORDS[user], "csrf": csrf})
        assert r.status_code == 302, r.get_data(as_text=True)[:300]
    return c


def _outputs(key):
    def one(s):
        i, p = s.rsplit(".", 1)
        return {"id": i, "property": p.split("@")[0]}
    if key.startswith(".."):
        return [one(s) for s in key.strip(".").split("...")]
    return one(key)


# values that make each protected callback do its job for an operator
_VALUES = {"dispatch-button.n_clicks": 1, "dispatch-crew.value": "crew-2", "selected-outage.data": "O1",
           "ack-button.n_clicks": 1, "whatif-publish.n_clicks": 1, "strategies-run.n_clicks": 1,
           "strategies-scenario.value": "scenarios/storm_montecarlo.yaml", "strategies-pick.value": ["fifo", "wspt"],
           "strategies-runs.value": 2, "strategies-cancel.n_clicks": 1}


def _body(app, key, svc):
    cb = app.callback_map[key]
    values = dict(_VALUES)
    snap = svc.snapshot()
    values["wo-table.selected_row_ids"] = [w["work_order_id"] for w in snap.work_orders if w["status"] == "open"][:1]
    values["whatif-result.data"] = {"event": {"type": "switch_open", "device": "switch:14"}}
    values["strategies-job.data"] = next(iter(svc.jobs), None)
    inputs = [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in cb["inputs"]]
    state = [{**s, "value": values.get(f"{s['id']}.{s['property']}")} for s in cb["state"]]
    return {"output": key, "outputs": _outputs(key), "inputs": inputs, "state": state,
            "changedPropIds": [f"{cb['inputs'][0]['id']}.{cb['inputs'][0]['property']}"]}


def test_every_state_changing_callback_is_protected(app_and_service):
    app, svc = app_and_service
    keys = operator_callback_ids(app)
    # dispatch, acknowledge, publish a what-if, start and cancel a comparison
    assert len(keys) == 5, keys
    anon, viewer = _client(app), _client(app, "victor")
    version = svc.engine.version
    for key in keys:
        body = _body(app, key, svc)
        assert anon.post("/_dash-update-component", json=body).status_code == 401, key
        r = viewer.post("/_dash-update-component", json=body)
        assert r.status_code == 403, (key, r.status_code, r.get_data(as_text=True)[:200])
    assert svc.engine.version == version, "a refused call changed the live state"
    assert not svc.jobs, "a refused call started a comparison"


def test_anonymous_gets_nothing(app_and_service):
    app, _ = app_and_service
    anon = _client(app)
    r = anon.get("/", headers={"Accept": "text/html"})
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    for path in ("/_dash-layout", "/_dash-dependencies"):
        assert anon.get(path).status_code == 401
    # every callback, state-changing or not, needs a signed-in user
    for key in app.callback_map:
        if "{" in key:
            continue
        assert anon.post("/_dash-update-component", json={"output": key, "outputs": _outputs(key), "inputs": [],
                                                           "state": [], "changedPropIds": []}).status_code == 401
    assert anon.get("/_gridsim/health").status_code == 200


def test_operator_actions_reach_the_engine_with_the_user_name(app_and_service):
    app, svc = app_and_service
    op = _client(app, "olga")
    key = "dispatch-result.children"
    r = op.post("/_dash-update-component", json=_body(app, key, svc))
    assert r.status_code == 200 and "dispatched to O1 by olga" in r.get_data(as_text=True)
    assert any(c["crew_id"] == "crew-2" and c["outage_id"] == "O1" for c in svc.snapshot().crews)
    o1 = next(o for o in svc.snapshot().outages if o["outage_id"] == "O1")
    assert any(h["actor"] == "olga" for h in o1["history"])
    r = op.post("/_dash-update-component", json=_body(app, "ack-result.children", svc))
    assert r.status_code == 200 and "acknowledged by olga" in r.get_data(as_text=True)


def test_sign_in_rules(app_and_service):
    app, _ = app_and_service
    c = app.server.test_client()
    page = c.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert c.post("/login", data={"username": "olga", "password": "nope", "csrf": csrf}).status_code == 401
    assert c.post("/login", data={"username": "olga", "password": PASSWORDS["olga"], "csrf": "forged"}
                  ).status_code == 400
    r = c.post("/login", data={"username": "olga", "password": PASSWORDS["olga"], "csrf": csrf,
                               "next": "//evil.example/"})
    assert r.status_code == 302 and r.headers["Location"] == "/"
    cookie = r.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "default-src 'self'" in c.get("/login").headers["Content-Security-Policy"]


def test_users_from_environment_and_file(tmp_path):
    h = hash_password("s3cret-pw")
    u = load_users({"GRIDSIM_USERS": f"ann:operator:{h},bob:viewer:{h}"})
    assert u.get("ann").is_operator and not u.get("bob").is_operator and u.generated is None
    f = tmp_path / "users.yaml"
    f.write_text(f"users:\n  cy: {{role: viewer, password_hash: '{h}'}}\n")
    assert load_users({"GRIDSIM_USERS_FILE": str(f)}).get("cy").role is Role.VIEWER
    gen = load_users({})
    assert set(gen.generated) == {"operator", "viewer"} and len(gen.generated["operator"]) >= 12
    with pytest.raises(AppConfigError, match="hash"):
        load_users({"GRIDSIM_USERS": "ann:operator:plaintext"})
    with pytest.raises(AppConfigError, match="role"):
        load_users({"GRIDSIM_USERS": f"ann:admin:{h}"})
