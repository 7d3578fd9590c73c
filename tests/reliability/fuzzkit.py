"""Shared pieces of the fuzzing suite: hostile values, the bounded hypothesis runner, the hang guard and the
checks every rejected input must pass (only a GridsimError, one clear line naming what is wrong).

Each input has one property test parametrized ``reduced`` (runs in ``make test``) and ``heavy`` (marker
``reliability_heavy``, ``make test-reliability``); :func:`run_fuzz` picks the example count from that.
Runs are reproducible: ``derandomize=True`` (the examples are a function of the test's source), no example
database.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import signal
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from gridsim.errors import GridsimError

#: examples per input: (reduced, heavy)
DEFAULT_EXAMPLES = (150, 2000)

#: cases run per test id, printed in the terminal summary (tests/reliability/conftest.py)
CASES_RUN: dict[str, dict] = {}

#: an error message longer than this is not "one clear line"
MAX_MESSAGE_CHARS = 1000

SIZES = [pytest.param("reduced", id="reduced"),
         pytest.param("heavy", id="heavy", marks=pytest.mark.reliability_heavy)]


class Hang(Exception):
    """Raised by :func:`no_hang` when one case runs longer than its bound."""


@contextlib.contextmanager
def no_hang(seconds: float, what: str = "case"):
    """Fail (raise :class:`Hang`) if the block runs longer than ``seconds`` (SIGALRM; main thread only)."""
    def _alarm(signum, frame):
        raise Hang(f"{what} still running after {seconds:g} s (a hang)")
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_fuzz(name: str, strategy, check: Callable, size: str, *, examples: tuple[int, int] = DEFAULT_EXAMPLES,
             hang_s: float = 60.0, deadline_s: float = 30.0) -> int:
    """Run ``check(case)`` on ``examples[0]`` (reduced) or ``examples[1]`` (heavy) generated cases.

    ``check`` raises (an AssertionError, an unexpected exception, :class:`Hang`) when the case shows a bug.
    Returns the number of cases run (also recorded in :data:`CASES_RUN` for the summary)."""
    n = examples[1] if size == "heavy" else examples[0]
    stats = {"cases": 0, "seconds": 0.0}
    t0 = time.perf_counter()

    @settings(max_examples=n, deadline=dt.timedelta(seconds=deadline_s), derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=(Phase.explicit, Phase.generate, Phase.shrink),
              print_blob=False)
    @given(strategy)
    def prop(case):
        stats["cases"] += 1
        with no_hang(hang_s, name):
            check(case)

    try:
        prop()
    finally:
        stats["seconds"] = time.perf_counter() - t0
        CASES_RUN[f"{name}[{size}]"] = stats
    return stats["cases"]


# --------------------------------------------------------------------------- checks

def assert_clear(exc: BaseException, *, names: tuple[str, ...] = (), kinds: tuple[type, ...] = (GridsimError,)):
    """``exc`` is one of ``kinds``, its message is one non-empty line of bounded length, naming one of ``names``."""
    if not isinstance(exc, kinds):
        raise AssertionError(f"expected {', '.join(k.__name__ for k in kinds)}, got "
                             f"{type(exc).__name__}: {str(exc)[:300]}") from exc
    msg = str(exc)
    assert msg.strip(), f"{type(exc).__name__} with an empty message"
    assert "\n" not in msg and "\r" not in msg, f"message is not one line: {msg[:300]!r}"
    # a validation error lists every issue found (each bounded: ids are cut after 10)
    limit = MAX_MESSAGE_CHARS * max(1, len(getattr(exc, "issues", ())))
    assert len(msg) <= limit, f"message is {len(msg)} characters long: {msg[:200]!r}..."
    assert "Traceback" not in msg, msg[:300]
    if names:
        assert any(n in msg for n in names), f"message names none of {names}: {msg[:300]!r}"


def expect_gridsim_error(fn: Callable, *args, names: tuple[str, ...] = (), **kwargs):
    """Call ``fn``; return its result, or None after checking the GridsimError it raised."""
    try:
        return fn(*args, **kwargs)
    except GridsimError as e:
        assert_clear(e, names=names)
        return None
    except Hang:
        raise
    except Exception as e:  # noqa: BLE001 - this is the bug we are hunting
        raise AssertionError(f"crash: {type(e).__name__}: {str(e)[:300]}") from e


# --------------------------------------------------------------------------- hostile values

def nested(depth: int, leaf=0, kind: str = "list"):
    """A value nested ``depth`` levels deep (iteratively built: no recursion here)."""
    v = leaf
    for _ in range(depth):
        v = [v] if kind == "list" else {"a": v}
    return v


def nested_text(depth: int, kind: str = "list") -> str:
    return ("[" * depth + "0" + "]" * depth) if kind == "list" else ('{"a":' * depth + "0" + "}" * depth)


#: strings that have broken parsers somewhere
NASTY_STRINGS = ["", " ", "\x00", "\n", "\r\n", "nan", "NaN", "inf", "-inf", "Infinity", "1e400", "-1e400",
                 "9" * 40, "-" + "9" * 40, "0x1F", "1_000", "١٢٣", "½", "None", "null", "true", "[]", "{}",
                 "'; DROP TABLE queue_messages; --", "../../etc/passwd", "%s%s%n", "{0}", "${HOME}", "\u202e",
                 "\ufeff", "😀", "ß", "İ", "\ud7ff", "a\u0000b", "line:1", "switch:0", "bus:-1", "line:" + "9" * 30,
                 "<script>alert(1)</script>", "~", "/", "C:\\x", " 1 ", "+1", "1.", ".5", "1e5", "-0", "0.0",
                 "\ud800", "a\udcffb"]

_unicode = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


class Long:
    """A very long string, shown short in hypothesis' reports (:func:`real` makes the string)."""

    def __init__(self, char: str, n: int):
        self.char, self.n = char, n

    def __repr__(self) -> str:
        return f"Long({self.char!r} * {self.n})"


class Deep:
    """A value nested ``depth`` levels deep, shown short (hypothesis' printer recurses)."""

    def __init__(self, depth: int, kind: str):
        self.depth, self.kind = depth, kind

    def __repr__(self) -> str:
        return f"Deep({self.depth}, {self.kind!r})"


def real(value):
    """``value`` with every :class:`Long` / :class:`Deep` made real."""
    if isinstance(value, Long):
        return value.char * value.n
    if isinstance(value, Deep):
        return nested(value.depth, 0, value.kind)
    if isinstance(value, list):
        return [real(v) for v in value]
    if isinstance(value, tuple):
        return tuple(real(v) for v in value)
    if isinstance(value, dict):
        return {real(k): real(v) for k, v in value.items()}
    return value


long_strings = st.builds(Long, st.sampled_from(["a", "é", "😀", "0", " ", "\\", '"']), st.integers(1_000, 100_000))
numbers = st.one_of(
    st.integers(), st.integers(min_value=2**63 - 3, max_value=2**80),
    st.integers(min_value=-(2**80), max_value=-(2**63) + 3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, -0.0, 0, -1, 10**20, 2**53 + 1]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, _unicode, st.sampled_from(NASTY_STRINGS))
deep = st.builds(Deep, st.integers(50, 5000), st.sampled_from(["list", "dict"]))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(_unicode, inner, max_size=4)),
                           max_leaves=12)
#: any value a hostile JSON / YAML document may hold in one place
hostile = st.one_of(scalars, long_strings, deep, json_values)


def json_dumps_loose(value) -> str:
    """JSON text as an attacker would write it: NaN / Infinity allowed, non-ASCII kept, :class:`Deep` values
    written as deep as asked (json.dumps itself stops at ~1,000 levels)."""
    deep_parts: list[Deep] = []

    def swap(v):
        if isinstance(v, Deep):
            deep_parts.append(v)
            return f"@@DEEP{len(deep_parts) - 1}@@"
        if isinstance(v, list):
            return [swap(x) for x in v]
        if isinstance(v, dict):
            return {real(k): swap(x) for k, x in v.items()}
        return real(v)

    text = json.dumps(swap(value), allow_nan=True, ensure_ascii=False)
    for i, d in enumerate(deep_parts):
        text = text.replace(f'"@@DEEP{i}@@"', nested_text(d.depth, d.kind), 1)
    return text


# --------------------------------------------------------------------------- tiny model

STD = "NA2XS2Y 1x95 RM/25 12/20 kV"


def tiny_net():
    """A 6-bus net with every element kind gridsim reads (buses have lon / lat coordinates).

    ::

        ext_grid
           |
          b0 (110 kV) ==trafo0== b1 (20 kV) --line0-- b2 --line1-- b3
                                  [CB sw0 on line0 at b1]   \\
                                                             line2-- b4 --line3-- b5
                                       [LBS sw1 on line2 at b2]   [LBS sw2 on line3 at b5, open: tie to nothing]
        loads at b3, b4, b5; sgen at b3; bus-bus switch sw3 b4-b5 (closed)
    """
    import pandapower as pp

    net = pp.create_empty_network()
    b0 = pp.create_bus(net, vn_kv=110.0, name="b0", geodata=(7.80, 48.00))
    b = [b0] + [pp.create_bus(net, vn_kv=20.0, name=f"b{i}", geodata=(7.80 + 0.01 * i, 48.00 + 0.004 * i))
                for i in range(1, 6)]
    pp.create_ext_grid(net, b[0])
    pp.create_transformer(net, b[0], b[1], std_type="25 MVA 110/20 kV")
    pp.create_line(net, b[1], b[2], length_km=1.0, std_type=STD)
    pp.create_line(net, b[2], b[3], length_km=2.0, std_type=STD)
    pp.create_line(net, b[2], b[4], length_km=1.5, std_type=STD)
    pp.create_line(net, b[4], b[5], length_km=0.5, std_type=STD)
    pp.create_switch(net, b[1], 0, et="l", type="CB")
    pp.create_switch(net, b[2], 2, et="l", type="LBS")
    pp.create_switch(net, b[5], 3, et="l", type="LBS", closed=False)
    pp.create_switch(net, b[4], b[5], et="b", type="LBS")
    for bus, p in ((3, 0.4), (4, 0.1), (5, 0.2)):
        pp.create_load(net, b[bus], p_mw=p)
    pp.create_sgen(net, b[3], p_mw=0.05)
    return net


def compact_net_json(net) -> str:
    """pandapower JSON of ``net`` without the empty tables (pandapower recreates them; 3x faster to read)."""
    import pandapower as pp

    doc = json.loads(pp.to_json(net))
    obj = doc["_object"]
    for key in list(obj):
        v = obj[key]
        if key.startswith("res_") or key == "std_types":
            del obj[key]
        elif isinstance(v, dict) and v.get("_class") == "DataFrame":
            inner = json.loads(v["_object"])
            if not inner.get("data") and key not in ("bus", "line", "switch", "ext_grid", "load", "trafo"):
                del obj[key]
    return json.dumps(doc)


# --------------------------------------------------------------------------- web app

WEB_PASSWORDS = {"olga": "operator-pw-fuzz", "victor": "viewer-pw-fuzz"}


def web_client(app, user: str):
    """A Flask test client signed in as ``user`` (through the login form, with its CSRF token)."""
    import re
    c = app.server.test_client()
    page = c.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    r = c.post("/login", data={"username": user, "password": WEB_PASSWORDS[user], "csrf": csrf})
    assert r.status_code == 302
    return c
