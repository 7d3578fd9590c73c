"""Numba kernels of the radial power flow (backward/forward sweep).

Pure functions on contiguous numpy arrays; the public wrappers in
:mod:`gridsim.restore.powerflow` check inputs and build the arrays, kernels
assume clean input.

Branch model: every branch is a two-port between its electrical *from*
terminal ``ef_node[b]`` and its other (*to*) terminal,
``[I_f, I_t] = [[yff, yft], [ytf, ytt]] [V_f, V_t]`` with currents flowing
into the branch (pandapower's ``makeYbus`` branch vectors: pi model with an
ideal transformer of complex ratio at the from terminal). Zero-impedance
branches (switches, source links) are flagged ``ideal`` and pass voltage and
current through. Per unit on ``S_base`` and the nominal voltage of each node.

The tree comes from :meth:`gridsim.core.Topology.analysis`: ``node_at`` is
the preorder (node 0, the super-source, first), ``parent`` / ``parent_branch``
the tree links. Children come after their parent in preorder, so a reverse
scan accumulates subtree currents (backward sweep) and a forward scan
propagates voltages from the sources down (forward sweep).
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _node_current(v, s_p, s_i, s_z):
    """Current drawn by a ZIP load ``s_p + s_i |V| + s_z |V|^2`` (consumption, pu)."""
    vm2 = v.real * v.real + v.imag * v.imag
    s = s_p + s_i * np.sqrt(vm2) + s_z * vm2
    return s.conjugate() * v / vm2     # conj(S / V) without a complex division


@njit(cache=True)
def _sweep_local(n, par, pbr, parent_at_from, ideal, yff, yft, ytf, ytt, sp, si, sz, fixed, v_fixed, v_root,
                 max_iter, tol):
    """Backward/forward sweep on a tree numbered ``0..n-1`` with every parent before
    its children (``par[c]``, the branch ``pbr[c]`` into ``c``; node 0 the root at
    ``v_root``). ``parent_at_from[c]``: the parent sits at the branch's electrical
    from terminal. ``fixed`` nodes (behind source links) hold ``v_fixed``.

    Per child ``c`` with ``J`` the current its branch delivers into it: forward
    ``V_c = fa V_p + fb J`` and backward (current into the branch at the parent
    terminal) ``I_p = bc V_c + bd J``. The backward step uses the child side only
    (transmission form): computing ``I_p`` as ``Y [V_p, V_c]`` would amplify
    voltage errors by the series admittance and stall the iteration. Starts from
    the no-load voltages (a forward sweep with zero currents, so transformer
    ratios and phase shifts are in the start values) and iterates until the
    largest voltage change is below ``tol`` (pu). Returns ``(v, converged, it)``.
    """
    fa = np.zeros(n, np.complex128)
    fb = np.zeros(n, np.complex128)
    bc = np.zeros(n, np.complex128)
    bd = np.zeros(n, np.complex128)
    for c in range(1, n):
        b = pbr[c]
        if ideal[b]:
            fa[c] = 1.0
            bd[c] = 1.0
        elif parent_at_from[c]:          # I_t = ytf V_f + ytt V_t = -J
            fa[c] = -ytf[b] / ytt[b]
            fb[c] = -1.0 / ytt[b]
            bc[c] = yft[b] - yff[b] * ytt[b] / ytf[b]
            bd[c] = -yff[b] / ytf[b]
        else:                            # I_f = yff V_f + yft V_t = -J
            fa[c] = -yft[b] / yff[b]
            fb[c] = -1.0 / yff[b]
            bc[c] = ytf[b] - ytt[b] * yff[b] / yft[b]
            bd[c] = -ytt[b] / yft[b]
    v = np.zeros(n, np.complex128)
    j_node = np.zeros(n, np.complex128)
    v[0] = v_root
    for c in range(1, n):                # no-load start
        v[c] = v_fixed[c] if fixed[c] else fa[c] * v[par[c]]
    converged = False
    it = 0
    while it < max_iter:
        it += 1
        for c in range(n):               # backward: currents from the leaves up
            j_node[c] = 0.0
        for c in range(n - 1, 0, -1):
            j = j_node[c] + _node_current(v[c], sp[c], si[c], sz[c])
            j_node[c] = j
            if not fixed[c]:
                j_node[par[c]] += bc[c] * v[c] + bd[c] * j
        dv = 0.0
        for c in range(1, n):            # forward: voltages from the sources down
            if fixed[c]:
                continue
            new = fa[c] * v[par[c]] + fb[c] * j_node[c]
            d = new - v[c]
            d2 = d.real * d.real + d.imag * d.imag
            if d2 > dv:
                dv = d2
            v[c] = new
        if not np.isfinite(dv):
            break
        if dv < tol * tol:
            converged = True
            break
    return v, converged, it


@njit(cache=True)
def _radial_sweep(node_at, n_reached, parent, parent_branch, ef_node, yff, yft, ytf, ytt, ideal,
                  is_source, v_src, s_p, s_i, s_z, max_iter, tol, v_root=1.0 + 0.0j):
    """Backward/forward sweep power flow on a radial tree (:func:`_sweep_local` on
    the tree renumbered in preorder).

    Each branch is a two-port ``[I_f, I_t] = [[yff, yft], [ytf, ytt]] [V_f, V_t]``
    (currents into the branch; ``ideal`` branches are zero-impedance links).
    ``v_root`` is the fixed voltage of the tree's root ``node_at[0]`` (1 for
    the super-source; a bus voltage when a sub-tree is solved on its own).

    Returns ``(v, converged, iterations)``: complex node voltages (0 for
    unreached nodes).
    """
    n_node = parent.shape[0]
    n = n_reached
    pos = np.full(n_node, -1, np.int64)
    for k in range(n):
        pos[node_at[k]] = k
    par = np.zeros(n, np.int64)
    pbr = np.zeros(n, np.int64)
    paf = np.zeros(n, np.bool_)
    fixed = np.zeros(n, np.bool_)
    vfix = np.zeros(n, np.complex128)
    sp = np.empty(n, np.complex128)
    si = np.empty(n, np.complex128)
    sz = np.empty(n, np.complex128)
    for k in range(n):
        c = node_at[k]
        sp[k] = s_p[c]
        si[k] = s_i[c]
        sz[k] = s_z[c]
        if k > 0:
            b = parent_branch[c]
            par[k] = pos[parent[c]]
            pbr[k] = b
            paf[k] = ef_node[b] == parent[c]
            fixed[k] = is_source[b]
            vfix[k] = v_src[c]
    vl, converged, it = _sweep_local(n, par, pbr, paf, ideal, yff, yft, ytf, ytt, sp, si, sz, fixed, vfix,
                                     v_root, max_iter, tol)
    v = np.zeros(n_node, np.complex128)
    for k in range(n):
        v[node_at[k]] = vl[k]
    return v, converged, it
