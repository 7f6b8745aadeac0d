"""Statistical models from statsforecast: MSTL (daily and weekly seasons) with an AutoETS trend."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.base import Forecaster
from forecasting.naive import SeasonalNaive

MIN_HOURS = 48


def interval_columns(model: str, levels: tuple[float, ...]) -> tuple[list[float], list[str]]:
    """The statsforecast interval levels to ask for, and the column holding each quantile."""
    intervals: list[float] = []
    columns: list[str] = []
    for level in levels:
        width = round(abs(2.0 * level - 1.0) * 100.0, 4)
        if width == 0.0:
            columns.append(model)
            continue
        if width not in intervals:
            intervals.append(width)
        columns.append(f"{model}-{'lo' if level < 0.5 else 'hi'}-{width}")
    return intervals, columns


class MSTLForecaster(Forecaster):
    """MSTL decomposition (seasons of a day and a week) with an AutoETS trend, per key.

    Each key uses the seasons that fit twice in its history (a key with ten days
    has only the daily one); a key with less than two days falls back to
    ``SeasonalNaive``. Quantiles are statsforecast's prediction intervals
    (Gaussian, from the ETS fit of trend plus remainder). ``window_hours`` keeps
    only the latest hours of each key (MSTL's cost grows with the length of the
    series); ``n_jobs`` is statsforecast's number of processes.
    """

    def __init__(self, season_lengths: tuple[int, ...] = (24, 168), trend: str = "ZZN",
                 window_hours: int | None = None, n_jobs: int = 1) -> None:
        self.season_lengths = season_lengths
        self.trend = trend
        self.window_hours = window_hours
        self.n_jobs = n_jobs

    def _fit(self, raw: np.ndarray, clean: np.ndarray) -> None:
        from statsforecast import StatsForecast
        from statsforecast.models import MSTL, AutoETS

        self.fallback_: Forecaster = self._fit_child(SeasonalNaive(), raw, clean)
        groups: dict[tuple[int, ...], list[int]] = {}
        for k in range(raw.shape[1]):
            n_hours = raw.shape[0] - int(self.starts_[k])
            if self.window_hours is not None:
                n_hours = min(n_hours, self.window_hours)
            seasons = tuple(s for s in sorted(self.season_lengths) if n_hours >= 2 * s)
            if n_hours >= MIN_HOURS and seasons:
                groups.setdefault(seasons, []).append(k)
        self.groups_: dict[tuple[int, ...], list[int]] = groups
        self.models_: dict[tuple[int, ...], StatsForecast] = {}
        for seasons, keys in groups.items():
            frames = []
            for k in keys:
                y = self._key_history(clean, k)
                if self.window_hours is not None:
                    y = y[-self.window_hours:]
                frames.append(pd.DataFrame({
                    "unique_id": k, "ds": np.arange(y.size), "y": y,
                }))
            model = MSTL(season_length=list(seasons),
                         trend_forecaster=AutoETS(model=self.trend), alias="MSTL")
            forecaster = StatsForecast(models=[model], freq=1, n_jobs=self.n_jobs)
            forecaster.fit(pd.concat(frames, ignore_index=True))
            self.models_[seasons] = forecaster

    def _quantiles(self, horizon: int, levels: tuple[float, ...]) -> np.ndarray:
        out = self.fallback_._quantiles(horizon, levels)
        intervals, columns = interval_columns("MSTL", levels)
        for seasons, keys in self.groups_.items():
            # statsforecast takes fractional levels (e.g. 95.0) although it annotates int.
            forecast = self.models_[seasons].predict(
                h=horizon, level=intervals or None)  # type: ignore[arg-type]
            forecast = forecast.sort_values(["unique_id", "ds"])
            for k, (_, rows) in zip(keys, forecast.groupby("unique_id", sort=True), strict=True):
                out[:, :, k] = rows[columns].to_numpy().T
        return out
