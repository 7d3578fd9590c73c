"""Queues page callbacks: statistics (shared, read at most once a second) and the chosen queue's messages."""
from __future__ import annotations

import json

from dash import Input, Output, html

from gridsim.app.guard import text, texts
from gridsim.queues import render_message

__all__ = ["register_callbacks", "message_lines"]


def message_lines(messages, *, raw: bool = False) -> list:
    """Rendered (or raw JSON) lines of messages, for the page."""
    if not messages:
        return [html.Div("none", className="status")]
    out = []
    for m in messages:
        text = json.dumps(m, indent=1, default=str, ensure_ascii=False) if raw else render_message(m)
        out.append(html.Div(text, className="msg"))
    return out


def register_callbacks(app, service) -> None:
    @app.callback(Output("queue-stats", "data"), Output("queue-pick", "options"), Output("queue-warning", "children"),
                  Output("queue-warning", "style"), Input("poll", "n_intervals"))
    def stats(_n):
        st = service.queue_stats()
        warning = service.queue_warning()
        return ([{"queue": s.queue, "depth": s.depth, "pending": s.pending, "dead": s.dead} for s in st],
                [s.queue for s in st], warning,
                {"display": "block" if warning else "none", "fontWeight": "600"})

    @app.callback(Output("queue-messages", "children"), Output("queue-dead", "children"),
                  Input("queue-pick", "value"), Input("queue-raw", "value"), Input("queue-limit", "value"),
                  Input("poll", "n_intervals"))
    def messages(queue, raw, limit, _n):
        known = {s.queue for s in service.queue_stats()}
        queue = text(queue)
        if not queue or queue not in known:
            return [html.Div("choose a queue", className="status")], []
        limit = int(limit) if limit in (10, 20, 50, 100) else 20
        raw = "raw" in texts(raw)
        dead = service.dead_letters(queue, 10)
        dead_lines = [html.Div(f"{d.get('dead_at', '')}  {d.get('reason', '')}  (delivered {d.get('deliveries')}x)  "
                               + (json.dumps(d.get("message"), default=str) if raw else
                                  render_message(d.get("message") or {})), className="msg") for d in dead]
        return message_lines(service.recent_messages(queue, limit), raw=raw), dead_lines or \
            [html.Div("none", className="status")]
