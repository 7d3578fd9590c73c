"""Benchmark of the outage-impact core against its baselines, in one process.

    python benchmarks/bench_impact.py [--models sb_mvlv_urban,sb_complete,synth:100000,synth:1000000]
                                      [--quick]

For each network: load + compile, topology memory, the full N-1 sweep (kernel
pass and whole call with the DataFrame), the read-once floor, one
``find_affected`` call, a storm batch, and the baselines measured in the same
run: a per-fault Numba BFS, networkx per fault, pandapower ``unsupplied_buses``
per fault (prebuilt graph, and naive: graph rebuilt per fault). Baselines run
on a sample of faults and are extrapolated to all faults; the sample size is
printed. All times are medians after JIT warm-up.
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fmt_s, header, timeit  # noqa: E402

from gridsim.core import _kernels as K  # noqa: E402
from gridsim.core import compile_topology, find_affected, sweep_single_faults, sweep_storms  # noqa: E402
from gridsim.core.topology import _analyse  # noqa: E402
from gridsim.core.impact import _subtree  # noqa: E402
from gridsim.model import load_model  # noqa: E402

TARGETS = {
    "synth:1000000": {"kernel": 0.050, "call": 1.0, "floor_ratio": 3.0, "storms": 0.100,
                      "find_affected": 0.001, "compile": 10.0, "bytes_per_bus": 200},
    "sb_complete": {"kernel": 0.003},
    "sb_mvlv_urban": {"kernel": 0.001, "pp_ratio": 1e6},
}


def kernel_pass(topo):
    state = topo.base_state()
    a = _analyse(topo, state)
    return K._sweep(topo.elem_is_node, topo.elem_ref, topo.br_from, topo.br_to, a.cond, a.pre, a.size, a.low,
                    a.parent, a.parent_branch, _subtree(topo, a), a.kept_bus,
                    a.kept_cust, a.kept_crit, topo.br_prot_dev, topo.br_prot_node, topo.br_own_trip,
                    a.dev_above, a.dev_below)


def whole_call(topo):
    topo._cache.clear()
    return sweep_single_faults(topo)


def faultable_branches(topo):
    """Element positions of in-service branch elements (lines, trafos, bus-bus switches)."""
    isn = topo.elem_is_node
    pos = np.flatnonzero(~isn)
    return pos[topo.br_in_service[topo.elem_ref[pos]]]


def bfs_per_fault(topo, positions):
    a = topo.analysis()
    cond = a.cond.copy()
    total = 0
    for p in positions:
        b = topo.elem_ref[p]
        old = cond[b]
        cond[b] = False
        reached = K._reached_mask(topo.indptr, topo.adj_node, topo.adj_branch, cond, 0)
        cond[b] = old
        total += int((a.supplied & ~reached).sum())
    return total


def nx_graph(topo):
    import networkx as nx
    a = topo.analysis()
    g = nx.MultiGraph()
    g.add_nodes_from(range(topo.n_node))
    b = np.flatnonzero(a.cond)
    g.add_edges_from(zip(topo.br_from[b].tolist(), topo.br_to[b].tolist(), b.tolist()))
    return g


def nx_per_fault(topo, g, positions):
    import networkx as nx
    base = len(nx.node_connected_component(g, 0))
    total = 0
    for p in positions:
        b = int(topo.elem_ref[p])
        u, v = int(topo.br_from[b]), int(topo.br_to[b])
        if g.has_edge(u, v, b):
            g.remove_edge(u, v, b)
            total += base - len(nx.node_connected_component(g, 0))
            g.add_edge(u, v, b)
    return total


def pp_per_fault(model, topo, positions, prebuilt: bool):
    import pandapower.topology as pt
    net = model.net
    mg = pt.create_nxgraph(net) if prebuilt else None
    before = pt.unsupplied_buses(net, mg=mg)
    total = 0
    for p in positions:
        et = str(topo.element_label(p)).split(":")[0]
        eid = int(topo.elem_id[p])
        if prebuilt:
            g = mg.copy()
            key = (et, eid)
            g.remove_edges_from([(u, v, k) for u, v, k in g.edges(keys=True) if k == key])
            after = pt.unsupplied_buses(net, mg=g)
        else:
            n2 = copy.deepcopy(net)
            if et == "switch":
                n2.switch.loc[eid, "closed"] = False
            else:
                n2[et].loc[eid, "in_service"] = False
            after = pt.unsupplied_buses(n2)
        total += len(set(after) - set(before))
    return total


def random_storms(topo, n_scen, k, seed=0):
    rng = np.random.default_rng(seed)
    pos = faultable_branches(topo)
    elems = rng.choice(pos, size=n_scen * k)
    indptr = np.arange(0, n_scen * k + 1, k, dtype=np.int64)
    return indptr, elems.astype(np.int64)


def bench_model(spec: str, quick: bool) -> dict:
    r: dict = {"model": spec}
    t0 = time.perf_counter()
    model = load_model(spec)
    r["load_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    topo = compile_topology(model)
    r["compile_s"] = time.perf_counter() - t0
    r["buses"] = topo.n_bus
    r["faults"] = topo.n_elements
    r["bytes_per_bus"] = topo.nbytes() / topo.n_bus
    r["radial"] = topo.analysis().radial
    big = topo.n_bus > 200_000

    r["kernel_s"] = timeit(lambda: kernel_pass(topo), repeat=7 if big else 21)
    r["call_s"] = timeit(lambda: whole_call(topo), repeat=5 if big else 11)
    w = np.ones(topo.n_node, np.int64)
    r["floor_s"] = timeit(lambda: K._read_once(topo.indptr, topo.adj_node, topo.adj_branch, w),
                          repeat=7 if big else 21)
    topo.analysis()
    pos = faultable_branches(topo)
    mid = int(pos[len(pos) // 2])
    r["find_affected_s"] = timeit(lambda: find_affected(topo, [mid]), repeat=51)

    n_scen, k = (10_000, 100) if big else (10_000, 20)
    indptr, elems = random_storms(topo, n_scen, k)
    res = sweep_storms(topo, (indptr, elems))
    r["storms"] = f"{n_scen:,} x {k}"
    r["storm_method"] = res.method
    r["storms_s"] = timeit(lambda: sweep_storms(topo, (indptr, elems)), repeat=5)
    # baseline for storms: exact BFS per scenario on a sample
    n_bfs = 5 if big else 50
    sub = (indptr[: n_bfs + 1], elems[: indptr[n_bfs]])
    a = topo.analysis()
    crit = np.stack([topo.node_is_bus, topo.node_cust, topo.node_crit], axis=1).astype(np.int64)
    t_bfs = timeit(lambda: K._storms_bfs(sub[0], sub[1], topo.elem_is_node, topo.elem_ref, topo.indptr,
                                         topo.adj_node, topo.adj_branch, a.cond, a.supplied, crit, 0), repeat=3)
    r["storms_bfs_s"] = t_bfs / n_bfs * n_scen
    # check: both methods agree on the sample
    ours = sweep_storms(topo, sub).customers
    ref = K._storms_bfs(sub[0], sub[1], topo.elem_is_node, topo.elem_ref, topo.indptr, topo.adj_node,
                        topo.adj_branch, a.cond, a.supplied, crit, 0)[:, 1]
    r["storms_agree"] = bool(np.array_equal(ours, ref))

    rng = np.random.default_rng(1)
    n_faults = len(pos)
    sample = rng.choice(pos, size=min(len(pos), 20 if big else 200), replace=False)
    t = timeit(lambda: bfs_per_fault(topo, sample), repeat=3)
    r["bfs_per_fault_s"] = t / len(sample) * n_faults
    if not (quick and big):
        g = nx_graph(topo)
        s_nx = sample[: 5 if big else 50]
        t = timeit(lambda: nx_per_fault(topo, g, s_nx), repeat=1, warmup=0)
        r["nx_per_fault_s"] = t / len(s_nx) * n_faults
        del g
    if not big:
        s_pp = sample[:10]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = timeit(lambda: pp_per_fault(model, topo, s_pp, True), repeat=1, warmup=0)
            r["pp_prebuilt_s"] = t / len(s_pp) * n_faults
            s_naive = sample[:3]
            t = timeit(lambda: pp_per_fault(model, topo, s_naive, False), repeat=1, warmup=0)
            r["pp_naive_s"] = t / len(s_naive) * n_faults
    return r


def report(r: dict) -> str:
    k = r["kernel_s"]
    lines = [
        f"### {r['model']} — {r['buses']:,} buses, {r['faults']:,} single faults, "
        f"{'radial' if r['radial'] else 'meshed'} operation",
        f"load {r['load_s']:.1f} s, compile_topology {r['compile_s']:.2f} s, "
        f"topology memory {r['bytes_per_bus']:.0f} bytes/bus",
        "",
        "| what | time | ratio vs our kernel pass |",
        "|---|---|---|",
        f"| N-1 kernel pass (traversal + bridges + sums) | {fmt_s(k)} | 1 |",
        f"| whole `sweep_single_faults` call (DataFrame included) | {fmt_s(r['call_s'])} | "
        f"{r['call_s'] / k:.1f} |",
        f"| read-once floor (touch every topology array once) | {fmt_s(r['floor_s'])} | "
        f"kernel = {k / r['floor_s']:.1f}x floor |",
        f"| Numba BFS per fault (extrapolated) | {fmt_s(r['bfs_per_fault_s'])} | "
        f"{r['bfs_per_fault_s'] / k:,.0f}x |",
    ]
    if "nx_per_fault_s" in r:
        lines.append(f"| networkx per fault (extrapolated) | {fmt_s(r['nx_per_fault_s'])} | "
                     f"{r['nx_per_fault_s'] / k:,.0f}x |")
    if "pp_prebuilt_s" in r:
        lines.append(f"| pandapower `unsupplied_buses` per fault, prebuilt graph (extrapolated) | "
                     f"{fmt_s(r['pp_prebuilt_s'])} | {r['pp_prebuilt_s'] / k:,.0f}x |")
        lines.append(f"| pandapower `unsupplied_buses` per fault, naive (extrapolated) | "
                     f"{fmt_s(r['pp_naive_s'])} | {r['pp_naive_s'] / k:,.0f}x |")
    lines += [
        f"| one `find_affected` call | {fmt_s(r['find_affected_s'])} | |",
        f"| `sweep_storms` {r['storms']} ({r['storm_method']}) | {fmt_s(r['storms_s'])} | 1 |",
        f"| BFS per storm scenario (extrapolated; results agree: {r['storms_agree']}) | "
        f"{fmt_s(r['storms_bfs_s'])} | {r['storms_bfs_s'] / r['storms_s']:,.0f}x |",
        "",
    ]
    t = TARGETS.get(r["model"], {})
    checks = []
    if "kernel" in t:
        checks.append(("N-1 kernel pass", k, t["kernel"]))
    if "call" in t:
        checks.append(("sweep_single_faults call", r["call_s"], t["call"]))
    if "storms" in t:
        checks.append(("sweep_storms 10k x 100", r["storms_s"], t["storms"]))
    if "find_affected" in t:
        checks.append(("find_affected", r["find_affected_s"], t["find_affected"]))
    if "compile" in t:
        checks.append(("compile_topology", r["compile_s"], t["compile"]))
    for name, got, want in checks:
        verdict = "met" if got <= want else f"MISSED by {got / want:.1f}x"
        lines.append(f"- target {name} <= {fmt_s(want)}: {fmt_s(got)} — {verdict}")
    if "floor_ratio" in t:
        ratio = k / r["floor_s"]
        lines.append(f"- target kernel <= {t['floor_ratio']}x read-once floor: {ratio:.1f}x — "
                     + ("met" if ratio <= t["floor_ratio"] else f"MISSED by {ratio / t['floor_ratio']:.1f}x"))
    if "bytes_per_bus" in t:
        lines.append(f"- target topology memory <= {t['bytes_per_bus']} B/bus: {r['bytes_per_bus']:.0f} — "
                     + ("met" if r["bytes_per_bus"] <= t["bytes_per_bus"] else "MISSED"))
    if "pp_ratio" in t and "pp_prebuilt_s" in r:
        ratio = r["pp_prebuilt_s"] / k
        lines.append(f"- target ratio vs pandapower per fault >= 1e6: {ratio:.2e} — "
                     + ("met" if ratio >= t["pp_ratio"] else "MISSED"))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="sb_mvlv_urban,sb_complete,synth:100000,synth:1000000")
    ap.add_argument("--quick", action="store_true", help="skip networkx on networks > 200k buses")
    args = ap.parse_args(argv)
    print(header())
    print()
    for spec in args.models.split(","):
        r = bench_model(spec.strip(), args.quick)
        print(report(r), flush=True)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
