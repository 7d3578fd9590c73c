"""Crew-scheduling benchmark: local-search gap to the exact optimum, and big-instance time.

Run: ``.venv/bin/python benchmarks/bench_schedule.py [--n 100] [--seed 0]``

* ``gap_study``: random instances of 2..8 jobs and 2..3 crews (half with a
  precedence forest), gap of every strategy to ``exact`` (target for
  local_search: mean <= 3 %).
* ``big_instance_time``: 500 jobs x 50 crews, time of ``wspt`` and
  ``local_search`` (default 2 s limit; target <= 5 s in total), and the
  improvement over the wspt start.

Prints the machine and versions first; the JIT is warmed up before timing.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

import numba
import numpy as np

from gridsim.restore.schedule import STRATEGIES, ScheduleProblem, make_problem, solve


def random_problem(rng: np.random.Generator, n_jobs: int, n_crews: int, *,
                   precedence: bool = True, travel: bool = True, area_km: float = 20.0) -> ScheduleProblem:
    """Jobs scattered over a square, crews at random depots; parents drawn among other jobs."""
    parent = np.full(n_jobs, -1)
    if precedence:
        for j in range(1, n_jobs):
            if rng.random() < 0.5:
                parent[j] = rng.integers(0, j)
        perm = rng.permutation(n_jobs)            # parents need not have smaller indices
        inv = np.argsort(perm)
        parent = np.where(parent[perm] >= 0, inv[np.maximum(parent[perm], 0)], -1)
    return make_problem(
        x_km=rng.uniform(0, area_km, n_jobs), y_km=rng.uniform(0, area_km, n_jobs),
        repair_min=rng.uniform(15, 180, n_jobs),
        weight=rng.choice([1.0, 3.0, 10.0, 100.0, 1000.0], n_jobs, p=[.5, .2, .15, .1, .05])
        * rng.integers(1, 200, n_jobs),
        customers=rng.integers(1, 200, n_jobs), parent=parent,
        critical_by_class={"hospital": (rng.random(n_jobs) < 0.1).astype(float),
                           "water": (rng.random(n_jobs) < 0.1).astype(float)},
        crew_x_km=rng.uniform(0, area_km, n_crews), crew_y_km=rng.uniform(0, area_km, n_crews),
        crew_speed_kmh=rng.uniform(30, 60, n_crews), crew_available_from_min=rng.uniform(0, 30, n_crews),
        travel_factor=1.3 if travel else 0.0,
    )


def print_machine() -> None:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"# {datetime.datetime.now().isoformat(timespec='seconds')}  {cpu}  cores={os.cpu_count()}")
    print(f"# python {platform.python_version()}  numpy {np.__version__}  numba {numba.__version__}")


def _warm_up() -> None:
    rng = np.random.default_rng(12345)
    for name in STRATEGIES:
        solve(random_problem(rng, 6, 2), name)


def gap_study(n: int = 100, seed: int = 0, *, verbose: bool = True) -> dict[str, dict[str, float]]:
    """Gap of each strategy to ``exact`` over ``n`` random instances (2..8 jobs, 2..3 crews)."""
    _warm_up()
    rng = np.random.default_rng(seed)
    names = [s for s in STRATEGIES if s not in ("exact", "exact_mip")]  # the yardsticks themselves
    gaps = {s: [] for s in names}
    times = {s: [] for s in [*names, "exact"]}
    for i in range(n):
        pb = random_problem(rng, int(rng.integers(2, 9)), int(rng.integers(2, 4)),
                            precedence=bool(i % 2), travel=i % 5 != 0)
        t = time.perf_counter()
        opt = solve(pb, "exact").weighted_cmi
        times["exact"].append(time.perf_counter() - t)
        for s in names:
            t = time.perf_counter()
            val = solve(pb, s).weighted_cmi
            times[s].append(time.perf_counter() - t)
            gaps[s].append(val / opt - 1.0 if opt > 0 else 0.0)
    out = {s: {"mean_gap": float(np.mean(g)), "worst_gap": float(np.max(g)),
               "optimal_share": float(np.mean(np.asarray(g) <= 1e-9)),
               "median_ms": float(np.median(times[s]) * 1e3)} for s, g in gaps.items()}
    if verbose:
        print(f"gap to exact over {n} instances (2..8 jobs, 2..3 crews, seed={seed}); "
              f"exact median {np.median(times['exact']) * 1e3:.1f} ms, worst {np.max(times['exact']) * 1e3:.1f} ms")
        for s, r in out.items():
            print(f"  {s:15s} mean {r['mean_gap'] * 100:6.2f} %  worst {r['worst_gap'] * 100:6.2f} %  "
                  f"optimal {r['optimal_share'] * 100:5.1f} %  median {r['median_ms']:.2f} ms")
    return out


def big_instance_time(n_jobs: int = 500, n_crews: int = 50, seed: int = 0, *,
                      verbose: bool = True) -> dict[str, float]:
    """Time of wspt and local_search (default options) on one big random instance."""
    _warm_up()
    out: dict[str, float] = {}
    for precedence in (False, True):
        pb = random_problem(np.random.default_rng(seed), n_jobs, n_crews, precedence=precedence)
        tag = "prec" if precedence else "noprec"
        t = time.perf_counter()
        w = solve(pb, "wspt")
        out[f"wspt_s_{tag}"] = time.perf_counter() - t
        t = time.perf_counter()
        ls = solve(pb, "local_search")
        out[f"local_search_s_{tag}"] = time.perf_counter() - t
        out[f"improvement_{tag}"] = 1.0 - ls.weighted_cmi / w.weighted_cmi
        if verbose:
            print(f"{n_jobs} jobs x {n_crews} crews ({'with' if precedence else 'no'} precedence): "
                  f"wspt {out[f'wspt_s_{tag}']:.3f} s, local_search {out[f'local_search_s_{tag}']:.3f} s "
                  f"(incl. its wspt start), {out[f'improvement_{tag}'] * 100:.1f} % better than wspt")
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print_machine()
    gap_study(args.n, args.seed)
    big_instance_time()
