"""Bus coordinates on a local plane in km, for travel times and maps.

Sources, in order: the ``x`` / ``y`` columns of ``net.bus`` (km; synthetic
models write them), else pandapower's ``geo`` column (GeoJSON points). GeoJSON
coordinates spanning at most :data:`MAX_LONLAT_SPAN_DEG` degrees are taken as
longitude / latitude and projected equirectangularly around their mean
latitude; wider spans (schematic coordinates such as CIGRE's) are taken as
plane units of 1 km. Buses without coordinates get NaN.
"""
from __future__ import annotations

import json
import math

import numpy as np

#: Earth radius for the equirectangular projection, km.
EARTH_RADIUS_KM = 6371.0
#: Above this span (degrees) GeoJSON coordinates are schematic plane units, not lon/lat.
MAX_LONLAT_SPAN_DEG = 2.0


def _geo_points(geo) -> np.ndarray:
    out = np.full((len(geo), 2), np.nan)
    for i, g in enumerate(geo):
        if g is None or (isinstance(g, float) and math.isnan(g)):
            continue
        try:
            d = json.loads(g) if isinstance(g, str) else g
            c = d["coordinates"]
            out[i] = float(c[0]), float(c[1])
        except (ValueError, KeyError, TypeError, IndexError):
            continue
    return out


def bus_xy_km(net) -> np.ndarray:
    """``(n_bus, 2)`` float array of x, y in km per row of ``net.bus``."""
    bus = net.bus
    if "x" in bus and "y" in bus:
        return np.column_stack([bus["x"].to_numpy(np.float64), bus["y"].to_numpy(np.float64)])
    if "geo" not in bus:
        return np.full((len(bus), 2), np.nan)
    pts = _geo_points(bus["geo"].to_numpy(object))
    ok = np.isfinite(pts).all(axis=1)
    if not ok.any():
        return pts
    span = np.nanmax(pts[ok], axis=0) - np.nanmin(pts[ok], axis=0)
    lon, lat = pts[:, 0], pts[:, 1]
    if span.max() <= MAX_LONLAT_SPAN_DEG and np.all(np.abs(lat[ok]) <= 90):
        lat0 = math.radians(float(np.mean(lat[ok])))
        k = math.pi / 180.0 * EARTH_RADIUS_KM
        return np.column_stack([(lon - lon[ok].mean()) * k * math.cos(lat0), (lat - lat[ok].mean()) * k])
    return pts


def distance_km(xy: np.ndarray, a: int, b: int) -> float:
    """Straight-line distance between rows ``a`` and ``b`` of ``xy`` (0 when unknown)."""
    d = float(np.hypot(*(xy[a] - xy[b])))
    return d if math.isfinite(d) else 0.0
