"""Fuzzing the inbound queue ``grid.events``: hostile messages published on it (through the queue API, as
``gridsim events push`` and other producers do) and applied by ``drain_inbound`` (what ``gridsim live
--drain`` / ``--follow`` runs), on the SQLite backend and on Redis (127.0.0.1:6379, skipped when no server
answers; a unique key prefix per case, deleted afterwards).

Messages: the event cases of :mod:`test_fuzz_events` wrapped as queue messages, plus hostile wrappers
(non-string or missing ``id`` / ``schema`` / ``created_at``, a body without ``event``, non-JSON values,
oversized messages, a batch with one bad message among good ones).

Holds when: publishing refuses what is not a valid message with a one-line QueueError and writes nothing
(every queue's stats unchanged); ``drain_inbound`` never raises, acknowledges everything it claimed
(``grid.events`` empty afterwards, nothing dead-lettered); an event it rejects leaves the engine's state
and every outbound queue (``cs.*``, ``ops.*``) unchanged and is recorded in the rejected log.
"""
from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
from hypothesis import strategies as st

import fuzzkit
from fuzzkit import hostile, run_fuzz
from gridsim.errors import QueueError
from test_fuzz_events import PREFIX, hostile_event, materialise, state_of

REDIS_URL = "redis://127.0.0.1:6379/0"
INBOUND = "grid.events"


@st.composite
def inbound_message(draw):
    """(wrapper kind, event case, extra): one message for grid.events."""
    wrapper = draw(st.sampled_from(["wrapped", "wrapped", "wrapped", "bare", "bad_id", "bad_schema",
                                    "no_created_at", "oversize", "batch_with_bad", "hostile_body"]))
    return (wrapper, draw(hostile_event()), draw(hostile))


def build_messages(case, k: int) -> list[dict]:
    wrapper, ev_case, extra = case
    event = materialise(ev_case)
    base = {"schema": "gridsim.event/1", "id": f"m{k}", "created_at": "2025-01-06T16:00:00", "event": event}
    if wrapper == "wrapped":
        return [base]
    if wrapper == "bare":  # the event itself as the message (drain takes message.get("event", message))
        ev = dict(event) if isinstance(event, dict) else {"event_text": event}
        ev.update({"schema": "gridsim.event/1", "id": f"m{k}", "created_at": "2025-01-06T16:00:00"})
        return [ev]
    if wrapper == "bad_id":
        return [dict(base, id=fuzzkit.real(extra))]
    if wrapper == "bad_schema":
        return [dict(base, schema=fuzzkit.real(extra))]
    if wrapper == "no_created_at":
        return [{k2: v for k2, v in base.items() if k2 != "created_at"}]
    if wrapper == "oversize":
        return [dict(base, padding="x" * (64 * 1024 + k))]
    if wrapper == "batch_with_bad":
        return [dict(base, id=f"m{k}a"), dict(base, id=f"m{k}b", event=float("nan")), dict(base, id=f"m{k}c")]
    return [dict(base, event=fuzzkit.real(extra))]


def queue_stats(q) -> dict:
    return {s.queue: (s.depth, s.pending, s.dead) for s in q.stats()}


class _Backend:
    """One queue backend per case: a fresh SQLite file, or a fresh Redis key prefix (deleted on close)."""

    def __init__(self, kind: str, folder: Path):
        from gridsim.queues import open_queue

        self.kind, self.prefix = kind, None
        if kind == "sqlite":
            self.q = open_queue(f"sqlite:///{folder}/queues.db")
        else:
            self.prefix = f"gridsim-fuzz:{uuid.uuid4().hex[:12]}:"
            self.q = open_queue(REDIS_URL, prefix=self.prefix)

    def close(self):
        if self.prefix is not None:
            keys = list(self.q.r.scan_iter(f"{self.prefix}*"))
            if keys:
                self.q.r.delete(*keys)
        self.q.close()


def check_inbound(cases, kind: str, topo, root: Path) -> None:
    from gridsim.live import LiveEngine
    from gridsim.live.cli import _wrap_event, drain_inbound

    folder = Path(tempfile.mkdtemp(dir=root))
    backend = _Backend(kind, folder)
    q = backend.q
    engine = LiveEngine(topo, queue=q, db=folder / "live.db", options={"crews": [{"id": "crew-1", "depot": 1}]})
    try:
        q.publish_batch([(INBOUND, _wrap_event(e)) for e in PREFIX])
        assert drain_inbound(engine) == len(PREFIX)
        for k, case in enumerate(cases):
            before, stats_before = state_of(engine), queue_stats(q)
            n_rejected = len(engine.rejected(10_000))
            msgs = build_messages(case, k)
            try:
                published = q.publish_batch([(INBOUND, m) for m in msgs])
            except QueueError as e:
                fuzzkit.assert_clear(e, names=(INBOUND,))
                assert queue_stats(q) == stats_before, "a refused publish changed the queues"
                assert state_of(engine) == before
                continue
            except fuzzkit.Hang:
                raise
            except Exception as e:  # noqa: BLE001
                raise AssertionError(f"publish crashed: {type(e).__name__}: {str(e)[:300]}") from e
            try:
                applied = drain_inbound(engine)
            except fuzzkit.Hang:
                raise
            except Exception as e:  # noqa: BLE001 - draining must never raise on bad messages
                raise AssertionError(f"drain_inbound raised {type(e).__name__}: {str(e)[:300]}") from e
            stats_after = queue_stats(q)
            assert stats_after[INBOUND][:2] == (0, 0), f"grid.events not emptied: {stats_after[INBOUND]}"
            assert stats_after[INBOUND][2] == stats_before[INBOUND][2], "a message was dead-lettered"
            if applied == 0:
                after = state_of(engine)
                changed = {key for key in before if before[key] != after[key]}
                assert not changed, f"a rejected inbound event changed {sorted(changed)}"
                outbound_before = {n: v for n, v in stats_before.items() if n != INBOUND}
                outbound_after = {n: v for n, v in stats_after.items() if n != INBOUND}
                assert outbound_after == outbound_before, "a rejected inbound event changed an outbound queue"
                assert len(engine.rejected(10_000)) == n_rejected + published, "rejection not recorded"
    finally:
        engine.close()
        backend.close()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def tiny_topo(tmp_path_factory, tiny_json_text):
    from gridsim.core import compile_topology
    from gridsim.model import load_model

    path = tmp_path_factory.mktemp("inbound") / "net.json"
    path.write_text(tiny_json_text)
    return compile_topology(load_model(str(path)))


def _redis_up() -> bool:
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        client.close()
        return True
    except Exception:  # noqa: BLE001 - any failure means no server here
        return False


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
@pytest.mark.parametrize("size", fuzzkit.SIZES)
def test_fuzz_inbound_queue(size, kind, tiny_topo, tmp_path):
    if kind == "redis" and not _redis_up():
        pytest.fail(f"no Redis server at {REDIS_URL}: start redis-server (.ci/run does)")
    seqs = st.lists(inbound_message(), min_size=1, max_size=3)
    run_fuzz(f"grid.events via drain ({kind})", seqs, lambda c: check_inbound(c, kind, tiny_topo, tmp_path),
             size, examples=(100, 2000))


def explore(kind: str = "sqlite"):  # for exploration scripts: (strategy, check)
    from gridsim.core import compile_topology
    from gridsim.model import load_model

    root = Path(tempfile.mkdtemp())
    (root / "net.json").write_text(fuzzkit.compact_net_json(fuzzkit.tiny_net()))
    topo = compile_topology(load_model(str(root / "net.json")))
    return st.lists(inbound_message(), min_size=1, max_size=3), lambda c: check_inbound(c, kind, topo, root)


def explore_redis():
    return explore("redis")
