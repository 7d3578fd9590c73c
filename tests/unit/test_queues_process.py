"""Processes killed with SIGKILL: nothing acknowledged and nothing unacknowledged is lost.

- a consumer killed after its claim, before its ack: the message comes back
  after the lease (SQLite file and the real Redis server on 127.0.0.1:6379);
- an engine killed in the middle of many transactions that each write an own
  record and its messages (SQLite queue ``transaction()`` + ``enqueue`` and
  the ``Outbox``): every committed record has all its messages, no message is
  without its record, and the database passes ``PRAGMA integrity_check``.
"""
from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import uuid

import pytest

from gridsim.queues import open_queue

REDIS_URL = "redis://127.0.0.1:6379/0"
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def msg(i) -> dict:
    return {"id": f"m{i}", "schema": "gridsim.test/1", "created_at": "2026-05-09T10:00:00+00:00"}


def real_redis_client():
    import redis
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as e:
        pytest.fail(f"no Redis server answers on 127.0.0.1:6379 ({e}): start one with "
                    f"`redis-server --daemonize yes --save '' --appendonly no` (.ci/run starts one)")
    return client


@pytest.fixture(params=["sqlite", "redis"])
def queue_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/q.db"
        return
    client = real_redis_client()
    prefix = f"gridsim-test:{uuid.uuid4().hex[:12]}:"
    yield f"{REDIS_URL}?prefix={prefix}"
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


CONSUMER = """
import sys, time
from gridsim.queues import open_queue
q = open_queue(sys.argv[1])
got = q.claim("cs.sms", "doomed", count=1, lease_s=float(sys.argv[2]))
print(got[0].delivery_id, got[0].message["id"], flush=True)
time.sleep(120)  # killed before it acks
"""


def test_killed_consumer_message_comes_back_after_the_lease(queue_url):
    lease_s = 1.5
    with open_queue(queue_url) as q:
        q.publish_batch([("cs.sms", msg(0)), ("cs.sms", msg(1))])
        with subprocess.Popen([sys.executable, "-c", CONSUMER, queue_url, str(lease_s)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV) as child:
            try:
                line = child.stdout.readline()
                claimed_at = time.time()
                assert line, child.stderr.read()
                delivery_id, mid = line.split()
                assert mid == "m0"
                os.kill(child.pid, signal.SIGKILL)
                assert child.wait(10) == -signal.SIGKILL
            finally:
                if child.poll() is None:
                    child.kill()
        got = q.claim("cs.sms", "survivor", count=5, lease_s=lease_s)
        assert [d.message["id"] for d in got] == ["m1"], "m0's lease still runs"
        q.ack("cs.sms", [got[0].delivery_id])
        time.sleep(max(0.0, claimed_at + lease_s + 0.3 - time.time()))
        again = q.claim("cs.sms", "survivor", count=5, lease_s=lease_s)
        assert [(d.message["id"], d.delivery_id, d.deliveries) for d in again] == [("m0", delivery_id, 2)]
        assert q.ack("cs.sms", [again[0].delivery_id]) == 1
        s = q.stats(["cs.sms"])[0]
        assert (s.depth, s.pending, s.dead) == (0, 0, 0)


ENGINE = """
import sys
from gridsim.queues import Outbox, SQLiteQueue
mode, path, per = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = SQLiteQueue(path) if mode == "queue" else Outbox(path)
add = store.enqueue if mode == "queue" else store.add
with store.transaction() as conn:
    conn.execute("CREATE TABLE IF NOT EXISTS outages (id TEXT PRIMARY KEY, customers INTEGER)")
i = 0
while True:
    oid = f"O{i}"
    with store.transaction() as conn:
        conn.execute("INSERT INTO outages VALUES (?, ?)", (oid, per))
        add(conn, [("cs.sms", {"id": f"{oid}-C{k}", "schema": "gridsim.outage_notice/1",
                               "created_at": "2026-05-09T10:00:00+00:00", "outage_id": oid, "customer_id": f"C{k}"})
                   for k in range(per)])
    print(i, flush=True)
    i += 1
"""


@pytest.mark.parametrize("mode, table", [("queue", "queue_messages"), ("outbox", "outbox")])
def test_engine_killed_mid_transactions_leaves_whole_records(tmp_path, mode, table):
    path = tmp_path / "engine.db"
    per = 200
    last = -1
    with subprocess.Popen([sys.executable, "-c", ENGINE, mode, str(path), str(per)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV) as child:
        try:
            while last < 60:
                line = child.stdout.readline()
                assert line, child.stderr.read()
                last = int(line)
            time.sleep(random.uniform(0.0, 0.05))  # somewhere inside a transaction, most likely
            os.kill(child.pid, signal.SIGKILL)
            assert child.wait(10) == -signal.SIGKILL
        finally:
            if child.poll() is None:
                child.kill()
        # the child printed more lines after `last` before it died: those transactions committed too
        last += sum(1 for ln in child.stdout.read().splitlines() if ln.strip())

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    outages = {r[0] for r in conn.execute("SELECT id FROM outages")}
    assert {f"O{i}" for i in range(last + 1)} <= outages, "every transaction reported committed is there"
    counts: dict[str, int] = {}
    for (body,) in conn.execute(f"SELECT body FROM {table}"):
        oid = json.loads(body)["outage_id"]
        counts[oid] = counts.get(oid, 0) + 1
    conn.close()
    assert set(counts) == outages, "no record without its messages, no messages without their record"
    assert set(counts.values()) == {per}
