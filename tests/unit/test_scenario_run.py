"""Scenario simulation (run_scenario) and paired strategy comparison (compare_strategies)."""
from __future__ import annotations

import math
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import pandapower as pp
import pytest
import yaml

from gridsim.scenarios import compare_strategies, load_scenario, parse_scenario, run_scenario, scenario_storm

from test_flisr import feeder_net

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.fixture(scope="module")
def feeder_dir(tmp_path_factory):
    """feeder_net (two substations, tie st1 at n5) as a model folder: every switch remote, the
    feeder-head breaker s0 a recloser, customers written out:

    ::

        A1 ─REC s0─ l0 ─ n2 ─ s1 ─ l1 ─ n3 ─ l2 ─ n4 ─ s2 ─ l3 ─ n5 ── tie st1 (open) ── m5
        customers:       10          20        1 hospital +29     40
        B1 ─CB sb─ lb0 ─ m2 (50) ─ lb1 ─ m5          C1 ─CB sc─ lc0 ─ k2 (50)

    200 customers served.
    """
    d = tmp_path_factory.mktemp("feeder")
    net, ids = feeder_net()
    pp.to_json(net, str(d / "net.json"))
    pd.DataFrame({
        "customer_id": ["c2", "c3", "h4", "c4", "c5", "m2", "k2"],
        "bus": [int(ids[b]) for b in ["n2", "n3", "n4", "n4", "n5", "m2", "k2"]],
        "class": ["residential", "residential", "hospital", "residential", "residential", "residential",
                  "residential"],
        "count": [10, 20, 1, 29, 40, 50, 50], "p_kw": [2.0] * 7,
    }).to_csv(d / "customers.csv", index=False)
    meta = {"devices": {"remote_switches": [int(x) for x in net.switch.index],
                        "switch_kinds": {int(ids["s0"]): "recloser"}}}
    (d / "model.yaml").write_text(yaml.safe_dump(meta))
    return d, ids


def _scenario(feeder_dir, faults: str, strategies: str = "[wspt]"):
    d, ids = feeder_dir
    text = f"""
model: {d}
customers: {d / 'customers.csv'}
start: 2025-01-06T08:00:00
faults:
{faults.format(**{k: int(v) for k, v in ids.items()})}
crews: {{count: 1}}
strategies: {strategies}
"""
    return parse_scenario(text)


STORM = """
  - {{element: "line:{l2}", time_min: 10, repair_min: 100, cause: vegetation}}
  - {{element: "line:{lb1}", time_min: 30, repair_min: 60, cause: weather}}
"""
TEMPORARY = """
  - {{element: "line:{l1}", time_min: 300, temporary: true, cause: weather}}
"""


def test_hand_worked_storm(feeder_dir):
    r = run_scenario(_scenario(feeder_dir, STORM + TEMPORARY))
    # F1 line l2 at t=10: recloser s0 trips, n2..n5 (10+20+1+29+40 = 100 customers) out.
    #   FLISR, all remote, 30 s each: open s1 at 10.5, open s2 at 11.0, reclose s0 at 11.5 (n2 back),
    #   close tie st1 at 12.0 (n5 back). n3, n4 (20+1+29 = 50) wait for the repair.
    #   The one crew (no coordinates: no travel) repairs l2 from 10 to 110.
    # F2 line lb1 at t=30: breaker sb trips, m2 (50) out; m2 is in the faulted section (lb0..lb1 carry no
    #   other device), so it waits for the repair: the crew is busy until 110, repairs 110..170.
    # F3 temporary on l1 at t=300: the recloser s0 clears it, n2..n5 (100) back after 2 s.
    log = r.interruptions.sort_values(["start_min", "customer_id"]).reset_index(drop=True)
    got = {(c, o): (round(s, 6), round(e, 6)) for c, o, s, e in
           zip(log.customer_id, log.outage_id, log.start_min, log.end_min)}
    assert got == {
        ("c2", "F1"): (10, 11.5), ("c3", "F1"): (10, 110), ("c4", "F1"): (10, 110), ("c5", "F1"): (10, 12),
        ("h4", "F1"): (10, 110), ("m2", "F2"): (30, 170),
        **{(c, "F3"): (300, round(300 + 2 / 60, 6)) for c in ("c2", "c3", "c4", "c5", "h4")},
    }
    assert log.loc[log.outage_id == "F1", "cause"].eq("vegetation").all()
    assert (log.start[0] == pd.Timestamp("2025-01-06T08:10:00"))
    ind = r.indices
    # sustained (> 5 min): c3 20 + h4 1 + c4 29 for 100 min, m2 50 for 140 min
    assert ind.saifi == pytest.approx((20 + 1 + 29 + 50) / 200)            # 0.5
    assert ind.saidi == pytest.approx((50 * 100 + 50 * 140) / 200)          # 60 min
    assert ind.cmi == pytest.approx(12_000)
    # momentary: c2 (1.5 min) + c5 (2 min) after F1's switching, and all 100 of F3's reclosing
    assert ind.maifi == pytest.approx((10 + 40 + 100) / 200)                # 0.75
    assert r.critical_hours_by_class["hospital"] == pytest.approx(100 / 60)
    # ETRs: F1 given 110 at t=10; F2 given at t=30: crew free at 110 + 60 repair = 170; both exact
    etr = r.etr_accuracy.set_index("outage_id")
    assert etr.loc["F1", "first_etr_min"] == pytest.approx(110)
    assert etr.loc["F2", "first_etr_min"] == pytest.approx(170)
    assert etr["error_min"].abs().max() == pytest.approx(0)
    assert r.last_restored_min == pytest.approx(170)                      # sustained only
    assert r.last_restored == pd.Timestamp("2025-01-06T10:50:00")
    # timeline: customers out after each event
    tl = r.timeline
    assert list(tl.columns) == ["time", "t_min", "event", "element", "detail", "customers_out"]
    at = lambda ev, el: int(tl[(tl.event == ev) & (tl.element == el)].customers_out.iloc[0])  # noqa: E731
    assert at("fault", "line:2") == 100
    assert at("fault", f"line:{int(feeder_dir[1]['lb1'])}") == 50 + 50   # n3/n4 + m2
    assert at("repair_end", "line:2") == 50                               # m2 still out
    assert tl.customers_out.iloc[-1] == 0
    assert set(tl.event) >= {"fault", "trip", "switch", "plan", "crew_dispatch", "repair_start", "repair_end",
                             "reclose"}


def test_temporary_fault_on_recloser_is_momentary(feeder_dir):
    with_temp = run_scenario(_scenario(feeder_dir, STORM + TEMPORARY)).indices
    without = run_scenario(_scenario(feeder_dir, STORM)).indices
    only = run_scenario(_scenario(feeder_dir, TEMPORARY))
    assert only.indices.maifi == pytest.approx(100 / 200) and only.indices.saifi == 0
    assert only.interruptions.duration_min.max() < 5
    assert with_temp.saifi == without.saifi and with_temp.saidi == without.saidi
    assert with_temp.maifi == pytest.approx(without.maifi + 0.5)
    assert only.last_restored is None and math.isnan(only.last_restored_min)


def test_replan_off_plans_once(feeder_dir):
    r = run_scenario(_scenario(feeder_dir, STORM), replan=False)
    # planned once at t=30 (the last fault): the crew only sets off then. wspt takes l2 first (its
    # hospital weighs more than lb1's 50 homes): l2 30..130, lb1 130..190.
    # SAIDI = (50 x (130 - 10) + 50 x (190 - 30)) / 200 = (6000 + 8000) / 200 = 70
    assert r.indices.saidi == pytest.approx(70)
    assert r.etr_accuracy.set_index("element").loc["line:2", "actual_min"] == pytest.approx(130)
    assert (r.timeline.event == "plan").sum() == 1


@pytest.mark.parametrize("name", ["single_fault", "storm_small", "planned_maintenance"])
def test_bundled_scenarios_run(name):
    s = load_scenario(SCENARIOS / f"{name}.yaml")
    r = run_scenario(s)
    assert r.indices.customers_served == r.customers_served > 0
    assert (r.interruptions.end >= r.interruptions.start).all()
    assert r.timeline.customers_out.iloc[-1] == 0
    if name == "single_fault":
        # line:17: the fuse on line 40 trips 2,408 customers, all back by switching (docs/flisr.md)
        assert r.interruptions["count"].sum() == 2408
        assert r.indices.saifi == pytest.approx(2408 / 18566)
    if name == "storm_small":
        assert r.indices.maifi > 0           # line:99 is temporary
        assert set(r.etr_accuracy.element) == {"line:40", "line:17", "trafo:114"}
    if name == "planned_maintenance":
        assert (r.interruptions.cause == "planned").all()
        assert r.interruptions.duration_min.eq(480).all()
        assert len(r.notices) == len(r.interruptions)
        assert (r.notices.notice_time == pd.Timestamp("2025-03-03T08:00")).all()


def test_paired_storms_and_executor_equivalence():
    s = load_scenario(SCENARIOS / "storm_montecarlo.yaml")
    strategies = ["wspt", "fifo", "critical_first"]
    serial = compare_strategies(s, strategies, 4)
    t = serial.table
    assert len(t) == 4 * 3 and list(t.strategy[:3]) == strategies
    for run, g in t.groupby("run"):
        assert g.faults.nunique() == 1                      # the same storm for every strategy
        storm = scenario_storm(s, run)
        assert g.n_faults.iloc[0] == len(storm)
        assert g.faults.iloc[0].split(";")[0].split("@")[0] == storm.labels(serial_topo(s))[0]
    assert t.groupby("run").faults.first().nunique() == 4   # different runs, different storms
    summ = serial.summary.set_index(["strategy", "metric"])
    assert summ.loc[("wspt", "saidi"), "diff_mean"] == 0
    d = (t[t.strategy == "fifo"].saidi.to_numpy() - t[t.strategy == "wspt"].saidi.to_numpy()).mean()
    assert summ.loc[("fifo", "saidi"), "diff_mean"] == pytest.approx(d)
    lo, hi = summ.loc[("fifo", "saidi"), ["diff_lo", "diff_hi"]]
    assert lo <= d <= hi
    with ProcessPoolExecutor(2) as ex:
        par = compare_strategies(s, strategies, 4, executor=ex)
    pd.testing.assert_frame_equal(serial.table, par.table)
    pd.testing.assert_frame_equal(serial.summary, par.summary)


def serial_topo(s):
    from gridsim.scenarios.simulate import scenario_context

    return scenario_context(s).topo


def test_energy_not_supplied_uses_the_rows_demand():
    """ENS of a run = sum over sustained log rows of the customers-table row's demand
    (p_kw is the row's total there) x hours out: computed here from the model alone."""
    root = Path(__file__).resolve().parents[2]
    sc = load_scenario(root / "scenarios" / "single_fault.yaml")
    res = run_scenario(sc)
    cust = sc.load_model().customers.set_index("customer_id")
    log = res.interruptions
    sus = log[log["duration_min"] > 5]
    expected = float((cust.loc[sus["customer_id"], "p_kw"].to_numpy() * sus["duration_min"].to_numpy() / 60).sum())
    assert expected > 0
    assert res.indices.ens_kwh == pytest.approx(expected, rel=1e-9)


def test_compare_table_holds_the_figures_of_run_scenario():
    """compare_strategies sums the interruption log up without building run_scenario's frames: its
    figures are run_scenario's, to the last bit (same sums in the same order)."""
    s = load_scenario(SCENARIOS / "compare_strategies.yaml")
    strategies = ["fifo", "most_customers", "critical_first", "wspt", "local_search"]
    t = compare_strategies(s, strategies, [0, 3]).table
    for row in t.to_dict("records"):
        r = run_scenario(s, run=row["run"], strategy=row["strategy"])
        ind = r.indices
        assert (row["saidi"], row["saifi"], row["maifi"], row["cmi"], row["weighted_cmi"]) == \
            (ind.saidi, ind.saifi, ind.maifi, ind.cmi, r.weighted_cmi)
        for c, h in r.critical_hours_by_class.items():
            assert row[f"crit_h_{c}"] == h
        assert row["last_restored_min"] == r.last_restored_min or (
            math.isnan(row["last_restored_min"]) and math.isnan(r.last_restored_min))


def test_replans_that_cannot_commit_are_skipped_without_changing_the_repairs(monkeypatch):
    """In a comparison the crews are not re-planned while every crew is busy past the next fault
    (nothing could set off before it): the repairs are those of the full simulation."""
    from gridsim.restore.plan import _Replanner
    from gridsim.scenarios.simulate import RECLOSE_S, _Prepared, _schedule, scenario_context

    calls = []
    plan = _Replanner.plan
    monkeypatch.setattr(_Replanner, "plan", lambda self, *a, **k: calls.append(1) or plan(self, *a, **k))
    s = load_scenario(SCENARIOS / "compare_strategies.yaml")
    ctx = scenario_context(s)
    n_full = n_lean = 0
    for run in range(3):
        prep = _Prepared(s, scenario_storm(s, run, ctx=ctx), ctx, RECLOSE_S)
        for strat in ("fifo", "wspt", "local_search"):
            calls.clear()
            full = _schedule(prep, strat, True, None, [])
            n_full += len(calls)
            calls.clear()
            lean = _schedule(prep, strat, True, None, None)
            n_lean += len(calls)
            assert lean["committed"] == full["committed"]
    assert n_lean < n_full / 2        # most re-plans of a 20-fault storm with 5 crews commit nothing
