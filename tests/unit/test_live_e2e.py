"""End to end: a small storm replayed through the live engine onto real queues (SQLite, and the real
Redis server through the outbox), consumed like a customer-service system would, and the engine
killed with SIGKILL at random points and restarted.

References: the scenario's own discrete-event simulation (`run_scenario`: who is interrupted, for how
long) and an uninterrupted in-memory run of the same events (the message ids a crashed-and-resumed
run must deliver, at least once each).
"""
from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gridsim.live import LiveEngine, replay, scenario_events
from gridsim.live.replay import scenario_crews
from gridsim.scenarios import load_scenario, run_scenario

ROOT = Path(__file__).resolve().parents[2]
SCEN = ROOT / "scenarios" / "storm_small.yaml"
REDIS_URL = "redis://127.0.0.1:6379/14"


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(SCEN)


@pytest.fixture(scope="module")
def events(scenario):
    return scenario_events(scenario)


@pytest.fixture(scope="module")
def reference(scenario, events):
    """An uninterrupted run in memory: the messages every other run must deliver."""
    eng = LiveEngine(scenario.model, db=":memory:", options={"crews": scenario_crews(scenario)})
    st = replay(eng, events, speed=0)
    assert st.rejected == 0
    return eng


def drain(q, queues) -> list[tuple[str, dict]]:
    """Claim and ack everything, as a consumer does."""
    got = []
    for name in queues:
        while True:
            batch = q.claim(name, "checker", count=500, lease_s=60)
            if not batch:
                break
            got += [(name, d.message) for d in batch]
            q.ack(name, [d.delivery_id for d in batch])
    return got


QUEUES = ("cs.sms", "cs.ivr", "cs.web", "cs.social", "cs.key_accounts", "ops.repair", "ops.switching",
          "ops.supervisor")


def test_replay_to_sqlite_customers_told_and_confirmed(tmp_path, scenario, events, reference):
    from gridsim.queues import open_queue
    q = open_queue(f"sqlite:///{tmp_path}/g.db")
    eng = LiveEngine(scenario.model, queue=q, options={"crews": scenario_crews(scenario)})
    replay(eng, events, speed=0)
    got = drain(q, QUEUES)
    eng.close()
    ids = {(name, m["id"]) for name, m in got}
    assert ids == {(name, m["id"]) for name, m in reference.sent}
    # who was interrupted for longer than the notice delay, by the scenario's own simulation
    sim = run_scenario(scenario)
    log = sim.interruptions
    sustained = set(log.loc[(log["duration_min"] > 3.0) & (log["cause"] != "planned"), "customer_id"])
    notices: dict = {}
    for name, m in got:
        if m["schema"] == "gridsim.outage_notice/1" and m["customer_id"] is not None:
            notices.setdefault(m["customer_id"], set()).add((m["outage_id"], m["id"]))
    assert sustained <= set(notices), f"not told: {sorted(sustained - set(notices))[:10]}"
    for cid, items in notices.items():
        per_outage = {}
        for oid, mid in items:
            per_outage.setdefault(oid, set()).add(mid)
        assert all(len(v) == 1 for v in per_outage.values())     # one notice per outage after dedup
    # every notice is followed by a restoration confirmation for the same outage
    restored = {(m["customer_id"], m["outage_id"]) for _, m in got if m["schema"] == "gridsim.restoration/1"}
    told = {(cid, oid) for cid, items in notices.items() for oid, _ in items}
    assert told <= restored
    # every critical customer told gets an alert on cs.key_accounts
    topo = eng.topo
    crit = {str(c) for c, k in zip(topo.cust_ids, eng._cust_crit) if k}
    alerts = {(m["customer_id"], m["outage_id"]) for name, m in got
              if m["schema"] == "gridsim.critical_alert/1" and name == "cs.key_accounts"}
    assert {(c, o) for c, o in told if c in crit} == alerts and alerts
    # ETR updates follow crew events: a dispatch / on-site of an outage with customers told moves its ETR
    crew_times = {e["time"] for e in events if e["type"] == "crew_status"}
    etr_times = {m["created_at"] for _, m in got if m["schema"] == "gridsim.etr_update/1"}
    assert etr_times & crew_times


def _run_cli(args, env, **kw):
    return subprocess.Popen([sys.executable, "-m", "gridsim.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kw)


def _kill_and_resume(tmp_path, queue_url, kills: int, seed: int):
    """Start `gridsim live` on the storm, SIGKILL it ``kills`` times at random points of the replay,
    then let a last run finish. Returns the last run's output."""
    env = dict(os.environ)
    env.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))
    env["PYTHONUNBUFFERED"] = "1"          # see each event line as it happens, to kill mid-replay
    args = ["live", "mv_oberrhein", "--replay", str(SCEN), "--speed", "1500", "--queue", queue_url,
            "--db", str(tmp_path / "live.db")]
    rnd = random.Random(seed)
    killed = 0
    while killed < kills:
        p = _run_cli(args, env, cwd=tmp_path)
        t_end = time.monotonic() + 120
        started = False
        while time.monotonic() < t_end:       # wait for the replay to be under way
            line = p.stdout.readline()
            if not line:
                break
            if line[:4] == "2025":
                started = True
                break
        if not started:                       # finished (or failed) before a line: nothing left to kill
            out = p.communicate(timeout=60)[0]
            assert p.returncode == 0, out
            break
        assert p.poll() is None, "the replay ended before it could be killed: slow it down"
        time.sleep(rnd.uniform(0.0, 0.8))
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
        p.stdout.close()
        killed += 1
    p = _run_cli(args[:5] + ["0"] + args[6:], env, cwd=tmp_path)
    out = p.communicate(timeout=300)[0]
    assert p.returncode == 0, out
    return killed, out


def _check_db(path: Path, reference):
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = con.execute("SELECT outage_id, status, customers FROM live_outages ORDER BY outage_id").fetchall()
    con.close()
    ref = sorted((o["outage_id"], o["status"], o["customers"]) for o in reference.snapshot().outages)
    assert rows == ref


def test_sigkill_during_replay_sqlite(tmp_path, reference):
    from gridsim.queues import open_queue
    url = f"sqlite:///{tmp_path}/q.db"
    killed, out = _kill_and_resume(tmp_path, url, kills=10, seed=1)
    assert killed >= 10, out
    assert "resuming after" in out
    with open_queue(url) as q:
        got = drain(q, QUEUES)
    ids = [(name, m["id"]) for name, m in got]
    assert set(ids) == {(name, m["id"]) for name, m in reference.sent}      # nothing lost
    assert len(ids) == len(set(ids))       # the SQLite queue drops a re-sent id on publish
    _check_db(tmp_path / "live.db", reference)
    con = sqlite3.connect(tmp_path / "q.db")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()


@pytest.fixture
def redis_db14():
    import redis
    r = redis.Redis.from_url(REDIS_URL)
    try:
        r.ping()
    except redis.ConnectionError:
        pytest.fail("no Redis on 127.0.0.1:6379: start redis-server (.ci/run does)")
    for k in r.scan_iter("gridsim:*"):
        r.delete(k)
    yield r
    for k in r.scan_iter("gridsim:*"):
        r.delete(k)


def test_sigkill_during_replay_redis(tmp_path, reference, redis_db14):
    from gridsim.queues import open_queue
    killed, out = _kill_and_resume(tmp_path, REDIS_URL, kills=10, seed=2)
    assert killed >= 10, out
    with open_queue(REDIS_URL) as q:
        got = drain(q, QUEUES)
    ids = [(name, m["id"]) for name, m in got]
    assert set(ids) == {(name, m["id"]) for name, m in reference.sent}      # nothing lost
    # at-least-once: a duplicate is always the same message (same id, same content)
    first = {}
    for name, m in got:
        key = (name, m["id"])
        assert first.setdefault(key, m) == m
    con = sqlite3.connect(tmp_path / "live.db")
    assert con.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0] == 0
    con.close()
    _check_db(tmp_path / "live.db", reference)
