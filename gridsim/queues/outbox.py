"""The transactional outbox, for a queue backend that is not the engine's own SQLite file.

The engine writes a fact (an outage record, a work order) and the messages
about it in one SQLite transaction: :meth:`Outbox.add` inserts the messages
into the ``outbox`` table through the caller's connection. :meth:`Outbox.flush`
then publishes unsent rows in order to the real backend (e.g. Redis) and marks
them sent. A crash between publish and mark re-sends those rows with the same
message ids: at-least-once, consumers drop the copies by id. When the backend
is unreachable the rows stay, :meth:`Outbox.unsent` counts them, and a later
flush sends them.

::

    box = Outbox("var/engine.db")
    with box.transaction() as conn:
        conn.execute("INSERT INTO outages ...")
        box.add(conn, [("cs.sms", notice), ...])
    box.flush(open_queue("redis://127.0.0.1:6379/0"))
"""
from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from gridsim.errors import QueueError, QueueUnavailable
from gridsim.queues._sqlite_db import SQLiteDB
from gridsim.queues.base import MAX_MESSAGE_BYTES, QueueBackend, decode_message, encode_items

__all__ = ["Outbox"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    queue      TEXT NOT NULL,
    msg_id     TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at REAL NOT NULL,
    sent_at    REAL
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (seq) WHERE sent_at IS NULL
"""


class Outbox:
    """An ``outbox`` table in the SQLite file ``path`` (created if missing).

    ``last_error`` holds the message of the last :class:`QueueUnavailable`
    that stopped a :meth:`flush` (``None`` after a flush that sent all).
    """

    def __init__(self, path: str | Path, *, max_message_bytes: int = MAX_MESSAGE_BYTES, timeout_s: float = 10.0,
                 synchronous: str = "NORMAL"):
        self.path = Path(path)
        self.max_message_bytes = int(max_message_bytes)
        self.last_error: str | None = None
        self._db = SQLiteDB(self.path, timeout_s=timeout_s, synchronous=synchronous)
        with self._db.transaction() as conn:
            for stmt in _SCHEMA.strip().split(";"):
                conn.execute(stmt)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` / ``ROLLBACK`` on the outbox's own connection."""
        with self._db.transaction() as conn:
            yield conn

    def add(self, conn: sqlite3.Connection, items: Iterable[tuple[str, dict]], *, trusted: bool = False) -> int:
        """Insert ``(queue, message)`` pairs through ``conn``, inside the caller's transaction.

        ``conn`` is any connection to the same database file with a running
        transaction (its own or this object's :meth:`transaction`). Every
        message is checked here, so a bad one fails the caller's transaction
        instead of blocking the outbox later. Returns the number of rows added.
        """
        if not conn.in_transaction:
            raise QueueError("Outbox.add() needs a connection inside a transaction (BEGIN ... COMMIT), "
                             "so that the messages commit with the caller's own rows")
        rows = encode_items(items, self.max_message_bytes, trusted=trusted)
        now = time.time()
        conn.executemany("INSERT INTO outbox (queue, msg_id, body, created_at) VALUES (?, ?, ?, ?)",
                         [(q, mid, text, now) for q, mid, text in rows])
        return len(rows)

    def flush(self, backend: QueueBackend, batch: int = 1000) -> int:
        """Publish unsent rows in order, ``batch`` at a time, marking each batch sent; return rows sent.

        Stops and keeps the rows when ``backend`` raises :class:`QueueUnavailable`
        (the reason is in :attr:`last_error`); any other error propagates.
        """
        sent = 0
        batch = max(1, int(batch))
        while True:
            with self._db.reading() as conn:
                rows = conn.execute("SELECT seq, queue, body FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT ?",
                                    (batch,)).fetchall()
            if not rows:
                self.last_error = None
                return sent
            try:
                if hasattr(backend, "publish_encoded"):     # rows were checked when they were added
                    backend.publish_encoded([(q, "", body) for _, q, body in rows])
                else:
                    backend.publish_batch([(q, decode_message(body)) for _, q, body in rows])
            except QueueUnavailable as e:
                self.last_error = str(e)
                return sent
            with self._db.transaction() as conn:
                conn.executemany("UPDATE outbox SET sent_at = ? WHERE seq = ? AND sent_at IS NULL",
                                 [(time.time(), s) for s, _, _ in rows])
            sent += len(rows)

    def unsent(self) -> int:
        """Rows waiting to be published."""
        with self._db.reading() as conn:
            return conn.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0]

    def prune(self, older_than_s: float = 86400.0) -> int:
        """Delete rows sent more than ``older_than_s`` seconds ago; return how many."""
        with self._db.transaction() as conn:
            before = conn.total_changes
            conn.execute("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?",
                         (time.time() - older_than_s,))
            return conn.total_changes - before

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
