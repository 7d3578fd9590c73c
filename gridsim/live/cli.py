"""``gridsim live``, ``gridsim events push``, ``gridsim workorders``, ``gridsim outages``."""
from __future__ import annotations

import datetime as dt
import json
import signal
import sqlite3
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

INBOUND = "grid.events"


def _db_for(queue_url: str | None, db: Optional[Path]) -> Path:
    from gridsim.queues.base import open_queue, sqlite_path  # noqa: F401
    if db is not None:
        return db
    import os
    url = queue_url or os.environ.get("GRIDSIM_QUEUE") or "sqlite:///var/gridsim.db"
    if url.startswith("sqlite:"):
        return sqlite_path(url)
    return Path("var") / "gridsim.db"


def _wrap_event(ev: dict) -> dict:
    """An event as a queue message on grid.events."""
    return {"schema": "gridsim.event/1", "id": ev["id"],
            "created_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds"),
            "event": ev}


def drain_inbound(engine, *, consumer: str = "gridsim-live", count: int = 200, lease_s: float = 30.0) -> int:
    """Apply what waits on ``grid.events``; every claimed message is acked (rejected events are logged by the
    engine, so a malformed message cannot come back forever). Returns events applied."""
    q = engine.queue
    if q is None:
        return 0
    from gridsim.model.limits import limit

    count = max(1, min(int(count), limit("GRIDSIM_MAX_BATCH")))
    applied = 0
    while True:
        batch = q.claim(INBOUND, consumer, count=count, lease_s=lease_s)
        if not batch:
            return applied
        bodies = [d.message.get("event", d.message) if isinstance(d.message, dict) else d.message for d in batch]
        # one transaction for what one claim brought (group commit), acked once it is committed
        applied += sum(r.accepted for r in engine.apply_batch(bodies, source=INBOUND))
        q.ack(INBOUND, [d.delivery_id for d in batch])
        engine.flush()


def register(app: typer.Typer) -> None:
    events_app = typer.Typer(help="push events into a running engine (the grid.events queue)", no_args_is_help=True)
    app.add_typer(events_app, name="events")

    @app.command("live")
    def live_cmd(model: str = typer.Argument(..., help="model (bundled name, path, simbench:, synth:)"),
                 replay_file: Optional[Path] = typer.Option(None, "--replay",
                                                            help="scenario YAML (or events .jsonl) to replay"),
                 speed: float = typer.Option(60.0, "--speed", help="replay speed: 60 = one simulated minute per "
                                                                     "second; 0 = as fast as possible"),
                 queue: Optional[str] = typer.Option(None, "--queue", help="sqlite:///var/gridsim.db (default, or "
                                                                           "GRIDSIM_QUEUE) or redis://127.0.0.1:6379/0"),
                 db: Optional[Path] = typer.Option(None, "--db", help="live state database (default: the SQLite "
                                                                      "queue file, else var/gridsim.db)"),
                 follow: bool = typer.Option(False, "--follow", help="after the replay keep running on grid.events"),
                 drain: bool = typer.Option(False, "--drain", help="apply what waits on grid.events, then exit"),
                 quiet: bool = typer.Option(False, "--quiet", help="print the summary only"),
                 customers: Optional[Path] = typer.Option(None, "--customers", help="customers CSV")):
        """Run the live engine headless: replay a scenario and/or apply events from grid.events; outage
        records, work orders and customer messages go to the queue. A restart on the same database resumes.

        Example: gridsim live mv_oberrhein --replay scenarios/storm_small.yaml --speed 0
        """
        from gridsim.live import LiveEngine, LiveError, read_events_file, replay, scenario_events
        from gridsim.live.replay import scenario_crews
        if speed < 0:
            raise LiveError(f"--speed must be >= 0, got {speed:g}")
        events = None
        options = {}
        if replay_file is not None:
            if replay_file.suffix in (".jsonl", ".json"):
                events = read_events_file(replay_file)
            else:
                from gridsim.scenarios import load_scenario
                sc = load_scenario(replay_file)
                if sc.model != model:
                    raise LiveError(f"{replay_file}: the scenario is written for model {sc.model!r}, not {model!r}")
                crews = scenario_crews(sc)
                if crews:
                    options["crews"] = crews
                events = scenario_events(sc)
        db_path = _db_for(queue, db)
        engine = LiveEngine(model, queue=queue or _default_url(), db=db_path, options=options or None,
                            customers=customers)
        stop = {"flag": False}

        def _sigterm(*_):
            stop["flag"] = True
        old = signal.signal(signal.SIGTERM, _sigterm)
        t0 = time.monotonic()
        out.print(f"[bold]{engine.topo.name}[/bold]: live engine on {engine.queue.url}, state in {db_path}"
                  + (f"; resuming after {engine.events_applied} events" if engine.events_applied else ""))
        try:
            if events is not None:
                def show(e, r):
                    drain_inbound(engine)
                    if quiet or (e["type"] == "tick" and r.accepted and not r.messages):
                        return
                    what = e.get("device") or e.get("fault_element") or e.get("element") or e.get("customer_id") \
                        or e.get("planned_id") or e.get("work_order_id") or ""
                    mark = f"{r.messages:5d} msgs" if r.accepted else "[red]rejected[/red]"
                    out.print(f"{e['time']}  {e['type']:<26} {what:<16} {mark}"
                              + (f"  {r.reason}" if not r.accepted else ""))
                st = replay(engine, events, speed=speed, on_event=show, stop=lambda: stop["flag"])
                out.print(f"replay: {st.applied} events applied, {st.rejected} rejected, {st.skipped} already "
                          f"applied before, {st.messages} messages")
            if drain:
                n = drain_inbound(engine)
                out.print(f"{INBOUND}: {n} events applied")
            elif follow or events is None:
                out.print(f"following {INBOUND} (Ctrl-C to stop)")
                while not stop["flag"]:
                    n = drain_inbound(engine)
                    engine.advance(dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
                                   if engine.clock is None or speed == 0 else engine.clock)
                    engine.flush()
                    if not n:
                        time.sleep(0.5)
        except KeyboardInterrupt:
            err.print(f"interrupted: state saved in {db_path}; run the same command again to resume")
            engine.close()
            raise typer.Exit(130)
        finally:
            signal.signal(signal.SIGTERM, old)
        snap = engine.snapshot()
        k = snap.kpis
        out.print(f"state at {snap.time}: {k['customers_out']} customers out, {k['active_outages']} active outages, "
                  f"{k['open_work_orders']} open work orders ({k['overdue_work_orders']} overdue); "
                  f"{len(engine.rejected(10_000))} rejected events logged; {time.monotonic() - t0:.1f} s")
        if engine.store is not None and engine.store.unsent():
            out.print(f"warning: {engine.store.unsent()} messages wait in the outbox (queue unreachable)")
        engine.close()

    @events_app.command("push")
    def push_cmd(file: Path = typer.Argument(..., help="events, one JSON object per line"),
                 queue: Optional[str] = typer.Option(None, "--queue", help="queue URL (default GRIDSIM_QUEUE or "
                                                                           "sqlite:///var/gridsim.db)")):
        """Check every event of FILE (nothing is pushed if one line is wrong) and publish them to grid.events,
        where `gridsim live` applies them.

        Example: gridsim events push examples/events.jsonl
        """
        from gridsim.errors import InputTooLargeError
        from gridsim.live import read_events_file
        from gridsim.model.limits import limit
        from gridsim.queues import open_queue
        events = read_events_file(file)
        cap = limit("GRIDSIM_MAX_BATCH")
        if len(events) > cap:
            raise InputTooLargeError(f"{file}: {len(events):,} events, more than {cap:,} per push "
                                     "(GRIDSIM_MAX_BATCH); split the file; nothing was pushed")
        with open_queue(queue or _default_url()) as q:
            n = q.publish_batch([(INBOUND, _wrap_event(e)) for e in events])
            out.print(f"{file}: {len(events)} events checked, {n} published to {INBOUND} on {q.url}")

    @app.command("workorders")
    def workorders_cmd(queue: Optional[str] = typer.Option(None, "--queue", help="queue URL (finds the database)"),
                       db: Optional[Path] = typer.Option(None, "--db", help="live state database"),
                       all_: bool = typer.Option(False, "--all", help="also done and cancelled work orders"),
                       json_out: bool = typer.Option(False, "--json", help="print JSON")):
        """Open work with owners and deadlines, from the live database (overdue ones first).

        Example: gridsim workorders
        """
        rows, clock = _read_live(_db_for(queue, db), "work_orders", all_)
        if json_out:
            out.print_json(json.dumps({"clock": clock, "work_orders": rows}))
            return
        t = Table(title=f"Work orders at {clock or '-'}" + ("" if all_ else " (open)"), title_justify="left",
                  header_style="bold")
        for c in ("work order", "outage", "department", "owner", "due", "status", "overdue", "action"):
            t.add_column(c)
        for r in rows:
            t.add_row(r["work_order_id"], r["outage_id"], r["department"], r["owner"], r["due_at"], r["status"]
                      + (" (escalated)" if r["escalated"] else ""), "yes" if r["overdue"] else "",
                      r["action"][:70])
        out.print(t)

    @app.command("outages")
    def outages_cmd(queue: Optional[str] = typer.Option(None, "--queue", help="queue URL (finds the database)"),
                    db: Optional[Path] = typer.Option(None, "--db", help="live state database"),
                    all_: bool = typer.Option(False, "--all", help="also restored and cancelled outages"),
                    json_out: bool = typer.Option(False, "--json", help="print JSON")):
        """Outage records from the live database.

        Example: gridsim outages --all
        """
        rows, clock = _read_live(_db_for(queue, db), "outages", all_)
        if json_out:
            out.print_json(json.dumps({"clock": clock, "outages": rows}))
            return
        t = Table(title=f"Outages at {clock or '-'}" + ("" if all_ else " (active)"), title_justify="left",
                  header_style="bold")
        for c in ("outage", "type", "cause", "device", "status", "customers", "critical", "start", "ETR"):
            t.add_column(c)
        for r in rows:
            t.add_row(r["outage_id"], r["type"], r["cause"] or "", r["device"] or r["fault_element"] or "",
                      r["status"], str(r["customers"]), str(r["critical"]), r["start"], r["etr"] or "-")
        out.print(t)


def _default_url() -> str:
    import os
    return os.environ.get("GRIDSIM_QUEUE") or "sqlite:///var/gridsim.db"


def _read_live(path: Path, what: str, all_: bool):
    from gridsim.live import LiveError
    if not path.exists():
        raise LiveError(f"{path}: no live database here; start one with `gridsim live MODEL --replay ...` "
                        "or give --db / --queue")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        clock = con.execute("SELECT max(time) FROM live_events").fetchone()[0]
        if what == "work_orders":
            cur = con.execute("SELECT work_order_id, outage_id, department, owner, created_at, due_at, status, "
                              "escalated, action FROM live_work_orders"
                              + ("" if all_ else " WHERE status IN ('open', 'acknowledged')") + " ORDER BY due_at")
            cols = [d[0] for d in cur.description]
            rows = [dict(zip(cols, r)) for r in cur.fetchall()]
            for r in rows:
                r["escalated"] = bool(r["escalated"])
                r["overdue"] = bool(clock and r["status"] == "open" and r["due_at"] <= clock)
            rows.sort(key=lambda r: (not r["overdue"], r["due_at"]))
        else:
            cur = con.execute("SELECT outage_id, type, cause, device, fault_element, status, customers, critical, "
                              "start, etr, end_time FROM live_outages"
                              + ("" if all_ else " WHERE status NOT IN ('restored', 'cancelled')") + " ORDER BY start")
            cols = [d[0] for d in cur.description]
            rows = [dict(zip(cols, r)) for r in cur.fetchall()]
        con.close()
    except sqlite3.Error as e:
        raise LiveError(f"{path}: cannot read the live database: {e}") from None
    return rows, clock
