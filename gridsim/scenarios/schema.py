"""Scenario files: what-if faults, planned outages, storms, crews and strategies.

A scenario is a YAML file (see ``docs/scenarios.md`` and ``scenarios/*.yaml``)
read with ``yaml.safe_load`` into the pydantic models below, every one with
``extra="forbid"``: an unknown key is an error, never silently ignored.

:func:`load_scenario` turns every mistake into one :class:`ScenarioError`
line that names the file, the line of the offending key (pydantic's error
location mapped onto the YAML node tree), the field and what was expected::

    single_fault.yaml line 9: faults[0].repair_min.params: lognormal needs median_min, sigma; got unknown mean_min

Element references are only checked for their form (``TYPE:ID``) here; whether
they exist is a question for a model: :func:`check_against`.
"""
from __future__ import annotations

import math
import typing
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (
    AfterValidator, BaseModel, ConfigDict, Discriminator, Field, PrivateAttr, Tag, ValidationError,
    ValidationInfo, field_validator,
)

from gridsim.errors import GridsimError, UnknownElementError, brief, printable

__all__ = [
    "Cause", "DistKind", "Distribution", "RepairSpec", "Fault", "PlannedOutage", "PoissonCount",
    "ElementWeights", "Footprint", "StormSpec", "Crews", "Scenario", "ScenarioError", "load_scenario",
    "parse_scenario", "check_against", "scenario_json_schema", "DEFAULT_START", "DEFAULT_STORM_WEIGHTS",
    "WEIGHT_KINDS",
]


class ScenarioError(GridsimError):
    """A scenario file is malformed or does not fit its model (one line: file, line, field, what)."""


class Cause(StrEnum):
    EQUIPMENT = "equipment"
    WEATHER = "weather"
    VEGETATION = "vegetation"
    THIRD_PARTY = "third_party"
    OVERLOAD = "overload"
    UNKNOWN = "unknown"


class DistKind(StrEnum):
    FIXED = "fixed"
    EXPONENTIAL = "exponential"
    LOGNORMAL = "lognormal"
    UNIFORM = "uniform"


#: Parameters each distribution takes (all in minutes except ``sigma``, the
#: standard deviation of the log of a lognormal).
DIST_PARAMS: dict[DistKind, tuple[str, ...]] = {
    DistKind.FIXED: ("value_min",),
    DistKind.EXPONENTIAL: ("mean_min",),
    DistKind.LOGNORMAL: ("median_min", "sigma"),
    DistKind.UNIFORM: ("low_min", "high_min"),
}

#: ``t = 0`` of a scenario that gives no ``start``.
DEFAULT_START = datetime(2025, 1, 6, 8, 0)

#: Element kinds of storm weights and repair times. ``line`` stands for both
#: line kinds unless ``line_ol`` (overhead: pandapower ``net.line.type == "ol"``)
#: or ``line_cs`` (cable: anything else) is given.
WEIGHT_KINDS: tuple[str, ...] = ("line_ol", "line_cs", "trafo", "trafo3w", "switch", "bus")

#: Storm failure weights when the scenario gives none (lines per km): wind
#: brings down overhead lines; cables, transformers rarely; busbars and
#: bus-bus switches not at all unless asked for.
DEFAULT_STORM_WEIGHTS: dict[str, float] = {
    "line_ol": 1.0, "line_cs": 0.05, "trafo": 0.02, "trafo3w": 0.0, "switch": 0.0, "bus": 0.0,
}

_FORBID = ConfigDict(extra="forbid")
#: Largest time in a scenario, minutes (10 years): times, durations and repair times are bounded so
#: that the start plus any of them stays a valid timestamp; sampled repair times are clipped to it.
MAX_MINUTES = 10 * 365 * 24 * 60
#: Largest number of faults, storm faults, Monte-Carlo runs; largest crew count.
MAX_FAULTS, MAX_RUNS, MAX_CREWS = 100_000, 100_000, 1_000
NonNeg = Annotated[float, Field(ge=0, le=MAX_MINUTES, allow_inf_nan=False)]
Coord = Annotated[float, Field(ge=-1e6, le=1e6, allow_inf_nan=False)]


# --------------------------------------------------------------------------- pieces

def _check_element(ref: str) -> str:
    from gridsim.core.topology import parse_element

    try:
        etype, eid = parse_element(ref)
    except UnknownElementError as exc:
        raise ValueError(str(exc)) from None
    return f"{etype.value}:{eid}"


#: ``line:17``, ``trafo:3``, ``trafo3w:0``, ``switch:12``, ``bus:40`` (syntax only).
ElementRef = Annotated[str, AfterValidator(_check_element),
                       Field(description="TYPE:ID, e.g. line:17 (types line, trafo, trafo3w, switch, bus)")]


class Distribution(BaseModel):
    """A random duration in minutes: ``{dist: lognormal, params: {median_min: 240, sigma: 0.6}}``.

    Parameters: fixed ``value_min``; exponential ``mean_min``; lognormal
    ``median_min`` and ``sigma`` (of the log); uniform ``low_min`` and ``high_min``.
    """

    model_config = _FORBID
    dist: DistKind
    params: dict[str, NonNeg] = Field(default_factory=dict, validate_default=True)

    @field_validator("params")
    @classmethod
    def _params_fit(cls, params: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        kind = info.data.get("dist")
        if kind is None:
            return params
        need = DIST_PARAMS[kind]
        missing = [k for k in need if k not in params]
        extra = [k for k in params if k not in need]
        if missing or extra:
            got = (f"missing {', '.join(missing)}" if missing else "") + ("; " if missing and extra else "") + \
                  (f"unknown {', '.join(extra)}" if extra else "")
            raise ValueError(f"{kind.value} needs {', '.join(need)}; {got}")
        if kind is DistKind.LOGNORMAL and params["median_min"] <= 0:
            raise ValueError("lognormal median_min must be > 0")
        if kind is DistKind.LOGNORMAL and params["sigma"] > 5:
            raise ValueError(f"lognormal sigma (of the log) must be <= 5, got {params['sigma']:g}")
        if kind is DistKind.EXPONENTIAL and params["mean_min"] <= 0:
            raise ValueError("exponential mean_min must be > 0")
        if kind is DistKind.UNIFORM and params["high_min"] < params["low_min"]:
            raise ValueError(f"uniform high_min ({params['high_min']:g}) is below low_min ({params['low_min']:g})")
        return params

    def mean_min(self) -> float:
        p = self.params
        return {DistKind.FIXED: lambda: p["value_min"], DistKind.EXPONENTIAL: lambda: p["mean_min"],
                DistKind.LOGNORMAL: lambda: p["median_min"] * math.exp(p["sigma"] ** 2 / 2),
                DistKind.UNIFORM: lambda: (p["low_min"] + p["high_min"]) / 2}[self.dist]()

    def sample(self, rng, n: int):
        """``n`` draws (numpy array, minutes) from ``rng`` (a ``numpy.random.Generator``)."""
        import numpy as np

        p = self.params
        if self.dist is DistKind.FIXED:
            return np.full(n, p["value_min"], dtype=np.float64)
        if self.dist is DistKind.EXPONENTIAL:
            out = rng.exponential(p["mean_min"], n)
        elif self.dist is DistKind.LOGNORMAL:
            out = rng.lognormal(math.log(p["median_min"]), p["sigma"], n)
        else:
            out = rng.uniform(p["low_min"], p["high_min"], n)
        return np.minimum(out, MAX_MINUTES)  # a long tail stays a valid time


def _number_or_mapping(value: Any) -> str:
    return "mapping" if isinstance(value, (dict, BaseModel)) else "number"


#: Repair minutes: a number or a :class:`Distribution`.
RepairSpec = Annotated[
    Union[Annotated[NonNeg, Tag("number")], Annotated[Distribution, Tag("mapping")]],
    Discriminator(_number_or_mapping),
]


def as_distribution(spec: float | Distribution) -> Distribution:
    """A number of minutes as a fixed distribution; a distribution as is."""
    if isinstance(spec, Distribution):
        return spec
    return Distribution(dist=DistKind.FIXED, params={"value_min": float(spec)})


class Fault(BaseModel):
    """One fault of a what-if scenario."""

    model_config = _FORBID
    element: ElementRef
    time_min: NonNeg = Field(0.0, description="minutes after the scenario start")
    repair_min: RepairSpec | None = Field(
        None, description="minutes (or a distribution); default: the element type's repair time")
    cause: Cause = Cause.UNKNOWN
    temporary: bool = Field(False, description="cleared by reclosing (a momentary interruption), no repair")


class PlannedOutage(BaseModel):
    """Maintenance: elements switched out from ``start_min`` to ``end_min``, announced ``notice_days`` ahead."""

    model_config = _FORBID
    name: str | None = None
    elements: list[ElementRef] = Field(min_length=1)
    start_min: NonNeg = Field(description="minutes after the scenario start")
    end_min: NonNeg = Field(description="minutes after the scenario start, after start_min")
    notice_days: float = Field(5.0, ge=0, le=3650, allow_inf_nan=False,
                               description="days ahead the affected customers are told")

    @field_validator("end_min")
    @classmethod
    def _after_start(cls, end: float, info: ValidationInfo) -> float:
        start = info.data.get("start_min")
        if start is not None and end <= start:
            raise ValueError(f"must be after start_min ({start:g}), got {end:g}")
        return end


class PoissonCount(BaseModel):
    """A Poisson-distributed number of faults: ``{poisson: 20}`` (the mean)."""

    model_config = _FORBID
    poisson: float = Field(gt=0, le=MAX_FAULTS, allow_inf_nan=False)


class ElementWeights(BaseModel):
    """Relative storm failure weight per element kind; lines per km. Unset kinds take the defaults
    (:data:`DEFAULT_STORM_WEIGHTS`); ``line`` sets both line kinds unless they are given."""

    model_config = _FORBID
    line: NonNeg | None = None
    line_ol: NonNeg | None = None
    line_cs: NonNeg | None = None
    trafo: NonNeg | None = None
    trafo3w: NonNeg | None = None
    switch: NonNeg | None = None
    bus: NonNeg | None = None

    def resolved(self) -> dict[str, float]:
        out = dict(DEFAULT_STORM_WEIGHTS)
        if self.line is not None:
            out["line_ol"] = out["line_cs"] = self.line
        for k in WEIGHT_KINDS:
            v = getattr(self, k)
            if v is not None:
                out[k] = v
        return out


class Footprint(BaseModel):
    """Where the wind blows: failure weights times ``intensity`` inside ``radius_km`` of ``center_km``
    (``profile: linear`` fades it to 0 at the edge), times ``outside`` elsewhere and where the model has
    no coordinates."""

    model_config = _FORBID
    center_km: tuple[Coord, Coord]
    radius_km: float = Field(gt=0, le=1e5, allow_inf_nan=False)
    intensity: float = Field(1.0, gt=0, le=1e6, allow_inf_nan=False)
    outside: NonNeg = 0.0
    profile: Literal["flat", "linear"] = "flat"


class StormSpec(BaseModel):
    """A storm generator: how many faults, where, how long they take to repair."""

    model_config = _FORBID
    n_faults: Annotated[
        Union[Annotated[int, Field(ge=0, le=MAX_FAULTS), Tag("number")], Annotated[PoissonCount, Tag("mapping")]],
        Discriminator(_number_or_mapping),
    ] = Field(description="a fixed number or {poisson: MEAN}")
    duration_min: NonNeg = Field(360.0, description="faults occur uniformly over this many minutes from the start")
    weights: ElementWeights = Field(default_factory=ElementWeights)
    footprint: Footprint | None = None
    repair_min: dict[Literal["line", "line_ol", "line_cs", "trafo", "trafo3w", "switch", "bus"], RepairSpec] = \
        Field(default_factory=dict, description="per element kind; unset kinds take the planner's defaults")
    fraction_temporary: float = Field(0.0, ge=0, le=1)
    causes: dict[Cause, NonNeg] = Field(default_factory=lambda: {Cause.WEATHER: 1.0},
                                        description="relative weight of each cause")

    @field_validator("causes")
    @classmethod
    def _some_cause(cls, causes: dict) -> dict:
        if not causes or sum(causes.values()) <= 0:
            raise ValueError("give at least one cause with a weight > 0")
        return causes

    def repair_distributions(self) -> dict[str, Distribution]:
        """Repair distribution per kind of :data:`WEIGHT_KINDS` (defaults from the restoration planner)."""
        from gridsim.restore.plan import DEFAULT_REPAIR_MIN
        from gridsim.types import ElementType

        out: dict[str, Distribution] = {}
        for k in WEIGHT_KINDS:
            etype = ElementType.LINE if k.startswith("line") else ElementType(k)
            spec = self.repair_min.get(k)
            if spec is None and k.startswith("line"):
                spec = self.repair_min.get("line")
            out[k] = as_distribution(DEFAULT_REPAIR_MIN[etype] if spec is None else spec)
        return out


def _check_depot(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        bus = text[4:] if text.startswith("bus:") else text
        try:
            return int(bus)
        except ValueError:
            raise ValueError(f"a depot is a bus id (58 or bus:58) or [x_km, y_km], got {brief(value)}") from None
    return value


Depot = Annotated[Union[Annotated[int, Field(ge=0, le=2**62)],
                        Annotated[str, Field(pattern=r"^(bus:)?[0-9]{1,18}$")], tuple[Coord, Coord]],
                  Field(description="bus id (58 or \"bus:58\") or [x_km, y_km]")]


class Crews(BaseModel):
    """Repair crews: ``count`` crews at ``depots`` (one for all or one per crew; default the source bus)."""

    model_config = _FORBID
    count: int = Field(2, ge=1, le=MAX_CREWS)
    depots: list[Depot] = Field(default_factory=list, max_length=MAX_CREWS)
    speed_kmh: float | None = Field(None, gt=0, le=1e4, allow_inf_nan=False,
                                    description="default: model.yaml switching.crew_speed_kmh, else 40")
    shift_h: float = Field(12.0, gt=0, le=1e4, allow_inf_nan=False)

    @field_validator("depots", mode="before")
    @classmethod
    def _depots(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [_check_depot(v) for v in value]
        return value

    @field_validator("depots")
    @classmethod
    def _depot_count(cls, depots: list, info: ValidationInfo) -> list:
        count = info.data.get("count")
        if count is not None and len(depots) not in (0, 1, count):
            raise ValueError(f"give one depot for all crews or one per crew ({count}), got {len(depots)}")
        return depots


def _check_strategy(name: str) -> str:
    from gridsim.restore.schedule import STRATEGIES

    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {brief(name)}; known: {', '.join(sorted(STRATEGIES))}")
    return name


class Scenario(BaseModel):
    """A what-if scenario (see ``docs/scenarios.md``)."""

    model_config = ConfigDict(extra="forbid", title="gridsim scenario")
    name: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=10_000)
    model: str = Field(max_length=4096,
                       description="bundled name, simbench:CODE, synth:N[:SEED], or a pandapower JSON file / "
                                   "model folder (relative to the scenario file)")
    customers: str | None = Field(None, max_length=4096, description="customers CSV (relative to the scenario file)")
    start: datetime = Field(DEFAULT_START, description="wall-clock time of t = 0 (1970 to 2200)")
    faults: list[Fault] = Field(default_factory=list, max_length=MAX_FAULTS)
    planned: list[PlannedOutage] = Field(default_factory=list, max_length=MAX_FAULTS)
    storm: StormSpec | None = None
    crews: Crews = Field(default_factory=Crews)
    strategies: list[Annotated[str, AfterValidator(_check_strategy)]] = Field(
        default_factory=lambda: ["wspt"], min_length=1)
    runs: int = Field(1, ge=1, le=MAX_RUNS, description="Monte-Carlo runs (storms sampled per run)")
    seed: int = Field(0, ge=0, le=2**63 - 1)

    @field_validator("start")
    @classmethod
    def _start_in_range(cls, t: datetime) -> datetime:
        naive = t.replace(tzinfo=None)
        if not datetime(1970, 1, 1) <= naive <= datetime(2200, 1, 1):
            raise ValueError(f"start must lie between 1970 and 2200, got {t.isoformat()}")
        return t

    @field_validator("faults")
    @classmethod
    def _faults_once(cls, faults: list) -> list:
        seen: set[str] = set()
        for f in faults:
            if f.element in seen:
                raise ValueError(f"fault {f.element} is given twice; list every faulted element once")
            seen.add(f.element)
        return faults

    _path: Path | None = PrivateAttr(None)
    _text: str | None = PrivateAttr(None)

    @property
    def path(self) -> Path | None:
        """The file it was loaded from (None when built in Python)."""
        return self._path

    def model_ref(self) -> str:
        """``model`` for :func:`gridsim.load_model`: a relative path resolved against the scenario file."""
        return _resolve(self.model, self._path)

    def customers_ref(self) -> str | None:
        return None if self.customers is None else _resolve(self.customers, self._path, always=True)

    def load_model(self):
        """The scenario's model (customers file applied)."""
        from gridsim.model import load_model

        return load_model(self.model_ref(), customers=self.customers_ref())


def _resolve(ref: str, base: Path | None, *, always: bool = False) -> str:
    if base is None:
        return ref
    from gridsim.model.loader import BUNDLED_MODELS

    if not always and (ref in BUNDLED_MODELS or ref.startswith(("simbench:", "synth:"))):
        return ref
    p = Path(ref).expanduser()
    if p.is_absolute():
        return str(p)
    candidate = base.parent / p
    return str(candidate) if (always or candidate.exists()) else ref


def scenario_json_schema() -> dict:
    """The JSON Schema of scenario files (what ``gridsim schema`` prints)."""
    return Scenario.model_json_schema()


# --------------------------------------------------------------------------- loading

def _yaml_line(node: yaml.Node | None, loc: tuple) -> tuple[int | None, tuple]:
    """1-based line of the deepest YAML node along ``loc`` and the part of ``loc`` that was found."""
    if node is None:
        return None, ()
    line = node.start_mark.line + 1
    found: list = []
    for part in loc:
        nxt = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(part):
                    nxt, key_line = v, k.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            nxt = node.value[part]
            key_line = nxt.start_mark.line + 1
        if nxt is None:
            continue  # a union tag or a missing key: stay on the parent
        node, line = nxt, key_line
        found.append(part)
    return line, tuple(found)


def _field_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        part = part if isinstance(part, int) else printable(part)
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _allowed_keys(loc: tuple) -> list[str] | None:
    """Field names of the pydantic model the mapping at ``loc`` is parsed into."""
    types: list = [Scenario]
    for part in loc:
        nxt: list = []
        for t in types:
            for u in _unwrap(t):
                if isinstance(u, type) and issubclass(u, BaseModel) and isinstance(part, str) \
                        and part in u.model_fields:
                    nxt.append(u.model_fields[part].annotation)
                elif typing.get_origin(u) in (list, tuple) and isinstance(part, int):
                    nxt.extend(typing.get_args(u)[:1])
                elif typing.get_origin(u) is dict:
                    nxt.extend(typing.get_args(u)[1:2])
        types = nxt or types
    for t in types:
        for u in _unwrap(t):
            if isinstance(u, type) and issubclass(u, BaseModel):
                return list(u.model_fields)
    return None


def _unwrap(t) -> list:
    origin = typing.get_origin(t)
    if origin is Annotated:
        return _unwrap(typing.get_args(t)[0])
    if origin is Union or type(t).__name__ == "UnionType":
        return [u for a in typing.get_args(t) for u in _unwrap(a)]
    return [t]


def _cut(text: str, limit: int) -> str:
    """``text`` on one line, at most ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(err: dict, loc: tuple) -> str:
    kind, msg, value = err["type"], err["msg"], err.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        return f"unknown key {brief(loc[-1])}" + (f"; expected one of: {', '.join(allowed)}" if allowed else "")
    if kind == "missing":
        return "missing; this field is required"
    msg = msg.removeprefix("Value error, ")
    msg = msg.replace("Input should be", "expected").replace("input should be", "expected")
    for words, sign in (("greater than or equal to", ">="), ("less than or equal to", "<="),
                        ("greater than", ">"), ("less than", "<")):
        msg = msg.replace(words, sign)
    if kind in ("value_error", "assertion_error") or isinstance(value, (dict, list)):
        return _cut(msg, 300)
    return f"{_cut(msg, 300)}, got {brief(value)}"


def _error_line(path: Path, text: str, root: yaml.Node | None, err: dict) -> str:
    loc = tuple(err["loc"])
    line, found = _yaml_line(root, loc)
    # keep the real keys / indices (drop union tags such as 'number' / 'mapping')
    shown = tuple(p for p in loc if p in found) if err["type"] != "missing" else \
        tuple(p for p in loc[:-1] if p in found) + loc[-1:]
    where = f" line {line}" if line else ""
    return f"{path.name}{where}: {_field_path(shown)}: {_describe(err, shown)}"


def _best_error(errors: list[dict]) -> dict:
    # an unknown key next to a missing one is usually a typo of it: name the unknown key
    unknown = [e for e in errors if e["type"] == "extra_forbidden"]
    return unknown[0] if unknown else errors[0]


def parse_scenario(text: str, path: str | Path = "<scenario>") -> Scenario:
    """Parse scenario YAML ``text`` (``path`` names it in errors; at most ``GRIDSIM_MAX_INPUT_MB``)."""
    from gridsim.errors import InputTooLargeError
    from gridsim.model.limits import check_text_size

    path = Path(path)
    if not isinstance(text, str):
        raise ScenarioError(f"{path.name}: expected the scenario as text, got {type(text).__name__}")
    try:
        check_text_size(text, path.name)
    except InputTooLargeError as exc:
        raise ScenarioError(str(exc)) from None
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or (str(exc).splitlines() or ["unreadable"])[0]
        raise ScenarioError(f"{path.name}{where}: malformed YAML: {_cut(problem, 200)}") from None
    except RecursionError:
        raise ScenarioError(f"{path.name}: malformed YAML: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise ScenarioError(f"{path.name}: malformed YAML: {_cut(str(exc), 200)}") from None
    if not isinstance(data, dict):
        found = "nothing" if data is None else type(data).__name__
        raise ScenarioError(f"{path.name} line 1: expected a mapping with at least 'model', found {found}")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        msg = _error_line(path, text, root, _best_error(errors))
        more = f" (+{len(errors) - 1} more error(s))" if len(errors) > 1 else ""
        raise ScenarioError(msg + more) from None
    scenario._path = path.resolve() if path.name != "<scenario>" else None
    scenario._text = text
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; :class:`ScenarioError` (one line) on any mistake."""
    from gridsim.errors import InputTooLargeError
    from gridsim.model.limits import check_file_size

    path = Path(path)
    try:
        check_file_size(path, "GRIDSIM_MAX_INPUT_MB")
        text = path.read_text(encoding="utf-8")
    except InputTooLargeError as exc:
        raise ScenarioError(str(exc)) from None
    except FileNotFoundError:
        raise ScenarioError(f"{path}: scenario file not found") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ScenarioError(f"{_cut(path.name, 200)}: cannot read: {_cut(str(exc), 200)}") from None
    return parse_scenario(text, path)


# --------------------------------------------------------------------------- against a model

def _where(scenario: Scenario, loc: tuple) -> str:
    name = scenario.path.name if scenario.path else "<scenario>"
    root = None
    if scenario._text is not None:
        try:
            root = yaml.compose(scenario._text, Loader=yaml.SafeLoader)
        except yaml.YAMLError:  # pragma: no cover - it parsed once
            root = None
    line, _ = _yaml_line(root, loc)
    return f"{name}" + (f" line {line}" if line else "") + f": {_field_path(loc)}"


def check_against(scenario: Scenario, topo) -> None:
    """Check every element and depot the scenario names against a compiled topology.

    Raises :class:`ScenarioError` (one line: file, line, field, the element
    and what the model has). A storm whose weights and footprint leave no
    element able to fail is an error too.
    """
    import numpy as np

    def check(ref: str, loc: tuple) -> None:
        try:
            topo.element_positions([ref])
        except UnknownElementError as exc:
            raise ScenarioError(f"{_where(scenario, loc)}: {exc}") from None

    for i, f in enumerate(scenario.faults):
        check(f.element, ("faults", i, "element"))
    for i, p in enumerate(scenario.planned):
        for j, e in enumerate(p.elements):
            check(e, ("planned", i, "elements", j))
    bus_ids = np.asarray(topo.bus_ids)
    for i, d in enumerate(scenario.crews.depots):
        if isinstance(d, int) and not (bus_ids == d).any():
            raise ScenarioError(f"{_where(scenario, ('crews', 'depots', i))}: depot bus {d} does not exist "
                                f"in model {topo.name!r} ({len(bus_ids)} buses, ids {bus_ids.min()}..{bus_ids.max()})")
    if scenario.storm is not None:
        from gridsim.scenarios.storms import element_weights

        w = element_weights(scenario.storm, topo)
        if not (w > 0).any():
            why = "its footprint covers no element with coordinates" if scenario.storm.footprint else \
                "every element kind has weight 0"
            raise ScenarioError(f"{_where(scenario, ('storm',))}: no element of model {topo.name!r} can fail: "
                                f"{why}; move the footprint or raise a weight")
