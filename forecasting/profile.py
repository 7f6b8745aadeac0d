"""Seasonal profile: the latest level times a robust daily and weekly shape. Cheap and vectorised.

The model for lead ``h`` after an origin, for each key::

    forecast(h) = level × week[day(h)] × day[hour(h)]

* ``day`` is the median over the last ``profile_days`` days of each hour's
  ratio to its day's mean (normalised to mean 1);
* ``week`` is the median over the last ``profile_weeks`` weeks of each day's
  ratio to its week's mean, used once the key has two weeks of history;
* ``level`` is the mean of the last ``level_hours`` of (spike-clipped) usage,
  divided by the weekly factor of those days: a level shift is followed
  within a day, and a spike does not move it.

Days and weeks are counted back from the origin, so ``hour(h)`` and ``day(h)``
are positions relative to it, which keeps the computation one set of array
operations for all keys. Quantiles are conformal: the model is replayed over
its own history at daily origins and the errors of its forecasts, divided by
the level at their origin, give the quantiles by day of lead
(``calibration.LeadErrors``).
"""

from __future__ import annotations

import numpy as np

from forecasting.base import Forecaster
from forecasting.calibration import LeadErrors
from forecasting.robust import nanmedian, quiet

DAY = 24
WEEK = 168
MIN_CALIBRATION_HISTORY = 48


def _masked(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``values`` with NaN before each key's first hour."""
    out = values.astype(float).copy()
    out[np.arange(values.shape[0])[:, None] < starts[None, :]] = np.nan
    return out


def _blocks(history: np.ndarray, length: int, count: int) -> np.ndarray:
    """The last ``count`` whole blocks of ``length`` hours, shape ``(count, length, K)``.

    Blocks that do not fit in the history are NaN.
    """
    n_hours, n_keys = history.shape
    out = np.full((count * length, n_keys), np.nan)
    take = min(n_hours, count * length)
    if take:
        out[-take:] = history[-take:]
    return out.reshape(count, length, n_keys)


def _ratios(blocks: np.ndarray, axis: int) -> np.ndarray:
    """Each value's ratio to the mean of its block along ``axis``; the median over blocks."""
    with quiet():
        means = np.nanmean(blocks, axis=axis, keepdims=True)
        ratio = np.where(means > 0, blocks / means, np.nan)
        # A shape needs two complete periods to be a shape and not one period's noise.
        complete = (~np.isnan(blocks)).all(axis=axis, keepdims=True)
        ratio = np.where(complete, ratio, np.nan)
        enough = (~np.isnan(ratio)).sum(axis=0) >= 2
        shape = nanmedian(ratio)
        shape = np.where(enough, shape, 1.0)
        norm = np.nanmean(shape, axis=0, keepdims=True)
        return np.asarray(np.where(norm > 0, shape / norm, 1.0))


def profile_forecast(history: np.ndarray, horizon: int, level_hours: int, profile_days: int,
                     profile_weeks: int) -> tuple[np.ndarray, np.ndarray]:
    """Point forecasts ``(horizon, K)`` and levels ``(K,)`` from a history (NaN before starts)."""
    day_shape = _ratios(_blocks(history, DAY, profile_days), axis=1)  # (24, K)
    weeks = _blocks(history, WEEK, profile_weeks).reshape(profile_weeks, 7, DAY, -1)
    with quiet():
        day_means = np.nanmean(weeks, axis=2)  # (W, 7, K)
        day_means = np.where((~np.isnan(weeks)).all(axis=2), day_means, np.nan)
    week_shape = _ratios(day_means, axis=1)  # (7, K)
    recent = history[-level_hours:]
    with quiet():
        level = np.nanmean(recent, axis=0)
    # The recent hours lie in the last days before the origin: weekly slots 6, 5, ...
    slots = (np.arange(-recent.shape[0], 0) // DAY) % 7
    recent_factor = week_shape[slots].mean(axis=0)
    with quiet():
        level = np.nan_to_num(np.where(recent_factor > 0, level / recent_factor, level))
    lead = np.arange(horizon)
    forecast = level[None, :] * week_shape[(lead // DAY) % 7] * day_shape[lead % DAY]
    return forecast, level


class SeasonalProfile(Forecaster):
    """Latest level × robust daily and weekly shape, with conformal quantiles (module docstring)."""

    def __init__(self, level_hours: int = 24, profile_days: int = 7, profile_weeks: int = 4,
                 calibration_hours: int = WEEK, calibration_days: int = 60) -> None:
        self.level_hours = level_hours
        self.profile_days = profile_days
        self.profile_weeks = profile_weeks
        self.calibration_hours = calibration_hours
        self.calibration_days = calibration_days

    def _point(self, history: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        return profile_forecast(history, horizon, self.level_hours, self.profile_days,
                                self.profile_weeks)

    def _fit(self, raw: np.ndarray, clean: np.ndarray) -> None:
        self.history_: np.ndarray = _masked(clean, self.starts_)[
            -max(self.profile_weeks * WEEK, self.profile_days * DAY, self.level_hours):
        ]
        raw_masked = _masked(raw, self.starts_)
        clean_masked = _masked(clean, self.starts_)
        n_hours = raw.shape[0]
        origins = [o for o in range(n_hours - DAY, MIN_CALIBRATION_HISTORY - 1, -DAY)]
        origins = origins[: self.calibration_days]
        errors = np.full((len(origins), self.calibration_hours, raw.shape[1]), np.nan)
        for i, origin in enumerate(origins):
            lookahead = min(self.calibration_hours, n_hours - origin)
            forecast, level = self._point(clean_masked[:origin], lookahead)
            actual = raw_masked[origin: origin + lookahead]
            with quiet():
                errors[i, :lookahead] = (actual - forecast) / np.where(level > 0, level, 1.0)
        self.errors_: LeadErrors = LeadErrors(errors)
        with quiet():
            level = np.nanmean(clean_masked, axis=0)
            spread = (raw_masked - level) / np.where(level > 0, level, 1.0)
        # Keys too young for any held-out error borrow the spread of their own history.
        self.spread_: np.ndarray = spread

    def _quantiles(self, horizon: int, levels: tuple[float, ...]) -> np.ndarray:
        forecast, level = self._point(self.history_, horizon)
        offsets = self.errors_.quantiles(levels, horizon)
        unseen = np.isnan(offsets[0, 0])
        if unseen.any():
            with quiet():
                spread = np.nanquantile(self.spread_[:, unseen], (*levels, 0.5), axis=0)
            offsets[:, :, unseen] = np.nan_to_num(spread[:-1] - spread[-1])[:, None, :]
        return forecast[None] + offsets * level[None, None, :]
