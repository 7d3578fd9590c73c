"""Obviously-correct slow references for the outage-impact core (stumpy's ``naive.py`` habit).

Nothing here imports ``gridsim.core``: every expectation the core tests use is
computed from the pandapower net directly, either with pandapower's own
``topology.unsupplied_buses`` / ``create_nxgraph`` or with networkx / scipy
connected components on a graph built here from the pandapower tables.

- :func:`model_from_net`: a :class:`gridsim.model.Model` around a net, with a
  device table (pandapower switches, plus extra fuses / reclosers) and random
  customers;
- :func:`unsupplied_after`: buses lost by taking one element out, with
  pandapower's ``unsupplied_buses`` (before / after);
- :class:`GraphReference`: the same question on one pandapower multigraph
  (built once), answered with scipy connected components - fast enough for
  every single fault of a SimBench net;
- :func:`grid_graph` / :func:`lost_buses` / :func:`supplied_buses`: our own
  networkx multigraph (trafo3w as a star node, a super-source linked to every
  source) for multi-fault scenarios, switch changes and reachability;
- :func:`expected_trip`: the protective device that clears a fault on radial
  operation, by walking the networkx shortest path towards the source.
"""
from __future__ import annotations

from collections import defaultdict

import networkx as nx
import numpy as np
import pandas as pd
import pandapower as pp
import pandapower.topology as top
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gridsim.types import CRITICAL_CLASSES, PP_SWITCH_TYPE, CustomerClass, DeviceKind

SUPER = "__super_source__"
PROTECTIVE = {DeviceKind.BREAKER.value, DeviceKind.RECLOSER.value, DeviceKind.FUSE.value}
CRITICAL = {c.value for c in CRITICAL_CLASSES}
_ET = {"l": "line", "t": "trafo", "t3": "trafo3w", "b": "switch"}


# --------------------------------------------------------------------------- models

def _own_device_table(net) -> pd.DataFrame:
    """Fallback when gridsim.model has no build_device_table (DEVICE_COLUMNS doc of model.py)."""
    sw = net.switch
    et = sw["et"].astype(str)
    kind = [PP_SWITCH_TYPE.get(str(t).strip().upper(), DeviceKind.DISCONNECTOR).value for t in sw["type"]]
    return pd.DataFrame({
        "device_id": [f"switch:{i}" for i in sw.index],
        "kind": kind,
        "element_type": et.map(_ET).to_numpy(object),
        "element_id": np.where(et == "b", sw.index, sw["element"]).astype(np.int64),
        "bus": sw["bus"].to_numpy(np.int64),
        "remote": np.isin(kind, ["breaker", "recloser"]),
        "switch_id": sw.index.to_numpy(np.int64),
        "normally_open": ~sw["closed"].to_numpy(bool),
        "origin": "pandapower",
    })


def device_table(net, devices_extra=None) -> pd.DataFrame:
    """Device table of ``net`` plus ``devices_extra``: dicts with ``kind``,
    ``element_type``, ``element_id`` and optional ``bus`` (-1 = unknown)."""
    try:
        from gridsim.model import build_device_table
        dev = build_device_table(net, {})
    except ImportError:  # pragma: no cover - only while gridsim.model is being written
        dev = _own_device_table(net)
    rows = []
    for d in devices_extra or ():
        rows.append({
            "device_id": f"{d['kind']}:{d['element_type']}:{d['element_id']}" + (f"@{d['bus']}" if d.get("bus", -1) >= 0 else ""),
            "kind": d["kind"], "element_type": d["element_type"], "element_id": int(d["element_id"]),
            "bus": int(d.get("bus", -1)), "remote": False, "switch_id": -1, "normally_open": False,
            "origin": "model.yaml",
        })
    if rows:
        dev = pd.concat([dev, pd.DataFrame(rows)], ignore_index=True)
    return dev.astype({"element_id": np.int64, "bus": np.int64, "switch_id": np.int64,
                       "remote": bool, "normally_open": bool}).reset_index(drop=True)


def random_customers(net, seed: int = 0, share: float = 0.7) -> pd.DataFrame:
    """Customers on a random ``share`` of the buses (some buses get two rows),
    counts 1..5, about a fifth of them in critical classes."""
    rng = np.random.default_rng(seed)
    buses = net.bus.index.to_numpy(np.int64)
    pick = buses[rng.random(len(buses)) < share]
    pick = np.concatenate([pick, pick[rng.random(len(pick)) < 0.2]])
    classes = np.array([c.value for c in CustomerClass], dtype=object)
    crit = np.array([c for c in classes if c in CRITICAL], dtype=object)
    plain = np.array([c for c in classes if c not in CRITICAL], dtype=object)
    is_crit = rng.random(len(pick)) < 0.2
    cls = np.where(is_crit, rng.choice(crit, len(pick)), rng.choice(plain, len(pick)))
    return pd.DataFrame({
        "customer_id": [f"C{i}" for i in range(len(pick))],
        "bus": pick,
        "class": cls.astype(object),
        "count": rng.integers(1, 6, len(pick)).astype(np.int64),
        "p_kw": rng.uniform(1.0, 50.0, len(pick)),
        "priority": np.ones(len(pick)),
    })


def model_from_net(net, customers=None, devices_extra=None, *, seed: int = 0, name: str = "test"):
    """A gridsim Model around ``net`` (random customers unless given)."""
    from gridsim.model import Model
    cust = customers if customers is not None else random_customers(net, seed)
    return Model(name=name, net=net, customers=cust, devices=device_table(net, devices_extra), meta={})


# --------------------------------------------------------------------------- customers

def customer_totals(customers: pd.DataFrame, buses) -> tuple[int, int, dict]:
    """(customers, critical customers, {class: count}) on ``buses``."""
    sel = customers[customers["bus"].isin(list(buses))]
    by_class = sel.groupby("class")["count"].sum()
    by_class = {str(k): int(v) for k, v in by_class.items() if v}
    crit = int(sel.loc[sel["class"].isin(CRITICAL), "count"].sum())
    return int(sel["count"].sum()), crit, by_class


class CustomerIndex:
    """Per-bus customer sums as plain dicts, for many look-ups (same answer as :func:`customer_totals`)."""

    def __init__(self, customers: pd.DataFrame):
        self.count, self.crit = defaultdict(int), defaultdict(int)
        for bus, cls, n in zip(customers["bus"], customers["class"], customers["count"]):
            self.count[int(bus)] += int(n)
            if cls in CRITICAL:
                self.crit[int(bus)] += int(n)

    def totals(self, buses) -> tuple[int, int]:
        return sum(self.count.get(b, 0) for b in buses), sum(self.crit.get(b, 0) for b in buses)


def customer_ids_on(customers: pd.DataFrame, buses) -> set:
    return set(customers.loc[customers["bus"].isin(list(buses)), "customer_id"].astype(str))


# --------------------------------------------------------------------------- pandapower reference

def source_buses(net) -> set:
    """Slack buses as pandapower's unsupplied_buses takes them (in-service ext_grids and slack gens)."""
    s = set(int(b) for b in net.ext_grid.loc[net.ext_grid.in_service.astype(bool), "bus"])
    if len(net.gen):
        g = net.gen
        s |= set(int(b) for b in g.loc[g.in_service.astype(bool) & g.slack.fillna(False).astype(bool), "bus"])
    return s


def _take_out(net, etype: str, eid: int, bus: int | None = None):
    """Take one element out of ``net`` in place; returns the undo function."""
    if etype == "trafo3w" and bus is not None:  # one arm of a trafo3w: an open switch at that bus
        sid = pp.create_switch(net, bus, eid, et="t3", closed=False)
        return lambda: net.switch.drop(sid, inplace=True)
    table, col, value = ("switch", "closed", False) if etype == "switch" else (etype, "in_service", False)
    old = net[table].at[eid, col]
    net[table].at[eid, col] = value

    def undo():
        net[table].at[eid, col] = old
    return undo


def unsupplied_after(net, element_type: str, element_id: int, *, open_branches=()) -> set:
    """Buses that lose supply when the element is out (bus-bus switch: opened;
    bus: out of service, counted itself when it was supplied), by pandapower's
    ``unsupplied_buses`` after minus before. ``open_branches``: extra
    ``(element_type, id, bus)`` opened at the same time (bus only used for a
    trafo3w arm). ``net`` is changed in place and restored."""
    before = top.unsupplied_buses(net)
    undo = []
    try:
        undo.append(_take_out(net, element_type, int(element_id)))
        for etype, eid, bus in open_branches:
            undo.append(_take_out(net, etype, int(eid), bus if etype == "trafo3w" else None))
        after = top.unsupplied_buses(net)
    finally:
        for u in reversed(undo):
            u()
    lost = set(int(b) for b in after - before)
    if element_type == "bus" and bool(net.bus.at[element_id, "in_service"]) and element_id not in before:
        lost.add(int(element_id))
    return lost


class GraphReference:
    """Lost buses per fault on one multigraph built once (pandapower's
    ``create_nxgraph(net)`` by default), by scipy connected components with the
    fault's edges masked - the same question as :func:`unsupplied_after`."""

    def __init__(self, net, mg=None):
        mg = mg if mg is not None else top.create_nxgraph(net)
        nodes = list(mg.nodes)
        self.pos = {n: i for i, n in enumerate(nodes)}
        self.nodes = np.array([n if isinstance(n, (int, np.integer)) else -1 for n in nodes], np.int64)
        self.n = len(nodes) + 1  # + super-source
        u, v, self.by_key, self.by_node = [], [], defaultdict(list), defaultdict(list)
        for k, (a, b, key) in enumerate(mg.edges(keys=True)):
            u.append(self.pos[a])
            v.append(self.pos[b])
            self.by_key[(str(key[0]), int(key[1]))].append(k)
            self.by_node[a].append(k)
            self.by_node[b].append(k)
        for s in source_buses(net):
            if s in self.pos:
                u.append(self.n - 1)
                v.append(self.pos[s])
        self.u = np.asarray(u, np.int64)
        self.v = np.asarray(v, np.int64)
        self.base = self._supplied(np.ones(len(self.u), bool))

    def _supplied(self, mask):
        g = coo_matrix((np.ones(int(mask.sum())), (self.u[mask], self.v[mask])), shape=(self.n, self.n))
        _, labels = connected_components(g, directed=False)
        return labels == labels[self.n - 1]

    def lost(self, faults, open_branches=()) -> set:
        """Buses lost by ``faults`` ((type, id) pairs) plus ``open_branches`` ((type, id, bus))."""
        mask = np.ones(len(self.u), bool)
        dead_nodes = []
        for etype, eid in faults:
            if etype == "bus":
                if eid in self.pos:
                    mask[self.by_node[eid]] = False
                    dead_nodes.append(self.pos[eid])
            else:
                mask[self.by_key.get((etype, int(eid)), [])] = False
        for etype, eid, bus in open_branches:
            ks = self.by_key.get((etype, int(eid)), [])
            if etype == "trafo3w":
                p = self.pos.get(bus, -2)
                ks = [k for k in ks if self.u[k] == p or self.v[k] == p]
            mask[ks] = False
        after = self._supplied(mask)
        after[dead_nodes] = False
        lost = self.base[:-1] & ~after[:-1]
        out = self.nodes[lost]
        return set(int(b) for b in out[out >= 0])


# --------------------------------------------------------------------------- our own networkx graph

def grid_graph(net, switch_closed=None) -> nx.MultiGraph:
    """Operated network as a networkx MultiGraph built from the tables.

    Nodes: in-service bus ids, ``("t3", id)`` star nodes of in-service
    trafo3ws, and :data:`SUPER` linked to every source bus. Edge keys:
    ``("line", id)``, ``("trafo", id)``, ``("trafo3w", id)`` (the three arms
    star-bus), ``("switch", id)`` (closed bus-bus switches),
    ``("source", bus)``. ``switch_closed`` overrides ``net.switch.closed``
    (aligned with the switch table rows).
    """
    g = nx.MultiGraph()
    bus_ok = set(int(b) for b in net.bus.index[net.bus.in_service.astype(bool)])
    g.add_nodes_from(bus_ok)
    g.add_node(SUPER)
    sw = net.switch
    closed = sw["closed"].to_numpy(bool) if switch_closed is None else np.asarray(switch_closed, bool)
    et = sw["et"].astype(str).to_numpy()
    opened = {(et[i], int(sw["element"].iat[i]), int(sw["bus"].iat[i])) for i in range(len(sw)) if not closed[i]}
    open_el = {(e, el) for e, el, _ in opened}

    def add(a, b, key):
        if a in g and b in g:
            g.add_edge(a, b, key=key)

    for i, row in net.line.iterrows():
        if row.in_service and ("l", int(i)) not in open_el:
            add(int(row.from_bus), int(row.to_bus), ("line", int(i)))
    for i, row in net.trafo.iterrows():
        if row.in_service and ("t", int(i)) not in open_el:
            add(int(row.hv_bus), int(row.lv_bus), ("trafo", int(i)))
    for i, row in net.trafo3w.iterrows():
        if not row.in_service:
            continue
        star = ("t3", int(i))
        g.add_node(star)
        for side in ("hv_bus", "mv_bus", "lv_bus"):
            b = int(row[side])
            if ("t3", int(i), b) not in opened:
                add(star, b, ("trafo3w", int(i)))
    for k in range(len(sw)):
        if et[k] == "b" and closed[k]:
            add(int(sw["bus"].iat[k]), int(sw["element"].iat[k]), ("switch", int(sw.index[k])))
    for s in source_buses(net):
        add(SUPER, s, ("source", s))
    return g


def _without(g: nx.MultiGraph, faults) -> nx.MultiGraph:
    h = g.copy()
    for etype, eid in faults:
        eid = int(eid)
        if etype == "bus":
            if eid in h:
                h.remove_node(eid)
        elif etype == "trafo3w":
            if ("t3", eid) in h:
                h.remove_node(("t3", eid))
        else:
            h.remove_edges_from([(a, b, k) for a, b, k in h.edges(keys=True) if k == (etype, eid)])
    return h


def supplied_buses(g: nx.MultiGraph, faults=()) -> set:
    """Bus ids reachable from the super-source with ``faults`` removed."""
    h = _without(g, faults) if faults else g
    return {n for n in nx.node_connected_component(h, SUPER) if isinstance(n, int)}


def lost_buses(g: nx.MultiGraph, faults, base_faults=()) -> set:
    """Buses supplied with ``base_faults`` out that lose supply when ``faults`` are out too."""
    before = supplied_buses(g, base_faults)
    return before - supplied_buses(g, list(base_faults) + list(faults))


def is_radial(g: nx.MultiGraph) -> bool:
    """The supplied part is a tree (no loop, no parallel branches), super-source included."""
    comp = g.subgraph(nx.node_connected_component(g, SUPER))
    return comp.number_of_edges() == comp.number_of_nodes() - 1


# --------------------------------------------------------------------------- tripping device

def protective_devices(devices: pd.DataFrame) -> dict:
    """(element_type, element_id) -> list of (device_id, bus) of protective devices."""
    out = defaultdict(list)
    for r in devices.itertuples():
        if r.kind in PROTECTIVE:
            out[(str(r.element_type), int(r.element_id))].append((str(r.device_id), int(r.bus)))
    return out


def _edge_devices(prot, key, a, b):
    """Devices on the branch a-b of key ``key`` (a trafo3w arm: devices at its bus end)."""
    devs = prot.get((key[0], key[1]), [])
    if key[0] == "trafo3w":
        bus_end = b if isinstance(b, int) else a
        devs = [(d, bus) for d, bus in devs if bus == bus_end]
    return devs


class TripReference:
    """Tripping device on radial operation (see :meth:`expected`), paths from one BFS of the graph."""

    def __init__(self, g: nx.MultiGraph, prot: dict):
        self.g, self.prot = g, prot
        self.dist = nx.single_source_shortest_path_length(g, SUPER)
        self.pred = dict(nx.bfs_predecessors(g, SUPER))
        self.edges = defaultdict(list)
        for a, b, k in g.edges(keys=True):
            self.edges[k].append((a, b))

    def expected(self, fault) -> tuple[set, tuple | None]:
        """(ids of the devices that may trip, branch opened) for a single fault.

        Walk from the faulted element towards the source along the shortest
        path from the super-source; the first protective device met trips. A
        branch's own device counts only if it sits at the upstream end (or at
        an unknown bus, taken as the source side), and never for a bus-bus
        switch (a faulted breaker is cleared upstream). For a node (bus or
        trafo3w), the device on the branch feeding it counts whatever its end.
        The branch opened is ``(element_type, id, bus)``; ``(set(), None)`` when
        no device trips.
        """
        g, prot = self.g, self.prot
        etype, eid = fault[0], int(fault[1])
        if etype in ("bus", "trafo3w"):
            start = eid if etype == "bus" else ("t3", eid)
            if start not in self.dist:
                return set(), None
        else:
            edges = self.edges.get((etype, eid), [])
            if not edges or edges[0][0] not in self.dist:
                return set(), None
            a, b = edges[0]
            up = a if self.dist[a] < self.dist[b] else b
            if etype != "switch":
                own = [d for d, bus in prot.get((etype, eid), []) if bus == up or bus < 0]
                if own:
                    return set(own), (etype, eid, up)
            start = up
        child = start
        while child != SUPER:
            parent = self.pred[child]
            (key,) = list(g[parent][child])  # radial: exactly one branch between them
            if key[0] == "source":
                break
            devs = _edge_devices(prot, key, parent, child)
            if devs:
                bus_end = child if isinstance(child, int) else parent
                return {d for d, _ in devs}, (key[0], key[1], bus_end)
            child = parent
        return set(), None


def expected_trip(g: nx.MultiGraph, prot: dict, fault) -> tuple[set, tuple | None]:
    """One-off :meth:`TripReference.expected`."""
    return TripReference(g, prot).expected(fault)
