"""What-if questions on a private copy of the live state (:meth:`LiveEngine.fork`).

:func:`run_whatif` applies one hypothetical event (a fault, a switch
operation, a planned outage) to a fork of the engine, moves the fork's clock
past the notice delay and compares it with the live state: who loses (or
regains) supply, by class; the FLISR switching plan with its capacity figures;
the restoration plan (crew routes and ETRs) and how the other outages' ETRs
move; the notices that would go out. Nothing reaches the live state or the
queues: the fork has neither a database nor a queue. The answer is a plain
JSON-ready dict (kept in the browser's ``dcc.Store``).
"""
from __future__ import annotations

import datetime as dt
import math
import uuid
from collections import Counter

import numpy as np

from gridsim.errors import GridsimError

__all__ = ["run_whatif", "whatif_event", "WhatIfError", "KINDS"]

KINDS = ("fault", "switch", "planned")


class WhatIfError(GridsimError):
    """A what-if question that cannot be asked (unknown element, bad window...)."""


def _iso(t) -> str | None:
    return None if t is None else t.isoformat(timespec="seconds")


def whatif_event(kind: str, *, element: str | None = None, action: str = "open", elements=(), start_in_min: float = 0,
                 duration_min: float = 60, reason: str = "maintenance", clock: dt.datetime | None = None,
                 device: str | None = None) -> dict:
    """The event body (no id/time/actor) a what-if applies and an operator would publish."""
    if kind == "fault":
        if not element:
            raise WhatIfError("choose an element to fault (click one on the map or pick it from the list)")
        body = {"type": "breaker_trip", "fault_element": element, "cause": "unknown"}
        if device and not device.startswith("source"):
            body["device"] = device
        return body
    if kind == "switch":
        if not element:
            raise WhatIfError("choose a switch to operate")
        if action not in ("open", "close"):
            raise WhatIfError(f"switch action must be open or close, not {action!r}")
        return {"type": f"switch_{action}", "device": element}
    if kind == "planned":
        els = [e for e in (elements or ()) if e]
        if not els:
            raise WhatIfError("choose at least one element to take out for the planned outage")
        if clock is None:
            raise WhatIfError("the engine has no clock yet: no event has arrived")
        try:
            start_in, dur = float(start_in_min), float(duration_min)
        except (TypeError, ValueError):
            raise WhatIfError("start and duration must be numbers of minutes") from None
        if not (math.isfinite(start_in) and math.isfinite(dur)) or not 0 <= start_in <= 365 * 1440 \
                or dur <= 0 or dur > 7 * 1440:
            raise WhatIfError("start in 0 min to 365 days, duration between 1 min and 7 days")
        start = clock + dt.timedelta(minutes=start_in)
        return {"type": "planned_outage_scheduled", "planned_id": f"UI-{uuid.uuid4().hex[:8]}",
                "elements": list(els), "start": _iso(start), "end": _iso(start + dt.timedelta(minutes=dur)),
                "reason": (reason or "maintenance")[:500]}
    raise WhatIfError(f"unknown what-if kind {kind!r}; one of {', '.join(KINDS)}")


def _by_class(topo, bus_rows: np.ndarray) -> dict:
    from gridsim.types import CLASS_ORDER
    if not len(bus_rows):
        return {}
    nodes = np.asarray(topo.bus_node)[bus_rows]
    counts = np.asarray(topo.node_class)[nodes].sum(axis=0, dtype=np.int64)
    return {c.value: int(counts[i]) for i, c in enumerate(CLASS_ORDER) if counts[i]}


def _restoration(engine, twin, now) -> tuple[list, str]:
    """Crew routes and ETRs for every active fault of the what-if world (the engine's strategy)."""
    from gridsim.core.topology import State
    from gridsim.restore import plan_restoration
    snap = twin.snapshot()
    faults = [o for o in snap.outages if o["type"] == "fault" and o.get("fault_element")
              and o["status"] not in ("restored", "cancelled", "repaired")]
    if not faults:
        return [], "no fault waits for a crew"
    spec = []
    for o in faults:
        start = dt.datetime.fromisoformat(o["start"])
        spec.append({"element": o["fault_element"], "start_min": -max((now - start).total_seconds() / 60.0, 0.0)})
    crews = engine.options.crews
    st = twin.state()
    pos = set(int(p) for p in engine.topo.element_positions([o["fault_element"] for o in faults]))
    state = State(st.switch_closed, tuple(p for p in st.faulted if p not in pos))
    import warnings

    from gridsim.restore.plan import PlanWarning
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PlanWarning)
            plan = plan_restoration(engine.topo, spec, crews, strategy=engine.options.strategy, state=state)
    except (GridsimError, ValueError) as e:
        return [], f"no restoration plan: {e}"
    by_el = {o["fault_element"]: o["outage_id"] for o in faults}
    rows = []
    for r in plan.routes_frame().to_dict("records"):
        def at(m):
            return _iso(now + dt.timedelta(minutes=float(m)))[11:16] if math.isfinite(float(m)) else "-"
        rows.append({"crew": r["crew"], "order": int(r["position"]) + 1, "fault": r["fault"],
                     "outage": by_el.get(r["fault"], ""), "status": r["status"],
                     "travel_min": round(float(r["travel_min"]), 1), "repair_start": at(r["start_min"]),
                     "repair_end": at(r["finish_min"]), "etr": at(r["etr_min"]), "customers": int(r["customers"]),
                     "critical": int(r["critical"])})
    return rows, f"strategy {plan.strategy}: weighted CMI {plan.weighted_cmi:,.0f}, last repair at " \
                 f"+{plan.makespan_min:,.0f} min"


def _capacity(service, state) -> dict | None:
    try:
        from gridsim.restore.powerflow import check_capacity
        cap = check_capacity(service.pf_data(), service.topo, state)
    except Exception as e:  # noqa: BLE001 - capacity figures are a bonus: say why they are missing
        return {"error": f"{type(e).__name__}: {e}"}
    return {"ok": cap.ok, "max_loading_percent": round(float(cap.max_loading_percent), 1),
            "worst_element": cap.worst_element, "min_vm_pu": round(float(cap.min_vm_pu), 4)
            if math.isfinite(cap.min_vm_pu) else None, "overloaded": list(cap.overloaded[:10]),
            "voltage_violations": len(cap.voltage_violations)}


def run_whatif(service, kind: str, *, element: str | None = None, action: str = "open", elements=(),
               start_in_min: float = 60, duration_min: float = 120, reason: str = "maintenance",
               max_notices: int = 25) -> dict:
    """Answer one what-if on a fork of ``service.engine`` (see the module docstring)."""
    from gridsim.queues import render_message
    engine = service.engine
    topo = engine.topo
    live = engine.snapshot()
    now = engine.clock or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    # the device a fault trips (for the trip event, as SCADA would report it)
    device = None
    if kind == "fault":
        from gridsim.core import find_affected
        try:
            imp = find_affected(topo, [element], state=engine.state()) if element else None
        except GridsimError as e:
            raise WhatIfError(str(e)) from None
        if imp is not None and imp.trips:
            device = imp.trips[0].device or None
    body = whatif_event(kind, element=element, action=action, elements=elements, start_in_min=start_in_min,
                        duration_min=duration_min, reason=reason, clock=now, device=device)
    twin = engine.fork()
    ev = dict(body, id=f"whatif:{uuid.uuid4().hex[:12]}", time=_iso(now), actor="what-if")
    r = twin.apply(ev, source="what-if")
    if not r.accepted:
        raise WhatIfError(r.reason)
    # past the notice delay: the notices a real event would send
    later = now + dt.timedelta(seconds=float(engine.options.notify_after_s) + 1.0)
    twin.advance(later, event_id=f"whatif-tick:{uuid.uuid4().hex[:8]}")
    after = twin.snapshot()
    before_en = np.asarray(live.bus_energized, bool)
    after_en = np.asarray(after.bus_energized, bool)
    lost = np.nonzero(before_en & ~after_en)[0]
    back = np.nonzero(~before_en & after_en)[0]
    planned_rows = None
    if kind == "planned":
        # during the window: the elements out on top of the live state
        from gridsim.core import find_affected
        imp = find_affected(topo, list(body["elements"]), state=engine.state())
        idx = {int(b): i for i, b in enumerate(np.asarray(topo.bus_ids).tolist())}
        planned_rows = np.array([idx[int(b)] for b in imp.buses if int(b) in idx], np.int64)
    affected = planned_rows if planned_rows is not None else lost
    by_class = _by_class(topo, affected)
    crit_classes = {c.value for c in topo.critical_classes}
    live_ids = {o["outage_id"]: o for o in live.outages}
    new = [o for o in after.outages if o["outage_id"] not in live_ids]
    etr_changes = []
    for o in after.outages:
        old = live_ids.get(o["outage_id"])
        if old is not None and old.get("etr") != o.get("etr") and o["status"] not in ("restored", "cancelled"):
            etr_changes.append({"outage": o["outage_id"], "etr_live": (old.get("etr") or "")[5:16].replace("T", " "),
                                "etr_whatif": (o.get("etr") or "")[5:16].replace("T", " ")})
    flisr = next((o.get("flisr") for o in new if o.get("flisr")), None)
    if kind == "fault" and flisr is None:
        from gridsim.restore import plan_flisr
        try:
            flisr = plan_flisr(topo, element, state=engine.state()).to_dict()
        except GridsimError:
            flisr = None
    restoration, restoration_note = _restoration(engine, twin, later) if kind == "fault" else ([], "")
    counts = Counter(q for q, _ in twin.sent)
    per_customer = [m for q, m in twin.sent if m.get("customer_id")]
    sample = []
    seen = set()
    for q, m in twin.sent:
        if len(sample) >= max_notices:
            break
        key = (q, m.get("id"))
        if key in seen:
            continue
        seen.add(key)
        sample.append({"queue": q, "message": render_message(m)})
    capacity = None
    if kind == "switch":
        capacity = _capacity(service, twin.state())
    n_cust = int(sum(by_class.values()))
    summary = {
        "customers_out": n_cust,
        "critical_out": int(sum(v for c, v in by_class.items() if c in crit_classes)),
        "buses_out": int(len(affected)),
        "customers_back": int(sum(_by_class(topo, back).values())) if len(back) else 0,
        "buses_back": int(len(back)),
        "new_outages": [o["outage_id"] for o in new],
        "tripping_device": (flisr or {}).get("tripping_device") or device or "",
        "notices": int(len(per_customer)),
    }
    if new:
        o = new[0]
        summary.update(etr=o.get("etr"), outage_customers=int(o.get("customers") or 0), status=o["status"])
    title = {"fault": f"fault on {element}", "switch": f"{action} {element}",
             "planned": f"planned outage of {', '.join(body.get('elements', []))} "
                        f"{(body.get('start') or '')[5:16].replace('T', ' ')} - "
                        f"{(body.get('end') or '')[11:16]}"}[kind]
    return {"kind": kind, "title": title, "element": element, "at": _iso(now), "version": int(live.version),
            "summary": summary, "by_class": [{"class": c, "customers": v, "critical": c in crit_classes}
                                             for c, v in sorted(by_class.items(), key=lambda kv: -kv[1])],
            "affected_bus_rows": [int(i) for i in affected.tolist()], "plan": flisr,
            "restoration": restoration, "restoration_note": restoration_note, "etr_changes": etr_changes,
            "notices": {"counts": dict(sorted(counts.items())), "sample": sample}, "capacity": capacity,
            "event": body if kind in ("switch", "planned") else None}
