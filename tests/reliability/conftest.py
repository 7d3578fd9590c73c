"""Fixtures of the fuzzing suite and the summary of cases run (see README.md)."""
from __future__ import annotations

import pytest

import fuzzkit


@pytest.fixture(scope="session")
def tiny_json_text() -> str:
    """pandapower JSON text of :func:`fuzzkit.tiny_net` (empty tables dropped)."""
    return fuzzkit.compact_net_json(fuzzkit.tiny_net())


def pytest_terminal_summary(terminalreporter):
    if not fuzzkit.CASES_RUN:
        return
    terminalreporter.section("reliability fuzzing: cases run")
    for name, s in sorted(fuzzkit.CASES_RUN.items()):
        terminalreporter.write_line(f"{name:<48} {s['cases']:>6} cases  {s['seconds']:8.1f} s")


def pytest_collection_modifyitems(config, items):
    from pathlib import Path

    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.reliability)
