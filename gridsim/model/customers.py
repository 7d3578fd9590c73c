"""Customers: derived from loads, read from a file, or placed as critical facilities.

A customers table has the columns :data:`gridsim.model.model.CUSTOMER_COLUMNS`
(``customer_id, bus, class, count, p_kw, priority``), optionally ``channels``
(a ``;``-separated string such as ``sms;ivr``) and any extra columns a user
brings along (kept untouched).

Derivation rule (:func:`derive_customers`, deterministic, no randomness)
-------------------------------------------------------------------------
- one row per in-service load, ``customer_id = "L<load index>"``, ``bus`` the
  load's bus, ``p_kw = p_mw * 1000 * scaling``;
- ``class`` from the SimBench ``profile`` column prefix when present:
  ``H`` -> residential, ``G`` -> commercial, ``L`` -> agricultural,
  ``BL``/``WB``/``HS`` (heat pumps, e-mobility in households) -> residential,
  ``lv_*``/``mv_*`` (aggregated LV areas) -> residential; without a profile
  every load is residential;
- a load on a bus above 36 kV without an aggregated ``lv_*``/``mv_*`` profile
  is a bulk supply point (SimBench ``HS``/``HSexp`` transmission loads):
  class industrial, count 1;
- ``count``: a load on a bus with ``vn_kv >= 1`` (MV) or an aggregated
  ``lv_*``/``mv_*`` profile stands for an LV area, ``count = max(1,
  round(p_kw / 2))`` households (2 kW mean demand); any other load is one
  connection, ``count = 1``;
- ``priority`` = the class's weight (:data:`gridsim.types.DEFAULT_PRIORITY`,
  overridable by ``priority_weights``);
- ``channels``: ``ivr;sms;web`` for critical classes, ``sms;web`` otherwise;
- plus one row per critical facility listed in model.yaml (``count`` 1).
"""
from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from gridsim.errors import InputFileError, ModelLoadError, brief
from gridsim.model.model import CUSTOMER_COLUMNS
from gridsim.types import CRITICAL_CLASSES, DEFAULT_PRIORITY, CustomerClass

#: Mean demand of one household (kW) used to turn an aggregated load into a count.
HOUSEHOLD_KW = 2.0

#: Loads above this voltage (kV) without an aggregated ``lv_*``/``mv_*`` profile are
#: bulk supply points (SimBench's HS / HSexp transmission loads): one industrial customer.
BULK_KV = 36.0

#: SimBench profile prefix -> class (longest prefix wins; see module docstring).
PROFILE_CLASS: dict[str, CustomerClass] = {
    "H": CustomerClass.RESIDENTIAL,
    "G": CustomerClass.COMMERCIAL,
    "L": CustomerClass.AGRICULTURAL,
    "BL": CustomerClass.RESIDENTIAL,
    "WB": CustomerClass.RESIDENTIAL,
    "HS": CustomerClass.RESIDENTIAL,
    "lv_": CustomerClass.RESIDENTIAL,
    "mv_": CustomerClass.RESIDENTIAL,
}

_CLASS_VALUES: tuple[str, ...] = tuple(c.value for c in CustomerClass)
_CRITICAL_VALUES = frozenset(c.value for c in CRITICAL_CLASSES)


def class_priorities(priority_weights: Mapping[str, float] | None = None) -> dict[str, float]:
    """Priority weight per class value: defaults updated by ``priority_weights``.

    Raises :class:`ModelLoadError` for an unknown class or a non-numeric weight.
    """
    weights = {c.value: float(w) for c, w in DEFAULT_PRIORITY.items()}
    for key, value in (priority_weights or {}).items():
        if str(key) not in weights:
            raise ModelLoadError(f"priority_weights: class {brief(key)} is not one of {', '.join(_CLASS_VALUES)}")
        try:
            if isinstance(value, bool):
                raise TypeError
            weights[str(key)] = float(value)
            if not abs(weights[str(key)]) <= MAX_NUMBER:
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            raise ModelLoadError(f"priority_weights: weight of {brief(key)} must be a finite number, got "
                                 f"{brief(value)}") from None
    return weights


def _empty_customers() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": pd.Series([], dtype=object), "bus": pd.Series([], dtype=np.int64),
        "class": pd.Series([], dtype=object), "count": pd.Series([], dtype=np.int64),
        "p_kw": pd.Series([], dtype=float), "priority": pd.Series([], dtype=float),
        "channels": pd.Series([], dtype=object),
    })


def _class_from_profile(profile: pd.Series) -> pd.Series:
    """Vectorised profile prefix -> class value (NaN where no prefix matches)."""
    prof = profile.astype("string").fillna("")
    out = pd.Series(pd.NA, index=profile.index, dtype=object)
    # longest prefixes first so "HS" is not taken for "H" (both residential anyway)
    for prefix in sorted(PROFILE_CLASS, key=len, reverse=True):
        hit = out.isna() & prof.str.startswith(prefix)
        out[hit] = PROFILE_CLASS[prefix].value
    return out


def derive_customers(net, *, critical: list[dict] | None = None,
                     priority_weights: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Customers derived from the loads of ``net`` (rule: module docstring) plus ``critical`` facilities."""
    load = net.load
    if "in_service" in load.columns:
        load = load[load["in_service"].astype(bool)]
    p_kw = load["p_mw"].astype(float) * 1000.0
    if "scaling" in load.columns:
        p_kw = p_kw * load["scaling"].astype(float).fillna(1.0)
    vn_kv = net.bus["vn_kv"].reindex(load["bus"].to_numpy()).to_numpy(dtype=float)
    if "profile" in load.columns:
        cls = _class_from_profile(load["profile"]).fillna(CustomerClass.RESIDENTIAL.value)
        prof = load["profile"].astype("string").fillna("")
        aggregated = (prof.str.startswith("lv_") | prof.str.startswith("mv_")).to_numpy(dtype=bool)
    else:
        cls = pd.Series(CustomerClass.RESIDENTIAL.value, index=load.index, dtype=object)
        aggregated = np.zeros(len(load), dtype=bool)
    kv = np.nan_to_num(vn_kv, nan=0.0)
    bulk = (kv > BULK_KV) & ~aggregated
    cls = cls.where(~bulk, CustomerClass.INDUSTRIAL.value)
    area = aggregated | ((kv >= 1.0) & ~bulk)
    households = np.maximum(1, np.round(p_kw.to_numpy() / HOUSEHOLD_KW)).astype(np.int64)
    count = np.where(area, households, 1).astype(np.int64)
    df = pd.DataFrame({
        "customer_id": ("L" + load.index.astype(str)).to_numpy(dtype=object),
        "bus": load["bus"].to_numpy(dtype=np.int64),
        "class": cls.to_numpy(dtype=object),
        "count": count,
        "p_kw": p_kw.to_numpy(dtype=float),
    })
    if critical:
        df = pd.concat([df, critical_frame(critical)[["customer_id", "bus", "class", "count", "p_kw"]]],
                       ignore_index=True)
    weights = class_priorities(priority_weights)
    df["priority"] = df["class"].map(weights).astype(float)
    df["channels"] = np.where(df["class"].isin(_CRITICAL_VALUES), "ivr;sms;web", "sms;web").astype(object)
    if critical:
        names = critical_frame(critical).set_index("customer_id")["name"]
        df["name"] = df["customer_id"].map(names).astype(object)
    return _normalise(df)


def critical_frame(critical: list[dict]) -> pd.DataFrame:
    """model.yaml ``customers.critical`` list -> DataFrame (customer_id, bus, class, count, p_kw, name)."""
    if not isinstance(critical, (list, tuple)):
        raise ModelLoadError(f"model.yaml customers.critical: expected a list of facilities, got {brief(critical)}")
    rows = []
    for i, entry in enumerate(critical):
        if not isinstance(entry, Mapping):
            raise ModelLoadError(f"model.yaml customers.critical[{i}]: expected a mapping, got {brief(entry)}")
        missing = [k for k in ("customer_id", "class", "bus") if k not in entry]
        if missing:
            raise ModelLoadError(f"model.yaml customers.critical[{i}]: missing {', '.join(missing)}")
        where = f"model.yaml customers.critical[{i}]"
        cid = _scalar_text(entry["customer_id"], f"{where}.customer_id", MAX_ID_CHARS)
        where = f"{where} ({cid})"
        cls = str(entry["class"]) if isinstance(entry["class"], str) else None
        if cls not in _CLASS_VALUES:
            raise ModelLoadError(f"{where}: class {brief(entry['class'])} is not one of {', '.join(_CLASS_VALUES)}")
        rows.append({"customer_id": cid, "bus": _whole(entry["bus"], f"{where}.bus", -_MAX_ID, _MAX_ID),
                     "class": cls, "count": _whole(entry.get("count", 1), f"{where}.count", 0, MAX_COUNT),
                     "p_kw": _finite(entry.get("p_kw", 0.0), f"{where}.p_kw"),
                     "name": _scalar_text(entry.get("name", cid), f"{where}.name", 200)})
    return pd.DataFrame(rows, columns=["customer_id", "bus", "class", "count", "p_kw", "name"])


def _whole(value, where: str, low: int, high: int) -> int:
    """An integer from model.yaml (an int, or a float with no fraction) in ``low..high``."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)) \
        and math.isfinite(value) and value == int(value) and low <= value <= high
    if not ok:
        raise ModelLoadError(f"{where}: expected an integer from {low:,} to {high:,}, got {brief(value)}")
    return int(value)


def _finite(value, where: str) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    try:
        ok = ok and abs(float(value)) <= MAX_NUMBER
    except OverflowError:
        ok = False
    if not ok:
        raise ModelLoadError(f"{where}: expected a finite number (up to {MAX_NUMBER:g}), got {brief(value)}")
    return float(value)


def _scalar_text(value, where: str, max_chars: int) -> str:
    """Text (or a number, written as text) of at most ``max_chars`` characters."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (str, int, float, np.integer, np.floating)):
        raise ModelLoadError(f"{where}: expected text, got {brief(value)}")
    text = str(value).strip()
    if not text or len(text) > max_chars:
        raise ModelLoadError(f"{where}: expected 1 to {max_chars} characters, got {brief(value)}")
    return text


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    """Column order CUSTOMER_COLUMNS first, then channels and extras; canonical dtypes."""
    df = df.astype({"customer_id": object, "bus": np.int64, "class": object, "count": np.int64,
                    "p_kw": float, "priority": float})
    extras = [c for c in df.columns if c not in CUSTOMER_COLUMNS]
    return df[list(CUSTOMER_COLUMNS) + extras].reset_index(drop=True)


# --------------------------------------------------------------------------- files

def _one_line(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _bad(path: Path, row_pos: int | None, column: str, message: str) -> InputFileError:
    where = f"{path.name} line {row_pos + 2}" if row_pos is not None else path.name
    return InputFileError(f"{where}: column '{column}': {message} ({path})")


#: Largest ``count`` of one customers row (sums over millions of rows stay far from int64 overflow).
MAX_COUNT = 10**9
#: Largest magnitude of a demand or a priority (keeps sums and products finite).
MAX_NUMBER = 1e12
#: Longest customer id (the live engine's events take ids of at most 128 characters).
MAX_ID_CHARS = 128
#: Largest absolute bus id read from a file (int64, with room to spare).
_MAX_ID = 2**62


def _shown(value: str, limit: int = 40) -> str:
    """A cell for an error message: quoted, at most ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _parse_int(path: Path, df: pd.DataFrame, column: str, *, high: float = _MAX_ID) -> np.ndarray:
    raw = df[column].astype(str).str.strip()
    num = pd.to_numeric(raw, errors="coerce").astype(float)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(num) | (num != np.floor(num))
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise _bad(path, pos, column, f"{_shown(raw.iloc[pos])} is not an integer")
    big = (num > high) | (num < -_MAX_ID)
    if big.any():
        pos = int(np.flatnonzero(big.to_numpy())[0])
        raise _bad(path, pos, column, f"{_shown(raw.iloc[pos])} is out of range (larger than {high:,.0f})")
    return num.to_numpy().astype(np.int64)


def _parse_float(path: Path, df: pd.DataFrame, column: str, default: pd.Series) -> np.ndarray:
    raw = df[column].astype(str).str.strip().replace({"nan": "", "None": "", "<NA>": ""})  # parquet nulls
    num = pd.to_numeric(raw.where(raw != "", None), errors="coerce").astype(float)
    with np.errstate(invalid="ignore"):
        bad = (num.isna() & (raw != "")) | ~(num.abs() <= MAX_NUMBER) & num.notna()
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise _bad(path, pos, column, f"{_shown(raw.iloc[pos])} is not a finite number (up to {MAX_NUMBER:g})")
    return num.fillna(default).to_numpy(dtype=float)


def read_customers(path, *, priority_weights: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Read a customers table from ``.csv`` or ``.parquet``.

    Required columns ``customer_id, bus, class, count``; ``p_kw`` defaults to 0,
    ``priority`` (empty cells too) to the class weight; other columns are kept.
    Raises :class:`InputFileError` naming the file, line and column of the
    first bad value. Negative counts / demands are left to :func:`validate_model`.
    """
    from gridsim.model.loader import path_kind

    from gridsim.model.limits import check_file_size

    path = Path(path)
    if path_kind(path) != "file":
        raise InputFileError(f"{path}: customers file not found")
    check_file_size(path, "GRIDSIM_MAX_INPUT_MB")
    try:
        if path.suffix.lower() == ".parquet":
            df = pd.read_parquet(path).astype(str)
        else:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.ParserError as exc:
        raise InputFileError(f"{path.name}: malformed CSV: {_one_line(exc)} ({path})") from None
    except pd.errors.EmptyDataError:
        raise InputFileError(f"{path.name}: file is empty; expected a header line with "
                             f"customer_id,bus,class,count ({path})") from None
    except (OSError, ValueError) as exc:  # pyarrow raises ArrowInvalid, a ValueError
        raise InputFileError(f"{path.name}: cannot read: {_one_line(exc)} ({path})") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in ("customer_id", "bus", "class", "count") if c not in df.columns]
    if missing:
        raise InputFileError(f"{path.name}: missing column(s) {', '.join(missing)}; a customers file needs "
                             f"at least customer_id,bus,class,count ({path})")
    ids = df["customer_id"].astype(str).str.strip()
    empty = ids == ""
    if empty.any():
        raise _bad(path, int(np.flatnonzero(empty.to_numpy())[0]), "customer_id", "empty customer id")
    long_id = ids.str.len() > MAX_ID_CHARS
    if long_id.any():
        pos = int(np.flatnonzero(long_id.to_numpy())[0])
        raise _bad(path, pos, "customer_id", f"{_shown(ids.iloc[pos])} is longer than {MAX_ID_CHARS} characters "
                   "(events name customers by id: keep ids short)")
    cls = df["class"].astype(str).str.strip().str.lower()
    unknown = ~cls.isin(_CLASS_VALUES)
    if unknown.any():
        pos = int(np.flatnonzero(unknown.to_numpy())[0])
        raise _bad(path, pos, "class", f"class {_shown(cls.iloc[pos])} is not one of {', '.join(_CLASS_VALUES)}")
    out = df.copy()
    out["customer_id"] = ids.to_numpy(dtype=object)
    out["class"] = cls.to_numpy(dtype=object)
    out["bus"] = _parse_int(path, df, "bus")
    out["count"] = _parse_int(path, df, "count", high=MAX_COUNT)
    zero = pd.Series(0.0, index=df.index)
    out["p_kw"] = _parse_float(path, df, "p_kw", zero) if "p_kw" in df.columns else 0.0
    default_prio = cls.map(class_priorities(priority_weights))
    out["priority"] = (_parse_float(path, df, "priority", default_prio) if "priority" in df.columns
                       else default_prio.to_numpy(dtype=float))
    return _normalise(out)


def write_customers(df: pd.DataFrame, path) -> Path:
    """Write a customers table to ``.csv`` or ``.parquet`` (chosen by suffix)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        df.to_parquet(path, index=False)
    elif suffix == ".csv":
        df.to_csv(path, index=False)
    else:
        raise InputFileError(f"{path}: customers file must end in .csv or .parquet")
    return path


# --------------------------------------------------------------------------- critical facilities

#: Critical facilities placed per class in a bundled model (mv_oberrhein's mix).
CRITICAL_MIX: dict[CustomerClass, int] = {
    CustomerClass.HOSPITAL: 2, CustomerClass.STATION: 2, CustomerClass.WATER: 1,
    CustomerClass.TELECOM: 1, CustomerClass.GOVERNMENT: 2,
}

#: Demand (kW) of a critical facility on an MV bus; on an LV bus a quarter of it.
CRITICAL_P_KW: dict[CustomerClass, float] = {
    CustomerClass.HOSPITAL: 800.0, CustomerClass.STATION: 400.0, CustomerClass.WATER: 300.0,
    CustomerClass.TELECOM: 60.0, CustomerClass.GOVERNMENT: 150.0,
}

_CRITICAL_NAMES: dict[CustomerClass, str] = {
    CustomerClass.HOSPITAL: "Hospital", CustomerClass.STATION: "Rail station",
    CustomerClass.WATER: "Water works", CustomerClass.TELECOM: "Telecom exchange",
    CustomerClass.GOVERNMENT: "Town hall",
}

CRITICAL_RULE = (
    "Critical facilities: total = max(8, round(in-service loads / 500)), split over classes in the "
    "proportions hospital 2 : station 2 : water 1 : telecom 1 : government 2 (at least one of each); "
    "placed at distinct buses drawn from the buses of in-service loads at distribution voltage (<= 36 kV) with "
    "numpy.random.default_rng(zlib.crc32(model name)); p_kw = hospital 800, station 400, water 300, "
    "telecom 60, government 150 on MV buses, a quarter of that on LV buses (vn_kv < 1); count 1. "
    "Their demand comes on top of the loads."
)


def place_critical_facilities(net, name: str) -> list[dict]:
    """Deterministic critical facilities for a model (rule: :data:`CRITICAL_RULE`)."""
    load = net.load[net.load["in_service"].astype(bool)] if "in_service" in net.load else net.load
    buses = np.unique(load["bus"].to_numpy(dtype=np.int64))
    dist = buses[net.bus["vn_kv"].reindex(buses).to_numpy(dtype=float) <= BULK_KV]
    buses = dist if len(dist) else buses
    total = max(sum(CRITICAL_MIX.values()), round(len(load) / 500))
    scale = total / sum(CRITICAL_MIX.values())
    per_class = {c: max(1, round(n * scale)) for c, n in CRITICAL_MIX.items()}
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    n_needed = sum(per_class.values())
    chosen = rng.choice(buses, size=n_needed, replace=n_needed > len(buses))
    vn_kv = net.bus["vn_kv"].reindex(chosen).to_numpy(dtype=float)
    out: list[dict] = []
    k = 0
    for cls, n in per_class.items():
        for j in range(n):
            bus = int(chosen[k])
            lv = vn_kv[k] < 1.0
            out.append({
                "customer_id": f"{cls.value}-{j + 1}",
                "class": cls.value, "bus": bus, "count": 1,
                "p_kw": CRITICAL_P_KW[cls] / (4.0 if lv else 1.0),
                "name": f"{_CRITICAL_NAMES[cls]} {j + 1}",
            })
            k += 1
    return out
