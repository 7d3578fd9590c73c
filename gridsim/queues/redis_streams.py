"""The production queue backend: Redis Streams (``redis://host:port/db``).

Key layout (``prefix`` defaults to ``gridsim:``):

- ``{prefix}q:{queue}``: one stream per queue, one field ``m`` (the message JSON);
- consumer group ``gridsim`` on every stream, created on demand at id ``0``
  (``XGROUP CREATE ... MKSTREAM``), so it sees every entry ever added;
- ``{prefix}dlq:{queue}``: the dead letters of the queue, a stream with
  fields ``m``, ``deliveries``, ``reason``, ``dead_at``, ``delivery_id``;
- ``{prefix}queues``: a set of every queue name published to.

``publish_batch`` adds each chunk of one queue's messages with one call of a
small Lua script (``XADD`` per message), or with pipelined ``XADD`` where
scripting is off or missing.

The prefix can also be given in the URL: ``redis://host:6379/0?prefix=lab:``.

``claim`` first runs ``XAUTOCLAIM`` with min-idle = the claimer's lease (the
delivery count comes from ``XPENDING``; a message already delivered
``max_deliveries`` times goes to the dead letters: ``XADD`` + ``XACK`` in one
``MULTI``), then ``XREADGROUP >`` for new entries. A lease therefore ends when
the message has been idle (neither claimed nor acknowledged) for as long as
the lease of the consumer taking it back: give every consumer of a queue the
same ``lease_s``.

Trimming (:meth:`RedisStreamsQueue.trim`, run every ``trim_every`` acks)
removes the oldest entries beyond ``maxlen`` with ``XTRIM MINID ~``, the
threshold being the oldest entry that is pending or not yet delivered: an
unacknowledged message is never trimmed.

Redis keeps what it acknowledged only if the server persists its data
(``appendonly yes``); a server run with ``--save "" --appendonly no`` loses
every queue when it stops.
"""
from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from urllib.parse import unquote

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from gridsim.errors import QueueError, QueueUnavailable
from gridsim.queues.base import (MAX_DELIVERIES, MAX_MESSAGE_BYTES, Delivery, QueueBackend, QueueStats, _known,
                                 check_queue_name, decode_message, encode_items)

__all__ = ["RedisStreamsQueue", "GROUP"]

#: the consumer group every consumer of gridsim joins
GROUP = "gridsim"
_DEAD_CONSUMER = "gridsim-dead-letters"
_CHUNK_BYTES = 4 * 1024 * 1024  # largest payload of one scripted chunk
# XADD every ARGV to the stream KEYS[1], in order, auto ids; one command per chunk, applied whole
_XADD_MANY = """
for i = 1, #ARGV do
  redis.call('XADD', KEYS[1], '*', 'm', ARGV[i])
end
return #ARGV
"""
_UNAVAILABLE = ("LOADING", "MISCONF", "OOM", "READONLY", "MASTERDOWN", "BUSY ", "TRYAGAIN", "CLUSTERDOWN")


def _s(x) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


def _next_id(entry_id: str) -> str:
    ms, _, seq = entry_id.partition("-")
    return f"{ms}-{int(seq or 0) + 1}"


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def _split_prefix(url: str, prefix: str) -> tuple[str, str]:
    """Take ``?prefix=...`` out of the URL (redis-py would refuse it); the URL's prefix wins."""
    base, sep, query = url.partition("?")
    if not sep:
        return url, prefix
    rest = []
    for part in query.split("&"):
        k, _, v = part.partition("=")
        if k == "prefix":
            prefix = unquote(v)
        elif part:
            rest.append(part)
    return base + ("?" + "&".join(rest) if rest else ""), prefix


def redact_url(url: str) -> str:
    """``redis://user:secret@host`` -> ``redis://user:***@host`` (never print a password)."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


class RedisStreamsQueue(QueueBackend):
    """Queues as Redis streams with one consumer group (see the module docstring).

    ``prefix``: key prefix; ``max_deliveries``: deliveries before an
    unacknowledged message is dead-lettered; ``maxlen``: entries a stream
    keeps, acknowledged ones included (``None``: never trim);
    ``trim_every``: acks between automatic trims; ``lease_s``: lease used by
    :meth:`reclaim_expired`; ``chunk``: messages per script call (or per
    pipeline round trip) in :meth:`publish_batch`; ``scripting``: publish chunks through a Lua script
    (else pipelined ``XADD``); ``retries``: reconnect attempts per command;
    ``client``: an existing ``redis.Redis`` (e.g. ``fakeredis.FakeRedis``)
    instead of connecting to ``url``.
    """

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", *, prefix: str = "gridsim:",
                 max_deliveries: int = MAX_DELIVERIES, maxlen: int | None = 100_000, trim_every: int = 1000,
                 lease_s: float = 30.0, max_message_bytes: int = MAX_MESSAGE_BYTES, chunk: int = 1000,
                 socket_timeout_s: float = 10.0, retries: int = 2, scripting: bool = True,
                 client: redis.Redis | None = None):
        if int(max_deliveries) < 1:
            raise QueueError(f"max_deliveries={max_deliveries!r}: must be at least 1")
        url, prefix = _split_prefix(url, prefix)
        self.url = redact_url(url) + ("" if prefix == "gridsim:" else f"?prefix={prefix}")
        self.prefix = str(prefix)
        self.max_deliveries = int(max_deliveries)
        self.maxlen = None if maxlen is None else int(maxlen)
        self.trim_every = int(trim_every)
        self.lease_s = float(lease_s)
        self.max_message_bytes = int(max_message_bytes)
        self.chunk = max(1, int(chunk))
        self.scripting = bool(scripting)
        self._scripting_checked = False
        self._xadd_script = None
        if client is None:
            try:
                client = redis.Redis.from_url(
                    url, decode_responses=True, socket_connect_timeout=min(socket_timeout_s, 5.0),
                    socket_timeout=socket_timeout_s,
                    retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), int(retries)),
                    retry_on_error=[redis.exceptions.ConnectionError, redis.exceptions.TimeoutError])
            except ValueError as e:
                raise QueueError(f"bad Redis queue URL {self.url!r}: {e}; use redis://host:port/db") from None
        self.r = client
        self._groups: set[str] = set()
        self._cursor: dict[str, str] = {}
        self._acks: dict[str, int] = {}

    # ------------------------------------------------------------------ keys, errors
    def stream_key(self, queue: str) -> str:
        return f"{self.prefix}q:{queue}"

    def dead_key(self, queue: str) -> str:
        return f"{self.prefix}dlq:{queue}"

    @property
    def registry_key(self) -> str:
        return f"{self.prefix}queues"

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        try:
            yield
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as e:
            msg = str(e).replace("\n", " ").rstrip(". ")
            raise QueueUnavailable(f"Redis queue {self.url} is unavailable ({what}): {msg}; "
                                   f"is redis-server running?") from None
        except redis.exceptions.ResponseError as e:
            msg = str(e).replace("\n", " ")
            cls = QueueUnavailable if msg.startswith(_UNAVAILABLE) else QueueError
            raise cls(f"Redis queue {self.url} refused {what}: {msg}") from None
        except redis.exceptions.RedisError as e:
            raise QueueError(f"Redis queue {self.url}: {what} failed: {e}") from None

    def _ensure_groups(self, queues: Iterable[str]) -> None:
        new = [q for q in queues if q not in self._groups]
        if not new:
            return
        p = self.r.pipeline(transaction=False)
        for q in new:
            p.xgroup_create(self.stream_key(q), GROUP, id="0", mkstream=True)
            p.sadd(self.registry_key, q)
        for res in p.execute(raise_on_error=False):
            if isinstance(res, redis.exceptions.ResponseError) and "BUSYGROUP" not in str(res):
                raise res
            if isinstance(res, Exception) and not isinstance(res, redis.exceptions.ResponseError):
                raise res
        self._groups.update(new)

    # ------------------------------------------------------------------ publish
    def publish_batch(self, items: Iterable[tuple[str, dict]]) -> int:
        """Add ``(queue, message)`` pairs; order is kept within each queue (not across queues).

        With ``scripting`` (default) each chunk of up to ``chunk`` messages of
        one queue is one ``EVALSHA`` of a Lua script that ``XADD``s them: one
        command to pack, send and parse instead of ``chunk`` (Redis runs it
        as one command: no other client sees half a chunk). Without scripting (or where the server has none, e.g. fakeredis)
        the ``XADD``s are pipelined, ``chunk`` per round trip. If Redis goes
        away mid-batch, the chunks already sent stay: re-send through the
        outbox (at-least-once).
        """
        return self.publish_encoded(encode_items(items, self.max_message_bytes))

    def publish_encoded(self, rows: list[tuple[str, str, str]]) -> int:
        """Publish ``(queue, id, json text)`` rows already checked by ``encode_items`` (the outbox relay
        holds them so: no decode and encode again)."""
        if not rows:
            return 0
        with self._guard("publish"):
            self._ensure_groups({q for q, _, _ in rows})
            if self.scripting:
                try:
                    self._publish_scripted(rows)
                    return len(rows)
                except redis.exceptions.ResponseError as e:
                    if self._scripting_checked or "unknown command" not in str(e).lower():
                        raise
                    self.scripting = False  # the very first script call failed: nothing was added
            for i in range(0, len(rows), self.chunk):
                p = self.r.pipeline(transaction=False)
                for q, _, text in rows[i:i + self.chunk]:
                    p.execute_command("XADD", self.stream_key(q), "*", "m", text)
                p.execute()
        return len(rows)

    def _publish_scripted(self, rows: list[tuple[str, str, str]]) -> None:
        if self._xadd_script is None:
            self._xadd_script = self.r.register_script(_XADD_MANY)
        by_queue: dict[str, list[str]] = {}
        for q, _, text in rows:
            by_queue.setdefault(q, []).append(text)
        for q, bodies in by_queue.items():
            key = self.stream_key(q)
            start, size = 0, 0
            for i, b in enumerate(bodies):
                size += len(b)
                if i + 1 - start >= self.chunk or size >= _CHUNK_BYTES or i + 1 == len(bodies):
                    self._xadd_script(keys=[key], args=bodies[start:i + 1])
                    self._scripting_checked = True
                    start, size = i + 1, 0

    # ------------------------------------------------------------------ claim, ack
    def claim(self, queue: str, consumer: str, *, count: int = 10, lease_s: float = 30.0) -> list[Delivery]:
        check_queue_name(queue)
        count = int(count)
        if count < 1:
            return []
        if not lease_s > 0:
            raise QueueError(f"lease_s={lease_s!r}: a lease must be longer than 0 seconds")
        consumer = str(consumer)
        with self._guard("claim"):
            self._ensure_groups([queue])
            try:
                return self._claim(queue, consumer, count, lease_s)
            except redis.exceptions.ResponseError as e:
                if "NOGROUP" not in str(e):
                    raise
                self._groups.discard(queue)  # the stream was deleted behind our back: make it again
                self._ensure_groups([queue])
                return self._claim(queue, consumer, count, lease_s)

    def _claim(self, queue: str, consumer: str, count: int, lease_s: float) -> list[Delivery]:
        key = self.stream_key(queue)
        min_idle_ms = max(1, int(round(lease_s * 1000)))
        out: list[Delivery] = []
        # Expired leases first. XAUTOCLAIM scans at most 10 x count PEL entries per call: the first call
        # starts at the oldest pending entry (oldest first), further ones go on where earlier claims stopped,
        # so that an expired entry far down a long list of running leases is found too.
        saved = self._cursor.get(queue, "0-0")
        cursor = "0-0"
        for _ in range(8):
            res = self.r.xautoclaim(key, GROUP, consumer, min_idle_ms, cursor, count=count - len(out))
            cursor = _s(res[0])
            entries = [(_s(i), f) for i, f in res[1] if i is not None]
            gone = [_s(i) for i in (res[2] if len(res) > 2 else [])] + [_s(i) for i, f in entries if not f]
            entries = [(i, f) for i, f in entries if f]
            if gone:  # deleted from the stream while pending (not by gridsim): nothing left to deliver
                self.r.xack(key, GROUP, *gone)
            if entries:
                p = self.r.pipeline(transaction=False)
                for i, _ in entries:
                    p.xpending_range(key, GROUP, i, i, 1)
                counts = {}
                for rows in p.execute():
                    for row in rows:
                        counts[_s(row["message_id"])] = int(row["times_delivered"])
                dead = []
                for i, f in entries:
                    n = counts.get(i, 1)
                    if n > self.max_deliveries:
                        dead.append((i, f["m"], n - 1, f"lease expired after {n - 1} deliveries "
                                                          f"(max_deliveries={self.max_deliveries})"))
                    else:
                        out.append(Delivery(queue, i, decode_message(f["m"]), n))
                if dead:
                    self._dead_letter(queue, dead)
            if len(out) >= count:
                break
            if saved != "0-0" and (cursor == "0-0" or _id_key(saved) > _id_key(cursor)):
                cursor, saved = saved, "0-0"
            elif cursor == "0-0":
                break
        self._cursor[queue] = cursor
        if len(out) < count:
            res = self.r.xreadgroup(GROUP, consumer, {key: ">"}, count=count - len(out))
            for _, entries in res or []:
                out.extend(Delivery(queue, _s(i), decode_message(f["m"]), 1) for i, f in entries)
        return out

    def _dead_letter(self, queue: str, entries: list[tuple[str, str, int, str]]) -> None:
        """``(entry id, body, deliveries, reason)`` -> dead-letter stream, and acknowledged, atomically."""
        p = self.r.pipeline(transaction=True)
        now = _now_iso()
        for i, body, n, reason in entries:
            p.xadd(self.dead_key(queue), {"m": body, "deliveries": n, "reason": reason, "dead_at": now,
                                          "delivery_id": i})
        p.xack(self.stream_key(queue), GROUP, *[e[0] for e in entries])
        p.execute()

    def ack(self, queue: str, delivery_ids: Iterable[str]) -> int:
        check_queue_name(queue)
        ids = [str(d) for d in delivery_ids]
        if not ids:
            return 0
        with self._guard("ack"):
            n = int(self.r.xack(self.stream_key(queue), GROUP, *ids))
        self._acks[queue] = self._acks.get(queue, 0) + n
        if self.maxlen is not None and self._acks[queue] >= self.trim_every:
            self._acks[queue] = 0
            self.trim(queue)
        return n

    def reject(self, queue: str, delivery_ids: Iterable[str], reason: str) -> int:
        check_queue_name(queue)
        ids = [str(d) for d in delivery_ids]
        if not ids:
            return 0
        key = self.stream_key(queue)
        with self._guard("reject"):
            p = self.r.pipeline(transaction=False)
            for i in ids:
                p.xpending_range(key, GROUP, i, i, 1)
                p.xrange(key, i, i, count=1)
            res = p.execute()
            dead = []
            for i, pend, rng in zip(ids, res[0::2], res[1::2]):
                if pend and rng:
                    dead.append((i, rng[0][1]["m"], int(pend[0]["times_delivered"]), f"rejected: {reason}"))
            if dead:
                self._dead_letter(queue, dead)
        return len(dead)

    def reclaim_expired(self, queue: str, *, lease_s: float | None = None) -> int:
        """Dead-letter expired leases that reached ``max_deliveries``; count every expired lease.

        The others stay pending: the next :meth:`claim` takes them back
        (Redis hands a pending entry only to a named consumer). ``lease_s``
        defaults to the ``lease_s`` this object was opened with.
        """
        check_queue_name(queue)
        key = self.stream_key(queue)
        min_idle_ms = max(1, int(round((self.lease_s if lease_s is None else lease_s) * 1000)))
        handled = 0
        start = "-"
        with self._guard("reclaim"):
            self._ensure_groups([queue])
            while True:
                rows = self.r.xpending_range(key, GROUP, start, "+", 1000, idle=min_idle_ms)
                if not rows:
                    break
                handled += len(rows)
                worn = [_s(r["message_id"]) for r in rows if int(r["times_delivered"]) >= self.max_deliveries]
                if worn:
                    # XCLAIM with the same min-idle: only one of several reclaimers wins each entry
                    got = self.r.xclaim(key, GROUP, _DEAD_CONSUMER, min_idle_ms, worn)
                    n_of = {_s(r["message_id"]): int(r["times_delivered"]) for r in rows}
                    dead = [(_s(i), f["m"], n_of.get(_s(i), self.max_deliveries),
                             f"lease expired after {n_of.get(_s(i), self.max_deliveries)} deliveries "
                             f"(max_deliveries={self.max_deliveries})") for i, f in got if f]
                    if dead:
                        self._dead_letter(queue, dead)
                start = "(" + _s(rows[-1]["message_id"])
                if len(rows) < 1000:
                    break
        return handled

    # ------------------------------------------------------------------ trimming
    def _unacked_floor(self, queue: str) -> str | None:
        """The smallest id that is pending or not yet delivered (``None``: no group yet)."""
        key = self.stream_key(queue)
        groups = [g for g in self.r.xinfo_groups(key) if _s(g["name"]) == GROUP]
        if not groups:
            return None
        floor = _next_id(_s(groups[0]["last-delivered-id"]))
        if int(groups[0]["pending"]) > 0:
            oldest = self.r.xpending(key, GROUP)["min"]
            if oldest is not None and _id_key(_s(oldest)) < _id_key(floor):
                floor = _s(oldest)
        return floor

    def trim(self, queue: str) -> int:
        """Drop the oldest acknowledged entries beyond ``maxlen``; never an unacknowledged one.

        ``XTRIM MINID ~ floor LIMIT excess``, ``floor`` being the oldest entry
        still pending or not yet delivered. Approximate: Redis drops whole
        stream nodes (100 entries by default) only. Returns entries removed.
        """
        check_queue_name(queue)
        if self.maxlen is None:
            return 0
        key = self.stream_key(queue)
        with self._guard("trim"):
            excess = int(self.r.xlen(key)) - self.maxlen
            if excess <= 0:
                return 0
            floor = self._unacked_floor(queue)
            if floor is None:
                return 0
            return int(self.r.xtrim(key, minid=floor, approximate=True, limit=excess))

    # ------------------------------------------------------------------ reading
    def queue_names(self) -> list[str]:
        """:data:`QUEUE_NAMES` plus every other queue ever published to."""
        with self._guard("list queues"):
            return _known(_s(x) for x in self.r.smembers(self.registry_key))

    def stats(self, queues: Iterable[str] | None = None) -> list[QueueStats]:
        names = self.queue_names() if queues is None else [check_queue_name(q) for q in queues]
        out = []
        with self._guard("stats"):
            p = self.r.pipeline(transaction=False)
            for q in names:
                p.xinfo_groups(self.stream_key(q))
                p.xlen(self.dead_key(q))
            res = p.execute(raise_on_error=False)
            for q, groups, dead in zip(names, res[0::2], res[1::2]):
                if isinstance(dead, Exception):
                    raise dead
                if isinstance(groups, redis.exceptions.ResponseError):  # no such stream yet
                    groups = []
                elif isinstance(groups, Exception):
                    raise groups
                g = next((g for g in groups if _s(g["name"]) == GROUP), None)
                if g is None:
                    out.append(QueueStats(q, 0, 0, int(dead)))
                    continue
                pending = int(g["pending"])
                lag = g.get("lag")
                waiting = int(lag) if lag is not None else self._count_after(q, _s(g["last-delivered-id"]))
                out.append(QueueStats(q, waiting + pending, pending, int(dead)))
        return out

    def _count_after(self, queue: str, last_id: str) -> int:
        """Entries after ``last_id`` (used when Redis cannot tell the group's lag)."""
        n, start = 0, "(" + last_id
        while True:
            rows = self.r.xrange(self.stream_key(queue), start, "+", count=10_000)
            n += len(rows)
            if len(rows) < 10_000:
                return n
            start = "(" + _s(rows[-1][0])

    def dead_letters(self, queue: str, limit: int = 50) -> list[dict]:
        check_queue_name(queue)
        with self._guard("read dead letters"):
            rows = self.r.xrevrange(self.dead_key(queue), count=int(limit))
        return [{"message": decode_message(f["m"]), "deliveries": int(f["deliveries"]), "reason": _s(f["reason"]),
                 "dead_at": _s(f["dead_at"]), "delivery_id": _s(f["delivery_id"])} for _, f in rows]

    def recent(self, queue: str, limit: int = 20) -> list[dict]:
        check_queue_name(queue)
        with self._guard("read recent"):
            rows = self.r.xrevrange(self.stream_key(queue), count=int(limit))
        return [decode_message(f["m"]) for _, f in rows if f]

    def ping(self) -> None:
        with self._guard("ping"):
            self.r.ping()

    def close(self) -> None:
        self.r.close()
