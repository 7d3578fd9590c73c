"""Compile a :class:`~gridsim.model.Model` into an immutable :class:`Topology`.

The topology is a set of read-only numpy arrays: nodes (buses, one virtual
star node per three-winding transformer, and node 0, the super-source linked
to every source bus), branches (lines, transformers, transformer-3w arms,
bus-bus switches, source links) as CSR adjacency, switches mapped onto the
branches they open, devices per branch, customers aggregated per node, and an
element table (lines, trafos, trafo3ws, bus-bus switches, buses) that gives
every faultable element a position. Id <-> position maps are built with
``pandas.Index.get_indexer``; there is no Python loop per element.

Nodes are numbered in BFS order from the sources, which keeps traversals
cache-friendly on big networks.
"""
from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from gridsim.errors import StateError, UnknownElementError, ModelLoadError
from gridsim.types import (
    CLASS_ORDER, CRITICAL_CLASSES, DEVICE_RANK, PROTECTIVE_KINDS, CustomerClass, DeviceKind,
    ElementType,
)
from gridsim.core import _kernels as K

#: Element types in the order of the element table.
ELEMENT_ORDER: tuple[ElementType, ...] = (
    ElementType.LINE, ElementType.TRAFO, ElementType.TRAFO3W, ElementType.SWITCH, ElementType.BUS,
)

#: Branch kind codes (``Topology.br_kind``).
BR_LINE, BR_TRAFO, BR_TRAFO3W_ARM, BR_SWITCH, BR_SOURCE = 0, 1, 2, 3, 4

DEVICE_KINDS: tuple[DeviceKind, ...] = tuple(DeviceKind)

#: Order in which protective devices on one branch are taken (the most local first).
_PROT_ORDER = {DeviceKind.FUSE: 0, DeviceKind.RECLOSER: 1, DeviceKind.BREAKER: 2}

#: pandapower tables that connect buses and that gridsim does not model.
UNSUPPORTED_BRANCH_TABLES = ("impedance", "dcline", "tcsc", "vsc", "vsc_stacked",
                             "vsc_bipolar", "line_dc", "bus_dc", "source_dc", "load_dc", "ssc")


def _ro(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class State:
    """Switch states and faulted elements on top of a compiled topology.

    ``switch_closed`` is aligned with ``Topology.switch_ids``; ``faulted`` holds
    element positions (see :meth:`Topology.element_positions`). Immutable: use
    :meth:`Topology.make_state` or :meth:`with_changes` to derive another one.
    """

    switch_closed: np.ndarray
    faulted: tuple[int, ...] = ()

    def key(self) -> bytes:
        h = hashlib.blake2b(digest_size=16)
        h.update(np.packbits(self.switch_closed).tobytes())
        h.update(np.asarray(self.faulted, np.int64).tobytes())
        return h.digest()


@dataclass(frozen=True, eq=False)
class Analysis:
    """Traversal of one state, kept by the topology for reuse (read-only arrays)."""

    cond: np.ndarray           # conducting branches
    supplied: np.ndarray       # node reached from the super-source
    pre: np.ndarray            # preorder number (-1 unreached)
    size: np.ndarray           # subtree size
    low: np.ndarray            # low-link (== pre on radial operation)
    parent: np.ndarray
    parent_branch: np.ndarray
    node_at: np.ndarray        # node at each preorder position
    n_reached: int
    radial: bool               # operated network is a forest
    prefix_bus: np.ndarray
    prefix_cust: np.ndarray
    prefix_crit: np.ndarray
    kept_bus: np.ndarray
    kept_cust: np.ndarray
    kept_crit: np.ndarray
    dev_above: np.ndarray
    dev_below: np.ndarray
    extras: dict = field(default_factory=dict, repr=False)  # derived results cached per state


@dataclass(frozen=True, eq=False)
class Topology:
    """Compiled, immutable network topology. Build it with :func:`compile_topology`."""

    name: str
    n_node: int
    n_bus: int
    # ---- nodes
    bus_ids: np.ndarray          # pandapower bus index, in bus-table order
    bus_node: np.ndarray         # node of each bus row
    node_bus_row: np.ndarray     # bus row per node, -1 for virtual nodes
    node_is_bus: np.ndarray      # int64 weight 1 for real buses
    node_in_service: np.ndarray
    source_nodes: np.ndarray
    # ---- branches
    br_kind: np.ndarray
    br_elem: np.ndarray          # pandapower index of the element the branch belongs to
    br_from: np.ndarray
    br_to: np.ndarray
    br_in_service: np.ndarray
    indptr: np.ndarray
    adj_node: np.ndarray
    adj_branch: np.ndarray
    # ---- switches (pandapower switch table order)
    switch_ids: np.ndarray
    switch_branch: np.ndarray
    switch_closed: np.ndarray    # as loaded
    switch_et: np.ndarray
    # ---- devices (model.devices order)
    dev_ids: np.ndarray
    dev_kind: np.ndarray         # code into DEVICE_KINDS
    dev_remote: np.ndarray
    dev_branch: np.ndarray
    dev_node: np.ndarray
    dev_switch: np.ndarray       # switch row or -1
    br_prot_dev: np.ndarray      # protective device chosen per branch, -1 none
    br_prot_node: np.ndarray     # node where it sits, -1 = source side
    br_own_trip: np.ndarray      # its device clears faults on the branch itself
    # ---- customers
    cust_ids: np.ndarray
    cust_node: np.ndarray
    cust_class: np.ndarray       # code into CLASS_ORDER
    cust_count: np.ndarray
    cust_p_kw: np.ndarray
    cust_priority: np.ndarray
    node_cust: np.ndarray
    node_crit: np.ndarray
    node_class: np.ndarray       # (n_node, n_class) int32 customer counts
    node_p_kw: np.ndarray
    node_weighted: np.ndarray    # priority-weighted customer count
    critical_classes: tuple[CustomerClass, ...]
    # ---- elements
    elem_type: np.ndarray        # code into ELEMENT_ORDER
    elem_id: np.ndarray
    elem_is_node: np.ndarray
    elem_ref: np.ndarray
    elem_offsets: dict           # ElementType -> (start, pandas.Index of ids)
    _cache: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _hints: dict = field(default_factory=dict, repr=False)
    #: (x_km, y_km) per node on a local plane (NaN where the model has no
    #: coordinates; a trafo3w star node takes its HV bus's), see :mod:`gridsim.model.geo`.
    node_xy_km: np.ndarray | None = field(default=None, repr=False)
    #: The model it was compiled from (electrical data for capacity checks).
    model: object | None = field(default=None, repr=False, compare=False)

    # ------------------------------------------------------------------ sizes
    @property
    def n_branch(self) -> int:
        return int(self.br_kind.shape[0])

    @property
    def n_elements(self) -> int:
        return int(self.elem_type.shape[0])

    def nbytes(self) -> int:
        """Memory held by the topology arrays (analysis caches excluded)."""
        total = 0
        for name, value in self.__dict__.items():
            if isinstance(value, np.ndarray) and name != "cust_ids" and name != "dev_ids":
                total += value.nbytes
        total += 8 * (self.cust_ids.shape[0] + self.dev_ids.shape[0])  # object pointers
        return total

    def __repr__(self) -> str:
        return (f"Topology({self.name!r}, buses={self.n_bus}, branches={self.n_branch}, "
                f"switches={self.switch_ids.shape[0]}, devices={self.dev_ids.shape[0]}, "
                f"customers={int(self.cust_count.sum())})")

    # --------------------------------------------------------------- elements
    def element_positions(self, refs: Iterable) -> np.ndarray:
        """Positions of elements given as ``"line:17"``, ``("trafo", 3)`` or positions.

        A switch that sits on a line or transformer (not a bus-bus switch)
        stands for the element it sits on. Unknown elements raise
        :class:`UnknownElementError` naming the element.
        """
        refs = list(refs)
        if len(refs) < 16:
            return np.asarray([self._position(r) for r in refs], dtype=np.int64)
        # many references: one index lookup per element type (unknown ones take
        # the one-by-one path, which names the culprit or resolves line switches)
        out = np.full(len(refs), -1, dtype=np.int64)
        by_type: dict[ElementType, list[tuple[int, int]]] = {}
        for i, r in enumerate(refs):
            if isinstance(r, (int, np.integer)):
                out[i] = self._position(r)
            else:
                etype, eid = parse_element(r)
                by_type.setdefault(etype, []).append((i, eid))
        for etype, items in by_type.items():
            start, index = self.elem_offsets[etype]
            idx = np.fromiter((i for i, _ in items), np.int64, len(items))
            pos = index.get_indexer(np.fromiter((e for _, e in items), np.int64, len(items)))
            out[idx[pos >= 0]] = start + pos[pos >= 0]
            for i in idx[pos < 0]:
                out[i] = self._position(refs[i])
        return out

    def _position(self, ref) -> int:
        if isinstance(ref, (int, np.integer)):
            if not 0 <= int(ref) < self.n_elements:
                raise UnknownElementError(f"element position {ref} is out of range 0..{self.n_elements - 1}")
            return int(ref)
        etype, eid = parse_element(ref)
        start, index = self.elem_offsets[etype]
        pos = index.get_indexer([eid])[0]
        if pos >= 0:
            return start + int(pos)
        if etype is ElementType.SWITCH:
            srow = pd.Index(self.switch_ids).get_indexer([eid])[0]
            if srow >= 0:
                b = self.switch_branch[srow]
                kind = self.br_kind[b]
                target = {BR_LINE: ElementType.LINE, BR_TRAFO: ElementType.TRAFO,
                          BR_TRAFO3W_ARM: ElementType.TRAFO3W}[int(kind)]
                return self._position((target, int(self.br_elem[b])))
        n = len(index)
        hint = f"ids {index.min()}..{index.max()}" if n else "none in this model"
        raise UnknownElementError(f"{etype.value} {eid} does not exist in model {self.name!r} "
                                  f"({n} {etype.value}s, {hint})")

    def element_label(self, pos: int) -> str:
        return f"{ELEMENT_ORDER[int(self.elem_type[pos])].value}:{int(self.elem_id[pos])}"

    # ------------------------------------------------------------------ state
    def base_state(self) -> State:
        """The state as loaded: switches as in the model, nothing faulted."""
        return State(self.switch_closed)

    def make_state(self, *, open: Sequence = (), close: Sequence = (), faults: Sequence = (),
                   base: State | None = None) -> State:
        """A new state: ``open``/``close`` switches (``"switch:12"`` or ids), faulted elements."""
        base = base or self.base_state()
        closed = base.switch_closed.copy()
        index = pd.Index(self.switch_ids)
        for flag, items in ((False, open), (True, close)):
            ids = [_switch_id(s) for s in items]
            rows = index.get_indexer(ids)
            if (rows < 0).any():
                bad = [i for i, r in zip(ids, rows) if r < 0]
                raise UnknownElementError(f"switch {bad[0]} does not exist in model {self.name!r}")
            closed[rows] = flag
        faulted = tuple(sorted(set(base.faulted) | set(int(p) for p in self.element_positions(faults))))
        return State(_ro(closed), faulted)

    def check_state(self, state: State | None) -> State:
        if state is None:
            return self.base_state()
        if not isinstance(state, State):
            raise StateError(f"expected a gridsim State, got {type(state).__name__}")
        sc = state.switch_closed
        if sc.shape != self.switch_ids.shape or sc.dtype != np.bool_:
            raise StateError(f"state.switch_closed must be a bool array of {self.switch_ids.shape[0]} switches, "
                             f"got {sc.dtype} {sc.shape}")
        return state

    # --------------------------------------------------------------- analysis
    def analysis(self, state: State | None = None) -> Analysis:
        """Traversal of ``state`` (cached: the last few states are kept)."""
        state = self.check_state(state)
        key = state.key()
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        result = _analyse(self, state)
        self._cache[key] = result
        while len(self._cache) > 8:
            self._cache.popitem(last=False)
        return result

    def conducting(self, state: State) -> np.ndarray:
        alive = self.node_in_service.copy()
        fb = []
        for p in state.faulted:
            if self.elem_is_node[p]:  # buses and trafo3w star nodes
                alive[self.elem_ref[p]] = False
            else:
                fb.append(self.elem_ref[p])
        return K._conducting(self.br_in_service, self.br_from, self.br_to, alive,
                             self.switch_branch, state.switch_closed, np.asarray(fb, np.int32))


def _analyse(topo: Topology, state: State) -> Analysis:
    cond = topo.conducting(state)
    if topo._hints.get("meshed"):
        # this network was meshed before: go straight to the low-link DFS, which
        # also serves radial states (no back edge <=> low == pre everywhere)
        pre, size, low, parent, parent_branch, node_at, n_reached = K._dfs_lowlink(
            topo.indptr, topo.adj_node, topo.adj_branch, cond, 0)
        n_tree = max(int(n_reached) - 1, 0)
        radial = int(np.count_nonzero(cond[parent_branch[node_at[1:n_reached]]])) == n_tree and \
            bool(np.array_equal(low, pre))
    else:
        order, n_reached, parent, parent_branch, n_extra = K._bfs_tree(
            topo.indptr, topo.adj_node, topo.adj_branch, cond, 0)
        radial = n_extra == 0
        if radial:
            size, pre, node_at = K._tree_preorder(order, n_reached, parent, topo.n_node)
            low = pre
        else:
            topo._hints["meshed"] = True
            pre, size, low, parent, parent_branch, node_at, n_reached = K._dfs_lowlink(
                topo.indptr, topo.adj_node, topo.adj_branch, cond, 0)
    prefix_bus, prefix_cust, prefix_crit = K._prefix3(node_at, n_reached, topo.node_is_bus, topo.node_cust,
                                                      topo.node_crit)
    if radial:
        zero = np.zeros(topo.n_node, np.int64)
        kept_bus = kept_cust = kept_crit = zero
    else:
        kept_bus, kept_cust, kept_crit = K._node_kept(pre, size, low, parent, node_at, n_reached,
                                                      prefix_bus, prefix_cust, prefix_crit)
    dev_above, dev_below = K._devices_above(node_at, n_reached, pre, low, parent, parent_branch,
                                            topo.br_prot_dev)
    supplied = pre >= 0
    arrays = dict(cond=cond, supplied=supplied, pre=pre, size=size, low=low, parent=parent,
                  parent_branch=parent_branch, node_at=node_at, prefix_bus=prefix_bus,
                  prefix_cust=prefix_cust, prefix_crit=prefix_crit, kept_bus=kept_bus,
                  kept_cust=kept_cust, kept_crit=kept_crit, dev_above=dev_above, dev_below=dev_below)
    arrays = {k: _ro(v) for k, v in arrays.items()}
    return Analysis(n_reached=int(n_reached), radial=bool(radial), **arrays)


# ---------------------------------------------------------------------------
# element references
# ---------------------------------------------------------------------------

_REF_RE = re.compile(r"^\s*([A-Za-z0-9_]+)\s*[:/ ]\s*(-?\d+)\s*$")


def parse_element(ref) -> tuple[ElementType, int]:
    """``"line:17"`` / ``("line", 17)`` -> (ElementType.LINE, 17)."""
    if isinstance(ref, tuple) and len(ref) == 2:
        kind, eid = ref
    elif isinstance(ref, str):
        m = _REF_RE.match(ref)
        if not m:
            raise UnknownElementError(
                f"cannot read element {ref!r}: write TYPE:ID, e.g. line:17 "
                f"(types: {', '.join(e.value for e in ELEMENT_ORDER)})")
        kind, eid = m.group(1), m.group(2)
    else:
        raise UnknownElementError(f"cannot read element {ref!r}: write TYPE:ID, e.g. line:17")
    try:
        etype = ElementType(str(kind).lower())
    except ValueError:
        raise UnknownElementError(
            f"unknown element type {kind!r} in {ref!r}; use one of "
            f"{', '.join(e.value for e in ELEMENT_ORDER)}") from None
    try:
        return etype, int(eid)
    except (TypeError, ValueError):
        raise UnknownElementError(f"element id {eid!r} in {ref!r} is not an integer") from None


def _switch_id(s) -> int:
    if isinstance(s, (int, np.integer)):
        return int(s)
    etype, eid = parse_element(s)
    if etype is not ElementType.SWITCH:
        raise UnknownElementError(f"{s!r} is not a switch; write switch:ID")
    return eid


# ---------------------------------------------------------------------------
# compile
# ---------------------------------------------------------------------------


def _index_of(index: pd.Index, values, what: str, where: str) -> np.ndarray:
    pos = index.get_indexer(values)
    if (pos < 0).any():
        bad = np.asarray(values)[pos < 0]
        raise UnknownElementError(f"{where} refers to {what} {bad[0]}, which does not exist "
                                  f"({int((pos < 0).sum())} such reference(s)); fix the model "
                                  f"(run `gridsim validate`)")
    return pos


def _node_xy(net, bus_node, star_node, t3, n_node) -> np.ndarray:
    from gridsim.model.geo import bus_xy_km

    xy = np.full((n_node, 2), np.nan)
    bxy = bus_xy_km(net)
    xy[bus_node] = bxy
    if len(t3):
        xy[star_node] = bxy[pd.Index(net.bus.index).get_indexer(t3.hv_bus.to_numpy())]
    return xy


def compile_topology(model, *, critical_classes: Iterable[CustomerClass] | None = None) -> Topology:
    """Compile ``model`` (a :class:`gridsim.model.Model`) to a :class:`Topology`."""
    net = model.net
    for table in UNSUPPORTED_BRANCH_TABLES:
        if table in net and len(net[table]):
            raise ModelLoadError(
                f"model {model.name!r} has {len(net[table])} element(s) in pandapower table "
                f"{table!r}, which gridsim does not support; remove them or convert them to lines")
    crit = tuple(critical_classes) if critical_classes is not None else tuple(
        c for c in CLASS_ORDER if c in CRITICAL_CLASSES)

    bus_index = pd.Index(net.bus.index)
    n_bus = len(bus_index)
    t3 = net.trafo3w
    n_t3 = len(t3)
    # provisional node ids: 0 super-source, 1..n_bus buses, then trafo3w stars
    bus_pnode = np.arange(1, n_bus + 1, dtype=np.int64)
    star_pnode = np.arange(n_bus + 1, n_bus + 1 + n_t3, dtype=np.int64)
    n_node = n_bus + 1 + n_t3

    node_in_service = np.ones(n_node, bool)
    node_in_service[bus_pnode] = net.bus.in_service.to_numpy(bool)
    if n_t3:
        node_in_service[star_pnode] = t3.in_service.to_numpy(bool)

    def bnode(values, what):
        return bus_pnode[_index_of(bus_index, values, "bus", what)]

    line, trafo = net.line, net.trafo
    sw = net.switch
    bb = sw[sw.et.to_numpy() == "b"]
    # sources: in-service ext_grids and slack gens on existing buses
    eg = net.ext_grid[net.ext_grid.in_service.to_numpy(bool)]
    src_buses = eg.bus.to_numpy()
    if "gen" in net and len(net.gen) and "slack" in net.gen:
        g = net.gen
        src_buses = np.concatenate([src_buses, g.bus.to_numpy()[g.in_service.to_numpy(bool)
                                                               & g.slack.fillna(False).to_numpy(bool)]])
    src_nodes = np.unique(bnode(src_buses, "ext_grid"))

    parts_from = [bnode(line.from_bus.to_numpy(), "line"), bnode(trafo.hv_bus.to_numpy(), "trafo")]
    parts_to = [bnode(line.to_bus.to_numpy(), "line"), bnode(trafo.lv_bus.to_numpy(), "trafo")]
    kinds = [np.full(len(line), BR_LINE, np.int8), np.full(len(trafo), BR_TRAFO, np.int8)]
    elems = [line.index.to_numpy(np.int64), trafo.index.to_numpy(np.int64)]
    insvc = [line.in_service.to_numpy(bool), trafo.in_service.to_numpy(bool)]
    t3_arm_bus = []
    for side in ("hv", "mv", "lv"):
        parts_from.append(star_pnode)
        sb = bnode(t3[f"{side}_bus"].to_numpy(), "trafo3w")
        parts_to.append(sb)
        t3_arm_bus.append(t3[f"{side}_bus"].to_numpy(np.int64))
        kinds.append(np.full(n_t3, BR_TRAFO3W_ARM, np.int8))
        elems.append(t3.index.to_numpy(np.int64))
        insvc.append(t3.in_service.to_numpy(bool))
    parts_from.append(bnode(bb.bus.to_numpy(), "switch"))
    parts_to.append(bnode(bb.element.to_numpy(), "switch (bus-bus element)"))
    kinds.append(np.full(len(bb), BR_SWITCH, np.int8))
    elems.append(bb.index.to_numpy(np.int64))
    insvc.append(np.ones(len(bb), bool))
    parts_from.append(np.zeros(len(src_nodes), np.int64))
    parts_to.append(src_nodes)
    kinds.append(np.full(len(src_nodes), BR_SOURCE, np.int8))
    elems.append(np.full(len(src_nodes), -1, np.int64))
    insvc.append(np.ones(len(src_nodes), bool))

    br_from_p = np.concatenate(parts_from).astype(np.int32)
    br_to_p = np.concatenate(parts_to).astype(np.int32)
    br_kind = np.concatenate(kinds)
    br_elem = np.concatenate(elems)
    br_in_service = np.concatenate(insvc)
    nL, nT, nB = len(line), len(trafo), len(bb)
    off_t3 = nL + nT
    off_bb = off_t3 + 3 * n_t3

    # ---- renumber nodes in BFS order from the super-source
    indptr0, adj0, _ = K._build_csr(n_node, br_from_p, br_to_p)
    rank = K._bfs_numbering(n_node, indptr0, adj0).astype(np.int32)
    br_from = rank[br_from_p]
    br_to = rank[br_to_p]
    indptr, adj_node, adj_branch = K._build_csr(n_node, br_from, br_to)
    bus_node = rank[bus_pnode]
    star_node = rank[star_pnode]
    node_bus_row = np.full(n_node, -1, np.int32)
    node_bus_row[bus_node] = np.arange(n_bus, dtype=np.int32)
    node_in_service = node_in_service[np.argsort(rank)]
    node_is_bus = np.zeros(n_node, np.int64)
    node_is_bus[bus_node] = 1

    # ---- switches -> branches they open
    sw_et = sw.et.to_numpy().astype(str)
    sw_elem = sw.element.to_numpy(np.int64)
    switch_branch = np.full(len(sw), -1, np.int64)
    m = sw_et == "l"
    switch_branch[m] = _index_of(pd.Index(line.index), sw_elem[m], "line", "switch (et='l')")
    m = sw_et == "t"
    switch_branch[m] = nL + _index_of(pd.Index(trafo.index), sw_elem[m], "trafo", "switch (et='t')")
    m = sw_et == "b"
    switch_branch[m] = off_bb + np.arange(int(m.sum()))
    m = sw_et == "t3"
    if m.any():
        t3pos = _index_of(pd.Index(t3.index), sw_elem[m], "trafo3w", "switch (et='t3')")
        sbus = sw.bus.to_numpy(np.int64)[m]
        arm = np.full(int(m.sum()), -1, np.int64)
        for k in range(3):
            arm[t3_arm_bus[k][t3pos] == sbus] = k
        if (arm < 0).any():
            raise UnknownElementError("a trafo3w switch sits on a bus that is not one of its trafo3w's buses")
        switch_branch[m] = off_t3 + arm * n_t3 + t3pos
    if (switch_branch < 0).any():
        bad = sw.index[switch_branch < 0][0]
        raise UnknownElementError(f"switch {bad} has unsupported et {sw_et[switch_branch < 0][0]!r}; "
                                  f"use 'b', 'l', 't' or 't3'")

    # ---- devices -> branches
    dev = model.devices
    n_dev = len(dev)
    dup = dev["device_id"].duplicated()
    if dup.any():
        raise UnknownElementError(f"device id {dev['device_id'][dup].iloc[0]} appears more than once "
                                  f"in the device table; device ids must be unique")
    dev_kind = pd.Categorical(dev["kind"].astype(str), categories=[k.value for k in DEVICE_KINDS]).codes
    if (dev_kind < 0).any():
        bad = dev["device_id"].to_numpy()[dev_kind < 0][0]
        raise UnknownElementError(f"device {bad} has an unknown kind; use one of "
                                  f"{', '.join(k.value for k in DEVICE_KINDS)}")
    dev_branch = np.full(n_dev, -1, np.int64)
    d_et = dev["element_type"].astype(str).to_numpy()
    d_el = dev["element_id"].to_numpy(np.int64)
    d_bus = dev["bus"].to_numpy(np.int64)
    for et, offset, idx in (("line", 0, line.index), ("trafo", nL, trafo.index), ("switch", off_bb, bb.index)):
        m = d_et == et
        if m.any():
            dev_branch[m] = offset + _index_of(pd.Index(idx), d_el[m], et, "device table")
    m = d_et == "trafo3w"
    if m.any():
        t3pos = _index_of(pd.Index(t3.index), d_el[m], "trafo3w", "device table")
        arm = np.zeros(int(m.sum()), np.int64)
        for k in range(3):
            arm[t3_arm_bus[k][t3pos] == d_bus[m]] = k
        dev_branch[m] = off_t3 + arm * n_t3 + t3pos
    if (dev_branch < 0).any():
        bad = dev["device_id"].to_numpy()[dev_branch < 0][0]
        raise UnknownElementError(f"device {bad} sits on an unsupported element type")
    dev_node = np.full(n_dev, -1, np.int64)
    known = d_bus >= 0
    if known.any():
        dev_node[known] = bus_node[_index_of(bus_index, d_bus[known], "bus", "device table")]
    dev_switch = np.full(n_dev, -1, np.int64)
    sid = dev["switch_id"].to_numpy(np.int64)
    ms = sid >= 0
    if ms.any():
        dev_switch[ms] = _index_of(pd.Index(sw.index), sid[ms], "switch", "device table")

    # one protective device per branch: the most local kind first (fuse, recloser, breaker)
    kinds_arr = np.asarray(DEVICE_KINDS, dtype=object)[dev_kind] if n_dev else np.array([], object)
    prot_rank = np.array([_PROT_ORDER.get(k, 99) for k in DEVICE_KINDS])[dev_kind] if n_dev else np.array([], int)
    br_prot_dev = np.full(len(br_kind), -1, np.int32)
    br_prot_node = np.full(len(br_kind), -1, np.int32)
    is_prot = prot_rank < 99
    if is_prot.any():
        cand = np.flatnonzero(is_prot)
        order = np.lexsort((cand, prot_rank[cand], dev_branch[cand]))
        cand = cand[order]
        first = np.ones(len(cand), bool)
        first[1:] = dev_branch[cand][1:] != dev_branch[cand][:-1]
        chosen = cand[first]
        br_prot_dev[dev_branch[chosen]] = chosen
        br_prot_node[dev_branch[chosen]] = dev_node[chosen]
    br_own_trip = br_kind != BR_SWITCH  # a faulted bus-bus breaker is cleared upstream
    del kinds_arr

    # ---- customers per node
    cu = model.customers
    cust_bus_pos = _index_of(bus_index, cu["bus"].to_numpy(np.int64), "bus", "customers table")
    cust_node = bus_node[cust_bus_pos]
    cust_class = pd.Categorical(cu["class"].astype(str), categories=[c.value for c in CLASS_ORDER]).codes
    if (cust_class < 0).any():
        bad = cu["customer_id"].to_numpy()[cust_class < 0][0]
        raise UnknownElementError(f"customer {bad} has an unknown class; use one of "
                                  f"{', '.join(c.value for c in CLASS_ORDER)}")
    cust_count = cu["count"].to_numpy(np.int64)
    cust_p_kw = cu["p_kw"].to_numpy(np.float64) if "p_kw" in cu else np.zeros(len(cu))
    cust_priority = cu["priority"].to_numpy(np.float64) if "priority" in cu else np.ones(len(cu))
    n_class = len(CLASS_ORDER)
    flat = np.bincount(cust_node.astype(np.int64) * n_class + cust_class, weights=cust_count,
                       minlength=n_node * n_class)
    node_class = flat.reshape(n_node, n_class).astype(np.int32)
    node_cust = node_class.sum(axis=1, dtype=np.int64)
    crit_cols = [CLASS_ORDER.index(c) for c in crit]
    node_crit = node_class[:, crit_cols].sum(axis=1, dtype=np.int64)
    node_p_kw = np.bincount(cust_node, weights=cust_p_kw, minlength=n_node)
    node_weighted = np.bincount(cust_node, weights=cust_priority * cust_count, minlength=n_node)

    # ---- element table
    elem_type = np.concatenate([np.full(n, ELEMENT_ORDER.index(t), np.int8) for n, t in
                                ((nL, ElementType.LINE), (nT, ElementType.TRAFO), (n_t3, ElementType.TRAFO3W),
                                 (nB, ElementType.SWITCH), (n_bus, ElementType.BUS))])
    elem_id = np.concatenate([line.index.to_numpy(np.int64), trafo.index.to_numpy(np.int64),
                              t3.index.to_numpy(np.int64), bb.index.to_numpy(np.int64),
                              bus_index.to_numpy(np.int64)])
    elem_is_node = np.concatenate([np.zeros(nL + nT, bool), np.ones(n_t3, bool), np.zeros(nB, bool),
                                   np.ones(n_bus, bool)])
    elem_ref = np.concatenate([np.arange(nL + nT), star_node, off_bb + np.arange(nB), bus_node]).astype(np.int32)
    offsets, start = {}, 0
    for etype, idx in ((ElementType.LINE, line.index), (ElementType.TRAFO, trafo.index),
                       (ElementType.TRAFO3W, t3.index), (ElementType.SWITCH, bb.index),
                       (ElementType.BUS, bus_index)):
        offsets[etype] = (start, pd.Index(idx))
        start += len(idx)

    topo = Topology(
        name=model.name, n_node=int(n_node), n_bus=int(n_bus),
        bus_ids=_ro(bus_index.to_numpy(np.int64)), bus_node=_ro(bus_node.astype(np.int32)),
        node_bus_row=_ro(node_bus_row), node_is_bus=_ro(node_is_bus),
        node_in_service=_ro(node_in_service), source_nodes=_ro(rank[src_nodes].astype(np.int32)),
        br_kind=_ro(br_kind), br_elem=_ro(br_elem), br_from=_ro(br_from), br_to=_ro(br_to),
        br_in_service=_ro(br_in_service), indptr=_ro(indptr), adj_node=_ro(adj_node),
        adj_branch=_ro(adj_branch),
        switch_ids=_ro(sw.index.to_numpy(np.int64)), switch_branch=_ro(switch_branch.astype(np.int32)),
        switch_closed=_ro(sw.closed.to_numpy(bool)), switch_et=_ro(sw_et),
        dev_ids=_ro(dev["device_id"].astype(str).to_numpy(object)), dev_kind=_ro(dev_kind.astype(np.int8)),
        dev_remote=_ro(dev["remote"].to_numpy(bool)), dev_branch=_ro(dev_branch.astype(np.int32)),
        dev_node=_ro(dev_node.astype(np.int32)), dev_switch=_ro(dev_switch.astype(np.int32)),
        br_prot_dev=_ro(br_prot_dev), br_prot_node=_ro(br_prot_node), br_own_trip=_ro(br_own_trip),
        cust_ids=_ro(cu["customer_id"].astype(str).to_numpy(object)), cust_node=_ro(cust_node.astype(np.int32)),
        cust_class=_ro(cust_class.astype(np.int8)), cust_count=_ro(cust_count), cust_p_kw=_ro(cust_p_kw),
        cust_priority=_ro(cust_priority), node_cust=_ro(node_cust), node_crit=_ro(node_crit),
        node_class=_ro(node_class), node_p_kw=_ro(node_p_kw), node_weighted=_ro(node_weighted),
        critical_classes=crit,
        elem_type=_ro(elem_type), elem_id=_ro(elem_id), elem_is_node=_ro(elem_is_node),
        elem_ref=_ro(elem_ref), elem_offsets=offsets,
        node_xy_km=_ro(_node_xy(net, bus_node, star_node, t3, n_node)), model=model,
    )
    topo.analysis()  # traverse the state as loaded once: later queries are O(k log k)
    return topo
