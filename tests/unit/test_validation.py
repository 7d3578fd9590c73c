"""Each validation check on a small broken net (see the tiny_net sketch in conftest.py)."""
from __future__ import annotations

import pandas as pd
import pandapower as pp
import pytest

from gridsim.errors import ModelValidationError
from gridsim.model import assert_valid, validate_model


def codes(issues):
    return {i.code for i in issues}


def only(issues, code):
    found = [i for i in issues if i.code == code]
    assert found, f"no {code} issue in {[str(i) for i in issues]}"
    return found


def test_valid_net_has_no_issues(tiny_net, make_model):
    assert validate_model(make_model(tiny_net)) == []
    assert assert_valid(make_model(tiny_net)) == []


def test_unknown_bus_on_line_names_line_and_bus(tiny_net, make_model):
    tiny_net.line.at[1, "to_bus"] = 942
    (issue,) = only(validate_model(make_model(tiny_net)), "unknown_bus")
    assert (issue.element, issue.field, issue.ids) == ("line", "to_bus", (1,))
    assert "line 1 refers to bus 942, which does not exist" in issue.message
    assert "add the bus or drop the line" in issue.message


@pytest.mark.parametrize("table, column", [("load", "bus"), ("ext_grid", "bus"), ("switch", "bus")])
def test_unknown_bus_on_other_tables(tiny_net, make_model, table, column):
    idx = tiny_net[table].index[0]
    tiny_net[table].at[idx, column] = 77
    issues = only(validate_model(make_model(tiny_net)), "unknown_bus")
    assert any(i.element == table and i.ids == (idx,) and "bus 77" in i.message for i in issues)


def test_unknown_bus_on_trafo_and_sgen(tiny_net, make_model):
    hv = pp.create_bus(tiny_net, vn_kv=110.0)
    t = pp.create_transformer(tiny_net, hv, 0, std_type="25 MVA 110/20 kV")
    tiny_net.trafo.at[t, "hv_bus"] = 500
    pp.create_sgen(tiny_net, 2, p_mw=0.1)
    tiny_net.sgen.at[0, "bus"] = 501
    issues = only(validate_model(make_model(tiny_net)), "unknown_bus")
    assert {(i.element, i.field, i.ids) for i in issues} == {("trafo", "hv_bus", (t,)), ("sgen", "bus", (0,))}


def test_switch_on_unknown_line(tiny_net, make_model):
    tiny_net.switch.at[1, "element"] = 99
    (issue,) = only(validate_model(make_model(tiny_net)), "switch_unknown_element")
    assert issue.ids == (1,) and "line 99" in issue.message


def test_switch_on_unknown_bus_element(tiny_net, make_model):
    sw = pp.create_switch(tiny_net, 2, 3, et="b")
    tiny_net.switch.at[sw, "element"] = 123
    (issue,) = only(validate_model(make_model(tiny_net)), "switch_unknown_element")
    assert issue.ids == (sw,) and "bus 123" in issue.message


def test_line_switch_not_at_line_end(tiny_net, make_model):
    tiny_net.switch.at[0, "bus"] = 3  # line 0 joins b0 and b1
    (issue,) = only(validate_model(make_model(tiny_net)), "switch_bus_not_on_element")
    assert issue.ids == (0,) and "bus 3" in issue.message and "line 0" in issue.message


def test_duplicate_index(tiny_net, make_model):
    tiny_net.line = pd.concat([tiny_net.line, tiny_net.line.loc[[2]]])
    (issue,) = only(validate_model(make_model(tiny_net)), "duplicate_index")
    assert issue.element == "line" and issue.ids == (2,)


def test_duplicate_customer_id(tiny_net, make_model):
    model = make_model(tiny_net)
    model.customers.loc[1, "customer_id"] = model.customers.loc[0, "customer_id"]
    (issue,) = only(validate_model(model), "duplicate_customer_id")
    assert issue.ids == ("L0",)


def test_no_source(tiny_net, make_model):
    tiny_net.ext_grid["in_service"] = False
    issues = validate_model(make_model(tiny_net))
    (issue,) = only(issues, "no_source")
    assert "create_ext_grid" in issue.message
    with pytest.raises(ModelValidationError, match="no source"):
        assert_valid(make_model(tiny_net))


def test_slack_gen_counts_as_source(tiny_net, make_model):
    tiny_net.ext_grid["in_service"] = False
    pp.create_gen(tiny_net, 0, p_mw=0.0, slack=True)
    assert "no_source" not in codes(validate_model(make_model(tiny_net)))


def test_customer_on_unknown_bus(tiny_net, make_model):
    model = make_model(tiny_net)
    model.customers.loc[0, "bus"] = 4242
    (issue,) = only(validate_model(model), "customer_unknown_bus")
    assert issue.ids == ("L0",) and "bus 4242" in issue.message


def test_negative_count(tiny_net, make_model):
    model = make_model(tiny_net)
    model.customers.loc[1, "count"] = -3
    (issue,) = only(validate_model(model), "negative_count")
    assert issue.ids == ("L1",) and issue.field == "count"


def test_negative_p_kw(tiny_net, make_model):
    model = make_model(tiny_net)
    model.customers.loc[0, "p_kw"] = -1.0
    (issue,) = only(validate_model(model), "negative_p_kw")
    assert issue.ids == ("L0",)


def test_negative_line_length(tiny_net, make_model):
    tiny_net.line.at[2, "length_km"] = -0.5
    (issue,) = only(validate_model(make_model(tiny_net)), "negative_length")
    assert issue.ids == (2,) and issue.element == "line"


def test_unknown_customer_class(tiny_net, make_model):
    model = make_model(tiny_net)
    model.customers.loc[1, "class"] = "hosp"
    (issue,) = only(validate_model(model), "unknown_customer_class")
    assert issue.ids == ("L1",) and "hosp" in issue.message


def test_unsupported_impedance_refused_by_name(tiny_net, make_model):
    imp = pp.create_impedance(tiny_net, 2, 3, rft_pu=0.01, xft_pu=0.01, sn_mva=1.0)
    (issue,) = only(validate_model(make_model(tiny_net)), "unsupported_element")
    assert issue.element == "impedance" and issue.ids == (imp,) and "impedance" in issue.message


def test_unsupported_dcline_refused_by_name(tiny_net, make_model):
    dc = pp.create_dcline(tiny_net, 2, 3, p_mw=0.1, loss_percent=1.0, loss_mw=0.0, vm_from_pu=1.0, vm_to_pu=1.0)
    (issue,) = only(validate_model(make_model(tiny_net)), "unsupported_element")
    assert issue.element == "dcline" and issue.ids == (dc,)


def test_out_of_service_impedance_is_accepted(tiny_net, make_model):
    pp.create_impedance(tiny_net, 2, 3, rft_pu=0.01, xft_pu=0.01, sn_mva=1.0, in_service=False)
    assert "unsupported_element" not in codes(validate_model(make_model(tiny_net)))


def test_yaml_device_on_unknown_line(tiny_net, make_model):
    meta = {"devices": {"fuses": [{"line": 77, "bus": 1}, 2]}}
    (issue,) = only(validate_model(make_model(tiny_net, meta)), "device_unknown_element")
    assert issue.ids == ("fuse:line:77",) and "model.yaml" in issue.message


def test_yaml_device_bus_not_on_line(tiny_net, make_model):
    meta = {"devices": {"reclosers": [{"line": 1, "bus": 3}]}}
    (issue,) = only(validate_model(make_model(tiny_net, meta)), "device_bus_not_on_element")
    assert issue.ids == ("recloser:line:1",)


def test_yaml_unknown_switch(tiny_net, make_model):
    meta = {"devices": {"remote_switches": [0, 55], "switch_kinds": {66: "recloser"}}}
    issues = only(validate_model(make_model(tiny_net, meta)), "device_unknown_switch")
    assert {(i.field, i.ids) for i in issues} == {("remote_switches", (55,)), ("switch_kinds", (66,))}


def test_unsupplied_buses_are_a_warning(tiny_net, make_model):
    tiny_net.switch.at[1, "closed"] = False  # b3 cut off behind the open LBS
    issues = validate_model(make_model(tiny_net))
    (issue,) = only(issues, "unsupplied_buses")
    assert issue.severity == "warning" and issue.ids == (3,)
    assert assert_valid(make_model(tiny_net)) == issues  # warnings do not raise


def test_assert_valid_carries_all_errors(tiny_net, make_model):
    tiny_net.line.at[2, "length_km"] = -1.0
    tiny_net.line.at[1, "to_bus"] = 942
    with pytest.raises(ModelValidationError) as exc:
        assert_valid(make_model(tiny_net))
    assert codes(exc.value.issues) == {"unknown_bus", "negative_length"}
    assert "line 1 refers to bus 942" in str(exc.value)
