"""Strategies page: load a strategy comparison or run a small one in the background; plots per strategy and
the best strategy per metric."""
from __future__ import annotations

from pathlib import Path

from dash import dcc, html

__all__ = ["layout", "scenario_files"]


def scenario_files(model: str | None = None) -> list[str]:
    """Bundled scenario files with crews and strategies (of ``model`` first)."""
    out = []
    for p in sorted(Path("scenarios").glob("*.yaml")):
        try:
            from gridsim.scenarios import load_scenario
            sc = load_scenario(p)
        except Exception:  # noqa: BLE001 - a scenario that does not load is simply not offered
            continue
        if sc.crews is None:
            continue
        out.append((0 if sc.model == model else 1, str(p)))
    return [p for _, p in sorted(out)]


def layout(service, user=None):
    from gridsim.restore.schedule import STRATEGIES
    op = bool(user is not None and user.is_operator)
    results = service.compare_result_dirs()
    scen = scenario_files(service.config.model)
    return html.Div([
        html.Div([
            html.H3("Restoration strategies"),
            html.Div([
                html.Div([html.Label("comparison result (folders of `gridsim compare`, newest first)"),
                          dcc.Dropdown(id="strategies-result", options=results,
                                       value=results[0] if results else None, placeholder="no result yet")],
                         style={"minWidth": "460px"}),
                html.Button("Refresh list", id="strategies-refresh", n_clicks=0, className="action"),
            ], className="controls"),
        ], className="card"),
        html.Div([
            html.H3("Run a small comparison in the background"),
            None if op else html.Div("operator role required to start a comparison", className="note",
                                     id="strategies-role-note"),
            html.Div([
                html.Div([html.Label("scenario"), dcc.Dropdown(id="strategies-scenario", options=scen,
                                                               value=next((s for s in scen if "montecarlo" in s),
                                                                          scen[0] if scen else None))],
                         style={"minWidth": "300px"}),
                html.Div([html.Label("strategies"), dcc.Checklist(
                    id="strategies-pick", inline=True, options=sorted(STRATEGIES),
                    value=[s for s in ("fifo", "most_customers", "critical_first", "wspt") if s in STRATEGIES])]),
                html.Div([html.Label("runs (1-200)"), dcc.Input(id="strategies-runs", type="number", value=20, min=1,
                                                                max=200, className="num")]),
                html.Button("Run", id="strategies-run", n_clicks=0, className="action", disabled=not op),
                html.Button("Cancel", id="strategies-cancel", n_clicks=0, className="action danger",
                            disabled=not op),
            ], className="controls"),
            html.Div(id="strategies-job-status", className="status"),
        ], className="card"),
        dcc.Loading(html.Div(id="strategies-output")),
        dcc.Store(id="strategies-job"),
    ])
