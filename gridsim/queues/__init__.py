"""Customer-service queues: one small protocol, two backends (SQLite default, Redis Streams).

See :mod:`gridsim.queues.base` for the protocol and docs/queues.md for the
delivery guarantee, the URLs and the command line.
"""
from gridsim.errors import QueueError, QueueUnavailable
from gridsim.queues.base import (DEFAULT_URL, MAX_DELIVERIES, MAX_MESSAGE_BYTES, QUEUE_NAMES, Delivery,
                                 QueueBackend, QueueStats, check_queue_name, open_queue)
from gridsim.queues.outbox import Outbox
from gridsim.queues.render import register_renderer, render_message
from gridsim.queues.sqlite import SQLiteQueue


def __getattr__(name: str):
    # redis is imported only by those who use it
    if name == "RedisStreamsQueue":
        from gridsim.queues.redis_streams import RedisStreamsQueue
        return RedisStreamsQueue
    raise AttributeError(f"module 'gridsim.queues' has no attribute {name!r}")


__all__ = ["QUEUE_NAMES", "DEFAULT_URL", "MAX_DELIVERIES", "MAX_MESSAGE_BYTES", "Delivery", "QueueStats",
           "QueueBackend", "QueueError", "QueueUnavailable", "check_queue_name", "open_queue", "SQLiteQueue",
           "RedisStreamsQueue", "Outbox", "render_message", "register_renderer"]
