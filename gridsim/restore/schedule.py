"""Crew scheduling: in which order, and by which crew, are faults repaired.

The abstract problem (no network code here; the planner builds it from the
network):

* **Jobs** ``j = 0..J-1`` — one repair each, at ``(x_km[j], y_km[j])``, lasting
  ``repair_min[j]``. ``weight[j]`` is the priority-weighted number of customers
  whose supply comes back when job ``j`` *and all its ancestor jobs* are done,
  ``customers[j]`` the plain count (for CMI) and ``critical_by_class[j, c]`` the
  critical customers of class ``CLASS_ORDER[c]`` among them.
* **Precedence forest** ``parent[j]``: the nearest upstream job (``-1``: none).
  The customers of ``j`` come back at ``R_j = max(C_i for i in ancestors(j) ∪ {j})``
  where ``C_i`` is the completion time of job ``i``. Precedence only acts on
  restoration: a crew *may* repair a downstream job before its upstream job
  is finished (parallel work is allowed), the customers just wait for the
  last repair on their path.
* **Crews** ``k = 0..K-1`` — start at their depot at ``crew_available_from_min[k]``,
  drive at ``crew_speed_kmh[k]`` and do their jobs one after the other:
  travel from the depot (or the previous job), then repair. Jobs are not split.
  Travel time = ``travel_factor`` × straight-line distance / speed
  (``travel_factor`` ≈ 1.3 accounts for winding roads). ``crew_shift_end_min``
  is soft: overtime (last finish − shift end) is reported, not forbidden. A
  crew does not have to return to its depot.

All times are minutes from the planning instant ``t = 0``.

Objective: minimize ``Σ_j weight[j] · R_j`` (priority-weighted customer minutes
interrupted). :func:`evaluate` is the single place where it is computed;
every strategy returns an *assignment* (per crew, the ordered list of its
jobs) and :func:`solve` turns it into a :class:`Schedule` through
:func:`evaluate`.

Pipeline::

    problem = make_problem(x_km=..., ..., crew_speed_kmh=...)    # build (validated)
    schedule = solve(problem, "local_search")                    # solve + evaluate
    schedule.to_frame()                                          # assign back

Strategies are functions ``problem, **options -> assignment`` registered by
name with :func:`register`; see :data:`STRATEGIES`.
"""
from __future__ import annotations

import functools
import inspect
import itertools
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gridsim.core.topology import _ro  # read-only contiguous array, shared helper
from gridsim.errors import GridsimError
# the Numba kernels (pure functions on contiguous arrays); the wrappers here check the inputs
from gridsim.restore._schedule_kernels import (
    _branch_and_bound, _crew_times, _ils_run, _list_order, _preorder, _recompute, _restore_times, _weighted_sum,
    _wspt_order,
)
from gridsim.types import CLASS_ORDER, CustomerClass

__all__ = [
    "ScheduleError", "ScheduleInputError", "UnknownStrategyError", "ProblemTooLargeError",
    "ScheduleProblem", "make_problem", "CrewRoute", "Schedule", "Assignment",
    "evaluate", "solve", "register", "STRATEGIES", "ScheduleWarning",
]

#: Per crew, the ordered job indices it repairs.
Assignment = list[list[int]]


# --------------------------------------------------------------------------- errors
# (candidates for gridsim/errors.py; kept here so this module stands alone)

class ScheduleError(GridsimError):
    """Base class of the crew-scheduling errors."""


class ScheduleInputError(ScheduleError):
    """A scheduling problem or an assignment is malformed (the message says how to fix it)."""


class UnknownStrategyError(ScheduleError):
    """No strategy is registered under the requested name."""


class ProblemTooLargeError(ScheduleError):
    """The exact solver refuses an instance above its size limit."""


# --------------------------------------------------------------------------- problem

def _ids_text(ids: np.ndarray, where: np.ndarray) -> str:
    bad = [str(i) for i in np.asarray(ids)[where][:10]]
    more = f" (+{int(np.count_nonzero(where)) - 10} more)" if np.count_nonzero(where) > 10 else ""
    return ", ".join(bad) + more


#: The per-job and per-crew float arrays of a :class:`ScheduleProblem`.
_F64_FIELDS = ("x_km", "y_km", "repair_min", "weight", "customers", "crew_x_km", "crew_y_km",
               "crew_speed_kmh", "crew_available_from_min", "crew_shift_end_min")


@dataclass(frozen=True, eq=False)
class ScheduleProblem:
    """A crew-scheduling instance: arrays per job and per crew (read-only, validated).

    Build it with :func:`make_problem` (which fills defaults) or directly; the
    constructor checks every array and raises :class:`ScheduleInputError`.
    ``job_ids`` / ``crew_ids`` are the caller's labels (e.g. fault ids), used in
    messages and frames; positions ``0..J-1`` / ``0..K-1`` are used everywhere else.
    """

    x_km: np.ndarray
    y_km: np.ndarray
    repair_min: np.ndarray
    weight: np.ndarray
    customers: np.ndarray
    #: (J, len(CLASS_ORDER)) critical customers per job and class.
    critical_by_class: np.ndarray
    parent: np.ndarray
    crew_x_km: np.ndarray
    crew_y_km: np.ndarray
    crew_speed_kmh: np.ndarray
    crew_available_from_min: np.ndarray
    #: ``inf`` = no shift end.
    crew_shift_end_min: np.ndarray
    travel_factor: float = 1.3
    job_ids: np.ndarray | None = None
    crew_ids: np.ndarray | None = None
    # derived (filled in __post_init__)
    pre_order: np.ndarray = field(init=False, repr=False)   # jobs in preorder of the forest
    pre_pos: np.ndarray = field(init=False, repr=False)     # position of a job in pre_order
    sub_size: np.ndarray = field(init=False, repr=False)    # subtree sizes (job included)
    dist_job_km: np.ndarray = field(init=False, repr=False)    # (J, J)
    dist_depot_km: np.ndarray = field(init=False, repr=False)  # (K, J)
    min_per_km: np.ndarray = field(init=False, repr=False)     # (K,) travel minutes per km

    @property
    def n_jobs(self) -> int:
        return int(self.repair_min.shape[0])

    @property
    def n_crews(self) -> int:
        return int(self.crew_speed_kmh.shape[0])

    @property
    def has_precedence(self) -> bool:
        return bool(np.any(self.parent >= 0))

    @property
    def critical_customers(self) -> np.ndarray:
        """Critical customers per job (all classes of ``critical_by_class`` summed)."""
        return self.critical_by_class.sum(axis=1)

    def subtree_sum(self, values: np.ndarray) -> np.ndarray:
        """``out[j] = Σ values[i]`` over the subtree of ``j`` (``j`` included)."""
        out = np.asarray(values, dtype=np.float64).copy()
        for j in self.pre_order[::-1]:          # children before parents
            if self.parent[j] >= 0:
                out[self.parent[j]] += out[j]
        return out

    def __post_init__(self) -> None:  # noqa: C901 - a flat list of checks reads best
        set_ = object.__setattr__
        for name in _F64_FIELDS:
            try:
                arr = np.asarray(getattr(self, name), dtype=np.float64).reshape(-1)
            except (TypeError, ValueError) as exc:
                raise ScheduleInputError(f"{name} must be numeric: {exc}") from None
            set_(self, name, arr)
        J = self.repair_min.shape[0]
        K = self.crew_speed_kmh.shape[0]
        job_ids = np.arange(J) if self.job_ids is None else np.asarray(self.job_ids).reshape(-1)
        crew_ids = np.arange(K) if self.crew_ids is None else np.asarray(self.crew_ids).reshape(-1)
        if job_ids.shape[0] != J:
            raise ScheduleInputError(f"job_ids has {job_ids.shape[0]} entries, expected one per job ({J})")
        if crew_ids.shape[0] != K:
            raise ScheduleInputError(f"crew_ids has {crew_ids.shape[0]} entries, expected one per crew ({K})")
        set_(self, "job_ids", _ro(job_ids))
        set_(self, "crew_ids", _ro(crew_ids))
        if K == 0:
            raise ScheduleInputError("no crews: give at least one crew (crew_speed_kmh and depot coordinates)")
        for name in ("x_km", "y_km", "weight", "customers"):
            if getattr(self, name).shape[0] != J:
                raise ScheduleInputError(
                    f"{name} has {getattr(self, name).shape[0]} entries, expected one per job ({J})")
        for name in ("crew_x_km", "crew_y_km", "crew_available_from_min", "crew_shift_end_min"):
            if getattr(self, name).shape[0] != K:
                raise ScheduleInputError(
                    f"{name} has {getattr(self, name).shape[0]} entries, expected one per crew ({K})")
        for name in ("x_km", "y_km", "repair_min", "weight", "customers"):
            bad = ~np.isfinite(getattr(self, name))
            if bad.any():
                raise ScheduleInputError(
                    f"{name} is NaN or infinite for job(s) {_ids_text(job_ids, bad)}; give finite values")
        for name in ("crew_x_km", "crew_y_km", "crew_speed_kmh", "crew_available_from_min"):
            bad = ~np.isfinite(getattr(self, name))
            if bad.any():
                raise ScheduleInputError(
                    f"{name} is NaN or infinite for crew(s) {_ids_text(crew_ids, bad)}; give finite values")
        if np.isnan(self.crew_shift_end_min).any():
            raise ScheduleInputError("crew_shift_end_min is NaN; use inf for 'no shift end'")
        for name in ("repair_min", "weight", "customers"):
            bad = getattr(self, name) < 0
            if bad.any():
                raise ScheduleInputError(
                    f"{name} is negative for job(s) {_ids_text(job_ids, bad)}; durations, weights and "
                    "customer counts must be >= 0")
        bad = self.crew_speed_kmh <= 0
        if bad.any():
            raise ScheduleInputError(
                f"crew_speed_kmh must be > 0, got {self.crew_speed_kmh[bad][:5].tolist()} for "
                f"crew(s) {_ids_text(crew_ids, bad)}")
        bad = self.crew_shift_end_min < self.crew_available_from_min
        if bad.any():
            raise ScheduleInputError(
                f"crew(s) {_ids_text(crew_ids, bad)} end their shift before they become available; "
                "check crew_shift_end_min and crew_available_from_min")
        tf = float(self.travel_factor)
        if not (math.isfinite(tf) and tf >= 0):
            raise ScheduleInputError(f"travel_factor must be a finite number >= 0, got {self.travel_factor!r}")
        set_(self, "travel_factor", tf)

        crit = self.critical_by_class
        crit = np.zeros((J, len(CLASS_ORDER))) if crit is None else np.asarray(crit, dtype=np.float64)
        if crit.shape != (J, len(CLASS_ORDER)):
            raise ScheduleInputError(
                f"critical_by_class must have shape (n_jobs, {len(CLASS_ORDER)}) with columns in "
                f"CLASS_ORDER, got {crit.shape}; make_problem also accepts a dict class -> counts")
        if (~np.isfinite(crit)).any() or (crit < 0).any():
            raise ScheduleInputError("critical_by_class must be finite and >= 0")
        set_(self, "critical_by_class", crit)

        try:
            parent_f = np.asarray(self.parent, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            parent_f = np.full(1, np.nan)
        if parent_f.shape != (J,) or not np.all(np.isfinite(parent_f)) or np.any(parent_f % 1 != 0):
            raise ScheduleInputError(f"parent must be {J} integer job positions, one per job (-1 = no "
                                     "upstream job)")
        parent = parent_f.astype(np.int64)
        bad = (parent < -1) | (parent >= J)
        if bad.any():
            raise ScheduleInputError(
                f"parent is out of range for job(s) {_ids_text(job_ids, bad)}: it must be a job "
                f"position 0..{J - 1} or -1 (no upstream job)")
        bad = parent == np.arange(J)
        if bad.any():
            raise ScheduleInputError(f"job(s) {_ids_text(job_ids, bad)} are their own parent; use -1")
        set_(self, "parent", parent)
        pre_order, sub_size = _forest_preorder(parent)
        if pre_order.shape[0] < J:
            seen = np.zeros(J, dtype=bool)
            seen[pre_order] = True
            raise ScheduleInputError(
                f"parent has a cycle through job(s) {_ids_text(job_ids, ~seen)}; the upstream "
                "relation must be a forest (every chain of parents ends at -1)")
        self._derive(pre_order, sub_size)

    def _derive(self, pre_order: np.ndarray, sub_size: np.ndarray) -> None:
        """Fill the derived arrays (preorder positions, distances, minutes per km) and make
        every array read-only."""
        set_ = object.__setattr__
        J = self.repair_min.shape[0]
        pre_pos = np.empty(J, dtype=np.int64)
        pre_pos[pre_order] = np.arange(J)
        set_(self, "pre_order", pre_order)
        set_(self, "pre_pos", pre_pos)
        set_(self, "sub_size", sub_size)

        jx, jy = self.x_km, self.y_km
        set_(self, "dist_job_km", np.hypot(jx[:, None] - jx[None, :], jy[:, None] - jy[None, :]))
        set_(self, "dist_depot_km", np.hypot(self.crew_x_km[:, None] - jx[None, :],
                                              self.crew_y_km[:, None] - jy[None, :]))
        set_(self, "min_per_km", self.travel_factor * 60.0 / self.crew_speed_kmh)
        for name in (*_F64_FIELDS, "critical_by_class", "parent", "pre_order", "pre_pos", "sub_size",
                     "dist_job_km", "dist_depot_km", "min_per_km"):
            set_(self, name, _ro(getattr(self, name)))

    @classmethod
    def _trusted(cls, *, job_ids, crew_ids, travel_factor: float, critical_by_class, parent,
                 **arrays) -> "ScheduleProblem":
        """The problem the constructor makes of inputs that are known to pass its checks (one
        finite value per job / crew, weights >= 0, ``parent`` a forest, ...), without the checks:
        for a planner that builds many problems from data it checked once. ``arrays``: the
        ``_F64_FIELDS``."""
        self = object.__new__(cls)
        set_ = object.__setattr__
        for name in _F64_FIELDS:
            set_(self, name, np.asarray(arrays[name], dtype=np.float64).reshape(-1))
        set_(self, "job_ids", _ro(np.asarray(job_ids).reshape(-1)))
        set_(self, "crew_ids", _ro(np.asarray(crew_ids).reshape(-1)))
        set_(self, "travel_factor", float(travel_factor))
        set_(self, "critical_by_class", np.asarray(critical_by_class, dtype=np.float64))
        parent = np.asarray(parent, dtype=np.int64).reshape(-1)
        set_(self, "parent", parent)
        self._derive(*_forest_preorder(parent))
        return self


def _forest_preorder(parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Preorder of the forest and subtree sizes; jobs on a cycle are left out."""
    return _preorder(np.ascontiguousarray(parent, dtype=np.int64))


def _class_matrix(critical_by_class: Any, n_jobs: int) -> np.ndarray:
    if critical_by_class is None:
        return np.zeros((n_jobs, len(CLASS_ORDER)))
    if isinstance(critical_by_class, Mapping):
        out = np.zeros((n_jobs, len(CLASS_ORDER)))
        for key, counts in critical_by_class.items():
            try:
                cls = CustomerClass(key)
            except ValueError:
                raise ScheduleInputError(
                    f"critical_by_class has unknown class {key!r}; use one of "
                    f"{', '.join(c.value for c in CLASS_ORDER)}") from None
            counts = np.asarray(counts, dtype=np.float64).reshape(-1)
            if counts.shape[0] != n_jobs:
                raise ScheduleInputError(
                    f"critical_by_class[{cls.value!r}] has {counts.shape[0]} entries, expected {n_jobs}")
            out[:, CLASS_ORDER.index(cls)] = counts
        return out
    return np.asarray(critical_by_class, dtype=np.float64)


def make_problem(
    *,
    x_km: Any, y_km: Any, repair_min: Any, weight: Any,
    crew_x_km: Any, crew_y_km: Any, crew_speed_kmh: Any,
    customers: Any = None,
    critical_by_class: Mapping[CustomerClass | str, Any] | np.ndarray | None = None,
    parent: Any = None,
    crew_available_from_min: Any = None,
    crew_shift_end_min: Any = None,
    travel_factor: float = 1.3,
    job_ids: Any = None,
    crew_ids: Any = None,
) -> ScheduleProblem:
    """Build a validated :class:`ScheduleProblem`, filling defaults.

    ``customers`` defaults to zeros (CMI is then 0), ``critical_by_class`` to
    none (a dict ``class -> counts per job`` or a ``(J, len(CLASS_ORDER))``
    array), ``parent`` to ``-1`` (no precedence), ``crew_speed_kmh`` may be a
    scalar, ``crew_available_from_min`` defaults to 0 and ``crew_shift_end_min``
    to no shift end (``inf``; ``None`` entries mean the same).
    """
    repair = np.asarray(repair_min, dtype=np.float64).reshape(-1)
    J = repair.shape[0]
    cx = np.asarray(crew_x_km, dtype=np.float64).reshape(-1)
    K = cx.shape[0]
    speed = np.broadcast_to(np.asarray(crew_speed_kmh, dtype=np.float64), (K,)) \
        if np.ndim(crew_speed_kmh) == 0 else crew_speed_kmh
    avail = np.zeros(K) if crew_available_from_min is None else crew_available_from_min
    if crew_shift_end_min is None:
        shift = np.full(K, np.inf)
    else:
        shift = np.array([np.inf if s is None else s for s in np.asarray(crew_shift_end_min, dtype=object)
                          .reshape(-1)], dtype=np.float64)
    return ScheduleProblem(
        x_km=x_km, y_km=y_km, repair_min=repair, weight=weight,
        customers=np.zeros(J) if customers is None else customers,
        critical_by_class=_class_matrix(critical_by_class, J),
        parent=np.full(J, -1, dtype=np.int64) if parent is None else parent,
        crew_x_km=cx, crew_y_km=crew_y_km, crew_speed_kmh=speed,
        crew_available_from_min=avail, crew_shift_end_min=shift,
        travel_factor=travel_factor, job_ids=job_ids, crew_ids=crew_ids,
    )


# --------------------------------------------------------------------------- schedule

@dataclass(frozen=True)
class CrewRoute:
    """One crew's ordered jobs with travel, repair start and finish (minutes)."""

    crew: int
    jobs: np.ndarray
    travel_min: np.ndarray
    start_min: np.ndarray
    finish_min: np.ndarray
    #: Minutes worked past ``crew_shift_end_min`` (last finish − shift end, >= 0).
    overtime_min: float


@dataclass(frozen=True, eq=False)
class Schedule:
    """The evaluated plan: routes per crew, times per job and the objective values.

    Per job (indexed by job position): ``crew``, ``travel_min`` (drive to the
    job), ``start_min`` (repair starts), ``finish_min`` (``C_j``) and
    ``restore_min`` (``R_j``, when its customers are back). ``weighted_cmi`` is
    the objective ``Σ weight·R`` (weight × minutes), ``cmi`` is
    ``Σ customers·R`` (customer minutes interrupted), ``critical_h_by_class``
    the critical-customer interruption hours per class (classes that occur).
    """

    strategy: str
    routes: tuple[CrewRoute, ...]
    crew: np.ndarray
    travel_min: np.ndarray
    start_min: np.ndarray
    finish_min: np.ndarray
    restore_min: np.ndarray
    weighted_cmi: float
    cmi: float
    critical_h_by_class: dict[CustomerClass, float]
    makespan_min: float
    overtime_min: float

    @property
    def assignment(self) -> Assignment:
        return [r.jobs.tolist() for r in self.routes]

    def to_frame(self, problem: ScheduleProblem | None = None):
        """One row per job (pandas DataFrame), with the caller's ids when ``problem`` is given."""
        import pandas as pd

        J = self.crew.shape[0]
        pos = np.empty(J, dtype=np.int64)
        for r in self.routes:
            pos[r.jobs] = np.arange(r.jobs.shape[0])
        frame = pd.DataFrame({
            "crew": self.crew if problem is None else np.asarray(problem.crew_ids)[self.crew],
            "position": pos,
            "travel_min": self.travel_min, "start_min": self.start_min,
            "finish_min": self.finish_min, "restore_min": self.restore_min,
        }, index=pd.Index(np.arange(J) if problem is None else problem.job_ids, name="job"))
        return frame


def _check_assignment(problem: ScheduleProblem, assignment: Sequence[Sequence[int]]
                      ) -> tuple[np.ndarray, np.ndarray]:
    J, K = problem.n_jobs, problem.n_crews
    if len(assignment) != K:
        raise ScheduleInputError(f"the assignment has {len(assignment)} crew sequences, the problem has "
                                 f"{K} crews; give one (possibly empty) job list per crew")
    seqs = []
    for k, s in enumerate(assignment):
        arr = np.asarray(list(s), dtype=np.float64).reshape(-1)
        if arr.size and (np.any(arr != np.round(arr)) or arr.min() < 0 or arr.max() >= J):
            raise ScheduleInputError(f"crew {problem.crew_ids[k]} has job positions outside 0..{J - 1}: "
                                     f"{arr[(arr < 0) | (arr >= J) | (arr != np.round(arr))][:10].tolist()}")
        seqs.append(arr.astype(np.int64))
    order = np.concatenate(seqs) if seqs else np.zeros(0, dtype=np.int64)
    counts = np.bincount(order, minlength=J)
    if np.any(counts != 1):
        missing, twice = counts == 0, counts > 1
        parts = []
        if missing.any():
            parts.append(f"job(s) {_ids_text(problem.job_ids, missing)} are not assigned")
        if twice.any():
            parts.append(f"job(s) {_ids_text(problem.job_ids, twice)} are assigned more than once")
        raise ScheduleInputError("; ".join(parts) + ": every job must appear exactly once")
    crew_ptr = np.concatenate(([0], np.cumsum([s.shape[0] for s in seqs]))).astype(np.int64)
    return np.ascontiguousarray(order), crew_ptr


def _flat_assignment(problem: ScheduleProblem, assignment: Sequence[Sequence[int]]
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``(order, crew_ptr)`` of an assignment as :func:`_check_assignment` gives it, quicker in the
    common case (integer job lists, one per crew, every job once); anything else goes through
    :func:`_check_assignment` (which raises the errors)."""
    J, K = problem.n_jobs, problem.n_crews
    try:
        lens = [len(s) for s in assignment] if len(assignment) == K else None
    except TypeError:
        lens = None
    if lens is not None and J > 0 and sum(lens) == J:
        flat = np.asarray([x for s in assignment for x in s])
        if flat.ndim == 1 and flat.dtype.kind in "iu":
            order = flat.astype(np.int64)
            if order.min() >= 0 and order.max() < J and bool((np.bincount(order, minlength=J) == 1).all()):
                crew_ptr = np.zeros(K + 1, dtype=np.int64)
                np.cumsum(lens, out=crew_ptr[1:])
                return order, crew_ptr
    return _check_assignment(problem, assignment)


def _job_times(problem: ScheduleProblem, order: np.ndarray, crew_ptr: np.ndarray):
    """Travel, repair start and finish per job of a flat assignment."""
    J = problem.n_jobs
    travel = np.zeros(J)
    start = np.zeros(J)
    finish = np.zeros(J)
    _crew_times(order, crew_ptr, problem.repair_min, problem.dist_job_km, problem.dist_depot_km,
                problem.min_per_km, problem.crew_available_from_min, travel, start, finish)
    return travel, start, finish


def evaluate(problem: ScheduleProblem, assignment: Sequence[Sequence[int]], *,
             strategy: str = "") -> Schedule:
    """Times and objective values of ``assignment`` (per crew, its ordered jobs).

    This is the one place where the objective is computed. Crews never wait:
    each drives to its next job as soon as the previous repair ends. A
    downstream job may be repaired before its upstream job (parallel work);
    its customers come back at ``R_j = max(C_i, i in ancestors(j) ∪ {j})``.
    """
    order, crew_ptr = _flat_assignment(problem, assignment)
    J = problem.n_jobs
    travel, start, finish = _job_times(problem, order, crew_ptr)
    restore = np.zeros(J)
    _restore_times(finish, problem.parent, problem.pre_order, restore)
    crew = np.repeat(np.arange(problem.n_crews), np.diff(crew_ptr))
    crew_of = np.empty(J, dtype=np.int64)
    crew_of[order] = crew
    routes = []
    for k in range(problem.n_crews):
        jobs = order[crew_ptr[k]:crew_ptr[k + 1]]
        last = finish[jobs[-1]] if jobs.size else problem.crew_available_from_min[k]
        over = max(0.0, float(last - problem.crew_shift_end_min[k]))
        routes.append(CrewRoute(crew=k, jobs=_ro(jobs.copy()), travel_min=_ro(travel[jobs]), start_min=_ro(start[jobs]),
                                finish_min=_ro(finish[jobs]), overtime_min=over))
    crit_h = problem.critical_by_class.T @ restore / 60.0
    present = problem.critical_by_class.any(axis=0)
    return Schedule(
        strategy=strategy,
        routes=tuple(routes),
        crew=_ro(crew_of), travel_min=_ro(travel), start_min=_ro(start), finish_min=_ro(finish),
        restore_min=_ro(restore),
        weighted_cmi=float(_weighted_sum(problem.weight, restore)),
        cmi=float(problem.customers @ restore),
        critical_h_by_class={c: float(crit_h[i]) for i, c in enumerate(CLASS_ORDER) if present[i]},
        makespan_min=float(finish.max()) if J else 0.0,
        overtime_min=float(sum(r.overtime_min for r in routes)),
    )


# --------------------------------------------------------------------------- registry

#: name -> strategy ``fn(problem, **options) -> assignment``.
STRATEGIES: dict[str, Callable[..., Assignment]] = {}


def register(name: str) -> Callable[[Callable[..., Assignment]], Callable[..., Assignment]]:
    """Decorator registering a strategy ``fn(problem, **options) -> assignment`` under ``name``."""
    def deco(fn: Callable[..., Assignment]) -> Callable[..., Assignment]:
        if name in STRATEGIES and STRATEGIES[name] is not fn:
            raise ScheduleError(f"a strategy named {name!r} is already registered")
        STRATEGIES[name] = fn
        return fn
    return deco


def _strategy(strategy: str, options: Mapping[str, Any] | None) -> tuple[Callable[..., Assignment], dict]:
    """The strategy registered as ``strategy`` and its options, checked against its signature."""
    try:
        fn = STRATEGIES[strategy]
    except KeyError:
        raise UnknownStrategyError(
            f"unknown scheduling strategy {strategy!r}; known: {', '.join(sorted(STRATEGIES))}") from None
    opts = dict(options or {})
    if not _takes_options(fn, tuple(opts)):
        allowed = [p for p in list(inspect.signature(fn).parameters)[1:]]
        raise ScheduleInputError(
            f"strategy {strategy!r} does not take option(s) {sorted(set(opts) - set(allowed))}; "
            f"it accepts {allowed or 'none'}")
    return fn, opts


@functools.lru_cache(maxsize=256)
def _takes_options(fn: Callable, names: tuple[str, ...]) -> bool:
    try:
        inspect.signature(fn).bind(None, **dict.fromkeys(names))
    except TypeError:
        return False
    return True


def solve(problem: ScheduleProblem, strategy: str = "wspt", *,
          options: Mapping[str, Any] | None = None) -> Schedule:
    """Run the strategy registered as ``strategy`` and evaluate its assignment."""
    fn, opts = _strategy(strategy, options)
    return evaluate(problem, fn(problem, **opts), strategy=strategy)


def _solve_times(problem: ScheduleProblem, strategy: str, options: Mapping[str, Any] | None = None):
    """:func:`solve` without the :class:`Schedule`: ``(routes, travel_min, start_min, finish_min)``
    (the same numbers), for planners that solve many small problems."""
    fn, opts = _strategy(strategy, options)
    order, crew_ptr = _flat_assignment(problem, fn(problem, **opts))
    travel, start, finish = _job_times(problem, order, crew_ptr)
    routes = [order[crew_ptr[k]:crew_ptr[k + 1]] for k in range(problem.n_crews)]
    return routes, travel, start, finish


def _resolve_start(problem: ScheduleProblem, start: str | Sequence[Sequence[int]]) -> Assignment:
    if isinstance(start, str):
        if start not in STRATEGIES:
            raise UnknownStrategyError(
                f"unknown start strategy {start!r}; known: {', '.join(sorted(STRATEGIES))}")
        return [list(s) for s in STRATEGIES[start](problem)]
    _check_assignment(problem, start)
    return [list(map(int, s)) for s in start]


# --------------------------------------------------------------------------- list rules

def _upstream_first(problem: ScheduleProblem, priority: np.ndarray) -> np.ndarray:
    """Reorder a priority list so that every job comes after its ancestors.

    A job pulls its not-yet-listed ancestors in front of it (root first), so
    upstream repairs are dispatched before the downstream ones that need them.
    """
    listed = np.zeros(problem.n_jobs, dtype=bool)
    out: list[int] = []
    for j in priority:
        chain = []
        i = int(j)
        while i >= 0 and not listed[i]:
            chain.append(i)
            listed[i] = True
            i = int(problem.parent[i])
        out.extend(reversed(chain))
    return np.asarray(out, dtype=np.int64)


def _list_schedule(problem: ScheduleProblem, priority: np.ndarray) -> Assignment:
    """Give each job, in ``priority`` order, to the crew that can finish it earliest."""
    priority = np.ascontiguousarray(priority, dtype=np.int64)
    crew = np.empty(priority.shape[0], dtype=np.int64)
    _list_order(priority, problem.crew_available_from_min, problem.repair_min, problem.dist_job_km,
                problem.dist_depot_km, problem.min_per_km, crew)
    out: Assignment = [[] for _ in range(problem.n_crews)]
    for j, k in zip(priority.tolist(), crew.tolist()):
        out[k].append(j)
    return out


@register("fifo")
def schedule_fifo(problem: ScheduleProblem, *, upstream_first: bool = True) -> Assignment:
    """Jobs in the given order (fault-time order = index order), list scheduling."""
    prio = np.arange(problem.n_jobs)
    return _list_schedule(problem, _upstream_first(problem, prio) if upstream_first else prio)


@register("most_customers")
def schedule_most_customers(problem: ScheduleProblem, *, upstream_first: bool = True) -> Assignment:
    """Descending ``customers[j]`` (ties: index order), list scheduling."""
    prio = np.argsort(-problem.customers, kind="stable")
    return _list_schedule(problem, _upstream_first(problem, prio) if upstream_first else prio)


@register("critical_first")
def schedule_critical_first(problem: ScheduleProblem, *, upstream_first: bool = True) -> Assignment:
    """Jobs whose subtree holds critical customers first (most first), then most customers."""
    crit_sub = problem.subtree_sum(problem.critical_customers)
    has = crit_sub > 0
    crit_jobs = np.flatnonzero(has)
    crit_jobs = crit_jobs[np.lexsort((-problem.customers[crit_jobs], -crit_sub[crit_jobs]))]
    rest = np.flatnonzero(~has)
    rest = rest[np.argsort(-problem.customers[rest], kind="stable")]
    prio = np.concatenate((crit_jobs, rest)).astype(np.int64)
    return _list_schedule(problem, _upstream_first(problem, prio) if upstream_first else prio)


@register("wspt")
def schedule_wspt(problem: ScheduleProblem) -> Assignment:
    """Travel-aware Smith's rule, dispatched each time a crew becomes free.

    The crew that is free first takes, among the jobs whose upstream jobs are
    all dispatched, the one with the highest score::

        dt    = max(now + travel + repair, R_parent) - now     # until j's customers are back
        score = max(w_j / dt,  W_sub(j) / (dt + P_sub(j)))

    ``W_sub`` is the weight of ``j`` and its undispatched descendants and
    ``P_sub`` the repair minutes of those descendants: the second term is a
    look-ahead so that a light upstream job in front of heavy customers is not
    postponed. Without travel and precedence, on one crew, the score is
    ``w_j / p_j`` and the order is Smith's rule, which is optimal.
    """
    J, K = problem.n_jobs, problem.n_crews
    out: Assignment = [[] for _ in range(K)]
    if J == 0:
        return out
    job = np.empty(J, dtype=np.int64)
    crew = np.empty(J, dtype=np.int64)
    _wspt_order(problem.parent, problem.pre_order, problem.weight, problem.repair_min,
                problem.crew_available_from_min, problem.dist_job_km, problem.dist_depot_km, problem.min_per_km,
                job, crew)
    for j, k in zip(job.tolist(), crew.tolist()):
        out[k].append(j)
    return out


# --------------------------------------------------------------------------- local search

def _kernel_args(problem: ScheduleProblem) -> tuple:
    return (problem.repair_min, problem.weight, problem.parent, problem.pre_order, problem.pre_pos,
            problem.sub_size, problem.has_precedence, problem.dist_job_km, problem.dist_depot_km,
            problem.min_per_km, problem.crew_available_from_min)


def _seq_arrays(init: Assignment, J: int, K: int) -> tuple[np.ndarray, np.ndarray]:
    seq = np.full((K, J + 1), -1, dtype=np.int64)
    n = np.zeros(K, dtype=np.int64)
    for k, s in enumerate(init):
        seq[k, :len(s)] = s
        n[k] = len(s)
    return seq, n


def _kick(assignment: Assignment, rng: np.random.Generator, n_moves: int) -> Assignment:
    """Perturb: move ``n_moves`` random jobs to random positions of random crews.

    (The reference of the kick that :func:`_ils_run` does in Numba on the generator's raw words;
    kept for the tests.)"""
    rows = [list(s) for s in assignment]
    for _ in range(n_moves):
        a = int(rng.choice([k for k, r in enumerate(rows) if r]))
        j = rows[a].pop(int(rng.integers(len(rows[a]))))
        b = int(rng.integers(len(rows)))
        rows[b].insert(int(rng.integers(len(rows[b]) + 1)), j)
    return rows


def _raw_words(rng: np.random.Generator, n_words: int) -> np.ndarray:
    """The next ``n_words`` 32-bit outputs of ``rng`` (PCG64 gives the low, then the high half of
    each 64-bit output), for :func:`_ils_run` to replay ``rng.integers`` on."""
    raw = rng.bit_generator.random_raw((n_words + 1) // 2)
    out = np.empty(raw.shape[0] * 2, dtype=np.uint32)
    out[0::2] = raw & np.uint64(0xFFFFFFFF)
    out[1::2] = raw >> np.uint64(32)
    return out


@register("local_search")
def schedule_local_search(problem: ScheduleProblem, *, start: str | Sequence[Sequence[int]] = "wspt",
                          time_limit_s: float = 2.0, max_moves: int = 1_000_000, kicks: int = 30,
                          seed: int = 0) -> Assignment:
    """Improve ``start`` (a strategy name or an assignment) by relocate and swap moves.

    For each job in turn, every move of it (to any position of any crew, or a
    swap with any other job) is evaluated incrementally and the best improving
    one is applied; a descent stops at a local optimum (no job has an
    improving move), after ``max_moves`` applied moves or at ``time_limit_s``.
    If time remains, up to ``kicks`` perturbations of the best assignment
    (a few random relocations, ``seed``-ed) are each followed by a new descent
    and kept if better (iterated local search; on big instances the first
    descent usually uses all the time). Never worse than the start.

    The whole search runs in one Numba kernel (:func:`_ils_run`) that returns every
    20,000 move evaluations for the clock to be checked; the kicks draw from
    ``numpy.random.default_rng(seed)`` exactly as :func:`_kick` does.
    """
    J, K = problem.n_jobs, problem.n_crews
    init = _resolve_start(problem, start)
    if J < 2:
        return init
    (repair, weight, parent, pre_order, pre_pos, sub_size, has_prec, dist_job, dist_depot,
     min_per_km, avail) = _kernel_args(problem)
    seq, n = _seq_arrays(init, J, K)
    best_seq, best_n = seq.copy(), n.copy()
    C, R = np.zeros(J), np.zeros(J)
    crew_of, pos_of = np.zeros(J, dtype=np.int64), np.zeros(J, dtype=np.int64)
    init_val = float(_recompute(seq, n, C, R, crew_of, pos_of, repair, weight, parent, pre_order,
                                dist_job, dist_depot, min_per_km, avail))
    ls_state = np.zeros(4, dtype=np.int64)
    ils = np.zeros(3, dtype=np.int64)           # phase, kicks done, word cursor
    best_val = np.zeros(1)
    kicks = max(int(kicks), 0)
    rng = np.random.default_rng(seed)
    words = _raw_words(rng, 16 * kicks + 16)    # a kick draws at most 13 numbers, rejections aside
    chunk = 20_000                              # move evaluations between clock checks
    # a first call on copies that does nothing (no descent, no kick): the kernel is compiled or
    # loaded from the cache now, not on the clock of the time limit
    _ils_run(seq.copy(), n.copy(), best_seq.copy(), best_n.copy(), C.copy(), R.copy(), crew_of.copy(),
             pos_of.copy(), ls_state.copy(), ils.copy(), best_val.copy(), words, 0, 0, 0, repair, weight,
             parent, pre_order, pre_pos, sub_size, has_prec, dist_job, dist_depot, min_per_km, avail)
    t_end = time.perf_counter() + float(time_limit_s)
    while True:
        if time.perf_counter() >= t_end:        # the descent under way ends here, as a finished one
            if ils[0] in (0, 1):
                val = float(_weighted_sum(weight, R))
                if ils[0] == 0 or val < best_val[0]:
                    best_val[0] = val
                    best_seq[:], best_n[:] = seq, n
            break
        status = _ils_run(seq, n, best_seq, best_n, C, R, crew_of, pos_of, ls_state, ils, best_val, words,
                          kicks, int(max_moves), chunk, repair, weight, parent, pre_order, pre_pos, sub_size,
                          has_prec, dist_job, dist_depot, min_per_km, avail)
        if status == 1:
            break
        if status == 2:
            words = np.concatenate([words, _raw_words(rng, 16 * kicks + 16)])
    best = [best_seq[k, :best_n[k]].tolist() for k in range(K)]
    if float(best_val[0]) <= init_val:
        return best
    return init                           # guard against float noise: never worse than start


# --------------------------------------------------------------------------- exact

@register("exact")
def schedule_exact(problem: ScheduleProblem, *, max_jobs: int = 10, max_crews: int = 4,
                   start: str | Sequence[Sequence[int]] = "local_search") -> Assignment:
    """Optimal assignment by depth-first branch and bound over all crew sequences.

    Enumerates every split of the jobs into ordered crew sequences
    (``J!·C(J+K-1, K-1)`` leaves), pruned by a bound where each unassigned job
    finishes no earlier than on its best still-open crew. The incumbent comes
    from ``start``. Instances above ``max_jobs`` jobs or ``max_crews`` crews
    are refused with :class:`ProblemTooLargeError`.
    """
    J, K = problem.n_jobs, problem.n_crews
    if J > max_jobs or K > max_crews:
        leaves = math.factorial(J) * math.comb(J + K - 1, K - 1)
        raise ProblemTooLargeError(
            f"the exact solver refuses {J} jobs x {K} crews (limits: max_jobs={max_jobs}, "
            f"max_crews={max_crews}; the search space has {leaves:.3g} sequences); use "
            "strategy='local_search' or raise the limits with options={'max_jobs': ..., 'max_crews': ...}")
    init = _resolve_start(problem, start)
    if J == 0:
        return init
    upper = evaluate(problem, init).weighted_cmi
    best_seq = np.full(J + K - 1, -1, dtype=np.int64)
    i = 0
    for k, s in enumerate(init):
        best_seq[i:i + len(s)] = s
        i += len(s) + 1
    # a tiny slack so the incumbent itself can be re-found (its value is then exact, not re-rounded)
    value, _ = _branch_and_bound(upper * (1 + 1e-12) + 1e-12, best_seq, problem.repair_min, problem.weight,
                                 problem.parent, problem.pre_order, problem.dist_job_km,
                                 problem.dist_depot_km, problem.min_per_km, problem.crew_available_from_min)
    out: Assignment = [[]]
    for v in best_seq:
        if v < 0:
            if len(out) < K:
                out.append([])
        else:
            out[-1].append(int(v))
    while len(out) < K:
        out.append([])
    return out


# --------------------------------------------------------------------------- exact (MIP)

class ScheduleWarning(UserWarning):
    """A scheduling result is usable but not what was asked for (e.g. a MIP stopped at its time limit)."""


def _mip_model(problem: ScheduleProblem, upper: float) -> tuple:
    """The mixed-integer program of :func:`schedule_exact_mip` (``upper``: a known objective value).

    Returns ``(c, integrality, lb, ub, A, row_lo, row_hi, index)`` in the form of
    :func:`scipy.optimize.milp`; ``index`` holds the column offsets of ``s`` and ``y``.
    """
    from scipy.sparse import coo_matrix

    J, K = problem.n_jobs, problem.n_crews
    p, a, m = problem.repair_min, problem.crew_available_from_min, problem.min_per_km
    d = problem.dist_job_km                                                    # (J, J)
    t_dep = problem.dist_depot_km * m[:, None]                                # (K, J)
    m_min = float(m.min())

    # a window [lo_c, hi_c] that the completion times of every optimal schedule meet
    tol = 1e-7
    lo_c = (a[:, None] + t_dep).min(axis=0) + p            # straight from a depot (triangle inequality)
    lo_c = lo_c - tol * (1.0 + np.abs(lo_c))
    lo_r = np.empty(J)
    _restore_times(lo_c, problem.parent, problem.pre_order, lo_r)
    max_leg = np.maximum(t_dep.max(axis=1), d.max() * m)                       # (K,)
    hi_c = np.full(J, float(np.max(a + J * max_leg) + p.sum()))                 # any no-idle schedule
    if math.isfinite(upper):
        # the subtree of j waits for j:  W_sub(j) C_j + Σ_{d outside} w_d lo_r_d <= Σ w R <= upper
        w = problem.weight
        sub_w = problem.subtree_sum(w)
        outside = float(w @ lo_r) - problem.subtree_sum(w * lo_r)
        pos = sub_w > 0
        hi_c[pos] = np.minimum(hi_c[pos], (upper - outside[pos]) / sub_w[pos])
    hi_c = np.maximum(hi_c + tol * (1.0 + np.abs(hi_c)), lo_c)

    # columns: x[k,j] | s[k,j] | y[i,j] | f[i,j] | g[j] | tau[j] | C[j] | R[j] | u[j]
    KJ, JJ = K * J, J * J
    ox, os_, oy = 0, KJ, 2 * KJ
    of = oy + JJ
    og = of + JJ
    ot = og + J
    oc, orr, ou = ot + J, ot + 2 * J, ot + 3 * J
    n = ou + J
    X = lambda k, j: ox + k * J + j                        # noqa: E731
    S = lambda k, j: os_ + k * J + j                       # noqa: E731
    Y = lambda i, j: oy + i * J + j                        # noqa: E731
    F = lambda i, j: of + i * J + j                        # noqa: E731
    others = lambda j: [i for i in range(J) if i != j]     # noqa: E731

    lb = np.zeros(n)
    ub = np.ones(n)
    integrality = np.zeros(n)
    integrality[:of] = 1
    ub[of:oc] = np.inf
    lb[oc:oc + J], ub[oc:oc + J] = lo_c, hi_c
    lb[orr:orr + J], ub[orr:orr + J] = lo_r, np.inf
    lb[ou:ou + J], ub[ou:ou + J] = 0.0, max(J - 1, 0)
    start_fin = a[:, None] + t_dep + p[None, :]                                # (K, J)
    for j in range(J):                                     # what cannot happen within the window
        for k in range(K):
            if start_fin[k, j] > hi_c[j]:
                ub[X(k, j)] = ub[S(k, j)] = 0.0
        for i in range(J):
            if i == j or lo_c[i] + d[i, j] * m_min + p[j] > hi_c[j]:
                ub[Y(i, j)] = ub[F(i, j)] = 0.0

    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    row_lo: list[float] = []
    row_hi: list[float] = []

    def add(entries, lo, hi):
        r = len(row_lo)
        for col, v in entries:
            rows.append(r)
            cols.append(col)
            vals.append(float(v))
        row_lo.append(float(lo))
        row_hi.append(float(hi))

    for j in range(J):
        add([(X(k, j), 1) for k in range(K)], 1, 1)                                  # one crew per job
        add([(S(k, j), 1) for k in range(K)] + [(Y(i, j), 1) for i in others(j)], 1, 1)  # one predecessor
        add([(Y(j, i), 1) for i in others(j)], -np.inf, 1)                           # <= 1 successor
        for k in range(K):
            add([(S(k, j), 1), (X(k, j), -1)], -np.inf, 0)                           # first on its crew
    for k in range(K):
        add([(S(k, j), 1) for j in range(J)], -np.inf, 1)                            # <= 1 first job
        for i in range(J):
            for j in others(i):                            # consecutive jobs share the crew
                add([(X(k, j), 1), (X(k, i), -1), (Y(i, j), 1)], -np.inf, 1)
                add([(X(k, i), 1), (X(k, j), -1), (Y(i, j), 1)], -np.inf, 1)
    for i in range(J):
        # time flow: C_i leaves along the arc to i's successor (f[i,j] = C_i · y[i,j]) or as g_i
        out = others(i)
        for j in out:
            add([(F(i, j), 1), (Y(i, j), -lo_c[i])], 0, np.inf)
            add([(F(i, j), 1), (Y(i, j), -hi_c[i])], -np.inf, 0)
        add([(F(i, j), 1) for j in out] + [(og + i, 1), (oc + i, -1)], 0, 0)
        add([(og + i, 1)] + [(Y(i, j), hi_c[i]) for j in out], -np.inf, hi_c[i])
        add([(og + i, 1)] + [(Y(i, j), lo_c[i]) for j in out], lo_c[i], np.inf)
    for j in range(J):
        # drive from the previous job: tau_j >= v_k Σ_i d_ij y_ij on j's crew k (v = minutes per km)
        dmax = float(d[:, j].max())
        for k in range(K):
            add([(ot + j, 1)] + [(Y(i, j), -m[k] * d[i, j]) for i in others(j)] + [(X(k, j), -m[k] * dmax)],
                -m[k] * dmax, np.inf)
        add([(ot + j, 1)] + [(Y(i, j), -m_min * d[i, j]) for i in others(j)], 0, np.inf)
        # C_j >= (crew start + drive from the depot | C of the previous job + tau_j) + repair_j
        add([(oc + j, 1), (ot + j, -1)] + [(S(k, j), -(a[k] + t_dep[k, j] + p[j])) for k in range(K)]
            + [(F(i, j), -1) for i in others(j)] + [(Y(i, j), -p[j]) for i in others(j)], 0, np.inf)
        for i in others(j):                                # no subtours (zero times would allow them)
            add([(ou + j, 1), (ou + i, -1), (Y(i, j), -J)], 1 - J, np.inf)
        add([(orr + j, 1), (oc + j, -1)], 0, np.inf)                                 # R_j >= C_j
        if problem.parent[j] >= 0:
            add([(orr + j, 1), (orr + int(problem.parent[j]), -1)], 0, np.inf)       # R_j >= R_parent
    # valid inequalities (Queyranne 1993; Schulz 1996 for parallel machines), they tighten the LP
    # bound a lot: with q_j = shortest drive into j + repair_j, on one crew the jobs of a set S in
    # their order meet  Σ_S q_j (C_j - a) >= Σ_{i before or = j in S} q_i q_j, so over K crews
    # Σ_S q_j (C_j - a_min) >= (q(S)^2 / K + Σ_S q_j^2) / 2.  All sets of >= 2 jobs (J <= 10).
    t_in = t_dep.min(axis=0)
    if J > 1:
        t_in = np.minimum(t_in, np.where(np.eye(J, dtype=bool), np.inf, d).min(axis=0) * m_min)
    q = t_in + p
    a_min = float(a.min())
    sizes = range(2, J + 1) if J <= 10 else (2, J)
    for r in sizes:
        for sub in itertools.combinations(range(J), r):
            qs = q[list(sub)]
            rhs = (qs.sum() ** 2 / K + (qs ** 2).sum()) / 2.0 + a_min * qs.sum()
            add([(oc + j, q[j]) for j in sub], rhs - 1e-9 * abs(rhs), np.inf)
    c = np.zeros(n)
    c[orr:orr + J] = problem.weight
    A = coo_matrix((vals, (rows, cols)), shape=(len(row_lo), n)).tocsr()
    return c, integrality, lb, ub, A, np.asarray(row_lo), np.asarray(row_hi), (os_, oy)


def _mip_assignment(problem: ScheduleProblem, sol: np.ndarray, index: tuple) -> Assignment:
    """Per crew, the job sequence encoded by the ``s`` and ``y`` columns of a MIP solution."""
    J, K = problem.n_jobs, problem.n_crews
    os_, oy = index
    s = sol[os_:os_ + K * J].reshape(K, J) > 0.5
    y = sol[oy:oy + J * J].reshape(J, J) > 0.5
    out: Assignment = []
    for k in range(K):
        seq: list[int] = []
        firsts = np.flatnonzero(s[k])
        j = int(firsts[0]) if firsts.size else -1
        while j >= 0 and len(seq) <= J:
            seq.append(j)
            nxt = np.flatnonzero(y[j])
            j = int(nxt[0]) if nxt.size else -1
        out.append(seq)
    if sorted(itertools.chain.from_iterable(out)) != list(range(J)):
        raise ScheduleError(f"the MIP solution does not encode one sequence per crew: {out}; "
                            "this is a bug, please report it with the problem")
    return out


@register("exact_mip")
def schedule_exact_mip(problem: ScheduleProblem, *, max_jobs: int = 7, max_crews: int = 3,
                       time_limit_s: float = 60.0,
                       start: str | Sequence[Sequence[int]] | None = "wspt") -> Assignment:
    """Optimal assignment from a mixed-integer program solved by HiGHS (``scipy.optimize.milp``).

    An independent yardstick next to ``exact`` (own branch and bound). Binary
    ``x[k,j]`` (crew ``k`` repairs job ``j``), ``s[k,j]`` (``j`` is the first
    job of crew ``k``) and ``y[i,j]`` (``j`` right after ``i`` on the same
    crew): one crew and one predecessor (a depot or a job) per job, at most one
    successor per job and one first job per crew, ``y[i,j] = 1`` forces
    ``x[k,i] = x[k,j]`` for every ``k``, and positions ``u`` rule out cycles
    (possible with zero repair and drive times). Completion times ``C_j``
    (crews never wait; ``v_k``: crew ``k``'s drive minutes per km)::

        C_j >= Σ_k s[k,j] (avail_k + travel_k(depot, j)) + Σ_i (C_i y[i,j]) + tau_j + repair_j
        tau_j >= v_k Σ_i dist_ij y[i,j] - v_k max_i dist_ij (1 - x[k,j])   for every crew k
        R_j >= C_j,  R_j >= R_parent(j);   minimize Σ weight_j R_j

    ``C_i y[i,j]`` is a time-flow variable ``f[i,j]`` (``lo_i y <= f <= hi_i y``,
    ``Σ_j f[i,j] + g_i = C_i``) rather than a big-M term, and the crew-free
    arcs ``y[i,j]`` replace per-crew arcs ``y[k,i,j]``: both measured faster
    on 7-8 jobs. ``[lo_j, hi_j]`` is a window that every optimal
    schedule meets: ``lo_j`` the earliest finish straight from a depot, ``hi_j``
    the smaller of a no-idle horizon and what the objective ``upper`` of
    ``start`` (a strategy name, an assignment or ``None``) allows, since the
    whole subtree of ``j`` waits for ``j``. A heuristic's makespan is *not* a
    valid bound (an optimal schedule can end later). Queyranne's inequalities
    (every set of >= 2 jobs) tighten the LP bound. Solved with zero gap
    tolerance; the sequences are read from ``s`` and ``y``.

    Instances above ``max_jobs`` jobs or ``max_crews`` crews are refused with
    :class:`ProblemTooLargeError` (measured: 7 jobs take seconds, 8 jobs on 2
    crews about a minute; ``exact`` needs milliseconds). If HiGHS stops at
    ``time_limit_s`` before proving optimality, the better of its best solution
    and ``start`` is returned with a :class:`ScheduleWarning`; with neither,
    :class:`ScheduleError`. HiGHS runs without presolve: with presolve (HiGHS
    1.12, scipy 1.17) it once reported a suboptimal schedule as optimal.
    """
    J, K = problem.n_jobs, problem.n_crews
    if J > max_jobs or K > max_crews:
        raise ProblemTooLargeError(
            f"the MIP solver refuses {J} jobs x {K} crews (limits: max_jobs={max_jobs}, "
            f"max_crews={max_crews}; the model has {J * (J - 1) + 2 * K * J} binary variables); use "
            "strategy='exact' or 'local_search', or raise the limits with "
            "options={'max_jobs': ..., 'max_crews': ...}")
    if J == 0:
        return [[] for _ in range(K)]
    try:
        from scipy.optimize import Bounds, LinearConstraint, milp
    except ImportError:  # pragma: no cover - scipy comes with pandapower
        raise ScheduleError("strategy 'exact_mip' needs scipy >= 1.9 (HiGHS through "
                            "scipy.optimize.milp); install scipy or use strategy='exact'") from None
    init = None if start is None else _resolve_start(problem, start)
    upper = math.inf if init is None else evaluate(problem, init).weighted_cmi
    c, integrality, lb, ub, A, row_lo, row_hi, index = _mip_model(problem, upper)
    res = milp(c, integrality=integrality, bounds=Bounds(lb, ub),
               constraints=LinearConstraint(A, row_lo, row_hi),
               options={"time_limit": float(time_limit_s), "mip_rel_gap": 0.0, "presolve": False, "disp": False})
    if res.status == 0:
        return _mip_assignment(problem, res.x, index)
    if res.x is None:
        if init is not None and res.status == 1:
            warnings.warn(f"exact_mip: HiGHS found no solution within time_limit_s={time_limit_s}; "
                          f"returning the start ({start!r}), which is not proven optimal",
                          ScheduleWarning, stacklevel=3)
            return init
        raise ScheduleError(f"exact_mip: HiGHS failed ({res.message}); use strategy='exact'")
    found = _mip_assignment(problem, res.x, index)
    warnings.warn(f"exact_mip: HiGHS stopped before proving optimality ({res.message}); the result "
                  f"is the best schedule found, not proven optimal; raise time_limit_s", ScheduleWarning,
                  stacklevel=3)
    if init is not None and evaluate(problem, init).weighted_cmi < evaluate(problem, found).weighted_cmi:
        return init
    return found
