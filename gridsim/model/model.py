"""The :class:`Model`: a pandapower net plus gridsim's own tables.

pandapower has no customers, fuses, reclosers or remote-control flags; gridsim
keeps them beside the net, keyed by pandapower element ids.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

#: Columns every customers table has (``channels`` and unknown extra columns are kept).
CUSTOMER_COLUMNS: tuple[str, ...] = ("customer_id", "bus", "class", "count", "p_kw", "priority")

#: Columns of the device table (one row per switching or protective device).
#:
#: - ``device_id``: ``switch:<pandapower switch index>`` for pandapower switches,
#:   ``<kind>:<element_type>:<element_id>`` (e.g. ``fuse:line:40``) for devices
#:   pandapower has no table for (from model.yaml);
#: - ``kind``: a :class:`gridsim.types.DeviceKind` value;
#: - ``element_type`` / ``element_id``: the branch the device sits on
#:   (``line``, ``trafo``, ``trafo3w``; ``switch`` with its own index for a
#:   bus-bus switch);
#: - ``bus``: the pandapower bus at which the device sits, -1 when unknown (then
#:   it is taken to sit at the branch's source side);
#: - ``remote``: remote-controlled (operated in seconds) or manual (needs a crew);
#: - ``switch_id``: pandapower switch index, -1 for devices from model.yaml;
#: - ``normally_open``: open in the model as loaded (tie switches);
#: - ``origin``: ``pandapower`` or ``model.yaml``.
DEVICE_COLUMNS: tuple[str, ...] = (
    "device_id", "kind", "element_type", "element_id", "bus", "remote",
    "switch_id", "normally_open", "origin",
)


@dataclass
class Model:
    """A loaded network model.

    Attributes
    ----------
    name: short name (bundled name, file stem, ``synth:N``...).
    net: the pandapower net.
    customers: customers table, columns :data:`CUSTOMER_COLUMNS` (+ optional ``channels``, extras kept).
    devices: device table, columns :data:`DEVICE_COLUMNS`.
    meta: content of model.yaml (source, customer rule, critical facilities, device data, settings).
    spec: the spec the model was loaded from.
    """

    name: str
    net: Any
    customers: pd.DataFrame
    devices: pd.DataFrame
    meta: dict = field(default_factory=dict)
    spec: str = ""

    def __repr__(self) -> str:  # pandapower nets print pages; keep this short
        return (f"Model({self.name!r}, buses={len(self.net.bus)}, lines={len(self.net.line)}, "
                f"customers={int(self.customers['count'].sum()) if len(self.customers) else 0}, "
                f"devices={len(self.devices)})")
