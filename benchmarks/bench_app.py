"""Benchmark of the web app's live map in headless Chromium (Debian's /usr/bin/chromium, Playwright).

    python benchmarks/bench_app.py [--repeat 5] [--models mv_oberrhein,sb_mvlv_urban]

Per model, the app runs in this process (live mode, engine in memory) and a signed-in headless Chromium
measures:

- **first render**: from navigation start to the frame after the map shows every bus (median of
  ``--repeat`` page loads after one warm-up load); targets: sb_mvlv_urban <= 3 s, mv_oberrhein <= 1 s;
- **live update** (sb_mvlv_urban): a switch that de-energizes about 100 buses is opened (then closed) in the
  engine; from the start of the browser's map callback request to the frame after Plotly drew the change,
  and the response payload; targets <= 300 ms and <= 50 KB.

Baselines, measured in the same run and reported as ratios (baseline / ours):

- first render: the plain approach - the network as a Plotly figure of WebGL traces (``go.Scattergl`` lines
  and buses, the placeholder app this project started with) served by a bare Dash app;
- live update: the same app with patches turned off (every update sends the whole figure).
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header  # noqa: E402

CHROMIUM = os.environ.get("GRIDSIM_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update"]
TARGETS = {"mv_oberrhein": {"first_render_s": 1.0}, "sb_mvlv_urban": {"first_render_s": 3.0, "update_s": 0.300,
                                                                      "payload_kb": 50.0}}
PASSWORD = "bench-password-1"

# resolves when the map's Plotly graph holds every bus (in a trace, or in the background image of a big
# model) and two frames have been painted since; returns ms since navigation start
_WAIT_RENDER = """(n) => new Promise(resolve => {
  const done = () => requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now())));
  const check = () => {
    const g = document.querySelector('.livemap .js-plotly-plot') || document.querySelector('#plain-map .js-plotly-plot');
    if (g && g._fullData && g._fullLayout) {
      const b = g._fullData.find(t => t.name === 'buses');
      const img = (g._fullLayout.images || []).length && g.querySelector('.layer-below image, image');
      if ((b && b._length === n) || (img && b)) { done(); return; }
    }
    setTimeout(check, 5);
  };
  check();
})"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(flask_app):
    from werkzeug.serving import make_server
    port = _free_port()
    srv = make_server("127.0.0.1", port, flask_app, threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{port}"


def _gridsim_app(model: str, *, patch: bool = True):
    from gridsim.app.auth import Role, User, Users, hash_password
    from gridsim.app.config import AppConfig
    from gridsim.app.factory import build_app
    from gridsim.app.service import LiveService
    from gridsim.live import LiveEngine
    engine = LiveEngine(model, db=":memory:")
    svc = LiveService(replace(AppConfig(replay=None, model=model), map_patch=patch), engine=engine)
    users = Users({"bench": User("bench", Role.OPERATOR, hash_password(PASSWORD))}, "bench")
    app = build_app(svc, users, secret_key="bench-" + "k" * 40)
    srv, url = _serve(app.server)
    return svc, srv, url


def _plain_app(model: str):
    """The baseline: a bare Dash page with the network as WebGL traces (no auth, no updates)."""
    import plotly.graph_objects as go
    from dash import Dash, dcc, html

    from gridsim import compile_topology, load_model
    m = load_model(model)
    topo = compile_topology(m)
    xy = topo.node_xy_km[topo.bus_node]
    pos = {b: i for i, b in enumerate(m.net.bus.index)}
    lx, ly = [], []
    for f, t in zip(m.net.line.from_bus.to_numpy(), m.net.line.to_bus.to_numpy()):
        lx += [xy[pos[f], 0], xy[pos[t], 0], None]
        ly += [xy[pos[f], 1], xy[pos[t], 1], None]
    fig = go.Figure([go.Scattergl(x=lx, y=ly, mode="lines", line=dict(color="#999", width=1), hoverinfo="skip"),
                     go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="markers", name="buses",
                                  text=[f"bus {b}" for b in m.net.bus.index], marker=dict(size=5, color="#2a9d8f"))])
    fig.update_layout(template="plotly_white", margin=dict(l=10, r=10, t=10, b=10), xaxis=dict(visible=False),
                      yaxis=dict(visible=False, scaleanchor="x"))
    app = Dash("plain", serve_locally=True)
    app.layout = html.Div([dcc.Graph(id="plain-map", figure=fig, style={"height": "72vh"})])
    srv, url = _serve(app.server)
    return srv, url


def _login(page, url: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#username", "bench")
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    page.wait_for_selector("#page")


def first_render(browser, url: str, n_bus: int, repeat: int, *, login: bool = True) -> list[float]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    if login:
        _login(page, url)
    times = []
    for i in range(repeat + 1):
        page.goto(url + "/")
        ms = page.evaluate(_WAIT_RENDER, n_bus)
        if i:                                       # the first load warms the caches
            times.append(ms / 1000.0)
    ctx.close()
    return times


def _switch_for(topo, want: int = 100) -> tuple[str, int]:
    """A closed switch whose opening de-energizes about ``want`` buses."""
    a = topo.analysis(topo.base_state())
    pre, size, parent = np.asarray(a.pre), np.asarray(a.size), np.asarray(a.parent)
    is_bus = np.asarray(topo.node_is_bus)
    order = np.asarray(a.node_at)[: a.n_reached]
    csum = np.concatenate([[0], np.cumsum(is_bus[order])])
    best = None
    for sid, b, closed in zip(topo.switch_ids.tolist(), topo.switch_branch.tolist(), topo.switch_closed.tolist()):
        if not closed or b < 0:
            continue
        u, v = int(topo.br_from[b]), int(topo.br_to[b])
        child = v if parent[v] == u else (u if parent[u] == v else -1)
        if child < 0 or pre[child] < 0:
            continue
        n = int(csum[pre[child] + size[child]] - csum[pre[child]])
        if best is None or abs(n - want) < abs(best[1] - want):
            best = (f"switch:{sid}", n)
    return best


def live_updates(browser, svc, url: str, repeat: int) -> list[tuple[float, int, int]]:
    """(seconds from the map request's start to the painted frame, response bytes, buses changed) per update."""
    import datetime as dt
    dev, _ = _switch_for(svc.topo)
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    _login(page, url)
    page.evaluate(_WAIT_RENDER, svc.geometry.n_bus)
    page.wait_for_timeout(1500)
    page.evaluate("""() => { const g = document.querySelector('.livemap .js-plotly-plot'); window.__ap = [];
                            g.on('plotly_afterplot', () => window.__ap.push(performance.timeOrigin + performance.now())); }""")
    reqs = []

    def on_finished(req):
        if "_dash-update-component" in req.url and '"livemap"' in (req.post_data or ""):
            try:
                reqs.append((req.timing["startTime"], len(req.response().body())))
            except Exception:  # noqa: BLE001 - a request cut by a navigation: not measured
                pass
    page.on("requestfinished", on_finished)
    out = []
    for k in range(repeat):
        page.evaluate("() => { window.__ap = []; }")
        reqs.clear()
        before = np.asarray(svc.snapshot().bus_energized).copy()
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
        clock = svc.engine.clock
        t = max(now, clock + dt.timedelta(seconds=1)) if clock else now
        r = svc.engine.apply({"type": "switch_open" if k % 2 == 0 else "switch_close", "device": dev,
                              "id": f"bench:{k}:{time.time()}", "time": t.isoformat(), "actor": "bench"})
        assert r.accepted, r.reason
        changed = int((before != np.asarray(svc.snapshot().bus_energized)).sum())
        page.wait_for_function("() => window.__ap.length > 0", timeout=15000)
        page.wait_for_timeout(400)
        ap = page.evaluate("() => new Promise(r => requestAnimationFrame(() => r(window.__ap[0])))")
        big = [q for q in reqs if q[1] > 200] or reqs
        start, size = min(big)
        out.append(((ap - start) / 1000.0, size, changed))
        page.wait_for_timeout(800)
    ctx.close()
    return out


def _med(x):
    return statistics.median(x) if x else float("nan")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="mv_oberrhein,sb_mvlv_urban")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    if not os.access(CHROMIUM, os.X_OK):
        print(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set GRIDSIM_CHROMIUM)", file=sys.stderr)
        return 2
    import logging
    import subprocess

    from playwright.sync_api import sync_playwright
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    chromium_version = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()
    print("# bench_app: the web app's live map in headless Chromium")
    print(header(("gridsim", "dash", "plotly", "flask", "playwright", "numpy", "pandapower")))
    print(f"browser: {chromium_version} (headless, {' '.join(ARGS)}); WebGL would be software (SwiftShader)")
    ok = True
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for model in [m.strip() for m in args.models.split(",") if m.strip()]:
            tg = TARGETS.get(model, {})
            svc, srv, url = _gridsim_app(model)
            n_bus = svc.geometry.n_bus
            ours = first_render(browser, url, n_bus, args.repeat)
            psrv, purl = _plain_app(model)
            base = first_render(browser, purl, n_bus, args.repeat, login=False)
            psrv.shutdown()
            t, b = _med(ours), _med(base)
            verdict = ""
            if "first_render_s" in tg:
                met = t <= tg["first_render_s"]
                ok &= met
                verdict = f"  target <= {tg['first_render_s']:g} s: {'met' if met else 'MISSED'}"
            print(f"\n{model} ({n_bus:,} buses): first render of the map {t:.2f} s (median of {len(ours)}; "
                  f"runs {', '.join(f'{x:.2f}' for x in ours)}){verdict}")
            print(f"  baseline (WebGL figure of the network, bare Dash page): {b:.2f} s -> ratio {b / t:.2f}x")
            if "update_s" in tg:
                upd = live_updates(browser, svc, url, args.repeat + 1)
                svc.stop()
                srv.shutdown()
                bsvc, bsrv, burl = _gridsim_app(model, patch=False)
                bupd = live_updates(browser, bsvc, burl, max(2, args.repeat // 2))
                bsrv.shutdown()
                bsvc.stop()
                # time: median over opening and closing; payload: the largest (opening: ~100 buses go dark)
                ut, us = _med([u[0] for u in upd]), max(u[1] for u in upd)
                but, bus_ = _med([u[0] for u in bupd]), max(u[1] for u in bupd)
                met_t, met_s = ut <= tg["update_s"], us / 1024 <= tg["payload_kb"]
                ok &= met_t and met_s
                print(f"  live update ({_med([u[2] for u in upd]):.0f} buses change state): "
                      f"{1000 * ut:.0f} ms from the map request's start to the painted frame (median of {len(upd)}; "
                      f"runs {', '.join(f'{1000 * u[0]:.0f}' for u in upd)}), payload up to {us / 1024:.1f} KB "
                      f"(runs {', '.join(f'{u[1] / 1024:.1f}' for u in upd)})"
                      f"  targets <= {1000 * tg['update_s']:.0f} ms: {'met' if met_t else 'MISSED'}, "
                      f"<= {tg['payload_kb']:g} KB: {'met' if met_s else 'MISSED'}")
                print(f"  baseline (same app, whole figure per update): {1000 * but:.0f} ms, {bus_ / 1024:.0f} KB "
                      f"-> ratios {but / ut:.1f}x time, {bus_ / us:.0f}x payload")
            else:
                svc.stop()
                srv.shutdown()
        browser.close()
    print("\nall targets met" if ok else "\nsome targets MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
