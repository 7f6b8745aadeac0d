"""Seasonal naive: next week (or day) is the last one again. The baseline every model must beat."""

from __future__ import annotations

import numpy as np

from forecasting.base import Forecaster

DAY = 24
WEEK = 168


def effective_season(n_hours: int, season_length: int, min_seasons: int) -> int:
    """The longest of ``season_length``, a day and an hour that fits ``min_seasons`` times."""
    for season in (season_length, DAY, 1):
        if season <= season_length and n_hours >= min_seasons * season:
            return season
    return 1 if n_hours >= 1 else 0


class SeasonalNaive(Forecaster):
    """Repeat the last season; quantiles from the empirical seasonal-naive residuals.

    The point forecast for lead ``h`` is the (spike-clipped) usage one season
    before, in the last season of the history. Its quantiles add the empirical
    quantiles of the residuals ``y[t] - y[t - season]`` (raw usage against the
    clipped history), widened by ``sqrt(m)`` for the ``m``-th season ahead, as
    for a seasonal random walk. A key with less than ``min_seasons`` weekly
    seasons falls back to a daily season, then to the last hour.
    """

    def __init__(self, season_length: int = WEEK, min_seasons: int = 2) -> None:
        self.season_length = season_length
        self.min_seasons = min_seasons

    def _fit(self, raw: np.ndarray, clean: np.ndarray) -> None:
        self.seasons_: np.ndarray = np.zeros(raw.shape[1], dtype=int)
        self.patterns_: list[np.ndarray] = []
        self.residuals_: list[np.ndarray] = []
        for k in range(raw.shape[1]):
            y_clean = self._key_history(clean, k)
            y_raw = self._key_history(raw, k)
            season = effective_season(y_clean.size, self.season_length, self.min_seasons)
            self.seasons_[k] = season
            if season == 0:
                self.patterns_.append(np.zeros(1))
                self.residuals_.append(np.zeros(1))
                continue
            self.patterns_.append(y_clean[-season:].copy())
            residuals = y_raw[season:] - y_clean[:-season]
            self.residuals_.append(residuals if residuals.size else np.zeros(1))

    def _quantiles(self, horizon: int, levels: tuple[float, ...]) -> np.ndarray:
        out = np.zeros((len(levels), horizon, len(self.usage_keys_)))
        lead = np.arange(horizon)
        for k, season in enumerate(self.seasons_):
            if season == 0:
                continue
            point = self.patterns_[k][lead % season]
            widen = np.sqrt(lead // season + 1.0)
            offsets = np.quantile(self.residuals_[k], levels)
            out[:, :, k] = point[None, :] + offsets[:, None] * widen[None, :]
        return out
