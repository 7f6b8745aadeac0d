"""Daily spend forecasts with intervals, and their rolling-origin evaluation.

Spend is a daily series of money (the whole bill, or a part of it). The model,
:class:`DailySpendForecaster`, is a weighted linear regression of the day's cost on

    cost_d = level + trend·t_d + Σ_w weekday_w(d) + month_start(d) + month_end(d) + e_d

fitted on the last ``window_days`` with weights halving every ``half_life_days`` (recent
days count most), a damped trend (each day ahead adds ``damping`` times the last day's
slope; the default, 0, fits the trend only to place the level at the last day and does not
extrapolate it: chosen on the AWS sample's series, benchmarks/README.md), and a small ridge
penalty so that a calendar effect seen on few days stays modest.
Weekday effects need two weeks of data, the trend four, a month-start or month-end effect
two occurrences; otherwise they are left out.

Intervals come from sample paths: the forecast mean plus residuals of the fit drawn in
blocks of ``block_days`` consecutive days (so that a bad week stays a bad week), each block
as likely as its last day weighs in the fit (old days are fitted loosely by a local fit and
would widen the intervals for nothing), plus a level that wanders as the recent residuals'
weekly means did (so that intervals widen with the horizon). Quantiles of the paths give
daily intervals, sums of the paths intervals of period totals (the sum of daily quantiles
is not the quantile of the sum).

**Known spend**: committed spend already known (a commitment's fees scheduled for the days
ahead) is passed as ``known``: it is taken out of the history before the fit and added back
to every path, with no uncertainty.

Baselines of the evaluation: :class:`SeasonalNaiveSpend` (the same weekday last week,
errors of a weekly random walk) and :class:`RunRateSpend` (the mean of the last 7 days,
errors of past days around their trailing 7-day mean). :func:`evaluate_spend` scores
models by rolling origin: pinball loss at the 2.5 %, 10 %, 50 %, 90 % and 97.5 % levels
(scaled by the series' mean daily cost), and coverage of the 80 % and 95 % intervals of
each day and of the horizon's total.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from core.errors import InvalidInput
from forecasting.base import quantile_column as quantile_name
from forecasting.evaluate import pinball_loss

LEVELS = (0.025, 0.1, 0.5, 0.9, 0.975)
"""Quantile levels of a spend forecast: the 95 % and 80 % intervals and the median."""
INTERVALS = {"80": (0.1, 0.9), "95": (0.025, 0.975)}
MIN_HISTORY_DAYS = 14
FloatArray = npt.NDArray[np.float64]


def _days(index: pd.Index) -> npt.NDArray[np.datetime64]:
    return np.asarray(pd.to_datetime(index).to_numpy(), dtype="datetime64[D]")


def check_daily(daily: pd.Series, *, name: str = "daily") -> pd.Series:
    """A daily series indexed by consecutive days, finite (InvalidInput otherwise)."""
    if len(daily) < 1:
        raise InvalidInput(f"{name}: no days of spend to forecast from", column=name)
    days = _days(daily.index)
    if len(days) > 1 and np.any(np.diff(days.astype(np.int64)) != 1):
        raise InvalidInput(f"{name}: days must be consecutive, oldest first", column=name)
    values = daily.to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise InvalidInput(f"{name}: every day's spend must be a finite number", column=name)
    return pd.Series(values, index=days)


def _known(known: pd.Series | None, days: npt.NDArray[np.datetime64]) -> FloatArray:
    if known is None:
        return np.zeros(len(days))
    series = pd.Series(known.to_numpy(dtype=np.float64), index=_days(known.index))
    return series.reindex(days, fill_value=0.0).to_numpy(dtype=np.float64)


def _history(daily: pd.Series, known: pd.Series | None,
             ) -> tuple[npt.NDArray[np.datetime64], FloatArray]:
    """The checked history's days and its values less their ``known`` part."""
    series = check_daily(daily)
    days = _days(series.index)
    return days, series.to_numpy() - _known(known, days)


def future_days(last_day: np.datetime64, days_ahead: int) -> npt.NDArray[np.datetime64]:
    """The ``days_ahead`` days after ``last_day``."""
    first = int(np.asarray(last_day).astype("datetime64[D]").astype(np.int64)) + 1
    return np.arange(first, first + days_ahead, dtype=np.int64).astype("datetime64[D]")


def quantile_frame(days: npt.NDArray[np.datetime64], paths: FloatArray,
                   levels: tuple[float, ...] = LEVELS) -> pd.DataFrame:
    """Per day: the paths' mean and quantiles (``day, mean, q…``)."""
    frame = pd.DataFrame({"day": days, "mean": paths.mean(axis=0) if len(paths) else []})
    for level in levels:
        frame[quantile_name(level)] = np.quantile(paths, level, axis=0)
    return frame


class SpendModel(Protocol):
    """A daily spend forecaster: ``fit`` on history, then ``sample_paths`` ahead."""

    name: str

    def fit(self, daily: pd.Series, known: pd.Series | None = None) -> SpendModel:
        """Learn from the daily history (``known``: its committed part)."""
        ...

    def sample_paths(self, days_ahead: int, n_paths: int = 2000,
                     known: pd.Series | None = None) -> FloatArray:
        """``n_paths`` × ``days_ahead`` possible futures (``known`` added to each)."""
        ...


def _calendar(days: npt.NDArray[np.datetime64]) -> dict[str, FloatArray]:
    """Weekday (Tuesday…Sunday against Monday), first and last day of a month, as 0/1."""
    numbers = days.astype(np.int64)
    weekday = (numbers + 3) % 7  # 0 = Monday
    months = days.astype("datetime64[M]")
    first = months.astype("datetime64[D]") == days
    last = (months + 1).astype("datetime64[D]") - 1 == days
    columns = {f"weekday_{w}": (weekday == w).astype(np.float64) for w in range(1, 7)}
    columns["month_start"] = first.astype(np.float64)
    columns["month_end"] = last.astype(np.float64)
    return columns


@dataclass
class DailySpendForecaster:
    """The daily spend model of the module docstring (scikit-learn style: ``fit`` learns,
    fitted state ends in ``_``)."""

    window_days: int = 182
    half_life_days: float = 7.0
    damping: float = 0.0
    ridge: float = 1.0
    block_days: int = 7
    level_noise: bool = True
    seed: int = 0
    name: str = "daily-regression"

    def _design(self, days: npt.NDArray[np.datetime64], t: FloatArray) -> FloatArray:
        calendar = _calendar(days)
        columns = [np.ones(len(days))]
        if self.use_trend_:
            columns.append(t)
        columns += [calendar[c] for c in self.calendar_columns_]
        return np.column_stack(columns)

    def fit(self, daily: pd.Series, known: pd.Series | None = None) -> DailySpendForecaster:
        """Fit on the last ``window_days`` of ``daily`` less its ``known`` part."""
        days, values = _history(daily, known)
        keep = slice(max(0, len(values) - self.window_days), None)
        days, values = days[keep], values[keep]
        n = len(values)
        self.last_day_ = days[-1]
        self.use_trend_ = n >= 28
        calendar = _calendar(days)
        chosen = []
        if n >= 14:
            chosen += [f"weekday_{w}" for w in range(1, 7)]
        chosen += [c for c in ("month_start", "month_end") if calendar[c].sum() >= 2]
        self.calendar_columns_ = tuple(chosen)
        t = np.arange(n, dtype=np.float64) - (n - 1)  # 0 on the last day
        design = self._design(days, t / 30.0)
        weights = 0.5 ** (-t / self.half_life_days)
        penalty = np.full(design.shape[1], self.ridge * weights.sum() / max(n, 1) * 0.01)
        penalty[0] = 0.0
        gram = design.T @ (design * weights[:, None]) + np.diag(penalty)
        self.coef_ = np.linalg.solve(gram, design.T @ (weights * values))
        # In-sample residuals are smaller than out-of-sample errors: scale them by the
        # degrees of freedom the fit used (weighted: the effective number of days).
        effective = weights.sum() ** 2 / (weights ** 2).sum()
        spare = max(effective - design.shape[1], 1.0)
        self.residuals_ = (values - design @ self.coef_) * np.sqrt(effective / spare)
        # A local fit leaves old days poorly fitted: residuals are drawn as their days weigh.
        self.weights_ = weights / weights.sum()
        recent = self.residuals_[-max(round(4 * self.half_life_days), 28):]
        weekly = pd.Series(recent[::-1]).rolling(7).mean().to_numpy()[6::7]
        self.level_step_ = float(np.std(np.diff(weekly))) / np.sqrt(7.0) if len(
            weekly) > 2 else 0.0
        return self

    def mean(self, days_ahead: int) -> FloatArray:
        """The forecast mean of each day ahead (before known spend)."""
        days = future_days(self.last_day_, days_ahead)
        steps = np.arange(1, days_ahead + 1, dtype=np.float64)
        damped = np.cumsum(self.damping ** steps) if self.damping < 1 else steps
        return self._design(days, damped / 30.0) @ self.coef_

    def sample_paths(self, days_ahead: int, n_paths: int = 2000,
                     known: pd.Series | None = None) -> FloatArray:
        """Mean + residual blocks + a wandering level, + known spend (module docstring)."""
        rng = np.random.default_rng(self.seed)
        mean = self.mean(days_ahead)
        residuals = self.residuals_
        block = max(1, min(self.block_days, len(residuals)))
        n_blocks = -(-days_ahead // block)
        chances = self.weights_[block - 1:]  # a block weighs as its last day
        starts = rng.choice(len(chances), size=(n_paths, n_blocks), p=chances / chances.sum())
        offsets = starts[:, :, None] + np.arange(block)[None, None, :]
        noise = residuals[offsets].reshape(n_paths, -1)[:, :days_ahead]
        paths = mean[None, :] + noise
        if self.level_noise and self.level_step_ > 0:
            steps = rng.normal(0.0, self.level_step_, size=(n_paths, days_ahead))
            paths = paths + np.cumsum(steps, axis=1)
        future = future_days(self.last_day_, days_ahead)
        return paths + _known(known, future)[None, :]


@dataclass
class SeasonalNaiveSpend:
    """The same weekday of the last week; its errors those of a weekly random walk."""

    seed: int = 0
    name: str = "seasonal-naive"

    def fit(self, daily: pd.Series, known: pd.Series | None = None) -> SeasonalNaiveSpend:
        """Keep the last week and the history's week-on-week changes."""
        days, values = _history(daily, known)
        self.last_day_ = days[-1]
        self.last_week_ = values[-7:] if len(values) >= 7 else np.full(7, values.mean())
        changes = values[7:] - values[:-7]
        self.changes_ = changes if len(changes) else np.zeros(1)
        return self

    def sample_paths(self, days_ahead: int, n_paths: int = 2000,
                     known: pd.Series | None = None) -> FloatArray:
        """The last week repeated, plus one drawn weekly change per week ahead."""
        rng = np.random.default_rng(self.seed)
        week = len(self.last_week_)
        base = np.resize(self.last_week_, days_ahead)
        weeks = np.arange(days_ahead) // week + 1
        draws = rng.choice(self.changes_, size=(n_paths, days_ahead, int(weeks.max())))
        steps = np.cumsum(draws, axis=2)[:, np.arange(days_ahead), weeks - 1]
        future = future_days(self.last_day_, days_ahead)
        return base[None, :] + steps + _known(known, future)[None, :]


@dataclass
class RunRateSpend:
    """The mean of the last ``days`` days; its errors past days' around their trailing mean."""

    days: int = 7
    seed: int = 0
    name: str = "run-rate"

    def fit(self, daily: pd.Series, known: pd.Series | None = None) -> RunRateSpend:
        """Keep the recent mean and the history's deviations from its trailing means."""
        days, values = _history(daily, known)
        self.last_day_ = days[-1]
        self.rate_ = float(values[-self.days:].mean())
        trailing = pd.Series(values).rolling(self.days).mean().shift(1).to_numpy()
        errors = (values - trailing)[np.isfinite(trailing)]
        self.errors_ = errors if len(errors) else np.zeros(1)
        return self

    def sample_paths(self, days_ahead: int, n_paths: int = 2000,
                     known: pd.Series | None = None) -> FloatArray:
        """The run rate every day, plus a drawn deviation."""
        rng = np.random.default_rng(self.seed)
        noise = rng.choice(self.errors_, size=(n_paths, days_ahead))
        future = future_days(self.last_day_, days_ahead)
        return self.rate_ + noise + _known(known, future)[None, :]


SPEND_MODELS: dict[str, Callable[[], SpendModel]] = {
    "daily-regression": DailySpendForecaster,
    "seasonal-naive": SeasonalNaiveSpend,
    "run-rate": RunRateSpend,
}
"""The spend forecasters by name: the model and its two baselines."""


@dataclass(frozen=True, slots=True)
class SpendForecast:
    """A spend forecast: per day ahead the mean and quantiles; the total's quantiles."""

    daily: pd.DataFrame
    total: dict[str, float]
    method: str
    paths: FloatArray
    """The sample paths (paths × days ahead) the quantiles are of: sums of their first n
    days give the quantiles of any shorter period's total."""


def forecast_spend(daily: pd.Series, days_ahead: int, *, known: pd.Series | None = None,
                   model: SpendModel | None = None, n_paths: int = 2000) -> SpendForecast:
    """Forecast ``days_ahead`` days after ``daily`` (``known``: committed spend of the history
    and of the days ahead, counted as known)."""
    if days_ahead < 1:
        raise InvalidInput("days_ahead must be at least 1", column="days_ahead")
    chosen = model or DailySpendForecaster()
    chosen.fit(daily, known)
    paths = chosen.sample_paths(days_ahead, n_paths, known)
    days = future_days(_days(check_daily(daily).index)[-1], days_ahead)
    sums = paths.sum(axis=1)
    total = {"mean": float(sums.mean()),
             **{quantile_name(level): float(np.quantile(sums, level)) for level in LEVELS}}
    return SpendForecast(quantile_frame(days, paths), total, chosen.name, paths)


# --- evaluation ----------------------------------------------------------------------------


def spend_origins(n_days: int, horizon: int, n_origins: int, min_history: int) -> list[int]:
    """Origins (days of history each forecast sees), evenly spread, the latest leaving
    exactly ``horizon`` days to score."""
    last = n_days - horizon
    if last < min_history:
        raise InvalidInput(f"{n_days} days of spend are too few for {min_history} days of "
                           f"history and a {horizon}-day horizon", column="horizon")
    if n_origins == 1:
        return [last]
    return sorted({round(float(v)) for v in np.linspace(min_history, last, n_origins)})


@dataclass(frozen=True, slots=True)
class SpendEvaluation:
    """Scores per model (rows) and the origins used."""

    table: pd.DataFrame
    origins: int
    series: int


def evaluate_spend(series: Mapping[str, pd.Series],
                   models: Mapping[str, Callable[[], SpendModel]], *, horizon: int = 14,
                   n_origins: int = 5, min_history: int = 35,
                   n_paths: int = 1000) -> SpendEvaluation:
    """Rolling-origin scores of each model over every series (module docstring).

    At each origin a fresh model is fitted on the days before it only. ``pinball`` is the
    mean over levels and days, divided by the series' mean absolute daily cost over the
    scored days (so series of any size weigh the same); coverage is the share of days (and
    of horizon totals) inside each interval.
    """
    rows: dict[str, dict[str, list[float]]] = {name: {} for name in models}
    used = 0
    for values in series.values():
        daily = check_daily(values)
        for origin in spend_origins(len(daily), horizon, n_origins, min_history):
            history, actual = daily.iloc[:origin], daily.to_numpy()[origin:origin + horizon]
            scale = float(np.mean(np.abs(actual))) or 1.0
            used += 1
            for name, make in models.items():
                started = time.perf_counter()
                paths = make().fit(history).sample_paths(horizon, n_paths)
                seconds = time.perf_counter() - started
                score = rows[name]
                for level in LEVELS:
                    q = np.quantile(paths, level, axis=0)
                    score.setdefault(f"pinball_{quantile_name(level)}", []).append(
                        float(pinball_loss(actual, q, level).mean()) / scale)
                sums, total = paths.sum(axis=1), actual.sum()
                for label, (low, high) in INTERVALS.items():
                    lo, hi = np.quantile(paths, low, axis=0), np.quantile(paths, high, axis=0)
                    score.setdefault(f"cover{label}", []).append(
                        float(np.mean((actual >= lo) & (actual <= hi))))
                    inside = np.quantile(sums, low) <= total <= np.quantile(sums, high)
                    score.setdefault(f"total_cover{label}", []).append(float(inside))
                score.setdefault("seconds", []).append(seconds)
    table = pd.DataFrame({name: {k: float(np.mean(v)) for k, v in score.items()}
                          for name, score in rows.items()}).T
    table["pinball"] = table[[f"pinball_{quantile_name(level)}" for level in LEVELS]].mean(
        axis=1)
    return SpendEvaluation(table, used, len(series))


__all__ = [
    "INTERVALS",
    "LEVELS",
    "SPEND_MODELS",
    "DailySpendForecaster",
    "RunRateSpend",
    "SeasonalNaiveSpend",
    "SpendEvaluation",
    "SpendForecast",
    "SpendModel",
    "check_daily",
    "evaluate_spend",
    "forecast_spend",
    "future_days",
    "quantile_frame",
    "quantile_name",
    "spend_origins",
]
