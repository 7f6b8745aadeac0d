"""The stochastic problem after its exact reductions, before any column is written.

Candidates pruned of the dominated, the owned commitments that can be returned or
exchanged, patterns of proportional capacity, merged keys, the segments of the
horizon and their representative hours (see the formulation in
:mod:`optimizer.stochastic.model`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from core.domain import Shape, can_exchange, is_convertible
from optimizer.reduction import KeyGroups, aggregate_keys, index_patterns, prune_candidates
from optimizer.representative import RepresentativeHours, representative_hours, segment_bounds
from optimizer.stochastic.problem import StochasticProblem

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

MAX_EPOCHS = 16
"""At most this many decision hours (now and planned) in one model."""


@dataclass(frozen=True, eq=False)
class Layout:
    """The problem after reductions: patterns, merged keys, segments and representative hours."""

    weights: FloatArray          # (P, J) â
    rates: FloatArray            # (J,)
    key_groups: KeyGroups
    pattern_of: IntArray         # pattern of each candidate, then each owned (-1: none)
    scale_of: FloatArray         # s of each candidate, then each owned
    bounds: IntArray
    rep: RepresentativeHours     # usage (S, G, J)
    capacity: FloatArray         # (E, P) owned capacity Q
    offset_usage: FloatArray     # (S,) on-demand cost of each scenario with no coverage
    epochs: IntArray             # decision hours: 0 now, then the planned ones


def exchange_pairs(problem: StochasticProblem) -> tuple[IntArray, IntArray]:
    """(owned index, candidate index) of every exchange the policy allows: a live
    convertible owned commitment and an allowed candidate it can be exchanged for."""
    owned_of, target_of = [], []
    if not problem.policy.exchanges:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    for c, owned in enumerate(problem.owned):
        if owned.quantity <= 0 or owned.hours_left <= 0 or not is_convertible(owned.offering):
            continue
        for t, offering in enumerate(problem.candidates):
            if problem.policy.allows(offering) and can_exchange(owned.offering, offering):
                owned_of.append(c)
                target_of.append(t)
    return np.array(owned_of, dtype=np.intp), np.array(target_of, dtype=np.intp)


def returnable_owned(problem: StochasticProblem) -> IntArray:
    """Owned indices of the live spend commitments still inside the policy's return window."""
    if not problem.policy.returns:
        return np.zeros(0, dtype=np.intp)
    window = problem.policy.return_window_hours
    return np.array([c for c, owned in enumerate(problem.owned)
                     if owned.offering.shape is Shape.SPEND and owned.quantity > 0
                     and owned.hours_left > 0 and owned.age_hours <= window], dtype=np.intp)


def build_layout(problem: StochasticProblem, kept: IntArray, active: IntArray,
                 targets: IntArray) -> Layout:
    """The reductions of the problem for the kept candidates and the exchange ``targets``:
    patterns, merged keys, segments, representative hours, owned capacity and epochs."""
    horizon = problem.horizon
    n_cand = len(problem.candidates)
    offerings = (*problem.candidates, *(c.offering for c in problem.owned))
    index = index_patterns(offerings, problem.key_ids)
    in_model = np.zeros(len(offerings), dtype=bool)
    in_model[kept] = True
    in_model[targets] = True
    in_model[n_cand:] = [c.quantity > 0 and c.hours_left > 0 for c in problem.owned]
    used = np.unique(index.pattern[in_model & (index.pattern >= 0)])
    renumber = np.full(len(index.patterns), -1, dtype=np.intp)
    renumber[used] = np.arange(used.size)
    pattern_of = np.where(index.pattern >= 0, renumber[np.maximum(index.pattern, 0)], -1)
    pattern_of[~in_model] = -1

    dense = np.zeros((used.size, len(problem.key_ids)))
    for p, q in enumerate(used.tolist()):
        dense[p, index.patterns[q].key_index] = index.patterns[q].weights
    key_groups = aggregate_keys(dense, problem.on_demand_rates)
    usage = problem.scenarios.usage
    merged = np.stack([key_groups.sum_columns(usage[s]) for s in range(usage.shape[0])])

    cuts = [active[kept], active[targets]]
    cuts.append(np.array([min(c.hours_left, horizon) for c in problem.owned], dtype=np.intp))
    base = segment_bounds(horizon, np.concatenate(cuts))
    cadence = problem.policy.cadence_hours
    if problem.policy.plan_ahead:
        runs = np.arange(cadence, horizon, cadence) if cadence else np.zeros(0, dtype=np.intp)
        epochs = segment_bounds(horizon, np.concatenate([base, runs]))[:-1]
    else:
        epochs = base[:1]
    if epochs.size > MAX_EPOCHS:
        epochs = epochs[np.unique(np.linspace(0, epochs.size - 1, MAX_EPOCHS).round()
                                  .astype(np.intp))]
    terms = np.array([problem.candidates[o].term_hours for o in kept.tolist()], dtype=np.intp)
    ends = (epochs[:, None] + terms[None, :]).reshape(-1)
    bounds = segment_bounds(horizon, np.concatenate([base, ends]))
    rates = problem.on_demand_rates[key_groups.first]
    rep = representative_hours(merged, rates, bounds, problem.policy.representative_hours)

    capacity = np.zeros((bounds.size - 1, used.size))
    for c, owned in enumerate(problem.owned):
        p = int(pattern_of[n_cand + c])
        if p < 0:
            continue
        for e in range(bounds.size - 1):
            if bounds[e] < owned.hours_left:
                capacity[e, p] += owned.quantity / index.scale[n_cand + c]
    offset_usage = (usage @ problem.on_demand_rates).sum(axis=1)
    return Layout(dense[:, key_groups.first], rates, key_groups, pattern_of, index.scale,
                  bounds, rep, capacity, offset_usage, epochs)


def kept_candidates(problem: StochasticProblem, prices: FloatArray,
                    active: IntArray) -> IntArray:
    """Allowed candidates, pruned of the dominated among those active as long (no caps)."""
    policy = problem.policy
    allowed = np.array([o for o, offering in enumerate(problem.candidates)
                        if policy.allows(offering)], dtype=np.intp)
    if allowed.size == 0:
        return allowed
    if policy.max_new_hourly is not None or policy.max_upfront is not None:
        covers = [o for o in allowed.tolist()
                  if any(k in problem.key_ids for k in problem.candidates[o].eligible_keys)]
        return np.array(covers, dtype=np.intp)
    kept = []
    for length in np.unique(active[allowed]).tolist():
        group = allowed[active[allowed] == length]
        survivors = prune_candidates([problem.candidates[o] for o in group.tolist()],
                                     problem.key_ids, prices[group])
        kept.append(group[survivors])
    return np.sort(np.concatenate(kept)).astype(np.intp)


