"""Forecasters on synthetic series whose answer is known, and the cases real fleets have."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from forecasting_factories import (
    DAY,
    WEEK,
    daily_cycle,
    dropped_to_zero,
    make_history,
    weekly_pattern,
)

from forecasting.base import Forecaster
from forecasting.boosting import GradientBoostingForecaster
from forecasting.chooser import BacktestChooser, default_candidates
from forecasting.ensemble import QuantileAverage
from forecasting.naive import SeasonalNaive
from forecasting.profile import SeasonalProfile
from forecasting.stats import MSTLForecaster

KEY = "aws/a/ec2/us-east-1/m5/linux/shared"
OTHER = "aws/a/ec2/us-east-1/c5/linux/shared"

FORECASTERS: dict[str, Callable[[], Forecaster]] = {
    "seasonal-naive": SeasonalNaive,
    "seasonal-naive-daily": lambda: SeasonalNaive(season_length=DAY),
    "seasonal-profile": SeasonalProfile,
    "mstl": MSTLForecaster,
    "gradient-boosting": lambda: GradientBoostingForecaster(horizon=48, max_iter=20,
                                                            min_rows=200),
    "ensemble": lambda: QuantileAverage({"naive": SeasonalNaive(), "profile": SeasonalProfile()}),
    "chooser": lambda: BacktestChooser({"naive": SeasonalNaive(), "profile": SeasonalProfile()},
                                       horizon=48),
}


def test_seasonal_naive_forecasts_a_pure_weekly_pattern_exactly() -> None:
    pattern = weekly_pattern(4)
    forecast = SeasonalNaive().fit(make_history({KEY: pattern})).quantile_array(2 * WEEK)
    expected = pattern[:2 * WEEK]  # the pattern goes on where the history stopped
    for level in range(3):
        np.testing.assert_allclose(forecast[level, :, 0], expected)


def test_seasonal_naive_falls_back_to_a_daily_season_on_a_few_days() -> None:
    days = np.tile(daily_cycle(DAY, noise=0.0), 4)
    model = SeasonalNaive().fit(make_history({KEY: days}))
    assert model.seasons_[0] == DAY
    np.testing.assert_allclose(model.quantile_array(DAY)[1, :, 0], days[:DAY])


@pytest.mark.parametrize("name", list(FORECASTERS))
def test_a_key_that_dropped_to_zero_forecasts_zero(name: str) -> None:
    hours = 5 * WEEK
    history = make_history({KEY: dropped_to_zero(hours, 60), OTHER: daily_cycle(hours, seed=3)})
    model = FORECASTERS[name]().fit(history)
    quantiles = model.quantile_array(2 * WEEK, (0.05, 0.1, 0.5, 0.9, 0.95))
    assert model.decommissioned_.tolist() == [False, True]  # keys sorted: c5, m5
    np.testing.assert_array_equal(quantiles[:, :, 1], 0.0)
    assert quantiles[2, :, 0].mean() > 30
    paths = model.sample_paths(WEEK, n=20, seed=1)
    np.testing.assert_array_equal(paths[:, :, 1], 0.0)


@pytest.mark.slow
def test_the_default_chooser_forecasts_zero_for_a_key_that_dropped_to_zero() -> None:
    hours = 4 * WEEK
    history = make_history({KEY: dropped_to_zero(hours, 30), OTHER: daily_cycle(hours, seed=3)})
    model = BacktestChooser(default_candidates()).fit(history)
    np.testing.assert_array_equal(model.quantile_array(WEEK)[:, :, 1], 0.0)


def test_a_key_that_stops_every_weekend_is_not_decommissioned() -> None:
    week = np.r_[np.full(5 * DAY, 40.0), np.zeros(2 * DAY)]
    model = SeasonalNaive().fit(make_history({KEY: np.tile(week, 3)}))
    assert not model.decommissioned_[0]
    monday = model.quantile_array(DAY)[1, :, 0]
    np.testing.assert_allclose(monday, 40.0)


def test_a_new_key_is_forecast_from_its_own_few_days() -> None:
    hours = 6 * WEEK
    young = np.zeros(hours)
    young[-3 * DAY:] = daily_cycle(3 * DAY, base=50, seed=4)
    history = make_history({KEY: young, OTHER: daily_cycle(hours, seed=5)})
    for model in (SeasonalNaive(), SeasonalProfile(), MSTLForecaster()):
        median = model.fit(history).quantile_array(DAY)[1, :, 1]
        assert 40 < median.mean() < 60, type(model).__name__


@pytest.mark.parametrize("model", [SeasonalNaive(), SeasonalProfile()],
                         ids=["seasonal-naive", "seasonal-profile"])
def test_a_spike_does_not_inflate_the_base(model: Forecaster) -> None:
    values = daily_cycle(3 * WEEK, amplitude=0.0, noise=1.0, seed=6)
    values[-30:-27] = 400.0  # three hours of a batch job, yesterday
    median = model.fit(make_history({KEY: values})).quantile_array(WEEK)[1, :, 0]
    assert median.max() < 45


def test_a_level_shift_is_followed_within_a_day() -> None:
    values = np.r_[daily_cycle(3 * WEEK, seed=7), daily_cycle(2 * DAY, base=80, seed=8)]
    median = SeasonalProfile().fit(make_history({KEY: values})).quantile_array(WEEK)[1, :, 0]
    assert 70 < median.mean() < 90


@pytest.mark.parametrize("name", list(FORECASTERS))
@pytest.mark.parametrize("seed", [0, 1])
def test_quantiles_never_cross_and_are_never_negative(name: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    hours = 4 * WEEK
    messy = daily_cycle(hours, base=5, amplitude=8, noise=4, seed=seed)
    messy[rng.integers(0, hours, 20)] *= 20  # spikes
    messy[hours // 2:] *= 0.3  # a drop
    history = make_history({KEY: messy, OTHER: rng.exponential(3.0, hours)})
    levels = (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99)
    frame = FORECASTERS[name]().fit(history).predict(WEEK, quantiles=levels)
    values = frame[[f"q{q:g}" for q in levels]].to_numpy()
    assert (values >= 0).all()
    assert (np.diff(values, axis=1) >= 0).all()
