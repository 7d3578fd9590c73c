"""Numba kernels of the outage-impact core.

Pure functions on contiguous numpy arrays (CSR pairs ``indptr``/``adj_*``),
no pandas, dicts or objects. The public wrappers in :mod:`gridsim.core.impact`
and :mod:`gridsim.core.topology` check inputs; kernels assume clean input.

Node 0 is always the *super-source*: it is linked by virtual branches to every
source bus, so one traversal from node 0 covers every feeder of every source.
"""
from __future__ import annotations

import numpy as np
from numba import njit

# --------------------------------------------------------------------------
# compile-time helpers
# --------------------------------------------------------------------------


@njit(cache=True)
def _build_csr(n_node, br_from, br_to):
    """Undirected CSR adjacency: for node v, neighbours adj_node[indptr[v]:indptr[v+1]]
    reached through branches adj_branch[...]. Counting sort, O(N + M)."""
    m = br_from.shape[0]
    deg = np.zeros(n_node + 1, np.int64)
    for b in range(m):
        deg[br_from[b] + 1] += 1
        deg[br_to[b] + 1] += 1
    indptr = np.empty(n_node + 1, np.int64)
    indptr[0] = 0
    for v in range(n_node):
        indptr[v + 1] = indptr[v] + deg[v + 1]
    fill = indptr[:-1].copy()
    adj_node = np.empty(2 * m, np.int32)
    adj_branch = np.empty(2 * m, np.int32)
    for b in range(m):
        f = br_from[b]
        t = br_to[b]
        adj_node[fill[f]] = t
        adj_branch[fill[f]] = b
        fill[f] += 1
        adj_node[fill[t]] = f
        adj_branch[fill[t]] = b
        fill[t] += 1
    return indptr, adj_node, adj_branch


@njit(cache=True)
def _bfs_numbering(n_node, indptr, adj_node):
    """Order of nodes in a BFS from node 0 over *all* branches, unreachable nodes
    appended in their original order. Returns ``rank`` (old id -> new id)."""
    rank = np.full(n_node, -1, np.int32)
    queue = np.empty(n_node, np.int32)
    head = 0
    tail = 0
    queue[tail] = 0
    tail += 1
    rank[0] = 0
    nxt = 1
    while head < tail:
        v = queue[head]
        head += 1
        for k in range(indptr[v], indptr[v + 1]):
            w = adj_node[k]
            if rank[w] < 0:
                rank[w] = nxt
                nxt += 1
                queue[tail] = w
                tail += 1
    for v in range(n_node):
        if rank[v] < 0:
            rank[v] = nxt
            nxt += 1
    return rank


# --------------------------------------------------------------------------
# state -> conducting branches
# --------------------------------------------------------------------------


@njit(cache=True)
def _conducting(br_in_service, br_from, br_to, node_alive, sw_branch, sw_closed,
                faulted_branches):
    """A branch conducts when it is in service, both its end nodes are alive
    (in service and not faulted), no switch on it is open and it is not faulted."""
    m = br_in_service.shape[0]
    cond = np.empty(m, np.bool_)
    for b in range(m):
        cond[b] = br_in_service[b] and node_alive[br_from[b]] and node_alive[br_to[b]]
    for s in range(sw_branch.shape[0]):
        if not sw_closed[s]:
            cond[sw_branch[s]] = False
    for i in range(faulted_branches.shape[0]):
        cond[faulted_branches[i]] = False
    return cond


# --------------------------------------------------------------------------
# traversals
# --------------------------------------------------------------------------


@njit(cache=True)
def _bfs_tree(indptr, adj_node, adj_branch, cond, root):
    """BFS from ``root`` over conducting branches.

    Returns (order, n_reached, parent, parent_branch, n_extra) where ``order``
    holds the reached nodes in BFS order and ``n_extra`` counts conducting
    branches between reached nodes that are not tree branches (0 <=> the
    operated network is a forest: radial operation).
    """
    n = indptr.shape[0] - 1
    parent = np.full(n, -1, np.int32)
    parent_branch = np.full(n, -1, np.int32)
    seen = np.zeros(n, np.bool_)
    order = np.empty(n, np.int32)
    head = 0
    tail = 0
    order[0] = root
    tail = 1
    seen[root] = True
    n_cond_edges2 = 0  # each conducting branch between reached nodes counted twice
    while head < tail:
        v = order[head]
        head += 1
        for k in range(indptr[v], indptr[v + 1]):
            b = adj_branch[k]
            if not cond[b]:
                continue
            n_cond_edges2 += 1
            w = adj_node[k]
            if not seen[w]:
                seen[w] = True
                parent[w] = v
                parent_branch[w] = b
                order[tail] = w
                tail += 1
    n_extra = n_cond_edges2 // 2 - (tail - 1)
    return order, tail, parent, parent_branch, n_extra


@njit(cache=True)
def _reached_mask(indptr, adj_node, adj_branch, cond, root):
    """Plain BFS reachability from ``root`` over conducting branches."""
    n = indptr.shape[0] - 1
    seen = np.zeros(n, np.bool_)
    queue = np.empty(n, np.int32)
    queue[0] = root
    seen[root] = True
    head = 0
    tail = 1
    while head < tail:
        v = queue[head]
        head += 1
        for k in range(indptr[v], indptr[v + 1]):
            if cond[adj_branch[k]]:
                w = adj_node[k]
                if not seen[w]:
                    seen[w] = True
                    queue[tail] = w
                    tail += 1
    return seen


@njit(cache=True)
def _tree_preorder(order, n_reached, parent, n_node):
    """Subtree sizes and a preorder numbering (subtree of v = interval
    [pre[v], pre[v] + size[v])) from a BFS tree, in two sequential passes."""
    size = np.zeros(n_node, np.int32)
    pre = np.full(n_node, -1, np.int32)
    for i in range(n_reached - 1, -1, -1):
        v = order[i]
        size[v] += 1
        if i > 0:
            size[parent[v]] += size[v]
    nxt = np.empty(n_node, np.int32)
    root = order[0]
    pre[root] = 0
    nxt[root] = 1
    for i in range(1, n_reached):
        v = order[i]
        p = parent[v]
        pre[v] = nxt[p]
        nxt[p] += size[v]
        nxt[v] = pre[v] + 1
    node_at = np.empty(n_reached, np.int32)
    for i in range(n_reached):
        v = order[i]
        node_at[pre[v]] = v
    return size, pre, node_at


@njit(cache=True)
def _dfs_lowlink(indptr, adj_node, adj_branch, cond, root):
    """Iterative DFS with low-link values (Hopcroft-Tarjan), over conducting
    branches. Parallel branches are told apart by branch id.

    Returns (pre, size, low, parent, parent_branch, node_at, n_reached):
    tree edge parent(v)-v is a bridge iff low[v] >= pre[v]; removing node v
    disconnects child c's subtree iff low[c] >= pre[v].
    """
    n = indptr.shape[0] - 1
    pre = np.full(n, -1, np.int32)
    low = np.full(n, -1, np.int32)
    size = np.zeros(n, np.int32)
    parent = np.full(n, -1, np.int32)
    parent_branch = np.full(n, -1, np.int32)
    node_at = np.empty(n, np.int32)
    it = np.empty(n, np.int64)
    stack = np.empty(n, np.int32)
    sp = 0
    t = 0
    pre[root] = 0
    low[root] = 0
    node_at[0] = root
    t = 1
    it[root] = indptr[root]
    stack[0] = root
    sp = 1
    while sp > 0:
        v = stack[sp - 1]
        k = it[v]
        if k < indptr[v + 1]:
            it[v] = k + 1
            b = adj_branch[k]
            if not cond[b] or b == parent_branch[v]:
                continue
            w = adj_node[k]
            if pre[w] < 0:
                pre[w] = t
                low[w] = t
                node_at[t] = w
                t += 1
                parent[w] = v
                parent_branch[w] = b
                it[w] = indptr[w]
                stack[sp] = w
                sp += 1
            elif pre[w] < low[v]:
                low[v] = pre[w]
        else:
            sp -= 1
            size[v] += 1
            if sp > 0:
                p = stack[sp - 1]
                size[p] += size[v]
                if low[v] < low[p]:
                    low[p] = low[v]
    return pre, size, low, parent, parent_branch, node_at[:t].copy(), t


# --------------------------------------------------------------------------
# sums over subtrees
# --------------------------------------------------------------------------


@njit(cache=True)
def _node_kept(pre, size, low, parent, node_at, n_reached, p_bus, p_cust, p_crit):
    """For every reached node v: the weight, inside v's subtree, that stays
    supplied when v is removed (children whose subtree has a back edge above v).
    One pass for the three weights (buses, customers, critical customers)."""
    n = pre.shape[0]
    k_bus = np.zeros(n, np.int64)
    k_cust = np.zeros(n, np.int64)
    k_crit = np.zeros(n, np.int64)
    for i in range(1, n_reached):
        c = node_at[i]
        p = parent[c]
        if low[c] < pre[p]:
            a = pre[c]
            z = a + size[c]
            k_bus[p] += p_bus[z] - p_bus[a]
            k_cust[p] += p_cust[z] - p_cust[a]
            k_crit[p] += p_crit[z] - p_crit[a]
    return k_bus, k_cust, k_crit


@njit(cache=True)
def _prefix3(node_at, n_reached, w_bus, w_cust, w_crit):
    """Prefix sums in preorder of the three node weights, one pass."""
    p_bus = np.zeros(n_reached + 1, np.int64)
    p_cust = np.zeros(n_reached + 1, np.int64)
    p_crit = np.zeros(n_reached + 1, np.int64)
    for i in range(n_reached):
        v = node_at[i]
        p_bus[i + 1] = p_bus[i] + w_bus[v]
        p_cust[i + 1] = p_cust[i] + w_cust[v]
        p_crit[i + 1] = p_crit[i] + w_crit[v]
    return p_bus, p_cust, p_crit


@njit(cache=True)
def _sweep(elem_is_node, elem_ref, br_from, br_to, cond, pre, size, low, parent,
           parent_branch, sub, kept_bus, kept_cust,
           kept_crit, br_prot_dev, br_prot_node, br_own_trip, node_dev_above,
           node_dev_below):
    """All single faults in one pass.

    For element i: buses / customers / critical customers that lose supply, the
    tripping device (index into the device table or -1) and the customers it
    interrupts until isolation.
    """
    m = elem_ref.shape[0]
    out_bus = np.zeros(m, np.int64)
    out_cust = np.zeros(m, np.int64)
    out_crit = np.zeros(m, np.int64)
    trip = np.full(m, -1, np.int32)
    interrupted = np.zeros(m, np.int64)
    for i in range(m):
        r = elem_ref[i]
        if elem_is_node[i]:
            v = r
            if pre[v] < 0:
                continue
            out_bus[i] = sub[v, 0] - kept_bus[v]
            out_cust[i] = sub[v, 1] - kept_cust[v]
            out_crit[i] = sub[v, 2] - kept_crit[v]
            if parent[v] < 0:
                continue
            b = parent_branch[v]
            if low[v] >= pre[v]:  # fed through a bridge
                if br_prot_dev[b] >= 0:
                    trip[i] = br_prot_dev[b]
                    below = v
                else:
                    trip[i] = node_dev_above[parent[v]]
                    below = node_dev_below[parent[v]]
                if trip[i] >= 0:
                    interrupted[i] = sub[below, 1]
            if trip[i] < 0:
                interrupted[i] = out_cust[i]
        else:
            b = r
            if not cond[b]:
                continue
            f = br_from[b]
            t = br_to[b]
            if parent_branch[t] == b:
                v = t
            elif parent_branch[f] == b:
                v = f
            else:
                v = -1
            if v >= 0 and pre[v] >= 0 and low[v] >= pre[v]:
                out_bus[i] = sub[v, 0]
                out_cust[i] = sub[v, 1]
                out_crit[i] = sub[v, 2]
                p = parent[v]
                pn = br_prot_node[b]
                if br_prot_dev[b] >= 0 and br_own_trip[b] and (pn < 0 or pn == p):
                    trip[i] = br_prot_dev[b]
                    interrupted[i] = out_cust[i]
                else:
                    trip[i] = node_dev_above[p]
                    if trip[i] >= 0:
                        interrupted[i] = sub[node_dev_below[p], 1]
                    else:
                        interrupted[i] = out_cust[i]
            else:
                # meshed part: its own protection trips, nobody is lost
                if pre[f] >= 0 and br_prot_dev[b] >= 0 and br_own_trip[b]:
                    trip[i] = br_prot_dev[b]
    return out_bus, out_cust, out_crit, trip, interrupted


@njit(cache=True)
def _subtree_sums(node_at, n_reached, pre, size, p_bus, p_cust, p_crit, n_node):
    """Per node the (buses, customers, critical) totals of its subtree, one row per
    node so that the sweep reads one cache line per element."""
    sub = np.zeros((n_node, 3), np.int64)
    for i in range(n_reached):
        v = node_at[i]
        z = i + size[v]
        sub[v, 0] = p_bus[z] - p_bus[i]
        sub[v, 1] = p_cust[z] - p_cust[i]
        sub[v, 2] = p_crit[z] - p_crit[i]
    return sub


@njit(cache=True)
def _devices_above(node_at, n_reached, pre, low, parent, parent_branch, br_prot_dev):
    """Nearest protective device above every node along bridges.

    node_dev_above[v]: device on the closest bridge branch on the path from v up
    to the source that carries a protective device, including v's own parent
    branch; node_dev_below[v]: the node just below that branch (its subtree is
    what the device interrupts). -1 when there is none or when the path leaves
    the radial part (a non-bridge branch): in a loop no device is "upstream".
    """
    n = pre.shape[0]
    dev_above = np.full(n, -1, np.int32)
    dev_below = np.full(n, -1, np.int32)
    for i in range(1, n_reached):
        v = node_at[i]
        if low[v] < pre[v]:
            continue
        b = parent_branch[v]
        if br_prot_dev[b] >= 0:
            dev_above[v] = br_prot_dev[b]
            dev_below[v] = v
        else:
            p = parent[v]
            dev_above[v] = dev_above[p]
            dev_below[v] = dev_below[p]
    return dev_above, dev_below


# --------------------------------------------------------------------------
# multi-fault scenarios
# --------------------------------------------------------------------------


@njit(cache=True)
def _fault_interval(is_node, r, br_from, br_to, cond, pre, size, parent_branch):
    """Preorder interval lost by one fault on a radial (forest) operation.
    Returns (start, stop); (0, 0) when the fault disconnects nobody."""
    if is_node:
        if pre[r] < 0:
            return 0, 0
        return pre[r], pre[r] + size[r]
    if not cond[r]:
        return 0, 0
    t = br_to[r]
    f = br_from[r]
    if parent_branch[t] == r and pre[t] >= 0:
        return pre[t], pre[t] + size[t]
    if parent_branch[f] == r and pre[f] >= 0:
        return pre[f], pre[f] + size[f]
    return 0, 0


@njit(cache=True)
def _storms_bfs(sc_indptr, sc_elems, elem_is_node, elem_ref, indptr, adj_node, adj_branch,
                cond, supplied, weights, root):
    """Exact fallback for meshed operation: one BFS per scenario with its faulted
    branches and nodes removed. ``weights`` is (n_node, ncol)."""
    s_count = sc_indptr.shape[0] - 1
    n = indptr.shape[0] - 1
    ncol = weights.shape[1]
    out = np.zeros((s_count, ncol), np.int64)
    seen = np.zeros(n, np.int32)  # stamp = scenario + 1
    dead_node = np.zeros(n, np.int32)
    dead_branch = np.zeros(cond.shape[0], np.int32)
    queue = np.empty(n, np.int32)
    for s in range(s_count):
        stamp = s + 1
        for j in range(sc_indptr[s], sc_indptr[s + 1]):
            e = sc_elems[j]
            if elem_is_node[e]:
                dead_node[elem_ref[e]] = stamp
            else:
                dead_branch[elem_ref[e]] = stamp
        head = 0
        tail = 1
        queue[0] = root
        seen[root] = stamp
        while head < tail:
            v = queue[head]
            head += 1
            for k in range(indptr[v], indptr[v + 1]):
                b = adj_branch[k]
                if not cond[b] or dead_branch[b] == stamp:
                    continue
                w = adj_node[k]
                if seen[w] == stamp or dead_node[w] == stamp:
                    continue
                seen[w] = stamp
                queue[tail] = w
                tail += 1
        for v in range(n):
            if supplied[v] and seen[v] != stamp:
                for c in range(ncol):
                    out[s, c] += weights[v, c]
    return out


@njit(cache=True)
def _read_once(indptr, adj_node, adj_branch, w):
    """The physical floor of any O(N + M) pass: touch every topology array once."""
    acc = 0
    n = indptr.shape[0] - 1
    for v in range(n):
        acc += w[v]
        for k in range(indptr[v], indptr[v + 1]):
            acc += adj_node[k] ^ adj_branch[k]
    return acc


@njit(cache=True)
def _element_intervals(elem_is_node, elem_ref, br_from, br_to, cond, pre, size, parent_branch):
    """Preorder interval lost by each element alone, on radial operation:
    (n_elements, 2) int32, [0, 0) when the element disconnects nobody. Computed once
    per state so that storms touch one row per fault instead of five arrays."""
    m = elem_ref.shape[0]
    iv = np.zeros((m, 2), np.int32)
    for e in range(m):
        a, z = _fault_interval(elem_is_node[e], elem_ref[e], br_from, br_to, cond, pre, size, parent_branch)
        iv[e, 0] = a
        iv[e, 1] = z
    return iv


@njit(cache=True)
def _storms_intervals(sc_indptr, sc_elems, iv, prefixes):
    """Per scenario: union of its faults' precomputed intervals (insertion-sorted:
    k is small), summed with prefix sums. O(k log k)-ish per scenario, independent
    of network size."""
    s_count = sc_indptr.shape[0] - 1
    ncol = prefixes.shape[1]
    out = np.zeros((s_count, ncol), np.int64)
    kmax = 1
    for s in range(s_count):
        k = sc_indptr[s + 1] - sc_indptr[s]
        if k > kmax:
            kmax = k
    starts = np.empty(kmax, np.int64)
    stops = np.empty(kmax, np.int64)
    for s in range(s_count):
        n = 0
        for j in range(sc_indptr[s], sc_indptr[s + 1]):
            e = sc_elems[j]
            a = iv[e, 0]
            z = iv[e, 1]
            if z > a:
                # insertion sort by start
                i = n
                while i > 0 and starts[i - 1] > a:
                    starts[i] = starts[i - 1]
                    stops[i] = stops[i - 1]
                    i -= 1
                starts[i] = a
                stops[i] = z
                n += 1
        cur_a = -1
        cur_z = -1
        for j in range(n):
            a = starts[j]
            z = stops[j]
            if a >= cur_z:
                if cur_z > cur_a:
                    for c in range(ncol):
                        out[s, c] += prefixes[cur_z, c] - prefixes[cur_a, c]
                cur_a = a
                cur_z = z
            elif z > cur_z:
                cur_z = z
        if cur_z > cur_a:
            for c in range(ncol):
                out[s, c] += prefixes[cur_z, c] - prefixes[cur_a, c]
    return out
