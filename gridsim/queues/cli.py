"""``gridsim consume`` and ``gridsim queues``: a customer-service agent's view of the queues.

:func:`register` adds both commands to the ``gridsim`` Typer app.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections import OrderedDict
from typing import Optional

import typer

from gridsim.errors import QueueError, QueueUnavailable

__all__ = ["register", "consume", "show_queues"]

_URL_HELP = ("queue URL: sqlite:///path.db or redis://host:port/db "
             "(default: $GRIDSIM_QUEUE, else sqlite:///var/gridsim.db)")
_SEEN_MAX = 200_000  # ids remembered for deduplication in one session


def _err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def consume(queue: str, *, url: str | None = None, follow: bool = False, json_out: bool = False,
            max_messages: int | None = None, consumer: str | None = None, lease_s: float = 30.0,
            poll_s: float = 0.5) -> tuple[int, int]:
    """Claim, print and acknowledge messages of ``queue``; return ``(printed, duplicates dropped)``.

    Each message is printed (one line: :func:`~gridsim.queues.render.render_message`
    or its JSON) before it is acknowledged, so a consumer killed in between
    sees it again, never loses it. A message id seen before in this session is
    acknowledged without printing. Without ``follow`` it stops when the queue
    has nothing more to hand out; with it, it polls every ``poll_s`` seconds
    until interrupted (and waits for an unavailable backend to come back).
    """
    from gridsim.queues.base import check_queue_name, open_queue
    import gridsim.live.messages  # noqa: F401  (registers one readable line per message schema)
    from gridsim.queues.render import render_message

    check_queue_name(queue)
    if max_messages is not None and max_messages < 1:
        raise QueueError(f"--max {max_messages}: give at least 1")
    if not lease_s > 0:
        raise QueueError(f"--lease {lease_s}: a lease must be longer than 0 seconds")
    consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
    seen: OrderedDict[str, None] = OrderedDict()
    printed = dups = 0
    backoff = poll_s
    q = open_queue(url)
    try:
        while max_messages is None or printed < max_messages:
            want = 100 if max_messages is None else min(100, max_messages - printed)
            try:
                batch = q.claim(queue, consumer, count=want, lease_s=lease_s)
            except QueueUnavailable as e:
                if not follow:
                    raise
                _err(f"waiting {backoff:.1f} s: {e}")
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = poll_s
            if not batch:
                if not follow:
                    break
                time.sleep(poll_s)
                continue
            lines = []
            for d in batch:
                mid = d.message.get("id")
                if mid in seen:
                    dups += 1
                    continue
                seen[mid] = None
                if len(seen) > _SEEN_MAX:
                    seen.popitem(last=False)
                if json_out:
                    lines.append(json.dumps(d.message, ensure_ascii=False, separators=(",", ":")))
                else:
                    again = f"  [delivery {d.deliveries}]" if d.deliveries > 1 else ""
                    lines.append(f"{queue}  {render_message(d.message)}{again}")
            if lines:
                sys.stdout.write("\n".join(lines) + "\n")
                sys.stdout.flush()
                printed += len(lines)
            q.ack(queue, [d.delivery_id for d in batch])
    finally:
        q.close()
    return printed, dups


def show_queues(url: str | None = None) -> tuple[str, list]:
    """``(backend URL, stats of every known queue)``."""
    from gridsim.queues.base import open_queue
    with open_queue(url) as q:
        return q.url, q.stats()


def register(app: typer.Typer) -> None:
    """Add ``consume`` and ``queues`` to the ``gridsim`` command line."""

    @app.command("consume")
    def consume_cmd(
        queue: str = typer.Argument(..., help="queue to read, e.g. cs.sms, cs.ivr, ops.repair"),
        url: Optional[str] = typer.Option(None, "--queue", help=_URL_HELP),
        follow: bool = typer.Option(False, "--follow", "-f", help="keep polling for new messages until Ctrl-C"),
        json_out: bool = typer.Option(False, "--json", help="print each message as one JSON line"),
        max_messages: Optional[int] = typer.Option(None, "--max", help="stop after N messages"),
        consumer: Optional[str] = typer.Option(None, "--consumer", help="consumer name (default: host-pid)"),
        lease: float = typer.Option(30.0, "--lease", help="seconds a claimed message stays ours before redelivery"),
        poll: float = typer.Option(0.5, "--poll", help="seconds between polls with --follow"),
    ):
        """Print messages of QUEUE, then acknowledge them (at-least-once; duplicates by id are dropped).

        Example: gridsim consume cs.sms --queue sqlite:///var/gridsim.db --max 20
        """
        printed = dups = 0
        try:
            printed, dups = consume(queue, url=url, follow=follow, json_out=json_out, max_messages=max_messages,
                                    consumer=consumer, lease_s=lease, poll_s=poll)
        except KeyboardInterrupt:
            _err(f"interrupted: {queue}: stopped (messages printed but not yet acknowledged come again)")
            raise typer.Exit(130) from None
        dropped = f", {dups} duplicate(s) dropped" if dups else ""
        _err(f"{queue}: {printed} message(s) consumed and acknowledged{dropped}")

    @app.command("queues")
    def queues_cmd(
        url: Optional[str] = typer.Option(None, "--queue", help=_URL_HELP),
        json_out: bool = typer.Option(False, "--json", help="print JSON"),
    ):
        """Depth, pending and dead letters of every queue.

        depth = published and not yet acknowledged (waiting + pending); pending = claimed, lease running
        or expired; dead = dead letters. Example: gridsim queues --queue redis://127.0.0.1:6379/0
        """
        from rich.console import Console
        from rich.table import Table

        where, stats = show_queues(url)
        if json_out:
            print(json.dumps([{"queue": s.queue, "depth": s.depth, "pending": s.pending, "dead": s.dead}
                              for s in stats]))
            return
        t = Table(title=f"Queues at {where}", title_justify="left", header_style="bold")
        t.add_column("queue")
        for c in ("depth", "pending", "dead"):
            t.add_column(c, justify="right")
        for s in stats:
            t.add_row(s.queue, f"{s.depth:,}", f"{s.pending:,}", f"{s.dead:,}")
        con = Console(highlight=False, soft_wrap=True)
        if not con.is_terminal:
            con = Console(highlight=False, soft_wrap=True, width=120)
        con.print(t)
