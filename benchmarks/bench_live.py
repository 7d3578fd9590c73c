"""Live engine benchmark on sb_mvlv_urban (issue 5 targets).

1. sustained mixed events/s with the SQLite backend, messages included (target >= 2,000/s);
   baselines in the same process: the same events on an engine without a database (the
   engine's own work) and a bare SQLite insert of each event in its own transaction (the floor);
2. apply-to-commit latency at 500 events/s, p50 / p99 (target p99 <= 50 ms): ``apply`` returns
   after the transaction that holds the event, its records and its messages has committed;
3. an outage of ~10,000 customers: time to build and commit all per-customer notices (SQLite
   <= 1 s; Redis <= 0.5 s: the notices go through the outbox, then to the real Redis server).

    NUMBA_CACHE_DIR=.numba_cache .venv/bin/python benchmarks/bench_live.py [--events 10000] [--redis URL]
"""
from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header  # noqa: E402

from gridsim.live import LiveEngine  # noqa: E402

T0 = dt.datetime(2025, 1, 6, 16, 0, 0)


class Mix:
    """A reproducible stream of mixed live events on a topology.

    Per 20 events: 8 customer calls, 3 meter last gasps, 1 meter restored, 4 switch operations
    (2 open/close pairs of closed switches), 2 measurements, and every 20th slot a fault cycle
    step (trip with located fault -> crew dispatched -> crew on site -> repair complete -> the
    tripped device closed again). Times advance 0.5 s per event.
    """

    def __init__(self, topo, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.cust = [str(c) for c in topo.cust_ids]
        closed = np.nonzero(topo.switch_closed)[0]
        self.switches = [f"switch:{int(topo.switch_ids[i])}" for i in closed]
        self.lines = [f"line:{int(i)}" for i in topo.elem_offsets[next(k for k in topo.elem_offsets
                                                                       if k.value == "line")][1]]
        self.n = 0
        self.open_sw: str | None = None
        self.fault: list = []

    def _ev(self, etype, **f):
        self.n += 1
        return {"type": etype, "id": f"mix:{self.n}", "time": (T0 + dt.timedelta(seconds=0.5 * self.n)).isoformat(),
                **f}

    def next(self) -> dict:
        k = self.n % 20
        r = self.rng
        if k < 8:
            return self._ev("customer_call", customer_id=self.cust[r.integers(len(self.cust))])
        if k < 11:
            return self._ev("meter_last_gasp", customer_id=self.cust[r.integers(len(self.cust))])
        if k == 11:
            return self._ev("meter_restored", customer_id=self.cust[r.integers(len(self.cust))])
        if k < 16:
            if self.open_sw is None:
                self.open_sw = self.switches[r.integers(len(self.switches))]
                return self._ev("switch_open", device=self.open_sw, actor="bench")
            sw, self.open_sw = self.open_sw, None
            return self._ev("switch_close", device=sw, actor="bench")
        if k < 18:
            return self._ev("measurement", element=self.lines[r.integers(len(self.lines))], quantity="i_ka",
                            value=float(r.uniform(0, 0.4)))
        if k == 18:
            return self._fault_step()
        return self._ev("tick")

    def _fault_step(self):
        if not self.fault:
            line = self.lines[self.rng.integers(len(self.lines))]
            self.fault = [("crew_status", dict(crew_id="crew-1", status="dispatched", element=line)),
                          ("crew_status", dict(crew_id="crew-1", status="on_site", element=line)),
                          ("repair_complete", dict(element=line, crew_id="crew-1"))]
            return self._ev("breaker_trip", fault_element=line, cause="weather")
        etype, f = self.fault.pop(0)
        return self._ev(etype, **f)


def sustained(model, n: int, folder: Path) -> dict:
    # the engine without a database: its own work
    mem = LiveEngine(model, db=":memory:")
    mix = Mix(mem.topo)
    events = [mix.next() for _ in range(n)]
    for e in events[:200]:                          # warm-up (JIT, caches) on a throw-away engine
        mem.apply(e)
    mem = LiveEngine(model, db=":memory:")
    t = time.perf_counter()
    rej = sum(not mem.apply(e).accepted for e in events)
    t_mem = time.perf_counter() - t
    msgs_mem = len(mem.sent)
    # SQLite backend: events, records and messages committed per event
    eng = LiveEngine(model, queue=f"sqlite:///{folder}/live.db")
    t = time.perf_counter()
    rej_db = sum(not eng.apply(e).accepted for e in events)
    t_db = time.perf_counter() - t
    depth = sum(s.depth for s in eng.queue.stats())
    eng.close()
    # group commit: the batches one claim from grid.events brings (100 events per transaction)
    eng = LiveEngine(model, queue=f"sqlite:///{folder}/live-batch.db")
    t = time.perf_counter()
    for i in range(0, n, 100):
        eng.apply_batch(events[i:i + 100])
    t_batch = time.perf_counter() - t
    eng.close()
    # floor: one transaction per event with the event row only
    con = sqlite3.connect(folder / "floor.db", isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE ev (id TEXT PRIMARY KEY, body TEXT)")
    import json
    bodies = [(e["id"], json.dumps(e)) for e in events]
    t = time.perf_counter()
    for row in bodies:
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO ev VALUES (?, ?)", row)
        con.execute("COMMIT")
    t_floor = time.perf_counter() - t
    con.close()
    return dict(n=n, t_mem=t_mem, t_db=t_db, t_batch=t_batch, t_floor=t_floor, msgs=depth, msgs_mem=msgs_mem, rejected=rej,
                rejected_db=rej_db)


def latency(model, rate: float, n: int, folder: Path) -> dict:
    eng = LiveEngine(model, queue=f"sqlite:///{folder}/lat.db")
    mix = Mix(eng.topo, seed=1)
    for _ in range(100):
        eng.apply(mix.next())
    lat = []
    start = time.perf_counter()
    for i in range(n):
        due = start + i / rate
        now = time.perf_counter()
        if due > now:
            time.sleep(due - now)
        e = mix.next()
        t = time.perf_counter()
        eng.apply(e)
        lat.append(time.perf_counter() - t)
    wall = time.perf_counter() - start
    eng.close()
    lat_ms = np.asarray(lat) * 1e3
    return dict(n=n, rate=n / wall, p50=float(np.percentile(lat_ms, 50)), p99=float(np.percentile(lat_ms, 99)),
                max=float(lat_ms.max()))


def big_outage_element(topo, target: int = 10_000) -> tuple[str, int]:
    from gridsim import sweep_single_faults
    df = sweep_single_faults(topo)
    df = df[df["customers_interrupted"] >= target * 0.8]
    row = df.iloc[(df["customers_interrupted"] - target).abs().argsort().iloc[0]]
    return f"{row['element_type']}:{int(row['element_id'])}", int(row["customers_interrupted"])


def big_outage(model, queue, folder: Path, label: str, element: str) -> dict:
    eng = LiveEngine(model, queue=queue, db=folder / f"big-{label}.db")
    r = eng.apply({"type": "breaker_trip", "id": "big:1", "time": T0.isoformat(), "fault_element": element})
    assert r.accepted, r.reason
    out = eng.snapshot().kpis["customers_out"]
    t = time.perf_counter()
    r = eng.advance(T0 + dt.timedelta(minutes=2))          # notify_after_s passed: every notice goes out
    t_commit = time.perf_counter() - t
    t = time.perf_counter()
    flushed = eng.flush()
    t_flush = time.perf_counter() - t
    eng.close()
    return dict(customers=out, messages=r.messages, t_commit=t_commit, t_flush=t_flush, flushed=flushed)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--latency-events", type=int, default=5_000)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    args = ap.parse_args(argv)
    print(header(("gridsim", "numpy", "numba", "pandas", "pandapower", "redis")))
    print(f"sqlite {sqlite3.sqlite_version} (WAL, synchronous=NORMAL)")
    from gridsim.model import load_model
    model = load_model("sb_mvlv_urban")
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        s = sustained(model, args.events, folder)
        print(f"\n## 1. sustained mixed events, sb_mvlv_urban ({s['n']:,} events: calls, last gasps, switching, "
              f"measurements, fault cycles)")
        print("| run | time | events/s | ratio |")
        print("|---|---:|---:|---:|")
        print(f"| floor: bare SQLite insert, one transaction per event | {s['t_floor']:.2f} s | "
              f"{s['n'] / s['t_floor']:,.0f} | 1.0x |")
        print(f"| engine without database (its own work; {s['msgs_mem']:,} messages) | {s['t_mem']:.2f} s | "
              f"{s['n'] / s['t_mem']:,.0f} | {s['t_mem'] / s['t_floor']:.1f}x floor |")
        print(f"| engine + SQLite queue (records and {s['msgs']:,} messages committed per event) | "
              f"{s['t_db']:.2f} s | {s['n'] / s['t_db']:,.0f} | {s['t_db'] / s['t_floor']:.1f}x floor, "
              f"{s['t_db'] / s['t_mem']:.2f}x no-database |")
        print(f"| engine + SQLite queue, group commit (100 events per transaction, as claimed from grid.events) | "
              f"{s['t_batch']:.2f} s | {s['n'] / s['t_batch']:,.0f} | {s['t_batch'] / s['t_floor']:.1f}x floor, "
              f"{s['t_batch'] / s['t_mem']:.2f}x no-database |")
        for label, key in (("one transaction per event", "t_db"), ("group commit", "t_batch")):
            rate = s["n"] / s[key]
            print(f"target >= 2,000 events/s, {label}: "
                  f"{'met' if rate >= 2000 else f'MISSED by {2000 / rate:.1f}x'} ({rate:,.0f}/s)")
        print(f"rejected events in the mix: {s['rejected_db']}")
        lat = latency(model, 500.0, args.latency_events, folder)
        print(f"\n## 2. apply-to-commit latency at 500 events/s ({lat['n']:,} events, achieved {lat['rate']:.0f}/s)")
        print(f"p50 {lat['p50']:.2f} ms, p99 {lat['p99']:.2f} ms, max {lat['max']:.1f} ms; target p99 <= 50 ms: "
              f"{'met' if lat['p99'] <= 50 else 'MISSED'}")
        from gridsim.core import compile_topology
        element, n_cust = big_outage_element(compile_topology(model))
        print(f"\n## 3. one outage of {n_cust:,} customers ({element}): all per-customer notices")
        b = big_outage(model, f"sqlite:///{folder}/big.db", folder, "sqlite", element)
        print(f"SQLite: {b['messages']:,} messages for {b['customers']:,} customers built and committed in "
              f"{b['t_commit']:.3f} s; target <= 1 s: {'met' if b['t_commit'] <= 1 else 'MISSED'}")
        try:
            from gridsim.queues import open_queue
            q = open_queue(args.redis, prefix="bench-live:")
            q.ping()
        except Exception as e:  # noqa: BLE001 - report, do not hide
            print(f"Redis: not measured ({e})")
            return 0
        b = big_outage(model, q, folder, "redis", element)
        total = b["t_commit"] + b["t_flush"]
        print(f"Redis: {b['messages']:,} messages committed to the outbox in {b['t_commit']:.3f} s, relayed to Redis "
              f"in {b['t_flush']:.3f} s ({b['flushed']:,} sent); total {total:.3f} s; target <= 0.5 s: "
              f"{'met' if total <= 0.5 else f'MISSED by {total / 0.5:.1f}x'}")
        import redis
        r = redis.Redis.from_url(args.redis)
        for k in r.scan_iter("bench-live:*"):
            r.delete(k)
    return 0


if __name__ == "__main__":
    sys.exit(main())
