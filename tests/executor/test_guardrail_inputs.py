"""The planner → guardrails contract: GuardrailInputs, stored once as JSON in plan.details."""

from __future__ import annotations

import math

from executor.guardrails import GuardrailInputs

STATED = GuardrailInputs(low_forecast_hourly=12.5, low_forecast_source="10 % quantile",
                         committed_capacity_hourly=30.0, expected_utilisation=(0.97, None))


def test_the_inputs_round_trip_through_their_json() -> None:
    stored = STATED.to_json()
    assert stored == {"low_forecast_hourly": 12.5, "low_forecast_source": "10 % quantile",
                      "committed_capacity_hourly": 30.0, "expected_utilisation": [0.97, None]}
    assert GuardrailInputs.from_json(stored) == STATED
    assert STATED.missing() == frozenset()


def test_a_figure_that_is_absent_or_not_a_finite_number_is_not_stated() -> None:
    """So the caps that need it fail closed instead of reading garbage."""
    read = GuardrailInputs.from_json({"low_forecast_hourly": "lots",
                                      "committed_capacity_hourly": math.inf,
                                      "expected_utilisation": [True, "0.9", 2]})
    assert read.low_forecast_hourly is None and read.committed_capacity_hourly is None
    assert read.expected_utilisation == (None, 0.9, 2.0)
    assert read.missing() == {"low_forecast_hourly", "committed_capacity_hourly"}
    assert GuardrailInputs.from_json(None).missing() == set(GuardrailInputs.FIELDS)


def test_what_the_planner_stated_wins_over_what_is_computed_to_fill_in() -> None:
    planner = GuardrailInputs(low_forecast_hourly=5.0, low_forecast_source="scenarios")
    computed = GuardrailInputs(low_forecast_hourly=9.0, low_forecast_source="lookback",
                               committed_capacity_hourly=20.0, expected_utilisation=(1.0,))
    merged = planner.completed_by(computed)
    assert merged == GuardrailInputs(low_forecast_hourly=5.0, low_forecast_source="scenarios",
                                     committed_capacity_hourly=20.0, expected_utilisation=(1.0,))
    assert merged.missing() == frozenset()
