"""Figures of the web app: pure functions of a compiled topology and a live snapshot.

Nothing here touches Dash callbacks, the engine or a request: every function
takes arrays, a :class:`~gridsim.live.Snapshot` or a result object and
returns plain data (Plotly figure dicts, :class:`dash.Patch` objects, table
rows), so tests call them without a browser.

The live map
------------
:func:`map_geometry` computes once per model what never changes: bus and
branch coordinates (the model's own, in km on a local plane: no map tiles),
hover texts (element, feeder, customers), critical customers, tie switches.
:func:`map_state` reduces a snapshot to per-bus and per-segment state codes
(:data:`ENERGIZED`, :data:`DEAD`, :data:`ISOLATED`, :data:`FAULTED`,
:data:`OUT_OF_SERVICE`). :func:`map_figure` draws a full figure;
:func:`map_patch` turns two states into a :class:`dash.Patch` that sends only
what changed. No WebGL: in a browser without a GPU (a control-room thin
client, headless Chromium) a WebGL scene is redrawn whole, in software, on
every update - about a second for 10,000 buses - while SVG traces of what
changed redraw in tens of milliseconds.

- small models (up to :data:`BIG_MAP` buses / segments): every line and bus
  is a vector trace; a bus's colour (a state code) and hover text are patched
  per changed bus;
- big models: the energized network is one PNG (:func:`background_image`,
  made once per model) in model coordinates, and only what is not energized
  is drawn as traces (buses and segments out, resent whole when that set
  changes: payload in proportion to the dead area, not to the network);
- de-energized / isolated lines, faulted elements, operated devices, crews,
  critical customers out and the highlighted outage are small traces sent
  whole when they change.

Static arrays go out as Plotly typed arrays (``{"dtype": "f4", "bdata": ...}``),
which the browser decodes without parsing numbers.
"""
from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field

import numpy as np
from dash import Patch

__all__ = ["ENERGIZED", "DEAD", "ISOLATED", "FAULTED", "OUT_OF_SERVICE", "STATE_NAMES", "STATE_COLORS",
           "MapGeometry", "MapState", "map_geometry", "map_state", "map_figure", "map_patch", "highlight_trace",
           "empty_map", "sparkline_figure", "kpi_items", "background_image", "is_big", "BIG_MAP", "outage_rows", "switching_plan_rows", "history_rows",
           "whatif_figure", "typed_array"]

ENERGIZED, DEAD, ISOLATED, FAULTED, OUT_OF_SERVICE = 0, 1, 2, 3, 4
STATE_NAMES = ("energized", "de-energized", "isolated", "faulted", "out of service")
STATE_COLORS = ("#2a9d8f", "#e63946", "#f4a261", "#7b2cbf", "#b8b8b8")
#: severity order used to colour a segment from its two ends (higher wins)
_SEVERITY = np.array([0, 3, 2, 4, 1], np.int8)
_BY_SEVERITY = np.array([ENERGIZED, OUT_OF_SERVICE, ISOLATED, DEAD, FAULTED], np.int8)
#: outage statuses whose customers wait behind an isolated fault (or a planned switching)
_ISOLATED_STATUSES = frozenset({"isolated", "repaired"})
_CLASS_SYMBOL = {"hospital": "cross", "station": "square", "water": "diamond", "telecom": "triangle-up",
                 "government": "pentagon"}
_CLASS_COLOR = {"hospital": "#d00000", "station": "#3a0ca3", "water": "#0077b6", "telecom": "#6c757d",
                "government": "#8d5524"}
_CREW_COLOR = {"available": "#2b9348", "dispatched": "#f77f00", "en_route": "#f77f00", "on_site": "#d62828",
               "repaired": "#2b9348"}


#: above this many buses or segments the live map draws thinner and leaves out the line hover points (every
#: map update redraws the whole WebGL scene: what is not drawn costs nothing)
BIG_MAP = 3000


def typed_array(a, dtype: str = "f4") -> dict:
    """A Plotly typed-array spec (base64 little-endian), decoded by plotly.js without number parsing."""
    arr = np.ascontiguousarray(np.asarray(a, dtype={"f4": "<f4", "f8": "<f8", "i1": "i1", "i4": "<i4"}[dtype]))
    return {"dtype": dtype, "bdata": base64.b64encode(arr.tobytes()).decode("ascii")}


def _r(v: float) -> float | None:
    """A coordinate for a JSON list: 4 decimals (0.1 m in km), None for NaN."""
    return None if not math.isfinite(v) else round(float(v), 4)


# --------------------------------------------------------------------------- geometry

@dataclass(frozen=True, eq=False)
class MapGeometry:
    """What the map draws that never changes for one model (see :func:`map_geometry`)."""

    model: str
    bus_ids: np.ndarray              # pandapower bus ids, in the snapshot's order
    bus_xy: np.ndarray               # (n_bus, 2) km
    bus_text: tuple                  # static hover text per bus
    bus_base_dead: np.ndarray        # buses unsupplied in the model as loaded (out of service)
    seg_label: tuple                 # element label per drawn segment ("line:17", "trafo:2", "switch:5")
    seg_bus: np.ndarray              # (n_seg, 2) bus rows of the ends
    seg_xy: np.ndarray               # (n_seg, 2, 2) end coordinates
    hit_label: tuple                 # faultable elements with a hover / click point (lines, trafos)
    hit_xy: np.ndarray
    hit_text: tuple
    crit: dict                       # class -> (bus rows, texts, customer ids)
    tie_xy: np.ndarray               # normally-open switches
    tie_text: tuple
    device_xy: dict                  # device id / "switch:<id>" / element label -> (x, y)
    feeder_of_bus: tuple
    trace: dict = field(default_factory=dict)   # trace name -> index in the figure

    @property
    def n_bus(self) -> int:
        return len(self.bus_ids)

    @property
    def n_seg(self) -> int:
        return len(self.seg_label)


def _fill_missing_xy(topo, xy: np.ndarray) -> np.ndarray:
    """Nodes without coordinates: at their nearest placed neighbour (BFS over the graph), offset a little;
    with no coordinates at all, a layered layout by BFS depth from the sources."""
    xy = xy.copy()
    ok = np.isfinite(xy).all(axis=1)
    ok[0] = True if topo.n_node else ok[0]          # node 0: the super-source, never drawn
    if ok[1:].all():
        return xy
    if not ok[1:].any():                            # schematic: depth rows, order within a row
        depth = np.full(topo.n_node, -1, np.int64)
        depth[0] = 0
        frontier = [0]
        while frontier:
            nxt = []
            for u in frontier:
                for k in range(topo.indptr[u], topo.indptr[u + 1]):
                    v = int(topo.adj_node[k])
                    if depth[v] < 0:
                        depth[v] = depth[u] + 1
                        nxt.append(v)
            frontier = nxt
        depth[depth < 0] = depth.max() + 1
        for d in np.unique(depth):
            nodes = np.nonzero(depth == d)[0]
            xy[nodes, 0] = np.arange(len(nodes)) - len(nodes) / 2.0
            xy[nodes, 1] = -float(d)
        return xy
    placed = ok.copy()
    rng = np.random.default_rng(0)
    changed = True
    while changed and not placed.all():
        changed = False
        for v in np.nonzero(~placed)[0]:
            nb = topo.adj_node[topo.indptr[v]:topo.indptr[v + 1]]
            nb = nb[placed[nb] & (nb != 0)]
            if len(nb):
                xy[v] = xy[nb[0]] + rng.normal(0.0, 0.02, 2)
                placed[v] = True
                changed = True
    xy[~placed] = np.nanmean(xy[placed & ok], axis=0) if (placed & ok).any() else 0.0
    return xy


def map_geometry(topo, model=None) -> MapGeometry:
    """Static map data of a compiled topology (its model's names and customers where available)."""
    from gridsim.core.topology import BR_LINE, BR_SWITCH, BR_TRAFO
    from gridsim.types import CLASS_ORDER

    model = model if model is not None else getattr(topo, "model", None)
    n_bus = int(topo.n_bus)
    raw = topo.node_xy_km if topo.node_xy_km is not None else np.full((topo.n_node, 2), np.nan)
    node_xy = _fill_missing_xy(topo, np.asarray(raw, float))
    bus_node = np.asarray(topo.bus_node)
    bus_xy = node_xy[bus_node]
    # feeders (from the reliability module: the first line below each transformer)
    try:
        from gridsim.reliability.analytic import node_feeders
        codes, names = node_feeders(topo)
        feeder = tuple(str(names[c]) if c >= 0 else "-" for c in codes[bus_node].tolist())
    except Exception:  # noqa: BLE001 - a model the feeder rule cannot name still draws
        feeder = ("-",) * n_bus
    base = topo.analysis(topo.base_state())
    base_dead = ~np.asarray(base.supplied)[bus_node]
    names = None
    if model is not None and "name" in model.net.bus.columns:
        names = model.net.bus["name"].reindex(topo.bus_ids).to_numpy(object)
    cust = np.asarray(topo.node_cust)[bus_node]
    crit_n = np.asarray(topo.node_crit)[bus_node]
    texts = []
    for i in range(n_bus):
        nm = names[i] if names is not None and isinstance(names[i], str) and names[i] else ""
        label = f"bus {int(topo.bus_ids[i])}" + (f" ({nm})" if nm and nm != f"Bus {int(topo.bus_ids[i])}" else "")
        texts.append(f"{label}<br>feeder {feeder[i]}<br>{int(cust[i]):,} customers"
                     + (f", {int(crit_n[i])} critical" if crit_n[i] else ""))
    # segments: lines, transformers and bus-bus switches between two buses
    br_from, br_to, kind = np.asarray(topo.br_from), np.asarray(topo.br_to), np.asarray(topo.br_kind)
    node_row = np.asarray(topo.node_bus_row)
    sel = np.isin(kind, (BR_LINE, BR_TRAFO, BR_SWITCH)) & (node_row[br_from] >= 0) & (node_row[br_to] >= 0)
    brs = np.nonzero(sel)[0]
    prefix = {BR_LINE: "line", BR_TRAFO: "trafo", BR_SWITCH: "switch"}
    seg_label = tuple(f"{prefix[int(k)]}:{int(e)}" for k, e in zip(kind[brs], np.asarray(topo.br_elem)[brs]))
    seg_bus = np.column_stack([node_row[br_from[brs]], node_row[br_to[brs]]]).astype(np.int64)
    seg_xy = np.stack([bus_xy[seg_bus[:, 0]], bus_xy[seg_bus[:, 1]]], axis=1) if len(brs) else \
        np.zeros((0, 2, 2))
    # hover / click points for faultable lines and transformers (midpoints)
    hit = [i for i, lab in enumerate(seg_label) if not lab.startswith("switch:")]
    hit_label = tuple(seg_label[i] for i in hit)
    hit_xy = seg_xy[hit].mean(axis=1) if hit else np.zeros((0, 2))
    length = None
    if model is not None and "length_km" in model.net.line.columns:
        length = model.net.line["length_km"]
    hit_text = []
    for i in hit:
        lab = seg_label[i]
        extra = ""
        if length is not None and lab.startswith("line:"):
            try:
                extra = f", {float(length.loc[int(lab[5:])]):.2f} km"
            except (KeyError, ValueError):
                extra = ""
        hit_text.append(f"{lab}{extra}<br>feeder {feeder[seg_bus[i][1]]}")
    # critical customers by class
    crit: dict = {}
    crit_codes = {CLASS_ORDER.index(c): c.value for c in topo.critical_classes}
    cust_node = np.asarray(topo.cust_node)
    cls = np.asarray(topo.cust_class)
    cname = {}
    if model is not None and "name" in model.customers.columns:
        cname = dict(zip(model.customers["customer_id"].astype(str), model.customers["name"]))
    for code, cname_cls in crit_codes.items():
        rows = np.nonzero(cls == code)[0]
        rows = rows[node_row[cust_node[rows]] >= 0]
        if not len(rows):
            continue
        brow = node_row[cust_node[rows]]
        ids = [str(c) for c in np.asarray(topo.cust_ids)[rows]]
        txt = [f"{cname.get(c) if isinstance(cname.get(c), str) else c} ({cname_cls})<br>bus "
               f"{int(topo.bus_ids[b])}, feeder {feeder[b]}" for c, b in zip(ids, brow)]
        crit[cname_cls] = (brow.astype(np.int64), tuple(txt), tuple(ids))
    # devices: where to draw each (at its node, a fifth of the way along its branch)
    dev_xy = {}
    dev_branch = np.asarray(topo.dev_branch)
    dev_node = np.asarray(topo.dev_node)
    for d, b, nd in zip(np.asarray(topo.dev_ids).tolist(), dev_branch.tolist(), dev_node.tolist()):
        p = node_xy[nd] if 0 <= nd < len(node_xy) else np.array([np.nan, np.nan])
        if 0 <= b < len(br_from):
            other = br_to[b] if br_from[b] == nd else br_from[b]
            p = p + 0.2 * (node_xy[other] - p)
        dev_xy[str(d)] = (float(p[0]), float(p[1]))
    for lab, xy2 in zip(seg_label, seg_xy):
        dev_xy.setdefault(lab, tuple(float(v) for v in xy2.mean(axis=0)))
    for i in range(n_bus):
        dev_xy[f"bus:{int(topo.bus_ids[i])}"] = (float(bus_xy[i, 0]), float(bus_xy[i, 1]))
    tie_rows = np.nonzero(~np.asarray(topo.switch_closed))[0]
    tie_lab = [f"switch:{int(topo.switch_ids[r])}" for r in tie_rows]
    tie_xy = np.array([dev_xy.get(lab, (np.nan, np.nan)) for lab in tie_lab]).reshape(-1, 2)
    tie_text = tuple(f"{lab} (normally open)" for lab in tie_lab)
    geom = MapGeometry(model=str(topo.name), bus_ids=np.asarray(topo.bus_ids), bus_xy=bus_xy, bus_text=tuple(texts),
                       bus_base_dead=base_dead, seg_label=seg_label, seg_bus=seg_bus, seg_xy=seg_xy,
                       hit_label=hit_label, hit_xy=hit_xy, hit_text=tuple(hit_text), crit=crit, tie_xy=tie_xy,
                       tie_text=tie_text, device_xy=dev_xy, feeder_of_bus=feeder)
    order = ["lines", "lines out of service", "lines de-energized", "lines isolated", "faulted", "line points",
             "buses", "tie switches", "operated devices"] + [f"critical: {c}" for c in crit] + \
        ["critical out", "crews", "highlight"]
    geom.trace.update({name: i for i, name in enumerate(order)})
    return geom


# --------------------------------------------------------------------------- state

@dataclass(frozen=True, eq=False)
class MapState:
    """Per-bus and per-segment state codes of one snapshot, plus the small dynamic layers."""

    version: int
    bus_code: np.ndarray
    seg_code: np.ndarray
    bus_outage: tuple
    faulted: tuple
    open_devices: tuple
    crews: tuple
    crit_out: tuple                  # customer ids of critical customers out
    outage_status: dict

    def bus_label(self, i: int) -> str:
        o = self.bus_outage[i] if self.bus_outage else None
        s = STATE_NAMES[int(self.bus_code[i])]
        return f"{s} ({o})" if o else s


def map_state(geom: MapGeometry, snap) -> MapState:
    """State codes of ``snap`` (a :class:`~gridsim.live.Snapshot`) on ``geom``."""
    en = np.asarray(snap.bus_energized, bool)
    if len(en) != geom.n_bus:
        raise ValueError(f"snapshot of {len(en)} buses does not fit the map of {geom.model} ({geom.n_bus} buses)")
    status = {o["outage_id"]: o["status"] for o in snap.outages}
    otype = {o["outage_id"]: o["type"] for o in snap.outages}
    code = np.where(en, ENERGIZED, DEAD).astype(np.int8)
    out = np.nonzero(~en)[0]
    if len(out):
        owners = [snap.bus_outage[i] for i in out.tolist()]
        iso = np.array([o is None or status.get(o) in _ISOLATED_STATUSES or otype.get(o) == "planned"
                        for o in owners], bool)
        code[out[iso]] = ISOLATED
        code[~en & geom.bus_base_dead] = OUT_OF_SERVICE
    faulted = tuple(snap.faulted)
    fb = [f for f in faulted if f.startswith("bus:")]
    if fb:
        idx = {int(b): i for i, b in enumerate(geom.bus_ids.tolist())}
        for f in fb:
            i = idx.get(int(f[4:]))
            if i is not None:
                code[i] = FAULTED
    if geom.n_seg:
        sev = np.maximum(_SEVERITY[code[geom.seg_bus[:, 0]]], _SEVERITY[code[geom.seg_bus[:, 1]]])
        seg = _BY_SEVERITY[sev]
        seg = np.where(seg == FAULTED, DEAD, seg).astype(np.int8)     # next to a faulted bus: de-energized
        fl = set(faulted)
        if fl:
            hit = np.fromiter((lab in fl for lab in geom.seg_label), bool, geom.n_seg)
            seg[hit] = FAULTED
    else:
        seg = np.zeros(0, np.int8)
    crit_out = []
    for cls, (rows, _txt, ids) in geom.crit.items():
        dead = code[rows] != ENERGIZED
        crit_out += [ids[k] for k in np.nonzero(dead)[0].tolist()]
    return MapState(version=int(snap.version), bus_code=code, seg_code=seg, bus_outage=tuple(snap.bus_outage),
                    faulted=faulted, open_devices=tuple(snap.open_devices),
                    crews=tuple((c["crew_id"], c["status"], c.get("outage_id"), c.get("bus")) for c in snap.crews),
                    crit_out=tuple(sorted(crit_out)), outage_status=status)


# --------------------------------------------------------------------------- traces

def _colorscale() -> list:
    n = len(STATE_COLORS)
    cs = []
    for i, c in enumerate(STATE_COLORS):
        cs += [[i / n, c], [(i + 1) / n, c]]
    return cs


def _segments_xy(seg_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(seg_xy)
    x = np.full(3 * n, np.nan)
    y = np.full(3 * n, np.nan)
    x[0::3], x[1::3] = seg_xy[:, 0, 0], seg_xy[:, 1, 0]
    y[0::3], y[1::3] = seg_xy[:, 0, 1], seg_xy[:, 1, 1]
    return x, y


def _small_segments(geom: MapGeometry, mask: np.ndarray) -> tuple[list, list, list]:
    x, y, t = [], [], []
    for k in np.nonzero(mask)[0].tolist():
        (x0, y0), (x1, y1) = geom.seg_xy[k]
        x += [_r(x0), _r(x1), None]
        y += [_r(y0), _r(y1), None]
        t += [geom.seg_label[k]] * 3
    return x, y, t


def _overlay_trace(geom: MapGeometry, st: MapState, code: int, width: int) -> dict:
    """The segments in state ``code`` (de-energized or isolated), drawn over the base lines."""
    x, y, _ = _small_segments(geom, st.seg_code == code)
    return {"type": "scatter", "mode": "lines", "name": STATE_NAMES[code], "x": x, "y": y, "hoverinfo": "skip",
            "line": {"color": STATE_COLORS[code], "width": width}}


def _faulted_trace(geom: MapGeometry, st: MapState) -> dict:
    x, y, t, size = [], [], [], []
    for k in np.nonzero(st.seg_code == FAULTED)[0].tolist():
        (x0, y0), (x1, y1) = geom.seg_xy[k]
        x += [_r(x0), _r((x0 + x1) / 2), _r(x1), None]       # an "x" marker at the middle of the element
        y += [_r(y0), _r((y0 + y1) / 2), _r(y1), None]
        t += [geom.seg_label[k]] * 4
        size += [0, 15, 0, 0]
    # faulted elements without a drawn segment (buses, 3-winding transformers): a marker
    for f in st.faulted:
        if f.startswith("bus:") and f in geom.device_xy:
            px, py = geom.device_xy[f]
            x += [_r(px), None]
            y += [_r(py), None]
            t += [f, ""]
            size += [15, 0]
    return {"type": "scatter", "mode": "lines+markers", "name": "faulted", "x": x, "y": y, "text": t,
            "line": {"color": STATE_COLORS[FAULTED], "width": 5},
            "marker": {"size": size, "symbol": "x", "color": STATE_COLORS[FAULTED], "line": {"width": 1,
                                                                                               "color": "#fff"}},
            "hovertemplate": "%{text}: faulted<extra></extra>", "showlegend": True}


def _devices_trace(geom: MapGeometry, st: MapState) -> dict:
    x, y, t = [], [], []
    for d in st.open_devices:
        p = geom.device_xy.get(d)
        if p is None:
            continue
        x.append(_r(p[0]))
        y.append(_r(p[1]))
        t.append(f"{d}: operated (not in its normal state)")
    return {"type": "scatter", "mode": "markers", "name": "operated devices", "x": x, "y": y, "text": t,
            "marker": {"size": 11, "symbol": "square-open", "color": "#111", "line": {"width": 2}},
            "hovertemplate": "%{text}<extra></extra>"}


def _crews_trace(geom: MapGeometry, st: MapState) -> dict:
    idx = {int(b): i for i, b in enumerate(geom.bus_ids.tolist())} if st.crews else {}
    x, y, t, c = [], [], [], []
    for k, (cid, status, outage, bus) in enumerate(st.crews):
        i = idx.get(int(bus)) if bus is not None else None
        if i is None:
            continue
        # crews at the same bus are fanned out a little so each one can be hovered
        x.append(_r(geom.bus_xy[i, 0] + 0.08 * (k % 3)))
        y.append(_r(geom.bus_xy[i, 1] + 0.08))
        t.append(f"{cid}: {status}" + (f" ({outage})" if outage else ""))
        c.append(_CREW_COLOR.get(status, "#555"))
    return {"type": "scatter", "mode": "markers+text", "name": "crews", "x": x, "y": y, "text": t,
            "textposition": "top center", "textfont": {"size": 10},
            "marker": {"size": 13, "symbol": "triangle-down", "color": c, "line": {"color": "#000", "width": 1}},
            "hovertemplate": "%{text}<extra></extra>"}


def _crit_out_trace(geom: MapGeometry, st: MapState) -> dict:
    out = set(st.crit_out)
    x, y, t = [], [], []
    for cls, (rows, txt, ids) in geom.crit.items():
        for r, tx, cid in zip(rows.tolist(), txt, ids):
            if cid in out:
                x.append(_r(geom.bus_xy[r, 0]))
                y.append(_r(geom.bus_xy[r, 1]))
                t.append(tx + "<br><b>OUT</b>")
    return {"type": "scatter", "mode": "markers", "name": "critical customers out", "x": x, "y": y, "text": t,
            "marker": {"size": 22, "symbol": "circle-open", "color": STATE_COLORS[DEAD], "line": {"width": 3}},
            "hovertemplate": "%{text}<extra></extra>"}


def highlight_trace(geom: MapGeometry, snap, outage_id: str | None) -> dict:
    """The selected outage: its buses out, else (restored, planned) its device / fault element."""
    x, y = [], []
    name = "highlight"
    if outage_id:
        rows = [i for i, o in enumerate(snap.bus_outage) if o == outage_id]
        x = [_r(v) for v in geom.bus_xy[rows, 0].tolist()]
        y = [_r(v) for v in geom.bus_xy[rows, 1].tolist()]
        rec = next((o for o in snap.outages if o["outage_id"] == outage_id), None)
        if rec is not None:
            for ref in (rec.get("fault_element"), rec.get("device"), *(rec.get("elements") or ())):
                p = geom.device_xy.get(ref) if ref else None
                if p is not None:
                    x.append(_r(p[0]))
                    y.append(_r(p[1]))
        name = f"selected: {outage_id}"
    return {"type": "scatter", "mode": "markers", "name": name, "x": x, "y": y, "hoverinfo": "skip",
            "marker": {"size": 18, "color": "rgba(255, 214, 10, 0.55)", "line": {"color": "#ffb703", "width": 2}},
            "showlegend": bool(outage_id)}


def _hit_trace(geom: MapGeometry, show: bool, gl: bool = False) -> dict:
    """Hover and click points at the middle of every line and transformer (empty when not shown)."""
    kind = "scattergl" if gl else "scatter"
    if not show:
        return {"type": kind, "mode": "markers", "name": "lines and transformers", "x": [], "y": [],
                "showlegend": False, "hoverinfo": "skip"}
    return {"type": kind, "mode": "markers", "name": "lines and transformers",
            "x": typed_array(geom.hit_xy[:, 0]), "y": typed_array(geom.hit_xy[:, 1]), "text": list(geom.hit_text),
            "marker": {"size": 7, "color": "rgba(120,120,120,0.25)"}, "hovertemplate": "%{text}<extra></extra>",
            "showlegend": False}


def _bus_marker(codes) -> dict:
    return {"color": [int(c) for c in codes], "cmin": -0.5, "cmax": len(STATE_COLORS) - 0.5,
            "colorscale": _colorscale(), "showscale": False}


def _buses_trace(geom: MapGeometry, st: MapState, *, big: bool, gl: bool = False) -> dict:
    """Small models: every bus, its colour (state code) and hover text patched per bus. Big models: only the
    buses not energized (the energized network is the background image), resent whole when they change."""
    if big and not gl:
        rows = np.nonzero(st.bus_code != ENERGIZED)[0]
        return {"type": "scatter", "mode": "markers", "name": "buses", "x": [_r(v) for v in geom.bus_xy[rows, 0]],
                "y": [_r(v) for v in geom.bus_xy[rows, 1]], "text": [geom.bus_text[i] for i in rows.tolist()],
                "customdata": [st.bus_label(i) for i in rows.tolist()],
                "marker": {"size": 6, **_bus_marker(st.bus_code[rows])},
                "hovertemplate": "%{text}<br><b>%{customdata}</b><extra></extra>", "showlegend": False}
    return {"type": "scattergl" if gl else "scatter", "mode": "markers", "name": "buses",
            "x": typed_array(geom.bus_xy[:, 0]), "y": typed_array(geom.bus_xy[:, 1]), "text": list(geom.bus_text),
            "customdata": [st.bus_label(i) for i in range(geom.n_bus)],
            "marker": {"size": 4 if big else 7, **_bus_marker(st.bus_code)},
            "hovertemplate": "%{text}<br><b>%{customdata}</b><extra></extra>", "showlegend": False}


def is_big(geom: MapGeometry) -> bool:
    return max(geom.n_bus, geom.n_seg) > BIG_MAP


def background_image(geom: MapGeometry, *, width_px: int = 2400) -> dict:
    """The energized network (every segment and bus) as a PNG ``layout.images`` entry in model coordinates.

    Big models draw their static part this way: the browser decodes one image instead of drawing tens of
    thousands of points on every update (a WebGL scene is redrawn whole whenever any trace changes, which
    a software renderer does in about a second for 10,000 buses)."""
    import struct
    import zlib
    xy = geom.bus_xy
    ok = np.isfinite(xy).all(axis=1)
    lo, hi = xy[ok].min(axis=0), xy[ok].max(axis=0)
    span = np.maximum(hi - lo, 1e-6)
    pad = 0.02 * span.max()
    lo, hi = lo - pad, hi + pad
    span = hi - lo
    w = int(width_px)
    h = max(16, int(round(w * span[1] / span[0])))
    if h > 2 * w:                       # tall networks: bound the height instead
        h = 2 * w
        w = max(16, int(round(h * span[0] / span[1])))
    img = np.full((h, w, 4), 0, np.uint8)

    def to_px(p):
        return np.column_stack([(p[:, 0] - lo[0]) / span[0] * (w - 1), (hi[1] - p[:, 1]) / span[1] * (h - 1)])
    line_rgb = np.array([int(STATE_COLORS[ENERGIZED][i:i + 2], 16) for i in (1, 3, 5)], np.uint8)
    if geom.n_seg:
        a, b = to_px(geom.seg_xy[:, 0, :]), to_px(geom.seg_xy[:, 1, :])
        good = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
        a, b = a[good], b[good]
        n = np.maximum(np.ceil(np.abs(b - a).max(axis=1)).astype(np.int64), 1) + 1
        seg = np.repeat(np.arange(len(a)), n)
        t = (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)) / np.repeat(n - 1, n).clip(1)
        pts = a[seg] + (b[seg] - a[seg]) * t[:, None]
        px = np.clip(np.rint(pts).astype(np.int64), 0, [w - 1, h - 1])
        img[px[:, 1], px[:, 0], :3] = line_rgb
        img[px[:, 1], px[:, 0], 3] = 200
    bp = to_px(xy[ok])
    r = 2 if geom.n_bus > BIG_MAP else 3
    for dx in range(-r + 1, r):
        for dy in range(-r + 1, r):
            q = np.clip(np.rint(bp + [dx, dy]).astype(np.int64), 0, [w - 1, h - 1])
            img[q[:, 1], q[:, 0], :3] = line_rgb
            img[q[:, 1], q[:, 0], 3] = 255
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))

    def chunk(tag, data):
        c = struct.pack(">I", len(data)) + tag + data
        return c + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
    return {"source": "data:image/png;base64," + base64.b64encode(png).decode("ascii"), "xref": "x", "yref": "y",
            "x": float(lo[0]), "y": float(hi[1]), "sizex": float(span[0]), "sizey": float(span[1]),
            "sizing": "stretch", "layer": "below", "opacity": 1.0,
            "name": "network", "_range": [[float(lo[0]), float(hi[0])], [float(lo[1]), float(hi[1])]]}


def map_figure(geom: MapGeometry, st: MapState, *, snap=None, highlight: str | None = None,
               height: int | None = None, hit_points: bool | None = None, background: dict | None = None) -> dict:
    """The full live map (a Plotly figure dict; trace order as ``geom.trace``).

    Small models (up to :data:`BIG_MAP` buses and segments) are drawn as vector traces, every bus with its
    hover text. Big models draw the energized network as ``background`` (:func:`background_image`, made
    once per model) and only what is not energized as traces. No WebGL: a WebGL scene is redrawn whole on
    every update. ``hit_points``: hover / click points on lines (WebGL on big models; for the what-if map,
    which is not updated live)."""
    n = geom.n_bus
    big = is_big(geom)
    seg = st.seg_code
    ox, oy, _ = _small_segments(geom, seg == OUT_OF_SERVICE)
    width = 1 if big else 2
    if big:
        base = {"type": "scatter", "mode": "lines", "name": "lines (energized)", "x": [None], "y": [None],
                "line": {"color": STATE_COLORS[ENERGIZED], "width": 2}, "hoverinfo": "skip"}
    else:
        sx, sy = _segments_xy(geom.seg_xy)
        base = {"type": "scatter", "mode": "lines", "name": "lines (energized)", "x": typed_array(sx),
                "y": typed_array(sy), "line": {"color": STATE_COLORS[ENERGIZED], "width": width},
                "hoverinfo": "skip", "opacity": 0.7}
    hp = hit_points if hit_points is not None else not big
    data = [
        base,
        {"type": "scatter", "mode": "lines", "name": "out of service", "x": ox, "y": oy, "hoverinfo": "skip",
         "line": {"color": STATE_COLORS[OUT_OF_SERVICE], "width": width}},
        _overlay_trace(geom, st, DEAD, width + 2),
        _overlay_trace(geom, st, ISOLATED, width + 2),
        _faulted_trace(geom, st),
        _hit_trace(geom, hp, gl=big and hp),
        _buses_trace(geom, st, big=big, gl=big and bool(hit_points)),
        {"type": "scatter", "mode": "markers", "name": "tie switches (normally open)",
         "x": [_r(v) for v in geom.tie_xy[:, 0].tolist()], "y": [_r(v) for v in geom.tie_xy[:, 1].tolist()],
         "text": list(geom.tie_text), "marker": {"size": 8, "symbol": "circle-open", "color": "#444"},
         "hovertemplate": "%{text}<extra></extra>"},
        _devices_trace(geom, st),
    ]
    for cls, (rows, txt, _ids) in geom.crit.items():
        data.append({"type": "scatter", "mode": "markers", "name": f"{cls}", "x": [_r(v) for v in
                     geom.bus_xy[rows, 0].tolist()], "y": [_r(v) for v in geom.bus_xy[rows, 1].tolist()],
                     "text": list(txt), "hovertemplate": "%{text}<extra></extra>",
                     "marker": {"size": 12, "symbol": _CLASS_SYMBOL.get(cls, "star"),
                                "color": _CLASS_COLOR.get(cls, "#ff8800"), "line": {"color": "#fff", "width": 1}}})
    data += [_crit_out_trace(geom, st), _crews_trace(geom, st),
             highlight_trace(geom, snap, highlight) if snap is not None else highlight_trace(geom, _Empty(), None)]
    layout = {
        "margin": {"l": 4, "r": 4, "t": 4, "b": 4}, "plot_bgcolor": "#ffffff", "paper_bgcolor": "#ffffff",
        "xaxis": {"visible": False, "showgrid": False, "zeroline": False},
        "yaxis": {"visible": False, "showgrid": False, "zeroline": False, "scaleanchor": "x", "scaleratio": 1},
        "uirevision": f"map:{geom.model}", "dragmode": "pan", "hovermode": "closest", "clickmode": "event",
        "legend": {"orientation": "h", "y": 1.0, "x": 0.0, "yanchor": "bottom", "font": {"size": 11},
                   "bgcolor": "rgba(255,255,255,0.8)"},
        "meta": {"model": geom.model, "buses": n, "version": st.version, "big": big},
    }
    if big:
        bg = dict(background if background is not None else background_image(geom))
        rng = bg.pop("_range", None)
        layout["images"] = [bg]
        if rng:
            layout["xaxis"]["range"], layout["yaxis"]["range"] = rng
    if height:
        layout["height"] = height
    return {"data": data, "layout": layout}


def empty_map(geom: MapGeometry) -> dict:
    """A placeholder with the live map's layout (same ``uirevision``) until the first update fills it."""
    fig = {"data": [], "layout": {"margin": {"l": 4, "r": 4, "t": 4, "b": 4}, "plot_bgcolor": "#ffffff",
                                  "xaxis": {"visible": False}, "yaxis": {"visible": False},
                                  "uirevision": f"map:{geom.model}",
                                  "annotations": [{"text": f"loading {geom.model} ({geom.n_bus:,} buses)...",
                                                   "showarrow": False, "xref": "paper", "yref": "paper",
                                                   "x": 0.5, "y": 0.5, "font": {"color": "#889"}}]}}
    return fig


class _Empty:
    bus_outage = ()
    outages = ()


def map_patch(geom: MapGeometry, old: MapState, new: MapState, *, snap=None,
              highlight: str | None = None, highlight_changed: bool = False) -> Patch | None:
    """The operations that turn the map of ``old`` into the map of ``new`` (None: nothing to send)."""
    p = Patch()
    ops = 0
    T = geom.trace
    bus = np.nonzero(old.bus_code != new.bus_code)[0]
    if len(bus) or old.bus_outage != new.bus_outage:
        # a bus whose outage changed gets a new hover label too
        changed = set(bus.tolist())
        if old.bus_outage != new.bus_outage:
            changed |= {i for i, (a, b) in enumerate(zip(old.bus_outage, new.bus_outage)) if a != b}
        if is_big(geom):
            p["data"][T["buses"]] = _buses_trace(geom, new, big=True)
            ops += 1
        else:
            tb = p["data"][T["buses"]]
            for i in sorted(changed):
                if old.bus_code[i] != new.bus_code[i]:
                    tb["marker"]["color"][i] = int(new.bus_code[i])
                tb["customdata"][i] = new.bus_label(i)
                ops += 1
    seg = np.nonzero(old.seg_code != new.seg_code)[0]
    width = (1 if is_big(geom) else 2) + 2
    for code, name in ((DEAD, "lines de-energized"), (ISOLATED, "lines isolated")):
        if seg.size and ((old.seg_code[seg] == code) | (new.seg_code[seg] == code)).any():
            # the overlay holds only the segments in that state: resent whole when its set changes
            p["data"][T[name]] = _overlay_trace(geom, new, code, width)
            ops += 1
    if old.faulted != new.faulted or (seg.size and ((old.seg_code[seg] == FAULTED) |
                                                    (new.seg_code[seg] == FAULTED)).any()):
        p["data"][T["faulted"]] = _faulted_trace(geom, new)
        ops += 1
    if old.open_devices != new.open_devices:
        p["data"][T["operated devices"]] = _devices_trace(geom, new)
        ops += 1
    if old.crews != new.crews:
        p["data"][T["crews"]] = _crews_trace(geom, new)
        ops += 1
    if old.crit_out != new.crit_out:
        p["data"][T["critical out"]] = _crit_out_trace(geom, new)
        ops += 1
    if snap is not None and (highlight_changed or (highlight and old.bus_outage != new.bus_outage)):
        p["data"][T["highlight"]] = highlight_trace(geom, snap, highlight)
        ops += 1
    if not ops:
        return None
    p["layout"]["meta"]["version"] = new.version
    return p


# --------------------------------------------------------------------------- KPIs and tables

def sparkline_figure(series) -> dict:
    """Customers out over (simulated) time: a small step line."""
    t = [s[0] for s in series]
    v = [int(s[1]) for s in series]
    return {"data": [{"type": "scatter", "mode": "lines", "x": t, "y": v, "line": {"shape": "hv", "color": "#e63946",
                                                                                   "width": 2},
                      "fill": "tozeroy", "fillcolor": "rgba(230,57,70,0.15)",
                      "hovertemplate": "%{x}<br>%{y:,} customers out<extra></extra>"}],
            "layout": {"margin": {"l": 36, "r": 6, "t": 4, "b": 20}, "height": 90, "showlegend": False,
                       "xaxis": {"showgrid": False, "tickfont": {"size": 9}},
                       "yaxis": {"showgrid": False, "tickfont": {"size": 9}, "rangemode": "tozero"},
                       "plot_bgcolor": "#fff", "paper_bgcolor": "#fff"}}


def kpi_items(snap, queue_depths: dict | None = None) -> list[tuple[str, str, str]]:
    """(key, label, value) of every KPI card, from a snapshot (and queue depths, if known)."""
    k = snap.kpis
    crit = k.get("critical_out") or {}
    crit_txt = ", ".join(f"{v} {c}" for c, v in sorted(crit.items())) if crit else "none"
    items = [
        ("customers-out", "Customers out", f"{int(k.get('customers_out', 0)):,}"),
        ("critical-out", "Critical customers out", f"{sum(crit.values())}" + (f" ({crit_txt})" if crit else "")),
        ("active-outages", "Active outages", f"{int(k.get('active_outages', 0))}"),
        ("crews", "Crews busy / free", f"{int(k.get('crews_busy', 0))} / {int(k.get('crews_free', 0))}"),
        ("cmi", "Customer minutes interrupted", f"{float(k.get('cmi', 0.0)):,.0f}"),
        ("work-orders", "Open work orders", f"{int(k.get('open_work_orders', 0))}"),
        ("overdue", "Overdue work orders", f"{int(k.get('overdue_work_orders', 0))}"),
    ]
    if queue_depths is not None:
        busy = {q: d for q, d in queue_depths.items() if d}
        items.append(("queues", "Queue depth", f"{sum(queue_depths.values()):,}"
                      + (" (" + ", ".join(f"{q} {d:,}" for q, d in sorted(busy.items())) + ")" if busy else "")))
    return items


def _hm(t: str | None) -> str:
    """'2025-01-06T16:25:00' -> '01-06 16:25'."""
    if not t:
        return ""
    return f"{t[5:10]} {t[11:16]}" if len(t) >= 16 else t


OUTAGE_COLUMNS = [("outage_id", "id"), ("type", "type"), ("cause", "cause"), ("device", "device"),
                  ("status", "status"), ("customers_out", "customers out"), ("critical", "critical out"),
                  ("start", "start"), ("etr", "ETR"), ("owner", "owner"), ("deadline", "deadline")]


def outage_rows(snap, *, active_only: bool = False) -> list[dict]:
    """Rows of the outages table (in the order they began: new ones come at the end, so the rows a dispatcher
    is looking at do not move), with ``id`` = outage id for row selection."""
    rows = []
    for o in snap.outages:
        if active_only and o["status"] in ("restored", "cancelled"):
            continue
        crit = o.get("critical_by_class") or {}
        rows.append({"id": o["outage_id"], "outage_id": o["outage_id"], "type": o["type"], "cause": o["cause"] or "",
                     "device": o.get("device") or o.get("fault_element") or ", ".join(o.get("elements") or ()),
                     "status": o["status"], "customers_out": int(o.get("customers_out") or 0),
                     "customers": int(o.get("customers") or 0),
                     "critical": int(o.get("critical") or 0),
                     "critical_classes": ", ".join(f"{v} {c}" for c, v in sorted(crit.items())),
                     "start": _hm(o.get("start")), "etr": _hm(o.get("etr")), "owner": o.get("owner") or "",
                     "deadline": _hm(o.get("deadline")), "crew": o.get("crew") or ""})
    return rows


def switching_plan_rows(flisr: dict | None) -> list[dict]:
    """Steps of a FLISR switching plan (``SwitchingPlan.to_dict()``) as table rows, with capacity figures."""
    if not flisr:
        return []
    rows = []
    for s in flisr.get("steps", []):
        ml, vm = s.get("max_loading_percent"), s.get("min_vm_pu")
        rows.append({"t_min": round(float(s["t_min"]), 1), "action": s["action"], "device": s["device"],
                     "remote": "remote" if s.get("remote") else "manual", "purpose": s["purpose"],
                     "customers_restored": int(s.get("customers_restored") or 0),
                     "critical_restored": int(s.get("critical_restored") or 0),
                     "max_loading_percent": "" if ml is None else f"{ml:.1f}",
                     "min_vm_pu": "" if vm is None else f"{vm:.4f}", "via": s.get("via") or ""})
    return rows


def history_rows(outage: dict | None) -> list[dict]:
    if not outage:
        return []
    return [{"time": _hm(h.get("time")) + (h.get("time") or "")[16:19], "status": h.get("status", ""),
             "actor": h.get("actor", ""), "detail": h.get("detail", "")} for h in outage.get("history", [])]


def whatif_figure(geom: MapGeometry, st: MapState, affected_bus_rows, element: str | None = None,
                  background: dict | None = None) -> dict:
    """The what-if map: the live network with the buses a what-if takes out and the chosen element (every
    line and bus clickable: this map is drawn once per question, not updated live)."""
    fig = map_figure(geom, st, height=None, hit_points=True, background=background)
    rows = np.asarray(list(affected_bus_rows), np.int64)
    x = [_r(v) for v in geom.bus_xy[rows, 0].tolist()] if len(rows) else []
    y = [_r(v) for v in geom.bus_xy[rows, 1].tolist()] if len(rows) else []
    p = geom.device_xy.get(element) if element else None
    if p is not None:
        x.append(_r(p[0]))
        y.append(_r(p[1]))
    fig["data"][geom.trace["highlight"]] = {
        "type": "scatter", "mode": "markers", "name": f"what-if: {element}" if element else "what-if", "x": x,
        "y": y, "hoverinfo": "skip", "showlegend": bool(element),
        "marker": {"size": 16, "color": "rgba(157, 2, 8, 0.45)", "line": {"color": "#9d0208", "width": 2}}}
    fig["layout"]["uirevision"] = f"whatif:{geom.model}"
    return fig
