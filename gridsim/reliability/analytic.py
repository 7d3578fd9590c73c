"""Expected (analytic) reliability indices of a model from failure rates.

For every in-service faultable element *f* (line, transformer, three-winding
transformer, bus-bus switch, bus) with failure rate ``lambda_f`` per year:

1. the protective device that clears *f* trips and interrupts its zone (the
   nodes downstream of it; with no modelled device, what *f* disconnects);
2. with FLISR (:func:`gridsim.restore.flisr.plan_flisr`) each interrupted node
   *n* is back after ``restored_min[n]`` (isolation, reclosing, tie transfer)
   or, when it waits for the repair, after the repair time ``r_f`` of *f*; its
   outage lasts ``d_fn = min(restored_min[n], r_f)``. Without FLISR every
   interrupted node waits for the repair: ``d_fn = r_f``;
3. an outage with ``d_fn > momentary_threshold_min`` (5 min, IEEE 1366) is a
   sustained interruption, else a momentary one.

Per node *n* (``S`` = sustained pairs, ``M`` = momentary pairs)::

    lambda_n = sum_{f: (f, n) in S} lambda_f                  [interruptions / yr]
    U_n      = sum_{f: (f, n) in S} lambda_f * d_fn            [min / yr]
    mu_n     = sum_{f: (f, n) in M} lambda_f                   [momentary / yr]

and with ``N_n`` customers and ``P_n`` kW at node *n*, ``N_T = sum N_n`` over
the nodes supplied in the state (per feeder: over the feeder's nodes)::

    SAIFI = sum N_n lambda_n / N_T          SAIDI = sum N_n U_n / N_T   [min / yr]
    CAIDI = SAIDI / SAIFI  [min]            ASAI  = 1 - SAIDI / (8760 * 60)
    MAIFI = sum N_n mu_n / N_T              ENS   = sum P_n U_n / 60    [kWh / yr]

This is the OpenDSS reliability-mode idea (expected values over all single
faults), with FLISR's switching and capacity-checked transfers counted.
Defaults for rates and repair times (:data:`DEFAULT_RATES`,
:data:`DEFAULT_REPAIR_MIN`) are typical literature values; a model overrides
them in the ``reliability:`` section of model.yaml, and arguments override
both. See ``docs/reliability.md``.

Feeders: ``net.bus.feeder`` when the net has it (synthetic models); otherwise
a node's feeder is the first line below the nearest transformer (or source)
on its path from the source in the operating tree, named by that line
(``line:12``); nodes between the transformer and the first line (busbars)
form a group ``busbar:<bus id>``.
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gridsim.errors import GridsimError
from gridsim.types import CLASS_ORDER, ElementType

__all__ = ["DEFAULT_RATES", "DEFAULT_REPAIR_MIN", "ReliabilityError", "ReliabilityResult",
           "expected_reliability", "node_feeders"]

#: Failure rates, failures per year (lines: per km per year), by element kind.
#: Typical values from the literature, to be replaced by a utility's statistics
#: (sources in docs/reliability.md):
#: - ``line_ol_per_km``: overhead MV line, 0.065 /km/yr (RBTS, Allan et al. 1991);
#: - ``line_cs_per_km``: cable, 0.04 /km/yr (Brown 2009 ~0.07 /mi/yr for primary cable);
#: - ``trafo`` / ``trafo3w``: 0.015 /yr per unit (RBTS distribution transformers);
#: - ``switch``: bus-bus switch (breaker / disconnector), 0.006 /yr (RBTS breakers);
#: - ``bus``: 0.001 /yr per bus (busbar, Brown 2009 substation data).
DEFAULT_RATES: dict[str, float] = {
    "line_ol_per_km": 0.065,
    "line_cs_per_km": 0.04,
    "trafo": 0.015,
    "trafo3w": 0.015,
    "switch": 0.006,
    "bus": 0.001,
}

#: Mean time from the fault until the faulted element is back in service (crew
#: dispatch, fault location, repair or replacement), minutes, by element kind:
#: overhead line 5 h (RBTS), cable 8 h (joint repair), transformer 10 h
#: (replacement from stock, RBTS), switch 4 h, bus 2 h.
DEFAULT_REPAIR_MIN: dict[str, float] = {
    "line_ol": 300.0,
    "line_cs": 480.0,
    "trafo": 600.0,
    "trafo3w": 600.0,
    "switch": 240.0,
    "bus": 120.0,
}

#: Interruptions lasting at most this many minutes are momentary (IEEE 1366).
MOMENTARY_THRESHOLD_MIN = 5.0
PERIOD_H = 8760.0
_MIN_PER_YEAR = PERIOD_H * 60.0

# rate key / repair key of each element kind (lines split by pandapower line type below)
_KIND_KEYS = {ElementType.TRAFO: "trafo", ElementType.TRAFO3W: "trafo3w", ElementType.SWITCH: "switch",
              ElementType.BUS: "bus"}


class ReliabilityError(GridsimError, ValueError):
    """A bad rate, repair time or option for :func:`expected_reliability`."""


# --------------------------------------------------------------------------- result

@dataclass(frozen=True, eq=False)
class ReliabilityResult:
    """Result of :func:`expected_reliability` (all figures per year).

    ``system`` / ``system_without_flisr``: dicts with ``saifi`` (interruptions
    per customer), ``saidi`` and ``caidi`` (minutes), ``asai``, ``maifi``
    (momentary interruptions per customer), ``ens_kwh``, ``cmi`` (customer
    minutes) and ``customers`` (N_T). ``system_without_flisr`` is ``None`` when
    FLISR was off (``system`` is then the no-FLISR result).

    DataFrames: ``feeders`` (one row per feeder, the same indices),
    ``critical_exposure`` (one row per critical customer: expected sustained
    interruptions and outage hours per year, the single faults that leave it
    out until repair, and the same without FLISR), ``faults`` (one row per
    faultable element with its rate, repair time and contribution) and
    ``buses`` (per bus: feeder, customers, expected interruptions and hours).
    """

    model: str
    flisr: bool
    system: dict
    system_without_flisr: dict | None
    feeders: pd.DataFrame
    critical_exposure: pd.DataFrame
    faults: pd.DataFrame
    buses: pd.DataFrame
    assumptions: dict
    elapsed_s: float = 0.0
    timings_s: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-safe dict: ``model``, ``flisr``, ``system``, ``system_without_flisr``,
        ``feeders``, ``critical_exposure`` (``elements`` as a list of element
        labels), ``assumptions``; NaN -> ``None``."""
        crit = _records(self.critical_exposure)
        for row in crit:
            row["elements"] = str(row.get("elements") or "").split()
        return {
            "model": self.model,
            "flisr": self.flisr,
            "system": _clean(self.system),
            "system_without_flisr": _clean(self.system_without_flisr),
            "feeders": _records(self.feeders),
            "critical_exposure": crit,
            "assumptions": _clean(self.assumptions),
        }

    def __repr__(self) -> str:
        s = self.system
        return (f"ReliabilityResult({self.model!r}, flisr={self.flisr}, SAIFI={s['saifi']:.4f}, "
                f"SAIDI={s['saidi']:.2f} min, feeders={len(self.feeders)}, "
                f"critical={len(self.critical_exposure)})")


def _clean(v):
    if v is None:
        return None
    if isinstance(v, Mapping):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return None if not math.isfinite(v) else v
    return v


def _records(df: pd.DataFrame) -> list[dict]:
    return [_clean(r) for r in df.to_dict(orient="records")]


# --------------------------------------------------------------------------- inputs

def _number(v, where: str) -> float:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise ReliabilityError(f"{where}: expected a number, got {v!r}")
    v = float(v)
    if not math.isfinite(v) or v < 0:
        raise ReliabilityError(f"{where}: expected a finite number >= 0, got {v!r}")
    return v


def _merge(defaults: dict, layers: list[tuple[str, object]], topo) -> tuple[dict, dict]:
    """Kind values and per-element overrides (``"line:17": value``) from defaults, model.yaml, arguments."""
    kinds = dict(defaults)
    per_elem: dict[int, float] = {}
    for where, layer in layers:
        if layer is None:
            continue
        if not isinstance(layer, Mapping):
            raise ReliabilityError(f"{where}: expected a mapping {{kind or TYPE:ID: value}}, "
                                   f"got {type(layer).__name__}")
        for key, value in layer.items():
            k = str(key).strip()
            if k in kinds:
                kinds[k] = _number(value, f"{where}.{k}")
            elif ":" in k:
                pos = int(topo.element_positions([k])[0])   # UnknownElementError names the element
                per_elem[pos] = _number(value, f"{where}.{k}")
            else:
                raise ReliabilityError(f"{where}: unknown key {k!r}; use one of {', '.join(kinds)} "
                                       f"or an element TYPE:ID (e.g. line:17)")
    return kinds, per_elem


def _element_data(topo, net, rates: dict, repair: dict, rate_elem: dict, repair_elem: dict):
    """Per element position: rate per year, repair minutes, kind label, length km."""
    from gridsim.core.topology import ELEMENT_ORDER

    m = topo.n_elements
    etype = np.asarray(topo.elem_type, np.int64)
    rate = np.zeros(m)
    rep = np.zeros(m)
    kind = np.empty(m, dtype=object)
    length = np.zeros(m)
    for et, key in _KIND_KEYS.items():
        sel = etype == ELEMENT_ORDER.index(et)
        rate[sel] = rates[key]
        rep[sel] = repair[key]
        kind[sel] = key
    lines = np.flatnonzero(etype == ELEMENT_ORDER.index(ElementType.LINE))
    if lines.size:
        tab = net.line.loc[topo.elem_id[lines]]
        km = tab["length_km"].to_numpy(dtype=float)
        bad = ~np.isfinite(km) | (km < 0)
        if bad.any():
            raise ReliabilityError(f"line {int(topo.elem_id[lines][bad][0])} has length_km "
                                   f"{km[bad][0]!r}; failure rates per km need a length >= 0")
        ol = (tab["type"].astype(str).str.strip().str.lower() == "ol").to_numpy() if "type" in tab else \
            np.zeros(lines.size, bool)
        rate[lines] = np.where(ol, rates["line_ol_per_km"], rates["line_cs_per_km"]) * km
        rep[lines] = np.where(ol, repair["line_ol"], repair["line_cs"])
        kind[lines] = np.where(ol, "line_ol", "line_cs")
        length[lines] = km
    for pos, v in rate_elem.items():
        rate[pos] = v
    for pos, v in repair_elem.items():
        rep[pos] = v
    return rate, rep, kind, length


# --------------------------------------------------------------------------- feeders

def node_feeders(topo, state=None) -> tuple[np.ndarray, np.ndarray]:
    """Feeder of every node: ``(codes, names)``, ``codes[n]`` indexes ``names``, -1 for
    nodes without one (unsupplied in the state, virtual nodes above the sources).

    ``net.bus.feeder`` names the feeders when the model's net has that column
    (``feeder:<k>``; -1 / NaN there means the substation: ``substation``).
    Otherwise a node's feeder is the first line below the nearest transformer
    (or source) on its path in the operating tree (``line:<id>``); nodes above
    any line form a busbar group ``busbar:<bus id>`` named by the bus just
    below the transformer / source.
    """
    a = topo.analysis(state)
    net = getattr(getattr(topo, "model", None), "net", None)
    n = topo.n_node
    reached = a.pre >= 0
    if net is not None and "feeder" in net.bus.columns:
        f = pd.to_numeric(net.bus["feeder"], errors="coerce").to_numpy(dtype=float)
        f = np.where(np.isfinite(f) & (f >= 0), f, -1).astype(np.int64)
        node_f = np.full(n, -2, np.int64)
        node_f[topo.bus_node] = f
        node_f[~reached] = -2
        uniq = np.unique(node_f[node_f >= -1])
        codes = np.full(n, -1, np.int64)
        ok = node_f >= -1
        codes[ok] = np.searchsorted(uniq, node_f[ok])
        names = np.array(["substation" if u < 0 else f"feeder:{u}" for u in uniq], dtype=object)
        return codes, names
    from gridsim.core.topology import BR_LINE, BR_SOURCE, BR_TRAFO, BR_TRAFO3W_ARM

    v = np.arange(n)
    pb = np.asarray(a.parent_branch, np.int64)
    kind = np.full(n, -1, np.int64)
    has_parent = reached & (np.asarray(a.parent) >= 0)
    kind[has_parent] = topo.br_kind[pb[has_parent]]
    stop = ~has_parent | np.isin(kind, (BR_TRAFO, BR_TRAFO3W_ARM, BR_SOURCE))
    big = np.iinfo(np.int64).max
    best = np.where(kind == BR_LINE, np.asarray(a.pre, np.int64), big)   # highest line node: min preorder
    jump = np.where(stop, v, np.asarray(a.parent, np.int64))
    while True:  # pointer jumping: path minimum up to the segment's top, O(N log depth)
        nxt = jump[jump]
        best = np.minimum(best, best[jump])
        if np.array_equal(nxt, jump):
            break
        jump = nxt
    top = jump                       # node just below the transformer / source (or itself)
    key = np.where(best < big, best, -1 - top)   # >= 0: preorder of the head line's lower node
    key[~reached | (v == 0)] = big
    uniq, inv = np.unique(key, return_inverse=True)
    codes = np.where(key == big, -1, inv).astype(np.int64)
    names = np.empty(len(uniq), dtype=object)
    for j, k in enumerate(uniq):
        if k == big:
            names[j] = ""
        elif k >= 0:
            head = int(a.node_at[k])
            names[j] = f"line:{int(topo.br_elem[pb[head]])}"
        else:
            t = int(-1 - k)
            row = int(topo.node_bus_row[t])
            names[j] = f"busbar:{int(topo.bus_ids[row])}" if row >= 0 else f"busbar:node{t}"
    return codes, names


# --------------------------------------------------------------------------- zones

def _zones(topo, state, positions: np.ndarray):
    """Interrupted zones of single faults without switching, as preorder ranges.

    Returns ``(k, start, stop)``: fault ``positions[k]`` interrupts the nodes
    ``a.node_at[start:stop]`` (a fault may have several disjoint ranges). The
    zone is the subtree below the tripping device's branch (the same zone as
    ``customers_interrupted`` of :func:`gridsim.sweep_single_faults`); with no
    device, what the fault disconnects: the subtree below a bridge branch; a
    bus and, in a meshed part, the child subtrees without a back edge above it.
    """
    from gridsim.core.impact import _single_arrays

    a = topo.analysis(state)
    trip = np.asarray(_single_arrays(topo, state)[3], np.int64)[positions]
    pre = np.asarray(a.pre, np.int64)
    size = np.asarray(a.size, np.int64)
    low = np.asarray(a.low, np.int64)
    parent = np.asarray(a.parent, np.int64)
    pb = np.asarray(a.parent_branch, np.int64)
    nodes_reached = a.node_at[1:a.n_reached].astype(np.int64)
    child = np.full(topo.n_branch, -1, np.int64)           # lower end of each tree branch
    child[pb[nodes_reached]] = nodes_reached
    ks, ss, zs = [], [], []
    k = np.arange(positions.size)
    # 1. a device trips: the subtree below its branch
    dev = trip >= 0
    if dev.any():
        below = child[topo.dev_branch[trip[dev]]]
        ok = below >= 0
        ks.append(k[dev][ok])
        ss.append(pre[below[ok]])
        zs.append(pre[below[ok]] + size[below[ok]])
    # 2. no device: what the element disconnects
    nodev = ~dev
    is_node = topo.elem_is_node[positions]
    ref = np.asarray(topo.elem_ref[positions], np.int64)
    br = nodev & ~is_node
    if br.any():
        c = child[ref[br]]
        ok = c >= 0
        ok[ok] &= low[c[ok]] >= pre[c[ok]]                   # bridges only
        ks.append(k[br][ok])
        ss.append(pre[c[ok]])
        zs.append(pre[c[ok]] + size[c[ok]])
    nd = nodev & is_node
    if nd.any():
        vn = ref[nd]
        ok = pre[vn] >= 0
        kn, vn = k[nd][ok], vn[ok]
        if a.radial:
            ks.append(kn)
            ss.append(pre[vn])
            zs.append(pre[vn] + size[vn])
        else:
            ks.append(kn)                                    # the bus itself
            ss.append(pre[vn])
            zs.append(pre[vn] + 1)
            fault_of = np.full(topo.n_node, -1, np.int64)
            fault_of[vn] = kn
            ch = nodes_reached[fault_of[parent[nodes_reached]] >= 0]
            ch = ch[low[ch] >= pre[parent[ch]]]              # child subtrees cut off with it
            ks.append(fault_of[parent[ch]])
            ss.append(pre[ch])
            zs.append(pre[ch] + size[ch])
    if not ks:
        e = np.zeros(0, np.int64)
        return e, e, e
    return np.concatenate(ks), np.concatenate(ss), np.concatenate(zs)


def _expand(starts: np.ndarray, stops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(range index, position)`` for every position of every range ``[starts[i], stops[i])``."""
    lengths = np.maximum(stops - starts, 0)
    offsets = np.zeros(starts.size, np.int64)
    if starts.size > 1:
        np.cumsum(lengths[:-1], out=offsets[1:])
    rng = np.repeat(np.arange(starts.size), lengths)
    pos = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(offsets - starts, lengths)
    return rng, pos


# --------------------------------------------------------------------------- outcomes

@dataclass(frozen=True, eq=False)
class _Outcome:
    """Expected figures of one restoration mode: per node, and per candidate fault."""

    sust: np.ndarray       # (n_node,) sustained interruptions per year
    mom: np.ndarray        # (n_node,) momentary interruptions per year
    dur_min: np.ndarray    # (n_node,) sustained outage minutes per year
    f_cust: np.ndarray     # per fault: customers interrupted
    f_wait: np.ndarray     # per fault: customers left until the repair
    f_ci: np.ndarray       # per fault: sustained customer interruptions per year
    f_cmi: np.ndarray      # per fault: customer minutes per year
    crit_k: np.ndarray     # (fault, critical node) pairs out until the repair
    crit_node: np.ndarray


def _outcome_without_flisr(topo, a, state, cand, lam, rep, thr) -> _Outcome:
    """Every interrupted node waits for the repair; O(N + F) with difference arrays on the preorder."""
    k, s, e = _zones(topo, state, cand)
    nr = int(a.n_reached)
    node_at = np.asarray(a.node_at[:nr], np.int64)
    lk, dk = lam[k], rep[k]
    sus = dk > thr

    def spread(w: np.ndarray) -> np.ndarray:
        acc = np.bincount(s, w, minlength=nr + 1) - np.bincount(e, w, minlength=nr + 1)
        out = np.zeros(topo.n_node)
        out[node_at] = np.maximum(np.cumsum(acc)[:nr], 0.0)
        return out

    pc = np.zeros(nr + 1)
    np.cumsum(topo.node_cust[node_at], out=pc[1:])
    cr = pc[e] - pc[s]                                   # customers per range
    nf = cand.size
    f_cust = np.bincount(k, cr, minlength=nf)
    sus_f = rep > thr
    crit_pos = np.sort(np.asarray(a.pre, np.int64)[np.flatnonzero((topo.node_crit > 0) & (a.pre >= 0))])
    r, j = _expand(np.searchsorted(crit_pos, s), np.searchsorted(crit_pos, e))
    return _Outcome(
        sust=spread(lk * sus), mom=spread(lk * ~sus), dur_min=spread(lk * dk * sus),
        f_cust=f_cust, f_wait=f_cust.copy(), f_ci=lam * f_cust * sus_f, f_cmi=lam * rep * f_cust * sus_f,
        crit_k=k[r], crit_node=node_at[crit_pos[j]],
    )


def _flisr_plans(topo, state, options, positions: np.ndarray):
    """The :func:`~gridsim.restore.flisr.plan_flisr` plan of every position, in order,
    through :func:`~gridsim.restore.flisr.iter_flisr_plans` (one shared planner:
    ~5x faster than a ``plan_flisr`` call per fault; same plans, checked in
    tests/unit/test_reliability_analytic.py)."""
    from gridsim.restore.flisr import iter_flisr_plans

    yield from iter_flisr_plans(topo, (int(p) for p in positions), state=state, options=options)


def _outcome_with_flisr(topo, state, options, cand, lam, rep, thr) -> _Outcome:
    """Node outage times from the FLISR plan of every fault: min(restored_min, repair)."""
    keep = (topo.node_cust > 0) | (topo.node_p_kw > 0)   # nodes that weigh in some index
    ks, ns, rs = [], [], []
    for i, plan in enumerate(_flisr_plans(topo, state, options, cand)):
        nodes = np.asarray(plan.nodes, np.int64)
        m = keep[nodes]
        ks.append(np.full(int(m.sum()), i, np.int64))
        ns.append(nodes[m])
        rs.append(np.asarray(plan.restored_min, float)[m])
    k = np.concatenate(ks) if ks else np.zeros(0, np.int64)
    node = np.concatenate(ns) if ns else np.zeros(0, np.int64)
    rmin = np.concatenate(rs) if rs else np.zeros(0)
    repk = rep[k]
    dur = np.minimum(rmin, repk)
    wait = ~(rmin < repk)                                # the repair brings it back
    sus = dur > thr
    w = lam[k]
    n, nf = topo.n_node, cand.size
    c = topo.node_cust[node].astype(float)
    crit = wait & (topo.node_crit[node] > 0)
    return _Outcome(
        sust=np.bincount(node, w * sus, minlength=n), mom=np.bincount(node, w * ~sus, minlength=n),
        dur_min=np.bincount(node, w * dur * sus, minlength=n),
        f_cust=np.bincount(k, c, minlength=nf), f_wait=np.bincount(k, c * wait, minlength=nf),
        f_ci=np.bincount(k, w * c * sus, minlength=nf), f_cmi=np.bincount(k, w * c * dur * sus, minlength=nf),
        crit_k=k[crit], crit_node=node[crit],
    )


# --------------------------------------------------------------------------- indices

def _index_arrays(n_t, ci, cmi, mi, ens) -> dict:
    """IEEE 1366 expected indices from totals (arrays or scalars)."""
    n_t = np.asarray(n_t, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        saifi = np.where(n_t > 0, ci / n_t, np.nan)
        saidi = np.where(n_t > 0, cmi / n_t, np.nan)
        caidi = np.where(np.asarray(ci) > 0, saidi / saifi, np.nan)
        maifi = np.where(n_t > 0, mi / n_t, np.nan)
    return {"saifi": saifi, "saidi": saidi, "caidi": caidi, "asai": 1.0 - saidi / _MIN_PER_YEAR,
            "maifi": maifi, "ens_kwh": np.asarray(ens, float), "cmi": np.asarray(cmi, float),
            "customers": n_t.astype(np.int64)}


def _system(cust, p_kw, o: _Outcome) -> dict:
    d = _index_arrays(cust.sum(), cust @ o.sust, cust @ o.dur_min, cust @ o.mom, p_kw @ o.dur_min / 60.0)
    return {k: (int(v) if k == "customers" else float(v)) for k, v in d.items()}


def _feeder_table(topo, net, codes, names, cust, p_kw, o: _Outcome, base: _Outcome | None) -> pd.DataFrame:
    nf = len(names)
    ok = codes >= 0
    c = codes[ok]

    def tot(w):
        return np.bincount(c, w[ok], minlength=nf)

    d = _index_arrays(tot(cust), tot(cust * o.sust), tot(cust * o.dur_min), tot(cust * o.mom),
                      tot(p_kw * o.dur_min) / 60.0)
    rows = topo.node_bus_row
    isbus = ok & (rows >= 0)
    vn = np.zeros(nf)
    np.maximum.at(vn, codes[isbus], net.bus["vn_kv"].to_numpy(dtype=float)[rows[isbus]])
    df = pd.DataFrame({"feeder": names.astype(str), "vn_kv": vn,
                       "buses": np.bincount(codes[isbus], minlength=nf), **d})
    if base is not None:
        df["saidi_without_flisr"] = np.where(d["customers"] > 0, tot(cust * base.dur_min) / np.maximum(
            d["customers"], 1), np.nan)
    df = df[(df["feeder"] != "") & (df["customers"] > 0)]
    return df.sort_values(["cmi", "feeder"], ascending=[False, True], kind="stable").reset_index(drop=True)


def _crit_lists(labels, weight, o: _Outcome) -> dict[int, tuple[int, str]]:
    """critical node -> (faults until repair, their labels, largest expected outage first)."""
    if o.crit_k.size == 0:
        return {}
    df = pd.DataFrame({"node": o.crit_node, "k": o.crit_k, "w": weight[o.crit_k]})
    df = df.sort_values(["node", "w", "k"], ascending=[True, False, True], kind="stable")
    out = {}
    for node, g in df.groupby("node", sort=False):
        out[int(node)] = (len(g), " ".join(labels[g["k"].to_numpy()]))
    return out


def _critical_table(topo, a, codes, names, cand, labels, lam, rep, o: _Outcome,
                    base: _Outcome | None) -> pd.DataFrame:
    crit_codes = [CLASS_ORDER.index(c) for c in topo.critical_classes]
    rows = np.flatnonzero(np.isin(topo.cust_class, crit_codes))
    weight = lam * rep
    lists = _crit_lists(labels, weight, o)
    lists0 = _crit_lists(labels, weight, base) if base is not None else None
    nodes = topo.cust_node[rows].astype(np.int64)
    fcode = codes[nodes]
    data = {
        "customer_id": topo.cust_ids[rows].astype(str),
        "class": [CLASS_ORDER[int(c)].value for c in topo.cust_class[rows]],
        "bus": topo.bus_ids[topo.node_bus_row[nodes]].astype(np.int64),
        "feeder": np.where(fcode >= 0, names[np.maximum(fcode, 0)], "").astype(str) if len(names) else
        np.full(rows.size, "", dtype=object),
        "supplied": a.pre[nodes] >= 0,
        "interruptions_per_yr": o.sust[nodes],
        "outage_h_per_yr": o.dur_min[nodes] / 60.0,
        "momentary_per_yr": o.mom[nodes],
        "faults_until_repair": [lists.get(int(v), (0, ""))[0] for v in nodes],
    }
    if base is not None:
        data["outage_h_per_yr_without_flisr"] = base.dur_min[nodes] / 60.0
        data["faults_until_repair_without_flisr"] = [lists0.get(int(v), (0, ""))[0] for v in nodes]
    data["elements"] = [lists.get(int(v), (0, ""))[1] for v in nodes]
    df = pd.DataFrame(data)
    return df.sort_values(["outage_h_per_yr", "customer_id"], ascending=[False, True],
                          kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- entry point

def _resolve(model_or_topo):
    from gridsim.core.topology import Topology, compile_topology

    if isinstance(model_or_topo, Topology):
        model = getattr(model_or_topo, "model", None)
        if model is None:
            raise ReliabilityError(f"topology {model_or_topo.name!r} carries no model (line lengths, "
                                   f"model.yaml); compile it with compile_topology(model)")
        return model_or_topo, model
    if isinstance(model_or_topo, str):
        from gridsim.model import load_model

        model_or_topo = load_model(model_or_topo)
    if hasattr(model_or_topo, "net") and hasattr(model_or_topo, "customers"):
        return compile_topology(model_or_topo), model_or_topo
    raise ReliabilityError(f"expected a Model, a Topology or a model spec, got {type(model_or_topo).__name__}")


def _meta_section(model) -> dict:
    sec = (getattr(model, "meta", None) or {}).get("reliability") or {}
    if not isinstance(sec, Mapping):
        raise ReliabilityError(f"model.yaml reliability: expected a mapping with rates, repair_min, "
                               f"momentary_threshold_min; got {type(sec).__name__}")
    bad = [k for k in sec if k not in ("rates", "repair_min", "momentary_threshold_min")]
    if bad:
        raise ReliabilityError(f"model.yaml reliability.{bad[0]}: unknown key; use rates, repair_min, "
                               f"momentary_threshold_min")
    return dict(sec)


def _labels(topo, positions: np.ndarray) -> np.ndarray:
    from gridsim.core.topology import ELEMENT_ORDER

    names = np.array([e.value for e in ELEMENT_ORDER], dtype=object)
    return (names[topo.elem_type[positions]] + ":" + topo.elem_id[positions].astype(str).astype(object)) \
        if positions.size else np.zeros(0, dtype=object)


def expected_reliability(model_or_topo, *, rates: Mapping | None = None, repair_min: Mapping | None = None,
                         state=None, options=None, flisr: bool = True,
                         momentary_threshold_min: float | None = None) -> ReliabilityResult:
    """Expected annual IEEE 1366 indices of a model from failure rates, repair and switching times.

    ``model_or_topo``: a :class:`~gridsim.model.Model`, a compiled
    :class:`~gridsim.core.Topology` (compiled from a model) or a model spec.
    ``rates``: failures per year by kind (:data:`DEFAULT_RATES` keys; lines per
    km) or per element (``{"line:17": 0.2}``, per year); ``repair_min``: minutes
    by kind (:data:`DEFAULT_REPAIR_MIN` keys) or per element. Both override the
    model.yaml ``reliability:`` section (``rates``, ``repair_min``,
    ``momentary_threshold_min``), which overrides the defaults. ``state``: switch
    states / faulted elements to start from. ``options``: FLISR options
    (:class:`~gridsim.restore.flisr.FlisrOptions` or a mapping). ``flisr=False``:
    nobody is restored by switching, every interrupted customer waits for the
    repair.

    Every in-service element whose fault interrupts customers contributes its
    rate; see the module docstring for the formulas. With FLISR, the result
    also holds the same figures without it (``system_without_flisr``,
    ``saidi_without_flisr`` per feeder, ``*_without_flisr`` columns of the
    critical exposure table). Raises :class:`ReliabilityError` on a negative or
    non-numeric rate / time and ``UnknownElementError`` on an unknown element.
    """
    from gridsim.core.impact import _element_in_service, _single_arrays

    t0 = time.perf_counter()
    topo, model = _resolve(model_or_topo)
    net = model.net
    sec = _meta_section(model)
    rates_k, rate_e = _merge(DEFAULT_RATES, [("model.yaml reliability.rates", sec.get("rates")),
                                             ("rates", rates)], topo)
    repair_k, rep_e = _merge(DEFAULT_REPAIR_MIN, [("model.yaml reliability.repair_min", sec.get("repair_min")),
                                                  ("repair_min", repair_min)], topo)
    if momentary_threshold_min is not None:
        thr = _number(momentary_threshold_min, "momentary_threshold_min")
    else:
        thr = _number(sec.get("momentary_threshold_min", MOMENTARY_THRESHOLD_MIN),
                      "model.yaml reliability.momentary_threshold_min")
    state = topo.check_state(state)
    a = topo.analysis(state)
    rate, rep, kind, length = _element_data(topo, net, rates_k, repair_k, rate_e, rep_e)
    live = _element_in_service(topo)
    if state.faulted:
        live[list(state.faulted)] = False
    sweep = _single_arrays(topo, state)
    trip, interrupted = np.asarray(sweep[3]), np.asarray(sweep[4])
    cand = np.flatnonzero(live & (rate > 0) & (interrupted > 0))
    lam, rp = rate[cand], rep[cand]
    t1 = time.perf_counter()
    base = _outcome_without_flisr(topo, a, state, cand, lam, rp, thr)
    t2 = time.perf_counter()
    out = _outcome_with_flisr(topo, state, options, cand, lam, rp, thr) if flisr else base
    t3 = time.perf_counter()

    supplied = a.pre >= 0
    cust = np.where(supplied, topo.node_cust, 0).astype(float)
    p_kw = np.where(supplied, topo.node_p_kw, 0.0)
    codes, names = node_feeders(topo, state)
    labels = _labels(topo, cand)
    system = _system(cust, p_kw, out)
    system0 = _system(cust, p_kw, base) if flisr else None
    feeders = _feeder_table(topo, net, codes, names, cust, p_kw, out, base if flisr else None)
    critical = _critical_table(topo, a, codes, names, cand, labels, lam, rp, out, base if flisr else None)
    dev_ids = np.concatenate([np.array([""], dtype=object), topo.dev_ids.astype(object)])
    n_t = max(system["customers"], 1)
    faults = pd.DataFrame({
        "element": labels.astype(str), "kind": kind[cand].astype(str), "length_km": length[cand],
        "rate_per_yr": lam, "repair_min": rp, "tripping_device": dev_ids[trip[cand] + 1].astype(str),
        "customers_interrupted": out.f_cust.round().astype(np.int64),
        "customers_until_repair": out.f_wait.round().astype(np.int64),
        "customer_interruptions_per_yr": out.f_ci, "cmi_per_yr": out.f_cmi, "saidi_min": out.f_cmi / n_t,
    }).sort_values(["cmi_per_yr", "element"], ascending=[False, True], kind="stable").reset_index(drop=True)
    bn = topo.bus_node.astype(np.int64)
    bcode = codes[bn]
    buses = pd.DataFrame({
        "bus": topo.bus_ids, "feeder": np.where(bcode >= 0, names[np.maximum(bcode, 0)], "").astype(str),
        "customers": topo.node_cust[bn], "p_kw": topo.node_p_kw[bn],
        "interruptions_per_yr": out.sust[bn], "momentary_per_yr": out.mom[bn],
        "outage_h_per_yr": out.dur_min[bn] / 60.0,
    })
    ol = kind == "line_ol"
    cs = kind == "line_cs"
    assumptions = {
        "method": "expected values over all single faults: each interrupted node counts the fault's rate; "
                  "outage = min(FLISR restored_min, repair_min) with FLISR, repair_min without",
        "flisr": bool(flisr),
        "flisr_options": _options_dict(options) if flisr else None,
        "rates_per_yr": dict(rates_k),
        "rate_overrides": {topo.element_label(p): v for p, v in sorted(rate_e.items())},
        "repair_min": dict(repair_k),
        "repair_overrides": {topo.element_label(p): v for p, v in sorted(rep_e.items())},
        "momentary_threshold_min": thr,
        "period_h": PERIOD_H,
        "switching": dict((getattr(model, "meta", None) or {}).get("switching") or {}),
        "customers_served": system["customers"],
        "customers_unsupplied_in_state": int(topo.node_cust[~supplied].sum()),
        "elements_in_service": int(live.sum()),
        "faults_interrupting_customers": int(cand.size),
        "expected_faults_per_yr": float(rate[live].sum()),
        "line_km": {"overhead": float(length[ol & live].sum()), "cable": float(length[cs & live].sum())},
        "line_type_rule": "pandapower net.line.type 'ol' is overhead; anything else (cs, missing) is cable",
        "feeders": "net.bus.feeder" if "feeder" in net.bus.columns else
        "first line below the nearest transformer or source on the path from the source (busbar:<bus> above it)",
    }
    t4 = time.perf_counter()
    return ReliabilityResult(
        model=model.name, flisr=bool(flisr), system=system, system_without_flisr=system0, feeders=feeders,
        critical_exposure=critical, faults=faults, buses=buses, assumptions=assumptions, elapsed_s=t4 - t0,
        timings_s={"setup": t1 - t0, "without_flisr": t2 - t1, "flisr": t3 - t2, "tables": t4 - t3},
    )


def _options_dict(options) -> dict:
    from dataclasses import asdict

    from gridsim.restore.flisr import _options

    return asdict(_options(options))
