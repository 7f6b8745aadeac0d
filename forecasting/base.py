"""The forecaster interface, history validation and the shared post-processing.

Every forecaster follows scikit-learn's conventions (STYLE.md): ``__init__`` only
stores parameters; ``fit(history) -> self`` learns, and everything it learns ends
in ``_``; ``predict(horizon, quantiles=...)`` returns a long frame
``usage_key, hour, q0.1, q0.5, q0.9``; ``sample_paths(horizon, n, seed)``
returns scenarios as an array ``(n, horizon, K)`` whose last axis follows
``usage_keys_``, as ``predict_proba`` follows ``classes_``.

The history is the trace format of BENCHMARK.md: a long frame ``hour,
usage_key, units`` with one row per key and hour, hourly and dense. A missing
hour is an error (ingestion should have caught it), never a silent zero.

What every forecaster shares, done here once:

* **Leading zeros** are hours before the key existed: a key's history starts at
  its first non-zero hour, so a key launched three days ago has three days of
  history and its forecaster falls back to simple models.
* **Decommissioned keys** (a trailing run of zeros of at least
  ``DECOMMISSION_HOURS`` that is longer than any earlier run of zeros) forecast
  zero, in every quantile and every scenario.
* **Spikes** are clipped (``robust.clip_spikes``) before models are fitted, so
  that they do not inflate the base; calibration residuals are taken against
  the raw usage, so the upper quantiles still carry the risk of a spike.
* Quantiles are sorted (they never cross) and never negative.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from core.errors import InvalidInput
from forecasting import robust, scenarios

HOUR = pd.Timedelta(hours=1)
QUANTILES: tuple[float, ...] = (0.1, 0.5, 0.9)
COLUMNS = ("hour", "usage_key", "units")
DECOMMISSION_HOURS = 24
# The quantile levels scenarios are drawn from (their tails are clamped to the ends).
SCENARIO_LEVELS: tuple[float, ...] = tuple(np.round(np.arange(0.025, 0.976, 0.025), 3))


def quantile_column(level: float) -> str:
    """The column name of a quantile level in predict frames: ``0.1 -> "q0.1"``."""
    return f"q{level:g}"


def check_quantiles(quantiles: Sequence[float]) -> tuple[float, ...]:
    """Validate quantile levels (each strictly between 0 and 1) and return them sorted."""
    levels = tuple(sorted({float(q) for q in quantiles}))
    if not levels:
        raise InvalidInput("at least one quantile level is needed")
    for level in levels:
        if not 0.0 < level < 1.0:
            raise InvalidInput(f"quantile level {level} is not strictly between 0 and 1")
    return levels


def check_horizon(horizon: int) -> int:
    """Validate a forecast horizon in hours."""
    if isinstance(horizon, bool) or int(horizon) != horizon or horizon < 1:
        raise InvalidInput(f"horizon must be a positive whole number of hours, got {horizon!r}")
    return int(horizon)


def to_wide(history: pd.DataFrame) -> pd.DataFrame:
    """Validate a long usage history and pivot it to hours × usage keys.

    Raises ``InvalidInput`` on missing columns, unparseable or non-hourly hours,
    NaN, infinite or negative units, duplicate rows, and on any missing
    (hour, key) row between the first and the last hour: the history must be
    dense, as BENCHMARK.md's trace format says.
    """
    if not isinstance(history, pd.DataFrame):
        raise InvalidInput("history must be a pandas DataFrame with columns hour, usage_key, units")
    missing = [c for c in COLUMNS if c not in history.columns]
    if missing:
        raise InvalidInput(f"history lacks the column(s) {', '.join(missing)}",
                           column=missing[0])
    if history.empty:
        raise InvalidInput("history is empty")
    try:
        hours = pd.to_datetime(history["hour"], utc=True)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"hour is not a date-time: {exc}", column="hour") from exc
    if hours.isna().any():
        row = int(np.flatnonzero(hours.isna().to_numpy())[0])
        raise InvalidInput("hour is empty", row=row, column="hour")
    off_hour = (hours != hours.dt.floor("h")).to_numpy()
    if off_hour.any():
        row = int(np.flatnonzero(off_hour)[0])
        raise InvalidInput(f"hour {hours.iloc[row]} is not the start of an hour", row=row,
                           column="hour")
    units = pd.to_numeric(history["units"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(units)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidInput(f"units {history['units'].iloc[row]!r} is not a finite number",
                           row=row, column="units")
    negative = units < 0
    if negative.any():
        row = int(np.flatnonzero(negative)[0])
        raise InvalidInput(f"units {units[row]} is negative", row=row, column="units")
    codes, key_names = pd.factorize(history["usage_key"].astype(str), sort=True)
    nanoseconds = pd.DatetimeIndex(hours).asi8
    first = int(nanoseconds.min())
    position = (nanoseconds - first) // HOUR.value
    n_hours, n_keys = int(position.max()) + 1, len(key_names)
    cell = position * n_keys + codes
    counts = np.bincount(cell, minlength=n_hours * n_keys)
    if (counts > 1).any():
        row = int(np.flatnonzero(pd.Series(cell).duplicated().to_numpy())[0])
        raise InvalidInput(
            f"usage key {key_names[codes[row]]!r} has two rows for hour {hours.iloc[row]}",
            row=row,
        )
    flat = np.full(n_hours * n_keys, np.nan)
    flat[cell] = units
    matrix = flat.reshape(n_hours, n_keys)
    full = pd.date_range(pd.Timestamp(first, tz="UTC"), periods=n_hours, freq="h")
    holes = counts.reshape(n_hours, n_keys) == 0
    if holes.any():
        n_missing = int(holes.sum())
        first_hour, first_key = np.argwhere(holes)[0]
        raise InvalidInput(
            f"the history is not dense: {n_missing} (hour, usage_key) row(s) are missing "
            f"between {full[0]} and {full[-1]}, the first for key "
            f"{key_names[first_key]!r} at {full[first_hour]}; a missing hour is an error, "
            "not zero (fill it at ingestion if the usage really was zero)"
        )
    wide = pd.DataFrame(matrix, index=full, columns=pd.Index(list(key_names)))
    wide.index.name = "hour"
    wide.columns.name = "usage_key"
    return wide


def history_frame(units: np.ndarray, usage_keys: Sequence[str],
                  start: pd.Timestamp | datetime) -> pd.DataFrame:
    """A long ``hour, usage_key, units`` history from an hours × keys matrix starting at ``start``.

    For callers that hold usage as a matrix (the backtest's ``UsageTrace``).
    """
    matrix = np.asarray(units, dtype=float)
    if matrix.ndim != 2 or matrix.shape[1] != len(usage_keys):
        raise InvalidInput(
            f"usage matrix of shape {matrix.shape} does not match {len(usage_keys)} usage keys"
        )
    first = pd.Timestamp(start)
    first = first.tz_localize("UTC") if first.tzinfo is None else first.tz_convert("UTC")
    hours = pd.date_range(first, periods=matrix.shape[0], freq="h")
    return pd.DataFrame({
        "hour": np.repeat(hours, matrix.shape[1]),
        "usage_key": np.tile(np.asarray(usage_keys, dtype=object), matrix.shape[0]),
        "units": matrix.reshape(-1),
    })


def forecast_hours(last_hour: pd.Timestamp, horizon: int) -> pd.DatetimeIndex:
    """The ``horizon`` hours that follow ``last_hour``."""
    return pd.date_range(last_hour + HOUR, periods=horizon, freq="h")


@dataclass(frozen=True, eq=False)
class Prepared:
    """A validated history ready to fit on: raw and spike-clipped usage, and what all models share.

    ``starts[k]`` is key ``k``'s first non-zero hour (leading zeros are not
    history); ``decommissioned[k]`` says it has been switched off.
    """

    usage_keys: tuple[str, ...]
    hours: pd.DatetimeIndex
    raw: np.ndarray
    clean: np.ndarray
    starts: np.ndarray
    decommissioned: np.ndarray


def prepare(wide: pd.DataFrame) -> Prepared:
    """Prepare a validated wide history (``to_wide``): starts, switched-off keys, clipped spikes."""
    raw = wide.to_numpy(dtype=float)
    starts = robust.first_nonzero(raw)
    return Prepared(
        usage_keys=tuple(str(k) for k in wide.columns),
        hours=pd.DatetimeIndex(wide.index),
        raw=raw,
        clean=robust.clip_spikes(raw, starts),
        starts=starts,
        decommissioned=robust.decommissioned(raw, starts, DECOMMISSION_HOURS),
    )


class Forecaster(BaseEstimator, ABC):
    """Probabilistic hourly forecasts of usage per key (see the module docstring).

    Subclasses implement ``_fit`` and ``_quantiles``; this class validates the
    history, trims leading zeros, clips spikes, detects decommissioned keys, and
    post-processes and formats every forecast.
    """

    def fit(self, history: pd.DataFrame) -> Self:
        """Learn from a long ``hour, usage_key, units`` history; return ``self``."""
        return self.fit_prepared(prepare(to_wide(history)))

    def fit_prepared(self, prepared: Prepared) -> Self:
        """Learn from a history already validated and prepared (``prepare``); return ``self``.

        For callers that fit several forecasters on one history (evaluation, choosers).
        """
        self.usage_keys_: tuple[str, ...] = prepared.usage_keys
        self.hours_: pd.DatetimeIndex = prepared.hours
        self.last_hour_: pd.Timestamp = prepared.hours[-1]
        self.starts_: np.ndarray = prepared.starts
        self.decommissioned_: np.ndarray = prepared.decommissioned
        self.clean_: np.ndarray = prepared.clean
        self._fit(prepared.raw, prepared.clean)
        return self

    @abstractmethod
    def _fit(self, raw: np.ndarray, clean: np.ndarray) -> None:
        """Learn from ``raw`` usage and its spike-clipped copy ``clean`` (hours × keys).

        ``self.starts_[k]`` is the first hour of key ``k`` (leading zeros are not
        history); ``self.hours_`` holds the hours.
        """

    @abstractmethod
    def _quantiles(self, horizon: int, levels: tuple[float, ...]) -> np.ndarray:
        """Raw quantiles, shape ``(len(levels), horizon, K)``, before post-processing."""

    def quantile_array(self, horizon: int, quantiles: Sequence[float] = QUANTILES) -> np.ndarray:
        """Forecast quantiles as an array ``(len(levels), horizon, K)``, levels sorted.

        Post-processed: sorted across levels, never negative, zero for
        decommissioned keys.
        """
        self._check_fitted()
        horizon = check_horizon(horizon)
        levels = check_quantiles(quantiles)
        values = np.asarray(self._quantiles(horizon, levels), dtype=float)
        expected = (len(levels), horizon, len(self.usage_keys_))
        if values.shape != expected:  # pragma: no cover - a bug in a subclass
            raise AssertionError(f"{type(self).__name__} returned {values.shape}, not {expected}")
        values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
        values = np.sort(np.maximum(values, 0.0), axis=0)
        values[:, :, self.decommissioned_] = 0.0
        return values

    def predict(self, horizon: int, quantiles: Sequence[float] = QUANTILES) -> pd.DataFrame:
        """Quantile forecasts for the ``horizon`` hours after the history.

        Returns a long frame with columns ``usage_key, hour`` and one column per
        level (``q0.1, q0.5, q0.9`` by default), sorted by key then hour.
        """
        levels = check_quantiles(quantiles)
        values = self.quantile_array(horizon, levels)
        hours = forecast_hours(self.last_hour_, values.shape[1])
        n_keys = len(self.usage_keys_)
        frame = pd.DataFrame({
            "usage_key": np.repeat(np.asarray(self.usage_keys_, dtype=object), len(hours)),
            "hour": np.tile(hours, n_keys),
        })
        for i, level in enumerate(levels):
            frame[quantile_column(level)] = values[i].T.reshape(-1)
        return frame

    def sample_paths(self, horizon: int, n: int = 100, seed: int | None = 0, *,
                     antithetic: bool = False, anchored: bool = False) -> np.ndarray:
        """Scenarios of hourly usage, an array ``(n, horizon, K)`` in ``usage_keys_`` order.

        Each hour of each key follows the forecast's own quantiles; the paths take
        their daily and weekly shape from the forecast and their persistence and
        cross-key correlation from blocks of the history's shocks, drawn at the
        same hours for every key (``scenarios.block_bootstrap``). ``antithetic``: paths
        come in pairs whose shocks are each other's negation; ``anchored`` (with a seed):
        the history blocks are chosen by their clock hours, so forecasts made a day apart
        draw nearly the same shocks (``forecasting.scenarios``, "Variance reduction").
        """
        self._check_fitted()
        horizon = check_horizon(horizon)
        if n < 1:
            raise InvalidInput(f"the number of scenarios must be at least 1, got {n}")
        grid = self.quantile_array(horizon, SCENARIO_LEVELS)
        shocks = scenarios.normal_scores(self.clean_, self.starts_)
        rng = np.random.default_rng(seed)
        anchor = seed if anchored and seed is not None else None
        paths = np.empty((n, horizon, len(self.usage_keys_)))
        step = 2 if antithetic else 1
        for i in range(0, n, step):  # a path (or a pair) at a time: temporaries stay small
            scores = scenarios.block_bootstrap(
                shocks, self.hours_, horizon, 1, rng,
                anchor_seed=None if anchor is None else anchor + i)
            paths[i] = scenarios.paths_from_scores(grid, SCENARIO_LEVELS, scores)[0]
            if antithetic and i + 1 < n:
                paths[i + 1] = scenarios.paths_from_scores(grid, SCENARIO_LEVELS, -scores)[0]
        return paths

    def forecast_hours(self, horizon: int) -> pd.DatetimeIndex:
        """The hours a forecast of ``horizon`` hours covers."""
        self._check_fitted()
        return forecast_hours(self.last_hour_, check_horizon(horizon))

    def _fit_child(self, child: Forecaster, raw: np.ndarray, clean: np.ndarray) -> Forecaster:
        """Fit another forecaster on the same prepared history (for fallbacks and choosers)."""
        for name in ("usage_keys_", "hours_", "last_hour_", "starts_", "decommissioned_",
                     "clean_"):
            setattr(child, name, getattr(self, name))
        child._fit(raw, clean)
        return child

    def _check_fitted(self) -> None:
        if not hasattr(self, "usage_keys_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit(history) first")

    def _key_history(self, values: np.ndarray, k: int) -> np.ndarray:
        """Key ``k``'s own history (from its first non-zero hour) out of an hours × keys array."""
        return values[int(self.starts_[k]):, k]
