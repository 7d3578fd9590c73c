"""The command line: real runs of `gridsim` through its entry point, exit codes and one-line errors."""
import json
import subprocess
import sys

import pandas as pd
import pytest

from gridsim.cli import main


def run(args, capsys):
    code = main(args)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_impact_json_matches_api(capsys):
    from gridsim import compile_topology, find_affected, load_model
    code, out, err = run(["impact", "cigre_mv", "--fault", "line:3", "--json"], capsys)
    assert code == 0, err
    d = json.loads(out)
    topo = compile_topology(load_model("cigre_mv"))
    imp = find_affected(topo, ["line:3"])
    assert d["customers_unsupplied"] == imp.customers
    assert d["buses"] == [int(b) for b in imp.buses]
    assert d["tripping"][0]["device"] == imp.trips[0].device


@pytest.mark.parametrize("args, needle", [
    (["impact", "cigre_mv", "--fault", "line:99999"], "line 99999 does not exist"),
    (["impact", "cigre_mv", "--fault", "pole:3"], "unknown element type"),
    (["impact", "cigre_mv", "--fault", "line:x"], "line:x"),
    (["sweep", "no_such_model"], "no_such_model"),
    (["sweep", "cigre_mv", "--out", "table.txt"], ".csv or .parquet"),
])
def test_user_errors_give_one_line_and_exit_2(args, needle, capsys):
    code, out, err = run(args, capsys)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert needle in lines[0]
    assert "Traceback" not in err + out


def test_malformed_customers_file(tmp_path, capsys):
    bad = tmp_path / "customers.csv"
    bad.write_text("customer_id,bus,class,count\nA,1,hosp,1\n")
    code, out, err = run(["impact", "cigre_mv", "--fault", "line:3", "--customers", str(bad)], capsys)
    assert code == 2
    assert "customers.csv" in err and "Traceback" not in err


def test_missing_option_is_usage_error_exit_2(capsys):
    code, out, err = run(["impact", "cigre_mv"], capsys)
    assert code == 2


def test_sweep_writes_table(tmp_path, capsys):
    target = tmp_path / "n1.csv"
    code, out, err = run(["sweep", "cigre_mv", "--out", str(target)], capsys)
    assert code == 0, err
    df = pd.read_csv(target)
    for col in ("element_type", "element_id", "buses_unsupplied", "customers_unsupplied", "critical_unsupplied",
                "tripping_device", "customers_interrupted"):
        assert col in df.columns
    assert "single faults of cigre_mv" in out


def test_validate_and_customers(tmp_path, capsys):
    code, out, err = run(["validate", "cigre_mv"], capsys)
    assert code == 0 and "valid" in out
    target = tmp_path / "c.csv"
    code, out, err = run(["customers", "cigre_mv", "--out", str(target)], capsys)
    assert code == 0
    assert list(pd.read_csv(target).columns[:6]) == ["customer_id", "bus", "class", "count", "p_kw", "priority"]


def test_console_script_help():
    r = subprocess.run([sys.executable, "-m", "gridsim.cli", "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for cmd in ("models", "validate", "customers", "sweep", "impact", "demo"):
        assert cmd in r.stdout


def test_flisr_json_contract(capsys):
    from gridsim import compile_topology, load_model
    from gridsim.restore import plan_flisr
    code, out, err = run(["flisr", "mv_oberrhein", "--fault", "line:17", "--json"], capsys)
    assert code == 0, err
    d = json.loads(out)
    for key in ("fault", "tripping_device", "customers_interrupted", "customers_until_repair",
                "critical_until_repair", "steps"):
        assert key in d
    plan = plan_flisr(compile_topology(load_model("mv_oberrhein")), "line:17")
    assert d["customers_until_repair"] == plan.customers_until_repair
    assert [s["device"] for s in d["steps"]] == [s.device for s in plan.steps]
    for s in d["steps"]:
        assert s["action"] in ("open", "close") and isinstance(s["remote"], bool)
        assert s["device"].startswith(("switch:", "fuse:line:", "recloser:line:", "source:"))
        if s["purpose"] == "transfer":
            assert s["max_loading_percent"] > 0 and 0.9 < s["min_vm_pu"] < 1.1


def test_flisr_table_and_sweep_flisr(tmp_path, capsys):
    code, out, err = run(["flisr", "mv_oberrhein", "--fault", "line:17"], capsys)
    assert code == 0, err
    assert "Switching plan" in out and "restored by switching" in out
    path = tmp_path / "n1.csv"
    code, out, err = run(["sweep", "cigre_mv", "--flisr", "--out", str(path)], capsys)
    assert code == 0, err
    df = pd.read_csv(path)
    assert {"customers_restored_by_switching", "customers_until_repair", "critical_until_repair"} <= set(df)


@pytest.mark.parametrize("args, needle", [
    (["flisr", "cigre_mv", "--fault", "line:99999"], "line 99999 does not exist"),
    (["flisr", "cigre_mv", "--fault", "line:3", "--capacity", "magic"], "capacity"),
    (["flisr", "cigre_mv", "--fault", "line:3", "--max-loading", "-5"], "max_loading_percent"),
])
def test_flisr_user_errors(args, needle, capsys):
    code, out, err = run(args, capsys)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], err


def test_flisr_out_of_service_element(tmp_path, capsys):
    import pandapower as pp
    from gridsim import load_model
    net = load_model("cigre_mv").net
    net = pp.from_json_string(pp.to_json(net))
    net.line.loc[3, "in_service"] = False
    path = tmp_path / "net.json"
    pp.to_json(net, str(path))
    code, out, err = run(["flisr", str(path), "--fault", "line:3"], capsys)
    assert code == 2 and "out of service" in err, err


def test_demo_runs(capsys):
    """`make run` runs this: a real run, not only --help."""
    code, out, err = run(["demo", "--model", "cigre_mv", "--top", "3"], capsys)
    assert code == 0, err
    assert "Worst 3 single faults" in out and "FLISR with capacity-checked transfers" in out
