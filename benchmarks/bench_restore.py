"""Benchmark of FLISR (fault location, isolation, service restoration), in one process.

    python benchmarks/bench_restore.py [--quick] [--sample 20] [--seed 0]

1. ``sweep_single_faults(topo, flisr=True)``: a switching plan with
   capacity-checked transfers (default ``capacity="local"``) for every fault
   that interrupts somebody, on ``mv_oberrhein`` (target <= 0.5 s, median of a
   few runs after warm-up) and ``sb_mvlv_urban`` (target <= 10 s, one run).
   Each timed call starts from an empty analysis cache (traversal and base
   power flow recomputed); the per-topology power-flow data compiled by the
   first call is kept, and that first call is printed separately.
2. The capacity check against pandapower: on a fixed random sample of
   ``mv_oberrhein`` faults whose plan runs at least one transfer check,
   ``plan_flisr(topo, fault, options={"capacity": m})`` per fault for
   ``m`` = ``local`` (ours: the receiving side only), ``full`` (our radial
   power flow of the whole network) and ``pandapower`` (``runpp`` on the
   reconfigured net), same process, after warm-up. Prints the per-fault times,
   the ratio pandapower / local (target >= 100x) and whether the three methods
   agree on ``customers_until_repair``.
3. One ``plan_flisr`` on ``synth:1000000``: the first call (on a fault with a
   transfer check: compiles the power-flow data and solves the base case) and the median and worst over 30 random faults with
   ``customers_interrupted > 0`` (target <= 50 ms).

``--quick`` skips sb_mvlv_urban and synth:1000000.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fmt_s, header  # noqa: E402

from gridsim import compile_topology, load_model  # noqa: E402
from gridsim.core import sweep_single_faults  # noqa: E402
from gridsim.restore import add_flisr_columns, plan_flisr  # noqa: E402
from gridsim.restore.flisr import _Planner, _options, _plan_meshed, _plan_radial  # noqa: E402

TARGETS = {
    "sweep:mv_oberrhein": 0.5,
    "sweep:sb_mvlv_urban": 10.0,
    "pp_ratio": 100.0,
    "plan:synth:1000000": 0.050,
}
METHODS = ("local", "full", "pandapower")


def verdict_le(got: float, want: float) -> str:
    return "met" if got <= want else f"MISSED by {got / want:.1f}x"


def verdict_ge(got: float, want: float) -> str:
    return "met" if got >= want else f"MISSED by {want / got:.1f}x"


def load(spec: str):
    t0 = time.perf_counter()
    model = load_model(spec)
    t1 = time.perf_counter()
    topo = compile_topology(model)
    t2 = time.perf_counter()
    return model, topo, t1 - t0, t2 - t1


def sweep_call(topo):
    topo._cache.clear()          # traversal + base power flow recomputed, compiled power-flow data kept
    return sweep_single_faults(topo, flisr=True)


def checks_per_fault(topo, positions, capacity="local") -> np.ndarray:
    """Transfer checks each fault's plan runs (fresh planner per fault: no sharing)."""
    opts = _options({"capacity": capacity})
    out = np.zeros(len(positions), np.int64)
    for i, p in enumerate(positions):
        P = _Planner(topo, None, opts)
        (_plan_radial if P.a.radial else _plan_meshed)(P, int(p))
        out[i] = P.n_pf
    return out


def sweep_checks(topo) -> tuple[int, int]:
    """Plans and transfer checks of one sweep (one planner shared, as in add_flisr_columns)."""
    df = sweep_single_faults(topo)
    todo = np.flatnonzero(df["in_service"].to_numpy() & (df["customers_interrupted"].to_numpy() > 0))
    P = _Planner(topo, None, _options(None))
    plan = _plan_radial if P.a.radial else _plan_meshed
    for p in todo:
        plan(P, int(p))
    return int(todo.size), int(P.n_pf)


def bench_sweep(spec: str, repeat: int, jit: bool = False) -> dict:
    r: dict = {"model": spec, "jit": jit}
    model, topo, r["load_s"], r["compile_s"] = load(spec)
    r["buses"], r["faults"], r["radial"] = topo.n_bus, topo.n_elements, topo.analysis().radial
    t0 = time.perf_counter()
    df = sweep_single_faults(topo, flisr=True)
    r["first_s"] = time.perf_counter() - t0
    r["planned"], r["checks"] = sweep_checks(topo)
    r["until_repair"] = int(df["customers_until_repair"].sum())
    r["restored"] = int(df["customers_restored_by_switching"].sum())
    r["interrupted"] = int(df["customers_interrupted"].sum())
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        sweep_call(topo)
        times.append(time.perf_counter() - t0)
    r["times"] = times
    r["median_s"] = statistics.median(times)
    return r, model, topo


def report_sweep(r: dict) -> str:
    n = len(r["times"])
    lines = [
        f"### sweep_single_faults(flisr=True) — {r['model']}: {r['buses']:,} buses, {r['faults']:,} elements, "
        f"{'radial' if r['radial'] else 'meshed'} operation",
        f"load {r['load_s']:.1f} s, compile_topology {r['compile_s']:.2f} s; {r['planned']:,} faults interrupt "
        f"somebody and get a plan, {r['checks']:,} transfer checks (capacity='local', shared within the sweep)",
        f"customer-faults interrupted {r['interrupted']:,}, restored by switching {r['restored']:,}, "
        f"until repair {r['until_repair']:,}",
        f"first call (compiles the power-flow data{'; first in the process: loads the JIT' if r['jit'] else ''}): "
        f"{fmt_s(r['first_s'])}",
        f"{'median of ' + str(n) + ' calls' if n > 1 else 'one call'} (analysis cache cleared before each): "
        f"{fmt_s(r['median_s'])}" + (f"  [{', '.join(fmt_s(t) for t in r['times'])}]" if n > 1 else ""),
    ]
    want = TARGETS[f"sweep:{r['model']}"]
    lines.append(f"- target sweep_single_faults(flisr=True) {r['model']} <= {fmt_s(want)}: {fmt_s(r['median_s'])} — "
                 + verdict_le(r["median_s"], want))
    return "\n".join(lines)


def pick_sample(topo, n: int, seed: int) -> tuple[np.ndarray, int]:
    """``n`` faults (fixed seed) whose plan runs at least one transfer check."""
    df = sweep_single_faults(topo)
    todo = np.flatnonzero(df["in_service"].to_numpy() & (df["customers_interrupted"].to_numpy() > 0))
    k = checks_per_fault(topo, todo)
    cand = todo[k > 0]
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(cand, size=min(n, cand.size), replace=False))
    return sample, int(cand.size)


def time_plan(topo, label: str, capacity: str, repeat: int):
    opts = {"capacity": capacity}
    times = []
    sp = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        sp = plan_flisr(topo, label, options=opts)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), sp


def bench_ratio(topo, n: int, seed: int) -> dict:
    sample, n_cand = pick_sample(topo, n, seed)
    labels = [topo.element_label(int(p)) for p in sample]
    checks = checks_per_fault(topo, sample)
    reps = {"local": 7, "full": 5, "pandapower": 3}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for m in METHODS:                       # warm-up (JIT, pandapower's first runpp)
            for lab in labels[:3]:
                plan_flisr(topo, lab, options={"capacity": m})
        rows = []
        for lab, k in zip(labels, checks):
            row = {"fault": lab, "checks": int(k)}
            for m in METHODS:
                t, sp = time_plan(topo, lab, m, reps[m])
                row[m] = t
                row[m + "_ur"] = sp.customers_until_repair
                row[m + "_rs"] = sp.customers_restored_by_switching
                row[m + "_steps"] = sum(s.purpose == "transfer" for s in sp.steps)
            rows.append(row)
        # the sweep itself restricted to the sample: one planner shared by the sample's faults
        # (base-case power flow once, transfer checks remembered), as add_flisr_columns does
        df = sweep_single_faults(topo)
        ci = np.zeros(len(df), np.int64)
        ci[sample] = df["customers_interrupted"].to_numpy()[sample]
        df_s = df.assign(customers_interrupted=ci)
        sweep = {}
        for m in METHODS:
            times = []
            for _ in range(reps[m]):
                topo._cache.clear()
                t0 = time.perf_counter()
                out = add_flisr_columns(topo, df_s, options={"capacity": m})
                times.append(time.perf_counter() - t0)
            sweep[m] = statistics.median(times)
            sweep[m + "_ur"] = out["customers_until_repair"].to_numpy()[sample]
    return {"rows": rows, "n_cand": n_cand, "seed": seed, "reps": reps, "sweep": sweep}


def report_ratio(r: dict, model: str = "mv_oberrhein") -> str:
    rows = r["rows"]
    lines = [
        f"### capacity check: ours vs pandapower runpp — {model}, {len(rows)} faults drawn (seed {r['seed']}) "
        f"from the {r['n_cand']} whose plan runs >= 1 transfer check",
        f"per-fault `plan_flisr` time, median of {r['reps']['local']} / {r['reps']['full']} / "
        f"{r['reps']['pandapower']} runs (local / full / pandapower); 'until repair' = customers_until_repair",
        "",
        "| fault | checks | local | full | pandapower | pp / local | until repair local / full / pp | transfers |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for w in rows:
        ur = f"{w['local_ur']} / {w['full_ur']} / {w['pandapower_ur']}"
        if not (w["local_ur"] == w["full_ur"] == w["pandapower_ur"]):
            ur += " **differ**"
        lines.append(f"| {w['fault']} | {w['checks']} | {fmt_s(w['local'])} | {fmt_s(w['full'])} | "
                     f"{fmt_s(w['pandapower'])} | {w['pandapower'] / w['local']:,.0f}x | {ur} | "
                     f"{w['local_steps']} / {w['full_steps']} / {w['pandapower_steps']} |")
    tot = {m: sum(w[m] for w in rows) for m in METHODS}
    per = [w["pandapower"] / w["local"] for w in rows]
    ratio = tot["pandapower"] / tot["local"]
    lines += [
        f"| **total** | {sum(w['checks'] for w in rows)} | {fmt_s(tot['local'])} | {fmt_s(tot['full'])} | "
        f"{fmt_s(tot['pandapower'])} | {ratio:,.0f}x | | |",
        "",
        f"ratio pandapower / local: total {ratio:,.0f}x, per fault median {statistics.median(per):,.0f}x, "
        f"min {min(per):,.0f}x; full / local: total {tot['full'] / tot['local']:.1f}x",
    ]
    agree_ur = [w["local_ur"] == w["full_ur"] == w["pandapower_ur"] for w in rows]
    agree_rs = [w["local_rs"] == w["full_rs"] == w["pandapower_rs"] for w in rows]
    lines.append(f"methods agree on customers_until_repair: {sum(agree_ur)}/{len(rows)} faults; "
                 f"on customers_restored_by_switching: {sum(agree_rs)}/{len(rows)}")
    for w, a in zip(rows, agree_ur):
        if not a:
            lines.append(f"  differs: {w['fault']}: until repair local {w['local_ur']}, full {w['full_ur']}, "
                         f"pandapower {w['pandapower_ur']}")
    sw = r["sweep"]
    sratio = sw["pandapower"] / sw["local"]
    same = np.array_equal(sw["local_ur"], sw["full_ur"]) and np.array_equal(sw["local_ur"], sw["pandapower_ur"])
    lines += [
        "",
        f"`add_flisr_columns` on the sample only (one planner for the {len(rows)} faults, as in the sweep: "
        f"the base case is solved once, checks shared), cache cleared, median of the same run counts:",
        f"local {fmt_s(sw['local'])}, full {fmt_s(sw['full'])} ({sw['full'] / sw['local']:.1f}x), "
        f"pandapower {fmt_s(sw['pandapower'])} ({sratio:,.0f}x); customers_until_repair identical: {same}",
        f"(per-fault `plan_flisr` with pandapower solves the base case again in every call, which the "
        f"per-fault ratio above includes)",
        f"- target ratio vs pandapower runpp as the capacity check >= {TARGETS['pp_ratio']:.0f}x: "
        f"{sratio:,.0f}x (sweep over the sample) — " + verdict_ge(sratio, TARGETS["pp_ratio"])
        + f"; per-fault plan_flisr total {ratio:,.0f}x — " + verdict_ge(ratio, TARGETS["pp_ratio"]),
    ]
    return "\n".join(lines)


def bench_big(spec: str, n: int, seed: int) -> dict:
    r: dict = {"model": spec}
    model, topo, r["load_s"], r["compile_s"] = load(spec)
    r["buses"] = topo.n_bus
    t0 = time.perf_counter()
    df = sweep_single_faults(topo)
    r["sweep_s"] = time.perf_counter() - t0
    pos = np.flatnonzero(df["in_service"].to_numpy() & (df["customers_interrupted"].to_numpy() > 0))
    rng = np.random.default_rng(seed)
    sample = rng.choice(pos, size=min(n, pos.size), replace=False)
    labels = [topo.element_label(int(p)) for p in sample]
    # first call: a fault whose plan runs a transfer check (found with capacity="none", which
    # prepares no power-flow data), so that it pays for all the one-time preparation
    first = None
    opts_none = _options({"capacity": "none"})
    for p in rng.permutation(pos)[:2000]:
        P = _Planner(topo, None, opts_none)
        _plan_radial(P, int(p)) if P.a.radial else _plan_meshed(P, int(p))
        if P.n_pf:
            first = topo.element_label(int(p))
            break
    if first is None:
        first = topo.element_label(int(pos[0]))
    t0 = time.perf_counter()
    plan_flisr(topo, first)
    r["first_s"] = time.perf_counter() - t0
    r["first"] = first
    t0 = time.perf_counter()
    plan_flisr(topo, first)
    r["second_s"] = time.perf_counter() - t0
    times, transfers, infeasible, cint = [], 0, 0, []
    for lab in labels:
        t0 = time.perf_counter()
        sp = plan_flisr(topo, lab)
        times.append(time.perf_counter() - t0)
        transfers += sum(s.purpose == "transfer" for s in sp.steps)
        infeasible += len(sp.infeasible)
        cint.append(sp.customers_interrupted)
    r["times"] = times
    r["worst_fault"] = labels[int(np.argmax(times))]
    r["transfers"], r["infeasible"] = transfers, infeasible
    r["cint_median"], r["cint_max"] = int(np.median(cint)), int(max(cint))
    r["n"] = len(labels)
    return r


def report_big(r: dict) -> str:
    t = r["times"]
    med, worst = statistics.median(t), max(t)
    want = TARGETS[f"plan:{r['model']}"]
    lines = [
        f"### plan_flisr — {r['model']}: {r['buses']:,} buses",
        f"load {r['load_s']:.1f} s, compile_topology {r['compile_s']:.2f} s, sweep_single_faults "
        f"{fmt_s(r['sweep_s'])} (to draw faults with customers_interrupted > 0)",
        f"first call ({r['first']}, a fault with a transfer check; compiles the power-flow data and solves "
        f"the base case of the whole network): {fmt_s(r['first_s'])}; the same fault again {fmt_s(r['second_s'])}",
        f"{r['n']} random faults (customers interrupted: median {r['cint_median']:,}, max {r['cint_max']:,}; "
        f"{r['transfers']} transfers done, {r['infeasible']} refused): median {fmt_s(med)}, worst {fmt_s(worst)} "
        f"({r['worst_fault']}), p90 {fmt_s(float(np.quantile(t, 0.9)))}",
        f"- target one plan_flisr {r['model']} <= {fmt_s(want)}: median {fmt_s(med)} — {verdict_le(med, want)}; "
        f"worst {fmt_s(worst)} — {verdict_le(worst, want)}",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="skip sb_mvlv_urban and synth:1000000")
    ap.add_argument("--sample", type=int, default=20, help="faults in the pandapower comparison (default 20)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=5, help="timed sweeps of mv_oberrhein (default 5)")
    args = ap.parse_args(argv)
    print(header())
    print()
    r, _, topo = bench_sweep("mv_oberrhein", args.repeat, jit=True)
    print(report_sweep(r), flush=True)
    print()
    print(report_ratio(bench_ratio(topo, args.sample, args.seed)), flush=True)
    print()
    if not args.quick:
        r, _, _ = bench_sweep("sb_mvlv_urban", 1)
        print(report_sweep(r), flush=True)
        print()
        print(report_big(bench_big("synth:1000000", 30, args.seed)), flush=True)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
