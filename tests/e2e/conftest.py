"""Browser tests of the web app: Debian's headless Chromium (/usr/bin/chromium) driven by Playwright.

No browser is downloaded: Playwright starts the system Chromium (``executable_path``). Where it is missing
the tests are skipped with a message saying how to install it - except under CI (``CI=true``), where a
missing browser fails them. The app runs in this process (a werkzeug server on a free port of 127.0.0.1)
on mv_oberrhein with a fast replay of scenarios/storm_small.yaml; screenshots go to test-artifacts/e2e/.
"""
from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = os.environ.get("GRIDSIM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
PASSWORDS = {"olga": "olga-operator-pw", "victor": "victor-viewer-pw"}
REPLAY_SPEED = 240.0          # four simulated minutes per second: the storm moves while the tests watch


def _missing_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return (f"no Chromium at {CHROMIUM}: install Debian's (apt-get install chromium chromium-driver; "
                ".ci/run does it) or point GRIDSIM_CHROMIUM at one")
    return None


def _ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def browser():
    why = _missing_browser()
    if why:
        if _ci():
            pytest.fail(f"browser tests cannot run under CI: {why}")
        pytest.skip(f"browser tests skipped: {why}")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """The app on 127.0.0.1:<free port>: (base URL, LiveService)."""
    from werkzeug.serving import make_server

    from gridsim.app.auth import Role, User, Users, hash_password
    from gridsim.app.config import config_from
    from gridsim.app.factory import build_app
    from gridsim.app.service import LiveService
    from gridsim.scenarios import compare_strategies, load_scenario
    from gridsim.scenarios.report import write_compare_outputs
    tmp = tmp_path_factory.mktemp("app")
    # a comparison result for the Strategies page
    sc = load_scenario("scenarios/storm_montecarlo.yaml")
    res = compare_strategies(sc, ["fifo", "most_customers", "critical_first", "wspt"], runs=6)
    write_compare_outputs(res, tmp / "results" / "storm_montecarlo", scenario_name=sc.name)
    cfg = config_from(queue=f"sqlite:///{tmp}/queue.db", speed=REPLAY_SPEED)
    from dataclasses import replace
    cfg = replace(cfg, results_dirs=(str(tmp / "results"),), compare_out=str(tmp / "results"))
    svc = LiveService(cfg)
    users = Users({"olga": User("olga", Role.OPERATOR, hash_password(PASSWORDS["olga"])),
                   "victor": User("victor", Role.VIEWER, hash_password(PASSWORDS["victor"]))}, "e2e")
    app = build_app(svc, users, secret_key="e2e-" + "k" * 40)
    port = _free_port()
    server = make_server("127.0.0.1", port, app.server, threaded=True)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    svc.start()
    yield f"http://127.0.0.1:{port}", svc
    server.shutdown()
    svc.close()


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


class Session:
    """One signed-in browser page that records every request it makes."""

    def __init__(self, browser, base: str, user: str):
        self.base = base
        self.ctx = browser.new_context(viewport={"width": 1400, "height": 900})
        self.page = self.ctx.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.set_default_timeout(20_000)
        self.page.goto(f"{base}/login")
        self.page.fill("#username", user)
        self.page.fill("#password", PASSWORDS[user])
        self.page.click("#login-button")
        self.page.wait_for_selector("#page")

    def goto(self, path: str):
        self.page.goto(self.base + path)
        self.page.wait_for_selector("#page > *")

    def foreign_requests(self) -> list[str]:
        own = urlsplit(self.base).netloc
        return [u for u in self.requests if not u.startswith(("data:", "blob:")) and urlsplit(u).netloc != own]

    def close(self):
        self.ctx.close()


@pytest.fixture
def signed_in(browser, app_server):
    sessions = []

    def make(user: str) -> Session:
        s = Session(browser, app_server[0], user)
        sessions.append(s)
        return s
    yield make
    for s in sessions:
        foreign = s.foreign_requests()
        errors = list(s.errors)
        s.close()
        assert not foreign, f"the page asked hosts other than the app's own: {foreign[:5]}"
        assert not errors, f"JavaScript errors on the page: {errors[:3]}"
