"""Switching and protective devices: pandapower switches plus model.yaml data.

pandapower has switches (``CB``, ``LBS``, ``LS``, ``DS``) but no fuses, no
reclosers and no remote-control flag. :func:`build_device_table` merges the
switch table with the ``devices`` section of model.yaml::

    devices:
      rule: "...how the lists below were derived..."
      fuses: [{line: 40, bus: 12}, ...]       # or bare line ids: [40, 41]
      reclosers: [{line: 7, bus: 39}, ...]    # line reclosers (remote unless remote: false)
      switch_kinds: {99: recloser}            # pandapower switch -> other kind
      remote_switches: [99, 265, ...]         # remote-controlled pandapower switches

Without ``remote_switches`` every breaker (``CB``) and recloser is remote and
every other switch manual. :func:`derive_device_data` is the deterministic rule
``models/build_models.py`` uses to write those lists.
"""
from __future__ import annotations

import math
import zlib
from collections.abc import Mapping

import numpy as np
import pandas as pd

from gridsim.errors import ModelLoadError, brief
from gridsim.model.model import DEVICE_COLUMNS
from gridsim.types import PP_SWITCH_TYPE, DeviceKind

_ET_NAME = {"l": "line", "t": "trafo", "t3": "trafo3w", "b": "switch"}
_KIND_VALUES = tuple(k.value for k in DeviceKind)


#: Largest element id model.yaml may name (int64 with room to spare).
_MAX_ID = 2**62


def _yaml_id(value, where: str, *, low: int = 0) -> int:
    """An element id from model.yaml: an integer (or integer text) from ``low`` to 2**62."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 30:
        value = int(value.strip())
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)) \
            or not low <= value <= _MAX_ID:
        raise ModelLoadError(f"{where}: expected an element id (an integer >= {low}), got {brief(value)}")
    return int(value)


def _line_devices(entries, kind: DeviceKind, default_remote: bool) -> pd.DataFrame:
    """model.yaml ``fuses`` / ``reclosers`` list -> device rows (no check against the net)."""
    lines, buses, remote = [], [], []
    if entries is not None and not isinstance(entries, (list, tuple)):
        raise ModelLoadError(f"model.yaml devices.{kind.value}s: expected a list of {{line: <id>, bus: <id>}}, "
                             f"got {brief(entries)}")
    for i, entry in enumerate(entries or []):
        where = f"model.yaml devices.{kind.value}s[{i}]"
        if isinstance(entry, Mapping):
            if "line" not in entry:
                raise ModelLoadError(f"{where}: expected a line id or {{line: <id>, bus: <id>}}, got {brief(entry)}")
            lines.append(_yaml_id(entry["line"], f"{where}.line"))
            buses.append(_yaml_id(entry.get("bus", -1), f"{where}.bus", low=-1))
            flag = entry.get("remote", default_remote)
            if not isinstance(flag, bool):
                raise ModelLoadError(f"{where}.remote: expected true or false, got {brief(flag)}")
            remote.append(flag)
        else:
            lines.append(_yaml_id(entry, where))
            buses.append(-1)
            remote.append(default_remote)
    n = len(lines)
    line_ids = np.asarray(lines, dtype=np.int64)
    return pd.DataFrame({
        "device_id": pd.Series([f"{kind.value}:line:{x}" for x in lines], dtype=object),
        "kind": np.full(n, kind.value, dtype=object),
        "element_type": np.full(n, "line", dtype=object),
        "element_id": line_ids,
        "bus": np.asarray(buses, dtype=np.int64),
        "remote": np.asarray(remote, dtype=bool),
        "switch_id": np.full(n, -1, dtype=np.int64),
        "normally_open": np.zeros(n, dtype=bool),
        "origin": np.full(n, "model.yaml", dtype=object),
    })


def build_device_table(net, meta: Mapping | None = None) -> pd.DataFrame:
    """Device table (columns :data:`DEVICE_COLUMNS`) of ``net`` and the model.yaml ``meta``.

    One row per pandapower switch (``switch:<idx>``), one per model.yaml fuse or
    recloser on a line. model.yaml entries on unknown lines or switches are kept
    / ignored here and reported by :func:`gridsim.model.validate_model`.
    """
    dev_meta = dict((meta or {}).get("devices") or {})
    sw = net.switch
    idx = sw.index.to_numpy(dtype=np.int64)
    stype = sw["type"].astype(object).where(sw["type"].notna(), "").astype(str).str.strip().str.upper()
    kind = stype.map({k: v.value for k, v in PP_SWITCH_TYPE.items()}).fillna(DeviceKind.DISCONNECTOR.value)
    overrides = dev_meta.get("switch_kinds") or {}
    if overrides:
        if not isinstance(overrides, Mapping):
            raise ModelLoadError("model.yaml devices.switch_kinds: expected a mapping {switch id: kind}")
        ov = {}
        for k, v in overrides.items():
            sid = _yaml_id(k, "model.yaml devices.switch_kinds (key)")
            if not isinstance(v, str) or v not in _KIND_VALUES:
                raise ModelLoadError(f"model.yaml devices.switch_kinds[{sid}]: kind {brief(v)} is "
                                     f"not one of {', '.join(_KIND_VALUES)}")
            ov[sid] = v
        ov = pd.Series(ov, dtype=object)
        kind = ov.reindex(sw.index).fillna(kind)
    et = sw["et"].astype(str)
    element_type = et.map(_ET_NAME).fillna(et)
    element_id = np.where(et.to_numpy() == "b", idx, sw["element"].to_numpy(dtype=np.int64))
    remote_list = dev_meta.get("remote_switches")
    if remote_list is None:
        remote = kind.isin([DeviceKind.BREAKER.value, DeviceKind.RECLOSER.value]).to_numpy()
    else:
        if not isinstance(remote_list, (list, tuple)):
            raise ModelLoadError(f"model.yaml devices.remote_switches: expected a list of switch ids, got "
                                 f"{brief(remote_list)}")
        remote_ids = np.asarray([_yaml_id(x, f"model.yaml devices.remote_switches[{i}]")
                                 for i, x in enumerate(remote_list)], dtype=np.int64)
        remote = np.isin(idx, remote_ids)
    table = pd.DataFrame({
        "device_id": ("switch:" + sw.index.astype(str)).to_numpy(dtype=object),
        "kind": kind.to_numpy(dtype=object),
        "element_type": element_type.to_numpy(dtype=object),
        "element_id": element_id.astype(np.int64),
        "bus": sw["bus"].to_numpy(dtype=np.int64),
        "remote": np.asarray(remote, dtype=bool),
        "switch_id": idx,
        "normally_open": ~sw["closed"].to_numpy(dtype=bool),
        "origin": np.full(len(sw), "pandapower", dtype=object),
    })
    parts = [table,
             _line_devices(dev_meta.get("fuses"), DeviceKind.FUSE, False),
             _line_devices(dev_meta.get("reclosers"), DeviceKind.RECLOSER, True)]
    out = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else table
    return out.astype({"element_id": np.int64, "bus": np.int64, "remote": bool, "switch_id": np.int64,
                       "normally_open": bool})[list(DEVICE_COLUMNS)].reset_index(drop=True)


# --------------------------------------------------------------------------- derivation rule

DEVICE_RULE = (
    "Derived by gridsim.model.devices.derive_device_data from the closed, in-service network rooted at "
    "its sources (BFS tree). Fuses: on every line at distribution voltage (upstream bus vn_kv <= 36) "
    "that leaves a branching bus (>= 3 closed branches) downstream and carries no pandapower breaker; at "
    "a busbar fed by a transformer / source / bus-bus switch every such line is fused, at a mid-feeder "
    "branching bus the child line with the largest downstream bus count is the trunk and gets no fuse. "
    "Reclosers: MV feeders are the lines leaving a transformer's downstream bus with 1 <= vn_kv <= 36; "
    "the longest ceil(25%) of them by downstream line length (at least one) get a recloser (the "
    "feeder-head breaker becomes a recloser, else a line recloser is added). LV-only feeders get none. "
    "Remote control: all breakers and reclosers, every normally-open LBS (tie switch) and 25% of the "
    "closed LBS drawn with numpy.random.default_rng(zlib.crc32(model name)); LS / DS and fuses are manual."
)


def _closed_graph(net):
    """Edges of the closed in-service network: DataFrame u, v (bus ids), etype, eid, length_km."""
    sw = net.switch
    open_sw = sw[~sw["closed"].astype(bool)]
    in_service_bus = net.bus.index[net.bus["in_service"].astype(bool)]
    frames = []
    line = net.line[net.line["in_service"].astype(bool)]
    line = line[~line.index.isin(open_sw.loc[open_sw["et"] == "l", "element"])]
    frames.append(pd.DataFrame({"u": line["from_bus"], "v": line["to_bus"], "etype": "line",
                                "eid": line.index, "length_km": line["length_km"].astype(float)}))
    trafo = net.trafo[net.trafo["in_service"].astype(bool)]
    trafo = trafo[~trafo.index.isin(open_sw.loc[open_sw["et"] == "t", "element"])]
    frames.append(pd.DataFrame({"u": trafo["hv_bus"], "v": trafo["lv_bus"], "etype": "trafo",
                                "eid": trafo.index, "length_km": 0.0}))
    t3 = net.trafo3w[net.trafo3w["in_service"].astype(bool)]
    for side in ("mv_bus", "lv_bus"):
        frames.append(pd.DataFrame({"u": t3["hv_bus"], "v": t3[side], "etype": "trafo3w",
                                    "eid": t3.index, "length_km": 0.0}))
    bb = sw[(sw["et"] == "b") & sw["closed"].astype(bool)]
    frames.append(pd.DataFrame({"u": bb["bus"], "v": bb["element"], "etype": "switch",
                                "eid": bb.index, "length_km": 0.0}))
    edges = pd.concat([f for f in frames if len(f)], ignore_index=True)
    edges = edges[edges["u"].isin(in_service_bus) & edges["v"].isin(in_service_bus)]
    return edges.astype({"u": np.int64, "v": np.int64, "eid": np.int64}).reset_index(drop=True)


def _source_buses(net) -> np.ndarray:
    eg = net.ext_grid[net.ext_grid["in_service"].astype(bool)]["bus"].to_numpy(dtype=np.int64)
    gen = net.gen
    if len(gen) and "slack" in gen.columns:
        gen = gen[gen["in_service"].astype(bool) & gen["slack"].astype(bool)]
        eg = np.concatenate([eg, gen["bus"].to_numpy(dtype=np.int64)])
    return np.unique(eg)


def _bfs_tree(net):
    """BFS tree of the closed network from a super-source over all sources.

    Returns (tree, order): ``tree`` a DataFrame indexed by child bus id with
    parent bus, etype / eid / length_km of the tree edge into the child,
    degree of the child, subtree bus count and subtree line length; ``order``
    the BFS order of bus ids.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order

    edges = _closed_graph(net)
    bus_ids = net.bus.index.to_numpy(dtype=np.int64)
    pos = pd.Index(bus_ids)
    n = len(bus_ids)
    u = pos.get_indexer(edges["u"])
    v = pos.get_indexer(edges["v"])
    src = pos.get_indexer(_source_buses(net))
    src = src[src >= 0]
    rows = np.concatenate([u, np.full(len(src), n)])
    cols = np.concatenate([v, src])
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n + 1, n + 1)).tocsr()
    order, pred = breadth_first_order(graph, n, directed=False, return_predecessors=True)
    order = order[order != n]
    degree = np.bincount(np.concatenate([u, v]), minlength=n)
    # tree edge into each reached bus: first edge joining it with its predecessor
    child = order
    parent = pred[child]
    e_key = pd.DataFrame({"a": np.minimum(u, v), "b": np.maximum(u, v), "etype": edges["etype"],
                          "eid": edges["eid"], "length_km": edges["length_km"]})
    e_key = e_key.sort_values(["etype", "eid"], kind="stable").drop_duplicates(["a", "b"])
    t = pd.DataFrame({"child": child, "parent": parent,
                      "a": np.minimum(child, parent), "b": np.maximum(child, parent)})
    t = t.merge(e_key, on=["a", "b"], how="left")
    t.loc[t["parent"] == n, ["etype", "length_km"]] = ["source", 0.0]
    t["etype"] = t["etype"].fillna("source")
    t["length_km"] = t["length_km"].fillna(0.0)
    # subtree sizes / lengths: accumulate children into parents in reverse BFS order
    size = np.ones(n + 1, dtype=np.int64)
    length = np.zeros(n + 1, dtype=float)
    length[t["child"].to_numpy()] = t["length_km"].to_numpy()
    par = np.full(n + 1, -1, dtype=np.int64)
    par[t["child"].to_numpy()] = t["parent"].to_numpy()
    for c in order[::-1]:  # offline rule only (build_models.py); fine at 40k buses
        p = par[c]
        size[p] += size[c]
        length[p] += length[c]
    tree = pd.DataFrame({
        "bus": bus_ids[t["child"].to_numpy()],
        "parent": np.where(t["parent"].to_numpy() == n, -1,
                           bus_ids[np.minimum(t["parent"].to_numpy(), n - 1)]),
        "etype": t["etype"].to_numpy(), "eid": t["eid"].fillna(-1).to_numpy(dtype=np.int64),
        "degree": degree[t["child"].to_numpy()], "subtree_buses": size[t["child"].to_numpy()],
        "subtree_km": length[t["child"].to_numpy()],
    }).set_index("bus")
    return tree, bus_ids[order]


def derive_device_data(net, name: str, *, lbs_remote_fraction: float = 0.25,
                       recloser_fraction: float = 0.25) -> dict:
    """model.yaml ``devices`` section for ``net`` by the rule :data:`DEVICE_RULE` (deterministic)."""
    tree, _ = _bfs_tree(net)
    vn_kv = net.bus["vn_kv"].astype(float)
    sw = net.switch
    cb_lines = set(sw.loc[(sw["et"] == "l") & (sw["type"].astype(str).str.upper() == "CB"), "element"].astype(int))
    parent_etype = tree["etype"]  # etype of the edge INTO a bus
    lines = tree[(tree["etype"] == "line") & (tree["parent"] >= 0)].copy()
    lines["parent_kv"] = vn_kv.reindex(lines["parent"]).to_numpy()
    lines["parent_degree"] = tree["degree"].reindex(lines["parent"]).to_numpy()
    lines["parent_in"] = parent_etype.reindex(lines["parent"]).to_numpy()
    lines["child"] = lines.index
    # trunk child per parent: largest subtree, ties -> smallest bus id
    ranked = lines.sort_values(["parent", "subtree_buses", "child"], ascending=[True, False, True])
    trunk = set(ranked.drop_duplicates("parent")["child"])
    busbar = lines["parent_in"].isin(["trafo", "trafo3w", "source", "switch"])
    fused = lines[(lines["parent_kv"] <= 36.0) & (lines["parent_degree"] >= 3)
                  & ~lines["eid"].isin(cb_lines) & (busbar | ~lines["child"].isin(trunk))]
    fused = fused.sort_values("eid")
    fuses = [{"line": int(e), "bus": int(b)} for e, b in zip(fused["eid"], fused["parent"])]

    heads = lines[lines["parent_in"].isin(["trafo", "trafo3w"])
                  & (lines["parent_kv"] >= 1.0) & (lines["parent_kv"] <= 36.0)].copy()
    heads["feeder_km"] = heads["subtree_km"]
    heads = heads.sort_values(["feeder_km", "eid"], ascending=[False, True])
    n_rec = math.ceil(recloser_fraction * len(heads)) if len(heads) else 0
    switch_kinds: dict[int, str] = {}
    reclosers: list[dict] = []
    for eid, pbus in zip(heads["eid"].iloc[:n_rec], heads["parent"].iloc[:n_rec]):
        cb = sw[(sw["et"] == "l") & (sw["element"] == eid) & (sw["bus"] == pbus)
                & (sw["type"].astype(str).str.upper() == "CB")]
        if len(cb):
            switch_kinds[int(cb.index[0])] = DeviceKind.RECLOSER.value
        else:
            reclosers.append({"line": int(eid), "bus": int(pbus)})
    reclosers.sort(key=lambda d: d["line"])

    stype = sw["type"].astype(str).str.upper()
    closed = sw["closed"].astype(bool)
    remote = set(sw.index[stype == "CB"].astype(int)) | set(switch_kinds)
    remote |= set(sw.index[(stype == "LBS") & ~closed].astype(int))
    lbs_closed = np.sort(sw.index[(stype == "LBS") & closed].to_numpy(dtype=np.int64))
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    n_pick = int(round(lbs_remote_fraction * len(lbs_closed)))
    remote |= set(int(x) for x in rng.choice(lbs_closed, size=n_pick, replace=False)) if n_pick else set()
    return {
        "rule": DEVICE_RULE,
        "fuses": fuses,
        "reclosers": reclosers,
        "switch_kinds": dict(sorted(switch_kinds.items())),
        "remote_switches": sorted(remote),
    }
