"""The frame around every page: navigation bar, page slot, the shared poll timer and the selected outage."""
from __future__ import annotations

from dash import dcc, html

__all__ = ["layout"]


def layout(pages, *, poll_ms: int = 1000):
    """The app's root layout (the router callback fills ``page``)."""
    links = [dcc.Link(p.name, href=p.path, id=f"nav-{p.key}", className="navlink") for p in pages]
    return html.Div([
        dcc.Location(id="url"),
        html.Div([html.Span("gridsim", className="brand"), *links, html.Span(className="spacer"),
                  html.Span(id="clock", className="clock"), html.Span(id="whoami", className="who"),
                  html.A("Sign out", href="/logout", className="signout", id="signout")], className="nav"),
        # one timer drives every live element of whatever page is shown
        dcc.Interval(id="poll", interval=poll_ms, n_intervals=0),
        # per-browser state (never on the server): the outage selected on the Outages page
        dcc.Store(id="selected-outage", storage_type="session"),
        html.Div(id="page", className="page"),
    ])
