"""What-if page callbacks: options, map clicks, running a what-if (any signed-in user: it only reads) and
publishing it (operators only, as an event with the operator's name)."""
from __future__ import annotations

from dash import Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from gridsim.app.auth import current_user, operator_callback
from gridsim.app.guard import mapping, text, texts
from gridsim.app.figures import whatif_figure
from gridsim.app.outages_layout import table
from gridsim.app.whatif import WhatIfError, run_whatif
from gridsim.app.whatif_layout import element_options, switch_options
from gridsim.errors import GridsimError

__all__ = ["register_callbacks", "render_result", "PUBLISHABLE"]

#: event types a what-if may publish to the live state
PUBLISHABLE = ("switch_open", "switch_close", "planned_outage_scheduled")

_PLAN_COLUMNS = [("t_min", "min"), ("action", "action"), ("device", "device"), ("remote", "operated"),
                 ("purpose", "purpose"), ("customers_restored", "customers back"), ("critical_restored", "critical"),
                 ("max_loading_percent", "max loading %"), ("min_vm_pu", "min V pu"), ("via", "via")]
_ROUTE_COLUMNS = [("crew", "crew"), ("order", "#"), ("fault", "fault"), ("outage", "outage"), ("status", "status"),
                  ("travel_min", "travel min"), ("repair_start", "repair from"), ("repair_end", "to"),
                  ("etr", "ETR"), ("customers", "customers"), ("critical", "critical")]


def render_result(res: dict) -> list:
    """The what-if answer as page components (pure: a dict in, components out)."""
    from gridsim.app.figures import switching_plan_rows
    s = res["summary"]
    out = [html.H3(f"What if: {res['title']}", id="whatif-title"),
           html.Div(f"on the live state at {res['at']} (version {res['version']})", className="status"),
           html.Div([html.Div([html.Div("customers out", className="label"),
                               html.Div(f"{s['customers_out']:,}", className="value", id="whatif-customers")],
                              className="kpi"),
                     html.Div([html.Div("critical out", className="label"),
                               html.Div(f"{s['critical_out']:,}", className="value", id="whatif-critical")],
                              className="kpi alert" if s["critical_out"] else "kpi"),
                     html.Div([html.Div("buses out", className="label"),
                               html.Div(f"{s['buses_out']:,}", className="value")], className="kpi"),
                     html.Div([html.Div("notices", className="label"),
                               html.Div(f"{s['notices']:,}", className="value")], className="kpi")]
                    + ([html.Div([html.Div("customers back", className="label"),
                                  html.Div(f"{s['customers_back']:,}", className="value")], className="kpi")]
                       if s.get("customers_back") else []), className="kpis")]
    if s.get("tripping_device") or s.get("etr"):
        out.append(html.Div(" · ".join(x for x in (
            f"trips {s['tripping_device']}" if s.get("tripping_device") else "",
            f"outage {', '.join(s['new_outages'])} ({s.get('status', '')})" if s.get("new_outages") else "",
            f"ETR {s['etr'][5:16].replace('T', ' ')}" if s.get("etr") else "") if x), className="status"))
    out += [html.H4("Customers out by class"),
            table("whatif-classes", [("class", "class"), ("customers", "customers")],
                  [{"class": r["class"] + (" (critical)" if r["critical"] else ""), "customers": r["customers"]}
                   for r in res["by_class"]])]
    plan = res.get("plan")
    if plan:
        out += [html.H4(f"Switching plan (FLISR): {plan.get('customers_restored_by_switching', 0):,} customers back "
                        f"by switching, {plan.get('customers_until_repair', 0):,} wait for the repair"),
                table("whatif-plan", _PLAN_COLUMNS, switching_plan_rows(plan), page_size=10)]
        bad = plan.get("infeasible") or []
        if bad:
            out.append(html.Ul([html.Li(f"{b.get('tie') or 'no tie'}: {b.get('reason')}") for b in bad],
                               className="status"))
    if res.get("capacity"):
        c = res["capacity"]
        out.append(html.Div("capacity after the operation: " + (c["error"] if "error" in c else
                            f"max loading {c['max_loading_percent']}% ({c['worst_element']}), min voltage "
                            f"{c['min_vm_pu']} pu" + ("" if c["ok"] else " — LIMITS VIOLATED: "
                                                      + ", ".join(c["overloaded"][:5]))),
                            className="status" if c.get("ok") else "err"))
    if res.get("restoration"):
        out += [html.H4("Restoration plan (crew routes, ETRs): " + res.get("restoration_note", "")),
                table("whatif-restoration", _ROUTE_COLUMNS, res["restoration"], page_size=10)]
    elif res.get("restoration_note"):
        out.append(html.Div(res["restoration_note"], className="status"))
    if res.get("etr_changes"):
        out += [html.H4("ETRs of live outages that would move"),
                table("whatif-etr", [("outage", "outage"), ("etr_live", "ETR now"), ("etr_whatif", "ETR what-if")],
                      res["etr_changes"])]
    n = res["notices"]
    out.append(html.H4(f"Notices that would go out: {sum(n['counts'].values()):,} messages"
                       + (" (" + ", ".join(f"{q} {k}" for q, k in n["counts"].items()) + ")" if n["counts"] else "")))
    out += [html.Div(f"{m['queue']}: {m['message']}", className="msg") for m in n["sample"]]
    return out


def register_callbacks(app, service) -> None:
    geom = service.geometry
    topo = service.topo
    tr = geom.trace

    @app.callback(Output("whatif-fault-controls", "style"), Output("whatif-switch-controls", "style"),
                  Output("whatif-planned-controls", "style"), Input("whatif-kind", "value"))
    def show_controls(kind):
        def vis(k):
            return {"display": "flex"} if kind == k else {"display": "none"}
        return vis("fault"), vis("switch"), vis("planned")

    @app.callback(Output("whatif-element", "options"), Output("whatif-element", "value"),
                  Input("whatif-element", "search_value"), Input("whatif-map", "clickData"),
                  State("whatif-element", "value"))
    def pick_element(search, click, value):
        if ctx.triggered_id == "whatif-map" and click:
            points = mapping(click).get("points")
            pt = mapping(points[0]) if isinstance(points, list) and points else {}
            curve, idx = pt.get("curveNumber"), pt.get("pointIndex", pt.get("pointNumber"))
            label = None
            if curve == tr["line points"] and isinstance(idx, int) and 0 <= idx < len(geom.hit_label):
                label = geom.hit_label[idx]
            elif curve == tr["buses"] and isinstance(idx, int) and 0 <= idx < geom.n_bus:
                label = f"bus:{int(geom.bus_ids[idx])}"
            if label is None:
                raise PreventUpdate
            return element_options(geom, None, keep=[label]), label
        search, value = text(search), text(value)
        if not search and ctx.triggered_id == "whatif-element":
            raise PreventUpdate
        return element_options(geom, search, keep=[value] if value else []), no_update

    @app.callback(Output("whatif-switch", "options"), Input("whatif-switch", "search_value"),
                  State("whatif-switch", "value"), prevent_initial_call=True)
    def pick_switch(search, value):
        search, value = text(search), text(value)
        if not search:
            raise PreventUpdate
        return switch_options(topo, search, keep=[value] if value else [])

    @app.callback(Output("whatif-planned-elements", "options"), Input("whatif-planned-elements", "search_value"),
                  State("whatif-planned-elements", "value"), prevent_initial_call=True)
    def pick_planned(search, values):
        search = text(search)
        if not search:
            raise PreventUpdate
        return element_options(geom, search, keep=texts(values))

    @app.callback(Output("whatif-map", "figure"), Input("whatif-map", "id"))
    def init_map(_id):
        """The what-if map starts as the live network (filled after the page appears, like the live map)."""
        snap = service.snapshot()
        return whatif_figure(geom, service.map_state(snap), [], background=service.background)

    @app.callback(Output("whatif-result", "data"), Output("whatif-output", "children"),
                  Output("whatif-map", "figure", allow_duplicate=True),
                  Output("whatif-publish", "disabled"),
                  Input("whatif-run", "n_clicks"),
                  State("whatif-kind", "value"), State("whatif-element", "value"), State("whatif-switch", "value"),
                  State("whatif-action", "value"), State("whatif-planned-elements", "value"),
                  State("whatif-start", "value"), State("whatif-duration", "value"), State("whatif-reason", "value"),
                  prevent_initial_call=True)
    def run(n, kind, element, switch, action, planned, start, duration, reason):
        """Read-only: the what-if runs on a fork of the engine; viewers may ask too."""
        if not n:
            raise PreventUpdate
        kind, element, switch, action = text(kind), text(element), text(switch), text(action)
        planned, reason = texts(planned), text(reason)
        try:
            if kind == "switch":
                res = run_whatif(service, "switch", element=switch, action=action or "open")
            elif kind == "planned":
                res = run_whatif(service, "planned", elements=list(planned or []), start_in_min=start or 0,
                                 duration_min=duration or 60, reason=reason or "maintenance")
            else:
                res = run_whatif(service, "fault", element=element)
        except (WhatIfError, GridsimError) as e:
            return None, [html.H3("What-if"), html.Div(str(e), className="err", id="whatif-error")], no_update, True
        snap = service.snapshot()
        fig = whatif_figure(geom, service.map_state(snap), res["affected_bus_rows"],
                            element=res.get("element") or (res.get("event") or {}).get("device"),
                            background=service.background)
        user = current_user()
        can_publish = bool(res.get("event") and user is not None and user.is_operator)
        # the bus rows are for the map only: keep the stored answer small
        stored = {k: v for k, v in res.items() if k != "affected_bus_rows"}
        return stored, render_result(res), fig, not can_publish

    @operator_callback(app, Output("whatif-publish-result", "children"), Input("whatif-publish", "n_clicks"),
                       State("whatif-result", "data"), prevent_initial_call=True)
    def publish(user, n, res):
        if not n:
            raise PreventUpdate
        ev = mapping(res).get("event")
        if not isinstance(ev, dict) or ev.get("type") not in PUBLISHABLE:
            return html.Span("run a switch or planned-outage what-if first (faults are not published)",
                             className="err")
        r = service.operator_event(user, ev)
        if r.accepted:
            return html.Span(f"published by {user.name}: {ev['type']} "
                             f"{ev.get('device') or ', '.join(ev.get('elements', []))} "
                             f"({r.messages} messages, outages {', '.join(r.outages) or '-'})", className="ok",
                             id="whatif-published")
        return html.Span(f"refused by the engine: {r.reason}", className="err")
