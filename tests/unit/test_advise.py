"""Automation advisor (gridsim advise): greedy placement of remote switches and new ties on hand-built feeders."""
from __future__ import annotations

import copy
import itertools
import json
import math

import pandapower as pp
import pandas as pd
import pytest
import yaml

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


@pytest.mark.parametrize("budget,what", [(0, "switch"), (-1, "switch"), (1, "bogus"), (1, "Tie"), (True, "switch")])
def test_bad_arguments(make_model, budget, what):
    m, _ = _hospital_model(make_model)
    with pytest.raises(AdviseError):
        advise(m, budget, what)


@pytest.mark.parametrize("args,needle", [
    (["advise", "cigre_mv", "--budget", "0"], "--budget"),
    (["advise", "cigre_mv", "--budget", "-2"], "--budget"),
    (["advise", "cigre_mv", "--budget", "1", "--what", "poles"], "--what"),
    (["advise", "cigre_mv", "--budget", "1", "--what", "tie", "--max-tie-km", "0"], "--max-tie-km"),
    (["advise", "cigre_mv", "--budget", "1", "--what", "tie", "--max-tie-km", "-1.5"], "--max-tie-km"),
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


# --------------------------------------------------------------------------- new ties

CABLE = "NA2XS2Y 1x240 RM/25 12/20 kV"
RATES = {"line_cs_per_km": 0.1, "trafo": 0.0, "trafo3w": 0.0, "switch": 0.0, "bus": 0.0}   # line faults only


def _feeders(layout: dict, *, customers: dict, loads_mw: dict, thin: dict | None = None):
    """One substation per feeder: ``X0`` (110 kV, ext grid) ═trafo═ ``Xb`` (20 kV busbar), then the
    feeder buses ``x1``, ``x2``... in a chain. Line ``lx1`` joins ``Xb``-``x1`` with a breaker at
    ``Xb``; line ``lxk`` joins ``x(k-1)``-``xk`` with a load-break switch at ``x(k-1)``. Every line is
    1 km of ``CABLE``; every switch is remote. ``layout``: feeder letter -> [(x, y) km of Xb, x1, ...];
    ``customers``: bus -> [(class, count)]; ``loads_mw``: bus -> MW; ``thin``: line -> max_i_ka.
    Returns (net, meta, customers table, ids by name, feeder of every feeder bus)."""
    net = pp.create_empty_network(sn_mva=1.0)
    ids, feeder_of, xy = {}, {}, {}
    for f, pts in layout.items():
        hv = pp.create_bus(net, 110.0, name=f"{f}0")
        pp.create_ext_grid(net, hv)
        prev = None
        for k, (x, y) in enumerate(pts):
            name = f"{f}b" if k == 0 else f"{f.lower()}{k}"
            ids[name] = b = pp.create_bus(net, 20.0, name=name)
            xy[b] = (x, y)
            if k == 0:
                xy[hv] = (x, y)
                pp.create_transformer(net, hv, b, std_type="25 MVA 110/20 kV")
            else:
                feeder_of[name] = f
                ln = f"l{f.lower()}{k}"
                ids[ln] = pp.create_line(net, prev, b, length_km=1.0, std_type=CABLE, name=ln)
                ids[f"s{ln}"] = pp.create_switch(net, prev, ids[ln], et="l", type="CB" if k == 1 else "LBS",
                                                 closed=True)
            prev = b
    net.bus["x"] = [xy[b][0] for b in net.bus.index]
    net.bus["y"] = [xy[b][1] for b in net.bus.index]
    for ln, i_ka in (thin or {}).items():
        net.line.at[ids[ln], "max_i_ka"] = i_ka
    for b, mw in loads_mw.items():
        pp.create_load(net, ids[b], p_mw=mw, q_mvar=0.2 * mw)
    rows = [{"customer_id": f"{b}-{cls}", "bus": int(ids[b]), "class": cls, "count": n, "p_kw": 1.0,
             "priority": 1.0, "channels": "sms"} for b, lst in customers.items() for cls, n in lst]
    meta = {"devices": {"remote_switches": [int(i) for i in net.switch.index]}}
    return net, meta, pd.DataFrame(rows), ids, feeder_of


def _two_feeders():
    """Two parallel feeders 0.5 km apart, 100 customers on each feeder bus, everything remote::

        y=0.5  B0 ═ Bb ─CB─ lb1 ─ b1 ─LBS─ lb2 ─ b2
        y=0    A0 ═ Ab ─CB─ la1 ─ a1 ─LBS─ la2 ─ a2
        x:          0             1              2
    """
    layout = {"A": [(0, 0), (1, 0), (2, 0)], "B": [(0, 0.5), (1, 0.5), (2, 0.5)]}
    return _feeders(layout, customers={b: [("residential", 100)] for b in ("a1", "a2", "b1", "b2")},
                    loads_mw={b: 0.5 for b in ("a1", "a2", "b1", "b2")})


def _three_feeders():
    """Long feeders A and B 1.2 km apart, a hospital at A's far end a4; a small feeder C whose head
    cable lc1 is thin (12 A: it carries C's 0.2 MW, not a bus of A more) ends 0.6 km from a3 / a4::

        y=1.2   B0 ═ Bb ─CB─ b1 ─LBS─ b2 ─LBS─ b3 ─LBS─ b4
        y=0     A0 ═ Ab ─CB─ a1 ─LBS─ a2 ─LBS─ a3 ─LBS─ a4 (hospital)
        y=-0.6                    C0 ═ Cb ─CB(lc1, 12 A)─ c1 ─LBS─ c2
        x:             0     1      2       3       4         (Cb at x=2, c1 at 3, c2 at 4)

    Each line is 1 km (each feeder bus "xk" hangs below line "lxk"), 0.4 MW and 100 customers per
    bus of A and B, 0.1 MW and 50 customers per bus of C. The obvious tie is a4-b4: for a fault on
    la1, la2 or la3 everything below the fault's section (a2-a4, a3-a4, a4 with the hospital)
    comes back through it in a minute, and b4 does the same for B. a3-b3 misses the la3 fault,
    a4-c2 is the shortest but C cannot carry any bus of A (only C's own c2 gains)."""
    layout = {"A": [(0, 0), (1, 0), (2, 0), (3, 0), (4, 0)], "B": [(0, 1.2), (1, 1.2), (2, 1.2), (3, 1.2), (4, 1.2)],
              "C": [(2, -0.6), (3, -0.6), (4, -0.6)]}
    cust = {b: [("residential", 100)] for b in ("a1", "a2", "a3", "a4", "b1", "b2", "b3", "b4")}
    cust.update({"c1": [("residential", 50)], "c2": [("residential", 50)]})
    cust["a4"] = [("residential", 100), ("hospital", 1)]
    loads = {b: 0.4 for b in ("a1", "a2", "a3", "a4", "b1", "b2", "b3", "b4")}
    loads.update({"c1": 0.1, "c2": 0.1})
    return _feeders(layout, customers=cust, loads_mw=loads, thin={"lc1": 0.012})


def _figures(model) -> tuple[float, float]:
    r = expected_reliability(model, rates=RATES)
    return r.system["saidi"], float(r.critical_exposure["outage_h_per_yr"].sum())


def _brute_force_ties(make_model, net, meta, cust, ids, feeder_of, max_km: float):
    """Reference: every pair of feeder buses on different feeders within ``max_km`` (straight line),
    each tried on its own copy of the pandapower net (a CABLE line, 1.3 x the distance, with an open
    remote load-break switch at its *higher* bus id), scored with expected_reliability."""
    s0, c0 = _figures(make_model(net, meta=meta, customers=cust))
    out = {}
    for u, v in itertools.combinations(sorted(feeder_of), 2):
        if feeder_of[u] == feeder_of[v]:
            continue
        bu, bv = int(ids[u]), int(ids[v])
        d = math.dist(net.bus.loc[bu, ["x", "y"]], net.bus.loc[bv, ["x", "y"]])
        if d > max_km:
            continue
        n2 = copy.deepcopy(net)
        lid = pp.create_line(n2, bu, bv, length_km=1.3 * d, std_type=CABLE)
        sid = pp.create_switch(n2, max(bu, bv), lid, et="l", type="LBS", closed=False)
        m2 = {"devices": {"remote_switches": meta["devices"]["remote_switches"] + [int(sid)]}}
        s, c = _figures(make_model(n2, meta=m2, customers=cust))
        score = (s0 - s) / s0 + ((c0 - c) / c0 if c0 > 0 else 0.0)
        out[f"bus:{min(bu, bv)}-bus:{max(bu, bv)}"] = (score, s, c, 1.3 * d, (u, v))
    return s0, c0, out


def test_tie_hand_computed_saidi(make_model):
    """Two feeders, 400 customers, faults on the 4 lines only (0.1 /yr each, 480 min repair).

    Without a tie: a fault on la1 leaves a1 and a2 out until the repair (the breaker trips, a1 is in
    the faulted section, a2 has no way back): 0.1 * 200 * 480 = 9600 customer min; on la2 the
    remote LBS isolates and the breaker recloses a1 within a minute (momentary), a2 waits:
    0.1 * 100 * 480 = 4800; the same on B: SAIDI = 2 * 14400 / 400 = 72 min/yr. With a tie a2-b2
    the la1 fault gives a2 back through it within a minute: 4800 + 4800 per feeder, SAIDI = 48,
    score = (72 - 48) / 72 = 1/3 (no critical customers). A tie a1-b1 gains nothing (a1 is in
    the faulted section or restored by reclosing)."""
    net, meta, cust, ids, _ = _two_feeders()
    m = make_model(net, meta=meta, customers=cust)
    res = advise(m, 3, "tie", rates=RATES, max_candidates=None, max_tie_km=1.0)
    assert res.candidates == {"convert": 0, "new_switch": 0, "new_tie": 2}     # a1-b1, a2-b2
    assert res.saidi_start == pytest.approx(72.0)
    assert len(res.placements) == 1 and "no candidate improves" in res.notes[0]
    p = res.placements[0]
    a2, b2 = int(ids["a2"]), int(ids["b2"])
    assert (p.action, p.target) == ("new_tie", f"bus:{min(a2, b2)}-bus:{max(a2, b2)}")
    assert p.saidi_after == pytest.approx(48.0) and res.saidi_end == pytest.approx(48.0)
    assert p.score == pytest.approx(1 / 3)
    assert p.length_km == pytest.approx(0.5 * 1.3)
    # the placed line and switch are in the final model: a normally-open cable with a remote switch
    fm = res.final_model
    lid = int(p.line.split(":")[1])
    sid = int(p.device.split(":")[1])
    assert {int(fm.net.line.at[lid, "from_bus"]), int(fm.net.line.at[lid, "to_bus"])} == {a2, b2}
    assert fm.net.line.at[lid, "length_km"] == pytest.approx(0.65)
    assert fm.net.line.at[lid, "r_ohm_per_km"] == pytest.approx(0.122)     # CABLE, the model's only cable
    assert not fm.net.switch.at[sid, "closed"] and int(fm.net.switch.at[sid, "element"]) == lid
    assert fm.devices.set_index("device_id").at[p.device, "remote"]
    assert len(fm.net.line) == 5 and len(m.net.line) == 4                  # the given model is untouched


def test_best_tie_matches_brute_force(make_model):
    net, meta, cust, ids, feeder_of = _three_feeders()
    m = make_model(net, meta=meta, customers=cust)
    s0, c0, ref = _brute_force_ties(make_model, net, meta, cust, ids, feeder_of, 1.5)
    best = max(ref, key=lambda k: ref[k][0])
    assert set(ref[best][4]) == {"a4", "b4"}                        # the obvious one (see the sketch)
    decoy = next(k for k, v in ref.items() if set(v[4]) == {"a4", "c2"})
    assert ref[decoy][3] < ref[best][3] and 0 < ref[decoy][0] < ref[best][0] / 5   # shorter, far worse
    for mc in (None, 30):
        res = advise(m, 1, "tie", rates=RATES, max_candidates=mc)
        assert res.saidi_start == pytest.approx(s0) and res.critical_h_start == pytest.approx(c0)
        p = res.placements[0]
        assert (p.action, p.target) == ("new_tie", best)
        score, s, c, km, _ = ref[best]
        assert p.saidi_after == pytest.approx(s) and p.critical_h_after == pytest.approx(c)
        assert p.score == pytest.approx(score) and p.length_km == pytest.approx(km)


def test_decoy_tie_is_refused_by_the_capacity_check(make_model):
    """Why a4-c2 loses: FLISR refuses to feed a4 through C's 12 A head cable."""
    from gridsim.core import compile_topology
    from gridsim.restore.flisr import plan_flisr

    net, meta, cust, ids, _ = _three_feeders()
    n2 = copy.deepcopy(net)
    lid = pp.create_line(n2, ids["a4"], ids["c2"], length_km=0.78, std_type=CABLE)
    sid = pp.create_switch(n2, ids["a4"], lid, et="l", type="LBS", closed=False)
    m2 = make_model(n2, meta={"devices": {"remote_switches": meta["devices"]["remote_switches"] + [int(sid)]}},
                    customers=cust)
    plan = plan_flisr(compile_topology(m2), f"line:{int(ids['la3'])}")     # a4 is the island
    assert not any(s.purpose == "transfer" for s in plan.steps)
    assert any(f"line:{int(ids['lc1'])}" in a.reason for a in plan.infeasible)


def test_score_is_the_exact_full_model_difference(make_model):
    """The advisor re-plans only the faults a candidate can change; its score must equal the change
    of the whole model's SAIDI and critical hours (full re-evaluation) at every step."""
    net, meta, cust, _, _ = _three_feeders()
    meta = copy.deepcopy(meta)
    meta["devices"]["remote_switches"] = meta["devices"]["remote_switches"][::2]    # half the switches manual
    m = make_model(net, meta=meta, customers=cust)
    for what in ("tie", "switch", "both"):
        res = advise(m, 3, what, rates=RATES, max_candidates=None)
        assert res.placements
        for p in res.placements:
            exact = ((p.saidi_before - p.saidi_after) / res.saidi_start
                     + (p.critical_h_before - p.critical_h_after) / res.critical_h_start)
            assert p.score == pytest.approx(exact, rel=1e-9, abs=1e-12)
        s, c = _figures(res.final_model)
        assert s == pytest.approx(res.saidi_end) and c == pytest.approx(res.critical_h_end)


def test_both_mixes_switches_and_ties(make_model):
    net, meta, cust, _, _ = _three_feeders()
    meta = copy.deepcopy(meta)
    meta["devices"]["remote_switches"] = meta["devices"]["remote_switches"][::2]
    m = make_model(net, meta=meta, customers=cust)
    sw = advise(m, 1, "switch", rates=RATES, max_candidates=None).placements[0]
    tie = advise(m, 1, "tie", rates=RATES, max_candidates=None).placements[0]
    both = advise(m, 2, "both", rates=RATES, max_candidates=None)
    first = max((sw, tie), key=lambda p: p.score)
    assert (both.placements[0].action, both.placements[0].target) == (first.action, first.target)
    assert both.placements[0].score == pytest.approx(first.score)
    assert both.candidates["new_tie"] > 0 and both.candidates["convert"] > 0
    assert both.placements[1].saidi_before == pytest.approx(both.placements[0].saidi_after)
    # actions narrows the kinds
    only = advise(m, 1, "both", rates=RATES, max_candidates=None, actions=("new_tie",))
    assert only.placements[0].target == tie.target


def test_max_tie_km_limits_the_candidates(make_model):
    net, meta, cust, ids, _ = _three_feeders()
    m = make_model(net, meta=meta, customers=cust)
    # 1.0 km: only the ties to C (0.6 km) are left; C's own c2 gains through a4-c2 (lc1 fault)
    res = advise(m, 1, "tie", rates=RATES, max_candidates=None, max_tie_km=1.0)
    assert res.candidates["new_tie"] == 2
    a4, c2 = int(ids["a4"]), int(ids["c2"])
    assert res.placements[0].target == f"bus:{min(a4, c2)}-bus:{max(a4, c2)}"
    none = advise(m, 1, "tie", rates=RATES, max_tie_km=0.1)
    assert none.placements == [] and none.candidates["new_tie"] == 0 and "no candidates" in none.notes[0]


@pytest.mark.parametrize("kwargs,field", [
    ({"max_tie_km": 0}, "max_tie_km"), ({"max_tie_km": -1.0}, "max_tie_km"),
    ({"max_tie_km": float("nan")}, "max_tie_km"), ({"max_tie_km": "1"}, "max_tie_km"),
    ({"tie_route_factor": 0.9}, "tie_route_factor"), ({"tie_route_factor": float("inf")}, "tie_route_factor"),
    ({"actions": ("new_tie",)}, "actions"), ({"actions": ("poles",)}, "actions"),
])
def test_bad_tie_arguments(make_model, kwargs, field):
    net, meta, cust, _, _ = _two_feeders()
    m = make_model(net, meta=meta, customers=cust)
    with pytest.raises(AdviseError, match=field) as e:
        advise(m, 1, "switch" if "actions" in kwargs else "tie", **kwargs)
    assert "\n" not in str(e.value)


def test_ties_need_coordinates(make_model):
    m, _ = _hospital_model(make_model)                 # feeder_net has no bus coordinates
    with pytest.raises(AdviseError, match="coordinates"):
        advise(m, 1, "tie")
    res = advise(m, 1, "both", max_candidates=None)    # switches still placed, ties left out with a note
    assert res.placements and any("no new ties" in n for n in res.notes)


def test_cli_advise_tie(tmp_path, make_model, capsys):
    net, meta, cust, ids, _ = _two_feeders()
    d = tmp_path / "two_feeders"
    d.mkdir()
    pp.to_json(net, str(d / "net.json"))
    cust.to_csv(d / "customers.csv", index=False)
    (d / "model.yaml").write_text(yaml.safe_dump({"name": "two_feeders", "devices": meta["devices"],
                                                  "reliability": {"rates": RATES}}))
    assert main(["advise", str(d), "--budget", "1", "--what", "tie", "--max-tie-km", "1"]) == 0
    text = capsys.readouterr().out
    a2, b2 = int(ids["a2"]), int(ids["b2"])
    assert "new tie" in text and f"bus:{min(a2, b2)}-bus:{max(a2, b2)} (0.65 km)" in text
    assert "72.00 → 48.00" in text and "1.3 × straight-line distance" in text
    assert main(["advise", str(d), "--budget", "1", "--what", "both", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["placements"][0]["action"] == "new_tie" and out["placements"][0]["line"].startswith("line:")
    assert out["candidates"]["new_tie"] == 2 and out["tie_cable"]["std_type"] == CABLE
