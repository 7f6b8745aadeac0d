"""The daily spend forecast: calendar effects learned, known spend kept known, honest intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInput
from forecasting.spend import (
    SPEND_MODELS,
    DailySpendForecaster,
    RunRateSpend,
    SeasonalNaiveSpend,
    evaluate_spend,
    forecast_spend,
)


def _series(days: int, *, start: str = "2024-01-01", noise: float = 0.0,
            seed: int = 1) -> pd.Series:
    """100 a day, +30 on Saturdays and Sundays, +200 on the first of each month."""
    index = pd.date_range(start, periods=days, freq="D")
    values = 100.0 + 30.0 * (index.dayofweek >= 5) + 200.0 * (index.day == 1)
    rng = np.random.default_rng(seed)
    return pd.Series(values + rng.normal(0.0, noise, days), index=index)


def test_weekday_and_month_start_effects_are_forecast() -> None:
    history = _series(120)  # to 2024-04-29
    forecast = forecast_spend(history, 10)
    mean = dict(zip(pd.to_datetime(forecast.daily["day"]).dt.strftime("%Y-%m-%d"),
                    forecast.daily["mean"], strict=True))

    assert mean["2024-05-01"] == pytest.approx(300.0, abs=5.0)  # a Wednesday, first of May
    assert mean["2024-05-04"] == pytest.approx(130.0, abs=5.0)  # a Saturday
    assert mean["2024-05-02"] == pytest.approx(100.0, abs=5.0)


def test_known_spend_is_added_to_every_path_and_removed_from_the_history() -> None:
    history = _series(90, noise=5.0)
    known_history = pd.Series(50.0, index=history.index)
    future = pd.date_range(history.index[-1] + pd.Timedelta(days=1), periods=14, freq="D")
    known_future = pd.Series(80.0, index=future)

    plain = forecast_spend(history, 14)
    known = forecast_spend(history + known_history,
                           14, known=pd.concat([known_history, known_future]))

    assert np.allclose(known.daily["mean"], plain.daily["mean"] + 80.0)
    assert known.total["q0.5"] == pytest.approx(plain.total["q0.5"] + 14 * 80.0)


def test_intervals_are_ordered_and_the_95_percent_one_is_wider() -> None:
    forecast = forecast_spend(_series(90, noise=10.0), 30)
    daily = forecast.daily

    ordered = daily[["q0.025", "q0.1", "q0.5", "q0.9", "q0.975"]].to_numpy()
    assert np.all(np.diff(ordered, axis=1) >= 0)
    assert (daily["q0.975"] - daily["q0.025"] > daily["q0.9"] - daily["q0.1"]).all()
    assert forecast.total["q0.025"] < forecast.total["q0.5"] < forecast.total["q0.975"]


def test_the_intervals_cover_about_as_often_as_they_say_on_noisy_spend() -> None:
    series = {f"s{seed}": _series(150, noise=15.0, seed=seed) for seed in range(6)}
    result = evaluate_spend(series, {"model": DailySpendForecaster}, horizon=14,
                            n_origins=4, min_history=56)
    row = result.table.loc["model"]

    assert 0.7 <= row["cover80"] <= 0.92
    assert 0.88 <= row["cover95"] <= 1.0


def test_the_model_beats_both_baselines_where_spend_has_a_calendar() -> None:
    series = {f"s{seed}": _series(150, noise=8.0, seed=seed) for seed in range(4)}
    result = evaluate_spend(series, SPEND_MODELS, horizon=28, n_origins=4, min_history=56)
    pinball = result.table["pinball"]

    assert pinball["daily-regression"] < pinball["seasonal-naive"]
    assert pinball["daily-regression"] < pinball["run-rate"]


def test_baselines_forecast_last_week_and_the_recent_mean() -> None:
    history = _series(60)
    naive = SeasonalNaiveSpend().fit(history).sample_paths(7, 10)
    rate = RunRateSpend().fit(history).sample_paths(7, 10)

    assert np.median(naive, axis=0) == pytest.approx(history.to_numpy()[-7:], abs=1e-9)
    assert np.median(rate) == pytest.approx(history.to_numpy()[-7:].mean(), abs=60.0)


def test_a_history_with_a_gap_is_refused() -> None:
    history = _series(30).drop(pd.Timestamp("2024-01-10"))
    with pytest.raises(InvalidInput, match="consecutive"):
        forecast_spend(history, 5)
