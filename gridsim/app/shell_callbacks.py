"""Callbacks of the frame: the router (path -> page layout), the clock and the signed-in user."""
from __future__ import annotations

from dash import Input, Output, html

from gridsim.app.auth import current_user
from gridsim.app.guard import text

__all__ = ["register_callbacks"]


def register_callbacks(app, service, pages) -> None:
    by_path = {p.path: p for p in pages}

    @app.callback(Output("page", "children"), *[Output(f"nav-{p.key}", "className") for p in pages],
                  Input("url", "pathname"))
    def route(pathname):
        pathname = text(pathname, 2000)
        page = by_path.get(pathname or "/")
        if page is None:
            body = html.Div([html.H3("Not found"), html.P(f"No page at {pathname}; see the links above.")],
                            className="card")
        else:
            body = page.layout(service, current_user())
        return (body, *["navlink active" if page is p else "navlink" for p in pages])

    @app.callback(Output("clock", "children"), Input("poll", "n_intervals"))
    def clock(_n):
        snap = service.snapshot()
        st = service.status
        t = snap.time.isoformat(sep=" ", timespec="minutes") if snap.time else "no events yet"
        mode = f"replay x{st['speed']:g} ({st['state']})" if st["mode"] == "replay" else st["state"]
        return f"{snap.model} · {t} · {mode}"

    @app.callback(Output("whoami", "children"), Input("url", "pathname"))
    def whoami(_path):
        user = current_user()
        if user is None:
            return ""
        return [html.B(user.name), html.Span(str(user.role), className=f"role {user.role}")]
