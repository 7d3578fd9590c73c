"""Input size limits of every reader, configurable by environment variables.

=============================  ==========  ===================================================
variable                       default     what it bounds
=============================  ==========  ===================================================
``GRIDSIM_MAX_NET_MB``         256         a pandapower network JSON file (net.json)
``GRIDSIM_MAX_INPUT_MB``       64          a customers CSV / parquet, model.yaml, a scenario
                                           YAML file (or text), an events JSON-lines file
``GRIDSIM_MAX_EVENT_BYTES``    16384       one live event (its JSON text)
``GRIDSIM_MAX_BATCH``          10000       events per ``LiveEngine.apply_batch`` call and per
                                           ``gridsim events push`` file
=============================  ==========  ===================================================

The variables are read at every check (a server or a test may change them while running). A value
that is not a positive number is an error naming the variable, not a silent default.
"""
from __future__ import annotations

import os
from pathlib import Path

from gridsim.errors import InputTooLargeError, SettingError

__all__ = ["LIMITS", "limit", "check_file_size", "check_text_size"]

#: variable -> (default, unit multiplier to bytes / items, what it bounds)
LIMITS: dict[str, tuple[float, int, str]] = {
    "GRIDSIM_MAX_NET_MB": (256, 2**20, "a network JSON file"),
    "GRIDSIM_MAX_INPUT_MB": (64, 2**20, "an input file"),
    "GRIDSIM_MAX_EVENT_BYTES": (16 * 1024, 1, "one event"),
    "GRIDSIM_MAX_BATCH": (10_000, 1, "events per batch"),
}


def limit(name: str) -> int:
    """The limit ``name`` (a key of :data:`LIMITS`) in bytes (or items for ``GRIDSIM_MAX_BATCH``)."""
    default, unit, _ = LIMITS[name]
    raw = os.environ.get(name, "").strip()
    if not raw:
        return int(default * unit)
    try:
        value = float(raw)
        if not value > 0 or value == float("inf"):
            raise ValueError
    except ValueError:
        raise SettingError(f"{name}={raw[:40]!r}: expected a number > 0 (default {default:g})") from None
    return max(1, int(value * unit))


def _human(n: int, name: str) -> str:
    unit = LIMITS[name][1]
    return f"{n / unit:,.6g} MB" if unit == 2**20 else f"{n:,} bytes"


def check_file_size(path, name: str = "GRIDSIM_MAX_INPUT_MB") -> None:
    """Raise :class:`InputTooLargeError` if the file ``path`` is larger than the limit ``name``."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        return  # the reader reports a missing / unreadable file in its own words
    cap = limit(name)
    if size > cap:
        raise InputTooLargeError(f"{path.name}: {_human(size, name)}, over the limit of {_human(cap, name)} for "
                                 f"{LIMITS[name][2]} (set {name} to allow more) ({path})")


def check_text_size(text: str, what: str, name: str = "GRIDSIM_MAX_INPUT_MB") -> None:
    """Raise :class:`InputTooLargeError` if ``text`` (UTF-8) is larger than the limit ``name``."""
    cap = limit(name)
    size = len(text) if len(text) * 4 <= cap else len(text.encode("utf-8", "surrogatepass"))
    if size > cap:
        raise InputTooLargeError(f"{what}: {_human(size, name)}, over the limit of {_human(cap, name)} for "
                                 f"{LIMITS[name][2]} (set {name} to allow more)")
