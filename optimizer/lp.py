"""The purchase linear program: how much of each offering to buy now.

:func:`build_model` turns a :class:`PurchaseProblem` (usage over the window the
decision is judged on, the candidates, the commitments already owned) into a
linear program, :func:`solve` solves it with HiGHS and returns a frozen
:class:`PurchaseSolution`, :func:`optimize_purchases` does both. The LP allocates
coverage optimally, which relaxes the clouds' greedy application order, so every
plan is re-priced by the billing engine (:func:`optimizer.plan.make_plan`).

Every new commitment is taken to be active for the whole window: the window is a
sample of the hours the commitment will face (for a lookback policy, the past N
days standing in for the future), not a calendar of its term.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import highspy
import numpy as np
import numpy.typing as npt

from core.domain import Offering, Shape
from optimizer.linear_model import (
    LinearModelBuilder,
    LinearProgram,
    PulpModel,
    Solved,
    solve_highs,
    solve_pulp,
    to_highs,
    to_pulp,
)
from optimizer.reduction import (
    HourGroups,
    Pattern,
    PatternIndex,
    collapse_hours,
    index_patterns,
    prune_candidates,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

Backend = Literal["auto", "pulp", "highs"]

HOURS_PER_YEAR = 8760.0
QUANTITY_TOLERANCE = 1e-7
"""Quantities at or below this are reported as not bought."""
ARRAY_BACKEND_THRESHOLD = 50_000
"""Models with more variables than this go to HiGHS as arrays; smaller ones through PuLP."""


@dataclass(frozen=True, eq=False)
class PurchaseProblem:
    """What to decide on: usage over the window, offerings to buy, commitments owned.

    ``usage[h, k]`` is normalised units of key ``key_ids[k]`` in hour ``h`` of the
    window; ``owned_quantity[h, c]`` the active size of owned commitment ``c`` in
    that hour (0 after it expires; zeros when omitted). ``cost_of_capital`` is an
    annual rate charged on upfront cash (see :func:`amortized_with_capital`).
    """

    usage: FloatArray
    key_ids: tuple[str, ...]
    on_demand_rates: FloatArray
    candidates: tuple[Offering, ...]
    owned: tuple[Offering, ...] = ()
    owned_quantity: FloatArray | None = None
    cost_of_capital: float = 0.0

    def __post_init__(self) -> None:
        usage = np.asarray(self.usage, dtype=np.float64)
        rates = np.asarray(self.on_demand_rates, dtype=np.float64)
        key_ids = tuple(self.key_ids)
        if usage.ndim != 2 or usage.shape[1] != len(key_ids):
            raise ValueError(f"usage must be (hours, {len(key_ids)} keys), got {usage.shape}")
        if rates.shape != (len(key_ids),):
            raise ValueError(f"on_demand_rates must be ({len(key_ids)},), got {rates.shape}")
        if not np.all(np.isfinite(usage)) or np.any(usage < 0):
            raise ValueError("usage must be finite and >= 0")
        if not np.all(np.isfinite(rates)) or np.any(rates < 0):
            raise ValueError("on_demand_rates must be finite and >= 0")
        owned = tuple(self.owned)
        if self.owned_quantity is None:
            quantity = np.zeros((usage.shape[0], len(owned)))
        else:
            quantity = np.asarray(self.owned_quantity, dtype=np.float64)
        if quantity.shape != (usage.shape[0], len(owned)):
            raise ValueError(
                f"owned_quantity must be ({usage.shape[0]}, {len(owned)}), got {quantity.shape}"
            )
        if not np.all(np.isfinite(quantity)) or np.any(quantity < 0):
            raise ValueError("owned_quantity must be finite and >= 0")
        ids = [o.offering_id for o in self.candidates]
        if len(set(ids)) != len(ids):
            raise ValueError("candidates list an offering_id twice")
        if not np.isfinite(self.cost_of_capital) or self.cost_of_capital < 0:
            raise ValueError("cost_of_capital must be a finite rate >= 0")
        object.__setattr__(self, "usage", usage)
        object.__setattr__(self, "on_demand_rates", rates)
        object.__setattr__(self, "key_ids", key_ids)
        object.__setattr__(self, "candidates", tuple(self.candidates))
        object.__setattr__(self, "owned", owned)
        object.__setattr__(self, "owned_quantity", quantity)

    @property
    def hours(self) -> int:
        """Number of hours ``H`` in the window."""
        return int(self.usage.shape[0])

    @property
    def owned_active(self) -> FloatArray:
        """``(H, len(owned))`` active size of each owned commitment (never ``None``)."""
        assert self.owned_quantity is not None  # set by __post_init__
        return self.owned_quantity


@dataclass(frozen=True)
class PurchaseSolution:
    """The solved LP: quantities to buy now and the LP's own figures.

    ``objective`` is the LP's cost over the window: new commitments at their
    amortised price with the cost of capital, plus the on-demand remainder under
    the LP's optimal allocation of coverage. Owned commitments are sunk and not in it.
    """

    quantities: Mapping[str, float]
    objective: float
    status: str
    build_seconds: float
    solve_seconds: float
    n_variables: int
    n_constraints: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "quantities", MappingProxyType(dict(self.quantities)))


@dataclass(frozen=True, eq=False)
class PurchaseModel:
    """A built purchase LP, ready for :func:`solve`, with what the reductions did.

    ``kept`` are the indices of the candidates left after pruning, ``buy_columns``
    their columns; ``hour_groups`` maps the window's hours to the distinct hours
    the LP holds.
    """

    problem: PurchaseProblem
    program: LinearProgram
    backend: Literal["pulp", "highs"]
    solver_model: highspy.HighsLp | PulpModel
    patterns: tuple[Pattern, ...]
    kept: IntArray
    buy_columns: IntArray
    hour_groups: HourGroups
    build_seconds: float
    prices: FloatArray = field(repr=False)

    @property
    def n_variables(self) -> int:
        """Columns of the LP."""
        return self.program.n_variables

    @property
    def n_constraints(self) -> int:
        """Rows of the LP."""
        return self.program.n_constraints


def amortized_with_capital(offering: Offering, cost_of_capital: float) -> float:
    """Cost per unit-hour of an offering with simple interest on its upfront payment.

    The upfront ``U`` is cash out for the whole term while its amortisation
    recovers it evenly, so on average half of it is outstanding: at an annual
    rate ``i`` over a term of ``T`` years it costs ``U · i · T / 2`` of interest.
    The price is ``U · (1 + i · T / 2) / term_hours + hourly``.
    """
    term_years = offering.term_hours / HOURS_PER_YEAR
    upfront = offering.upfront * (1.0 + cost_of_capital * term_years / 2.0)
    return upfront / offering.term_hours + offering.hourly


# The purchase LP
# ---------------
# Data: hours h = 1..H of the window; usage u[h,k] ≥ 0 of key k, on-demand rate r[k];
# candidates o (bought now, active the whole window) and owned commitments (sunk).
# Every commitment c has a capacity vector a[c,k]: 1 / covers[c,k] for a unit offering,
# rates[c,k] for a spend one; its size q[c,h] is x[o] for a candidate and
# owned_quantity[h,c] for an owned one. A candidate's price per unit-hour is
#
#     p[o] = U[o] · (1 + i · T[o] / 2) / term_hours[o] + hourly[o]
#
# (U upfront, T term in years, i the annual cost of capital; amortized_with_capital).
#
#     minimise    H · Σ_o p[o] x[o]  +  Σ_h Σ_k r[k] · (u[h,k] - Σ_c y[h,c,k])
#     subject to  Σ_c y[h,c,k] ≤ u[h,k]                           (usage)
#                 Σ_k y[h,c,k] / covers[c,k] ≤ q[c,h]   c unit    (unit_capacity)
#                 Σ_k rates[c,k] · y[h,c,k] ≤ q[c,h]    c spend   (spend_capacity)
#                 x ≥ 0,  y ≥ 0
#
# As built, three exact reductions (optimizer/reduction.py) make it small:
# * commitments are grouped by pattern P (same shape, proportional a[c,·]); a[c,k] =
#   s[c] · â[P,k] with â[P,first key] = 1. Capacity is counted in pattern units, all
#   commitments of a pattern share one coverage variable per hour and key and one row:
#       Σ_k â[P,k] y[g,P,k] - x[o] / s[o] ≤ Q[g,P],   Q[g,P] = Σ_{owned c ∈ P} q[c,g] / s[c];
# * only the cheapest candidate per pattern (p[o] · s[o] per pattern unit) is kept;
# * identical hours (same usage on the keys any pattern covers, same Q) become one
#   hour g with weight w[g], so the on-demand term is Σ_g w[g] Σ_k r[k] (u[g,k] - Σ_P y).
# Coverage variables exist only where u[g,k] > 0 and the pattern has capacity in g
# (a candidate, or owned capacity > 0); the constant Σ_h Σ_k r[k] u[h,k] is the offset.


@dataclass(frozen=True, eq=False)
class _Reduced:
    """The problem after the exact reductions, as arrays over distinct hours and patterns."""

    patterns: tuple[Pattern, ...]
    candidate: IntArray       # (P,) kept candidate of each pattern, -1 if none
    candidate_scale: FloatArray  # (P,) s[o] of that candidate
    usage: FloatArray         # (G, K) usage of the distinct hours
    capacity: FloatArray      # (G, P) owned capacity Q in pattern units
    weight: FloatArray        # (G,) hours each distinct hour stands for
    first_hour: IntArray      # (G,) an hour of the window each stands for
    hour_groups: HourGroups


def _reduce(problem: PurchaseProblem, prices: FloatArray) -> _Reduced:
    n_candidates = len(problem.candidates)
    index = index_patterns((*problem.candidates, *problem.owned), problem.key_ids)
    candidate_index = PatternIndex(index.patterns, index.pattern[:n_candidates],
                                   index.scale[:n_candidates])
    kept = prune_candidates(problem.candidates, candidate_index, prices)

    n_all = len(index.patterns)
    owned_capacity = np.zeros((problem.hours, n_all))
    for c in range(len(problem.owned)):
        p = int(index.pattern[n_candidates + c])
        if p >= 0:
            owned_capacity[:, p] += problem.owned_active[:, c] / index.scale[n_candidates + c]
    candidate = np.full(n_all, -1, dtype=np.intp)
    candidate[index.pattern[kept]] = kept
    used = np.flatnonzero((candidate >= 0) | (owned_capacity.max(axis=0, initial=0.0) > 0))

    patterns = tuple(index.patterns[p] for p in used)
    capacity = owned_capacity[:, used]
    covered_keys = np.zeros(len(problem.key_ids), dtype=bool)
    for pattern in patterns:
        covered_keys[pattern.key_index] = True
    groups = collapse_hours(np.hstack([problem.usage[:, covered_keys], capacity]))
    return _Reduced(
        patterns=patterns,
        candidate=candidate[used],
        candidate_scale=np.where(candidate[used] >= 0,
                                 index.scale[np.maximum(candidate[used], 0)], 1.0),
        usage=problem.usage[groups.first],
        capacity=capacity[groups.first],
        weight=groups.count,
        first_hour=groups.first,
        hour_groups=groups,
    )


@dataclass(frozen=True, eq=False)
class _Coverage:
    """The coverage variables: columns and, per column, its distinct hour, pattern, key, weight."""

    column: IntArray
    group: IntArray
    pattern: IntArray
    key: IntArray
    capacity_weight: FloatArray


def add_buy_variables(
    builder: LinearModelBuilder, reduced: _Reduced, prices: FloatArray, hours: int
) -> IntArray:
    """x[o] ≥ 0 for each kept candidate, charged its price over every hour of the window."""
    kept = reduced.candidate[reduced.candidate >= 0]
    if kept.size == 0:
        return np.zeros(0, dtype=np.intp)
    return builder.add_variables("buy", (kept,), cost=prices[kept] * hours)


def add_coverage_variables(
    builder: LinearModelBuilder, reduced: _Reduced, on_demand_rates: FloatArray
) -> _Coverage:
    """y[g,P,k] ≥ 0 where key k has usage in hour g and pattern P has capacity then."""
    groups, patterns, keys, weights = [], [], [], []
    for p, pattern in enumerate(reduced.patterns):
        active = reduced.capacity[:, p] > 0 if reduced.candidate[p] < 0 else None
        has_usage = reduced.usage[:, pattern.key_index] > 0
        mask = has_usage if active is None else has_usage & active[:, None]
        g, j = np.nonzero(mask)
        groups.append(g)
        patterns.append(np.full(g.size, p, dtype=np.intp))
        keys.append(pattern.key_index[j])
        weights.append(pattern.weights[j])
    group = np.concatenate(groups) if groups else np.zeros(0, dtype=np.intp)
    if group.size == 0:
        empty = np.zeros(0, dtype=np.intp)
        return _Coverage(empty, empty, empty, empty, np.zeros(0))
    pattern_of = np.concatenate(patterns)
    key = np.concatenate(keys)
    column = builder.add_variables(
        "coverage", (reduced.first_hour[group], pattern_of, key),
        cost=-reduced.weight[group] * on_demand_rates[key],
    )
    return _Coverage(column, group, pattern_of, key, np.concatenate(weights))


def add_usage_constraints(
    builder: LinearModelBuilder, reduced: _Reduced, coverage: _Coverage
) -> None:
    """Coverage never exceeds usage: Σ_P y[g,P,k] ≤ u[g,k]."""
    if coverage.column.size == 0:
        return
    n_keys = reduced.usage.shape[1]
    cell, row = np.unique(coverage.group * n_keys + coverage.key, return_inverse=True)
    group, key = np.divmod(cell, n_keys)
    builder.add_constraints(
        "usage", (reduced.first_hour[group], key),
        row=row.reshape(-1), column=coverage.column, coefficient=1.0,
        upper=reduced.usage[group, key],
    )


def add_capacity_constraints(
    builder: LinearModelBuilder,
    reduced: _Reduced,
    coverage: _Coverage,
    buy_columns: IntArray,
    shape: Shape,
) -> None:
    """A commitment covers at most its size: Σ_k â[P,k] y[g,P,k] - x[o]/s[o] ≤ Q[g,P].

    For unit patterns this is Σ_k y / covers ≤ size, for spend patterns
    Σ_k rates · y ≤ dollars, both divided by the offering's scale ``s``.
    """
    of_shape = np.array([p.shape is shape for p in reduced.patterns], dtype=bool)
    selected = np.flatnonzero(of_shape[coverage.pattern]) if coverage.pattern.size else \
        np.zeros(0, dtype=np.intp)
    if selected.size == 0:
        return
    n_patterns = len(reduced.patterns)
    cell, row = np.unique(coverage.group[selected] * n_patterns + coverage.pattern[selected],
                          return_inverse=True)
    group, pattern = np.divmod(cell, n_patterns)
    row = row.reshape(-1)
    rows, columns, coefficients = [row], [coverage.column[selected]], \
        [coverage.capacity_weight[selected]]

    # Buy columns are in the order of patterns that have a candidate.
    buy_of_pattern = np.full(n_patterns, -1, dtype=np.intp)
    buy_of_pattern[reduced.candidate >= 0] = buy_columns
    with_candidate = np.flatnonzero(buy_of_pattern[pattern] >= 0)
    rows.append(with_candidate)
    columns.append(buy_of_pattern[pattern[with_candidate]])
    coefficients.append(-1.0 / reduced.candidate_scale[pattern[with_candidate]])

    builder.add_constraints(
        f"{shape}_capacity", (reduced.first_hour[group], pattern),
        row=np.concatenate(rows), column=np.concatenate(columns),
        coefficient=np.concatenate(coefficients),
        upper=reduced.capacity[group, pattern],
    )


def build_model(problem: PurchaseProblem, *, backend: Backend = "auto") -> PurchaseModel:
    """Build the purchase LP (pure: no solving). ``backend="auto"`` picks by size."""
    started = time.perf_counter()
    prices = np.array([amortized_with_capital(o, problem.cost_of_capital)
                       for o in problem.candidates], dtype=np.float64)
    reduced = _reduce(problem, prices)

    builder = LinearModelBuilder("purchase")
    builder.offset = float((problem.usage @ problem.on_demand_rates).sum())
    buy_columns = add_buy_variables(builder, reduced, prices, problem.hours)
    coverage = add_coverage_variables(builder, reduced, problem.on_demand_rates)
    add_usage_constraints(builder, reduced, coverage)
    add_capacity_constraints(builder, reduced, coverage, buy_columns, Shape.UNIT)
    add_capacity_constraints(builder, reduced, coverage, buy_columns, Shape.SPEND)
    program = builder.build()

    if backend == "auto":
        backend = "highs" if program.n_variables > ARRAY_BACKEND_THRESHOLD else "pulp"
    solver_model: highspy.HighsLp | PulpModel = (
        to_highs(program) if backend == "highs" else to_pulp(program)
    )
    return PurchaseModel(
        problem=problem,
        program=program,
        backend=backend,
        solver_model=solver_model,
        patterns=reduced.patterns,
        kept=reduced.candidate[reduced.candidate >= 0],
        buy_columns=buy_columns,
        hour_groups=reduced.hour_groups,
        build_seconds=time.perf_counter() - started,
        prices=prices,
    )


def solve(model: PurchaseModel, *, time_limit_s: float = 120) -> PurchaseSolution:
    """Solve a built model; raise :class:`core.errors.SolverError` unless HiGHS proves an optimum.

    A model with no variable has nothing to decide (no candidate and no owned
    capacity meets any usage) and is optimal by inspection: the solver is not called.
    """
    program = model.program
    if program.n_variables == 0:
        solved = Solved("Optimal", np.zeros(0), program.offset, 0.0)
    elif isinstance(model.solver_model, PulpModel):
        solved = solve_pulp(model.solver_model, time_limit_s=time_limit_s)
    else:
        solved = solve_highs(model.solver_model, time_limit_s=time_limit_s)
    bought = np.maximum(solved.x[model.buy_columns], 0.0).tolist() if solved.x.size else []
    candidates = model.problem.candidates
    quantities = {
        candidates[o].offering_id: q
        for o, q in zip(model.kept.tolist(), bought, strict=True)
        if q > QUANTITY_TOLERANCE
    }
    return PurchaseSolution(
        quantities=quantities,
        objective=solved.objective,
        status=solved.status,
        build_seconds=model.build_seconds,
        solve_seconds=solved.seconds,
        n_variables=program.n_variables,
        n_constraints=program.n_constraints,
    )


def optimize_purchases(
    problem: PurchaseProblem, *, time_limit_s: float = 120, backend: Backend = "auto"
) -> PurchaseSolution:
    """Build and solve the purchase LP."""
    return solve(build_model(problem, backend=backend), time_limit_s=time_limit_s)

