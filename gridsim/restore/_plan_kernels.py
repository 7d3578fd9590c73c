"""Numba kernels of restoration planning (:mod:`gridsim.restore.plan`): pure functions on
contiguous arrays; the wrappers in ``plan.py`` check the inputs."""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _node_job_sums(nodes, owner, n_jobs, sw_ptr, sw_job, sw_nodes, sw_rmin, fstart, node_weighted, node_cust,
                   node_class, crit_cols, sw_time, weight, customers, customers_switched, crit_by_class):
    """Switching time of each lost node and the per-job sums of the nodes that wait for a repair.

    ``nodes`` (distinct) lose supply and wait for fault ``owner``; switching plan ``s`` (of job
    ``sw_job[s]``) brings ``sw_nodes[sw_ptr[s]:sw_ptr[s + 1]]`` back ``sw_rmin`` minutes after its
    fault began (``fstart``); a lost node counts only the plan of its own fault. Fills
    ``sw_time`` (inf: waits for the repair; to be given as inf) and, in node order (the order of
    ``numpy.bincount``), per job: ``weight`` / ``customers`` of the nodes that wait for the repair,
    ``customers_switched`` of the others, ``crit_by_class[:, c]`` for the columns ``crit_cols``.
    """
    n = nodes.shape[0]
    if n > 0 and sw_job.shape[0] > 0:
        by_node = np.argsort(nodes)
        sorted_nodes = nodes[by_node]
        for s in range(sw_job.shape[0]):
            j = sw_job[s]
            for e in range(sw_ptr[s], sw_ptr[s + 1]):
                t = sw_rmin[e]
                if not np.isfinite(t):
                    continue
                v = sw_nodes[e]
                k = np.searchsorted(sorted_nodes, v)
                if k < n and sorted_nodes[k] == v:
                    i = by_node[k]
                    if owner[i] == j:
                        val = fstart[j] + t
                        if val < sw_time[i]:
                            sw_time[i] = val
    for i in range(n):
        o = owner[i]
        v = nodes[i]
        if np.isfinite(sw_time[i]):
            customers_switched[o] += np.float64(node_cust[v])
        else:
            weight[o] += np.float64(node_weighted[v])
            customers[o] += np.float64(node_cust[v])
            for c in crit_cols:
                crit_by_class[o, c] += np.float64(node_class[v, c])


@njit(cache=True)
def _radial_jobs(jobs, iv, is_node, node_at, sw_ptr, sw_nodes, sw_rmin, fstart, node_weighted, node_cust,
                 node_class, crit_cols, ws, parent, weight, customers, crit_by_class):
    """Outage structure and per-job sums of a subset of faults on radial operation, in one pass:
    what ``plan._outage_radial`` and ``plan._node_data`` give for faults ``jobs`` (indices into
    the per-fault arrays, in job order), without listing the nodes.

    Per fault ``f``: ``iv[f]`` the preorder interval of the nodes it cuts off, ``is_node[f]`` (a
    bus fault sits below the branch feeding it when both cut off the same interval), its
    switching plan ``sw_nodes`` / ``sw_rmin`` at ``sw_ptr[f]:sw_ptr[f + 1]``. ``fstart[j]``: when
    job ``j``'s outage began. ``ws``: a workspace of -1 per node, given back as it came.

    Fills ``parent`` (innermost enclosing job, -1 none) and, summed in the order of the nodes
    (segments of ``node_at`` in the order ``_outage_radial`` emits them), per job: ``weight``,
    ``customers`` and ``crit_by_class[:, crit_cols]`` of its nodes that wait for the repair (not
    brought back by the switching plan of the job that owns them).
    """
    J = jobs.shape[0]
    # jobs with a non-empty interval, outer first: (start asc, end desc, bus after branch), stable
    order = np.empty(J, np.int64)
    m = 0
    for j in range(J):
        f = jobs[j]
        if iv[f, 1] > iv[f, 0]:
            s, z, b = iv[f, 0], iv[f, 1], is_node[f]
            q = m
            while q > 0:
                g = jobs[order[q - 1]]
                gs, gz, gb = iv[g, 0], iv[g, 1], is_node[g]
                if gs > s or (gs == s and (gz < z or (gz == z and gb > b))):
                    order[q] = order[q - 1]
                    q -= 1
                else:
                    break
            order[q] = j
            m += 1
    for j in range(J):
        parent[j] = -1
    # segments (start, end, owner) in emission order
    seg_s = np.empty(2 * J + 1, np.int64)
    seg_z = np.empty(2 * J + 1, np.int64)
    seg_o = np.empty(2 * J + 1, np.int64)
    n_seg = 0
    stack = np.empty(J, np.int64)
    top = 0
    cursor = 0
    for r in range(m):
        j = order[r]
        s, z = iv[jobs[j], 0], iv[jobs[j], 1]
        while top > 0 and iv[jobs[stack[top - 1]], 1] <= s:
            top -= 1
            t = stack[top]
            e = iv[jobs[t], 1]
            if e > cursor:
                seg_s[n_seg], seg_z[n_seg], seg_o[n_seg] = cursor, e, t
                n_seg += 1
            cursor = e
        if top > 0:
            if s > cursor:
                seg_s[n_seg], seg_z[n_seg], seg_o[n_seg] = cursor, s, stack[top - 1]
                n_seg += 1
            parent[j] = stack[top - 1]
        cursor = s
        stack[top] = j
        top += 1
    while top > 0:
        top -= 1
        t = stack[top]
        e = iv[jobs[t], 1]
        if e > cursor:
            seg_s[n_seg], seg_z[n_seg], seg_o[n_seg] = cursor, e, t
            n_seg += 1
        cursor = e
    # lost nodes in emission order, their owner, and when switching brings them back
    n_lost = 0
    for g in range(n_seg):
        n_lost += seg_z[g] - seg_s[g]
    nodes = np.empty(n_lost, np.int64)
    owner = np.empty(n_lost, np.int64)
    i = 0
    for g in range(n_seg):
        for p in range(seg_s[g], seg_z[g]):
            v = node_at[p]
            nodes[i] = v
            owner[i] = seg_o[g]
            ws[v] = i
            i += 1
    sw_time = np.full(n_lost, np.inf)
    for j in range(J):
        f = jobs[j]
        for e in range(sw_ptr[f], sw_ptr[f + 1]):
            t = sw_rmin[e]
            if not np.isfinite(t):
                continue
            i = ws[sw_nodes[e]]
            if i >= 0 and owner[i] == j:
                val = fstart[j] + t
                if val < sw_time[i]:
                    sw_time[i] = val
    for i in range(n_lost):
        ws[nodes[i]] = -1
    for j in range(J):
        weight[j] = 0.0
        customers[j] = 0.0
        for c in crit_cols:
            crit_by_class[j, c] = 0.0
    for i in range(n_lost):
        if np.isfinite(sw_time[i]):
            continue
        o = owner[i]
        v = nodes[i]
        weight[o] += np.float64(node_weighted[v])
        customers[o] += np.float64(node_cust[v])
        for c in crit_cols:
            crit_by_class[o, c] += np.float64(node_class[v, c])
