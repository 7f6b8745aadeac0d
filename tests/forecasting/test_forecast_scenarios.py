"""Scenarios keep each hour's forecast distribution, the daily shape and cross-key correlation."""

from __future__ import annotations

import numpy as np
import pytest
from forecasting_factories import DAY, WEEK, correlated_fleet, make_history

from forecasting.base import Forecaster
from forecasting.naive import SeasonalNaive
from forecasting.profile import SeasonalProfile

HOURS = 8 * WEEK
HORIZON = 3 * WEEK


@pytest.fixture(scope="module")
def fleet() -> dict[str, np.ndarray]:
    return correlated_fleet(HOURS, seed=11)


def correlations(matrix: np.ndarray) -> np.ndarray:
    """The correlation matrix of the keys (columns) of an hours × keys array."""
    return np.corrcoef(matrix, rowvar=False)


@pytest.mark.parametrize("model", [SeasonalProfile(), SeasonalNaive()],
                         ids=["seasonal-profile", "seasonal-naive"])
def test_scenarios_keep_the_cross_key_correlation_of_the_history(
        fleet: dict[str, np.ndarray], model: Forecaster) -> None:
    """Tolerance: each pairwise correlation within 0.15 of the history's (over 3 weeks of paths).

    Two keys share a persistent shock (history correlation about 0.8), the third
    is independent of them but has the opposite daily cycle (about -0.3).
    """
    fitted = model.fit(make_history(fleet))
    keys = list(fitted.usage_keys_)
    history = np.column_stack([fleet[k] for k in keys])
    paths = fitted.sample_paths(HORIZON, n=200, seed=3)
    assert paths.shape == (200, HORIZON, 3)
    expected = correlations(history)
    achieved = np.mean([correlations(path) for path in paths], axis=0)
    np.testing.assert_allclose(achieved, expected, atol=0.15)
    m5, c5 = keys.index("aws/a/ec2/us-east-1/m5/linux/shared"), keys.index(
        "aws/a/ec2/us-east-1/c5/linux/shared")
    assert achieved[m5, c5] > 0.6


def test_scenarios_follow_the_forecast_quantiles(fleet: dict[str, np.ndarray]) -> None:
    """Tolerance: the share of scenario values under each forecast quantile within 0.05."""
    model = SeasonalProfile().fit(make_history(fleet))
    paths = model.sample_paths(HORIZON, n=400, seed=5)
    quantiles = model.quantile_array(HORIZON, (0.1, 0.5, 0.9))
    for i, level in enumerate((0.1, 0.5, 0.9)):
        below = (paths <= quantiles[i][None]).mean()
        assert abs(below - level) < 0.05


def test_scenarios_keep_the_daily_shape(fleet: dict[str, np.ndarray]) -> None:
    model = SeasonalProfile().fit(make_history(fleet))
    paths = model.sample_paths(HORIZON, n=100, seed=7)
    by_hour = paths[:, :, 0].reshape(100, -1, DAY).mean(axis=(0, 1))
    history_by_hour = fleet["aws/a/ec2/us-east-1/m5/linux/shared"].reshape(-1, DAY).mean(axis=0)
    assert np.corrcoef(by_hour, history_by_hour)[0, 1] > 0.9


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
