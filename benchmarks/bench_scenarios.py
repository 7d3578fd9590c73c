"""Benchmark of the scenario layer (issue 4, section 8), in one process.

    python benchmarks/bench_scenarios.py [--quick] [--runs 50] [--storms 10000]

1. ``compare_strategies`` of the 5 strategies of ``scenarios/compare_strategies.yaml``
   (sb_mvlv_urban, Poisson(20) faults, 5 crews) over ``--runs`` Monte-Carlo storms:
   serially in this process (after a warm-up run that loads the model and compiles it),
   then with ``ProcessPoolExecutor(2)``: a 2-run warm-up call on a fresh pool (workers
   load and compile the model: the cost a user pays once), then the same runs as the
   serial call on the warm pool (tables must be identical). The 1,000-run time (target
   <= 60 s on 2 cores) is **extrapolated** unless ``--runs 1000``: pool warm-up call +
   warm per-run time x 1,000.
2. Storm impact alone: ``sample_storms_csr`` + ``sweep_storms`` for ``--storms`` storms
   of the same storm spec on ``synth:1000000`` (load and compile_topology not timed;
   target <= 1 s end to end including sampling). The first call in the process (builds
   the per-element weights, traversal intervals and prefix sums, cached on the topology)
   and the median of warm calls are printed. Baseline: exact BFS per storm
   (``_storms_bfs``) on the first 20 storms, extrapolated to all, same process.
3. Dask LocalCluster 2 workers vs 1 on the compare job (target speed-up >= 1.7x) when
   ``gridsim.scenarios.executors.make_executor`` exists; otherwise reported as not measured.

``--quick``: 10 runs, and 1,000 storms on synth:100000.
"""
from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fmt_s, header  # noqa: E402

from gridsim import compile_topology, load_model  # noqa: E402
from gridsim.core import _kernels as K  # noqa: E402
from gridsim.core import sweep_storms  # noqa: E402
from gridsim.scenarios import compare_strategies, load_scenario, sample_storms_csr  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SCEN = ROOT / "scenarios" / "compare_strategies.yaml"
TARGETS = {"compare_1000": 60.0, "storms": 1.0, "dask_speedup": 1.7}


def verdict_le(got: float, want: float) -> str:
    return "met" if got <= want else f"MISSED by {got / want:.1f}x"


def verdict_ge(got: float, want: float) -> str:
    return "met" if got >= want else f"MISSED by {want / got:.1f}x"


# --------------------------------------------------------------------------- 1. compare

def bench_compare(n: int) -> dict:
    sc = load_scenario(SCEN)
    r: dict = {"n": n, "strategies": sc.strategies}
    t0 = time.perf_counter()
    compare_strategies(sc, runs=[100_000])        # loads + compiles the model, JIT, warm-up
    r["warm_s"] = time.perf_counter() - t0
    runs = list(range(n))
    t0 = time.perf_counter()
    ser = compare_strategies(sc, runs=runs)
    r["serial_s"] = time.perf_counter() - t0
    r["faults_mean"] = float(ser.table.groupby("run")["n_faults"].first().mean())
    r["best"] = ser.best("saidi")
    r["saidi"] = {s: float(ser.summary.query("metric == 'saidi' and strategy == @s")["mean"].iloc[0])
                  for s in ser.strategies}
    with ProcessPoolExecutor(2) as ex:
        t0 = time.perf_counter()
        compare_strategies(sc, runs=[100_001, 100_002], executor=ex)   # fresh workers: load + compile + 2 runs
        r["pool_cold_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        par = compare_strategies(sc, runs=runs, executor=ex)
        r["pool_warm_s"] = time.perf_counter() - t0
    r["identical"] = bool(ser.table.equals(par.table))
    r["speedup_warm"] = r["serial_s"] / r["pool_warm_s"]
    r["extrap_1000"] = r["pool_cold_s"] + r["pool_warm_s"] / n * 1000
    r["extrap_serial_1000"] = r["serial_s"] / n * 1000
    return r


def report_compare(r: dict) -> str:
    n = r["n"]
    want = TARGETS["compare_1000"]
    lines = [
        f"### compare_strategies — sb_mvlv_urban, {len(r['strategies'])} strategies "
        f"({', '.join(r['strategies'])}), {n} runs (mean {r['faults_mean']:.1f} faults per storm, 5 crews)",
        f"warm-up (1 run: load + compile sb_mvlv_urban, JIT): {fmt_s(r['warm_s'])}",
        f"mean SAIDI per strategy: " + ", ".join(f"{s} {v:.3f}" for s, v in r["saidi"].items())
        + f"; best {r['best']}",
        "",
        "| executor | runs | time | per run | speed-up vs serial |",
        "|---|---|---|---|---|",
        f"| serial (this process, warm) | {n} | {fmt_s(r['serial_s'])} | {fmt_s(r['serial_s'] / n)} | 1.00x |",
        f"| ProcessPoolExecutor(2), warm pool (same runs) | {n} | {fmt_s(r['pool_warm_s'])} | "
        f"{fmt_s(r['pool_warm_s'] / n)} | **{r['speedup_warm']:.2f}x** |",
        f"| ProcessPoolExecutor(2), fresh pool: 2 warm-up runs (workers load + compile) | 2 | "
        f"{fmt_s(r['pool_cold_s'])} | | |",
        "",
        f"serial and pool tables identical: {r['identical']}",
    ]
    if n >= 1000:
        got = r["pool_cold_s"] + r["pool_warm_s"]
        lines.append(f"- target 1,000 runs <= {want:.0f} s on 2 cores: {fmt_s(got)} (measured) — {verdict_le(got, want)}")
    else:
        got = r["extrap_1000"]
        lines.append(f"EXTRAPOLATED to 1,000 runs from {n}: 2 processes {fmt_s(got)} (fresh-pool "
                     f"warm-up {fmt_s(r['pool_cold_s'])} + {fmt_s(r['pool_warm_s'] / n)} per run x 1,000); "
                     f"serial {fmt_s(r['extrap_serial_1000'])}")
        lines.append(f"- target 1,000 runs <= {want:.0f} s on 2 cores: {fmt_s(got)} (extrapolated from {n} runs) — "
                     f"{verdict_le(got, want)}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- 2. storms

def bench_storms(spec: str, n_storms: int) -> dict:
    sc = load_scenario(SCEN)
    r: dict = {"model": spec, "n": n_storms}
    t0 = time.perf_counter()
    model = load_model(spec)
    r["load_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    topo = compile_topology(model)
    r["compile_s"] = time.perf_counter() - t0
    r["buses"], r["elements"] = topo.n_bus, topo.n_elements

    def run():
        csr = sample_storms_csr(sc.storm, topo, model, n_runs=n_storms, seed=sc.seed)
        return csr, sweep_storms(topo, csr)

    t0 = time.perf_counter()
    run()
    r["first_s"] = time.perf_counter() - t0
    times, samp = [], []
    for _ in range(5):
        t0 = time.perf_counter()
        csr = sample_storms_csr(sc.storm, topo, model, n_runs=n_storms, seed=sc.seed)
        t1 = time.perf_counter()
        res = sweep_storms(topo, csr)
        t2 = time.perf_counter()
        times.append(t2 - t0)
        samp.append(t1 - t0)
    r["times"] = times
    r["median_s"] = statistics.median(times)
    r["sample_s"] = statistics.median(samp)
    r["sweep_s"] = r["median_s"] - r["sample_s"]
    indptr, elems = csr
    r["faults_total"] = int(indptr[-1])
    r["method"] = res.method
    r["cust_mean"] = float(np.mean(res.customers))
    r["cust_max"] = int(np.max(res.customers))
    # baseline: exact BFS per storm on the first few storms, extrapolated
    n_bfs = min(20, n_storms)
    sub = (indptr[: n_bfs + 1], elems[: indptr[n_bfs]])
    a = topo.analysis()
    w = np.stack([topo.node_is_bus, topo.node_cust, topo.node_crit], axis=1).astype(np.int64)

    def bfs():
        return K._storms_bfs(sub[0], sub[1], topo.elem_is_node, topo.elem_ref, topo.indptr, topo.adj_node,
                             topo.adj_branch, a.cond, a.supplied, w, 0)

    bfs()                                       # JIT
    bt = []
    for _ in range(3):
        t0 = time.perf_counter()
        ref = bfs()
        bt.append(time.perf_counter() - t0)
    r["n_bfs"] = n_bfs
    r["bfs_per_storm_s"] = statistics.median(bt) / n_bfs
    r["bfs_total_s"] = r["bfs_per_storm_s"] * n_storms + r["sample_s"]
    r["agree"] = bool(np.array_equal(ref[:, 1], sweep_storms(topo, sub).customers))
    return r


def report_storms(r: dict) -> str:
    want = TARGETS["storms"]
    n = r["n"]
    lines = [
        f"### storm impact — sample_storms_csr + sweep_storms, {n:,} storms on {r['model']} "
        f"({r['buses']:,} buses, {r['elements']:,} elements)",
        f"load {r['load_s']:.1f} s, compile_topology {r['compile_s']:.2f} s (not timed); storm spec of "
        f"compare_strategies.yaml: {r['faults_total']:,} faults in all ({r['faults_total'] / n:.1f} per storm); "
        f"method {r['method']}; customers cut per storm mean {r['cust_mean']:,.0f}, max {r['cust_max']:,}",
        f"first call in the process (element weights, intervals, prefix sums built and cached): {fmt_s(r['first_s'])}",
        "",
        "| step | time | ratio |",
        "|---|---|---|",
        f"| sample_storms_csr + sweep_storms (median of {len(r['times'])}) | {fmt_s(r['median_s'])} | 1 |",
        f"| of which sample_storms_csr | {fmt_s(r['sample_s'])} | |",
        f"| of which sweep_storms | {fmt_s(r['sweep_s'])} | |",
        f"| sampling + BFS per storm (extrapolated from {r['n_bfs']} storms, "
        f"{fmt_s(r['bfs_per_storm_s'])} each; results agree: {r['agree']}) | {fmt_s(r['bfs_total_s'])} | "
        f"{r['bfs_total_s'] / r['median_s']:,.0f}x |",
        "",
        f"- target {n:,} storms {r['model']} <= {fmt_s(want)} end to end incl. sampling: warm median "
        f"{fmt_s(r['median_s'])} — {verdict_le(r['median_s'], want)}; first call {fmt_s(r['first_s'])} — "
        f"{verdict_le(r['first_s'], want)}",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- 3. dask

def bench_dask(n: int) -> str:
    try:
        mod = importlib.import_module("gridsim.scenarios.executors")
        make_executor = mod.make_executor
    except (ImportError, AttributeError):
        return "### Dask LocalCluster 2 vs 1 workers\nnot measured: Dask executor not available yet " \
               "(gridsim.scenarios.executors.make_executor not found)"
    sc = load_scenario(SCEN)
    times = {}
    for w in (1, 2):
        ex = make_executor(dask_local=w)
        try:
            compare_strategies(sc, runs=[100_000 + i for i in range(2 * w)], executor=ex)  # warm the workers
            t0 = time.perf_counter()
            compare_strategies(sc, runs=list(range(n)), executor=ex)
            times[w] = time.perf_counter() - t0
        finally:
            close = getattr(ex, "close", None) or getattr(ex, "shutdown", None)
            if close:
                close()
    sp = times[1] / times[2]
    return (f"### Dask LocalCluster 2 vs 1 workers — compare job, {n} runs\n"
            f"1 worker {fmt_s(times[1])}, 2 workers {fmt_s(times[2])}: speed-up {sp:.2f}x\n"
            f"- target speed-up >= {TARGETS['dask_speedup']}x: {sp:.2f}x — {verdict_ge(sp, TARGETS['dask_speedup'])}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10 runs; 1,000 storms on synth:100000")
    ap.add_argument("--runs", type=int, default=None, help="compare runs (default 50, --quick 10)")
    ap.add_argument("--storms", type=int, default=None, help="storms (default 10000, --quick 1000)")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: compare,storms,dask")
    args = ap.parse_args(argv)
    runs = args.runs or (10 if args.quick else 50)
    storms = args.storms or (1000 if args.quick else 10_000)
    spec = "synth:100000" if args.quick else "synth:1000000"
    skip = set(filter(None, args.skip.split(",")))
    print(header())
    print()
    if "compare" not in skip:
        print(report_compare(bench_compare(runs)), flush=True)
        print()
    if "storms" not in skip:
        print(report_storms(bench_storms(spec, storms)), flush=True)
        print()
    if "dask" not in skip:
        print(bench_dask(runs), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
