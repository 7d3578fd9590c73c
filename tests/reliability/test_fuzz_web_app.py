"""Fuzzing the web app's inputs: every Dash callback of the app, called through its HTTP endpoint
(``/_dash-update-component``) as a browser - or an attacker with a session - would, with hostile values
in its inputs and states and with broken request envelopes, as an operator and as a viewer.

The callbacks are discovered from the app (``app.callback_map``), so a new page's callbacks are fuzzed too.
Each case is a short list of requests; some values are plausible (a real element, switch, outage, crew)
so that a case reaches deep into the callback, the others come from :data:`fuzzkit.hostile`.

Holds when: no request is answered with a server error (an unhandled exception is a 500), a callback
answers a hostile value with an update or "no update" (204) or a 4xx - never a hang; a viewer's request
and a read-only callback leave the live engine exactly as it was (version, clock, outages); an operator's
request changes the live state only through an accepted event recorded in the audit trail under the
operator's name; no comparison job starts from a path outside the bundled scenarios / data folder; and the
server still answers its health check afterwards.
"""
from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import strategies as st

import fuzzkit
from fuzzkit import WEB_PASSWORDS as PASSWORDS
from fuzzkit import hostile, real, run_fuzz

#: HTTP status per (request shape, status), printed at the end: shows the cases reach the callbacks
SEEN: Counter = Counter()


def _spec(text: str) -> dict:
    i, p = text.rsplit(".", 1)
    if i.startswith("{"):                           # a pattern-matching id: the one page that has it
        i = {k: ("map" if v == ["MATCH"] else v) for k, v in json.loads(i).items()}
    return {"id": i, "property": p.split("@")[0]}


def _outputs(key: str):
    if key.startswith(".."):
        return [_spec(s) for s in key.strip(".").split("...")]
    return _spec(key)


def _deps(items) -> list[dict]:
    return [_spec(f"{d['id']}.{d['property']}") for d in items]


#: plausible values (the case mixes them with hostile ones): they make a callback do real work
PLAUSIBLE = {
    "whatif-element.value": ["line:99", "bus:58", "trafo:0", "line:1"], "whatif-switch.value": ["switch:14", "switch:1"],
    "whatif-kind.value": ["fault", "switch", "planned"], "whatif-action.value": ["open", "close"],
    "whatif-planned-elements.value": [["line:5"], ["line:5", "line:6"]], "whatif-start.value": [0, 30],
    "whatif-duration.value": [60], "whatif-reason.value": ["maintenance"],
    "whatif-element.search_value": ["line:9", "bus"], "whatif-switch.search_value": ["switch:1"],
    "selected-outage.data": ["O1", "O2"], "dispatch-crew.value": ["crew-1", "crew-2"],
    "outages-active.value": [[], ["active"]], "queue-pick.value": ["cs.sms", "ops.repair"],
    "queue-raw.value": [[], ["raw"]], "queue-limit.value": [10, 50], "url.pathname": ["/", "/whatif"],
    "poll.n_intervals": [1, 2], "strategies-pick.value": [["fifo", "wspt"]], "strategies-runs.value": [2],
    "whatif-result.data": [{"event": {"type": "switch_open", "device": "switch:14"}},
                           {"event": {"type": "planned_outage_scheduled", "elements": ["line:5"]}}],
}
CLICKS = st.one_of(st.just(1), st.integers(0, 5), hostile)


@st.composite
def requests(draw, keys: list[str]):
    key = draw(st.sampled_from(keys))
    user = draw(st.sampled_from(sorted(PASSWORDS)))

    def value(dep):
        name = f"{dep['id']}.{dep['property']}" if isinstance(dep["id"], str) else dep["property"]
        if name.endswith("n_clicks"):
            return draw(CLICKS)
        if name in PLAUSIBLE and draw(st.booleans()):
            return draw(st.sampled_from(PLAUSIBLE[name]))
        return draw(hostile)

    shape = draw(st.sampled_from(["ok", "ok", "ok", "ok", "drop", "garbage", "wrong-output", "text"]))
    return {"key": key, "user": user, "shape": shape, "values": {"inputs": "inputs", "state": "state"},
            "draw": value, "garbage": draw(hostile) if shape in ("garbage", "text") else None,
            "drop": draw(st.sampled_from(["inputs", "state", "outputs", "output", "changedPropIds"]))}


def _body(app, req) -> tuple[dict | str | None, bool]:
    """The request body (JSON value or raw text) and whether it is well formed."""
    cb = app.callback_map[req["key"]]
    # values stay Long / Deep objects here: json_dumps_loose writes them (as deep as asked)
    inputs = [{**d, "value": req["draw"](d)} for d in _deps(cb["inputs"])]
    state = [{**d, "value": req["draw"](d)} for d in _deps(cb["state"])]
    body = {"output": req["key"], "outputs": _outputs(req["key"]), "inputs": inputs, "state": state,
            "changedPropIds": [f"{cb['inputs'][0]['id']}.{cb['inputs'][0]['property']}"] if cb["inputs"] and
            isinstance(cb["inputs"][0]["id"], str) else []}
    shape = req["shape"]
    if shape == "drop":
        body.pop(req["drop"], None)
    elif shape == "garbage":
        body[req["drop"]] = req["garbage"]
    elif shape == "wrong-output":
        body["output"] = "no-such-component.children"
        body["outputs"] = {"id": "no-such-component", "property": "children"}
    elif shape == "text":
        g = req["garbage"]
        return (real(g) if isinstance(g, (str, fuzzkit.Long)) else fuzzkit.json_dumps_loose(g)), False
    return body, shape == "ok"


def _state(svc) -> tuple:
    e = svc.engine
    return (e.version, e.clock, tuple(sorted((o.id, o.status) for o in e.outages.values())))


def check_request(web, req) -> None:
    app, svc, clients, protected = web
    before = _state(svc)
    audit_before = len(svc.audit(100_000))
    jobs_before = set(getattr(svc, "jobs", {}))
    body, well_formed = _body(app, req)
    client = clients[req["user"]]
    if isinstance(body, str):
        data = body.encode("utf-8", "surrogatepass")
        r = client.post("/_dash-update-component", data=data, content_type="application/json")
    else:
        r = client.post("/_dash-update-component", data=fuzzkit.json_dumps_loose(body).encode("utf-8", "surrogatepass"),
                        content_type="application/json")
    text = r.get_data(as_text=True)
    SEEN[(req["shape"] if req["shape"] == "ok" else "broken", r.status_code)] += 1
    assert r.status_code < 500, f"{req['key']} ({req['user']}, {req['shape']}): HTTP {r.status_code}: {text[:300]}"
    if r.status_code == 200:
        json.loads(text)                                   # an update is JSON
    assert "Traceback" not in text
    after = _state(svc)
    if req["user"] == "victor" or req["key"] not in protected:
        assert after == before, f"{req['key']} ({req['user']}) changed the live state"
    elif after[0] != before[0]:
        SEEN[("operator changes", "audited")] += 1
        new = svc.audit(100_000)[: len(svc.audit(100_000)) - audit_before]
        assert any(a["actor"] == "olga" for a in new), f"{req['key']}: the live state changed without an audit entry"
    started = set(getattr(svc, "jobs", {})) - jobs_before
    for jid in started:
        job = svc.jobs[jid]
        path = str(getattr(job, "scenario", getattr(job, "path", "")))
        assert req["user"] == "olga" and "scenarios" in path, f"a comparison started from {path!r}"
        job.cancel() if hasattr(job, "cancel") else None


@pytest.mark.parametrize("size", fuzzkit.SIZES)
def test_fuzz_web_app_callbacks(size, web_app):
    web = web_app
    app = web[0]
    keys = sorted(app.callback_map)
    run_fuzz("web-app callbacks (HTTP)", st.lists(requests(keys), min_size=1, max_size=3),
             lambda reqs: [check_request(web, r) for r in reqs], size, examples=(150, 2000))
    health = web[2]["olga"].get("/_gridsim/health")
    assert health.status_code == 200
    print("\nweb-app fuzzing, responses (request shape, HTTP status): "
          + ", ".join(f"{k[0]} {k[1]}: {n}" for k, n in sorted(SEEN.items(), key=str)))
    # well-formed requests must mostly reach the callbacks (an update or "no update"), not stop at the door
    ok = sum(n for (shape, code), n in SEEN.items() if shape == "ok" and code in (200, 204))
    assert ok >= 0.3 * sum(n for (shape, _), n in SEEN.items() if shape == "ok"), SEEN
