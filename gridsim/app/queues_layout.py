"""Queues page: depth, pending and dead letters per queue; the last messages of one queue, rendered."""
from __future__ import annotations

from dash import dcc, html

from gridsim.app.outages_layout import table

__all__ = ["layout", "QUEUE_COLUMNS"]

QUEUE_COLUMNS = [("queue", "queue"), ("depth", "depth"), ("pending", "pending"), ("dead", "dead letters")]


def layout(service, user=None):
    stats = service.queue_stats()
    names = [s.queue for s in stats]
    first = next((s.queue for s in stats if s.queue.startswith("cs.") and s.depth), names[0] if names else None)
    url = service.engine.queue.url if service.engine.queue is not None else "no queue"
    warning = service.queue_warning()
    return html.Div([
        html.Div([
            html.H3("Queues"), html.Div(f"backend: {url}", className="status", id="queue-backend"),
            html.Div(warning, id="queue-warning", className="err", role="alert",
                     style={"display": "block" if warning else "none", "fontWeight": "600"}),
            table("queue-stats", QUEUE_COLUMNS, [], sort_action="native",
                  style_data_conditional=[{"if": {"filter_query": "{dead} > 0", "column_id": "dead"},
                                           "color": "#b00020", "fontWeight": "600"}]),
        ], className="card"),
        html.Div([
            html.Div([html.Div([html.Label("queue"), dcc.Dropdown(id="queue-pick", options=names, value=first,
                                                                  clearable=False)], style={"minWidth": "240px"}),
                      html.Div([dcc.Checklist(id="queue-raw", options=[{"label": " raw JSON", "value": "raw"}],
                                              value=[])]),
                      html.Div([html.Label("show"), dcc.Dropdown(id="queue-limit", options=[10, 20, 50, 100],
                                                                 value=20, clearable=False)])],
                     className="controls"),
            html.H4("Last messages (newest first)"),
            html.Div(id="queue-messages"),
            html.H4("Dead letters"),
            html.Div(id="queue-dead"),
        ], className="card"),
    ])
