"""Empirical (conformal) quantiles of forecast errors, by day of lead.

Forecast errors collected on held-out hours — each divided by the level of the
series at its origin, so that a key that grew tenfold still borrows the right
width — are pooled by day of lead (leads 1–24 h, 25–48 h, …). From them:

* offsets are **centred** on the errors' median: the point forecast stays the
  median, because a bias seen over a few origins is more often a level shift
  that has already happened than a lasting bias;
* levels are **widened for small samples**, as split conformal prediction does:
  with errors from ``n`` origins the level ``τ`` is read at
  ``0.5 + (τ - 0.5)(1 + 1/(4n))``, clamped to the observed extremes — the
  hours after one origin are not independent, and count as about four samples;
* a bucket from fewer than ``MIN_ORIGINS`` origins, and every lead beyond the
  errors collected, takes the last well-filled bucket widened by ``sqrt`` of
  the ratio of the leads, as for a random walk.
"""

from __future__ import annotations

import numpy as np

from forecasting.robust import nanmedian, quiet

BUCKET_HOURS = 24
MIN_ORIGINS = 2
# A day of hourly errors is one origin's worth, but not one sample: with the lag-one
# autocorrelation usage errors typically have (about 0.7), 24 hours carry about 4.
SAMPLES_PER_ORIGIN = 4


def adjusted_levels(levels: np.ndarray, n_origins: np.ndarray) -> np.ndarray:
    """Levels widened for a sample of ``n_origins`` origins, shape ``(len(levels), K)``."""
    n = SAMPLES_PER_ORIGIN * np.maximum(n_origins, 1)[None, :]
    return np.clip(0.5 + (levels[:, None] - 0.5) * (1.0 + 1.0 / n), 0.0, 1.0)


def column_quantiles(values: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Per column ``j`` of ``values`` (NaN ignored), the quantiles at ``levels[:, j]``.

    Linear interpolation, as ``np.quantile``; vectorised over columns, which may
    each have a different number of values and levels.
    """
    ordered = np.sort(values, axis=0)  # NaN last
    count = (~np.isnan(values)).sum(axis=0)
    position = levels * np.maximum(count - 1, 0)[None, :]
    below = np.floor(position).astype(int)
    above = np.minimum(below + 1, np.maximum(count - 1, 0)[None, :])
    weight = position - below
    low = np.take_along_axis(ordered, below, axis=0)
    high = np.take_along_axis(ordered, above, axis=0)
    return np.asarray(low + weight * (high - low))


class LeadErrors:
    """Scaled forecast errors ``(origins, leads, K)`` with NaN where there is none.

    ``quantiles(levels, horizon)`` gives the offsets to add to a point forecast,
    per unit of level, shape ``(len(levels), horizon, K)``; NaN for a key with
    too few errors in every bucket.
    """

    def __init__(self, errors: np.ndarray) -> None:
        self.errors = errors

    def quantiles(self, levels: tuple[float, ...], horizon: int) -> np.ndarray:
        """Offsets per unit of level for each quantile level, lead and key."""
        n_origins, n_leads, n_keys = self.errors.shape
        n_buckets = -(-n_leads // BUCKET_HOURS)
        offsets = np.zeros((len(levels), horizon, n_keys))
        best = np.zeros((len(levels), n_keys))
        best_bucket = np.zeros(n_keys, dtype=int)
        good = np.zeros(n_keys, dtype=bool)
        level_array = np.asarray(levels, dtype=float)
        for bucket in range(-(-horizon // BUCKET_HOURS)):
            lo, hi = bucket * BUCKET_HOURS, min((bucket + 1) * BUCKET_HOURS, horizon)
            if bucket < n_buckets and n_origins:
                block = self.errors[:, lo: (bucket + 1) * BUCKET_HOURS]
                origins = (~np.isnan(block)).any(axis=1).sum(axis=0)
                enough = origins >= MIN_ORIGINS
                if enough.any():
                    values = block[:, :, enough].reshape(-1, int(enough.sum()))
                    with quiet():
                        centre = nanmedian(values)
                    q = column_quantiles(values, adjusted_levels(level_array, origins[enough]))
                    best[:, enough] = q - centre[None, :]
                    best_bucket[enough] = bucket
                    good |= enough
            widen = np.sqrt((bucket + 1.0) / (best_bucket + 1.0))
            offsets[:, lo:hi, :] = (np.where(good, best, np.nan) * widen)[:, None, :]
        return offsets
