"""The app's shared live state: one :class:`LiveService` per server process.

It owns the :class:`~gridsim.live.LiveEngine`, the background thread that
feeds it (a scenario replay, then the ``grid.events`` inbound queue), the
static map geometry, a small cache of map states per snapshot version (so
that each browser gets a patch from the version it shows to the current one),
the queue statistics (read at most once a second however many browsers poll),
the strategy comparisons started from the Strategies page, and the one door
through which operator actions reach the engine (:meth:`operator_event`,
which stamps the signed-in user as the event's actor, so the engine's audit
trail and outage histories record who did it).

Everything per user lives in the browser (``dcc.Store``); nothing here is
keyed by user.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from gridsim.app.config import AppConfig
from gridsim.app.figures import MapState, background_image, is_big, map_geometry, map_state

__all__ = ["LiveService", "CompareJob"]

log = logging.getLogger("gridsim.app")

_STATE_CACHE = 64          # map states kept (versions a browser may still show)


@dataclass
class CompareJob:
    id: str
    user: str
    scenario: str
    strategies: tuple
    runs: int
    started: float
    done_runs: int = 0
    status: str = "running"          # running | finished | failed | cancelled
    error: str = ""
    out_dir: str | None = None
    result: object = None
    cancel: threading.Event = field(default_factory=threading.Event)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


def _remove_sqlite(path: Path) -> None:
    for p in (path, Path(str(path) + "-wal"), Path(str(path) + "-shm")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


class LiveService:
    """The engine, its feeder thread and the caches the pages share (see the module docstring)."""

    def __init__(self, config: AppConfig, *, engine=None):
        from gridsim.live import LiveEngine
        self.config = config
        self.events = None
        self.scenario = None
        options: dict = {}
        if config.replay:
            self.events, options = self._load_replay(config)
        elif config.crews is not None:
            options["crews"] = config.crews
        if engine is None:
            url = config.queue_url
            if config.fresh_replay and url.startswith("sqlite:///"):
                from gridsim.queues.base import sqlite_path
                _remove_sqlite(sqlite_path(url))
            engine = LiveEngine(config.model, queue=url, db=config.db, options=options or None)
        self.engine = engine
        self.topo = engine.topo
        self.model = engine.model
        self.geometry = map_geometry(self.topo, self.model)
        # big models: the energized network as one image, made once (see figures.background_image)
        self.background = background_image(self.geometry) if is_big(self.geometry) else None
        self._lock = threading.Lock()
        self._states: OrderedDict[int, MapState] = OrderedDict()
        self._qstats: tuple[float, list] = (0.0, [])
        self.queue_error: str | None = None      # why the last queue read failed (broker down), else None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.status = {"mode": "replay" if self.events is not None else "live", "replay": config.replay,
                       "speed": config.speed, "applied": 0, "rejected": 0, "state": "starting", "error": ""}
        self.jobs: dict[str, CompareJob] = {}
        self._pf = None

    # ------------------------------------------------------------------ feeding
    @staticmethod
    def _load_replay(config: AppConfig):
        from gridsim.live import read_events_file, scenario_events
        from gridsim.live.replay import scenario_crews
        path = Path(config.replay)
        if path.suffix in (".jsonl", ".json"):
            return read_events_file(path), {}
        from gridsim.scenarios import load_scenario
        sc = load_scenario(path)
        if sc.model != config.model:
            from gridsim.app.config import AppConfigError
            raise AppConfigError(f"--replay {path}: the scenario is written for model {sc.model!r}, not "
                                 f"{config.model!r}; drop --model or give a scenario of that model")
        crews = scenario_crews(sc)
        return scenario_events(sc), ({"crews": crews} if crews else {})

    def start(self) -> None:
        """Start feeding the engine in a background thread (idempotent)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="gridsim-feed", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for job in list(self.jobs.values()):
            job.cancel.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def close(self) -> None:
        self.stop()
        self.engine.close()

    def _drain(self) -> int:
        if self.engine.queue is None:
            return 0
        from gridsim.live.cli import drain_inbound
        try:
            return drain_inbound(self.engine, consumer="gridsim-app")
        except Exception as e:  # noqa: BLE001 - a broker hiccup must not stop the feed; retried next turn
            log.warning("grid.events: %s", e)
            return 0

    def _run(self) -> None:
        from gridsim.live import replay
        try:
            if self.events is not None:
                self.status["state"] = "replaying"

                def on_event(e, r):
                    self.status["applied" if r.accepted else "rejected"] += 1
                    self._drain()
                st = replay(self.engine, self.events, speed=self.config.speed, stop=self._stop.is_set,
                            on_event=on_event)
                self.status["state"] = "replay finished" if not self._stop.is_set() else "stopped"
                self.status["skipped"] = st.skipped
            else:
                self.status["state"] = "live"
            last_tick = 0.0
            while not self._stop.is_set():
                n = self._drain()
                if self.events is None and time.monotonic() - last_tick > 5.0:
                    # live: the clock follows the wall clock (deadlines, escalations, deferred notices)
                    clock = self.engine.clock
                    now = _utcnow()
                    if clock is None or now > clock:
                        self.engine.advance(now, event_id=f"tick:app:{now.isoformat()}")
                    last_tick = time.monotonic()
                if not n:
                    self._stop.wait(0.1)          # idle poll of grid.events: latency <= ~0.1 s
        except Exception as e:  # noqa: BLE001 - shown on the page; the app keeps serving what it has
            log.exception("the live feed stopped")
            self.status.update(state="failed", error=f"{type(e).__name__}: {e}")

    # ------------------------------------------------------------------ reads
    def snapshot(self):
        return self.engine.snapshot()

    def map_state(self, snap) -> MapState:
        """Map state of ``snap`` (computed once per version, kept for the browsers still showing it)."""
        with self._lock:
            st = self._states.get(snap.version)
            if st is not None:
                self._states.move_to_end(snap.version)
                return st
        st = map_state(self.geometry, snap)
        with self._lock:
            self._states[snap.version] = st
            while len(self._states) > _STATE_CACHE:
                self._states.popitem(last=False)
        return st

    def map_state_at(self, version) -> MapState | None:
        with self._lock:
            return self._states.get(version) if isinstance(version, int) else None

    def queue_stats(self, max_age_s: float = 1.0) -> list:
        """Per-queue depth / pending / dead (one read per second at most, shared by every browser)."""
        q = self.engine.queue
        if q is None:
            return []
        with self._lock:
            t, stats = self._qstats
            if time.monotonic() - t < max_age_s:
                return stats
        try:
            stats = q.stats()
            error = None
        except Exception as e:  # noqa: BLE001 - a broker that is down shows as such, the page stays up
            log.warning("queue stats: %s", e)
            stats, error = [], f"{type(e).__name__}: {e}"
        with self._lock:
            self._qstats = (time.monotonic(), stats)
            self.queue_error = error
        return stats

    def queue_warning(self) -> str:
        """A warning for the Queues page while the broker cannot be reached or messages wait in the outbox
        ("" when all is well). The engine keeps running meanwhile: its messages wait in the SQLite outbox."""
        self.queue_stats()
        store = self.engine.store
        outbox = getattr(store, "outbox", None) if store is not None else None
        unsent = 0
        if outbox is not None:
            try:
                unsent = store.unsent()
            except Exception as e:  # noqa: BLE001 - the warning must never break the page
                log.warning("outbox: %s", e)
        error = self.queue_error or (getattr(outbox, "last_error", None) if outbox is not None else None)
        if error:
            return (f"The queue broker cannot be reached ({error}). The engine keeps running; "
                    f"{unsent:,} messages wait in the outbox and will be sent when it is back.")
        if unsent > 1000:
            return f"{unsent:,} messages wait in the outbox (the broker is slow or was down)."
        return ""

    def queue_depths(self) -> dict:
        return {s.queue: s.depth for s in self.queue_stats()}

    def recent_messages(self, queue: str, limit: int = 20) -> list[dict]:
        try:
            return self.engine.queue.recent(queue, limit) if self.engine.queue is not None else []
        except Exception as e:  # noqa: BLE001 - broker down: the page shows the warning instead
            log.warning("recent messages of %s: %s", queue, e)
            return []

    def dead_letters(self, queue: str, limit: int = 20) -> list[dict]:
        try:
            return self.engine.queue.dead_letters(queue, limit) if self.engine.queue is not None else []
        except Exception as e:  # noqa: BLE001 - broker down: the page shows the warning instead
            log.warning("dead letters of %s: %s", queue, e)
            return []

    def audit(self, limit: int = 50) -> list[dict]:
        """The engine's audit trail, newest first (read-only from its database)."""
        store = self.engine.store
        if store is None:
            return []
        try:
            con = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True, timeout=5)
            try:
                cur = con.execute("SELECT time, actor, action, target, detail, event_id FROM live_audit "
                                  "ORDER BY seq DESC LIMIT ?", (int(limit),))
                cols = [d[0] for d in cur.description]
                return [dict(zip(cols, r)) for r in cur.fetchall()]
            finally:
                con.close()
        except sqlite3.Error as e:
            log.warning("audit: %s", e)
            return []

    def pf_data(self):
        """Power-flow data of the model (for capacity figures of what-ifs), compiled on first use."""
        if self._pf is None:
            from gridsim.restore.powerflow import compile_pf
            self._pf = compile_pf(self.model, self.topo)
        return self._pf

    # ------------------------------------------------------------------ operator actions
    def event_time(self) -> dt.datetime:
        """When an operator action happens on the engine's clock: the replay's simulated time, else now."""
        clock = self.engine.clock
        if self.events is not None and clock is not None:
            return clock
        now = _utcnow()
        return max(now, clock) if clock is not None else now

    def operator_event(self, user, body: dict):
        """Apply one operator action to the live engine as an event whose actor is ``user``'s name."""
        ev = dict(body)
        ev["id"] = f"ui:{user.name}:{uuid.uuid4().hex[:12]}"
        ev["time"] = self.event_time().isoformat()
        ev["actor"] = user.name
        r = self.engine.apply(ev, source=f"app:{user.name}")
        try:
            self.engine.flush()
        except Exception as e:  # noqa: BLE001 - the message waits in the outbox; the action itself is done
            log.warning("flush after %s: %s", ev["id"], e)
        log.info("operator %s: %s %s -> %s", user.name, ev.get("type"), json.dumps(body, default=str)[:200],
                 "accepted" if r.accepted else f"rejected: {r.reason}")
        return r

    # ------------------------------------------------------------------ strategy comparisons
    def start_compare(self, user, scenario_path: str, strategies, runs: int) -> CompareJob:
        running = [j for j in self.jobs.values() if j.status == "running"]
        if running:
            raise RuntimeError(f"comparison {running[0].id} ({running[0].scenario}) is still running")
        job = CompareJob(id=uuid.uuid4().hex[:10], user=user.name, scenario=scenario_path,
                         strategies=tuple(strategies), runs=int(runs), started=time.time())
        self.jobs[job.id] = job
        threading.Thread(target=self._compare, args=(job,), name=f"gridsim-compare-{job.id}", daemon=True).start()
        return job

    def _compare(self, job: CompareJob) -> None:
        from gridsim.scenarios import load_scenario
        from gridsim.scenarios.report import compare_in_chunks, write_compare_outputs
        try:
            sc = load_scenario(job.scenario)

            def progress(n):
                job.done_runs = n
                if job.cancel.is_set():
                    raise KeyboardInterrupt      # compare_in_chunks keeps the finished chunks and stops
            cc = compare_in_chunks(sc, job.strategies, job.runs, workers=1, on_chunk=progress)
            if cc.result is None:
                job.status = "cancelled"
                return
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            out = Path(self.config.compare_out) / f"{Path(job.scenario).stem}-{stamp}-{job.id}"
            write_compare_outputs(cc.result, out, scenario_name=sc.name, runs_requested=job.runs,
                                  interrupted=cc.interrupted)
            job.out_dir = str(out)
            job.result = cc.result
            job.status = "cancelled" if cc.interrupted else "finished"
        except Exception as e:  # noqa: BLE001 - shown to the user who started it
            log.exception("comparison %s failed", job.id)
            job.status, job.error = "failed", f"{type(e).__name__}: {e}"

    def compare_result_dirs(self) -> list[str]:
        """Folders holding a ``gridsim compare`` result (results.parquet + summary.json), newest first."""
        found = []
        for d in self.config.results_dirs:
            root = Path(d)
            if not root.is_dir():
                continue
            real_root = root.resolve()
            for p in list(root.glob("summary.json")) + list(root.glob("*/summary.json")) + \
                    list(root.glob("*/*/summary.json")):
                # a symlink (folder or file) that leads out of the configured folder is not offered
                real = p.parent.resolve()
                if real != real_root and real_root not in real.parents:
                    continue
                if (p.parent / "results.parquet").is_file() and (p.resolve().parent == real) and \
                        (p.parent / "results.parquet").resolve().parent == real:
                    found.append(p.parent)
        found = sorted(set(found), key=lambda p: p.stat().st_mtime, reverse=True)
        return [str(p) for p in found]
