"""Representative hours: weeks of scenario hours compressed into a few hundred weighted hours.

The horizon is first cut into *segments* at the hours where the set of active
commitments changes (an owned commitment expires, a candidate's term ends), so
that every hour of a segment faces the same capacity. Within each segment:

1. the **extremes** are kept as hours of their own: for the keys that weigh the
   most in on-demand dollars, the hour of their highest and of their lowest
   usage (the mean over scenarios), and the hours of the highest and lowest
   total: the peaks and troughs that decide how much commitment is used;
2. the other hours are clustered with k-means (scikit-learn) on their vector of
   usage in on-demand dollars, over every scenario and key at once, so that one
   cluster is the same set of hours in every scenario (scenarios stay aligned);
3. each cluster becomes one hour whose usage is the **mean** of its members, in
   each scenario, weighted by the number of hours it holds.

**The error, and its sign.** For fixed purchases, the cost of one hour is
``V(u) = r·u − max_y {r·y : y ≤ u, capacity}``, a convex function of the usage
``u`` (a linear term minus the value of an LP in its right-hand side, which is
concave). By Jensen's inequality ``V(mean u) ≤ mean V(u)`` over a cluster, so the
representative model's optimum is a **lower bound** on the full hourly model's
(CVaR is monotone in each scenario's cost, so this holds with the risk term too).
Its error is the part of the full cost that the averaging hides: hours of a
cluster on both sides of a commitment's level. Extremes and small clusters keep
it small; ``tests/optimizer/test_representative.py`` bounds it on realistic
fixtures and ``benchmarks/optimizer.py`` measures it on the suite.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from optimizer.reduction import first_appearance_rank

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

MIN_PER_SEGMENT = 2
"""Every segment keeps at least this many hours (when it has them)."""
EXTREME_SHARE = 0.34
"""At most this share of a segment's hours go to extremes; the rest to clusters."""


@dataclass(frozen=True, eq=False)
class RepresentativeHours:
    """The weighted hours the LP holds.

    ``usage[s, g, k]`` is the mean usage of key ``k`` over the hours of group ``g``
    in scenario ``s``; ``weight[g]`` how many hours the group stands for;
    ``segment[g]`` its segment; ``hour[g]`` one of its hours (it names the group);
    ``group[h]`` the group of every hour of the horizon.
    """

    usage: FloatArray
    weight: FloatArray
    segment: IntArray
    hour: IntArray
    group: IntArray

    @property
    def n_hours(self) -> int:
        """Number of representative hours."""
        return int(self.weight.size)


def segment_bounds(horizon: int, cuts: npt.ArrayLike) -> IntArray:
    """``0 = b[0] < b[1] < … < b[E] = horizon``: the cuts inside ``(0, horizon)``, sorted."""
    inner = np.asarray(cuts, dtype=np.intp).reshape(-1)
    inner = inner[(inner > 0) & (inner < horizon)]
    return np.unique(np.concatenate([[0, horizon], inner])).astype(np.intp)


def _budgets(bounds: IntArray, n_hours: int) -> IntArray:
    lengths = np.diff(bounds)
    share = np.floor(n_hours * lengths / lengths.sum()).astype(np.intp)
    return np.minimum(np.maximum(share, MIN_PER_SEGMENT), lengths)


def _extremes(dollars: FloatArray, budget: int) -> IntArray:
    """Hours (positions in the segment) of the peaks and troughs, at most ``budget`` of them."""
    mean = dollars.mean(axis=0)  # (m, K): mean over scenarios
    total = mean.sum(axis=1)
    picked = [int(np.argmax(total)), int(np.argmin(total))]
    for k in np.argsort(-mean.sum(axis=0), kind="stable"):
        if len(set(picked)) >= budget:
            break
        picked += [int(np.argmax(mean[:, k])), int(np.argmin(mean[:, k]))]
    unique = list(dict.fromkeys(picked))[:budget]
    return np.array(sorted(unique), dtype=np.intp)


def _cluster(features: FloatArray, k: int, seed: int) -> IntArray:
    """Labels of k-means with ``k`` clusters (each row its own cluster when ``k`` ≥ rows)."""
    n = features.shape[0]
    if k >= n:
        return np.arange(n, dtype=np.intp)
    if k <= 1:
        return np.zeros(n, dtype=np.intp)
    distinct, inverse = np.unique(features, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    if k >= distinct.shape[0]:
        labels = inverse  # identical hours share a cluster: exact
    else:
        # One BLAS thread: k-means++ makes hundreds of small products, where a second
        # thread only adds contention (many times slower on the scale instance of
        # ``python -m benchmarks.optimizer``).
        with threadpool_limits(limits=1, user_api="blas"):
            labels = KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(features)
    # Relabel in order of first appearance, dropping empty clusters.
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    return first_appearance_rank(first)[inverse.reshape(-1)].astype(np.intp)


def representative_hours(
    usage: FloatArray, rates: FloatArray, bounds: IntArray, n_hours: int | None, *,
    seed: int = 0,
) -> RepresentativeHours:
    """Compress ``usage`` (S, H, K) to weighted hours within the segments ``bounds``.

    ``n_hours`` is the budget over the whole horizon (``None``: keep every hour,
    the exact model); segments get a share in proportion to their length, at
    least ``MIN_PER_SEGMENT``.
    """
    usage = np.asarray(usage, dtype=np.float64)
    horizon = usage.shape[1]
    group = np.empty(horizon, dtype=np.intp)
    if n_hours is None or n_hours >= horizon:
        group[:] = np.arange(horizon)
        return _assemble(usage, group, bounds)
    budgets = _budgets(bounds, n_hours)
    dollars = usage * np.asarray(rates, dtype=np.float64)[None, None, :]
    next_group = 0
    for e in range(bounds.size - 1):
        lo, hi = int(bounds[e]), int(bounds[e + 1])
        budget = int(budgets[e])
        local = np.full(hi - lo, -1, dtype=np.intp)
        if budget >= hi - lo:
            local[:] = np.arange(hi - lo)
        else:
            segment = dollars[:, lo:hi, :]
            extremes = _extremes(segment, max(int(budget * EXTREME_SHARE), 2))
            local[extremes] = np.arange(extremes.size)
            rest = np.flatnonzero(local < 0)
            if rest.size:
                features = segment[:, rest, :].transpose(1, 0, 2).reshape(rest.size, -1)
                labels = _cluster(features, max(budget - extremes.size, 1), seed)
                local[rest] = labels + extremes.size
        group[lo:hi] = local + next_group
        next_group += int(local.max()) + 1
    return _assemble(usage, group, bounds)


def _assemble(usage: FloatArray, group: IntArray, bounds: IntArray) -> RepresentativeHours:
    """Means, weights, segments and names of the groups of ``group`` (numbered 0..G-1)."""
    n_groups = int(group.max()) + 1 if group.size else 0
    weight = np.bincount(group, minlength=n_groups).astype(np.float64)
    summed = np.zeros((n_groups, usage.shape[0], usage.shape[2]))
    np.add.at(summed, group, usage.transpose(1, 0, 2))
    summed = summed.transpose(1, 0, 2)
    mean = summed / np.maximum(weight, 1.0)[None, :, None]
    first = np.full(n_groups, usage.shape[1], dtype=np.intp)
    np.minimum.at(first, group, np.arange(group.size, dtype=np.intp))
    segment = (np.searchsorted(bounds, first, side="right") - 1).astype(np.intp)
    return RepresentativeHours(usage=mean, weight=weight, segment=segment, hour=first,
                               group=group)
