"""What-if page: fault an element, operate a switch or preview a planned outage on a copy of the live state."""
from __future__ import annotations

import numpy as np
from dash import dcc, html

from gridsim.app.figures import empty_map
from gridsim.app.map_layout import GRAPH_CONFIG

__all__ = ["layout", "element_options", "switch_options"]

_MAX_OPTIONS = 60


def _match(labels, search: str | None, keep=()) -> list[str]:
    s = (search or "").strip().lower()
    out = [lab for lab in keep if lab]
    for lab in labels:
        if len(out) >= _MAX_OPTIONS:
            break
        if (not s or s in lab.lower()) and lab not in out:
            out.append(lab)
    return out


def element_options(geom, search: str | None = None, keep=()) -> list[dict]:
    """Faultable elements (lines, transformers, buses) matching ``search`` (at most 60; ``keep`` first)."""
    labels = list(geom.hit_label) + [f"bus:{int(b)}" for b in geom.bus_ids.tolist()]
    return [{"label": lab, "value": lab} for lab in _match(labels, search, keep)]


def switch_options(topo, search: str | None = None, keep=()) -> list[dict]:
    """Switching devices (switches, breakers, reclosers; no fuses) matching ``search``."""
    from gridsim.core.topology import DEVICE_KINDS
    from gridsim.types import DeviceKind
    kinds = np.asarray(topo.dev_kind)
    fuse = DEVICE_KINDS.index(DeviceKind.FUSE)
    open_rows = set(np.nonzero(~np.asarray(topo.switch_closed))[0].tolist())
    labels, notes = [], {}
    for d, k, s in zip(np.asarray(topo.dev_ids).tolist(), kinds.tolist(), np.asarray(topo.dev_switch).tolist()):
        if k == fuse:
            continue
        labels.append(str(d))
        notes[str(d)] = f"{DEVICE_KINDS[k].value}" + (", normally open" if s in open_rows else "")
    return [{"label": f"{lab} ({notes.get(lab, '')})", "value": lab} for lab in _match(labels, search, keep)]


def layout(service, user=None):
    op = bool(user is not None and user.is_operator)
    geom = service.geometry
    return html.Div([
        html.Div([
            html.H3("What-if (on a private copy of the live state: nothing reaches the live state or the queues "
                    "unless an operator publishes it)"),
            html.Div([
                html.Div([html.Label("question"),
                          dcc.RadioItems(id="whatif-kind", value="fault", inline=True, options=[
                              {"label": " fault an element ", "value": "fault"},
                              {"label": " operate a switch ", "value": "switch"},
                              {"label": " planned outage ", "value": "planned"}])]),
            ], className="controls"),
            html.Div([
                html.Div([html.Label("element to fault (or click it on the map)"),
                          dcc.Dropdown(id="whatif-element", options=element_options(geom), placeholder="line:…",
                                       searchable=True)], style={"minWidth": "280px"}),
            ], className="controls", id="whatif-fault-controls"),
            html.Div([
                html.Div([html.Label("switch"), dcc.Dropdown(id="whatif-switch", options=switch_options(service.topo),
                                                             searchable=True)], style={"minWidth": "320px"}),
                html.Div([html.Label("action"), dcc.RadioItems(id="whatif-action", value="open", inline=True,
                                                               options=[{"label": " open ", "value": "open"},
                                                                        {"label": " close ", "value": "close"}])]),
            ], className="controls", id="whatif-switch-controls", style={"display": "none"}),
            html.Div([
                html.Div([html.Label("elements taken out"),
                          dcc.Dropdown(id="whatif-planned-elements", options=element_options(geom), multi=True,
                                       searchable=True)], style={"minWidth": "320px"}),
                html.Div([html.Label("starts in (min)"), dcc.Input(id="whatif-start", type="number", value=4320,
                                                                   min=0, className="num")]),
                html.Div([html.Label("lasts (min)"), dcc.Input(id="whatif-duration", type="number", value=240,
                                                               min=1, className="num")]),
                html.Div([html.Label("reason"), dcc.Input(id="whatif-reason", type="text", value="maintenance",
                                                          maxLength=200, className="text")]),
            ], className="controls", id="whatif-planned-controls", style={"display": "none"}),
            html.Div([
                html.Button("Run what-if", id="whatif-run", n_clicks=0, className="action"),
                html.Button("Publish to the live state", id="whatif-publish", n_clicks=0, className="action danger",
                            disabled=True, title="operators only: applies the switch operation or the planned "
                                                 "outage (with its notices) to the live state"),
                None if op else html.Span("operator role required to publish", className="note",
                                          id="whatif-role-note"),
            ], className="controls", style={"marginTop": "8px"}),
            html.Div(id="whatif-publish-result", className="status"),
        ], className="card"),
        html.Div([
            html.Div([html.Div(dcc.Graph(id="whatif-map", figure=empty_map(geom), config=GRAPH_CONFIG,
                                         style={"height": "60vh"}), className="card")], className="col",
                     style={"flex": "3"}),
            html.Div([dcc.Loading(html.Div(id="whatif-output", className="card",
                                           children=html.Div("Choose a question and run it.", className="status")))],
                     className="col", style={"flex": "2"}),
        ], className="row"),
        dcc.Store(id="whatif-result"),
    ])
