"""One SQLite connection per object, behind a lock, with ``BEGIN IMMEDIATE`` transactions.

Shared by :class:`~gridsim.queues.sqlite.SQLiteQueue` and :class:`~gridsim.queues.outbox.Outbox`.
"""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gridsim.errors import QueueError, QueueUnavailable

_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")


class SQLiteDB:
    """A WAL-mode SQLite file opened once; every use goes through :attr:`lock`."""

    def __init__(self, path: str | Path, *, timeout_s: float = 10.0, synchronous: str = "NORMAL"):
        self.path = Path(path)
        sync = str(synchronous).upper()
        if sync not in _SYNCHRONOUS:
            raise QueueError(f"synchronous={synchronous!r}: use one of {', '.join(_SYNCHRONOUS)}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: no implicit transactions, we say BEGIN IMMEDIATE ourselves
            self.conn = sqlite3.connect(str(self.path), timeout=timeout_s, isolation_level=None,
                                        check_same_thread=False)
            self.conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
            mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            self.conn.execute(f"PRAGMA synchronous = {sync}")
        except (sqlite3.Error, OSError) as e:
            raise QueueUnavailable(f"cannot open SQLite queue database {str(self.path)!r}: {e}") from None
        if str(mode).lower() != "wal":
            raise QueueError(f"SQLite database {str(self.path)!r} cannot use WAL mode (got {mode!r}); "
                             f"put it on a local file system")
        self.lock = threading.RLock()
        self.closed = False

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any exception); yields the connection."""
        with self.lock:
            if self.closed:
                raise QueueError(f"SQLite queue {str(self.path)!r} is closed")
            conn = self.conn
            if conn.in_transaction:  # nested use: join the running transaction
                yield conn
                return
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:
                raise QueueUnavailable(f"SQLite database {str(self.path)!r} is busy or unreadable: {e}") from None
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            else:
                try:
                    conn.execute("COMMIT")
                except sqlite3.OperationalError as e:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise QueueUnavailable(f"SQLite database {str(self.path)!r}: commit failed: {e}") from None

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection for reads (autocommit: each statement sees the last committed state)."""
        with self.lock:
            if self.closed:
                raise QueueError(f"SQLite queue {str(self.path)!r} is closed")
            yield self.conn

    def close(self) -> None:
        with self.lock:
            if not self.closed:
                self.closed = True
                self.conn.close()
