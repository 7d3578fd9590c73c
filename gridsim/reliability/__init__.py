"""Reliability analysis: IEEE 1366 indices from interruption logs, expected indices from failure rates."""
from gridsim.reliability.analytic import ReliabilityResult, expected_reliability
from gridsim.reliability.indices import (
    LOG_COLUMNS, Indices, IndicesError, compute_indices, format_indices, indices_command, read_log,
)

__all__ = ["LOG_COLUMNS", "Indices", "IndicesError", "compute_indices", "format_indices",
           "indices_command", "read_log", "ReliabilityResult", "expected_reliability"]
