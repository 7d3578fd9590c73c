"""Reading a ``gridsim compare`` result folder (results.parquet + summary.json) back into a CompareResult."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from gridsim.errors import GridsimError

__all__ = ["load_compare_result", "ResultsError"]


class ResultsError(GridsimError):
    """A comparison result folder that cannot be read."""


def load_compare_result(folder: str | Path):
    """:class:`~gridsim.scenarios.CompareResult` of a folder written by ``gridsim compare`` (or the app)."""
    from gridsim.scenarios.compare import METRICS, CompareResult, paired_summary
    folder = Path(folder)
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        table = pd.read_parquet(folder / "results.parquet")
    except (OSError, ValueError) as e:
        raise ResultsError(f"{folder}: not a comparison result ({e})") from None
    strategies = tuple(summary.get("strategies") or ()) or tuple(pd.unique(table["strategy"]))
    if "strategy" not in table.columns or "run" not in table.columns or not strategies:
        raise ResultsError(f"{folder}: results.parquet has no run / strategy columns")
    crit = [c for c in table.columns if c.startswith("crit_h_")]
    metrics = [m for m in list(METRICS[:5]) + crit + ["last_restored_min"] if m in table.columns]
    summ = paired_summary(table, strategies, metrics)
    runs = tuple(int(r) for r in pd.unique(table["run"]))
    return CompareResult(strategies=strategies, runs=runs, baseline=str(summary.get("baseline") or strategies[0]),
                         table=table, summary=summ), summary
