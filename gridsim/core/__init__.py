"""The outage-impact core: compiled topology and Numba kernels."""
from gridsim.core.topology import Analysis, State, Topology, compile_topology, parse_element
from gridsim.core.impact import (
    SWEEP_COLUMNS, Impact, StormResult, TripInfo, critical_exposure, energized, find_affected,
    sweep_single_faults,
    sweep_storms,
)

__all__ = ["Analysis", "State", "Topology", "compile_topology", "parse_element", "SWEEP_COLUMNS",
           "Impact", "StormResult", "TripInfo", "critical_exposure", "energized", "find_affected", "sweep_single_faults",
           "sweep_storms"]
