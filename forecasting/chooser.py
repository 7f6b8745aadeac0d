"""Pick the best forecaster per key by a rolling-origin backtest on the key's own history."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.base import clone

from forecasting.base import QUANTILES, Forecaster
from forecasting.boosting import GradientBoostingForecaster
from forecasting.evaluate import pinball_loss
from forecasting.naive import SeasonalNaive
from forecasting.profile import SeasonalProfile
from forecasting.stats import MSTLForecaster

DAY = 24
MIN_HISTORY = 72


def default_candidates() -> dict[str, Forecaster]:
    """The candidates of the default chooser, simplest first (ties go to the simplest)."""
    return {
        "seasonal-naive": SeasonalNaive(),
        "seasonal-profile": SeasonalProfile(),
        "mstl": MSTLForecaster(),
        "gradient-boosting": GradientBoostingForecaster(),
    }


class BacktestChooser(Forecaster):
    """For each key, the candidate with the lowest pinball loss over recent rolling origins.

    At each of ``n_origins`` origins ``step`` hours apart, the last leaving
    ``horizon`` hours (or what the history allows after ``min_history`` hours),
    every candidate is fitted on the hours before the origin and scored on the
    hours after it: mean pinball loss at the 10th, 50th and 90th percentiles
    against the raw usage. Each key takes the candidate with the lowest loss
    summed over origins; ties, and keys too young to be scored, take the first
    candidate (list the simplest first). The chosen candidates are then fitted
    on the whole history. ``choices_`` maps each key to its candidate's name and
    ``scores_`` holds the losses (keys × candidates).
    """

    def __init__(self, candidates: Mapping[str, Forecaster] | None = None, horizon: int = 168,
                 n_origins: int = 3, step: int = DAY, min_history: int = MIN_HISTORY) -> None:
        self.candidates = candidates
        self.horizon = horizon
        self.n_origins = n_origins
        self.step = step
        self.min_history = min_history

    def _candidates(self) -> dict[str, Forecaster]:
        return dict(self.candidates) if self.candidates is not None else default_candidates()

    def _fit(self, raw: np.ndarray, clean: np.ndarray) -> None:
        candidates = self._candidates()
        names = list(candidates)
        n_hours, n_keys = raw.shape
        lead_hours = min(self.horizon, n_hours - self.min_history)
        origins = [n_hours - lead_hours - self.step * i for i in range(self.n_origins)]
        origins = [o for o in origins if o >= self.min_history] if lead_hours >= DAY else []
        losses = np.zeros((len(names), n_keys))
        scored = np.zeros(n_keys, dtype=bool)
        wide = pd.DataFrame(raw, index=self.hours_, columns=list(self.usage_keys_))
        for origin in origins:
            # A key is scored only where it has history before the origin.
            young = self.starts_ > origin - DAY
            actual = raw[origin: origin + lead_hours]
            at_origin = np.zeros((len(names), n_keys))
            for c, candidate in enumerate(candidates.values()):
                model = clone(candidate)
                model._fit_wide(wide.iloc[:origin])
                forecast = model.quantile_array(lead_hours, QUANTILES)
                for i, level in enumerate(QUANTILES):
                    at_origin[c] += pinball_loss(actual, forecast[i], level).mean(axis=0)
            # Each origin weighs the same, however volatile its week was.
            scale = at_origin.mean(axis=0)
            losses += at_origin / np.where(scale > 0, scale, 1.0)
            scored |= ~young
        losses[:, ~scored] = np.nan
        self.scores_: pd.DataFrame = pd.DataFrame(losses.T, index=list(self.usage_keys_),
                                                  columns=names)
        choice = np.where(scored, np.argmin(np.nan_to_num(losses, nan=np.inf), axis=0), 0)
        self.choice_: np.ndarray = choice
        self.choices_: dict[str, str] = {key: names[c] for key, c in
                                         zip(self.usage_keys_, choice, strict=True)}
        self.fitted_: dict[int, Forecaster] = {}
        for c in np.unique(choice):
            self.fitted_[int(c)] = self._fit_child(clone(candidates[names[c]]), raw, clean)

    def _quantiles(self, horizon: int, levels: tuple[float, ...]) -> np.ndarray:
        out = np.zeros((len(levels), horizon, len(self.usage_keys_)))
        for c, model in self.fitted_.items():
            chosen = self.choice_ == c
            out[:, :, chosen] = model._quantiles(horizon, levels)[:, :, chosen]
        return out
