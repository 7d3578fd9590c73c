"""One plain test per web-app bug the fuzzing found (W01-W09, see README.md): the smallest request that
made the server answer HTTP 500, and what it must answer now."""
from __future__ import annotations

import json

import pytest

from test_fuzz_web_app import _deps, _outputs

URL = "/_dash-update-component"


def _call(web_app, key, values: dict, user: str = "olga", **override):
    """A well-formed request for callback ``key`` with ``values`` by 'id.property' (others None, clicks 1); a
    pattern-matching dependency is named by its id's ``type`` ('livemap-v.data')."""
    app, _, clients, _ = web_app
    cb = app.callback_map[key]

    def val(d):
        name = f"{d['id'] if isinstance(d['id'], str) else d['id']['type']}.{d['property']}"
        return values.get(name, 1 if name.endswith("n_clicks") else None)
    ins, sts = _deps(cb["inputs"]), _deps(cb["state"])
    first = ins[0]["id"] if isinstance(ins[0]["id"], str) else ins[0]["id"]["type"]
    body = {"output": key, "outputs": _outputs(key), "inputs": [{**d, "value": val(d)} for d in ins],
            "state": [{**d, "value": val(d)} for d in sts], "changedPropIds": [f"{first}.{ins[0]['property']}"]}
    body.update(override)
    # json.dumps keeps a lone surrogate escaped ("\\ud800"): valid JSON text, as a hostile client may send
    return clients[user].post(URL, data=json.dumps(body), content_type="application/json")


def test_w01_envelope_not_matching_the_callback_is_400(web_app):
    key = "dispatch-result.children"
    for bad in ({"inputs": []}, {"inputs": "x"}, {"state": [{"value": 1}]}, {"output": "nope.children"},
                {"outputs": 5}):
        r = _call(web_app, key, {}, **bad)
        assert r.status_code == 400, (bad, r.status_code)
        msg = r.get_json()["error"]
        assert msg.startswith("bad callback request:") and "\n" not in msg
    # the guard does not stand in the way of a real request
    assert _call(web_app, "clock.children", {"poll.n_intervals": 1}).status_code == 200


def test_w02_deeply_nested_body_is_400(web_app):
    _, _, clients, _ = web_app
    r = clients["olga"].post(URL, data="[" * 5000 + "]" * 5000, content_type="application/json")
    assert r.status_code == 400 and "nested too deeply" in r.get_json()["error"]


KEY_OUTAGES = "..outages-table.data...wo-table.data...dispatch-crew.options...audit-table.data...outages-v.data.."


def test_w03_outages_filter_not_a_list(web_app):
    assert _call(web_app, KEY_OUTAGES, {"outages-active.value": 1, "poll.n_intervals": 1}).status_code == 200


def test_w04_outage_selection_of_the_wrong_type(web_app):
    r = _call(web_app, "selected-outage.data", {"outages-table.selected_row_ids": 1,
                                                 "outages-table.active_cell": "x"})
    assert r.status_code == 204                       # nothing selected: no update
    r = _call(web_app, "outages-table.selected_row_ids", {"selected-outage.data": 10**30})
    assert r.status_code in (200, 204)


def test_w05_work_order_ids_not_a_list(web_app):
    svc = web_app[1]
    version = svc.engine.version
    r = _call(web_app, "ack-result.children", {"wo-table.selected_row_ids": 1})
    assert r.status_code == 200 and "select one or more work orders first" in r.get_data(as_text=True)
    assert svc.engine.version == version


def test_w06_queue_pick_a_list(web_app):
    r = _call(web_app, "..queue-messages.children...queue-dead.children..", {"queue-pick.value": [1]})
    assert r.status_code == 200 and "choose a queue" in r.get_data(as_text=True)


def test_w07_pathname_a_list(web_app):
    key = next(k for k in web_app[0].callback_map if k.startswith("..page.children"))
    r = _call(web_app, key, {"url.pathname": [1]})
    assert r.status_code == 200                      # the map page (the default) is served


def test_w08_whatif_result_not_an_object(web_app):
    svc = web_app[1]
    version = svc.engine.version
    r = _call(web_app, "whatif-publish-result.children", {"whatif-result.data": 1})
    assert r.status_code == 200 and "run a switch or planned-outage what-if first" in r.get_data(as_text=True)
    assert svc.engine.version == version


@pytest.mark.parametrize("key, values", [
    ("..whatif-element.options...whatif-element.value..", {"whatif-element.search_value": 1,
                                                           "whatif-element.value": [1]}),
    ("whatif-switch.options", {"whatif-switch.search_value": "switch", "whatif-switch.value": [1]}),
    ("whatif-planned-elements.options", {"whatif-planned-elements.search_value": "line",
                                         "whatif-planned-elements.value": 7}),
])
def test_w09_whatif_pickers_of_the_wrong_type(web_app, key, values):
    r = _call(web_app, key, values)
    assert r.status_code in (200, 204)
    if r.status_code == 200:
        assert json.loads(r.get_data(as_text=True))


def test_w09_map_click_without_points(web_app):
    key = "..whatif-element.options...whatif-element.value.."
    r = _call(web_app, key, {"whatif-map.clickData": {"points": "x"}},
              changedPropIds=["whatif-map.clickData"])
    assert r.status_code in (200, 204)


def test_w01_pattern_matching_callback_passes_the_guard(web_app):
    """The live map's MATCH callback, as the renderer sends it (ids as objects), is not refused."""
    key = next(k for k in web_app[0].callback_map if "livemap" in k)
    r = _call(web_app, key, {"poll.n_intervals": 1})
    assert r.status_code in (200, 204), r.get_data(as_text=True)[:300]


def test_w10_live_map_version_of_the_wrong_type(web_app):
    """The live map's shown version from the browser (a Store) not an object, or an unhashable version."""
    key = next(k for k in web_app[0].callback_map if "livemap" in k)
    for shown in (1, {"v": [1]}, {"v": "x", "hl": 5}):
        r = _call(web_app, key, {"poll.n_intervals": 1, "livemap-v.data": shown})
        assert r.status_code == 200, (shown, r.status_code)


@pytest.mark.parametrize("values", [
    {"whatif-kind.value": "planned", "whatif-planned-elements.value": ["line:5"], "whatif-start.value": 10**30,
     "whatif-duration.value": 60},
    {"whatif-kind.value": "planned", "whatif-planned-elements.value": ["line:5"], "whatif-start.value": 1e300,
     "whatif-duration.value": 60},
    {"whatif-kind.value": ["fault"], "whatif-element.value": {"a": 1}},
    {"whatif-kind.value": "switch", "whatif-switch.value": [1], "whatif-action.value": 5},
])
def test_w11_whatif_run_with_values_out_of_range(web_app, values):
    """A planned outage starting 10^30 minutes from now: OverflowError in the date arithmetic (HTTP 500)."""
    key = next(k for k in web_app[0].callback_map if k.startswith("..whatif-result.data"))
    version = web_app[1].engine.version
    r = _call(web_app, key, values)
    assert r.status_code == 200
    assert 'whatif-error' in r.get_data(as_text=True)
    assert web_app[1].engine.version == version


def test_w12_lone_surrogate_echoed_back(web_app):
    """A selected outage id holding a lone surrogate (valid JSON, not UTF-8) reached the map figure and the
    response could not be encoded (plotly's orjson: 'str is not valid UTF-8')."""
    key = next(k for k in web_app[0].callback_map if "livemap" in k)
    r = _call(web_app, key, {"poll.n_intervals": 1, "selected-outage.data": "O1\ud800"},
              changedPropIds=["selected-outage.data"])
    assert r.status_code == 200, r.status_code
