"""The dispatcher's web app (Dash): live map with KPIs, outages, queues, what-if, strategies; roles and audit.

``python app.py`` or ``gridsim serve`` run it (see docs/app.md). The pieces:

- :mod:`.config`: flags and environment; :mod:`.auth`: users, roles, sign-in and the server-side checks;
- :mod:`.service`: the shared live state (engine, feed thread, caches, operator actions);
- :mod:`.figures`, :mod:`.whatif`, :mod:`.results`: pure functions (figures, what-if answers, results);
- one ``<page>_layout.py`` + ``<page>_callbacks.py`` pair per page, listed in :mod:`.pages`;
- :mod:`.factory`: builds the Dash app; :mod:`.server`: runs it.
"""
from gridsim.app.config import AppConfig, AppConfigError

__all__ = ["AppConfig", "AppConfigError", "build_app", "LiveService", "main"]


def __getattr__(name):  # Dash and the engine load only when the app is used
    if name == "build_app":
        from gridsim.app.factory import build_app
        return build_app
    if name == "LiveService":
        from gridsim.app.service import LiveService
        return LiveService
    if name == "main":
        from gridsim.app.server import main
        return main
    raise AttributeError(f"module 'gridsim.app' has no attribute {name!r}")
