"""Benchmark of the customer-service queues, both backends, in one process.

    python benchmarks/bench_queues.py [--redis redis://127.0.0.1:6379/0] [--n 10000] [--repeat 5]

What an outage of N customers costs (N per-customer outage notices):

- publish_batch on SQLite (one transaction; target <= 1 s for 10,000) and on
  Redis Streams (target <= 0.5 s for 10,000, and >= 20,000 messages/s): the
  default (one Lua-script call per chunk of 1000) and ``scripting=False``
  (pipelined XADD, 1000 per round trip);
- claim (100 at a time) + ack until the queue is empty, both backends;
- Outbox.flush of N rows to Redis.

Baselines measured in the same run: ``json.dumps`` of the same N messages
(the encoding floor every backend pays) and, for Redis, a plain
non-pipelined XADD loop (one round trip per message). All times are medians
of ``--repeat`` runs after one warm-up; each run starts from an empty store.
Redis keys use a unique prefix and are deleted at the end.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fmt_s, header  # noqa: E402

from gridsim.queues import Outbox, SQLiteQueue, open_queue  # noqa: E402

TARGETS = {"sqlite_publish_s": 1.0, "redis_publish_s": 0.5, "redis_rate": 20_000}


def notices(n: int, tag: str) -> list[tuple[str, dict]]:
    """N per-customer outage notices as the live engine builds them (plain dicts)."""
    return [("cs.sms", {
        "schema": "gridsim.outage_notice/1", "id": f"{tag}:outage_notice:O-42:C{i:07d}",
        "created_at": "2026-05-09T10:15:00+00:00", "outage_id": "O-42", "customer_id": f"C{i:07d}",
        "area": "fuse:line:40 (feeder switch:121)", "customers": n, "critical": 3, "cause": "fault",
        "start": "2026-05-09T10:14:12+00:00", "etr": "2026-05-09T12:30:00+00:00"}) for i in range(n)]


def median_of(fn, repeat: int, warmup: int = 1) -> float:
    """Median wall time of ``fn()``, which returns its own measured seconds (setup excluded)."""
    for _ in range(warmup):
        fn()
    return statistics.median(fn() for _ in range(repeat))


def rate(n: int, sec: float) -> str:
    return f"{n / sec:,.0f} msg/s"


def verdict(ok: bool, value: str, target: str) -> str:
    return f"{value} (target {target}: {'met' if ok else 'MISSED'})"


def bench_sqlite(n: int, repeat: int, folder: Path) -> dict:
    runs = iter(range(10**6))

    def fresh() -> SQLiteQueue:
        return SQLiteQueue(folder / f"q{next(runs)}.db")

    def publish(sync: str = "NORMAL") -> float:
        q = SQLiteQueue(folder / f"q{next(runs)}.db", synchronous=sync)
        items = notices(n, "s")
        t0 = time.perf_counter()
        assert q.publish_batch(items) == n
        dt = time.perf_counter() - t0
        q.close()
        return dt

    def outbox_tx() -> float:  # the engine's path: own row + messages in one transaction
        q = fresh()
        with q.transaction() as conn:
            conn.execute("CREATE TABLE outages (id TEXT PRIMARY KEY, customers INTEGER)")
        items = notices(n, "o")
        t0 = time.perf_counter()
        with q.transaction() as conn:
            conn.execute("INSERT INTO outages VALUES ('O-42', ?)", (n,))
            q.enqueue(conn, items)
        dt = time.perf_counter() - t0
        q.close()
        return dt

    def claim_ack() -> float:
        q = fresh()
        q.publish_batch(notices(n, "c"))
        t0 = time.perf_counter()
        done = 0
        while got := q.claim("cs.sms", "bench", count=100, lease_s=60):
            done += q.ack("cs.sms", [d.delivery_id for d in got])
        dt = time.perf_counter() - t0
        assert done == n
        q.close()
        return dt

    return {"publish": median_of(publish, repeat), "publish_full": median_of(lambda: publish("FULL"), repeat),
            "outbox_tx": median_of(outbox_tx, repeat), "claim_ack": median_of(claim_ack, max(3, repeat // 2))}


def bench_redis(url: str, n: int, repeat: int, folder: Path) -> dict:
    base = f"gridsim-bench:{uuid.uuid4().hex[:8]}:"
    runs = iter(range(10**6))
    q0 = open_queue(url, prefix=base)
    q0.ping()
    r = q0.r
    info = r.info("server")

    def fresh(**kw):
        return open_queue(url, prefix=f"{base}{next(runs)}:", **kw)

    def publish(scripting: bool = True) -> float:
        q = fresh(scripting=scripting)
        items = notices(n, "r")
        t0 = time.perf_counter()
        assert q.publish_batch(items) == n
        dt = time.perf_counter() - t0
        q.close()
        return dt

    def plain_xadd() -> float:  # baseline: one XADD round trip per message, same JSON
        key = f"{base}plain:{next(runs)}"
        bodies = [json.dumps(m, separators=(",", ":")) for _, m in notices(n, "p")]
        t0 = time.perf_counter()
        for b in bodies:
            r.xadd(key, {"m": b})
        return time.perf_counter() - t0

    def claim_ack() -> float:
        q = fresh()
        q.publish_batch(notices(n, "c"))
        t0 = time.perf_counter()
        done = 0
        while got := q.claim("cs.sms", "bench", count=100, lease_s=60):
            done += q.ack("cs.sms", [d.delivery_id for d in got])
        dt = time.perf_counter() - t0
        assert done == n
        q.close()
        return dt

    def outbox_flush() -> float:
        box = Outbox(folder / f"outbox{next(runs)}.db")
        with box.transaction() as conn:
            box.add(conn, notices(n, "b"))
        q = fresh()
        t0 = time.perf_counter()
        assert box.flush(q, batch=2000) == n
        dt = time.perf_counter() - t0
        q.close()
        box.close()
        return dt

    try:
        res = {"publish": median_of(publish, repeat), "publish_pipe": median_of(lambda: publish(False), repeat),
               "plain_xadd": median_of(plain_xadd, max(3, repeat // 2)),
               "claim_ack": median_of(claim_ack, max(3, repeat // 2)),
               "outbox_flush": median_of(outbox_flush, max(3, repeat // 2)),
               "server": f"redis-server {info.get('redis_version')} ({info.get('os', '?')})"}
    finally:
        keys = list(r.scan_iter(f"{base}*", count=1000))
        for i in range(0, len(keys), 500):
            r.delete(*keys[i:i + 500])
        q0.close()
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="Redis URL ('' to skip Redis)")
    ap.add_argument("--n", type=int, default=10_000, help="customers of the outage (messages)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    n = args.n

    print(header(("gridsim", "redis", "fakeredis")))
    print(f"sqlite {sqlite3.sqlite_version} (WAL, synchronous=NORMAL unless said)")
    msgs = notices(n, "j")
    enc = median_of(lambda: _timed(lambda: [json.dumps(m, separators=(",", ":")) for _, m in msgs]), args.repeat)
    size = sum(len(json.dumps(m, separators=(",", ":"))) for _, m in msgs) / n
    print(f"messages: {n:,} per-customer outage notices, {size:.0f} bytes each as JSON")
    print()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        s = bench_sqlite(n, args.repeat, folder)
        rd = bench_redis(args.redis, n, args.repeat, folder) if args.redis else None

    print("| what | median time | rate | ratio vs baseline |")
    print("|---|---:|---:|---:|")
    print(f"| baseline: json.dumps of the {n:,} messages | {fmt_s(enc)} | {rate(n, enc)} | 1.0x |")
    print(f"| SQLite publish_batch | {fmt_s(s['publish'])} | {rate(n, s['publish'])} | "
          f"{s['publish'] / enc:.1f}x json.dumps |")
    print(f"| SQLite publish_batch, synchronous=FULL | {fmt_s(s['publish_full'])} | {rate(n, s['publish_full'])} | "
          f"{s['publish_full'] / enc:.1f}x json.dumps |")
    print(f"| SQLite own row + enqueue in one transaction (outbox) | {fmt_s(s['outbox_tx'])} | "
          f"{rate(n, s['outbox_tx'])} | {s['outbox_tx'] / enc:.1f}x json.dumps |")
    print(f"| SQLite claim(100) + ack until empty | {fmt_s(s['claim_ack'])} | {rate(n, s['claim_ack'])} | "
          f"{s['claim_ack'] / s['publish']:.1f}x publish |")
    if rd:
        print(f"| baseline: Redis XADD loop, one round trip each | {fmt_s(rd['plain_xadd'])} | "
              f"{rate(n, rd['plain_xadd'])} | 1.0x |")
        print(f"| Redis publish_batch (default: Lua script per chunk of 1000) | {fmt_s(rd['publish'])} | "
              f"{rate(n, rd['publish'])} | {rd['plain_xadd'] / rd['publish']:.1f}x faster than the XADD loop; "
              f"{rd['publish'] / enc:.1f}x json.dumps |")
        print(f"| Redis publish_batch, scripting=False (pipelined XADD, 1000 per round trip) | "
              f"{fmt_s(rd['publish_pipe'])} | {rate(n, rd['publish_pipe'])} | "
              f"{rd['plain_xadd'] / rd['publish_pipe']:.1f}x faster than the XADD loop; "
              f"{rd['publish_pipe'] / enc:.1f}x json.dumps |")
        print(f"| Redis claim(100) + ack until empty | {fmt_s(rd['claim_ack'])} | {rate(n, rd['claim_ack'])} | "
              f"{rd['claim_ack'] / rd['publish']:.1f}x publish |")
        print(f"| Outbox.flush to Redis (batches of 2000) | {fmt_s(rd['outbox_flush'])} | "
              f"{rate(n, rd['outbox_flush'])} | {rd['outbox_flush'] / rd['publish']:.1f}x publish |")
    print()
    if n == 10_000:
        print("- " + verdict(s["publish"] <= TARGETS["sqlite_publish_s"], f"SQLite: 10,000 notices in "
                             f"{fmt_s(s['publish'])}", "<= 1 s"))
    if rd:
        print(f"- Redis server: {rd['server']}")
        if n == 10_000:
            print("- " + verdict(rd["publish"] <= TARGETS["redis_publish_s"], f"Redis: 10,000 notices in "
                                 f"{fmt_s(rd['publish'])}", "<= 0.5 s"))
        print("- " + verdict(n / rd["publish"] >= TARGETS["redis_rate"], f"Redis batched publish "
                             f"{rate(n, rd['publish'])}", ">= 20,000 msg/s"))
        print("- " + verdict(n / rd["publish_pipe"] >= TARGETS["redis_rate"], f"Redis pipelined publish, no "
                             f"scripting: {rate(n, rd['publish_pipe'])}", ">= 20,000 msg/s"))
    return 0


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    sys.exit(main())
