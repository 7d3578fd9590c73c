"""The queue protocol shared by every backend, and :func:`open_queue`.

A queue holds JSON messages. Producers ``publish``; consumers ``claim`` a few
messages with a lease, handle them and ``ack`` them. A message whose lease
runs out before its ack is delivered again (``deliveries`` + 1); after
``max_deliveries`` deliveries it goes to the queue's dead-letter list instead.
Delivery is at-least-once: a consumer may see a message twice and drops the
second copy by the message's ``id`` (its idempotency key).

Backends: :class:`~gridsim.queues.sqlite.SQLiteQueue` (``sqlite:///path.db``,
the embedded default) and :class:`~gridsim.queues.redis_streams.RedisStreamsQueue`
(``redis://host:port/db``). See docs/queues.md.
"""
from __future__ import annotations

import json
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson

from gridsim.errors import QueueError, brief

__all__ = ["QUEUE_NAMES", "DEFAULT_URL", "MAX_MESSAGE_BYTES", "Delivery", "QueueStats", "QueueBackend",
           "open_queue", "check_queue_name", "encode_message", "decode_message"]

#: the queues of the live engine: customer-service channels and desks, operations desks, and the inbound events
QUEUE_NAMES = ("cs.sms", "cs.ivr", "cs.web", "cs.social", "cs.key_accounts",
               "ops.repair", "ops.switching", "ops.supervisor", "grid.events")
#: where messages go when neither a URL nor ``GRIDSIM_QUEUE`` says otherwise (relative to the working folder)
DEFAULT_URL = "sqlite:///var/gridsim.db"
#: default largest encoded message, in bytes (UTF-8 JSON)
MAX_MESSAGE_BYTES = 64 * 1024
#: default number of deliveries after which an unacknowledged message is dead-lettered
MAX_DELIVERIES = 5

_NAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
_ACCEPTED_URLS = ("sqlite:///relative/path.db, sqlite:////absolute/path.db, "
                  "redis://[:password@]host[:port][/db] or rediss://...")


@dataclass(frozen=True)
class Delivery:
    """One message handed to a consumer by :meth:`QueueBackend.claim`.

    ``delivery_id`` is what :meth:`QueueBackend.ack` takes back (a row number in
    SQLite, a stream entry id in Redis); ``deliveries`` counts this delivery
    (1 the first time).
    """

    queue: str
    delivery_id: str
    message: dict
    deliveries: int


@dataclass(frozen=True)
class QueueStats:
    """Counts of one queue.

    ``depth``: published and neither acknowledged nor dead-lettered (waiting +
    pending); ``pending``: claimed, lease running or expired, not acknowledged;
    ``dead``: in the dead-letter list.
    """

    queue: str
    depth: int
    pending: int
    dead: int


def check_queue_name(queue: object) -> str:
    """Return ``queue`` if it is a valid queue name, else raise :class:`QueueError`."""
    if not isinstance(queue, str) or not _NAME_RE.match(queue):
        raise QueueError(f"bad queue name {brief(queue)}: use lower-case letters, digits and _ . - "
                         f"(1-64 characters, starting with a letter), e.g. {QUEUE_NAMES[0]!r}")
    return queue


def _fast_dumps(message: dict) -> str:
    """orjson for messages built by gridsim itself (finite numbers, str keys): ~10x faster than json."""
    return orjson.dumps(message).decode("utf-8")


def encode_message(queue: str, message: object, max_bytes: int = MAX_MESSAGE_BYTES, *,
                   trusted: bool = False) -> tuple[str, str]:
    """Check one message for ``queue`` and return ``(id, compact JSON text)``.

    A message is a JSON-serialisable dict with non-empty string fields ``id``,
    ``schema`` and ``created_at``, at most ``max_bytes`` long once encoded.
    Anything else raises :class:`QueueError` naming the queue and the field.
    """
    if not isinstance(message, dict):
        raise QueueError(f"queue {queue!r}: a message must be a dict, got {type(message).__name__}")
    for f in ("id", "schema", "created_at"):
        v = message.get(f)
        if not isinstance(v, str) or not v:
            got = "missing" if f not in message else f"{type(v).__name__} {brief(v, 60)}"
            raise QueueError(f"queue {queue!r}: message field {f!r} must be a non-empty string ({got}); "
                             f"every message needs string 'id', 'schema' and 'created_at'")
    try:
        text = _fast_dumps(message) if trusted else json.dumps(message, separators=(",", ":"), ensure_ascii=False,
                                                                allow_nan=False)
    except (TypeError, ValueError, RecursionError) as e:
        raise QueueError(f"queue {queue!r}: message id={brief(message['id'])} is not JSON-serialisable: "
                         f"{brief(str(e), 200)}") from None
    try:  # trusted (orjson) text is valid UTF-8; outside text may hold lone surrogates: always encode it
        n = len(text.encode("utf-8")) if (len(text) * 4 > max_bytes or not trusted) else len(text)
    except UnicodeEncodeError:
        raise QueueError(f"queue {queue!r}: message id={brief(message['id'])} is not valid UTF-8 text "
                         "(a lone surrogate)") from None
    if n > max_bytes:
        raise QueueError(f"queue {queue!r}: message id={brief(message['id'])} is {n} bytes, over the "
                         f"{max_bytes}-byte limit (max_message_bytes)")
    return message["id"], text


def decode_message(text: str | bytes) -> dict:
    return json.loads(text)


def encode_items(items: Iterable[tuple[str, dict]], max_bytes: int, *,
                 trusted: bool = False) -> list[tuple[str, str, str]]:
    """``(queue, message)`` pairs -> ``(queue, id, json)`` triples, every one checked before any is written.

    ``trusted``: the messages come from gridsim's own engine (finite floats, str keys), so the fast
    orjson encoder is used; anything from outside goes through ``json`` with ``allow_nan=False``."""
    out = []
    names: set[str] = set()
    for item in items:
        try:
            queue, message = item
        except (TypeError, ValueError):
            raise QueueError(f"publish_batch takes (queue, message) pairs, got {item!r:.80}") from None
        if queue not in names:
            names.add(check_queue_name(queue))
        mid, text = encode_message(queue, message, max_bytes, trusted=trusted)
        out.append((queue, mid, text))
    return out


class QueueBackend(ABC):
    """The protocol every backend implements (see the module docstring)."""

    #: the URL this backend was opened with (password removed)
    url: str
    #: deliveries after which an unacknowledged message is dead-lettered
    max_deliveries: int = MAX_DELIVERIES

    def publish(self, queue: str, message: dict) -> None:
        """Add one message to ``queue``."""
        self.publish_batch([(queue, message)])

    @abstractmethod
    def publish_batch(self, items: Iterable[tuple[str, dict]]) -> int:
        """Add ``(queue, message)`` pairs, in order; return how many were added.

        Every message is checked before any is written. SQLite does not count
        (nor store) a message whose ``(queue, id)`` it already holds.
        """

    @abstractmethod
    def claim(self, queue: str, consumer: str, *, count: int = 10, lease_s: float = 30.0) -> list[Delivery]:
        """Hand up to ``count`` messages of ``queue`` to ``consumer`` for ``lease_s`` seconds.

        Expired leases are taken back first (a message already delivered
        ``max_deliveries`` times goes to the dead-letter list instead), then new
        messages, oldest first. Not blocking: an empty list when nothing waits.
        """

    @abstractmethod
    def ack(self, queue: str, delivery_ids: Iterable[str]) -> int:
        """Acknowledge deliveries (done with them); return how many were still unacknowledged."""

    @abstractmethod
    def reclaim_expired(self, queue: str) -> int:
        """Take back expired leases of ``queue`` now; return how many (dead-lettered ones included)."""

    @abstractmethod
    def stats(self, queues: Iterable[str] | None = None) -> list[QueueStats]:
        """Counts per queue; ``None``: :data:`QUEUE_NAMES` plus every other queue ever published to."""

    @abstractmethod
    def dead_letters(self, queue: str, limit: int = 50) -> list[dict]:
        """Newest dead letters first: ``{"message", "deliveries", "reason", "dead_at", "delivery_id"}``."""

    @abstractmethod
    def recent(self, queue: str, limit: int = 20) -> list[dict]:
        """The last published messages of ``queue``, newest first (acknowledged ones included while kept)."""

    @abstractmethod
    def reject(self, queue: str, delivery_ids: Iterable[str], reason: str) -> int:
        """Send claimed messages to the dead-letter list at once (a consumer cannot handle them)."""

    @abstractmethod
    def ping(self) -> None:
        """Raise :class:`~gridsim.errors.QueueUnavailable` if the backend cannot be reached."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection; the object cannot be used afterwards."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


def _known(extra: Iterable[str]) -> list[str]:
    extras = sorted(set(extra) - set(QUEUE_NAMES))
    return list(QUEUE_NAMES) + extras


def sqlite_path(url: str) -> Path:
    """``sqlite:///rel/x.db`` -> ``rel/x.db``; ``sqlite:////abs/x.db`` -> ``/abs/x.db``."""
    rest = url[len("sqlite:///"):]
    if not rest or rest.endswith("/") or "?" in rest:
        raise QueueError(f"bad queue URL {brief(url, 200)}: no database file; accepted forms: {_ACCEPTED_URLS}")
    return Path(rest)


def open_queue(url: str | None = None, **options) -> QueueBackend:
    """Open the queue backend named by ``url``.

    ``None`` takes the environment variable ``GRIDSIM_QUEUE``, else
    :data:`DEFAULT_URL`. ``sqlite:///path.db`` (three slashes: relative to the
    working folder; four: absolute; the parent folder is created) opens
    :class:`~gridsim.queues.sqlite.SQLiteQueue`; ``redis://host:port/db`` opens
    :class:`~gridsim.queues.redis_streams.RedisStreamsQueue` (options
    ``prefix="gridsim:"``, ``max_deliveries=5``, ``maxlen``, ...). Options go
    to the backend's constructor.
    """
    if url is None:
        url = os.environ.get("GRIDSIM_QUEUE") or DEFAULT_URL
    if not isinstance(url, str):
        raise QueueError(f"bad queue URL {brief(url, 200)}: accepted forms: {_ACCEPTED_URLS}")
    url = url.strip()
    if url.startswith("sqlite:///"):
        from gridsim.queues.sqlite import SQLiteQueue
        return SQLiteQueue(sqlite_path(url), **options)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from gridsim.queues.redis_streams import RedisStreamsQueue
        return RedisStreamsQueue(url, **options)
    raise QueueError(f"unsupported queue URL {brief(url, 200)}: accepted forms: {_ACCEPTED_URLS}")
