"""Model validation: return issues as data; :func:`assert_valid` raises.

Every check is vectorised (pandas / numpy / scipy) and reports pandapower
indices or customer ids, never row positions. Issue codes:

``unknown_bus``, ``switch_unknown_element``, ``switch_bus_not_on_element``,
``duplicate_index``, ``duplicate_customer_id``, ``no_source``,
``customer_unknown_bus``, ``negative_count``, ``negative_length``,
``negative_p_kw``, ``unknown_customer_class``, ``unsupported_element``,
``device_unknown_element``, ``device_bus_not_on_element``,
``device_unknown_switch`` (errors) and ``unsupplied_buses`` (warning).
"""
from __future__ import annotations

import functools
from collections.abc import Iterable

import numpy as np
import pandas as pd

from gridsim.errors import ModelValidationError, ValidationIssue, printable
from gridsim.types import CustomerClass

#: Tables holding bus references, and their bus columns.
BUS_REFERENCES: dict[str, tuple[str, ...]] = {
    "line": ("from_bus", "to_bus"),
    "trafo": ("hv_bus", "lv_bus"),
    "trafo3w": ("hv_bus", "mv_bus", "lv_bus"),
    "switch": ("bus",),
    "load": ("bus",),
    "sgen": ("bus",),
    "gen": ("bus",),
    "ext_grid": ("bus",),
    "storage": ("bus",),
    "shunt": ("bus",),
    "motor": ("bus",),
    "ward": ("bus",),
    "xward": ("bus",),
    "asymmetric_load": ("bus",),
    "asymmetric_sgen": ("bus",),
}

#: pandapower elements that connect buses (or need DC buses) and that gridsim does
#: not model. In-service rows are refused instead of silently ignored.
UNSUPPORTED_ELEMENTS: dict[str, str] = {
    "impedance": "replace it by a line or a bus-bus switch",
    "dcline": "gridsim models AC distribution networks only; remove it",
    "tcsc": "replace it by a line",
    "line_dc": "gridsim models AC distribution networks only; remove it",
    "bus_dc": "gridsim models AC distribution networks only; remove it",
    "vsc": "gridsim models AC distribution networks only; remove it",
    "vsc_stacked": "gridsim models AC distribution networks only; remove it",
    "vsc_bipolar": "gridsim models AC distribution networks only; remove it",
}

_CLASS_VALUES = tuple(c.value for c in CustomerClass)

#: Columns gridsim reads, per table, and what their values must be: ``id`` integer ids (bus
#: references), ``pos`` finite numbers > 0, ``num`` finite numbers, ``num_nan`` finite numbers or empty,
#: ``bool`` true / false, ``bool_nan`` true / false or empty, ``str`` text, ``any`` anything (the column
#: must exist). Numbers are at most 1e12 in size. Columns of tables with rows must exist; tables of
#: :data:`REQUIRED_TABLES` must exist (they may be empty).
NET_COLUMNS: dict[str, dict[str, str]] = {
    "bus": {"vn_kv": "pos", "in_service": "bool"},
    "line": {"from_bus": "id", "to_bus": "id", "length_km": "num", "in_service": "bool"},
    # the power flow of FLISR's capacity check has no default for a transformer's rating and impedance
    "trafo": {"hv_bus": "id", "lv_bus": "id", "in_service": "bool", "vn_hv_kv": "pos", "vn_lv_kv": "pos",
              "sn_mva": "pos", "vk_percent": "num", "vkr_percent": "num"},
    "trafo3w": {"hv_bus": "id", "mv_bus": "id", "lv_bus": "id", "in_service": "bool"},
    "switch": {"bus": "id", "element": "id", "et": "str", "type": "any", "closed": "bool"},
    "ext_grid": {"bus": "id", "in_service": "bool"},
    "load": {"bus": "id", "p_mw": "num", "in_service": "bool"},
    "gen": {"bus": "id", "in_service": "bool"},
    **{t: {"bus": "id"} for t in ("sgen", "storage", "shunt", "motor", "ward", "xward", "asymmetric_load",
                                  "asymmetric_sgen")},
}
#: Optional columns (the power flow reads them, with defaults when a column is absent), checked when present.
NET_OPTIONAL_COLUMNS: dict[str, dict[str, str]] = {
    "bus": {"x": "num_nan", "y": "num_nan"},
    "line": {"r_ohm_per_km": "num", "x_ohm_per_km": "num", "c_nf_per_km": "num", "g_us_per_km": "num_nan",
             "max_i_ka": "num", "parallel": "pos", "df": "num"},
    "trafo": {"pfe_kw": "num", "i0_percent": "num", "shift_degree": "num", "parallel": "pos", "df": "num",
              **{c: "num_nan" for c in ("tap_pos", "tap_neutral", "tap_step_percent", "tap_step_degree", "tap_min",
                                        "tap_max")}},
    "trafo3w": {c: "num_nan" for c in ("vn_hv_kv", "vn_mv_kv", "vn_lv_kv", "sn_hv_mva", "sn_mv_mva", "sn_lv_mva",
                                       "vk_hv_percent", "vk_mv_percent", "vk_lv_percent", "vkr_hv_percent",
                                       "vkr_mv_percent", "vkr_lv_percent", "pfe_kw", "i0_percent", "tap_pos",
                                       "tap_neutral", "tap_step_percent", "tap_step_degree")},
    "load": {"scaling": "num", "q_mvar": "num", "const_z_percent": "num_nan", "const_i_percent": "num_nan",
             "const_z_p_percent": "num_nan", "const_z_q_percent": "num_nan", "const_i_p_percent": "num_nan",
             "const_i_q_percent": "num_nan"},
    "ext_grid": {"vm_pu": "num", "va_degree": "num_nan"},
    "gen": {"slack": "bool_nan", "vm_pu": "num_nan", "va_degree": "num_nan", "p_mw": "num_nan"},
    "switch": {"z_ohm": "num_nan"},
    "shunt": {"p_mw": "num_nan", "q_mvar": "num_nan", "vn_kv": "num_nan", "step": "num_nan"},
    **{t: {"in_service": "bool_nan", "p_mw": "num", "q_mvar": "num", "scaling": "num"}
       for t in ("sgen", "storage")},
    **{t: {"in_service": "bool_nan", "p_mw": "num_nan", "q_mvar": "num_nan", "scaling": "num_nan"}
       for t in ("motor", "ward", "xward", "asymmetric_load", "asymmetric_sgen")},
}
#: Scalars of the net: name -> kind (when present).
NET_SCALARS: dict[str, str] = {"sn_mva": "pos", "f_hz": "pos"}
REQUIRED_TABLES: tuple[str, ...] = ("bus", "line", "trafo", "trafo3w", "switch", "ext_grid", "load")

_INT64_MAX = float(2**62)
#: Largest magnitude of a number in a net (no physical quantity comes near; keeps arithmetic finite).
MAX_NUMBER = 1e12


def _short(value, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _bad_positions(values: pd.Series, kind: str) -> np.ndarray:
    """Bool array: values of ``values`` that are not of ``kind`` (see :data:`NET_COLUMNS`)."""
    if kind == "any":
        return np.zeros(len(values), bool)
    dtype = values.dtype
    if kind == "str":
        return ~values.map(lambda v: isinstance(v, str)).to_numpy(bool)
    if kind in ("bool", "bool_nan"):
        if pd.api.types.is_bool_dtype(dtype):
            return np.zeros(len(values), bool)
        obj = values.astype(object)
        ok = obj.map(lambda v: isinstance(v, (bool, np.bool_)) or (isinstance(v, (int, float, np.integer, np.floating))
                                                                   and v in (0, 1))).to_numpy(bool)
        if kind == "bool_nan":
            ok |= values.isna().to_numpy(bool)
        return ~ok
    # numbers: booleans, text, containers are refused
    if pd.api.types.is_bool_dtype(dtype):
        return np.ones(len(values), bool)
    if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
        # integers too go through the range checks below (a 0 where > 0 is needed, an id beyond 2**62)
        arr = values.to_numpy(np.float64, na_value=np.nan)
    else:
        obj = values.astype(object).to_numpy()
        is_num = np.fromiter((isinstance(v, (int, float, np.integer, np.floating))
                              and not isinstance(v, (bool, np.bool_)) for v in obj), bool, len(obj))
        arr = np.full(len(obj), np.nan)
        with np.errstate(all="ignore"):
            arr[is_num] = [float(v) if abs(v) < 1e300 else np.inf for v in obj[is_num]]
        if kind != "num_nan":
            arr[~is_num] = np.nan
        else:
            bad = ~is_num & ~values.isna().to_numpy(bool)
            arr[bad] = np.inf
    with np.errstate(invalid="ignore"):
        if kind == "id":
            return ~(np.isfinite(arr) & (arr == np.floor(arr)) & (np.abs(arr) <= _INT64_MAX))
        if kind == "num":
            return ~(np.abs(arr) <= MAX_NUMBER)
        if kind == "pos":
            return ~((arr > 0) & (arr <= MAX_NUMBER))
        return np.abs(arr) > MAX_NUMBER  # num_nan: NaN compares False


_KIND_TEXT = {"id": "integer ids", "pos": "numbers > 0 (up to 1e12)", "num": "finite numbers (up to 1e12)",
              "num_nan": "numbers up to 1e12 (or empty)", "bool": "true or false",
              "bool_nan": "true, false (or empty)", "str": "text"}


def check_net_structure(net) -> list[ValidationIssue]:
    """Tables and columns gridsim reads exist and hold values of the right kind (:data:`NET_COLUMNS`);
    element ids are unique integers. Run before anything else reads the net (it would crash on them);
    :func:`gridsim.model.load_model` refuses a net with any of these issues (code ``bad_table``,
    ``missing_column``, ``bad_value`` or ``duplicate_index``)."""
    issues: list[ValidationIssue] = []
    if not hasattr(net, "keys"):
        return [ValidationIssue("net", "", (), f"not a pandapower network ({type(net).__name__})", "bad_table")]
    for name in _checked_tables():
        df = net[name] if name in net else None
        if df is None:
            if name in REQUIRED_TABLES:
                issues.append(ValidationIssue(name, "", (), f"table '{name}' is missing; every pandapower net has "
                                              f"one (it may be empty)", "bad_table"))
            continue
        if not isinstance(df, pd.DataFrame):
            issues.append(ValidationIssue(name, "", (), f"'{name}' must be a table (a pandas DataFrame), found "
                                          f"{type(df).__name__} {_short(df)}", "bad_table"))
            continue
        index = df.index
        bad_index = _bad_positions(pd.Series(index), "id")
        if bad_index.any():
            shown = ", ".join(_short(v) for v in index[bad_index][:5])
            issues.append(ValidationIssue(name, "index", (), f"{name} ids must be integers, found {shown}",
                                          "bad_value"))
            continue
        dup_cols = df.columns[df.columns.duplicated()]
        if len(dup_cols):
            issues.append(ValidationIssue(name, _short(dup_cols[0]), (), f"column {_short(dup_cols[0])} appears "
                                          f"more than once in {name}; keep one", "bad_table"))
            continue
        void = [c for c in df.columns if df[c].dtype.kind == "V"]
        if void:
            issues.append(ValidationIssue(name, _short(void[0]), (), f"column {_short(void[0])} of {name} has an "
                                          "unreadable type; drop it or give it numbers or text", "bad_value"))
            continue
        cols = {**NET_COLUMNS.get(name, {}), **NET_OPTIONAL_COLUMNS.get(name, {})}
        for col, kind in cols.items():
            if col not in df.columns:
                if col in NET_COLUMNS.get(name, {}) and len(df):
                    issues.append(ValidationIssue(name, col, (), f"column '{col}' is missing from {name}; gridsim "
                                                  f"needs it", "missing_column"))
                continue
            bad = _bad_positions(df[col], kind)
            if bad.any():
                ids = _ids(index[bad])
                what = _KIND_TEXT[kind]
                shown = ", ".join(_short(v) for v in df[col][bad].iloc[:3])
                issues.append(ValidationIssue(name, col, ids, f"{name}.{col} must hold {what}, found {shown}",
                                              "bad_value"))
    for key, kind in NET_SCALARS.items():
        if key in net:
            value = net[key]
            ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
            if not ok or _bad_positions(pd.Series([float(value)]), kind)[0]:
                issues.append(ValidationIssue("net", key, (), f"net.{key} must be a number > 0, found "
                                              f"{_short(value)}", "bad_value"))
    if not issues:
        issues += check_duplicate_index(net)
    return issues


@functools.lru_cache(maxsize=1)
def _checked_tables() -> tuple[str, ...]:
    """Every table :func:`check_net_structure` checks: the ones gridsim reads, and the element tables it
    only looks at (to refuse them or to count them) - pandapower's own list and the ones the topology and
    the power flow refuse."""
    from pandapower.toolbox import pp_elements

    from gridsim.core.topology import UNSUPPORTED_BRANCH_TABLES
    from gridsim.restore.powerflow import UNSUPPORTED_PF_TABLES
    others = sorted(set(pp_elements(res_elements=False)) | set(UNSUPPORTED_BRANCH_TABLES)
                    | set(UNSUPPORTED_PF_TABLES))
    return tuple(dict.fromkeys([*REQUIRED_TABLES, *NET_COLUMNS, *NET_OPTIONAL_COLUMNS, *BUS_REFERENCES,
                                *UNSUPPORTED_ELEMENTS, *others]))


def normalise_net(net) -> None:
    """Give the columns checked by :func:`check_net_structure` their canonical dtypes (in place):
    ids int64, booleans bool, numbers float; an element table given as ``null`` is no table at all
    (dropped). Call only on a net without structure issues."""
    for name in _checked_tables():
        if name in net and net[name] is None and name not in REQUIRED_TABLES:
            del net[name]
    for name in dict.fromkeys([*NET_COLUMNS, *NET_OPTIONAL_COLUMNS]):
        df = net[name] if name in net else None
        if not isinstance(df, pd.DataFrame):
            continue
        if len(df) and df.index.dtype != np.int64:
            df.index = pd.Index(df.index.to_numpy(np.float64).astype(np.int64) if df.index.dtype.kind == "f"
                                else np.asarray(list(df.index), np.int64))
        cols = {**NET_COLUMNS.get(name, {}), **NET_OPTIONAL_COLUMNS.get(name, {})}
        for col, kind in cols.items():
            if col not in df.columns:
                if kind != "any" and col in NET_COLUMNS.get(name, {}):
                    dtype = {"id": np.int64, "num": float, "pos": float, "bool": bool, "str": object}[kind]
                    df[col] = pd.Series(dtype=dtype)
                elif kind == "any" and col in NET_COLUMNS.get(name, {}):
                    df[col] = pd.Series(dtype=object)
                continue
            s = df[col]
            if kind == "id" and s.dtype != np.int64:
                df[col] = np.asarray([int(v) for v in s.astype(object)], np.int64) if s.dtype.kind == "O" \
                    else s.to_numpy(np.float64).astype(np.int64) if s.dtype.kind == "f" else s.astype(np.int64)
            elif kind == "bool" and s.dtype != bool:
                df[col] = s.astype(object).map(bool).astype(bool)
            elif kind in ("num", "num_nan", "pos") and s.dtype.kind not in "fi":
                df[col] = pd.to_numeric(s.astype(object), errors="coerce").astype(float)


def _ids(values: Iterable) -> tuple:
    """Plain-python ids (ints stay ints), sorted and unique."""
    arr = pd.unique(pd.Series(list(values) if not isinstance(values, (pd.Index, pd.Series, np.ndarray))
                              else values))
    out = [v.item() if hasattr(v, "item") else v for v in arr]
    try:
        return tuple(sorted(out))
    except TypeError:
        return tuple(out)


def _table(net, name: str) -> pd.DataFrame | None:
    df = net[name] if name in net else None
    return df if isinstance(df, pd.DataFrame) else None


def _in_service(df: pd.DataFrame) -> pd.Series:
    if "in_service" in df.columns:
        return df["in_service"].fillna(False).astype(bool)
    return pd.Series(True, index=df.index)


def _plural(ids: tuple, one: str, many: str) -> str:
    return one if len(ids) == 1 else many


def _show(ids: tuple, limit: int = 5) -> str:
    s = ", ".join(printable(i, 40) for i in ids[:limit])  # a value from a file may be long or hold a newline
    return s + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def check_duplicate_index(net) -> list[ValidationIssue]:
    issues = []
    for name in ("bus", *BUS_REFERENCES):
        df = _table(net, name)
        if df is None or not len(df):
            continue
        dup = df.index[df.index.duplicated()]
        if len(dup):
            ids = _ids(dup)
            issues.append(ValidationIssue(
                name, "index", ids, f"{name} index {_show(ids)} used more than once; give every {name} "
                f"a unique index (e.g. net.{name}.reset_index(drop=True))", "duplicate_index"))
    return issues


def check_unknown_bus(net) -> list[ValidationIssue]:
    issues = []
    buses = net.bus.index
    for name, cols in BUS_REFERENCES.items():
        df = _table(net, name)
        if df is None or not len(df):
            continue
        for col in cols:
            if col not in df.columns:
                continue
            bad = df[~df[col].isin(buses)]
            if len(bad):
                ids = _ids(bad.index)
                refs = _show(_ids(bad[col]))
                issues.append(ValidationIssue(
                    name, col, ids,
                    f"{name} {_show(ids)} {_plural(ids, 'refers', 'refer')} to bus {refs}, which does not "
                    f"exist; add the bus or drop the {name}", "unknown_bus"))
    return issues


def check_switches(net) -> list[ValidationIssue]:
    sw = _table(net, "switch")
    if sw is None or not len(sw):
        return []
    issues = []
    et = sw["et"].astype(str)
    targets = {"l": ("line", net.line.index), "t": ("trafo", net.trafo.index),
               "t3": ("trafo3w", net.trafo3w.index), "b": ("bus", net.bus.index)}
    for code, (table, index) in targets.items():
        sel = sw[et == code]
        bad = sel[~sel["element"].isin(index)]
        if len(bad):
            ids = _ids(bad.index)
            issues.append(ValidationIssue(
                "switch", "element", ids,
                f"switch {_show(ids)} (et='{code}') {_plural(ids, 'refers', 'refer')} to {table} "
                f"{_show(_ids(bad['element']))}, which does not exist; fix switch.element or drop the switch",
                "switch_unknown_element"))
    unknown_et = sw[~et.isin(list(targets))]
    if len(unknown_et):
        ids = _ids(unknown_et.index)
        issues.append(ValidationIssue(
            "switch", "et", ids, f"switch {_show(ids)} has element type {_show(_ids(unknown_et['et']))}; "
            "use 'l' (line), 't' (trafo), 't3' (trafo3w) or 'b' (bus)", "switch_unknown_element"))
    # a line / trafo switch must sit at one of the element's buses
    for code, table, cols in (("l", "line", ("from_bus", "to_bus")), ("t", "trafo", ("hv_bus", "lv_bus")),
                              ("t3", "trafo3w", ("hv_bus", "mv_bus", "lv_bus"))):
        target = net[table][~net[table].index.duplicated()]  # duplicates are reported on their own
        sel = sw[(et == code) & sw["element"].isin(target.index)]
        if not len(sel):
            continue
        elem = target.loc[sel["element"].to_numpy(), list(cols)].to_numpy()
        at_end = (elem == sel["bus"].to_numpy()[:, None]).any(axis=1)
        bad = sel[~at_end]
        if len(bad):
            ids = _ids(bad.index)
            issues.append(ValidationIssue(
                "switch", "bus", ids,
                f"switch {_show(ids)} {_plural(ids, 'sits', 'sit')} at bus {_show(_ids(bad['bus']))}, which is "
                f"not an end of its {table} {_show(_ids(bad['element']))}; set switch.bus to one of the "
                f"{table}'s buses", "switch_bus_not_on_element"))
    return issues


def check_source(net) -> list[ValidationIssue]:
    eg = _table(net, "ext_grid")
    n_eg = int(_in_service(eg).sum()) if eg is not None and len(eg) else 0
    gen = _table(net, "gen")
    n_slack = 0
    if gen is not None and len(gen) and "slack" in gen.columns:
        n_slack = int((_in_service(gen) & gen["slack"].fillna(False).astype(bool)).sum())
    if n_eg + n_slack == 0:
        return [ValidationIssue("ext_grid", "", (), "the network has no source: no in-service ext_grid and no "
                                "slack gen; add one with pandapower.create_ext_grid(net, bus)", "no_source")]
    return []


def check_negative_lengths(net) -> list[ValidationIssue]:
    line = net.line
    bad = line[line["length_km"].astype(float) < 0]
    if len(bad):
        ids = _ids(bad.index)
        return [ValidationIssue("line", "length_km", ids, f"line {_show(ids)} {_plural(ids, 'has', 'have')} a "
                                "negative length; set length_km >= 0", "negative_length")]
    return []


def check_unsupported(net) -> list[ValidationIssue]:
    issues = []
    for name, fix in UNSUPPORTED_ELEMENTS.items():
        df = _table(net, name)
        if df is None or not len(df):
            continue
        bad = df[_in_service(df)]
        if len(bad):
            ids = _ids(bad.index)
            issues.append(ValidationIssue(
                name, "", ids, f"gridsim does not model pandapower '{name}' elements ({_show(ids)}); {fix}, "
                "or set them out of service", "unsupported_element"))
    return issues


def check_customers(model) -> list[ValidationIssue]:
    cust = model.customers
    if cust is None or not len(cust):
        return []
    issues = []
    cid = cust["customer_id"].astype(str)
    dup = cid[cid.duplicated()]
    if len(dup):
        ids = _ids(dup)
        issues.append(ValidationIssue("customers", "customer_id", ids, f"customer id {_show(ids)} used more than "
                                      "once; make customer ids unique", "duplicate_customer_id"))
    bad = cust[~cust["bus"].isin(model.net.bus.index)]
    if len(bad):
        ids = _ids(bad["customer_id"].astype(str))
        issues.append(ValidationIssue(
            "customers", "bus", ids, f"customer {_show(ids)} {_plural(ids, 'is', 'are')} on bus "
            f"{_show(_ids(bad['bus']))}, which does not exist; fix the bus or drop the customer",
            "customer_unknown_bus"))
    for col, code, what in (("count", "negative_count", "count"), ("p_kw", "negative_p_kw", "demand p_kw")):
        if col not in cust.columns:
            continue
        bad = cust[pd.to_numeric(cust[col], errors="coerce") < 0]
        if len(bad):
            ids = _ids(bad["customer_id"].astype(str))
            issues.append(ValidationIssue("customers", col, ids, f"customer {_show(ids)} {_plural(ids, 'has', 'have')} "
                                          f"a negative {what}; set {col} >= 0", code))
    bad = cust[~cust["class"].astype(str).isin(_CLASS_VALUES)]
    if len(bad):
        ids = _ids(bad["customer_id"].astype(str))
        issues.append(ValidationIssue(
            "customers", "class", ids, f"customer {_show(ids)} {_plural(ids, 'has', 'have')} class "
            f"{_show(_ids(bad['class'].astype(str)))}, which is not one of {', '.join(_CLASS_VALUES)}",
            "unknown_customer_class"))
    return issues


def check_devices(model) -> list[ValidationIssue]:
    issues = []
    net = model.net
    dev = model.devices
    if dev is not None and len(dev):
        yaml_dev = dev[dev["origin"] == "model.yaml"]
        for table in ("line", "trafo", "trafo3w"):
            sel = yaml_dev[yaml_dev["element_type"] == table]
            if not len(sel):
                continue
            bad = sel[~sel["element_id"].isin(net[table].index)]
            if len(bad):
                ids = _ids(bad["device_id"])
                issues.append(ValidationIssue(
                    "devices", "element_id", ids,
                    f"model.yaml device {_show(ids)} {_plural(ids, 'is', 'are')} on {table} "
                    f"{_show(_ids(bad['element_id']))}, which does not exist; fix or remove the model.yaml entry",
                    "device_unknown_element"))
            ok = sel[sel["element_id"].isin(net[table].index) & (sel["bus"] >= 0)]
            if len(ok) and table == "line":
                line = net.line[~net.line.index.duplicated()]
                ends = line.loc[ok["element_id"].to_numpy(), ["from_bus", "to_bus"]].to_numpy()
                bad = ok[~(ends == ok["bus"].to_numpy()[:, None]).any(axis=1)]
                if len(bad):
                    ids = _ids(bad["device_id"])
                    issues.append(ValidationIssue(
                        "devices", "bus", ids, f"model.yaml device {_show(ids)} {_plural(ids, 'sits', 'sit')} at "
                        f"bus {_show(_ids(bad['bus']))}, which is not an end of its line; fix the entry's bus",
                        "device_bus_not_on_element"))
    dmeta = (model.meta or {}).get("devices") or {}
    for key in ("switch_kinds", "remote_switches"):
        refs = dmeta.get(key) or []
        try:
            refs = pd.Index([int(x) for x in refs], dtype=np.int64)
        except (TypeError, ValueError, OverflowError):
            continue  # build_device_table already refused malformed entries
        bad = refs[~refs.isin(net.switch.index)]
        if len(bad):
            ids = _ids(bad)
            issues.append(ValidationIssue(
                "devices", key, ids, f"model.yaml devices.{key} names switch {_show(ids)}, which does not exist "
                "in net.switch; fix or remove the entry", "device_unknown_switch"))
    return issues


def check_islands(net) -> list[ValidationIssue]:
    """Warning: in-service buses not connected to a source through closed, in-service branches."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from gridsim.model.devices import _closed_graph, _source_buses

    bus = net.bus[_in_service(net.bus)]
    if not len(bus):
        return []
    try:
        edges = _closed_graph(net)
    except (KeyError, ValueError):
        return []  # structural errors are reported by the other checks
    pos = pd.Index(bus.index)
    u = pos.get_indexer(edges["u"])
    v = pos.get_indexer(edges["v"])
    keep = (u >= 0) & (v >= 0)
    n = len(pos)
    g = coo_matrix((np.ones(int(keep.sum())), (u[keep], v[keep])), shape=(n, n))
    _, label = connected_components(g, directed=False)
    src = pos.get_indexer(_source_buses(net))
    supplied = np.isin(label, label[src[src >= 0]])
    if supplied.all():
        return []
    ids = _ids(pos[~supplied])
    return [ValidationIssue("bus", "", ids, f"{len(ids)} bus(es) ({_show(ids)}) have no supply as built "
                            "(no closed path to an ext_grid); close a switch, connect them or set them out of "
                            "service", "unsupplied_buses", severity="warning")]


def validate_model(model) -> list[ValidationIssue]:
    """All issues of ``model`` (errors and warnings); never raises on bad data, never prints."""
    net = model.net
    issues = (check_duplicate_index(net) + check_unknown_bus(net) + check_switches(net)
              + check_source(net) + check_negative_lengths(net) + check_unsupported(net)
              + check_customers(model) + check_devices(model))
    if not any(i.code in ("unknown_bus", "duplicate_index", "switch_unknown_element", "no_source") for i in issues):
        issues += check_islands(net)
    return issues


def assert_valid(model) -> list[ValidationIssue]:
    """Raise :class:`ModelValidationError` on any error-level issue; return the warnings."""
    issues = validate_model(model)
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise ModelValidationError(errors)
    return issues
