"""gridsim web app entry point: creates the Dash app, registers its pages and runs the server.

    python app.py                      # mv_oberrhein + a live replay of scenarios/storm_small.yaml
    python app.py --model sb_mvlv_urban --live --port 8051
    python app.py --hash-password      # a password hash for GRIDSIM_USERS / GRIDSIM_USERS_FILE

The pages live in gridsim/app/ (one <page>_layout.py + <page>_callbacks.py pair each, listed in
gridsim.app.pages.PAGES); gridsim.app.factory.build_app creates the app and registers them. See docs/app.md.
"""
from __future__ import annotations

import sys

from gridsim.app.factory import build_app  # noqa: F401  (the app factory, for tests and WSGI servers)
from gridsim.app.server import main

if __name__ == "__main__":
    sys.exit(main())
