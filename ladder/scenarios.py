"""Forecast scenarios for the optimizer: where forecasting and the ladder policy meet.

The optimizer takes its scenarios from any :data:`~optimizer.ladder_policy.ScenarioSource`
and knows nothing of forecasters (DESIGN.md: the two are siblings over ``core``);
this module turns a forecaster into such a source and names the default one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import numpy as np

from forecasting.base import Forecaster, history_frame
from forecasting.profile import SeasonalProfile
from optimizer.ladder_policy import FloatArray, ScenarioSource, blended_scenarios


def forecaster_scenarios(factory: Callable[[], Forecaster], *,
                         variance_reduction: bool = False) -> ScenarioSource:
    """A scenario source from a forecaster factory (``fit`` then ``sample_paths``);
    ``variance_reduction``: antithetic pairs of paths on history blocks anchored to their
    clock hours (``forecasting.scenarios``), so that with the same seed, decisions a day
    apart differ by the data, not by the draw."""

    def source(history: FloatArray, key_ids: tuple[str, ...], start: datetime, horizon: int,
               n: int, seed: int) -> FloatArray:
        forecaster = factory()
        forecaster.fit(history_frame(history, key_ids, start))
        paths = np.asarray(forecaster.sample_paths(horizon, n, seed,
                                                   antithetic=variance_reduction,
                                                   anchored=variance_reduction),
                           dtype=np.float64)
        order = [list(forecaster.usage_keys_).index(k) for k in key_ids]
        return paths[:, :, order]

    return source


SCENARIO_SOURCE = ("half sample paths of forecasting.profile.SeasonalProfile, half replays "
                   "of the last 48 hours of history")
"""The default scenario source in words (stored with the plans it made)."""


def default_scenarios(*, variance_reduction: bool = False) -> ScenarioSource:
    """Half forecast paths of the forecasting package's seasonal profile forecaster, half
    replays of the last two days of history (:func:`~optimizer.ladder_policy.blended_scenarios`).

    Chosen by measurement on the backtest suite (``benchmarks/README.md``, "Optimizer"):
    forecast paths alone put the spiky and growing traces 2–5 points of ESR below the
    lookback reference (a week of spiky history gives quantiles far off); replays of a
    week lag growth (7 points lost on ``asg-wc98-mix``); two days follow it.
    """
    return blended_scenarios(forecaster_scenarios(SeasonalProfile,
                                                  variance_reduction=variance_reduction))


__all__ = ["SCENARIO_SOURCE", "default_scenarios", "forecaster_scenarios"]
