"""Restoration: FLISR switching plans, capacity checks (power flow), crew scheduling, ETRs."""
from gridsim.restore.flisr import (
    FLISR_COLUMNS, FlisrError, FlisrOptions, SwitchingPlan, SwitchingStep, TransferAttempt, add_flisr_columns,
    iter_flisr_plans, plan_flisr,
)
from gridsim.restore.plan import PlanOptions, RestorationPlan, etr_for, plan_restoration, replan
from gridsim.restore.schedule import STRATEGIES, make_problem, register, solve

__all__ = ["FLISR_COLUMNS", "FlisrError", "FlisrOptions", "SwitchingPlan", "SwitchingStep", "TransferAttempt",
           "add_flisr_columns", "iter_flisr_plans", "plan_flisr",
           "PlanOptions", "RestorationPlan", "etr_for", "plan_restoration", "replan",
           "STRATEGIES", "make_problem", "register", "solve"]
