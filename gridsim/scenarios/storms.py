"""Storm generator: random multi-fault scenarios from a scenario's ``storm:`` section.

Each element gets a failure weight, computed once with numpy (no loop per
element): the weight of its kind (:data:`~gridsim.scenarios.schema.WEIGHT_KINDS`,
lines per km of ``net.line.length_km``) times the footprint factor at its
location (the mean of its end buses' ``topo.node_xy_km``; a bus or a
three-winding transformer's star node is its own location). Out-of-service
elements get 0.

Run ``i`` draws from ``numpy.random.default_rng([seed, i])`` and nothing else,
so a storm is the same whatever order, process or executor samples it
(:func:`sample_storms` takes the run numbers to draw). Per run, in this order:
the number of faults (fixed, or Poisson), the distinct failed elements
(weighted, without replacement), their times (uniform over
``duration_min``, sorted), which are temporary, their causes, and the repair
minutes per element kind (temporary faults need no repair: 0).

:func:`sample_storms_csr` returns the CSR pair ``(indptr, element_positions)``
that :func:`gridsim.core.sweep_storms` takes, with the same elements as
:func:`sample_storms` for the same seed (in position order).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from gridsim.scenarios.schema import (
    Cause, Fault, PoissonCount, Scenario, ScenarioError, StormSpec, WEIGHT_KINDS, as_distribution,
)

__all__ = ["Storm", "CAUSES", "element_kinds", "element_xy_km", "element_weights", "sample_storms",
           "sample_storms_csr", "storms_to_csr", "storm_from_faults"]

#: Order of cause codes in :attr:`Storm.cause`.
CAUSES: tuple[Cause, ...] = tuple(Cause)
_CAUSE_CODE = {c: i for i, c in enumerate(CAUSES)}


@dataclass(frozen=True, eq=False)
class Storm:
    """The faults of one run, in time order: parallel arrays.

    ``elements`` are element positions (:meth:`gridsim.Topology.element_positions`),
    ``time_min`` minutes after the scenario start, ``repair_min`` repair
    minutes (0 for temporary faults), ``cause`` codes into :data:`CAUSES`,
    ``temporary`` cleared by reclosing.
    """

    run: int
    elements: np.ndarray
    time_min: np.ndarray
    repair_min: np.ndarray
    cause: np.ndarray
    temporary: np.ndarray

    def __len__(self) -> int:
        return int(self.elements.shape[0])

    def faults(self) -> list[tuple[int, float, float, Cause, bool]]:
        """``(element position, time_min, repair_min, cause, temporary)`` per fault."""
        return [(int(e), float(t), float(r), CAUSES[int(c)], bool(tmp)) for e, t, r, c, tmp in
                zip(self.elements, self.time_min, self.repair_min, self.cause, self.temporary)]

    def __iter__(self):
        return iter(self.faults())

    def labels(self, topo) -> list[str]:
        """``line:17``-style labels of the failed elements."""
        return [topo.element_label(int(p)) for p in self.elements]

    def same_as(self, other: "Storm") -> bool:
        return all(np.array_equal(getattr(self, f), getattr(other, f)) for f in
                   ("elements", "time_min", "repair_min", "cause", "temporary"))


# --------------------------------------------------------------------------- per-element data

def _model_of(topo, model):
    model = model if model is not None else getattr(topo, "model", None)
    if model is None:
        raise ScenarioError(f"topology {topo.name!r} carries no model: pass the model (line lengths and types)")
    return model


def _element_static(topo, model) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(kind code into WEIGHT_KINDS, length factor, in service, xy km) per element; cached on the topology."""
    key = "scenario_element_static"
    hit = topo._hints.get(key)
    if hit is not None:
        return hit
    from gridsim.core.topology import ELEMENT_ORDER
    from gridsim.types import ElementType

    n = topo.n_elements
    etype = np.asarray(topo.elem_type)
    kind = np.empty(n, np.int8)
    for et in ELEMENT_ORDER:
        if et is not ElementType.LINE:
            kind[etype == ELEMENT_ORDER.index(et)] = WEIGHT_KINDS.index(et.value)
    length = np.ones(n)
    line_pos = np.flatnonzero(etype == ELEMENT_ORDER.index(ElementType.LINE))
    if line_pos.size:
        tab = _model_of(topo, model).net.line
        rows = tab.index.get_indexer(np.asarray(topo.elem_id)[line_pos])
        km = tab["length_km"].to_numpy(np.float64)[rows]
        length[line_pos] = np.where(np.isfinite(km) & (km > 0), km, 0.0)
        if "type" in tab:
            ol = (tab["type"].astype(str).str.strip().str.lower() == "ol").to_numpy()[rows]
        else:
            ol = np.zeros(line_pos.size, bool)
        kind[line_pos] = np.where(ol, WEIGHT_KINDS.index("line_ol"), WEIGHT_KINDS.index("line_cs"))
    is_node = np.asarray(topo.elem_is_node)
    ref = np.asarray(topo.elem_ref)
    in_service = np.empty(n, bool)
    in_service[is_node] = np.asarray(topo.node_in_service)[ref[is_node]]
    in_service[~is_node] = np.asarray(topo.br_in_service)[ref[~is_node]]
    xy = element_xy_km(topo)
    out = tuple(a.copy() for a in (kind, length, in_service, xy))
    for a in out:
        a.setflags(write=False)
    topo._hints[key] = out
    return out


def element_kinds(topo, model=None) -> np.ndarray:
    """Kind code per element into :data:`~gridsim.scenarios.schema.WEIGHT_KINDS`."""
    return _element_static(topo, model)[0]


def element_xy_km(topo) -> np.ndarray:
    """(n_elements, 2) location of every element: a node's own, a branch's the mean of its known end
    buses' coordinates; NaN where neither end has any."""
    xy = topo.node_xy_km
    n = topo.n_elements
    if xy is None:
        return np.full((n, 2), np.nan)
    is_node = np.asarray(topo.elem_is_node)
    ref = np.asarray(topo.elem_ref)
    out = np.empty((n, 2))
    out[is_node] = xy[ref[is_node]]
    b = ref[~is_node]
    ends = np.stack([xy[topo.br_from[b]], xy[topo.br_to[b]]])     # (2, m, 2)
    known = np.isfinite(ends).all(axis=2, keepdims=True)
    count = known.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[~is_node] = np.where(count > 0, np.where(known, ends, 0.0).sum(axis=0) / count, np.nan)
    return out


def element_weights(spec: StormSpec, topo, model=None) -> np.ndarray:
    """Failure weight of every element (kind weight x length for lines x footprint factor)."""
    kind, length, in_service, xy = _element_static(topo, model)
    per_kind = spec.weights.resolved()
    w = np.asarray([per_kind[k] for k in WEIGHT_KINDS])[kind] * length
    fp = spec.footprint
    if fp is not None:
        d = np.hypot(xy[:, 0] - fp.center_km[0], xy[:, 1] - fp.center_km[1])
        inside = np.isfinite(d) & (d <= fp.radius_km)
        if fp.profile == "linear":
            inner = fp.intensity * np.clip(1.0 - np.where(inside, d, 0.0) / fp.radius_km, 0.0, 1.0)
        else:
            inner = np.full(d.shape, fp.intensity)
        w = w * np.where(inside, inner, fp.outside)
    return np.where(in_service, w, 0.0)


# --------------------------------------------------------------------------- sampling

class _Sampler:
    """Everything that does not depend on the run: built once, then one :meth:`draw` per run."""

    def __init__(self, spec: StormSpec, topo, model):
        self.spec = spec
        w = element_weights(spec, topo, model)
        self.pos = np.flatnonzero(w > 0)
        if self.pos.size == 0:
            raise ScenarioError(f"storm: no element of model {topo.name!r} can fail (every weight is 0 "
                                f"{'inside the footprint' if spec.footprint else 'for the kinds present'})")
        self.w = w[self.pos]
        self.cdf = np.cumsum(self.w)
        self.total = float(self.cdf[-1])
        self.kind = element_kinds(topo, model)
        self.dists = list(spec.repair_distributions().values())
        items = sorted(spec.causes.items(), key=lambda kv: _CAUSE_CODE[kv[0]])
        self.cause_codes = np.asarray([_CAUSE_CODE[c] for c, _ in items], np.int8)
        p = np.asarray([v for _, v in items], np.float64)
        self.cause_p = p / p.sum()

    def count(self, rng) -> int:
        n = self.spec.n_faults
        k = int(rng.poisson(n.poisson)) if isinstance(n, PoissonCount) else int(n)
        return min(k, int(self.pos.size))

    def elements(self, rng, k: int) -> np.ndarray:
        """``k`` distinct element positions, weighted, in position order."""
        if k == 0:
            return np.empty(0, np.int64)
        if k >= self.pos.size:
            return self.pos.astype(np.int64)
        last = self.pos.size - 1
        got = np.unique(np.minimum(np.searchsorted(self.cdf, rng.random(k) * self.total, side="right"), last))
        rounds = 0
        while got.size < k:  # collisions: draw the missing ones again (rarely more than a round or two)
            rounds += 1
            if rounds > 20:   # weights concentrated on few elements: exact draw without replacement
                got = np.sort(rng.choice(self.pos.size, k, replace=False, p=self.w / self.total))
                break
            more = np.minimum(np.searchsorted(self.cdf, rng.random(k - got.size) * self.total, side="right"), last)
            got = np.union1d(got, more)
        return self.pos[got].astype(np.int64)

    def draw(self, run: int, seed: int) -> Storm:
        rng = np.random.default_rng([seed, run])
        k = self.count(rng)
        elems = self.elements(rng, k)
        elems = rng.permutation(elems)
        t = np.sort(rng.uniform(0.0, self.spec.duration_min, k)) if k else np.empty(0)
        temporary = rng.random(k) < self.spec.fraction_temporary
        cause = self.cause_codes[rng.choice(self.cause_codes.size, k, p=self.cause_p)] if k else \
            np.empty(0, np.int8)
        repair = np.zeros(k)
        kinds = self.kind[elems]
        for code, dist in enumerate(self.dists):
            m = kinds == code
            if m.any():
                repair[m] = dist.sample(rng, int(m.sum()))
        repair[temporary] = 0.0
        return Storm(run=int(run), elements=elems, time_min=t, repair_min=repair,
                     cause=np.asarray(cause, np.int8), temporary=temporary)


def _run_list(n_runs: int, runs: Iterable[int] | None) -> list[int]:
    if runs is not None:
        out = [int(r) for r in runs]
    else:
        if int(n_runs) < 0:
            raise ScenarioError(f"n_runs must be >= 0, got {n_runs}")
        out = list(range(int(n_runs)))
    if any(r < 0 for r in out):
        raise ScenarioError("run numbers must be >= 0")
    return out


def sample_storms(scenario_storm: StormSpec, topo, model=None, n_runs: int = 1, seed: int = 0, *,
                  runs: Sequence[int] | None = None) -> list[Storm]:
    """One :class:`Storm` per run ``0..n_runs-1`` (or per run number in ``runs``).

    Run ``i`` depends only on ``(seed, i)``: sampling runs 5..9 on a worker
    gives the storms that ``n_runs=10`` gives at positions 5..9.
    ``model`` (line lengths and types) defaults to ``topo.model``.
    """
    sampler = _Sampler(scenario_storm, topo, model)
    return [sampler.draw(r, int(seed)) for r in _run_list(n_runs, runs)]


def sample_storms_csr(scenario_storm: StormSpec, topo, model=None, n_runs: int = 1, seed: int = 0, *,
                      runs: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Only the failed elements, as ``(indptr, element_positions)`` for :func:`gridsim.core.sweep_storms`.

    Same elements per run as :func:`sample_storms` (same seed), in position
    order; times, causes and repairs are not drawn.
    """
    sampler = _Sampler(scenario_storm, topo, model)
    seed = int(seed)
    run_list = _run_list(n_runs, runs)
    # the first draw of every run (the same numbers as Sampler.elements), then one searchsorted for all
    counts = np.zeros(len(run_list), np.int64)
    draws = []
    for i, r in enumerate(run_list):
        rng = np.random.default_rng([seed, r])
        k = sampler.count(rng)
        counts[i] = k
        if 0 < k < sampler.pos.size:
            draws.append(rng.random(k))
        else:
            counts[i] = -1 - k  # all or nothing: handled below
    u = np.concatenate(draws) if draws else np.empty(0)
    idx = np.minimum(np.searchsorted(sampler.cdf, u * sampler.total, side="right"), sampler.pos.size - 1)
    sampled = counts > 0
    run_of = np.repeat(np.flatnonzero(sampled), counts[sampled])
    order = np.lexsort((idx, run_of))
    idx, run_of = idx[order], run_of[order]
    dup = np.zeros(idx.size, bool)
    dup[1:] = (idx[1:] == idx[:-1]) & (run_of[1:] == run_of[:-1])
    redo = np.zeros(len(run_list), bool)
    redo[run_of[dup]] = True
    keep = ~redo[run_of]
    per_run = np.bincount(run_of[keep], minlength=len(run_list))
    fixed = np.where(sampled, 0, -1 - counts)          # k of all-or-nothing runs
    lengths = np.where(sampled, per_run, np.where(fixed > 0, sampler.pos.size, 0))
    for i in np.flatnonzero(redo):                      # collisions: the exact per-run path
        rng = np.random.default_rng([seed, run_list[i]])
        lengths[i] = sampler.elements(rng, sampler.count(rng)).size
    indptr = np.zeros(len(run_list) + 1, np.int64)
    np.cumsum(lengths, out=indptr[1:])
    elems = np.empty(int(indptr[-1]), np.int64)
    # vectorised fill of the clean runs, then the others one by one
    clean_runs = run_of[keep]
    offs = indptr[clean_runs] + np.arange(clean_runs.size) - (np.cumsum(per_run) - per_run)[clean_runs]
    elems[offs] = sampler.pos[idx[keep]]
    for i in np.flatnonzero(redo | (~sampled & (fixed > 0))):
        rng = np.random.default_rng([seed, run_list[i]])
        elems[indptr[i]:indptr[i + 1]] = sampler.elements(rng, sampler.count(rng))
    return indptr, elems


def _csr(parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    indptr = np.zeros(len(parts) + 1, np.int64)
    if parts:
        np.cumsum([p.size for p in parts], out=indptr[1:])
    elems = np.concatenate(parts).astype(np.int64) if parts else np.empty(0, np.int64)
    return indptr, elems


def storms_to_csr(storms: Sequence[Storm]) -> tuple[np.ndarray, np.ndarray]:
    """``(indptr, element_positions)`` of storms (elements in time order)."""
    return _csr([s.elements for s in storms])


def storm_from_faults(faults: Sequence[Fault] | Scenario, topo, seed: int = 0, run: int = 0) -> Storm:
    """The fixed faults of a scenario as a :class:`Storm` (repair distributions drawn with
    ``default_rng([seed, run])``; a fault without ``repair_min`` takes its element type's default).

    Unknown elements raise :class:`~gridsim.errors.UnknownElementError`
    (use :func:`~gridsim.scenarios.check_against` first for file/line errors).
    """
    from gridsim.restore.plan import DEFAULT_REPAIR_MIN
    from gridsim.core.topology import ELEMENT_ORDER

    if isinstance(faults, Scenario):
        seed = faults.seed if seed is None else seed
        faults = faults.faults
    faults = list(faults)
    rng = np.random.default_rng([int(seed), int(run)])
    k = len(faults)
    elems = topo.element_positions([f.element for f in faults]) if k else np.empty(0, np.int64)
    t = np.asarray([f.time_min for f in faults], np.float64)
    repair = np.empty(k)
    for i, f in enumerate(faults):  # per fault of a hand-written list, not per element of a model
        etype = ELEMENT_ORDER[int(topo.elem_type[elems[i]])]
        spec = DEFAULT_REPAIR_MIN[etype] if f.repair_min is None else f.repair_min
        repair[i] = 0.0 if f.temporary else float(as_distribution(spec).sample(rng, 1)[0])
    order = np.argsort(t, kind="stable")
    return Storm(run=int(run), elements=np.asarray(elems, np.int64)[order], time_min=t[order],
                 repair_min=repair[order],
                 cause=np.asarray([_CAUSE_CODE[f.cause] for f in faults], np.int8)[order] if k
                 else np.empty(0, np.int8),
                 temporary=np.asarray([f.temporary for f in faults], bool)[order] if k else np.empty(0, bool))
