"""Paired comparison of crew strategies over Monte-Carlo runs of a scenario.

:func:`compare_strategies` simulates every strategy on the **same** storms:
run ``i`` draws its faults from ``default_rng([seed, i])`` only
(:func:`gridsim.scenarios.simulate.scenario_storm`), and one task simulates all
strategies of one run on that one storm (the storm's FLISR plans, interruption
intervals and crew re-planner are made once and shared; each strategy only
schedules the crews and sums up who was out how long). So the per-run
differences between strategies are *paired* and their spread is much smaller
than the spread of the indices across storms. The figures are those
:func:`~gridsim.scenarios.run_scenario` gives for the same run and strategy.

The summary gives, per strategy and metric, the mean over runs and the mean
paired difference to the **first** strategy with a 95 % interval:
``mean(d) ± t(0.975, n-1) · sd(d) / sqrt(n)`` (Student t from
``scipy.stats`` when scipy is installed, else the normal quantile 1.96);
``n < 2`` runs give no interval (NaN).

Executors: ``executor=None`` runs the tasks one after another in this process;
any object with ``map(fn, iterable)`` returning results in order works
(``concurrent.futures.ProcessPoolExecutor``, ``ThreadPoolExecutor``; a Dask
adapter can wrap ``client.map`` + ``client.gather``). Tasks are a few runs each
(up to 8, about 4 tasks per worker at least) and depend only on (scenario,
strategies, runs, seed), and the table is sorted by (run, strategy order), so
the results are identical whatever the executor.
Each worker process loads and compiles the model once (cached per process).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from gridsim.scenarios.schema import Scenario, ScenarioError

__all__ = ["CompareResult", "compare_strategies", "paired_summary", "METRICS"]

#: Metrics of the table compared in the summary (plus ``crit_h_<class>`` columns per critical class).
METRICS = ("saidi", "saifi", "maifi", "cmi", "weighted_cmi", "last_restored_min")


@dataclass(eq=False)
class CompareResult:
    """``table``: one row per (run, strategy): n_faults, faults (the storm simulated, as
    ``element@minute`` list), saidi, saifi, maifi, cmi, weighted_cmi, crit_h_<class> per critical
    class, last_restored_min. ``summary``: per strategy and metric: n, mean, and the paired
    difference to ``baseline`` (diff_mean, diff_lo, diff_hi; 0 for the baseline itself)."""

    strategies: tuple[str, ...]
    runs: tuple[int, ...]
    baseline: str
    table: pd.DataFrame
    summary: pd.DataFrame

    def best(self, metric: str = "saidi") -> str:
        """Strategy with the lowest mean ``metric``."""
        s = self.summary[self.summary["metric"] == metric]
        return str(s.loc[s["mean"].idxmin(), "strategy"])


def _storm_text(storm, labels) -> str:
    return ";".join(f"{lab}@{t:.6g}{'T' if tmp else ''}" for lab, t, tmp in
                    zip(labels, storm.time_min.tolist(), storm.temporary.tolist()))


def _task(args: tuple) -> list[dict]:
    """All strategies on run ``run`` (module level: picklable for process executors). The storm, its
    FLISR plans and the crews' re-planner are made once and shared by the strategies; each strategy
    then only schedules the crews and sums up who was out how long (the figures of
    :func:`~gridsim.scenarios.run_scenario`, without its frames)."""
    from gridsim.scenarios.simulate import RECLOSE_S, _compare_row, _Prepared, scenario_context, scenario_storm

    scenario, strategies, run, seed, replan, strategy_options = args
    ctx = scenario_context(scenario)
    storm = scenario_storm(scenario, run, seed=seed, ctx=ctx)
    prep = _Prepared(scenario, storm, ctx, RECLOSE_S)
    faults = _storm_text(storm, prep.labels)
    rows = []
    for k, strat in enumerate(strategies):
        res = _compare_row(prep, strat, replan=replan, strategy_options=strategy_options)
        row = {"run": int(run), "strategy": strat, "strategy_order": k, "n_faults": len(storm),
               "faults": faults, "saidi": float(res["saidi"]), "saifi": float(res["saifi"]),
               "maifi": float(res["maifi"]), "cmi": float(res["cmi"]), "weighted_cmi": float(res["weighted_cmi"])}
        for c, h in res["critical_hours_by_class"].items():
            row[f"crit_h_{c}"] = float(h)
        last = res["last_restored_min"]
        row["last_restored_min"] = float(last) if math.isfinite(last) else math.nan
        rows.append(row)
    return rows


def _task_runs(args: tuple) -> list[dict]:
    """:func:`_task` for each run of ``args[2]`` (a tuple of run numbers), rows in run order."""
    scenario, strategies, runs, seed, replan, strategy_options = args
    return [row for r in runs for row in _task((scenario, strategies, r, seed, replan, strategy_options))]


def _quantile(n: int) -> float:
    try:
        from scipy import stats
    except ImportError:          # normal approximation
        return 1.959963984540054
    return float(stats.t.ppf(0.975, n - 1))


def paired_summary(table: pd.DataFrame, strategies: Sequence[str], metrics: Sequence[str]) -> pd.DataFrame:
    """Means per strategy and 95 % intervals of the paired differences to ``strategies[0]``."""
    base = strategies[0]
    wide = {m: table.pivot(index="run", columns="strategy", values=m) for m in metrics}
    rows = []
    for s in strategies:
        for m in metrics:
            w = wide[m]
            x = w[s].to_numpy(float)
            d = x - w[base].to_numpy(float)
            ok = np.isfinite(d)
            d = d[ok]
            n = int(d.size)
            mean_d = float(d.mean()) if n else math.nan
            if n >= 2:
                half = _quantile(n) * float(d.std(ddof=1)) / math.sqrt(n)
                lo, hi = mean_d - half, mean_d + half
            else:
                lo = hi = math.nan
            rows.append({"strategy": s, "metric": m, "n": int(np.isfinite(x).sum()),
                         "mean": float(np.nanmean(x)) if np.isfinite(x).any() else math.nan,
                         "diff_mean": mean_d, "diff_lo": lo, "diff_hi": hi})
    return pd.DataFrame(rows, columns=["strategy", "metric", "n", "mean", "diff_mean", "diff_lo", "diff_hi"])


def compare_strategies(scenario: Scenario, strategies: Sequence[str] | None = None,
                       runs: int | Iterable[int] | None = None, *, executor: Any = None, seed: int | None = None,
                       replan: bool = True, strategy_options=None) -> CompareResult:
    """Every strategy on the same sampled storms (paired), ``runs`` runs (a number: runs
    ``0..runs-1``; or the run numbers; default ``scenario.runs``). ``strategies`` default to
    ``scenario.strategies``; the first is the baseline of the paired differences. ``executor``:
    None (serial, in-process) or anything with ``map(fn, iterable)``."""
    strategies, run_list, seed = _arguments(scenario, strategies, runs, seed)
    table = _compare_table(scenario, strategies, run_list, seed, executor=executor, replan=replan,
                           strategy_options=strategy_options)
    crit_cols = [c for c in table.columns if c.startswith("crit_h_")]
    metrics = list(METRICS[:5]) + crit_cols + ["last_restored_min"]
    summary = paired_summary(table, strategies, metrics)
    return CompareResult(strategies=strategies, runs=run_list, baseline=strategies[0], table=table, summary=summary)


def _arguments(scenario: Scenario, strategies, runs, seed) -> tuple[tuple[str, ...], tuple[int, ...], int]:
    """Checked strategies, run numbers and seed of a comparison."""
    from gridsim.restore.schedule import STRATEGIES

    strategies = tuple(strategies if strategies is not None else scenario.strategies)
    if not strategies:
        raise ScenarioError("compare_strategies: give at least one strategy")
    bad = [s for s in strategies if s not in STRATEGIES]
    if bad:
        raise ScenarioError(f"unknown strategy {bad[0]!r}; known: {', '.join(sorted(STRATEGIES))}")
    if len(set(strategies)) != len(strategies):
        raise ScenarioError("compare_strategies: a strategy is listed twice")
    if runs is None:
        runs = scenario.runs
    run_list = tuple(range(int(runs))) if isinstance(runs, (int, np.integer)) else tuple(int(r) for r in runs)
    if not run_list or any(r < 0 for r in run_list):
        raise ScenarioError("compare_strategies: give at least one run, run numbers >= 0")
    seed = scenario.seed if seed is None else int(seed)
    return strategies, run_list, seed


def _compare_table(scenario: Scenario, strategies: tuple[str, ...], run_list: tuple[int, ...], seed: int, *,
                   executor: Any = None, replan: bool = True, strategy_options=None) -> pd.DataFrame:
    """The table of :func:`compare_strategies` (checked arguments; no summary: chunks of a long
    comparison make only their table, see :func:`gridsim.scenarios.report.compare_in_chunks`)."""
    if executor is None:
        tasks = [(scenario, strategies, r, seed, replan, strategy_options) for r in run_list]
        results = map(_task, tasks)
    else:       # a few runs per task: a task's own cost (sending the scenario, scheduling) is then shared
        workers = int(getattr(executor, "n_workers", None) or getattr(executor, "_max_workers", None) or 1)
        size = max(1, min(8, math.ceil(len(run_list) / (4 * max(workers, 1)))))
        tasks = [(scenario, strategies, run_list[a:a + size], seed, replan, strategy_options)
                 for a in range(0, len(run_list), size)]
        results = executor.map(_task_runs, tasks)
    rows = [row for part in results for row in part]
    table = pd.DataFrame(rows).sort_values(["run", "strategy_order"], kind="stable").drop(columns="strategy_order")
    table = table.reset_index(drop=True)
    crit_cols = [c for c in table.columns if c.startswith("crit_h_")]
    table[crit_cols] = table[crit_cols].fillna(0.0)
    return table
