"""Radial power flow (backward/forward sweep) for capacity checks of restoration moves.

Three steps, as everywhere in gridsim: :func:`compile_pf` turns a model and its
compiled :class:`~gridsim.core.Topology` into :class:`PFData` (read-only
per-unit arrays aligned with the topology's nodes and branches, built once);
:func:`run_radial_pf` runs the sweep of one switching state on top of it
(:mod:`gridsim.restore._pf_kernels`); :func:`check_capacity` turns the result
into an ok / not-ok verdict with the worst elements, which FLISR calls for
every candidate tie transfer.

Electrical model (pandapower's ``runpp`` defaults, validated against it in
``tests/unit/test_powerflow.py``):

- per unit on ``net.sn_mva`` and the nominal voltage of each bus;
- lines: pi model ``r, x, g, c`` x length / parallel (shunt capacitance
  included; a line cut off by an open switch carries no charging current here,
  pandapower keeps its charging current from the energised end);
- two-winding transformers: pandapower's T model (magnetising branch from
  ``pfe_kw`` / ``i0_percent`` between two halves of the leakage impedance)
  as its exact pi equivalent, off-nominal ratio and phase shift from
  ``shift_degree`` and the tap changers (``tap_changer_type`` ``Ratio`` /
  ``Symmetrical`` / ``Ideal``, ``tap`` and ``tap2``);
- three-winding transformers: pandapower's star equivalent (three two-winding
  arms from the star point, short-circuit voltages by ``wye_delta``, losses on
  the ``hv`` arm unless ``loss_side`` says otherwise, taps at terminals or at
  the star point);
- bus-bus switches: zero impedance, or ``z_ohm`` with r/x = 2 like ``runpp``;
- sources: ``ext_grid`` (and slack ``gen``) fix ``vm_pu`` / ``va_degree``;
- loads, ``sgen`` and ``storage`` times ``scaling``, summed per bus; like
  pandapower, the bus's ZIP split is the mean of its loads' ``const_z_*`` /
  ``const_i_*`` percents applied to that sum; ``shunt`` as constant impedance.

Loadings are pandapower's: lines ``i_ka / (max_i_ka * df * parallel)`` with
``i_ka`` the larger terminal current, transformers current based
(``trafo_loading="current"``, rated voltage of each side, / parallel / df).

Tables the sweep cannot represent (PV generators, wards, motors, asymmetric
elements, tap-dependent impedance tables) are refused by :func:`compile_pf`.
A state whose only loops are parallel branches (two transformers between the
same bus bars, closed through zero-impedance switches) is still swept: the
parallel branch's two-port admittance is folded into its partner. A truly
meshed state is solved by pandapower's ``runpp`` on a copy of the net instead
(``PFResult.method == "pandapower"``).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridsim.core.topology import _ro  # read-only contiguous array, shared helper
from gridsim.core.topology import (
    BR_LINE, BR_SOURCE, BR_SWITCH, BR_TRAFO, BR_TRAFO3W_ARM, ELEMENT_ORDER, State, Topology,
)
from gridsim.errors import GridsimError
from gridsim.restore import _pf_kernels as K
from gridsim.types import ElementType

__all__ = ["PowerFlowError", "PFData", "PFResult", "CapacityCheck", "compile_pf", "run_radial_pf",
           "check_capacity", "net_with_state", "dangling_lines", "dangling_line_ends", "with_dangling_charging"]

#: ``runpp``'s default r/x ratio of bus-bus switches with ``z_ohm > 0``.
SWITCH_RX_RATIO = 2.0

#: pandapower tables with in-service rows the radial sweep refuses (PQ injections only).
UNSUPPORTED_PF_TABLES = ("ward", "xward", "motor", "asymmetric_load", "asymmetric_sgen", "svc")


class PowerFlowError(GridsimError):
    """The network cannot be solved: unsupported elements, or pandapower's fallback failed."""


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PFData:
    """Electrical data aligned with a :class:`Topology` (per unit; build with :func:`compile_pf`)."""

    name: str
    sn_mva: float
    n_node: int
    n_branch: int
    node_vn_kv: np.ndarray      # nominal voltage per node (star nodes: trafo3w vn_hv_kv)
    node_s_p: np.ndarray        # complex constant-power consumption per node, pu
    node_s_i: np.ndarray        # constant-current part (scales with |V|)
    node_s_z: np.ndarray        # constant-impedance part (scales with |V|^2)
    node_v_src: np.ndarray      # complex source voltage at source nodes, 0 elsewhere
    br_yff: np.ndarray          # two-port admittance per branch, pu: [I_f, I_t] = Y [V_f, V_t]
    br_yft: np.ndarray
    br_ytf: np.ndarray
    br_ytt: np.ndarray
    br_ideal: np.ndarray        # zero-impedance branch (switch, source link)
    br_ef_node: np.ndarray      # node of the electrical from terminal
    br_et_node: np.ndarray      # node of the electrical to terminal
    br_is_source: np.ndarray
    br_k_from: np.ndarray       # loading percent per pu current at the from terminal
    br_k_to: np.ndarray         # ... at the to terminal
    bus_ids: np.ndarray
    bus_node: np.ndarray
    line_ids: np.ndarray
    line_branch: np.ndarray
    line_y_open_end: np.ndarray # admittance seen at one end of a line open at the other end, pu
    lsw_line: np.ndarray        # line switches: line position, switch row, sits at the line's from bus
    lsw_row: np.ndarray
    lsw_at_from: np.ndarray
    trafo_ids: np.ndarray
    trafo_branch: np.ndarray
    trafo3w_ids: np.ndarray
    trafo3w_branch: np.ndarray  # (3, n_trafo3w) arm branches hv, mv, lv
    net: object                 # the pandapower net (read only; copied for the fallback)

    def __repr__(self) -> str:
        return (f"PFData({self.name!r}, nodes={self.n_node}, branches={self.n_branch}, "
                f"sn_mva={self.sn_mva})")


@dataclass(frozen=True, eq=False)
class PFResult:
    """Power flow of one state. Arrays follow pandapower's table order (``*_ids``).

    Unsupplied buses have ``vm_pu`` NaN; open, faulted, out-of-service or
    unsupplied branches have loading NaN.
    """

    method: str                      # "radial" (sweep) or "pandapower" (meshed fallback)
    converged: bool
    iterations: int
    bus_ids: np.ndarray
    vm_pu: np.ndarray
    va_degree: np.ndarray
    line_ids: np.ndarray
    line_loading_percent: np.ndarray
    trafo_ids: np.ndarray
    trafo_loading_percent: np.ndarray
    trafo3w_ids: np.ndarray
    trafo3w_loading_percent: np.ndarray
    max_loading_percent: float       # over lines, trafos and trafo3ws (0 if none energised)
    min_vm_pu: float                 # over supplied buses (NaN if none)
    max_vm_pu: float


@dataclass(frozen=True)
class CapacityCheck:
    """Verdict of :func:`check_capacity` (element labels like ``line:17``, bus ids)."""

    ok: bool
    converged: bool
    method: str
    max_loading_percent: float
    worst_element: str | None        # most loaded line / trafo / trafo3w
    min_vm_pu: float
    min_vm_bus: int | None
    max_vm_pu: float
    max_vm_bus: int | None
    overloaded: tuple[str, ...] = ()         # elements above max_loading_percent, worst first
    voltage_violations: tuple[int, ...] = ()  # buses outside [vm_min_pu, vm_max_pu]


# ---------------------------------------------------------------------------
# compile
# ---------------------------------------------------------------------------


def _col(df: pd.DataFrame, name: str, default: float) -> np.ndarray:
    if name not in df:
        return np.full(len(df), default, np.float64)
    return pd.to_numeric(df[name], errors="coerce").to_numpy(np.float64)


def _str_col(df: pd.DataFrame, name: str) -> np.ndarray:
    if name not in df:
        return np.full(len(df), "", dtype=object)
    s = df[name].astype(object)
    return s.where(s.notna(), "").astype(str).to_numpy(object)


def _bool_col(df: pd.DataFrame, name: str) -> np.ndarray:
    if name not in df:
        return np.zeros(len(df), bool)
    return df[name].astype(object).where(df[name].notna(), False).astype(bool).to_numpy()


def _in_service(df: pd.DataFrame) -> np.ndarray:
    return _bool_col(df, "in_service") if "in_service" in df else np.ones(len(df), bool)


def _refuse_unsupported(net, name: str) -> None:
    for table in UNSUPPORTED_PF_TABLES:
        if table in net and len(net[table]) and _in_service(net[table]).any():
            n = int(_in_service(net[table]).sum())
            raise PowerFlowError(
                f"model {name!r} has {n} in-service element(s) in pandapower table {table!r}; the radial "
                f"power flow supports PQ loads/sgens/storage/shunts only: set them out of service or "
                f"convert them to loads")
    if "gen" in net and len(net.gen):
        g = net.gen
        pv = _in_service(g) & ~_bool_col(g, "slack")
        if pv.any():
            raise PowerFlowError(
                f"model {name!r} has {int(pv.sum())} in-service non-slack generator(s) (PV buses, e.g. gen "
                f"{g.index[pv][0]}); the radial power flow supports PQ injections only: convert them to sgen")
    for table, col in (("trafo", "tap_dependency_table"), ("trafo3w", "tap_dependency_table"),
                       ("shunt", "step_dependency_table")):
        if table in net and len(net[table]) and _bool_col(net[table], col).any():
            bad = net[table].index[_bool_col(net[table], col)]
            raise PowerFlowError(
                f"{table} {bad[0]} of model {name!r} uses {col} (characteristic tables), which the radial "
                f"power flow does not model; set {col} to False")


def _branches_of(topo: Topology, kind: int, ids: pd.Index, what: str) -> np.ndarray:
    """Branch index of each element id (pandapower order) among branches of ``kind``."""
    cand = np.flatnonzero(topo.br_kind == kind)
    pos = pd.Index(topo.br_elem[cand]).get_indexer(ids)
    if (pos < 0).any():
        raise PowerFlowError(f"{what} {ids[pos < 0][0]} is not in topology {topo.name!r}; "
                             f"compile the topology from the same model")
    return cand[pos]


def _apply_taps(tb: dict, vnh: np.ndarray, vnl: np.ndarray, shift: np.ndarray) -> None:
    """pandapower's ``_calc_tap_from_dataframe`` (without characteristic tables), in place."""
    for t in ("", "2"):
        if f"tap{t}_pos" not in tb:
            continue
        pos = tb[f"tap{t}_pos"]
        diff = pos - tb[f"tap{t}_neutral"]
        pct = tb[f"tap{t}_step_percent"]
        deg = tb[f"tap{t}_step_degree"]
        side = tb[f"tap{t}_side"]
        ctype = tb[f"tap{t}_changer_type"]
        ideal = ctype == "Ideal"
        cplx = (ctype == "Ratio") | (ctype == "Symmetrical")
        for s, vn, direction in (("hv", vnh, 1.0), ("lv", vnl, -1.0)):
            m = ideal & (side == s)
            if m.any():
                deg_set = np.nan_to_num(deg[m], nan=0.0) != 0
                by_pct = 2 * np.rad2deg(np.arcsin(diff[m] * np.nan_to_num(pct[m]) / 100 / 2))
                shift[m] += np.where(deg_set, direction * diff[m] * np.nan_to_num(deg[m]), direction * by_pct)
            m = cplx & (side == s)
            if m.any():
                steps = np.nan_to_num(pct[m] * diff[m] / 100, nan=0.0)
                ang = np.deg2rad(np.nan_to_num(deg[m], nan=0.0))
                u1 = vn[m]
                du = u1 * steps
                vn[m] = np.sqrt((u1 + du * np.cos(ang)) ** 2 + (du * np.sin(ang)) ** 2)
                shift[m] += np.rad2deg(np.arctan(direction * du * np.sin(ang) / (u1 + du * np.cos(ang))))


def _trafo_params(tb: dict, vn_hv_bus: np.ndarray, vn_lv_bus: np.ndarray, sn_mva: float):
    """Series impedance, from/to shunts and complex ratio of 2-winding transformers (pu).

    ``tb`` holds pandapower's trafo columns as arrays. Follows
    ``_calc_branch_values_from_trafo_df`` with ``trafo_model="t"`` and voltage angles on.
    """
    vnh = tb["vn_hv_kv"].copy()
    vnl = tb["vn_lv_kv"].copy()
    shift = np.nan_to_num(tb["shift_degree"].copy(), nan=0.0)
    _apply_taps(tb, vnh, vnl, shift)
    ratio = (vnh / vn_hv_bus) / (vnl / vn_lv_bus)
    tap = ratio * np.exp(1j * np.deg2rad(shift))
    par = tb["parallel"]
    tap_lv = (vnl / vn_lv_bus) ** 2 * sn_mva
    z_sc = tb["vk_percent"] / 100.0 / tb["sn_mva"] * tap_lv
    r_sc = tb["vkr_percent"] / 100.0 / tb["sn_mva"] * tap_lv
    x_sc = np.sign(z_sc) * np.sqrt(np.maximum(z_sc ** 2 - r_sc ** 2, 0.0))
    r, x = r_sc / par, x_sc / par
    # magnetising admittance (pandapower's _calc_y_from_dataframe)
    base_z = vn_lv_bus ** 2 / sn_mva
    pfe_mw = np.nan_to_num(tb["pfe_kw"]) * 1e-3
    ym_mva = np.nan_to_num(tb["i0_percent"]) / 100.0 * tb["sn_mva"]
    b_mva = -np.sqrt(np.maximum(ym_mva ** 2 - pfe_mw ** 2, 0.0))
    scale = base_z * par / tb["vn_lv_kv"] ** 2 / (vnl / tb["vn_lv_kv"]) ** 2
    g, b = pfe_mw * scale, b_mva * scale
    z = r + 1j * x
    yf = np.zeros(len(r), np.complex128)
    yt = np.zeros(len(r), np.complex128)
    t_model = (g != 0) | (b != 0)
    if t_model.any():  # T -> pi (pandapower's _wye_delta)
        rr, xr = tb["leakage_resistance_ratio_hv"][t_model], tb["leakage_reactance_ratio_hv"][t_model]
        rm, xm = r[t_model], x[t_model]
        za = rm * rr + 1j * xm * xr
        zb = rm * (1 - rr) + 1j * xm * (1 - xr)
        zc = 1.0 / (g[t_model] + 1j * b[t_model])
        zsum = za * zb + za * zc + zb * zc
        z[t_model] = zsum / zc
        yf[t_model] = zb / zsum
        yt[t_model] = za / zsum
    return z, yf, yt, tap


def _trafo_table(df: pd.DataFrame) -> dict:
    tb = {c: _col(df, c, np.nan) for c in ("vn_hv_kv", "vn_lv_kv", "sn_mva", "vk_percent", "vkr_percent",
                                           "pfe_kw", "i0_percent", "shift_degree")}
    tb["parallel"] = _col(df, "parallel", 1.0)
    tb["leakage_resistance_ratio_hv"] = np.nan_to_num(_col(df, "leakage_resistance_ratio_hv", 0.5), nan=0.5)
    tb["leakage_reactance_ratio_hv"] = np.nan_to_num(_col(df, "leakage_reactance_ratio_hv", 0.5), nan=0.5)
    for t in ("", "2"):
        if f"tap{t}_pos" not in df:
            continue
        for c in ("pos", "neutral", "step_percent", "step_degree"):
            tb[f"tap{t}_{c}"] = _col(df, f"tap{t}_{c}", np.nan)
        tb[f"tap{t}_side"] = _str_col(df, f"tap{t}_side")
        if f"tap{t}_changer_type" in df:
            tb[f"tap{t}_changer_type"] = _str_col(df, f"tap{t}_changer_type")
        else:  # pre-3.0 nets: a finite tap position and step is a ratio tap changer
            ok = np.isfinite(tb[f"tap{t}_pos"]) & np.isfinite(tb[f"tap{t}_step_percent"])
            tb[f"tap{t}_changer_type"] = np.where(ok, "Ratio", "").astype(object)
    return tb


def _trafo3w_arm_table(t3: pd.DataFrame, loss_side_default: str = "hv") -> dict:
    """pandapower's ``_trafo_df_from_trafo3w``: three 2-winding arms hv, mv, lv (concatenated)."""
    n = len(t3)
    sides = ("hv", "mv", "lv")
    sn = np.stack([_col(t3, f"sn_{s}_mva", np.nan) for s in sides])
    vk3 = np.stack([_col(t3, f"vk_{s}_percent", np.nan) for s in sides])
    vkr3 = np.stack([_col(t3, f"vkr_{s}_percent", np.nan) for s in sides])

    def br_to_bus(zz):
        return sn[0] * np.array([zz[0] / np.minimum(sn[0], sn[1]), zz[1] / np.minimum(sn[1], sn[2]),
                                 zz[2] / np.minimum(sn[0], sn[2])])

    def wye_delta(zz):
        return 0.5 * sn / sn[0] * np.array([zz[0] + zz[2] - zz[1], zz[1] + zz[0] - zz[2], zz[2] + zz[1] - zz[0]])

    vk_d, vkr_d = br_to_bus(vk3), br_to_bus(vkr3)
    vki_d = np.sqrt(vk_d ** 2 - vkr_d ** 2)
    vkr_2w, vki_2w = wye_delta(vkr_d), wye_delta(vki_d)
    vk_2w = np.sign(vki_2w) * np.sqrt(vki_2w ** 2 + vkr_2w ** 2)
    loss_side = _str_col(t3, "loss_side") if "loss_side" in t3 else np.full(n, loss_side_default, object)
    zeros = np.zeros(n)
    tb = {
        "vn_hv_kv": np.tile(_col(t3, "vn_hv_kv", np.nan), 3),
        "vn_lv_kv": np.concatenate([_col(t3, f"vn_{s}_kv", np.nan) for s in sides]),
        "sn_mva": sn.reshape(-1), "vk_percent": vk_2w.reshape(-1), "vkr_percent": vkr_2w.reshape(-1),
        "pfe_kw": np.concatenate([np.where(loss_side == s, _col(t3, "pfe_kw", 0.0), zeros) for s in sides]),
        "i0_percent": np.concatenate([np.where(loss_side == s, _col(t3, "i0_percent", 0.0), zeros) for s in sides]),
        "shift_degree": np.concatenate([zeros, _col(t3, "shift_mv_degree", 0.0), _col(t3, "shift_lv_degree", 0.0)]),
        "parallel": np.ones(3 * n), "leakage_resistance_ratio_hv": np.full(3 * n, 0.5),
        "leakage_reactance_ratio_hv": np.full(3 * n, 0.5),
    }
    # tap changers (pandapower's _calculate_3w_tap_changers): on the arm of tap_side, at its bus terminal
    t_side = _str_col(t3, "tap_side")
    star = _bool_col(t3, "tap_at_star_point")
    ctype = _str_col(t3, "tap_changer_type") if "tap_changer_type" in t3 else np.where(
        np.isfinite(_col(t3, "tap_pos", np.nan)), "Ratio", "").astype(object)
    arm = {c: [] for c in ("pos", "neutral", "step_percent", "step_degree", "side")}
    for s in sides:
        m = t_side == s
        vals = {c: np.where(m, _col(t3, f"tap_{c}", np.nan), np.nan)
                for c in ("pos", "neutral", "step_percent", "step_degree")}
        side = np.where(m, "hv" if s == "hv" else "lv", "").astype(object)
        ms = m & star
        if ms.any():
            tt = vals["step_percent"][ms] * np.exp(1j * np.deg2rad(np.nan_to_num(vals["step_degree"][ms])))
            corr = 100 * tt / (100 + tt * (vals["pos"][ms] - vals["neutral"][ms]))
            vals["step_percent"][ms] = np.abs(corr)
            vals["step_degree"][ms] = np.rad2deg(np.angle(corr)) - 180
            side[ms] = "lv" if s == "hv" else "hv"
        for c in vals:
            arm[c].append(vals[c])
        arm["side"].append(side)
    for c in ("pos", "neutral", "step_percent", "step_degree", "side"):
        tb[f"tap_{c}"] = np.concatenate(arm[c])
    tb["tap_changer_type"] = np.tile(ctype, 3)
    return tb


def _per_node(nodes: np.ndarray, values: np.ndarray, n_node: int) -> np.ndarray:
    re = np.bincount(nodes, weights=values.real, minlength=n_node)
    im = np.bincount(nodes, weights=values.imag, minlength=n_node)
    return re + 1j * im


def compile_pf(model, topo: Topology) -> PFData:
    """Per-unit electrical data of ``model`` aligned with its compiled ``topo``.

    Raises :class:`PowerFlowError` for elements the radial sweep cannot model.
    """
    net = model.net
    name = model.name
    _refuse_unsupported(net, name)
    sn = float(net.sn_mva)
    f_hz = float(net.f_hz) if "f_hz" in net else 50.0
    n_node, n_br = topo.n_node, topo.n_branch
    bus_node = np.asarray(topo.bus_node, np.int64)
    br_from = np.asarray(topo.br_from, np.int64)
    br_to = np.asarray(topo.br_to, np.int64)

    # ---- nominal voltage per node
    vn = np.ones(n_node)
    vn[bus_node] = net.bus.vn_kv.to_numpy(np.float64)
    t3 = net.trafo3w
    t3_ids = pd.Index(t3.index)
    arms = np.flatnonzero(topo.br_kind == BR_TRAFO3W_ARM).reshape(3, len(t3)) if len(t3) else \
        np.zeros((3, 0), np.int64)
    if len(t3):
        if not all((topo.br_elem[arms[k]] == t3_ids.to_numpy()).all() for k in range(3)):
            raise PowerFlowError("trafo3w arms of the topology are not in hv/mv/lv blocks of net.trafo3w order")
        vn[br_from[arms[0]]] = _col(t3, "vn_hv_kv", np.nan)

    z = np.zeros(n_br, np.complex128)
    yf = np.zeros(n_br, np.complex128)
    yt = np.zeros(n_br, np.complex128)
    tap = np.ones(n_br, np.complex128)
    ef = br_from.copy()
    k_f = np.zeros(n_br)
    k_t = np.zeros(n_br)
    i_base = sn / (np.sqrt(3.0) * vn)  # kA per pu current, per node

    # ---- lines
    line = net.line
    lb = _branches_of(topo, BR_LINE, pd.Index(line.index), "line")
    if len(lb):
        vf = vn[br_from[lb]]
        zb = vf ** 2 / sn
        length = _col(line, "length_km", np.nan)
        par = _col(line, "parallel", 1.0)
        z[lb] = (_col(line, "r_ohm_per_km", 0.0) + 1j * _col(line, "x_ohm_per_km", 0.0)) * length / par / zb
        y = (np.nan_to_num(_col(line, "g_us_per_km", 0.0)) * 1e-6
             + 1j * 2 * np.pi * f_hz * np.nan_to_num(_col(line, "c_nf_per_km", 0.0)) * 1e-9) * length * par * zb
        yf[lb] = yt[lb] = y / 2
        i_max = _col(line, "max_i_ka", np.nan) * _col(line, "df", 1.0) * par
        with np.errstate(divide="ignore"):
            k_f[lb] = 100.0 * i_base[br_from[lb]] / i_max
            k_t[lb] = 100.0 * i_base[br_to[lb]] / i_max

    # ---- two-winding transformers (topology: from = hv bus, to = lv bus)
    tr = net.trafo
    tbr = _branches_of(topo, BR_TRAFO, pd.Index(tr.index), "trafo")
    if len(tbr):
        tb = _trafo_table(tr)
        hv, lv = br_from[tbr], br_to[tbr]
        z[tbr], yf[tbr], yt[tbr], tap[tbr] = _trafo_params(tb, vn[hv], vn[lv], sn)
        rate = tb["sn_mva"] * tb["parallel"] * _col(tr, "df", 1.0)
        k_f[tbr] = 100.0 * sn * tb["vn_hv_kv"] / vn[hv] / rate
        k_t[tbr] = 100.0 * sn * tb["vn_lv_kv"] / vn[lv] / rate

    # ---- three-winding transformer arms (topology: from = star node, to = side bus)
    if len(t3):
        tb = _trafo3w_arm_table(t3)
        ab = arms.reshape(-1)
        star, side_bus = br_from[ab], br_to[ab]
        n3 = len(t3)
        is_hv = np.arange(3 * n3) < n3
        e_from = np.where(is_hv, side_bus, star)   # pandapower: hv_bus -> star, star -> mv/lv bus
        e_to = np.where(is_hv, star, side_bus)
        z[ab], yf[ab], yt[ab], tap[ab] = _trafo_params(tb, vn[e_from], vn[e_to], sn)
        ef[ab] = e_from
        rated_kv = np.concatenate([_col(t3, f"vn_{s}_kv", np.nan) for s in ("hv", "mv", "lv")])
        k_side = 100.0 * sn * rated_kv / vn[side_bus] / tb["sn_mva"]
        k_f[ab] = np.where(is_hv, k_side, 0.0)
        k_t[ab] = np.where(is_hv, 0.0, k_side)

    # ---- bus-bus switches with an impedance
    sw_b = np.flatnonzero(topo.br_kind == BR_SWITCH)
    if len(sw_b) and "z_ohm" in net.switch:
        z_ohm = np.nan_to_num(net.switch.z_ohm.reindex(topo.br_elem[sw_b]).to_numpy(np.float64))
        rz = SWITCH_RX_RATIO / np.sqrt(1 + SWITCH_RX_RATIO ** 2)
        xz = 1 / np.sqrt(1 + SWITCH_RX_RATIO ** 2)
        z[sw_b] = z_ohm / (vn[br_from[sw_b]] ** 2 / sn) * (rz + 1j * xz)

    # ---- injections per node (consumption, pu)
    s_p = np.zeros(n_node, np.complex128)
    s_i = np.zeros(n_node, np.complex128)
    s_z = np.zeros(n_node, np.complex128)
    bus_index = pd.Index(net.bus.index)

    def nodes_of(df):
        pos = bus_index.get_indexer(df.bus.to_numpy())
        if (pos < 0).any():
            raise PowerFlowError(f"an element refers to bus {df.bus.to_numpy()[pos < 0][0]}, which does not exist")
        return bus_node[pos]

    # pandapower (build_bus): the ZIP fractions of a bus are the mean over its in-service loads and
    # apply to the bus's whole PQ injection (loads, sgens and storage summed), not load by load
    s_pq = np.zeros(n_node, np.complex128)
    frac = np.zeros((4, n_node))      # z_p, z_q, i_p, i_q
    ld = net.load[_in_service(net.load)] if len(net.load) else net.load
    if len(ld):
        nd = nodes_of(ld)
        s_pq += _per_node(nd, (_col(ld, "p_mw", 0.0) + 1j * _col(ld, "q_mvar", 0.0)) * _col(ld, "scaling", 1.0), n_node)
        legacy_z = np.nan_to_num(_col(ld, "const_z_percent", 0.0))
        legacy_i = np.nan_to_num(_col(ld, "const_i_percent", 0.0))
        n_ld = np.bincount(nd, minlength=n_node)
        for k, (col, legacy) in enumerate((("const_z_p_percent", legacy_z), ("const_z_q_percent", legacy_z),
                                           ("const_i_p_percent", legacy_i), ("const_i_q_percent", legacy_i))):
            pct = np.nan_to_num(_col(ld, col, np.nan)) if col in ld else legacy
            frac[k] = np.bincount(nd, weights=pct / 100.0, minlength=n_node) / np.maximum(n_ld, 1)
    for table, sign in (("sgen", -1.0), ("storage", 1.0)):
        if table in net and len(net[table]):
            df = net[table][_in_service(net[table])]
            if len(df):
                s_pq += _per_node(nodes_of(df), sign * (_col(df, "p_mw", 0.0) + 1j * _col(df, "q_mvar", 0.0))
                                  * _col(df, "scaling", 1.0), n_node)
    s_pq /= sn
    zp, zq, ip, iq = frac
    s_z += s_pq.real * zp + 1j * s_pq.imag * zq
    s_i += s_pq.real * ip + 1j * s_pq.imag * iq
    s_p += s_pq.real * (1 - zp - ip) + 1j * s_pq.imag * (1 - zq - iq)
    if "shunt" in net and len(net.shunt):
        df = net.shunt[_in_service(net.shunt)]
        if len(df):
            nd = nodes_of(df)
            vn_sh = _col(df, "vn_kv", np.nan)
            vn_sh = np.where(np.isnan(vn_sh), vn[nd], vn_sh)
            s = (_col(df, "p_mw", 0.0) + 1j * _col(df, "q_mvar", 0.0)) * _col(df, "step", 1.0) \
                * (vn[nd] / vn_sh) ** 2 / sn
            s_z += _per_node(nd, s, n_node)

    # ---- source voltages
    v_src = np.zeros(n_node, np.complex128)
    srcs = []
    eg = net.ext_grid[_in_service(net.ext_grid)]
    if len(eg):
        srcs.append((nodes_of(eg), _col(eg, "vm_pu", 1.0) * np.exp(1j * np.deg2rad(
            np.nan_to_num(_col(eg, "va_degree", 0.0))))))
    if "gen" in net and len(net.gen):
        g = net.gen[_in_service(net.gen) & _bool_col(net.gen, "slack")]
        if len(g):
            srcs.append((nodes_of(g), _col(g, "vm_pu", 1.0) * np.exp(1j * np.deg2rad(
                np.nan_to_num(_col(g, "va_degree", 0.0))))))
    for nd, v in reversed(srcs):  # ext_grid wins over a slack gen on the same bus
        v_src[nd[::-1]] = v[::-1]  # the first element on a bus wins
    is_source = topo.br_kind == BR_SOURCE
    if (v_src[br_to[is_source]] == 0).any():
        raise PowerFlowError(f"a source node of topology {topo.name!r} has no in-service ext_grid or slack gen")

    # ---- two-port admittances (pandapower's makeYbus branch_vectors)
    ideal = z == 0
    ys = np.zeros(n_br, np.complex128)
    ys[~ideal] = 1.0 / z[~ideal]
    yff = (ys + yf) / (tap * tap.conjugate())
    yft = -ys / tap.conjugate()
    ytf = -ys / tap
    ytt = ys + yt
    et = np.where(ef == br_from, br_to, br_from)

    # ---- lines cut off at one end by an open switch still carry their charging current
    y_line = yf[lb] + yt[lb]
    zl = z[lb]
    y_open = y_line / 2 * (1 + 1 / (1 + zl * y_line / 2))
    sw = net.switch
    is_l = sw.et.to_numpy().astype(str) == "l"
    lsw_row = np.flatnonzero(is_l)
    lsw_line = pd.Index(line.index).get_indexer(sw.element.to_numpy()[is_l])
    keep = lsw_line >= 0
    lsw_row, lsw_line = lsw_row[keep], lsw_line[keep]
    lsw_at_from = sw.bus.to_numpy()[lsw_row] == line.from_bus.to_numpy()[lsw_line]

    return PFData(
        name=name, sn_mva=sn, n_node=int(n_node), n_branch=int(n_br), node_vn_kv=_ro(vn),
        node_s_p=_ro(s_p), node_s_i=_ro(s_i), node_s_z=_ro(s_z), node_v_src=_ro(v_src),
        br_yff=_ro(yff), br_yft=_ro(yft), br_ytf=_ro(ytf), br_ytt=_ro(ytt), br_ideal=_ro(ideal),
        br_ef_node=_ro(ef.astype(np.int32)), br_et_node=_ro(et.astype(np.int32)),
        br_is_source=_ro(is_source), br_k_from=_ro(k_f), br_k_to=_ro(k_t),
        bus_ids=_ro(np.asarray(topo.bus_ids, np.int64)), bus_node=_ro(bus_node),
        line_ids=_ro(line.index.to_numpy(np.int64)), line_branch=_ro(lb.astype(np.int64)),
        line_y_open_end=_ro(y_open), lsw_line=_ro(lsw_line.astype(np.int64)),
        lsw_row=_ro(lsw_row.astype(np.int64)), lsw_at_from=_ro(lsw_at_from),
        trafo_ids=_ro(tr.index.to_numpy(np.int64)), trafo_branch=_ro(tbr.astype(np.int64)),
        trafo3w_ids=_ro(t3_ids.to_numpy(np.int64)), trafo3w_branch=_ro(arms.astype(np.int64)),
        net=net,
    )


# ---------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------


def _check_pair(pf: PFData, topo: Topology) -> None:
    if not isinstance(pf, PFData):
        raise PowerFlowError(f"expected PFData from compile_pf, got {type(pf).__name__}")
    if pf.n_node != topo.n_node or pf.n_branch != topo.n_branch:
        raise PowerFlowError(f"PFData {pf.name!r} ({pf.n_node} nodes, {pf.n_branch} branches) was not compiled "
                             f"for topology {topo.name!r} ({topo.n_node} nodes, {topo.n_branch} branches); "
                             f"call compile_pf(model, topo) with this topology")


def _nanmax(a: np.ndarray) -> float:
    a = a[np.isfinite(a)] if a.size else a
    return float(a.max()) if a.size else 0.0


def _finish(pf: PFData, method: str, converged: bool, iterations: int, vm, va, line_ld, trafo_ld, t3_ld) -> PFResult:
    sup = vm[np.isfinite(vm)]
    max_ld = max(_nanmax(line_ld), _nanmax(trafo_ld), _nanmax(t3_ld))
    return PFResult(
        method=method, converged=bool(converged), iterations=int(iterations),
        bus_ids=pf.bus_ids, vm_pu=vm, va_degree=va,
        line_ids=pf.line_ids, line_loading_percent=line_ld,
        trafo_ids=pf.trafo_ids, trafo_loading_percent=trafo_ld,
        trafo3w_ids=pf.trafo3w_ids, trafo3w_loading_percent=t3_ld,
        max_loading_percent=max_ld,
        min_vm_pu=float(sup.min()) if sup.size else float("nan"),
        max_vm_pu=float(sup.max()) if sup.size else float("nan"),
    )


def run_radial_pf(pf: PFData, topo: Topology, state: State | None = None, *, max_iter: int = 30,
                  tol: float = 1e-8) -> PFResult:
    """Power flow of ``state`` (default: as loaded) by backward/forward sweep.

    Parallel branches are folded (see :func:`_fold_parallel`); a truly meshed
    state is solved by pandapower's ``runpp`` instead (``method ==
    "pandapower"``); a sweep that does not converge within ``max_iter``
    returns ``converged=False`` with its last iterate.
    """
    _check_pair(pf, topo)
    if max_iter < 1 or not tol > 0:
        raise PowerFlowError(f"max_iter must be >= 1 and tol > 0, got {max_iter} and {tol}")
    state = topo.check_state(state)
    an = topo.analysis(state)
    y = (pf.br_yff, pf.br_yft, pf.br_ytf, pf.br_ytt)
    tree = (an.node_at, an.n_reached, an.parent, an.parent_branch)
    if not an.radial:
        key = ("pf_fold", id(pf))     # cached with the state's analysis
        folded = an.extras.get(key)
        if folded is None:
            folded = an.extras[key] = _fold_parallel(pf, topo, an) or False
        if folded is False:
            return _run_pandapower(pf, topo, state, an)
        y, tree = folded
    sup_node = an.supplied
    lb = pf.line_branch
    dang_f, dang_t = dangling_lines(pf, topo, state, an.cond)
    dang_f &= sup_node[topo.br_from[lb]]
    dang_t &= sup_node[topo.br_to[lb]]
    s_z = with_dangling_charging(pf, topo, dang_f, dang_t)
    v, conv, it = K._radial_sweep(
        tree[0], tree[1], tree[2], tree[3], pf.br_ef_node, y[0], y[1], y[2], y[3],
        pf.br_ideal, pf.br_is_source, pf.node_v_src, pf.node_s_p, pf.node_s_i, s_z, int(max_iter), float(tol))
    sup = sup_node[pf.bus_node]
    vb = v[pf.bus_node]
    vm = np.where(sup, np.abs(vb), np.nan)
    va = np.where(sup, np.rad2deg(np.angle(vb)), np.nan)
    # terminal currents of every branch from its own admittance (parallel branches too)
    vf, vt = v[pf.br_ef_node], v[pf.br_et_node]
    i_f = np.abs(pf.br_yff * vf + pf.br_yft * vt)
    i_t = np.abs(pf.br_ytf * vf + pf.br_ytt * vt)
    live = an.cond & sup_node[topo.br_from]
    ld = np.where(live, np.maximum(i_f * pf.br_k_from, i_t * pf.br_k_to), np.nan)
    line_ld = ld[lb]
    if dang_f.any() or dang_t.any():
        ya = np.abs(pf.line_y_open_end)
        line_ld[dang_f] = ya[dang_f] * np.abs(v[topo.br_from[lb[dang_f]]]) * pf.br_k_from[lb[dang_f]]
        line_ld[dang_t] = ya[dang_t] * np.abs(v[topo.br_to[lb[dang_t]]]) * pf.br_k_to[lb[dang_t]]
    t3 = ld[pf.trafo3w_branch]
    t3_ld = np.fmax(np.fmax(t3[0], t3[1]), t3[2]) if t3.shape[1] else np.zeros(0)
    return _finish(pf, "radial", conv, it, vm, va, line_ld, ld[pf.trafo_branch], t3_ld)


def dangling_line_ends(pf: PFData, topo: Topology, state: State, cond: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Lines open at one end only (in service, not faulted): ``(line positions,
    live-end nodes)``. Their charging admittance loads the live end. Costs
    O(open line switches), not O(lines)."""
    closed = np.asarray(state.switch_closed, bool)[pf.lsw_row]
    opened = ~closed
    lines = np.unique(pf.lsw_line[opened])
    if lines.size == 0:
        return lines, lines
    # per candidate line: is it open at its from end / at its to end?
    at_from = np.isin(lines, pf.lsw_line[opened & pf.lsw_at_from])
    at_to = np.isin(lines, pf.lsw_line[opened & ~pf.lsw_at_from])
    lb = pf.line_branch[lines]
    usable = topo.br_in_service[lb] & ~cond[lb] & (at_from != at_to)
    if state.faulted:
        pos = np.asarray(state.faulted, np.int64)
        usable &= ~np.isin(lb, topo.elem_ref[pos][~topo.elem_is_node[pos]])
    lines, at_from, lb = lines[usable], at_from[usable], lb[usable]
    live = np.where(at_from, topo.br_to[lb], topo.br_from[lb])
    return lines, live.astype(np.int64)


def dangling_lines(pf: PFData, topo: Topology, state: State, cond: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks over ``pf.line_ids``: lines open at their to end only
    (``dang_f``: live from the from end) and at their from end only (``dang_t``)."""
    n_line = pf.line_branch.shape[0]
    dang_f = np.zeros(n_line, bool)
    dang_t = np.zeros(n_line, bool)
    lines, live = dangling_line_ends(pf, topo, state, cond)
    from_live = live == topo.br_from[pf.line_branch[lines]]
    dang_f[lines[from_live]] = True
    dang_t[lines[~from_live]] = True
    return dang_f, dang_t


def with_dangling_charging(pf: PFData, topo: Topology, dang_f: np.ndarray, dang_t: np.ndarray) -> np.ndarray:
    """``pf.node_s_z`` plus the charging admittance of dangling lines at their live end."""
    s_z = pf.node_s_z
    if dang_f.any() or dang_t.any():
        lb = pf.line_branch
        s_z = s_z.copy()
        yo = pf.line_y_open_end
        np.add.at(s_z, topo.br_from[lb[dang_f]], yo[dang_f].conjugate())
        np.add.at(s_z, topo.br_to[lb[dang_t]], yo[dang_t].conjugate())
    return s_z


def _fold_parallel(pf: PFData, topo: Topology, an):
    """Fold parallel branches so that a meshed-looking state becomes a tree, or None.

    Every conducting branch outside the traversal tree (a chord) closes one
    loop with the tree. If that loop holds exactly two branches with impedance
    and the rest are zero-impedance switches, the two are in parallel (two
    transformers between the same bus bars, say): one of them is dropped from
    the tree and its two-port admittance added to the other, which keeps the
    sweep exact. A loop of switches only is harmless. Any other loop (a real
    mesh, two sources in one island): None.

    Returns ``((yff, yft, ytf, ytt), (node_at, n_reached, parent, parent_branch))``.
    """
    from gridsim.core import _kernels as CK

    n_reached = an.n_reached
    parent, pbr, ideal = an.parent, an.parent_branch, pf.br_ideal
    tree = np.zeros(topo.n_branch, bool)
    tree[pbr[an.node_at[1:n_reached]]] = True
    chords = np.flatnonzero(an.cond & an.supplied[topo.br_from] & ~tree)
    if chords.size > 64:
        return None
    folds = []                      # (dropped branch, kept branch, same orientation)
    for ch in chords:
        u, w = int(topo.br_from[ch]), int(topo.br_to[ch])
        anc = set()
        x = u
        while True:
            anc.add(x)
            if x == 0:
                break
            x = int(parent[x])
        loop = [int(ch)]
        x = w
        while x not in anc:
            loop.append(int(pbr[x]))
            x = int(parent[x])
        lca = x
        x = u
        while x != lca:
            loop.append(int(pbr[x]))
            x = int(parent[x])
        if pf.br_is_source[loop].any():
            return None
        heavy = [b for b in loop if not ideal[b]]
        if not heavy:
            continue
        if len(heavy) != 2:
            return None
        group = {}                  # union-find over the loop's zero-impedance links

        def find(n):
            while group.get(n, n) != n:
                n = group[n]
            return n

        for b in loop:
            if ideal[b]:
                ra, rb = find(int(topo.br_from[b])), find(int(topo.br_to[b]))
                if ra != rb:
                    group[ra] = rb
        keep, drop = (heavy[0], heavy[1]) if tree[heavy[0]] else (heavy[1], heavy[0])
        same = find(int(pf.br_ef_node[drop])) == find(int(pf.br_ef_node[keep]))
        folds.append((drop, keep, same))
    if not folds:
        y = (pf.br_yff, pf.br_yft, pf.br_ytf, pf.br_ytt)
        return y, (an.node_at, n_reached, an.parent, an.parent_branch)
    drops = {d for d, _, _ in folds}
    if len(drops) != len(folds) or drops & {k for _, k, _ in folds}:
        return None
    yff, yft, ytf, ytt = (a.copy() for a in (pf.br_yff, pf.br_yft, pf.br_ytf, pf.br_ytt))
    for d, k, same in folds:
        if same:
            yff[k] += pf.br_yff[d]; yft[k] += pf.br_yft[d]; ytf[k] += pf.br_ytf[d]; ytt[k] += pf.br_ytt[d]
        else:
            yff[k] += pf.br_ytt[d]; yft[k] += pf.br_ytf[d]; ytf[k] += pf.br_yft[d]; ytt[k] += pf.br_yff[d]
    cond = an.cond.copy()
    cond[list(drops)] = False
    order, n_r, par, par_br, n_extra = CK._bfs_tree(topo.indptr, topo.adj_node, topo.adj_branch, cond, 0)
    if n_extra != 0 or n_r != n_reached:
        return None
    _, _, node_at = CK._tree_preorder(order, n_r, par, topo.n_node)
    return (yff, yft, ytf, ytt), (node_at, int(n_r), par, par_br)


def net_with_state(pf: PFData, topo: Topology, state: State):
    """A deep copy of the pandapower net with ``state``'s switch states and faults applied."""
    net = copy.deepcopy(pf.net)
    net.switch.loc[topo.switch_ids, "closed"] = np.asarray(state.switch_closed, bool)
    for p in state.faulted:
        etype = ELEMENT_ORDER[int(topo.elem_type[p])]
        eid = int(topo.elem_id[p])
        if etype is ElementType.SWITCH:
            net.switch.loc[eid, "closed"] = False
        else:
            net[etype.value].loc[eid, "in_service"] = False
    return net


def _run_pandapower(pf: PFData, topo: Topology, state: State, an) -> PFResult:
    import pandapower as pp

    net = net_with_state(pf, topo, state)
    try:
        pp.runpp(net, calculate_voltage_angles=True)
    except Exception as exc:  # pandapower raises assorted types (LoadflowNotConverged, UserWarning, ...)
        raise PowerFlowError(f"state of {topo.name!r} is meshed, so the radial sweep does not apply, and "
                             f"pandapower runpp failed on it: {exc}") from exc
    sup = an.supplied[pf.bus_node]
    vm = np.where(sup, net.res_bus.vm_pu.reindex(pf.bus_ids).to_numpy(np.float64), np.nan)
    va = np.where(sup, net.res_bus.va_degree.reindex(pf.bus_ids).to_numpy(np.float64), np.nan)
    live = an.cond & an.supplied[topo.br_from]

    def loading(table, ids, branches):
        if not len(ids):
            return np.zeros(0)
        vals = net[f"res_{table}"].loading_percent.reindex(ids).to_numpy(np.float64)
        return np.where(live[branches] if branches.ndim == 1 else live[branches].any(axis=0), vals, np.nan)

    return _finish(pf, "pandapower", True, 0, vm, va, loading("line", pf.line_ids, pf.line_branch),
                   loading("trafo", pf.trafo_ids, pf.trafo_branch),
                   loading("trafo3w", pf.trafo3w_ids, pf.trafo3w_branch))


def check_capacity(pf: PFData, topo: Topology, state: State | None = None, *, max_loading_percent: float = 100.0,
                   vm_min_pu: float = 0.95, vm_max_pu: float = 1.05) -> CapacityCheck:
    """Does ``state`` keep every energised line/transformer within ``max_loading_percent``
    and every supplied bus within ``[vm_min_pu, vm_max_pu]``?"""
    res = run_radial_pf(pf, topo, state)
    parts = (("line", res.line_ids, res.line_loading_percent),
             ("trafo", res.trafo_ids, res.trafo_loading_percent),
             ("trafo3w", res.trafo3w_ids, res.trafo3w_loading_percent))
    worst, worst_ld, over = None, -np.inf, []
    for kind, ids, ld in parts:
        if not ld.size:
            continue
        fin = np.where(np.isfinite(ld), ld, -np.inf)
        k = int(np.argmax(fin))
        if fin[k] > worst_ld:
            worst, worst_ld = f"{kind}:{int(ids[k])}", float(fin[k])
        bad = np.flatnonzero(fin > max_loading_percent)
        over.extend((float(fin[b]), f"{kind}:{int(ids[b])}") for b in bad)
    over.sort(reverse=True)
    vm = res.vm_pu
    fin = np.isfinite(vm)
    if fin.any():
        lo = int(np.argmin(np.where(fin, vm, np.inf)))
        hi = int(np.argmax(np.where(fin, vm, -np.inf)))
        min_bus, max_bus = int(res.bus_ids[lo]), int(res.bus_ids[hi])
    else:
        min_bus = max_bus = None
    vbad = res.bus_ids[fin & ((vm < vm_min_pu) | (vm > vm_max_pu))]
    ok = bool(res.converged and not over and vbad.size == 0)
    return CapacityCheck(
        ok=ok, converged=res.converged, method=res.method, max_loading_percent=res.max_loading_percent,
        worst_element=worst, min_vm_pu=res.min_vm_pu, min_vm_bus=min_bus, max_vm_pu=res.max_vm_pu,
        max_vm_bus=max_bus, overloaded=tuple(lbl for _, lbl in over),
        voltage_violations=tuple(int(b) for b in vbad),
    )
