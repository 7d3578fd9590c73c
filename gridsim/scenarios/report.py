"""Files people look at after ``gridsim run`` and ``gridsim compare``: parquet tables, a JSON
summary and a self-contained HTML report (plotly, the library embedded once: opens offline).

- :func:`write_run_outputs` — one :class:`~gridsim.scenarios.ScenarioResult` to ``timeline.parquet``,
  ``interruptions.parquet``, ``summary.json`` and ``report.html`` (customers out over time by
  class, restoration curve, crew Gantt chart, map of the faults and the affected buses).
- :func:`write_compare_outputs` — one :class:`~gridsim.scenarios.CompareResult` to
  ``results.parquet``, ``summary.json`` and ``report.html`` (box plots per strategy, paired
  differences with 95 % intervals, best strategy per metric).
- :func:`compare_in_chunks` — :func:`~gridsim.scenarios.compare_strategies` over chunks of runs
  with a callback per finished chunk (progress bars), keeping the finished runs when interrupted.

Figures come from pure functions (``run_figures``, ``compare_figures``) that tests can call
without a browser.
"""
from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

__all__ = ["run_figures", "run_report_html", "write_run_outputs", "compare_figures", "compare_report_html",
           "compare_summary_dict", "write_compare_outputs", "compare_in_chunks", "ChunkedCompare",
           "best_by_metric", "RUN_FILES", "COMPARE_FILES"]

#: Above this many nodes the map leaves out the network background and shows this many affected buses at most.
MAP_MAX_POINTS = 20_000
RUN_FILES = ("timeline.parquet", "interruptions.parquet", "summary.json", "report.html")
COMPARE_FILES = ("results.parquet", "summary.json", "report.html")

_METRIC_LABEL = {"saidi": "SAIDI (min/customer)", "saifi": "SAIFI (interruptions/customer)",
                 "maifi": "MAIFI", "cmi": "customer minutes interrupted", "weighted_cmi": "weighted CMI",
                 "crit_h_total": "critical customer hours (all classes)",
                 "last_restored_min": "last customer restored (min)"}


def _label(metric: str) -> str:
    if metric.startswith("crit_h_") and metric != "crit_h_total":
        return f"critical hours: {metric[7:]}"
    return _METRIC_LABEL.get(metric, metric)


def _json_safe(v: Any) -> Any:
    """NaN/inf -> None, numpy scalars -> Python, recursively."""
    if isinstance(v, dict):
        return {str(k): _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(float(v)) else None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    return v


def _html_page(title: str, parts: list[str]) -> str:
    body = "\n".join(parts)
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>\n"
            "<style>body{font-family:sans-serif;margin:1.5em;max-width:1200px}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
            "th{background:#eee}td.l,th.l{text-align:left}.note{color:#666;font-style:italic}</style>\n"
            f"</head><body>\n<h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n")


def _figures_html(figs: list[tuple[str, Any]]) -> list[str]:
    """(heading, figure or note string) -> HTML parts; plotly.js embedded once, with the first figure."""
    parts, first = [], True
    for heading, fig in figs:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        if isinstance(fig, str):
            parts.append(f"<p class=\"note\">{html.escape(fig)}</p>")
            continue
        parts.append(fig.to_html(include_plotlyjs=True if first else False, full_html=False))
        first = False
    if first:   # no figure at all: still a valid page
        parts.append("<p class=\"note\">no plotly figures</p>")
    return parts


def _table_html(df: pd.DataFrame, floatfmt: str = "{:,.3f}") -> str:
    head = "".join(f"<th class=\"l\">{html.escape(str(c))}</th>" if df[c].dtype == object else
                   f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for r in df.itertuples(index=False):
        cells = []
        for v in r:
            if isinstance(v, (float, np.floating)):
                cells.append(f"<td>{'n/a' if not math.isfinite(v) else floatfmt.format(v)}</td>")
            elif isinstance(v, (int, np.integer)):
                cells.append(f"<td>{v:,}</td>")
            else:
                cells.append(f"<td class=\"l\">{html.escape(str(v))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


# --------------------------------------------------------------------------- run report

def _customers_out_by_class(log: pd.DataFrame) -> pd.DataFrame:
    """Step function of customers out per class: columns time, class, customers_out."""
    frames = []
    for cls, g in log.groupby("class", sort=True):
        ev = pd.concat([pd.DataFrame({"time": g["start"], "d": g["count"]}),
                        pd.DataFrame({"time": g["end"], "d": -g["count"]})], ignore_index=True)
        ev = ev.groupby("time", sort=True)["d"].sum().cumsum().reset_index()
        ev["class"] = str(cls)
        frames.append(ev.rename(columns={"d": "customers_out"}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["time", "customers_out",
                                                                                      "class"])


def _crew_jobs(timeline: pd.DataFrame) -> pd.DataFrame:
    """Crew jobs from the timeline's crew events: crew, element, phase (travel / repair), start, finish."""
    tl = timeline
    disp = tl[tl["event"] == "crew_dispatch"]
    rs = tl[tl["event"] == "repair_start"]
    re_ = tl[tl["event"] == "repair_end"]
    if rs.empty or re_.empty:
        return pd.DataFrame(columns=["crew", "element", "phase", "start", "finish"])
    d_time = dict(zip(disp["element"], disp["time"]))
    e_time = dict(zip(re_["element"], re_["time"]))
    rows = []
    for el, t_start, crew in zip(rs["element"], rs["time"], rs["detail"]):
        crew = str(crew).split(":")[0].strip()
        if el in d_time and d_time[el] < t_start:
            rows.append({"crew": crew, "element": el, "phase": "travel", "start": d_time[el], "finish": t_start})
        if el in e_time:
            rows.append({"crew": crew, "element": el, "phase": "repair", "start": t_start, "finish": e_time[el]})
    return pd.DataFrame(rows, columns=["crew", "element", "phase", "start", "finish"])


def _element_xy(topo, positions: Sequence[int]) -> np.ndarray:
    """(x, y) km of elements by position: a node's coordinates, a branch at the mean of its ends."""
    xy = np.asarray(topo.node_xy_km, float)
    out = np.full((len(positions), 2), np.nan)
    for k, p in enumerate(positions):
        p = int(p)
        ref = int(topo.elem_ref[p])
        if topo.elem_is_node[p]:
            out[k] = xy[ref]
            continue
        ends = xy[[int(topo.br_from[ref]), int(topo.br_to[ref])]]
        ends = ends[np.isfinite(ends).all(axis=1)]
        if len(ends):
            out[k] = ends.mean(axis=0)
    return out


def _add_network(fig, topo, xy: np.ndarray, has: np.ndarray) -> None:
    """Branches as thin grey segments and buses as small grey dots."""
    import plotly.graph_objects as go

    f, t = np.asarray(topo.br_from, np.int64), np.asarray(topo.br_to, np.int64)
    ok = np.isfinite(xy[f]).all(axis=1) & np.isfinite(xy[t]).all(axis=1)
    seg_x = np.column_stack([xy[f[ok], 0], xy[t[ok], 0], np.full(ok.sum(), np.nan)]).ravel()
    seg_y = np.column_stack([xy[f[ok], 1], xy[t[ok], 1], np.full(ok.sum(), np.nan)]).ravel()
    fig.add_trace(go.Scatter(x=seg_x, y=seg_y, mode="lines", line=dict(color="#bbb", width=1),
                             name="network", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=xy[has, 0], y=xy[has, 1], mode="markers", marker=dict(size=4, color="#999"),
                             name="buses", hoverinfo="skip"))


def _map_figure(result, topo):
    """Faults and affected buses on ``topo.node_xy_km`` (plain scatter, no map tiles); or a note."""
    import plotly.graph_objects as go

    xy = getattr(topo, "node_xy_km", None)
    if xy is None or not np.isfinite(np.asarray(xy, float)).all(axis=1).any():
        return "map skipped: the model has no bus coordinates"
    xy = np.asarray(xy, float)
    fig = go.Figure()
    has = np.isfinite(xy).all(axis=1)
    if len(xy) <= MAP_MAX_POINTS:
        _add_network(fig, topo, xy, has)
    # affected nodes: longest interruption of any customer there
    log = result.interruptions
    if len(log):
        cust_node = pd.Series(np.asarray(topo.cust_node, np.int64), index=np.asarray(topo.cust_ids).astype(str))
        cust_node = cust_node[~cust_node.index.duplicated()]
        nodes = cust_node.reindex(log["customer_id"].astype(str)).to_numpy()
        aff = pd.DataFrame({"node": nodes, "duration_min": log["duration_min"].to_numpy(float),
                            "count": log["count"].to_numpy()}).dropna(subset=["node"])
        aff["node"] = aff["node"].astype(np.int64)
        agg = aff.groupby("node").agg(duration_min=("duration_min", "max"), customers=("count", "sum")).reset_index()
        agg = agg[has[agg["node"].to_numpy()]]
        if len(agg) > MAP_MAX_POINTS:   # keep the HTML small: the longest-out buses
            agg = agg.nlargest(MAP_MAX_POINTS, "duration_min")
        bus_ids = np.asarray(topo.bus_ids)
        node_bus = np.asarray(topo.node_bus_row)
        text = [f"bus {bus_ids[node_bus[n]] if 0 <= node_bus[n] < len(bus_ids) else n}: {c:,} customer(s), "
                f"longest out {d:,.0f} min" for n, c, d in zip(agg["node"], agg["customers"], agg["duration_min"])]
        fig.add_trace(go.Scatter(
            x=xy[agg["node"], 0], y=xy[agg["node"], 1], mode="markers", name="affected buses", text=text,
            hoverinfo="text", marker=dict(size=8, color=agg["duration_min"], colorscale="YlOrRd", showscale=True,
                                          colorbar=dict(title="longest out (min)"))))
    # faults
    storm = result.storm
    if len(storm):
        pos = np.asarray(storm.elements, np.int64)
        fxy = _element_xy(topo, pos)
        labels = storm.labels(topo)
        text = [f"{lab} at {t:.0f} min{' (temporary)' if tmp else ''}"
                for lab, t, tmp in zip(labels, storm.time_min.tolist(), storm.temporary.tolist())]
        fig.add_trace(go.Scatter(x=fxy[:, 0], y=fxy[:, 1], mode="markers+text", name="faults", text=labels,
                                 hovertext=text, hoverinfo="text", textposition="top center",
                                 marker=dict(symbol="x", size=13, color="black")))
    fig.update_layout(xaxis_title="x (km)", yaxis_title="y (km)", height=600)
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def run_figures(result, topo=None) -> list[tuple[str, Any]]:
    """(heading, plotly figure or a note saying why it is skipped) for one scenario run."""
    import plotly.express as px
    import plotly.graph_objects as go

    figs: list[tuple[str, Any]] = []
    log = result.interruptions
    if len(log):
        steps = _customers_out_by_class(log)
        fig = px.line(steps, x="time", y="customers_out", color="class", line_shape="hv",
                      labels={"customers_out": "customers out", "time": ""})
        fig.update_layout(height=420)
        figs.append(("Customers out over time by class", fig))
        # restoration curve: share of the customers interrupted back, over time (sustained interruptions)
        sust = log[log["duration_min"] > result.indices.momentary_threshold_min]
        if len(sust):
            g = sust.groupby("end", sort=True)["count"].sum().cumsum()
            total = float(sust["count"].sum())
            t_first = sust["start"].min()
            # a DatetimeIndex, not a list of Timestamps: plotly turns each Timestamp into a datetime,
            # warning about the nanoseconds it drops (an error under the tests' warning filter)
            x = pd.DatetimeIndex([t_first]).append(pd.DatetimeIndex(g.index))
            y = [0.0] + list(100.0 * g.to_numpy() / total)
            fig = go.Figure(go.Scatter(x=x, y=y, mode="lines", line_shape="hv", name="restored",
                                       hovertemplate="%{x}<br>%{y:.1f} % back<extra></extra>"))
            fig.update_layout(yaxis_title=f"% of {int(total):,} customer interruptions restored",
                              yaxis_range=[0, 101], height=380)
            figs.append(("Restoration curve", fig))
        else:
            figs.append(("Restoration curve", "no sustained interruptions: nothing to restore"))
    else:
        figs.append(("Customers out over time by class", "no customer was interrupted"))
    jobs = _crew_jobs(result.timeline)
    if len(jobs):
        fig = px.timeline(jobs, x_start="start", x_end="finish", y="crew", color="phase", text="element",
                          hover_data=["element"], color_discrete_map={"travel": "#9ecae1", "repair": "#e6550d"})
        fig.update_yaxes(autorange="reversed")
        fig.update_layout(height=160 + 50 * jobs["crew"].nunique())
        figs.append(("Crew Gantt chart", fig))
    else:
        figs.append(("Crew Gantt chart", "no crew events on the timeline (no permanent fault to repair): skipped"))
    if topo is not None:
        figs.append(("Map of the faults and affected buses", _map_figure(result, topo)))
    else:
        figs.append(("Map of the faults and affected buses", "map skipped: no compiled model given"))
    return figs


def _run_key_figures(result) -> pd.DataFrame:
    s = result.summary()
    rows = [("faults", s["faults"]), ("SAIDI (min)", s["saidi"]), ("SAIFI", s["saifi"]), ("MAIFI", s["maifi"]),
            ("CMI (customer minutes)", s["cmi"]), ("weighted CMI", s["weighted_cmi"]), ("ENS (kWh)", s["ens_kwh"]),
            ("customers served", s["customers_served"])]
    rows += [(f"critical hours: {k}", v) for k, v in s["critical_hours_by_class"].items()]
    rows.append(("last customer restored", s["last_restored"] or "-"))
    return pd.DataFrame(rows, columns=["figure", "value"]).astype({"value": object})


def run_report_html(result, topo=None) -> str:
    """The self-contained HTML report of one scenario run."""
    title = f"gridsim run — {result.scenario or 'scenario'} (run {result.run}, strategy {result.strategy})"
    parts = [f"<p>start {html.escape(result.start.isoformat())}; {len(result.storm)} fault(s); "
             f"{len(result.interruptions):,} interruption rows.</p>", _table_html(_run_key_figures(result))]
    if len(result.outages):
        parts += ["<h2>Outages</h2>", _table_html(result.outages, "{:,.1f}")]
    parts += _figures_html(run_figures(result, topo))
    return _html_page(title, parts)


def write_run_outputs(result, out_dir: str | Path, topo=None) -> dict[str, Path]:
    """Write the four files of ``gridsim run`` into ``out_dir`` (created); returns name -> path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {n: out / n for n in RUN_FILES}
    result.timeline.to_parquet(paths["timeline.parquet"], index=False)
    result.interruptions.to_parquet(paths["interruptions.parquet"], index=False)
    summary = result.summary()
    summary["etr_accuracy"] = result.etr_accuracy[["outage_id", "element", "first_etr_min", "actual_min",
                                                   "error_min"]].to_dict(orient="records")
    paths["summary.json"].write_text(json.dumps(_json_safe(summary), indent=2) + "\n")
    paths["report.html"].write_text(run_report_html(result, topo), encoding="utf-8")
    return paths


# --------------------------------------------------------------------------- compare

@dataclass
class ChunkedCompare:
    """:func:`compare_in_chunks`' answer: the result over the finished runs, and whether it stopped early."""

    result: Any                  # CompareResult over the finished runs (None if none finished)
    runs_requested: int
    interrupted: bool


def _chunk_table(scenario, strategies: tuple, runs: tuple, seed) -> pd.DataFrame:
    """One chunk of runs (module level: picklable for process pools): the table
    :func:`compare_strategies` makes of them (its summary is made once, of all chunks)."""
    from gridsim.scenarios.compare import _arguments, _compare_table

    strategies, runs, seed = _arguments(scenario, strategies, runs, seed)
    return _compare_table(scenario, strategies, runs, seed)


def _ignore_sigint() -> None:        # process-pool initializer: Ctrl-C is the parent's business
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _assemble(tables: list[pd.DataFrame], strategies: tuple):
    from gridsim.scenarios.compare import METRICS, CompareResult, paired_summary

    table = pd.concat(tables, ignore_index=True)
    order = {s: k for k, s in enumerate(strategies)}
    table = table.assign(_o=table["strategy"].map(order)).sort_values(["run", "_o"], kind="stable")
    table = table.drop(columns="_o").reset_index(drop=True)
    crit_cols = [c for c in table.columns if c.startswith("crit_h_")]
    table[crit_cols] = table[crit_cols].fillna(0.0)
    metrics = list(METRICS[:5]) + crit_cols + ["last_restored_min"]
    summary = paired_summary(table, strategies, metrics)
    runs = tuple(int(r) for r in pd.unique(table["run"]))
    return CompareResult(strategies=strategies, runs=runs, baseline=strategies[0], table=table, summary=summary)


def compare_in_chunks(scenario, strategies: Sequence[str], runs: int, *, workers: int = 1, seed: int | None = None,
                      chunk_runs: int | None = None,
                      on_chunk: Callable[[int], None] | None = None, executor: Any = None) -> ChunkedCompare:
    """:func:`compare_strategies` of runs ``0..runs-1`` in chunks, calling ``on_chunk(n_runs_done)``
    after each; ``workers > 1`` runs the chunks on a ``ProcessPoolExecutor(workers)``. A
    ``KeyboardInterrupt`` stops it: the finished chunks are kept (``interrupted=True``). The result
    is the same as one ``compare_strategies`` call over the same (finished) runs. ``executor``: an
    executor of :func:`gridsim.scenarios.executors.make_executor` (e.g. Dask) used instead of
    ``workers``; the caller closes it."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from gridsim.restore.schedule import STRATEGIES
    from gridsim.scenarios.schema import ScenarioError

    strategies = tuple(strategies)
    bad = [s for s in strategies if s not in STRATEGIES]
    if bad:
        raise ScenarioError(f"unknown strategy {bad[0]!r}; known: {', '.join(sorted(STRATEGIES))}")
    if not strategies or len(set(strategies)) != len(strategies):
        raise ScenarioError("give at least one strategy, each once")
    if runs < 1:
        raise ScenarioError(f"runs must be at least 1, got {runs}")
    workers = max(1, int(workers)) if executor is None else max(1, int(getattr(executor, "n_workers", 1)))
    if chunk_runs is None:
        chunk_runs = 1 if workers == 1 else max(1, min(4, math.ceil(runs / (4 * workers))))
    chunks = [tuple(range(a, min(a + chunk_runs, runs))) for a in range(0, runs, chunk_runs)]
    tables: list[pd.DataFrame] = []
    done = 0
    interrupted = False

    def gather(submit) -> None:
        """Submit every chunk, collect the tables as they finish."""
        nonlocal done
        futs = {submit(_chunk_table, scenario, strategies, ch, seed): ch for ch in chunks}
        for fut in as_completed(futs):
            tables.append(fut.result())
            done += len(futs[fut])
            if on_chunk:
                on_chunk(done)

    if executor is not None:
        try:
            gather(executor.submit)
        except KeyboardInterrupt:
            interrupted = True
            executor.cancel_all()
    elif workers == 1:
        try:
            for ch in chunks:
                tables.append(_chunk_table(scenario, strategies, ch, seed))
                done += len(ch)
                if on_chunk:
                    on_chunk(done)
        except KeyboardInterrupt:
            interrupted = True
    else:
        pool = ProcessPoolExecutor(workers, initializer=_ignore_sigint)
        try:
            gather(pool.submit)
        except KeyboardInterrupt:
            interrupted = True
            # the workers ignore SIGINT: stop the ones still busy with a chunk that will not be used
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.terminate()
        finally:
            pool.shutdown(wait=not interrupted, cancel_futures=True)
    result = _assemble(tables, strategies) if tables else None
    return ChunkedCompare(result=result, runs_requested=int(runs), interrupted=interrupted)


def _with_total_crit(table: pd.DataFrame) -> pd.DataFrame:
    crit = [c for c in table.columns if c.startswith("crit_h_")]
    t = table.copy()
    t["crit_h_total"] = t[crit].sum(axis=1) if crit else 0.0
    return t


def best_by_metric(result) -> pd.DataFrame:
    """Per metric: the strategy with the lowest mean, its mean, the baseline's mean and whether the
    paired difference to the baseline is significant (95 % interval excludes 0)."""
    s = result.summary
    rows = []
    for m, g in s.groupby("metric", sort=False):
        g = g.dropna(subset=["mean"])
        if g.empty:
            continue
        b = g.loc[g["mean"].idxmin()]
        base = g[g["strategy"] == result.baseline]
        lo, hi = float(b["diff_lo"]), float(b["diff_hi"])
        sig = (math.isfinite(lo) and math.isfinite(hi) and (hi < 0 or lo > 0))
        tied = bool(np.isclose(g["mean"], b["mean"]).sum() > 1)
        rows.append({"metric": m, "best": "tie: " + ", ".join(g.loc[np.isclose(g["mean"], b["mean"]), "strategy"])
                     if tied else str(b["strategy"]), "mean": float(b["mean"]),
                     "baseline": result.baseline,
                     "baseline_mean": float(base["mean"].iloc[0]) if len(base) else math.nan,
                     "diff_vs_baseline": float(b["diff_mean"]), "diff_lo": lo, "diff_hi": hi,
                     "significant": bool(sig)})
    return pd.DataFrame(rows, columns=["metric", "best", "mean", "baseline", "baseline_mean", "diff_vs_baseline",
                                       "diff_lo", "diff_hi", "significant"])


def compare_figures(result) -> list[tuple[str, Any]]:
    """(heading, plotly figure or note) for a strategy comparison."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    table = _with_total_crit(result.table)
    figs: list[tuple[str, Any]] = []
    for metric in ("saidi", "crit_h_total"):
        fig = go.Figure()
        for s in result.strategies:
            fig.add_trace(go.Box(y=table.loc[table["strategy"] == s, metric], name=s, boxmean=True,
                                 boxpoints="all" if len(result.runs) <= 200 else "outliers", jitter=0.4,
                                 pointpos=0, marker=dict(size=3)))
        fig.update_layout(yaxis_title=_label(metric), showlegend=False, height=420)
        figs.append((f"Distribution per strategy: {_label(metric)} ({len(result.runs)} runs)", fig))
    others = [s for s in result.strategies if s != result.baseline]
    if not others:
        figs.append(("Paired differences", "only one strategy: nothing to compare against the baseline"))
        return figs
    metrics = ["saidi", "saifi", "cmi", "weighted_cmi"] + \
        [c for c in result.table.columns if c.startswith("crit_h_")] + ["last_restored_min"]
    summ = result.summary[(result.summary["strategy"] != result.baseline) & result.summary["metric"].isin(metrics)]
    cols = 2
    rows = math.ceil(len(metrics) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[_label(m) for m in metrics],
                        vertical_spacing=min(0.08, 0.9 / max(rows - 1, 1)))
    for k, m in enumerate(metrics):
        g = summ[summ["metric"] == m].set_index("strategy").reindex(others)
        d = g["diff_mean"].to_numpy(float)
        lo, hi = g["diff_lo"].to_numpy(float), g["diff_hi"].to_numpy(float)
        fig.add_trace(go.Scatter(x=d, y=others, mode="markers", marker=dict(size=9, color="#1f77b4"),
                                 error_x=dict(type="data", symmetric=False, array=np.nan_to_num(hi - d),
                                              arrayminus=np.nan_to_num(d - lo)), showlegend=False,
                                 hovertemplate="%{y}: %{x:.4g}<extra></extra>"),
                      row=k // cols + 1, col=k % cols + 1)
        fig.add_vline(x=0, line=dict(color="#888", dash="dot"), row=k // cols + 1, col=k % cols + 1)
    fig.update_layout(height=max(300, 230 * rows), margin=dict(t=60))
    figs.append((f"Paired differences to {result.baseline} (mean and 95 % interval; negative is better)", fig))
    return figs


def compare_summary_dict(result, *, scenario_name: str | None = None, runs_requested: int | None = None,
                         interrupted: bool = False) -> dict:
    """JSON-ready summary: one entry per strategy (metric -> mean and paired difference), the best per metric."""
    per = {}
    for s in result.strategies:
        g = result.summary[result.summary["strategy"] == s]
        per[s] = {r["metric"]: {"n": int(r["n"]), "mean": r["mean"], "diff_mean": r["diff_mean"],
                                "diff_lo": r["diff_lo"], "diff_hi": r["diff_hi"]} for r in g.to_dict("records")}
    best = best_by_metric(result)
    return _json_safe({
        "scenario": scenario_name, "baseline": result.baseline, "runs_done": len(result.runs),
        "runs_requested": runs_requested if runs_requested is not None else len(result.runs),
        "complete": not interrupted, "strategies": per,
        "best": {r["metric"]: r["best"] for r in best.to_dict("records")},
    })


def compare_report_html(result, *, scenario_name: str | None = None, runs_requested: int | None = None,
                        interrupted: bool = False) -> str:
    """The self-contained HTML report of a strategy comparison."""
    title = f"gridsim compare — {scenario_name or 'scenario'}"
    n = len(result.runs)
    status = (f"<p><b>interrupted: {n} of {runs_requested} runs finished</b>; the figures cover those runs.</p>"
              if interrupted else f"<p>{n} runs × {len(result.strategies)} strategies on the same sampled storms "
                                  f"(paired); baseline {html.escape(result.baseline)}.</p>")
    best = best_by_metric(result)
    best_show = best.assign(metric=best["metric"].map(_label))
    means = result.summary.pivot(index="metric", columns="strategy", values="mean")
    means = means.reindex(index=list(dict.fromkeys(result.summary["metric"])), columns=list(result.strategies))
    means.index = [_label(m) for m in means.index]
    means = means.reset_index().rename(columns={"index": "metric"})
    parts = [status, "<h2>Best strategy per metric (lowest mean)</h2>", _table_html(best_show, "{:,.4g}"),
             "<h2>Means per strategy</h2>", _table_html(means, "{:,.4g}")]
    parts += _figures_html(compare_figures(result))
    return _html_page(title, parts)


def write_compare_outputs(result, out_dir: str | Path, *, scenario_name: str | None = None,
                          runs_requested: int | None = None, interrupted: bool = False) -> dict[str, Path]:
    """Write the three files of ``gridsim compare`` into ``out_dir`` (created); returns name -> path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {n: out / n for n in COMPARE_FILES}
    result.table.to_parquet(paths["results.parquet"], index=False)
    summary = compare_summary_dict(result, scenario_name=scenario_name, runs_requested=runs_requested,
                                   interrupted=interrupted)
    paths["summary.json"].write_text(json.dumps(summary, indent=2) + "\n")
    paths["report.html"].write_text(compare_report_html(result, scenario_name=scenario_name,
                                                        runs_requested=runs_requested, interrupted=interrupted),
                                    encoding="utf-8")
    return paths
