"""Faults end to end (issue 7, section 2): the broker goes away, a consumer dies.

- Redis stopped while the engine publishes (a private ``redis-server --appendonly yes`` on a free port, never
  the shared one): the engine keeps applying events, its messages wait in the SQLite outbox, the Queues page
  shows a warning, and after Redis is started again every message of an uninterrupted run arrives.
- A consumer killed (SIGKILL) between claim and ack: the message comes back after its lease; a message that
  fails ``max_deliveries`` times goes to the dead letters, visible in ``gridsim queues`` and on the Queues page.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gridsim.app.config import AppConfig
from gridsim.app.service import LiveService
from gridsim.live import LiveEngine
from gridsim.live.replay import scenario_crews
from gridsim.queues import open_queue
from test_faults_app_kill import QUEUES, ROOT, drain, events, private_redis, reference, scenario  # noqa: F401


def test_redis_stopped_during_publishing(tmp_path, scenario, events, reference, private_redis):
    eng = LiveEngine(scenario.model, queue=private_redis.url, db=tmp_path / "live.db",
                     options={"crews": scenario_crews(scenario)})
    svc = LiveService(AppConfig(replay=None, results_dirs=()), engine=eng)
    third = len(events) // 3
    for e in events[:third]:
        assert eng.apply(e).accepted
        eng.flush()
    assert eng.store.unsent() == 0 and svc.queue_warning() == ""
    private_redis.stop()                                         # the broker goes away mid-storm
    t0 = time.monotonic()
    for e in events[third:2 * third]:
        r = eng.apply(e)                                         # the engine keeps running
        assert r.accepted, r.reason
        eng.flush()                                              # nothing goes; nothing raises
    down_s = time.monotonic() - t0
    waiting = eng.store.unsent()
    assert waiting > 0
    svc._qstats = (0.0, [])                                      # no cached stats from before
    warning = svc.queue_warning()
    assert "cannot be reached" in warning and f"{waiting:,} messages wait in the outbox" in warning
    # the Queues page shows it (layout at page load, and the poll callback)
    from gridsim.app import queues_layout
    page = queues_layout.layout(svc)
    assert "cannot be reached" in json.dumps(page.to_plotly_json(), default=str)
    private_redis.start()                                        # back (append-only file: the earlier stream)
    for e in events[2 * third:]:
        assert eng.apply(e).accepted
        eng.flush()
    eng.flush()
    assert eng.store.unsent() == 0
    svc._qstats = (0.0, [])
    assert svc.queue_warning() == ""
    with open_queue(private_redis.url) as q:
        got = drain(q)
    ids = [(n, m["id"]) for n, m in got]
    want = {(n, m["id"]) for n, m in reference.sent}
    assert set(ids) == want, f"lost: {sorted(want - set(ids))[:5]}"
    first: dict = {}
    for n, m in got:
        assert first.setdefault((n, m["id"]), m) == m
    eng.close()
    print(f"\nRedis stopped for {third} events ({down_s:.1f} s): {waiting} messages waited in the outbox; "
          f"after restart {len(set(ids))} messages, 0 lost, {len(ids) - len(set(ids))} duplicates")


def test_queue_warning_when_stats_fail(tmp_path):
    """Unit: a broker error in stats() becomes the page's warning, not an error page."""
    from gridsim.errors import QueueUnavailable

    class Down:
        url = "redis://127.0.0.1:1/0"

        def stats(self, queues=None):
            raise QueueUnavailable("Redis queue redis://127.0.0.1:1/0 is unavailable (stats): refused")

    class Eng:
        queue = Down()
        store = None

    svc = LiveService.__new__(LiveService)
    import threading
    svc.engine, svc._lock, svc._qstats, svc.queue_error = Eng(), threading.Lock(), (0.0, []), None
    assert svc.queue_stats() == []
    assert "cannot be reached" in svc.queue_warning() and "unavailable" in svc.queue_warning()


_CONSUMER = textwrap.dedent("""
    import sys, time
    from gridsim.queues import open_queue
    q = open_queue(sys.argv[1], max_deliveries=3)
    got = q.claim("cs.sms", "doomed", count=10, lease_s=1.0)
    print(" ".join(d.message["id"] for d in got), flush=True)
    time.sleep(600)                      # killed here, before any ack
""")


def _backend_url(kind, tmp_path, private_redis):
    return f"sqlite:///{tmp_path}/q.db" if kind == "sqlite" else private_redis.url


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_consumer_killed_before_ack_redelivered_then_dead_letter(kind, tmp_path, private_redis):
    url = _backend_url(kind, tmp_path, private_redis)
    msg = {"schema": "gridsim.outage_notice/1", "id": "notice:O1:L1", "created_at": "2025-01-06T16:00:00",
           "text": "hello"}
    with open_queue(url, max_deliveries=3) as q:
        q.publish("cs.sms", msg)
    env = dict(os.environ)
    env.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))
    p = subprocess.Popen([sys.executable, "-c", _CONSUMER, url], stdout=subprocess.PIPE, text=True, env=env)
    line = p.stdout.readline().strip()
    assert line == "notice:O1:L1"
    p.send_signal(signal.SIGKILL)                                # dies before ack
    p.wait(timeout=10)
    p.stdout.close()
    with open_queue(url, max_deliveries=3) as q:
        assert q.claim("cs.sms", "other", count=10, lease_s=1.0) == []     # still leased to the dead one
        time.sleep(1.3)
        again = q.claim("cs.sms", "other", count=10, lease_s=0.5)          # the lease expired: redelivered
        assert [d.message["id"] for d in again] == ["notice:O1:L1"] and again[0].deliveries == 2
        time.sleep(0.8)                                                    # fails again (no ack)
        third = q.claim("cs.sms", "other", count=10, lease_s=0.5)
        assert [d.deliveries for d in third] == [3]
        time.sleep(0.8)
        assert q.claim("cs.sms", "other", count=10, lease_s=0.5) == []     # 3 deliveries: dead letter
        dead = q.dead_letters("cs.sms")
        assert len(dead) == 1 and dead[0]["message"]["id"] == "notice:O1:L1"
        st = {s.queue: s for s in q.stats()}
        assert st["cs.sms"].dead == 1 and st["cs.sms"].depth == 0
    # visible in `gridsim queues`
    r = subprocess.run([sys.executable, "-m", "gridsim.cli", "queues", "--queue", url, "--json"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rows = {d["queue"]: d for d in json.loads(r.stdout)}
    assert rows["cs.sms"]["dead"] == 1
    # and on the Queues page: the stats table and the dead-letter list of the queue
    eng = LiveEngine("mv_oberrhein", queue=url, db=tmp_path / "live.db")
    svc = LiveService(AppConfig(replay=None, results_dirs=()), engine=eng)
    from gridsim.app import queues_layout
    from gridsim.app.factory import build_app
    from gridsim.app.auth import Role, User, Users, hash_password
    users = Users({"v": User("v", Role.VIEWER, hash_password("pw-viewer-1"))}, "test")
    app = build_app(svc, users, secret_key="k" * 32)
    queues_layout.layout(svc)
    c = app.server.test_client()
    import re
    page = c.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    assert c.post("/login", data={"username": "v", "password": "pw-viewer-1", "csrf": csrf}).status_code == 302
    key = "..queue-stats.data...queue-pick.options...queue-warning.children...queue-warning.style.."
    assert key in app.callback_map
    r = c.post("/_dash-update-component", json={
        "output": key, "outputs": [{"id": "queue-stats", "property": "data"}, {"id": "queue-pick", "property": "options"},
                                   {"id": "queue-warning", "property": "children"},
                                   {"id": "queue-warning", "property": "style"}],
        "inputs": [{"id": "poll", "property": "n_intervals", "value": 1}], "state": [],
        "changedPropIds": ["poll.n_intervals"]})
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    data = r.get_json()["response"]["queue-stats"]["data"]
    assert {d["queue"]: d["dead"] for d in data}["cs.sms"] == 1
    mkey = next(k for k in app.callback_map if k.startswith("..queue-messages.children"))
    r = c.post("/_dash-update-component", json={
        "output": mkey, "outputs": [{"id": "queue-messages", "property": "children"},
                                    {"id": "queue-dead", "property": "children"}],
        "inputs": [{"id": "queue-pick", "property": "value", "value": "cs.sms"},
                   {"id": "queue-raw", "property": "value", "value": ["raw"]},
                   {"id": "queue-limit", "property": "value", "value": 20},
                   {"id": "poll", "property": "n_intervals", "value": 1}], "state": [],
        "changedPropIds": ["queue-pick.value"]})
    assert r.status_code == 200
    assert "notice:O1:L1" in json.dumps(r.get_json()["response"]["queue-dead"])
    eng.close()
