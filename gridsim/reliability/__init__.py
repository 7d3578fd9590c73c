"""Reliability analysis: IEEE 1366 indices from interruption logs."""
from gridsim.reliability.indices import (
    LOG_COLUMNS, Indices, IndicesError, compute_indices, format_indices, indices_command, read_log,
)

__all__ = ["LOG_COLUMNS", "Indices", "IndicesError", "compute_indices", "format_indices",
           "indices_command", "read_log"]
