"""Load a :class:`Model` from a bundled name, a SimBench code, a file or a folder.

Specs understood by :func:`load_model`:

- a bundled name (:data:`BUNDLED_MODELS`): the net is built from the installed
  pandapower / simbench packages as recorded in ``models/<name>/model.yaml``;
- ``simbench:CODE``: any SimBench grid, customers derived, default devices;
- a pandapower JSON file, or a folder holding ``net.json`` (or a model.yaml
  with a ``source``), optional ``customers.csv`` / ``customers.parquet`` and
  optional ``model.yaml``;
- ``synth:N`` / ``synth:N:SEED``: :func:`gridsim.model.synth.make_synthetic`.

Nets built by pandapower / simbench functions are cached on disk (plain
pickle, keyed by source and library versions, in ``$GRIDSIM_CACHE_DIR`` or
``~/.cache/gridsim``) and in process; every call returns an independent deep
copy, so callers may modify their model freely - except SimBench's
``net.profiles`` time series (>100 MB), which are shared and must be treated
as read-only.
"""
from __future__ import annotations

import copy
import hashlib
import importlib
import json
import os
import pickle
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from gridsim.errors import InputFileError, ModelLoadError, ModelValidationError, NetworkStructureError, brief
from gridsim.model.customers import class_priorities, derive_customers, read_customers
from gridsim.model.devices import build_device_table
from gridsim.model.limits import check_file_size
from gridsim.model.model import CUSTOMER_COLUMNS, DEVICE_COLUMNS, Model
from gridsim.model.validation import check_net_structure, normalise_net, validate_model

#: Bundled models: name -> short description (with its source).
BUNDLED_MODELS: dict[str, str] = {
    "mv_oberrhein": "MV grid Oberrhein, 20 kV, 179 buses, 2 HV/MV substations (pandapower.networks.mv_oberrhein)",
    "cigre_mv": "CIGRE MV benchmark, 20 kV, 15 buses, 2 feeders "
                "(pandapower.networks.create_cigre_network_mv(with_der=False))",
    "lv_schutterwald": "LV grid Schutterwald, 0.4 kV, 2,940 buses, 14 MV/LV substations "
                       "(pandapower.networks.lv_schutterwald)",
    "sb_mvlv_urban": "SimBench MV+LV urban, 1-MVLV-urban-all-0-sw (simbench.get_simbench_net)",
    "sb_mvlv_rural": "SimBench MV+LV rural, 1-MVLV-rural-all-0-sw (simbench.get_simbench_net)",
    "sb_mvlv_semiurb": "SimBench MV+LV semi-urban, 1-MVLV-semiurb-all-0-sw (simbench.get_simbench_net)",
    "sb_mvlv_comm": "SimBench MV+LV commercial, 1-MVLV-comm-all-0-sw (simbench.get_simbench_net)",
    "sb_complete": "SimBench complete EHV-HV-MV-LV, 1-EHVHVMVLV-mixed-all-0-sw, ~37.6k buses, meshed "
                   "(simbench.get_simbench_net)",
}

#: Where each bundled net comes from (mirrors ``source`` in models/<name>/model.yaml).
BUNDLED_SOURCES: dict[str, dict] = {
    "mv_oberrhein": {"loader": "pandapower.networks.mv_oberrhein", "args": [], "kwargs": {}},
    "cigre_mv": {"loader": "pandapower.networks.create_cigre_network_mv", "args": [],
                 "kwargs": {"with_der": False}},
    "lv_schutterwald": {"loader": "pandapower.networks.lv_schutterwald", "args": [], "kwargs": {}},
    "sb_mvlv_urban": {"loader": "simbench.get_simbench_net", "args": ["1-MVLV-urban-all-0-sw"], "kwargs": {}},
    "sb_mvlv_rural": {"loader": "simbench.get_simbench_net", "args": ["1-MVLV-rural-all-0-sw"], "kwargs": {}},
    "sb_mvlv_semiurb": {"loader": "simbench.get_simbench_net", "args": ["1-MVLV-semiurb-all-0-sw"],
                        "kwargs": {}},
    "sb_mvlv_comm": {"loader": "simbench.get_simbench_net", "args": ["1-MVLV-comm-all-0-sw"], "kwargs": {}},
    "sb_complete": {"loader": "simbench.get_simbench_net", "args": ["1-EHVHVMVLV-mixed-all-0-sw"],
                    "kwargs": {}},
}

#: Switching times used when model.yaml gives none: a remote operation takes
#: ``remote_operate_s``; a manual one needs a crew, dispatched in
#: ``manual_dispatch_min`` to the first device, then driving between devices at
#: ``crew_speed_kmh`` (x ``travel_factor`` over the straight line), plus
#: ``manual_operate_min`` per operation.
DEFAULT_SWITCHING: dict[str, float] = {"remote_operate_s": 30.0, "manual_operate_min": 15.0,
                                       "crew_speed_kmh": 40.0, "manual_dispatch_min": 30.0,
                                       "travel_factor": 1.3}

#: Largest ``synth:N`` (buses); SimBench's complete grid has ~37,600.
MAX_SYNTH_BUSES = 200_000

#: Modules whose functions a model.yaml ``source.loader`` may name.
_ALLOWED_LOADER_MODULES = ("pandapower.networks", "simbench")

_NET_CACHE: dict[str, object] = {}
_MODEL_CACHE: dict[tuple, Model] = {}


# --------------------------------------------------------------------------- locations

def models_dir() -> Path:
    """Folder of bundled model folders (``$GRIDSIM_MODELS_DIR`` or the repository's ``models/``)."""
    env = os.environ.get("GRIDSIM_MODELS_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "models"


def cache_dir() -> Path:
    """Disk cache of built nets (``$GRIDSIM_CACHE_DIR`` or ``~/.cache/gridsim``)."""
    env = os.environ.get("GRIDSIM_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "gridsim"


def clear_memory_cache() -> None:
    """Forget nets and models cached in this process (the disk cache stays)."""
    _NET_CACHE.clear()
    _MODEL_CACHE.clear()


# --------------------------------------------------------------------------- nets

def _versions() -> str:
    """Library versions for the cache key (importlib.metadata: importing simbench alone takes ~3 s)."""
    from importlib.metadata import PackageNotFoundError, version

    def ver(dist: str) -> str:
        try:
            return version(dist)
        except PackageNotFoundError:
            return "none"
    return f"pp{ver('pandapower')}-sb{ver('simbench')}"


def _resolve_loader(source: Mapping):
    name = source.get("loader", "")
    module_name, _, func_name = name.rpartition(".") if isinstance(name, str) else ("", "", "")
    if not module_name.startswith(_ALLOWED_LOADER_MODULES) or not func_name.isidentifier() \
            or func_name.startswith("_"):
        raise ModelLoadError(f"model source loader {brief(name)} is not supported; use a function of "
                             f"{' or '.join(_ALLOWED_LOADER_MODULES)}")
    try:
        func = getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError, ValueError):
        raise ModelLoadError(f"model source loader {brief(name)} does not exist in the installed packages") from None
    if not callable(func):
        raise ModelLoadError(f"model source loader {brief(name)} is not a function")
    return func


def _small(value, limit: int = 10_000) -> bool:
    """Whether ``value`` (from YAML) holds at most ``limit`` items counted with repeats (so an alias bomb,
    small in memory, is not small)."""
    todo, n = [value], 0
    while todo:
        v = todo.pop()
        n += 1
        if n > limit:
            return False
        if isinstance(v, Mapping):
            todo.extend(v.keys())
            todo.extend(v.values())
        elif isinstance(v, (list, tuple, set)):
            todo.extend(v)
    return True


def _check_source(source) -> None:
    """A model source (``{loader, args, kwargs}``) of the right shape: :class:`ModelLoadError` otherwise."""
    if not isinstance(source, Mapping):
        raise ModelLoadError(f"model source: expected a mapping with loader, args, kwargs, got {brief(source)}")
    args, kwargs = source.get("args"), source.get("kwargs")
    if args is not None and not isinstance(args, (list, tuple)):
        raise ModelLoadError(f"model source args: expected a list, got {brief(args)}")
    if kwargs is not None and not (isinstance(kwargs, Mapping) and all(isinstance(k, str) for k in kwargs)):
        raise ModelLoadError(f"model source kwargs: expected a mapping of names to values, got {brief(kwargs)}")
    try:
        if not _small([args, kwargs]):
            raise ValueError
        json.dumps([args, kwargs], allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        raise ModelLoadError(f"model source args / kwargs: plain values only (numbers, text, lists), got "
                             f"{brief([args, kwargs])}") from None


def build_net(source: Mapping):
    """The pandapower net described by ``source`` (``{loader, args, kwargs}``), cached on disk and in process.

    Returns the cached object itself: callers must copy before modifying.
    """
    _check_source(source)
    key_text = json.dumps({"loader": source.get("loader"), "args": list(source.get("args") or []),
                           "kwargs": dict(source.get("kwargs") or {})}, sort_keys=True)
    digest = hashlib.sha256(key_text.encode()).hexdigest()[:16]
    func_name = "".join(c for c in str(source.get("loader")).rpartition(".")[2] if c.isalnum() or c == "_")[:40]
    key = f"{func_name}-{digest}-{_versions()}"
    if key in _NET_CACHE:
        return _NET_CACHE[key]
    path = cache_dir() / f"{key}.pkl"
    net = None
    try:
        cached = path.is_file()
    except OSError:  # an unusable GRIDSIM_CACHE_DIR only costs speed
        cached = False
    if cached:
        try:
            with path.open("rb") as fh:
                net = pickle.load(fh)
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError, TypeError,
                IndexError, OSError):
            net = None  # stale or truncated cache entry: rebuild below
    if net is None:
        func = _resolve_loader(source)
        try:
            net = func(*(source.get("args") or []), **(source.get("kwargs") or {}))
        except ModelLoadError:
            raise
        except Exception as exc:  # third-party loaders raise anything on a bad code / argument
            raise ModelLoadError(f"model source {brief(source.get('loader'))}"
                                 f"{brief(tuple(source.get('args') or ()))} failed: "
                                 f"{type(exc).__name__}: {_one_line(exc)}") from None
        _write_cache(path, net)
    _NET_CACHE[key] = net
    return net


def _copy_net(net):
    return _shared_copy(net, net)


def _write_cache(path: Path, net) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(net, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)  # atomic: concurrent loaders never read half a file
    except OSError:
        pass  # a read-only cache directory only costs speed


def path_kind(path: Path) -> str | None:
    """``"file"``, ``"dir"``, ``"other"`` or None (nothing there) for a path a user gave; a path that
    cannot even be looked at (a name too long, no permission) is an :class:`InputFileError`."""
    import stat

    try:
        mode = Path(path).stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError) as exc:  # ValueError: an embedded NUL byte
        raise InputFileError(f"{brief(str(path))}: cannot use this path: "
                             f"{getattr(exc, 'strerror', None) or exc}") from None
    return "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"


def read_net_json(path) -> object:
    """pandapower JSON file -> net; :class:`InputFileError` naming the file on any problem."""
    import pandapower

    path = Path(path)
    if path_kind(path) != "file":
        raise InputFileError(f"{path}: network file not found")
    check_file_size(path, "GRIDSIM_MAX_NET_MB")
    try:
        with path.open("r", encoding="utf-8") as fh:
            json.load(fh)  # precise syntax errors (line / column) before pandapower sees the file
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{path.name} line {exc.lineno} column {exc.colno}: malformed JSON: {exc.msg} "
                             f"({path})") from None
    except RecursionError:
        raise InputFileError(f"{path.name}: JSON nested too deeply to be a pandapower network ({path})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path.name}: cannot read: {_one_line(exc)} ({path})") from None
    try:
        net = pandapower.from_json(str(path))
    except Exception as exc:  # pandapower raises many kinds on a JSON that is not a net
        raise InputFileError(f"{path.name}: not a pandapower network: {type(exc).__name__}: {_one_line(exc)} "
                             f"({path})") from None
    if not isinstance(net, pandapower.pandapowerNet):
        raise InputFileError(f"{path.name}: not a pandapower network (found {type(net).__name__}) ({path})")
    return net


def _one_line(exc: BaseException, limit: int = 200) -> str:
    """A third-party exception's text for our one-line messages: newlines folded, at most ``limit`` characters."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------- model.yaml

_META_CACHE: dict[tuple, dict] = {}


def read_model_yaml(path) -> dict:
    """Parse model.yaml; :class:`InputFileError` with the parser's line / column on bad YAML."""
    import yaml

    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        raise InputFileError(f"{path}: model.yaml not found") from None
    check_file_size(path, "GRIDSIM_MAX_INPUT_MB")
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key in _META_CACHE:
        return copy.deepcopy(_META_CACHE[key])
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        with path.open("r", encoding="utf-8") as fh:
            meta = yaml.load(fh, Loader=loader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or (str(exc).splitlines() or ["unreadable"])[0]
        raise InputFileError(f"{path.name}{where}: malformed YAML: {_one_line(problem)} ({path})") from None
    except RecursionError:
        raise InputFileError(f"{path.name}: YAML nested too deeply ({path})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path.name}: cannot read: {_one_line(exc)} ({path})") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise InputFileError(f"{path.name}: malformed YAML: {_one_line(exc)} ({path})") from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise InputFileError(f"{path.name}: expected a mapping at the top level, found "
                             f"{type(meta).__name__} ({path})")
    for section in ("source", "customers", "devices", "switching", "priority_weights"):
        if meta.get(section) is not None and not isinstance(meta[section], dict):
            raise InputFileError(f"{path.name}: section '{section}' must be a mapping ({path})")
    for key in ("name", "description"):
        value = meta.get(key)
        if value is not None and not (isinstance(value, str) and len(value) <= (200 if key == "name" else 10_000)):
            raise InputFileError(f"{path.name}: '{key}' must be text of at most "
                                 f"{200 if key == 'name' else 10_000:,} characters, got {brief(value)} ({path})")
    _META_CACHE[key] = meta
    return copy.deepcopy(meta)


def _default_meta(name: str, source: dict | None) -> dict:
    return {
        "name": name,
        "source": source or {},
        "customers": {"rule": "derived from loads (gridsim.model.customers.derive_customers)", "critical": []},
        "devices": {"rule": "pandapower switches only; breakers remote-controlled, others manual"},
        "switching": dict(DEFAULT_SWITCHING),
    }


# --------------------------------------------------------------------------- assembly

def _apply_priority(customers: pd.DataFrame, weights: Mapping | None, *, only_missing: bool) -> pd.DataFrame:
    prio = customers["class"].map(class_priorities(weights))
    if only_missing:
        prio = customers["priority"].where(customers["priority"].notna(), prio)
    customers = customers.copy()
    customers["priority"] = prio.astype(float)
    return customers


def _assemble(name: str, spec: str, net, meta: dict, customers_path, priority_weights,
              validate: bool, source: str | None = None) -> Model:
    structure = check_net_structure(net)
    if structure:  # refused whatever ``validate`` says: nothing below could read this net
        raise NetworkStructureError(structure, source=source or spec)
    normalise_net(net)
    meta = dict(meta)
    meta.setdefault("name", name)
    switching = dict(DEFAULT_SWITCHING)
    switching.update(meta.get("switching") or {})
    for key, value in switching.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e9:
            shown = key if isinstance(key, str) and len(key) <= 60 else brief(key)
            raise ModelLoadError(f"model.yaml switching.{shown}: expected a finite number >= 0, got "
                                 f"{brief(value)}")
    meta["switching"] = switching
    weights = dict(meta.get("priority_weights") or {})
    weights.update(priority_weights or {})
    class_priorities(weights)  # refuse unknown classes early
    if customers_path is not None:
        customers = read_customers(customers_path, priority_weights=weights)
    else:
        critical = (meta.get("customers") or {}).get("critical") or []
        customers = derive_customers(net, critical=critical, priority_weights=weights)
    devices = build_device_table(net, meta)
    model = Model(name=name, net=net, customers=customers, devices=devices, meta=meta, spec=spec)
    if validate:
        issues = validate_model(model)
        errors = [i for i in issues if i.severity == "error"]
        if errors:
            raise ModelValidationError(errors)
        meta["warnings"] = [str(i) for i in issues]
    return model


def _load_folder(folder: Path, spec: str, customers, priority_weights, validate: bool,
                 name: str | None = None) -> Model:
    yaml_path = folder / "model.yaml"
    meta = read_model_yaml(yaml_path) if yaml_path.is_file() else {}
    name = name or str(meta.get("name") or folder.name)
    if (folder / "net.json").is_file():
        net = read_net_json(folder / "net.json")
    elif meta.get("source"):
        net = _copy_net(build_net(meta["source"]))
    else:
        raise InputFileError(f"{folder}: no net.json and no 'source' in model.yaml; put the pandapower "
                             "network there as net.json")
    if customers is None:
        for cand in ("customers.csv", "customers.parquet"):
            if (folder / cand).is_file():
                customers = folder / cand
                break
    base = _default_meta(name, meta.get("source"))
    base.update(meta)
    source = str(folder / "net.json") if (folder / "net.json").is_file() else spec
    return _assemble(name, spec, net, base, customers, priority_weights, validate, source)


def _shared_copy(obj, net):
    """Deep copy of ``obj`` sharing the net's SimBench ``profiles`` (time series, >100 MB, read-only)."""
    memo: dict = {}
    if "profiles" in net:
        memo[id(net["profiles"])] = net["profiles"]
    return copy.deepcopy(obj, memo)


def _cached(key: tuple, build) -> Model:
    if key not in _MODEL_CACHE:
        _MODEL_CACHE[key] = build()
    cached = _MODEL_CACHE[key]
    return _shared_copy(cached, cached.net)


def load_model(spec, *, customers=None, priority_weights: Mapping[str, float] | None = None,
               validate: bool = True) -> Model:
    """Load a model (see the module docstring for ``spec``).

    ``customers``: path of a customers CSV / parquet replacing the derived ones.
    ``priority_weights``: class -> weight, overriding model.yaml and the defaults.
    ``validate``: run :func:`validate_model` and raise :class:`ModelValidationError`
    on errors (warnings go to ``model.meta['warnings']``).
    """
    if isinstance(spec, Model):
        return copy.deepcopy(spec)
    spec_str = str(spec)
    weights_key = tuple(sorted((str(k), float(v)) for k, v in (priority_weights or {}).items())) \
        if isinstance(priority_weights, Mapping) else None
    if priority_weights is not None and not isinstance(priority_weights, Mapping):
        raise ModelLoadError("priority_weights must be a mapping class -> weight")
    cust_key = None
    if customers is not None:
        cpath = Path(customers)
        if path_kind(cpath) != "file":
            raise InputFileError(f"{cpath}: customers file not found")
        st = cpath.stat()
        cust_key = (str(cpath.resolve()), st.st_mtime_ns, st.st_size)

    if spec_str.startswith("synth:"):
        return _load_synth(spec_str, customers, priority_weights, validate)

    if spec_str.startswith("simbench:"):
        code = spec_str.split(":", 1)[1].strip()
        if not code:
            raise ModelLoadError("simbench: needs a SimBench code, e.g. simbench:1-LV-rural1--0-sw")
        _check_simbench_code(code)
        source = {"loader": "simbench.get_simbench_net", "args": [code], "kwargs": {}}

        def build():
            net = _copy_net(build_net(source))
            return _assemble(code, spec_str, net, _default_meta(code, source), customers,
                             priority_weights, validate)
        return _cached((spec_str, cust_key, weights_key, validate), build)

    if not isinstance(spec, Path) and spec_str in BUNDLED_MODELS:
        folder = models_dir() / spec_str

        def build():
            if (folder / "model.yaml").is_file():
                return _load_folder(folder, spec_str, customers, priority_weights, validate, name=spec_str)
            source = BUNDLED_SOURCES[spec_str]
            net = _copy_net(build_net(source))
            return _assemble(spec_str, spec_str, net, _default_meta(spec_str, source), customers,
                             priority_weights, validate)
        return _cached((spec_str, cust_key, weights_key, validate), build)

    path = Path(spec_str).expanduser()
    kind = path_kind(path)
    if kind == "dir":
        return _load_folder(path, spec_str, customers, priority_weights, validate)
    if kind == "file":
        if path.name == "model.yaml":
            return _load_folder(path.parent, spec_str, customers, priority_weights, validate)
        net = read_net_json(path)
        return _assemble(path.stem, spec_str, net, _default_meta(path.stem, {"file": str(path)}),
                         customers, priority_weights, validate, str(path))
    if isinstance(spec, Path) or "/" in spec_str or os.sep in spec_str or path.suffix:
        raise InputFileError(f"{brief(spec_str, 200)}: no such file or folder")
    raise ModelLoadError(f"unknown model {brief(spec_str)}; bundled models: {', '.join(BUNDLED_MODELS)} "
                         "(or simbench:CODE, synth:N[:SEED], a pandapower JSON file or a model folder)")


def _check_simbench_code(code: str) -> None:
    """Refuse codes simbench would misread (it parses loosely and may return another grid)."""
    try:
        import simbench
    except ImportError:
        raise ModelLoadError("simbench:CODE needs the simbench package (pip install simbench)") from None
    codes = simbench.collect_all_simbench_codes()
    if code not in codes:
        close = [c for c in codes if c.lower().startswith(code.lower()[:8])][:5]
        hint = f"; similar: {', '.join(close)}" if close else f"; e.g. {', '.join(codes[3:6])}"
        raise ModelLoadError(f"simbench code {brief(code)} is not one of the {len(codes)} SimBench codes{hint}")


def _load_synth(spec: str, customers, priority_weights, validate: bool) -> Model:
    parts = spec.split(":")
    try:
        n_buses = int(parts[1])
        seed = int(parts[2]) if len(parts) > 2 and parts[2] != "" else 0
        if len(parts) > 3 or n_buses <= 0:
            raise ValueError
    except (ValueError, IndexError):
        raise ModelLoadError(f"{brief(spec)}: expected synth:N or synth:N:SEED with integers, N > 0") from None
    if n_buses > MAX_SYNTH_BUSES or not 0 <= seed < 2**63:
        raise ModelLoadError(f"{brief(spec)}: N must be at most {MAX_SYNTH_BUSES:,} buses and SEED from 0 to 2**63-1")
    from gridsim.model.synth import make_synthetic

    model = make_synthetic(n_buses, seed=seed)
    model.spec = spec
    if customers is not None:
        model.customers = read_customers(customers, priority_weights=priority_weights)
    elif priority_weights:
        model.customers = _apply_priority(model.customers, priority_weights, only_missing=False)
    if validate:
        issues = validate_model(model)
        errors = [i for i in issues if i.severity == "error"]
        if errors:
            raise ModelValidationError(errors)
    return model


def list_models() -> pd.DataFrame:
    """One row per bundled model: name, buses, lines, customers (sum of count), critical, source."""
    from gridsim.types import CRITICAL_CLASSES

    crit = {c.value for c in CRITICAL_CLASSES}
    rows = []
    for name, desc in BUNDLED_MODELS.items():
        m = _MODEL_CACHE.get((name, None, None, True)) or load_model(name)
        rows.append({
            "name": name, "buses": len(m.net.bus), "lines": len(m.net.line),
            "customers": int(m.customers["count"].sum()),
            "critical": int(m.customers.loc[m.customers["class"].isin(crit), "count"].sum()),
            "source": desc,
        })
    return pd.DataFrame(rows)


__all__ = ["BUNDLED_MODELS", "BUNDLED_SOURCES", "DEFAULT_SWITCHING", "CUSTOMER_COLUMNS", "DEVICE_COLUMNS",
           "build_net", "cache_dir", "clear_memory_cache", "list_models", "load_model", "models_dir",
           "read_model_yaml", "read_net_json"]
