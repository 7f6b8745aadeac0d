"""Representative hours: segments, extremes kept, exact when every hour is kept, and the error.

The error is stated in ``optimizer/representative.py``: the representative model's optimum
is a lower bound on the full hourly model's (Jensen), and on realistic usage it is within
0.5% of it. Both are checked here on a daily-cycle fixture.
"""

from __future__ import annotations

import numpy as np
import pytest
from lp_factories import daily_usage, grid

from optimizer.representative import representative_hours, segment_bounds
from optimizer.risk_settings import RiskSettings
from optimizer.stochastic import OwnedCommitment, ScenarioSet, StochasticProblem, optimize


def test_segment_bounds_sorted_inside_the_horizon() -> None:
    assert segment_bounds(24, [30, 12, 0, 12, 5]).tolist() == [0, 5, 12, 24]


def test_weights_add_up_and_groups_stay_inside_their_segment() -> None:
    usage = np.random.default_rng(0).uniform(0, 10, (3, 100, 4))
    bounds = segment_bounds(100, [40])
    rep = representative_hours(usage, np.ones(4), bounds, 20)

    assert rep.weight.sum() == 100
    assert rep.n_hours <= 22
    segment_of_hour = np.searchsorted(bounds, np.arange(100), side="right") - 1
    assert np.array_equal(rep.segment[rep.group], segment_of_hour)
    # Each group's usage is the mean of its hours, in every scenario.
    for g in range(rep.n_hours):
        members = np.flatnonzero(rep.group == g)
        assert np.allclose(rep.usage[:, g], usage[:, members].mean(axis=1))


def test_peaks_and_troughs_are_hours_of_their_own() -> None:
    usage = np.full((2, 50, 2), 5.0)
    usage[:, 17, 0] = 40.0   # a peak of key 0
    usage[:, 33, 1] = 0.0    # a trough of key 1
    rep = representative_hours(usage, np.ones(2), segment_bounds(50, []), 6)
    for hour in (17, 33):
        assert np.sum(rep.group == rep.group[hour]) == 1


def test_a_budget_of_every_hour_is_the_exact_model() -> None:
    usage = np.random.default_rng(1).uniform(0, 10, (2, 30, 3))
    rep = representative_hours(usage, np.ones(3), segment_bounds(30, [10]), None)
    assert rep.n_hours == 30
    assert np.array_equal(rep.usage, usage)


def _problem(representative: int | None, *, seed: int = 0) -> StochasticProblem:
    g = grid(accounts=2, families=("m4", "c5"))
    n_keys = len(g.key_ids)
    usage = np.stack([daily_usage(n_keys, 336, seed=seed + s) for s in range(3)])
    # Owned commitments expiring inside the horizon cut it into segments.
    owned = (OwnedCommitment(g.offerings[1], 50.0, hours_left=100, age_hours=1000),)
    policy = RiskSettings(cvar_weight=0.2, representative_hours=representative)
    short = tuple(o for o in g.offerings if o.term_hours == 8760)
    return StochasticProblem(ScenarioSet(usage, g.key_ids), g.rates, short, owned=owned,
                             policy=policy)


def test_representative_model_is_a_lower_bound_within_half_a_percent_of_the_full_model() -> None:
    full = optimize(_problem(None))
    reduced = optimize(_problem(96))

    assert not reduced.exact and full.exact
    assert reduced.objective <= full.objective * (1 + 1e-9)
    assert reduced.objective == pytest.approx(full.objective, rel=0.005)
