"""The purchase linear program: how much of each offering to buy now.

:func:`build_model` turns a :class:`PurchaseProblem` (usage over the window the
decision is judged on, the candidates, the commitments already owned) into a
linear program, :func:`solve` solves it with HiGHS and returns a frozen
:class:`PurchaseSolution`, :func:`optimize_purchases` does both. The LP allocates
coverage optimally, which relaxes the clouds' greedy application order, so every
plan is re-priced by the billing engine (:func:`optimizer.lp_plan.make_plan`).

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

from core.domain import Offering
from optimizer.linear_model import (
    Backend,
    LinearModelBuilder,
    LinearProgram,
    PulpModel,
    solve_program,
    to_solver,
)
from optimizer.pricing import QUANTITY_TOLERANCE, amortized_with_capital
from optimizer.reduction import (
    HourGroups,
    KeyGroups,
    Pattern,
    aggregate_keys,
    collapse_hours,
    index_patterns,
    prune_candidates,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


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
    amortized price with the cost of capital, plus the on-demand remainder under
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
    their columns; ``key_groups`` and ``hour_groups`` map the problem's keys and
    hours to the merged keys and distinct hours the LP holds.
    """

    problem: PurchaseProblem
    program: LinearProgram
    backend: Literal["pulp", "highs"]
    solver_model: highspy.HighsLp | PulpModel
    patterns: tuple[Pattern, ...]
    kept: IntArray
    buy_columns: IntArray
    key_groups: KeyGroups
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


# The purchase LP
# ---------------
# Data: hours h = 1..H of the window; usage u[h,k] >= 0 of key k, on-demand rate r[k];
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
#     subject to  Σ_c y[h,c,k] ≤ u[h,k]                                   (usage)
#                 Σ_k y[h,c,k] / covers[c,k] ≤ q[c,h]   for unit c        (capacity)
#                 Σ_k rates[c,k] · y[h,c,k] ≤ q[c,h]    for spend c       (capacity)
#                 x ≥ 0,  y ≥ 0
#
# As built, four exact reductions (optimizer/reduction.py) make it small:
# * dominated candidates are dropped (another covers every key they cover, each at no
#   higher price per unit of coverage): among offerings of one pattern only the cheapest;
# * commitments are grouped by pattern P (proportional a[c,·] on the same keys, either
#   shape): a[c,k] = s[c] · â[P,k] with â[P,first key] = 1, capacity counted in pattern
#   units, one coverage variable per hour and key and one capacity row per pattern:
#       Σ_k â[P,k] y[g,P,k] - Σ_{o ∈ P} x[o] / s[o] ≤ Q[g,P],
#       Q[g,P] = Σ_{owned c ∈ P} q[c,g] / s[c];
# * keys with the same rate and the same weight â in every pattern become one key j
#   with their summed usage;
# * identical hours (same usage on the keys any pattern covers, same Q) become one
#   hour g of weight w[g]: the on-demand term is Σ_g w[g] Σ_j r[j] (u[g,j] - Σ_P y[g,P,j]).
# Coverage variables exist only where u[g,j] > 0 and P has capacity in g (a candidate,
# or Q[g,P] > 0); the constant Σ_h Σ_k r[k] u[h,k] is the objective's offset.


@dataclass(frozen=True, eq=False)
class _Reduced:
    """The problem after the exact reductions: distinct hours g, patterns P, merged keys j."""

    patterns: tuple[Pattern, ...]
    weights: FloatArray        # (P, J) capacity â[P,j] used per unit covered, 0: not covered
    rates: FloatArray          # (J,) on-demand rate of each merged key
    key_groups: KeyGroups      # original key -> merged key
    kept: IntArray             # (n,) kept candidates
    kept_pattern: IntArray     # (n,) their pattern
    kept_scale: FloatArray     # (n,) their s[o]
    usage: FloatArray          # (G, J) usage of the distinct hours
    capacity: FloatArray       # (G, P) owned capacity Q in pattern units
    weight: FloatArray         # (G,) hours each distinct hour stands for
    hour_groups: HourGroups


def _reduce(problem: PurchaseProblem, prices: FloatArray) -> _Reduced:
    kept = prune_candidates(problem.candidates, problem.key_ids, prices)
    offerings = (*(problem.candidates[o] for o in kept), *problem.owned)
    index = index_patterns(offerings, problem.key_ids)
    n_kept = kept.size

    owned_capacity = np.zeros((problem.hours, len(index.patterns)))
    for c in range(len(problem.owned)):
        p = int(index.pattern[n_kept + c])
        if p >= 0:
            owned_capacity[:, p] += problem.owned_active[:, c] / index.scale[n_kept + c]
    with_candidate = np.zeros(len(index.patterns), dtype=bool)
    with_candidate[index.pattern[:n_kept]] = True
    used = np.flatnonzero(with_candidate | (owned_capacity.max(axis=0, initial=0.0) > 0))
    renumber = np.full(len(index.patterns), -1, dtype=np.intp)
    renumber[used] = np.arange(used.size)

    patterns = tuple(index.patterns[p] for p in used)
    dense = np.zeros((len(patterns), len(problem.key_ids)))
    for p, pattern in enumerate(patterns):
        dense[p, pattern.key_index] = pattern.weights
    key_groups = aggregate_keys(dense, problem.on_demand_rates)
    usage = key_groups.sum_columns(problem.usage)
    capacity = owned_capacity[:, used]
    hour_groups = collapse_hours(np.hstack([usage, capacity]))
    return _Reduced(
        patterns=patterns,
        weights=dense[:, key_groups.first],
        rates=problem.on_demand_rates[key_groups.first],
        key_groups=key_groups,
        kept=kept,
        kept_pattern=renumber[index.pattern[:n_kept]],
        kept_scale=index.scale[:n_kept],
        usage=usage[hour_groups.first],
        capacity=capacity[hour_groups.first],
        weight=hour_groups.count,
        hour_groups=hour_groups,
    )


@dataclass(frozen=True, eq=False)
class _Coverage:
    """The coverage variables: columns and, per column, its distinct hour, pattern and key."""

    column: IntArray
    group: IntArray
    pattern: IntArray
    key: IntArray


def add_buy_variables(
    builder: LinearModelBuilder, reduced: _Reduced, prices: FloatArray, hours: int
) -> IntArray:
    """x[o] >= 0 for each kept candidate, charged its price over every hour of the window."""
    if reduced.kept.size == 0:
        return np.zeros(0, dtype=np.intp)
    return builder.add_variables("buy", (reduced.kept,), cost=prices[reduced.kept] * hours)


def add_coverage_variables(builder: LinearModelBuilder, reduced: _Reduced) -> _Coverage:
    """y[g,P,j] >= 0 where key j has usage in hour g and pattern P has capacity then."""
    has_capacity = reduced.capacity > 0
    has_capacity[:, reduced.kept_pattern] = True
    groups, patterns, keys = [], [], []
    for p in range(len(reduced.patterns)):
        covered = np.flatnonzero(reduced.weights[p] > 0)
        g, j = np.nonzero((reduced.usage[:, covered] > 0) & has_capacity[:, p, None])
        groups.append(g)
        patterns.append(np.full(g.size, p, dtype=np.intp))
        keys.append(covered[j])
    if not groups or sum(g.size for g in groups) == 0:
        empty = np.zeros(0, dtype=np.intp)
        return _Coverage(empty, empty, empty, empty)
    group, pattern, key = (np.concatenate(a).astype(np.intp) for a in (groups, patterns, keys))
    hours = reduced.hour_groups.first
    column = builder.add_variables(
        "coverage", (hours[group], pattern, reduced.key_groups.first[key]),
        cost=-reduced.weight[group] * reduced.rates[key],
    )
    return _Coverage(column, group, pattern, key)


def add_usage_constraints(
    builder: LinearModelBuilder, reduced: _Reduced, coverage: _Coverage
) -> None:
    """Coverage never exceeds usage: Σ_P y[g,P,j] ≤ u[g,j]."""
    if coverage.column.size == 0:
        return
    n_keys = reduced.usage.shape[1]
    cell, row = np.unique(coverage.group * n_keys + coverage.key, return_inverse=True)
    group, key = np.divmod(cell, n_keys)
    builder.add_constraints(
        "usage", (reduced.hour_groups.first[group], reduced.key_groups.first[key]),
        row=row.reshape(-1), column=coverage.column, coefficient=1.0,
        upper=reduced.usage[group, key],
    )


def add_capacity_constraints(
    builder: LinearModelBuilder, reduced: _Reduced, coverage: _Coverage, buy_columns: IntArray
) -> None:
    """Commitments cover at most their size: Σ_j â[P,j] y[g,P,j] - Σ_o x[o]/s[o] ≤ Q[g,P].

    Multiplied by ``s``, this is Σ_k y / covers ≤ units for a unit offering and
    Σ_k rates · y ≤ dollars for a spend one.
    """
    if coverage.column.size == 0:
        return
    n_patterns = len(reduced.patterns)
    cell, row = np.unique(coverage.group * n_patterns + coverage.pattern, return_inverse=True)
    group, pattern = np.divmod(cell, n_patterns)
    rows = [row.reshape(-1)]
    columns = [coverage.column]
    coefficients = [reduced.weights[coverage.pattern, coverage.key]]
    for column, p, scale in zip(buy_columns.tolist(), reduced.kept_pattern.tolist(),
                                reduced.kept_scale.tolist(), strict=True):
        in_pattern = np.flatnonzero(pattern == p)
        rows.append(in_pattern)
        columns.append(np.full(in_pattern.size, column, dtype=np.intp))
        coefficients.append(np.full(in_pattern.size, -1.0 / scale))
    builder.add_constraints(
        "capacity", (reduced.hour_groups.first[group], pattern),
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
    coverage = add_coverage_variables(builder, reduced)
    add_usage_constraints(builder, reduced, coverage)
    add_capacity_constraints(builder, reduced, coverage, buy_columns)
    program = builder.build()

    chosen, solver_model = to_solver(program, backend)
    return PurchaseModel(
        problem=problem,
        program=program,
        backend=chosen,
        solver_model=solver_model,
        patterns=reduced.patterns,
        kept=reduced.kept,
        buy_columns=buy_columns,
        key_groups=reduced.key_groups,
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
    solved = solve_program(program, model.solver_model, time_limit_s=time_limit_s)
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

