"""Map page: KPIs, the customers-out sparkline and the live network map."""
from __future__ import annotations

from dash import dcc, html

from gridsim.app.figures import STATE_COLORS, STATE_NAMES, empty_map, kpi_items, sparkline_figure

__all__ = ["layout", "livemap", "kpi_cards", "state_legend", "GRAPH_CONFIG"]

GRAPH_CONFIG = {"scrollZoom": True, "displaylogo": False, "responsive": True,
                "modeBarButtonsToRemove": ["select2d", "lasso2d", "toImage"]}


def kpi_cards(items) -> list:
    out = []
    for key, label, value in items:
        alert = key in ("critical-out", "overdue") and not value.startswith("0")
        out.append(html.Div([html.Div(label, className="label"), html.Div(value, className="value",
                                                                          id=f"kpi-{key}")],
                            className="kpi alert" if alert else "kpi"))
    return out


def state_legend() -> html.Div:
    return html.Div([html.Span([html.Span(className="sw", style={"background": c}), n])
                     for n, c in zip(STATE_NAMES, STATE_COLORS)]
                    + [html.Span("▼ crews · ✚ hospital · ■ station · ◆ water · ▲ telecom · ⬟ government · "
                                 "○ tie switch · □ operated device")], className="legend")


def livemap(service, page: str, *, height: str = "72vh"):
    """A live map and the store of the snapshot version it shows.

    The figure itself comes with the first call of the shared map callback (right after the page
    appears), not inside the page layout: a plain figure dict is encoded and decoded much faster than
    the same data nested in a component tree, and the browser does not walk it as layout."""
    return html.Div([
        dcc.Graph(id={"type": "livemap", "page": page}, figure=empty_map(service.geometry), config=GRAPH_CONFIG,
                  style={"height": height}, className="livemap"),
        dcc.Store(id={"type": "livemap-v", "page": page}, data={"v": None, "hl": None}),
    ])


def layout(service, user=None):
    snap = service.snapshot()
    return html.Div([
        html.Div(kpi_cards(kpi_items(snap, service.queue_depths())), id="kpis", className="kpis"),
        html.Div([
            html.Div([html.Div("Customers out over time", className="status"),
                      dcc.Graph(id="sparkline", figure=sparkline_figure(snap.customers_out_series),
                                config={"displayModeBar": False, "staticPlot": False}, style={"height": "90px"})],
                     className="card", style={"flex": "1"}),
        ], className="row"),
        state_legend(),
        livemap(service, "map"),
        dcc.Store(id="kpi-v", data=snap.version),
    ])
