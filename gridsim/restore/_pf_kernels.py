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
def _tree_coefficients(node_at, n_reached, parent, parent_branch, ef_node, yff, yft, ytf, ytt, ideal):
    """Per child node ``c`` of tree branch ``b`` (parent ``p``), with ``J`` the current
    ``b`` delivers into ``c``: forward ``V_c = fa V_p + fb J`` and backward (current
    into ``b`` at the parent terminal) ``I_p = bc V_c + bd J``.

    The backward step uses the child side only (transmission form): computing
    ``I_p`` as ``Y [V_p, V_c]`` would amplify voltage errors by the series
    admittance and stall the iteration.
    """
    n_node = parent.shape[0]
    fa = np.zeros(n_node, np.complex128)
    fb = np.zeros(n_node, np.complex128)
    bc = np.zeros(n_node, np.complex128)
    bd = np.zeros(n_node, np.complex128)
    for k in range(1, n_reached):
        c = node_at[k]
        b = parent_branch[c]
        if ideal[b]:
            fa[c] = 1.0
            bd[c] = 1.0
        elif ef_node[b] == parent[c]:    # parent at the from terminal: I_t = ytf V_f + ytt V_t = -J
            fa[c] = -ytf[b] / ytt[b]
            fb[c] = -1.0 / ytt[b]
            bc[c] = yft[b] - yff[b] * ytt[b] / ytf[b]
            bd[c] = -yff[b] / ytf[b]
        else:                            # parent at the to terminal: I_f = yff V_f + yft V_t = -J
            fa[c] = -yft[b] / yff[b]
            fb[c] = -1.0 / yff[b]
            bc[c] = ytf[b] - ytt[b] * yff[b] / yft[b]
            bd[c] = -ytt[b] / yft[b]
    return fa, fb, bc, bd


@njit(cache=True)
def _radial_sweep(node_at, n_reached, parent, parent_branch, ef_node, yff, yft, ytf, ytt, ideal,
                  is_source, v_src, s_p, s_i, s_z, max_iter, tol, v_root=1.0 + 0.0j):
    """Backward/forward sweep power flow on a radial tree.

    Each branch is a two-port ``[I_f, I_t] = [[yff, yft], [ytf, ytt]] [V_f, V_t]``
    (currents into the branch; ``ideal`` branches are zero-impedance links).
    Starts from the no-load voltages (a forward sweep with zero currents, so
    transformer ratios and phase shifts are in the start values) and iterates
    until the largest voltage change is below ``tol`` (pu).

    ``v_root`` is the fixed voltage of the tree's root ``node_at[0]`` (1 for
    the super-source; a bus voltage when a sub-tree is solved on its own).

    Returns ``(v, converged, iterations)``: complex node voltages (0 for
    unreached nodes).
    """
    n_node = parent.shape[0]
    fa, fb, bc, bd = _tree_coefficients(node_at, n_reached, parent, parent_branch, ef_node,
                                        yff, yft, ytf, ytt, ideal)
    src = np.zeros(n_node, np.bool_)
    for k in range(1, n_reached):
        c = node_at[k]
        src[c] = is_source[parent_branch[c]]
    v = np.zeros(n_node, np.complex128)
    j_node = np.zeros(n_node, np.complex128)
    v[node_at[0]] = v_root
    for k in range(1, n_reached):        # no-load start
        c = node_at[k]
        v[c] = v_src[c] if src[c] else fa[c] * v[parent[c]]
    converged = False
    it = 0
    while it < max_iter:
        it += 1
        for k in range(n_reached):       # backward: currents from the leaves up
            j_node[node_at[k]] = 0.0
        for k in range(n_reached - 1, 0, -1):
            c = node_at[k]
            j = j_node[c] + _node_current(v[c], s_p[c], s_i[c], s_z[c])
            j_node[c] = j
            if not src[c]:
                j_node[parent[c]] += bc[c] * v[c] + bd[c] * j
        dv = 0.0
        for k in range(1, n_reached):    # forward: voltages from the sources down
            c = node_at[k]
            if src[c]:
                continue
            new = fa[c] * v[parent[c]] + fb[c] * j_node[c]
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
