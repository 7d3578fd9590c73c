"""The transactional outbox: messages commit with the caller's rows, wait while the backend is down,
and reach the real Redis server (127.0.0.1:6379) exactly once when it answers."""
from __future__ import annotations

import socket
import sqlite3
import uuid

import pytest

from gridsim.errors import QueueError
from gridsim.queues import Outbox, SQLiteQueue, open_queue

REDIS_URL = "redis://127.0.0.1:6379/0"


def msg(i) -> dict:
    return {"id": f"m{i}", "schema": "gridsim.test/1", "created_at": "2026-05-09T10:00:00+00:00", "n": i}


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def redis_prefix():
    import redis
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as e:
        pytest.fail(f"no Redis server answers on 127.0.0.1:6379 ({e}): start one with "
                    f"`redis-server --daemonize yes --save '' --appendonly no` (.ci/run starts one)")
    prefix = f"gridsim-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_add_commits_and_rolls_back_with_the_callers_transaction(tmp_path):
    path = tmp_path / "engine.db"
    box = Outbox(path)
    conn = sqlite3.connect(path, isolation_level=None)  # the engine's own connection to the same file
    conn.execute("CREATE TABLE outages (id TEXT PRIMARY KEY)")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO outages VALUES ('O-1')")
    assert box.add(conn, [("cs.sms", msg(1)), ("cs.ivr", msg(1))]) == 2
    conn.execute("ROLLBACK")
    assert box.unsent() == 0 and conn.execute("SELECT count(*) FROM outages").fetchone() == (0,)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO outages VALUES ('O-1')")
    box.add(conn, [("cs.sms", msg(1)), ("cs.ivr", msg(1))])
    conn.execute("COMMIT")
    assert box.unsent() == 2
    with pytest.raises(QueueError, match="transaction"):
        box.add(conn, [("cs.sms", msg(2))])
    with pytest.raises(QueueError, match="'id'"):
        with box.transaction() as c:
            c.execute("INSERT INTO outages VALUES ('O-2')")
            box.add(c, [("cs.sms", {"schema": "s/1", "created_at": "t"})])
    assert box.unsent() == 2 and conn.execute("SELECT count(*) FROM outages").fetchone() == (1,)
    conn.close()
    box.close()


def test_flush_publishes_in_order_and_marks_sent(tmp_path):
    with Outbox(tmp_path / "engine.db") as box, SQLiteQueue(tmp_path / "queues.db") as q:
        with box.transaction() as conn:
            box.add(conn, [("cs.web" if i % 2 else "cs.social", msg(i)) for i in range(25)])
        assert box.flush(q, batch=10) == 25
        assert box.unsent() == 0 and box.last_error is None
        assert box.flush(q) == 0
        assert [d.message["id"] for d in q.claim("cs.web", "a", count=50)] == [f"m{i}" for i in range(1, 25, 2)]
        assert box.prune(older_than_s=0) == 25


def test_rows_wait_while_redis_is_down_then_arrive_once(tmp_path, redis_prefix):
    n = 2500
    with Outbox(tmp_path / "engine.db") as box:
        with box.transaction() as conn:
            box.add(conn, [("cs.sms", msg(i)) for i in range(n)])
        port = closed_port()
        with open_queue(f"redis://127.0.0.1:{port}/0", prefix=redis_prefix, retries=0) as down:
            assert box.flush(down) == 0
        assert box.unsent() == n
        assert f"127.0.0.1:{port}" in box.last_error
        with open_queue(REDIS_URL, prefix=redis_prefix) as up:
            assert box.flush(up, batch=1000) == n
            assert box.unsent() == 0 and box.flush(up) == 0
            got = up.claim("cs.sms", "agent", count=10 * n)
            assert [d.message["id"] for d in got] == [f"m{i}" for i in range(n)], "all, once, in order"
