"""Restoration planning: which crew repairs which fault when, and when every customer is back.

:func:`plan_restoration` reads as a list of steps:

1. **faults -> jobs**: element positions, repair minutes (given or
   :data:`DEFAULT_REPAIR_MIN` per element type), the minute each outage began
   and the job's location (midpoint of the element's buses);
2. **outage structure**: for every node that loses supply, the *nearest*
   faulted element on its path to the source (the job that owns it), and the
   precedence forest (job ``i`` is the parent of job ``j`` when fault ``i`` is
   the nearest fault upstream of fault ``j``). Radial operation: nested
   preorder intervals of the compiled topology, O(k log k + lost nodes);
   meshed operation: a 0-1 breadth-first search where crossing a faulted
   element costs 1 (the owner is the last fault on a path that crosses the
   fewest faults);
3. **switching**: nodes brought back by FLISR switching (``options.flisr`` or
   ``options.switched``) come back at their switching time, not at repair,
   and leave their job's weight;
4. **solve**: a :class:`~gridsim.restore.schedule.ScheduleProblem` (weights =
   priority-weighted customers per job, ``topo.node_weighted``) solved by a
   strategy registered in :data:`~gridsim.restore.schedule.STRATEGIES`;
5. **assign back**: per node, per outage and per customer the ETR (estimated
   time of restoration), the objective values and the crew routes, in a
   :class:`RestorationPlan`.

:func:`replan` re-plans from a later minute with new information (a crew
delayed, a repair that takes longer, jobs reported done): finished jobs stay
finished, jobs in progress stay with their crew, the rest is scheduled again.

All times are minutes on the plan's clock: ``t = 0`` is the planning instant
(``options.start_time`` gives it a date for timestamps). An outage may have
begun before it (``start_min <= 0``); interruption minutes count from there.
"""
from __future__ import annotations

import heapq
import math
import warnings
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd

from gridsim.core import _kernels as K
from gridsim.core.topology import ELEMENT_ORDER, State, Topology, _ro
from gridsim.errors import UnknownElementError
from gridsim.restore._plan_kernels import _node_job_sums, _radial_jobs
from gridsim.restore._schedule_kernels import _restore_times
from gridsim.restore.schedule import (
    STRATEGIES, ScheduleInputError, ScheduleProblem, UnknownStrategyError, _solve_times, make_problem, solve,
)
from gridsim.types import CLASS_ORDER, ElementType

__all__ = [
    "DEFAULT_REPAIR_MIN", "DEFAULT_CREW_SPEED_KMH", "DEFAULT_TRAVEL_FACTOR", "PlanInputError", "PlanWarning",
    "PlanOptions", "RestorationPlan", "plan_restoration", "replan", "etr_for", "node_coordinates",
]

#: Repair minutes per element type when a fault gives none (a utility's
#: typical figures: a cable or overhead-line fault is found, cut out and
#: jointed in about 4 h; a distribution transformer is swapped in about 8 h;
#: a busbar section or a bus-bus switch takes 2-3 h). Override per type with
#: ``PlanOptions(repair_min={"line": 300})`` or per fault with ``repair_min``.
DEFAULT_REPAIR_MIN: dict[ElementType, float] = {
    ElementType.LINE: 240.0,
    ElementType.TRAFO: 480.0,
    ElementType.TRAFO3W: 600.0,
    ElementType.BUS: 180.0,
    ElementType.SWITCH: 120.0,
}
#: Crew driving speed when neither the crew nor model.yaml (``switching.crew_speed_kmh``) gives one.
DEFAULT_CREW_SPEED_KMH = 40.0
#: Road distance / straight-line distance when model.yaml (``switching.travel_factor``) gives none.
DEFAULT_TRAVEL_FACTOR = 1.3


class PlanInputError(ScheduleInputError):
    """Faults, crews or options of a restoration plan are malformed (the message says how to fix it)."""


class PlanWarning(UserWarning):
    """A plan was made with a fallback the user should know about (e.g. no coordinates)."""


# --------------------------------------------------------------------------- options

@dataclass(frozen=True)
class PlanOptions:
    """Options of :func:`plan_restoration` (a dict with these keys is accepted too).

    - ``repair_min``: per element type (``line``, ``trafo``, ``trafo3w``,
      ``bus``, ``switch``) repair minutes overriding :data:`DEFAULT_REPAIR_MIN`;
    - ``crew_speed_kmh`` / ``travel_factor``: defaults for crews that give no
      speed, and road / straight-line distance (else model.yaml ``switching``,
      else 40 km/h and 1.3);
    - ``flisr``: run :func:`gridsim.restore.flisr.plan_flisr` for every fault
      (``flisr_options`` are passed to it) and let its switching restore
      what it can before any repair;
    - ``switched``: instead of running FLISR, the switching already done: a
      mapping fault -> ``SwitchingPlan`` or ``(nodes, restored_min)``
      (topology node ids and minutes after the fault; ``inf`` = waits for repair);
    - ``coords``: ``(n_bus, 2)`` km per row of ``topo.bus_ids`` or
      ``(n_node, 2)`` per topology node, overriding the model's coordinates;
    - ``start_time``: the wall-clock time of ``t = 0`` (ETRs become timestamps);
    - ``strategy_options``: passed to the scheduling strategy (e.g.
      ``{"time_limit_s": 1.0}`` for ``local_search``).
    """

    repair_min: Mapping[str, float] | None = None
    crew_speed_kmh: float | None = None
    travel_factor: float | None = None
    flisr: bool = False
    flisr_options: Any = None
    switched: Mapping[str, Any] | None = None
    coords: Any = None
    start_time: Any = None
    strategy_options: Mapping[str, Any] | None = None


def _options(options: PlanOptions | Mapping | None) -> PlanOptions:
    if options is None:
        return PlanOptions()
    if isinstance(options, PlanOptions):
        return options
    if isinstance(options, Mapping):
        known = {f.name for f in fields(PlanOptions)}
        bad = sorted(set(options) - known)
        if bad:
            raise PlanInputError(f"unknown plan option(s) {', '.join(map(str, bad))}; "
                                 f"known: {', '.join(sorted(known))}")
        return PlanOptions(**options)
    raise PlanInputError(f"options must be a PlanOptions or a dict, got {type(options).__name__}")


def _repair_defaults(opts: PlanOptions) -> dict[ElementType, float]:
    out = dict(DEFAULT_REPAIR_MIN)
    for key, value in (opts.repair_min or {}).items():
        try:
            etype = ElementType(str(key).lower())
        except ValueError:
            raise PlanInputError(f"repair_min has unknown element type {key!r}; use one of "
                                 f"{', '.join(e.value for e in ELEMENT_ORDER)}") from None
        out[etype] = _minutes(value, f"repair_min[{key!r}]")
    return out


def _minutes(value, what: str, *, allow_negative: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise PlanInputError(f"{what} must be a number of minutes, got {value!r}") from None
    if not math.isfinite(v):
        raise PlanInputError(f"{what} must be finite, got {value!r}")
    if v < 0 and not allow_negative:
        raise PlanInputError(f"{what} must be >= 0 minutes, got {v:g}")
    return v


def _timestamp(value) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        t = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise PlanInputError(f"start_time {value!r} is not a date and time; write e.g. 2026-01-05T08:00") from None
    if t is pd.NaT:
        raise PlanInputError("start_time is NaT; give a date and time or None")
    return t


def _switching_meta(topo: Topology, model) -> dict:
    model = model if model is not None else getattr(topo, "model", None)
    meta = getattr(model, "meta", None) or {}
    return dict(meta.get("switching") or {})


# --------------------------------------------------------------------------- coordinates

def node_coordinates(topo: Topology, model=None, coords=None) -> np.ndarray:
    """``(n_node, 2)`` x, y in km per topology node (NaN where unknown).

    Taken from ``coords`` (per bus row of ``topo.bus_ids`` or per node) when
    given, else from the topology (``topo.node_xy_km``, filled by
    :func:`compile_topology` from ``net.bus.x / y`` or ``net.bus.geo``), else
    from ``model`` (same rules, :func:`gridsim.model.geo.bus_xy_km`). A virtual
    node (three-winding transformer star) without coordinates takes the mean of
    its neighbours'.
    """
    if coords is not None:
        arr = np.asarray(coords, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] not in (topo.n_bus, topo.n_node):
            raise PlanInputError(f"coords must have shape ({topo.n_bus}, 2) (one x, y in km per bus of "
                                 f"topo.bus_ids) or ({topo.n_node}, 2) (per topology node), got {arr.shape}")
        if arr.shape[0] == topo.n_bus:
            xy = np.full((topo.n_node, 2), np.nan)
            xy[topo.bus_node] = arr
        else:
            xy = arr.copy()
    else:
        xy = getattr(topo, "node_xy_km", None)
        if xy is not None:
            xy = np.array(xy, dtype=np.float64)
        else:
            model = model if model is not None else getattr(topo, "model", None)
            xy = np.full((topo.n_node, 2), np.nan)
            if model is not None:
                from gridsim.model.geo import bus_xy_km
                xy[topo.bus_node] = bus_xy_km(model.net)
    missing = np.flatnonzero(~np.isfinite(xy).all(axis=1) & (topo.node_bus_row < 0))
    for v in missing[missing > 0]:                      # virtual star nodes: mean of their neighbours
        nb = topo.adj_node[topo.indptr[v]:topo.indptr[v + 1]]
        pts = xy[nb][np.isfinite(xy[nb]).all(axis=1)]
        if len(pts):
            xy[v] = pts.mean(axis=0)
    return xy


def _element_xy(topo: Topology, xy: np.ndarray, positions: np.ndarray) -> np.ndarray:
    out = np.full((len(positions), 2), np.nan)
    for i, p in enumerate(positions):
        r = int(topo.elem_ref[p])
        if topo.elem_is_node[p]:
            out[i] = xy[r]
        else:
            ends = xy[[topo.br_from[r], topo.br_to[r]]]
            ends = ends[np.isfinite(ends).all(axis=1)]
            if len(ends):
                out[i] = ends.mean(axis=0)
    return out


def _fill_xy(points: np.ndarray, known: np.ndarray, what: str) -> np.ndarray:
    bad = ~np.isfinite(points).all(axis=1)
    if not bad.any():
        return points
    pts = points.copy()
    ok = known[np.isfinite(known).all(axis=1)]
    if len(ok) == 0:
        warnings.warn(f"no coordinates for {what}: travel times are 0 (give the model bus coordinates, "
                      "net.bus.geo or x / y, or options.coords)", PlanWarning, stacklevel=3)
        pts[bad] = 0.0
    else:
        warnings.warn(f"{int(bad.sum())} {what} without coordinates are placed at the centre of the network",
                      PlanWarning, stacklevel=3)
        pts[bad] = ok.mean(axis=0)
    return pts


# --------------------------------------------------------------------------- inputs

_FAULT_KEYS = {"element", "repair_min", "start_min"}
_CREW_KEYS = {"id", "depot", "speed_kmh", "available_from_min", "shift_end_min"}


def _read_faults(topo: Topology, faults, opts: PlanOptions):
    """Labels, element positions, repair minutes and start minutes of the faults."""
    if isinstance(faults, (str, bytes, Mapping)) or not isinstance(faults, Iterable):
        faults = [faults]
    faults = list(faults)
    if not faults:
        raise PlanInputError("no fault given: name at least one faulted element, e.g. line:17")
    defaults = _repair_defaults(opts)
    refs, repair, start = [], [], []
    for f in faults:
        if isinstance(f, Mapping):
            bad = sorted(set(f) - _FAULT_KEYS)
            if bad or "element" not in f:
                raise PlanInputError(f"fault {dict(f)!r}: give 'element' (e.g. 'line:17') and optionally "
                                     f"'repair_min', 'start_min'" + (f"; unknown key(s) {bad}" if bad else ""))
            ref, rep, st = f["element"], f.get("repair_min"), f.get("start_min")
        elif hasattr(f, "element"):
            ref, rep, st = f.element, getattr(f, "repair_min", None), getattr(f, "start_min", None)
        else:
            ref, rep, st = f, None, None
        refs.append(ref)
        repair.append(rep)
        start.append(st)
    positions = topo.element_positions(refs)
    labels = [topo.element_label(p) for p in positions]
    seen: dict[int, int] = {}
    for i, p in enumerate(positions):
        if int(p) in seen:
            raise PlanInputError(f"fault {labels[i]} is given twice; list every faulted element once")
        seen[int(p)] = i
        r = int(topo.elem_ref[p])
        in_service = topo.node_in_service[r] if topo.elem_is_node[p] else topo.br_in_service[r]
        if not in_service:
            raise PlanInputError(f"{labels[i]} is out of service in model {topo.name!r}: it carries no supply, "
                                 "so there is nothing to repair for customers; drop it from the faults")
    rep_min = np.empty(len(refs))
    start_min = np.zeros(len(refs))
    for i, p in enumerate(positions):
        etype = ELEMENT_ORDER[int(topo.elem_type[p])]
        rep_min[i] = defaults[etype] if repair[i] is None else _minutes(repair[i], f"repair_min of {labels[i]}")
        if start[i] is not None:
            start_min[i] = _minutes(start[i], f"start_min of {labels[i]}", allow_negative=True)
            if start_min[i] > 0:
                raise PlanInputError(f"start_min of {labels[i]} is {start_min[i]:g}: an outage must have begun "
                                     "at or before the planning instant (start_min <= 0, minutes before t = 0)")
    return tuple(labels), positions.astype(np.int64), rep_min, start_min


@dataclass(frozen=True)
class _Crews:
    ids: tuple[str, ...]
    depot: tuple[str, ...]
    xy: np.ndarray
    speed_kmh: np.ndarray
    available_from_min: np.ndarray
    shift_end_min: np.ndarray


def _read_crews(topo: Topology, crews, xy: np.ndarray, speed_default: float) -> _Crews:
    """Crews as arrays; an int N means N crews at the source buses (round robin)."""
    src = np.asarray(topo.source_nodes, dtype=np.int64)

    def bus_label(node: int) -> str:
        row = int(topo.node_bus_row[node])
        return f"bus:{int(topo.bus_ids[row])}" if row >= 0 else f"node:{node}"

    if isinstance(crews, (bool, np.bool_)):
        raise PlanInputError(f"crews must be a number of crews or a list of crews, got {crews!r}")
    if isinstance(crews, (int, np.integer)):
        n = int(crews)
        if n < 1:
            raise PlanInputError(f"no crews: got {n}; give at least one crew (e.g. --crews 2)")
        if len(src) == 0:
            raise PlanInputError(f"model {topo.name!r} has no source bus to put the crews' depot at; "
                                 "give crews with a depot")
        nodes = src[np.arange(n) % len(src)]
        pts = _fill_xy(xy[nodes], xy, "crew depots")
        return _Crews(ids=tuple(f"crew-{k + 1}" for k in range(n)), depot=tuple(bus_label(v) for v in nodes),
                      xy=pts, speed_kmh=np.full(n, speed_default), available_from_min=np.zeros(n),
                      shift_end_min=np.full(n, np.inf))
    if isinstance(crews, Mapping) or not isinstance(crews, Iterable):
        raise PlanInputError("crews must be a number of crews or a list of crews (dicts with depot, speed_kmh, "
                             f"available_from_min, shift_end_min, id), got {type(crews).__name__}")
    crews = list(crews)
    if not crews:
        raise PlanInputError("no crews: give at least one crew")
    bus_index = pd.Index(topo.bus_ids)
    ids, depots, pts, speed, avail, shift = [], [], [], [], [], []
    for k, c in enumerate(crews):
        if not isinstance(c, Mapping):
            c = {key: getattr(c, key) for key in _CREW_KEYS if hasattr(c, key)}
        bad = sorted(set(c) - _CREW_KEYS)
        if bad:
            raise PlanInputError(f"crew {k}: unknown key(s) {bad}; use {', '.join(sorted(_CREW_KEYS))}")
        cid = str(c.get("id", f"crew-{k + 1}"))
        depot = c.get("depot")
        if depot is None:
            if len(src) == 0:
                raise PlanInputError(f"crew {cid}: no depot given and the model has no source bus")
            depots.append(bus_label(int(src[0])))
            pts.append(xy[src[0]])
        elif isinstance(depot, (str, int, np.integer)) and not isinstance(depot, bool):
            text = str(depot)
            bus = text.split(":", 1)[1] if text.startswith("bus:") else text
            try:
                row = bus_index.get_indexer([int(bus)])[0]
            except ValueError:
                row = -1
            if row < 0:
                raise PlanInputError(f"crew {cid}: depot bus {depot!r} does not exist in model {topo.name!r}; "
                                     "give a bus id or (x_km, y_km)")
            depots.append(f"bus:{int(topo.bus_ids[row])}")
            pts.append(xy[topo.bus_node[row]])
        else:
            try:
                x, y = (float(v) for v in depot)
            except (TypeError, ValueError):
                raise PlanInputError(f"crew {cid}: depot must be a bus id or (x_km, y_km), got {depot!r}") from None
            if not (math.isfinite(x) and math.isfinite(y)):
                raise PlanInputError(f"crew {cid}: depot coordinates must be finite, got {depot!r}")
            depots.append(f"({x:g}, {y:g})")
            pts.append((x, y))
        s = c.get("speed_kmh")
        s = speed_default if s is None else _minutes(s, f"speed_kmh of crew {cid}")
        if s <= 0:
            raise PlanInputError(f"speed_kmh of crew {cid} must be > 0, got {s:g}")
        a = _minutes(c.get("available_from_min") or 0.0, f"available_from_min of crew {cid}")
        e = c.get("shift_end_min")
        try:
            e = math.inf if e is None else float(e)
        except (TypeError, ValueError):
            raise PlanInputError(f"shift_end_min of crew {cid} must be a number of minutes, got {e!r}") from None
        if math.isnan(e) or e < a:
            raise PlanInputError(f"shift_end_min of crew {cid} must be >= available_from_min ({a:g}), got {e:g}")
        ids.append(cid)
        speed.append(s)
        avail.append(a)
        shift.append(e)
    if len(set(ids)) != len(ids):
        raise PlanInputError("crew ids must be unique")
    return _Crews(ids=tuple(ids), depot=tuple(depots), xy=_fill_xy(np.asarray(pts, float), xy, "crew depots"),
                  speed_kmh=np.asarray(speed), available_from_min=np.asarray(avail),
                  shift_end_min=np.asarray(shift))


# --------------------------------------------------------------------------- outage structure

@dataclass(frozen=True)
class _Outage:
    """Which nodes the faults cut off and which fault each one waits for."""

    parent: np.ndarray      # (J,) nearest upstream job, -1 none
    nodes: np.ndarray       # lost nodes (supplied before, unsupplied with all faults)
    owner: np.ndarray       # (len(nodes),) nearest fault on the node's path to the source
    radial: bool


def _fault_intervals(topo: Topology, a, positions: np.ndarray) -> np.ndarray:
    """``(J, 2)`` preorder interval of the nodes each fault cuts off (radial operation)."""
    iv = np.zeros((len(positions), 2), np.int64)
    for j, p in enumerate(positions):
        iv[j] = K._fault_interval(topo.elem_is_node[p], topo.elem_ref[p], topo.br_from, topo.br_to,
                                  a.cond, a.pre, a.size, a.parent_branch)
    return iv


def _outage_radial(topo: Topology, a, positions: np.ndarray, iv: np.ndarray | None = None) -> _Outage:
    """Nested preorder intervals: a job's parent is the innermost interval strictly around it
    (``iv``: the faults' intervals when already known, see :func:`_fault_intervals`)."""
    J = len(positions)
    if iv is None:
        iv = _fault_intervals(topo, a, positions)
    parent = np.full(J, -1, np.int64)
    nonempty = np.flatnonzero(iv[:, 1] > iv[:, 0])
    # outer first; for equal intervals (a bus and the branch feeding it) the branch is upstream
    order = nonempty[np.lexsort((topo.elem_is_node[positions[nonempty]], -iv[nonempty, 1], iv[nonempty, 0]))]
    seg_s, seg_z, seg_o = [], [], []
    stack: list[int] = []
    cursor = 0

    def emit(s, z, o):
        if z > s:
            seg_s.append(s)
            seg_z.append(z)
            seg_o.append(o)

    for j in order:
        s, z = int(iv[j, 0]), int(iv[j, 1])
        while stack and iv[stack[-1], 1] <= s:
            top = stack.pop()
            emit(cursor, int(iv[top, 1]), top)
            cursor = int(iv[top, 1])
        if stack:
            emit(cursor, s, stack[-1])
            parent[j] = stack[-1]
        cursor = s
        stack.append(int(j))
    while stack:
        top = stack.pop()
        emit(cursor, int(iv[top, 1]), top)
        cursor = int(iv[top, 1])
    if seg_s:
        lens = np.asarray(seg_z) - np.asarray(seg_s)
        idx = np.concatenate([np.arange(s, z) for s, z in zip(seg_s, seg_z)])
        nodes = np.asarray(a.node_at)[idx].astype(np.int64)
        owner = np.repeat(np.asarray(seg_o, np.int64), lens)
    else:
        nodes = np.zeros(0, np.int64)
        owner = np.zeros(0, np.int64)
    return _Outage(parent=parent, nodes=nodes, owner=owner, radial=True)


def _fault_maps(topo: Topology, positions: np.ndarray) -> tuple[dict, dict]:
    node_job, br_job = {}, {}
    for j, p in enumerate(positions):
        (node_job if topo.elem_is_node[p] else br_job)[int(topo.elem_ref[p])] = j
    return node_job, br_job


def _outage_meshed(topo: Topology, a, positions: np.ndarray) -> _Outage:
    """0-1 BFS from the source where entering a faulted node or crossing a faulted branch costs 1.

    A node's owner is the last fault on a path that crosses the fewest faults
    (the unique path on radial operation); a fault's parent is the owner of the
    side it is first reached from.
    """
    J, n = len(positions), topo.n_node
    node_job, br_job = _fault_maps(topo, positions)
    indptr, adj_node, adj_branch, cond = topo.indptr, topo.adj_node, topo.adj_branch, a.cond
    label = np.full(n, -2, np.int64)       # -2 unreached, -1 reached without crossing a fault
    parent = np.full(J, -1, np.int64)
    job_seen = np.zeros(J, bool)
    dq: deque = deque([(0, 0, -1)])
    while dq:
        v, d, lab = dq.popleft()
        if v >= n:                          # the middle of faulted branch job v - n
            j = v - n
            if job_seen[j]:
                continue
            job_seen[j] = True
            parent[j] = lab
            b = int(topo.elem_ref[positions[j]])
            for w in (int(topo.br_from[b]), int(topo.br_to[b])):
                if label[w] == -2:
                    if w in node_job:
                        dq.append((w, d + 1, j))
                    else:
                        dq.appendleft((w, d, j))
            continue
        if label[v] != -2:
            continue
        if v in node_job:
            j = node_job[v]
            job_seen[j] = True
            parent[j] = lab
            lab = j
        label[v] = lab
        for k in range(indptr[v], indptr[v + 1]):
            b = int(adj_branch[k])
            if not cond[b]:
                continue
            if b in br_job:
                if not job_seen[br_job[b]]:
                    dq.append((n + br_job[b], d + 1, lab))
                continue
            w = int(adj_node[k])
            if label[w] == -2:
                if w in node_job:
                    dq.append((w, d + 1, lab))
                else:
                    dq.appendleft((w, d, lab))
    lost = np.flatnonzero(a.supplied & (label >= 0)).astype(np.int64)
    return _Outage(parent=parent, nodes=lost, owner=label[lost], radial=False)


def _minimax_restore(topo: Topology, a, positions: np.ndarray, finish: np.ndarray) -> np.ndarray:
    """Per node, the first minute it is reachable again: min over paths of the max finish of the
    faults on the path (Dijkstra with max instead of sum). Exact on meshed operation."""
    n = topo.n_node
    node_job, br_job = _fault_maps(topo, positions)
    out = np.full(n, np.inf)
    indptr, adj_node, adj_branch, cond = topo.indptr, topo.adj_node, topo.adj_branch, a.cond
    heap = [(0.0, 0)]
    out[0] = 0.0
    done = np.zeros(n, bool)
    while heap:
        t, v = heapq.heappop(heap)
        if done[v]:
            continue
        done[v] = True
        for k in range(indptr[v], indptr[v + 1]):
            b = int(adj_branch[k])
            if not cond[b]:
                continue
            w = int(adj_node[k])
            tw = t
            if b in br_job:
                tw = max(tw, finish[br_job[b]])
            if w in node_job:
                tw = max(tw, finish[node_job[w]])
            if tw < out[w]:
                out[w] = tw
                heapq.heappush(heap, (tw, w))
    return out


def _job_restore(parent: np.ndarray, finish: np.ndarray) -> np.ndarray:
    """``R_j = max(finish_i, i in ancestors(j) ∪ {j})``."""
    J = len(parent)
    out = np.full(J, np.nan)

    def get(j: int) -> float:
        chain = []
        i = j
        while i >= 0 and np.isnan(out[i]):
            chain.append(i)
            i = int(parent[i])
        r = out[i] if i >= 0 else -np.inf
        for c in reversed(chain):
            r = max(r, finish[c])
            out[c] = r
        return out[j]

    for j in range(J):
        get(j)
    return out


def _effective_start(parent: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Interruption start of a job's customers: the earliest start among the job and its ancestors."""
    return -_job_restore(parent, -start)


# --------------------------------------------------------------------------- switching

def _switched_by_fault(topo: Topology, labels, positions, state, opts: PlanOptions) -> dict[int, tuple]:
    """job -> (nodes, restored_min after the fault) of the switching done for it."""
    if opts.switched is not None and opts.flisr:
        raise PlanInputError("give either options.flisr or options.switched, not both")
    out: dict[int, tuple] = {}
    if opts.switched is not None:
        if not isinstance(opts.switched, Mapping):
            raise PlanInputError("options.switched must map a fault (e.g. 'line:17') to its switching plan "
                                 "or to (nodes, restored_min)")
        job_of = {int(p): j for j, p in enumerate(positions)}
        for key, value in opts.switched.items():
            p = int(topo.element_positions([key])[0])
            if p not in job_of:
                raise PlanInputError(f"options.switched names {topo.element_label(p)}, which is not among "
                                     f"the faults ({', '.join(labels)})")
            out[job_of[p]] = _switch_arrays(topo, value, topo.element_label(p))
        return out
    if opts.flisr:
        try:
            from gridsim.restore.flisr import plan_flisr
        except ImportError:
            raise PlanInputError("FLISR (gridsim.restore.flisr.plan_flisr) is not available in this "
                                 "installation; plan without options.flisr") from None
        for j, lab in enumerate(labels):
            sp = plan_flisr(topo, lab, state=state, options=opts.flisr_options)
            out[j] = _switch_arrays(topo, sp, lab)
    return out


def _switch_arrays(topo: Topology, value, label: str) -> tuple[np.ndarray, np.ndarray]:
    if hasattr(value, "nodes") and hasattr(value, "restored_min"):
        nodes, rmin = value.nodes, value.restored_min
    else:
        try:
            nodes, rmin = value
        except (TypeError, ValueError):
            raise PlanInputError(f"switching for {label}: give a SwitchingPlan or (nodes, restored_min)") from None
    nodes = np.asarray(nodes, dtype=np.int64).reshape(-1)
    rmin = np.asarray(rmin, dtype=np.float64).reshape(-1)
    if nodes.shape != rmin.shape:
        raise PlanInputError(f"switching for {label}: {len(nodes)} nodes but {len(rmin)} restored_min values")
    if nodes.size and (nodes.min() < 0 or nodes.max() >= topo.n_node):
        raise PlanInputError(f"switching for {label}: node ids must be in 0..{topo.n_node - 1}")
    if np.isnan(rmin).any() or (rmin < 0).any():
        raise PlanInputError(f"switching for {label}: restored_min must be >= 0 (inf = waits for repair)")
    return nodes, rmin


# --------------------------------------------------------------------------- the plan

@dataclass(frozen=True, eq=False)
class RestorationPlan:
    """The result of :func:`plan_restoration` / :func:`replan`.

    **Jobs** (one per fault, in the order given; arrays indexed by job):
    ``faults`` (labels such as ``line:17``), ``parent`` (nearest upstream
    fault, -1 none), ``repair_min``, ``fault_start_min`` (when the outage
    began), ``crew`` (position in ``crew_ids``; -1 = reported done outside the
    plan), ``travel_min`` / ``start_min`` / ``finish_min`` (drive, repair
    start, repair end), ``etr_min`` (when the customers waiting for this
    repair are back: the last repair on their path), ``customers`` (waiting
    for the repair), ``customers_switched`` (the job's customers brought back
    by switching), ``critical`` and ``status`` (``done`` / ``in_progress`` /
    ``planned`` at ``planned_at_min``).

    **Crews**: ``crew_ids``, ``crew_depot``, ``routes`` (per crew, its ordered jobs).

    **Nodes** that lose supply (topology node ids): ``nodes``, ``node_job``
    (the fault they wait for, -1 = only interrupted until switching),
    ``node_start_min``, ``node_etr_min``, ``node_switched`` (back by switching).

    **Objective values** (minutes from each interruption's start):
    ``weighted_cmi`` (Σ priority weight x minutes, what the strategies
    minimise), ``cmi`` (customer minutes interrupted, switching-restored
    customers included), ``customer_h_by_class`` / ``critical_h_by_class``
    (customer hours per class), ``makespan_min`` (last repair end),
    ``overtime_min`` (past the crews' shift ends).
    """

    topo: Topology = field(repr=False)
    state: State = field(repr=False)
    strategy: str
    planned_at_min: float
    start_time: pd.Timestamp | None
    radial: bool
    faults: tuple[str, ...]
    fault_positions: np.ndarray = field(repr=False)
    parent: np.ndarray = field(repr=False)
    repair_min: np.ndarray = field(repr=False)
    fault_start_min: np.ndarray = field(repr=False)
    job_xy_km: np.ndarray = field(repr=False)
    weight: np.ndarray = field(repr=False)
    customers: np.ndarray = field(repr=False)
    customers_switched: np.ndarray = field(repr=False)
    critical: np.ndarray = field(repr=False)
    critical_by_class: np.ndarray = field(repr=False)
    crew: np.ndarray = field(repr=False)
    travel_min: np.ndarray = field(repr=False)
    start_min: np.ndarray = field(repr=False)
    finish_min: np.ndarray = field(repr=False)
    etr_min: np.ndarray = field(repr=False)
    status: tuple[str, ...] = field(repr=False)
    crew_ids: tuple[str, ...]
    crew_depot: tuple[str, ...] = field(repr=False)
    crew_xy_km: np.ndarray = field(repr=False)
    crew_speed_kmh: np.ndarray = field(repr=False)
    crew_available_from_min: np.ndarray = field(repr=False)
    crew_shift_end_min: np.ndarray = field(repr=False)
    travel_factor: float = field(repr=False)
    routes: tuple[np.ndarray, ...] = field(repr=False)
    nodes: np.ndarray = field(repr=False)
    node_job: np.ndarray = field(repr=False)
    node_start_min: np.ndarray = field(repr=False)
    node_etr_min: np.ndarray = field(repr=False)
    node_switched: np.ndarray = field(repr=False)
    weighted_cmi: float
    cmi: float
    customer_h_by_class: dict[str, float]
    critical_h_by_class: dict[str, float]
    makespan_min: float
    overtime_min: float
    options: PlanOptions = field(repr=False)
    _node_pos: dict = field(default_factory=dict, repr=False)

    @property
    def n_jobs(self) -> int:
        return len(self.faults)

    # ---------------------------------------------------------------- ETR
    def _time(self, minutes: float):
        if self.start_time is None or not math.isfinite(minutes):
            return float(minutes)
        return self.start_time + pd.Timedelta(minutes=float(minutes))

    def _node_index(self) -> np.ndarray:
        idx = self._node_pos.get("index")
        if idx is None:
            idx = np.full(self.topo.n_node, -1, np.int64)
            idx[self.nodes] = np.arange(len(self.nodes))
            self._node_pos["index"] = idx
        return idx

    def etr_for(self, customer_id) -> float | pd.Timestamp | None:
        """ETR of one customer: minutes on the plan's clock (a timestamp when the plan has a
        ``start_time``); ``None`` when the customer does not lose supply. Customers brought back
        by switching get their switching time. Unknown ids raise :class:`UnknownElementError`."""
        row = pd.Index(self.topo.cust_ids).get_indexer([str(customer_id)])[0]
        if row < 0:
            raise UnknownElementError(f"customer {customer_id!r} does not exist in model {self.topo.name!r}")
        i = self._node_index()[int(self.topo.cust_node[row])]
        if i < 0:
            return None
        return self._time(self.node_etr_min[i])

    # ---------------------------------------------------------------- frames
    def routes_frame(self) -> pd.DataFrame:
        """One row per (crew, job) in route order: travel, repair start and finish, the outage's ETR."""
        rows = []
        for k, jobs in enumerate(self.routes):
            for pos, j in enumerate(jobs):
                rows.append({"crew": self.crew_ids[k], "position": pos, "fault": self.faults[j],
                             "status": self.status[j], "travel_min": self.travel_min[j],
                             "start_min": self.start_min[j], "finish_min": self.finish_min[j],
                             "etr_min": self.etr_min[j], "customers": int(self.customers[j]),
                             "critical": int(self.critical[j])})
        cols = ["crew", "position", "fault", "status", "travel_min", "start_min", "finish_min", "etr_min",
                "customers", "critical"]
        return pd.DataFrame(rows, columns=cols)

    def outages_frame(self) -> pd.DataFrame:
        """One row per fault: upstream fault, crew, repair window, ETR and customers."""
        crew = np.asarray(["" if c < 0 else self.crew_ids[c] for c in self.crew], dtype=object)
        return pd.DataFrame({
            "fault": list(self.faults),
            "upstream": ["" if p < 0 else self.faults[p] for p in self.parent],
            "status": list(self.status),
            "crew": crew,
            "repair_min": self.repair_min,
            "start_min": self.start_min,
            "finish_min": self.finish_min,
            "etr_min": self.etr_min,
            "customers": self.customers.astype(np.int64),
            "customers_switched": self.customers_switched.astype(np.int64),
            "critical": self.critical.astype(np.int64),
        })

    def customers_frame(self) -> pd.DataFrame:
        """One row per customer (table row) that loses supply: its fault, ETR and how it comes back."""
        topo = self.topo
        idx = self._node_index()[topo.cust_node]
        rows = np.flatnonzero(idx >= 0)
        i = idx[rows]
        job = self.node_job[i]
        return pd.DataFrame({
            "customer_id": topo.cust_ids[rows].astype(str),
            "class": [CLASS_ORDER[int(c)].value for c in topo.cust_class[rows]],
            "count": topo.cust_count[rows],
            "bus": topo.bus_ids[topo.node_bus_row[topo.cust_node[rows]]],
            "fault": ["" if j < 0 else self.faults[j] for j in job],
            "restored_by": np.where(self.node_switched[i], "switching", "repair"),
            "start_min": self.node_start_min[i],
            "etr_min": self.node_etr_min[i],
        })

    def to_dict(self, *, customers: bool = False) -> dict:
        """JSON-ready dict: ``objective``, ``outages``, ``crews`` (routes) and, with
        ``customers=True``, ``customers`` (every customer that loses supply and its ETR)."""
        def num(v):
            v = float(v)
            return round(v, 3) if math.isfinite(v) else None

        def when(v):
            t = self._time(v)
            return num(t) if isinstance(t, float) else t.isoformat()

        outages = []
        for j, lab in enumerate(self.faults):
            outages.append({
                "fault": lab, "upstream": None if self.parent[j] < 0 else self.faults[self.parent[j]],
                "status": self.status[j], "crew": None if self.crew[j] < 0 else self.crew_ids[self.crew[j]],
                "repair_min": num(self.repair_min[j]), "fault_start_min": num(self.fault_start_min[j]),
                "start_min": num(self.start_min[j]), "finish_min": num(self.finish_min[j]),
                "etr_min": num(self.etr_min[j]), "etr": when(self.etr_min[j]),
                "customers": int(self.customers[j]), "customers_switched": int(self.customers_switched[j]),
                "critical": int(self.critical[j]),
            })
        crews = []
        for k, cid in enumerate(self.crew_ids):
            crews.append({
                "crew": cid, "depot": self.crew_depot[k], "speed_kmh": num(self.crew_speed_kmh[k]),
                "available_from_min": num(self.crew_available_from_min[k]),
                "jobs": [{"fault": self.faults[j], "travel_min": num(self.travel_min[j]),
                          "start_min": num(self.start_min[j]), "finish_min": num(self.finish_min[j])}
                         for j in self.routes[k]],
            })
        d = {
            "strategy": self.strategy,
            "planned_at_min": num(self.planned_at_min),
            "start_time": None if self.start_time is None else self.start_time.isoformat(),
            "radial": self.radial,
            "objective": {
                "weighted_cmi": num(self.weighted_cmi), "cmi": num(self.cmi),
                "customer_h_by_class": {k: num(v) for k, v in self.customer_h_by_class.items()},
                "critical_h_by_class": {k: num(v) for k, v in self.critical_h_by_class.items()},
                "makespan_min": num(self.makespan_min), "overtime_min": num(self.overtime_min),
            },
            "customers_interrupted": int(self.topo.node_cust[self.nodes].sum()),
            "customers_switched": int(self.topo.node_cust[self.nodes[self.node_switched]].sum()),
            "outages": outages,
            "crews": crews,
        }
        if customers:
            cf = self.customers_frame()
            d["customers"] = [{"customer_id": r["customer_id"], "class": r["class"], "count": int(r["count"]),
                               "fault": r["fault"] or None, "restored_by": r["restored_by"],
                               "etr_min": num(r["etr_min"]), "etr": when(r["etr_min"])}
                              for r in cf.to_dict("records")]
        return d


def etr_for(plan: RestorationPlan, customer_id) -> float | pd.Timestamp | None:
    """ETR of ``customer_id`` in ``plan`` (see :meth:`RestorationPlan.etr_for`)."""
    return plan.etr_for(customer_id)


# --------------------------------------------------------------------------- planner

def plan_restoration(topo: Topology, faults, crews, *, strategy: str = "wspt",
                     options: PlanOptions | Mapping | None = None, state: State | None = None,
                     model=None) -> RestorationPlan:
    """Plan the repair of ``faults`` by ``crews``: routes, ETRs and objective values.

    ``faults``: element references (``"line:17"``) or dicts / objects with
    ``element`` and optional ``repair_min`` (else :data:`DEFAULT_REPAIR_MIN`
    per type) and ``start_min`` (<= 0: the outage began that many minutes
    before the planning instant). ``crews``: a number N (N crews at the
    source buses, round robin) or a list of dicts with ``depot`` (bus id or
    ``(x_km, y_km)``), ``speed_kmh``, ``available_from_min``,
    ``shift_end_min``, ``id``. ``strategy``: a name in
    :data:`~gridsim.restore.schedule.STRATEGIES`. ``state``: the network's
    switch state before the faults (default: as loaded). ``model``: where to
    take coordinates and model.yaml settings from when the topology does not
    carry them.
    """
    opts = _options(options)
    if strategy not in STRATEGIES:
        raise UnknownStrategyError(f"unknown scheduling strategy {strategy!r}; known: {', '.join(sorted(STRATEGIES))}")
    state = topo.check_state(state)
    # 1. faults -> jobs
    labels, positions, repair, fstart = _read_faults(topo, faults, opts)
    pos_set = set(int(p) for p in positions)
    if pos_set & set(state.faulted):        # the planned faults are what we repair: analyse the state without them
        state = State(state.switch_closed, tuple(p for p in state.faulted if p not in pos_set))
    meta = _switching_meta(topo, model)
    speed = opts.crew_speed_kmh if opts.crew_speed_kmh is not None else meta.get("crew_speed_kmh",
                                                                                  DEFAULT_CREW_SPEED_KMH)
    speed = _minutes(speed, "crew_speed_kmh")
    tf = opts.travel_factor if opts.travel_factor is not None else meta.get("travel_factor", DEFAULT_TRAVEL_FACTOR)
    tf = _minutes(tf, "travel_factor")
    xy = node_coordinates(topo, model, opts.coords)
    job_xy = _fill_xy(_element_xy(topo, xy, positions), xy, "faulted elements")
    cr = _read_crews(topo, crews, xy, speed)
    # 2. outage structure
    a = topo.analysis(state)
    out = _outage_radial(topo, a, positions) if a.radial else _outage_meshed(topo, a, positions)
    # 3. switching
    switched = _switched_by_fault(topo, labels, positions, state, opts)
    nd = _node_data(topo, out, switched, fstart)
    # 4. solve
    problem = make_problem(
        x_km=job_xy[:, 0], y_km=job_xy[:, 1], repair_min=repair, weight=nd["weight"],
        customers=nd["customers"], critical_by_class=nd["crit_by_class"], parent=out.parent,
        crew_x_km=cr.xy[:, 0], crew_y_km=cr.xy[:, 1], crew_speed_kmh=cr.speed_kmh,
        crew_available_from_min=cr.available_from_min, crew_shift_end_min=cr.shift_end_min,
        travel_factor=tf, job_ids=np.asarray(labels, dtype=object), crew_ids=np.asarray(cr.ids, dtype=object),
    )
    sched = solve(problem, strategy, options=opts.strategy_options)
    # 5. assign back
    start_time = _timestamp(opts.start_time)
    return _assemble(
        topo=topo, state=state, a=a, strategy=strategy, planned_at_min=0.0, start_time=start_time, out=out,
        nd=nd, labels=labels, positions=positions, repair=repair, fstart=fstart, job_xy=job_xy, crews=cr,
        travel_factor=tf, crew=sched.crew, travel=sched.travel_min, start=sched.start_min,
        finish=sched.finish_min, routes=tuple(r.jobs for r in sched.routes),
        status=("planned",) * len(labels), opts=opts,
    )


@dataclass(frozen=True, eq=False)
class _Replan:
    """What :meth:`_Replanner.plan` returns: the parts of a :class:`RestorationPlan` a re-planning
    loop reads (per job, in the order of the jobs given)."""

    routes: tuple[np.ndarray, ...]
    crew_ids: tuple[str, ...]
    travel_min: np.ndarray
    start_min: np.ndarray
    finish_min: np.ndarray
    etr_min: np.ndarray
    job_xy_km: np.ndarray


class _Replanner:
    """:func:`plan_restoration` again and again on subsets of one list of faults: the scenario
    simulator re-plans its crews at every fault arrival.

    Only for what the simulator passes: the network as loaded, the switching given per fault
    (``options.switched``), ``options.strategy_options``, every other option at its default. The
    per-fault work of :func:`plan_restoration` (reading and checking the faults, their locations and
    preorder intervals, the switching arrays) is done once here; :meth:`plan` then runs the same
    steps 2-4 on the subset (outage structure, node data, the same :class:`ScheduleProblem`, the same
    strategy) and the job ETRs of step 5, so its routes, times and ETRs are those of
    :func:`plan_restoration` on the same input. Radial operation only: ``ok`` is False otherwise
    (use :func:`plan_restoration`).
    """

    def __init__(self, topo: Topology, faults: Iterable, repair_min: Iterable[float], switched: Iterable,
                 *, model=None):
        self.topo = topo
        self.state = topo.check_state(None)
        self.a = topo.analysis(self.state)
        self.ok = bool(self.a.radial)
        opts = PlanOptions()
        self.labels, self.positions, self.repair, _ = _read_faults(
            topo, [{"element": f, "repair_min": r} for f, r in zip(faults, repair_min)], opts)
        meta = _switching_meta(topo, model)
        self.speed_kmh = _minutes(meta.get("crew_speed_kmh", DEFAULT_CREW_SPEED_KMH), "crew_speed_kmh")
        self.travel_factor = _minutes(meta.get("travel_factor", DEFAULT_TRAVEL_FACTOR), "travel_factor")
        self.xy = node_coordinates(topo, model, None)
        self.job_xy = _fill_xy(_element_xy(topo, self.xy, self.positions), self.xy, "faulted elements")
        self.switched = [None if sw is None else _switch_arrays(topo, sw, lab)
                         for sw, lab in zip(switched, self.labels)]
        if self.ok:             # the arrays of the kernel that gives steps 2 and 3 per subset
            self.iv = _fault_intervals(topo, self.a, self.positions)
            self.is_node = np.asarray(topo.elem_is_node, np.int64)[self.positions]
            self.node_at = np.ascontiguousarray(self.a.node_at, np.int64)
            sw = [(np.zeros(0, np.int64), np.zeros(0)) if x is None else x for x in self.switched]
            self.sw_ptr = np.zeros(len(sw) + 1, np.int64)
            np.cumsum([len(n) for n, _ in sw], out=self.sw_ptr[1:])
            self.sw_nodes = np.concatenate([n for n, _ in sw]) if sw else np.zeros(0, np.int64)
            self.sw_rmin = np.concatenate([r for _, r in sw]) if sw else np.zeros(0)
            self.crit_cols = np.asarray([CLASS_ORDER.index(c) for c in topo.critical_classes], np.int64)
            self.ws = np.full(topo.n_node, -1, np.int64)

    def read_crews(self, crews) -> _Crews:
        """The crews as :func:`plan_restoration` reads them (a number or a list of dicts)."""
        return _read_crews(self.topo, crews, self.xy, self.speed_kmh)

    def plan(self, jobs, start_min, crews: _Crews, strategy: str, strategy_options=None) -> _Replan:
        """Plan the repair of faults ``jobs`` (indices into the faults given, in job order) whose
        outages began at ``start_min`` (<= 0), by ``crews``."""
        topo = self.topo
        jobs = np.asarray(jobs, np.int64)
        fstart = np.asarray(start_min, np.float64)
        if (fstart > 0).any():
            raise PlanInputError("start_min must be <= 0: an outage must have begun at or before the planning "
                                 "instant")
        # steps 2 and 3 (_outage_radial, _node_data) in one kernel: precedence and per-job sums
        J = len(jobs)
        parent = np.empty(J, np.int64)
        weight, customers = np.zeros(J), np.zeros(J)
        crit_by_class = np.zeros((J, len(CLASS_ORDER)))
        _radial_jobs(jobs, self.iv, self.is_node, self.node_at, self.sw_ptr, self.sw_nodes, self.sw_rmin, fstart,
                     topo.node_weighted, topo.node_cust, topo.node_class, self.crit_cols, self.ws,
                     parent, weight, customers, crit_by_class)
        job_xy = self.job_xy[jobs]
        labels = [self.labels[i] for i in jobs.tolist()]
        # make_problem's problem without its checks: every input was checked in __init__ / read_crews
        # or is built here from checked data (weights >= 0, parent a forest, crews available >= 0)
        problem = ScheduleProblem._trusted(
            x_km=job_xy[:, 0], y_km=job_xy[:, 1], repair_min=self.repair[jobs], weight=weight,
            customers=customers, critical_by_class=crit_by_class, parent=parent,
            crew_x_km=crews.xy[:, 0], crew_y_km=crews.xy[:, 1], crew_speed_kmh=crews.speed_kmh,
            crew_available_from_min=crews.available_from_min, crew_shift_end_min=crews.shift_end_min,
            travel_factor=self.travel_factor, job_ids=np.asarray(labels, dtype=object),
            crew_ids=np.asarray(crews.ids, dtype=object),
        )
        routes, travel, start, finish = _solve_times(problem, strategy, strategy_options)
        # step 5's job ETRs: on radial operation the last repair on the path of the job's customers
        # (_job_etr: R_j = _job_restore, for the jobs with customers waiting and the others alike)
        job_etr = np.zeros(J)
        _restore_times(finish, problem.parent, problem.pre_order, job_etr)
        return _Replan(routes=tuple(routes), crew_ids=crews.ids, travel_min=travel, start_min=start,
                       finish_min=finish, etr_min=job_etr, job_xy_km=job_xy)


def _node_data(topo: Topology, out: _Outage, switched: dict, fstart: np.ndarray, *, extras: bool = True) -> dict:
    """Per lost / interrupted node: owner, start, switching time; per job: weights and customers.

    A lost node's switching time counts only from the plan of the fault it waits for (its owner);
    nodes in a plan that are not lost (upstream of the fault: back by reclosing / isolation) are the
    *extra* nodes, interrupted from the earliest such fault to the latest switching time, in order of
    first appearance (``extras=False`` leaves them out: the schedule does not need them)."""
    J = len(out.parent)
    nodes, owner = np.ascontiguousarray(out.nodes, np.int64), np.ascontiguousarray(out.owner, np.int64)
    jobs = list(switched)
    sw = [(np.asarray(switched[j][0], np.int64).reshape(-1), np.asarray(switched[j][1], np.float64).reshape(-1))
          for j in jobs]
    sw_ptr = np.zeros(len(jobs) + 1, np.int64)
    np.cumsum([len(x) for x, _ in sw], out=sw_ptr[1:])
    sw_nodes = np.concatenate([x for x, _ in sw]) if sw else np.zeros(0, np.int64)
    sw_rmin = np.concatenate([r for _, r in sw]) if sw else np.zeros(0)
    fstart = np.ascontiguousarray(fstart, np.float64)
    sw_time = np.full(len(nodes), np.inf)
    weight, customers, customers_switched = np.zeros(J), np.zeros(J), np.zeros(J)
    crit_by_class = np.zeros((J, len(CLASS_ORDER)))
    crit_cols = np.asarray([CLASS_ORDER.index(c) for c in topo.critical_classes], np.int64)
    _node_job_sums(nodes, owner, J, sw_ptr, np.asarray(jobs, np.int64), sw_nodes, sw_rmin, fstart,
                   topo.node_weighted, topo.node_cust, topo.node_class, crit_cols,
                   sw_time, weight, customers, customers_switched, crit_by_class)
    # nodes in a plan that are not lost: upstream of the fault, back by reclosing / isolation
    extra_nodes, extra_start, extra_end = np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
    if extras and len(sw_nodes):
        job_of = np.repeat(np.asarray(jobs, np.int64), np.diff(sw_ptr))
        inside = np.isin(sw_nodes, nodes)
        ex = ~inside & np.isfinite(sw_rmin) & (sw_nodes > 0)
        if ex.any():
            v = sw_nodes[ex]
            uniq, first, inv = np.unique(v, return_index=True, return_inverse=True)
            st = np.full(len(uniq), np.inf)
            en = np.full(len(uniq), -np.inf)
            np.minimum.at(st, inv, fstart[job_of[ex]])
            np.maximum.at(en, inv, fstart[job_of[ex]] + sw_rmin[ex])
            o = np.argsort(first, kind="stable")        # order of first appearance
            extra_nodes, extra_start, extra_end = uniq[o].astype(np.int64), st[o], en[o]
    node_start = _effective_start(out.parent, fstart)[owner] if len(nodes) else np.zeros(0)
    return {
        "weight": weight, "customers": customers, "customers_switched": customers_switched,
        "crit_by_class": crit_by_class, "node_start": node_start, "sw_time": sw_time,
        "extra_nodes": extra_nodes, "extra_start": extra_start, "extra_end": extra_end,
    }


def _job_etr(topo: Topology, a, out: _Outage, nd: dict, positions: np.ndarray, finish: np.ndarray):
    """(ETR per lost node, whether it is back by switching, its ETR by repair, ETR per job)."""
    J = len(out.parent)
    restore = _job_restore(out.parent, finish)
    nodes, owner, sw_time = out.nodes, out.owner, nd["sw_time"]
    if out.radial:
        repair_etr = restore[owner] if len(nodes) else np.zeros(0)
    else:
        repair_etr = _minimax_restore(topo, a, positions, finish)[nodes]
    switched = np.isfinite(sw_time)
    etr = np.where(switched, sw_time, repair_etr)
    # the outage's ETR: its last customer waiting for repair (the forest's R_j when it has none)
    job_etr = restore.copy()
    keep = ~switched
    if keep.any():
        last = np.full(J, -np.inf)
        np.maximum.at(last, owner[keep], repair_etr[keep])
        has = np.bincount(owner[keep], minlength=J) > 0
        job_etr[has] = last[has]
    return etr, switched, job_etr


def _assemble(*, topo, state, a, strategy, planned_at_min, start_time, out, nd, labels, positions, repair,
              fstart, job_xy, crews: _Crews, travel_factor, crew, travel, start, finish, routes, status,
              opts) -> RestorationPlan:
    """Times per job -> ETR per node and outage, objective values, the plan."""
    J = len(labels)
    finish = np.asarray(finish, np.float64)
    nodes, owner = out.nodes, out.owner
    etr, switched, job_etr = _job_etr(topo, a, out, nd, positions, finish)
    # nodes interrupted only until switching (upstream of a fault, back by reclosing)
    all_nodes = np.concatenate([nodes, nd["extra_nodes"]]).astype(np.int64)
    all_job = np.concatenate([owner, np.full(len(nd["extra_nodes"]), -1, np.int64)])
    all_start = np.concatenate([nd["node_start"], nd["extra_start"]])
    all_etr = np.concatenate([etr, nd["extra_end"]])
    all_sw = np.concatenate([switched, np.ones(len(nd["extra_nodes"]), bool)])
    minutes = np.maximum(all_etr - all_start, 0.0)
    cls = topo.node_class[all_nodes].astype(np.float64)
    hours = cls.T @ minutes / 60.0 if len(all_nodes) else np.zeros(len(CLASS_ORDER))
    present = cls.sum(axis=0) > 0 if len(all_nodes) else np.zeros(len(CLASS_ORDER), bool)
    crit_names = {c.value for c in topo.critical_classes}
    by_class = {c.value: float(hours[i]) for i, c in enumerate(CLASS_ORDER) if present[i]}
    crew = np.asarray(crew, np.int64)
    overtime = 0.0
    for k, jobs in enumerate(routes):
        if len(jobs):
            overtime += max(0.0, float(finish[jobs].max() - crews.shift_end_min[k]))
    return RestorationPlan(
        topo=topo, state=state, strategy=strategy, planned_at_min=float(planned_at_min), start_time=start_time,
        radial=out.radial, faults=tuple(labels), fault_positions=_ro(np.asarray(positions, np.int64)),
        parent=_ro(out.parent), repair_min=_ro(np.asarray(repair, np.float64)),
        fault_start_min=_ro(np.asarray(fstart, np.float64)), job_xy_km=_ro(job_xy), weight=_ro(nd["weight"]),
        customers=_ro(nd["customers"]), customers_switched=_ro(nd["customers_switched"]),
        critical=_ro(nd["crit_by_class"].sum(axis=1)), critical_by_class=_ro(nd["crit_by_class"]),
        crew=_ro(crew), travel_min=_ro(np.asarray(travel, np.float64)), start_min=_ro(np.asarray(start, np.float64)),
        finish_min=_ro(finish), etr_min=_ro(job_etr), status=tuple(status),
        crew_ids=crews.ids, crew_depot=crews.depot, crew_xy_km=_ro(crews.xy), crew_speed_kmh=_ro(crews.speed_kmh),
        crew_available_from_min=_ro(crews.available_from_min), crew_shift_end_min=_ro(crews.shift_end_min),
        travel_factor=float(travel_factor), routes=tuple(_ro(np.asarray(r, np.int64)) for r in routes),
        nodes=_ro(all_nodes), node_job=_ro(all_job), node_start_min=_ro(all_start), node_etr_min=_ro(all_etr),
        node_switched=_ro(all_sw),
        weighted_cmi=float(topo.node_weighted[all_nodes] @ minutes),
        cmi=float(topo.node_cust[all_nodes] @ minutes),
        customer_h_by_class=by_class,
        critical_h_by_class={k: v for k, v in by_class.items() if k in crit_names},
        makespan_min=float(finish.max()) if J else 0.0,
        overtime_min=overtime, options=opts,
    )


# --------------------------------------------------------------------------- replan

def replan(plan: RestorationPlan, *, now_min: float, delays: Mapping[str, float] | None = None,
           repair_updates: Mapping[str, float] | None = None, done: Iterable[str] | None = None,
           strategy: str | None = None, strategy_options: Mapping[str, Any] | None = None) -> RestorationPlan:
    """Re-plan at minute ``now_min`` of the plan's clock with new information.

    - ``delays``: crew id -> minutes the crew loses from now (its job in
      progress, if any, ends that much later; its next jobs start later);
    - ``repair_updates``: fault -> new total repair minutes (a job in
      progress keeps its start and ends at start + new repair, not before
      ``now_min``; a job not started is scheduled with the new duration);
    - ``done``: faults reported repaired by now (a job reported done before
      its crew reached it is recorded without a crew).

    Jobs that end by ``now_min`` on the plan are done; jobs whose crew is on
    the way or repairing stay with that crew; every other job is scheduled
    again (``strategy``, default the plan's) with the crews starting from
    where they are when they become free. The times of the new plan are on
    the same clock (minutes from the original ``t = 0``) and its objective
    values cover the whole outage, past included. Precedence towards a job
    still in progress is not seen by the re-scheduling (its customers' ETRs
    are exact all the same).
    """
    now = _minutes(now_min, "now_min", allow_negative=True)
    if now < plan.planned_at_min:
        raise PlanInputError(f"now_min ({now:g}) is before the plan was made ({plan.planned_at_min:g})")
    strategy = strategy or plan.strategy
    if strategy not in STRATEGIES:
        raise UnknownStrategyError(f"unknown scheduling strategy {strategy!r}; known: {', '.join(sorted(STRATEGIES))}")
    topo = plan.topo
    J, Kc = plan.n_jobs, len(plan.crew_ids)
    job_of = {lab: j for j, lab in enumerate(plan.faults)}

    def job(ref) -> int:
        lab = ref if ref in job_of else topo.element_label(int(topo.element_positions([ref])[0]))
        if lab not in job_of:
            raise PlanInputError(f"{ref} is not a fault of this plan ({', '.join(plan.faults)})")
        return job_of[lab]

    crew_of = {cid: k for k, cid in enumerate(plan.crew_ids)}
    delay = np.zeros(Kc)
    for cid, d in (delays or {}).items():
        if str(cid) not in crew_of:
            raise PlanInputError(f"unknown crew {cid!r}; crews: {', '.join(plan.crew_ids)}")
        delay[crew_of[str(cid)]] += _minutes(d, f"delay of crew {cid}")
    repair = plan.repair_min.copy()
    updated = np.zeros(J, bool)
    for ref, r in (repair_updates or {}).items():
        j = job(ref)
        repair[j] = _minutes(r, f"repair_min of {plan.faults[j]}")
        updated[j] = True
    reported = np.zeros(J, bool)
    for ref in done or ():
        reported[job(ref)] = True

    travel, start, finish = plan.travel_min.copy(), plan.start_min.copy(), plan.finish_min.copy()
    crew = plan.crew.copy()
    status = list(plan.status)
    for j in range(J):
        if status[j] == "done" and updated[j]:
            raise PlanInputError(f"{plan.faults[j]} is already repaired; it cannot get a new repair time")
    for k, route in enumerate(plan.routes):
        blocked = False                 # an earlier job of this crew is not finished at `now`
        for j in (int(x) for x in route):
            if status[j] == "done":
                continue
            started = not blocked and start[j] - travel[j] <= now
            if reported[j]:
                if started:
                    finish[j] = min(finish[j], now)
                    start[j] = min(start[j], finish[j])
                else:                   # done before its crew came: outside the plan
                    crew[j], travel[j], start[j], finish[j] = -1, 0.0, now, now
                status[j] = "done"
                continue
            if not started:
                status[j] = "planned"
                blocked = True
                continue
            if not updated[j] and finish[j] <= now:
                status[j] = "done"      # ended as planned
                continue
            if start[j] > now:          # on the way: the delay pushes the arrival
                start[j] += delay[k]
                finish[j] = start[j] + repair[j]
            else:                       # repairing: the delay and the new duration push the end
                finish[j] = max(start[j] + repair[j], now) + delay[k]
            if finish[j] > now:
                status[j] = "in_progress"
                blocked = True
            else:
                status[j] = "done"
    for j in np.flatnonzero(reported):  # reported done while not on any route
        if status[j] != "done":
            crew[j], travel[j], start[j], finish[j] = -1, 0.0, now, now
            status[j] = "done"

    # where each crew is and when it is free
    routes_old = [list(r) for r in plan.routes]
    kept_routes: list[list[int]] = [[] for _ in range(Kc)]
    free_at = np.maximum(plan.crew_available_from_min, now) + delay
    loc_xy = plan.crew_xy_km.copy()
    for k in range(Kc):
        for j in routes_old[k]:
            if crew[j] == k and status[j] in ("done", "in_progress"):
                kept_routes[k].append(j)
        if kept_routes[k]:
            last = kept_routes[k][-1]
            loc_xy[k] = plan.job_xy_km[last]
            if status[last] == "in_progress":
                free_at[k] = finish[last]
            else:
                free_at[k] = max(now, finish[last]) + delay[k]
    todo = np.asarray([j for j in range(J) if status[j] == "planned"], np.int64)
    if len(todo):
        sub = {int(j): i for i, j in enumerate(todo)}
        sub_parent = np.full(len(todo), -1, np.int64)
        for i, j in enumerate(todo):
            p = int(plan.parent[j])
            while p >= 0 and p not in sub:
                p = int(plan.parent[p])
            sub_parent[i] = sub[p] if p >= 0 else -1
        problem = make_problem(
            x_km=plan.job_xy_km[todo, 0], y_km=plan.job_xy_km[todo, 1], repair_min=repair[todo],
            weight=plan.weight[todo], customers=plan.customers[todo],
            critical_by_class=plan.critical_by_class[todo], parent=sub_parent,
            crew_x_km=loc_xy[:, 0], crew_y_km=loc_xy[:, 1], crew_speed_kmh=plan.crew_speed_kmh,
            crew_available_from_min=free_at,
            crew_shift_end_min=np.maximum(plan.crew_shift_end_min, free_at),
            travel_factor=plan.travel_factor, job_ids=np.asarray(plan.faults, dtype=object)[todo],
            crew_ids=np.asarray(plan.crew_ids, dtype=object),
        )
        sched = solve(problem, strategy, options=strategy_options)
        travel[todo], start[todo], finish[todo] = sched.travel_min, sched.start_min, sched.finish_min
        crew[todo] = sched.crew
        for k, r in enumerate(sched.routes):
            kept_routes[k].extend(int(todo[i]) for i in r.jobs)
    a = topo.analysis(plan.state)
    out = _Outage(parent=np.asarray(plan.parent), nodes=_own_nodes(plan), owner=_own_owner(plan),
                  radial=plan.radial)
    nd = _replan_node_data(plan, out)
    crews = _Crews(ids=plan.crew_ids, depot=plan.crew_depot, xy=np.asarray(plan.crew_xy_km),
                   speed_kmh=np.asarray(plan.crew_speed_kmh),
                   available_from_min=np.asarray(plan.crew_available_from_min),
                   shift_end_min=np.asarray(plan.crew_shift_end_min))
    return _assemble(
        topo=topo, state=plan.state, a=a, strategy=strategy, planned_at_min=now, start_time=plan.start_time,
        out=out, nd=nd, labels=plan.faults, positions=plan.fault_positions, repair=repair,
        fstart=plan.fault_start_min, job_xy=np.asarray(plan.job_xy_km), crews=crews,
        travel_factor=plan.travel_factor, crew=crew, travel=travel, start=start, finish=finish,
        routes=tuple(kept_routes), status=tuple(status), opts=replace(plan.options),
    )


def _own_mask(plan: RestorationPlan) -> np.ndarray:
    return np.asarray(plan.node_job) >= 0


def _own_nodes(plan: RestorationPlan) -> np.ndarray:
    return np.asarray(plan.nodes)[_own_mask(plan)]


def _own_owner(plan: RestorationPlan) -> np.ndarray:
    return np.asarray(plan.node_job)[_own_mask(plan)]


def _replan_node_data(plan: RestorationPlan, out: _Outage) -> dict:
    """The node data of ``plan`` again (switching times do not change when repairs are re-planned)."""
    own = _own_mask(plan)
    sw = np.where(np.asarray(plan.node_switched)[own], np.asarray(plan.node_etr_min)[own], np.inf)
    other = ~own
    return {
        "weight": np.asarray(plan.weight), "customers": np.asarray(plan.customers),
        "customers_switched": np.asarray(plan.customers_switched),
        "crit_by_class": np.asarray(plan.critical_by_class),
        "node_start": np.asarray(plan.node_start_min)[own], "sw_time": sw,
        "extra_nodes": np.asarray(plan.nodes)[other], "extra_start": np.asarray(plan.node_start_min)[other],
        "extra_end": np.asarray(plan.node_etr_min)[other],
    }
