"""Scenarios keep each hour's forecast distribution, the daily shape and cross-key correlation."""

from __future__ import annotations

import numpy as np
import pytest
from forecasting_factories import DAY, WEEK, correlated_fleet, daily_cycle, make_history

from forecasting.base import Forecaster
from forecasting.naive import SeasonalNaive
from forecasting.profile import SeasonalProfile
from forecasting.robust import seasonal_baseline

HOURS = 8 * WEEK
HORIZON = 3 * WEEK


@pytest.fixture(scope="module")
def fleet() -> dict[str, np.ndarray]:
    return correlated_fleet(HOURS, seed=11)


def correlations(matrix: np.ndarray) -> np.ndarray:
    """The correlation matrix of the keys (columns) of an hours × keys array."""
    return np.corrcoef(matrix, rowvar=False)


def test_scenarios_keep_the_cross_key_correlation_of_the_history(
        fleet: dict[str, np.ndarray]) -> None:
    """Tolerance: each pairwise correlation within 0.15 of the history's (over 3 weeks of paths).

    Two keys share a persistent shock (history correlation about 0.9), the third
    is independent of them but has the opposite daily cycle (about -0.15).
    """
    fitted = SeasonalProfile().fit(make_history(fleet))
    keys = list(fitted.usage_keys_)
    history = np.column_stack([fleet[k] for k in keys])
    paths = fitted.sample_paths(HORIZON, n=200, seed=3)
    assert paths.shape == (200, HORIZON, 3)
    expected = correlations(history)
    achieved = np.mean([correlations(path) for path in paths], axis=0)
    np.testing.assert_allclose(achieved, expected, atol=0.15)
    m5, c5 = keys.index("aws/a/ec2/us-east-1/m5/linux/shared"), keys.index(
        "aws/a/ec2/us-east-1/c5/linux/shared")
    assert achieved[m5, c5] > 0.7


@pytest.mark.parametrize("model", [SeasonalProfile(), SeasonalNaive()],
                         ids=["seasonal-profile", "seasonal-naive"])
def test_scenarios_keep_the_correlation_of_the_shocks(
        fleet: dict[str, np.ndarray], model: Forecaster) -> None:
    """Tolerance: 0.1 between the shocks' correlations in the paths and in the history.

    Shocks are deviations: from the forecast median in a path, from the seasonal
    baseline in the history. Whatever the width of a model's quantiles, keys
    whose usage moved together move together in the scenarios.
    """
    fitted = model.fit(make_history(fleet))
    keys = list(fitted.usage_keys_)
    history = np.column_stack([fleet[k] for k in keys])
    starts = np.zeros(3, dtype=int)
    expected = correlations((history - seasonal_baseline(history, starts))[3 * DAY:-3 * DAY])
    median = fitted.quantile_array(HORIZON, (0.5,))[0]
    paths = fitted.sample_paths(HORIZON, n=200, seed=3)
    achieved = np.mean([correlations(path - median) for path in paths], axis=0)
    np.testing.assert_allclose(achieved, expected, atol=0.1)


def test_scenarios_follow_the_forecast_quantiles(fleet: dict[str, np.ndarray]) -> None:
    """Tolerance: the share of scenario values under each forecast quantile within 0.05."""
    model = SeasonalProfile().fit(make_history(fleet))
    paths = model.sample_paths(HORIZON, n=400, seed=5)
    quantiles = model.quantile_array(HORIZON, (0.1, 0.5, 0.9))
    for i, level in enumerate((0.1, 0.5, 0.9)):
        below = (paths <= quantiles[i][None]).mean()
        assert abs(below - level) < 0.05


def test_scenarios_keep_the_daily_shape() -> None:
    cycle = daily_cycle(4 * WEEK, base=50, amplitude=20, noise=2.0, seed=9)
    model = SeasonalProfile().fit(make_history({"aws/a/ec2/us-east-1/m5/linux/shared": cycle}))
    paths = model.sample_paths(HORIZON, n=100, seed=7)
    by_hour = paths[:, :, 0].reshape(100, -1, DAY).mean(axis=(0, 1))
    truth = np.sin(2 * np.pi * (np.arange(DAY) + 4 * WEEK) / DAY)
    assert np.corrcoef(by_hour, truth)[0, 1] > 0.95


def test_scenarios_are_reproducible_and_never_negative(fleet: dict[str, np.ndarray]) -> None:
    model = SeasonalProfile().fit(make_history(fleet))
    first = model.sample_paths(WEEK, n=10, seed=42)
    np.testing.assert_array_equal(first, model.sample_paths(WEEK, n=10, seed=42))
    assert (first >= 0).all()
    assert not np.array_equal(first, model.sample_paths(WEEK, n=10, seed=43))


def test_scenarios_on_a_short_history_use_daily_blocks() -> None:
    fleet = correlated_fleet(4 * DAY, seed=2)
    paths = SeasonalProfile().fit(make_history(fleet)).sample_paths(2 * WEEK, n=5, seed=0)
    assert paths.shape == (5, 2 * WEEK, 3) and np.isfinite(paths).all()
