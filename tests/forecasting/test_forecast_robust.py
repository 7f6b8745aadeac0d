"""The robust preparation of histories and the conformal quantiles of held-out errors."""

from __future__ import annotations

import numpy as np
from forecasting_factories import DAY, daily_cycle

from forecasting.calibration import BUCKET_HOURS, LeadErrors, column_quantiles
from forecasting.robust import (
    clip_spikes,
    decommissioned,
    first_nonzero,
    longest_zero_run,
    nanmedian,
    trailing_zero_hours,
)


def column(values: np.ndarray) -> np.ndarray:
    return values.reshape(-1, 1)


def test_zero_runs_are_measured() -> None:
    series = np.array([0, 0, 3, 0, 4, 0, 0, 0, 5, 0, 0], dtype=float)
    assert longest_zero_run(series) == 3
    assert trailing_zero_hours(series) == 2
    assert trailing_zero_hours(np.zeros(4)) == 4
    assert first_nonzero(column(series))[0] == 2


def test_decommissioned_needs_a_trailing_run_longer_than_any_before() -> None:
    hours = 504
    stopped = np.r_[np.full(hours - 30, 5.0), np.zeros(30)]
    weekends = np.tile(np.r_[np.full(120, 5.0), np.zeros(48)], 3)  # ends on a Sunday night
    short_pause = np.r_[np.full(hours - 10, 5.0), np.zeros(10)]
    never = np.zeros(hours)
    values = np.column_stack([stopped, weekends, short_pause, never])
    flags = decommissioned(values, first_nonzero(values), 24)
    assert flags.tolist() == [True, False, False, True]


def test_isolated_spikes_are_clipped_but_a_lasting_shift_is_kept() -> None:
    values = daily_cycle(10 * DAY, amplitude=5, noise=0.5, seed=1)
    values[100:103] += 300.0
    values[8 * DAY:] += 50.0  # a migration: two days at a new level
    clean = clip_spikes(column(values), np.zeros(1, dtype=int))[:, 0]
    assert clean[100:103].max() < 60
    np.testing.assert_array_equal(clean[8 * DAY:], values[8 * DAY:])


def test_a_recent_jump_up_is_a_spike_but_a_recent_drop_is_believed() -> None:
    base = daily_cycle(10 * DAY, amplitude=0, noise=0.5, seed=2)
    jump, drop = base.copy(), base.copy()
    jump[-5:] += 200.0
    drop[-5:] = 1.0
    clean = clip_spikes(np.column_stack([jump, drop]), np.zeros(2, dtype=int))
    assert clean[-5:, 0].max() < 50
    np.testing.assert_array_equal(clean[-5:, 1], 1.0)


def test_nanmedian_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(7, 30, 4))
    values[rng.random(values.shape) < 0.3] = np.nan
    values[:, 0, 0] = np.nan
    expected = np.nanmedian(np.where(np.isnan(values).all(axis=0), 0.0, values), axis=0)
    expected[0, 0] = np.nan
    np.testing.assert_allclose(nanmedian(values), expected)


def test_column_quantiles_match_numpy_per_column() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(size=(50, 3))
    values[:10, 1] = np.nan
    levels = np.array([[0.1, 0.2, 0.3], [0.9, 0.5, 0.7]])
    got = column_quantiles(values, levels)
    for j in range(3):
        kept = values[~np.isnan(values[:, j]), j]
        np.testing.assert_allclose(got[:, j], np.quantile(kept, levels[:, j]))


def test_lead_errors_are_centred_widened_for_few_origins_and_grow_beyond_the_sample() -> None:
    rng = np.random.default_rng(2)
    errors = rng.normal(2.0, 1.0, (40, BUCKET_HOURS, 1))  # biased by +2, one day of leads
    offsets = LeadErrors(errors).quantiles((0.1, 0.5, 0.9), 3 * BUCKET_HOURS)
    assert abs(offsets[1, 0, 0]) < 1e-12  # the point forecast stays the median
    assert 1.2 < offsets[2, 0, 0] < 1.6  # about z(0.9) = 1.28, widened a little for 40 origins
    np.testing.assert_allclose(offsets[:, 2 * BUCKET_HOURS, 0], offsets[:, 0, 0] * np.sqrt(3))
    few = LeadErrors(errors[:2]).quantiles((0.1, 0.9), BUCKET_HOURS)
    many = LeadErrors(errors).quantiles((0.1, 0.9), BUCKET_HOURS)
    assert few[1, 0, 0] - few[0, 0, 0] > 0.9 * (many[1, 0, 0] - many[0, 0, 0])
    assert np.isnan(LeadErrors(errors[:1]).quantiles((0.5,), 5)).all()
