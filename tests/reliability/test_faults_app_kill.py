"""Faults end to end (issue 7, section 2): the served web app + engine process (``python app.py``) killed
with SIGKILL at random points of a storm replay, restarted each time with ``--resume`` on the same queue
and database.

Held after the last restart (compared with an uninterrupted in-memory run of the same events):
every message is delivered at least once, a duplicate is always the same message (same id, same body),
the outage records equal the reference and agree with the message log, ``PRAGMA integrity_check`` is ok.

Reduced (plain ``make test``): 3 kills on SQLite and 3 on Redis. Heavy (``-m reliability_heavy``): 20
kills on each backend. Redis is a private ``redis-server --appendonly yes`` on a free port (the shared
server on 6379 is never touched).
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gridsim.live import LiveEngine, replay, scenario_events
from gridsim.live.replay import scenario_crews
from gridsim.scenarios import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCEN = ROOT / "scenarios" / "storm_small.yaml"
QUEUES = ("cs.sms", "cs.ivr", "cs.web", "cs.social", "cs.key_accounts", "ops.repair", "ops.switching",
          "ops.supervisor")
FIGURES: dict = {}          # filled by the tests, printed in the terminal summary of this module's runs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A redis-server of our own (append-only file on) that a test may stop and start again."""

    def __init__(self, folder: Path):
        if shutil.which("redis-server") is None:
            pytest.fail("redis-server binary not installed: .ci/run installs it (apt-get install redis-server)")
        self.folder = folder
        self.port = free_port()
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--appendonly", "yes", "--appendfsync", "always", "--save", "",
                                      "--dir", str(self.folder)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        import redis
        r = redis.Redis(port=self.port)
        for _ in range(100):
            try:
                r.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()          # SIGTERM: redis writes its AOF and exits
            self.proc.wait(timeout=20)
            self.proc = None

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=20)
            self.proc = None


@pytest.fixture
def private_redis(tmp_path):
    r = PrivateRedis(tmp_path / "redis")
    r.folder.mkdir()
    r.start()
    yield r
    r.kill()


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(SCEN)


@pytest.fixture(scope="module")
def events(scenario):
    return scenario_events(scenario)


@pytest.fixture(scope="module")
def reference(scenario, events):
    eng = LiveEngine(scenario.model, db=":memory:", options={"crews": scenario_crews(scenario)})
    st = replay(eng, events, speed=0)
    assert st.rejected == 0
    return eng


def drain(q, queues=QUEUES) -> list[tuple[str, dict]]:
    got = []
    for name in queues:
        while True:
            batch = q.claim(name, "checker", count=500, lease_s=60)
            if not batch:
                break
            got += [(name, d.message) for d in batch]
            q.ack(name, [d.delivery_id for d in batch])
    return got


def _count(db: Path, sql: str) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute(sql).fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return -1


def _start_app(tmp_path: Path, queue_url: str, db: Path, speed: float) -> tuple[subprocess.Popen, int]:
    env = dict(os.environ)
    env.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))
    for k in ("GRIDSIM_USERS", "GRIDSIM_USERS_FILE"):
        env.pop(k, None)
    port = free_port()
    args = [sys.executable, str(ROOT / "app.py"), "--replay", str(SCEN), "--speed", str(speed), "--queue", queue_url,
            "--db", str(db), "--resume", "--port", str(port)]
    return subprocess.Popen(args, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), port


def _wait_serving(p: subprocess.Popen, port: int, timeout: float = 120) -> None:
    """Until the app answers on its port (the engine feed starts just before the server)."""
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        assert p.poll() is None, f"the app exited with {p.returncode}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail("the app did not start serving")


def _done(db: Path, want_ids: list[str]) -> bool:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            have = {r[0] for r in con.execute("SELECT event_id FROM live_events")}
        finally:
            con.close()
    except sqlite3.Error:
        return False
    return set(want_ids) <= have


def kill_and_resume_app(tmp_path: Path, queue_url: str, kills: int, seed: int, reference, speed: float = 2000):
    """SIGKILL the app ``kills`` times at random moments of its replay; then a last run (speed 0) until every
    event of the reference is in the database and the outbox is empty. Returns (kills done, events at each kill)."""
    db = tmp_path / "live.db"
    want = [eid for eid, _ in reference._log]
    rnd = random.Random(seed)
    at = []
    for _ in range(kills):
        if _done(db, want):
            break
        before = max(_count(db, "SELECT count(*) FROM live_events"), 0)
        p, port = _start_app(tmp_path, queue_url, db, speed)
        _wait_serving(p, port)
        # the replay is under way: a new event is committed, or a random time has passed (the engine is then
        # catching up / waiting for the next event of the storm)
        t_end = time.monotonic() + rnd.uniform(1.0, 8.0)
        while _count(db, "SELECT count(*) FROM live_events") <= before and time.monotonic() < t_end:
            assert p.poll() is None, f"the app exited with {p.returncode}"
            time.sleep(0.01)
        time.sleep(rnd.uniform(0.0, 0.4))      # then a random moment of it
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
        at.append(_count(db, "SELECT count(*) FROM live_events"))
    p, port = _start_app(tmp_path, queue_url, db, 0)
    try:
        t_end = time.monotonic() + 180
        while time.monotonic() < t_end:
            assert p.poll() is None, f"the app exited with {p.returncode}"
            unsent = _count(db, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")
            if _done(db, want) and unsent <= 0:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the last run did not finish the replay")
        time.sleep(0.5)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return len(at), at


def check_after(tmp_path: Path, queue_url: str, reference, label: str, kills: int, at: list) -> None:
    from gridsim.queues import open_queue
    db = tmp_path / "live.db"
    with open_queue(queue_url) as q:
        got = drain(q)
    ids = [(name, m["id"]) for name, m in got]
    want = {(name, m["id"]) for name, m in reference.sent}
    lost = want - set(ids)
    assert not lost, f"{len(lost)} messages lost, e.g. {sorted(lost)[:5]}"
    assert set(ids) == want, f"unexpected messages: {sorted(set(ids) - want)[:5]}"
    first: dict = {}
    for name, m in got:
        assert first.setdefault((name, m["id"]), m) == m, f"duplicate {m['id']} differs"
    dups = len(ids) - len(set(ids))
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = con.execute("SELECT outage_id, status, customers FROM live_outages ORDER BY outage_id").fetchall()
        have = [r[0] for r in con.execute("SELECT event_id FROM live_events")]
    finally:
        con.close()
    ref = sorted((o["outage_id"], o["status"], o["customers"]) for o in reference.snapshot().outages)
    assert rows == ref
    assert len(have) == len(set(have)) and {eid for eid, _ in reference._log} <= set(have)
    # the outage records agree with the message log: every outage a message names exists; every outage
    # whose customers were told is restored and each told customer got a restoration for it
    outages = {o for o, _, _ in rows}
    named = {m.get("outage_id") for _, m in got if m.get("outage_id")}
    assert named <= outages, f"messages about unknown outages: {sorted(named - outages)[:5]}"
    status = {o: s for o, s, _ in rows}
    told = {(m["customer_id"], m["outage_id"]) for _, m in got
            if m["schema"] == "gridsim.outage_notice/1" and m.get("customer_id")}
    back = {(m["customer_id"], m["outage_id"]) for _, m in got if m["schema"] == "gridsim.restoration/1"}
    assert told <= back
    assert all(status[o] == "restored" for _, o in told)
    FIGURES[label] = {"kills": kills, "events_at_kills": at, "messages": len(set(ids)), "delivered": len(ids),
                      "duplicates": dups, "lost": len(lost)}
    print(f"\n{label}: {kills} SIGKILLs survived (events committed at each kill: {at}); "
          f"{len(set(ids))} messages, {len(lost)} lost, {dups} duplicates (same id, same body)")


def _run(tmp_path, url, reference, kills, seed, label):
    done, at = kill_and_resume_app(tmp_path, url, kills, seed, reference, speed=2000 if kills <= 5 else 300)
    assert done >= kills, f"only {done} kills before the replay ended: {at}"
    check_after(tmp_path, url, reference, label, done, at)


def test_app_sigkill_sqlite_reduced(tmp_path, reference):
    _run(tmp_path, f"sqlite:///{tmp_path}/q.db", reference, 3, 11, "app+engine SIGKILL, SQLite, reduced")


def test_app_sigkill_redis_reduced(tmp_path, reference, private_redis):
    _run(tmp_path, private_redis.url, reference, 3, 12, "app+engine SIGKILL, Redis, reduced")


@pytest.mark.reliability_heavy
def test_app_sigkill_sqlite_heavy(tmp_path, reference):
    _run(tmp_path, f"sqlite:///{tmp_path}/q.db", reference, 20, 21, "app+engine SIGKILL, SQLite, heavy")


@pytest.mark.reliability_heavy
def test_app_sigkill_redis_heavy(tmp_path, reference, private_redis):
    _run(tmp_path, private_redis.url, reference, 20, 22, "app+engine SIGKILL, Redis, heavy")
