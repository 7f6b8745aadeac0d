"""The hindsight optimum: one LP that sees the whole trace and buys at every decision hour.

It is the upper limit a policy is measured against (BENCHMARK.md, "The score"):
the cheapest purchase schedule, with perfect knowledge of the usage, among the
schedules a policy could make (same decision hours, same allowed offerings, the
whole term inside the trace). It is for scoring only.

The LP allocates coverage optimally, while the clouds apply commitments greedily
(unit before spend, by ``order``, highest discount first). Given the purchases,
billing's allocation is one the LP could choose, so the LP's objective
(``lp_cost``) is a lower bound on the billed cost of *every* schedule a policy can
make, the oracle's own included. The runner re-prices the oracle's purchases with
the billing engine and reports the difference, ``allocation_gap`` = billed − LP.

When is the gap zero? For a single offering, greedy is optimal (it covers first
the key where its capacity displaces the most on-demand dollars). With offerings
of one key each, or narrow ones billed before broad ones (RIs and EC2 Instance
Savings Plans per family, then Compute Savings Plans, as in the benchmark
catalogs), moving coverage to the earlier, narrower commitment never costs more,
so billing allocates optimally up to ties. It can be positive when a broad unit
offering is billed before a narrower one over the same keys (it takes usage the
narrow one needed; ``test_greedy_billing_can_cost_the_oracle_more_than_its_lp``),
or, in principle, between two broad spend offerings whose discounts rank the keys
differently. Making the LP follow greedy billing exactly would need integer
variables; instead the gap is measured on every run (its size on the suite:
benchmarks/README.md, "Backtest (issue 3)").
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from core.domain import Catalog, Offering, Shape
from optimizer.backtest.purchases import Purchase
from optimizer.backtest.schedule import buyable, decision_hours
from optimizer.backtest.trace import UsageTrace
from optimizer.linear_model import LinearModelBuilder, LinearProgram, solve_highs, to_highs
from optimizer.pricing import HINDSIGHT_QUANTITY_TOLERANCE
from optimizer.reduction import capacity_vector

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

DOMINANCE_RTOL = 1e-12
"""Relative slack under which two offerings' prices count as equal when pruning."""
SOLVER = "ipm"
"""HiGHS's interior point method, with crossover to a vertex (sparse purchases): faster
than the dual simplex on this LP (benchmarks/README.md, "Backtest (issue 3)", "The
oracle's size and time")."""

# The hindsight LP
# ----------------
# Data: the scored window W = [w, H) (w = warm-up); usage u[h,k] ≥ 0 of key k, on-demand
# rate r[k]; allowed offerings o with term T[o], amortized price p[o] = upfront/T[o] + hourly
# per unit-hour, eligible keys E[o] and capacity per unit of coverage a[o,k] (1 / covers[k]
# for a unit offering, rates[k] for a spend one); decision hours D = {w, w + c, w + 2c, …}
# (c = cadence) and, per offering, D[o] = {d ∈ D : d + T[o] ≤ H}.
#
# Variables: x[o,d] ≥ 0, the units of o bought at d ∈ D[o]; z[o,s] ≥ 0, o's active size on
# segment s; y[o,k,h] ≥ 0, the units of key k's usage that o covers in hour h ∈ W. The
# hours at which o's size can change (its decision hours d and expiries d + T[o]) cut W
# into segments s = [t[s], t[s+1]); s(h) is the segment of hour h. Tranches of one offering
# bought at different hours are interchangeable in billing, so coverage is per offering,
# not per tranche.
#
#   minimise   Σ_o Σ_{d∈D[o]} T[o] p[o] x[o,d] + Σ_{h∈W} Σ_k r[k] (u[h,k] − Σ_{o∋k} y[o,k,h])
#   subject to Σ_{o∋k} y[o,k,h] ≤ u[h,k]                             (usage)
#              Σ_{k∈E[o]} a[o,k] y[o,k,h] − z[o,s(h)] ≤ 0            (capacity)
#              z[o,s] − Σ_{d∈D[o], d ≤ t[s] < d+T[o]} x[o,d] ≤ 0      (tranches)
#              x ≥ 0,  z ≥ 0,  0 ≤ y[o,k,h] ≤ u[h,k]
#
# (o∋k: the offerings o that cover key k, k ∈ E[o].) Offerings that no optimum needs are
# dropped first (prune_dominated).
#
# A purchase at d ≥ w with d + T[o] ≤ H is active only inside W, so T[o] p[o] x[o,d] is
# exactly what the billing engine charges it in the window; nothing is owned at the start.
# z[o,s] ≤ (not =) its tranches is enough: z only caps coverage. Through z, each x[o,d]
# appears in the few segments of its term instead of the T[o] hourly capacity rows, which
# keeps the matrix sparse (an interior point method's normal equations stay sparse too).
# Coverage exists only where u[h,k] > 0 and o can be active; the usage row is written only
# for keys that two or more offerings cover (for the others the bound on y is the same
# constraint). The constant Σ_W Σ_k r[k] u[h,k] is the offset, so the objective is the
# window's cost under the LP's allocation of coverage.


@dataclass(frozen=True)
class OracleSolution:
    """The hindsight schedule and the LP's own figures.

    ``lp_cost`` is the LP's cost over the scored window (a lower bound on the
    billed cost of any schedule at the same cadence, the oracle's own included).
    ``n_candidates`` offerings could be bought (allowed, covering a key of the
    trace, term fitting after the warm-up); ``n_offerings`` are left in the LP
    after :func:`prune_dominated`.
    """

    purchases: tuple[Purchase, ...]
    lp_cost: float
    status: str
    n_candidates: int
    n_offerings: int
    n_variables: int
    n_constraints: int
    n_nonzeros: int
    build_seconds: float
    solve_seconds: float

    def details(self) -> dict[str, float | int | str]:
        """Figures for a score's ``details``."""
        return {
            "lp_cost": self.lp_cost,
            "lp_status": self.status,
            "lp_candidates": self.n_candidates,
            "lp_offerings": self.n_offerings,
            "lp_variables": self.n_variables,
            "lp_constraints": self.n_constraints,
            "lp_nonzeros": self.n_nonzeros,
            "lp_build_seconds": self.build_seconds,
            "lp_solve_seconds": self.solve_seconds,
        }


@dataclass(frozen=True, eq=False)
class _Purchases:
    """The x columns: offering index and decision hour of each."""

    column: IntArray
    offering: IntArray
    hour: IntArray


@dataclass(frozen=True, eq=False)
class _Segments:
    """The z columns of one offering: segment starts ``t[0] < t[1] < …`` and the end of the last."""

    column: IntArray
    bounds: IntArray

    def of(self, hours: IntArray) -> IntArray:
        """The z column of the segment holding each hour (hours inside the segments only)."""
        return self.column[np.searchsorted(self.bounds, hours, side="right") - 1]


@dataclass(frozen=True, eq=False)
class _Coverage:
    """The y columns: offering, key and window hour of each, and its capacity weight."""

    column: IntArray
    offering: IntArray
    key: IntArray
    hour: IntArray
    weight: FloatArray


def add_purchase_variables(
    builder: LinearModelBuilder, offerings: Sequence[Offering], hours: Sequence[int], end: int
) -> _Purchases:
    """x[o,d] ≥ 0 for every offering and decision hour where its term fits, at its full price."""
    offering_of, hour_of, cost = [], [], []
    for o, offering in enumerate(offerings):
        fits = [d for d in hours if d + offering.term_hours <= end]
        offering_of.append(np.full(len(fits), o, dtype=np.intp))
        hour_of.append(np.array(fits, dtype=np.intp))
        cost.append(np.full(len(fits), offering.amortized_hourly * offering.term_hours))
    offering_idx = np.concatenate(offering_of)
    hour_idx = np.concatenate(hour_of)
    column = builder.add_variables("purchase", (offering_idx, hour_idx),
                                   cost=np.concatenate(cost))
    return _Purchases(column, offering_idx, hour_idx)


def add_segment_variables(
    builder: LinearModelBuilder, offerings: Sequence[Offering], purchases: _Purchases
) -> list[_Segments]:
    """z[o,s] ≥ 0, o's size on each segment between its decision hours and expiries."""
    segments = []
    for o, offering in enumerate(offerings):
        bought = purchases.hour[purchases.offering == o]
        bounds = np.unique(np.concatenate([bought, bought + offering.term_hours]))
        starts = bounds[:-1]
        column = builder.add_variables("size", (np.full(starts.size, o, dtype=np.intp), starts),
                                       cost=0.0)
        segments.append(_Segments(column, bounds))
    return segments


def add_tranche_constraints(
    builder: LinearModelBuilder, offerings: Sequence[Offering], purchases: _Purchases,
    segments: Sequence[_Segments],
) -> None:
    """z[o,s] ≤ Σ of o's tranches active at the segment's start."""
    rows, columns, values, labels_o, labels_t = [], [], [], [], []
    first = 0
    for o, offering in enumerate(offerings):
        starts = segments[o].bounds[:-1]
        mine = np.flatnonzero(purchases.offering == o)
        bought = purchases.hour[mine]
        # active[s, i]: tranche i is active at the start of segment s.
        active = (bought[None, :] <= starts[:, None]) & \
            (starts[:, None] < bought[None, :] + offering.term_hours)
        s, i = np.nonzero(active)
        rows += [np.arange(starts.size) + first, s + first]
        columns += [segments[o].column, purchases.column[mine[i]]]
        values += [np.ones(starts.size), np.full(s.size, -1.0)]
        labels_o.append(np.full(starts.size, o, dtype=np.intp))
        labels_t.append(starts)
        first += starts.size
    builder.add_constraints("tranches", (np.concatenate(labels_o), np.concatenate(labels_t)),
                            row=np.concatenate(rows), column=np.concatenate(columns),
                            coefficient=np.concatenate(values), upper=0.0)


def add_coverage_variables(
    builder: LinearModelBuilder, usage: FloatArray, rates: FloatArray,
    vectors: Sequence[tuple[IntArray, FloatArray]], segments: Sequence[_Segments],
) -> _Coverage:
    """y[o,k,h] in [0, u[h,k]] where o covers k, u[h,k] > 0 and o can be active in h."""
    parts: list[tuple[IntArray, IntArray, IntArray, FloatArray]] = []
    for o, (keys, weights) in enumerate(vectors):
        lo, hi = int(segments[o].bounds[0]), int(segments[o].bounds[-1])
        h, j = np.nonzero(usage[lo:hi, keys] > 0)
        parts.append((np.full(h.size, o, dtype=np.intp), keys[j], h + lo, weights[j]))
    offering = np.concatenate([p[0] for p in parts])
    key = np.concatenate([p[1] for p in parts])
    hour = np.concatenate([p[2] for p in parts])
    weight = np.concatenate([p[3] for p in parts])
    if offering.size == 0:
        return _Coverage(offering, offering, key, hour, weight)
    column = builder.add_variables("coverage", (offering, key, hour), cost=-rates[key],
                                   upper=usage[hour, key])
    return _Coverage(column, offering, key, hour, weight)


def add_usage_constraints(builder: LinearModelBuilder, coverage: _Coverage, usage: FloatArray,
                          n_offerings_per_key: IntArray) -> None:
    """Σ_o y[o,k,h] ≤ u[h,k] for the keys that more than one offering covers."""
    shared = np.flatnonzero(n_offerings_per_key[coverage.key] > 1)
    if shared.size == 0:
        return
    n_keys = usage.shape[1]
    cell, row = np.unique(coverage.hour[shared] * n_keys + coverage.key[shared],
                          return_inverse=True)
    hour, key = np.divmod(cell, n_keys)
    builder.add_constraints("usage", (key, hour), row=row.reshape(-1),
                            column=coverage.column[shared], coefficient=1.0,
                            upper=usage[hour, key])


def add_capacity_constraints(
    builder: LinearModelBuilder, coverage: _Coverage, segments: Sequence[_Segments],
    end: int,
) -> None:
    """Σ_k a[o,k] y[o,k,h] ≤ z[o,s(h)] for every offering and hour where o covers usage."""
    if coverage.column.size == 0:
        return
    cell, row = np.unique(coverage.offering * end + coverage.hour, return_inverse=True)
    offering, hour = np.divmod(cell, end)
    size = np.empty(cell.size, dtype=np.intp)
    for o, segment in enumerate(segments):
        mine = offering == o
        size[mine] = segment.of(hour[mine])
    builder.add_constraints(
        "capacity", (offering, hour),
        row=np.concatenate([row.reshape(-1), np.arange(cell.size)]),
        column=np.concatenate([coverage.column, size]),
        coefficient=np.concatenate([coverage.weight, np.full(cell.size, -1.0)]),
        upper=0.0,
    )


def _rank(offering: Offering) -> tuple[bool, int, str]:
    """Preference among offerings that do exactly the same: unit first (billed first), order, id."""
    return (offering.shape is not Shape.UNIT, offering.order, offering.offering_id)


def prune_dominated(offerings: Sequence[Offering], key_ids: Sequence[str]) -> tuple[Offering, ...]:
    """Drop the offerings that no optimum of the hindsight LP needs.

    Offering ``a`` dominates ``b`` when they have the same term, ``a`` covers every key
    ``b`` covers, and ``p[a] · λ ≤ p[b]`` with ``λ = max_k a[a,k] / a[b,k]`` over ``b``'s
    keys (``p`` amortized price, ``a`` capacity per unit of coverage). Replacing each
    tranche ``x[b,d]`` by ``λ · x[b,d]`` more of ``a`` at the same hour keeps every
    coverage feasible (``a[a,k] · y ≤ λ · a[b,k] · y``) over the same hours, at no more
    cost, so the LP's optimum is unchanged. Among offerings that dominate each other
    (the same price and coverage, e.g. a one-key Standard RI and the EC2 Instance
    Savings Plan at the same rate) the first by :func:`_rank` is kept. With real
    prices this drops the no-upfront twin of an all-upfront Savings Plan of the same
    term, which covers every key at a higher rate.
    """
    key_index = {k: i for i, k in enumerate(key_ids)}
    vectors = [dict(zip(*(v.tolist() for v in capacity_vector(o, key_index)), strict=True))
               for o in offerings]

    def covers_as_cheaply(a: int, b: int) -> bool:
        """Whether ``a`` can do all that ``b`` does at no more cost (weak dominance)."""
        if offerings[a].term_hours != offerings[b].term_hours \
                or not set(vectors[b]) <= set(vectors[a]):
            return False
        ratio = max(vectors[a][k] / vectors[b][k] for k in vectors[b])
        return offerings[a].amortized_hourly * ratio \
            <= offerings[b].amortized_hourly * (1 + DOMINANCE_RTOL)

    def dominated_by(a: int, b: int) -> bool:
        return covers_as_cheaply(a, b) and (
            not covers_as_cheaply(b, a) or _rank(offerings[a]) < _rank(offerings[b]))

    kept = [b for b in range(len(offerings))
            if not any(dominated_by(a, b) for a in range(len(offerings)) if a != b)]
    return tuple(offerings[b] for b in kept)


def build_oracle_model(
    trace: UsageTrace, catalog: Catalog, *, cadence_hours: int, warmup_hours: int,
    prune: bool = True,
) -> tuple[LinearProgram, _Purchases, tuple[Offering, ...]]:
    """Build the hindsight LP (pure): ``catalog`` is the replay's market (schedule.market).

    ``prune=False`` keeps dominated offerings (to check that pruning is exact).
    """
    usage = np.asarray(trace.units, dtype=np.float64)
    end = trace.hours
    rates = np.array([catalog.on_demand_rates()[k] for k in trace.key_ids])
    hours = decision_hours(end, catalog.offerings, cadence_hours=cadence_hours,
                           warmup_hours=warmup_hours, source=trace.source)
    candidates = buyable(catalog.offerings, hours[0], end)
    offerings = prune_dominated(candidates, trace.key_ids) if prune else candidates
    key_index = {k: i for i, k in enumerate(trace.key_ids)}
    vectors = [capacity_vector(o, key_index) for o in offerings]

    builder = LinearModelBuilder("hindsight")
    builder.offset = float((usage[warmup_hours:] @ rates).sum())
    purchases = add_purchase_variables(builder, offerings, hours, end)
    segments = add_segment_variables(builder, offerings, purchases)
    coverage = add_coverage_variables(builder, usage, rates, vectors, segments)
    per_key = np.zeros(len(trace.key_ids), dtype=np.intp)
    for keys, _ in vectors:
        per_key[keys] += 1
    add_usage_constraints(builder, coverage, usage, per_key)
    add_capacity_constraints(builder, coverage, segments, end)
    add_tranche_constraints(builder, offerings, purchases, segments)
    return builder.build(), purchases, offerings


def solve_oracle(
    trace: UsageTrace, catalog: Catalog, *, cadence_hours: int, warmup_hours: int,
    time_limit_s: float = 600.0, prune: bool = True,
) -> OracleSolution:
    """Solve the hindsight LP; raise :class:`core.errors.SolverError` unless it is optimal."""
    started = time.perf_counter()
    program, purchases, offerings = build_oracle_model(
        trace, catalog, cadence_hours=cadence_hours, warmup_hours=warmup_hours, prune=prune)
    model = to_highs(program)
    build_seconds = time.perf_counter() - started
    solved = solve_highs(model, time_limit_s=time_limit_s, options={"solver": SOLVER})
    x = solved.x[purchases.column]
    bought = [
        Purchase(int(d), offerings[int(o)].offering_id, float(q))
        for o, d, q in zip(purchases.offering.tolist(), purchases.hour.tolist(), x.tolist(),
                           strict=True)
        if q > HINDSIGHT_QUANTITY_TOLERANCE
    ]
    bought.sort(key=lambda p: (p.hour, p.offering_id))
    return OracleSolution(
        purchases=tuple(bought),
        lp_cost=solved.objective,
        status=solved.status,
        n_candidates=len(buyable(catalog.offerings, warmup_hours, trace.hours)),
        n_offerings=len(offerings),
        n_variables=program.n_variables,
        n_constraints=program.n_constraints,
        n_nonzeros=int(program.a_value.size),
        build_seconds=build_seconds,
        solve_seconds=solved.seconds,
    )
