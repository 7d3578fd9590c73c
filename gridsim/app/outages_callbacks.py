"""Outages page callbacks: tables refresh on every new engine version; operator actions go to the engine as
events with the signed-in user as actor (:func:`gridsim.app.auth.operator_callback`)."""
from __future__ import annotations

from dash import Input, Output, State, ctx, html
from dash.exceptions import PreventUpdate

from gridsim.app.auth import operator_callback
from gridsim.app.guard import mapping, text, texts
from gridsim.app.figures import history_rows, outage_rows, switching_plan_rows
from gridsim.app.outages_layout import table

__all__ = ["register_callbacks", "work_order_rows"]

_PLAN_COLUMNS = [("t_min", "min"), ("action", "action"), ("device", "device"), ("remote", "operated"),
                 ("purpose", "purpose"), ("customers_restored", "customers back"), ("critical_restored", "critical"),
                 ("max_loading_percent", "max loading %"), ("min_vm_pu", "min V pu"), ("via", "via")]
_HISTORY_COLUMNS = [("time", "time"), ("status", "status"), ("actor", "who"), ("detail", "detail")]


def work_order_rows(snap, *, open_only: bool = True) -> list[dict]:
    rows = []
    for w in snap.work_orders:
        if open_only and w["status"] not in ("open", "acknowledged"):
            continue
        rows.append({"id": w["work_order_id"], "work_order_id": w["work_order_id"], "outage_id": w["outage_id"],
                     "department": w["department"], "owner": w["owner"],
                     "due_at": (w["due_at"] or "")[5:16].replace("T", " "), "status": w["status"],
                     "escalated": "yes" if w["escalated"] else "", "overdue": "yes" if w["overdue"] else "",
                     "action": w["action"]})
    rows.sort(key=lambda r: (r["overdue"] != "yes", r["due_at"]))
    return rows


def _details(snap, outage_id):
    rec = next((o for o in snap.outages if o["outage_id"] == outage_id), None)
    if rec is None:
        return html.Div(f"Outage {outage_id} is not known (any more).", className="status")
    crit = rec.get("critical_by_class") or {}
    head = (f"{rec['outage_id']}: {rec['type']} · {rec['status']} · {rec.get('customers_out', 0):,} customers out "
            f"of {rec.get('customers', 0):,}" + (f" · critical: " + ", ".join(f"{v} {c}" for c, v in crit.items())
                                                 if crit else "")
            + (f" · ETR {rec['etr'][5:16].replace('T', ' ')}" if rec.get("etr") else "")
            + (f" · crew {rec['crew']}" if rec.get("crew") else ""))
    plan = rec.get("flisr")
    parts = [html.H3(head, id="outage-title"),
             html.Div(f"cause {rec.get('cause')}, device {rec.get('device') or '-'}, fault at "
                      f"{rec.get('fault_element') or '-'}, started {rec.get('start')}", className="status")]
    if plan:
        parts += [html.H4(f"Switching plan (FLISR): trips {plan.get('tripping_device') or 'at the source'}, "
                          f"{plan.get('customers_restored_by_switching', 0):,} customers back by switching, "
                          f"{plan.get('customers_until_repair', 0):,} wait for the repair"),
                  table("outage-plan", _PLAN_COLUMNS, switching_plan_rows(plan), page_size=8)]
        bad = plan.get("infeasible") or []
        if bad:
            parts.append(html.Ul([html.Li(f"{b.get('tie') or 'no tie'}: {b.get('reason')}") for b in bad],
                                 className="status"))
    elif rec["type"] == "planned":
        parts.append(html.H4(f"Planned window {rec.get('window')} for {', '.join(rec.get('elements') or [])}"))
    parts += [html.H4("History"), table("outage-history", _HISTORY_COLUMNS, history_rows(rec), page_size=8)]
    return html.Div(parts)


def register_callbacks(app, service) -> None:
    @app.callback(Output("outages-table", "data"), Output("wo-table", "data"), Output("dispatch-crew", "options"),
                  Output("audit-table", "data"), Output("outages-v", "data"),
                  Input("poll", "n_intervals"), Input("outages-active", "value"), State("outages-v", "data"))
    def refresh(_n, active, shown):
        snap = service.snapshot()
        active = texts(active)
        key = [snap.version, sorted(active)]
        if shown == key:
            raise PreventUpdate
        crews = [{"label": f"{c['crew_id']} ({c['status']}" + (f", {c['outage_id']}" if c.get("outage_id") else "")
                  + ")", "value": c["crew_id"]} for c in snap.crews]
        audit = [{k: r[k] for k in ("time", "actor", "action", "target", "detail")} for r in service.audit(50)]
        return (outage_rows(snap, active_only="active" in active), work_order_rows(snap), crews, audit, key)

    @app.callback(Output("selected-outage", "data"),
                  Input("outages-table", "selected_row_ids"), Input("outages-table", "active_cell"),
                  State("selected-outage", "data"), prevent_initial_call=True)
    def select(row_ids, cell, current):
        props = {t["prop_id"] for t in ctx.triggered}
        row_ids, cell = texts(row_ids), mapping(cell)
        if "outages-table.active_cell" in props and text(cell.get("row_id")):
            new = cell["row_id"]           # a click anywhere in a row selects it
        else:
            new = row_ids[0] if row_ids else None
        if new is None or new == current:
            raise PreventUpdate
        return new

    @app.callback(Output("outages-table", "selected_row_ids"), Input("selected-outage", "data"),
                  State("outages-table", "selected_row_ids"))
    def show_selected(selected, rows):
        selected = text(selected)
        want = [selected] if selected else []
        if (rows or []) == want:
            raise PreventUpdate
        return want

    @app.callback(Output("outage-details", "children"), Output("outage-details-v", "data"),
                  Input("selected-outage", "data"), Input("poll", "n_intervals"), State("outage-details-v", "data"))
    def details(selected, _n, shown):
        selected = text(selected)
        if not selected:
            raise PreventUpdate
        snap = service.snapshot()
        key = [selected, snap.version]
        if shown == key:
            raise PreventUpdate
        return _details(snap, selected), key

    @operator_callback(app, Output("dispatch-result", "children"), Input("dispatch-button", "n_clicks"),
                       State("dispatch-crew", "value"), State("selected-outage", "data"), prevent_initial_call=True)
    def dispatch(user, n, crew, outage):
        if not n:
            raise PreventUpdate
        crew, outage = text(crew), text(outage)
        if not crew or not outage:
            return html.Span("choose a crew and select an outage first", className="err")
        r = service.operator_event(user, {"type": "crew_status", "crew_id": str(crew), "status": "dispatched",
                                          "outage_id": str(outage)})
        if r.accepted:
            return html.Span(f"{crew} dispatched to {outage} by {user.name}", className="ok", id="dispatch-ok")
        return html.Span(f"refused by the engine: {r.reason}", className="err")

    @operator_callback(app, Output("ack-result", "children"), Input("ack-button", "n_clicks"),
                       State("wo-table", "selected_row_ids"), prevent_initial_call=True)
    def acknowledge(user, n, ids):
        if not n:
            raise PreventUpdate
        ids = texts(ids)
        if not ids:
            return html.Span("select one or more work orders first", className="err")
        done, bad = [], []
        for wid in ids[:50]:
            r = service.operator_event(user, {"type": "work_order_update", "work_order_id": str(wid),
                                              "status": "acknowledged", "note": "acknowledged in the app"})
            (done if r.accepted else bad).append(wid if r.accepted else f"{wid}: {r.reason}")
        out = []
        if done:
            out.append(html.Div(f"acknowledged by {user.name}: {', '.join(done)}", className="ok", id="ack-ok"))
        if bad:
            out.append(html.Div("refused: " + "; ".join(bad), className="err"))
        return out
