"""Exact reductions that make the purchase LP small: coverage patterns and identical hours.

Both reductions change the size of the linear program, never its optimum.

**Coverage patterns.** Write the capacity constraint of any commitment ``c`` as
``Σ_k a_c[k] · y_ck ≤ q_c`` with ``a_c[k] = 1 / covers_c[k]`` for a unit offering
and ``a_c[k] = rates_c[k]`` for a spend offering. Two offerings of the same shape
whose vectors ``a`` are proportional on the same key set (``a_B = λ · a_A``) are
the same constraint up to the size of their unit: one unit of B is ``1 / λ``
units of A. Dividing ``a_c`` by its first entry ``s_c`` gives the offering's
*pattern* ``â``, the same for every offering of the group, and measures capacity
in *pattern units*: covering one unit-hour of the pattern's first key consumes one
pattern unit, and one unit of offering ``c`` provides ``1 / s_c`` of them.

Consequences, both exact:

* Among candidates of one pattern, and with no term in the objective other than
  their price (no risk term), only the one with the lowest price per pattern unit
  (``price_c · s_c``) can be in an optimum: moving capacity from any other to it
  keeps every constraint and does not raise the cost. :func:`prune_candidates`
  keeps that one per pattern (ties: shorter term, then less upfront per pattern
  unit, then ``offering_id``). The price is the caller's, so a cost of capital on
  upfront cash changes which offering survives.
* Commitments of one pattern, owned or new, can share one coverage variable per
  key and hour and one capacity constraint: any coverage within their summed
  capacity can be split among them in proportion to their sizes.

Shapes are never merged, although a one-key RI and a one-key EC2 Instance Savings
Plan have proportional patterns: the clouds apply them at different steps, and
the choice between equally priced ones is a policy, not an accident of pruning.

**Identical hours.** Given the quantities bought, the LP separates into one
independent problem per hour, and two hours with the same usage and the same owned
capacity on every pattern have the same problem. Averaging the coverage of such
hours is feasible and costs the same (the problem is convex), so they collapse
into one hour weighted by their count (:func:`collapse_hours`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from core.domain import Offering, Shape

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

PATTERN_RTOL = 1e-9
"""Relative tolerance under which two normalised capacity vectors are the same pattern."""


@dataclass(frozen=True, eq=False)
class Pattern:
    """A coverage pattern: the keys a commitment covers and its capacity per unit of coverage.

    ``weights[j]`` is the capacity, in pattern units, consumed by covering one
    unit-hour of key ``key_index[j]``; ``weights[0] == 1``.
    """

    shape: Shape
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


def capacity_vector(offering: Offering, key_index: dict[str, int]) -> tuple[IntArray, FloatArray]:
    """Positions of an offering's known keys (ascending) and its capacity per unit of coverage."""
    if offering.shape is Shape.UNIT:
        weights = {key_index[k]: 1.0 / w for k, w in offering.covers.items() if k in key_index}
    else:
        weights = {key_index[k]: float(w) for k, w in offering.rates.items() if k in key_index}
    positions = np.array(sorted(weights), dtype=np.intp)
    return positions, np.array([weights[p] for p in positions], dtype=np.float64)


def index_patterns(offerings: Sequence[Offering], key_ids: Sequence[str]) -> PatternIndex:
    """Group offerings by coverage pattern (same shape, proportional capacity vectors)."""
    key_index = {k: i for i, k in enumerate(key_ids)}
    patterns: list[Pattern] = []
    by_key_set: dict[tuple[Shape, tuple[int, ...]], list[int]] = {}
    pattern = np.full(len(offerings), -1, dtype=np.intp)
    scale = np.ones(len(offerings), dtype=np.float64)
    for i, offering in enumerate(offerings):
        positions, weights = capacity_vector(offering, key_index)
        if positions.size == 0:
            continue
        scale[i] = weights[0]
        normalised = weights / weights[0]
        group = by_key_set.setdefault((offering.shape, tuple(positions.tolist())), [])
        for p in group:
            if np.allclose(patterns[p].weights, normalised, rtol=PATTERN_RTOL, atol=0.0):
                pattern[i] = p
                break
        else:
            pattern[i] = len(patterns)
            group.append(len(patterns))
            patterns.append(Pattern(offering.shape, positions, normalised))
    return PatternIndex(tuple(patterns), pattern, scale)


def prune_candidates(
    candidates: Sequence[Offering], index: PatternIndex, prices: FloatArray
) -> IntArray:
    """Indices of the candidates that can be in an optimum: the cheapest of each pattern.

    ``prices[i]`` is candidate ``i``'s cost per unit-hour as the objective charges it;
    ``index`` its patterns (from :func:`index_patterns` over the same candidates).
    """
    best: dict[int, tuple[float, int, float, str, int]] = {}
    for i, offering in enumerate(candidates):
        p = int(index.pattern[i])
        if p < 0:
            continue
        s = float(index.scale[i])
        rank = (float(prices[i]) * s, offering.term_hours, offering.upfront * s,
                offering.offering_id, i)
        if p not in best or rank < best[p]:
            best[p] = rank
    return np.array(sorted(rank[-1] for rank in best.values()), dtype=np.intp)


@dataclass(frozen=True, eq=False)
class HourGroups:
    """Hours grouped by identical rows: ``first[g]`` represents group ``g`` of ``count[g]`` hours.

    ``group[h]`` is the group of hour ``h``.
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
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return HourGroups(first[order].astype(np.intp), count[order].astype(np.float64),
                      rank[group.reshape(-1)].astype(np.intp))
