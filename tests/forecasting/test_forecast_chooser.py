"""The chooser picks, per key, the candidate that a rolling-origin backtest says is better."""

from __future__ import annotations

import numpy as np
from forecasting_factories import WEEK, daily_cycle, make_history

from forecasting.chooser import BacktestChooser
from forecasting.naive import SeasonalNaive

CYCLE = "aws/a/ec2/us-east-1/m5/linux/shared"
WALK = "aws/a/ec2/us-east-1/c5/linux/shared"


def test_chooser_picks_the_better_model_per_key() -> None:
    """A strong daily cycle is forecast best by yesterday; a random walk by its last hour.

    Repeating the last day misses a daily cycle of amplitude 30 by its noise
    only, the last hour misses it by up to 60 units. A random walk's best
    forecast is its last value (its residuals are its steps, widened by
    ``sqrt(lead)``: the exact law); yesterday is a day of steps further away.
    """
    hours = 3 * WEEK
    steps = np.random.default_rng(4).normal(0.0, 2.0, hours)
    history = make_history({
        CYCLE: daily_cycle(hours, base=100, amplitude=30, noise=0.5),
        WALK: 200.0 + np.cumsum(steps),
    })
    chooser = BacktestChooser(
        {"last-hour": SeasonalNaive(season_length=1),
         "yesterday": SeasonalNaive(season_length=24)},
        horizon=24, n_origins=3, step=24, ensemble=False,
    ).fit(history)
    assert chooser.choices_ == {CYCLE: "yesterday", WALK: "last-hour"}
    assert set(chooser.scores_.columns) == {"last-hour", "yesterday"}
    median = chooser.quantile_array(24)[1]
    keys = list(chooser.usage_keys_)
    last = history.loc[history["usage_key"] == WALK, "units"].iloc[-1]
    assert abs(median[0, keys.index(WALK)] - last) < 2.0


def test_keys_too_young_to_score_take_the_default() -> None:
    hours = 3 * WEEK
    young = np.zeros(hours)
    young[-30:] = 20.0
    history = make_history({CYCLE: daily_cycle(hours, seed=2), WALK: young})
    chooser = BacktestChooser(
        {"first": SeasonalNaive(), "second": SeasonalNaive(season_length=1)}, horizon=24,
    ).fit(history)
    assert chooser.choices_[WALK] == "ensemble"
    assert np.isnan(chooser.scores_.loc[WALK]).all()


def test_a_candidate_must_beat_the_default_by_the_margin() -> None:
    history = make_history({CYCLE: daily_cycle(3 * WEEK, base=100, amplitude=30, noise=0.5)})
    candidates = {"last-hour": SeasonalNaive(season_length=1),
                  "yesterday": SeasonalNaive(season_length=24)}
    strict = BacktestChooser(candidates, horizon=24, ensemble=False, margin=0.99).fit(history)
    assert strict.choices_ == {CYCLE: "last-hour"}
    with_ensemble = BacktestChooser(candidates, horizon=24, margin=0.0).fit(history)
    assert with_ensemble.choices_ == {CYCLE: "yesterday"}
    scores = with_ensemble.scores_.to_dict("index")[CYCLE]
    assert scores["yesterday"] < scores["ensemble"]
