"""The history contract: dense hourly long frames, clear errors, the predict frame's shape."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from forecasting_factories import START, daily_cycle, make_history
from sklearn.exceptions import NotFittedError

from core.errors import InvalidInput
from forecasting.base import history_frame, to_wide
from forecasting.boosting import GradientBoostingForecaster
from forecasting.chooser import BacktestChooser
from forecasting.ensemble import QuantileAverage
from forecasting.naive import SeasonalNaive
from forecasting.profile import SeasonalProfile
from forecasting.registry import FORECASTERS, make_forecaster
from forecasting.stats import MSTLForecaster

M5 = "aws/a/ec2/us-east-1/m5/linux/shared"
C5 = "aws/a/ec2/us-east-1/c5/linux/shared"


def two_keys(hours: int = 400) -> pd.DataFrame:
    return make_history({M5: daily_cycle(hours, seed=1), C5: daily_cycle(hours, base=20, seed=2)})


def test_missing_hour_is_an_error_not_zero() -> None:
    history = two_keys(100)
    gap = history.drop(index=history.index[(history["usage_key"] == C5)][50])
    with pytest.raises(InvalidInput, match=r"not dense.*1 .*missing.*c5"):
        SeasonalNaive().fit(gap)


def test_hours_missing_for_every_key_are_an_error() -> None:
    history = two_keys(100)
    hole = history[history["hour"] != START + pd.Timedelta(hours=40)]
    with pytest.raises(InvalidInput, match="not dense"):
        to_wide(hole)


def test_negative_units_are_an_error() -> None:
    history = two_keys(50)
    history.loc[7, "units"] = -1.0
    with pytest.raises(InvalidInput, match="negative") as error:
        to_wide(history)
    assert error.value.row == 7 and error.value.column == "units"


@pytest.mark.parametrize("value", [np.nan, np.inf, "many"])
def test_units_that_are_not_finite_numbers_are_an_error(value: float | str) -> None:
    history = two_keys(50).astype({"units": object})
    history.at[3, "units"] = value
    with pytest.raises(InvalidInput, match="not a finite number"):
        to_wide(history)


def test_duplicate_rows_and_off_hour_stamps_are_errors() -> None:
    history = two_keys(50)
    with pytest.raises(InvalidInput, match="two rows"):
        to_wide(pd.concat([history, history.iloc[[5]]], ignore_index=True))
    shifted = history.copy()
    shifted.loc[0, "hour"] = START + pd.Timedelta(minutes=30)
    with pytest.raises(InvalidInput, match="not the start of an hour"):
        to_wide(shifted)


def test_missing_column_is_named() -> None:
    with pytest.raises(InvalidInput, match="units"):
        to_wide(two_keys(10).drop(columns="units"))


def test_history_frame_round_trips_through_to_wide() -> None:
    units = np.arange(12.0).reshape(4, 3)
    frame = history_frame(units, ["a", "b", "c"], START)
    wide = to_wide(frame)
    assert wide.index[0] == START and list(wide.columns) == ["a", "b", "c"]
    np.testing.assert_array_equal(wide.to_numpy(), units)


def test_predict_before_fit_is_an_error() -> None:
    with pytest.raises(NotFittedError):
        SeasonalNaive().predict(24)


def test_registry_names_every_forecaster_and_rejects_unknown_ones() -> None:
    assert all(make_forecaster(name) is not None for name in FORECASTERS)
    with pytest.raises(InvalidInput, match="unknown forecaster"):
        make_forecaster("crystal-ball")


FAST_FORECASTERS = {
    "seasonal-naive": SeasonalNaive,
    "seasonal-naive-daily": lambda: SeasonalNaive(season_length=24),
    "seasonal-profile": SeasonalProfile,
    "mstl": MSTLForecaster,
    "gradient-boosting": lambda: GradientBoostingForecaster(horizon=48, max_iter=20,
                                                            min_rows=200),
    "ensemble": lambda: QuantileAverage({"naive": SeasonalNaive(), "profile": SeasonalProfile()}),
    "chooser": lambda: BacktestChooser({"naive": SeasonalNaive(), "profile": SeasonalProfile()},
                                       horizon=48),
}


@pytest.mark.parametrize("name", list(FAST_FORECASTERS))
def test_predict_frame_has_one_row_per_key_and_hour_after_the_history(name: str) -> None:
    history = two_keys(400)
    forecaster = FAST_FORECASTERS[name]().fit(history)
    frame = forecaster.predict(30, quantiles=(0.9, 0.1, 0.5))
    assert list(frame.columns) == ["usage_key", "hour", "q0.1", "q0.5", "q0.9"]
    assert len(frame) == 2 * 30
    assert sorted(frame["usage_key"].unique()) == sorted([M5, C5])
    first = history["hour"].max() + pd.Timedelta(hours=1)
    hours = frame.loc[frame["usage_key"] == M5, "hour"]
    assert list(hours) == list(pd.date_range(first, periods=30, freq="h"))
    values = frame[["q0.1", "q0.5", "q0.9"]].to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all()
    assert (np.diff(values, axis=1) >= 0).all()


def test_forecast_hours_follow_the_history() -> None:
    forecaster = SeasonalNaive().fit(two_keys(48))
    hours = forecaster.forecast_hours(3)
    assert hours[0] == START + pd.Timedelta(hours=48) and len(hours) == 3


@pytest.mark.parametrize("quantiles", [(), (0.0, 0.5), (0.5, 1.2)])
def test_quantile_levels_must_be_inside_zero_one(quantiles: tuple[float, ...]) -> None:
    forecaster = SeasonalNaive().fit(two_keys(48))
    with pytest.raises(InvalidInput):
        forecaster.predict(3, quantiles=quantiles)


def test_horizon_must_be_a_positive_whole_number() -> None:
    forecaster = SeasonalNaive().fit(two_keys(48))
    with pytest.raises(InvalidInput, match="horizon"):
        forecaster.predict(0)
