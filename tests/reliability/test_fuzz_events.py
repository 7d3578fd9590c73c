"""Fuzzing live events: through the API (``LiveEngine.apply`` with a dict or JSON text, ``apply_batch``) and
from a JSON-lines file (``read_events_file``).

Each case is a short sequence: a few valid events that leave the 6-bus engine with an outage, a crew on
its way and open work orders, then valid events of every type mutated — fields of the wrong type, missing
or unknown fields, NaN / inf, huge numbers, unknown devices / elements / customers / outages, duplicated
ids, out-of-order and out-of-range times, unicode (lone surrogates too), very long strings, deeply nested
JSON, broken and oversized JSON text, non-UTF-8 bytes.

Holds when: ``apply`` never raises; a rejected event comes back with a one-line reason, is recorded in
the rejected log, and leaves the engine exactly as it was (snapshot version, clock, outages, energized
buses, open devices, faults, work orders, crews, KPIs; no message produced). ``read_events_file`` raises
only an EventError naming the file and line.
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import strategies as st

import fuzzkit
from fuzzkit import hostile, run_fuzz
from gridsim.errors import GridsimError

T0 = dt.datetime(2025, 1, 6, 16, 0, 0)


def at(minutes: float) -> str:
    return (T0 + dt.timedelta(minutes=minutes)).isoformat()


#: valid events leaving an outage (trip on switch:0 / line:1), a dispatched crew and work orders
PREFIX = [
    {"type": "breaker_trip", "id": "p1", "time": at(0), "device": "switch:0", "fault_element": "line:1",
     "cause": "weather", "actor": "scada"},
    {"type": "customer_call", "id": "p2", "time": at(2), "customer_id": "L0", "text": "lights out"},
    {"type": "crew_status", "id": "p3", "time": at(5), "crew_id": "crew-1", "status": "dispatched",
     "element": "line:1"},
]
#: one valid event of every type (on top of PREFIX)
TEMPLATES = [
    {"type": "breaker_trip", "id": "e", "time": at(10), "device": "switch:1", "cause": "equipment"},
    {"type": "breaker_reclose", "id": "e", "time": at(10), "device": "switch:0"},
    {"type": "switch_open", "id": "e", "time": at(10), "device": "switch:1", "outage_id": "O1"},
    {"type": "switch_close", "id": "e", "time": at(10), "device": "switch:2"},
    {"type": "fault_indicator", "id": "e", "time": at(10), "device": "switch:1"},
    {"type": "meter_last_gasp", "id": "e", "time": at(10), "customer_id": "L2"},
    {"type": "meter_restored", "id": "e", "time": at(10), "customer_id": "L0"},
    {"type": "customer_call", "id": "e", "time": at(10), "customer_id": "L1", "text": "still out?"},
    {"type": "crew_status", "id": "e", "time": at(10), "crew_id": "crew-1", "status": "on_site",
     "outage_id": "O1", "location_bus": 2},
    {"type": "repair_complete", "id": "e", "time": at(10), "element": "line:1", "crew_id": "crew-1"},
    {"type": "planned_outage_scheduled", "id": "e", "time": at(10), "planned_id": "P1", "elements": ["line:3"],
     "start": at(600), "end": at(720), "reason": "maintenance"},
    {"type": "planned_outage_started", "id": "e", "time": at(10), "planned_id": "P1"},
    {"type": "planned_outage_ended", "id": "e", "time": at(10), "planned_id": "P1"},
    {"type": "measurement", "id": "e", "time": at(10), "element": "line:0", "quantity": "i_ka", "value": 0.12},
    {"type": "work_order_update", "id": "e", "time": at(10), "work_order_id": "O1-repair", "status": "acknowledged",
     "note": "on it"},
    {"type": "tick", "id": "e", "time": at(10)},
]
FIELDS = sorted({k for t in TEMPLATES + PREFIX for k in t} | {"v", "actor", "colour", "Type", "ID", ""})
REFS = ["switch:0", "switch:3", "switch:99", "fuse:line:1", "line:1", "line:99", "trafo:0", "bus:5", "L0", "L9",
        "O1", "O9", "P1", "crew-1", "crew-9", "O1-repair", "O1-switching", "line:-1", "switch:1e3", "x" * 129]
TIMES = [at(-120), at(-61), at(0), at(9999999), "1969-12-31T23:59:59", "2200-01-01T00:00:01", "2025-02-30T00:00:00",
         "2025-01-06T16:00:00+14:00", "2025-01-06T16:00:00Z", "2025-01-06", "16:00", "0", "", "nan", 1e300, -1,
         1736179200, True, "2025-01-06T16:00:00.999999999", "9999-12-31T23:59:59", "2025-W02-1T16:00"]


@st.composite
def hostile_event(draw):
    """(description, event): what goes into ``apply`` (a dict, JSON text, bytes or another object)."""
    kind = draw(st.sampled_from(["field", "field", "field", "ref", "time", "drop", "add", "dup_id", "type",
                                 "text", "raw", "valid"]))
    ev = copy.deepcopy(draw(st.sampled_from(TEMPLATES)))
    ev["id"] = f"f{draw(st.integers(0, 10**6))}"
    if kind == "field":
        ev[draw(st.sampled_from(sorted(ev)))] = draw(hostile)
    elif kind == "ref":
        keys = [k for k in ev if k in ("device", "fault_element", "element", "customer_id", "outage_id", "crew_id",
                                       "planned_id", "work_order_id")]
        if keys:
            ev[draw(st.sampled_from(keys))] = draw(st.sampled_from(REFS))
    elif kind == "time":
        ev[draw(st.sampled_from(["time", "start", "end"] if "start" in ev else ["time"]))] = \
            draw(st.sampled_from(TIMES))
    elif kind == "drop":
        ev.pop(draw(st.sampled_from(sorted(ev))))
    elif kind == "add":
        ev[draw(st.one_of(st.sampled_from(FIELDS), st.text(max_size=8)))] = draw(hostile)
    elif kind == "dup_id":
        ev["id"] = draw(st.sampled_from(["p1", "p2", "p3"]))
    elif kind == "type":
        ev["type"] = draw(st.one_of(st.sampled_from(["BREAKER_TRIP", "breaker trip", "", "tick ", "__class__"]),
                                    hostile))
    if kind == "text":
        mode = draw(st.sampled_from(["json", "truncate", "deep", "oversize", "bytes", "not_object", "nan",
                                     "surrogate", "dup_keys"]))
        return ("text", mode, ev, draw(st.integers(0, 10**6)))
    if kind == "raw":
        return ("raw", draw(st.sampled_from(["none", "list", "int", "set", "object", "deep", "float_nan"])),
                ev, 0)
    return ("dict", kind, ev, 0)


def materialise(case):
    """The object handed to ``apply`` for a :func:`hostile_event` case."""
    what, mode, ev, n = case
    if what == "dict":
        return fuzzkit.real(ev)
    if what == "raw":
        return {"none": None, "list": [fuzzkit.real(ev)], "int": 7, "set": {1, 2}, "object": object(),
                "deep": fuzzkit.nested(3000, fuzzkit.real(ev), "dict"), "float_nan": float("nan")}[mode]
    text = fuzzkit.json_dumps_loose(ev)
    if mode == "json":
        return text
    if mode == "truncate":
        return text[: n % (len(text) + 1)]
    if mode == "deep":
        return text[:-1] + ', "x": ' + fuzzkit.nested_text(1000 + n % 100_000) + "}"
    if mode == "oversize":
        return text[:-1] + ', "text": "' + "a" * (16 * 1024 + n % 100_000) + '"}'
    if mode == "bytes":
        return text.encode() + b"\xff\xfe"
    if mode == "not_object":
        return json.dumps([ev])
    if mode == "nan":
        return text[:-1] + ', "value": NaN}'
    if mode == "surrogate":
        return text.replace('"id": "', '"id": "\\ud800', 1)
    return text[:-1] + f', "id": "dup{n}"' + "}"


def state_of(engine) -> dict:
    """Everything a rejected event must leave alone."""
    s = engine.snapshot()
    return {"version": s.version, "time": s.time, "energized": s.bus_energized.tolist(), "bus_outage": s.bus_outage,
            "faulted": s.faulted, "open_devices": s.open_devices, "outages": s.outages, "work_orders": s.work_orders,
            "crews": s.crews, "kpis": s.kpis, "measurements": s.measurements, "sent": len(engine.sent),
            "events": engine.store.count("live_events") if engine.store is not None else None,
            "seen": len(engine._seen)}


def check_sequence(cases, topo, root: Path) -> None:
    from gridsim.live import LiveEngine

    folder = Path(tempfile.mkdtemp(dir=root))
    engine = LiveEngine(topo, db=folder / "live.db", options={"crews": [{"id": "crew-1", "depot": 1}]})
    try:
        _check_sequence(engine, cases)
    finally:
        engine.close()
        shutil.rmtree(folder, ignore_errors=True)


def _check_sequence(engine, cases) -> None:
    for ev in PREFIX:
        r = engine.apply(ev)
        assert r.accepted, r.reason
    for case in cases:
        before = state_of(engine)
        n_rejected = len(engine.rejected(10_000))
        try:
            event = materialise(case)
            r = engine.apply(event)
        except fuzzkit.Hang:
            raise
        except Exception as e:  # noqa: BLE001 - apply must never raise on bad input
            raise AssertionError(f"apply raised {type(e).__name__}: {str(e)[:300]}") from e
        if r.accepted:
            continue
        after = state_of(engine)
        changed = {k for k in before if before[k] != after[k]}
        assert not changed, f"rejected event ({r.reason[:200]}) changed {sorted(changed)}"
        assert len(engine.rejected(10_000)) == n_rejected + 1, "rejected event not recorded"
        assert r.reason and "\n" not in r.reason and len(r.reason) <= fuzzkit.MAX_MESSAGE_CHARS, r.reason[:300]


@pytest.fixture(scope="module")
def tiny_topo(tmp_path_factory, tiny_json_text):
    from gridsim.core import compile_topology
    from gridsim.model import load_model

    path = tmp_path_factory.mktemp("events") / "net.json"
    path.write_text(tiny_json_text)
    return compile_topology(load_model(str(path)))


@pytest.mark.parametrize("size", fuzzkit.SIZES)
def test_fuzz_events_api(size, tiny_topo, tmp_path):
    seqs = st.lists(hostile_event(), min_size=1, max_size=4)
    run_fuzz("events (API)", seqs, lambda c: check_sequence(c, tiny_topo, tmp_path), size)


# --------------------------------------------------------------------------- JSON lines file

def lines_of(cases, extra) -> bytes:
    out = []
    for ev in PREFIX:
        out.append(json.dumps(ev).encode())
    for case in cases:
        if case[0] == "dict":
            out.append(fuzzkit.json_dumps_loose(case[2]).encode("utf-8", "surrogatepass"))
            continue
        if case[0] == "raw":
            out.append({"none": "null", "list": "[" + fuzzkit.json_dumps_loose(case[2]) + "]", "int": "7",
                        "set": "{1, 2}", "object": "<object>", "deep": fuzzkit.nested_text(3000, "dict"),
                        "float_nan": "NaN"}[case[1]].encode("utf-8", "surrogatepass"))
            continue
        obj = materialise(case)
        if isinstance(obj, bytes):
            out.append(obj)
        elif isinstance(obj, str):
            out.append(obj.replace("\n", " ").encode("utf-8", "surrogatepass"))
        else:
            try:
                out.append(fuzzkit.json_dumps_loose(obj).encode("utf-8", "surrogatepass"))
            except (TypeError, ValueError):
                out.append(repr(obj).encode())
    mode, n = extra
    data = b"\n".join(out) + b"\n"
    if mode == "crlf":
        data = data.replace(b"\n", b"\r\n")
    elif mode == "comments":
        data = b"# events\n\n" + data
    elif mode == "bom":
        data = b"\xef\xbb\xbf" + data
    elif mode == "truncate":
        data = data[: n % (len(data) + 1)]
    elif mode == "nul":
        data = data.replace(b"{", b"\x00{", 1)
    return data


def check_events_file(data: bytes, root: Path) -> None:
    from gridsim.live import read_events_file

    folder = Path(tempfile.mkdtemp(dir=root))
    try:
        path = folder / "events.jsonl"
        path.write_bytes(data)
        try:
            events = read_events_file(path)
        except GridsimError as e:
            fuzzkit.assert_clear(e, names=(str(path),))
            return
        except fuzzkit.Hang:
            raise
        except Exception as e:  # noqa: BLE001
            raise AssertionError(f"read_events_file crashed: {type(e).__name__}: {str(e)[:300]}") from e
        # what is accepted is plain JSON that parses again
        json.dumps(events, allow_nan=False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("size", fuzzkit.SIZES)
def test_fuzz_events_jsonl_file(size, tmp_path):
    cases = st.tuples(st.lists(hostile_event(), min_size=0, max_size=4),
                      st.tuples(st.sampled_from(["plain", "crlf", "comments", "bom", "truncate", "nul"]),
                                st.integers(0, 10**5)))
    run_fuzz("events (JSON lines file)", cases, lambda c: check_events_file(lines_of(*c), tmp_path), size)


def explore():  # for exploration scripts: (strategy, check)
    from gridsim.core import compile_topology
    from gridsim.model import load_model

    root = Path(tempfile.mkdtemp())
    (root / "net.json").write_text(fuzzkit.compact_net_json(fuzzkit.tiny_net()))
    topo = compile_topology(load_model(str(root / "net.json")))
    return st.lists(hostile_event(), min_size=1, max_size=4), lambda c: check_sequence(c, topo, root)


def explore_file():
    root = Path(tempfile.mkdtemp())
    cases = st.tuples(st.lists(hostile_event(), min_size=0, max_size=4),
                      st.tuples(st.sampled_from(["plain", "crlf", "comments", "bom", "truncate", "nul"]),
                                st.integers(0, 10**5)))
    return cases, lambda c: check_events_file(lines_of(*c), root)
