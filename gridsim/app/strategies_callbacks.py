"""Strategies page callbacks: show a comparison, start / follow / cancel a background one (operators)."""
from __future__ import annotations

import math
from pathlib import Path

from dash import Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from gridsim.app.auth import operator_callback
from gridsim.app.outages_layout import table
from gridsim.app.results import ResultsError, load_compare_result
from gridsim.app.strategies_layout import scenario_files

__all__ = ["register_callbacks", "render_comparison"]

_MAX_RUNS = 200


def _fmt(v) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return "" if not math.isfinite(f) else f"{f:,.4g}"


def render_comparison(result, summary: dict | None = None) -> list:
    """Best strategy per metric, means per strategy and the comparison figures (pure)."""
    from gridsim.scenarios.report import best_by_metric, compare_figures
    best = best_by_metric(result)
    rows = [{"metric": r["metric"], "best": r["best"], "mean": _fmt(r["mean"]), "baseline": r["baseline"],
             "baseline mean": _fmt(r["baseline_mean"]), "diff": _fmt(r["diff_vs_baseline"]),
             "95% interval": f"[{_fmt(r['diff_lo'])}, {_fmt(r['diff_hi'])}]",
             "significant": "yes" if r["significant"] else ""} for r in best.to_dict("records")]
    means = result.summary.pivot(index="metric", columns="strategy", values="mean")
    means = means.reindex(index=list(dict.fromkeys(result.summary["metric"])), columns=list(result.strategies))
    mrows = [{"metric": m, **{s: _fmt(means.loc[m, s]) for s in result.strategies}} for m in means.index]
    head = (f"{(summary or {}).get('scenario') or 'comparison'}: {len(result.runs)} runs × "
            f"{len(result.strategies)} strategies on the same storms (paired); baseline {result.baseline}"
            + ("" if (summary or {}).get("complete", True) else " — interrupted, partial"))
    out = [html.Div([html.H3(head, id="strategies-title"), html.H4("Best strategy per metric (lowest mean)"),
                     table("strategies-best", [(k, k) for k in rows[0]] if rows else [], rows),
                     html.H4("Means per strategy"),
                     table("strategies-means", [("metric", "metric")] + [(s, s) for s in result.strategies], mrows)],
                    className="card")]
    for title, fig in compare_figures(result):
        body = dcc.Graph(figure=fig, config={"displaylogo": False}) if not isinstance(fig, str) else \
            html.Div(fig, className="status")
        out.append(html.Div([html.H4(title), body], className="card"))
    return out


def register_callbacks(app, service) -> None:
    @app.callback(Output("strategies-output", "children"), Input("strategies-result", "value"))
    def show(folder):
        if not folder:
            return html.Div("No comparison loaded: run one below, or `gridsim compare SCENARIO --out out/NAME`.",
                            className="card status")
        # only folders the server itself found: a browser cannot make it read any other path
        if folder not in service.compare_result_dirs():
            return html.Div(f"{folder}: not a known comparison result", className="card err")
        try:
            result, summary = load_compare_result(folder)
        except ResultsError as e:
            return html.Div(str(e), className="card err")
        return render_comparison(result, summary)

    @app.callback(Output("strategies-result", "options"), Input("strategies-refresh", "n_clicks"),
                  prevent_initial_call=True)
    def refresh(_n):
        return service.compare_result_dirs()

    @operator_callback(app, Output("strategies-job", "data"), Output("strategies-job-status", "children"),
                       Input("strategies-run", "n_clicks"), State("strategies-scenario", "value"),
                       State("strategies-pick", "value"), State("strategies-runs", "value"),
                       prevent_initial_call=True)
    def start(user, n, scenario, strategies, runs):
        if not n:
            raise PreventUpdate
        from gridsim.restore.schedule import STRATEGIES
        if scenario not in scenario_files(service.config.model):
            return no_update, html.Span("choose one of the listed scenarios", className="err")
        picked = [s for s in (strategies or []) if s in STRATEGIES]
        if not picked:
            return no_update, html.Span("choose at least one strategy", className="err")
        try:
            runs = int(runs)
        except (TypeError, ValueError):
            runs = 0
        if not 1 <= runs <= _MAX_RUNS:
            return no_update, html.Span(f"runs must be between 1 and {_MAX_RUNS}", className="err")
        try:
            job = service.start_compare(user, scenario, picked, runs)
        except RuntimeError as e:
            return no_update, html.Span(str(e), className="err")
        return job.id, f"started {job.id}: {Path(scenario).name}, {', '.join(picked)}, {runs} runs"

    @operator_callback(app, Output("strategies-cancel", "title"), Input("strategies-cancel", "n_clicks"),
                       State("strategies-job", "data"), prevent_initial_call=True)
    def cancel(user, n, job_id):
        job = service.jobs.get(job_id) if isinstance(job_id, str) else None
        if not n or job is None:
            raise PreventUpdate
        job.cancel.set()
        return f"cancel requested by {user.name}"

    @app.callback(Output("strategies-job-status", "children", allow_duplicate=True),
                  Output("strategies-result", "options", allow_duplicate=True),
                  Output("strategies-result", "value"),
                  Input("poll", "n_intervals"), State("strategies-job", "data"), State("strategies-result", "value"),
                  prevent_initial_call=True)
    def follow(_n, job_id, current):
        job = service.jobs.get(job_id) if isinstance(job_id, str) else None
        if job is None:
            raise PreventUpdate
        text = f"{job.id} ({job.user}): {job.status}, {job.done_runs}/{job.runs} runs"
        if job.status == "failed":
            return html.Span(text + f" — {job.error}", className="err"), no_update, no_update
        if job.status == "running":
            return text, no_update, no_update
        if job.out_dir and current != job.out_dir:
            return text + f" — written to {job.out_dir}", service.compare_result_dirs(), job.out_dir
        raise PreventUpdate
