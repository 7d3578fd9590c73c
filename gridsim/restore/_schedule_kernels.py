"""Numba kernels of crew scheduling (:mod:`gridsim.restore.schedule`): pure functions on
contiguous arrays; the wrappers in ``schedule.py`` check the inputs.

Local search state: ``seq[K, J + 1]`` rows (each crew's jobs in order) with lengths ``n[K]``.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _travel(k, frm, to, dist_job, dist_depot, min_per_km):
    """Travel minutes of crew ``k`` from job ``frm`` (-1: its depot) to job ``to``."""
    if frm < 0:
        return dist_depot[k, to] * min_per_km[k]
    return dist_job[frm, to] * min_per_km[k]


@njit(cache=True)
def _crew_times(order, crew_ptr, repair, dist_job, dist_depot, min_per_km, avail,
                travel_out, start_out, finish_out):
    """Travel, repair start and finish of every job of a flat assignment."""
    for k in range(crew_ptr.shape[0] - 1):
        t = avail[k]
        loc = -1
        for i in range(crew_ptr[k], crew_ptr[k + 1]):
            j = order[i]
            tt = _travel(k, loc, j, dist_job, dist_depot, min_per_km)
            travel_out[j] = tt
            start_out[j] = t + tt
            t = t + tt + repair[j]
            finish_out[j] = t
            loc = j


@njit(cache=True)
def _restore_times(finish, parent, pre_order, out):
    """``out[j] = max(finish[i] for i in ancestors(j) ∪ {j})`` (parents first in preorder)."""
    for i in range(pre_order.shape[0]):
        j = pre_order[i]
        r = finish[j]
        p = parent[j]
        if p >= 0 and out[p] > r:
            r = out[p]
        out[j] = r


@njit(cache=True)
def _weighted_sum(weight, restore):
    s = 0.0
    for j in range(weight.shape[0]):
        s += weight[j] * restore[j]
    return s


# ---- local search (state: seq[K, J] rows with lengths n[K]) ----------------------

@njit(cache=True)
def _suffix(row, start, stop, k, t0, loc0, repair, dist_job, dist_depot, min_per_km,
            new_c, stamp, mark, changed, n_changed, old_c):
    """Completion times of ``row[start:stop]`` for crew ``k`` starting at (t0, loc0)."""
    t = t0
    loc = loc0
    for i in range(start, stop):
        j = row[i]
        t = t + _travel(k, loc, j, dist_job, dist_depot, min_per_km) + repair[j]
        new_c[j] = t
        stamp[j] = mark
        if t != old_c[j]:
            changed[n_changed] = j
            n_changed += 1
        loc = j
    return n_changed


@njit(cache=True)
def _state_at(seq, k, pos, C, avail):
    """(time, location) of crew ``k`` just before position ``pos`` of its row."""
    if pos == 0:
        return avail[k], -1
    j = seq[k, pos - 1]
    return C[j], j


@njit(cache=True)
def _delta(changed, n_changed, weight, parent, pre_order, pre_pos, sub_size, has_prec,
           C, R, new_a, stamp_a, mark_a, new_b, stamp_b, mark_b, new_r, stamp_r, mark_r):
    """Objective change when the jobs in ``changed`` get new completion times."""
    d = 0.0
    if not has_prec:
        for i in range(n_changed):
            j = changed[i]
            c = new_b[j] if stamp_b[j] == mark_b else new_a[j]
            d += weight[j] * (c - C[j])
        return d
    # insertion sort by preorder position (the list is short)
    for i in range(1, n_changed):
        v = changed[i]
        m = i - 1
        while m >= 0 and pre_pos[changed[m]] > pre_pos[v]:
            changed[m + 1] = changed[m]
            m -= 1
        changed[m + 1] = v
    end = -1
    for i in range(n_changed):
        s = pre_pos[changed[i]]
        if s < end:
            continue                      # inside a subtree already recomputed
        end = s + sub_size[changed[i]]
        for pos in range(s, end):
            j = pre_order[pos]
            if stamp_b[j] == mark_b:
                c = new_b[j]
            elif stamp_a[j] == mark_a:
                c = new_a[j]
            else:
                c = C[j]
            p = parent[j]
            if p >= 0:
                rp = new_r[p] if stamp_r[p] == mark_r else R[p]
                if rp > c:
                    c = rp
            new_r[j] = c
            stamp_r[j] = mark_r
            d += weight[j] * (c - R[j])
    return d


@njit(cache=True)
def _recompute(seq, n, C, R, crew_of, pos_of, repair, weight, parent, pre_order,
               dist_job, dist_depot, min_per_km, avail):
    """Full recomputation of C, R, crew_of, pos_of; returns the objective."""
    for k in range(n.shape[0]):
        t = avail[k]
        loc = -1
        for i in range(n[k]):
            j = seq[k, i]
            t = t + _travel(k, loc, j, dist_job, dist_depot, min_per_km) + repair[j]
            C[j] = t
            crew_of[j] = k
            pos_of[j] = i
            loc = j
    _restore_times(C, parent, pre_order, R)
    return _weighted_sum(weight, R)


@njit(cache=True)
def _local_search_run(seq, n, C, R, crew_of, pos_of, state, max_evals, max_moves,
                      repair, weight, parent, pre_order, pre_pos, sub_size, has_prec,
                      dist_job, dist_depot, min_per_km, avail):
    """Best-improvement-per-job local search with relocate and swap moves.

    ``state = [cursor, quiet, moves, mark]`` persists between calls (the Python
    wrapper calls repeatedly to check the clock). Returns the number of move
    evaluations done; the search is at a local optimum when ``quiet >= J``.

    A move is evaluated incrementally: the completion times of the crew rows it changes, from
    the first changed position on (:func:`_suffix`, written out in place below: the crew's time
    and place before that position, then travel + repair job after job), and the objective
    change of the jobs whose completion (or, with precedence, restoration) time changes
    (:func:`_delta`, written out too). Written out because the calls, with their many array
    arguments, cost more than the work; the arithmetic is theirs, operation for operation.
    """
    J = C.shape[0]
    K = n.shape[0]
    new_a = np.empty(J)
    new_b = np.empty(J)
    new_r = np.empty(J)
    stamp_a = np.zeros(J, dtype=np.int64)
    stamp_b = np.zeros(J, dtype=np.int64)
    stamp_r = np.zeros(J, dtype=np.int64)
    changed = np.empty(2 * J + 2, dtype=np.int64)
    changed_a = np.empty(J + 1, dtype=np.int64)
    row_a = np.empty(J + 1, dtype=np.int64)
    row_b = np.empty(J + 1, dtype=np.int64)
    obj = _weighted_sum(weight, R)
    cursor, quiet, moves, mark = state[0], state[1], state[2], state[3]
    evals = 0
    while evals < max_evals and quiet < J and moves < max_moves:
        j = cursor
        cursor = (cursor + 1) % J
        a = crew_of[j]
        p = pos_of[j]
        na = n[a]
        mpk_a = min_per_km[a]
        tol = 1e-9 * (1.0 + abs(obj))
        best_d = -tol
        best_kind = -1                    # 0 relocate, 1 swap
        best_b = -1
        best_q = -1
        # --- relocate to another crew: crew a without j is the same for all targets
        mark += 1
        mark_a = mark
        for i in range(p, na - 1):
            row_a[i] = seq[a, i + 1]
        if p == 0:
            t = avail[a]
            loc = -1
        else:
            loc = seq[a, p - 1]
            t = C[loc]
        n_a = 0
        for i in range(p, na - 1):
            jj = row_a[i]
            if loc < 0:
                t = t + dist_depot[a, jj] * mpk_a + repair[jj]
            else:
                t = t + dist_job[loc, jj] * mpk_a + repair[jj]
            new_a[jj] = t
            stamp_a[jj] = mark_a
            if t != C[jj]:
                changed_a[n_a] = jj
                n_a += 1
            loc = jj
        for b in range(K):
            if b == a:
                continue
            nb = n[b]
            mpk_b = min_per_km[b]
            for q in range(nb + 1):
                mark += 1
                for i in range(n_a):      # the delta reorders `changed`: start from the saved A part
                    changed[i] = changed_a[i]
                row_b[q] = j
                for i in range(q, nb):
                    row_b[i + 1] = seq[b, i]
                if q == 0:
                    t = avail[b]
                    loc = -1
                else:
                    loc = seq[b, q - 1]
                    t = C[loc]
                nc = n_a
                for i in range(q, nb + 1):
                    jj = row_b[i]
                    if loc < 0:
                        t = t + dist_depot[b, jj] * mpk_b + repair[jj]
                    else:
                        t = t + dist_job[loc, jj] * mpk_b + repair[jj]
                    new_b[jj] = t
                    stamp_b[jj] = mark
                    if t != C[jj]:
                        changed[nc] = jj
                        nc += 1
                    loc = jj
                d = 0.0
                if not has_prec:
                    for i in range(nc):
                        jj = changed[i]
                        c = new_b[jj] if stamp_b[jj] == mark else new_a[jj]
                        d += weight[jj] * (c - C[jj])
                else:
                    for i in range(1, nc):     # insertion sort by preorder position (short)
                        v = changed[i]
                        m = i - 1
                        while m >= 0 and pre_pos[changed[m]] > pre_pos[v]:
                            changed[m + 1] = changed[m]
                            m -= 1
                        changed[m + 1] = v
                    end = -1
                    for i in range(nc):
                        s0 = pre_pos[changed[i]]
                        if s0 < end:
                            continue              # inside a subtree already recomputed
                        end = s0 + sub_size[changed[i]]
                        for pos in range(s0, end):
                            jj = pre_order[pos]
                            if stamp_b[jj] == mark:
                                c = new_b[jj]
                            elif stamp_a[jj] == mark_a:
                                c = new_a[jj]
                            else:
                                c = C[jj]
                            pj = parent[jj]
                            if pj >= 0:
                                rp = new_r[pj] if stamp_r[pj] == mark else R[pj]
                                if rp > c:
                                    c = rp
                            new_r[jj] = c
                            stamp_r[jj] = mark
                            d += weight[jj] * (c - R[jj])
                evals += 1
                if d < best_d:
                    best_d, best_kind, best_b, best_q = d, 0, b, q
        # --- relocate within crew a: remove p, insert at q (q indexes the new row)
        for q in range(na):
            if q == p:
                continue
            mark += 1
            s = min(p, q)
            e = max(p, q)
            for i in range(s, e + 1):
                row_b[i] = seq[a, i]
            if q < p:
                row_b[q] = j
                for i in range(q, p):
                    row_b[i + 1] = seq[a, i]
            else:
                for i in range(p, q):
                    row_b[i] = seq[a, i + 1]
                row_b[q] = j
            for i in range(e + 1, na):
                row_b[i] = seq[a, i]
            # the window s..e, then the jobs after it (shifted by the change of the window end):
            # one pass over s..na-1 continues from the window's last job exactly as a second suffix
            if s == 0:
                t = avail[a]
                loc = -1
            else:
                loc = seq[a, s - 1]
                t = C[loc]
            nc = 0
            for i in range(s, na):
                jj = row_b[i]
                if loc < 0:
                    t = t + dist_depot[a, jj] * mpk_a + repair[jj]
                else:
                    t = t + dist_job[loc, jj] * mpk_a + repair[jj]
                new_b[jj] = t
                stamp_b[jj] = mark
                if t != C[jj]:
                    changed[nc] = jj
                    nc += 1
                loc = jj
            d = 0.0
            if not has_prec:
                for i in range(nc):
                    jj = changed[i]
                    d += weight[jj] * (new_b[jj] - C[jj])
            else:
                for i in range(1, nc):
                    v = changed[i]
                    m = i - 1
                    while m >= 0 and pre_pos[changed[m]] > pre_pos[v]:
                        changed[m + 1] = changed[m]
                        m -= 1
                    changed[m + 1] = v
                end = -1
                for i in range(nc):
                    s0 = pre_pos[changed[i]]
                    if s0 < end:
                        continue
                    end = s0 + sub_size[changed[i]]
                    for pos in range(s0, end):
                        jj = pre_order[pos]
                        c = new_b[jj] if stamp_b[jj] == mark else C[jj]
                        pj = parent[jj]
                        if pj >= 0:
                            rp = new_r[pj] if stamp_r[pj] == mark else R[pj]
                            if rp > c:
                                c = rp
                        new_r[jj] = c
                        stamp_r[jj] = mark
                        d += weight[jj] * (c - R[jj])
            evals += 1
            if d < best_d:
                best_d, best_kind, best_b, best_q = d, 2, a, q
        # --- swap j with every other job (same or other crew)
        for j2 in range(J):
            if j2 == j:
                continue
            b = crew_of[j2]
            q = pos_of[j2]
            mark += 1
            if b != a:
                for i in range(p, na):
                    row_a[i] = seq[a, i]
                row_a[p] = j2
                if p == 0:
                    t = avail[a]
                    loc = -1
                else:
                    loc = seq[a, p - 1]
                    t = C[loc]
                nc = 0
                for i in range(p, na):
                    jj = row_a[i]
                    if loc < 0:
                        t = t + dist_depot[a, jj] * mpk_a + repair[jj]
                    else:
                        t = t + dist_job[loc, jj] * mpk_a + repair[jj]
                    new_b[jj] = t
                    stamp_b[jj] = mark
                    if t != C[jj]:
                        changed[nc] = jj
                        nc += 1
                    loc = jj
                nb = n[b]
                mpk_b = min_per_km[b]
                for i in range(q, nb):
                    row_b[i] = seq[b, i]
                row_b[q] = j
                if q == 0:
                    t = avail[b]
                    loc = -1
                else:
                    loc = seq[b, q - 1]
                    t = C[loc]
                for i in range(q, nb):
                    jj = row_b[i]
                    if loc < 0:
                        t = t + dist_depot[b, jj] * mpk_b + repair[jj]
                    else:
                        t = t + dist_job[loc, jj] * mpk_b + repair[jj]
                    new_b[jj] = t
                    stamp_b[jj] = mark
                    if t != C[jj]:
                        changed[nc] = jj
                        nc += 1
                    loc = jj
            else:
                s = min(p, q)
                for i in range(s, na):
                    row_b[i] = seq[a, i]
                row_b[p] = j2
                row_b[q] = j
                if s == 0:
                    t = avail[a]
                    loc = -1
                else:
                    loc = seq[a, s - 1]
                    t = C[loc]
                nc = 0
                for i in range(s, na):
                    jj = row_b[i]
                    if loc < 0:
                        t = t + dist_depot[a, jj] * mpk_a + repair[jj]
                    else:
                        t = t + dist_job[loc, jj] * mpk_a + repair[jj]
                    new_b[jj] = t
                    stamp_b[jj] = mark
                    if t != C[jj]:
                        changed[nc] = jj
                        nc += 1
                    loc = jj
            d = 0.0
            if not has_prec:
                for i in range(nc):
                    jj = changed[i]
                    d += weight[jj] * (new_b[jj] - C[jj])
            else:
                for i in range(1, nc):
                    v = changed[i]
                    m = i - 1
                    while m >= 0 and pre_pos[changed[m]] > pre_pos[v]:
                        changed[m + 1] = changed[m]
                        m -= 1
                    changed[m + 1] = v
                end = -1
                for i in range(nc):
                    s0 = pre_pos[changed[i]]
                    if s0 < end:
                        continue
                    end = s0 + sub_size[changed[i]]
                    for pos in range(s0, end):
                        jj = pre_order[pos]
                        c = new_b[jj] if stamp_b[jj] == mark else C[jj]
                        pj = parent[jj]
                        if pj >= 0:
                            rp = new_r[pj] if stamp_r[pj] == mark else R[pj]
                            if rp > c:
                                c = rp
                        new_r[jj] = c
                        stamp_r[jj] = mark
                        d += weight[jj] * (c - R[jj])
            evals += 1
            if d < best_d:
                best_d, best_kind, best_b, best_q = d, 1, j2, -1
        if best_kind < 0:
            quiet += 1
            continue
        # --- apply the best move and recompute exactly (rare compared to evaluations)
        if best_kind == 0:
            for i in range(p, na - 1):
                seq[a, i] = seq[a, i + 1]
            n[a] = na - 1
            b = best_b
            for i in range(n[b], best_q, -1):
                seq[b, i] = seq[b, i - 1]
            seq[b, best_q] = j
            n[b] += 1
        elif best_kind == 2:
            q = best_q
            if q < p:
                for i in range(p, q, -1):
                    seq[a, i] = seq[a, i - 1]
            else:
                for i in range(p, q):
                    seq[a, i] = seq[a, i + 1]
            seq[a, q] = j
        else:
            j2 = best_b
            b = crew_of[j2]
            q = pos_of[j2]
            seq[a, p] = j2
            seq[b, q] = j
        new_obj = _recompute(seq, n, C, R, crew_of, pos_of, repair, weight, parent, pre_order,
                             dist_job, dist_depot, min_per_km, avail)
        obj = new_obj
        moves += 1
        quiet = 0
    state[0], state[1], state[2], state[3] = cursor, quiet, moves, mark
    return evals


# ---- exact branch and bound ----------------------------------------------------

@njit(cache=True)
def _bound(assigned, C, k_cur, t_cur, loc_cur, K, repair, weight, parent, pre_order,
           dist_job, dist_depot, min_per_km, avail, lb_c, lb_r):
    """Lower bound: unassigned jobs finish no earlier than on their best free crew."""
    J = C.shape[0]
    for j in range(J):
        if assigned[j]:
            lb_c[j] = C[j]
        else:
            best = t_cur + _travel(k_cur, loc_cur, j, dist_job, dist_depot, min_per_km) + repair[j]
            for k in range(k_cur + 1, K):
                v = avail[k] + dist_depot[k, j] * min_per_km[k] + repair[j]
                if v < best:
                    best = v
            lb_c[j] = best
    _restore_times(lb_c, parent, pre_order, lb_r)
    return _weighted_sum(weight, lb_r)


@njit(cache=True)
def _branch_and_bound(upper, best_seq, repair, weight, parent, pre_order,
                      dist_job, dist_depot, min_per_km, avail):
    """Exact search over all per-crew sequences (depth-first, bounded).

    A leaf is a string of the J jobs with K-1 crew separators; every schedule
    without idle time appears exactly once. ``best_seq`` (length J+K-1, -1 =
    separator) holds the incumbent and is overwritten by better leaves.
    Returns (best objective, nodes visited).
    """
    J = repair.shape[0]
    K = avail.shape[0]
    L = J + K - 1
    assigned = np.zeros(J, dtype=np.bool_)
    C = np.zeros(J)
    lb_c = np.empty(J)
    lb_r = np.empty(J)
    choice = np.full(L + 1, -1, dtype=np.int64)
    taken = np.zeros(L + 1, dtype=np.bool_)
    sv_k = np.zeros(L + 1, dtype=np.int64)
    sv_t = np.zeros(L + 1)
    sv_loc = np.zeros(L + 1, dtype=np.int64)
    cur = np.full(L, -1, dtype=np.int64)
    best = upper
    k = 0
    t = avail[0]
    loc = -1
    n_done = 0
    nodes = 0
    d = 0
    while d >= 0:
        if taken[d]:                      # undo the previous choice at this level
            c = choice[d]
            if c < J:
                assigned[c] = False
                n_done -= 1
            k, t, loc = sv_k[d], sv_t[d], sv_loc[d]
            taken[d] = False
        choice[d] += 1
        c = choice[d]
        if c > J:
            d -= 1
            continue
        if c < J:
            if assigned[c]:
                continue
            fin = t + _travel(k, loc, c, dist_job, dist_depot, min_per_km) + repair[c]
            assigned[c] = True
            C[c] = fin
            n_done += 1
            sv_k[d], sv_t[d], sv_loc[d] = k, t, loc
            taken[d] = True
            k_next, t_next, loc_next = k, fin, c
        else:
            if k == K - 1:
                continue
            sv_k[d], sv_t[d], sv_loc[d] = k, t, loc
            taken[d] = True
            k_next, t_next, loc_next = k + 1, avail[k + 1], -1
        nodes += 1
        cur[d] = c if c < J else -1
        lb = _bound(assigned, C, k_next, t_next, loc_next, K, repair, weight, parent, pre_order,
                    dist_job, dist_depot, min_per_km, avail, lb_c, lb_r)
        if n_done == J:                   # leaf: the bound is the exact objective
            if lb < best:
                best = lb
                for i in range(L):
                    best_seq[i] = cur[i] if i <= d else -1
            continue
        if lb >= best - 1e-12 * abs(best):
            continue
        k, t, loc = k_next, t_next, loc_next
        d += 1
        choice[d] = -1
        taken[d] = False
    return best, nodes


# ---- iterated local search (kicks + descents in one resumable kernel) ----------

_M32 = np.uint64(0xFFFFFFFF)


@njit(cache=True)
def _draw_below(words, cur, n):
    """``numpy.random.Generator.integers(0, n)`` (``n >= 1``) replayed on the generator's raw
    32-bit words (``words[cur:]``; numpy's Lemire rejection for 32-bit ranges): ``(value, cursor)``;
    the cursor is -1 when the words run out."""
    if cur < 0:
        return 0, -1
    rng = np.uint64(n - 1)
    if rng == 0:
        return 0, cur
    excl = rng + np.uint64(1)
    if cur >= words.shape[0]:
        return 0, -1
    m = np.uint64(words[cur]) * excl
    cur += 1
    left = m & _M32
    if left < excl:
        thr = (_M32 - rng) % excl
        while left < thr:
            if cur >= words.shape[0]:
                return 0, -1
            m = np.uint64(words[cur]) * excl
            cur += 1
            left = m & _M32
    return np.int64(m >> np.uint64(32)), cur


@njit(cache=True)
def _kick_rows(seq, n, words, cur):
    """Perturb the assignment in ``seq`` / ``n`` in place, as ``schedule._kick`` with
    ``rng.integers(2, 4)`` moves: each takes a random job of a random non-empty crew and inserts
    it at a random position of a random crew. Returns the new word cursor (-1: words ran out)."""
    K = n.shape[0]
    n_moves, cur = _draw_below(words, cur, 2)
    n_moves += 2
    for _ in range(n_moves):
        nonempty = 0
        for k in range(K):
            if n[k] > 0:
                nonempty += 1
        idx, cur = _draw_below(words, cur, nonempty)
        a = -1
        for k in range(K):
            if n[k] > 0:
                if idx == 0:
                    a = k
                    break
                idx -= 1
        p, cur = _draw_below(words, cur, n[a])
        j = seq[a, p]
        for i in range(p, n[a] - 1):
            seq[a, i] = seq[a, i + 1]
        n[a] -= 1
        b, cur = _draw_below(words, cur, K)
        q, cur = _draw_below(words, cur, n[b] + 1)
        if cur < 0:
            return -1
        for i in range(n[b], q, -1):
            seq[b, i] = seq[b, i - 1]
        seq[b, q] = j
        n[b] += 1
    return cur


@njit(cache=True)
def _ils_run(seq, n, best_seq, best_n, C, R, crew_of, pos_of, ls_state, ils, best_val, words,
             kicks, max_moves, max_evals, repair, weight, parent, pre_order, pre_pos, sub_size, has_prec,
             dist_job, dist_depot, min_per_km, avail):
    """Iterated local search: a descent from ``seq`` (recomputed by the caller), then up to
    ``kicks`` times a kick of the best assignment followed by a descent, kept when better.

    Resumable: ``ils = [phase, kicks done, word cursor]`` (phase 0 first descent, 1 a kick's
    descent, 2 ready to kick, 3 done) and ``ls_state`` (the descent's state, see
    :func:`_local_search_run`) persist between calls; ``best_val[0]`` is the best objective.
    Returns 0 after about ``max_evals`` move evaluations (the caller checks its clock and calls
    again), 1 when done, 2 when the random ``words`` ran out (the caller appends more and calls
    again; the kick is redone from its start)."""
    J = C.shape[0]
    K = n.shape[0]
    budget = max_evals
    while True:
        phase = ils[0]
        if phase == 0 or phase == 1:
            if ls_state[1] < J and ls_state[2] < max_moves:
                if budget <= 0:
                    return 0
                budget -= _local_search_run(seq, n, C, R, crew_of, pos_of, ls_state, budget, max_moves,
                                            repair, weight, parent, pre_order, pre_pos, sub_size, has_prec,
                                            dist_job, dist_depot, min_per_km, avail)
                continue
            val = _weighted_sum(weight, R)
            if phase == 0 or val < best_val[0]:
                best_val[0] = val
                for k in range(K):
                    best_n[k] = n[k]
                    for i in range(n[k]):
                        best_seq[k, i] = seq[k, i]
            if phase == 1:
                ils[1] += 1
            ils[0] = 2
        elif phase == 2:
            if ils[1] >= kicks:
                ils[0] = 3
                return 1
            for k in range(K):
                n[k] = best_n[k]
                for i in range(best_n[k]):
                    seq[k, i] = best_seq[k, i]
            cur = _kick_rows(seq, n, words, ils[2])
            if cur < 0:
                return 2
            ils[2] = cur
            for i in range(ls_state.shape[0]):
                ls_state[i] = 0
            _recompute(seq, n, C, R, crew_of, pos_of, repair, weight, parent, pre_order,
                       dist_job, dist_depot, min_per_km, avail)
            ils[0] = 1
        else:
            return 1


# ---- precedence forest ------------------------------------------------------------

@njit(cache=True)
def _preorder(parent):
    """Preorder of the forest ``parent`` (-1: a root; roots and siblings in index order) and the
    subtree sizes; jobs on a cycle are left out of the preorder."""
    J = parent.shape[0]
    indptr = np.zeros(J + 1, dtype=np.int64)
    for j in range(J):
        if parent[j] >= 0:
            indptr[parent[j] + 1] += 1
    for j in range(J):
        indptr[j + 1] += indptr[j]
    fill = indptr[:J].copy()
    children = np.empty(max(indptr[J], 1), dtype=np.int64)
    for j in range(J):
        pj = parent[j]
        if pj >= 0:
            children[fill[pj]] = j
            fill[pj] += 1
    stack = np.empty(max(J, 1), dtype=np.int64)
    top = 0
    for j in range(J - 1, -1, -1):
        if parent[j] < 0:
            stack[top] = j
            top += 1
    pre = np.empty(J, dtype=np.int64)
    m = 0
    while top > 0:
        top -= 1
        j = stack[top]
        pre[m] = j
        m += 1
        for i in range(indptr[j + 1] - 1, indptr[j] - 1, -1):
            stack[top] = children[i]
            top += 1
    size = np.ones(J, dtype=np.int64)
    for i in range(m - 1, -1, -1):
        j = pre[i]
        if parent[j] >= 0:
            size[parent[j]] += size[j]
    return pre[:m].copy(), size


# ---- list rules -----------------------------------------------------------------

@njit(cache=True)
def _list_order(priority, avail, repair, dist_job, dist_depot, min_per_km, crew_out):
    """List scheduling: each job of ``priority`` in turn to the crew that finishes it first (the
    first such crew on ties); ``crew_out[i]`` gets the crew of ``priority[i]``."""
    K = avail.shape[0]
    free = avail.copy()
    loc = np.full(K, -1, dtype=np.int64)
    for idx in range(priority.shape[0]):
        j = priority[idx]
        best = -1
        best_fin = 0.0
        for k in range(K):
            if loc[k] < 0:
                d = dist_depot[k, j]
            else:
                d = dist_job[loc[k], j]
            f = free[k] + d * min_per_km[k] + repair[j]
            if best < 0 or f < best_fin or (f != f and best_fin == best_fin):
                best = k
                best_fin = f
        crew_out[idx] = best
        free[best] = best_fin
        loc[best] = j


@njit(cache=True)
def _wspt_order(parent, pre_order, weight, repair, avail, dist_job, dist_depot, min_per_km, job_out, crew_out):
    """Travel-aware Smith's rule (``schedule.schedule_wspt``): dispatch ``i`` sends crew
    ``crew_out[i]`` (the first free) to job ``job_out[i]`` (the first of the highest score)."""
    J = weight.shape[0]
    K = avail.shape[0]
    free = avail.copy()
    loc = np.full(K, -1, dtype=np.int64)
    dispatched = np.zeros(J, dtype=np.bool_)
    restore = np.zeros(J)
    sub_w = weight.copy()
    sub_p = repair.copy()
    for idx in range(pre_order.shape[0] - 1, -1, -1):      # children before parents
        j = pre_order[idx]
        if parent[j] >= 0:
            sub_w[parent[j]] += sub_w[j]
            sub_p[parent[j]] += sub_p[j]
    for j in range(J):
        sub_p[j] = sub_p[j] - repair[j]
    for it in range(J):
        k = 0
        for kk in range(1, K):
            if free[kk] < free[k]:
                k = kk
        now = free[k]
        best = -1
        best_score = 0.0
        best_fin = 0.0
        best_rel = 0.0
        for j in range(J):
            if dispatched[j]:
                continue
            pj = parent[j]
            if pj >= 0 and not dispatched[pj]:
                continue
            if loc[k] < 0:
                d = dist_depot[k, j]
            else:
                d = dist_job[loc[k], j]
            fin = now + d * min_per_km[k] + repair[j]
            rel = fin
            if pj >= 0 and restore[pj] > fin:
                rel = restore[pj]
            dt = rel - now
            if dt < 1e-9:
                dt = 1e-9
            s1 = weight[j] / dt
            s2 = sub_w[j] / (dt + sub_p[j])
            score = s1 if s1 >= s2 else s2
            if s1 != s1 or s2 != s2:
                score = np.nan
            # numpy's argmax: the first maximum, a NaN counting as the maximum
            if best < 0 or (score != score and best_score == best_score) or score > best_score:
                best, best_score, best_fin, best_rel = j, score, fin, rel
        j = best
        job_out[it] = j
        crew_out[it] = k
        dispatched[j] = True
        restore[j] = best_rel
        free[k] = best_fin
        loc[k] = j
        a = parent[j]
        while a >= 0:                     # j leaves the undispatched part of its ancestors' subtrees
            sub_w[a] -= weight[j]
            sub_p[a] -= repair[j]
            a = parent[a]
