"""Variance reduction in the scenario draws: antithetic pairs, blocks anchored to clock hours."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from forecasting_factories import DAY, WEEK, correlated_fleet, make_history

from forecasting import scenarios
from forecasting.profile import SeasonalProfile


def test_antithetic_pairs_lie_on_either_side_of_the_median() -> None:
    model = SeasonalProfile().fit(make_history(correlated_fleet(4 * WEEK, seed=5)))
    paths = model.sample_paths(WEEK, n=6, seed=9, antithetic=True)
    median = model.quantile_array(WEEK, (0.5,))[0]
    product = (paths[0::2] - median) * (paths[1::2] - median)
    assert (product <= 1e-9).all()
    # Independent draws have no such pairing: many hours see both paths on one side.
    plain = model.sample_paths(WEEK, n=6, seed=9)
    assert ((plain[0::2] - median) * (plain[1::2] - median) > 1e-9).mean() > 0.2


def test_an_odd_number_of_antithetic_paths_is_filled() -> None:
    model = SeasonalProfile().fit(make_history(correlated_fleet(3 * WEEK, seed=1)))
    paths = model.sample_paths(DAY * 3, n=5, seed=0, antithetic=True, anchored=True)
    assert paths.shape == (5, DAY * 3, 3) and np.isfinite(paths).all()


def _chosen_hours(n_hours: int, anchor_seed: int | None, seed: int) -> np.ndarray:
    """The history hours (clock) that the bootstrap picks, read back through scores that
    are the hour indexes themselves."""
    hours = pd.date_range("2024-03-01", periods=n_hours, freq="h", tz="UTC")
    index_scores = np.arange(n_hours, dtype=float)[:, None]
    drawn = scenarios.block_bootstrap(index_scores, hours, 2 * WEEK, 8,
                                      np.random.default_rng(seed), anchor_seed=anchor_seed)
    return drawn[:, ::WEEK, 0]  # the first hour of each block


@pytest.mark.parametrize("anchored", [True, False])
def test_anchored_blocks_stay_the_same_when_the_history_grows_by_a_day(anchored: bool) -> None:
    # Two decisions a day apart, each with its own generator seed (as an independent draw
    # per decision would have): anchored blocks are mostly the same ones, drawn blocks not.
    seed = 3 if anchored else None
    today = _chosen_hours(20 * WEEK, seed, seed=1)
    tomorrow = _chosen_hours(20 * WEEK + DAY, seed, seed=2)
    same = (today == tomorrow).mean()
    if anchored:
        assert same >= 0.8
    else:
        assert same <= 0.3


def test_anchored_choice_changes_only_where_a_new_label_wins() -> None:
    labels = np.arange(100, 160)
    before = scenarios.anchored_choice(labels, (50, 4), seed=7)
    after = scenarios.anchored_choice(np.append(labels, 160), (50, 4), seed=7)
    moved = before != after
    assert (after[moved] == labels.size).all()  # every change picked the new label
    assert moved.mean() < 0.1
    assert not np.array_equal(before, scenarios.anchored_choice(labels, (50, 4), seed=8))
