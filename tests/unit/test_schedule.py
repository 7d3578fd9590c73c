"""Crew scheduling (gridsim.restore.schedule): evaluation, strategies, exactness, errors.

The naive reference is brute force: every split of the jobs into ordered crew
sequences, each evaluated with :func:`evaluate`.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridsim.errors import GridsimError
from gridsim.restore.schedule import (
    STRATEGIES, ProblemTooLargeError, ScheduleInputError, ScheduleWarning, UnknownStrategyError,
    evaluate, make_problem, register, solve,
)
from gridsim.types import CustomerClass

# ---------------------------------------------------------------- helpers


def random_problem(rng, n_jobs, n_crews, *, precedence=True, travel=True):
    parent = np.full(n_jobs, -1)
    if precedence:
        for j in range(1, n_jobs):
            if rng.random() < 0.6:
                parent[j] = rng.integers(0, j)
        perm = rng.permutation(n_jobs)            # parents need not have smaller indices
        inv = np.argsort(perm)
        parent = np.where(parent[perm] >= 0, inv[np.maximum(parent[perm], 0)], -1)
    return make_problem(
        x_km=rng.uniform(0, 20, n_jobs), y_km=rng.uniform(0, 20, n_jobs),
        repair_min=rng.uniform(10, 120, n_jobs), weight=rng.integers(1, 100, n_jobs).astype(float),
        customers=rng.integers(1, 50, n_jobs), parent=parent,
        crew_x_km=rng.uniform(0, 20, n_crews), crew_y_km=rng.uniform(0, 20, n_crews),
        crew_speed_kmh=40.0, crew_available_from_min=rng.uniform(0, 30, n_crews),
        travel_factor=1.3 if travel else 0.0,
    )


def all_assignments(n_jobs, n_crews):
    """Every split of the jobs into ``n_crews`` ordered sequences (each exactly once)."""
    for perm in itertools.permutations(range(n_jobs)):
        for cuts in itertools.combinations_with_replacement(range(n_jobs + 1), n_crews - 1):
            b = [0, *cuts, n_jobs]
            yield [list(perm[b[i]:b[i + 1]]) for i in range(n_crews)]


def brute_force(problem):
    return min(evaluate(problem, a).weighted_cmi for a in all_assignments(problem.n_jobs, problem.n_crews))


def naive_restore(problem, finish):
    out = np.empty_like(finish)
    for j in range(problem.n_jobs):
        r, i = finish[j], problem.parent[j]
        while i >= 0:
            r = max(r, finish[i])
            i = problem.parent[i]
        out[j] = r
    return out


# ---------------------------------------------------------------- evaluate


def test_evaluate_hand_computed_example():
    """Three jobs, two crews; 1 min per km (60 km/h, travel_factor 1).

    ::

        crew 0 depot (0,0)        job 0 (3,4)  repair 20    w 2, 10 customers
                                  job 1 (3,0)  repair 10    w 5, 20 customers, parent = job 2
        crew 1 depot (10,0)       job 2 (10,6) repair 30    w 1, 30 customers, 2 hospitals on job 1
        crew 1 available from 15 min; crew 0 shift ends at 30 min

    crew 0 does [0, 1]: travel 5 (|(3,4)|), start 5, finish 25; travel 4, start 29, finish 39
    crew 1 does [2]:    starts 15, travel 6, start 21, finish 51
    R = [25, max(39, 51) = 51, 51]
    objective = 2*25 + 5*51 + 1*51 = 356;  CMI = 10*25 + 20*51 + 30*51 = 2800
    hospital hours = 2 * 51 / 60 = 1.7;  makespan 51;  overtime crew 0 = 39 - 30 = 9
    """
    pb = make_problem(
        x_km=[3, 3, 10], y_km=[4, 0, 6], repair_min=[20, 10, 30], weight=[2, 5, 1],
        customers=[10, 20, 30], parent=[-1, 2, -1],
        critical_by_class={CustomerClass.HOSPITAL: [0, 2, 0]},
        crew_x_km=[0, 10], crew_y_km=[0, 0], crew_speed_kmh=60.0,
        crew_available_from_min=[0, 15], crew_shift_end_min=[30, None], travel_factor=1.0,
    )
    s = evaluate(pb, [[0, 1], [2]])
    np.testing.assert_allclose(s.travel_min, [5, 4, 6])
    np.testing.assert_allclose(s.start_min, [5, 29, 21])
    np.testing.assert_allclose(s.finish_min, [25, 39, 51])
    np.testing.assert_allclose(s.restore_min, [25, 51, 51])
    assert s.weighted_cmi == pytest.approx(356)
    assert s.cmi == pytest.approx(2800)
    assert s.critical_h_by_class == {CustomerClass.HOSPITAL: pytest.approx(1.7)}
    assert s.makespan_min == pytest.approx(51)
    assert s.routes[0].overtime_min == pytest.approx(9) and s.routes[1].overtime_min == 0
    assert s.overtime_min == pytest.approx(9)
    assert s.crew.tolist() == [0, 0, 1]
    assert s.assignment == [[0, 1], [2]]
    np.testing.assert_allclose(s.routes[0].finish_min, [25, 39])
    frame = s.to_frame(pb)
    assert frame.loc[1, "restore_min"] == pytest.approx(51) and frame.loc[1, "position"] == 1


def test_restore_time_is_max_over_ancestors():
    """Chain 0 <- 1 <- 2 (job 2 is furthest downstream) plus a random forest.

    ::

        job 0 ── job 1 ── job 2        job 3 (no parent)
    """
    pb = make_problem(x_km=[0] * 4, y_km=[0] * 4, repair_min=[50, 10, 10, 5], weight=[1, 1, 1, 1],
                      parent=[-1, 0, 1, -1], crew_x_km=[0, 0], crew_y_km=[0, 0], crew_speed_kmh=30,
                      travel_factor=0)
    # crew 0 repairs the downstream jobs first (parallel work is allowed), crew 1 the upstream one
    s = evaluate(pb, [[2, 1, 3], [0]])
    np.testing.assert_allclose(s.finish_min, [50, 20, 10, 25])
    np.testing.assert_allclose(s.restore_min, [50, 50, 50, 25])
    rng = np.random.default_rng(3)
    for _ in range(20):
        pb = random_problem(rng, 9, 3)
        a = next(itertools.islice(all_assignments(9, 3), int(rng.integers(0, 5000)), None))
        s = evaluate(pb, a)
        np.testing.assert_allclose(s.restore_min, naive_restore(pb, s.finish_min))
        assert s.weighted_cmi == pytest.approx(float(pb.weight @ s.restore_min))


# ---------------------------------------------------------------- exact vs brute force


@pytest.mark.parametrize("precedence", [False, True])
@pytest.mark.parametrize("travel", [False, True])
def test_exact_equals_brute_force(precedence, travel):
    rng = np.random.default_rng(10 + 2 * precedence + travel)
    for _ in range(12):
        pb = random_problem(rng, int(rng.integers(1, 6)), 2, precedence=precedence, travel=travel)
        best = brute_force(pb)
        assert solve(pb, "exact").weighted_cmi == pytest.approx(best, rel=1e-12)


def test_exact_three_crews_and_other_starts():
    rng = np.random.default_rng(7)
    for _ in range(4):
        pb = random_problem(rng, 4, 3)
        best = brute_force(pb)
        for start in ("fifo", "wspt"):     # a poor incumbent must not change the optimum
            s = solve(pb, "exact", options={"start": start})
            assert s.weighted_cmi == pytest.approx(best, rel=1e-12)


def test_exact_refuses_big_instances():
    pb = random_problem(np.random.default_rng(0), 12, 3)
    with pytest.raises(ProblemTooLargeError, match="max_jobs=10.*local_search"):
        solve(pb, "exact")
    with pytest.raises(ProblemTooLargeError, match="max_jobs=5"):
        solve(random_problem(np.random.default_rng(0), 6, 2), "exact", options={"max_jobs": 5})


# ---------------------------------------------------------------- wspt = Smith's rule


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.5, 200), st.floats(0, 1000)), min_size=1, max_size=12),
       st.floats(0, 50))
def test_wspt_is_optimal_on_one_crew_without_travel(jobs, available_from):
    """Single crew, no travel, no precedence: Smith's rule (w/p descending) is optimal."""
    p = np.array([j[0] for j in jobs])
    w = np.array([j[1] for j in jobs])
    rng = np.random.default_rng(len(jobs))
    pb = make_problem(x_km=rng.uniform(0, 9, p.size), y_km=rng.uniform(0, 9, p.size), repair_min=p, weight=w,
                      crew_x_km=[0], crew_y_km=[0], crew_speed_kmh=50,
                      crew_available_from_min=[available_from], travel_factor=0.0)
    got = solve(pb, "wspt").weighted_cmi
    smith = evaluate(pb, [list(np.argsort(-w / p, kind="stable"))]).weighted_cmi
    assert got == pytest.approx(smith, rel=1e-9)
    if p.size <= 6:
        assert got == pytest.approx(brute_force(pb), rel=1e-9)


# ---------------------------------------------------------------- local search


@pytest.mark.parametrize("start", ["fifo", "most_customers", "critical_first", "wspt"])
def test_local_search_never_worse_than_its_start(start):
    rng = np.random.default_rng(len(start))
    for n_jobs, n_crews in [(2, 2), (6, 2), (8, 3), (30, 4), (80, 6)]:
        for precedence in (False, True):
            pb = random_problem(rng, n_jobs, n_crews, precedence=precedence)
            base = solve(pb, start).weighted_cmi
            ls = solve(pb, "local_search", options={"start": start, "time_limit_s": 1.0})
            assert ls.weighted_cmi <= base + 1e-9 * base


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.integers(1, 5), st.booleans())
def test_local_search_from_given_assignment(seed, n_jobs, n_crews, precedence):
    """Start from an arbitrary assignment; result valid and never worse (hypothesis)."""
    rng = np.random.default_rng(seed)
    pb = random_problem(rng, n_jobs, n_crews, precedence=precedence)
    crews = rng.integers(0, n_crews, n_jobs)
    start = [list(rng.permutation(np.flatnonzero(crews == k))) for k in range(n_crews)]
    ls = solve(pb, "local_search", options={"start": start, "time_limit_s": 1.0})
    assert sorted(itertools.chain(*ls.assignment)) == list(range(n_jobs))
    assert ls.weighted_cmi <= evaluate(pb, start).weighted_cmi * (1 + 1e-12)


def test_local_search_reaches_optimum_on_easy_instances():
    """Not a guarantee, a regression guard: small instances are mostly solved to optimality."""
    rng = np.random.default_rng(42)
    gaps = []
    for i in range(30):
        pb = random_problem(rng, int(rng.integers(2, 8)), int(rng.integers(2, 4)), precedence=bool(i % 2))
        gaps.append(solve(pb, "local_search").weighted_cmi / solve(pb, "exact").weighted_cmi - 1)
    assert np.mean(gaps) <= 0.03


# ---------------------------------------------------------------- list rules


def test_all_strategies_give_valid_schedules_with_precedence():
    pb = random_problem(np.random.default_rng(5), 7, 3)
    for name in STRATEGIES:
        s = solve(pb, name)
        assert s.strategy == name
        assert sorted(itertools.chain(*s.assignment)) == list(range(7))
        assert np.all(s.restore_min >= s.finish_min)


def test_list_rules_dispatch_upstream_jobs_first():
    """Job 0 is downstream of job 2; one crew, no travel.

    ::

        job 2 ── job 0        job 1
    """
    pb = make_problem(x_km=[0, 0, 0], y_km=[0, 0, 0], repair_min=[10, 10, 10], weight=[9, 1, 1],
                      customers=[90, 5, 1], parent=[2, -1, -1], crew_x_km=[0], crew_y_km=[0],
                      crew_speed_kmh=30, travel_factor=0,
                      critical_by_class={"hospital": [0, 1, 0]})
    assert solve(pb, "fifo").assignment == [[2, 0, 1]]
    assert solve(pb, "fifo", options={"upstream_first": False}).assignment == [[0, 1, 2]]
    assert solve(pb, "most_customers").assignment == [[2, 0, 1]]
    # job 2's subtree holds no critical customer, job 1 holds a hospital
    assert solve(pb, "critical_first").assignment == [[1, 2, 0]]
    # wspt looks ahead: job 2 releases job 0's weight, (1 + 9) / (10 + 10) > 1 / 10
    assert solve(pb, "wspt").assignment == [[2, 0, 1]]


def test_list_scheduling_picks_the_crew_that_finishes_first():
    """Two crews at x = 0 and x = 10 km (1 min/km); jobs at x = 9 and x = 1 go to the nearer crew."""
    pb = make_problem(x_km=[9, 1], y_km=[0, 0], repair_min=[10, 10], weight=[1, 1],
                      crew_x_km=[0, 10], crew_y_km=[0, 0], crew_speed_kmh=60, travel_factor=1.0)
    assert solve(pb, "fifo").assignment == [[1], [0]]


def test_no_jobs():
    pb = make_problem(x_km=[], y_km=[], repair_min=[], weight=[], crew_x_km=[0], crew_y_km=[0],
                      crew_speed_kmh=30)
    for name in STRATEGIES:
        s = solve(pb, name)
        assert s.assignment == [[]] and s.weighted_cmi == 0 and s.makespan_min == 0


# ---------------------------------------------------------------- registry


def test_register_a_strategy_and_unknown_names():
    @register("everything_to_crew_0")
    def _all_to_first(problem, *, reverse=False):
        jobs = list(range(problem.n_jobs))
        return [jobs[::-1] if reverse else jobs] + [[] for _ in range(problem.n_crews - 1)]

    try:
        pb = random_problem(np.random.default_rng(1), 4, 2)
        assert solve(pb, "everything_to_crew_0", options={"reverse": True}).assignment == [[3, 2, 1, 0], []]
        with pytest.raises(ScheduleInputError, match="does not take option.*'speed'.*reverse"):
            solve(pb, "everything_to_crew_0", options={"speed": 1})
    finally:
        del STRATEGIES["everything_to_crew_0"]
    with pytest.raises(UnknownStrategyError, match="'nope'.*critical_first, exact, exact_mip, fifo"):
        solve(pb, "nope")
    with pytest.raises(UnknownStrategyError):
        solve(pb, "local_search", options={"start": "nope"})


# ---------------------------------------------------------------- errors


def _kw(**over):
    kw = dict(x_km=[0, 1, 2], y_km=[0, 1, 2], repair_min=[10, 20, 30], weight=[1, 2, 3],
              crew_x_km=[0], crew_y_km=[0], crew_speed_kmh=30)
    kw.update(over)
    return kw


@pytest.mark.parametrize("over, match", [
    (dict(repair_min=[10, -1, 30]), r"repair_min is negative for job\(s\) 1"),
    (dict(weight=[1, 2, -3]), r"weight is negative for job\(s\) 2"),
    (dict(x_km=[0, np.nan, 2]), r"x_km is NaN or infinite for job\(s\) 1"),
    (dict(crew_y_km=[np.nan]), r"crew_y_km is NaN or infinite for crew\(s\) 0"),
    (dict(crew_x_km=[], crew_y_km=[], crew_speed_kmh=[]), "no crews"),
    (dict(crew_speed_kmh=[0]), "crew_speed_kmh must be > 0"),
    (dict(parent=[-1, 5, 0]), r"parent is out of range for job\(s\) 1"),
    (dict(parent=[1, 2, 0]), r"parent has a cycle through job\(s\) 0, 1, 2"),
    (dict(parent=[-1, 1, -1]), r"job\(s\) 1 are their own parent"),
    (dict(parent=[-1, 0]), "parent must be 3 integer"),
    (dict(weight=[1, 2]), "weight has 2 entries, expected one per job"),
    (dict(critical_by_class={"castle": [1, 0, 0]}), "unknown class 'castle'"),
    (dict(crew_available_from_min=[60], crew_shift_end_min=[30]), "end their shift before"),
    (dict(travel_factor=-1), "travel_factor"),
    (dict(job_ids=["a", "b"]), "job_ids has 2 entries"),
])
def test_problem_errors(over, match):
    with pytest.raises(ScheduleInputError, match=match) as info:
        make_problem(**_kw(**over))
    assert isinstance(info.value, GridsimError)


def test_error_messages_use_job_ids():
    with pytest.raises(ScheduleInputError, match=r"job\(s\) f17"):
        make_problem(**_kw(repair_min=[1, -2, 3], job_ids=["f3", "f17", "f20"]))


@pytest.mark.parametrize("assignment, match", [
    ([[0, 1], [2]], "2 crew sequences, the problem has 1 crews"),
    ([[0, 1]], r"job\(s\) 2 are not assigned"),
    ([[0, 1, 2, 1]], r"job\(s\) 1 are assigned more than once"),
    ([[0, 1, 7]], "outside 0..2"),
])
def test_assignment_errors(assignment, match):
    with pytest.raises(ScheduleInputError, match=match):
        evaluate(make_problem(**_kw()), assignment)


def test_problem_arrays_are_read_only():
    pb = make_problem(**_kw())
    with pytest.raises(ValueError):
        pb.repair_min[0] = 5.0


def neighbours(assignment):
    """Every relocate (job to any position of any crew) and swap (two jobs) of an assignment."""
    where = {j: (k, i) for k, s in enumerate(assignment) for i, j in enumerate(s)}
    for j, (a, p) in where.items():
        for b in range(len(assignment)):
            rows = [list(s) for s in assignment]
            rows[a].pop(p)
            for q in range(len(rows[b]) + 1):
                if (b, q) != (a, p):
                    yield [r if k != b else r[:q] + [j] + r[q:] for k, r in enumerate(rows)]
    for j, j2 in itertools.combinations(where, 2):
        rows = [list(s) for s in assignment]
        (a, p), (b, q) = where[j], where[j2]
        rows[a][p], rows[b][q] = j2, j
        yield rows


@pytest.mark.parametrize("precedence", [False, True])
def test_local_search_stops_at_a_true_local_optimum(precedence):
    """The incremental move evaluation agrees with evaluate(): no neighbour is better."""
    rng = np.random.default_rng(99 + precedence)
    for _ in range(15):
        pb = random_problem(rng, int(rng.integers(2, 12)), int(rng.integers(1, 4)), precedence=precedence)
        ls = solve(pb, "local_search", options={"start": "fifo", "time_limit_s": 30})
        for nb in neighbours(ls.assignment):
            assert evaluate(pb, nb).weighted_cmi >= ls.weighted_cmi * (1 - 1e-9)


# ---------------------------------------------------------------- exact_mip (HiGHS) vs brute force and exact


def mixed_problem(rng, n_jobs, n_crews, *, precedence=True, travel=True):
    """Like random_problem, with crews of different speeds and an availability of up to 60 min."""
    pb = random_problem(rng, n_jobs, n_crews, precedence=precedence, travel=travel)
    return make_problem(x_km=pb.x_km, y_km=pb.y_km, repair_min=pb.repair_min, weight=pb.weight,
                        parent=pb.parent, crew_x_km=pb.crew_x_km, crew_y_km=pb.crew_y_km,
                        crew_speed_kmh=rng.uniform(20, 60, n_crews),
                        crew_available_from_min=rng.uniform(0, 60, n_crews), travel_factor=pb.travel_factor)


@pytest.mark.parametrize("precedence", [False, True])
@pytest.mark.parametrize("travel", [False, True])
def test_exact_mip_equals_brute_force_and_exact(precedence, travel):
    """HiGHS MIP, own branch and bound and brute force agree (1..5 jobs, 1..3 crews)."""
    rng = np.random.default_rng(20 + 2 * precedence + travel)
    for i in range(6):
        n_jobs, n_crews = int(rng.integers(1, 6)), int(rng.integers(1, 4))
        make = mixed_problem if i % 2 else random_problem
        pb = make(rng, n_jobs, n_crews, precedence=precedence, travel=travel)
        best = brute_force(pb)
        mip = solve(pb, "exact_mip")
        assert mip.strategy == "exact_mip"
        assert sorted(itertools.chain(*mip.assignment)) == list(range(n_jobs))
        # HiGHS works with feasibility tolerances ~1e-7 (minutes); the sequence is evaluated exactly
        assert mip.weighted_cmi == pytest.approx(best, rel=1e-9)
        assert solve(pb, "exact").weighted_cmi == pytest.approx(mip.weighted_cmi, rel=1e-9)


def test_exact_mip_six_jobs_and_no_incumbent():
    """Six jobs on 2 and 3 crews; and without a start (no window from an incumbent)."""
    rng = np.random.default_rng(31)
    pb = mixed_problem(rng, 6, 2)
    best = brute_force(pb)
    assert solve(pb, "exact_mip").weighted_cmi == pytest.approx(best, rel=1e-9)
    assert solve(pb, "exact").weighted_cmi == pytest.approx(best, rel=1e-12)
    pb = mixed_problem(rng, 6, 3)          # brute force would take ~5 s; exact is checked against it above
    assert solve(pb, "exact_mip").weighted_cmi == pytest.approx(solve(pb, "exact").weighted_cmi, rel=1e-9)
    for _ in range(3):
        pb = mixed_problem(rng, int(rng.integers(2, 6)), int(rng.integers(1, 4)))
        s = solve(pb, "exact_mip", options={"start": None})
        assert s.weighted_cmi == pytest.approx(brute_force(pb), rel=1e-9)


def test_exact_mip_zero_times_make_no_subtours():
    """Jobs 1 and 2 are 50 km away, in the same place, with no repair time and a high weight.

    ::

        depot, job 0 (0,0) repair 10, w 1  ...50 km...  jobs 1, 2 (30,40) repair 0, w 100

    Optimal: [1, 2, 0] (both heavy jobs at 50 min, job 0 at 110). Without the position
    constraints a cycle 1 -> 2 -> 1 off the crew's route would "finish" them at 50 and job 0
    at 10, a cheaper but impossible schedule; the same with zero drive times everywhere.
    """
    pb = make_problem(x_km=[0, 30, 30], y_km=[0, 40, 40], repair_min=[10, 0, 0], weight=[1, 100, 100],
                      crew_x_km=[0], crew_y_km=[0], crew_speed_kmh=60, travel_factor=1.0)
    s = solve(pb, "exact_mip")
    assert s.assignment in ([[1, 2, 0]], [[2, 1, 0]]) and s.weighted_cmi == pytest.approx(10110)
    rng = np.random.default_rng(8)
    for _ in range(4):
        n = int(rng.integers(2, 6))
        rep = np.where(rng.random(n) < 0.5, 0.0, rng.uniform(5, 60, n))
        pb = make_problem(x_km=np.zeros(n), y_km=np.zeros(n), repair_min=rep,
                          weight=rng.integers(0, 50, n).astype(float), parent=[-1] + [0] * (n - 1),
                          crew_x_km=[0, 0], crew_y_km=[0, 0], crew_speed_kmh=30, travel_factor=0.0)
        s = solve(pb, "exact_mip")
        assert sorted(itertools.chain(*s.assignment)) == list(range(n))
        assert s.weighted_cmi == pytest.approx(brute_force(pb), rel=1e-9, abs=1e-9)


def test_exact_mip_refuses_big_instances_and_warns_at_its_time_limit():
    with pytest.raises(ProblemTooLargeError, match="max_jobs=7.*'exact' or 'local_search'"):
        solve(random_problem(np.random.default_rng(0), 8, 2), "exact_mip")
    with pytest.raises(ProblemTooLargeError, match="max_crews=3"):
        solve(random_problem(np.random.default_rng(0), 4, 4), "exact_mip")
    pb = random_problem(np.random.default_rng(1), 8, 2)      # about a minute to prove optimal
    with pytest.warns(ScheduleWarning, match="not proven optimal"):
        s = solve(pb, "exact_mip", options={"time_limit_s": 0.05, "max_jobs": 8})
    assert sorted(itertools.chain(*s.assignment)) == list(range(8))
    assert s.weighted_cmi <= solve(pb, "wspt").weighted_cmi * (1 + 1e-12)


# ---------------------------------------------------------------- kernels vs plain-Python references
# The list rules, Smith's rule and the iterated local search run in Numba (_schedule_kernels);
# these references are the plain numpy / Python versions they replaced, step for step, so the
# assignments must be *identical* (same ties, same floating-point sums), not just as good.


def ref_list_schedule(pb, priority):
    K = pb.n_crews
    free = pb.crew_available_from_min.astype(np.float64).copy()
    loc = np.full(K, -1, dtype=np.int64)
    out = [[] for _ in range(K)]
    for j in priority:
        dist = np.where(loc < 0, pb.dist_depot_km[:, j], pb.dist_job_km[np.maximum(loc, 0), j])
        fin = free + dist * pb.min_per_km + pb.repair_min[j]
        k = int(np.argmin(fin))
        out[k].append(int(j))
        free[k] = fin[k]
        loc[k] = j
    return out


def ref_wspt(pb):
    J, K = pb.n_jobs, pb.n_crews
    out = [[] for _ in range(K)]
    parent, w, p = pb.parent, pb.weight, pb.repair_min
    free = pb.crew_available_from_min.astype(np.float64).copy()
    loc = np.full(K, -1, dtype=np.int64)
    dispatched = np.zeros(J, dtype=bool)
    restore = np.zeros(J)
    sub_w = pb.subtree_sum(w)
    sub_p = pb.subtree_sum(p) - p
    has_parent = parent >= 0
    par = np.maximum(parent, 0)
    for _ in range(J):
        k = int(np.argmin(free))
        now = free[k]
        cand = np.flatnonzero(~dispatched & (~has_parent | dispatched[par]))
        dist = pb.dist_depot_km[k, cand] if loc[k] < 0 else pb.dist_job_km[loc[k], cand]
        fin = now + dist * pb.min_per_km[k] + p[cand]
        rel = np.where(has_parent[cand], np.maximum(fin, restore[par[cand]]), fin)
        dt = np.maximum(rel - now, 1e-9)
        i = int(np.argmax(np.maximum(w[cand] / dt, sub_w[cand] / (dt + sub_p[cand]))))
        j = int(cand[i])
        out[k].append(j)
        dispatched[j] = True
        restore[j] = rel[i]
        free[k] = fin[i]
        loc[k] = j
        a = int(parent[j])
        while a >= 0:
            sub_w[a] -= w[j]
            sub_p[a] -= p[j]
            a = int(parent[a])
    return out


def ref_forest_preorder(parent):
    J = parent.shape[0]
    order = np.argsort(parent, kind="stable")
    counts = np.bincount(parent[parent >= 0], minlength=J) if J else np.zeros(0, dtype=np.int64)
    n_roots = int(np.count_nonzero(parent < 0))
    indptr = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    children, pre, stack = order[n_roots:], [], list(order[:n_roots][::-1])
    while stack:
        j = stack.pop()
        pre.append(int(j))
        stack.extend(children[indptr[j]:indptr[j + 1]][::-1].tolist())
    size = np.ones(J, dtype=np.int64)
    for j in pre[::-1]:
        if parent[j] >= 0:
            size[parent[j]] += size[j]
    return np.asarray(pre, dtype=np.int64), size


def ref_local_search(pb, *, start="wspt", max_moves=1_000_000, kicks=30, seed=0):
    """The iterated local search as a Python loop: descents with the move kernel, kicks drawn
    with ``Generator.choice`` / ``integers`` (``schedule._kick``), objectives from evaluate()."""
    from gridsim.restore._schedule_kernels import _local_search_run, _recompute
    from gridsim.restore.schedule import _kernel_args, _kick, _resolve_start

    J, K = pb.n_jobs, pb.n_crews
    init = _resolve_start(pb, start)
    if J < 2:
        return init
    args = _kernel_args(pb)

    def descend(asg):
        seq = np.full((K, J + 1), -1, dtype=np.int64)
        n = np.zeros(K, dtype=np.int64)
        for k, s in enumerate(asg):
            seq[k, :len(s)] = s
            n[k] = len(s)
        C, R = np.zeros(J), np.zeros(J)
        crew_of, pos_of = np.zeros(J, dtype=np.int64), np.zeros(J, dtype=np.int64)
        (repair, weight, parent, pre_order, _, _, _, dist_job, dist_depot, min_per_km, avail) = args
        _recompute(seq, n, C, R, crew_of, pos_of, repair, weight, parent, pre_order, dist_job, dist_depot,
                   min_per_km, avail)
        state = np.zeros(4, dtype=np.int64)
        while state[1] < J and state[2] < max_moves:
            _local_search_run(seq, n, C, R, crew_of, pos_of, state, 20_000, max_moves, *args)
        return [seq[k, :n[k]].tolist() for k in range(K)]

    best = descend(init)
    best_val = evaluate(pb, best).weighted_cmi
    rng = np.random.default_rng(seed)
    for _ in range(kicks):
        cand = descend(_kick(best, rng, int(rng.integers(2, 4))))
        val = evaluate(pb, cand).weighted_cmi
        if val < best_val:
            best, best_val = cand, val
    return best if best_val <= evaluate(pb, init).weighted_cmi else init


def test_random_draws_replayed_on_raw_words_match_the_generator():
    from gridsim.restore._schedule_kernels import _draw_below
    from gridsim.restore.schedule import _raw_words

    for seed in range(200):
        rng = np.random.default_rng([seed, 7])
        words = _raw_words(np.random.default_rng([seed, 7]), 400)
        highs = np.random.default_rng(seed).integers(1, 2**31, 60)
        highs[::3] = np.random.default_rng(seed + 1).integers(1, 12, 20)       # small ranges too, and 1
        cur = 0
        for h in highs.tolist():
            got, cur = _draw_below(words, cur, h)
            assert got == rng.integers(h)
        assert _draw_below(words[:0], 0, 5)[1] == -1                            # out of words


def test_kick_kernel_matches_the_python_kick():
    from gridsim.restore._schedule_kernels import _kick_rows
    from gridsim.restore.schedule import _kick, _raw_words, _seq_arrays

    rng = np.random.default_rng(3)
    for seed in range(300):
        J, K = int(rng.integers(2, 15)), int(rng.integers(1, 6))
        asg = [[] for _ in range(K)]
        for j in rng.permutation(J).tolist():
            asg[int(rng.integers(K))].append(j)
        ref_rng = np.random.default_rng(seed)
        expected = _kick(asg, ref_rng, int(ref_rng.integers(2, 4)))
        seq, n = _seq_arrays(asg, J, K)
        cur = _kick_rows(seq, n, _raw_words(np.random.default_rng(seed), 64), 0)
        assert cur > 0
        assert [seq[k, :n[k]].tolist() for k in range(K)] == expected


@pytest.mark.parametrize("precedence", [False, True])
def test_schedule_kernels_match_the_plain_references(precedence):
    from gridsim.restore.schedule import _forest_preorder, _list_schedule

    rng = np.random.default_rng(11 + precedence)
    for i in range(60):
        J, K = int(rng.integers(0, 25)), int(rng.integers(1, 6))
        pb = random_problem(rng, J, K, precedence=precedence, travel=bool(i % 3))
        if i % 4 == 0:      # ties everywhere: same place, same repair, same weight
            pb = make_problem(x_km=np.zeros(J), y_km=np.zeros(J), repair_min=np.full(J, 60.0), weight=np.ones(J),
                              parent=pb.parent, crew_x_km=np.zeros(K), crew_y_km=np.zeros(K), crew_speed_kmh=40.0)
        prio = rng.permutation(J)
        assert _list_schedule(pb, prio) == ref_list_schedule(pb, prio)
        assert STRATEGIES["wspt"](pb) == ref_wspt(pb)
        pre, size = _forest_preorder(pb.parent)
        ref_pre, ref_size = ref_forest_preorder(pb.parent)
        assert np.array_equal(pre, ref_pre) and np.array_equal(size, ref_size)
        if 2 <= J <= 14:
            kw = {"seed": i, "kicks": 12} if i % 2 else {}
            assert STRATEGIES["local_search"](pb, **kw) == ref_local_search(pb, **kw)


def test_forest_preorder_leaves_out_cycles_like_the_reference():
    from gridsim.restore.schedule import _forest_preorder

    rng = np.random.default_rng(5)
    for _ in range(300):
        J = int(rng.integers(0, 20))
        parent = np.where(rng.random(J) < 0.6, rng.integers(0, max(J, 1), J), -1)     # cycles, self-loops
        pre, size = _forest_preorder(parent)
        ref_pre, ref_size = ref_forest_preorder(parent)
        assert np.array_equal(pre, ref_pre) and np.array_equal(size, ref_size)
