"""Automation advisor (gridsim advise): greedy placement of remote switches on a hand-built feeder."""
from __future__ import annotations

import pandas as pd
import pytest

from gridsim.cli import main
from gridsim.reliability import expected_reliability
from gridsim.scenarios.advise import AdviseError, advise
from tests.unit.test_flisr import feeder_net


def _hospital_model(make_model):
    """feeder_net: A1 ─CB s0─ l0 ─ n2 ─s1─ l1 ─ n3 ─ l2 ─ n4 ─s2─ l3 ─ n5 ─(open tie st1)─ feeder B.

    A hospital at n2, right upstream of the manual switch s1 (near the substation); the manual
    switch s2 is far out on the feeder. For every fault on l1..l3 the hospital comes back only
    when s1 (isolation) is open: remote s1 = back in seconds, manual s1 = a crew (45 min).
    s2 protects the hospital for faults on l3 only. Breakers and the tie are remote.
    """
    net, ids = feeder_net()
    meta = {"devices": {"remote_switches": [int(ids[k]) for k in ("s0", "sb", "sc", "st1")]}}
    m = make_model(net, meta=meta)
    cust = m.customers.copy()
    hosp = pd.DataFrame([{"customer_id": "hospital-1", "bus": int(ids["n2"]), "class": "hospital", "count": 1,
                          "p_kw": 50.0, "priority": 1.0, "channels": "sms;web"}])
    m = make_model(net, meta=meta, customers=pd.concat([cust, hosp], ignore_index=True))
    return m, ids


def test_switch_protecting_the_hospital_wins(make_model):
    m, ids = _hospital_model(make_model)
    res = advise(m, 1, max_candidates=None, actions=("convert",))
    assert len(res.placements) == 1
    p = res.placements[0]
    assert (p.action, p.target) == ("convert", f"switch:{int(ids['s1'])}")
    assert p.critical_h_after < p.critical_h_before and p.saidi_after <= p.saidi_before
    # the given model is not modified; the figures are those of a full re-evaluation
    assert not m.devices.loc[m.devices["switch_id"] == int(ids["s1"]), "remote"].any()
    full = expected_reliability(res.final_model)
    assert full.system["saidi"] == pytest.approx(res.saidi_end)
    assert full.critical_exposure["outage_h_per_yr"].sum() == pytest.approx(res.critical_h_end)
    # the shortlist (default) picks the same
    assert advise(m, 1, actions=("convert",)).placements[0].target == p.target
    # the far switch s2 also helps, less
    s2 = advise(m, 2, max_candidates=None, actions=("convert",)).placements
    assert [x.target for x in s2] == [p.target, f"switch:{int(ids['s2'])}"]
    assert s2[1].score < s2[0].score
    # with new switches allowed too, the hospital still gains
    both = advise(m, 1, max_candidates=None).placements[0]
    assert both.critical_h_after < both.critical_h_before


def test_greedy_re_evaluates_and_budget_beyond_candidates(make_model):
    m, ids = _hospital_model(make_model)
    res = advise(m, 50, max_candidates=None)
    assert 1 <= len(res.placements) < 50 and res.notes
    targets = [p.target for p in res.placements]
    assert len(set(targets)) == len(targets)
    for a, b in zip(res.placements, res.placements[1:]):     # steps chain
        assert b.saidi_before == pytest.approx(a.saidi_after)
    assert res.saidi_end <= res.saidi_start and res.critical_h_end <= res.critical_h_start
    full = expected_reliability(res.final_model)
    assert full.system["saidi"] == pytest.approx(res.saidi_end)


@pytest.mark.parametrize("budget,what", [(0, "switch"), (-1, "switch"), (1, "bogus"), (1, "tie"), (True, "switch")])
def test_bad_arguments(make_model, budget, what):
    m, _ = _hospital_model(make_model)
    with pytest.raises(AdviseError):
        advise(m, budget, what)


@pytest.mark.parametrize("args,needle", [
    (["advise", "cigre_mv", "--budget", "0"], "--budget"),
    (["advise", "cigre_mv", "--budget", "-2"], "--budget"),
    (["advise", "cigre_mv", "--budget", "1", "--what", "poles"], "--what"),
    (["advise", "cigre_mv", "--budget", "1", "--what", "tie"], "not implemented"),
])
def test_cli_bad_input_one_line_exit_2(args, needle, capsys):
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error:") and needle in err and len(err.splitlines()) == 1


def test_cli_advise_json(capsys):
    code = main(["advise", "cigre_mv", "--budget", "1", "--json"])
    assert code == 0
    import json
    d = json.loads(capsys.readouterr().out)
    assert d["budget"] == 1 and d["saidi_end"] <= d["saidi_start"]
