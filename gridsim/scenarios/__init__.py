"""What-if scenarios: scenario files (:mod:`.schema`) and the storm generator (:mod:`.storms`).

See ``docs/scenarios.md`` for the file format and ``scenarios/*.yaml`` for examples.
"""
from gridsim.scenarios.schema import (
    Cause, Crews, Distribution, Fault, PlannedOutage, Scenario, ScenarioError, StormSpec, check_against,
    load_scenario, parse_scenario, scenario_json_schema,
)
from gridsim.scenarios.storms import (
    CAUSES, Storm, element_weights, sample_storms, sample_storms_csr, storm_from_faults, storms_to_csr,
)

__all__ = ["Cause", "Crews", "Distribution", "Fault", "PlannedOutage", "Scenario", "ScenarioError", "StormSpec",
           "check_against", "load_scenario", "parse_scenario", "scenario_json_schema", "CAUSES", "Storm",
           "element_weights", "sample_storms", "sample_storms_csr", "storm_from_faults", "storms_to_csr"]
from gridsim.scenarios.simulate import ScenarioResult, run_scenario, scenario_storm  # noqa: E402
from gridsim.scenarios.compare import CompareResult, compare_strategies, paired_summary  # noqa: E402

__all__ += ["ScenarioResult", "run_scenario", "scenario_storm", "CompareResult", "compare_strategies",
            "paired_summary"]
