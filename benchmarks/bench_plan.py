"""Restoration-planning benchmark: plan_restoration on a synthetic grid, and local_search vs exact.

Run: ``NUMBA_CACHE_DIR=.numba_cache .venv/bin/python benchmarks/bench_plan.py [--buses 20000] [--n 100]``

* ``big``: ``plan_restoration`` with 500 line faults and 50 crews (crews at the
  substations, round robin) on ``synth:N`` with ``local_search`` (default
  options: 2 s search limit, wspt start), end to end (faults read, outage
  structure, problem built, solved, ETRs assigned back). Target <= 5 s.
  Baseline in the same process: the same call with ``fifo``; the ratio of
  weighted customer minutes says what the search buys.
* ``gaps``: 100 random instances of 2..8 line / transformer faults and 2..3
  crews on ``synth:2000`` (real precedence from the feeders, real
  coordinates and customer weights), gap of each strategy's weighted
  customer minutes to ``exact``. Target for local_search: mean <= 3 %.

Prints the machine and versions first; the JIT is warmed up before timing.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fmt_s, header  # noqa: E402

from gridsim import compile_topology, load_model  # noqa: E402
from gridsim.restore.plan import plan_restoration  # noqa: E402

STRATEGIES = ("fifo", "most_customers", "critical_first", "wspt", "local_search")


def _line_faults(topo, rng, n, *, trafos=0):
    """``n`` distinct in-service lines that cut somebody off (and ``trafos`` transformers)."""
    from gridsim.core import sweep_single_faults

    df = sweep_single_faults(topo)
    ok = df[df["in_service"] & (df["customers_unsupplied"] > 0)]
    lines = ok[ok["element_type"] == "line"]["element_id"].to_numpy()
    out = [f"line:{i}" for i in rng.choice(lines, n, replace=False)]
    tr = ok[ok["element_type"] == "trafo"]["element_id"].to_numpy()
    if trafos and len(tr):
        out += [f"trafo:{i}" for i in rng.choice(tr, min(trafos, len(tr)), replace=False)]
    return out


def big(n_buses: int, n_faults: int = 500, n_crews: int = 50, seed: int = 0, repeat: int = 3) -> dict:
    t = time.perf_counter()
    model = load_model(f"synth:{n_buses}")
    topo = compile_topology(model)
    t_load = time.perf_counter() - t
    faults = _line_faults(topo, np.random.default_rng(seed), n_faults)
    for s in ("fifo", "wspt", "local_search"):          # JIT warm-up on a small instance
        plan_restoration(topo, faults[:6], 2, strategy=s)
    res = {}
    for s in ("fifo", "wspt", "local_search"):
        times, plan = [], None
        for _ in range(repeat if s != "local_search" else max(1, repeat)):
            t = time.perf_counter()
            plan = plan_restoration(topo, faults, n_crews, strategy=s)
            times.append(time.perf_counter() - t)
        res[s] = (statistics.median(times), plan)
    n_prec = int((res["fifo"][1].parent >= 0).sum())
    print(f"\n## plan_restoration: {n_faults} faults x {n_crews} crews on synth:{n_buses} "
          f"({topo.n_bus:,} buses, {len(topo.source_nodes)} substations; load+compile {t_load:.1f} s; "
          f"{n_prec} faults have an upstream fault; {int(res['fifo'][1].customers.sum()):,} customers out)")
    base_t, base = res["fifo"]
    for s, (sec, plan) in res.items():
        print(f"  {s:13s} {fmt_s(sec):>9s}  weighted customer minutes {plan.weighted_cmi:,.0f} "
              f"({plan.weighted_cmi / base.weighted_cmi:.3f} x fifo), CMI {plan.cmi:,.0f}, "
              f"makespan {plan.makespan_min / 60:.1f} h, time {sec / base_t:.1f} x fifo")
    ls_t = res["local_search"][0]
    print(f"  local_search end to end: {fmt_s(ls_t)} (target <= 5 s: {'met' if ls_t <= 5 else 'MISSED'})")
    return {s: sec for s, (sec, _) in res.items()}


def gaps(n: int = 100, seed: int = 0, n_buses: int = 2000) -> dict:
    model = load_model(f"synth:{n_buses}")
    topo = compile_topology(model)
    rng = np.random.default_rng(seed)
    plan_restoration(topo, _line_faults(topo, rng, 3), 2, strategy="exact")   # warm-up
    gap = {s: [] for s in STRATEGIES}
    t_exact, t_ls = [], []
    n_prec = 0
    for i in range(n):
        k = int(rng.integers(2, 9))
        faults = _line_faults(topo, rng, k - (1 if i % 4 == 0 else 0), trafos=1 if i % 4 == 0 else 0)
        crews = int(rng.integers(2, 4))
        t = time.perf_counter()
        opt = plan_restoration(topo, faults, crews, strategy="exact")
        t_exact.append(time.perf_counter() - t)
        n_prec += bool((opt.parent >= 0).any())
        for s in STRATEGIES:
            t = time.perf_counter()
            val = plan_restoration(topo, faults, crews, strategy=s).weighted_cmi
            if s == "local_search":
                t_ls.append(time.perf_counter() - t)
            gap[s].append(val / opt.weighted_cmi - 1.0 if opt.weighted_cmi > 0 else 0.0)
    print(f"\n## gap to exact: {n} random instances on synth:{n_buses} (2..8 faults, 2..3 crews, seed {seed}; "
          f"{n_prec} with precedence); exact median {1e3 * statistics.median(t_exact):.0f} ms, "
          f"worst {1e3 * max(t_exact):.0f} ms; local_search median {1e3 * statistics.median(t_ls):.0f} ms")
    for s, g in gap.items():
        g = np.asarray(g)
        print(f"  {s:15s} mean {100 * g.mean():6.2f} %  worst {100 * g.max():6.2f} %  "
              f"optimal {100 * np.mean(g <= 1e-9):5.1f} %")
    m = float(np.mean(gap["local_search"]))
    print(f"  local_search mean gap {100 * m:.2f} % (target <= 3 %: {'met' if m <= 0.03 else 'MISSED'})")
    return {s: (float(np.mean(g)), float(np.max(g))) for s, g in gap.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--buses", type=int, default=20000)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(header())
    big(args.buses, seed=args.seed)
    gaps(args.n, seed=args.seed)


if __name__ == "__main__":
    main()
