"""Empirical (conformal) quantiles of forecast errors, by lead time.

Forecast errors collected on held-out hours, each divided by the level of the
series at its origin (so that a key that grew tenfold still borrows the right
width), are pooled by day of lead: errors of leads 1–24 h, 25–48 h, and so on.
A bucket with too few errors, and every lead beyond the errors collected, takes
the last well-filled bucket widened by ``sqrt`` of the ratio of the leads, as
for a random walk.
"""

from __future__ import annotations

import numpy as np

from forecasting.robust import quiet

BUCKET_HOURS = 24
MIN_ERRORS = 24


class LeadErrors:
    """Scaled forecast errors ``(origins, leads, K)`` with NaN where there is none.

    ``quantiles(levels, horizon)`` gives the offsets to add to a point forecast,
    per unit of level, shape ``(len(levels), horizon, K)``; NaN for a key with
    too few errors in every bucket.
    """

    def __init__(self, errors: np.ndarray) -> None:
        self.errors = errors

    @classmethod
    def empty(cls, n_keys: int) -> LeadErrors:
        """No errors at all: every quantile offset is zero."""
        return cls(np.full((0, BUCKET_HOURS, n_keys), np.nan))

    def quantiles(self, levels: tuple[float, ...], horizon: int) -> np.ndarray:
        """Offsets per unit of level for each quantile level, lead and key."""
        n_origins, n_leads, n_keys = self.errors.shape
        n_buckets = -(-n_leads // BUCKET_HOURS)
        offsets = np.zeros((len(levels), horizon, n_keys))
        best = np.zeros((len(levels), n_keys))
        best_bucket = np.zeros(n_keys, dtype=int)
        good = np.zeros(n_keys, dtype=bool)
        level_array = np.asarray(levels)
        for bucket in range(-(-horizon // BUCKET_HOURS)):
            lo, hi = bucket * BUCKET_HOURS, min((bucket + 1) * BUCKET_HOURS, horizon)
            if bucket < n_buckets and n_origins:
                block = self.errors[:, lo: (bucket + 1) * BUCKET_HOURS].reshape(-1, n_keys)
                counts = (~np.isnan(block)).sum(axis=0)
                enough = counts >= MIN_ERRORS
                if enough.any():
                    with quiet():
                        q = np.nanquantile(block[:, enough], level_array, axis=0)
                    best[:, enough] = q
                    best_bucket[enough] = bucket
                    good |= enough
            widen = np.sqrt((bucket + 1.0) / (best_bucket + 1.0))
            offsets[:, lo:hi, :] = (np.where(good, best, np.nan) * widen)[:, None, :]
        return offsets
