"""The live engine: events in, state + outage records + work orders + messages out.

:class:`LiveEngine` keeps the network's live state (switch and device states,
faulted elements, energized nodes recomputed with the core kernels on every
topology change), the outage records, the crews and the work orders, and
writes every accepted event, everything it changed and every message it
produced in one SQLite transaction (:mod:`gridsim.live.store`). Its state is a
pure function of the accepted-event log, so a restarted engine replays the
log and goes on where it stopped; message ids are deterministic (the same
fact always gets the same id), so nothing is sent twice beyond the
at-least-once duplicates a consumer drops by id.

What each event does is documented in ``docs/live.md``; the short version:

- ``breaker_trip``: the device opens, the fault element (if located) is
  faulted, the newly dead nodes form an outage (or confirm a predicted one);
  FLISR plans the switching, work orders go out, ETRs are planned;
- ``switch_open`` / ``switch_close`` / ``breaker_reclose``: the state changes,
  customers who come back get a restoration confirmation, an outage whose
  customers come back while its fault is still there is ``isolated``;
- ``customer_call`` / ``meter_last_gasp``: inside a known outage the caller
  gets an automatic answer with the ETR; outside, reports are grouped and
  rolled up to the most likely protective device (a *predicted* outage);
  ``meter_restored`` from inside a predicted outage cancels it;
- ``crew_status`` / ``repair_complete``: progress, ETR updates, work orders;
- ``planned_outage_*``: advance notices, then the switching window;
- every event moves the clock: notices of outages that last longer than
  ``notify_after_s`` go out, overdue work orders escalate.
"""
from __future__ import annotations

import datetime as dt
import heapq
import json
import math
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridsim.errors import GridsimError, UnknownElementError, brief
from gridsim.live.events import EventError, parse_event
from gridsim.live.messages import AREA_QUEUES, CHANNEL_QUEUES
from gridsim.live.store import LiveStore, LiveStoreError, dumps
from gridsim.types import CLASS_ORDER, PROTECTIVE_KINDS, DeviceKind

__all__ = ["LiveEngine", "LiveOptions", "ApplyResult", "Snapshot", "EventRejected", "LiveError"]

def _repair_table() -> dict:
    from gridsim.core.topology import ELEMENT_ORDER
    from gridsim.restore.plan import DEFAULT_REPAIR_MIN
    return {i: float(DEFAULT_REPAIR_MIN[e]) for i, e in enumerate(ELEMENT_ORDER) if e in DEFAULT_REPAIR_MIN}


_REPAIR_MIN: dict = {}
_DEPARTMENT_QUEUE = {"repair": "ops.repair", "switching": "ops.switching", "key_accounts": "cs.key_accounts"}
_DEVICE_KINDS = tuple(DeviceKind)
_PROTECTIVE_CODES = frozenset(i for i, k in enumerate(_DEVICE_KINDS) if k in PROTECTIVE_KINDS)


class LiveError(GridsimError):
    """A bad argument to the live engine (model, options, database)."""


class EventRejected(GridsimError):
    """Raised inside the engine when an event cannot be applied; the reason is recorded."""


@dataclass(frozen=True)
class LiveOptions:
    """Settings of the live engine (all have defaults; ``model.yaml`` may carry a ``live:`` section)."""

    #: An outage's notices go out once it has lasted this long (momentary interruptions stay quiet).
    notify_after_s: float = 60.0
    #: Trouble reports (calls, last gasps) outside known outages are grouped over this window.
    report_window_min: float = 30.0
    #: Reports needed below a protective device before it becomes a predicted outage.
    min_reports: int = 2
    #: Reports under this many different child devices roll the prediction up to their parent device.
    rollup_children: int = 2
    #: Events older than the engine's clock by more than this are rejected as out of order.
    max_lag_min: float = 60.0
    #: Minutes to acknowledge a work order, by outage class and department.
    deadlines_min: Mapping = field(default_factory=lambda: {
        "critical": {"repair": 15.0, "switching": 10.0, "key_accounts": 10.0},
        "major": {"repair": 30.0, "switching": 20.0, "key_accounts": 30.0},
        "minor": {"repair": 60.0, "switching": 45.0, "key_accounts": 60.0},
    })
    #: An outage with at least this many customers is "major" (one with critical customers is "critical").
    major_customers: int = 500
    #: Owner of each department's work orders.
    owners: Mapping = field(default_factory=lambda: {"repair": "repair-desk", "switching": "switching-desk",
                                                     "key_accounts": "key-account-manager"})
    #: An ETR change smaller than this (minutes) is not announced.
    etr_change_min: float = 15.0
    #: Strategy of the restoration planner that gives the ETRs.
    strategy: str = "critical_first"
    #: Crews: a number (at the source buses) or a list of dicts ``id``, ``depot`` (bus id), ``speed_kmh``.
    crews: Any = 3
    #: Minutes from a repair to the customers behind it being switched back (ETR after repair).
    return_switching_min: float = 15.0
    #: Minutes from reaching an unassigned outage to ETR when no planner result is available.
    default_dispatch_min: float = 60.0
    #: Closed outages (restored or cancelled) kept in memory - in snapshots, the Outages page and the CMI
    #: sum they stay counted - at most this many and at most ``keep_closed_hours`` after they closed; older
    #: ones, with their work orders, live on in the database only (``gridsim outages`` reads it).
    keep_closed_outages: int = 1000
    keep_closed_hours: float = 24.0


@dataclass(frozen=True)
class ApplyResult:
    accepted: bool
    event_id: str | None
    reason: str = ""
    messages: int = 0
    outages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    """An immutable view of the live state for the web app (``version`` grows with every change)."""

    version: int
    time: dt.datetime | None
    model: str
    bus_ids: np.ndarray            # pandapower bus ids
    bus_energized: np.ndarray      # per bus (same order), read-only
    bus_outage: tuple              # outage id per bus out (None where supplied), aligned with bus_ids
    faulted: tuple[str, ...]
    open_devices: tuple[str, ...]  # devices / switches not in their normal state
    outages: tuple[dict, ...]
    work_orders: tuple[dict, ...]
    crews: tuple[dict, ...]
    kpis: dict
    measurements: dict
    customers_out_series: tuple[tuple[str, int], ...]


@dataclass
class _Outage:
    id: str
    idx: int
    type: str                      # fault | predicted | planned | switching
    cause: str
    device: str | None
    fault_element: str | None
    fault_pos: int | None
    status: str
    start: dt.datetime
    nodes: np.ndarray              # nodes attributed to it (out when it began or joined later)
    customers: int = 0
    critical: int = 0
    critical_by_class: dict = field(default_factory=dict)
    etr: dt.datetime | None = None
    end: dt.datetime | None = None
    notified: bool = False
    momentary: bool = False
    calls: int = 0
    reports: int = 0
    crew: str | None = None
    repaired: bool = False
    flisr: dict | None = None
    window: tuple | None = None    # planned: (start, end)
    elements: tuple = ()           # planned: elements taken out
    reason: str = ""
    etr_updates: int = 0
    cmi_done: float = 0.0          # customer minutes of customers already back
    restore_steps: int = 0
    history: list = field(default_factory=list)
    indicators: list = field(default_factory=list)


@dataclass
class _Crew:
    id: str
    node: int
    speed_kmh: float
    status: str = "available"
    outage: str | None = None
    since: dt.datetime | None = None


@dataclass
class _WorkOrder:
    id: str
    outage: str
    department: str
    owner: str
    created: dt.datetime
    due: dt.datetime
    status: str = "open"
    escalated: bool = False
    action: str = ""


class _Changes:
    __slots__ = ("outages", "history", "work_orders", "audit", "messages", "touched", "wo_touched")

    def __init__(self):
        self.outages: list = []
        self.history: list = []
        self.work_orders: list = []
        self.audit: list = []
        self.messages: list = []
        self.touched: dict = {}
        self.wo_touched: dict = {}


def _iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.isoformat(timespec="seconds")


class LiveEngine:
    """Live state of one network. ``LiveEngine(model, queue="sqlite:///var/gridsim.db")``.

    ``model``: a :class:`gridsim.Model`, a model name or path (as ``gridsim``
    commands take), or a compiled :class:`gridsim.Topology` with its model.
    ``queue``: a queue URL, a queue backend, or None (messages are kept only
    in :attr:`sent` — for tests and what-if copies). ``db``: the engine's
    database; default: the queue's SQLite file, else ``var/gridsim.db``;
    ``":memory:"`` keeps nothing. An engine opened on a database that already
    holds events replays them and resumes.
    """

    def __init__(self, model, *, queue=None, db: str | Path | None = None, options: LiveOptions | Mapping | None = None,
                 customers=None):
        from gridsim.core import compile_topology
        from gridsim.core.topology import Topology
        if isinstance(model, Topology):
            topo = model
            model = topo.model
        else:
            if isinstance(model, (str, Path)):
                from gridsim.model import load_model
                model = load_model(str(model), customers=customers)
            topo = compile_topology(model)
        if options is None:
            options = LiveOptions()
        elif isinstance(options, Mapping):
            bad = sorted(set(options) - set(LiveOptions.__dataclass_fields__))
            if bad:
                raise LiveError(f"unknown live option(s) {bad}; known: {sorted(LiveOptions.__dataclass_fields__)}")
            options = LiveOptions(**options)
        self.options = options
        self.model = model
        self.topo = topo
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._init_static()
        self._static_keys = frozenset(vars(self)) | {"_static_keys"}   # shared with forks, never changed
        self._reset_state()
        # queue and store
        self.queue = None
        if queue is not None:
            from gridsim.queues import open_queue
            self.queue = open_queue(queue) if isinstance(queue, str) else queue
        if db is None:
            qpath = getattr(self.queue, "path", None)
            db = qpath if qpath is not None else Path("var") / "gridsim.db"
        self.sent: list = []          # messages produced (kept when there is no queue)
        self._log: list = []          # accepted events when there is no database (for a rebuild)
        self._rejected_mem: list = []
        self.store = None if str(db) == ":memory:" else LiveStore(db, self.queue)
        if self.store is not None:
            name = self.store.meta("model")
            if name is not None and name != topo.name:
                raise LiveError(f"{self.store.path} holds the live state of model {name!r}, not {topo.name!r}; "
                                "use another --db or the same model")
            if name is None:
                self.store.set_meta("model", topo.name)
            self._replay_log()
            if self.queue is not None:
                try:
                    self.flush()          # messages a crash left in the outbox go out now
                except GridsimError:
                    pass                  # broker down: they wait in the outbox, flushed later

    # ------------------------------------------------------------------ setup
    def _init_static(self) -> None:
        if not _REPAIR_MIN:
            _REPAIR_MIN.update(_repair_table())
        t = self.topo
        self._dev_row = {str(d): i for i, d in enumerate(t.dev_ids)}
        self._switch_row = {int(s): i for i, s in enumerate(t.switch_ids)}
        # element position of each branch (devices that are not pandapower switches open their branch)
        br_pos = np.full(t.n_branch, -1, np.int64)
        not_node = ~t.elem_is_node.astype(bool)
        br_pos[t.elem_ref[not_node]] = np.nonzero(not_node)[0]
        self._br_pos = br_pos
        self._cust_row = {str(c): i for i, c in enumerate(t.cust_ids)}
        crit_codes = {CLASS_ORDER.index(c) for c in t.critical_classes}
        self._cust_crit = np.isin(t.cust_class, list(crit_codes))
        self._crit_codes = crit_codes
        cust = getattr(self.model, "customers", None)
        channels = [("cs.sms",)] * len(t.cust_ids)
        names: list = [None] * len(t.cust_ids)
        if cust is not None and len(cust):
            idx = pd.Index(cust["customer_id"].astype(str)).get_indexer([str(c) for c in t.cust_ids])
            ch = cust["channels"].to_numpy() if "channels" in cust.columns else None
            nm = cust["name"].to_numpy() if "name" in cust.columns else None
            cache: dict = {}
            for i, j in enumerate(idx):
                if j < 0:
                    continue
                if ch is not None:
                    raw = ch[j] if isinstance(ch[j], str) else ""
                    q = cache.get(raw)
                    if q is None:
                        q = tuple(CHANNEL_QUEUES[c.strip()] for c in raw.split(";") if c.strip() in CHANNEL_QUEUES)
                        cache[raw] = q
                    channels[i] = q
                if nm is not None and isinstance(nm[j], str):
                    names[i] = nm[j]
        self._cust_queues = channels
        self._cust_name = names
        # customers per node (CSR)
        order = np.argsort(t.cust_node, kind="stable")
        self._cust_by_node = order
        self._cust_indptr = np.searchsorted(t.cust_node[order], np.arange(t.n_node + 1))
        base = t.analysis(t.base_state())
        self._base_dead = ~base.supplied
        self._base = base
        xy = t.node_xy_km
        self._xy = xy if xy is not None else np.full((t.n_node, 2), np.nan)
        self._branch_devs = None
        self._elem_cache: dict[str, int] = {}

    def _reset_state(self) -> None:
        t = self.topo
        self.switch_closed = t.switch_closed.copy()
        self._dev_open: set[int] = set()          # non-switch devices open (rows of dev_ids)
        self._faulted: dict[int, str] = {}        # element position -> outage id
        self._planned_out: dict[int, str] = {}
        self.node_out = np.full(t.n_node, -1, np.int64)     # outage index per node, -1 supplied
        self.node_pred = np.full(t.n_node, -1, np.int64)    # predicted outage index per node
        self._supplied = self._base.supplied.copy()
        self.outages: dict[str, _Outage] = {}
        self._outage_list: dict[int, _Outage] = {}  # by outage index (node_out / node_pred hold indices)
        self._closed: deque = deque()              # indices of closed outages still in memory, oldest first
        self._archived = 0                         # closed outages dropped from memory (in the database)
        self._archived_cmi = 0.0                   # their customer minutes
        self._archived_planned: set[str] = set()   # planned ids of archived planned outages (not reusable)
        self._active: dict[str, _Outage] = {}      # outages not restored / cancelled
        self._open_wo: dict[str, _WorkOrder] = {}  # work orders open or acknowledged
        self._chains: dict[int, list] = {}         # protective devices above a customer, per topology
        self.crews: dict[str, _Crew] = {}
        self.work_orders: dict[str, _WorkOrder] = {}
        self._reports: dict[int, tuple] = {}       # customer row -> (time, kind, device chain), oldest first
        self._rep_count: dict[int, int] = {}       # device -> reports below it
        self._rep_children: dict[int, dict] = {}   # device -> {child device: reports}
        self._cust_out_n = 0                       # customers out (confirmed outages)
        self._notify_heap: list = []               # (due time, outage idx) of outages not yet notified
        self._due_heap: list = []                  # (due time, work order id) of open work orders
        self._wo_by_outage: dict[str, list] = {}
        self._seen: set[str] = set()               # recent event ids (all of them while _seen_all)
        self._seen_fifo: deque = deque()
        self._seen_all = True                      # False once ids were evicted: look older ones up in the log
        self.events_applied = 0                    # accepted events in the log
        self.clock: dt.datetime | None = None
        self.version = 0
        self._measurements: dict = {}
        self._series: list = []
        self._n_outage = 0
        self._n_idx = 0
        self._n_planned = 0
        self._snap = None
        self._init_crews()

    def _init_crews(self) -> None:
        t = self.topo
        crews = self.options.crews
        speed = 40.0
        if isinstance(crews, (int, np.integer)) and not isinstance(crews, bool):
            src = list(t.source_nodes) or [0]
            for i in range(int(crews)):
                cid = f"crew-{i + 1}"
                self.crews[cid] = _Crew(cid, int(src[i % len(src)]), speed)
        elif isinstance(crews, (list, tuple)):
            bus_index = pd.Index(t.bus_ids)
            for i, c in enumerate(crews):
                if not isinstance(c, Mapping):
                    raise LiveError(f"crew {i}: give a dict with id, depot (bus id), speed_kmh")
                cid = str(c.get("id", f"crew-{i + 1}"))
                depot = c.get("depot")
                node = int(t.source_nodes[0]) if len(t.source_nodes) else 0
                if depot is not None:
                    row = bus_index.get_indexer([int(depot)])[0]
                    if row < 0:
                        raise LiveError(f"crew {cid}: depot bus {depot} does not exist in model {t.name!r}")
                    node = int(t.bus_node[row])
                self.crews[cid] = _Crew(cid, node, float(c.get("speed_kmh", speed)))
        else:
            raise LiveError(f"crews must be a number or a list of crews, got {crews!r}")

    def _replay_log(self) -> None:
        """Rebuild the state from the accepted-event log (after a restart), sending nothing."""
        rows = self.store.events()
        for event_id, body in rows:
            ev = parse_event(body)
            ch = _Changes()
            self._apply_checked(ev, ch)     # the log only holds events that applied
            self._mark_seen(event_id)
            self._archive()

    # -------------------------------------------------------------- public API
    def apply(self, event, *, source: str = "api") -> ApplyResult:
        """Validate and apply one event (dict, JSON text or event object) and commit it with everything it
        changed and every message it produced. Never raises on bad input: a rejected event is recorded
        with its reason and leaves the state untouched. Raises :class:`LiveStoreError` only when the
        database cannot be written (the state then stays as the database holds it)."""
        return self.apply_batch([event], source=source)[0]

    def apply_batch(self, events, *, source: str = "api") -> list[ApplyResult]:
        """Apply events one after the other and commit them together (group commit: one transaction
        for the batch, e.g. what one claim from ``grid.events`` brought). Each event is accepted or
        rejected on its own, as with :meth:`apply`. A batch of more than ``GRIDSIM_MAX_BATCH`` events
        (default 10,000) raises :class:`~gridsim.errors.InputTooLargeError` and applies nothing."""
        from itertools import islice

        from gridsim.errors import InputTooLargeError
        from gridsim.model.limits import limit

        cap = limit("GRIDSIM_MAX_BATCH")
        events = list(islice(events, cap + 1))
        if len(events) > cap:
            raise InputTooLargeError(f"apply_batch: more than {cap:,} events in one batch (GRIDSIM_MAX_BATCH); "
                                     "split it; nothing was applied")
        results: list[ApplyResult] = []
        with self._lock:
            pending: list = []
            for event in events:
                results.append(self._apply_one(event, source, pending))
            self._commit(pending)
            self._archive()
        return results

    def _apply_one(self, event, source: str, pending: list) -> ApplyResult:
        try:
            ev = parse_event(event)
        except EventError as e:
            self._record_reject(event, str(e), source)
            return ApplyResult(False, _raw_id(event), str(e))
        if self._is_seen(ev.id):
            reason = f"event {ev.id}: duplicate event id (already applied)"
            self._record_reject(event, reason, source)
            return ApplyResult(False, ev.id, reason)
        if self.clock is not None and ev.time < self.clock - dt.timedelta(minutes=self.options.max_lag_min):
            reason = (f"event {ev.id}: time {ev.time.isoformat()} is more than {self.options.max_lag_min:g} min "
                      f"before the engine's clock {self.clock.isoformat()} (out of order)")
            self._record_reject(event, reason, source)
            return ApplyResult(False, ev.id, reason)
        ch = _Changes()
        self._dirty = False
        try:
            self._apply_checked(ev, ch)
        except Exception as e:  # noqa: BLE001 - nothing an event does may take the engine down
            if isinstance(e, EventRejected):
                reason = str(e)
            elif isinstance(e, GridsimError):
                reason = f"event {ev.id}: {e}"
            else:
                reason = f"event {ev.id}: internal error {type(e).__name__}: {e}"
            if self._dirty or not isinstance(e, GridsimError):
                # rejected after a change (or a bug): commit what came before it, rebuild from the log
                self._commit(pending)
                pending.clear()
                self._rebuild()
            self._record_reject(event, reason, source)
            return ApplyResult(False, ev.id, reason)
        if ev.type == "tick" and not (ch.messages or ch.history or ch.audit or ch.work_orders):
            # a tick that changed nothing is not logged (the clock is the latest logged time on restart)
            self.version += 1
            self._snap = None
            return ApplyResult(True, ev.id)
        self._finish(ch)
        self._mark_seen(ev.id)
        pending.append((ev.id, ev.type, ev.time.isoformat(), ev.model_dump_json(), ch))
        return ApplyResult(True, ev.id, "", len(ch.messages), tuple(ch.touched))

    def _commit(self, pending: list) -> None:
        if not pending:
            return
        if self.store is not None:
            try:
                self.store.commit_events(pending, _iso(self.clock))
            except LiveStoreError:
                self._rebuild()          # nothing was written: memory goes back to what the log holds
                raise
        else:
            for eid, _et, _tm, body, ch in pending:
                self._log.append((eid, body))
                self.sent.extend(ch.messages)
        self.version += 1
        self._snap = None
        self._cond.notify_all()

    def advance(self, now: dt.datetime | str, *, event_id: str | None = None) -> ApplyResult:
        """Move the clock to ``now`` (a ``tick`` event): deferred notices and escalations fire."""
        if isinstance(now, str):
            now = dt.datetime.fromisoformat(now)
        eid = event_id or f"tick:{now.isoformat()}"
        return self.apply({"type": "tick", "id": eid, "time": now.isoformat()}, source="clock")

    def wait_for_change(self, version: int, timeout: float | None = None) -> int:
        """Block until :attr:`version` differs from ``version`` (or timeout); returns the current version."""
        with self._cond:
            self._cond.wait_for(lambda: self.version != version, timeout=timeout)
            return self.version

    def state(self):
        """The live network state as a core :class:`~gridsim.State` (switches, faulted and opened elements),
        for what-if questions with :func:`gridsim.find_affected`, :func:`gridsim.restore.plan_flisr`..."""
        with self._lock:
            return self._state()

    def fork(self) -> "LiveEngine":
        """A private in-memory copy of the live state (no database, no queue): what-if events applied to it
        reach neither the live state nor the queues; its messages collect in ``.sent``."""
        import copy
        with self._lock:
            twin = LiveEngine(self.topo, db=":memory:", options=self.options)
            # the state is copied (not replayed from the log: a fork costs the same after a day of events);
            # what never changes is shared, the I/O and the caches stay the twin's own
            own = {"queue", "store", "sent", "_log", "_rejected_mem", "_snap", "_chains"}
            state = {k: v for k, v in vars(self).items() if k not in self._static_keys and k not in own}
            memo = {id(getattr(self, k)): getattr(self, k) for k in self._static_keys}
            twin.__dict__.update(copy.deepcopy(state, memo))
            twin._seen_all = self._seen_all and self.store is None   # older ids: the twin has no log to ask
            return twin

    def _fork_by_replay(self) -> "LiveEngine":
        """The fork by definition: a fresh engine replaying the accepted-event log (tests compare
        :meth:`fork` with it)."""
        with self._lock:
            rows = list(self.store.events()) if self.store is not None else list(self._log)
        twin = LiveEngine(self.topo, db=":memory:", options=self.options)
        for event_id, body in rows:
            twin._apply_checked(parse_event(body), _Changes())
            twin._mark_seen(event_id)
            twin._log.append((event_id, body))
        return twin

    def has_event(self, event_id: str) -> bool:
        return self._is_seen(event_id)

    #: event ids kept in memory for duplicate detection; older ones are looked up in the event log
    SEEN_WINDOW = 50_000

    def _mark_seen(self, event_id: str) -> None:
        self._seen.add(event_id)
        self._seen_fifo.append(event_id)
        self.events_applied += 1
        if self.store is not None and len(self._seen_fifo) > self.SEEN_WINDOW:
            self._seen.discard(self._seen_fifo.popleft())
            self._seen_all = False

    def _is_seen(self, event_id: str) -> bool:
        if event_id in self._seen:
            return True
        if self._seen_all or self.store is None:
            return False
        return self.store.has_event(event_id)

    def _archive(self) -> None:
        """Drop closed outages beyond ``keep_closed_outages`` / ``keep_closed_hours`` (and their work
        orders) from memory: a long-running engine keeps a bounded state. Their records stay in the database."""
        keep, hours = self.options.keep_closed_outages, self.options.keep_closed_hours
        old = self.clock - dt.timedelta(hours=hours) if self.clock is not None else None
        closed = self._closed
        while closed:
            o = self._outage_list.get(closed[0])
            if o is not None and len(closed) <= keep and (old is None or o.end is None or o.end > old):
                break
            closed.popleft()
            if o is None or o.status not in ("restored", "cancelled"):
                continue
            n = o.nodes
            if (n.size and (self.node_out[n] == o.idx).any()) or o.id in self._faulted.values() \
                    or o.id in self._planned_out.values():
                continue                 # still referenced by the state (cannot happen once closed): keep it
            if n.size:
                self.node_pred[n[self.node_pred[n] == o.idx]] = -1
            del self._outage_list[o.idx]
            self.outages.pop(o.id, None)
            if o.type == "planned":
                self._archived_planned.add(o.id)
            if not (o.type == "predicted" or o.momentary or o.status == "scheduled"):
                self._archived_cmi += o.cmi_done
            for wid in self._wo_by_outage.pop(o.id, ()):
                self.work_orders.pop(wid, None)
                self._open_wo.pop(wid, None)
            self._archived += 1

    def rejected(self, limit: int = 50) -> list[dict]:
        return self.store.rejected(limit) if self.store is not None else list(self._rejected_mem[-limit:])

    def flush(self) -> int:
        """Relay waiting outbox messages to the queue (Redis backend); returns how many went."""
        return self.store.flush_outbox() if self.store is not None else 0

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
        if self.queue is not None and hasattr(self.queue, "close"):
            self.queue.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ----------------------------------------------------------- rebuild
    def _rebuild(self) -> None:
        """State = replay of the accepted-event log (after an event failed half-way)."""
        seen = set(self._seen)
        self._reset_state()
        rows = self.store.events() if self.store is not None else list(self._log)
        for event_id, body in rows:
            self._apply_checked(parse_event(body), _Changes())
            self._mark_seen(event_id)
            self._archive()
        del seen
        self.version += 1
        self._snap = None

    def _record_reject(self, raw, reason: str, source: str) -> None:
        if isinstance(raw, (bytes, bytearray)):
            body = raw[:4096].decode("utf-8", "replace")
        elif isinstance(raw, str):
            body = raw[:4096]
        else:
            try:
                body = json.dumps(raw, default=str)[:4096] if not hasattr(raw, "model_dump_json") \
                    else raw.model_dump_json()
            except (ValueError, TypeError, RecursionError):
                body = brief(raw, 4096)   # bounded and recursion-safe, unlike repr()
        eid, etype, etime = _raw_id(raw), None, None
        if isinstance(raw, Mapping):
            etype = _text(raw.get("type"), 64) if raw.get("type") is not None else None
            etime = _text(raw.get("time"), 64) if raw.get("time") is not None else None
        now = _iso(dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
        # lone surrogates (valid in a Python str, not in UTF-8) cannot be stored: escape them
        eid, etype, etime, body, reason = (_utf8(x) for x in (eid, etype, etime, body, reason))
        if self.store is not None:
            self.store.reject(eid, etype, etime, body, reason, source, now)
        else:
            self._rejected_mem.append({"event_id": eid, "type": etype, "time": etime, "reason": reason,
                                       "source": source, "received_at": now})

    # --------------------------------------------------------------- dispatch
    def _apply_checked(self, ev, ch: _Changes) -> None:
        handler = getattr(self, "_on_" + ev.type)
        if self.clock is None or ev.time > self.clock:
            new_clock = ev.time
        else:
            new_clock = self.clock
        self._now = ev.time
        self._actor = ev.actor
        self._event_id = ev.id
        self._cur_ch = ch
        handler(ev, ch)
        self.clock = new_clock
        self._now = new_clock
        self._on_clock(ch)

    # ------------------------------------------------------------ references
    def _device(self, ref: str):
        """('switch', switch row, label) or ('branch', device row, label); raises EventRejected."""
        ref = ref.strip()
        row = self._dev_row.get(ref)
        if row is not None:
            srow = int(self.topo.dev_switch[row])
            if srow >= 0:
                return "switch", srow, ref
            return "branch", row, ref
        if ref.startswith("switch:"):
            try:
                sid = int(ref.split(":", 1)[1])
            except ValueError:
                sid = None
            if sid is not None and sid in self._switch_row:
                return "switch", self._switch_row[sid], ref
        raise EventRejected(f"event {self._event_id}: device {ref!r} does not exist in model {self.topo.name!r} "
                            "(give a pandapower switch as switch:<id> or a device id of the model)")

    def _is_open(self, dev) -> bool:
        kind, row, _ = dev
        return (not self.switch_closed[row]) if kind == "switch" else (row in self._dev_open)

    def _set_open(self, dev, is_open: bool) -> None:
        self._dirty = True
        kind, row, _ = dev
        if kind == "switch":
            self.switch_closed[row] = not is_open
        elif is_open:
            self._dev_open.add(row)
        else:
            self._dev_open.discard(row)

    def _element(self, ref: str) -> int:
        pos = self._elem_cache.get(ref)
        if pos is not None:
            return pos
        try:
            pos = int(self.topo.element_positions([ref])[0])
        except UnknownElementError as e:
            raise EventRejected(f"event {self._event_id}: {e}") from None
        if len(self._elem_cache) < 1_000_000:
            self._elem_cache[ref] = pos
        return pos

    def _customer(self, cid: str) -> int:
        row = self._cust_row.get(cid)
        if row is None:
            raise EventRejected(f"event {self._event_id}: customer {cid!r} does not exist in model "
                                f"{self.topo.name!r}")
        return row

    def _state(self):
        from gridsim.core.topology import State
        t = self.topo
        out = set(self._faulted) | set(self._planned_out)
        for row in self._dev_open:
            b = int(t.dev_branch[row])
            p = int(self._br_pos[b]) if b >= 0 else -1
            if p >= 0:
                out.add(p)
        sc = self.switch_closed.copy()
        sc.setflags(write=False)
        return State(sc, tuple(sorted(out)))

    # ---------------------------------------------------------- energization
    def _recompute(self, ch: _Changes, outage: _Outage | None, *, kind: str = "switching") -> np.ndarray:
        """Energize again; newly dead nodes join ``outage`` (or a new switching outage); nodes back are restored.
        Returns the newly dead nodes."""
        supplied = self._energized(self._state())
        self._chains = {}
        sup = supplied & ~self._base_dead
        was = self._supplied & ~self._base_dead
        dead_new = np.nonzero(was & ~sup)[0]
        back = np.nonzero(~was & sup & ~self._base_dead)[0]
        self._supplied = supplied
        if back.size:
            self._restore_nodes(back, ch)
        if dead_new.size:
            if outage is None:
                outage = self._new_outage(ch, type_=kind, cause="operation", device=None, element=None,
                                          status="confirmed")
            self._add_nodes(outage, dead_new, ch)
        return dead_new

    def _energized(self, state) -> np.ndarray:
        """Nodes reached from the sources over conducting branches: one BFS (the full traversal with
        subtree sizes and device tables, ``Topology.analysis``, is only built when a question needs it)."""
        from gridsim.core import _kernels as K
        t = self.topo
        cond = t.conducting(state)
        order, n_reached, _p, _pb, _x = K._bfs_tree(t.indptr, t.adj_node, t.adj_branch, cond, 0)
        sup = np.zeros(t.n_node, np.bool_)
        sup[order[:n_reached]] = True
        return sup

    def _customers_of(self, nodes: np.ndarray) -> np.ndarray:
        if nodes.size == 0:
            return np.zeros(0, np.int64)
        ip = self._cust_indptr
        nodes = np.asarray(nodes, np.int64)
        lo, hi = ip[nodes], ip[nodes + 1]
        n = hi - lo
        keep = n > 0
        if not keep.any():
            return np.zeros(0, np.int64)
        lo, n = lo[keep], n[keep]
        # positions lo[i] .. lo[i] + n[i] - 1 for every node, without a Python loop
        starts = np.repeat(lo - np.cumsum(np.concatenate(([0], n[:-1]))), n)
        return self._cust_by_node[starts + np.arange(int(n.sum()))]

    def _add_nodes(self, o: _Outage, nodes: np.ndarray, ch: _Changes) -> None:
        t = self.topo
        # nodes leaving a predicted outage: the prediction is now confirmed by the state
        pred = self.node_pred[nodes]
        for pidx in np.unique(pred[pred >= 0]):
            p = self._outage_list[int(pidx)]
            if p is not o:
                self._cancel_predicted(p, ch, f"confirmed as {o.id}")
        self.node_out[nodes] = o.idx
        o.nodes = np.union1d(o.nodes, nodes)
        rows = self._customers_of(nodes)
        added = int(t.cust_count[rows].sum())
        self._cust_out_n += added
        if self._reports:
            self._drop_reports_out()
        crit = rows[self._cust_crit[rows]]
        o.customers += added
        o.critical += int(t.cust_count[crit].sum())
        for r in crit:
            c = CLASS_ORDER[int(t.cust_class[r])].value
            o.critical_by_class[c] = o.critical_by_class.get(c, 0) + int(t.cust_count[r])
        if o.notified and rows.size:
            self._notify_customers(o, rows, ch)
        self._touch(o, ch)

    def _restore_nodes(self, nodes: np.ndarray, ch: _Changes) -> None:
        own = self.node_out[nodes]
        for idx in np.unique(own[own >= 0]):
            o = self._outage_list[int(idx)]
            back = nodes[own == idx]
            self.node_out[back] = -1
            rows = self._customers_of(back)
            self._cust_out_n -= int(self.topo.cust_count[rows].sum())
            o.cmi_done += float(self.topo.cust_count[rows].sum()) * max((self._now - o.start).total_seconds() / 60, 0)
            if o.notified and rows.size:
                o.restore_steps += 1
                self._send_restoration(o, rows, ch)
            if o.status not in ("restored", "repaired") and o.fault_pos is not None and not o.repaired:
                self._status(o, "isolated", ch, f"{int(self.topo.cust_count[rows].sum())} customers back by "
                                                f"switching, fault still present")
            self._maybe_restored(o, ch)

    def _out_nodes(self, o: _Outage) -> np.ndarray:
        return o.nodes[self.node_out[o.nodes] == o.idx]

    def _maybe_restored(self, o: _Outage, ch: _Changes) -> None:
        if o.status in ("restored", "cancelled", "scheduled"):
            return
        if self._out_nodes(o).size:
            return
        if o.type == "planned" and o.id in self._planned_out.values():
            return
        if o.fault_pos is not None and not o.repaired:
            return
        o.end = self._now
        if not o.notified:
            o.momentary = True
        self._status(o, "restored", ch, "all customers back" + (" (momentary: no notices)" if o.momentary else ""))
        for wid in self._wo_by_outage.get(o.id, ()):
            w = self.work_orders[wid]
            if w.status in ("open", "acknowledged"):
                w.status = "done"
                self._wo_touch(w, ch, "closed: outage restored")
        if o.notified:
            self._area(ch, "gridsim.restoration/1", f"restored:{o.id}:area", o, restored_at=_iso(self._now),
                       duration_min=round((self._now - o.start).total_seconds() / 60.0, 2), customers=o.customers)

    # -------------------------------------------------------------- outages
    def _new_outage(self, ch: _Changes, *, type_: str, cause: str, device: str | None, element: str | None,
                    status: str, fault_pos: int | None = None, oid: str | None = None) -> _Outage:
        self._dirty = True
        if oid is None:
            self._n_outage += 1
            oid = f"O{self._n_outage}"
        o = _Outage(id=oid, idx=self._n_idx, type=type_, cause=cause, device=device,
                    fault_element=element, fault_pos=fault_pos, status=status, start=self._now,
                    nodes=np.zeros(0, np.int64))
        self.outages[oid] = o
        self._outage_list[o.idx] = o
        self._n_idx += 1
        self._active[oid] = o
        if type_ != "planned":
            heapq.heappush(self._notify_heap, (self._now + dt.timedelta(seconds=self.options.notify_after_s), o.idx))
        self._history(o, ch, status, f"{type_} outage opened" + (f" at {device}" if device else "")
                      + (f", fault at {element}" if element else ""))
        return o

    def _history(self, o: _Outage, ch: _Changes, status: str, detail: str) -> None:
        o.history.append((_iso(self._now), status, self._actor, detail))
        ch.history.append((o.id, _iso(self._now), status, self._actor, detail, self._event_id))
        self._touch(o, ch)

    def _status(self, o: _Outage, status: str, ch: _Changes, detail: str) -> None:
        if o.status in ("restored", "cancelled"):
            return
        if status in ("dispatched", "on_site", "isolated") and o.status in ("repaired",):
            return
        if status == o.status:
            return
        o.status = status
        if status in ("restored", "cancelled"):
            self._active.pop(o.id, None)
            self._closed.append(o.idx)
        self._history(o, ch, status, detail)
        if status in ("dispatched", "on_site", "isolated", "repaired") and o.notified:
            self._progress(o, status, detail, ch)

    def _touch(self, o: _Outage, ch: _Changes) -> None:
        self._dirty = True
        ch.touched[o.id] = o

    def _outage_class(self, o: _Outage) -> str:
        if o.critical > 0:
            return "critical"
        return "major" if o.customers >= self.options.major_customers else "minor"

    def _cancel_predicted(self, p: _Outage, ch: _Changes, why: str) -> None:
        self.node_pred[p.nodes] = -1
        if p.status == "predicted":
            p.status = "cancelled"
            self._active.pop(p.id, None)
            self._closed.append(p.idx)
            p.end = self._now
            self._history(p, ch, "cancelled", why)
            for wid in self._wo_by_outage.get(p.id, ()):
                w = self.work_orders[wid]
                if w.status in ("open", "acknowledged"):
                    w.status = "cancelled"
                    self._wo_touch(w, ch, f"cancelled: {why}")

    # ------------------------------------------------------------ handlers
    def _on_breaker_trip(self, ev, ch: _Changes) -> None:
        if ev.device is None and ev.fault_element is None:
            raise EventRejected(f"event {ev.id}: breaker_trip needs device or fault_element")
        dev = self._device(ev.device) if ev.device is not None else None
        pos = self._element(ev.fault_element) if ev.fault_element is not None else None
        if dev is not None and self._is_open(dev):
            raise EventRejected(f"event {ev.id}: device {ev.device} is already open")
        if pos is not None and pos in self._faulted:
            raise EventRejected(f"event {ev.id}: {ev.fault_element} is already faulted "
                                f"(outage {self._faulted[pos]})")
        plan = None
        if pos is not None:
            plan = self._flisr(pos)
            td = plan.tripping_device if plan is not None else ""
            if dev is None and (td in self._dev_row or td.startswith("switch:")):
                cand = self._device(td)
                if not self._is_open(cand):
                    dev = cand
        label = self.topo.element_label(pos) if pos is not None else None
        # a predicted outage at or under this device becomes this outage
        o = self._new_outage(ch, type_="fault", cause=ev.cause, device=dev[2] if dev else None, element=label,
                             status="confirmed", fault_pos=pos)
        if plan is not None:
            o.flisr = plan.to_dict()
        if dev is not None:
            self._set_open(dev, True)
            self._audit(ch, "trip", dev[2], f"opened on a fault (outage {o.id})")
        if pos is not None:
            self._faulted[pos] = o.id
        dead = self._recompute(ch, o)
        if dead.size == 0:
            self._history(o, ch, "confirmed", "no customer newly out (the area was already dead)")
        self._work_orders_for(o, ch)
        self._plan_etrs(ch)

    def _on_breaker_reclose(self, ev, ch: _Changes) -> None:
        dev = self._device(ev.device)
        if not self._is_open(dev):
            raise EventRejected(f"event {ev.id}: device {ev.device} is already closed")
        self._set_open(dev, False)
        self._audit(ch, "reclose", dev[2], "closed")
        self._recompute(ch, None)
        self._after_topology(ch)

    def _switch(self, ev, ch: _Changes, is_open: bool) -> None:
        dev = self._device(ev.device)
        if self._is_open(dev) == is_open:
            raise EventRejected(f"event {ev.id}: {ev.device} is already {'open' if is_open else 'closed'}")
        o = None
        if ev.outage_id is not None:
            o = self._active.get(ev.outage_id)
            if o is None:
                raise EventRejected(f"event {ev.id}: outage {ev.outage_id} does not exist or is over")
        self._set_open(dev, is_open)
        self._audit(ch, "open" if is_open else "close", dev[2], f"switched{f' for outage {o.id}' if o else ''}")
        self._recompute(ch, o)
        self._after_topology(ch)

    def _on_switch_open(self, ev, ch):
        self._switch(ev, ch, True)

    def _on_switch_close(self, ev, ch):
        self._switch(ev, ch, False)

    def _after_topology(self, ch: _Changes) -> None:
        for o in list(ch.touched.values()):
            self._maybe_restored(o, ch)

    def _on_fault_indicator(self, ev, ch: _Changes) -> None:
        dev = self._device(ev.device)
        t = self.topo
        if dev[0] == "switch":
            b = int(t.switch_branch[dev[1]])
        else:
            b = int(t.dev_branch[dev[1]])
        nodes = [int(t.br_from[b]), int(t.br_to[b])] if b >= 0 else []
        for n in nodes:
            idx = int(self.node_out[n])
            if idx < 0:
                idx = int(self.node_pred[n])
            if idx >= 0:
                o = self._outage_list[idx]
                o.indicators.append(dev[2])
                self._history(o, ch, o.status, f"fault indicator at {dev[2]}: the fault is downstream of it")
                return
        self._audit(ch, "fault_indicator", dev[2], "no known outage around it")

    def _on_meter_last_gasp(self, ev, ch: _Changes) -> None:
        row = self._customer(ev.customer_id)
        o = self._outage_at(row)
        if o is not None:
            o.reports += 1
            self._touch(o, ch)
            return
        self._report(row, "last_gasp", ch)

    def _on_meter_restored(self, ev, ch: _Changes) -> None:
        row = self._customer(ev.customer_id)
        node = int(self.topo.cust_node[row])
        pidx = int(self.node_pred[node])
        if pidx >= 0:
            p = self._outage_list[pidx]
            self._cancel_predicted(p, ch, f"meter of {ev.customer_id} reports power")
            return
        if row in self._reports:
            self._dirty = True
            self._drop_report(row)
        if self.node_out[node] >= 0:
            o = self._outage_list[int(self.node_out[node])]
            self._history(o, ch, o.status, f"meter of {ev.customer_id} reports power although the model "
                                           "shows it out: check the switching state")

    def _on_customer_call(self, ev, ch: _Changes) -> None:
        row = self._customer(ev.customer_id)
        o = self._outage_at(row)
        if o is None:
            self._report(row, "call", ch)
            o = self._outage_at(row)
        if o is not None:
            o.calls += 1
            self._touch(o, ch)
            etr = _iso(o.etr)
            text = (f"We know about the outage in your area ({o.id}, since {o.start:%H:%M}). "
                    + (f"We expect power back by {o.etr:%H:%M}." if o.etr else "We are working out when power "
                       "will be back.") + " You do not need to stay on the line.")
        else:
            etr = None
            text = ("Thank you: your report is registered. We have no known outage at your address yet; "
                    "we will send an update as soon as we know more.")
        self._msg(ch, "cs.ivr", {"schema": "gridsim.call_answer/1", "id": f"answer:{ev.id}", "call_id": ev.id,
                                 "customer_id": ev.customer_id, "outage_id": o.id if o else None, "etr": etr,
                                 "text": text})

    def _on_crew_status(self, ev, ch: _Changes) -> None:
        loc = None
        if ev.location_bus is not None:
            row = pd.Index(self.topo.bus_ids).get_indexer([ev.location_bus])[0]
            if row < 0:
                raise EventRejected(f"event {ev.id}: location_bus {ev.location_bus} does not exist")
            loc = int(self.topo.bus_node[row])
        if ev.status == "repaired" and ev.outage_id is None and ev.element is None:
            raise EventRejected(f"event {ev.id}: crew_status repaired needs outage_id or element")
        o = None
        if ev.status in ("dispatched", "en_route", "on_site", "repaired"):
            o = self._find_outage(ev)      # the last check: it may confirm a predicted outage
            if ev.status == "repaired" and o.repaired:
                raise EventRejected(f"event {ev.id}: outage {o.id} is already repaired")
        crew = self.crews.get(ev.crew_id)
        if crew is None:
            node = int(self.topo.source_nodes[0]) if len(self.topo.source_nodes) else 0
            crew = _Crew(ev.crew_id, node, 40.0)
            self.crews[ev.crew_id] = crew
            self._audit(ch, "crew_on_shift", ev.crew_id, "crew registered by its first status")
        if ev.status in ("dispatched", "en_route", "on_site", "repaired"):
            if o is None:
                crew.status = ev.status
                crew.since = self._now
                self._audit(ch, "crew", ev.crew_id, ev.status)
                return
        if loc is not None:
            crew.node = loc
        if ev.status == "repaired":
            self._repaired(o, ch, ev.crew_id)
            return
        crew.status = ev.status
        crew.since = self._now
        crew.outage = o.id if o is not None else (crew.outage if ev.status != "available" else None)
        self._audit(ch, "crew", ev.crew_id, ev.status + (f" for {o.id}" if o else ""))
        if o is not None:
            o.crew = crew.id
            if ev.status in ("dispatched", "en_route"):
                self._status(o, "dispatched", ch, f"{crew.id} {ev.status.replace('_', ' ')}")
                self._ack_work(o, "repair", ch, f"{crew.id} dispatched")
            elif ev.status == "on_site":
                if o.fault_pos is not None:
                    crew.node = self._element_node(o.fault_pos)
                self._status(o, "on_site", ch, f"{crew.id} on site")
                self._ack_work(o, "repair", ch, f"{crew.id} on site")
        self._plan_etrs(ch)

    def _on_repair_complete(self, ev, ch: _Changes) -> None:
        o = self._find_outage(ev)
        if o is None:
            raise EventRejected(f"event {ev.id}: repair_complete needs outage_id or element of an active outage")
        self._repaired(o, ch, ev.crew_id)

    def _repaired(self, o: _Outage, ch: _Changes, crew_id: str | None) -> None:
        if o.repaired:
            raise EventRejected(f"event {self._event_id}: outage {o.id} is already repaired")
        self._dirty = True
        o.repaired = True
        if o.fault_pos is not None:
            self._faulted.pop(o.fault_pos, None)
        self._status(o, "repaired", ch, f"repaired{f' by {crew_id}' if crew_id else ''}")
        for c in self.crews.values():
            if c.outage == o.id:
                c.status, c.outage, c.since = "available", None, self._now
        for w in [self.work_orders[x] for x in self._wo_by_outage.get(o.id, ())]:
            if w.department == "repair" and w.status in ("open", "acknowledged"):
                w.status = "done"
                self._wo_touch(w, ch, "repair complete")
        self._recompute(ch, o)
        self._maybe_restored(o, ch)
        self._plan_etrs(ch)

    def _on_planned_outage_scheduled(self, ev, ch: _Changes) -> None:
        oid = f"P-{ev.planned_id}"
        if oid in self.outages or oid in self._archived_planned:
            raise EventRejected(f"event {ev.id}: planned outage {ev.planned_id} is already scheduled")
        if ev.end <= ev.start:
            raise EventRejected(f"event {ev.id}: end {ev.end.isoformat()} is not after start {ev.start.isoformat()}")
        if ev.end <= ev.time:
            raise EventRejected(f"event {ev.id}: the window ends ({ev.end.isoformat()}) before it is announced")
        positions = [self._element(e) for e in ev.elements]
        from gridsim.core.topology import State
        st = self._state()
        a = self.topo.analysis(State(st.switch_closed, tuple(sorted(set(st.faulted) | set(positions)))))
        nodes = np.nonzero(self._supplied & ~a.supplied & ~self._base_dead)[0]
        o = self._new_outage(ch, type_="planned", cause="planned", device=None, element=None, status="scheduled",
                             oid=oid)
        o.window = (ev.start, ev.end)
        o.elements = tuple(self.topo.element_label(p) for p in positions)
        o.reason = ev.reason
        rows = self._customers_of(nodes)
        o.customers = int(self.topo.cust_count[rows].sum())
        crit = rows[self._cust_crit[rows]]
        o.critical = int(self.topo.cust_count[crit].sum())
        for r in crit:
            c = CLASS_ORDER[int(self.topo.cust_class[r])].value
            o.critical_by_class[c] = o.critical_by_class.get(c, 0) + int(self.topo.cust_count[r])
        o.start = ev.start
        o.etr = ev.end
        # advance notices, per customer and for the area
        base = {"schema": "gridsim.planned_notice/1", "outage_id": o.id, "window_start": _iso(ev.start),
                "window_end": _iso(ev.end), "reason": ev.reason, "customers": o.customers}
        for r in rows:
            cid = str(self.topo.cust_ids[r])
            m = dict(base, id=f"planned:{o.id}:{cid}", customer_id=cid)
            for q in self._cust_queues[r]:
                self._msg(ch, q, m)
        self._area(ch, "gridsim.planned_notice/1", f"planned:{o.id}:area", o, window_start=_iso(ev.start),
                   window_end=_iso(ev.end), reason=ev.reason, customers=o.customers)
        if o.critical:
            self._work(o, "key_accounts", ch, f"call the {o.critical} critical customers about the planned "
                                              f"outage {_iso(ev.start)} - {_iso(ev.end)}")
        self._history(o, ch, "scheduled", f"{o.customers} customers told ({o.critical} critical)")

    def _planned(self, ev) -> _Outage:
        o = self.outages.get(f"P-{ev.planned_id}")
        if o is None:
            raise EventRejected(f"event {ev.id}: planned outage {ev.planned_id} was never scheduled")
        return o

    def _on_planned_outage_started(self, ev, ch: _Changes) -> None:
        o = self._planned(ev)
        if o.status != "scheduled":
            raise EventRejected(f"event {ev.id}: planned outage {ev.planned_id} is {o.status}, not scheduled")
        positions = self.topo.element_positions(list(o.elements))
        clash = [self.topo.element_label(int(p)) for p in positions if int(p) in self._planned_out]
        if clash:
            raise EventRejected(f"event {ev.id}: {clash[0]} is already out for another planned outage")
        self._dirty = True
        o.start = ev.time
        o.notified = True           # customers were told ahead: restoration confirmations will follow
        o.status = "confirmed"
        self._history(o, ch, "confirmed", "maintenance switching started")
        for p in positions:
            self._planned_out[int(p)] = o.id
        self._recompute(ch, o)

    def _on_planned_outage_ended(self, ev, ch: _Changes) -> None:
        o = self._planned(ev)
        if o.status in ("scheduled", "restored", "cancelled"):
            raise EventRejected(f"event {ev.id}: planned outage {ev.planned_id} is {o.status}, not in progress")
        self._dirty = True
        for p in [p for p, oid in self._planned_out.items() if oid == o.id]:
            del self._planned_out[p]
        self._recompute(ch, None)
        self._maybe_restored(o, ch)

    def _on_measurement(self, ev, ch: _Changes) -> None:
        self._element(ev.element)
        self._dirty = True
        self._measurements[f"{ev.element}/{ev.quantity}"] = (_iso(ev.time), ev.value)
        self._audit(ch, "measurement", ev.element, f"{ev.quantity}={ev.value:g}")

    def _on_work_order_update(self, ev, ch: _Changes) -> None:
        w = self.work_orders.get(ev.work_order_id)
        if w is None:
            raise EventRejected(f"event {ev.id}: work order {ev.work_order_id} does not exist")
        if w.status in ("done", "cancelled"):
            raise EventRejected(f"event {ev.id}: work order {w.id} is already {w.status}")
        if ev.status == "acknowledged" and w.status == "acknowledged" and not w.escalated:
            raise EventRejected(f"event {ev.id}: work order {w.id} is already acknowledged")
        self._dirty = True
        w.status = ev.status
        self._wo_touch(w, ch, f"{ev.status} by {ev.actor}" + (f": {ev.note}" if ev.note else ""))

    def _on_tick(self, ev, ch: _Changes) -> None:
        pass

    # ----------------------------------------------------------- clock work
    def _on_clock(self, ch: _Changes) -> None:
        now = self._now
        wait = dt.timedelta(seconds=self.options.notify_after_s)
        heap = self._notify_heap
        while heap and heap[0][0] <= now:
            _, idx = heapq.heappop(heap)
            o = self._outage_list.get(idx)
            if o is None or o.notified or o.status in ("restored", "cancelled") or o.type == "planned":
                continue
            if now - o.start < wait:                 # its start moved (planned) - look again later
                heapq.heappush(heap, (o.start + wait, idx))
                continue
            self._notify(o, ch)
        due = self._due_heap
        while due and due[0][0] <= now:
            _, wid = heapq.heappop(due)
            w = self.work_orders.get(wid)
            if w is not None and w.status == "open" and not w.escalated:
                w.escalated = True
                o = self.outages[w.outage]
                self._msg(ch, "ops.supervisor", {
                    "schema": "gridsim.escalation/1", "id": f"esc:{w.id}", "work_order_id": w.id,
                    "outage_id": w.outage, "department": w.department, "owner": w.owner, "due_at": _iso(w.due),
                    "overdue_min": round((now - w.due).total_seconds() / 60.0, 2)})
                self._wo_touch(w, ch, "escalated to ops.supervisor: deadline passed")
                self._history(o, ch, o.status, f"work order {w.id} ({w.department}) overdue: escalated")
        # reports outside the window are forgotten
        self._expire_reports(now)

    # --------------------------------------------------------------- reports
    def _outage_at(self, row: int) -> _Outage | None:
        node = int(self.topo.cust_node[row])
        idx = int(self.node_out[node])
        if idx < 0:
            idx = int(self.node_pred[node])
        return self._outage_list[idx] if idx >= 0 else None

    def _dev_chain(self, node: int) -> list[int]:
        """Protective devices (rows of dev_ids) on the path from ``node`` up to the source, nearest first."""
        hit = self._chains.get(node)
        if hit is not None:
            return hit
        a = self.topo.analysis(self._state())
        t = self.topo
        chain = []
        n = node
        guard = 0
        while n >= 0 and a.supplied[n] and guard < t.n_node:
            b = int(a.parent_branch[n])
            if b < 0:
                break
            for d in self._devices_on_branch(b):
                chain.append(d)
            n = int(a.parent[n])
            guard += 1
        self._chains[node] = chain
        return chain

    def _devices_on_branch(self, b: int) -> list[int]:
        m = self._branch_devs
        if m is None:
            m = {}
            t = self.topo
            for i in range(len(t.dev_ids)):
                if int(t.dev_kind[i]) in _PROTECTIVE_CODES and int(t.dev_branch[i]) >= 0:
                    m.setdefault(int(t.dev_branch[i]), []).append(i)
            self._branch_devs = m
        return m.get(b, [])

    def _add_report(self, row: int, when, kind: str, chain: tuple) -> None:
        self._drop_report(row)
        self._reports[row] = (when, kind, chain)
        cnt, kids = self._rep_count, self._rep_children
        for i, d in enumerate(chain):
            cnt[d] = cnt.get(d, 0) + 1
            if i > 0:
                k = kids.setdefault(d, {})
                k[chain[i - 1]] = k.get(chain[i - 1], 0) + 1

    def _drop_report(self, row: int) -> None:
        item = self._reports.pop(row, None)
        if item is None:
            return
        chain = item[2]
        cnt, kids = self._rep_count, self._rep_children
        for i, d in enumerate(chain):
            n = cnt[d] - 1
            if n:
                cnt[d] = n
            else:
                del cnt[d]
            if i > 0:
                k = kids[d]
                m = k[chain[i - 1]] - 1
                if m:
                    k[chain[i - 1]] = m
                else:
                    del k[chain[i - 1]]
                    if not k:
                        del kids[d]

    def _expire_reports(self, now) -> None:
        if not self._reports:
            return
        limit = now - dt.timedelta(minutes=self.options.report_window_min)
        old = []
        for row, (when, _k, _c) in self._reports.items():     # oldest first
            if when >= limit:
                break
            old.append(row)
        if old:
            self._dirty = True
            for row in old:
                self._drop_report(row)

    def _drop_reports_out(self) -> None:
        """Reports from customers now inside a known outage are explained: forget them."""
        if not self._reports:
            return
        t = self.topo
        gone = [r for r in self._reports if self.node_out[t.cust_node[r]] >= 0 or self.node_pred[t.cust_node[r]] >= 0]
        for r in gone:
            self._drop_report(r)

    def _report(self, row: int, kind: str, ch: _Changes) -> None:
        """A trouble report outside known outages: group the recent ones and predict an outage if they explain one."""
        self._dirty = True
        opts = self.options
        self._expire_reports(self._now)
        # each report keeps the device chain above it from when it came in (the topology may change later)
        chain = tuple(self._dev_chain(int(self.topo.cust_node[row])))
        self._add_report(row, self._now, kind, chain)
        if not chain:
            return
        count, children = self._rep_count, self._rep_children
        cand = chain[0]
        # roll up while the reports spread over enough child devices
        for d in chain[1:]:
            if len(children.get(d, ())) >= opts.rollup_children:
                cand = d
            else:
                break
        if count.get(cand, 0) < opts.min_reports:
            return
        dev_label = str(self.topo.dev_ids[cand])
        nodes = self._below_device(cand)
        nodes = nodes[(self.node_out[nodes] < 0) & (self.node_pred[nodes] < 0)]
        # predicted outages under this device are absorbed
        o = self._new_outage(ch, type_="predicted", cause="unknown", device=dev_label, element=None,
                             status="predicted")
        self.node_pred[nodes] = o.idx
        o.nodes = nodes
        rows = self._customers_of(nodes)
        o.customers = int(self.topo.cust_count[rows].sum())
        crit = rows[self._cust_crit[rows]]
        o.critical = int(self.topo.cust_count[crit].sum())
        for r in crit:
            c = CLASS_ORDER[int(self.topo.cust_class[r])].value
            o.critical_by_class[c] = o.critical_by_class.get(c, 0) + int(self.topo.cust_count[r])
        o.reports = count[cand]
        self._history(o, ch, "predicted", f"{o.reports} trouble reports below {dev_label}")
        self._drop_reports_out()
        # location unknown, nobody on it yet: a first estimate (the planner takes over once it is confirmed)
        o.etr = (self._now + dt.timedelta(minutes=self.options.default_dispatch_min + self._repair_est(o))
                 ).replace(microsecond=0)
        self._work_orders_for(o, ch)

    def _below_device(self, dev_row: int) -> np.ndarray:
        t = self.topo
        a = t.analysis(self._state())
        b = int(t.dev_branch[dev_row])
        u, v = int(t.br_from[b]), int(t.br_to[b])
        child = v if int(a.parent[v]) == u and int(a.parent_branch[v]) == b else u
        if not a.supplied[child]:
            return np.zeros(0, np.int64)
        s = int(a.pre[child])
        return np.asarray(a.node_at[s:s + int(a.size[child])], np.int64)

    def _find_outage(self, ev) -> _Outage | None:
        oid = getattr(ev, "outage_id", None)
        if oid is not None:
            o = self.outages.get(oid)
            if o is None or o.status in ("restored", "cancelled"):
                raise EventRejected(f"event {ev.id}: outage {oid} is not active")
            return o
        el = getattr(ev, "element", None)
        if el is None:
            return None
        pos = self._element(el)
        oid = self._faulted.get(pos)
        if oid is not None:
            return self.outages[oid]
        # a predicted outage around the element: the crew found the fault there
        node = self._element_node(pos)
        pidx = int(self.node_pred[node]) if node >= 0 else -1
        if pidx >= 0:
            p = self._outage_list[pidx]
            return self._confirm_predicted(p, pos, ev)
        raise EventRejected(f"event {ev.id}: no active outage has its fault at {el}")

    def _confirm_predicted(self, p: _Outage, pos: int, ev) -> _Outage:
        ch = self._cur_ch
        self._dirty = True
        p.type = "fault"
        p.fault_pos = pos
        p.fault_element = self.topo.element_label(pos)
        self._faulted[pos] = p.id
        dev = self._device(p.device) if p.device else None
        self.node_pred[p.nodes] = -1
        nodes = p.nodes
        p.nodes = np.zeros(0, np.int64)
        p.customers = p.critical = 0
        p.critical_by_class = {}
        p.status = "confirmed"
        self._history(p, ch, "confirmed", f"fault found at {p.fault_element}")
        if dev is not None and not self._is_open(dev):
            self._set_open(dev, True)
        self._recompute(ch, p)
        del nodes
        return p

    def _element_node(self, pos: int) -> int:
        t = self.topo
        r = int(t.elem_ref[pos])
        return r if t.elem_is_node[pos] else int(t.br_to[r])

    # ----------------------------------------------------------- work orders
    def _work_orders_for(self, o: _Outage, ch: _Changes) -> None:
        if o.type in ("fault", "predicted"):
            self._work(o, "repair", ch, f"find and repair the fault{f' at {o.fault_element}' if o.fault_element else ''}"
                                        f"{f' below {o.device}' if o.device and not o.fault_element else ''}")
        manual = [s for s in (o.flisr or {}).get("steps", []) if not s.get("remote")]
        if manual or o.type == "switching":
            what = ", ".join(f"{s['action']} {s['device']}" for s in manual[:6]) or "check the switching"
            self._work(o, "switching", ch, f"manual switching: {what}")
        if o.critical:
            classes = ", ".join(f"{n} {c}" for c, n in sorted(o.critical_by_class.items()))
            self._work(o, "key_accounts", ch, f"call the critical customers out ({classes})")

    def _work(self, o: _Outage, dept: str, ch: _Changes, action: str) -> _WorkOrder:
        wid = f"{o.id}-{dept}"
        w = self.work_orders.get(wid)
        if w is not None:
            return w
        due = self._now + dt.timedelta(minutes=float(self.options.deadlines_min[self._outage_class(o)][dept]))
        w = _WorkOrder(wid, o.id, dept, str(self.options.owners.get(dept, dept)), self._now, due, action=action)
        self.work_orders[wid] = w
        self._open_wo[wid] = w
        self._wo_by_outage.setdefault(o.id, []).append(wid)
        heapq.heappush(self._due_heap, (due, wid))
        self._wo_touch(w, ch, f"opened for {w.owner}, due {_iso(due)}")
        return w

    def _ack_work(self, o: _Outage, dept: str, ch: _Changes, why: str) -> None:
        w = self.work_orders.get(f"{o.id}-{dept}")
        if w is not None and w.status == "open":
            w.status = "acknowledged"
            self._wo_touch(w, ch, f"acknowledged: {why}")

    def _wo_touch(self, w: _WorkOrder, ch: _Changes, what: str) -> None:
        if w.status in ("done", "cancelled"):
            self._open_wo.pop(w.id, None)
        rev = len([a for a in ch.audit if a[3] == w.id])
        self._audit(ch, f"work_order:{w.status}", w.id, what)
        ch.wo_touched[w.id] = w
        self._msg(ch, _DEPARTMENT_QUEUE[w.department], {
            "schema": "gridsim.work_order/1", "id": f"wo:{w.id}:{w.status}:{int(w.escalated)}:{self._event_id}:{rev}",
            "work_order_id": w.id, "outage_id": w.outage, "department": w.department, "owner": w.owner,
            "due_at": _iso(w.due), "status": w.status, "action": w.action})

    def _audit(self, ch: _Changes, action: str, target: str, detail: str) -> None:
        self._dirty = True
        ch.audit.append((_iso(self._now), self._actor, action, target, detail, self._event_id))

    # -------------------------------------------------------------- planning
    def _flisr(self, pos: int):
        from gridsim.restore import plan_flisr
        try:
            return plan_flisr(self.topo, pos, state=self._state())
        except GridsimError:
            return None

    def _repair_est(self, o: _Outage) -> float:
        if o.fault_pos is None:
            return 120.0
        return float(_REPAIR_MIN.get(int(self.topo.elem_type[o.fault_pos]), 180.0))

    def _travel_min(self, crew: _Crew, node: int) -> float:
        a, b = self._xy[crew.node], self._xy[node]
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            return 30.0
        km = float(np.hypot(*(a - b))) * 1.3
        return km / max(crew.speed_kmh, 1.0) * 60.0

    def _plan_etrs(self, ch: _Changes) -> None:
        """ETR of every active outage: from its crew when one is on it, else from the restoration planner."""
        now = self._now
        active = [o for o in self._active.values() if o.status != "scheduled" and o.type != "planned"]
        if not active:
            return
        new: dict[str, dt.datetime] = {}
        unassigned = []
        busy_until: dict[str, float] = {}
        for o in active:
            if o.repaired:
                new[o.id] = now + dt.timedelta(minutes=self.options.return_switching_min)
                continue
            if o.fault_pos is None and o.crew is None:
                if o.etr is None:       # location unknown, nobody on it: a fixed first estimate
                    new[o.id] = now + dt.timedelta(minutes=self.options.default_dispatch_min + self._repair_est(o))
                continue
            crew = self.crews.get(o.crew) if o.crew else None
            rep = self._repair_est(o)
            if crew is not None and crew.outage == o.id and crew.status in ("dispatched", "en_route", "on_site"):
                since = crew.since or now
                if crew.status == "on_site":
                    eta = since
                else:
                    target = self._element_node(o.fault_pos) if o.fault_pos is not None else crew.node
                    eta = since + dt.timedelta(minutes=self._travel_min(crew, target))
                etr = max(eta + dt.timedelta(minutes=rep), now + dt.timedelta(minutes=15))
                new[o.id] = etr
                busy_until[crew.id] = (etr - now).total_seconds() / 60.0
            else:
                unassigned.append(o)
        if unassigned:
            planned = self._planner_etrs(unassigned, busy_until)
            for o in unassigned:
                new[o.id] = planned.get(o.id) or now + dt.timedelta(
                    minutes=self.options.default_dispatch_min + self._repair_est(o))
        for o in active:
            etr = new.get(o.id)
            if etr is None:
                continue
            etr = etr.replace(microsecond=0)
            old = o.etr
            o.etr = etr
            if old is None or abs((etr - old).total_seconds()) / 60.0 >= self.options.etr_change_min:
                if old != etr:
                    self._touch(o, ch)
                if old is not None and o.notified:
                    self._etr_update(o, old, ch)

    def _planner_etrs(self, outages: list, busy_until: dict) -> dict:
        from gridsim.restore import plan_restoration
        faults = [o for o in outages if o.fault_pos is not None]
        if not faults:
            return {}
        free = [c for c in self.crews.values() if c.status in ("available",) or c.id in busy_until]
        if not free:
            return {}
        now = self._now
        t = self.topo
        crews = []
        for c in free:
            xy = self._xy[c.node]
            depot = (float(xy[0]), float(xy[1])) if np.isfinite(xy).all() else None
            d = {"id": c.id, "speed_kmh": c.speed_kmh, "available_from_min": busy_until.get(c.id, 0.0)}
            if depot is not None:
                d["depot"] = depot
            elif t.node_bus_row[c.node] >= 0:
                d["depot"] = int(t.bus_ids[t.node_bus_row[c.node]])
            crews.append(d)
        spec = [{"element": o.fault_element, "repair_min": self._repair_est(o),
                 "start_min": -max((now - o.start).total_seconds() / 60.0, 0.0)} for o in faults]
        from gridsim.core.topology import State
        st = self._state()
        fpos = {o.fault_pos for o in faults}
        state = State(st.switch_closed, tuple(p for p in st.faulted if p not in fpos))
        import warnings
        from gridsim.restore.plan import PlanWarning
        try:
            with warnings.catch_warnings():
                # a model without coordinates plans with zero travel: the ETR is then a lower bound
                warnings.simplefilter("ignore", PlanWarning)
                plan = plan_restoration(t, spec, crews, strategy=self.options.strategy, state=state)
        except (GridsimError, ValueError):
            return {}
        out = {}
        for o, etr in zip(faults, plan.etr_min):
            if math.isfinite(float(etr)):
                out[o.id] = now + dt.timedelta(minutes=float(etr))
        return out

    # -------------------------------------------------------------- messages
    def _msg(self, ch: _Changes, queue: str, body: dict) -> None:
        self._dirty = True
        body["created_at"] = _iso(self._now)
        ch.messages.append((queue, body))

    def _area(self, ch: _Changes, schema: str, mid: str, o: _Outage, **fields) -> None:
        for q in AREA_QUEUES:
            self._msg(ch, q, {"schema": schema, "id": mid, "outage_id": o.id, "customer_id": None, **fields})

    def _area_label(self, o: _Outage) -> str:
        if o.type == "planned":
            return ", ".join(o.elements)
        return (o.device or o.fault_element or "unknown") + (f" (fault at {o.fault_element})"
                                                             if o.device and o.fault_element else "")

    def _notify(self, o: _Outage, ch: _Changes) -> None:
        o.notified = True
        rows = self._customers_of(self._out_nodes(o)) if o.type != "predicted" else self._customers_of(o.nodes)
        self._history(o, ch, o.status, f"notices sent to {int(self.topo.cust_count[rows].sum())} customers")
        self._area(ch, "gridsim.outage_notice/1", f"notice:{o.id}:area", o, status=o.status,
                   area=self._area_label(o), customers=o.customers, critical=o.critical, cause=o.cause,
                   start=_iso(o.start), etr=_iso(o.etr))
        self._notify_customers(o, rows, ch)

    def _notify_customers(self, o: _Outage, rows: np.ndarray, ch: _Changes) -> None:
        t = self.topo
        base = {"schema": "gridsim.outage_notice/1", "outage_id": o.id, "status": o.status,
                "area": self._area_label(o), "customers": o.customers, "critical": o.critical, "cause": o.cause,
                "start": _iso(o.start), "etr": _iso(o.etr), "created_at": _iso(self._now)}
        msgs = ch.messages
        ids = t.cust_ids
        queues = self._cust_queues
        for r in rows.tolist():
            cid = str(ids[r])
            m = dict(base)
            m["id"] = f"notice:{o.id}:{cid}"
            m["customer_id"] = cid
            for q in queues[r]:
                msgs.append((q, m))
        for r in rows[self._cust_crit[rows]].tolist():
            cid = str(ids[r])
            self._msg(ch, "cs.key_accounts", {
                "schema": "gridsim.critical_alert/1", "id": f"alert:{o.id}:{cid}", "outage_id": o.id,
                "customer_id": cid, "customer_class": CLASS_ORDER[int(t.cust_class[r])].value,
                "name": self._cust_name[r], "start": _iso(o.start), "etr": _iso(o.etr)})

    def _send_restoration(self, o: _Outage, rows: np.ndarray, ch: _Changes) -> None:
        t = self.topo
        minutes = round((self._now - o.start).total_seconds() / 60.0, 2)
        base = {"schema": "gridsim.restoration/1", "outage_id": o.id, "restored_at": _iso(self._now),
                "duration_min": minutes, "created_at": _iso(self._now)}
        msgs = ch.messages
        for r in rows.tolist():
            cid = str(t.cust_ids[r])
            m = dict(base)
            m["id"] = f"restored:{o.id}:{cid}"
            m["customer_id"] = cid
            m["customers"] = int(t.cust_count[r])
            for q in self._cust_queues[r]:
                msgs.append((q, m))

    def _progress(self, o: _Outage, status: str, detail: str, ch: _Changes) -> None:
        self._area(ch, "gridsim.progress_update/1", f"progress:{o.id}:{status}", o, status=status, detail=detail,
                   etr=_iso(o.etr))
        rows = self._customers_of(self._out_nodes(o))
        for r in rows[self._cust_crit[rows]].tolist():
            cid = str(self.topo.cust_ids[r])
            self._msg(ch, "cs.key_accounts", {"schema": "gridsim.progress_update/1",
                                              "id": f"progress:{o.id}:{status}:{cid}", "outage_id": o.id,
                                              "customer_id": cid, "status": status, "detail": detail,
                                              "etr": _iso(o.etr)})

    def _etr_update(self, o: _Outage, old: dt.datetime, ch: _Changes) -> None:
        o.etr_updates += 1
        n = o.etr_updates
        reason = f"status {o.status}" + (f", crew {o.crew}" if o.crew else "")
        self._area(ch, "gridsim.etr_update/1", f"etr:{o.id}:{n}:area", o, etr=_iso(o.etr), previous_etr=_iso(old),
                   reason=reason)
        rows = self._customers_of(self._out_nodes(o))
        base = {"schema": "gridsim.etr_update/1", "outage_id": o.id, "etr": _iso(o.etr), "previous_etr": _iso(old),
                "reason": reason, "created_at": _iso(self._now)}
        for r in rows.tolist():
            cid = str(self.topo.cust_ids[r])
            m = dict(base)
            m["id"] = f"etr:{o.id}:{n}:{cid}"
            m["customer_id"] = cid
            for q in self._cust_queues[r]:
                ch.messages.append((q, m))

    # -------------------------------------------------------------- finish
    def _finish(self, ch: _Changes) -> None:
        for o in ch.touched.values():
            ch.outages.append(self._outage_row(o))
        for w in ch.wo_touched.values():
            ch.work_orders.append((w.id, w.outage, w.department, w.owner, _iso(w.created), _iso(w.due), w.status,
                                   int(w.escalated), w.action))
        self._series.append((_iso(self.clock), self.customers_out()))
        if len(self._series) > 2000:
            self._series = self._series[-1000:]

    def _outage_row(self, o: _Outage) -> tuple:
        # the history has its own table and the FLISR plan does not change: neither is rewritten here
        body = self._outage_dict(o, full=False)
        return (o.id, o.type, o.cause, o.device, o.fault_element, o.status, o.customers, o.critical, _iso(o.start),
                _iso(o.etr), _iso(o.end), dumps(body))

    def _outage_dict(self, o: _Outage, full: bool = True) -> dict:
        out = int(self.topo.cust_count[self._customers_of(self._out_nodes(o))].sum()) if o.type != "predicted" \
            else o.customers
        wos = [self.work_orders[w] for w in self._wo_by_outage.get(o.id, ())]
        owner = next((w.owner for w in wos if w.department == "repair"), wos[0].owner if wos else None)
        due = min((w.due for w in wos if w.status == "open"), default=None)
        return {"outage_id": o.id, "type": o.type, "cause": o.cause, "device": o.device,
                "fault_element": o.fault_element, "status": o.status, "customers": o.customers,
                "customers_out": out if o.status not in ("restored", "cancelled") else 0, "critical": o.critical,
                "critical_by_class": dict(o.critical_by_class), "start": _iso(o.start), "etr": _iso(o.etr),
                "end": _iso(o.end), "owner": owner, "deadline": _iso(due), "crew": o.crew, "calls": o.calls,
                "reports": o.reports, "notified": o.notified, "momentary": o.momentary,
                "window": [_iso(x) for x in o.window] if o.window else None, "elements": list(o.elements),
                "indicators": list(o.indicators),
                **({"flisr": o.flisr, "history": [dict(zip(("time", "status", "actor", "detail"), h))
                                                  for h in o.history]} if full else {})}

    # ------------------------------------------------------------- queries
    def customers_out(self) -> int:
        """Customers out in confirmed outages (kept up to date as nodes go out and come back)."""
        return self._cust_out_n

    def outage_table(self) -> pd.DataFrame:
        """Outage records: the columns the web app's table shows."""
        cols = ["outage_id", "type", "cause", "device", "status", "customers", "customers_out", "critical", "start",
                "etr", "owner", "deadline"]
        with self._lock:
            rows = [self._outage_dict(o) for o in self._outage_list.values()]
        return pd.DataFrame([{c: r[c] for c in cols} for r in rows], columns=cols)

    def work_order_table(self, *, open_only: bool = False) -> pd.DataFrame:
        cols = ["work_order_id", "outage_id", "department", "owner", "created_at", "due_at", "status", "escalated",
                "overdue", "action"]
        now = self.clock
        with self._lock:
            rows = [(w.id, w.outage, w.department, w.owner, _iso(w.created), _iso(w.due), w.status, w.escalated,
                     bool(now is not None and w.status == "open" and now >= w.due), w.action)
                    for w in self.work_orders.values() if not open_only or w.status in ("open", "acknowledged")]
        return pd.DataFrame(rows, columns=cols)

    def snapshot(self) -> Snapshot:
        """The current state as an immutable :class:`Snapshot` (cached per version)."""
        with self._lock:
            if self._snap is not None and self._snap.version == self.version:
                return self._snap
            t = self.topo
            sup = self._supplied[t.bus_node].copy()
            sup.setflags(write=False)
            own = self.node_out[t.bus_node]
            bus_outage = tuple(self._outage_list[i].id if i >= 0 else None for i in own.tolist())
            open_dev = []
            for i in np.nonzero(self.switch_closed != t.switch_closed)[0]:
                open_dev.append(f"switch:{int(t.switch_ids[i])}")
            open_dev += [str(t.dev_ids[r]) for r in sorted(self._dev_open)]
            outages = tuple(self._outage_dict(o) for o in self._outage_list.values())
            wos = tuple(self.work_order_table().to_dict("records"))
            crews = tuple({"crew_id": c.id, "status": c.status, "outage_id": c.outage,
                           "bus": int(t.bus_ids[t.node_bus_row[c.node]]) if t.node_bus_row[c.node] >= 0 else None,
                           "since": _iso(c.since)} for c in self.crews.values())
            active = [o for o in outages if o["status"] not in ("restored", "cancelled", "scheduled")]
            crit_out: dict[str, int] = {}
            rows = np.nonzero((self.node_out[t.cust_node] >= 0) & self._cust_crit)[0]
            for r in rows:
                c = CLASS_ORDER[int(t.cust_class[r])].value
                crit_out[c] = crit_out.get(c, 0) + int(t.cust_count[r])
            kpis = {"customers_out": self.customers_out(), "critical_out": crit_out,
                    "active_outages": len(active),
                    "crews_busy": sum(1 for c in self.crews.values() if c.status != "available"),
                    "crews_free": sum(1 for c in self.crews.values() if c.status == "available"),
                    "open_work_orders": sum(1 for w in self.work_orders.values() if w.status in ("open", "acknowledged")),
                    "overdue_work_orders": sum(1 for w in wos if w["overdue"]),
                    "cmi": self._cmi(), "archived_outages": self._archived}
            self._snap = Snapshot(version=self.version, time=self.clock, model=t.name, bus_ids=t.bus_ids,
                                  bus_energized=sup, bus_outage=bus_outage,
                                  faulted=tuple(t.element_label(p) for p in sorted(self._faulted)),
                                  open_devices=tuple(open_dev), outages=outages, work_orders=wos, crews=crews,
                                  kpis=kpis, measurements=dict(self._measurements),
                                  customers_out_series=tuple(self._series[-500:]))
            return self._snap

    def _cmi(self) -> float:
        """Customer minutes interrupted so far (sustained outages, up to the clock)."""
        if self.clock is None:
            return 0.0
        total = self._archived_cmi
        for o in self._outage_list.values():
            if o.type == "predicted" or o.momentary or o.status == "scheduled":
                continue
            total += o.cmi_done
            if o.status not in ("restored", "cancelled"):
                out = float(self.topo.cust_count[self._customers_of(self._out_nodes(o))].sum())
                total += out * max((self.clock - o.start).total_seconds() / 60.0, 0.0)
        return round(total, 1)



def _utf8(text: str | None) -> str | None:
    """``text`` with anything UTF-8 cannot hold (lone surrogates) backslash-escaped."""
    if text is None:
        return None
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _text(value, limit: int) -> str:
    """A field of a raw (possibly hostile) event as text for the rejected log: bounded, recursion-safe."""
    return value[:limit] if isinstance(value, str) else brief(value, limit)


def _raw_id(raw) -> str | None:
    if isinstance(raw, Mapping):
        v = raw.get("id")
        return _text(v, 128) if v is not None else None
    if hasattr(raw, "id"):
        return _text(raw.id, 128)
    return None
