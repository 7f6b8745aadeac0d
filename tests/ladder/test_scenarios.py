"""Forecast scenarios composed for the ladder policy (forecasting → optimizer)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from forecasting.naive import SeasonalNaive
from ladder.scenarios import default_scenarios, forecaster_scenarios

KEYS = ("aws/us-east-1/ec2/m5/linux", "aws/us-east-1/ec2/c5/linux")
START = datetime(2024, 3, 1, tzinfo=UTC)


def _history(hours: int = 24 * 14) -> np.ndarray:
    """Two keys at very different levels, with a daily cycle."""
    t = np.arange(hours)
    cycle = 1 + 0.2 * np.sin(2 * np.pi * t / 24)
    return np.column_stack([100.0 * cycle, 5.0 * cycle])


def test_forecaster_scenarios_follow_the_callers_key_order() -> None:
    # KEYS is not in sorted order: the forecaster's own key order differs from the caller's.
    paths = forecaster_scenarios(SeasonalNaive)(_history(), KEYS, START, 48, 3, 0)
    assert paths.shape == (3, 48, 2)
    assert paths[:, :, 0].mean() > 10 * paths[:, :, 1].mean()


def test_default_scenarios_blend_forecasts_and_replays() -> None:
    history = _history()
    paths = default_scenarios()(history, KEYS, START, 48, 4, 0)
    assert paths.shape == (4, 48, 2)
    assert np.isfinite(paths).all() and (paths >= 0).all()
    # The second half replays the last two days of history.
    assert set(paths[2:, :, 0].ravel()) <= set(history[-48:, 0])
