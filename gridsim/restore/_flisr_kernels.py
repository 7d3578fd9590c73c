"""Numba kernels of FLISR: the faulted section and its boundary devices.

Pure functions on contiguous arrays (see :mod:`gridsim.restore.flisr`).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from gridsim.core._kernels import _bfs_tree
from gridsim.restore._pf_kernels import _sweep_local

#: Branch kind of a source link (``gridsim.core.topology.BR_SOURCE``).
_BR_SOURCE = 4


@njit(cache=True)
def _end_device(b, e, upstream_end, bdev_ptr, bdev, dev_node):
    """Best device on branch ``b`` sitting at node ``e`` (a device without a known
    bus counts as sitting at the upstream end), or -1."""
    for k in range(bdev_ptr[b], bdev_ptr[b + 1]):
        d = bdev[k]
        dn = dev_node[d]
        if dn == e or (dn < 0 and upstream_end):
            return d
    return -1


@njit(cache=True)
def _section(start_is_node, start_ref, br_from, br_to, br_kind, cond, indptr, adj_node, adj_branch,
             bdev_ptr, bdev, dev_node, parent):
    """The faulted section: nodes that stay dead until repair, and the devices to open.

    Starting at the faulted element (a node, or a branch whose two ends are
    examined separately), the search spreads over conducting branches and stops
    at any branch carrying a switching device (the device separates the far
    node from the section) and at source links (the section reaches a source).
    On the faulted branch itself only a device at the end in question isolates
    that end.

    Returns ``(nodes, boundaries)``: section nodes, and rows ``(device, branch,
    near, far)`` of the boundary devices (``device`` -1 for a source link,
    ``near`` the section side, -1 when the faulted branch itself is cut at that end).
    """
    n = indptr.shape[0] - 1
    in_sec = np.zeros(n, np.bool_)
    stack = np.empty(n, np.int32)
    top = 0
    nodes = np.empty(n, np.int32)
    n_nodes = 0
    bnd = np.empty((br_from.shape[0] + 2, 4), np.int64)
    n_b = 0
    if start_is_node:
        in_sec[start_ref] = True
        stack[top] = start_ref
        top += 1
        nodes[n_nodes] = start_ref
        n_nodes += 1
    else:
        b = start_ref
        u = br_from[b]
        w = br_to[b]
        for side in range(2):
            e = u if side == 0 else w
            o = w if side == 0 else u
            d = _end_device(b, e, parent[o] == e, bdev_ptr, bdev, dev_node)
            if d >= 0:
                bnd[n_b, 0] = d
                bnd[n_b, 1] = b
                bnd[n_b, 2] = -1
                bnd[n_b, 3] = e
                n_b += 1
            elif not in_sec[e]:
                in_sec[e] = True
                stack[top] = e
                top += 1
                nodes[n_nodes] = e
                n_nodes += 1
    while top > 0:
        top -= 1
        x = stack[top]
        for k in range(indptr[x], indptr[x + 1]):
            b = adj_branch[k]
            if not cond[b] or (not start_is_node and b == start_ref):
                continue
            y = adj_node[k]
            if br_kind[b] == _BR_SOURCE:
                bnd[n_b, 0] = -1
                bnd[n_b, 1] = b
                bnd[n_b, 2] = x
                bnd[n_b, 3] = y
                n_b += 1
                continue
            if bdev_ptr[b + 1] > bdev_ptr[b]:
                bnd[n_b, 0] = bdev[bdev_ptr[b]]
                bnd[n_b, 1] = b
                bnd[n_b, 2] = x
                bnd[n_b, 3] = y
                n_b += 1
                continue
            if not in_sec[y]:
                in_sec[y] = True
                stack[top] = y
                top += 1
                nodes[n_nodes] = y
                n_nodes += 1
    return nodes[:n_nodes].copy(), bnd[:n_b].copy()


@njit(cache=True)
def _zones(island_nodes, parent, parent_branch, is_split_branch):
    """Zone root per node of an island given in preorder (its first node is the
    island root): a node whose parent branch carries a sectionalizing device starts
    a zone, others belong to their parent's zone."""
    n = island_nodes.shape[0]
    zone = np.empty(n, np.int32)
    pos = {}
    for i in range(n):
        v = island_nodes[i]
        pos[v] = i
        if i == 0 or is_split_branch[parent_branch[v]]:
            zone[i] = v
        else:
            zone[i] = zone[pos[parent[v]]]
    return zone


@njit(cache=True)
def _local_check_ws(indptr, adj_node, adj_branch, cond, root, v_root, ef_node, et_node, yff, yft, ytf, ytt,
                    ideal, s_p, s_i, s_z, k_from, k_to, is_bus, new_mask, max_iter, tol, local_id, order,
                    vm_base, ld_base, vm_lo, vm_hi, ld_max, report_bus, lump_child, lump_s, lump_lo, lump_lo_node,
                    lump_hi, lump_hi_node):
    """Power flow of the tree reached from ``root`` (voltage ``v_root``) over
    conducting branches, and its capacity figures, in one pass, with work arrays
    sized by the reached part only.

    ``local_id`` (int32, one per node, all -1) and ``order`` (int32, one per
    node) are caller-owned workspaces; ``local_id`` is reset before returning,
    so a check costs O(reached part), not O(network) — on a million-bus
    network the receiving side is a few thousand nodes.

    Limits count against the move, not against the network as it was: a bus
    violates when it ends below its ``vm_lo`` (above its ``vm_hi``) and more than
    1e-4 pu below (above) ``vm_base``, its voltage before the fault (NaN: not
    supplied then, so any violation counts); a branch when it ends above
    ``ld_max`` % and more than 0.1 point above ``ld_base``.

    Returns ``(status, max_loading, worst_branch, min_vm, min_vm_node,
    max_vm_new, max_vm_new_node, bad_v_node, bad_v, bad_ld_branch, bad_ld,
    bad_hi_node, bad_hi)``: ``status`` 1 converged, 0 not, -1 the reached part
    is not radial (the caller falls back to the full check); the worst
    violation of each kind (-1 when none). BFS order has every parent before its
    children, which is all the sweep needs.

    Lumping: a branch ``b`` with ``lump_child[b] >= 0`` (a transformer to a
    low-voltage subtree the move does not touch) is not crossed when reached
    from its upstream side; its subtree becomes a constant load ``lump_s[b]``
    (its power before the fault) and its buses follow the voltage change of
    the transformer's upstream bus: ``lump_lo[b]`` / ``lump_hi[b]`` are the
    subtree's smallest margins to its band before the fault, at buses
    ``lump_lo_node`` / ``lump_hi_node``. ``min_vm`` is over ``report_bus``.
    """
    order[0] = root
    local_id[root] = 0
    n = 1
    head = 0
    n_cond2 = 0
    lump_b = np.empty(indptr.shape[0] - 1, np.int32)
    lump_x = np.empty(indptr.shape[0] - 1, np.int32)
    n_l = 0
    # local tree arrays grow with n; allocate after the BFS
    while head < n:
        x = order[head]
        head += 1
        for k in range(indptr[x], indptr[x + 1]):
            b = adj_branch[k]
            if not cond[b]:
                continue
            y = adj_node[k]
            if lump_child[b] == y:
                lump_b[n_l] = b
                lump_x[n_l] = x
                n_l += 1
                continue
            n_cond2 += 1
            if local_id[y] < 0:
                local_id[y] = n
                order[n] = y
                n += 1
    n_extra = n_cond2 // 2 - (n - 1)
    par = np.full(n, -1, np.int32)
    pbr = np.full(n, -1, np.int32)
    if n_extra == 0:
        for i in range(n):
            x = order[i]
            for k in range(indptr[x], indptr[x + 1]):
                b = adj_branch[k]
                if cond[b]:
                    j = local_id[adj_node[k]]
                    if j > i and par[j] < 0:
                        par[j] = i
                        pbr[j] = b
    status = -1
    max_ld = 0.0
    worst = -1
    min_vm = np.inf
    min_node = -1
    max_new = 0.0
    max_new_node = -1
    bad_v_node = -1
    bad_v = np.inf
    bad_ld_br = -1
    bad_ld = 0.0
    bad_hi_node = -1
    bad_hi = 0.0
    if n_extra == 0:
        paf = np.zeros(n, np.bool_)
        sp = np.empty(n, np.complex128)
        si = np.empty(n, np.complex128)
        sz = np.empty(n, np.complex128)
        for c in range(n):
            x = order[c]
            sp[c] = s_p[x]
            si[c] = s_i[x]
            sz[c] = s_z[x]
            if c > 0:
                paf[c] = ef_node[pbr[c]] == order[par[c]]
        for i in range(n_l):
            sp[local_id[lump_x[i]]] += lump_s[lump_b[i]]
        v, conv, it = _sweep_local(n, par, pbr, paf, ideal, yff, yft, ytf, ytt, sp, si, sz, np.zeros(n, np.bool_),
                                   np.zeros(n, np.complex128), v_root, max_iter, tol)
        status = 1 if conv else 0
        for c in range(n):
            x = order[c]
            vm = np.abs(v[c])
            if is_bus[x] == 1:
                if report_bus[x] and vm < min_vm:
                    min_vm = vm
                    min_node = x
                if new_mask[x] and vm > max_new:
                    max_new = vm
                    max_new_node = x
                if vm < vm_lo[x] and vm < bad_v and not vm_base[x] - vm <= 1e-4:
                    bad_v = vm
                    bad_v_node = x
                if vm > vm_hi[x] and vm > bad_hi and not vm - vm_base[x] <= 1e-4:
                    bad_hi = vm
                    bad_hi_node = x
            if c == 0:
                continue
            b = pbr[c]
            vf = v[local_id[ef_node[b]]]
            vt = v[local_id[et_node[b]]]
            i_f = np.abs(yff[b] * vf + yft[b] * vt) * k_from[b]
            i_t = np.abs(ytf[b] * vf + ytt[b] * vt) * k_to[b]
            ld = i_f if i_f > i_t else i_t
            if not np.isfinite(ld):
                ld = np.inf
            if ld > max_ld:
                max_ld = ld
                worst = b
            if ld > ld_max and ld > bad_ld and not ld - ld_base[b] <= 0.1:
                bad_ld = ld
                bad_ld_br = b
        for i in range(n_l):
            b = lump_b[i]
            x = lump_x[i]
            d = np.abs(v[local_id[x]]) - vm_base[x]
            if d < -1e-4 and lump_lo[b] + d < 0.0:
                val = vm_base[lump_lo_node[b]] + d
                if val < bad_v:
                    bad_v = val
                    bad_v_node = lump_lo_node[b]
            if d > 1e-4 and lump_hi[b] - d < 0.0:
                val = vm_base[lump_hi_node[b]] + d
                if val > bad_hi:
                    bad_hi = val
                    bad_hi_node = lump_hi_node[b]
    for i in range(n):
        local_id[order[i]] = -1
    return (status, max_ld, worst, min_vm, min_node, max_new, max_new_node, bad_v_node, bad_v, bad_ld_br, bad_ld,
            bad_hi_node, bad_hi)
