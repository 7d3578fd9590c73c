"""`gridsim run` and `gridsim compare`: the files they write, the offline HTML report, Ctrl-C, user errors.

Both bundled scenarios used here run on mv_oberrhein (179 buses), loaded once per test process.
"""
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from gridsim.cli import main

ROOT = Path(__file__).resolve().parents[2]
SINGLE = str(ROOT / "scenarios" / "single_fault.yaml")
STORM = str(ROOT / "scenarios" / "storm_montecarlo.yaml")

TIMELINE_COLUMNS = ["time", "t_min", "event", "element", "detail", "customers_out"]
INTERRUPTION_COLUMNS = ["customer_id", "start", "end", "outage_id", "cause", "count", "p_kw", "class", "start_min",
                        "end_min", "duration_min"]
# a <script> loading anything from the internet (the report must open offline)
REMOTE_SCRIPT = re.compile(r"<script[^>]*\bsrc\s*=\s*[\"']?\s*(https?:)?//", re.IGNORECASE)


def run(args, capsys):
    code = main(args)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def assert_offline_plotly(html: str, figures: int):
    assert "plotly" in html.lower()
    assert not REMOTE_SCRIPT.search(html)
    # the embedded plotly.js is there (the bundle's own default topojsonURL names a CDN, used by geo maps only)
    assert "plotly.js v" in html
    assert html.count("Plotly.newPlot") >= figures


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "single"      # not created yet: the command creates it
    code = main(["run", SINGLE, "--out", str(out)])
    assert code == 0
    return out


def test_run_writes_four_files_with_documented_columns(run_dir):
    from gridsim.scenarios import load_scenario, run_scenario

    for name in ("timeline.parquet", "interruptions.parquet", "summary.json", "report.html"):
        assert (run_dir / name).is_file(), name
    tl = pd.read_parquet(run_dir / "timeline.parquet")
    log = pd.read_parquet(run_dir / "interruptions.parquet")
    assert list(tl.columns) == TIMELINE_COLUMNS
    assert list(log.columns) == INTERRUPTION_COLUMNS
    res = run_scenario(load_scenario(SINGLE))
    pd.testing.assert_frame_equal(tl, res.timeline)
    pd.testing.assert_frame_equal(log, res.interruptions)
    # line:17 trips fuse:line:40: 2,408 customers out at once, everybody back by the end
    assert tl.loc[tl["event"] == "trip", "customers_out"].iloc[0] == 2408
    assert tl["customers_out"].iloc[-1] == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["saidi"] == pytest.approx(res.indices.saidi)
    assert summary["faults"] == 1 and summary["strategy"] == "wspt"
    assert set(summary["critical_hours_by_class"]) == set(res.critical_hours_by_class)


def test_run_report_is_offline_plotly_with_all_figures(run_dir):
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    # customers out by class, restoration curve, crew Gantt, map
    assert_offline_plotly(html, figures=4)
    for heading in ("Customers out over time by class", "Restoration curve", "Crew Gantt chart", "Map of the faults"):
        assert heading in html
    assert "line:17" in html


def test_run_prints_summary_and_honours_seed_and_strategy(tmp_path, capsys):
    code, out, err = run(["run", SINGLE, "--out", str(tmp_path), "--seed", "3", "--strategy", "fifo"], capsys)
    assert code == 0, err
    assert "SAIDI" in out and "critical customer hours" in out and "last customer restored" in out
    assert json.loads((tmp_path / "summary.json").read_text())["strategy"] == "fifo"


@pytest.mark.parametrize("strategies, expected", [(None, ["wspt"]), ("wspt,fifo", ["wspt", "fifo"])])
def test_compare_writes_files_one_summary_entry_per_strategy(tmp_path, capsys, strategies, expected):
    args = ["compare", STORM, "--out", str(tmp_path), "--runs", "3"]
    if strategies:
        args += ["--strategies", strategies]
    code, out, err = run(args, capsys)
    assert code == 0, err
    for name in ("results.parquet", "summary.json", "report.html"):
        assert (tmp_path / name).is_file(), name
    table = pd.read_parquet(tmp_path / "results.parquet")
    assert len(table) == 3 * len(expected)
    assert list(table["strategy"].unique()) == expected and sorted(table["run"].unique()) == [0, 1, 2]
    for col in ("run", "strategy", "saidi", "saifi", "cmi", "weighted_cmi", "last_restored_min"):
        assert col in table.columns
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert list(summary["strategies"]) == expected
    assert summary["runs_done"] == 3 and summary["complete"] is True and summary["baseline"] == expected[0]
    assert summary["strategies"][expected[0]]["saidi"]["mean"] == pytest.approx(
        table.loc[table["strategy"] == expected[0], "saidi"].mean())
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert_offline_plotly(html, figures=2 if len(expected) == 1 else 3)
    assert "Best strategy per metric" in html
    assert "3/3" in err          # the progress bar (stderr) ends complete


def test_compare_same_results_with_two_worker_processes(tmp_path, capsys):
    args = ["compare", STORM, "--runs", "2", "--strategies", "wspt,fifo"]
    assert run(args + ["--out", str(tmp_path / "serial")], capsys)[0] == 0
    assert run(args + ["--out", str(tmp_path / "pool"), "--workers", "2"], capsys)[0] == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "serial" / "results.parquet"),
                                  pd.read_parquet(tmp_path / "pool" / "results.parquet"))


def test_compare_ctrl_c_keeps_finished_runs(tmp_path, capsys, monkeypatch):
    import gridsim.scenarios.report as report

    real = report._chunk_table
    calls = []

    def interrupted_on_third_chunk(*args):
        calls.append(args)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(report, "_chunk_table", interrupted_on_third_chunk)
    code, out, err = run(["compare", STORM, "--out", str(tmp_path), "--runs", "5", "--strategies", "wspt,fifo"],
                         capsys)
    assert code == 130
    assert "interrupted" in err and "2 of 5 runs" in err and "Traceback" not in err + out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["runs_done"] == 2 and summary["runs_requested"] == 5 and summary["complete"] is False
    assert sorted(pd.read_parquet(tmp_path / "results.parquet")["run"].unique()) == [0, 1]
    assert "interrupted" in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_compare_ctrl_c_before_any_run_writes_nothing(tmp_path, capsys, monkeypatch):
    import gridsim.scenarios.report as report

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "_chunk_table", interrupted)
    code, out, err = run(["compare", STORM, "--out", str(tmp_path / "o"), "--runs", "3"], capsys)
    assert code == 130 and "nothing written" in err
    assert not (tmp_path / "o" / "summary.json").exists()


@pytest.fixture
def bad_scenario(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("model: mv_oberrhein\nfaults:\n  - element: line:17\n    repair: 30\n")
    return p


@pytest.mark.parametrize("args, needle", [
    (["run", "no_such_scenario.yaml"], "not found"),
    (["run", "{bad}"], "unknown key 'repair'"),
    (["run", SINGLE, "--strategy", "fastest_first"], "unknown strategy"),
    (["run", SINGLE, "--seed", "-1"], "--seed"),
    (["run", "{file}"], "malformed YAML"),
    (["compare", "no_such_scenario.yaml"], "not found"),
    (["compare", "{bad}"], "unknown key 'repair'"),
    (["compare", STORM, "--runs", "0"], "--runs 0"),
    (["compare", STORM, "--strategies", "wspt,fastest_first"], "unknown strategy 'fastest_first'"),
    (["compare", STORM, "--strategies", "wspt,wspt"], "twice"),
    (["compare", STORM, "--strategies", ","], "--strategies"),
    (["compare", STORM, "--workers", "0"], "--workers 0"),
])
def test_user_errors_give_one_line_and_exit_2(args, needle, tmp_path, bad_scenario, capsys):
    not_yaml = tmp_path / "notes.yaml"
    not_yaml.write_text("model: mv_oberrhein\n  faults: [\n")
    args = [a.replace("{bad}", str(bad_scenario)).replace("{file}", str(not_yaml)) for a in args]
    code, out, err = run(args + ["--out", str(tmp_path / "out")], capsys)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert needle in lines[0]
    assert "Traceback" not in err + out
    assert not (tmp_path / "out").exists()


def test_out_must_be_a_folder(tmp_path, capsys):
    f = tmp_path / "file.txt"
    f.write_text("x")
    code, out, err = run(["run", SINGLE, "--out", str(f)], capsys)
    assert code == 2 and err.startswith("error:") and "folder" in err
