"""Exact reductions that make the purchase LP small.

Each changes the size of the linear program, never its optimum (two prices within
a relative 1e-12 count as equal, so "never" is up to that). Write the
capacity constraint of any commitment ``c`` as ``Σ_k a_c[k] · y_ck ≤ q_c`` with
``a_c[k] = 1 / covers_c[k]`` for a unit offering and ``a_c[k] = rates_c[k]`` for a
spend offering: covering one unit-hour of key ``k`` uses ``a_c[k]`` of the
commitment. At a price ``p_c`` per unit-hour, candidate ``c`` covers key ``k`` at
``p_c · a_c[k]`` per unit-hour of usage when fully used.

**Dominated candidates** (:func:`prune_candidates`). Candidate A dominates B when
A covers every key B covers, each at a price per unit of coverage no higher:
``p_A · a_A[k] ≤ p_B · a_B[k]``. Any coverage B gives, A gives for no more money
(buy ``Σ_k a_A[k] y_k`` of A for B's ``y``), so some optimum does without B and
the LP need not hold it. The simplest case is the one of identical
coverage patterns: offerings whose vectors ``a`` are proportional on the same key
set (the 12 RI variants of a family, the 6 EC2 Instance Savings Plans of a family)
are interchangeable up to their price per unit of coverage and only the cheapest
survives. Prices come from the caller, so a cost of capital on upfront cash
changes which one that is. Without a risk term in the objective nothing else
separates them; a risk term would have to enter the comparison.

Exact ties (to 1e-12) keep one candidate by a stated rule: the shorter term, then
the smaller upfront share, then a spend offering before a unit one (a Savings Plan
is bought to the cent and, at AWS, applies more widely than the RI it ties with),
then ``offering_id``.

**Coverage patterns** (:func:`index_patterns`). Dividing ``a_c`` by its first entry
``s_c`` gives the commitment's pattern ``â``. Commitments with the same pattern,
owned or new, unit or spend, are the same constraint up to the size of their unit
(one unit of ``c`` is ``1 / s_c`` pattern units), so they share one coverage
variable per key and hour and one capacity constraint: any coverage within their
summed capacity splits among them in proportion to their sizes.

**Identical keys** (:func:`aggregate_keys`). Keys with the same on-demand rate and
the same weight in every pattern (an RI family's keys in several accounts, with
Savings Plan rates that do not depend on the account) are one key to the LP: a
coverage of their summed usage splits among them in proportion to their usage.

**Identical hours** (:func:`collapse_hours`). Given the quantities bought, the LP
separates into one problem per hour; hours with the same usage and the same owned
capacity have the same problem, and averaging their coverage is feasible and costs
the same (the problem is convex), so they become one hour weighted by their count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from core.domain import Offering, Shape

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

TIE_RTOL = 1e-12
"""Relative difference below which two prices are a tie (float noise, not a price)."""


def capacity_vector(offering: Offering, key_index: dict[str, int]) -> tuple[IntArray, FloatArray]:
    """Positions of an offering's known keys (ascending) and ``a[k]``, its use per unit covered."""
    if offering.shape is Shape.UNIT:
        weights = {key_index[k]: 1.0 / w for k, w in offering.covers.items() if k in key_index}
    else:
        weights = {key_index[k]: float(w) for k, w in offering.rates.items() if k in key_index}
    positions = np.array(sorted(weights), dtype=np.intp)
    return positions, np.array([weights[p] for p in positions], dtype=np.float64)


def coverage_prices(
    offerings: Sequence[Offering], key_ids: Sequence[str], prices: FloatArray
) -> FloatArray:
    """``(len(offerings), K)`` price per unit-hour of coverage of each key (inf: not covered)."""
    key_index = {k: i for i, k in enumerate(key_ids)}
    table = np.full((len(offerings), len(key_ids)), np.inf)
    for i, offering in enumerate(offerings):
        positions, weights = capacity_vector(offering, key_index)
        table[i, positions] = prices[i] * weights
    return table


def _tie_rank(offering: Offering) -> tuple[int, float, bool, str]:
    return (offering.term_hours, offering.upfront_fraction, offering.shape is Shape.UNIT,
            offering.offering_id)


def prune_candidates(
    candidates: Sequence[Offering], key_ids: Sequence[str], prices: FloatArray
) -> IntArray:
    """Indices (ascending) of the candidates no other candidate dominates.

    ``prices[i]`` is candidate ``i``'s cost per unit-hour as the objective charges
    it. A candidate that covers none of ``key_ids`` is dropped too.
    """
    table = coverage_prices(candidates, key_ids, np.asarray(prices, dtype=np.float64))
    covers_any = np.asarray(np.isfinite(table).any(axis=1), dtype=bool)
    # no_worse[a, b]: a covers every key b covers, at no more per unit of coverage.
    no_worse = np.zeros((len(candidates), len(candidates)), dtype=bool)
    for a in range(len(candidates)):
        no_worse[a] = np.all(table[a] <= table * (1 + TIE_RTOL), axis=1)
    tie = no_worse & no_worse.T
    ranks = [_tie_rank(o) for o in candidates]
    order = np.empty(len(candidates), dtype=np.intp)
    order[sorted(range(len(candidates)), key=ranks.__getitem__)] = np.arange(len(candidates))
    earlier = order[:, None] < order[None, :]
    # a removes b when strictly better, or tied and first by the tie rule.
    removes = no_worse & (~tie | earlier) & covers_any[:, None]
    np.fill_diagonal(removes, False)
    keep = covers_any & ~removes.any(axis=0)
    return np.flatnonzero(keep).astype(np.intp)


@dataclass(frozen=True, eq=False)
class Pattern:
    """A coverage pattern: keys ``key_index`` and the capacity ``weights`` covering each uses.

    Weights are in pattern units, ``weights[0] == 1``.
    """

    key_index: IntArray
    weights: FloatArray


@dataclass(frozen=True, eq=False)
class PatternIndex:
    """The pattern of each offering: ``pattern[i]`` (``-1`` if it covers no known key).

    ``scale[i]`` is ``s_i``: one unit of offering ``i`` provides ``1 / scale[i]``
    pattern units of capacity.
    """

    patterns: tuple[Pattern, ...]
    pattern: IntArray
    scale: FloatArray


def index_patterns(offerings: Sequence[Offering], key_ids: Sequence[str]) -> PatternIndex:
    """Group offerings by coverage pattern (proportional capacity vectors on the same keys)."""
    key_index = {k: i for i, k in enumerate(key_ids)}
    patterns: list[Pattern] = []
    by_key_set: dict[tuple[int, ...], list[int]] = {}
    pattern = np.full(len(offerings), -1, dtype=np.intp)
    scale = np.ones(len(offerings), dtype=np.float64)
    for i, offering in enumerate(offerings):
        positions, weights = capacity_vector(offering, key_index)
        if positions.size == 0:
            continue
        scale[i] = weights[0]
        normalised = weights / weights[0]
        group = by_key_set.setdefault(tuple(positions.tolist()), [])
        for p in group:
            if np.allclose(patterns[p].weights, normalised, rtol=TIE_RTOL, atol=0.0):
                pattern[i] = p
                break
        else:
            pattern[i] = len(patterns)
            group.append(len(patterns))
            patterns.append(Pattern(positions, normalised))
    return PatternIndex(tuple(patterns), pattern, scale)


def first_appearance_rank(first: IntArray) -> IntArray:
    """``rank[u]``: the number of unique value ``u`` when the values are numbered in order of
    their first appearance ``first[u]`` (np.unique's ``return_index``), not in sorted order."""
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank


@dataclass(frozen=True, eq=False)
class KeyGroups:
    """Keys merged by :func:`aggregate_keys`: ``group[k]`` is key ``k``'s group, -1 if uncovered.

    ``first[j]`` is the first key of group ``j`` (it names the group).
    """

    group: IntArray
    first: IntArray

    @property
    def n_groups(self) -> int:
        """Number of distinct keys the LP holds."""
        return int(self.first.size)

    def sum_columns(self, values: FloatArray) -> FloatArray:
        """``(H, n_groups)`` sums of the columns of ``values`` (H, K) within each group."""
        covered = self.group >= 0
        summed = np.zeros((values.shape[0], self.n_groups))
        np.add.at(summed.T, self.group[covered], values[:, covered].T)
        return summed


def aggregate_keys(weights: FloatArray, rates: FloatArray) -> KeyGroups:
    """Group keys with equal rate and equal weight in every pattern (``weights`` is (P, K)).

    Equality is exact: a missed merge costs size, a wrong one would cost the optimum.
    """
    covered = np.flatnonzero((weights > 0).any(axis=0))
    group = np.full(weights.shape[1], -1, dtype=np.intp)
    if covered.size == 0:
        return KeyGroups(group, np.zeros(0, dtype=np.intp))
    signature = np.column_stack([rates[covered], weights[:, covered].T])
    _, first, inverse = np.unique(signature, axis=0, return_index=True, return_inverse=True)
    group[covered] = first_appearance_rank(first)[inverse.reshape(-1)]
    return KeyGroups(group, covered[np.sort(first)].astype(np.intp))


@dataclass(frozen=True, eq=False)
class HourGroups:
    """Hours grouped by identical rows: ``first[g]`` represents group ``g`` of ``count[g]`` hours.

    ``group[h]`` is the group of hour ``h``; groups are numbered in order of their first hour.
    """

    first: IntArray
    count: FloatArray
    group: IntArray

    @property
    def n_groups(self) -> int:
        """Number of distinct hours."""
        return int(self.first.size)


def collapse_hours(rows: FloatArray) -> HourGroups:
    """Group the hours (rows) of ``rows`` that are identical in every column."""
    rows = np.asarray(rows, dtype=np.float64)
    if rows.shape[0] == 0:
        empty = np.zeros(0, dtype=np.intp)
        return HourGroups(empty, np.zeros(0), empty)
    if rows.shape[1] == 0:
        return HourGroups(np.zeros(1, dtype=np.intp), np.array([float(rows.shape[0])]),
                          np.zeros(rows.shape[0], dtype=np.intp))
    _, first, group, count = np.unique(rows, axis=0, return_index=True, return_inverse=True,
                                       return_counts=True)
    # Number the groups in order of their first hour, not in np.unique's sorted order.
    rank = first_appearance_rank(first)
    order = np.argsort(rank)
    return HourGroups(first[order].astype(np.intp), count[order].astype(np.float64),
                      rank[group.reshape(-1)].astype(np.intp))


POOL_RTOL = 1e-9
"""Relative difference below which two keys' dollars per unit of capacity count as equal."""


@dataclass(frozen=True, eq=False)
class PooledCoverage:
    """Patterns whose coverage the LP holds per *class* of keys, not per key.

    Class ``c`` is the merged keys ``keys[c]`` of pattern ``pattern[c]`` that save the same
    on-demand dollars per pattern unit of capacity, ``value[c]``; ``pooled[P]`` says whether
    pattern ``P``'s coverage is pooled; ``class_of[j]`` is the class holding key ``j``
    (``-1``: none; a key is in at most one pooled pattern).
    """

    pattern: IntArray
    keys: tuple[IntArray, ...]
    value: FloatArray
    pooled: npt.NDArray[np.bool_]
    class_of: IntArray

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return int(self.pattern.size)

    @classmethod
    def none(cls, n_patterns: int, n_keys: int) -> PooledCoverage:
        """No pattern pooled: every coverage per key."""
        return cls(np.zeros(0, dtype=np.intp), (), np.zeros(0),
                   np.zeros(n_patterns, dtype=bool), np.full(n_keys, -1, dtype=np.intp))


def pool_coverage(weights: FloatArray, rates: FloatArray) -> PooledCoverage:
    """Which patterns' coverage pools by class of keys (``weights`` is (P, J) ``â``, ``rates``
    (J,) the on-demand rates of the merged keys).

    **Pooled coverage.** Covering one unit of key ``j`` with pattern ``P`` saves ``r[j]`` and
    uses ``â[P,j]`` of its capacity: ``ρ[j] = r[j] / â[P,j]`` dollars per unit of capacity. A
    Savings Plan whose rates are a fixed share of on-demand (AWS's Compute Savings Plans,
    for one) has the same ``ρ`` on every key it covers. Then which of those keys its
    capacity covers changes nothing the LP counts (the dollars covered, the capacity used,
    the waste term's idle value, the utilisation floor are all sums of ``â y``), so the LP
    can hold one variable ``z = Σ_{j∈c} â[P,j] y[P,j]`` per class ``c`` of keys with equal
    ``ρ``, and hour and scenario, instead of one per key, with one row for the usage the
    other patterns leave (``Q`` ranges over the patterns not pooled):

        z[c] + Σ_{j∈c} â[P,j] Σ_Q y[Q,j] ≤ Σ_{j∈c} â[P,j] ū[j]

    Exact: for any ``y[Q,·]`` within each key's usage, a ``z[c]`` within this row splits
    into ``y[P,j] = z[c] (ū[j] − Σ_Q y[Q,j]) / Σ_{j∈c} (ū[j] − Σ_Q y[Q,j])``, within each
    key's usage, at the same dollars and capacity. Patterns are pooled widest first; one
    that shares a key with a pattern already pooled, or whose classes are no fewer than its
    keys (nothing to gain), is not.
    """
    n_patterns, n_keys = weights.shape
    pooled = np.zeros(n_patterns, dtype=bool)
    class_of = np.full(n_keys, -1, dtype=np.intp)
    patterns: list[int] = []
    members: list[IntArray] = []
    values: list[float] = []
    for p in np.argsort(-(weights > 0).sum(axis=1), kind="stable").tolist():
        keys = np.flatnonzero(weights[p] > 0)
        if keys.size < 2 or np.any(class_of[keys] >= 0):
            continue
        ratio = rates[keys] / weights[p, keys]
        order = np.argsort(ratio, kind="stable")
        steps = np.flatnonzero(np.diff(ratio[order]) > POOL_RTOL * ratio[order][1:]) + 1
        classes = np.split(keys[order], steps)
        if len(classes) >= keys.size:
            continue
        pooled[p] = True
        for members_c in classes:
            class_of[members_c] = len(patterns)
            patterns.append(p)
            members.append(np.sort(members_c).astype(np.intp))
            values.append(float(np.mean(rates[members_c] / weights[p, members_c])))
    return PooledCoverage(np.array(patterns, dtype=np.intp), tuple(members),
                          np.array(values, dtype=np.float64), pooled, class_of)
