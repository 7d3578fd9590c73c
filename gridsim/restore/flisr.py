"""FLISR: fault location, isolation and service restoration.

:func:`plan_flisr` turns one faulted element into a switching plan (see its
docstring for the five steps); :func:`add_flisr_columns` runs it for every
element of the single-fault sweep (``sweep_single_faults(topo, flisr=True)``).

On radial operation every set involved is a preorder interval of the
traversal tree (the tripped device's subtree, the part cut off above the
section, each healthy island below it), so a plan costs the faulted section's
size plus one small power flow per candidate transfer: the receiving side is
solved on its own (the tree below the nearest upstream transformer, with the
transformer's upstream bus held at its voltage), not the whole network.
Meshed operation falls back to BFS per state and the full capacity check.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gridsim.core.topology import (
    BR_SOURCE, BR_TRAFO, BR_TRAFO3W_ARM, DEVICE_KINDS, State, Topology, _ro,
)
from gridsim.errors import GridsimError
from gridsim.types import DeviceKind


@dataclass(frozen=True)
class SwitchingStep:
    """One switching action of a :class:`SwitchingPlan`."""

    t_min: float                 # minutes after the fault
    action: str                  # "open" | "close"
    device: str                  # "switch:<id>", "fuse:line:40", "recloser:line:7"
    remote: bool
    purpose: str                 # "isolate" | "reclose" | "sectionalize" | "transfer"
    customers_restored: int = 0
    critical_restored: int = 0
    max_loading_percent: float | None = None   # capacity figures of a transfer
    min_vm_pu: float | None = None
    via: str = ""                # for transfers: the receiving side (bus of the tie's far end)


@dataclass(frozen=True)
class TransferAttempt:
    """A tie transfer that was considered and not (fully) done, with the reason."""

    tie: str
    reason: str
    max_loading_percent: float | None = None
    min_vm_pu: float | None = None


@dataclass(frozen=True, eq=False)
class SwitchingPlan:
    """Result of :func:`plan_flisr` for one faulted element.

    Node-level outcome (topology node ids): ``nodes`` are all nodes that lose
    supply when the protective device trips (with no modelled device upstream,
    everything fed from the same source bus: the fault is cleared at the
    source, and the upstream part comes back by re-energising it,
    ``source:bus:<id>``); ``restored_min[i]`` is the minute ``nodes[i]`` is
    back by switching, ``inf`` when it waits for the repair.
    """

    fault: str
    fault_position: int
    tripping_device: str
    customers_interrupted: int
    critical_interrupted: int
    customers_restored_by_switching: int
    customers_until_repair: int
    critical_until_repair: int
    steps: tuple[SwitchingStep, ...]
    infeasible: tuple[TransferAttempt, ...]
    nodes: np.ndarray = field(repr=False)
    restored_min: np.ndarray = field(repr=False)

    @property
    def critical_restored_by_switching(self) -> int:
        return self.critical_interrupted - self.critical_until_repair

    def to_dict(self) -> dict:
        """JSON-ready plan (the ``gridsim flisr --json`` contract)."""
        def step(s: SwitchingStep) -> dict:
            d = {"t_min": s.t_min, "action": s.action, "device": s.device, "remote": s.remote,
                 "purpose": s.purpose, "customers_restored": s.customers_restored,
                 "critical_restored": s.critical_restored}
            if s.purpose == "transfer":
                d.update(max_loading_percent=s.max_loading_percent, min_vm_pu=s.min_vm_pu, via=s.via)
            return d

        return {
            "fault": self.fault, "tripping_device": self.tripping_device,
            "customers_interrupted": self.customers_interrupted, "critical_interrupted": self.critical_interrupted,
            "customers_restored_by_switching": self.customers_restored_by_switching,
            "customers_until_repair": self.customers_until_repair,
            "critical_until_repair": self.critical_until_repair,
            "steps": [step(s) for s in self.steps],
            "infeasible": [{"tie": a.tie, "reason": a.reason, "max_loading_percent": a.max_loading_percent,
                            "min_vm_pu": a.min_vm_pu} for a in self.infeasible],
        }


# ---------------------------------------------------------------------------
# options and context
# ---------------------------------------------------------------------------

#: Capacity-check methods: ``local`` solves only the receiving substation's tree
#: with the radial sweep (the default), ``full`` the whole network with
#: :func:`~gridsim.restore.powerflow.check_capacity`, ``pandapower`` runs
#: ``runpp`` on the reconfigured net (the reference), ``none`` skips the check.
CAPACITY_METHODS = ("local", "full", "pandapower", "none")


@dataclass(frozen=True)
class FlisrOptions:
    """Limits and times of :func:`plan_flisr`. Times default to the model's
    ``switching`` section of model.yaml (see ``DEFAULT_SWITCHING``).

    A transfer is refused when it pushes a line or transformer above
    ``max_loading_percent`` or a bus outside its voltage band
    (``vm_min_pu``..``vm_max_pu`` at 1 kV and above, ``lv_vm_*`` below). Limits
    count against the move: an element already outside its limit before the
    fault (SimBench LV grids have buses below 0.95 pu at peak load) blocks a
    transfer only if the transfer makes it worse.
    """

    max_loading_percent: float = 100.0
    vm_min_pu: float = 0.95               # buses at 1 kV and above
    vm_max_pu: float = 1.05
    lv_vm_min_pu: float = 0.90            # buses below 1 kV (EN 50160: +-10 %)
    lv_vm_max_pu: float = 1.10
    capacity: str = "local"
    split: bool = True                    # split an island at sectionalizers when it does not fit whole
    lump_lv: bool = False                 # solve untouched LV subtrees as constant loads (approximate,
                                          # ~10 % faster on MV/LV models; see _local_check_ws)
    remote_operate_s: float | None = None
    manual_operate_min: float | None = None
    manual_dispatch_min: float | None = None
    crew_speed_kmh: float | None = None
    travel_factor: float | None = None

    def __post_init__(self) -> None:
        if self.capacity not in CAPACITY_METHODS:
            raise FlisrError(f"FLISR option capacity={self.capacity!r}: use one of {', '.join(CAPACITY_METHODS)}")
        for name in ("max_loading_percent", "vm_min_pu", "vm_max_pu", "lv_vm_min_pu", "lv_vm_max_pu", "remote_operate_s", "manual_operate_min",
                     "manual_dispatch_min", "crew_speed_kmh", "travel_factor"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0
                                  or v == float("inf")):
                raise FlisrError(f"FLISR option {name}: expected a finite number >= 0, got {v!r}")
        if self.crew_speed_kmh is not None and self.crew_speed_kmh <= 0:
            raise FlisrError("FLISR option crew_speed_kmh must be > 0")
        if self.vm_min_pu >= self.vm_max_pu:
            raise FlisrError(f"FLISR options: vm_min_pu {self.vm_min_pu} must be below vm_max_pu {self.vm_max_pu}")


class FlisrError(GridsimError):
    """Bad FLISR input (out-of-service element, bad option)."""


def _options(options) -> FlisrOptions:
    if options is None:
        return FlisrOptions()
    if isinstance(options, FlisrOptions):
        return options
    if isinstance(options, Mapping):
        known = set(FlisrOptions.__dataclass_fields__)
        bad = [k for k in options if k not in known]
        if bad:
            raise FlisrError(f"unknown FLISR option {bad[0]!r}; known: {', '.join(sorted(known))}")
        return FlisrOptions(**options)
    raise FlisrError(f"FLISR options: expected a FlisrOptions or a mapping, got {type(options).__name__}")


# device preference when a branch carries several: remote first, then switches
# (breaker, recloser, load-break switch, disconnector) before fuses
_KIND_PREF = {DeviceKind.BREAKER: 0, DeviceKind.RECLOSER: 1, DeviceKind.LOAD_BREAK_SWITCH: 2,
              DeviceKind.DISCONNECTOR: 3, DeviceKind.FUSE: 4}


@dataclass(eq=False)
class _Static:
    """Per-topology FLISR data (built once, kept in ``topo._hints``)."""

    bdev_ptr: np.ndarray
    bdev: np.ndarray
    split_branch: np.ndarray      # branch carries a sectionalizing device (switch or recloser)
    br_elem_pos: np.ndarray       # element position of each branch (-1 for source links)
    node_elem_pos: np.ndarray
    times: dict
    pf: object | None = None
    workspace: tuple | None = None
    charging: tuple | None = None
    prot_csr: tuple | None = None


def _static(topo: Topology) -> _Static:
    st = topo._hints.get("flisr")
    if st is not None:
        return st
    from gridsim.model.loader import DEFAULT_SWITCHING

    nd = topo.dev_ids.shape[0]
    pref = np.array([_KIND_PREF[k] for k in DEVICE_KINDS])[topo.dev_kind] if nd else np.zeros(0, np.int64)
    order = np.lexsort((np.arange(nd), pref, ~topo.dev_remote, topo.dev_branch)) if nd else np.zeros(0, np.int64)
    counts = np.bincount(topo.dev_branch, minlength=topo.n_branch) if nd else np.zeros(topo.n_branch, np.int64)
    bdev_ptr = np.zeros(topo.n_branch + 1, np.int64)
    np.cumsum(counts, out=bdev_ptr[1:])
    split_kinds = [DEVICE_KINDS.index(k) for k in (DeviceKind.BREAKER, DeviceKind.RECLOSER,
                                                   DeviceKind.LOAD_BREAK_SWITCH, DeviceKind.DISCONNECTOR)]
    split = np.zeros(topo.n_branch, bool)
    if nd:
        split[topo.dev_branch[np.isin(topo.dev_kind, split_kinds)]] = True
    isn = topo.elem_is_node
    br_elem_pos = np.full(topo.n_branch, -1, np.int64)
    br_elem_pos[topo.elem_ref[~isn]] = np.flatnonzero(~isn)
    # trafo3w arms: the trafo3w's element position
    arms = np.flatnonzero(topo.br_kind == BR_TRAFO3W_ARM)
    node_elem_pos = np.full(topo.n_node, -1, np.int64)
    node_elem_pos[topo.elem_ref[isn]] = np.flatnonzero(isn)
    if arms.size:
        br_elem_pos[arms] = node_elem_pos[topo.br_from[arms]]
    meta = getattr(topo.model, "meta", None) or {}
    times = dict(DEFAULT_SWITCHING)
    times.update(meta.get("switching") or {})
    st = _Static(_ro(bdev_ptr), _ro(order.astype(np.int64)), _ro(split), _ro(br_elem_pos), _ro(node_elem_pos),
                 times)
    topo._hints["flisr"] = st
    return st


def _pf_data(topo: Topology, st: _Static):
    if st.pf is None:
        if topo.model is None:
            raise FlisrError(f"topology {topo.name!r} was compiled without its model; the capacity check needs "
                             f"the electrical data (compile it with compile_topology(model)) or use capacity='none'")
        from gridsim.restore.powerflow import compile_pf

        st.pf = compile_pf(topo.model, topo)
    return st.pf


class _Clock:
    """Switching times: remote operations one after the other from the control
    room; manual ones by one crew driving from device to device."""

    def __init__(self, topo: Topology, opts: FlisrOptions, times: dict) -> None:
        g = lambda name: float(getattr(opts, name) if getattr(opts, name) is not None else times[name])  # noqa: E731
        self.remote_min = g("remote_operate_s") / 60.0
        self.manual_min = g("manual_operate_min")
        self.dispatch_min = g("manual_dispatch_min")
        self.min_per_km = 60.0 * g("travel_factor") / g("crew_speed_kmh")
        self.xy = topo.node_xy_km
        self.topo = topo
        self.t_remote = 0.0
        self.t_crew: float | None = None
        self.crew_at = -1

    def _node(self, dev: int) -> int:
        topo = self.topo
        n = int(topo.dev_node[dev])
        return n if n >= 0 else int(topo.br_from[topo.dev_branch[dev]])

    def operate(self, dev: int, earliest: float) -> float:
        if dev < 0 or self.topo.dev_remote[dev]:
            t = max(self.t_remote, earliest) + self.remote_min
            self.t_remote = t
            return t
        node = self._node(dev)
        if self.t_crew is None:
            arrive = self.dispatch_min
        else:
            d = 0.0
            if self.xy is not None:
                d = float(np.hypot(*(self.xy[node] - self.xy[self.crew_at])))
                d = d if np.isfinite(d) else 0.0
            arrive = self.t_crew + d * self.min_per_km
        t = max(arrive, earliest) + self.manual_min
        self.t_crew, self.crew_at = t, node
        return t


# ---------------------------------------------------------------------------
# capacity checks
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Verdict:
    ok: bool
    max_loading_percent: float
    worst: str | None
    min_vm_pu: float
    reason: str = ""


class _Planner:
    """FLISR for one topology, state and options (shared by a sweep over all faults)."""

    def __init__(self, topo: Topology, state: State | None, opts: FlisrOptions) -> None:
        from gridsim.core.impact import _single_arrays, _subtree

        self.topo = topo
        self.state = topo.check_state(state)
        self.opts = opts
        self.a = topo.analysis(self.state)
        self.st = _static(topo)
        self.trip = _single_arrays(topo, self.state)[3]
        self.sub = _subtree(topo, self.a) if self.a.radial else None
        closed = self.state.switch_closed
        sb = topo.switch_branch
        fl = np.zeros(topo.n_branch, bool)
        for p in self.state.faulted:
            if not topo.elem_is_node[p]:
                fl[topo.elem_ref[p]] = True
        ok = ~closed & topo.br_in_service[sb] & ~fl[sb]
        self.tie_rows = np.flatnonzero(ok)
        tb = sb[self.tie_rows]
        self.tie_f = topo.br_from[tb].astype(np.int64)
        self.tie_t = topo.br_to[tb].astype(np.int64)
        self.sw_dev = np.full(topo.switch_ids.shape[0], -1, np.int64)
        has = topo.dev_switch >= 0
        self.sw_dev[topo.dev_switch[has]] = np.flatnonzero(has)
        src = topo.source_nodes[self.a.pre[topo.source_nodes] >= 0]
        self.src_sorted = src[np.argsort(self.a.pre[src])]
        self.pf = None if opts.capacity == "none" else _pf_data(topo, self.st)
        self.n_pf = 0
        self._roots: dict[int, tuple] = {}
        self._memo: dict[tuple, _Verdict] = {}
        self._base_tables: dict[str, tuple] = {}
        self._band = None
        self._rep = None
        # work arrays reused by every check of this planner (kept per topology: a
        # planner restores them before returning; planners are not thread-safe)
        ws = self.st.workspace
        if ws is None:
            ws = self.st.workspace = (np.full(topo.n_node, -1, np.int32), np.empty(topo.n_node, np.int32),
                                      np.zeros(topo.n_node, bool))
        self._ws_id, self._ws_order, self._new_mask = ws

    # ------------------------------------------------------------- helpers
    def _interval(self, v: int) -> tuple[int, int]:
        s = int(self.a.pre[v])
        return s, s + int(self.a.size[v])

    def _count(self, v: int) -> tuple[int, int, float]:
        """customers, critical, weighted customers in the subtree of v."""
        s, z = self._interval(v)
        nodes = self.a.node_at[s:z]
        return int(self.sub[v, 1]), int(self.sub[v, 2]), float(self.topo.node_weighted[nodes].sum())

    def _child_end(self, b: int) -> int:
        a, topo = self.a, self.topo
        t = int(topo.br_to[b])
        if a.parent_branch[t] == b:
            return t
        f = int(topo.br_from[b])
        return f if a.parent_branch[f] == b else -1

    def _source_of(self, v: int) -> int:
        pre = self.a.pre
        k = int(np.searchsorted(pre[self.src_sorted], pre[v], side="right")) - 1
        return int(self.src_sorted[max(k, 0)])

    def _dev_label(self, d: int) -> str:
        return str(self.topo.dev_ids[d])

    def _state_with(self, opened: list[int], closed_rows: list[int], fault_pos: int) -> State:
        topo = self.topo
        sc = np.array(self.state.switch_closed, bool)
        faulted = set(self.state.faulted)
        faulted.add(int(fault_pos))
        for d in opened:
            r = int(topo.dev_switch[d])
            if r >= 0:
                sc[r] = False
            else:
                pos = int(self.st.br_elem_pos[topo.dev_branch[d]])
                if pos >= 0:
                    faulted.add(pos)
        for r in closed_rows:
            sc[r] = True
        sc.setflags(write=False)
        return State(sc, tuple(sorted(faulted)))

    def _charging(self, state: State, cond: np.ndarray):
        """Constant-impedance load per node with the charging of lines open at one
        end (as the full power flow has it), for ``state``: the base state's
        dangling lines are applied once per topology and state; a check only
        re-evaluates the lines whose switches changed. Returns the work array,
        and the nodes touched and their saved values (restored after the check)."""
        from gridsim.restore.powerflow import dangling_line_ends

        pf, topo, st = self.pf, self.topo, self.st
        key = self.state.key()
        if st.charging is None or st.charging[0] != key:
            lines, live = dangling_line_ends(pf, topo, self.state, self.a.cond)
            sz = pf.node_s_z.copy()
            np.add.at(sz, live, pf.line_y_open_end[lines].conjugate())
            row_lines: dict[int, list[int]] = {}
            line_sw: dict[int, list[tuple[int, bool]]] = {}
            for ln, row, af in zip(pf.lsw_line.tolist(), pf.lsw_row.tolist(), pf.lsw_at_from.tolist()):
                row_lines.setdefault(row, []).append(ln)
                line_sw.setdefault(ln, []).append((row, af))
            st.charging = (key, sz, dict(zip(lines.tolist(), live.tolist())), row_lines, line_sw)
        _, sz, base, row_lines, line_sw = st.charging
        changed = np.flatnonzero(state.switch_closed != self.state.switch_closed)
        touched = {ln for r in changed.tolist() for ln in row_lines.get(r, ())}
        if not touched:
            return sz, np.empty(0, np.int64), np.empty(0, np.complex128)
        faulted_br = {int(topo.elem_ref[p]) for p in state.faulted if not topo.elem_is_node[p]}
        delta: dict[int, complex] = {}
        for ln in touched:
            y = complex(pf.line_y_open_end[ln]).conjugate()
            old = base.get(ln)
            if old is not None:
                delta[old] = delta.get(old, 0j) - y
            b = int(pf.line_branch[ln])
            if not topo.br_in_service[b] or cond[b] or b in faulted_br:
                continue
            open_f = any(not state.switch_closed[r] for r, af in line_sw[ln] if af)
            open_t = any(not state.switch_closed[r] for r, af in line_sw[ln] if not af)
            if open_f != open_t:
                live = int(topo.br_to[b] if open_f else topo.br_from[b])
                delta[live] = delta.get(live, 0j) + y
        nodes = np.fromiter(delta, np.int64, len(delta))
        saved = sz[nodes].copy()
        sz[nodes] += np.fromiter(delta.values(), np.complex128, len(delta))
        return sz, nodes, saved

    def _cond_of(self, state: State) -> np.ndarray:
        """Conducting branches of ``state``: the analysed state's, with the
        differences applied (switches that changed, extra faulted elements), so
        a check costs O(changes) + one copy instead of a pass over the network."""
        topo = self.topo
        cond = self.a.cond.copy()
        changed = np.flatnonzero(state.switch_closed != self.state.switch_closed)
        if changed.size:
            br = topo.switch_branch[changed]
            opened = br[~state.switch_closed[changed]]
            cond[opened] = False
            closed = br[state.switch_closed[changed]]
            if closed.size:
                # a closed switch conducts if its branch is in service, every switch on it
                # is closed, its ends are alive and it is not faulted: recheck those few
                full = topo.conducting(state) if closed.size > 8 else None
                for b in closed:
                    cond[b] = full[b] if full is not None else self._conducts(state, int(b))
        extra = set(state.faulted) - set(self.state.faulted)
        for p in extra:
            ref = int(topo.elem_ref[p])
            if topo.elem_is_node[p]:
                cond[topo.adj_branch[topo.indptr[ref]:topo.indptr[ref + 1]]] = False
            else:
                cond[ref] = False
                if topo.br_kind[ref] == BR_TRAFO3W_ARM:
                    star = int(topo.br_from[ref])
                    cond[topo.adj_branch[topo.indptr[star]:topo.indptr[star + 1]]] = False
        return cond

    def _conducts(self, state: State, b: int) -> bool:
        topo = self.topo
        if not topo.br_in_service[b]:
            return False
        for n in (int(topo.br_from[b]), int(topo.br_to[b])):
            if not topo.node_in_service[n]:
                return False
        rows = self._switch_rows_of(b)
        if not state.switch_closed[rows].all():
            return False
        for p in state.faulted:
            ref = int(topo.elem_ref[p])
            if topo.elem_is_node[p]:
                if ref in (int(topo.br_from[b]), int(topo.br_to[b])):
                    return False
            elif ref == b:
                return False
        return True

    def _switch_rows_of(self, b: int) -> np.ndarray:
        m = self.__dict__.get("_sw_by_branch")
        if m is None:
            order = np.argsort(self.topo.switch_branch, kind="stable")
            sb = self.topo.switch_branch[order]
            m = self._sw_by_branch = (order, sb)
        order, sb = m
        lo, hi = np.searchsorted(sb, b), np.searchsorted(sb, b, side="right")
        return order[lo:hi]

    # ------------------------------------------------------------- capacity
    def _check_memo(self, opened: list[int], closed: list[int], pos: int, root_from: int,
                    new_nodes: np.ndarray) -> _Verdict:
        """:meth:`_check` of the state with ``opened`` devices and ``closed`` tie rows,
        remembered per planner: the faulted element lies inside the isolated
        section, so faults of one section share their transfer checks."""
        key = (tuple(sorted(set(opened))), tuple(sorted(closed)), root_from, int(new_nodes.size),
               int(new_nodes.sum()))
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = self._check(self._state_with(opened, closed, pos), root_from, new_nodes)
        return hit

    def _check(self, state: State, root_from: int, new_nodes: np.ndarray) -> _Verdict:
        """Capacity verdict of ``state`` on the side receiving through node ``root_from``."""
        self.n_pf += 1
        opts = self.opts
        if opts.capacity == "none":
            return _Verdict(True, float("nan"), None, float("nan"))
        if opts.capacity == "local":
            v = self._check_local(state, root_from, new_nodes)
            if v is not None:
                return v
        return self._check_full(state, new_nodes, pandapower=opts.capacity == "pandapower")

    def _region_root(self, w: int) -> tuple[int, int, complex | None]:
        hit = self._roots.get(w)
        if hit is None:
            hit = self._roots[w] = self._find_root(w)
        return hit

    def _find_root(self, w: int) -> tuple[int, int, complex | None]:
        """Root of the receiving side: the node above the nearest transformer on
        w's path to its source (the source bus when there is none), the branch
        entering the region from it (-1: all), and its fixed voltage."""
        a, topo, pf = self.a, self.topo, self.pf
        x = w
        while True:
            pb = int(a.parent_branch[x])
            kind = int(topo.br_kind[pb])
            if kind == BR_SOURCE:
                return x, -1, complex(pf.node_v_src[x])
            p = int(a.parent[x])
            if kind == BR_TRAFO3W_ARM and int(a.parent_branch[p]) >= 0 and \
                    int(topo.br_kind[a.parent_branch[p]]) == BR_TRAFO3W_ARM:
                pb2 = int(a.parent_branch[p])
                return self._rooted(int(a.parent[p]), pb2)
            if kind in (BR_TRAFO, BR_TRAFO3W_ARM):
                return self._rooted(p, pb)
            x = p

    def _rooted(self, root: int, entry: int) -> tuple[int, int, complex | None]:
        a, topo, pf = self.a, self.topo, self.pf
        pb = int(a.parent_branch[root])
        if pb >= 0 and int(topo.br_kind[pb]) == BR_SOURCE:
            return root, entry, complex(pf.node_v_src[root])
        vb = self._base_voltages()
        return root, entry, (None if vb is None else complex(vb[root]))

    def _base_voltages(self):
        key = ("flisr_base_v", id(self.pf))
        v = self.a.extras.get(key)
        if v is None:
            from gridsim.restore import _pf_kernels as PK

            pf, a = self.pf, self.a
            v, _, _ = PK._radial_sweep(a.node_at, a.n_reached, a.parent, a.parent_branch, pf.br_ef_node,
                                       pf.br_yff, pf.br_yft, pf.br_ytf, pf.br_ytt, pf.br_ideal, pf.br_is_source,
                                       pf.node_v_src, pf.node_s_p, pf.node_s_i,
                                       self._charging(self.state, a.cond)[0], 30, 1e-8)
            self.a.extras[key] = v
        return v

    def _check_local(self, state: State, w: int, new_nodes: np.ndarray) -> _Verdict | None:
        from gridsim.restore import _flisr_kernels as FK

        topo, pf, opts = self.topo, self.pf, self.opts
        root, entry, v_root = self._region_root(w)
        if v_root is None:
            return None
        cond = self._cond_of(state)
        s_z, live, saved = self._charging(state, cond)
        cond[topo.adj_branch[topo.indptr[0]:topo.indptr[1]]] = False   # not through the super-source
        nb = topo.adj_branch[topo.indptr[root]:topo.indptr[root + 1]]
        if entry >= 0:
            keep = cond[entry]
            cond[nb] = False
            cond[entry] = keep
        new = self._new_mask
        new[new_nodes] = True
        vm_base, ld_base = self._base_figures()
        lump = self._lumps()
        lump_child = lump[0]
        blocked = np.empty(0, np.int64)
        if lump_child is not None:
            blocked = self._lumps_touched(state, lump[7])
            lump_child[blocked] = -1            # subtrees the move touches are solved in full
        else:
            lump_child = self._no_lump
        try:
            (status, max_ld, worst, vmin, vnode, vmax, vmax_node, bad_v_node, bad_v, bad_ld_br, bad_ld,
             bad_hi_node, bad_hi) = FK._local_check_ws(
                topo.indptr, topo.adj_node, topo.adj_branch, cond, root, v_root, pf.br_ef_node, pf.br_et_node,
                pf.br_yff, pf.br_yft, pf.br_ytf, pf.br_ytt, pf.br_ideal, pf.node_s_p, pf.node_s_i, s_z,
                pf.br_k_from, pf.br_k_to, topo.node_is_bus, new, 30, 1e-8, self._ws_id, self._ws_order,
                vm_base, ld_base, *self._limits(), float(opts.max_loading_percent), self._report_bus(),
                lump_child, *(lump[1:6] if lump[0] is not None else self._no_lump_args()))
        finally:
            new[new_nodes] = False
            s_z[live] = saved
            if blocked.size:
                lump_child[blocked] = lump[8][blocked]
        if status < 0:
            return None
        worst_l = self._branch_label(int(worst)) if worst >= 0 else None
        if not np.isfinite(vmin):
            vmin = float("nan")
        if status != 1:
            reason = "power flow did not converge (receiving side cannot carry the load)"
        elif bad_ld_br >= 0:
            reason = (f"{self._branch_label(int(bad_ld_br))} would be loaded {bad_ld:.1f} % "
                      f"(limit {opts.max_loading_percent:g} %)")
        elif bad_v_node >= 0:
            reason = (f"voltage at bus {_bus(self, int(bad_v_node))} would drop to {bad_v:.4f} pu "
                      f"(limit {self._limits()[0][bad_v_node]:g} pu)")
        elif bad_hi_node >= 0:
            reason = (f"voltage at bus {_bus(self, int(bad_hi_node))} would rise to {bad_hi:.4f} pu "
                      f"(limit {self._limits()[1][bad_hi_node]:g} pu)")
        else:
            reason = ""
        return _Verdict(not reason, float(max_ld), worst_l, float(vmin), reason)

    def _report_bus(self) -> np.ndarray:
        """Buses whose minimum voltage a transfer reports: 1 kV and above (all
        buses when the network has none)."""
        if self._rep is None:
            rep = (self.topo.node_is_bus == 1) & (self.pf.node_vn_kv >= 1.0)
            self._rep = rep if rep.any() else self.topo.node_is_bus == 1
        return self._rep

    def _no_lump_args(self):
        z = np.zeros(1)
        zi = np.zeros(1, np.int64)
        return np.zeros(1, np.complex128), z, zi, z, zi

    @property
    def _no_lump(self) -> np.ndarray:
        nl = self.__dict__.get("_nolump")
        if nl is None:
            nl = self._nolump = np.full(self.topo.n_branch, -1, np.int64)
        return nl

    def _lumps(self):
        """Per branch: the low-voltage subtree a transformer feeds (child node, else
        -1), its power before the fault, its smallest margins to the voltage band
        and at which bus; per node the lumped branch above it; and a pristine
        copy of the child array. Once per state (``options.lump_lv``)."""
        if not self.opts.lump_lv:
            return (None,) * 9
        key = ("flisr_lumps", id(self.pf))
        hit = self.a.extras.get(key)
        if hit is not None:
            return hit
        from gridsim.core.topology import BR_TRAFO as _T

        pf, topo, a = self.pf, self.topo, self.a
        nb, nn = topo.n_branch, topo.n_node
        kids = a.node_at[1:a.n_reached]
        pb = a.parent_branch[kids]
        par = a.parent[kids]
        sel = (topo.br_kind[pb] == _T) & (pf.node_vn_kv[kids] < 1.0) & (pf.node_vn_kv[par] >= 1.0)
        kids, pb, par = kids[sel], pb[sel].astype(np.int64), par[sel]
        child = np.full(nb, -1, np.int64)
        s_in = np.zeros(nb, np.complex128)
        lo_m = np.full(nb, np.inf)
        hi_m = np.full(nb, np.inf)
        lo_n = np.zeros(nb, np.int64)
        hi_n = np.zeros(nb, np.int64)
        owner = np.full(nn, -1, np.int64)
        if kids.size:
            v = self._base_voltages()
            vm_base, _ = self._base_figures()
            band_lo, band_hi = self._limits()
            isbus = topo.node_is_bus == 1
            m_lo = np.where(isbus, vm_base - band_lo, np.inf)
            m_hi = np.where(isbus, band_hi - vm_base, np.inf)
            m_lo = np.where(np.isfinite(m_lo), m_lo, np.inf)
            m_hi = np.where(np.isfinite(m_hi), m_hi, np.inf)
            vf, vt = v[pf.br_ef_node[pb]], v[pf.br_et_node[pb]]
            at_from = pf.br_ef_node[pb] == par
            i_p = np.where(at_from, pf.br_yff[pb] * vf + pf.br_yft[pb] * vt, pf.br_ytf[pb] * vf + pf.br_ytt[pb] * vt)
            s_in[pb] = v[par] * np.conj(i_p)
            child[pb] = kids
            for b, c in zip(pb.tolist(), kids.tolist()):
                s0 = int(a.pre[c])
                seg = a.node_at[s0:s0 + int(a.size[c])]
                owner[seg] = b
                j = int(np.argmin(m_lo[seg]))
                lo_m[b], lo_n[b] = m_lo[seg[j]], seg[j]
                j = int(np.argmin(m_hi[seg]))
                hi_m[b], hi_n[b] = m_hi[seg[j]], seg[j]
        hit = (child, s_in, lo_m, lo_n, hi_m, hi_n, None, owner, child.copy())
        self.a.extras[key] = hit
        return hit

    def _lumps_touched(self, state: State, owner: np.ndarray) -> np.ndarray:
        """Lumped branches whose subtree holds an element the move changes."""
        topo = self.topo
        changed = np.flatnonzero(state.switch_closed != self.state.switch_closed)
        br = list(topo.switch_branch[changed].tolist())
        nodes: list[int] = []
        for p in set(state.faulted) - set(self.state.faulted):
            ref = int(topo.elem_ref[p])
            if topo.elem_is_node[p]:
                nodes.append(ref)
            else:
                br.append(ref)
        for b in br:
            nodes.extend((int(topo.br_from[b]), int(topo.br_to[b])))
        if not nodes:
            return np.empty(0, np.int64)
        own = owner[np.asarray(nodes, np.int64)]
        return np.unique(own[own >= 0])

    def _limits(self) -> tuple[np.ndarray, np.ndarray]:
        """Voltage band per node: ``vm_min_pu``/``vm_max_pu`` at 1 kV and above,
        ``lv_vm_min_pu``/``lv_vm_max_pu`` below."""
        if self._band is None:
            lv = self.pf.node_vn_kv < 1.0
            o = self.opts
            self._band = (np.where(lv, o.lv_vm_min_pu, o.vm_min_pu), np.where(lv, o.lv_vm_max_pu, o.vm_max_pu))
        return self._band

    def _base_figures(self) -> tuple[np.ndarray, np.ndarray]:
        """|V| per node (NaN unsupplied) and loading % per branch (0 not conducting) of
        the analysed state, once per state: limits count against the move."""
        key = ("flisr_base_fig", id(self.pf))
        hit = self.a.extras.get(key)
        if hit is None:
            pf, topo, a = self.pf, self.topo, self.a
            v = self._base_voltages()
            vm = np.where(a.supplied, np.abs(v), np.nan)
            vf, vt = v[pf.br_ef_node], v[pf.br_et_node]
            ld = np.maximum(np.abs(pf.br_yff * vf + pf.br_yft * vt) * pf.br_k_from,
                            np.abs(pf.br_ytf * vf + pf.br_ytt * vt) * pf.br_k_to)
            ld = np.where(a.cond & a.supplied[topo.br_from], ld, 0.0)
            hit = self.a.extras[key] = (np.ascontiguousarray(vm), np.ascontiguousarray(ld))
        return hit

    def _branch_label(self, b: int) -> str:
        pos = int(self.st.br_elem_pos[b])
        return self.topo.element_label(pos) if pos >= 0 else f"branch {b}"

    def _check_full(self, state: State, new_nodes: np.ndarray, *, pandapower: bool) -> _Verdict:
        """Whole-network check: the radial power flow (``full``) or pandapower's
        ``runpp`` (``pandapower``), limits counted against the move as in the local check."""
        topo, opts = self.topo, self.opts
        tables = _tables_pandapower if pandapower else _tables_radial
        key = "pandapower" if pandapower else "full"
        base = self._base_tables.get(key)
        if base is None:
            base = self._base_tables[key] = tables(self.pf, topo, self.state)
        conv, vm, ld = tables(self.pf, topo, state)
        if not conv:
            return _Verdict(False, float("nan"), None, float("nan"),
                            "power flow did not converge (receiving side cannot carry the load)")
        new_ids = topo.bus_ids[topo.node_bus_row[new_nodes[topo.node_is_bus[new_nodes] == 1]]]
        _, vm0, ld0 = base
        vm0a = vm0.reindex(vm.index).to_numpy(np.float64)
        v = vm.to_numpy(np.float64)
        lo_n, hi_n = self._limits()
        rows = pd.Index(topo.bus_ids).get_indexer(vm.index)
        lo = np.where(rows >= 0, lo_n[topo.bus_node[rows]], opts.vm_min_pu)
        hi = np.where(rows >= 0, hi_n[topo.bus_node[rows]], opts.vm_max_pu)
        with np.errstate(invalid="ignore"):
            bad_v = (v < lo) & ~(vm0a - v <= 1e-4)
            bad_hi = (v > hi) & ~(v - vm0a <= 1e-4)
        ldv = ld.to_numpy(np.float64)
        ld0a = ld0.reindex(ld.index).fillna(0.0).to_numpy(np.float64)
        with np.errstate(invalid="ignore"):
            bad_l = (ldv > opts.max_loading_percent) & ~(ldv - ld0a <= 0.1)
        fin = np.where(np.isfinite(ldv), ldv, -np.inf)
        k = int(np.argmax(fin)) if fin.size else -1
        max_ld = float(fin[k]) if k >= 0 and np.isfinite(fin[k]) else 0.0
        worst = str(ld.index[k]) if k >= 0 else None
        vmin = float(np.nanmin(v)) if np.isfinite(v).any() else float("nan")
        reason = ""
        if bad_l.any():
            b = int(np.argmax(np.where(bad_l, ldv, -np.inf)))
            reason = f"{ld.index[b]} would be loaded {ldv[b]:.1f} % (limit {opts.max_loading_percent:g} %)"
        elif bad_v.any():
            b = int(np.argmin(np.where(bad_v, v, np.inf)))
            reason = f"voltage at bus {int(vm.index[b])} would drop to {v[b]:.4f} pu (limit {lo[b]:g} pu)"
        elif bad_hi.any():
            b = int(np.argmax(np.where(bad_hi, v, -np.inf)))
            reason = f"voltage at bus {int(vm.index[b])} would rise to {v[b]:.4f} pu (limit {hi[b]:g} pu)"
        return _Verdict(not reason, max_ld, worst, vmin, reason)


def _tables_radial(pf, topo: Topology, state: State):
    """(converged, vm per bus id, loading per element label) by gridsim's power flow."""
    from gridsim.restore.powerflow import PowerFlowError, run_radial_pf

    try:
        r = run_radial_pf(pf, topo, state)
    except PowerFlowError:
        return False, pd.Series(dtype=float), pd.Series(dtype=float)
    parts = [pd.Series(ld, index=[f"{kind}:{int(i)}" for i in ids]) for kind, ids, ld in
             (("line", r.line_ids, r.line_loading_percent), ("trafo", r.trafo_ids, r.trafo_loading_percent),
              ("trafo3w", r.trafo3w_ids, r.trafo3w_loading_percent)) if len(ids)]
    ld = pd.concat(parts) if parts else pd.Series(dtype=float)
    return bool(r.converged), pd.Series(r.vm_pu, index=r.bus_ids), ld


def _tables_pandapower(pf, topo: Topology, state: State):
    """(converged, vm per bus id, loading per element label) by pandapower ``runpp``
    on the reconfigured net (the reference)."""
    import pandapower as pp

    from gridsim.restore.powerflow import net_with_state

    net = net_with_state(pf, topo, state)
    try:
        pp.runpp(net, calculate_voltage_angles=True)
    except Exception:  # pandapower raises assorted types when a state cannot be solved
        return False, pd.Series(dtype=float), pd.Series(dtype=float)
    parts = []
    for table in ("line", "trafo", "trafo3w"):
        res = net[f"res_{table}"]
        if len(res):
            parts.append(pd.Series(res.loading_percent.to_numpy(np.float64),
                                   index=[f"{table}:{int(i)}" for i in res.index]))
    ld = pd.concat(parts) if parts else pd.Series(dtype=float)
    return True, net.res_bus.vm_pu.astype(np.float64), ld


# ---------------------------------------------------------------------------
# planning
# ---------------------------------------------------------------------------


def _empty(topo: Topology, pos: int, trip: str) -> SwitchingPlan:
    return SwitchingPlan(topo.element_label(pos), int(pos), trip, 0, 0, 0, 0, 0, (), (),
                         np.empty(0, np.int32), np.empty(0))


def _protective_csr(P: _Planner) -> tuple[np.ndarray, np.ndarray]:
    """Devices per branch like ``_Static.bdev``, protective kinds only."""
    hit = P.st.__dict__.get("prot_csr")
    if hit is None:
        topo = P.topo
        kinds = np.array([k in (DeviceKind.BREAKER, DeviceKind.RECLOSER, DeviceKind.FUSE) for k in DEVICE_KINDS])
        keep = kinds[topo.dev_kind[P.st.bdev]] if P.st.bdev.size else np.zeros(0, bool)
        dev = P.st.bdev[keep]
        counts = np.bincount(topo.dev_branch[dev], minlength=topo.n_branch) if dev.size else \
            np.zeros(topo.n_branch, np.int64)
        ptr = np.zeros(topo.n_branch + 1, np.int64)
        np.cumsum(counts, out=ptr[1:])
        hit = P.st.prot_csr = (ptr, np.ascontiguousarray(dev, np.int64))
    return hit


def _plan_radial(P: _Planner, pos: int) -> SwitchingPlan:  # noqa: C901 - the FLISR steps in order
    from gridsim.restore import _flisr_kernels as FK

    topo, a, st = P.topo, P.a, P.st
    isn = bool(topo.elem_is_node[pos])
    ref = int(topo.elem_ref[pos])
    trip_dev = int(P.trip[pos])
    trip_label = P._dev_label(trip_dev) if trip_dev >= 0 else ""
    if isn:
        v = ref
        if a.pre[v] < 0:
            return _empty(topo, pos, trip_label)
    else:
        if not a.cond[ref]:
            return _empty(topo, pos, trip_label)
        v = P._child_end(ref)
        if v < 0:
            return _empty(topo, pos, trip_label)
    t_node = P._child_end(int(topo.dev_branch[trip_dev])) if trip_dev >= 0 else P._source_of(v)
    s0, z0 = P._interval(t_node)
    nodes = a.node_at[s0:z0].copy()
    restored = np.full(nodes.shape[0], np.inf)
    c_int, k_int = int(P.sub[t_node, 1]), int(P.sub[t_node, 2])

    sec, bnd = FK._section(isn, ref, topo.br_from, topo.br_to, topo.br_kind, a.cond, topo.indptr,
                           topo.adj_node, topo.adj_branch, st.bdev_ptr, st.bdev, topo.dev_node, a.parent)
    up_dev, cut = -2, -1
    islands: list[tuple[int, int]] = []      # (device, root node)
    for d, b, near, far in bnd.tolist():
        ne = near if near >= 0 else int(topo.br_from[b] + topo.br_to[b] - far)
        if a.parent_branch[ne] == b and a.parent[ne] == far:
            up_dev, cut = d, ne
        elif a.parent_branch[far] == b and a.parent[far] == ne:
            islands.append((d, far))
    if cut < 0:                              # the section reaches no boundary upwards
        cut, up_dev = P._source_of(v), -1
    # ---- 1. isolation (remote first; upstream first)
    clock = _Clock(topo, P.opts, st.times)
    steps: list[SwitchingStep] = []
    iso = []
    if up_dev >= 0 and up_dev != trip_dev:
        iso.append((not topo.dev_remote[up_dev], 0, up_dev, -1))
    for i, (d, r) in enumerate(islands):
        iso.append((not topo.dev_remote[d], 1, d, i))
    iso.sort(key=lambda x: (x[0], x[1]))
    t_up = 0.0
    t_island = [0.0] * len(islands)
    for _, _, d, i in iso:
        t = clock.operate(d, 0.0)
        steps.append(SwitchingStep(round(t, 2), "open", P._dev_label(d), bool(topo.dev_remote[d]), "isolate"))
        if i < 0:
            t_up = t
        else:
            t_island[i] = t
    pre = a.pre
    # ---- 2. upstream restoration: reclose the tripped device
    cs, cz = P._interval(cut)
    if up_dev != -1 and cut != t_node and s0 <= cs < z0:
        cu_c, cu_k = c_int - int(P.sub[cut, 1]), k_int - int(P.sub[cut, 2])
        if trip_dev >= 0:
            t = clock.operate(trip_dev, t_up)
            label, remote = trip_label, bool(topo.dev_remote[trip_dev])
        else:
            t = clock.operate(-1, t_up)
            label, remote = f"source:bus:{int(topo.bus_ids[topo.node_bus_row[t_node]])}", True
        steps.append(SwitchingStep(round(t, 2), "close", label, remote, "reclose", cu_c, cu_k))
        rel = pre[nodes] - s0
        restored[(rel < cs - s0) | (rel >= cz - s0)] = t
    # ---- 3. downstream restoration through ties
    infeasible: list[TransferAttempt] = []
    if islands and P.tie_rows.size:
        accepted_open: list[int] = [d for d in ([up_dev] if up_dev >= 0 else []) + [d for d, _ in islands]]
        accepted_close: list[int] = []
        order = sorted(range(len(islands)), key=lambda i: -P._count(islands[i][1])[2])
        for i in order:
            d_i, r = islands[i]
            _transfer(P, pos, r, t_island[i], clock, accepted_open, accepted_close, steps, infeasible,
                      nodes, restored, s0)
    return _finish(P, pos, trip_label, c_int, k_int, steps, infeasible, nodes, restored)


def _finish(P: _Planner, pos, trip_label, c_int, k_int, steps, infeasible, nodes, restored) -> SwitchingPlan:
    topo = P.topo
    wait = ~np.isfinite(restored)
    c_wait = int(topo.node_cust[nodes[wait]].sum())
    k_wait = int(topo.node_crit[nodes[wait]].sum())
    steps = sorted(steps, key=lambda s: s.t_min)
    return SwitchingPlan(topo.element_label(pos), int(pos), trip_label, c_int, k_int, c_int - c_wait, c_wait,
                         k_wait, tuple(steps), tuple(infeasible), _ro(nodes.astype(np.int32)), _ro(restored))


def _tie_candidates(P: _Planner, lo: int, hi: int, cs: int, cz: int):
    """Tie switch rows with one end in the preorder interval [lo, hi) and the
    other end supplied outside the dead part [cs, cz): (row, island end, far end)."""
    pre = P.a.pre
    pf_, pt_ = pre[P.tie_f], pre[P.tie_t]
    in_f = (pf_ >= lo) & (pf_ < hi)
    in_t = (pt_ >= lo) & (pt_ < hi)
    ok_f = (pf_ >= 0) & ((pf_ < cs) | (pf_ >= cz))
    ok_t = (pt_ >= 0) & ((pt_ < cs) | (pt_ >= cz))
    out = []
    for k in np.flatnonzero(in_f & ok_t):
        out.append((int(P.tie_rows[k]), int(P.tie_f[k]), int(P.tie_t[k])))
    for k in np.flatnonzero(in_t & ok_f):
        out.append((int(P.tie_rows[k]), int(P.tie_t[k]), int(P.tie_f[k])))
    dev = P.sw_dev
    out.sort(key=lambda x: (not (dev[x[0]] >= 0 and P.topo.dev_remote[dev[x[0]]]), x[0]))
    return out


def _tie_label(P: _Planner, row: int) -> str:
    d = int(P.sw_dev[row])
    return P._dev_label(d) if d >= 0 else f"switch:{int(P.topo.switch_ids[row])}"


def _tie_remote(P: _Planner, row: int) -> bool:
    d = int(P.sw_dev[row])
    return bool(d >= 0 and P.topo.dev_remote[d])


def _transfer(P: _Planner, pos: int, r: int, t_iso: float, clock: _Clock, opened: list[int], closed: list[int],
              steps: list, infeasible: list, nodes: np.ndarray, restored: np.ndarray, s0: int) -> None:
    """Feed the healthy island below ``r`` through tie switch(es): whole when it
    fits, else split at sectionalizing switches and transfer what fits."""
    from gridsim.restore import _flisr_kernels as FK

    topo, a = P.topo, P.a
    lo, hi = P._interval(r)
    cut_lo, cut_hi = lo, hi
    # the whole dead part (everything the fault took, restored or not) must not feed the island
    t0 = nodes[0]
    cs, cz = P._interval(int(t0))
    ties = _tie_candidates(P, lo, hi, cs, cz)
    if not ties:
        return
    island = a.node_at[lo:hi]
    # a) the whole island through one tie: the first that fits, remote ties first
    best, refused = None, []
    for row, e, w in ties:
        verdict = P._check_memo(opened, closed + [row], pos, w, island)
        if verdict.ok:
            best = (row, verdict, w)
            break
        else:
            refused.append(TransferAttempt(_tie_label(P, row), f"whole island below bus {_bus(P, r)}: "
                                           f"{verdict.reason}", _num(verdict.max_loading_percent),
                                           _num(verdict.min_vm_pu)))
    if best is None:
        infeasible.extend(refused)
    else:
        row, verdict, w = best
        t = clock.operate(int(P.sw_dev[row]), t_iso) if P.sw_dev[row] >= 0 else clock.operate(-1, t_iso)
        closed.append(row)
        c, k = int(P.sub[r, 1]), int(P.sub[r, 2])
        steps.append(SwitchingStep(round(t, 2), "close", _tie_label(P, row), _tie_remote(P, row), "transfer", c, k,
                                   _num(verdict.max_loading_percent), _num(verdict.min_vm_pu), f"bus {_bus(P, w)}"))
        rel = a.pre[nodes] - s0
        restored[(rel >= lo - s0) & (rel < hi - s0)] = t
        return
    if not P.opts.split:
        return
    # b) split at sectionalizing devices: grow each tie's share zone by zone
    # split only at devices of the island's own voltage level: LV sections go with
    # the MV section of their transformer (operators sectionalize MV islands at MV)
    split = P.st.split_branch
    if P.pf is not None:
        kv = P.pf.node_vn_kv
        same = np.isclose(kv[island], kv[r])
        split = split.copy()
        sb = a.parent_branch[island[~same]]
        split[sb[sb >= 0]] = False
    zone = FK._zones(island, a.parent, a.parent_branch, split)
    zroots = np.unique(zone)
    zone_of = dict(zip(island.tolist(), zone.tolist()))
    zparent = {int(z): (zone_of[int(a.parent[z])] if z != r else -1) for z in zroots}
    zchildren: dict[int, list[int]] = {int(z): [] for z in zroots}
    for z, p in zparent.items():
        if p >= 0:
            zchildren[p].append(z)
    zmembers: dict[int, np.ndarray] = {}
    for z in zroots:
        zmembers[int(z)] = island[zone == z]
    zweight = {z: float(topo.node_weighted[m].sum()) for z, m in zmembers.items()}
    remaining = set(zmembers)
    split_dev = {}
    for z in zmembers:
        if z != r:
            b = int(a.parent_branch[z])
            for k in range(int(P.st.bdev_ptr[b]), int(P.st.bdev_ptr[b + 1])):
                d = int(P.st.bdev[k])
                if DEVICE_KINDS[int(topo.dev_kind[d])] is not DeviceKind.FUSE:
                    split_dev[z] = d
                    break
    for row, e, w in ties:
        z0 = zone_of[e]
        if z0 not in remaining:
            continue

        def opens_for(group: set[int]) -> list[int]:
            out = []
            for z in group:
                p = zparent[z]
                if z != r and p not in group and p in remaining | group:
                    out.append(split_dev[z])
                out.extend(split_dev[c] for c in zchildren[z] if c not in group and c in remaining)
            return sorted(set(out))

        def check(group: set[int]):
            members = np.concatenate([zmembers[z] for z in group])
            return P._check_memo(opened + opens_for(group), closed + [row], pos, w, members)

        group = {z0}
        verdict = check(group)
        if not verdict.ok:
            infeasible.append(TransferAttempt(_tie_label(P, row), f"even its own section (bus {_bus(P, z0)}) does "
                                              f"not fit: {verdict.reason}", _num(verdict.max_loading_percent),
                                              _num(verdict.min_vm_pu)))
            continue
        # the longest breadth-first prefix of zones (from the tie's zone) that fits,
        # by bisection; then single neighbours once each
        bfs = [z0]
        for z in bfs:
            for q in ([zparent[z]] if zparent[z] >= 0 else []) + zchildren[z]:
                if q in remaining and q not in bfs:
                    bfs.append(q)
        lo_k, hi_k = 1, len(bfs)
        while lo_k < hi_k:
            mid = (lo_k + hi_k + 1) // 2
            trial = check(set(bfs[:mid]))
            if trial.ok:
                lo_k, verdict = mid, trial
            else:
                hi_k = mid - 1
        group = set(bfs[:lo_k])
        grown, refused_z = lo_k < len(bfs), set()
        while grown:
            grown = False
            nbrs = {zparent[z] for z in group if zparent[z] in remaining and zparent[z] not in group}
            nbrs |= {c for z in group for c in zchildren[z] if c in remaining and c not in group}
            # a zone refused once stays refused: adding load never frees capacity
            for z in sorted(nbrs - refused_z, key=lambda q: -zweight[q]):
                trial = check(group | {z})
                if trial.ok:
                    group.add(z)
                    verdict = trial
                    grown = True
                else:
                    refused_z.add(z)
        sect = opens_for(group)
        t_ready = t_iso
        for d in sect:
            if d not in opened:
                t = clock.operate(d, t_iso)
                steps.append(SwitchingStep(round(t, 2), "open", P._dev_label(d), bool(topo.dev_remote[d]),
                                           "sectionalize"))
                t_ready = max(t_ready, t)
                opened.append(d)
        t = clock.operate(int(P.sw_dev[row]), t_ready) if P.sw_dev[row] >= 0 else clock.operate(-1, t_ready)
        closed.append(row)
        members = np.concatenate([zmembers[z] for z in group])
        c = int(topo.node_cust[members].sum())
        k = int(topo.node_crit[members].sum())
        steps.append(SwitchingStep(round(t, 2), "close", _tie_label(P, row), _tie_remote(P, row), "transfer", c, k,
                                   _num(verdict.max_loading_percent), _num(verdict.min_vm_pu), f"bus {_bus(P, w)}"))
        mark = np.zeros(topo.n_node, bool)
        mark[members] = True
        restored[mark[nodes]] = t
        remaining -= group
        if not remaining:
            break
    left = int(sum(int(topo.node_cust[zmembers[z]].sum()) for z in remaining))
    if left:
        infeasible.append(TransferAttempt("", f"{left} customers below bus {_bus(P, r)} fit no tie and wait for "
                                          f"the repair"))


def _bus(P: _Planner, node: int) -> int:
    row = int(P.topo.node_bus_row[node])
    return int(P.topo.bus_ids[row]) if row >= 0 else -1


def _num(x) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 4)


def _plan_meshed(P: _Planner, pos: int) -> SwitchingPlan:
    """FLISR on a meshed operating state: the same steps, decided on BFS results
    (supplied node sets) instead of preorder intervals; whole transfers only
    (no splitting), capacity by the full check (pandapower for meshed states).

    A fault inside a loop is fed from several sides: the nearest protective
    device on every path from the fault to a source trips (a path reaching a
    source without one trips that source), so ``tripping_device`` may name
    several devices joined by ``+``.
    """
    from gridsim.restore import _flisr_kernels as FK

    topo, a, st = P.topo, P.a, P.st
    isn = bool(topo.elem_is_node[pos])
    ref = int(topo.elem_ref[pos])
    sup0 = a.supplied

    def supplied(state: State) -> np.ndarray:
        return topo.analysis(state).supplied

    pptr, pdev = _protective_csr(P)
    _, tb = FK._section(isn, ref, topo.br_from, topo.br_to, topo.br_kind, a.cond, topo.indptr,
                        topo.adj_node, topo.adj_branch, pptr, pdev, topo.dev_node, a.parent)
    trips = sorted({int(d) for d in tb[:, 0] if d >= 0})
    src_bus = sorted({int(n) for d, _, n, _ in tb.tolist() if d < 0 and n >= 0})   # sources without device
    trip_label = "+".join(P._dev_label(d) for d in trips)
    tripped = P._state_with(trips, [], pos)
    if src_bus:
        extra = tuple(int(P.st.node_elem_pos[n]) for n in src_bus if P.st.node_elem_pos[n] >= 0)
        tripped = State(tripped.switch_closed, tuple(sorted(set(tripped.faulted) | set(extra))))
        trip_label = "+".join([trip_label] * bool(trip_label) + [f"source:bus:{_bus(P, n)}" for n in src_bus])
    out = sup0 & ~supplied(tripped)
    nodes = np.flatnonzero(out).astype(np.int32)
    if nodes.size == 0:
        return _empty(topo, pos, trip_label)
    restored = np.full(nodes.shape[0], np.inf)
    c_int, k_int = int(topo.node_cust[nodes].sum()), int(topo.node_crit[nodes].sum())
    sec, bnd = FK._section(isn, ref, topo.br_from, topo.br_to, topo.br_kind, a.cond, topo.indptr,
                           topo.adj_node, topo.adj_branch, st.bdev_ptr, st.bdev, topo.dev_node, a.parent)
    boundary = {int(d) for d in bnd[:, 0] if d >= 0}
    devs = sorted(boundary - set(trips), key=lambda d: (not topo.dev_remote[d], d))
    clock = _Clock(topo, P.opts, st.times)
    steps = []
    t_iso = 0.0
    for d in devs:
        t = clock.operate(d, 0.0)
        t_iso = max(t_iso, t)
        steps.append(SwitchingStep(round(t, 2), "open", P._dev_label(d), bool(topo.dev_remote[d]), "isolate"))
    opened = sorted(boundary)
    iso = P._state_with(opened, [], pos)
    back = supplied(iso)[nodes]
    reclose = [d for d in trips if d not in boundary] + [-1 - n for n in src_bus]
    if reclose and back.any():
        t = t_iso
        for d in reclose:       # every tripped device outside the section closes again
            t = clock.operate(d if d >= 0 else -1, t_iso)
            label = P._dev_label(d) if d >= 0 else f"source:bus:{_bus(P, -1 - d)}"
            remote = bool(topo.dev_remote[d]) if d >= 0 else True
            first = d == reclose[0]
            steps.append(SwitchingStep(round(t, 2), "close", label, remote, "reclose",
                                       int(topo.node_cust[nodes[back]].sum()) if first else 0,
                                       int(topo.node_crit[nodes[back]].sum()) if first else 0))
        restored[back] = t
    infeasible: list[TransferAttempt] = []
    in_sec = np.zeros(topo.n_node, bool)
    in_sec[sec] = True
    closed: list[int] = []
    state = iso
    sup = supplied(state)
    for k in range(P.tie_rows.size):
        row, f, t_ = int(P.tie_rows[k]), int(P.tie_f[k]), int(P.tie_t[k])
        dead = out & ~sup & ~in_sec
        if not dead.any():
            break
        if not ((dead[f] and sup[t_]) or (dead[t_] and sup[f])):
            continue
        trial = P._state_with(opened, closed + [row], pos)
        sup_t = supplied(trial)
        new = np.flatnonzero(dead & sup_t)
        verdict = P._check_full(trial, new.astype(np.int64), pandapower=P.opts.capacity == "pandapower") \
            if P.opts.capacity != "none" else _Verdict(True, float("nan"), None, float("nan"))
        if not verdict.ok:
            infeasible.append(TransferAttempt(_tie_label(P, row), verdict.reason, _num(verdict.max_loading_percent),
                                              _num(verdict.min_vm_pu)))
            continue
        t = clock.operate(int(P.sw_dev[row]), t_iso) if P.sw_dev[row] >= 0 else clock.operate(-1, t_iso)
        steps.append(SwitchingStep(round(t, 2), "close", _tie_label(P, row), _tie_remote(P, row), "transfer",
                                   int(topo.node_cust[new].sum()), int(topo.node_crit[new].sum()),
                                   _num(verdict.max_loading_percent), _num(verdict.min_vm_pu),
                                   f"bus {_bus(P, f if sup[f] else t_)}"))
        mark = np.zeros(topo.n_node, bool)
        mark[new] = True
        restored[mark[nodes] & ~np.isfinite(restored)] = t
        closed.append(row)
        state, sup = trial, sup_t
    return _finish(P, pos, trip_label, c_int, k_int, steps, infeasible, nodes, restored)


# ---------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------


def _check_fault(topo: Topology, fault) -> int:
    if isinstance(fault, (list, tuple)) and not (len(fault) == 2 and isinstance(fault[0], str)):
        raise FlisrError("plan_flisr takes one faulted element, e.g. 'line:17'")
    pos = int(topo.element_positions([fault])[0])
    ref = int(topo.elem_ref[pos])
    live = topo.node_in_service[ref] if topo.elem_is_node[pos] else topo.br_in_service[ref]
    if not live:
        raise FlisrError(f"{topo.element_label(pos)} is out of service in model {topo.name!r}: "
                         f"a fault on it interrupts nobody; choose an in-service element")
    return pos


def plan_flisr(topo: Topology, fault, *, state: State | None = None, options=None) -> SwitchingPlan:
    """Switching plan for a fault on one element (``"line:17"``, ``("trafo", 3)``, ``"bus:5"``).

    1. the protective device that trips and the customers it interrupts;
    2. isolation: open the nearest switching devices around the faulted section;
    3. upstream restoration: reclose the tripped device;
    4. downstream restoration: close normally-open tie switches to feed the
       healthy downstream parts from elsewhere, only where the receiving side
       stays within ``options.max_loading_percent`` and ``[vm_min_pu, vm_max_pu]``
       (radial power flow); a part that does not fit whole is split at
       sectionalizing switches and what fits is transferred, through several
       ties if there are several;
    5. the rest waits for the repair.

    ``options``: a :class:`FlisrOptions` or a mapping of its fields.
    """
    opts = _options(options)
    pos = _check_fault(topo, fault)
    P = _Planner(topo, state, opts)
    return _plan_radial(P, pos) if P.a.radial else _plan_meshed(P, pos)


def iter_flisr_plans(topo: Topology, faults, *, state: State | None = None, options=None):
    """:func:`plan_flisr` for many faults, sharing one planner (its power-flow
    data, workspaces and remembered checks): yields one :class:`SwitchingPlan`
    per fault, in order. Out-of-service elements raise like :func:`plan_flisr`."""
    P = _shared_planner(topo, state=state, options=options)
    for f in faults:
        yield _plan_shared(P, f)


def _shared_planner(topo: Topology, *, state: State | None = None, options=None) -> _Planner:
    """A planner to keep and pass to :func:`_plan_shared` for faults that come one at a time
    (e.g. storm after storm of a Monte-Carlo run in one worker process)."""
    return _Planner(topo, state, _options(options))


def _plan_shared(P: _Planner, fault) -> SwitchingPlan:
    """:func:`plan_flisr` of ``fault`` with the kept planner ``P`` (as :func:`iter_flisr_plans`)."""
    pos = _check_fault(P.topo, fault)
    return _plan_radial(P, pos) if P.a.radial else _plan_meshed(P, pos)


#: Columns :func:`add_flisr_columns` adds to the single-fault sweep.
FLISR_COLUMNS = ("customers_restored_by_switching", "customers_until_repair", "critical_until_repair",
                 "critical_restored_by_switching", "last_switching_min")


def add_flisr_columns(topo: Topology, df: pd.DataFrame, state: State | None = None, options=None,
                      progress=None) -> pd.DataFrame:
    """The single-fault sweep ``df`` with FLISR outcomes per element: customers
    restored by switching (reclose + capacity-checked transfers), customers and
    critical customers left until the repair, and the minute of the last
    restoring step. Out-of-service elements get zeros."""
    opts = _options(options)
    P = _Planner(topo, state, opts)
    from gridsim.core.impact import _element_in_service

    live = _element_in_service(topo)
    n = topo.n_elements
    cols = {c: np.zeros(n, np.int64) for c in FLISR_COLUMNS[:4]}
    last = np.zeros(n)
    plan = _plan_radial if P.a.radial else _plan_meshed
    # only elements whose fault interrupts somebody need a plan
    todo = np.flatnonzero(live & (df["customers_interrupted"].to_numpy() > 0))
    for i, p in enumerate(todo):
        sp = plan(P, int(p))
        cols["customers_restored_by_switching"][p] = sp.customers_restored_by_switching
        cols["customers_until_repair"][p] = sp.customers_until_repair
        cols["critical_until_repair"][p] = sp.critical_until_repair
        cols["critical_restored_by_switching"][p] = sp.critical_interrupted - sp.critical_until_repair
        fin = sp.restored_min[np.isfinite(sp.restored_min)]
        last[p] = float(fin.max()) if fin.size else 0.0
        if progress is not None:
            progress(i + 1, todo.size)
    out = df.copy()
    for c, v in cols.items():
        out[c] = v
    out["last_switching_min"] = last
    return out
