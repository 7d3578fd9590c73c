"""gridsim — real-time monitoring and outage-impact simulation for distribution networks."""
from gridsim.core import (
    State, Topology, compile_topology, energized, find_affected, sweep_single_faults, sweep_storms,
)
from gridsim.errors import GridsimError, ModelValidationError

__version__ = "0.1.0"


def __getattr__(name):  # model loading imports pandapower: only on first use
    if name in {"load_model", "validate_model", "assert_valid", "Model"}:
        from gridsim import model as _m
        return getattr(_m, name)
    raise AttributeError(f"module 'gridsim' has no attribute {name!r}")


__all__ = ["load_model", "validate_model", "assert_valid", "Model", "State", "Topology",
           "compile_topology", "energized", "find_affected", "sweep_single_faults", "sweep_storms",
           "GridsimError", "ModelValidationError", "__version__"]
