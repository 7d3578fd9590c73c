"""The embedded queue backend: one SQLite file in WAL mode (``sqlite:///path.db``).

All queues live in one table, ``queue_messages``; a row's ``state`` is
0 waiting, 1 pending (claimed, ``lease_until`` set), 2 acknowledged, 3 dead.
Acknowledged rows are kept for ``retain_acked_s`` (default 7 days) so that a
message re-sent after a crash is recognised by its ``(queue, id)`` and not
stored twice, and so that :meth:`SQLiteQueue.recent` can show it.

Every change is one ``BEGIN IMMEDIATE`` transaction, so any number of
processes can publish and claim on the same file; a process killed at any
point leaves every committed message and ack in place and nothing half-done.

The outbox: the engine writes its own tables and the messages of the same
fact in one transaction::

    with q.transaction() as conn:
        conn.execute("INSERT INTO outages ...")
        q.enqueue(conn, [("cs.sms", notice), ...])
"""
from __future__ import annotations

import datetime as _dt
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from gridsim.errors import QueueError, QueueUnavailable
from gridsim.queues._sqlite_db import SQLiteDB
from gridsim.queues.base import (MAX_DELIVERIES, MAX_MESSAGE_BYTES, Delivery, QueueBackend, QueueStats, _known,
                                 check_queue_name, decode_message, encode_items)

__all__ = ["SQLiteQueue"]

WAITING, PENDING, ACKED, DEAD = 0, 1, 2, 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue_messages (
    seq         INTEGER PRIMARY KEY,
    queue       TEXT    NOT NULL,
    msg_id      TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    published_at REAL   NOT NULL,
    state       INTEGER NOT NULL DEFAULT 0,
    deliveries  INTEGER NOT NULL DEFAULT 0,
    consumer    TEXT,
    lease_until REAL,
    done_at     REAL,
    reason      TEXT,
    UNIQUE (queue, msg_id)
);
CREATE INDEX IF NOT EXISTS queue_messages_waiting ON queue_messages (queue, seq) WHERE state = 0;
CREATE INDEX IF NOT EXISTS queue_messages_pending ON queue_messages (queue, lease_until) WHERE state = 1;
CREATE INDEX IF NOT EXISTS queue_messages_dead    ON queue_messages (queue, seq) WHERE state = 3;
CREATE INDEX IF NOT EXISTS queue_messages_acked   ON queue_messages (done_at) WHERE state = 2;
CREATE TABLE IF NOT EXISTS queue_names (name TEXT PRIMARY KEY) WITHOUT ROWID;
"""


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).isoformat(timespec="milliseconds")


def _seqs(delivery_ids: Iterable[str]) -> list[int]:
    out = []
    for d in delivery_ids:
        try:
            out.append(int(d))
        except (TypeError, ValueError):
            raise QueueError(f"bad delivery id {d!r}: SQLite delivery ids are the numbers claim() returned") from None
    return out


class SQLiteQueue(QueueBackend):
    """Queues in one SQLite file (see the module docstring).

    ``max_deliveries``: deliveries before an unacknowledged message is
    dead-lettered; ``max_message_bytes``: largest encoded message;
    ``timeout_s``: how long to wait for another process's write lock;
    ``synchronous``: ``NORMAL`` (default; survives a killed process, a power
    cut may lose the last commits) or ``FULL`` (survives a power cut too);
    ``retain_acked_s``: how long acknowledged messages are kept (dedup window).
    """

    def __init__(self, path: str | Path, *, max_deliveries: int = MAX_DELIVERIES,
                 max_message_bytes: int = MAX_MESSAGE_BYTES, timeout_s: float = 10.0,
                 synchronous: str = "NORMAL", retain_acked_s: float = 7 * 86400.0):
        if int(max_deliveries) < 1:
            raise QueueError(f"max_deliveries={max_deliveries!r}: must be at least 1")
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self.max_deliveries = int(max_deliveries)
        self.max_message_bytes = int(max_message_bytes)
        self.retain_acked_s = float(retain_acked_s)
        self._db = SQLiteDB(self.path, timeout_s=timeout_s, synchronous=synchronous)
        self._acks_since_prune = 0
        with self._db.transaction() as conn:
            for stmt in _SCHEMA.strip().split(";"):
                if stmt.strip():
                    conn.execute(stmt)

    # ------------------------------------------------------------------ outbox
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` / ``ROLLBACK`` on this object's connection.

        Write your own tables through the yielded connection and add messages
        with :meth:`enqueue`: both are committed together or not at all.
        """
        with self._db.transaction() as conn:
            yield conn

    def enqueue(self, conn: sqlite3.Connection, items: Iterable[tuple[str, dict]], *, trusted: bool = False) -> int:
        """Insert ``(queue, message)`` pairs through ``conn`` inside a running transaction.

        ``conn`` is the connection of this object's :meth:`transaction`, or any
        connection to the same database file inside ``BEGIN ... COMMIT`` (the
        engine's own): the messages commit or roll back with the caller's rows.

        Returns how many were new (a message whose ``(queue, id)`` is already
        stored is ignored: publishing is idempotent).
        """
        if not conn.in_transaction:
            raise QueueError("enqueue() needs the connection of a running transaction(): "
                             "use `with q.transaction() as conn: q.enqueue(conn, items)`")
        rows = encode_items(items, self.max_message_bytes, trusted=trusted)
        if not rows:
            return 0
        now = time.time()
        # (not cached in memory: a rolled-back transaction would leave the cache wrong)
        conn.executemany("INSERT OR IGNORE INTO queue_names (name) VALUES (?)", [(q,) for q in {r[0] for r in rows}])
        before = conn.total_changes
        conn.executemany("INSERT OR IGNORE INTO queue_messages (queue, msg_id, body, published_at) "
                         "VALUES (?, ?, ?, ?)", [(q, mid, text, now) for q, mid, text in rows])
        return conn.total_changes - before

    # ------------------------------------------------------------------ protocol
    def publish_batch(self, items: Iterable[tuple[str, dict]]) -> int:
        items = list(items)
        with self.transaction() as conn:
            return self.enqueue(conn, items)

    def _take_expired(self, conn: sqlite3.Connection, queue: str, consumer: str | None, lease_s: float,
                      now: float, limit: int | None) -> tuple[list[Delivery], int]:
        """Expired leases of ``queue``: dead-letter the worn-out ones, re-deliver (or release) the others."""
        out: list[Delivery] = []
        handled = 0
        while limit is None or len(out) < limit:
            rows = conn.execute(
                "SELECT seq, body, deliveries FROM queue_messages WHERE queue = ? AND state = 1 "
                "AND lease_until <= ? ORDER BY lease_until, seq LIMIT ?",
                (queue, now, 500 if limit is None else limit - len(out))).fetchall()
            if not rows:
                break
            handled += len(rows)
            dead = [(now, f"lease expired after {n} deliveries (max_deliveries={self.max_deliveries})", s)
                    for s, _, n in rows if n >= self.max_deliveries]
            if dead:
                conn.executemany("UPDATE queue_messages SET state = 3, done_at = ?, reason = ?, lease_until = NULL "
                                 "WHERE seq = ?", dead)
            again = [(s, body, n) for s, body, n in rows if n < self.max_deliveries]
            if consumer is None:  # release: back to waiting
                conn.executemany("UPDATE queue_messages SET state = 0, consumer = NULL, lease_until = NULL "
                                 "WHERE seq = ?", [(s,) for s, _, _ in again])
            else:
                conn.executemany("UPDATE queue_messages SET deliveries = deliveries + 1, consumer = ?, "
                                 "lease_until = ? WHERE seq = ?",
                                 [(consumer, now + lease_s, s) for s, _, _ in again])
                out.extend(Delivery(queue, str(s), decode_message(body), n + 1) for s, body, n in again)
        return out, handled

    def claim(self, queue: str, consumer: str, *, count: int = 10, lease_s: float = 30.0) -> list[Delivery]:
        check_queue_name(queue)
        count = int(count)
        if count < 1:
            return []
        if not lease_s > 0:
            raise QueueError(f"lease_s={lease_s!r}: a lease must be longer than 0 seconds")
        with self.transaction() as conn:
            now = time.time()
            out, _ = self._take_expired(conn, queue, str(consumer), lease_s, now, count)
            if len(out) < count:
                # deliveries: 0 for a new message, more for one released by reclaim_expired()
                rows = conn.execute("SELECT seq, body, deliveries FROM queue_messages WHERE queue = ? AND state = 0 "
                                    "ORDER BY seq LIMIT ?", (queue, count - len(out))).fetchall()
                if rows:
                    conn.executemany("UPDATE queue_messages SET state = 1, deliveries = deliveries + 1, "
                                     "consumer = ?, lease_until = ? WHERE seq = ?",
                                     [(str(consumer), now + lease_s, s) for s, _, _ in rows])
                    out.extend(Delivery(queue, str(s), decode_message(body), n + 1) for s, body, n in rows)
        return out

    def ack(self, queue: str, delivery_ids: Iterable[str]) -> int:
        check_queue_name(queue)
        seqs = _seqs(delivery_ids)
        if not seqs:
            return 0
        with self.transaction() as conn:
            now = time.time()
            before = conn.total_changes
            conn.executemany("UPDATE queue_messages SET state = 2, done_at = ?, lease_until = NULL "
                             "WHERE seq = ? AND queue = ? AND state IN (0, 1) AND deliveries > 0",
                             [(now, s, queue) for s in seqs])
            n = conn.total_changes - before
            self._acks_since_prune += n
            if self._acks_since_prune >= 5000:
                self._acks_since_prune = 0
                conn.execute("DELETE FROM queue_messages WHERE state = 2 AND done_at < ?",
                             (now - self.retain_acked_s,))
        return n

    def reject(self, queue: str, delivery_ids: Iterable[str], reason: str) -> int:
        check_queue_name(queue)
        seqs = _seqs(delivery_ids)
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany("UPDATE queue_messages SET state = 3, done_at = ?, reason = ?, lease_until = NULL "
                             "WHERE seq = ? AND queue = ? AND state IN (0, 1) AND deliveries > 0",
                             [(time.time(), f"rejected: {reason}", s, queue) for s in seqs])
            return conn.total_changes - before

    def reclaim_expired(self, queue: str) -> int:
        """Expired leases go back to waiting (or to the dead letters); returns how many."""
        check_queue_name(queue)
        with self.transaction() as conn:
            _, handled = self._take_expired(conn, queue, None, 0.0, time.time(), None)
        return handled

    def prune(self, older_than_s: float | None = None) -> int:
        """Delete acknowledged messages older than ``older_than_s`` (default ``retain_acked_s``)."""
        keep = self.retain_acked_s if older_than_s is None else float(older_than_s)
        with self.transaction() as conn:
            before = conn.total_changes
            conn.execute("DELETE FROM queue_messages WHERE state = 2 AND done_at < ?", (time.time() - keep,))
            return conn.total_changes - before

    # ------------------------------------------------------------------ reading
    def queue_names(self) -> list[str]:
        """:data:`QUEUE_NAMES` plus every other queue ever published to."""
        with self._db.reading() as conn:
            names = [r[0] for r in conn.execute("SELECT name FROM queue_names")]
        return _known(names)

    def stats(self, queues: Iterable[str] | None = None) -> list[QueueStats]:
        names = self.queue_names() if queues is None else [check_queue_name(q) for q in queues]
        out = []
        with self._db.reading() as conn:
            own = not conn.in_transaction
            if own:
                conn.execute("BEGIN")  # one snapshot for all counts
            try:
                for q in names:
                    waiting = conn.execute("SELECT count(*) FROM queue_messages WHERE queue = ? AND state = 0",
                                           (q,)).fetchone()[0]
                    pending = conn.execute("SELECT count(*) FROM queue_messages WHERE queue = ? AND state = 1",
                                           (q,)).fetchone()[0]
                    dead = conn.execute("SELECT count(*) FROM queue_messages WHERE queue = ? AND state = 3",
                                        (q,)).fetchone()[0]
                    out.append(QueueStats(q, waiting + pending, pending, dead))
            finally:
                if own:
                    conn.execute("COMMIT")
        return out

    def dead_letters(self, queue: str, limit: int = 50) -> list[dict]:
        check_queue_name(queue)
        with self._db.reading() as conn:
            rows = conn.execute("SELECT seq, body, deliveries, reason, done_at FROM queue_messages "
                                "WHERE queue = ? AND state = 3 ORDER BY seq DESC LIMIT ?",
                                (queue, int(limit))).fetchall()
        return [{"message": decode_message(b), "deliveries": n, "reason": r, "dead_at": _iso(t),
                 "delivery_id": str(s)} for s, b, n, r, t in rows]

    def recent(self, queue: str, limit: int = 20) -> list[dict]:
        check_queue_name(queue)
        with self._db.reading() as conn:
            rows = conn.execute("SELECT body FROM queue_messages WHERE queue = ? ORDER BY seq DESC LIMIT ?",
                                (queue, int(limit))).fetchall()
        return [decode_message(b) for (b,) in rows]

    def ping(self) -> None:
        try:
            with self._db.reading() as conn:
                conn.execute("SELECT 1").fetchone()
        except sqlite3.Error as e:
            raise QueueUnavailable(f"SQLite queue {self.url!r} cannot be read: {e}") from None

    def close(self) -> None:
        self._db.close()
