"""IEEE 1366-2012 distribution reliability indices from an interruption log.

The log
-------
One row per *customer interruption record*:

``customer_id``
    The customer (or group of customers, see ``count``).
``start``, ``end``
    When supply was lost and restored. Either datetimes (``datetime64`` columns,
    ``Timestamp`` objects or ISO 8601 strings; time-zone-aware values are
    converted to UTC, naive ones are taken as UTC, so log in UTC or with
    offsets) or plain numbers (or timedeltas), read as **minutes** from any
    origin (e.g. simulation time). Both columns must be of the same kind; in a
    string column the first value decides (a number means minutes);
    ``end >= start``.
``count`` (optional, default 1)
    Number of customers the row stands for (aggregated rows). Non-negative
    integer. Aggregation convention: the rows of one ``customer_id`` describe
    the members of one group of identical customers and a row with
    ``count = k`` interrupts members ``1..k`` of the group. Hence the number of
    distinct customers of a group that were interrupted is the *maximum*
    ``count`` over its rows, and splitting a row of count ``k`` into ``k`` rows
    of count 1 with ids ``<id>#1 .. <id>#k`` leaves every index unchanged.
``p_kw`` (optional, default 0)
    Interrupted demand per customer of the row, for ENS.
``class`` (optional)
    Customer class (:class:`gridsim.types.CustomerClass` value) for the
    critical-customer hours; empty cells fall back to the ``customers`` table.
``event_id`` (optional)
    The event (fault / reclosing sequence) the interruption belongs to, for
    MAIFI\\ :sub:`E`. Empty cells make each row its own event.

Definitions (IEEE Std 1366-2012)
--------------------------------
``r_i`` is the duration of record *i* in minutes, ``N_i`` its ``count``,
``N_T`` the total number of customers served, ``T`` the period in hours.
A record with ``r_i > threshold`` (default 5 min) is a **sustained**
interruption, one with ``r_i <= threshold`` (an exactly 5-minute interruption
included, and zero-length records) is **momentary**.

- SAIFI = sum(N_i, sustained) / N_T
- SAIDI = sum(r_i N_i, sustained) / N_T  [min]
- CAIDI = SAIDI / SAIFI  [min]; **NaN** when SAIFI = 0 (no sustained
  interruption; ``to_dict`` gives ``None`` so the JSON is valid)
- CAIFI = sum(N_i, sustained) / CN, CN = distinct customers with at least one
  sustained interruption (max ``count`` per ``customer_id``); NaN when CN = 0
- ASAI = (N_T T - sum(r_i N_i, sustained) / 60) / (N_T T)
- MAIFI = sum(N_i, momentary) / N_T  (every momentary interruption counts)
- MAIFI_E = momentary interruption *events* / N_T. With an ``event_id`` column
  the momentary interruptions of one customer in one event (e.g. the reclosing
  shots of one fault) are one event, and an event in which that customer also
  has a sustained interruption is not counted (IEEE: MAIFI_E does not include
  the events immediately preceding a sustained interruption). Without
  ``event_id`` each momentary interruption is its own event, so MAIFI_E = MAIFI.
- CEMI_n = customers with **more than** n sustained interruptions / N_T
- CMI = sum(r_i N_i, sustained)  [customer minutes]
- ENS = sum(p_kw_i (r_i / 60) N_i, sustained)  [kWh]; 0 without ``p_kw``
- critical hours[c] = sum((r_i / 60) N_i, sustained, class c) for every class
  c in :data:`gridsim.types.CRITICAL_CLASSES`; ``{}`` when the log has no
  ``class`` column and no ``customers`` table was given. Customers whose class
  is unknown count for no class.

See ``docs/indices.md`` for worked examples.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from gridsim.errors import GridsimError, InputFileError
from gridsim.types import CLASS_ORDER, CRITICAL_CLASSES, CustomerClass

__all__ = ["Indices", "IndicesError", "LOG_COLUMNS", "compute_indices", "format_indices",
           "indices_command", "read_log"]

#: Required columns of an interruption log.
LOG_COLUMNS: tuple[str, ...] = ("customer_id", "start", "end")

_CLASS_VALUES: tuple[str, ...] = tuple(c.value for c in CLASS_ORDER)
_CRITICAL_ORDER: tuple[CustomerClass, ...] = tuple(c for c in CLASS_ORDER if c in CRITICAL_CLASSES)
_NS_PER_MIN = 60_000_000_000


class IndicesError(GridsimError, ValueError):
    """A bad argument to :func:`compute_indices` (``customers_served <= 0``, ...)."""


@dataclass(frozen=True)
class Indices:
    """IEEE 1366 indices of one log; definitions in :mod:`gridsim.reliability.indices`.

    Frequencies are per customer served over the period, durations in minutes,
    ``cmi`` in customer minutes, ``ens_kwh`` in kWh, ``critical_hours`` in
    customer hours. ``caidi`` / ``caifi`` are NaN when undefined.
    """

    saifi: float
    saidi: float
    caidi: float
    caifi: float
    asai: float
    maifi: float
    maifie: float
    cemi_n: float
    n: int
    cmi: float
    ens_kwh: float
    critical_hours: dict[CustomerClass, float] = field(default_factory=dict)
    #: CN: distinct customers with at least one sustained interruption.
    customers_interrupted: int = 0
    #: Sum of N_i over sustained records (customer interruptions).
    sustained_interruptions: int = 0
    #: Sum of N_i over momentary records.
    momentary_interruptions: int = 0
    #: Customer momentary interruption events (numerator of MAIFI_E).
    momentary_events: int = 0
    #: Customers with more than ``n`` sustained interruptions (numerator of CEMI_n).
    customers_above_n: int = 0
    customers_served: float = 0.0
    period_h: float = 8760.0
    momentary_threshold_min: float = 5.0

    def to_dict(self) -> dict:
        """Plain, JSON-safe dict (lower-case keys; NaN -> ``None``; class keys as strings)."""
        out: dict = {}
        for name in ("saifi", "saidi", "caidi", "caifi", "asai", "maifi", "maifie", "cemi_n", "n",
                     "cmi", "ens_kwh"):
            out[name] = _json_num(getattr(self, name))
        out["critical_hours"] = {str(c): float(h) for c, h in self.critical_hours.items()}
        for name in ("customers_interrupted", "sustained_interruptions", "momentary_interruptions",
                     "momentary_events", "customers_above_n", "customers_served", "period_h",
                     "momentary_threshold_min"):
            out[name] = _json_num(getattr(self, name))
        return out


def _json_num(v):
    if isinstance(v, (bool, int, np.integer)):
        return int(v)
    v = float(v)
    return None if math.isnan(v) else v


# --------------------------------------------------------------------------- parsing

class _Parsed(NamedTuple):
    ids: np.ndarray           # int64 codes into id_uniques
    id_uniques: pd.Index
    start: pd.Series          # datetime64[ns, UTC] or float64 minutes
    end: pd.Series
    dur_min: np.ndarray       # float64
    count: np.ndarray         # int64
    p_kw: np.ndarray | None   # float64
    cls: np.ndarray | None    # int8 index into CLASS_ORDER, -1 unknown
    events: np.ndarray | None  # int64 codes, every row a valid event


class _Bad(Exception):
    """Internal: (row position or None, column, message); turned into InputFileError."""

    def __init__(self, pos: int | None, column: str, message: str):
        super().__init__(message)
        self.pos, self.column, self.message = pos, column, message


def _first(mask) -> int:
    return int(np.flatnonzero(np.asarray(mask))[0])


def _blank_uniques(uniques) -> np.ndarray:
    u = pd.Index(uniques)
    if u.dtype != object and not isinstance(u.dtype, pd.StringDtype):
        return np.zeros(len(u), dtype=bool)
    # exactly "" (read_log strips cells, so blank CSV cells arrive as ""); vectorised on purpose
    return np.asarray(u.to_numpy(dtype=object) == "", dtype=bool)


def _factorize(s: pd.Series) -> tuple[np.ndarray, pd.Index, np.ndarray]:
    """-> (int64 codes, uniques, blank mask); NaN / None / "" are blank (code -1)."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    codes = np.asarray(codes, dtype=np.int64)
    empty_u = _blank_uniques(uniques)
    if empty_u.any():
        codes = np.where((codes >= 0) & empty_u[np.maximum(codes, 0)], -1, codes)
    return codes, pd.Index(uniques), codes < 0


def _is_blank(s: pd.Series) -> np.ndarray:
    """NaN / None / empty-string cells."""
    blank = s.isna().to_numpy(dtype=bool)
    if s.dtype == object or isinstance(s.dtype, pd.StringDtype):
        blank |= np.asarray(s.to_numpy(dtype=object) == "", dtype=bool)
    return blank


def _is_number(v) -> bool:
    if isinstance(v, str):
        try:
            float(v)
        except ValueError:
            return False
        return True
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _parse_time(s: pd.Series, column: str) -> tuple[str, pd.Series]:
    """-> ('dt', datetime64[ns, UTC] series) or ('min', float64 series)."""
    blank = _is_blank(s)
    if blank.any():
        raise _Bad(_first(blank), column, "missing time")
    dtype = s.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "dt", s.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    if pd.api.types.is_datetime64_dtype(dtype):
        return "dt", s.astype("datetime64[ns]").dt.tz_localize("UTC")
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "min", s.dt.total_seconds() / 60.0
    if pd.api.types.is_bool_dtype(dtype):
        raise _Bad(0, column, "expected datetimes or minutes, found booleans")
    if pd.api.types.is_numeric_dtype(dtype):
        num = s.astype(float)
        bad = ~np.isfinite(num.to_numpy())
        if bad.any():
            raise _Bad(_first(bad), column, f"{s.iloc[_first(bad)]!r} is not a finite number of minutes")
        return "min", num
    # object / string: the first value decides: a number -> minutes, else ISO 8601 datetimes
    # (to_numeric / to_datetime accept surrounding white space)
    obj = s.astype(object)
    if len(obj) and _is_number(obj.iloc[0]):
        num = pd.to_numeric(obj, errors="coerce")
        bad = ~np.isfinite(num.to_numpy(dtype=float))
        if bad.any():
            raise _Bad(_first(bad), column, f"{s.iloc[_first(bad)]!r} is not a number of minutes "
                                            f"(the column's first value is a number)")
        return "min", num.astype(float)
    try:
        dt = pd.to_datetime(obj, format="ISO8601", utc=True, errors="coerce")
    except (TypeError, ValueError, OverflowError) as exc:
        raise _Bad(None, column, f"cannot parse times: {exc}") from None
    bad = dt.isna().to_numpy()
    if bad.any():
        pos = _first(bad)
        raise _Bad(pos, column, f"{s.iloc[pos]!r} is not an ISO 8601 datetime")
    return "dt", dt.astype("datetime64[ns, UTC]")


def _parse_count(s: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(s.dtype):
        raise _Bad(0, "count", "expected a non-negative integer, found booleans")
    if pd.api.types.is_integer_dtype(s.dtype) and not s.isna().any():
        arr = s.to_numpy(dtype=np.int64)
    else:
        raw = s.astype(object) if not pd.api.types.is_numeric_dtype(s.dtype) else s
        num = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(num) | (num != np.floor(num))
        if bad.any():
            pos = _first(bad)
            raise _Bad(pos, "count", f"{s.iloc[pos]!r} is not an integer")
        arr = num.astype(np.int64)
    neg = arr < 0
    if neg.any():
        pos = _first(neg)
        raise _Bad(pos, "count", f"negative count {int(arr[pos])}")
    return arr


def _parse_p_kw(s: pd.Series) -> np.ndarray:
    blank = _is_blank(s)
    raw = s if pd.api.types.is_numeric_dtype(s.dtype) else s.astype(object).where(~blank, None)
    if pd.api.types.is_bool_dtype(s.dtype):
        raise _Bad(0, "p_kw", "expected a number of kW, found booleans")
    num = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = (np.isnan(num) & ~blank) | np.isinf(num)
    if bad.any():
        pos = _first(bad)
        raise _Bad(pos, "p_kw", f"{s.iloc[pos]!r} is not a number")
    num = np.where(blank, 0.0, num)
    neg = num < 0
    if neg.any():
        pos = _first(neg)
        raise _Bad(pos, "p_kw", f"negative demand {num[pos]}")
    return num


def _class_index(values) -> np.ndarray:
    """Class labels (str / CustomerClass / blank) -> int8 index into CLASS_ORDER, -1 blank; _Bad on unknown."""
    lookup = {v: i for i, v in enumerate(_CLASS_VALUES)}
    out = np.empty(len(values), dtype=np.int8)
    for j, u in enumerate(values):
        if u is None or (isinstance(u, float) and math.isnan(u)) or (isinstance(u, str) and not u.strip()):
            out[j] = -1
            continue
        key = str(u).strip().lower()
        if key not in lookup:
            raise _Bad(j, "class", f"class {str(u)!r} is not one of {', '.join(_CLASS_VALUES)}")
        out[j] = lookup[key]
    return out


def _parse_class(s: pd.Series) -> np.ndarray:
    codes, uniques, _ = _factorize(s)
    try:
        per_unique = _class_index(list(uniques))
    except _Bad as bad:
        raise _Bad(_first(codes == bad.pos), "class", bad.message) from None
    return np.append(per_unique, np.int8(-1))[codes]  # code -1 (blank) -> -1


def _parse_events(s: pd.Series) -> np.ndarray:
    codes, uniques, blank = _factorize(s)
    if blank.any():  # a row without an event is an event of its own
        codes[blank] = len(uniques) + np.arange(int(blank.sum()), dtype=np.int64)
    return codes


def _customer_classes(customers, id_uniques: pd.Index) -> np.ndarray:
    """Class index per unique customer id from a customers table / mapping (-1 unknown)."""
    if isinstance(customers, pd.DataFrame):
        missing = [c for c in ("customer_id", "class") if c not in customers.columns]
        if missing:
            raise IndicesError(f"customers table: missing column(s) {', '.join(missing)}; "
                               f"expected customer_id and class")
        table = pd.Series(customers["class"].to_numpy(), index=customers["customer_id"].to_numpy())
    elif isinstance(customers, pd.Series):
        table = customers
    elif isinstance(customers, Mapping):
        table = pd.Series(list(customers.values()), index=list(customers.keys()), dtype=object)
    else:
        raise IndicesError(f"customers: expected a DataFrame with customer_id and class, a Series or a "
                           f"mapping customer_id -> class, found {type(customers).__name__}")
    table = table[~table.index.duplicated(keep="first")]
    table.index = table.index.astype(str)
    codes, uniques, _ = _factorize(table.astype(object))
    try:
        per_unique = _class_index(list(uniques))
    except _Bad as bad:
        pos = _first(codes == bad.pos)
        raise IndicesError(f"customers table, customer {table.index[pos]!r}: {bad.message}") from None
    cls_of_table = np.append(per_unique, np.int8(-1))[codes]
    pos = pd.Index(table.index).get_indexer(id_uniques.astype(str))
    return np.append(cls_of_table, np.int8(-1))[pos]  # ids missing from the table: -1


def _parse(df: pd.DataFrame, customers=None) -> _Parsed:
    """Validate and convert a log; raises _Bad(pos, column, message)."""
    missing = [c for c in LOG_COLUMNS if c not in df.columns]
    if missing:
        raise _Bad(None, missing[0], f"missing column(s) {', '.join(repr(m) for m in missing)}; an "
                                     f"interruption log needs {','.join(LOG_COLUMNS)}")
    ids, id_uniques, blank = _factorize(df["customer_id"])
    if blank.any():
        raise _Bad(_first(blank), "customer_id", "empty customer id")
    kind_s, start = _parse_time(df["start"], "start")
    kind_e, end = _parse_time(df["end"], "end")
    if kind_s != kind_e:
        what = {"dt": "datetimes", "min": "minutes (numbers)"}
        raise _Bad(0, "end", f"end holds {what[kind_e]} but start holds {what[kind_s]}; use the same kind")
    if kind_s == "dt":
        ns = end.array.asi8 - start.array.asi8
        neg = ns < 0
        dur = ns / _NS_PER_MIN
    else:
        dur = end.to_numpy(dtype=float) - start.to_numpy(dtype=float)
        neg = dur < 0
    if neg.any():
        pos = _first(neg)
        raise _Bad(pos, "end", f"end {end.iloc[pos]} is before start {start.iloc[pos]}")
    count = _parse_count(df["count"]) if "count" in df.columns else np.ones(len(df), dtype=np.int64)
    p_kw = _parse_p_kw(df["p_kw"]) if "p_kw" in df.columns else None
    cls = _parse_class(df["class"]) if "class" in df.columns else None
    if customers is not None:
        from_table = _customer_classes(customers, id_uniques)[ids]
        cls = from_table if cls is None else np.where(cls >= 0, cls, from_table).astype(np.int8)
    events = _parse_events(df["event_id"]) if "event_id" in df.columns else None
    return _Parsed(ids, id_uniques, start, end, np.asarray(dur, dtype=float),
                   count, p_kw, cls, events)


# --------------------------------------------------------------------------- reading

def read_log(path) -> pd.DataFrame:
    """Read and validate an interruption log from ``.csv`` (any other suffix) or ``.parquet``.

    Returns a DataFrame with ``customer_id`` (str), ``start``/``end``
    (``datetime64[ns, UTC]``, or float minutes when the file holds numbers),
    ``count`` (int64), and, when present, ``p_kw`` (float, blanks 0),
    ``class`` (lower-case str, blanks ``None``), ``event_id`` (str, blanks
    ``None``); any other column is kept as read. Raises
    :class:`~gridsim.errors.InputFileError` naming the file, line (CSV; the
    header is line 1) or row (parquet) and column of the first problem:
    missing columns, unparsable times, ``end < start``, negative or
    non-integer counts, bad ``p_kw``, unknown classes.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: interruption log not found")
    parquet = path.suffix.lower() in {".parquet", ".pq"}
    try:
        if parquet:
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise InputFileError(f"{path.name} line 1: file is empty; expected a header line with "
                             f"{','.join(LOG_COLUMNS)} ({path})") from None
    except pd.errors.ParserError as exc:
        msg = " ".join(str(exc).split())
        raise InputFileError(f"{path.name}: malformed CSV: {msg} ({path})") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:  # pyarrow raises ArrowInvalid, a ValueError
        msg = " ".join(str(exc).split())
        raise InputFileError(f"{path.name}: cannot read: {msg} ({path})") from None
    df.columns = [str(c).strip() for c in df.columns]
    if not parquet:  # skipinitialspace strips the left; strip the right of the text columns
        for col in ("customer_id", "class", "event_id"):
            if col in df.columns:
                codes, uniques = pd.factorize(df[col])
                df[col] = pd.Index(uniques, dtype=object).str.strip().take(codes).to_numpy(dtype=object)

    def where(pos: int | None) -> str:
        if pos is None:
            return path.name if parquet else f"{path.name} line 1"
        return f"{path.name} row {pos + 1}" if parquet else f"{path.name} line {pos + 2}"

    try:
        p = _parse(df)
    except _Bad as bad:
        raise InputFileError(f"{where(bad.pos)}: column '{bad.column}': {bad.message} ({path})") from None
    out = df.copy()
    out["customer_id"] = df["customer_id"].astype(str).to_numpy(dtype=object)
    out["start"], out["end"] = p.start, p.end
    out["count"] = p.count
    if p.p_kw is not None:
        out["p_kw"] = p.p_kw
    if p.cls is not None:
        labels = np.array([None, *_CLASS_VALUES], dtype=object)
        out["class"] = labels[p.cls.astype(np.int64) + 1]
    if "event_id" in df.columns:
        ev = df["event_id"]
        out["event_id"] = np.where(_is_blank(ev), None, ev.astype(str).to_numpy(dtype=object))
    return out


# --------------------------------------------------------------------------- computing

def _label(v) -> str:
    v = v.item() if isinstance(v, np.generic) else v
    return repr(v) if isinstance(v, str) else str(v)


def _check_args(customers_served, momentary_threshold_min, cemi_n, period_h) -> None:
    def real(v) -> bool:
        return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))

    if not real(customers_served) or not math.isfinite(customers_served) or customers_served <= 0:
        raise IndicesError(f"customers_served must be a positive number of customers, got {customers_served!r}")
    if not real(momentary_threshold_min) or not math.isfinite(momentary_threshold_min) \
            or momentary_threshold_min < 0:
        raise IndicesError(f"momentary_threshold_min must be a non-negative number of minutes, "
                           f"got {momentary_threshold_min!r}")
    if not isinstance(cemi_n, (int, np.integer)) or isinstance(cemi_n, (bool, np.bool_)) or cemi_n < 0:
        raise IndicesError(f"cemi_n must be a non-negative integer, got {cemi_n!r}")
    if not real(period_h) or not math.isfinite(period_h) or period_h <= 0:
        raise IndicesError(f"period_h must be a positive number of hours, got {period_h!r}")


def _group_rank_sums(ids: np.ndarray, count: np.ndarray, n: int) -> tuple[int, int]:
    """(sum over ids of the largest count, sum over ids of the (n+1)-th largest count).

    The first is the number of distinct customers (aggregation convention), the
    second the number of customers with more than ``n`` records.
    """
    if len(ids) == 0:
        return 0, 0
    if count.min() == count.max() == 1:  # the common case: no aggregation, no sort needed
        per_id = np.bincount(ids)
        return int((per_id > 0).sum()), int((per_id > n).sum())
    if n == 0:
        per_id = np.zeros(int(ids.max()) + 1, dtype=np.int64)
        np.maximum.at(per_id, ids, count)
        distinct = int(per_id.sum())
        return distinct, distinct
    per_id = np.zeros(int(ids.max()) + 1, dtype=np.int64)
    np.maximum.at(per_id, ids, count)
    distinct = int(per_id.sum())
    keep = np.bincount(ids)[ids] > n            # only customers with more than n records matter
    ids, count = ids[keep], count[keep]
    if len(ids) == 0:
        return distinct, 0
    span = int(count.max()) + 1
    if (int(ids.max()) + 1) * span < 2**62:  # one int64 key: id ascending, count descending
        order = np.argsort(ids * span + (span - 1 - count))
    else:
        order = np.lexsort((-count, ids))
    sid, scount = ids[order], count[order]
    pos = np.arange(len(sid))
    new = np.empty(len(sid), dtype=bool)
    new[0] = True
    new[1:] = sid[1:] != sid[:-1]
    rank = pos - np.maximum.accumulate(np.where(new, pos, 0))
    return distinct, int(scount[rank == n].sum())


def _momentary_events(p: _Parsed, sus: np.ndarray, mom: np.ndarray) -> int:
    """Customer momentary interruption events (numerator of MAIFI_E)."""
    if p.events is None:
        return int(p.count[mom].sum())
    if not mom.any():
        return 0
    # only sustained rows of customers with a momentary interruption can cover one
    has_mom = np.zeros(len(p.id_uniques), dtype=bool)
    has_mom[p.ids[mom]] = True
    rows = mom | (sus & has_mom[p.ids])
    n_ev = int(p.events.max()) + 1
    key = p.ids[rows] * n_ev + p.events[rows]   # (customer, event)
    codes, uniques = pd.factorize(key)
    cnt, is_mom = p.count[rows], mom[rows]
    mom_max = np.zeros(len(uniques), dtype=np.int64)
    np.maximum.at(mom_max, codes[is_mom], cnt[is_mom])
    # a sustained interruption of the same customer in the same event covers its momentaries
    sus_max = np.zeros(len(uniques), dtype=np.int64)
    np.maximum.at(sus_max, codes[~is_mom], cnt[~is_mom])
    return int(np.maximum(mom_max - sus_max, 0).sum())


def compute_indices(log, customers_served, *, momentary_threshold_min: float = 5.0, cemi_n: int = 1,
                    period_h: float = 8760.0, customers=None) -> Indices:
    """IEEE 1366-2012 indices of an interruption log.

    ``log`` is a DataFrame or a path read with :func:`read_log` (see the module
    docstring for the columns and for every definition). ``customers_served``
    is N_T; ``momentary_threshold_min`` separates momentary (``<=``) from
    sustained (``>``) interruptions; ``cemi_n`` is the n of CEMI_n (customers
    with *more than* n sustained interruptions); ``period_h`` the length T of
    the reporting period for ASAI; ``customers`` (a customers table with
    ``customer_id`` and ``class``, or a mapping / Series customer_id -> class)
    supplies classes for rows without a ``class`` value.

    In short, with r_i minutes and N_i customers per record::

        SAIFI  = sum N_i (sustained) / N_T
        SAIDI  = sum r_i N_i (sustained) / N_T                  [min]
        CAIDI  = SAIDI / SAIFI                                  [min, NaN if SAIFI = 0]
        CAIFI  = sum N_i (sustained) / CN                       [NaN if CN = 0]
        ASAI   = (N_T T - sum r_i N_i / 60) / (N_T T)
        MAIFI  = sum N_i (momentary) / N_T
        MAIFIe = momentary events / N_T                         [= MAIFI without event_id]
        CEMIn  = customers with > n sustained interruptions / N_T
        CMI    = sum r_i N_i (sustained)                        [customer min]
        ENS    = sum p_kw_i r_i/60 N_i (sustained)              [kWh]

    Raises :class:`IndicesError` on bad arguments (e.g. ``customers_served <=
    0`` or fewer customers served than customers interrupted) and
    :class:`~gridsim.errors.InputFileError` on a malformed log.
    """
    _check_args(customers_served, momentary_threshold_min, cemi_n, period_h)
    if isinstance(log, (str, Path)):
        log = read_log(log)
    if not isinstance(log, pd.DataFrame):
        raise IndicesError(f"log: expected a DataFrame or a path to a .csv / .parquet file, "
                           f"found {type(log).__name__}")
    try:
        p = _parse(log, customers)
    except _Bad as bad:
        where = "interruption log" if bad.pos is None else f"interruption log row {_label(log.index[bad.pos])}"
        raise InputFileError(f"{where}: column '{bad.column}': {bad.message}") from None

    n_t = float(customers_served)
    n = int(cemi_n)
    sus = p.dur_min > float(momentary_threshold_min)
    mom = ~sus
    cnt_s = p.count[sus]
    dur_s = p.dur_min[sus]
    weight_min = dur_s * cnt_s                      # r_i N_i
    sustained = int(cnt_s.sum())
    momentary = int(p.count[mom].sum())
    cmi = float(weight_min.sum())
    distinct, above_n = _group_rank_sums(p.ids[sus], cnt_s, n)
    if distinct > n_t:
        raise IndicesError(f"customers_served={customers_served!r} is less than the {distinct} distinct "
                           f"customers with a sustained interruption in the log")
    events = _momentary_events(p, sus, mom)
    ens = float((p.p_kw[sus] * weight_min).sum() / 60.0) if p.p_kw is not None else 0.0
    critical: dict[CustomerClass, float] = {}
    if p.cls is not None:
        cls_s = p.cls[sus].astype(np.int64)
        known = cls_s >= 0
        hours = np.bincount(cls_s[known], weights=weight_min[known] / 60.0, minlength=len(CLASS_ORDER))
        critical = {c: float(hours[CLASS_ORDER.index(c)]) for c in _CRITICAL_ORDER}

    saifi = sustained / n_t
    saidi = cmi / n_t
    total_h = n_t * float(period_h)
    return Indices(
        saifi=saifi,
        saidi=saidi,
        caidi=saidi / saifi if sustained > 0 else math.nan,
        caifi=sustained / distinct if distinct > 0 else math.nan,
        asai=(total_h - cmi / 60.0) / total_h,
        maifi=momentary / n_t,
        maifie=events / n_t,
        cemi_n=above_n / n_t,
        n=n,
        cmi=cmi,
        ens_kwh=ens,
        critical_hours=critical,
        customers_interrupted=distinct,
        sustained_interruptions=sustained,
        momentary_interruptions=momentary,
        momentary_events=events,
        customers_above_n=above_n,
        customers_served=n_t,
        period_h=float(period_h),
        momentary_threshold_min=float(momentary_threshold_min),
    )


# --------------------------------------------------------------------------- presenting

def _fmt(v: float, digits: int = 4) -> str:
    if isinstance(v, float) and math.isnan(v):
        return "n/a"
    return f"{v:,.{digits}f}"


def format_indices(ind: Indices) -> str:
    """A readable table of the indices (for the CLI)."""
    served = f"{ind.customers_served:,.0f}" if float(ind.customers_served).is_integer() \
        else f"{ind.customers_served:,.2f}"
    rows = [
        ("SAIFI", _fmt(ind.saifi), "interruptions / customer"),
        ("SAIDI", _fmt(ind.saidi, 2), "min / customer"),
        ("CAIDI", _fmt(ind.caidi, 2), "min / interruption" + (" (no sustained interruption)"
                                                              if math.isnan(ind.caidi) else "")),
        ("CAIFI", _fmt(ind.caifi), "interruptions / customer interrupted"),
        ("ASAI", _fmt(ind.asai, 6), "availability"),
        ("MAIFI", _fmt(ind.maifi), "momentary interruptions / customer"),
        ("MAIFIe", _fmt(ind.maifie), "momentary events / customer"),
        (f"CEMI{ind.n}", _fmt(ind.cemi_n), f"share of customers with > {ind.n} sustained interruptions"),
        ("CMI", _fmt(ind.cmi, 1), "customer minutes interrupted"),
        ("ENS", _fmt(ind.ens_kwh, 1), "kWh not supplied"),
    ]
    w = max(len(r[0]) for r in rows)
    vw = max(len(r[1]) for r in rows)
    lines = [f"IEEE 1366 reliability indices (N_T = {served} customers, T = {ind.period_h:g} h, "
             f"momentary <= {ind.momentary_threshold_min:g} min)"]
    lines += [f"  {name:<{w}}  {val:>{vw}}  {unit}" for name, val, unit in rows]
    lines.append(f"  customer interruptions: {ind.sustained_interruptions:,} sustained, "
                 f"{ind.momentary_interruptions:,} momentary ({ind.momentary_events:,} events); "
                 f"{ind.customers_interrupted:,} customers interrupted")
    if ind.critical_hours:
        lines.append("Critical-customer interruption hours")
        cw = max(len(str(c)) for c in ind.critical_hours)
        lines += [f"  {str(c):<{cw}}  {h:,.2f} h" for c, h in ind.critical_hours.items()]
    return "\n".join(lines)


def indices_command(log_path, customers_served, *, as_json: bool = False, momentary_threshold_min: float = 5.0,
                    cemi_n: int = 1, period_h: float = 8760.0) -> str:
    """Text printed by ``gridsim indices LOG --customers-served N [--json]``.

    Reads the log with :func:`read_log`, computes the indices and returns the
    table of :func:`format_indices` or, with ``as_json``, the JSON of
    :meth:`Indices.to_dict` (CAIDI / CAIFI ``null`` when undefined). Raises
    :class:`~gridsim.errors.GridsimError` subclasses on bad input.
    """
    _check_args(customers_served, momentary_threshold_min, cemi_n, period_h)
    ind = compute_indices(read_log(log_path), customers_served, momentary_threshold_min=momentary_threshold_min,
                          cemi_n=cemi_n, period_h=period_h)
    if as_json:
        return json.dumps(ind.to_dict(), indent=2, allow_nan=False)
    return format_indices(ind)
