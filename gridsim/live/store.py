"""Durable state of the live engine: one SQLite database, one transaction per event.

Tables (all prefixed ``live_``):

- ``live_events``: every accepted event, in order (the engine's state is a
  pure function of this log: a restarted engine replays it);
- ``live_rejected``: every rejected input with its reason;
- ``live_outages``, ``live_history``: outage records and every change of them
  (time, actor, status, detail);
- ``live_work_orders``, ``live_audit``: work orders and the audit trail.

The messages an event produces are written in the **same transaction**: into
the queue table itself when the queue is the SQLite backend on the same file,
else into the outbox table (:class:`gridsim.queues.Outbox`) that a relay
flushes to Redis. A crash therefore never leaves a record without its notices
or notices without their record.
"""
from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path

import orjson

from gridsim.errors import GridsimError

__all__ = ["LiveStore", "LiveStoreError"]


class LiveStoreError(GridsimError):
    """The live database cannot be written (disk full, read-only file, locked...)."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS live_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS live_events (
    seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, time TEXT NOT NULL,
    body TEXT NOT NULL, applied_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS live_rejected (
    seq INTEGER PRIMARY KEY, event_id TEXT, type TEXT, time TEXT, body TEXT, reason TEXT NOT NULL,
    source TEXT, received_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS live_outages (
    outage_id TEXT PRIMARY KEY, type TEXT NOT NULL, cause TEXT, device TEXT, fault_element TEXT,
    status TEXT NOT NULL, customers INTEGER NOT NULL, critical INTEGER NOT NULL, start TEXT NOT NULL,
    etr TEXT, end_time TEXT, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS live_history (
    seq INTEGER PRIMARY KEY, outage_id TEXT NOT NULL, time TEXT NOT NULL, status TEXT NOT NULL,
    actor TEXT NOT NULL, detail TEXT NOT NULL, event_id TEXT);
CREATE TABLE IF NOT EXISTS live_work_orders (
    work_order_id TEXT PRIMARY KEY, outage_id TEXT NOT NULL, department TEXT NOT NULL, owner TEXT NOT NULL,
    created_at TEXT NOT NULL, due_at TEXT NOT NULL, status TEXT NOT NULL, escalated INTEGER NOT NULL,
    action TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS live_audit (
    seq INTEGER PRIMARY KEY, time TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    target TEXT NOT NULL, detail TEXT NOT NULL, event_id TEXT);
"""


class LiveStore:
    """The engine's SQLite database (WAL) and its message sink."""

    def __init__(self, path: str | Path, queue=None):
        self.path = Path(path)
        self.queue = queue
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None,
                                        check_same_thread=False)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA busy_timeout=30000")
            self.conn.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as e:
            raise LiveStoreError(f"{self.path}: cannot open the live database: {e}") from None
        self._same_file = False
        self.outbox = None
        if queue is not None:
            from gridsim.queues import Outbox, SQLiteQueue
            if isinstance(queue, SQLiteQueue) and Path(queue.path).resolve() == self.path.resolve():
                self._same_file = True
            else:
                self.outbox = Outbox(self.path)

    # ------------------------------------------------------------------ reads
    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM live_meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            try:
                self.conn.execute("INSERT OR REPLACE INTO live_meta(key, value) VALUES (?, ?)", (key, value))
            except sqlite3.Error as e:
                raise LiveStoreError(f"{self.path}: cannot write: {e}") from None

    def events(self):
        """Accepted events in order: (event_id, body), read in chunks (a long log is never all in memory)."""
        cur = self.conn.execute("SELECT event_id, body FROM live_events ORDER BY seq")
        while True:
            rows = cur.fetchmany(2000)
            if not rows:
                return
            yield from rows

    def has_event(self, event_id: str) -> bool:
        return self.conn.execute("SELECT 1 FROM live_events WHERE event_id = ?", (event_id,)).fetchone() is not None

    def count(self, table: str) -> int:
        return int(self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 (fixed names)

    # ----------------------------------------------------------------- writes
    @contextmanager
    def _tx(self):
        with self._lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise LiveStoreError(f"{self.path}: cannot start a transaction: {e}") from None
            try:
                yield self.conn
            except BaseException:
                try:
                    self.conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                raise
            else:
                try:
                    self.conn.execute("COMMIT")
                except sqlite3.Error as e:
                    try:
                        self.conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                    raise LiveStoreError(f"{self.path}: cannot commit: {e}") from None

    def commit_event(self, event_id: str, etype: str, time: str, body: str, now: str, changes) -> None:
        """Write one accepted event and everything it changed, atomically."""
        self.commit_events([(event_id, etype, time, body, changes)], now)

    def commit_events(self, items, now: str) -> None:
        """Write accepted events and everything they changed in one transaction (group commit)."""
        event_id = items[0][0] if len(items) == 1 else f"{items[0][0]} .. {items[-1][0]}"
        try:
            with self._tx() as c:
                for eid, etype, time, body, changes in items:
                    self._write(c, eid, etype, time, body, now, changes)
        except sqlite3.Error as e:
            raise LiveStoreError(f"{self.path}: cannot write event {event_id}: {e}") from None

    def _write(self, c, event_id, etype, time, body, now, changes) -> None:
        c.execute("INSERT INTO live_events(event_id, type, time, body, applied_at) VALUES (?,?,?,?,?)",
                  (event_id, etype, time, body, now))
        if changes.outages:
            c.executemany(
                "INSERT OR REPLACE INTO live_outages(outage_id, type, cause, device, fault_element, status, "
                "customers, critical, start, etr, end_time, body) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                changes.outages)
        if changes.history:
            c.executemany("INSERT INTO live_history(outage_id, time, status, actor, detail, event_id) "
                          "VALUES (?,?,?,?,?,?)", changes.history)
        if changes.work_orders:
            c.executemany(
                "INSERT OR REPLACE INTO live_work_orders(work_order_id, outage_id, department, owner, "
                "created_at, due_at, status, escalated, action) VALUES (?,?,?,?,?,?,?,?,?)",
                changes.work_orders)
        if changes.audit:
            c.executemany("INSERT INTO live_audit(time, actor, action, target, detail, event_id) "
                          "VALUES (?,?,?,?,?,?)", changes.audit)
        if changes.messages and self.queue is not None:
            if self._same_file:
                self.queue.enqueue(c, changes.messages, trusted=True)
            else:
                self.outbox.add(c, changes.messages, trusted=True)

    def reject(self, event_id, etype, time, body: str, reason: str, source: str, now: str) -> None:
        with self._lock:
            try:
                self.conn.execute("INSERT INTO live_rejected(event_id, type, time, body, reason, source, received_at)"
                                  " VALUES (?,?,?,?,?,?,?)", (event_id, etype, time, body[:4096], reason, source, now))
            except sqlite3.Error as e:
                raise LiveStoreError(f"{self.path}: cannot record a rejected event: {e}") from None

    def rejected(self, limit: int = 50) -> list[dict]:
        rows = self.conn.execute("SELECT event_id, type, time, reason, source, received_at FROM live_rejected "
                                 "ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        return [dict(zip(("event_id", "type", "time", "reason", "source", "received_at"), r)) for r in rows]

    def flush_outbox(self, batch: int = 5000) -> int:
        """Relay waiting messages to the queue (Redis); 0 when the queue is this file."""
        if self.outbox is None:
            return 0
        return self.outbox.flush(self.queue, batch=batch)

    def unsent(self) -> int:
        return 0 if self.outbox is None else self.outbox.unsent()

    def close(self) -> None:
        with self._lock:
            if self.outbox is not None:
                self.outbox.close()
            try:
                self.conn.close()
            except sqlite3.Error:
                pass


def dumps(obj) -> str:
    return orjson.dumps(obj, default=str).decode("utf-8")
