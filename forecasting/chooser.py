"""Pick a forecaster per key by a rolling-origin backtest on the key's own history.

At ``n_origins`` origins ``step`` hours apart — the last leaving ``horizon``
hours to score, or what the history allows after ``min_history`` hours — every
candidate is fitted on the hours before the origin and forecasts the hours
after it, scored by the mean pinball loss at the 10th, 50th and 90th
percentiles against the raw usage. Each origin's losses are divided by their
mean over the candidates, so that a volatile week does not outweigh the others.

With ``ensemble=True`` the average of all candidates' quantiles
(``ensemble.average_quantiles``) is one more candidate, placed first, at no
extra fitting cost. The first candidate is the default: another one is chosen
for a key only if its loss is lower by more than ``margin`` (a share of the
default's loss). A few origins are noisy evidence of the weeks to come: on the
benchmark traces a margin of 10% scored 10 points of skill worse than 25%,
switching long traces to seasonal naive after a week that favoured it
(benchmarks/README.md). Keys too young to be scored keep the default.

The chosen candidates are then fitted on the whole history; ``choices_`` maps
each key to the name of its candidate and ``scores_`` holds the relative losses
(keys × candidates). ``n_jobs`` runs the origins' backtests in parallel
processes (joblib).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone

from forecasting.base import QUANTILES, Forecaster, prepare
from forecasting.boosting import GradientBoostingForecaster
from forecasting.ensemble import average_quantiles
from forecasting.evaluate import pinball_loss
from forecasting.naive import SeasonalNaive
from forecasting.profile import SeasonalProfile

DAY = 24
MIN_HISTORY = 72
ENSEMBLE = "ensemble"


def default_candidates() -> dict[str, Forecaster]:
    """The candidates of the default chooser, simplest first."""
    return {
        "seasonal-naive": SeasonalNaive(),
        "seasonal-profile": SeasonalProfile(),
        "gradient-boosting": GradientBoostingForecaster(),
    }


def origin_losses(candidates: Mapping[str, Forecaster], wide: pd.DataFrame, origin: int,
                  lead_hours: int, ensemble: bool) -> np.ndarray:
    """Mean pinball loss per (candidate, key) of forecasts from ``origin``; ensemble first."""
    prepared = prepare(wide.iloc[:origin])
    actual = wide.iloc[origin: origin + lead_hours].to_numpy()
    forecasts = [clone(candidate).fit_prepared(prepared).quantile_array(lead_hours, QUANTILES)
                 for candidate in candidates.values()]
    if ensemble:
        forecasts.insert(0, average_quantiles(forecasts))
    losses = np.zeros((len(forecasts), wide.shape[1]))
    for c, forecast in enumerate(forecasts):
        for i, level in enumerate(QUANTILES):
            losses[c] += pinball_loss(actual, forecast[i], level).mean(axis=0) / len(QUANTILES)
    return losses


class BacktestChooser(Forecaster):
    """Per key, the candidate (or the ensemble) with the lowest backtest loss (see the module)."""

    def __init__(self, candidates: Mapping[str, Forecaster] | None = None, horizon: int = 168,
                 n_origins: int = 4, step: int = 48, min_history: int = MIN_HISTORY,
                 ensemble: bool = True, margin: float = 0.25, n_jobs: int = 1) -> None:
        self.candidates = candidates
        self.horizon = horizon
        self.n_origins = n_origins
        self.step = step
        self.min_history = min_history
        self.ensemble = ensemble
        self.margin = margin
        self.n_jobs = n_jobs

    def _origins(self, n_hours: int) -> tuple[list[int], int]:
        """The backtest's origins and the hours scored after each."""
        lead_hours = min(self.horizon, n_hours - self.min_history)
        if lead_hours < DAY:
            return [], 0
        origins = [n_hours - lead_hours - self.step * i for i in range(self.n_origins)]
        return [o for o in origins if o >= self.min_history], lead_hours

    def _fit(self, raw: np.ndarray, clean: np.ndarray) -> None:
        candidates = dict(self.candidates) if self.candidates is not None else (
            default_candidates())
        names = ([ENSEMBLE] if self.ensemble else []) + list(candidates)
        n_hours, n_keys = raw.shape
        origins, lead_hours = self._origins(n_hours)
        wide = pd.DataFrame(raw, index=self.hours_, columns=list(self.usage_keys_))
        tasks = (delayed(origin_losses)(candidates, wide, origin, lead_hours, self.ensemble)
                 for origin in origins)
        per_origin = Parallel(n_jobs=self.n_jobs)(tasks) if origins else []
        losses = np.zeros((len(names), n_keys))
        scored = np.zeros(n_keys, dtype=bool)
        for origin, at_origin in zip(origins, per_origin, strict=True):
            scale = at_origin.mean(axis=0)
            losses += at_origin / np.where(scale > 0, scale, 1.0)
            scored |= self.starts_ <= origin - DAY
        losses[:, ~scored] = np.nan
        self.scores_: pd.DataFrame = pd.DataFrame(losses.T, index=list(self.usage_keys_),
                                                  columns=names)
        best = np.argmin(np.nan_to_num(losses, nan=np.inf), axis=0)
        clear_win = losses[best, np.arange(n_keys)] < (1.0 - self.margin) * losses[0]
        self.choice_: np.ndarray = np.where(scored & clear_win, best, 0)
        self.choices_: dict[str, str] = {key: names[c] for key, c in
                                         zip(self.usage_keys_, self.choice_, strict=True)}
        needed = set(candidates) if self.ensemble and (self.choice_ == 0).any() else set()
        needed |= {names[c] for c in np.unique(self.choice_)} - {ENSEMBLE}
        self.fitted_: dict[str, Forecaster] = {
            name: self._fit_child(clone(candidates[name]), raw, clean)
            for name in candidates if name in needed
        }
        self.names_: list[str] = names

    def _quantiles(self, horizon: int, levels: tuple[float, ...]) -> np.ndarray:
        forecasts = {name: model.quantile_array(horizon, levels)
                     for name, model in self.fitted_.items()}
        out = np.zeros((len(levels), horizon, len(self.usage_keys_)))
        for c, name in enumerate(self.names_):
            chosen = self.choice_ == c
            if not chosen.any():
                continue
            if name == ENSEMBLE:
                out[:, :, chosen] = average_quantiles(list(forecasts.values()))[:, :, chosen]
            else:
                out[:, :, chosen] = forecasts[name][:, :, chosen]
        return out
