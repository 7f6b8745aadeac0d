"""Small typed factories for the forecasting tests: synthetic histories whose answer is known."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from forecasting.base import history_frame

START = pd.Timestamp("2024-01-01T00:00:00Z")  # a Monday
DAY = 24
WEEK = 168


def make_history(series: Mapping[str, np.ndarray], *, start: pd.Timestamp = START) -> pd.DataFrame:
    """A long ``hour, usage_key, units`` history from one array of hourly units per key."""
    keys = list(series)
    return history_frame(np.column_stack([np.asarray(series[k], float) for k in keys]), keys,
                         start)


def weekly_pattern(weeks: int, *, base: float = 40.0, seed: int = 0) -> np.ndarray:
    """A pattern of one week with daily and weekly shape, repeated exactly ``weeks`` times."""
    hours = np.arange(WEEK)
    rng = np.random.default_rng(seed)
    week = (base + 10 * np.sin(2 * np.pi * hours / DAY) + 6 * (hours // DAY >= 5)
            + rng.integers(0, 3, WEEK))
    return np.tile(week, weeks)


def daily_cycle(hours: int, *, base: float = 40.0, amplitude: float = 10.0, noise: float = 1.0,
                seed: int = 0) -> np.ndarray:
    """A daily sine around ``base`` with Gaussian noise, clipped at zero."""
    rng = np.random.default_rng(seed)
    t = np.arange(hours)
    values = base + amplitude * np.sin(2 * np.pi * t / DAY) + rng.normal(0, noise, hours)
    return np.maximum(values, 0.0)


def dropped_to_zero(hours: int, zero_hours: int, *, seed: int = 0) -> np.ndarray:
    """A daily cycle that stops for good: its last ``zero_hours`` are zero."""
    values = daily_cycle(hours, seed=seed)
    values[hours - zero_hours:] = 0.0
    return values


def correlated_fleet(hours: int, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Three keys: two driven by one shared persistent shock, one independent of them."""
    rng = np.random.default_rng(seed)
    shared = np.zeros(hours)
    own = np.zeros((hours, 3))
    innovations = rng.normal(0, 1, hours)
    own_innovations = rng.normal(0, 1, (hours, 3))
    for hour in range(1, hours):
        shared[hour] = 0.9 * shared[hour - 1] + innovations[hour]
        own[hour] = 0.9 * own[hour - 1] + own_innovations[hour]
    cycle = np.sin(2 * np.pi * np.arange(hours) / DAY)
    return {
        "aws/a/ec2/us-east-1/m5/linux/shared": 100 + 10 * cycle + 6 * shared + 2 * own[:, 0],
        "aws/a/ec2/us-east-1/c5/linux/shared": 60 + 4 * cycle + 4 * shared + 1.5 * own[:, 1],
        "aws/a/ec2/us-east-1/r5/linux/shared": 80 - 5 * cycle + 6 * own[:, 2],
    }
