"""Replay feed: a scenario (or a JSON-lines file) as timed live events.

:func:`scenario_events` runs the scenario once (:func:`gridsim.scenarios.run_scenario`,
the same discrete-event simulation as ``gridsim run``) and turns its timeline
into what the field would report to a control room:

==========================  ==================================================
simulation                  live events
==========================  ==================================================
permanent fault + trip      ``breaker_trip`` (device, fault_element, cause)
temporary fault + trip      ``breaker_trip`` (device only), then
                            ``breaker_reclose`` ``reclose_s`` later
switching step              ``switch_open`` / ``switch_close`` (a reclose of
                            the tripped device: ``breaker_reclose``)
crew sets off / on site     ``crew_status`` dispatched / on_site (element)
repair end                  ``repair_complete``, then the return to normal:
                            the fault's isolating, sectionalizing and tripped
                            devices close 1 min later, its transfer ties open
                            2 min later
planned outage              ``planned_outage_scheduled`` ``notice_days`` ahead
                            (at the scenario start at the latest), then
                            ``planned_outage_started`` / ``_ended``
customers                   a few ``customer_call`` per sustained outage
                            (``call_fraction`` of its customers, 2-20 min after
                            it began), to exercise the automatic answers
==========================  ==================================================

Event ids are ``<prefix>:<n>`` in time order, so a restarted replay skips
what the engine already holds (:meth:`LiveEngine.has_event`).
"""
from __future__ import annotations

import datetime as dt
import json
import re
import time as _time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from gridsim.live.events import EventError, parse_event

__all__ = ["scenario_events", "scenario_crews", "read_events_file", "replay", "ReplayStats"]


def scenario_crews(scenario) -> list[dict] | None:
    """The scenario's crews as :class:`LiveOptions` ``crews`` (ids ``crew-1``... as the simulation names them)."""
    c = getattr(scenario, "crews", None)
    if c is None:
        return None
    out = []
    for i in range(int(c.count)):
        d = {"id": f"crew-{i + 1}", "speed_kmh": float(c.speed_kmh or 40.0)}
        depot = c.depots[i % len(c.depots)] if c.depots else None
        if isinstance(depot, (int, str)):       # a bus id (an [x, y] depot starts at the source)
            d["depot"] = int(str(depot).removeprefix("bus:"))
        out.append(d)
    return out


def _ts(t) -> str:
    return pd.Timestamp(t).floor("s").to_pydatetime().isoformat()


def scenario_events(scenario, *, run: int = 0, strategy: str | None = None, call_fraction: float = 0.02,
                    max_calls_per_outage: int = 20, prefix: str | None = None, seed: int = 0,
                    tick_min: float | None = 1.0) -> list[dict]:
    """The live events of one run of ``scenario`` (a :class:`Scenario` or a YAML path), sorted by time.

    ``tick_min``: a ``tick`` event every that many simulated minutes between the first and the last event,
    so that deferred notices and escalations fire at the same simulated instants whatever the replay
    speed (and after a restart); None for no ticks."""
    from gridsim.restore import plan_flisr
    from gridsim.scenarios import load_scenario, run_scenario
    from gridsim.scenarios.simulate import scenario_context
    if isinstance(scenario, (str, Path)):
        scenario = load_scenario(scenario)
    res = run_scenario(scenario, run=run, strategy=strategy) if strategy else run_scenario(scenario, run=run)
    ctx = scenario_context(scenario)
    topo = ctx["topo"] if isinstance(ctx, dict) else ctx.topo
    start = pd.Timestamp(res.start)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", scenario.name or "scenario").strip("_")[:40] or "scenario"
    prefix = prefix or f"replay:{slug}:{run}"
    items: list[tuple[float, int, dict]] = []

    def add(t_min: float, body: dict, order: int = 0) -> None:
        items.append((float(t_min), order, body))

    def at(t_min: float) -> str:
        return _ts(start + pd.Timedelta(minutes=float(t_min)))

    outages = res.outages.set_index("outage_id") if len(res.outages) else res.outages
    tl = res.timeline
    # faults: trip events
    is_open: dict[str, bool] = {}
    plans = {}
    for oid, o in (outages.iterrows() if len(outages) else ()):
        el = o["element"]
        dev = o["tripping_device"] or None
        if dev is not None and (dev.startswith("source") or not dev):
            dev = None
        t = float(o["t_min"])
        cause = o["cause"] if o["cause"] in ("equipment", "weather", "vegetation", "third_party", "overload",
                                             "unknown") else "unknown"
        if o["kind"] == "temporary":
            if dev is not None:
                add(t, {"type": "breaker_trip", "device": dev, "cause": cause, "actor": "scada"})
                add(t + 2.0 / 60.0, {"type": "breaker_reclose", "device": dev, "actor": "scada"})
            continue
        body = {"type": "breaker_trip", "fault_element": el, "cause": cause, "actor": "scada"}
        if dev is not None:
            body["device"] = dev
        add(t, body)
        try:
            plans[el] = plan_flisr(topo, el)
        except Exception:  # noqa: BLE001 - a fault FLISR cannot plan still replays its trip and repair
            plans[el] = None
    # when each permanent fault is active (fault time to repair end)
    windows = {}
    for oid, o in (outages.iterrows() if len(outages) else ()):
        if o["kind"] != "temporary":
            end = o["repair_end_min"]
            windows[o["element"]] = (float(o["t_min"]), float(end) if pd.notna(end) else float("inf"))
    # switching, crews, repairs from the timeline
    for _, r in tl.iterrows():
        ev, el, det, t = r["event"], r["element"], str(r["detail"]), float(r["t_min"])
        if ev == "switch":
            action = det.split(" ", 1)[0]
            if action not in ("open", "close"):
                continue
            if "(reclose" in det:
                add(t, {"type": "breaker_reclose", "device": el, "actor": "switching-desk"}, 1)
            else:
                add(t, {"type": f"switch_{action}", "device": el,
                        "actor": "scada" if "remote" in det else "switching-crew"}, 1)
        elif ev == "crew_dispatch":
            crew = det.split(" ", 1)[0]
            add(t, {"type": "crew_status", "crew_id": crew, "status": "dispatched", "element": el, "actor": crew}, 2)
        elif ev == "repair_start":
            crew = det.split(" ", 1)[0]
            add(t, {"type": "crew_status", "crew_id": crew, "status": "on_site", "element": el, "actor": crew}, 2)
        elif ev == "repair_end":
            crew = det.split(":", 1)[0]
            add(t, {"type": "repair_complete", "element": el, "crew_id": crew, "actor": crew}, 3)
            plan = plans.get(el)
            if plan is not None:
                # a device another unrepaired fault's plan also operated stays as it is: that fault's
                # return to normal puts it back
                held = set()
                for other, (f_start, f_end) in windows.items():
                    if other != el and f_start <= t < f_end and plans.get(other) is not None:
                        held |= {s.device for s in plans[other].steps} | {plans[other].tripping_device}
                for s in plan.steps:
                    if s.device in held:
                        continue
                    if s.purpose in ("isolate", "sectionalize") and s.action == "open":
                        add(t + 1.0, {"type": "switch_close", "device": s.device, "actor": "switching-crew"}, 4)
                    elif s.purpose == "transfer" and s.action == "close":
                        add(t + 2.0, {"type": "switch_open", "device": s.device, "actor": "switching-crew"}, 5)
                if plan.tripping_device and not plan.tripping_device.startswith("source") and \
                        plan.tripping_device not in held and not any(s.purpose == "reclose" for s in plan.steps):
                    add(t + 1.0, {"type": "breaker_reclose", "device": plan.tripping_device,
                                  "actor": "switching-crew"}, 4)
    # planned outages
    for i, p in enumerate(getattr(scenario, "planned", None) or []):
        pid = f"PL{i + 1}"
        elements = [str(e) for e in p.elements]
        s_min, e_min = float(p.start_min), float(p.end_min)
        notice_min = float(getattr(p, "notice_days", 3) or 0) * 1440.0
        add(max(s_min - notice_min, 0.0) if s_min > 0 else s_min, {
            "type": "planned_outage_scheduled", "planned_id": pid, "elements": elements, "start": at(s_min),
            "end": at(e_min), "reason": (p.name or "maintenance")[:500], "actor": "planning"}, -1)
        add(s_min, {"type": "planned_outage_started", "planned_id": pid, "actor": "switching-desk"}, 0)
        add(e_min, {"type": "planned_outage_ended", "planned_id": pid, "actor": "switching-desk"}, 6)
    # a few calls per sustained outage
    rng = np.random.default_rng([seed, run])
    if call_fraction > 0 and len(res.interruptions):
        log = res.interruptions
        sustained = log[(log["duration_min"] > 25) & (log["cause"] != "planned")]
        for oid, g in sustained.groupby("outage_id", sort=True):
            n = min(max_calls_per_outage, max(1, int(round(call_fraction * len(g)))))
            pick = g.iloc[rng.choice(len(g), size=min(n, len(g)), replace=False)]
            for _, c in pick.iterrows():
                t = float(c["start_min"]) + float(rng.uniform(2.0, 20.0))
                if t < float(c["end_min"]):
                    add(t, {"type": "customer_call", "customer_id": str(c["customer_id"]),
                            "text": "my power is off", "actor": "ivr"}, 7)
    if tick_min and items:
        lo, hi = min(i[0] for i in items), max(i[0] for i in items)
        k = 1
        while lo + k * tick_min < hi:
            add(lo + k * tick_min, {"type": "tick", "actor": "clock"}, 9)
            k += 1
    # drop operations the feed knows are no-ops (a device operated twice the same way)
    items.sort(key=lambda x: (x[0], x[1]))
    events = []
    for n, (t_min, _, body) in enumerate(items):
        if body["type"] in ("switch_open", "switch_close", "breaker_reclose", "breaker_trip") and body.get("device"):
            want_open = body["type"] in ("switch_open", "breaker_trip")
            dev = body["device"]
            if is_open.get(dev, _normally_open(topo, dev)) == want_open:
                if body["type"] == "breaker_trip":
                    body = {k: v for k, v in body.items() if k != "device"}
                else:
                    continue
            else:
                is_open[dev] = want_open
        body = {"id": f"{prefix}:{n}", "time": at(t_min), **body}
        events.append(body)
    return events


def _normally_open(topo, dev: str) -> bool:
    if dev.startswith("switch:"):
        try:
            sid = int(dev.split(":", 1)[1])
        except ValueError:
            return False
        rows = np.nonzero(topo.switch_ids == sid)[0]
        return bool(rows.size and not topo.switch_closed[rows[0]])
    return False


def read_events_file(path: str | Path, *, max_bytes: int | None = None) -> list[dict]:
    """Events from a JSON-lines file, every line checked; raises :class:`EventError` naming the line.

    ``max_bytes``: largest file accepted (default ``GRIDSIM_MAX_INPUT_MB``, 64 MB)."""
    from gridsim.errors import GridsimError
    from gridsim.model.limits import limit

    path = Path(path)
    try:
        size = path.stat().st_size
    except (OSError, ValueError) as e:
        raise EventError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    if max_bytes is None:
        try:
            max_bytes = limit("GRIDSIM_MAX_INPUT_MB")
        except GridsimError as e:
            raise EventError(str(e)) from None
    if size > max_bytes:
        raise EventError(f"{path}: {size} bytes, more than the limit of {max_bytes} (GRIDSIM_MAX_INPUT_MB)")
    out = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise EventError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:  # a folder, no permission
        raise EventError(f"{path}: cannot read: {e.strerror or e}") from None
    # split on newlines only: str.splitlines() also splits on U+2028 / U+0085, which JSON strings may hold
    for i, line in enumerate(text.split("\n"), 1):
        line = line.removesuffix("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            ev = parse_event(line)
        except EventError as e:
            raise EventError(f"{path}:{i}: {e}") from None
        out.append(json.loads(ev.model_dump_json()))
    return out


class ReplayStats:
    def __init__(self):
        self.applied = 0
        self.rejected = 0
        self.skipped = 0
        self.messages = 0


def replay(engine, events: Iterable[dict], *, speed: float = 60.0, sleep: Callable[[float], None] = _time.sleep,
           on_event: Callable | None = None, stop: Callable[[], bool] | None = None,
           tick_s: float = 1.0, wall_ticks: bool = False) -> ReplayStats:
    """Feed ``events`` to ``engine`` at ``speed`` x real time (0 = as fast as possible).

    Events the engine already holds are skipped (a restarted replay resumes;
    ``tick`` events older than the engine's clock too: they changed nothing
    the first time). ``wall_ticks``: also move the clock every ``tick_s``
    real seconds while waiting (for event lists without ticks; the outcome
    then depends on the wall clock).
    """
    stats = ReplayStats()
    events = list(events)
    engine.flush()
    if not events:
        return stats
    t0_wall = _time.monotonic()
    clock = engine.clock.isoformat() if engine.clock is not None else None
    todo = [e for e in events if not engine.has_event(e["id"])
            and not (e["type"] == "tick" and clock is not None and e["time"] <= clock)]
    stats.skipped = len(events) - len(todo)
    if not todo:
        return stats
    t0_sim = dt.datetime.fromisoformat(todo[0]["time"])
    for e in todo:
        if stop is not None and stop():
            break
        t_sim = dt.datetime.fromisoformat(e["time"])
        if speed > 0:
            while True:
                due = t0_wall + (t_sim - t0_sim).total_seconds() / speed
                wait = due - _time.monotonic()
                if wait <= 0:
                    break
                sleep(min(wait, tick_s))
                if stop is not None and stop():
                    return stats
                now_sim = t0_sim + dt.timedelta(seconds=(_time.monotonic() - t0_wall) * speed)
                if wall_ticks and now_sim < t_sim:
                    engine.advance(now_sim.replace(microsecond=0), event_id=f"{e['id']}:tick:{now_sim:%H%M%S}")
        r = engine.apply(e, source="replay")
        if e is todo[0]:
            # the first event pays the warm-up (kernels loaded from the Numba cache, FLISR planner): start
            # the clock after it, so the events that follow are not applied in a burst to catch up
            t0_wall, t0_sim = _time.monotonic(), t_sim
        if r.accepted:
            stats.applied += 1
            stats.messages += r.messages
        else:
            stats.rejected += 1
        if on_event is not None:
            on_event(e, r)
        engine.flush()
    return stats
