"""Automation advisor: where remote-controlled switches and new tie points cut expected outages most.

:func:`advise` places up to ``budget`` measures one after the other (greedy
with re-evaluation), each time taking the candidate that improves the model's
expected reliability (:func:`gridsim.reliability.expected_reliability` with
FLISR) most:

- ``convert``: make an existing manual pandapower switch (load-break switch,
  disconnector, a manual tie...) remote-controlled (added to model.yaml
  ``devices.remote_switches``);
- ``new_switch``: add a new remote-controlled load-break switch on an MV line
  (both ends 1-36 kV, in service) that carries no switching device yet (a
  pandapower switch at the line's upstream end, also in ``remote_switches``);
- ``new_tie``: add a normally-open line between two MV buses of the same
  nominal voltage on different feeders (:func:`gridsim.reliability.node_feeders`;
  substation busbars are not feeder buses), with a remote-controlled open
  load-break switch at its first bus. Candidates: for every MV bus and every
  other feeder, the nearest bus of that feeder at most ``max_tie_km``
  straight-line km away (bus coordinates, :func:`gridsim.model.geo.bus_xy_km`);
  pairs already joined by a line are left out. The new line copies the
  electrical data of the model's most common in-service MV cable (``type``
  not ``ol``; overhead lines only when the model has no cable) and is
  ``tie_route_factor`` x the straight-line distance long. FLISR then uses it
  like any tie: remote ties first, the whole healthy island when the
  receiving feeder passes the capacity check, else section by section.

Score of a candidate (weights ``weights``, default ``{"saidi": 1.0,
"critical": 1.0}``)::

    score = w_saidi    * (SAIDI_before - SAIDI_after) / SAIDI_0
          + w_critical * (CH_before    - CH_after)    / CH_0

SAIDI in min/customer/yr, CH = critical-customer hours per year (sum over the
customers of the critical classes of their expected sustained outage hours),
both expected values with FLISR; ``SAIDI_0`` / ``CH_0`` are those of the model
as given (fixed over the steps, so the score is "share of the starting SAIDI
removed + share of the starting critical hours removed", equal weights by
default; a term whose starting value is 0 counts 0). Switches and ties score
alike and compete in one greedy with ``what="both"``; the score does not
weigh the cost of a measure (a tie costs its cable), so among equal scores the
shorter tie wins.

Speed: a candidate can only change the FLISR plans of some faults, so it is
evaluated by re-planning just those faults on the modified model (recompiled,
~50 ms on mv_oberrhein; the re-plans, a few ms per fault with their capacity
checks, dominate):

- a switch: the faults whose interrupted zone (``SwitchingPlan.nodes``)
  touches the device's branch (isolation, sectionalizing, reclosing and tie
  switches of a plan all lie on such branches);
- a tie: the faults for which one of its ends lies in a healthy island (a
  part below the isolated faulted section, found with FLISR's own section
  search): only the transfer step of such a fault can use the tie. (On meshed
  operation: the faults whose interrupted zone holds an end.)

Every such fault has an upper bound on what the candidate can gain on it: a
switch at most removes the fault's whole contribution; a tie at most brings
the island nodes back when their island is isolated (isolation and reclosing
come before any transfer and no tie changes them), on the island holding its
end when no transfer restored any of that island before (a new transfer then
only adds load and switching time for the islands after it), else on all the
fault's islands (:meth:`_Eval.islands`). Best-first lazy greedy: the
candidate with the highest bound (gain of its faults re-planned so far +
bounds of the others) is expanded by re-planning its next few faults, largest
bound first, until the candidate on top has an exact score: no other can beat
it. Candidates that cannot win are dropped after a few faults.
``max_candidates`` shortlists per step and kind: conversions by the outage of
the faults whose plan operates that switch by hand, new switches by their
bound, ties by the bound of the islands holding their two ends, taken
round-robin over the feeder pairs they join (ties between the same two
feeders compete for the same islands and receiving capacity, so one pair
must not fill the list). A score or bound, and the per-fault results behind
it, stay valid across steps while the applied placements changed none of the
faults it depends on (for a tie: every fault whose zone holds an end, since a
new switch can turn a section into islands). After every placement the whole
model is evaluated again (every FLISR plan), so the reported before/after
figures are exact, and a placement's score equals their change (tested).
Capacity limits are what the bounds cannot see: on mv_oberrhein most ties
between its two big feeders gain little because the receiving feeder is
already full, and proving that takes most of the time.
"""
from __future__ import annotations

import copy
import heapq
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from gridsim.errors import GridsimError

__all__ = ["ACTIONS", "AdviceResult", "AdviseError", "DEFAULT_MAX_TIE_KM", "DEFAULT_TIE_ROUTE_FACTOR",
           "Placement", "advise", "WHAT_CHOICES"]

WHAT_CHOICES = ("switch", "tie", "both")
#: Kinds of placement, and the kinds each ``what`` allows.
ACTIONS = ("convert", "new_switch", "new_tie")
_WHAT_ACTIONS = {"switch": ("convert", "new_switch"), "tie": ("new_tie",), "both": ACTIONS}
DEFAULT_WEIGHTS = {"saidi": 1.0, "critical": 1.0}
#: Longest straight line between the two buses of a candidate tie, km.
DEFAULT_MAX_TIE_KM = 1.5
#: Cable route length / straight-line distance of a new tie (streets are not straight).
DEFAULT_TIE_ROUTE_FACTOR = 1.3
_CONVERTIBLE = ("load_break_switch", "disconnector", "breaker", "recloser", "sectionalizer")
_MV_KV = (1.0, 36.0)
_TIE_NAME = "advise tie"
_CHUNK = 4          # faults re-planned per expansion of a candidate (best-first evaluation)


class AdviseError(GridsimError, ValueError):
    """A bad argument to :func:`advise` (budget, what, weights, actions, tie options)."""


@dataclass(frozen=True)
class Placement:
    """One placement, in the order chosen."""

    rank: int
    action: str            # "convert" | "new_switch" | "new_tie"
    target: str            # "switch:26" (convert), "line:17" (new switch on that line), "bus:12-bus:57" (new tie)
    device: str            # the remote device after the placement ("switch:<id>")
    saidi_before: float    # min / customer / yr, FLISR on
    saidi_after: float
    critical_h_before: float   # critical-customer hours / yr
    critical_h_after: float
    score: float
    faults_replanned: int
    line: str | None = None        # new_tie: the new normally-open line ("line:<id>")
    length_km: float | None = None  # new_tie: its length (route factor x straight-line distance)

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in self.__dict__.items()}


@dataclass(frozen=True, eq=False)
class AdviceResult:
    model: str
    budget: int
    what: str
    weights: dict
    placements: list[Placement]
    saidi_start: float
    saidi_end: float
    critical_h_start: float
    critical_h_end: float
    candidates: dict             # {"convert": n, "new_switch": n, "new_tie": n} at the first step
    evaluations: int             # candidates evaluated (modified model compiled, some faults re-planned)
    elapsed_s: float
    final_model: object = field(repr=False, default=None)
    notes: list[str] = field(default_factory=list)
    tie_cable: dict | None = None    # parameters of the new ties' line (what="tie" / "both")
    timings_s: dict = field(default_factory=dict)
    fault_replans: int = 0           # FLISR plans made for candidate evaluations

    def to_dict(self) -> dict:
        return {
            "model": self.model, "budget": self.budget, "what": self.what, "weights": dict(self.weights),
            "saidi_start": self.saidi_start, "saidi_end": self.saidi_end,
            "critical_h_start": self.critical_h_start, "critical_h_end": self.critical_h_end,
            "placements": [p.to_dict() for p in self.placements], "candidates": dict(self.candidates),
            "evaluations": self.evaluations, "fault_replans": self.fault_replans, "elapsed_s": self.elapsed_s,
            "notes": list(self.notes),
            "tie_cable": None if self.tie_cable is None else dict(self.tie_cable),
            "timings_s": dict(self.timings_s),
        }


# --------------------------------------------------------------------------- model edits

def _remote_switch_ids(model) -> set[int]:
    d = model.devices
    sel = (d["origin"] == "pandapower") & d["remote"].astype(bool)
    return set(int(x) for x in d.loc[sel, "switch_id"])


def _with_remote(model, net, extra: set[int]):
    from gridsim.model import Model, build_device_table

    meta = copy.deepcopy(model.meta or {})
    dev = dict(meta.get("devices") or {})
    dev["remote_switches"] = sorted(_remote_switch_ids(model) | set(extra))
    meta["devices"] = dev
    return Model(name=model.name, net=net, customers=model.customers,
                 devices=build_device_table(net, meta), meta=meta, spec=getattr(model, "spec", ""))


def _mv_lines(net):
    """In-service lines with both ends at 1-36 kV."""
    vn = net.bus["vn_kv"].astype(float)
    ln = net.line[net.line["in_service"].astype(bool)]
    fv, tv = vn.reindex(ln["from_bus"]).to_numpy(), vn.reindex(ln["to_bus"]).to_numpy()
    lo, hi = _MV_KV
    return ln[(fv >= lo) & (fv <= hi) & (tv >= lo) & (tv <= hi)]


def _typical_cable(net) -> dict | None:
    """Electrical data of the most common in-service MV cable (by line count; overhead
    lines only when there is no cable), for new ties; ``None`` without MV lines."""
    mv = _mv_lines(net)
    mv = mv[mv["name"].astype(str) != _TIE_NAME] if "name" in mv else mv
    if "type" in mv:
        cs = mv[mv["type"].astype(str).str.strip().str.lower() != "ol"]
        mv = cs if len(cs) else mv
    if not len(mv):
        return None
    cols = ["r_ohm_per_km", "x_ohm_per_km", "c_nf_per_km", "max_i_ka"]
    g = "g_us_per_km" in mv
    data = mv[cols + (["g_us_per_km"] if g else [])].astype(float)
    key = data.round(9).apply(tuple, axis=1)
    counts = key.value_counts(sort=False)
    top = counts[counts == counts.max()].index
    first = int(np.flatnonzero(key.isin(top).to_numpy())[0])   # lowest line row among the most common
    row = mv.iloc[first]
    out = {c: float(row[c]) for c in cols}
    out["g_us_per_km"] = float(row["g_us_per_km"]) if g and np.isfinite(row["g_us_per_km"]) else 0.0
    t = str(row["type"]).strip() if "type" in mv and isinstance(row["type"], str) else "cs"
    out["type"] = t or "cs"
    std = row["std_type"] if "std_type" in mv else None
    out["std_type"] = std if isinstance(std, str) and std else None
    out["copied_from"] = f"line:{int(mv.index[first])}"
    out["lines_of_this_type"] = int(counts.max())
    return out


def _apply(model, cand: tuple, topo=None, *, tie_km: float | None = None, cable: dict | None = None):
    """A new Model with the candidate applied; returns (model, device label, new line label or None)."""
    action, ident = cand
    if action == "convert":
        return _with_remote(model, model.net, {ident}), f"switch:{ident}", None
    import pandapower as pp

    net = copy.deepcopy(model.net)
    if action == "new_tie":
        a_bus, b_bus = ident
        c = cable if cable is not None else _typical_cable(model.net)
        lid = int(pp.create_line_from_parameters(
            net, a_bus, b_bus, length_km=float(tie_km), r_ohm_per_km=c["r_ohm_per_km"],
            x_ohm_per_km=c["x_ohm_per_km"], c_nf_per_km=c["c_nf_per_km"], max_i_ka=c["max_i_ka"],
            g_us_per_km=c["g_us_per_km"], type=c["type"], name=_TIE_NAME))
        if c.get("std_type") and "std_type" in net.line:
            net.line.at[lid, "std_type"] = c["std_type"]
        sid = int(pp.create_switch(net, a_bus, lid, et="l", type="LBS", closed=False, name=_TIE_NAME))
        return _with_remote(model, net, {sid}), f"switch:{sid}", f"line:{lid}"
    line = net.line.loc[ident]
    bus = int(line["from_bus"])
    if topo is not None:   # the end nearer the source in the operating tree
        a = topo.analysis(None)
        ids = np.asarray(topo.bus_ids)
        ends = [int(line["from_bus"]), int(line["to_bus"])]
        rows = [np.flatnonzero(ids == e) for e in ends]
        if all(r.size for r in rows):
            pre = np.asarray(a.pre)[np.asarray(topo.bus_node)[[int(r[0]) for r in rows]]]
            if pre.min() >= 0 and pre[1] < pre[0]:
                bus = ends[1]
    sid = int(pp.create_switch(net, bus, ident, et="l", type="LBS", closed=True, name="advise"))
    return _with_remote(model, net, {sid}), f"switch:{sid}", None


# --------------------------------------------------------------------------- evaluation

class _Eval:
    """Per-fault contributions (customer minutes, critical minutes) of one model state."""

    def __init__(self, model, *, rates, repair_min, options):
        from gridsim.core import compile_topology
        from gridsim.reliability import expected_reliability

        self.model = model
        self.topo = compile_topology(model)
        self.options = options
        r = expected_reliability(self.topo, rates=rates, repair_min=repair_min, options=options, flisr=True)
        self.result = r
        self.n_t = max(int(r.system["customers"]), 1)
        self.thr = float(r.assumptions["momentary_threshold_min"])
        f = r.faults
        self.labels = f["element"].to_numpy(dtype=object)
        self.lam = dict(zip(self.labels, f["rate_per_yr"].to_numpy(float)))
        self.rep = dict(zip(self.labels, f["repair_min"].to_numpy(float)))
        self.saidi = float(r.system["saidi"])
        pos = self.topo.element_positions(list(self.labels)) if len(self.labels) else np.zeros(0, np.int64)
        self.positions = np.asarray(pos, np.int64)
        cmi, crit, ks, ns = self._terms(self.topo, self.labels, pos, keep=True)
        self.cmi = dict(zip(self.labels, cmi))
        self.crit = dict(zip(self.labels, crit))
        self.crit_h = float(np.sum(crit)) / 60.0
        # node -> faults whose zone holds it (CSR)
        order = np.argsort(ns, kind="stable")
        self._fk = ks[order]
        self._ptr = np.searchsorted(ns[order], np.arange(self.topo.n_node + 1))
        self._islands = None

    def _terms(self, topo, labels, positions, keep: bool = False):
        from gridsim.restore.flisr import iter_flisr_plans

        cust, crit_n = topo.node_cust.astype(float), topo.node_crit.astype(float)
        cmi = np.zeros(len(labels))
        crit = np.zeros(len(labels))
        ks, ns = [], []
        if keep:   # per fault: manual devices operated; plan nodes, outage minutes, isolation times (ties)
            self.manual = {}
            self.plan_nodes, self.plan_dur, self.plan_moved, self.plan_iso = [], [], [], []
        plans = iter_flisr_plans(topo, (int(p) for p in positions), options=self.options)
        for i, (lab, plan) in enumerate(zip(labels, plans)):
            nodes = np.asarray(plan.nodes, np.int64)
            restored = np.asarray(plan.restored_min, float)
            dur = np.minimum(restored, self.rep[lab])
            w = self.lam[lab] * dur * (dur > self.thr)
            cmi[i] = float(cust[nodes] @ w)
            crit[i] = float(crit_n[nodes] @ w)
            ks.append(np.full(nodes.size, i, np.int64))
            ns.append(nodes)
            if keep:
                self.manual[lab] = {st.device for st in plan.steps if not st.remote}
                self.plan_nodes.append(nodes)
                self.plan_dur.append(dur)
                self.plan_moved.append(np.isfinite(restored))
                self.plan_iso.append({st.device: st.t_min for st in plan.steps if st.purpose == "isolate"})
        k = np.concatenate(ks) if ks else np.zeros(0, np.int64)
        n = np.concatenate(ns) if ns else np.zeros(0, np.int64)
        return cmi, crit, k, n

    def faults_at_nodes(self, nodes) -> np.ndarray:
        """Indices (into ``labels``) of the faults whose interrupted zone holds one of ``nodes``."""
        parts = [self._fk[self._ptr[v]:self._ptr[v + 1]] for v in nodes if v >= 0]
        return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)

    def faults_at_branch(self, b: int) -> list[str]:
        t = self.topo
        ks = self.faults_at_nodes([int(t.br_from[b]), int(t.br_to[b])])
        return [self.labels[k] for k in ks]

    def islands(self):
        """Healthy islands of every fault's plan, per node (``None`` on meshed operation).

        Returns ``(ptr, fault, own_c, own_k, cap_c, cap_k, tot_c, tot_k)``: the
        faults for which node ``v`` lies in a healthy island are
        ``fault[ptr[v]:ptr[v + 1]]``; ``own_*`` (customer / critical minutes)
        bound what a new tie can gain on that island, ``tot_*[k]`` on all
        islands of fault ``k``. Per node the gain is at most its outage now
        minus its outage if it came back when its island is isolated (the
        isolation steps come first in a plan and no tie changes them; a
        remote tie closes after that). ``cap_*`` bound what a new tie at ``v``
        can gain for the fault: the island's own bound when no transfer
        restored any of it before (a new transfer then only adds load and
        switching time for the islands after it, so they cannot gain), else
        all islands' (``tot_*``): the island leaving its old tie can free that
        tie's feeder for another island. Islands are the subtrees below the
        boundary devices of the faulted section, found like
        :func:`gridsim.restore.flisr.plan_flisr` does (its section search); an
        island with a node restored by switching was transferred (the upstream
        part is not an island).
        """
        if self._islands is not None:
            return self._islands or None
        from gridsim.restore import _flisr_kernels as FK
        from gridsim.restore.flisr import _static

        topo = self.topo
        a = topo.analysis(None)
        if not a.radial:
            self._islands = ()
            return None
        st = _static(topo)
        pre, size = np.asarray(a.pre), np.asarray(a.size)
        parent, pb = np.asarray(a.parent), np.asarray(a.parent_branch)
        cust, crit_n = topo.node_cust.astype(float), topo.node_crit.astype(float)
        dev_ids = [str(x) for x in topo.dev_ids]
        nf = len(self.labels)
        tot_c, tot_k = np.zeros(nf), np.zeros(nf)
        e_node, e_k, e_c, e_x, e_m = [], [], [], [], []
        for i, pos in enumerate(self.positions.tolist()):
            nodes = self.plan_nodes[i]
            if nodes.size == 0:
                continue
            s0 = int(pre[nodes[0]])
            if not np.array_equal(pre[nodes], np.arange(s0, s0 + nodes.size)):   # not a preorder interval
                self._islands = ()
                return None
            isn, ref = bool(topo.elem_is_node[pos]), int(topo.elem_ref[pos])
            if not isn and not a.cond[ref]:
                continue
            lab = self.labels[i]
            lam, rep = self.lam[lab], self.rep[lab]
            dur = self.plan_dur[i]
            _, bnd = FK._section(isn, ref, topo.br_from, topo.br_to, topo.br_kind, a.cond, topo.indptr,
                                 topo.adj_node, topo.adj_branch, st.bdev_ptr, st.bdev, topo.dev_node, a.parent)
            for d, b, near, far in bnd.tolist():
                ne = near if near >= 0 else int(topo.br_from[b] + topo.br_to[b] - far)
                if not (pb[far] == b and parent[far] == ne):      # not a healthy island below the section
                    continue
                lo = int(pre[far]) - s0
                hi = lo + int(size[far])
                if lo < 0 or hi > nodes.size:
                    continue
                t_lb = min(float(self.plan_iso[i].get(dev_ids[d], 0.0)) if d >= 0 else 0.0, rep)
                dd = dur[lo:hi]
                g = lam * np.maximum(dd * (dd > self.thr) - t_lb * (t_lb > self.thr), 0.0)
                isl = nodes[lo:hi]
                gc, gx = float(cust[isl] @ g), float(crit_n[isl] @ g)
                tot_c[i] += gc
                tot_k[i] += gx
                e_node.append(isl)
                e_k.append(np.full(hi - lo, i, np.int64))
                e_c.append(np.full(hi - lo, gc))
                e_x.append(np.full(hi - lo, gx))
                e_m.append(np.full(hi - lo, bool(self.plan_moved[i][lo:hi].any())))
        cat = (lambda xs, dt: np.concatenate(xs) if xs else np.zeros(0, dt))  # noqa: E731
        node, k, c, x = cat(e_node, np.int64), cat(e_k, np.int64), cat(e_c, float), cat(e_x, float)
        moved = cat(e_m, bool)
        cap_c, cap_x = np.where(moved, tot_c[k], c), np.where(moved, tot_k[k], x)
        order = np.argsort(node, kind="stable")
        ptr = np.searchsorted(node[order], np.arange(topo.n_node + 1))
        self._islands = (ptr, k[order], c[order], x[order], cap_c[order], cap_x[order], tot_c, tot_k)
        return self._islands

    def replan(self, model, labels: list[str]):
        """Yield (customer minutes, critical minutes) of each of ``labels`` on ``model``,
        in order, planning lazily (a caller may stop early)."""
        from gridsim.core import compile_topology
        from gridsim.restore.flisr import iter_flisr_plans

        if not labels:
            return
        topo = compile_topology(model)
        cust, crit_n = topo.node_cust.astype(float), topo.node_crit.astype(float)
        pos = topo.element_positions(list(labels))
        for lab, plan in zip(labels, iter_flisr_plans(topo, (int(p) for p in pos), options=self.options)):
            nodes = np.asarray(plan.nodes, np.int64)
            dur = np.minimum(np.asarray(plan.restored_min, float), self.rep[lab])
            w = self.lam[lab] * dur * (dur > self.thr)
            yield float(cust[nodes] @ w), float(crit_n[nodes] @ w)


def _switch_candidates(ev: _Eval, actions) -> dict[tuple[str, int], int]:
    """Switch candidate -> branch index, on the current topology."""
    topo, model = ev.topo, ev.model
    out: dict[tuple[str, int], int] = {}
    dev = model.devices
    dev_ids = [str(x) for x in topo.dev_ids]
    branch_of = {d: int(b) for d, b in zip(dev_ids, topo.dev_branch)}
    if "convert" in actions:
        sel = (dev["origin"] == "pandapower") & ~dev["remote"].astype(bool) & dev["kind"].isin(_CONVERTIBLE)
        for did, sid in zip(dev.loc[sel, "device_id"], dev.loc[sel, "switch_id"]):
            if str(did) in branch_of:
                out[("convert", int(sid))] = branch_of[str(did)]
    if "new_switch" in actions:
        has_dev = np.bincount(np.asarray(topo.dev_branch, np.int64), minlength=topo.n_branch) > 0
        mv = _mv_lines(model.net)
        if len(mv):
            pos = topo.element_positions([f"line:{i}" for i in mv.index])
            for lid, p in zip(mv.index, pos):
                b = int(topo.elem_ref[p])
                if not has_dev[b]:
                    out[("new_switch", int(lid))] = b
    return out


def _tie_candidates(ev: _Eval, max_tie_km: float, route_factor: float) -> dict[tuple[str, tuple], tuple]:
    """Tie candidate ``("new_tie", (bus_a, bus_b))`` -> (node_a, node_b, length_km, feeder pair), bus_a < bus_b.

    MV buses (1-36 kV, in service, supplied) on a feeder (not a substation
    busbar group); for each bus and each other feeder of the same nominal
    voltage, the feeder's nearest bus within ``max_tie_km``.
    """
    from scipy.spatial import cKDTree

    from gridsim.reliability.analytic import node_feeders

    topo, net = ev.topo, ev.model.net
    xy = topo.node_xy_km
    if xy is None:
        return {}
    codes, names = node_feeders(topo)
    nodes = np.asarray(topo.bus_node, np.int64)
    bus_ids = np.asarray(topo.bus_ids, np.int64)
    vn = net.bus["vn_kv"].astype(float).reindex(bus_ids).to_numpy()
    insv = net.bus["in_service"].astype(bool).reindex(bus_ids).fillna(False).to_numpy()
    feeder_ok = np.array([not (str(n).startswith("busbar:") or str(n) in ("substation", "")) for n in names], bool)
    fc = codes[nodes]
    ok = (insv & (vn >= _MV_KV[0]) & (vn <= _MV_KV[1]) & (fc >= 0) & np.isfinite(xy[nodes]).all(axis=1))
    ok[ok] = feeder_ok[fc[ok]]
    rows = np.flatnonzero(ok)
    if rows.size < 2:
        return {}
    pts = xy[nodes[rows]]
    f_r, v_r = fc[rows], np.round(vn[rows], 6)
    joined = set()
    ln = net.line
    for a_, b_ in zip(ln["from_bus"].to_numpy(np.int64), ln["to_bus"].to_numpy(np.int64)):
        joined.add((min(a_, b_), max(a_, b_)))
    out: dict[tuple[str, tuple], tuple] = {}
    for g in np.unique(f_r):
        for v in np.unique(v_r[f_r == g]):
            mem = np.flatnonzero((f_r == g) & (v_r == v))
            qry = np.flatnonzero((f_r != g) & (v_r == v))
            if not qry.size:
                continue
            d, j = cKDTree(pts[mem]).query(pts[qry], k=1, distance_upper_bound=max_tie_km)
            hit = np.isfinite(d)
            for q, m_, dist in zip(qry[hit].tolist(), mem[j[hit]].tolist(), d[hit].tolist()):
                ba, bb = int(bus_ids[rows[q]]), int(bus_ids[rows[m_]])
                key = (min(ba, bb), max(ba, bb))
                if key in joined or ("new_tie", key) in out:
                    continue
                na, nb = (int(nodes[rows[q]]), int(nodes[rows[m_]])) if ba < bb else \
                    (int(nodes[rows[m_]]), int(nodes[rows[q]]))
                pair = tuple(sorted((str(names[f_r[q]]), str(names[f_r[m_]]))))
                out[("new_tie", key)] = (na, nb, round(float(dist) * route_factor, 4), pair)
    return out


# --------------------------------------------------------------------------- advisor

def _finite_positive(v, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v) \
            or v <= 0:
        raise AdviseError(f"{name}: expected a finite number > 0, got {v!r}")
    return float(v)


def _check(budget, what, weights) -> dict:
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise AdviseError(f"budget must be a whole number >= 1, got {budget!r}")
    if what not in WHAT_CHOICES:
        raise AdviseError(f"what must be one of {', '.join(WHAT_CHOICES)}, got {what!r}")
    w = dict(DEFAULT_WEIGHTS)
    for k, v in (weights or {}).items():
        if k not in w:
            raise AdviseError(f"weights: unknown key {k!r}; use saidi, critical")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise AdviseError(f"weights.{k}: expected a finite number >= 0, got {v!r}")
        w[k] = float(v)
    return w


def _check_actions(what: str, actions) -> tuple[str, ...]:
    allowed = _WHAT_ACTIONS[what]
    if actions is None:
        return allowed
    if isinstance(actions, str):
        actions = (actions,)
    acts = tuple(actions)
    bad = [a for a in acts if a not in ACTIONS]
    if bad or not acts:
        raise AdviseError(f"actions: expected some of {', '.join(ACTIONS)}, got {list(acts)!r}")
    keep = tuple(a for a in ACTIONS if a in acts and a in allowed)
    if not keep:
        raise AdviseError(f"actions: {', '.join(acts)} cannot be placed with what={what!r} "
                          f"(it places {', '.join(allowed)})")
    return keep


def advise(model, budget: int, what: str = "switch", *, weights: Mapping | None = None,
           rates: Mapping | None = None, repair_min: Mapping | None = None, options=None,
           max_candidates: int | None = 30, actions=None, max_tie_km: float = DEFAULT_MAX_TIE_KM,
           tie_route_factor: float = DEFAULT_TIE_ROUTE_FACTOR, progress=None) -> AdviceResult:
    """Greedy placement of up to ``budget`` remote switches / new ties (see the module docstring).

    ``model``: a Model or a model spec (never modified: placements go to copies).
    ``what``: ``"switch"`` (convert manual switches, add new remote switches on
    MV lines without one), ``"tie"`` (new normally-open lines with a remote
    switch between feeders) or ``"both"`` (all in one greedy). ``weights``:
    ``{"saidi": w, "critical": w}`` of the score. ``rates`` / ``repair_min`` /
    ``options``: as :func:`gridsim.reliability.expected_reliability`.
    ``max_candidates``: per step, consider only this many not yet evaluated
    switch candidates and as many tie candidates (plus those evaluated before
    whose score or bound is still valid), ranked as the module docstring says
    (default 30; ``None``: every candidate, lazy greedy, exact but slower).
    ``actions``: restrict the kinds of candidates (``"convert"``,
    ``"new_switch"``, ``"new_tie"``; default: all kinds ``what`` allows).
    ``max_tie_km``: longest straight-line distance between the buses of a new
    tie; ``tie_route_factor`` (>= 1): its cable length / that distance.
    Stops early when no candidate improves the score (``notes`` says so).
    """
    t0 = time.perf_counter()
    w = _check(budget, what, weights)
    acts = _check_actions(what, actions)
    ties_on = "new_tie" in acts
    max_tie_km = _finite_positive(max_tie_km, "max_tie_km")
    tie_route_factor = _finite_positive(tie_route_factor, "tie_route_factor")
    if tie_route_factor < 1.0:
        raise AdviseError(f"tie_route_factor: a cable is at least as long as the straight line; expected >= 1, "
                          f"got {tie_route_factor!r}")
    if isinstance(model, str):
        from gridsim.model import load_model

        model = load_model(model)
    notes: list[str] = []
    cable = None
    if ties_on:
        cable = _typical_cable(model.net)
        xy_ok = False
        if cable is not None:
            from gridsim.model.geo import bus_xy_km

            xy_ok = bool(np.isfinite(bus_xy_km(model.net)).all(axis=1).any())
        why = ("has no in-service MV line (1-36 kV) to copy the cable of a new tie from" if cable is None else
               "has no bus coordinates (net.bus x / y in km, or geo); new ties are placed by distance"
               if not xy_ok else "")
        if why:
            if what == "tie" or acts == ("new_tie",):
                raise AdviseError(f"what={what!r}: model {model.name!r} {why}")
            notes.append(f"no new ties: the model {why}")
            acts = tuple(a for a in acts if a != "new_tie")
            ties_on, cable = False, None
    tm = {"full_evaluations": 0.0, "candidate_generation": 0.0, "candidate_evaluations": 0.0}
    tt = time.perf_counter()
    ev = _Eval(model, rates=rates, repair_min=repair_min, options=options)
    tm["full_evaluations"] += time.perf_counter() - tt
    saidi0, ch0 = ev.saidi, ev.crit_h
    ws = w["saidi"] / saidi0 if saidi0 > 0 else 0.0
    wc = w["critical"] / ch0 if ch0 > 0 else 0.0

    def score_of(d_cmi: float, d_crit: float) -> float:
        return ws * d_cmi / ev.n_t + wc * d_crit / 60.0

    # cache: candidate -> (score or upper bound, exact?, faults it depends on, per-fault results so
    # far); valid across steps while the placements made since changed none of those faults
    cache: dict[tuple, tuple[float, bool, set, dict | None]] = {}
    placements: list[Placement] = []
    n_cands: dict[str, int] = {}
    evaluations = fault_replans = 0
    for rank in range(1, int(budget) + 1):
        tt = time.perf_counter()
        sw = _switch_candidates(ev, acts)
        ties = _tie_candidates(ev, max_tie_km, tie_route_factor) if ties_on else {}
        cands = [*sw, *ties]
        if rank == 1:
            n_cands = {a: sum(1 for c in cands if c[0] == a) for a in ACTIONS}
        if not cands:
            tm["candidate_generation"] += time.perf_counter() - tt
            notes.append(f"no candidates left after {rank - 1} placements")
            break
        # per candidate: the faults to re-plan, each with an upper bound on its gain (score units)
        affected: dict[tuple, list[tuple[float, str]]] = {}
        deps: dict[tuple, set] = {}
        rank_key: dict[tuple, float] = {}
        length: dict[tuple, float] = {}
        for c, b in sw.items():
            labs = ev.faults_at_branch(b)
            affected[c] = [(score_of(ev.cmi[x], ev.crit[x]), x) for x in labs]
            deps[c] = set(labs)
            length[c] = 0.0
            if c[0] == "convert":   # shortlist: faults whose plan operates this switch by hand
                used = [x for x in labs if f"switch:{c[1]}" in ev.manual.get(x, ())]
                rank_key[c] = score_of(sum(ev.cmi[x] for x in used), sum(ev.crit[x] for x in used))
            else:
                rank_key[c] = score_of(sum(ev.cmi[x] for x in labs), sum(ev.crit[x] for x in labs))
        if ties:
            isl = ev.islands()
            for c, (na, nb, km, _) in ties.items():
                length[c] = km
                zone = ev.faults_at_nodes([na, nb])
                if isl is None:      # meshed operation: every fault whose zone holds an end
                    affected[c] = [(score_of(ev.cmi[ev.labels[k]], ev.crit[ev.labels[k]]), ev.labels[k])
                                   for k in zone]
                    rank_key[c] = sum(x[0] for x in affected[c])
                else:
                    ptr, fk, own_c, own_x, cap_c, cap_x, tot_c, tot_x = isl
                    sl = np.r_[ptr[na]:ptr[na + 1], ptr[nb]:ptr[nb + 1]]
                    ks, inv = np.unique(fk[sl], return_inverse=True)
                    bc = np.minimum(np.bincount(inv, cap_c[sl], minlength=ks.size), tot_c[ks])
                    bx = np.minimum(np.bincount(inv, cap_x[sl], minlength=ks.size), tot_x[ks])
                    affected[c] = [(score_of(float(u), float(v)), ev.labels[k])
                                   for k, u, v in zip(ks.tolist(), bc, bx)]
                    rank_key[c] = score_of(float(own_c[sl].sum()), float(own_x[sl].sum()))
                deps[c] = {ev.labels[k] for k in zone} | {x for _, x in affected[c]}
        bounds = {c: sum(x[0] for x in v) for c, v in affected.items()}
        tm["candidate_generation"] += time.perf_counter() - tt
        allowed = None
        if max_candidates is not None:
            order = lambda c: (-rank_key[c], length[c], c)  # noqa: E731
            fresh = sorted((c for c in sw if c not in cache), key=order)
            allowed = set(fresh[:max_candidates])
            # ties joining the same two feeders compete for the same islands and receiving
            # capacity: take them round-robin over the feeder pairs, best first in each
            groups: dict[tuple, list] = {}
            for c in sorted((c for c in ties if c not in cache), key=order):
                groups.setdefault(ties[c][3], []).append(c)
            lists = sorted(groups.values(), key=lambda g: order(g[0]))
            rr = [g[r] for r in range(max(map(len, lists), default=0)) for g in lists if r < len(g)]
            allowed |= set(rr[:max_candidates])
        heap = []
        for c in cands:
            if c in cache:
                v, exact, _, _ = cache[c]
                heapq.heappush(heap, (-(v if exact else min(v, bounds[c])), length[c], c[0], c[1], exact))
            elif allowed is None or c in allowed:
                heapq.heappush(heap, (-bounds[c], length[c], c[0], c[1], False))
        # best first: expand the candidate with the highest bound by re-planning its next
        # faults (largest bound first); its bound (gain so far + bounds of the faults left)
        # falls towards its exact score; the first exact score on top of the heap wins
        best = None
        live: dict[tuple, list] = {}
        tt = time.perf_counter()
        while heap:
            negk, km, act, ident, exact = heapq.heappop(heap)
            c = (act, ident)
            if exact:
                best = c
                break
            if -negk <= 0:
                break
            st = live.get(c)
            if st is None:
                todo = sorted(affected[c], key=lambda x: (-x[0], x[1]))
                memo = cache[c][3] if c in cache else {}    # per-fault results of an earlier step
                labs = [x for _, x in todo if x not in memo]
                gen = ev.replan(_apply(ev.model, c, ev.topo, tie_km=km, cable=cable)[0], labs) if labs else iter(())
                st = live[c] = [gen, todo, 0, 0.0, bounds[c], memo]
                evaluations += 1
            gen, todo, i, gain, rem, memo = st
            stop = min(i + _CHUNK, len(todo))
            for fb, lab in todo[i:stop]:
                r = memo.get(lab)
                if r is None:
                    r = memo[lab] = next(gen)
                    fault_replans += 1
                gain += score_of(ev.cmi[lab] - r[0], ev.crit[lab] - r[1])
                rem -= fb
            st[2:5] = stop, gain, rem
            if stop == len(todo):
                live.pop(c, None)
                cache[c] = (float(gain), True, deps[c], None)
                heapq.heappush(heap, (-float(gain), km, act, ident, True))
            else:
                cache[c] = (float(gain + max(rem, 0.0)), False, deps[c], memo)
                heapq.heappush(heap, (-cache[c][0], km, act, ident, False))
        live.clear()
        tm["candidate_evaluations"] += time.perf_counter() - tt
        if best is None or cache[best][0] <= 1e-12:
            notes.append(f"no candidate improves the score after {rank - 1} placements")
            break
        s = cache[best][0]
        labs = {x for _, x in affected[best]}
        km = length[best]
        new_model, label, line = _apply(ev.model, best, ev.topo, tie_km=km, cable=cable)
        before_saidi, before_ch = ev.saidi, ev.crit_h
        tt = time.perf_counter()
        ev = _Eval(new_model, rates=rates, repair_min=repair_min, options=options)
        tm["full_evaluations"] += time.perf_counter() - tt
        act, ident = best
        target = (f"switch:{ident}" if act == "convert" else f"line:{ident}" if act == "new_switch"
                  else f"bus:{ident[0]}-bus:{ident[1]}")
        placements.append(Placement(rank=rank, action=act, target=target, device=label,
                                    saidi_before=before_saidi, saidi_after=ev.saidi,
                                    critical_h_before=before_ch, critical_h_after=ev.crit_h, score=s,
                                    faults_replanned=len(labs), line=line,
                                    length_km=km if act == "new_tie" else None))
        if progress is not None:
            progress(placements[-1])
        # scores and bounds stay valid for candidates that depend on none of the faults the placement changed
        cache = {c: v for c, v in cache.items() if c != best and not (v[2] & labs)}
    if len(placements) < budget and not any(n.startswith("no candidate") for n in notes):
        notes.append(f"only {len(placements)} placements found")
    tie_cable = None
    if cable is not None:
        tie_cable = {k: cable[k] for k in ("std_type", "type", "r_ohm_per_km", "x_ohm_per_km", "c_nf_per_km",
                                           "max_i_ka", "copied_from")}
        tie_cable.update(route_factor=tie_route_factor, max_tie_km=max_tie_km)
    return AdviceResult(model=model.name, budget=int(budget), what=what, weights=w, placements=placements,
                        saidi_start=saidi0, saidi_end=ev.saidi, critical_h_start=ch0, critical_h_end=ev.crit_h,
                        candidates=n_cands, evaluations=evaluations, elapsed_s=time.perf_counter() - t0,
                        final_model=ev.model, notes=notes, tie_cable=tie_cable,
                        timings_s={k: round(v, 3) for k, v in tm.items()}, fault_replans=fault_replans)
