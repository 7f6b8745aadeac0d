"""Rolling-origin evaluation: pinball loss, origins, coverage and skill."""

from __future__ import annotations

import numpy as np
import pytest
from forecasting_factories import WEEK, daily_cycle, make_history, weekly_pattern

from core.errors import InvalidInput
from forecasting.evaluate import evaluate, pinball_loss, rolling_origins
from forecasting.profile import SeasonalProfile

KEY = "aws/a/ec2/us-east-1/m5/linux/shared"


def test_pinball_loss_weighs_under_and_over_forecasts_by_the_level() -> None:
    actual = np.array([10.0, 10.0])
    forecast = np.array([8.0, 13.0])
    np.testing.assert_allclose(pinball_loss(actual, forecast, 0.9), [1.8, 0.3])
    np.testing.assert_allclose(pinball_loss(actual, forecast, 0.1), [0.2, 2.7])


def test_rolling_origins_are_spread_back_from_the_last_one_in_whole_days() -> None:
    assert rolling_origins(1000, 168, 3, min_history=168) == [184, 496, 832]
    assert rolling_origins(337, 168, 5, min_history=168) == [169]
    with pytest.raises(InvalidInput, match="too short"):
        rolling_origins(300, 168, 2, min_history=168)


def test_evaluate_scores_every_model_against_seasonal_naive() -> None:
    history = make_history({KEY: daily_cycle(5 * WEEK, seed=3)})
    result = evaluate(history, {"seasonal-profile": SeasonalProfile()}, horizon=48,
                      n_origins=3)
    table = result.table
    assert set(table.index) == {"seasonal-profile", "seasonal-naive"}
    assert table.loc["seasonal-naive", "skill"] == 0.0
    assert ((table["coverage"] >= 0) & (table["coverage"] <= 1)).all()
    assert len(result.origins) == 3
    assert len(result.forecasts["seasonal-profile"]) == 3 * 48


def test_a_perfect_forecast_has_zero_loss_and_full_coverage() -> None:
    history = make_history({KEY: weekly_pattern(5)})
    result = evaluate(history, {}, horizon=WEEK, n_origins=2, min_history=2 * WEEK)
    row = result.table.loc["seasonal-naive"]
    assert row["pinball"] == 0.0 and row["coverage"] == 1.0
