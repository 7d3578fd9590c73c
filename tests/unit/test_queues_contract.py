"""The queue protocol, one contract suite run on every backend.

``sqlite``: a temporary file; ``redis``: the real server on 127.0.0.1:6379
(a unique key prefix per test, every key deleted afterwards; the tests FAIL
when no server answers — start one with ``redis-server --daemonize yes``,
``.ci/run`` does); ``fakeredis``: the same Redis code on fakeredis, fast.
"""
from __future__ import annotations

import socket
import sqlite3
import threading
import time
import uuid
from types import SimpleNamespace

import pytest

from gridsim.errors import GridsimError, QueueError, QueueUnavailable
from gridsim.queues import QUEUE_NAMES, Delivery, QueueStats, SQLiteQueue, open_queue

REDIS_URL = "redis://127.0.0.1:6379/0"
BACKENDS = ["sqlite", "redis", "fakeredis"]


def msg(i, **extra) -> dict:
    return {"id": f"m{i}", "schema": "gridsim.test/1", "created_at": "2026-05-09T10:00:00+00:00", "n": i, **extra}


def real_redis_client():
    import redis
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as e:
        pytest.fail(f"no Redis server answers on 127.0.0.1:6379 ({e}): start one with "
                    f"`redis-server --daemonize yes --save '' --appendonly no` (.ci/run starts one)")
    return client


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def open_store(kind, tmp_path):
    """Generator: yields ``store`` (``store.make(**options)`` opens one more backend object on the same
    queues), then closes every object and deletes the test's Redis keys."""
    opened = []
    cleanup = None
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path}/queues.db"

        def make(**kw):
            kw.pop("lease_s", None)  # SQLite stores each claim's lease; no default lease to set
            return open_queue(url, **kw)
    elif kind == "redis":
        client = real_redis_client()
        prefix = f"gridsim-test:{uuid.uuid4().hex[:12]}:"

        def make(**kw):
            return open_queue(REDIS_URL, prefix=prefix, **kw)

        def cleanup():
            keys = list(client.scan_iter(f"{prefix}*"))
            if keys:
                client.delete(*keys)
            client.close()
    else:
        import fakeredis
        from gridsim.queues.redis_streams import RedisStreamsQueue
        server = fakeredis.FakeServer()

        def make(**kw):
            return RedisStreamsQueue(REDIS_URL, client=fakeredis.FakeRedis(server=server, decode_responses=True),
                                     **kw)

    def tracked(**kw):
        q = make(**kw)
        opened.append(q)
        return q

    yield SimpleNamespace(kind=kind, make=tracked)
    for q in opened:
        q.close()
    if cleanup:
        cleanup()


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    yield from open_store(request.param, tmp_path)


@pytest.fixture(params=["redis", "fakeredis"])
def redis_store(request, tmp_path):
    yield from open_store(request.param, tmp_path)


def ids(deliveries):
    return [d.message["id"] for d in deliveries]


def expire(store, q, queue):
    """reclaim_expired with the short lease used by these tests (Redis reads idle time against a lease)."""
    if store.kind == "sqlite":
        return q.reclaim_expired(queue)
    return q.reclaim_expired(queue, lease_s=0.2)


# ---------------------------------------------------------------------------- publish, claim, ack
def test_publish_claim_ack_oldest_first(store):
    q = store.make()
    for i in range(5):
        q.publish("cs.sms", msg(i))
    first = q.claim("cs.sms", "agent-1", count=3)
    assert ids(first) == ["m0", "m1", "m2"]
    assert all(isinstance(d, Delivery) and d.queue == "cs.sms" and d.deliveries == 1 for d in first)
    assert first[0].message == msg(0)
    rest = q.claim("cs.sms", "agent-1", count=10)
    assert ids(rest) == ["m3", "m4"]
    assert q.claim("cs.sms", "agent-1") == []
    assert q.ack("cs.sms", [d.delivery_id for d in first]) == 3
    assert q.ack("cs.sms", [d.delivery_id for d in first]) == 0, "a second ack acknowledges nothing"
    assert q.stats(["cs.sms"]) == [QueueStats("cs.sms", depth=2, pending=2, dead=0)]
    assert q.ack("cs.sms", [d.delivery_id for d in rest]) == 2
    assert q.stats(["cs.sms"]) == [QueueStats("cs.sms", 0, 0, 0)]
    assert q.claim("cs.sms", "agent-1", count=0) == []


def test_publish_batch_keeps_order_per_queue(store):
    q = store.make()
    items = [("cs.sms" if i % 3 else "cs.ivr", msg(i)) for i in range(30)]
    assert q.publish_batch(items) == 30
    assert q.publish_batch([]) == 0
    sms = q.claim("cs.sms", "a", count=100)
    ivr = q.claim("cs.ivr", "a", count=100)
    assert ids(sms) == [f"m{i}" for i in range(30) if i % 3]
    assert ids(ivr) == [f"m{i}" for i in range(30) if not i % 3]
    by_queue = {s.queue: s for s in q.stats(["cs.sms", "cs.ivr"])}
    assert (by_queue["cs.sms"].depth, by_queue["cs.ivr"].depth) == (20, 10)


def test_publish_batch_takes_a_generator_and_10000_messages(store):
    q = store.make()
    n = q.publish_batch(("cs.sms", msg(i, customer_id=f"C{i}")) for i in range(10_000))
    assert n == 10_000
    assert q.stats(["cs.sms"])[0].depth == 10_000
    got = q.claim("cs.sms", "a", count=10_000)
    assert len(got) == 10_000 and got[-1].message["customer_id"] == "C9999"


def test_same_id_twice(store):
    """SQLite stores a (queue, id) once; Redis Streams is at-least-once: the consumer drops the copy by id."""
    q = store.make()
    q.publish("cs.sms", msg(1))
    again = q.publish_batch([("cs.sms", msg(1)), ("cs.ivr", msg(1))])
    got = q.claim("cs.sms", "a", count=10)
    if store.kind == "sqlite":
        assert again == 1, "only the cs.ivr copy is new"
        assert ids(got) == ["m1"]
    else:
        assert again == 2
        assert ids(got) == ["m1", "m1"]
        assert len({d.delivery_id for d in got}) == 2
    assert ids(q.claim("cs.ivr", "a")) == ["m1"], "the same id on another queue is another message"


# ---------------------------------------------------------------------------- leases, dead letters
def test_lease_expiry_redelivers_with_one_more_delivery(store):
    a, b = store.make(), store.make()
    a.publish_batch([("cs.web", msg(i)) for i in range(3)])
    got = a.claim("cs.web", "a", count=1, lease_s=0.2)
    assert ids(got) == ["m0"]
    assert ids(b.claim("cs.web", "b", count=1, lease_s=0.2)) == ["m1"], "a running lease is not taken back"
    time.sleep(0.35)
    again = b.claim("cs.web", "b", count=3, lease_s=0.2)
    assert ids(again) == ["m0", "m1", "m2"], "expired leases first, oldest first, then new messages"
    assert [d.deliveries for d in again] == [2, 2, 1]
    assert again[0].delivery_id == got[0].delivery_id and again[0].message == got[0].message
    assert b.ack("cs.web", [d.delivery_id for d in again]) == 3
    assert a.ack("cs.web", [got[0].delivery_id]) == 0, "the late ack of the first consumer finds it done"
    assert b.stats(["cs.web"])[0] == QueueStats("cs.web", 0, 0, 0)


def test_dead_letter_after_max_deliveries(store):
    q = store.make(max_deliveries=2)
    q.publish_batch([("ops.repair", msg(1)), ("ops.repair", msg(2))])
    for n in (1, 2):
        got = q.claim("ops.repair", "crew", count=1, lease_s=0.1)
        assert ids(got) == ["m1"] and got[0].deliveries == n
        time.sleep(0.2)
    got = q.claim("ops.repair", "crew", count=5, lease_s=0.1)
    assert ids(got) == ["m2"], "m1 was delivered twice already: dead-lettered, not delivered again"
    dead = q.dead_letters("ops.repair")
    assert len(dead) == 1
    assert dead[0]["message"] == msg(1)
    assert dead[0]["deliveries"] == 2
    assert "max_deliveries=2" in dead[0]["reason"]
    assert dead[0]["dead_at"]
    assert q.stats(["ops.repair"])[0] == QueueStats("ops.repair", depth=1, pending=1, dead=1)
    assert q.ack("ops.repair", [dead[0]["delivery_id"]]) == 0, "a dead letter cannot be acknowledged"


def test_reclaim_expired(store):
    q = store.make(max_deliveries=2, lease_s=0.2)
    q.publish_batch([("cs.social", msg(i)) for i in range(3)])
    first = q.claim("cs.social", "a", count=2, lease_s=0.2)
    assert expire(store, q, "cs.social") == 0, "leases still running"
    time.sleep(0.35)
    assert expire(store, q, "cs.social") == 2
    again = q.claim("cs.social", "b", count=3, lease_s=0.2)
    assert ids(again) == ["m0", "m1", "m2"] and [d.deliveries for d in again] == [2, 2, 1]
    q.ack("cs.social", [again[2].delivery_id])
    time.sleep(0.35)
    assert expire(store, q, "cs.social") == 2
    assert {d["message"]["id"] for d in q.dead_letters("cs.social")} == {"m0", "m1"}
    assert q.stats(["cs.social"])[0] == QueueStats("cs.social", 0, 0, 2)
    assert first and q.claim("cs.social", "c") == []


def test_reject_sends_to_dead_letters(store):
    q = store.make()
    q.publish_batch([("cs.key_accounts", msg(i)) for i in range(2)])
    got = q.claim("cs.key_accounts", "km", count=2)
    assert q.reject("cs.key_accounts", [got[0].delivery_id], "unknown customer class") == 1
    assert q.reject("cs.key_accounts", [got[0].delivery_id], "again") == 0
    dead = q.dead_letters("cs.key_accounts")
    assert [d["message"]["id"] for d in dead] == ["m0"]
    assert dead[0]["reason"] == "rejected: unknown customer class" and dead[0]["deliveries"] == 1
    assert q.stats(["cs.key_accounts"])[0] == QueueStats("cs.key_accounts", 1, 1, 1)


def test_two_consumers_never_get_the_same_message_while_the_lease_runs(store):
    store.make().publish_batch([("ops.switching", msg(i)) for i in range(300)])
    seen: dict[str, list[str]] = {"a": [], "b": []}
    errors = []
    start = threading.Barrier(2)

    def work(name):
        q = store.make()
        start.wait(10)
        try:
            while True:
                got = q.claim("ops.switching", name, count=7, lease_s=30)
                if not got:
                    return
                seen[name].extend(ids(got))
                q.ack("ops.switching", [d.delivery_id for d in got[::2]])  # ack some, keep others pending
                time.sleep(0.002)  # let the other consumer in
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in seen]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    both = seen["a"] + seen["b"]
    assert len(both) == len(set(both)) == 300
    assert seen["a"] and seen["b"], "both consumers got work"


# ---------------------------------------------------------------------------- stats, recent
def test_stats_of_every_known_queue(store):
    q = store.make()
    q.publish_batch([("cs.web", msg(i)) for i in range(5)] + [("lab.extra-1", msg(9))])
    got = q.claim("cs.web", "a", count=3)
    q.ack("cs.web", [got[0].delivery_id])
    q.reject("cs.web", [got[1].delivery_id], "test")
    stats = q.stats()
    names = [s.queue for s in stats]
    assert names[:len(QUEUE_NAMES)] == list(QUEUE_NAMES) and names[-1] == "lab.extra-1"
    by = {s.queue: s for s in stats}
    assert by["cs.web"] == QueueStats("cs.web", depth=3, pending=1, dead=1)
    assert by["lab.extra-1"] == QueueStats("lab.extra-1", 1, 0, 0)
    assert by["grid.events"] == QueueStats("grid.events", 0, 0, 0)
    assert store.make().stats(["lab.extra-1"]) == [by["lab.extra-1"]], "another connection sees the same"


def test_recent_newest_first_acknowledged_included(store):
    q = store.make()
    q.publish_batch([("cs.sms", msg(i)) for i in range(30)])
    q.ack("cs.sms", [d.delivery_id for d in q.claim("cs.sms", "a", count=30)])
    assert [m["id"] for m in q.recent("cs.sms", limit=4)] == ["m29", "m28", "m27", "m26"]
    assert q.recent("cs.sms", limit=4)[0] == msg(29)
    assert q.recent("cs.ivr") == []
    assert q.dead_letters("cs.ivr") == []


# ---------------------------------------------------------------------------- refusals
BAD = [
    ("not a dict", ["m1"], "must be a dict"),
    ("no id", {"schema": "s/1", "created_at": "t"}, "'id'"),
    ("id not a string", {"id": 7, "schema": "s/1", "created_at": "t"}, "'id'"),
    ("empty id", {"id": "", "schema": "s/1", "created_at": "t"}, "'id'"),
    ("no schema", {"id": "a", "created_at": "t"}, "'schema'"),
    ("no created_at", {"id": "a", "schema": "s/1"}, "'created_at'"),
    ("not JSON", {"id": "a", "schema": "s/1", "created_at": "t", "x": {1, 2}}, "not JSON-serialisable"),
    ("NaN", {"id": "a", "schema": "s/1", "created_at": "t", "x": float("nan")}, "not JSON-serialisable"),
    ("too big", {"id": "a", "schema": "s/1", "created_at": "t", "x": "é" * 600}, "over the 1000-byte limit"),
]


@pytest.mark.parametrize("what, message, needle", BAD, ids=[b[0] for b in BAD])
def test_bad_messages_are_refused_with_one_line(store, what, message, needle):
    q = store.make(max_message_bytes=1000)
    with pytest.raises(QueueError) as e:
        q.publish("cs.sms", message)
    text = str(e.value)
    assert needle in text and "'cs.sms'" in text and "\n" not in text
    with pytest.raises(QueueError):
        q.publish_batch([("cs.sms", msg(1)), ("cs.sms", message)])
    assert q.stats(["cs.sms"])[0].depth == 0, "a batch with a bad message writes nothing"


@pytest.mark.parametrize("name", ["CS.SMS", "1abc", "", "a" * 65, "cs sms", "cs/sms", None, "é"])
def test_bad_queue_names_are_refused(store, name):
    q = store.make()
    for call in (lambda: q.publish(name, msg(1)), lambda: q.claim(name, "a"), lambda: q.stats([name]),
                 lambda: q.ack(name, ["1"])):
        with pytest.raises(QueueError, match="bad queue name"):
            call()


def test_other_queue_names_are_allowed(store):
    q = store.make()
    name = "lab.test_queue-2" + "x" * 47  # 64 characters
    q.publish(name, msg(1))
    assert ids(q.claim(name, "a")) == ["m1"]


def test_ping_close_and_context_manager(store):
    with store.make() as q:
        q.ping()
        assert isinstance(q, object) and q.url
    assert issubclass(QueueUnavailable, QueueError) and issubclass(QueueError, GridsimError)


# ---------------------------------------------------------------------------- open_queue
@pytest.mark.parametrize("url", ["postgres://x", "sqlite://rel.db", "sqlite:///", "sqlite:///folder/", "queue.db",
                                 "amqp://guest@localhost"])
def test_open_queue_refuses_bad_urls(url):
    with pytest.raises(QueueError) as e:
        open_queue(url)
    assert repr(url) in str(e.value) and "sqlite:///" in str(e.value) and "redis://" in str(e.value)


def test_open_queue_default_and_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GRIDSIM_QUEUE", raising=False)
    with open_queue() as q:
        assert isinstance(q, SQLiteQueue) and (tmp_path / "var" / "gridsim.db").exists()
    monkeypatch.setenv("GRIDSIM_QUEUE", f"sqlite:///{tmp_path}/deep/er/x.db")
    with open_queue() as q:
        assert q.path == tmp_path / "deep" / "er" / "x.db" and q.path.exists()
    with open_queue("sqlite:///rel/y.db") as q:
        assert (tmp_path / "rel" / "y.db").exists()


def test_redis_unreachable_is_one_line_naming_the_url():
    port = closed_port()
    q = open_queue(f"redis://:secret@127.0.0.1:{port}/0", retries=0)
    with pytest.raises(QueueUnavailable) as e:
        q.ping()
    text = str(e.value)
    assert f"127.0.0.1:{port}" in text and "secret" not in text and "\n" not in text
    with pytest.raises(QueueUnavailable):
        q.publish("cs.sms", msg(1))
    q.close()


# ---------------------------------------------------------------------------- Redis specifics
def test_redis_key_layout(redis_store):
    q = redis_store.make(max_deliveries=1)
    q.publish("cs.sms", msg(1))
    r, p = q.r, q.prefix
    assert r.type(f"{p}q:cs.sms") == "stream"
    assert [g["name"] for g in r.xinfo_groups(f"{p}q:cs.sms")] == ["gridsim"]
    assert r.smembers(f"{p}queues") == {"cs.sms"}
    q.claim("cs.sms", "a", lease_s=0.05)
    time.sleep(0.1)
    assert q.claim("cs.sms", "a", lease_s=0.05) == []
    assert r.type(f"{p}dlq:cs.sms") == "stream" and r.xlen(f"{p}dlq:cs.sms") == 1
    assert r.xpending(f"{p}q:cs.sms", "gridsim")["pending"] == 0, "dead-lettered = acknowledged in the group"


def test_redis_trimming_never_drops_unacknowledged(redis_store):
    q = redis_store.make(maxlen=100, trim_every=10**9)
    key = q.stream_key("cs.sms")
    q.publish_batch([("cs.sms", msg(i)) for i in range(1000)])
    got = q.claim("cs.sms", "a", count=800)
    assert q.trim("cs.sms") == 0, "nothing acknowledged yet"
    q.ack("cs.sms", [d.delivery_id for d in got[:600]])
    removed = q.trim("cs.sms")
    assert 0 < removed <= 600 and q.r.xlen(key) == 1000 - removed
    # every unacknowledged message is still there: 200 pending, 200 never delivered
    assert q.stats(["cs.sms"])[0] == QueueStats("cs.sms", 400, 200, 0)
    assert ids(q.claim("cs.sms", "b", count=1000)) == [f"m{i}" for i in range(800, 1000)]
    assert [m["id"] for m in q.recent("cs.sms", 1)] == ["m999"]


def test_redis_trims_by_itself_every_trim_every_acks(redis_store):
    q = redis_store.make(maxlen=50, trim_every=300)
    q.publish_batch([("cs.ivr", msg(i)) for i in range(1000)])
    for _ in range(4):
        q.ack("cs.ivr", [d.delivery_id for d in q.claim("cs.ivr", "a", count=250)])
    assert q.r.xlen(q.stream_key("cs.ivr")) < 1000
    assert q.stats(["cs.ivr"])[0] == QueueStats("cs.ivr", 0, 0, 0)


@pytest.mark.parametrize("scripting", [True, False], ids=["lua", "pipeline"])
def test_redis_publish_paths_on_the_real_server(tmp_path, scripting):
    """Both ways of publish_batch (Lua script per chunk, pipelined XADD) on the real server; fakeredis
    has no scripting and falls back to the pipeline by itself."""
    store = open_store("redis", tmp_path)
    q = next(store).make(scripting=scripting, chunk=300)
    big = "x" * 60_000  # 100 of these are 6 MB: the scripted path splits chunks by size too
    items = [("cs.sms" if i % 2 else "cs.ivr", msg(i)) for i in range(2001)] + \
            [("cs.web", msg(i, pad=big)) for i in range(100)]
    assert q.publish_batch(items) == 2101
    assert q.scripting is scripting
    assert ids(q.claim("cs.sms", "a", count=5000)) == [f"m{i}" for i in range(2001) if i % 2]
    assert ids(q.claim("cs.ivr", "a", count=5000)) == [f"m{i}" for i in range(2001) if not i % 2]
    assert ids(q.claim("cs.web", "a", count=5000)) == [f"m{i}" for i in range(100)]
    next(store, None)


def test_fakeredis_falls_back_to_the_pipeline(tmp_path):
    store = open_store("fakeredis", tmp_path)
    q = next(store).make()
    assert q.scripting is True
    assert q.publish_batch([("cs.sms", msg(i)) for i in range(3)]) == 3
    assert q.scripting is False and ids(q.claim("cs.sms", "a")) == ["m0", "m1", "m2"]
    next(store, None)


def test_redis_prefix_in_url(tmp_path):
    store = open_store("redis", tmp_path)
    q = next(store).make()
    prefix = q.prefix
    with open_queue(f"{REDIS_URL}?prefix={prefix}") as q2:
        assert q2.prefix == prefix and q2.url.endswith(f"?prefix={prefix}")
        q2.publish("cs.sms", msg(1))
        assert q.r.xlen(f"{prefix}q:cs.sms") == 1
    next(store, None)


# ---------------------------------------------------------------------------- SQLite specifics
def test_sqlite_transaction_writes_own_rows_and_messages_together(tmp_path):
    with SQLiteQueue(tmp_path / "engine.db") as q:
        with q.transaction() as conn:
            conn.execute("CREATE TABLE outages (id TEXT PRIMARY KEY, customers INTEGER)")
        with q.transaction() as conn:
            conn.execute("INSERT INTO outages VALUES ('O-1', 2)")
            assert q.enqueue(conn, [("cs.sms", msg(1)), ("cs.ivr", msg(1))]) == 2
        with pytest.raises(RuntimeError):
            with q.transaction() as conn:
                conn.execute("INSERT INTO outages VALUES ('O-2', 5)")
                q.enqueue(conn, [("cs.sms", msg(2))])
                raise RuntimeError("engine failed before commit")
        rows = q._db.conn.execute("SELECT id FROM outages").fetchall()
        assert rows == [("O-1",)]
        assert q.stats(["cs.sms", "cs.ivr"]) == [QueueStats("cs.sms", 1, 0, 0), QueueStats("cs.ivr", 1, 0, 0)]
        with pytest.raises(QueueError, match="transaction"):
            q.enqueue(q._db.conn, [("cs.sms", msg(3))])
        assert q._db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_sqlite_released_lease_keeps_its_count_and_old_acks_are_pruned(tmp_path):
    with SQLiteQueue(tmp_path / "q.db", retain_acked_s=0.0) as q:
        q.publish("cs.sms", msg(1))
        q.claim("cs.sms", "a", lease_s=0.05)
        time.sleep(0.1)
        assert q.reclaim_expired("cs.sms") == 1
        got = q.claim("cs.sms", "b")
        assert got[0].deliveries == 2
        q.ack("cs.sms", [got[0].delivery_id])
        time.sleep(0.01)
        assert q.prune() == 1
        assert q.publish_batch([("cs.sms", msg(1))]) == 1, "after the dedup window the id is new again"


def test_sqlite_enqueue_through_the_engines_own_connection(tmp_path):
    path = tmp_path / "engine.db"
    with SQLiteQueue(path) as q:
        conn = sqlite3.connect(path, isolation_level=None)  # the engine's connection to the same file
        conn.execute("CREATE TABLE outages (id TEXT PRIMARY KEY)")
        for end in ("ROLLBACK", "COMMIT"):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO outages VALUES ('O-1')")
            assert q.enqueue(conn, [("cs.sms", msg(1)), ("lab.only-here", msg(1))]) == 2
            conn.execute(end)
            n = conn.execute("SELECT count(*) FROM outages").fetchone()[0]
            assert q.stats(["cs.sms"])[0].depth == n == (0 if end == "ROLLBACK" else 1)
            assert ("lab.only-here" in q.queue_names()) == (end == "COMMIT")
        conn.close()
