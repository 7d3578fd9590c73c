"""The web app in a real browser: what a dispatcher sees and may do (see conftest.py for the setup)."""
from __future__ import annotations

import re
import time

from e2ekit import copy_to_docs

MAP = ".livemap .js-plotly-plot"


def _shot(s, artifacts, name: str) -> None:
    path = artifacts / f"{name}.png"
    s.page.screenshot(path=str(path), full_page=True)
    copy_to_docs(path, f"app-{name}.png")


def _map_ready(page, n_bus: int) -> None:
    page.wait_for_function(
        """([sel, n]) => { const g = document.querySelector(sel);
             if (!g || !g.data) return false;
             const b = g.data.find(t => t.name === 'buses');
             return b && b.customdata && b.customdata.length === n; }""", arg=[MAP, n_bus])


def _pick(page, dropdown: str, value: str) -> None:
    """Type into a searchable dropdown (its options come from a server callback) and click the option."""
    page.click(dropdown)
    search = page.locator(".dash-dropdown-content input.dash-dropdown-search")
    search.wait_for(state="visible")             # the popover is open: no keystroke is lost
    search.fill(value)
    option = page.locator(f"[role='option']:has(input[value='{value}'])")
    option.first.wait_for(state="visible")
    option.first.click()
    page.wait_for_function("([sel, t]) => document.querySelector(sel).innerText.includes(t)", arg=[dropdown, value])


def _kpi(page, key: str) -> str:
    return page.inner_text(f"#kpi-{key}")


def test_map_draws_every_bus_and_kpis_follow_the_replay(signed_in, app_server, artifacts):
    base, svc = app_server
    s = signed_in("olga")
    n_bus = len(svc.model.net.bus)
    _map_ready(s.page, n_bus)
    drawn = s.page.evaluate(f"""() => {{ const g = document.querySelector('{MAP}');
        const b = g.data.find(t => t.name === 'buses'); return [b.customdata.length, g._fullData.length]; }}""")
    assert drawn[0] == n_bus
    # the storm is on: customers are out and the customer minutes grow as the replay goes on
    s.page.wait_for_function("() => document.querySelector('#kpi-cmi') && "
                             "document.querySelector('#kpi-cmi').innerText !== '0'")
    first = _kpi(s.page, "cmi")
    s.page.wait_for_function("(v) => document.querySelector('#kpi-cmi').innerText !== v", arg=first, timeout=30_000)
    assert _kpi(s.page, "cmi") != first
    # the map shows de-energized buses (red) once the first fault is in
    s.page.wait_for_function(f"""() => {{ const g = document.querySelector('{MAP}');
        const b = g.data.find(t => t.name === 'buses'); return b.marker.color.some(c => c !== 0); }}""")
    assert "mv_oberrhein" in s.page.inner_text("#clock")
    _shot(s, artifacts, "map")


def test_outages_table_selects_and_highlights(signed_in, app_server, artifacts):
    s = signed_in("olga")
    s.goto("/outages")
    s.page.wait_for_selector("#outages-table td[data-dash-column='outage_id']")
    row = s.page.locator("#outages-table tr", has=s.page.locator("td[data-dash-column='outage_id']",
                                                                  has_text=re.compile(r"^O1$")))
    row.first.locator("input").click()                 # the row's selection button
    s.page.wait_for_selector("#outage-title")
    assert s.page.inner_text("#outage-title").startswith("O1")
    # the map on the page highlights the selected outage
    s.page.wait_for_function(f"""() => {{ const g = document.querySelector('{MAP}');
        if (!g || !g.data) return false; const h = g.data[g.data.length - 1];
        return h.name === 'selected: O1' && h.x.length > 0; }}""")
    assert s.page.locator("#outage-history").count() == 1
    _shot(s, artifacts, "outages")


def test_queues_page_renders_messages(signed_in, artifacts):
    s = signed_in("olga")
    s.goto("/queues")
    s.page.wait_for_selector("#queue-stats td[data-dash-column='queue']")
    s.page.wait_for_selector("#queue-messages .msg")
    text = s.page.inner_text("#queue-messages")
    assert "OUTAGE" in text or "outage" in text and "{" not in text.splitlines()[0]
    _shot(s, artifacts, "queues")


def test_operator_faults_a_line_in_whatif_and_publishes_a_switching(signed_in, app_server, artifacts):
    base, svc = app_server
    s = signed_in("olga")
    s.goto("/whatif")
    version = svc.engine.version
    _pick(s.page, "#whatif-element", "line:99")
    s.page.click("#whatif-run")
    s.page.wait_for_selector("#whatif-title")
    assert "line:99" in s.page.inner_text("#whatif-title")
    assert int(s.page.inner_text("#whatif-customers").replace(",", "")) > 0
    assert s.page.locator("#whatif-plan").count() == 1 and s.page.locator("#whatif-restoration").count() == 1
    _shot(s, artifacts, "whatif")
    # nothing of it reached the live state (only the replay moved it)
    assert not any(o.get("fault_element") == "line:99" and o["type"] == "fault" and o["status"] != "restored"
                   and "what-if" in str(o["history"]) for o in svc.snapshot().outages)
    # an operator publishes a switch operation: it reaches the engine under the operator's name
    import numpy as np
    topo = svc.topo
    ties = [f"switch:{int(i)}" for i in topo.switch_ids[~np.asarray(topo.switch_closed)]]
    s.page.check("input[value='switch']")
    s.page.check("input[value='close']")
    # the replay keeps operating switches (FLISR closes ties) while the browser works: a tie that was open
    # when picked may be closed by the time the what-if runs or is published; then the page says so and
    # the test takes the next tie that is still open
    published, tried = False, []
    for _ in range(4):
        operated = set(svc.snapshot().open_devices)          # every switch not in its normal state
        tie = next((t for t in ties if t not in operated and t not in tried), None)
        assert tie is not None, f"no open tie left to close (tried {tried})"
        tried.append(tie)
        _pick(s.page, "#whatif-switch", tie)
        s.page.click("#whatif-run")
        s.page.wait_for_selector(f"#whatif-title:has-text('close {tie}'), #whatif-error")
        if s.page.locator("#whatif-error").count():
            continue
        s.page.click("#whatif-publish")
        s.page.wait_for_selector("#whatif-published, #whatif-publish-result .err")
        if s.page.locator("#whatif-published").count():
            published = True
            break
    assert published, f"no switch operation could be published (tried {tried})"
    assert svc.engine.version > version
    audit = svc.audit(200)
    assert any(a["actor"] == "olga" and a["target"] == tie for a in audit), audit[:5]


def test_viewer_cannot_operate(signed_in, app_server, artifacts):
    base, svc = app_server
    s = signed_in("victor")
    s.goto("/outages")
    s.page.wait_for_selector("#outages-role-note")
    assert s.page.is_disabled("#dispatch-button") and s.page.is_disabled("#ack-button")
    # a viewer's browser calling the dispatch callback directly is refused by the server
    body = {"output": "dispatch-result.children", "outputs": {"id": "dispatch-result", "property": "children"},
            "inputs": [{"id": "dispatch-button", "property": "n_clicks", "value": 1}],
            "state": [{"id": "dispatch-crew", "property": "value", "value": "crew-1"},
                      {"id": "selected-outage", "property": "data", "value": "O1"}],
            "changedPropIds": ["dispatch-button.n_clicks"]}
    version = svc.engine.version
    r = s.page.request.post(f"{base}/_dash-update-component", data=body)
    assert r.status == 403
    assert not any(a["actor"] == "victor" for a in svc.audit(500))
    s.goto("/whatif")
    s.page.wait_for_selector("#whatif-role-note")
    assert s.page.is_disabled("#whatif-publish")
    s.goto("/strategies")
    s.page.wait_for_selector("#strategies-role-note")
    assert s.page.is_disabled("#strategies-run")
    _shot(s, artifacts, "viewer")
    del version


def test_strategies_page_shows_a_comparison(signed_in, artifacts):
    s = signed_in("olga")
    s.goto("/strategies")
    s.page.wait_for_selector("#strategies-title")
    assert "6 runs" in s.page.inner_text("#strategies-title")
    s.page.wait_for_selector("#strategies-best td")
    time.sleep(0.5)
    _shot(s, artifacts, "strategies")
