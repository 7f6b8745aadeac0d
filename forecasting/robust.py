"""Robust preparation of usage histories: new keys, decommissioned keys, spikes.

All functions take an array of hours × keys and, where it matters, the first
hour of each key (``starts``): the zeros before a key's first non-zero hour are
not history, they are the time before the key existed.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

# A spike is a run of hours this far from the seasonal baseline (in robust standard
# deviations) that lasts at most MAX_SPIKE_HOURS; longer runs are a change of level.
SPIKE_THRESHOLD = 5.0
MAX_SPIKE_HOURS = 24
BASELINE_DAYS = 3


@contextmanager
def quiet() -> Iterator[None]:
    """Silence numpy's warnings on empty or all-NaN slices, which callers handle themselves."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def nanmedian(values: np.ndarray) -> np.ndarray:
    """The median along axis 0 ignoring NaN (NaN where there is no value), vectorised.

    ``np.nanmedian`` loops in Python over the other axes when NaN is present.
    """
    ordered = np.sort(values, axis=0)  # NaN last
    count = (~np.isnan(values)).sum(axis=0)
    below = np.maximum((count - 1) // 2, 0)[None]
    above = np.maximum(count // 2, 0)[None]
    with quiet():
        median = 0.5 * (np.take_along_axis(ordered, below, axis=0)[0]
                        + np.take_along_axis(ordered, above, axis=0)[0])
    return np.where(count > 0, median, np.nan)


def first_nonzero(values: np.ndarray) -> np.ndarray:
    """Index of each key's first non-zero hour (the number of hours if it never ran)."""
    nonzero = values > 0
    return np.where(nonzero.any(axis=0), nonzero.argmax(axis=0), values.shape[0])


def trailing_zero_hours(series: np.ndarray) -> int:
    """How many hours at the end of ``series`` are exactly zero."""
    nonzero = np.flatnonzero(series != 0)
    return len(series) if nonzero.size == 0 else len(series) - 1 - int(nonzero[-1])


def longest_zero_run(series: np.ndarray) -> int:
    """The longest run of consecutive zero hours in ``series``."""
    if series.size == 0:
        return 0
    padded = np.concatenate(([0], (series == 0).astype(np.int8), [0]))
    edges = np.diff(padded)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int((ends - starts).max()) if starts.size else 0


def decommissioned(values: np.ndarray, starts: np.ndarray, min_hours: int) -> np.ndarray:
    """Which keys have been switched off: their forecast must be zero, not linger.

    A key is decommissioned when it never ran, or when it ends with a run of at
    least ``min_hours`` zero hours that is longer than any run of zeros it had
    before (so that a key that stops every weekend is not mistaken for one that
    stopped for good after a weekend).
    """
    flags = np.zeros(values.shape[1], dtype=bool)
    for k in range(values.shape[1]):
        series = values[int(starts[k]):, k]
        if series.size == 0:
            flags[k] = True
            continue
        tail = trailing_zero_hours(series)
        if tail >= min_hours and tail > longest_zero_run(series[: series.size - tail]):
            flags[k] = True
    return flags


def seasonal_baseline(values: np.ndarray, starts: np.ndarray,
                      days: int = BASELINE_DAYS) -> np.ndarray:
    """The median of the same hour of day over the ``days`` days either side (NaN before a start).

    A robust local level-and-daily-shape: a spike of a few hours does not move
    it, a change of level moves it within ``days`` days.
    """
    n_hours, n_keys = values.shape
    masked = values.astype(float).copy()
    masked[np.arange(n_hours)[:, None] < starts[None, :]] = np.nan
    stack = np.full((2 * days + 1, n_hours, n_keys), np.nan)
    for i, shift in enumerate(range(-days, days + 1)):
        lag = 24 * shift
        if abs(lag) >= n_hours:
            continue
        if lag >= 0:
            stack[i, : n_hours - lag] = masked[lag:]
        else:
            stack[i, -lag:] = masked[: n_hours + lag]
    with quiet():
        has_value = (~np.isnan(stack)).any(axis=0)
        baseline = nanmedian(stack)
    baseline[~has_value] = np.nan
    baseline[np.isnan(masked)] = np.nan
    return baseline


def robust_scale(deviations: np.ndarray, level: np.ndarray) -> np.ndarray:
    """A robust standard deviation per key (1.4826 × MAD), floored at 2% of the level."""
    with quiet():
        mad = nanmedian(np.abs(deviations)) * 1.4826
    floor = np.maximum(0.02 * np.nan_to_num(level), 1e-9)
    return np.maximum(np.nan_to_num(mad), floor)


def clip_spikes(values: np.ndarray, starts: np.ndarray,
                threshold: float = SPIKE_THRESHOLD,
                max_hours: int = MAX_SPIKE_HOURS) -> np.ndarray:
    """A copy of ``values`` with spikes and short dips pulled back to the seasonal baseline.

    An hour is an outlier when it is more than ``threshold`` robust standard
    deviations from ``seasonal_baseline``. A run of outliers of at most
    ``max_hours`` is clipped to the edge of that band; a longer run is a change
    of level and is kept. At the end of the history a run that is still going
    is clipped only if it is high: a recent jump up is treated as a spike until
    it has lasted ``max_hours``, a recent drop is believed at once, because
    forecasting too much is what costs money with commitments.
    """
    clean = values.astype(float).copy()
    if values.shape[0] < 48:
        return clean
    baseline = seasonal_baseline(values, starts)
    deviations = values - baseline
    with quiet():
        level = nanmedian(np.where(np.isnan(baseline), np.nan, values))
    scale = robust_scale(deviations, level)
    band = threshold * scale
    n_hours = values.shape[0]
    for k in range(values.shape[1]):
        dev = deviations[:, k]
        outlier = np.abs(np.nan_to_num(dev)) > band[k]
        if not outlier.any():
            continue
        padded = np.concatenate(([False], outlier, [False])).astype(np.int8)
        edges = np.diff(padded)
        for start, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1),
                              strict=True):
            if end - start > max_hours:
                continue
            if end == n_hours and np.nanmedian(dev[start:end]) < 0:
                continue
            low = baseline[start:end, k] - band[k]
            high = baseline[start:end, k] + band[k]
            clean[start:end, k] = np.clip(values[start:end, k], np.maximum(low, 0.0), high)
    return clean
