"""Restoration: FLISR switching plans, capacity checks (power flow), crew scheduling, ETRs."""
from gridsim.restore.flisr import (
    FLISR_COLUMNS, FlisrError, FlisrOptions, SwitchingPlan, SwitchingStep, TransferAttempt, add_flisr_columns,
    plan_flisr,
)

__all__ = ["FLISR_COLUMNS", "FlisrError", "FlisrOptions", "SwitchingPlan", "SwitchingStep", "TransferAttempt",
           "add_flisr_columns", "plan_flisr"]
