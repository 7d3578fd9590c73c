"""Public outage-impact functions: thin wrappers that check inputs and call kernels.

- :func:`energized`: which buses are supplied in a state;
- :func:`find_affected`: who loses supply for a set of faults, and which device trips;
- :func:`sweep_single_faults`: every single fault at once, O(N + M);
- :func:`sweep_storms`: many multi-fault scenarios, O(k log k) each on radial operation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from gridsim.core import _kernels as K
from gridsim.core.topology import _PROT_ORDER, DEVICE_KINDS as DEVICE_KINDS_ALL, ELEMENT_ORDER, State, Topology
from gridsim.errors import StateError
from gridsim.types import CLASS_ORDER

#: Columns of :func:`sweep_single_faults`, in order (a contract: scripts rely on them).
SWEEP_COLUMNS = ("element_type", "element_id", "in_service", "buses_unsupplied", "customers_unsupplied",
                 "critical_unsupplied", "tripping_device", "customers_interrupted")


def energized(topo: Topology, state: State | None = None) -> pd.Series:
    """Supplied buses (bool Series indexed by pandapower bus id) in ``state``
    (switch states and faulted elements; ``None`` = as loaded)."""
    a = topo.analysis(state)
    return pd.Series(a.supplied[topo.bus_node], index=pd.Index(topo.bus_ids, name="bus"), name="energized")


@dataclass(frozen=True)
class TripInfo:
    """The protective device that trips for one fault."""

    fault: str
    device: str                 # device id, "" when no modelled device clears the fault
    customers_interrupted: int  # downstream of the device, until isolation


@dataclass(frozen=True)
class Impact:
    """Result of :func:`find_affected`."""

    faults: tuple[str, ...]
    buses: np.ndarray                 # pandapower ids of buses that lose supply
    customers: int                    # customers (sum of counts) that lose supply
    critical: int                     # of which critical
    by_class: dict[str, int]
    p_kw: float
    trips: tuple[TripInfo, ...]
    customer_ids: np.ndarray | None = field(default=None)

    def to_dict(self) -> dict:
        d = {
            "faults": list(self.faults),
            "buses_unsupplied": int(len(self.buses)),
            "buses": [int(b) for b in self.buses],
            "customers_unsupplied": int(self.customers),
            "critical_unsupplied": int(self.critical),
            "customers_by_class": {k: int(v) for k, v in self.by_class.items()},
            "p_kw_unsupplied": round(float(self.p_kw), 3),
            "tripping": [{"fault": t.fault, "device": t.device,
                          "customers_interrupted": int(t.customers_interrupted)} for t in self.trips],
        }
        if self.customer_ids is not None:
            d["customer_ids"] = [str(c) for c in self.customer_ids]
        return d


def _lost_nodes(topo: Topology, state: State, positions: np.ndarray) -> np.ndarray:
    """Nodes supplied in ``state`` that lose supply when ``positions`` fail."""
    a = topo.analysis(state)
    if a.radial:
        parts = []
        for p in positions:
            s, z = K._fault_interval(topo.elem_is_node[p], topo.elem_ref[p], topo.br_from, topo.br_to,
                                     a.cond, a.pre, a.size, a.parent_branch)
            if z > s:
                parts.append((s, z))
        if not parts:
            return np.empty(0, np.int32)
        parts.sort()
        keep, cur = [], parts[0]
        for s, z in parts[1:]:
            if s >= cur[1]:
                keep.append(cur)
                cur = (s, z)
            elif z > cur[1]:
                cur = (cur[0], z)
        keep.append(cur)
        return np.concatenate([a.node_at[s:z] for s, z in keep])
    faulted = tuple(sorted(set(state.faulted) | set(int(p) for p in positions)))
    after = topo.analysis(State(state.switch_closed, faulted)) if len(positions) <= 1 else None
    if after is None:
        cond = topo.conducting(State(state.switch_closed, faulted))
        reached = K._reached_mask(topo.indptr, topo.adj_node, topo.adj_branch, cond, 0)
    else:
        reached = after.supplied
    return np.flatnonzero(a.supplied & ~reached).astype(np.int32)


def find_affected(topo: Topology, faults: Iterable, state: State | None = None, *,
                  customer_ids: bool = False) -> Impact:
    """Buses and customers that lose supply when ``faults`` occur together.

    ``faults``: element references (``"line:17"``, ``("trafo", 3)``, ``"bus:5"``,
    ``"switch:12"``). Counts exclude what was already unsupplied in ``state``;
    a faulted bus counts as lost. Also gives, per fault, the protective device
    that trips and the customers it interrupts until isolation.
    """
    state = topo.check_state(state)
    faults = list(faults)
    if not faults:
        raise StateError("no fault given: name at least one element, e.g. line:17")
    positions = topo.element_positions(faults)
    labels = tuple(topo.element_label(p) for p in positions)
    nodes = _lost_nodes(topo, state, positions)
    nodes = np.unique(nodes)
    bus_rows = topo.node_bus_row[nodes]
    bus_rows = bus_rows[bus_rows >= 0]
    counts = topo.node_class[nodes].sum(axis=0, dtype=np.int64)
    by_class = {c.value: int(counts[i]) for i, c in enumerate(CLASS_ORDER) if counts[i]}
    crit = int(topo.node_crit[nodes].sum())
    ids = None
    if customer_ids:
        mask = np.zeros(topo.n_node, bool)
        mask[nodes] = True
        ids = topo.cust_ids[mask[topo.cust_node]]
    sweep = _single_arrays(topo, state)
    trips = []
    for p, lab in zip(positions, labels):
        d = int(sweep[3][p])
        trips.append(TripInfo(lab, str(topo.dev_ids[d]) if d >= 0 else "", int(sweep[4][p])))
    return Impact(
        faults=labels, buses=np.sort(topo.bus_ids[bus_rows]), customers=int(counts.sum()), critical=crit,
        by_class=by_class, p_kw=float(topo.node_p_kw[nodes].sum()), trips=tuple(trips), customer_ids=ids,
    )


def _subtree(topo: Topology, a):
    """Subtree totals per node (cached per state)."""
    sub = a.extras.get("subtree")
    if sub is None:
        sub = K._subtree_sums(a.node_at, a.n_reached, a.pre, a.size, a.prefix_bus, a.prefix_cust,
                              a.prefix_crit, topo.n_node)
        a.extras["subtree"] = sub
    return sub


def _single_arrays(topo: Topology, state: State | None):
    a = topo.analysis(state)
    cached = a.extras.get("sweep")
    if cached is not None:
        return cached
    prot_dev, prot_node = _upstream_protection(topo, a)
    res = K._sweep(topo.elem_is_node, topo.elem_ref, topo.br_from, topo.br_to, a.cond, a.pre, a.size, a.low,
                   a.parent, a.parent_branch, _subtree(topo, a), a.kept_bus,
                   a.kept_cust, a.kept_crit, prot_dev, prot_node, topo.br_own_trip,
                   a.dev_above, a.dev_below)
    a.extras["sweep"] = res
    return res


def _upstream_protection(topo: Topology, a) -> tuple[np.ndarray, np.ndarray]:
    """``br_prot_dev`` / ``br_prot_node`` with, per tree branch, a protective device
    at the branch's upstream end preferred over the compile-time choice.

    Fix (tests/unit/test_core_reference.py::test_tripping_radial): a branch may carry
    protective devices at both ends (a CB at the feeder head plus a model.yaml
    recloser or fuse at the far end). compile_topology keeps one per branch, the most
    local kind, regardless of its end; when that one sits at the downstream end in
    this state, ``_sweep`` ignored the upstream device of the faulted branch itself
    and reported the next device further up (or none). Which end is upstream depends
    on the state, so the choice is refined here, per analysed state.
    """
    dev, node = topo.br_prot_dev, topo.br_prot_node
    rank = np.array([_PROT_ORDER.get(k, 99) for k in DEVICE_KINDS_ALL])[topo.dev_kind] if len(topo.dev_kind) \
        else np.empty(0, np.int64)
    prot = np.flatnonzero(rank < 99)
    if prot.size == 0:
        return dev, node
    child = np.full(topo.n_branch, -1, np.int64)
    reached = a.node_at[1:]
    child[a.parent_branch[reached]] = reached
    b = topo.dev_branch[prot].astype(np.int64)
    c = child[b]
    up = np.where(c >= 0, a.parent[np.maximum(c, 0)], -1)
    at_up = (c >= 0) & ((topo.dev_node[prot] < 0) | (topo.dev_node[prot] == up))
    cand = prot[at_up]
    if cand.size == 0:
        return dev, node
    order = np.lexsort((cand, rank[cand], topo.dev_branch[cand]))
    cand = cand[order]
    first = np.ones(cand.size, bool)
    first[1:] = topo.dev_branch[cand][1:] != topo.dev_branch[cand][:-1]
    best = cand[first]
    bb = topo.dev_branch[best].astype(np.int64)
    cur_node = node[bb]
    wrong_end = (cur_node >= 0) & (cur_node != a.parent[child[bb]])  # chosen device sits downstream
    if not wrong_end.any():
        return dev, node
    dev, node = dev.copy(), node.copy()
    dev[bb[wrong_end]] = best[wrong_end]
    node[bb[wrong_end]] = topo.dev_node[best[wrong_end]]
    return dev, node


def sweep_single_faults(topo: Topology, state: State | None = None, **kwargs) -> pd.DataFrame:
    """Every line, transformer, three-winding transformer, bus-bus switch and bus
    as a single fault, in O(N + M) total.

    One row per element (columns :data:`SWEEP_COLUMNS`): ``buses_unsupplied`` /
    ``customers_unsupplied`` / ``critical_unsupplied`` are what loses supply
    because of the fault (pandapower's ``unsupplied_buses`` with the element out,
    minus what was unsupplied before; a faulted bus counts itself);
    ``tripping_device`` the protective device that clears the fault (``""``
    when no modelled device does) and ``customers_interrupted`` the customers
    downstream of it until isolation.
    """
    if kwargs:
        flisr = kwargs.pop("flisr", False)
        if kwargs:
            raise TypeError(f"unexpected arguments: {', '.join(kwargs)}")
        if flisr:
            from gridsim.restore import add_flisr_columns  # issue: restoration
            return add_flisr_columns(topo, sweep_single_faults(topo, state), state)
    state = topo.check_state(state)
    out_bus, out_cust, out_crit, trip, interrupted = _single_arrays(topo, state)
    cats = pd.CategoricalDtype([e.value for e in ELEMENT_ORDER])
    dev_cats = np.concatenate([np.array([""], object), topo.dev_ids])
    in_service = _element_in_service(topo)
    return pd.DataFrame({
        "element_type": pd.Categorical.from_codes(topo.elem_type, dtype=cats),
        "element_id": topo.elem_id,
        "in_service": in_service,
        "buses_unsupplied": out_bus,
        "customers_unsupplied": out_cust,
        "critical_unsupplied": out_crit,
        "tripping_device": pd.Categorical.from_codes(trip + 1, categories=dev_cats),
        "customers_interrupted": interrupted,
    })


def _element_in_service(topo: Topology) -> np.ndarray:
    out = np.empty(topo.n_elements, bool)
    node = topo.elem_is_node
    out[node] = topo.node_in_service[topo.elem_ref[node]]
    out[~node] = topo.br_in_service[topo.elem_ref[~node]]
    return out


@dataclass(frozen=True)
class StormResult:
    """Result of :func:`sweep_storms`: arrays of shape (n_scenarios,)."""

    buses: np.ndarray
    customers: np.ndarray
    critical: np.ndarray
    critical_by_class: dict[str, np.ndarray]
    method: str                       # "intervals" (radial) or "bfs" (meshed fallback)

    def to_frame(self) -> pd.DataFrame:
        d = {"scenario": np.arange(len(self.customers)), "buses_unsupplied": self.buses,
             "customers_unsupplied": self.customers, "critical_unsupplied": self.critical}
        for c, v in self.critical_by_class.items():
            d[f"critical_{c}"] = v
        return pd.DataFrame(d)


def as_faults_csr(topo: Topology, scenarios) -> tuple[np.ndarray, np.ndarray]:
    """Scenarios as CSR ``(indptr, element_positions)``; accepts a CSR pair or a
    list of lists of element references/positions."""
    if isinstance(scenarios, tuple) and len(scenarios) == 2 and isinstance(scenarios[0], np.ndarray):
        indptr = np.ascontiguousarray(scenarios[0], dtype=np.int64)
        elems = np.ascontiguousarray(scenarios[1], dtype=np.int64)
        if indptr.ndim != 1 or indptr.size == 0 or indptr[0] != 0 or np.any(np.diff(indptr) < 0) \
                or indptr[-1] != elems.size:
            raise StateError("faults_csr: indptr must start at 0, be non-decreasing and end at len(elements)")
        if elems.size and (elems.min() < 0 or elems.max() >= topo.n_elements):
            raise StateError(f"faults_csr: element positions must be in 0..{topo.n_elements - 1}")
        return indptr, elems
    lists = [topo.element_positions(s) for s in scenarios]
    indptr = np.zeros(len(lists) + 1, np.int64)
    indptr[1:] = np.cumsum([len(x) for x in lists])
    elems = np.concatenate(lists) if lists else np.empty(0, np.int64)
    return indptr, elems.astype(np.int64)


def sweep_storms(topo: Topology, faults_csr, state: State | None = None) -> StormResult:
    """Customers unsupplied in each of S multi-fault scenarios.

    ``faults_csr``: ``(indptr, element_positions)`` (scenario s fails elements
    ``positions[indptr[s]:indptr[s+1]]``), or a list of lists of references.
    On radial operation each scenario costs O(k log k) (union of preorder
    intervals summed with prefix sums); on meshed operation an exact BFS per
    scenario is used.
    """
    state = topo.check_state(state)
    indptr, elems = as_faults_csr(topo, faults_csr)
    a = topo.analysis(state)
    crit_cols = [CLASS_ORDER.index(c) for c in topo.critical_classes]
    weights = topo._hints.get("storm_weights")
    if weights is None:  # buses, customers, critical, critical per class: one row per node
        weights = np.empty((topo.n_node, 3 + len(crit_cols)), np.int64)
        weights[:, 0] = topo.node_is_bus
        weights[:, 1] = topo.node_cust
        weights[:, 2] = topo.node_crit
        for j, c in enumerate(crit_cols):
            weights[:, 3 + j] = topo.node_class[:, c]
        topo._hints["storm_weights"] = weights
    if a.radial:
        prefixes = a.extras.get("storm_prefixes")
        if prefixes is None:
            prefixes = np.zeros((a.n_reached + 1, weights.shape[1]), np.int64)
            np.cumsum(weights[a.node_at], axis=0, out=prefixes[1:])
            a.extras["storm_prefixes"] = prefixes
        iv = a.extras.get("intervals")
        if iv is None:
            iv = K._element_intervals(topo.elem_is_node, topo.elem_ref, topo.br_from, topo.br_to, a.cond,
                                      a.pre, a.size, a.parent_branch)
            a.extras["intervals"] = iv
        out = K._storms_intervals(indptr, elems, iv, prefixes)
        method = "intervals"
    else:
        out = K._storms_bfs(indptr, elems, topo.elem_is_node, topo.elem_ref, topo.indptr, topo.adj_node,
                            topo.adj_branch, a.cond, a.supplied, np.ascontiguousarray(weights), 0)
        method = "bfs"
    return StormResult(
        buses=out[:, 0], customers=out[:, 1], critical=out[:, 2],
        critical_by_class={topo.critical_classes[j].value: out[:, 3 + j] for j in range(len(crit_cols))},
        method=method,
    )


def critical_exposure(topo: Topology, state: State | None = None) -> pd.DataFrame:
    """For every critical customer: the single faults (elements) that cut it off.

    Walks each critical customer's path to the source in the traversal tree;
    an element on that path counts when its loss disconnects the customer
    (a bridge branch, or a node whose removal cuts the subtree holding it).
    """
    a = topo.analysis(state)
    crit_codes = [CLASS_ORDER.index(c) for c in topo.critical_classes]
    rows = np.flatnonzero(np.isin(topo.cust_class, crit_codes))
    # branch / node -> element position
    br_elem_pos = np.full(topo.n_branch, -1, np.int64)
    node_elem_pos = np.full(topo.n_node, -1, np.int64)
    isn = topo.elem_is_node
    br_elem_pos[topo.elem_ref[~isn]] = np.flatnonzero(~isn)
    node_elem_pos[topo.elem_ref[isn]] = np.flatnonzero(isn)
    out = []
    for r in rows:
        v = int(topo.cust_node[r])
        elems: list[int] = []
        if a.pre[v] >= 0:
            if node_elem_pos[v] >= 0:
                elems.append(node_elem_pos[v])
            c = v
            while a.parent[c] >= 0:
                p = int(a.parent[c])
                b = int(a.parent_branch[c])
                if a.low[c] >= a.pre[c] and br_elem_pos[b] >= 0:
                    elems.append(br_elem_pos[b])
                if a.low[c] >= a.pre[p] and node_elem_pos[p] >= 0:
                    elems.append(node_elem_pos[p])
                c = p
        labels = [topo.element_label(e) for e in elems]
        out.append({
            "customer_id": str(topo.cust_ids[r]),
            "class": CLASS_ORDER[int(topo.cust_class[r])].value,
            "bus": int(topo.bus_ids[topo.node_bus_row[v]]),
            "supplied": bool(a.pre[v] >= 0),
            "single_faults": len(elems),
            "lines": sum(lab.startswith("line:") for lab in labels),
            "elements": " ".join(labels),
        })
    cols = ["customer_id", "class", "bus", "supplied", "single_faults", "lines", "elements"]
    return pd.DataFrame(out, columns=cols)
