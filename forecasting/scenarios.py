"""Scenarios for the optimizer: sample paths with the forecast's quantiles and the history's shocks.

A scenario is built in three steps (a Gaussian copula fed by a block bootstrap):

1. **Shocks of the history.** Each key's deviation from its robust local
   baseline (``robust.seasonal_baseline``: the median of the same hour over a
   week around it) is turned into normal scores by rank, so every key's shocks
   are N(0, 1) whatever its scale and distribution.
2. **Block bootstrap shared across keys.** Blocks of consecutive hours (a week
   when the history holds at least two, a day otherwise) are drawn from those
   scores, starting at the hour of day the forecast starts at, and *the same
   blocks (the same time indexes) are used for every key*: cross-key
   correlation, persistence within a block, and the daily rhythm of the
   shocks are kept.
3. **Through the forecast's quantiles.** Each score ``z`` becomes the level
   ``Φ(z)`` and the path takes the forecast's quantile at that level for that
   hour and key. Every hour of a path thus follows the model's calibrated
   marginal distribution, with the daily and weekly shape of its quantiles.

Variance reduction (``sample_paths(antithetic=True, anchored=True)``, the ladder's draws):

* **Anchored blocks** (common random numbers across decisions): each block slot of each
  path takes the history block with the highest pseudo-random priority, a function of the
  seed, the slot and the block's *clock hour* only (:func:`anchored_choice`). A decision a
  day later sees one more block: the choice changes only where that block wins (chance
  ``1/m`` among ``m``), so two runs a day apart draw nearly the same shocks, and their
  decisions differ by what the data says, not by the dice.
* **Antithetic pairs**: path ``2j + 1`` takes the negated scores of path ``2j``. The rank
  scores are symmetric, so ``−z`` is as likely as ``z``; the pair's mean is exact for any
  quantile grid linear in the level, and a pair cannot both lie in one tail.

What it does not model: shocks that persist for longer than one block (blocks
are drawn independently of each other), and tails beyond the outermost
quantile levels (clamped to them).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri
from scipy.stats import rankdata

from forecasting import robust

WEEK = 168
DAY = 24


def normal_scores(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each key's deviations from its seasonal baseline as N(0, 1) scores (NaN before its start)."""
    baseline = robust.seasonal_baseline(values, starts)
    deviations = values - baseline
    scores = np.full(values.shape, np.nan)
    for k in range(values.shape[1]):
        valid = ~np.isnan(deviations[:, k])
        n_valid = int(valid.sum())
        if n_valid < 2:
            continue
        ranks = rankdata(deviations[valid, k])
        scores[valid, k] = ndtri((ranks - 0.5) / n_valid)
    return scores


def block_length(n_hours: int) -> int:
    """A week if the history holds at least two, a day if it holds two days, else one hour."""
    if n_hours >= 2 * WEEK:
        return WEEK
    if n_hours >= 2 * DAY:
        return DAY
    return 1


def anchored_choice(labels: np.ndarray, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """For each cell of ``shape``, the index of the label with the highest priority, where
    a priority is a pseudo-random function of ``(seed, label, cell)`` alone.

    Adding a label to ``labels`` moves a cell's choice only if the new label outranks the
    old winner, so choices made over growing sets of labels stay mostly the same (the
    minimum-hash idea): common random numbers for a history that grows by a day a run.
    """
    best = np.full(shape, -1.0)
    choice = np.zeros(shape, dtype=np.intp)
    for i, label in enumerate(labels):
        priority = np.random.default_rng([seed, int(label)]).random(shape)
        wins = priority > best
        best[wins] = priority[wins]
        choice[wins] = i
    return choice


def block_bootstrap(scores: np.ndarray, hours: pd.DatetimeIndex, horizon: int, n: int,
                    rng: np.random.Generator, *, anchor_seed: int | None = None) -> np.ndarray:
    """Draw ``n`` sequences of ``horizon`` hours of scores, shape ``(n, horizon, K)``.

    The same blocks of history hours are used for all keys. Blocks of a day or a
    week start at the hour of day of the first forecast hour (the hour after
    ``hours[-1]``), so the daily rhythm of the shocks stays in phase. Hours a key
    has no score for (before it started) get independent N(0, 1) draws. With
    ``anchor_seed`` the blocks are chosen by :func:`anchored_choice` on their clock hours
    (the same blocks at every decision that can see them), else drawn from ``rng``.
    """
    n_hours = scores.shape[0]
    length = block_length(n_hours)
    if length == 1:
        starts_allowed = np.arange(n_hours)
    else:
        # History index i is at hour of day (hours[0].hour + i) % 24; the forecast
        # starts at index n_hours, so a block must start at i ≡ n_hours (mod 24).
        starts_allowed = np.arange(n_hours % DAY, n_hours - length + 1, DAY)
    n_blocks = -(-horizon // length)
    if anchor_seed is None:
        chosen = rng.choice(starts_allowed, size=(n, n_blocks))
    else:
        clock = hours[starts_allowed].as_unit("s").asi8 // 3600  # hours since 1970
        chosen = starts_allowed[anchored_choice(clock, (n, n_blocks), anchor_seed)]
    index = (chosen[:, :, None] + np.arange(length)).reshape(n, n_blocks * length)[:, :horizon]
    drawn = scores[index]
    missing = np.isnan(drawn)
    if missing.any():
        drawn[missing] = rng.standard_normal(int(missing.sum()))
    return drawn


def paths_from_scores(grid: np.ndarray, levels: tuple[float, ...],
                      scores: np.ndarray) -> np.ndarray:
    """Map scores ``(n, H, K)`` through quantiles ``grid`` ``(len(levels), H, K)`` to usage.

    Linear interpolation between quantile levels; beyond the outermost levels
    the path takes the outermost quantile.
    """
    level_array = np.asarray(levels, dtype=float)
    n_levels, n_hours, n_keys = grid.shape
    u = ndtr(scores)
    spacing = np.diff(level_array)
    if spacing.size and np.allclose(spacing, spacing[0]):
        position = np.clip((u - level_array[0]) / spacing[0], 0.0, n_levels - 1.0)
        lower = np.minimum(position.astype(np.intp), max(n_levels - 2, 0))
        weight = np.clip(position - lower, 0.0, 1.0)
    else:
        upper = np.clip(np.searchsorted(level_array, u), 1, n_levels - 1)
        lower = upper - 1
        weight = np.clip((u - level_array[lower]) / (level_array[upper] - level_array[lower]),
                         0.0, 1.0)
    flat = grid.reshape(-1)
    cell = np.arange(n_hours * n_keys).reshape(n_hours, n_keys)
    index = lower * (n_hours * n_keys) + cell
    low = np.take(flat, index)
    high = np.take(flat, np.minimum(index + n_hours * n_keys, flat.size - 1))
    return np.asarray(low + weight * (high - low))
