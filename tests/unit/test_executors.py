"""Executor equivalence: the same seed gives the same comparison table serially, on local
processes and on a Dask LocalCluster of 2 worker processes (issue 4, section 5).

Dask is a runtime dependency: if it is missing, these tests fail (no skip)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gridsim.scenarios import load_scenario
from gridsim.scenarios.compare import compare_strategies
from gridsim.scenarios.executors import ExecutorError, make_executor

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "storm_montecarlo.yaml"


@pytest.fixture(scope="module")
def serial():
    sc = load_scenario(SCENARIO)
    return sc, compare_strategies(sc, ["wspt", "fifo"], 4)


def test_dask_local_cluster_matches_serial(serial):
    import distributed  # noqa: F401  - must be installed: fail, do not skip

    from gridsim.scenarios.report import compare_in_chunks

    sc, ref = serial
    assert len(ref.table) == 8
    with make_executor(dask_local=2) as ex:
        assert ex.kind == "dask" and ex.n_workers == 2
        res = compare_strategies(sc, ["wspt", "fifo"], 4, executor=ex)
        cc = compare_in_chunks(sc, ["wspt", "fifo"], 4, executor=ex, chunk_runs=1)
    pd.testing.assert_frame_equal(res.table, ref.table, check_exact=True)
    pd.testing.assert_frame_equal(res.summary, ref.summary, check_exact=True)
    assert not cc.interrupted
    pd.testing.assert_frame_equal(cc.result.table.reset_index(drop=True), ref.table, check_exact=True)


def test_serial_and_process_executors(serial):
    sc, ref = serial
    with make_executor(1) as ex:
        assert ex.kind == "serial"
        pd.testing.assert_frame_equal(compare_strategies(sc, ["wspt", "fifo"], 4, executor=ex).table, ref.table,
                                      check_exact=True)
    with make_executor(2) as ex:
        assert ex.kind == "processes"
        pd.testing.assert_frame_equal(compare_strategies(sc, ["wspt", "fifo"], 4, executor=ex).table, ref.table,
                                      check_exact=True)


def test_unreachable_scheduler_is_a_user_error():
    with pytest.raises(ExecutorError, match="cannot reach the Dask scheduler"):
        make_executor(scheduler="tcp://127.0.0.1:1", timeout=1)


def test_bad_options():
    with pytest.raises(ExecutorError):
        make_executor(scheduler="tcp://127.0.0.1:1", dask_local=2)
    with pytest.raises(ExecutorError):
        make_executor(dask_local=0)
    with pytest.raises(ExecutorError):
        make_executor(0)
