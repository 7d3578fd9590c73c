"""Build the Dash app: auth, the frame, and every page of :data:`gridsim.app.pages.PAGES`."""
from __future__ import annotations

from pathlib import Path

from dash import Dash

from gridsim.app import shell_callbacks, shell_layout
from gridsim.app.auth import Users, install_auth, load_users
from gridsim.app.guard import install_request_guard
from gridsim.app.pages import PAGES

__all__ = ["build_app", "ASSETS"]

ASSETS = Path(__file__).parent / "assets"


def build_app(service, users: Users | None = None, *, secret_key: str | None = None) -> Dash:
    """The web app on ``service`` (a :class:`~gridsim.app.service.LiveService`); nothing starts running."""
    app = Dash("gridsim", title="gridsim", update_title=None, serve_locally=True, assets_folder=str(ASSETS),
               suppress_callback_exceptions=True)
    # everything the page loads comes from this server: Dash's bundles, plotly.js, our CSS
    app.scripts.config.serve_locally = True
    app.css.config.serve_locally = True
    install_auth(app, users if users is not None else load_users(), secret_key=secret_key)
    install_request_guard(app)          # after the sign-in check: anonymous callers get 401 first
    app.layout = shell_layout.layout(PAGES, poll_ms=service.config.poll_ms)
    shell_callbacks.register_callbacks(app, service, PAGES)
    for page in PAGES:
        page.register_callbacks(app, service)
    app.server.extensions["gridsim_service"] = service
    return app
