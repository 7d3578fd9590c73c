"""Enumerations shared across gridsim (StrEnums, never magic strings)."""
from __future__ import annotations

from enum import StrEnum


class CustomerClass(StrEnum):
    HOSPITAL = "hospital"
    STATION = "station"          # rail / metro stations
    WATER = "water"              # water and waste-water works
    TELECOM = "telecom"
    GOVERNMENT = "government"
    INDUSTRIAL = "industrial"
    COMMERCIAL = "commercial"
    AGRICULTURAL = "agricultural"
    RESIDENTIAL = "residential"


#: Order of classes in every per-class array (columns of ``Topology.bus_class_counts``).
CLASS_ORDER: tuple[CustomerClass, ...] = tuple(CustomerClass)

#: Classes counted as critical customers by default.
CRITICAL_CLASSES: frozenset[CustomerClass] = frozenset({
    CustomerClass.HOSPITAL, CustomerClass.STATION, CustomerClass.WATER,
    CustomerClass.TELECOM, CustomerClass.GOVERNMENT,
})

#: Default priority weight per customer of a class (a hospital weighs far more
#: than a home). Overridden by ``priority_weights`` in model.yaml or by the
#: ``priority`` column of a customers file.
DEFAULT_PRIORITY: dict[CustomerClass, float] = {
    CustomerClass.HOSPITAL: 1000.0,
    CustomerClass.STATION: 500.0,
    CustomerClass.WATER: 300.0,
    CustomerClass.TELECOM: 200.0,
    CustomerClass.GOVERNMENT: 100.0,
    CustomerClass.INDUSTRIAL: 10.0,
    CustomerClass.COMMERCIAL: 3.0,
    CustomerClass.AGRICULTURAL: 2.0,
    CustomerClass.RESIDENTIAL: 1.0,
}


class DeviceKind(StrEnum):
    BREAKER = "breaker"
    RECLOSER = "recloser"
    FUSE = "fuse"
    LOAD_BREAK_SWITCH = "load_break_switch"
    DISCONNECTOR = "disconnector"


#: Devices that open on their own when a fault is downstream of them.
PROTECTIVE_KINDS: frozenset[DeviceKind] = frozenset({
    DeviceKind.BREAKER, DeviceKind.RECLOSER, DeviceKind.FUSE,
})

#: Preference when a branch carries several devices: lower is chosen first.
DEVICE_RANK: dict[DeviceKind, int] = {
    DeviceKind.BREAKER: 0, DeviceKind.RECLOSER: 1, DeviceKind.FUSE: 2,
    DeviceKind.LOAD_BREAK_SWITCH: 3, DeviceKind.DISCONNECTOR: 4,
}

#: pandapower switch ``type`` -> device kind ("LS" = load switch, treated as a
#: load-break switch; unknown or empty types are disconnectors).
PP_SWITCH_TYPE: dict[str, DeviceKind] = {
    "CB": DeviceKind.BREAKER,
    "LBS": DeviceKind.LOAD_BREAK_SWITCH,
    "LS": DeviceKind.LOAD_BREAK_SWITCH,
    "DS": DeviceKind.DISCONNECTOR,
}


class ElementType(StrEnum):
    LINE = "line"
    TRAFO = "trafo"
    TRAFO3W = "trafo3w"
    SWITCH = "switch"
    BUS = "bus"
