"""Outages page: the outage table, the selected outage on the map with its history and switching plan,
work orders (acknowledge escalations), crew dispatch and the audit trail."""
from __future__ import annotations

import warnings

from dash import dash_table, dcc, html

from gridsim.app.figures import OUTAGE_COLUMNS, outage_rows
from gridsim.app.map_layout import livemap

__all__ = ["layout", "table"]

_TABLE_STYLE = dict(style_table={"overflowX": "auto"}, style_cell={"fontSize": 13, "padding": "3px 6px",
                                                                   "fontFamily": "inherit", "textAlign": "left"},
                    style_header={"fontWeight": "600", "background": "#eef1f5"})


def table(id_: str, columns, data, **kw):
    """A DataTable (sortable, selectable rows). Dash 4 marks DataTable for removal in a future major version
    (dash-ag-grid replaces it); it works in Dash 4, which pyproject.toml pins, so the notice is silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"(?s).*DataTable will be removed", category=DeprecationWarning)
        return dash_table.DataTable(id=id_, columns=[{"name": n, "id": c} for c, n in columns], data=data,
                                    **{**_TABLE_STYLE, **kw})


WO_COLUMNS = [("work_order_id", "work order"), ("outage_id", "outage"), ("department", "department"),
              ("owner", "owner"), ("due_at", "due"), ("status", "status"), ("escalated", "escalated"),
              ("overdue", "overdue"), ("action", "action")]
AUDIT_COLUMNS = [("time", "time"), ("actor", "who"), ("action", "action"), ("target", "target"),
                 ("detail", "detail")]


def layout(service, user=None):
    snap = service.snapshot()
    op = bool(user is not None and user.is_operator)
    locked = None if op else html.Div("operator role required to dispatch crews and acknowledge work orders",
                                      className="note", id="outages-role-note")
    return html.Div([
        html.Div([
            html.H3("Outages"),
            dcc.Checklist(id="outages-active", options=[{"label": " active only", "value": "active"}], value=[],
                          inline=True),
            table("outages-table", OUTAGE_COLUMNS, outage_rows(snap), sort_action="native", row_selectable="single",
                  page_size=12, selected_row_ids=[],
                  style_data_conditional=[
                      {"if": {"filter_query": "{critical} > 0"}, "backgroundColor": "#fff1f0"},
                      {"if": {"filter_query": '{status} = "restored"'}, "color": "#7a8190"},
                      {"if": {"state": "selected"}, "backgroundColor": "#ffe8a3", "border": "1px solid #ffb703"}]),
        ], className="card"),
        html.Div([
            html.Div([html.Div(livemap(service, "outages", height="58vh"), className="card")], className="col",
                     style={"flex": "3"}),
            html.Div([
                html.Div(id="outage-details", className="card",
                         children=html.Div("Select an outage in the table to see it on the map, its history and "
                                           "its switching plan.", className="status")),
                html.Div([
                    html.H3("Dispatch a crew"), locked,
                    html.Div([html.Div([html.Label("crew"), dcc.Dropdown(id="dispatch-crew", options=[],
                                                                         disabled=not op)]),
                              html.Button("Dispatch to the selected outage", id="dispatch-button", n_clicks=0,
                                          className="action", disabled=not op)], className="controls"),
                    html.Div(id="dispatch-result", className="status"),
                ], className="card"),
            ], className="col", style={"flex": "2"}),
        ], className="row"),
        html.Div([
            html.H3("Work orders"),
            html.Div("Overdue work orders are escalated to the supervisor queue; an operator acknowledges them here.",
                     className="status"),
            table("wo-table", WO_COLUMNS, [], row_selectable="multi", page_size=10, sort_action="native",
                  selected_row_ids=[],
                  style_data_conditional=[{"if": {"filter_query": '{overdue} = "yes"'}, "color": "#b00020",
                                           "fontWeight": "600"}]),
            html.Div([html.Button("Acknowledge selected", id="ack-button", n_clicks=0, className="action",
                                  disabled=not op)], className="controls", style={"marginTop": "6px"}),
            html.Div(id="ack-result", className="status"),
        ], className="card"),
        html.Div([html.H3("Audit trail"), table("audit-table", AUDIT_COLUMNS, [], page_size=10)], className="card"),
        dcc.Store(id="outages-v", data=None),
        dcc.Store(id="outage-details-v", data=None),
    ])
