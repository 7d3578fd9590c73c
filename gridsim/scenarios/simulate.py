"""Discrete-event simulation of one scenario run: faults, protection, FLISR, crews, customers back.

:func:`run_scenario` plays one run of a scenario (its fixed ``faults``, plus the
storm sampled for run ``run`` when it has a ``storm``, plus its ``planned``
outages) on a heap of timed events and returns a :class:`ScenarioResult`:
the timeline, the interruption log, the IEEE 1366 indices of that log,
critical-customer hours per class and ETR accuracy.

The model of what happens (all times minutes after ``scenario.start``):

- **fault** at ``t_f``: the protective device that clears it trips
  (:func:`gridsim.restore.plan_flisr` on the network as loaded) and
  interrupts every node of the plan (``SwitchingPlan.nodes``).
- **temporary fault**: cleared by the tripping device's reclosing when that is
  a recloser or a breaker (or the source, when no device is modelled): every
  interrupted node is back ``reclose_s`` seconds later — a *momentary*
  interruption (<= 5 min, counted in MAIFI, not in SAIFI/SAIDI). A temporary
  fault cleared by a **fuse** blows it: the customers are back when the fuse is
  replaced, at the plan's ``reclose`` step of that fuse (else
  ``manual_dispatch + manual_operate`` = 45 min): a sustained interruption.
- **permanent fault**: FLISR switching — the plan's steps at ``t_f + step.t_min``
  (remote steps at once, manual steps after the plan's own switching-crew
  dispatch and travel: the *plan's* times, offset by the fault time; the
  switching crew is not one of the repair crews). A node restored by
  switching is back at ``t_f + restored_min``; the others wait for the repair.
- **crews** (``scenario.crews``) repair the permanent faults in the order the
  strategy gives: at every permanent fault's arrival the faults known and not
  yet taken on are planned again (:func:`gridsim.restore.plan_restoration`,
  each crew starting where it is, when it is free); jobs a crew sets off for
  before the next fault arrives are committed (kept as planned), the rest is
  planned again at the next arrival. After the last fault everything is
  committed. Precedence between a committed job and a re-planned one is not
  seen by the re-plan (as in :func:`gridsim.restore.replan`); the restoration
  times below are computed from the actual repair ends, so they are right
  all the same.
- **customers back**: each fault ``f`` gives every node ``v`` it interrupts an
  interval ``[t_f, end_f(v)]`` with ``end_f(v)`` = the switching time if ``v``
  is restored by switching, else the end of ``f``'s repair. A node is out over
  the *union* of its intervals (an upstream fault's repair keeps a node out
  until it ends; overlapping outages are one interruption, recorded under the
  outage that began it). Limitation: each fault's switching is planned on its
  own (as in ``plan_restoration``); a transfer path crossing another fault is
  not checked.
- **planned outages**: the elements are out from ``start_min`` to ``end_min``;
  every node they cut off (no transfer switching) is out over that window,
  cause ``planned``, and its customers get a notice ``notice_days`` ahead
  (:attr:`ScenarioResult.notices`, and a ``notice`` event on the timeline).
  Planned interruptions are in the log and the indices (IEEE 1366 counts
  them; filter ``cause != "planned"`` to leave them out).

What is computed once (speed; the results do not depend on it): per process, the
model, its compiled topology, the storm sampler and the FLISR plan of every
faulted element met so far, all plans made by one FLISR planner that keeps its
transfer checks (faults repeat from storm to storm); per run, the storm, its
raw interruption intervals and the crews' re-planner
(:class:`gridsim.restore.plan._Replanner`: the per-fault part of
``plan_restoration`` done once, each re-plan then a kernel pass and the
strategy), shared by the strategies of a paired comparison. A comparison
(:func:`_compare_row`) computes only the figures it tabulates, with the sums of
:func:`gridsim.reliability.compute_indices` in the interruption log's order, and
skips the re-plans that cannot commit a crew (see :func:`_schedule`).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gridsim.scenarios.schema import Scenario, ScenarioError
from gridsim.scenarios.storms import CAUSES, Storm, _run_list, storm_from_faults

__all__ = ["ScenarioResult", "run_scenario", "scenario_storm", "scenario_context", "RECLOSE_S",
           "FUSE_REPLACE_MIN"]

#: Dead time of one reclosing shot (seconds): a temporary fault's customers are back after it.
RECLOSE_S = 2.0
#: Minutes until a blown fuse is replaced when the FLISR plan has no step for it.
FUSE_REPLACE_MIN = 45.0

_CTX: dict = {}
#: Interruptions of at most this many minutes are momentary (IEEE 1366).
_MOMENTARY_MIN = 5.0
_TIMELINE_COLUMNS = ["time", "t_min", "event", "element", "detail", "customers_out"]
#: Order of events that share a minute on the timeline.
_EVENT_RANK = {e: i for i, e in enumerate(
    ["notice", "planned_end", "repair_end", "fault", "trip", "reclose", "fuse_replaced", "switch", "planned_start",
     "plan", "crew_dispatch", "repair_start"])}
_LOG_COLUMNS = ["customer_id", "start", "end", "outage_id", "cause", "count", "p_kw", "class", "start_min",
                "end_min", "duration_min"]


# --------------------------------------------------------------------------- context (per process)

@dataclass
class _Context:
    model: Any
    topo: Any
    flisr: dict = field(default_factory=dict)      # element position -> SwitchingPlan (base state)
    flisr_planner: Any = None                      # one FLISR planner for all of them (its checks are kept)
    samplers: dict = field(default_factory=dict)   # storm spec (JSON) -> its sampler
    dev_index: dict = field(default_factory=dict)  # device label -> device row
    cust_order: np.ndarray | None = None           # customer rows sorted by node
    node_ptr: np.ndarray | None = None             # CSR into cust_order per node
    customers_served: int = 0
    class_names: np.ndarray | None = None
    cust_count: np.ndarray | None = None           # per customer row: count, priority weight,
    cust_priority: np.ndarray | None = None        # class code into CLASS_ORDER and rank of its id
    cust_class_code: np.ndarray | None = None      # (the interruption log's order: start, customer_id)
    cust_rank: np.ndarray | None = None


def scenario_context(scenario: Scenario) -> _Context:
    """The scenario's model and compiled topology (cached per process and model reference), with
    a cache of FLISR plans per faulted element."""
    key = (scenario.model_ref(), scenario.customers_ref())
    ctx = _CTX.get(key)
    if ctx is not None:
        return ctx
    from gridsim.core import compile_topology
    from gridsim.scenarios.schema import check_against
    from gridsim.types import CLASS_ORDER

    model = scenario.load_model()
    topo = compile_topology(model)
    check_against(scenario, topo)
    ctx = _Context(model=model, topo=topo)
    ctx.dev_index = {str(d): i for i, d in enumerate(topo.dev_ids)}
    cust_node = np.asarray(topo.cust_node, np.int64)
    ctx.cust_order = np.argsort(cust_node, kind="stable")
    ctx.node_ptr = np.zeros(topo.n_node + 1, np.int64)
    np.cumsum(np.bincount(cust_node, minlength=topo.n_node), out=ctx.node_ptr[1:])
    ctx.customers_served = int(np.asarray(topo.cust_count).sum())
    ctx.class_names = np.asarray([CLASS_ORDER[int(c)].value for c in topo.cust_class], dtype=object)
    ctx.cust_count = np.asarray(topo.cust_count)
    ctx.cust_priority = np.asarray(topo.cust_priority, np.float64)
    ctx.cust_class_code = np.asarray(topo.cust_class).astype(np.int8)
    # rank of each row's customer_id as text (equal ids, equal ranks): the log's sort key
    ctx.cust_rank = np.unique(topo.cust_ids.astype(str), return_inverse=True)[1].astype(np.int64).reshape(-1)
    _CTX[key] = ctx
    return ctx


def _flisr(ctx: _Context, pos: int):
    """The FLISR plan of a fault on element ``pos`` (:func:`gridsim.restore.plan_flisr` on the network as
    loaded), remembered per process; one planner serves them all, as in
    :func:`gridsim.restore.iter_flisr_plans` (faults repeat from storm to storm, and so do their checks)."""
    plan = ctx.flisr.get(pos)
    if plan is None:
        from gridsim.restore.flisr import _plan_shared, _shared_planner

        if ctx.flisr_planner is None:
            ctx.flisr_planner = _shared_planner(ctx.topo)
        plan = _plan_shared(ctx.flisr_planner, int(pos))
        ctx.flisr[pos] = plan
    return plan


def _sampler(ctx: _Context, spec):
    """The storm sampler of ``spec`` on the context's model (what :func:`sample_storms` builds on
    every call: element weights and their cumulative sums), kept per process."""
    from gridsim.scenarios.storms import _Sampler

    key = spec.model_dump_json()
    hit = ctx.samplers.get(key)
    if hit is None:
        hit = ctx.samplers[key] = _Sampler(spec, ctx.topo, ctx.model)
    return hit


def scenario_storm(scenario: Scenario, run: int = 0, *, seed: int | None = None, ctx: _Context | None = None) -> Storm:
    """The faults of run ``run``: the scenario's fixed faults (repair distributions drawn with
    ``default_rng([seed, run])``) plus, with a ``storm``, the storm sampled for that run (an element
    already among the fixed faults is not failed twice), in time order."""
    ctx = ctx or scenario_context(scenario)
    seed = scenario.seed if seed is None else int(seed)
    parts = []
    if scenario.faults:
        parts.append(storm_from_faults(scenario.faults, ctx.topo, seed=seed, run=run))
    if scenario.storm is not None:
        parts.append(_sampler(ctx, scenario.storm).draw(_run_list(1, [run])[0], int(seed)))
    if not parts:
        return Storm(run=int(run), elements=np.empty(0, np.int64), time_min=np.empty(0), repair_min=np.empty(0),
                     cause=np.empty(0, np.int8), temporary=np.empty(0, bool))
    if len(parts) == 1:
        return parts[0]
    a, b = parts
    keep = ~np.isin(b.elements, a.elements)
    cat = {f: np.concatenate([getattr(a, f), getattr(b, f)[keep]])
           for f in ("elements", "time_min", "repair_min", "cause", "temporary")}
    order = np.argsort(cat["time_min"], kind="stable")
    return Storm(run=int(run), **{f: v[order] for f, v in cat.items()})


# --------------------------------------------------------------------------- result

@dataclass(eq=False)
class ScenarioResult:
    """One simulated run of a scenario (see :func:`run_scenario`).

    - ``timeline``: time (timestamp), t_min, event, element, detail, customers_out (after the event);
    - ``interruptions``: one row per customer row and interruption: customer_id, start, end
      (timestamps), outage_id, cause, count, p_kw (demand per customer of the row), class, start_min,
      end_min, duration_min;
    - ``outages``: one row per fault / planned outage: outage_id, element, kind, cause, t_min,
      tripping_device, customers_interrupted, crew, repair_min, repair_start_min, repair_end_min;
    - ``notices``: advance notices of planned outages (customer_id, count, notice_time, start, end);
    - ``indices``: :class:`gridsim.reliability.Indices` of ``interruptions`` with all customers served;
    - ``critical_hours_by_class``: customer hours of sustained interruptions per critical class;
    - ``etr_accuracy``: per permanent fault, the first ETR given vs the actual restoration of the
      customers that waited for its repair (``error_min`` = actual - first ETR);
    - ``last_restored`` / ``last_restored_min``: when the last customer with a sustained interruption
      was back (None / NaN when there is none);
    - ``weighted_cmi``: priority-weighted customer minutes of sustained interruptions.
    """

    scenario: str | None
    run: int
    strategy: str
    start: pd.Timestamp
    storm: Storm
    timeline: pd.DataFrame
    interruptions: pd.DataFrame
    outages: pd.DataFrame
    notices: pd.DataFrame
    indices: Any
    critical_hours_by_class: dict[str, float]
    etr_accuracy: pd.DataFrame
    last_restored: pd.Timestamp | None
    last_restored_min: float
    weighted_cmi: float
    customers_served: int

    def summary(self) -> dict:
        """JSON-ready key figures."""
        ind = self.indices
        return {
            "scenario": self.scenario, "run": self.run, "strategy": self.strategy,
            "faults": len(self.storm), "saidi": float(ind.saidi), "saifi": float(ind.saifi),
            "maifi": float(ind.maifi), "cmi": float(ind.cmi), "weighted_cmi": float(self.weighted_cmi),
            "ens_kwh": float(ind.ens_kwh), "customers_served": self.customers_served,
            "critical_hours_by_class": dict(self.critical_hours_by_class),
            "last_restored": None if self.last_restored is None else self.last_restored.isoformat(),
            "last_restored_min": None if not math.isfinite(self.last_restored_min) else self.last_restored_min,
        }


# --------------------------------------------------------------------------- simulation

class _Prepared:
    """Everything of one run that does not depend on the strategy (shared by a paired comparison)."""

    def __init__(self, scenario: Scenario, storm: Storm, ctx: _Context, reclose_s: float):
        from gridsim.core.topology import DEVICE_KINDS
        from gridsim.types import DeviceKind

        self.scenario, self.storm, self.ctx = scenario, storm, ctx
        topo = ctx.topo
        self.faults = storm.faults()
        self.labels = [topo.element_label(pos) for pos, *_ in self.faults]
        self.plans = [_flisr(ctx, pos) for pos, *_ in self.faults]
        self.outage_ids = [f"F{i + 1}" for i in range(len(self.faults))]
        self.perm = [i for i, f in enumerate(self.faults) if not f[4]]     # permanent faults: crews repair them
        self._replanner = None
        self._crews0 = None
        rec_min = reclose_s / 60.0
        # per fault: nodes and the minute (absolute) they are back by switching / reclosing (inf = repair)
        self.node_end: list[tuple[np.ndarray, np.ndarray]] = []
        self.momentary: list[bool] = []
        for (pos, t, rep, cause, temp), plan in zip(self.faults, self.plans):
            nodes = np.asarray(plan.nodes, np.int64)
            if temp:
                devs = [d for d in plan.tripping_device.split("+") if d]
                kinds = [DEVICE_KINDS[int(topo.dev_kind[ctx.dev_index[d]])] for d in devs if d in ctx.dev_index]
                if any(k is DeviceKind.FUSE for k in kinds):
                    fuse = next(d for d, k in zip(devs, kinds) if k is DeviceKind.FUSE)
                    steps = [s.t_min for s in plan.steps if s.device == fuse and s.action == "close"]
                    back = steps[0] if steps else FUSE_REPLACE_MIN
                    self.momentary.append(False)
                else:                       # recloser / breaker / source: reclosing clears it
                    back = rec_min
                    self.momentary.append(True)
                self.node_end.append((nodes, np.full(nodes.size, t + back)))
            else:
                self.momentary.append(False)
                self.node_end.append((nodes, t + np.asarray(plan.restored_min, np.float64)))
        # planned outages: nodes cut off by the elements out (no transfer switching)
        self.planned = []
        if scenario.planned:
            base_sup = np.asarray(topo.analysis().supplied, bool)
            for k, po in enumerate(scenario.planned):
                st = topo.make_state(faults=list(po.elements))
                sup = np.asarray(topo.analysis(st).supplied, bool)
                nodes = np.flatnonzero(base_sup & ~sup)
                self.planned.append((f"P{k + 1}", po, nodes))

    def crews0(self):
        """The scenario's crews as the re-planner reads them (at the start; shared by the strategies)."""
        if self._crews0 is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._crews0 = self.replanner().read_crews(_crews_spec(self.scenario))
        return self._crews0

    def replanner(self):
        """The crews' re-planner over the permanent faults (shared by the strategies of this run)."""
        if self._replanner is None:
            from gridsim.restore.plan import _Replanner

            perm = self.perm
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._replanner = _Replanner(
                    self.ctx.topo, [self.faults[i][0] for i in perm], [self.faults[i][2] for i in perm],
                    [(self.plans[i].nodes, self.plans[i].restored_min) for i in perm], model=self.ctx.model)
        return self._replanner


def _crews_spec(scenario: Scenario) -> list[dict]:
    c = scenario.crews
    out = []
    for k in range(c.count):
        depot = None
        if c.depots:
            depot = c.depots[0] if len(c.depots) == 1 else c.depots[k]
            depot = tuple(depot) if isinstance(depot, (tuple, list)) else depot
        d = {"id": f"crew-{k + 1}", "depot": depot}
        if c.speed_kmh is not None:
            d["speed_kmh"] = c.speed_kmh
        out.append(d)
    return out


def _schedule(prep: _Prepared, strategy: str, replan: bool, strategy_options, timeline: list | None) -> dict:
    """Crew simulation: fault index -> (crew id, depart, start, finish) and first ETRs.

    ``timeline=None`` (a strategy comparison, which reads only the repair times): no timeline, no
    ETRs, and a re-plan that cannot commit anything is not made: when every crew is busy until
    after the next fault arrives, no crew sets off before it, so that plan's routes are all planned
    again then (the commits, hence the results, are the same)."""
    from gridsim.restore.plan import PlanOptions, _Crews, plan_restoration

    sc, ctx = prep.scenario, prep.ctx
    perm = prep.perm
    crews = _crews_spec(sc)
    free = np.zeros(len(crews))
    shift_end = sc.crews.shift_h * 60.0
    committed: dict[int, tuple] = {}
    first_etr: dict[int, float] = {}
    if not perm:
        return {"committed": committed, "first_etr": first_etr}
    times = sorted({prep.faults[i][1] for i in perm})
    if not replan:
        times = times[-1:]
    rpl = prep.replanner()
    if rpl.ok:                  # radial operation: re-plan with the per-fault work done once
        cr0 = prep.crews0()
        crew_xy = np.array(cr0.xy, np.float64)
        job_of = {i: j for j, i in enumerate(perm)}
    with warnings.catch_warnings():     # the planner's fallbacks (no coordinates, ...) are not news here
        warnings.simplefilter("ignore")
        for n, T in enumerate(times):
            T_next = times[n + 1] if n + 1 < len(times) else math.inf
            pending = [i for i in perm if prep.faults[i][1] <= T and i not in committed]
            if not pending:
                continue
            if timeline is None and float(free.min()) - T_next > 1e-6 * max(1.0, abs(T_next)):
                continue        # every crew busy until after the next arrival: nothing sets off before it
            if rpl.ok:
                avail = np.asarray([max(0.0, float(free[k] - T)) for k in range(len(crews))])
                cr = _Crews(ids=cr0.ids, depot=cr0.depot, xy=crew_xy.copy(), speed_kmh=cr0.speed_kmh,
                            available_from_min=avail,
                            shift_end_min=np.asarray([max(shift_end - T, a) for a in avail.tolist()], np.float64))
                rp = rpl.plan([job_of[i] for i in pending], [prep.faults[i][1] - T for i in pending], cr,
                              strategy, strategy_options)
            else:               # meshed operation: the general planner
                faults = [{"element": prep.labels[i], "repair_min": prep.faults[i][2],
                           "start_min": prep.faults[i][1] - T} for i in pending]
                cr = []
                for k, c in enumerate(crews):
                    avail = max(0.0, free[k] - T)
                    cr.append({**c, "available_from_min": avail, "shift_end_min": max(shift_end - T, avail)})
                switched = {prep.labels[i]: (prep.plans[i].nodes, prep.plans[i].restored_min) for i in pending}
                opts = PlanOptions(switched=switched, strategy_options=strategy_options)
                rp = plan_restoration(ctx.topo, faults, cr, strategy=strategy, options=opts, model=ctx.model)
            if timeline is not None:
                timeline.append((T, "plan", "", f"{strategy}: {len(pending)} fault(s) to repair, "
                                                f"{len(crews)} crew(s)"))
                for j, i in enumerate(pending):
                    first_etr.setdefault(i, T + float(rp.etr_min[j]))
            for k, route in enumerate(rp.routes):
                for j in route:
                    j = int(j)
                    depart = T + float(rp.start_min[j] - rp.travel_min[j])
                    if depart >= T_next:
                        break
                    i = pending[j]
                    start, finish = T + float(rp.start_min[j]), T + float(rp.finish_min[j])
                    committed[i] = (rp.crew_ids[k], depart, start, finish)
                    free[k] = finish
                    xy = rp.job_xy_km[j]
                    if np.all(np.isfinite(xy)):
                        crews[k]["depot"] = (float(xy[0]), float(xy[1]))
                        if rpl.ok:
                            crew_xy[k] = crews[k]["depot"]
                    if timeline is not None:
                        timeline.append((depart, "crew_dispatch", prep.labels[i], f"{rp.crew_ids[k]} sets off"))
                        timeline.append((start, "repair_start", prep.labels[i], f"{rp.crew_ids[k]}"))
                        timeline.append((finish, "repair_end", prep.labels[i], f"{rp.crew_ids[k]}: repaired"))
    return {"committed": committed, "first_etr": first_etr}


def _merge(node: np.ndarray, start: np.ndarray, end: np.ndarray, order: np.ndarray | None = None):
    """Union of intervals per node: (order, group of each sorted interval, group starts, group ends,
    first interval of each group). ``order``: the intervals' order by (node, start, end) when known."""
    if order is None:
        order = np.lexsort((end, start, node))
    n, s, e = node[order], start[order], end[order]
    if n.size == 0:
        z = np.zeros(0, np.int64)
        return order, z, np.zeros(0), np.zeros(0), z
    span = float(max(np.abs(e).max(), np.abs(s).max()) * 2 + 10.0)
    run_end = np.maximum.accumulate(e + n * span) - n * span     # running max end within each node
    new = np.ones(n.size, bool)
    new[1:] = (n[1:] != n[:-1]) | (s[1:] > run_end[:-1])
    group = np.cumsum(new) - 1
    first = np.flatnonzero(new)
    g_end = np.maximum.reduceat(e, first)
    return order, group, s[first], g_end, first


@dataclass
class _Outcome:
    """Who is out when, for one strategy: the raw intervals (one per fault / planned outage and node
    it cuts off), their union per node, and the union expanded to customer rows."""

    finish: np.ndarray          # per fault: end of its repair (inf: none)
    rn: np.ndarray              # raw intervals: node, start, end, outage index, waits for a repair
    rs: np.ndarray
    re_: np.ndarray
    ro: np.ndarray
    rwait: np.ndarray
    order: np.ndarray           # _merge of the raw intervals
    group: np.ndarray
    g_end: np.ndarray
    g_out: np.ndarray           # outage that began each merged interval
    rows: np.ndarray            # customer row of each log row, and its merged interval
    gi: np.ndarray
    cust_count: np.ndarray
    st_min: np.ndarray
    en_min: np.ndarray
    dur: np.ndarray
    weighted_cmi: float = 0.0
    last_min: float = math.nan


def _raw_intervals(prep: _Prepared) -> dict:
    """The raw intervals of a run, one per fault / planned outage and node it cuts off (node, start,
    end, outage index, waits for a repair: end inf until the strategy says when), and their order by
    (node, start): the order :func:`_merge` sorts them in whatever the repair ends, unless two share
    a node and a start. Made once per run (cached on ``prep``)."""
    raw = prep.__dict__.get("_raw")
    if raw is not None:
        return raw
    rn, rs, re_, ro, rwait = [], [], [], [], []
    for i, ((pos, t, rep, cause, temp), (nodes, end)) in enumerate(zip(prep.faults, prep.node_end)):
        wait = ~np.isfinite(end)
        end = np.where(wait, math.inf, end)
        rn.append(nodes); rs.append(np.full(nodes.size, t)); re_.append(end)
        ro.append(np.full(nodes.size, i)); rwait.append(wait)
    k0 = len(prep.faults)
    for k, (pid, po, nodes) in enumerate(prep.planned):
        rn.append(nodes); rs.append(np.full(nodes.size, po.start_min)); re_.append(np.full(nodes.size, po.end_min))
        ro.append(np.full(nodes.size, k0 + k)); rwait.append(np.zeros(nodes.size, bool))
    cat = (lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt))
    rn, rs, re_, ro, rwait = (cat(rn, np.int64), cat(rs, float), cat(re_, float), cat(ro, np.int64),
                              cat(rwait, bool))
    order = np.lexsort((rs, rn))
    n_o, s_o = rn[order], rs[order]
    ties = bool(((n_o[1:] == n_o[:-1]) & (s_o[1:] == s_o[:-1])).any())
    raw = prep._raw = {"rn": rn, "rs": rs, "re": re_, "ro": ro, "rwait": rwait, "wait_at": np.flatnonzero(rwait),
                       "order": None if ties else order}
    return raw


def _outcome(prep: _Prepared, committed: dict) -> _Outcome:
    ctx = prep.ctx
    finish = np.full(len(prep.faults), math.inf)
    for i, c in committed.items():
        finish[i] = c[3]
    raw = _raw_intervals(prep)
    rn, rs, ro, rwait, wait_at = raw["rn"], raw["rs"], raw["ro"], raw["rwait"], raw["wait_at"]
    re_ = raw["re"].copy()
    re_[wait_at] = finish[ro[wait_at]]          # a node waiting for a repair is back when it ends
    if not np.all(np.isfinite(re_)):
        raise ScenarioError("internal: a node waits for a repair that was never scheduled")
    order, group, g_start, g_end, first = _merge(rn, rs, re_, raw["order"])
    g_node = rn[order][first]
    g_out = ro[order][first]
    # one row per customer row and merged interval
    rows, gi = _expand(ctx, g_node)
    cust_count = ctx.cust_count[rows]
    st_min, en_min = g_start[gi], g_end[gi]
    dur = en_min - st_min
    out = _Outcome(finish=finish, rn=rn, rs=rs, re_=re_, ro=ro, rwait=rwait, order=order, group=group, g_end=g_end,
                   g_out=g_out, rows=rows, gi=gi, cust_count=cust_count, st_min=st_min, en_min=en_min, dur=dur)
    sust = dur > _MOMENTARY_MIN
    out.weighted_cmi = float((ctx.cust_priority[rows] * cust_count * dur)[sust].sum())
    out.last_min = float(en_min[sust].max()) if sust.any() else math.nan     # sustained interruptions only
    return out


def _critical_hours(topo, critical_hours: dict) -> dict[str, float]:
    crit = {c.value: 0.0 for c in topo.critical_classes}
    for c, h in critical_hours.items():
        crit[str(c)] = float(h)
    return crit


def _compare_row(prep: _Prepared, strategy: str, *, replan: bool = True, strategy_options=None) -> dict:
    """The figures :func:`gridsim.scenarios.compare_strategies` tabulates for one strategy on this run:
    those of :func:`run_scenario` (``indices`` as :func:`gridsim.reliability.compute_indices` computes
    them from the interruption log, in the log's row order), without building its frames."""
    from gridsim.reliability.indices import _CRITICAL_ORDER
    from gridsim.types import CLASS_ORDER

    ctx, topo = prep.ctx, prep.ctx.topo
    sched = _schedule(prep, strategy, replan, strategy_options, None)
    oc = _outcome(prep, sched["committed"])
    # the interruption log's order (start_min, customer_id), then compute_indices' sums in that order
    o = np.lexsort((ctx.cust_rank[oc.rows], oc.st_min))
    dur = oc.dur[o]
    count = oc.cust_count.astype(np.int64)[o]
    sus = dur > _MOMENTARY_MIN
    cnt_s = count[sus]
    weight_min = dur[sus] * cnt_s
    n_t = float(max(ctx.customers_served, 1))
    cmi = float(weight_min.sum())
    cls_s = ctx.cust_class_code[oc.rows][o][sus].astype(np.int64)
    known = cls_s >= 0
    hours = np.bincount(cls_s[known], weights=weight_min[known] / 60.0, minlength=len(CLASS_ORDER))
    crit = _critical_hours(topo, {c: float(hours[CLASS_ORDER.index(c)]) for c in _CRITICAL_ORDER})
    return {"saidi": cmi / n_t, "saifi": int(cnt_s.sum()) / n_t, "maifi": int(count[~sus].sum()) / n_t,
            "cmi": cmi, "weighted_cmi": oc.weighted_cmi, "critical_hours_by_class": crit,
            "last_restored_min": oc.last_min}


def run_scenario(scenario: Scenario, *, seed: int | None = None, strategy: str | None = None, run: int = 0,
                 replan: bool = True, reclose_s: float = RECLOSE_S, strategy_options=None,
                 storm: Storm | None = None) -> ScenarioResult:
    """Simulate run ``run`` of ``scenario`` with crew strategy ``strategy`` (default: the scenario's
    first). ``seed`` overrides ``scenario.seed``; ``storm`` gives the faults directly (else
    :func:`scenario_storm`). ``replan=False`` plans the crews once, after the last fault.
    See the module docstring for what is simulated."""
    ctx = scenario_context(scenario)
    storm = storm if storm is not None else scenario_storm(scenario, run, seed=seed, ctx=ctx)
    prep = _Prepared(scenario, storm, ctx, reclose_s)
    return _simulate(prep, strategy or scenario.strategies[0], replan=replan, strategy_options=strategy_options)


def _simulate(prep: _Prepared, strategy: str, *, replan: bool = True, strategy_options=None) -> ScenarioResult:
    from gridsim.reliability import compute_indices

    sc, ctx, topo = prep.scenario, prep.ctx, prep.ctx.topo
    t0 = pd.Timestamp(sc.start)
    timeline: list[tuple[float, str, str, str]] = []
    sched = _schedule(prep, strategy, replan, strategy_options, timeline)
    committed, first_etr = sched["committed"], sched["first_etr"]
    oc = _outcome(prep, committed)

    # ---- outages: faults then planned
    outage_ids = list(prep.outage_ids) + [pid for pid, _, _ in prep.planned]
    outage_cause = [c.value for (_, _, _, c, _) in prep.faults] + ["planned"] * len(prep.planned)
    for i, ((pos, t, rep, cause, temp), (nodes, _)) in enumerate(zip(prep.faults, prep.node_end)):
        plan = prep.plans[i]
        timeline.append((t, "fault", prep.labels[i],
                         f"{cause.value}, {'temporary' if temp else 'permanent'}"
                         + ("" if temp else f", repair {rep:.0f} min")))
        timeline.append((t, "trip", plan.tripping_device or "source",
                         f"{plan.customers_interrupted} customers interrupted"))
        if temp:
            end = oc.re_[oc.ro == i]
            back = float(end.max()) if end.size else t
            timeline.append((back, "reclose" if prep.momentary[i] else "fuse_replaced",
                             plan.tripping_device or "source",
                             f"{'momentary' if prep.momentary[i] else 'sustained'}: "
                             f"{plan.customers_interrupted} customers back"))
        else:
            for s in plan.steps:
                timeline.append((t + s.t_min, "switch", s.device,
                                 f"{s.action} ({s.purpose}, {'remote' if s.remote else 'manual'})"
                                 + (f": {s.customers_restored} customers back" if s.customers_restored else "")))
    notices = []
    for k, (pid, po, nodes) in enumerate(prep.planned):
        els = ", ".join(po.elements)
        n_cust = int(np.asarray(topo.node_cust)[nodes].sum())
        t_notice = po.start_min - po.notice_days * 1440.0
        timeline.append((t_notice, "notice", els, f"{pid} {po.name or ''}: {n_cust} customers told".replace("  ", " ")))
        timeline.append((po.start_min, "planned_start", els, f"{pid}: switched out"))
        timeline.append((po.end_min, "planned_end", els, f"{pid}: back in service"))
        rows = _rows_of(ctx, nodes)
        notices.append(pd.DataFrame({
            "outage_id": pid, "name": po.name, "customer_id": topo.cust_ids[rows].astype(str),
            "count": np.asarray(topo.cust_count)[rows], "notice_time": t0 + pd.Timedelta(minutes=t_notice),
            "start": t0 + pd.Timedelta(minutes=po.start_min), "end": t0 + pd.Timedelta(minutes=po.end_min)}))
    rn, ro, rwait = oc.rn, oc.ro, oc.rwait
    g_out = oc.g_out

    # ---- interruption log: one row per customer row and merged interval
    rows, gi, cust_count = oc.rows, oc.gi, oc.cust_count
    st_min, en_min, dur = oc.st_min, oc.en_min, oc.dur
    log = pd.DataFrame({
        "customer_id": topo.cust_ids[rows].astype(str),
        "start": t0 + pd.to_timedelta(st_min, unit="min"),
        "end": t0 + pd.to_timedelta(en_min, unit="min"),
        "outage_id": np.asarray(outage_ids, dtype=object)[g_out[gi]] if len(gi) else np.zeros(0, object),
        "cause": np.asarray(outage_cause, dtype=object)[g_out[gi]] if len(gi) else np.zeros(0, object),
        "count": cust_count.astype(np.int64),
        # demand per customer, as compute_indices reads p_kw (ENS = sum p_kw * hours * count);
        # the customers table holds the row's total
        "p_kw": np.asarray(topo.cust_p_kw, np.float64)[rows] / np.maximum(cust_count, 1),
        "class": ctx.class_names[rows],
        "start_min": st_min, "end_min": en_min, "duration_min": dur,
    }, columns=_LOG_COLUMNS)
    log = log.sort_values(["start_min", "customer_id"], kind="stable").reset_index(drop=True)
    ind_log = pd.DataFrame({"customer_id": log["customer_id"], "start": log["start_min"], "end": log["end_min"],
                            "count": log["count"], "p_kw": log["p_kw"], "class": log["class"],
                            "event_id": log["outage_id"]})
    ind = compute_indices(ind_log, customers_served=max(ctx.customers_served, 1),
                          momentary_threshold_min=_MOMENTARY_MIN)
    crit = _critical_hours(topo, ind.critical_hours)
    weighted, last = oc.weighted_cmi, oc.last_min

    # ---- outages and ETR accuracy
    ends_by_raw = np.empty(rn.size)
    ends_by_raw[oc.order] = oc.g_end[oc.group]
    out_rows, etr_rows = [], []
    for i, ((pos, t, rep, cause, temp), plan) in enumerate(zip(prep.faults, prep.plans)):
        c = committed.get(i)
        out_rows.append({"outage_id": prep.outage_ids[i], "element": prep.labels[i],
                         "kind": "temporary" if temp else "permanent", "cause": cause.value, "t_min": t,
                         "tripping_device": plan.tripping_device, "customers_interrupted": plan.customers_interrupted,
                         "momentary": prep.momentary[i], "crew": c[0] if c else None,
                         "repair_min": rep, "repair_start_min": c[2] if c else math.nan,
                         "repair_end_min": c[3] if c else math.nan})
        if temp:
            continue
        mine = ro == i
        sel = mine & rwait
        if not sel.any():
            sel = mine
        actual = float(ends_by_raw[sel].max()) if sel.any() else (c[3] if c else math.nan)
        fe = first_etr.get(i, math.nan)
        etr_rows.append({"outage_id": prep.outage_ids[i], "element": prep.labels[i], "t_min": t,
                         "customers_waiting": int(np.asarray(topo.node_cust)[rn[mine & rwait]].sum()),
                         "first_etr_min": fe, "actual_min": actual, "error_min": actual - fe,
                         "first_etr": t0 + pd.Timedelta(minutes=fe) if math.isfinite(fe) else pd.NaT,
                         "actual": t0 + pd.Timedelta(minutes=actual) if math.isfinite(actual) else pd.NaT})
    for k, (pid, po, nodes) in enumerate(prep.planned):
        out_rows.append({"outage_id": pid, "element": ", ".join(po.elements), "kind": "planned", "cause": "planned",
                         "t_min": po.start_min, "tripping_device": "",
                         "customers_interrupted": int(np.asarray(topo.node_cust)[nodes].sum()), "momentary": False,
                         "crew": None, "repair_min": po.end_min - po.start_min, "repair_start_min": po.start_min,
                         "repair_end_min": po.end_min})
    etr_cols = ["outage_id", "element", "t_min", "customers_waiting", "first_etr_min", "actual_min", "error_min",
                "first_etr", "actual"]

    # ---- timeline with customers out after each event
    tl = pd.DataFrame(timeline, columns=["t_min", "event", "element", "detail"])
    tl["_rank"] = tl["event"].map(_EVENT_RANK).fillna(len(_EVENT_RANK))
    tl = tl.sort_values(["t_min", "_rank"], kind="stable").reset_index(drop=True)
    w_st = np.argsort(st_min)
    w_en = np.argsort(en_min)
    cum_st = np.concatenate([[0], np.cumsum(cust_count[w_st])])
    cum_en = np.concatenate([[0], np.cumsum(cust_count[w_en])])
    tt = tl["t_min"].to_numpy(float)
    started = cum_st[np.searchsorted(st_min[w_st], tt, side="right")]
    ended = cum_en[np.searchsorted(en_min[w_en], tt, side="right")]
    tl["customers_out"] = (started - ended).astype(np.int64)
    tl["time"] = t0 + pd.to_timedelta(tt, unit="min")
    tl = tl[_TIMELINE_COLUMNS]

    return ScenarioResult(
        scenario=sc.name, run=prep.storm.run, strategy=strategy, start=t0, storm=prep.storm, timeline=tl,
        interruptions=log, outages=pd.DataFrame(out_rows), notices=(pd.concat(notices, ignore_index=True) if notices
                                                                     else pd.DataFrame(columns=["outage_id", "name",
                                                                     "customer_id", "count", "notice_time", "start",
                                                                     "end"])),
        indices=ind, critical_hours_by_class=crit, etr_accuracy=pd.DataFrame(etr_rows, columns=etr_cols),
        last_restored=(t0 + pd.Timedelta(minutes=last)) if math.isfinite(last) else None,
        last_restored_min=last, weighted_cmi=weighted, customers_served=ctx.customers_served,
    )


def _rows_of(ctx: _Context, nodes: np.ndarray) -> np.ndarray:
    rows, _ = _expand(ctx, nodes)
    return rows


def _expand(ctx: _Context, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Customer rows at ``nodes`` and, for each, the index into ``nodes`` it came from."""
    nodes = np.asarray(nodes, np.int64)
    lo, hi = ctx.node_ptr[nodes], ctx.node_ptr[nodes + 1]
    cnt = hi - lo
    src = np.repeat(np.arange(nodes.size), cnt)
    off = np.arange(src.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    return ctx.cust_order[lo[src] + off], src
