"""Synthetic, realistic MV distribution systems of any size (``synth:N[:SEED]``).

:func:`make_synthetic` builds a radially operated 110/20 kV system with exactly
``n_buses`` buses, deterministic for ``(n_buses, seed)``. Everything is built
as numpy arrays for the whole tree first; the bus and line tables are then written
directly (same columns, order and dtypes as pandapower's own tables), the small
tables (trafos, switches, loads) with pandapower's bulk ``create_*s`` functions.

Structure
---------
- bus 0: the 110 kV source bus with the ext_grid (vm_pu 1.02);
- ``S = max(1, round(N / 5000))`` substations (buses ``1..S``), each a 20 kV
  busbar fed by a 2 x 40 MVA 110/20 kV transformer (pandapower std type
  ``"40 MVA 110/20 kV"``, ``parallel=2``, tap -3 = +4.5 % on the LV side); placed on
  a square grid 8 km apart;
- 8..12 feeders per substation (fewer when N is tiny); each feeder's buses are
  one contiguous index block: a head line from the substation busbar carrying a
  circuit breaker (switch ``type='CB'`` at the busbar), a trunk of ``~1.5*sqrt(n)``
  buses (a few dozen at 500 buses per feeder), then laterals (chains of on average
  ``n/18`` buses, 3..20, off a random trunk bus) and sub-laterals (35 % of the
  chains, off a random bus of the feeder's previous lateral);
- a fuse on the first line of every lateral and sub-lateral (returned in the
  device table as ``fuse:line:<id>``, origin ``model.yaml``);
- sectionalizing load-break switches (``'LBS'``) on the trunk every 4..7
  segments, at the upstream end, ~30 % remote-controlled;
- normally-open tie lines (``'LBS'``, ``closed=False``, half of them remote)
  between the trunk ends of neighbouring feeders of a substation (a ring) and
  between facing feeders of neighbouring substations (each grid neighbour pair
  with probability 0.5);
- a quarter of the feeders are cable (urban): NA2XS2Y 1x240 (trunk, ties), 1x150
  (laterals), 1x95 (sub-laterals); the others overhead (rural): 149-/94-/48-AL1
  ... 20.0 in the same roles. (With ~500 buses = ~130 km of line per feeder at
  large N, all-cable feeders would make every substation export ~50 Mvar of
  charging power and lift its busbar above 1.1 pu.) Each substation busbar
  carries a shunt reactor (``net.shunt``) compensating 90 % of its feeders'
  charging power (when above 0.5 Mvar), as utilities with much cable do;
- line lengths 0.15..0.4 km (trunk) and 0.1..0.5 km (laterals); tie lengths
  follow the geometry (1.2 x the distance, at least 0.1 km, often a few km);
- MV/LV stations (loads, pf 0.95 inductive) at every lateral end, at the trunk
  end and at a random share of the other feeder buses, so that a feeder has about
  ``P / 0.3 MW`` stations; their p (drawn 0.1..0.6 MW) is scaled so the feeder
  carries its drawn total ``P`` of 3..6 MW, then clipped to 0.05..0.8 MW. Most
  lateral buses therefore carry no load (they are poles / joints): a station on
  most of ~500 buses per feeder would mean >100 MW on a 20 kV feeder.

Base case (pandapower.runpp): voltages ~0.97..1.055 pu, line loading < 50 %,
transformer loading < 80 % (checked on synth:2000 .. synth:100000).

Coordinates: ``net.bus.x`` / ``net.bus.y`` (float, km on a local plane; extra
columns) and ``net.bus.geo`` (GeoJSON Point strings in lon/lat around 11 E /
50 N, as pandapower writes them). A bus lies at its parent bus plus
``length / detour`` (detour 1.05..1.35) in the segment's direction, so
coordinates are consistent with line lengths. ``net.bus.feeder`` (int, -1 for
the source and busbars) numbers the feeders. Line geo is left empty.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from gridsim.model.model import CUSTOMER_COLUMNS, DEVICE_COLUMNS, Model
from gridsim.types import CRITICAL_CLASSES, DEFAULT_PRIORITY, CustomerClass, DeviceKind

#: Buses per substation (S = max(1, round(N / BUSES_PER_SUBSTATION))).
BUSES_PER_SUBSTATION = 5000
#: Distance between neighbouring substations (km).
SUBSTATION_SPACING_KM = 8.0
#: lon/lat of the local plane's origin (x, y in km).
ORIGIN_LON, ORIGIN_LAT = 11.0, 50.0

# role codes of feeder lines
_TRUNK, _LATERAL, _SUBLATERAL, _TIE = 0, 1, 2, 3

#: (std_type, r, x, c, max_i_ka, type) per role; row 0..2 cable, 3..5 overhead.
_LINE_TYPES = (
    ("NA2XS2Y 1x240 RM/25 12/20 kV", 0.122, 0.112, 304.0, 0.421, "cs"),
    ("NA2XS2Y 1x150 RM/25 12/20 kV", 0.206, 0.116, 250.0, 0.319, "cs"),
    ("NA2XS2Y 1x95 RM/25 12/20 kV", 0.313, 0.132, 216.0, 0.252, "cs"),
    ("149-AL1/24-ST1A 20.0", 0.194, 0.337, 11.25, 0.47, "ol"),
    ("94-AL1/15-ST1A 20.0", 0.306, 0.35, 10.75, 0.35, "ol"),
    ("48-AL1/8-ST1A 20.0", 0.5939, 0.372, 9.5, 0.21, "ol"),
)

#: Critical facility classes, cycled in this order; p_kw drawn uniformly in the range.
_CRITICAL_P_KW: dict[CustomerClass, tuple[float, float]] = {
    CustomerClass.HOSPITAL: (500.0, 1200.0),
    CustomerClass.STATION: (200.0, 800.0),
    CustomerClass.WATER: (150.0, 600.0),
    CustomerClass.TELECOM: (30.0, 120.0),
    CustomerClass.GOVERNMENT: (60.0, 250.0),
}
_CRITICAL_NAMES: dict[CustomerClass, str] = {
    CustomerClass.HOSPITAL: "Hospital", CustomerClass.STATION: "Rail station",
    CustomerClass.WATER: "Water works", CustomerClass.TELECOM: "Telecom exchange",
    CustomerClass.GOVERNMENT: "Town hall",
}

CUSTOMER_RULE = (
    "One row per load, customer_id 'L<load index>' at the load's bus, p_kw = p_mw * 1000. "
    "Class drawn per load: residential 80 % (count = max(1, round(p_kw / 2))), commercial 14 % "
    "(count = max(1, round(p_kw / 30))), industrial 6 % (count = max(1, round(p_kw / 250))). "
    "Critical facilities: max(1, round(N / 2000)) (at least 5 when N >= 1000), classes cycled "
    "hospital, station, water, telecom, government, at distinct load buses of distinct feeders, count 1, "
    "customer_id '<class>-<k>', p_kw drawn per class (hospital 500-1200, station 200-800, water 150-600, "
    "telecom 30-120, government 60-250); their demand is not in net.load (it comes on top). "
    "priority = DEFAULT_PRIORITY[class]."
)
DEVICE_RULE = (
    "One row per pandapower switch ('switch:<idx>'): CB at feeder heads (breaker, remote), LBS "
    "sectionalizers on trunks every 4-7 segments (~30 % remote) and normally-open LBS tie switches "
    "(half remote). Plus a fuse on the first line of every lateral and sub-lateral "
    "('fuse:line:<id>', bus = upstream end, manual, origin model.yaml)."
)


def _geo_strings(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """GeoJSON Point strings as pandapower writes them (``{"coordinates": [lon, lat], "type": "Point"}``).

    Built from a fixed-width byte template with digit arithmetic (2x faster than f-strings at 1M
    buses) when every coordinate is in [10, 100); falls back to f-strings otherwise.
    """
    n = len(lon)
    out = np.empty(n, dtype=object)
    ilon = np.round(np.asarray(lon) * 1e6).astype(np.int64)
    ilat = np.round(np.asarray(lat) * 1e6).astype(np.int64)
    if n and not (ilon.min() >= 10_000_000 and ilat.min() >= 10_000_000
                  and ilon.max() < 100_000_000 and ilat.max() < 100_000_000):
        out[:] = [f'{{"coordinates": [{a:.6f}, {b:.6f}], "type": "Point"}}'
                  for a, b in zip(lon.tolist(), lat.tolist())]
        return out
    tmpl = b'{"coordinates": [00.000000, 00.000000], "type": "Point"}\n'
    buf = np.empty((n, len(tmpl)), dtype=np.uint8)
    buf[:] = np.frombuffer(tmpl, dtype=np.uint8)
    for start, iv in ((17, ilon), (28, ilat)):
        pos = [start, start + 1] + [start + 3 + k for k in range(6)]   # DD.DDDDDD
        for p in reversed(pos):
            buf[:, p] = 48 + (iv % 10)
            iv = iv // 10
    out[:] = buf.tobytes().decode("ascii").split("\n")[:n]   # one decode, split in C
    return out


def _fill_table(net, table: str, n: int, data: dict, defaults: dict) -> None:
    """Replace ``net[table]`` (empty) by ``n`` rows: its own columns in its own order and dtypes.

    pandapower's ``create_*s`` functions check and copy a lot; for a million rows writing the
    frame directly is several times faster. Columns not in ``data`` take ``defaults`` (else None/NaN);
    extra keys in ``data`` become extra columns.
    """
    empty = net[table]
    cols = {}
    for c, dt in empty.dtypes.items():
        if c in data:
            v = data[c]
        elif c in defaults:
            v = defaults[c]
        else:
            v = None if dt == object else np.nan
        if np.ndim(v) == 0:
            arr = np.empty(n, dtype=dt) if dt == object else np.full(n, v, dtype=dt)
            if dt == object:
                arr[:] = v
        else:
            arr = np.asarray(v).astype(dt, copy=False)
        cols[c] = arr
    for c, v in data.items():
        if c not in cols:
            cols[c] = v
    net[table] = pd.DataFrame(cols, index=pd.Index(np.arange(n, dtype=np.int64)))


def _resolve_positions(parent: np.ndarray, step: np.ndarray, is_root: np.ndarray) -> np.ndarray:
    """Position of every node = root position + sum of steps on its path (pointer jumping).

    ``parent[v] < v`` is not required; roots carry their own position in ``step``.
    """
    acc = step.copy()
    anc = parent.copy()
    active = np.nonzero(~is_root & ~is_root[anc])[0]
    while len(active):
        up = anc[active]
        acc[active] += acc[up]
        anc[active] = anc[up]
        active = active[~is_root[anc[active]]]
    nonroot = ~is_root
    acc[nonroot] += acc[anc[nonroot]]
    return acc


def _feeder_layout(n_buses: int, rng: np.random.Generator):
    """Substation count, feeders per substation and buses per feeder (summing to exactly n_buses)."""
    if n_buses <= 1:
        return 0, np.zeros(0, np.int64), np.zeros(0, np.int64)
    n_sub = max(1, round(n_buses / BUSES_PER_SUBSTATION))
    n_sub = min(n_sub, n_buses - 1)
    m = n_buses - 1 - n_sub                      # feeder buses
    f_per_sub = rng.integers(8, 13, size=n_sub)
    if f_per_sub.sum() > m:                      # tiny networks: at least one bus per feeder
        f_per_sub = np.full(n_sub, m // n_sub, dtype=np.int64)
        f_per_sub[: m % n_sub] += 1
    n_feeders = int(f_per_sub.sum())
    if n_feeders == 0:
        return n_sub, f_per_sub, np.zeros(0, np.int64)
    w = rng.uniform(0.6, 1.4, size=n_feeders)
    extra = m - n_feeders
    n_f = 1 + np.floor(w / w.sum() * extra).astype(np.int64)
    short = m - int(n_f.sum())
    n_f[np.argsort(-w, kind="stable")[:short]] += 1
    return n_sub, f_per_sub.astype(np.int64), n_f


def make_synthetic(n_buses: int, seed: int = 0) -> Model:
    """A synthetic radial MV distribution system of exactly ``n_buses`` buses (see module docstring)."""
    import pandapower as pp

    n_buses = int(n_buses)
    if n_buses < 1:
        raise ValueError(f"n_buses must be >= 1, got {n_buses}")
    rng = np.random.default_rng([abs(int(seed)), int(seed < 0), n_buses])
    n_sub, f_per_sub, n_f = _feeder_layout(n_buses, rng)
    n_feeders = len(n_f)
    base = 1 + n_sub                             # first feeder bus
    m = n_buses - base                           # feeder buses (= feeder lines)

    # ---------------------------------------------------------------- substations
    side = max(1, int(np.ceil(np.sqrt(max(n_sub, 1)))))
    s_idx = np.arange(n_sub)
    sub_x = (s_idx % side) * SUBSTATION_SPACING_KM
    sub_y = (s_idx // side) * SUBSTATION_SPACING_KM
    sub_rot = rng.uniform(0, 2 * np.pi, size=n_sub)

    # ---------------------------------------------------------------- feeders
    feeder_sub = np.repeat(s_idx, f_per_sub)
    f_first = np.zeros(n_sub, np.int64)
    if n_sub:
        f_first[1:] = np.cumsum(f_per_sub)[:-1]
    f_k = np.arange(n_feeders) - f_first[feeder_sub]
    f_theta = sub_rot[feeder_sub] + 2 * np.pi * f_k / np.maximum(f_per_sub[feeder_sub], 1) \
        + rng.uniform(-0.15, 0.15, size=n_feeders)
    f_start = base + np.concatenate([[0], np.cumsum(n_f)[:-1]]).astype(np.int64) if n_feeders else \
        np.zeros(0, np.int64)
    f_trunk = np.clip(np.round(1.5 * np.sqrt(n_f)), 1, n_f).astype(np.int64)
    f_lat = n_f - f_trunk
    f_overhead = rng.random(n_feeders) >= 0.25
    f_power = rng.uniform(3.0, 6.0, size=n_feeders)          # MW
    f_sect = rng.integers(4, 8, size=n_feeders)              # LBS every k trunk segments

    # ---------------------------------------------------------------- feeder buses
    fb = np.arange(base, n_buses, dtype=np.int64)            # feeder bus ids
    feeder = np.repeat(np.arange(n_feeders), n_f)            # feeder of each feeder bus
    local = fb - f_start[feeder]
    trunk = local < f_trunk[feeder]
    parent = fb - 1
    head = local == 0
    parent[head] = 1 + feeder_sub[feeder[head]]
    role = np.where(trunk, _TRUNK, _LATERAL).astype(np.int8)

    # lateral chains: a chain starts at the first lateral bus of a feeder, else with p = 1/mean length
    lat = np.nonzero(~trunk)[0]                              # positions in fb
    lat_feeder = feeder[lat]
    mean_len = np.clip(f_lat / 18.0, 3.0, 20.0)
    first_lat = local[lat] == f_trunk[lat_feeder]
    start = first_lat | (rng.random(len(lat)) < 1.0 / mean_len[lat_feeder])
    chain_of = np.cumsum(start) - 1                          # chain id per lateral bus
    st = lat[start]                                          # chain-start positions in fb
    n_chain = len(st)
    st_feeder = feeder[st]
    is_sub = ~first_lat[start] & (rng.random(n_chain) < 0.35)
    u = rng.random(n_chain)
    trunk_parent = f_start[st_feeder] + np.floor(u * f_trunk[st_feeder]).astype(np.int64)
    st_bus = fb[st]
    # a sub-lateral hangs on a random bus of the feeder's latest lateral (not on another sub-lateral:
    # keeps the depth at trunk -> lateral -> sub-lateral); the feeder's first chain is a lateral
    chain_len = np.bincount(chain_of, minlength=n_chain)
    last_lat = np.maximum.accumulate(np.where(is_sub, -1, np.arange(n_chain)))
    lat_parent = st_bus[last_lat] + np.floor(u * chain_len[last_lat]).astype(np.int64)
    parent[st] = np.where(is_sub, lat_parent, trunk_parent)
    role[lat] = np.where(is_sub[chain_of], _SUBLATERAL, _LATERAL)

    # chain directions: laterals roughly perpendicular to the feeder, sub-laterals outward
    side_sign = np.where(rng.random(n_chain) < 0.5, -1.0, 1.0)
    chain_theta = f_theta[st_feeder] + np.where(
        is_sub, rng.uniform(-0.6, 0.6, n_chain), side_sign * rng.uniform(np.pi / 3, np.pi / 2, n_chain))

    # ---------------------------------------------------------------- line data of the tree
    length = np.where(trunk, rng.uniform(0.15, 0.4, m), rng.uniform(0.1, 0.5, m))
    theta = np.empty(m)
    theta[trunk] = f_theta[feeder[trunk]]
    theta[lat] = chain_theta[chain_of]
    theta += rng.normal(0.0, 0.25, m)
    reach = length / rng.uniform(1.05, 1.35, m)

    # positions: roots are the source (0) and the substation busbars
    step_x = np.zeros(n_buses)
    step_y = np.zeros(n_buses)
    if n_sub:
        src_x, src_y = float(sub_x.mean()), float(sub_y.mean()) - 2.0
    else:
        src_x = src_y = 0.0
    step_x[0], step_y[0] = src_x, src_y
    step_x[1:base], step_y[1:base] = sub_x, sub_y
    step_x[base:] = reach * np.cos(theta)
    step_y[base:] = reach * np.sin(theta)
    par_all = np.arange(n_buses, dtype=np.int64)
    par_all[base:] = parent
    is_root = np.zeros(n_buses, bool)
    is_root[:base] = True
    pos = _resolve_positions(par_all, step_x + 1j * step_y, is_root)
    x, y = pos.real.copy(), pos.imag.copy()

    # ---------------------------------------------------------------- tie lines
    tie_from, tie_to = [], []
    if n_feeders:
        # ring of neighbouring feeders around each substation
        nxt = np.where(f_k + 1 < f_per_sub[feeder_sub], np.arange(n_feeders) + 1, f_first[feeder_sub])
        ok = (f_per_sub[feeder_sub] >= 3) | ((f_per_sub[feeder_sub] == 2) & (f_k == 0))
        ends = f_start + f_trunk - 1
        tie_from.append(ends[ok])
        tie_to.append(ends[nxt[ok]])
        # between neighbouring substations: facing feeders, each pair with p = 0.5
        pairs = []
        right = s_idx[(s_idx % side + 1 < side) & (s_idx + 1 < n_sub)]
        up = s_idx[s_idx + side < n_sub]
        pairs.append(np.stack([right, right + 1], axis=1))
        pairs.append(np.stack([up, up + side], axis=1))
        pairs = np.concatenate(pairs).astype(np.int64)
        pairs = pairs[rng.random(len(pairs)) < 0.5]
        if len(pairs):
            a, b = pairs[:, 0], pairs[:, 1]
            d = np.arctan2(sub_y[b] - sub_y[a], sub_x[b] - sub_x[a])

            def facing(s, direction):
                k = np.round((direction - sub_rot[s]) / (2 * np.pi / f_per_sub[s])).astype(np.int64)
                return f_first[s] + np.mod(k, f_per_sub[s])

            fa, fb_ = facing(a, d), facing(b, d + np.pi)
            good = (f_per_sub[a] > 0) & (f_per_sub[b] > 0)
            tie_from.append(ends[fa[good]])
            tie_to.append(ends[fb_[good]])
    tie_from = np.concatenate(tie_from).astype(np.int64) if tie_from else np.zeros(0, np.int64)
    tie_to = np.concatenate(tie_to).astype(np.int64) if tie_to else np.zeros(0, np.int64)
    keep = tie_from != tie_to
    tie_from, tie_to = tie_from[keep], tie_to[keep]
    n_tie = len(tie_from)
    tie_len = np.maximum(0.1, 1.2 * np.hypot(x[tie_from] - x[tie_to], y[tie_from] - y[tie_to]))

    # ---------------------------------------------------------------- pandapower net
    net = pp.create_empty_network(name=f"synth:{n_buses}" + (f":{seed}" if seed else ""), f_hz=50.0)
    vn = np.full(n_buses, 20.0)
    vn[0] = 110.0
    lon = ORIGIN_LON + x / (111.32 * np.cos(np.radians(ORIGIN_LAT)))
    lat_deg = ORIGIN_LAT + y / 110.57
    names = np.full(n_buses, None, dtype=object)
    names[0] = "HV source"
    names[1:base] = [f"Substation {s}" for s in range(n_sub)]
    bus_feeder = np.full(n_buses, -1, dtype=np.int64)
    bus_feeder[base:] = feeder
    _fill_table(net, "bus", n_buses, {"name": names, "vn_kv": vn, "geo": _geo_strings(lon, lat_deg),
                                       "x": x, "y": y, "feeder": bus_feeder},
                {"type": "b", "in_service": True})
    pp.create_ext_grid(net, 0, vm_pu=1.02, name="110 kV grid")
    if n_sub:
        pp.create_transformers(net, np.zeros(n_sub, np.int64), np.arange(1, base), std_type="40 MVA 110/20 kV",
                               name=[f"Substation {s} T1/T2" for s in range(n_sub)], parallel=2, tap_pos=-3)

    kind = role.astype(np.int64) + np.where(f_overhead[feeder], 3, 0)
    from_bus = np.concatenate([parent, tie_from])
    to_bus = np.concatenate([fb, tie_to])
    tie_kind = np.where(f_overhead[feeder[tie_from - base]], 3, 0) if n_tie else np.zeros(0, np.int64)
    kind = np.concatenate([kind, tie_kind]).astype(np.int64)
    lengths = np.concatenate([length, tie_len])
    lt = _LINE_TYPES
    col = [np.array([t[i] for t in lt], dtype=object if i in (0, 5) else float) for i in range(6)]
    _fill_table(net, "line", len(from_bus), {
        "std_type": col[0][kind], "from_bus": from_bus, "to_bus": to_bus, "length_km": np.round(lengths, 4),
        "r_ohm_per_km": col[1][kind], "x_ohm_per_km": col[2][kind], "c_nf_per_km": col[3][kind],
        "max_i_ka": col[4][kind], "type": col[5][kind]},
        {"g_us_per_km": 0.0, "df": 1.0, "parallel": 1, "in_service": True})
    line_of_bus = lambda b: b - base  # noqa: E731  (line i feeds feeder bus base + i)

    # shunt reactors at the busbars compensating 90 % of the feeders' cable charging power
    if n_sub and m:
        q_charge = 20.0 ** 2 * 2 * np.pi * 50.0 * col[3][kind[:m]] * 1e-9 * length      # Mvar per line
        q_sub = np.bincount(feeder_sub[feeder], weights=q_charge, minlength=n_sub)
        react = np.nonzero(q_sub > 0.5)[0]
        if len(react):
            pp.create_shunts(net, 1 + react, q_mvar=np.round(0.9 * q_sub[react], 2), p_mw=0.0, vn_kv=20.0,
                             name=[f"Substation {s} reactor" for s in react])

    # switches: CB at feeder heads, trunk sectionalizers, open ties
    cb_bus_line = line_of_bus(f_start)
    tl = np.nonzero(trunk & ~head)[0]                       # trunk lines other than the head
    sect = tl[(local[tl] % f_sect[feeder[tl]]) == 0]
    n_cb, n_sect = n_feeders, len(sect)
    sw_bus = np.concatenate([1 + feeder_sub, parent[sect], tie_from])
    sw_line = np.concatenate([cb_bus_line, sect, m + np.arange(n_tie)])
    sw_type = np.concatenate([np.full(n_cb, "CB", dtype=object), np.full(n_sect + n_tie, "LBS", dtype=object)])
    sw_closed = np.concatenate([np.ones(n_cb + n_sect, bool), np.zeros(n_tie, bool)])
    sw_remote = np.concatenate([np.ones(n_cb, bool), rng.random(n_sect) < 0.3, rng.random(n_tie) < 0.5])
    if len(sw_bus):
        pp.create_switches(net, sw_bus, sw_line, et="l", closed=sw_closed, type=sw_type)
        net.switch["type"] = sw_type  # scalar-or-array handling differs between versions

    # loads: MV/LV stations at lateral ends, trunk ends and a random share of other feeder buses
    nxt_start = np.ones(m, bool)
    nxt_start[:-1] = (parent[1:] != fb[:-1])                # next bus does not continue this chain
    chain_end = ~trunk & nxt_start
    trunk_end = trunk & (local == f_trunk[feeder] - 1)
    fixed = chain_end | trunk_end
    n_fixed = np.bincount(feeder[fixed], minlength=n_feeders)
    n_other = np.maximum(n_f - n_fixed - 1, 1)
    p_extra = np.clip((f_power / 0.3 - n_fixed) / n_other, 0.0, 0.5)
    station = fixed | ((rng.random(m) < p_extra[feeder]) & ~head)
    if n_feeders and not station.any():
        station[0] = True
    st_pos = np.nonzero(station)[0]
    p_raw = rng.uniform(0.1, 0.6, len(st_pos))
    tot = np.bincount(feeder[st_pos], weights=p_raw, minlength=n_feeders)
    p_mw = np.clip(p_raw * (f_power / np.maximum(tot, 1e-9))[feeder[st_pos]], 0.05, 0.8)
    p_mw = np.round(p_mw, 4)
    q_mvar = np.round(p_mw * np.tan(np.arccos(0.95)), 4)
    load_bus = fb[st_pos]
    n_load = len(st_pos)
    if n_load:
        pp.create_loads(net, load_bus, p_mw=p_mw, q_mvar=q_mvar, type="wye", sn_mva=np.round(p_mw / 0.95 * 1.25, 4))

    # ---------------------------------------------------------------- customers
    r = rng.random(n_load)
    cls = np.where(r < 0.80, CustomerClass.RESIDENTIAL.value,
                   np.where(r < 0.94, CustomerClass.COMMERCIAL.value, CustomerClass.INDUSTRIAL.value)).astype(object)
    p_kw = p_mw * 1000.0
    per_cust = np.where(r < 0.80, 2.0, np.where(r < 0.94, 30.0, 250.0))
    count = np.maximum(1, np.round(p_kw / per_cust)).astype(np.int64)
    cust = pd.DataFrame({
        "customer_id": ("L" + pd.Index(np.arange(n_load)).astype(str)).to_numpy(dtype=object),
        "bus": load_bus.astype(np.int64), "class": cls, "count": count, "p_kw": p_kw,
    })
    crit_classes = list(_CRITICAL_P_KW)
    n_crit = max(1, round(n_buses / 2000))
    if n_buses >= 1000:
        n_crit = max(n_crit, len(crit_classes))
    n_crit = min(n_crit, n_load)
    crit_frame = None
    if n_crit:
        # distinct feeders first (spread), then a random station of each
        load_feeder = feeder[st_pos]
        feeders_with = np.unique(load_feeder)
        pick_f = rng.choice(feeders_with, size=min(n_crit, len(feeders_with)), replace=False)
        order = np.lexsort((rng.random(n_load), load_feeder))
        first_of = np.searchsorted(load_feeder[order], pick_f)
        chosen = list(order[first_of])
        if len(chosen) < n_crit:                            # more facilities than feeders: any other station
            rest = np.setdiff1d(np.arange(n_load), chosen)
            chosen += list(rng.choice(rest, size=n_crit - len(chosen), replace=False))
        chosen = np.asarray(chosen, dtype=np.int64)
        c_cls = [crit_classes[i % len(crit_classes)] for i in range(n_crit)]
        seen: dict[CustomerClass, int] = {}
        rows = []
        for i, c in enumerate(c_cls):
            seen[c] = seen.get(c, 0) + 1
            lo, hi = _CRITICAL_P_KW[c]
            rows.append({"customer_id": f"{c.value}-{seen[c]}", "bus": int(load_bus[chosen[i]]), "class": c.value,
                         "count": 1, "p_kw": round(float(rng.uniform(lo, hi)), 1),
                         "name": f"{_CRITICAL_NAMES[c]} {seen[c]}"})
        crit_frame = pd.DataFrame(rows)
        cust = pd.concat([cust, crit_frame.drop(columns="name")], ignore_index=True)
    prio = {c.value: w for c, w in DEFAULT_PRIORITY.items()}
    cust["priority"] = cust["class"].map(prio).astype(float)
    critical_values = {c.value for c in CRITICAL_CLASSES}
    cust["channels"] = np.where(cust["class"].isin(critical_values), "ivr;sms;web", "sms;web").astype(object)
    if crit_frame is not None:
        cust["name"] = cust["customer_id"].map(crit_frame.set_index("customer_id")["name"]).astype(object)
    cust = cust.astype({"customer_id": object, "bus": np.int64, "class": object, "count": np.int64,
                        "p_kw": float, "priority": float})
    cust = cust[list(CUSTOMER_COLUMNS) + [c for c in cust.columns if c not in CUSTOMER_COLUMNS]]

    # ---------------------------------------------------------------- devices
    n_sw = len(net.switch)
    sw_idx = net.switch.index.to_numpy(dtype=np.int64)
    sw_kind = np.where(sw_type == "CB", DeviceKind.BREAKER.value, DeviceKind.LOAD_BREAK_SWITCH.value).astype(object)
    dev_sw = pd.DataFrame({
        "device_id": ("switch:" + pd.Index(sw_idx).astype(str)).to_numpy(dtype=object),
        "kind": sw_kind if n_sw else np.zeros(0, dtype=object),
        "element_type": np.full(n_sw, "line", dtype=object),
        "element_id": sw_line.astype(np.int64)[:n_sw],
        "bus": sw_bus.astype(np.int64)[:n_sw],
        "remote": sw_remote[:n_sw],
        "switch_id": sw_idx,
        "normally_open": ~sw_closed[:n_sw],
        "origin": np.full(n_sw, "pandapower", dtype=object),
    })
    fuse_line = line_of_bus(st_bus).astype(np.int64)
    n_fuse = len(fuse_line)
    dev_fuse = pd.DataFrame({
        "device_id": ("fuse:line:" + pd.Index(fuse_line).astype(str)).to_numpy(dtype=object),
        "kind": np.full(n_fuse, DeviceKind.FUSE.value, dtype=object),
        "element_type": np.full(n_fuse, "line", dtype=object),
        "element_id": fuse_line,
        "bus": parent[st].astype(np.int64),
        "remote": np.zeros(n_fuse, bool),
        "switch_id": np.full(n_fuse, -1, dtype=np.int64),
        "normally_open": np.zeros(n_fuse, bool),
        "origin": np.full(n_fuse, "model.yaml", dtype=object),
    })
    devices = pd.concat([dev_sw, dev_fuse], ignore_index=True)[list(DEVICE_COLUMNS)]
    devices = devices.astype({"element_id": np.int64, "bus": np.int64, "remote": bool, "switch_id": np.int64,
                              "normally_open": bool})

    name = f"synth:{n_buses}" + (f":{seed}" if seed else "")
    meta = {
        "source": {"generator": "gridsim.model.synth", "n_buses": n_buses, "seed": int(seed),
                   "substations": int(n_sub), "feeders": int(n_feeders), "ties": int(n_tie)},
        "customers": {"rule": CUSTOMER_RULE,
                      "critical": crit_frame.to_dict("records") if crit_frame is not None else []},
        "devices": {"rule": DEVICE_RULE},
        "switching": {"remote_operate_s": 30, "manual_operate_min": 15, "crew_speed_kmh": 40},
    }
    return Model(name=name, net=net, customers=cust.reset_index(drop=True), devices=devices, meta=meta, spec=name)


__all__ = ["make_synthetic", "CUSTOMER_RULE", "DEVICE_RULE"]
