"""The stochastic LP's formulation: one ``add_*`` function per family, and :func:`build_model`."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Literal

import highspy
import numpy as np
import numpy.typing as npt

from optimizer.linear_model import (
    INF,
    Backend,
    LinearModelBuilder,
    LinearProgram,
    PulpModel,
    to_solver,
)
from optimizer.reduction import KeyGroups, PooledCoverage, pool_coverage
from optimizer.representative import RepresentativeHours
from optimizer.stochastic import layout as reductions
from optimizer.stochastic.layout import Layout
from optimizer.stochastic.problem import StochasticProblem

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

# --- the formulation ------------------------------------------------------------------------
#
# Data: scenarios s with probability π[s] of usage u[s,h,k] over hours h ∈ [0, H); on-demand
# rate r[k]. Candidates o: term T[o], active for A[o] = min(T[o], H) hours from now, price per
# unit-hour p[o] = (U[o] (1 + i T[o]/2) / T[o] + hourly[o]) · m[o] (capital at the annual rate
# i on the upfront U, m[o] = g(A[o]) / g(T[o]) the term-aware factor of optimizer.risk). Owned
# commitments c: size q[c], active for L[c] hours, price p[c] computed the same way over L[c].
# Every commitment has a capacity vector a[c,k] (1 / covers[k] for a unit offering,
# rates[k] for a spend one); commitments with proportional vectors share a pattern P
# (a[c,·] = s[c] â[P,·]; optimizer.reduction), keys with equal rate and weights merge.
#
# Segments e = [b[e], b[e+1]) cut the horizon where a term ends or an owned commitment
# expires, so that every hour of a segment faces the same set of active commitments;
# representative hours g (optimizer.representative) stand for w[g] hours of their
# segment e(g), with the mean usage ū[s,g,j] of those hours. act(c, e) says whether c is
# active in segment e.
#
# Epochs t ∈ E: now (0) and the hours inside the horizon where an owned commitment expires
# or a term bought now ends (at most MAX_EPOCHS). x[o,0] is bought now; x[o,t], t > 0, is
# *planned* for that later run: not bought now, but it lets the LP cover a gap that opens
# at t by buying at t rather than today (which would pay for overlapping coverage before
# t). x[o,t] is active for [t, min(t + T[o], H)) and costs p[o] per hour of that; below,
# "x[o] active in e" ranges over every (o, t) active in segment e. Epochs are the runs every
# cadence_hours and the expiries. With recourse (the default) a planned purchase is one
# x[o,t,s] per scenario: a later run will have seen more of the usage, so it buys only in
# the scenarios that need it (wait and see) and today's purchase is what every scenario
# can use. Its cost C[s] = Σ p[o] (min(t + T[o], H) − t) x[o,t,s] enters scenario s's cost
# and loss: cost[s] and loss[s] below gain + C[s], the objective (1 − λ) Σ π[s] C[s], and
# the tail row of s − C[s]. (Each x[o,t,s] knows scenario s's whole path from t on: an
# optimistic view of later runs, the usual two-stage approximation of a multi-stage one.)
# An offering that leaves the menu at hour ℓ[o] (last_purchase) has no x[o,t] for t > ℓ[o].
#
# Variables: x[o,t] ≥ 0 bought or planned; ρ[c] ∈ [0, q[c]] returned (spend c in its return window);
# ε[c,d] ≥ 0 units of convertible c given up for target d and ζ[c,d] ≥ 0 units of d received
# (same expiry as c); y[s,g,P,j] ∈ [0, ū[s,g,j]] coverage; η free, ξ[s] ≥ 0 (CVaR).
#
#   C        = Σ_{o,t} p[o] (min(t + T[o], H) − t) x[o,t] − Σ_c p[c] L'[c] ρ[c]
#              + Σ_{c,d} (p[d] ζ[c,d] − p[c] ε[c,d]) L'[c]      (L'[c] = min(L[c], H)),
#              the commitment cost decided now and planned;
#   V[s]     = Σ_g w[g] Σ_j r[j] ū[s,g,j], scenario s's on-demand equivalent (a constant);
#   cov[s]   = Σ_g w[g] Σ_{P,j} r[j] y[s,g,P,j], the on-demand dollars covered in s;
#   cost[s]  = K + C + V[s] − cov[s]   (K: the owned commitments' amortized cost, sunk);
#   loss[s]  = cost[s] − V[s] = K + C − cov[s], what the portfolio loses against on-demand.
#
# The bad outcome of a commitment is waste when usage falls, so risk is measured on the
# loss, not the cost (whose tail is the busy scenarios, where committing more *helps*):
#
#   minimise   (1 − λ) Σ_s π[s] cost[s] + λ (Σ_s π[s] V[s] + CVaR_α(loss))
#            = K + Σ π V + C − (1 − λ) Σ_s π[s] cov[s] + λ (η + Σ_s π[s] ξ[s] / (1 − α))
#   subject to Σ_P y[s,g,P,j] ≤ ū[s,g,j]                                         (usage)
#              Σ_j â[P,j] y[s,g,P,j] − Σ_{o∈P, act(o,e)} x[o]/s[o] + Σ_{c∈P, act} ρ[c]/s[c]
#                  + Σ_{c∈P, act} ε[c,d]/s[c] − Σ_{d∈P, c act} ζ[c,d]/s[d] ≤ Q[e(g),P]  (capacity)
#              ξ[s] + η + cov[s] ≥ 0                                                (tail)
#              a[c] ε[c,d] − a[d] ζ[c,d] ≤ 0      (value: the new worth at least the old)
#              Σ_d ε[c,d] ≤ q[c]                                              (exchangeable)
#              Σ_o amortized[o] x[o,t] ≤ max_new_hourly,  Σ_o U[o] x[o,t] ≤ max_upfront
#                                                                          (caps, per epoch t)
#              C + η + Σ_s π[s] ξ[s] / (1 − α) ≤ cvar_bound − K                  (risk bound)
#              Σ_s π Σ_g w Σ_j â[P,j] y[s,g,P,j] − u Σ_{(o,t)∈P} (end − start) x[o,t]/s[o]
#                  + v[P] ≥ u Σ_e len(e) Q[e,P]              (utilisation floor u, soft)
#
# Two terms of the policy that no bill charges (add_policy_terms) join the objective:
#
# Switching (φ = switching_cost) adds φ (Σ_c p[c] L'[c] ρ[c] + Σ_{c,d} p[c] ε[c,d] L'[c]):
# a return or exchange must save more than φ of the owned value it moves, or the portfolio
# stays as it is (hysteresis; without it keeping a Savings Plan and returning it to buy the
# same again tie, and runs can move a commitment back and forth).
#
# Waste aversion (κ = waste_weight > 0) adds κ E[W] to the objective, W[s] = C + C[s] −
# Σ_g w[g] Σ_{P,j} p̂[P] â[P,j] y[s,g,P,j]: the commitment decided, less its used part valued
# at p̂[P], the cheapest price per unit-hour of pattern P: the idle commitment dollars. A unit
# bought now at c per hour that saves r when used, in a share q of the hours, pays only if
# q r ≥ c + κ c (1 − q), i.e. q ≥ (1 + κ) c / (r + κ c): at κ = 1 and a 40% discount it must
# be used 75% of the hours, not 60%. The forecasts are too sure of the usage they were fitted
# on (the ESR-optimal portfolio of the scenarios leaves more of the commitment idle than the
# hindsight optimum: benchmarks/README.md, "The waste weight"), so the term trades a little
# expected ESR for much less waste.
#
# with Q[e,P] = Σ_{owned c ∈ P active in e} q[c] / s[c] and a[c] the amortized price of
# c's offering per unit-hour (AWS values an exchange at the remaining commitment; both
# sides share the expiry, so hours cancel). λ = cvar_weight, α = cvar_alpha; since K + C is
# the same in every scenario, CVaR_α(loss) = K + C + CVaR_α(−cov), whence the tail rows.
# With λ = 0 the objective is the expected cost; with identical scenarios it is their cost
# whatever λ. The tail rows and η, ξ exist only when λ > 0 or a bound is set. Coverage
# exists only where ū > 0 and P can have capacity in the segment. K + Σ π V is the offset.
#
# Dominated candidates are pruned among those with the same active length A[o] and the
# risk-adjusted prices (exact; skipped when a cap is set, as caps price what pruning
# does not see). With representative hours the optimum is a lower bound on the full
# hourly model's (optimizer.representative).


@dataclass(frozen=True, eq=False)
class Columns:
    """Decision columns of the model with what they refer to."""

    buy: IntArray              # columns of x, one per kept candidate and epoch
    kept: IntArray             # candidate index of each x
    start: IntArray            # epoch (hour) of each x: 0 now, > 0 planned
    end: IntArray              # hour its term (or the horizon) ends
    scenario: IntArray         # the scenario of a planned x (recourse), -1: every scenario
    span_cost: FloatArray      # p[o] (end − start): its cost if bought
    ret: IntArray              # columns of ρ
    ret_owned: IntArray        # owned index of each ρ
    give: IntArray             # columns of ε
    receive: IntArray          # columns of ζ
    pair_owned: IntArray       # owned index of each exchange pair
    pair_target: IntArray      # candidate index of each pair's target
    eta: int                   # column of η (-1: none)
    xi: IntArray               # columns of ξ

    @property
    def decided(self) -> IntArray:
        """The columns of C decided now, the same in every scenario: purchases made now,
        returns, exchanges (given up and received)."""
        return np.concatenate([self.buy[self.scenario < 0], self.ret, self.give,
                               self.receive])


@dataclass(frozen=True, eq=False)
class StochasticModel:
    """A built stochastic LP, ready for :func:`solve`, with what it was built from."""

    problem: StochasticProblem
    program: LinearProgram
    backend: Literal["pulp", "highs"]
    solver_model: highspy.HighsLp | PulpModel
    columns: Columns
    coverage: Coverage
    representative: RepresentativeHours
    bounds: IntArray
    key_groups: KeyGroups
    prices: FloatArray           # (n_candidates,) risk-adjusted price per unit-hour
    active: IntArray             # (n_candidates,) hours active within the horizon
    owned_prices: FloatArray     # (n_owned,) risk-adjusted price per unit-hour
    owned_cost: float            # amortized cost of the owned commitments over the horizon
    true_cost: FloatArray        # the objective's coefficients as billed (no policy terms)
    idle_values: Mapping[str, float]  # κ p̂ per own unit-hour used, by offering id (waste term)
    build_seconds: float
    exact: bool                  # every hour kept: the full hourly model
    pooled: PooledCoverage       # the patterns whose coverage is held per class of keys

    @property
    def n_variables(self) -> int:
        """Columns of the LP."""
        return self.program.n_variables

    @property
    def n_constraints(self) -> int:
        """Rows of the LP."""
        return self.program.n_constraints


def add_buy_variables(builder: LinearModelBuilder, problem: StochasticProblem, kept: IntArray,
                      epochs: IntArray, prices: FloatArray
                      ) -> tuple[IntArray, IntArray, IntArray, IntArray, IntArray, FloatArray]:
    """x[o,t] ≥ 0 for each kept candidate and epoch t (now: t = 0), at its risk-adjusted
    price over the hours it is active inside the horizon, ``[t, min(t + T[o], H))``; with
    recourse, one x[o,t,s] per scenario for t > 0, charged (1 − λ) π[s] of that.

    Returns the columns and, per column, the candidate, its start, its end, its scenario
    (-1: all) and its cost if bought.
    """
    empty = np.zeros(0, dtype=np.intp)
    if kept.size == 0:
        return empty, empty, empty, empty, empty, np.zeros(0)
    policy = problem.policy
    terms = np.array([problem.candidates[o].term_hours for o in kept.tolist()], dtype=np.intp)
    later = epochs[epochs > 0]
    n_scen = problem.scenarios.n_scenarios
    if policy.recourse and later.size:
        shared = np.zeros(1, dtype=np.intp)
        offering = np.concatenate([kept, np.tile(kept, later.size * n_scen)])
        start = np.concatenate([np.zeros(kept.size, dtype=np.intp),
                                np.repeat(np.tile(later, n_scen), kept.size)])
        scenario = np.concatenate([np.full(kept.size, -1, dtype=np.intp),
                                   np.repeat(np.arange(n_scen), later.size * kept.size)])
        term = np.tile(terms, 1 + later.size * n_scen)
    else:
        shared = epochs
        offering = np.tile(kept, shared.size)
        start = np.repeat(shared, kept.size)
        scenario = np.full(offering.size, -1, dtype=np.intp)
        term = np.tile(terms, shared.size)
    if problem.last_purchase:
        # A planned purchase after the offering leaves the menu is one no later run can make.
        last = np.array([problem.last_purchase.get(c.offering_id, problem.horizon)
                         for c in problem.candidates], dtype=np.intp)
        on_menu = start <= last[offering]
        offering, start, scenario, term = (offering[on_menu], start[on_menu],
                                           scenario[on_menu], term[on_menu])
    end = np.minimum(start + term, problem.horizon)
    span_cost = prices[offering] * (end - start)
    weight = np.where(scenario >= 0, (1.0 - policy.cvar_weight)
                      * problem.scenarios.probabilities[np.maximum(scenario, 0)], 1.0)
    columns = builder.add_variables("buy", (offering, start, scenario), cost=span_cost * weight)
    return columns, offering, start, end, scenario, span_cost


def add_return_variables(builder: LinearModelBuilder, problem: StochasticProblem,
                         returnable: IntArray, owned_prices: FloatArray) -> IntArray:
    """ρ[c] ∈ [0, q[c]] for each returnable spend commitment, saving its remaining cost."""
    if returnable.size == 0:
        return np.zeros(0, dtype=np.intp)
    horizon = problem.horizon
    left = np.array([min(problem.owned[c].hours_left, horizon) for c in returnable.tolist()])
    upper = np.array([problem.owned[c].quantity for c in returnable.tolist()])
    return builder.add_variables("return", (returnable,), cost=-owned_prices[returnable] * left,
                                 upper=upper)


def add_exchange_variables(
    builder: LinearModelBuilder, problem: StochasticProblem, pair_owned: IntArray,
    pair_target: IntArray, owned_prices: FloatArray,
) -> tuple[IntArray, IntArray]:
    """ε[c,t] (given up) and ζ[c,t] (received), at the prices of the remaining hours of c."""
    if pair_owned.size == 0:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty
    left = np.array([min(problem.owned[c].hours_left, problem.horizon)
                     for c in pair_owned.tolist()], dtype=np.float64)
    upper = np.array([problem.owned[c].quantity for c in pair_owned.tolist()])
    give = builder.add_variables("give", (pair_owned, pair_target),
                                 cost=-owned_prices[pair_owned] * left, upper=upper)
    # The target's price over the source's remaining hours, scaled like the source's.
    target_prices = np.array([
        problem.price(problem.candidates[t], problem.owned[c].hours_left)
        for c, t in zip(pair_owned.tolist(), pair_target.tolist(), strict=True)])
    receive = builder.add_variables("receive", (pair_owned, pair_target),
                                    cost=target_prices * left)
    return give, receive


@dataclass(frozen=True, eq=False)
class Coverage:
    """The y columns: scenario, representative hour g, pattern and merged key of each,
    ``value`` = w[g] r[j], the on-demand dollars one unit of it saves over the horizon, and
    ``use`` = â[P,j], the pattern capacity one unit of it takes. A pooled column z (one per
    class of keys: :func:`optimizer.reduction.pool_coverage`) has ``key`` -1, its class in
    ``klass`` (-1 for the others), ``value`` = w[g] ρ[c] and ``use`` 1: it is in capacity
    units already."""

    column: IntArray
    scenario: IntArray
    hour: IntArray
    pattern: IntArray
    key: IntArray
    value: FloatArray
    use: FloatArray
    klass: IntArray


def _pattern_active(layout: Layout, problem: StochasticProblem, columns: Columns,
                    pair_target: IntArray, pair_owned: IntArray) -> npt.NDArray[np.bool_]:
    """(E, P) whether pattern P can have capacity in segment e."""
    n_segments = layout.bounds.size - 1
    starts = layout.bounds[:-1]
    can = layout.capacity > 0
    for o, first, last in zip(columns.kept.tolist(), columns.start.tolist(),
                              columns.end.tolist(), strict=True):
        p = int(layout.pattern_of[o])
        if p >= 0:
            can[:, p] |= (starts >= first) & (starts < last)
    for c, t in zip(pair_owned.tolist(), pair_target.tolist(), strict=True):
        p = int(layout.pattern_of[t])
        if p >= 0:
            can[:, p] |= starts < problem.owned[c].hours_left
    assert can.shape[0] == n_segments
    return can


def pooled_room(layout: Layout, pooled: PooledCoverage) -> FloatArray:
    """(C, S, G) Σ_{j∈c} â[P,j] ū[s,g,j]: the capacity class c's usage could take."""
    usage = layout.rep.usage
    room = np.zeros((pooled.n_classes, *usage.shape[:2]))
    for c, keys in enumerate(pooled.keys):
        room[c] = usage[:, :, keys] @ layout.weights[int(pooled.pattern[c]), keys]
    return room


def add_coverage_variables(builder: LinearModelBuilder, layout: Layout,
                           can: npt.NDArray[np.bool_], probabilities: FloatArray,
                           risk_weight: float, pooled: PooledCoverage) -> Coverage:
    """y[s,g,P,j] ∈ [0, ū] where key j has usage and pattern P can have capacity; for a pooled
    pattern, z[s,g,c] ∈ [0, Σ_{j∈c} â[P,j] ū[s,g,j]] per class c of its keys instead."""
    rep = layout.rep
    parts = []
    for p in np.flatnonzero(~pooled.pooled).tolist():
        keys = np.flatnonzero(layout.weights[p] > 0)
        live = can[rep.segment, p]  # (G,)
        si, gi, ji = np.nonzero((rep.usage[:, :, keys] > 0) & live[None, :, None])
        parts.append((si, gi, np.full(si.size, p, dtype=np.intp), keys[ji]))
    empty = np.zeros(0, dtype=np.intp)
    s, g, pat, j = (np.concatenate([part[i] for part in parts]).astype(np.intp) if parts
                    else empty for i in range(4))
    value = rep.weight[g] * layout.rates[j]
    column = builder.add_variables("coverage", (s, rep.hour[g], pat, layout.key_groups.first[j]),
                                   cost=-(1.0 - risk_weight) * probabilities[s] * value,
                                   upper=rep.usage[s, g, j])
    coverage = Coverage(column, s, g, pat, j, value, layout.weights[pat, j],
                        np.full(s.size, -1, dtype=np.intp))
    if pooled.n_classes == 0:
        return coverage
    pooled_parts = []
    room = pooled_room(layout, pooled)
    for c in range(pooled.n_classes):
        p = int(pooled.pattern[c])
        si, gi = np.nonzero((room[c] > 0) & can[rep.segment, p][None, :])
        pooled_parts.append((si, gi, np.full(si.size, c, dtype=np.intp), room[c, si, gi]))
    ps, pg, pc, upper = (np.concatenate([part[i] for part in pooled_parts])
                         for i in range(4))
    ps, pg, pc = ps.astype(np.intp), pg.astype(np.intp), pc.astype(np.intp)
    pp = pooled.pattern[pc]
    first_key = np.array([int(k[0]) for k in pooled.keys], dtype=np.intp)[pc]
    pooled_value = rep.weight[pg] * pooled.value[pc]
    pooled_column = builder.add_variables(
        "pooled_coverage", (ps, rep.hour[pg], pp, layout.key_groups.first[first_key]),
        cost=-(1.0 - risk_weight) * probabilities[ps] * pooled_value, upper=upper)
    return Coverage(
        np.concatenate([coverage.column, pooled_column]), np.concatenate([s, ps]),
        np.concatenate([g, pg]), np.concatenate([pat, pp]),
        np.concatenate([j, np.full(ps.size, -1, dtype=np.intp)]),
        np.concatenate([value, pooled_value]), np.concatenate([coverage.use, np.ones(ps.size)]),
        np.concatenate([coverage.klass, pc]))


def add_usage_constraints(builder: LinearModelBuilder, layout: Layout, coverage: Coverage,
                          pooled: PooledCoverage) -> None:
    """Σ_P y[s,g,P,j] ≤ ū[s,g,j] for the keys two or more patterns not pooled cover; and per
    pooled column z[s,g,c], z + Σ_{j∈c} â[P,j] Σ_Q y[s,g,Q,j] ≤ Σ_{j∈c} â[P,j] ū[s,g,j]
    (:func:`optimizer.reduction.pool_coverage`)."""
    rep = layout.rep
    n_keys, n_hours = layout.rates.size, rep.n_hours
    per_key = layout.weights[~pooled.pooled] > 0
    shared = np.flatnonzero(per_key.sum(axis=0) > 1)
    mine = np.flatnonzero(np.isin(coverage.key, shared))
    if mine.size:
        cell, row = np.unique((coverage.scenario[mine] * n_hours + coverage.hour[mine])
                              * n_keys + coverage.key[mine], return_inverse=True)
        rest, j = np.divmod(cell, n_keys)
        s, g = np.divmod(rest, n_hours)
        builder.add_constraints("usage", (s, rep.hour[g], layout.key_groups.first[j]),
                                row=row.reshape(-1), column=coverage.column[mine],
                                coefficient=1.0, upper=rep.usage[s, g, j])
    z = np.flatnonzero(coverage.klass >= 0)
    if z.size == 0:
        return
    n_classes = pooled.n_classes
    cells = (coverage.scenario[z] * n_hours + coverage.hour[z]) * n_classes + coverage.klass[z]
    order = np.argsort(cells)
    cells = cells[order]
    # The per-key columns of the keys of a pooled class, where that class has a z column.
    others = np.flatnonzero(coverage.key >= 0)
    others = others[pooled.class_of[coverage.key[others]] >= 0]
    klass = pooled.class_of[coverage.key[others]]
    their = (coverage.scenario[others] * n_hours + coverage.hour[others]) * n_classes + klass
    at = np.minimum(np.searchsorted(cells, their), cells.size - 1)
    found = cells[at] == their
    others, klass, at = others[found], klass[found], at[found]
    p = pooled.pattern[klass]
    rows = np.concatenate([np.arange(z.size), at])
    columns = np.concatenate([coverage.column[z][order], coverage.column[others]])
    weights = np.concatenate([np.ones(z.size), layout.weights[p, coverage.key[others]]])
    c = coverage.klass[z][order]
    upper = pooled_room(layout, pooled)[c, coverage.scenario[z][order], coverage.hour[z][order]]
    builder.add_constraints(
        "pooled_usage", (coverage.scenario[z][order], rep.hour[coverage.hour[z][order]],
                         pooled.pattern[c],
                         layout.key_groups.first[[int(pooled.keys[k][0]) for k in c.tolist()]]),
        row=rows, column=columns, coefficient=weights, upper=upper)


def add_capacity_constraints(
    builder: LinearModelBuilder, layout: Layout, coverage: Coverage, columns: Columns,
    problem: StochasticProblem,
) -> None:
    """Coverage within the capacity active in the hour's segment (see the formulation)."""
    if coverage.column.size == 0:
        return
    rep = layout.rep
    n_patterns, n_hours = layout.weights.shape[0], rep.n_hours
    cell, row = np.unique((coverage.scenario * n_hours + coverage.hour) * n_patterns
                          + coverage.pattern, return_inverse=True)
    rest, pattern = np.divmod(cell, n_patterns)
    scenario, hour = np.divmod(rest, n_hours)
    segment_start = layout.bounds[rep.segment[hour]]
    rows = [row.reshape(-1)]
    cols = [coverage.column]
    coefs = [coverage.use]
    n_cand = len(problem.candidates)

    def attach(column: int, offering_index: int, sign: float, hours_active: int,
               first: int = 0, only: int = -1) -> None:
        p = int(layout.pattern_of[offering_index])
        if p < 0:
            return
        mask = (pattern == p) & (segment_start >= first) & (segment_start < hours_active)
        if only >= 0:
            mask &= scenario == only
        where = np.flatnonzero(mask)
        rows.append(where)
        cols.append(np.full(where.size, column, dtype=np.intp))
        coefs.append(np.full(where.size, sign / layout.scale_of[offering_index]))

    for column, o, first, last, only in zip(
            columns.buy.tolist(), columns.kept.tolist(), columns.start.tolist(),
            columns.end.tolist(), columns.scenario.tolist(), strict=True):
        attach(column, o, -1.0, last, first, only)
    for column, c in zip(columns.ret.tolist(), columns.ret_owned.tolist(), strict=True):
        attach(column, n_cand + c, 1.0, problem.owned[c].hours_left)
    for give, receive, c, t in zip(columns.give.tolist(), columns.receive.tolist(),
                                   columns.pair_owned.tolist(), columns.pair_target.tolist(),
                                   strict=True):
        left = problem.owned[c].hours_left
        attach(give, n_cand + c, 1.0, left)
        attach(receive, t, -1.0, left)
    builder.add_constraints(
        "capacity", (scenario, rep.hour[hour], pattern),
        row=np.concatenate(rows), column=np.concatenate(cols), coefficient=np.concatenate(coefs),
        upper=layout.capacity[rep.segment[hour], pattern],
    )


def add_tail_constraints(builder: LinearModelBuilder, layout: Layout, coverage: Coverage,
                         columns: Columns) -> None:
    """ξ[s] + η + cov[s] − C[s] ≥ 0: ξ[s] is scenario s's loss above η (CVaR of the loss),
    C[s] the cost of the purchases planned in scenario s only."""
    if columns.eta < 0:
        return
    n_scen = columns.xi.size
    planned = np.flatnonzero(columns.scenario >= 0)
    rows = [np.arange(n_scen), np.arange(n_scen), coverage.scenario, columns.scenario[planned]]
    cols = [columns.xi, np.full(n_scen, columns.eta, dtype=np.intp), coverage.column,
            columns.buy[planned]]
    coefs = [np.ones(n_scen), np.ones(n_scen), coverage.value, -columns.span_cost[planned]]
    builder.add_constraints("tail", (np.arange(n_scen),), row=np.concatenate(rows),
                            column=np.concatenate(cols), coefficient=np.concatenate(coefs),
                            lower=0.0)


def add_exchange_constraints(builder: LinearModelBuilder, problem: StochasticProblem,
                             columns: Columns) -> None:
    """Value parity per pair, and no more given up than owned per commitment."""
    if columns.give.size == 0:
        return
    n = columns.give.size
    old = np.array([problem.owned[c].offering.amortized_hourly
                    for c in columns.pair_owned.tolist()])
    new = np.array([problem.candidates[t].amortized_hourly
                    for t in columns.pair_target.tolist()])
    builder.add_constraints("value", (columns.pair_owned, columns.pair_target),
                            row=np.concatenate([np.arange(n), np.arange(n)]),
                            column=np.concatenate([columns.give, columns.receive]),
                            coefficient=np.concatenate([old, -new]), upper=0.0)
    owners, row = np.unique(columns.pair_owned, return_inverse=True)
    upper = np.array([problem.owned[c].quantity for c in owners.tolist()])
    builder.add_constraints("exchangeable", (owners,), row=row.reshape(-1), column=columns.give,
                            coefficient=1.0, upper=upper)


def add_cap_constraints(builder: LinearModelBuilder, problem: StochasticProblem,
                        columns: Columns) -> None:
    """The policy's caps on new amortized $/h and on upfront cash, per run (per epoch)."""
    policy = problem.policy
    kept = columns.kept
    if kept.size == 0:
        return
    n_scen = problem.scenarios.n_scenarios
    cell, row = np.unique(columns.start * (n_scen + 1) + columns.scenario + 1,
                          return_inverse=True)
    epoch, scenario = np.divmod(cell, n_scen + 1)
    labels = (epoch, scenario - 1)
    row = row.reshape(-1)
    if policy.max_new_hourly is not None:
        hourly = np.array([problem.candidates[o].amortized_hourly for o in kept.tolist()])
        builder.add_constraints("max_new_hourly", labels, row=row, column=columns.buy,
                                coefficient=hourly, upper=policy.max_new_hourly)
    if policy.max_upfront is not None:
        upfront = np.array([problem.candidates[o].upfront for o in kept.tolist()])
        builder.add_constraints("max_upfront", labels, row=row, column=columns.buy,
                                coefficient=upfront, upper=policy.max_upfront)


POOL_THRESHOLD = 200_000
"""Models that would hold more coverage columns than this pool them
(:func:`optimizer.reduction.pool_coverage`); smaller ones keep one per key, as measured
on the backtest suite and the scale benchmark (500 keys: 141,855 variables)."""


UTILISATION_PENALTY = 10.0
"""A shortfall below the utilisation floor costs this many times the commitment's price."""


def add_utilisation_floor(builder: LinearModelBuilder, layout: Layout, coverage: Coverage,
                          columns: Columns, problem: StochasticProblem,
                          prices: FloatArray) -> None:
    """Expected utilisation of each pattern that can be bought ≥ the policy's floor (soft).

    Σ_s π Σ_g w Σ_j â y[s,g,P,j] − u Σ_{(o,t) ∈ P} (end − start) x[o,t] / s[o] + v[P]
    ≥ u Σ_e len(e) Q[e,P], with the shortfall v[P] ≥ 0 priced at UTILISATION_PENALTY
    times P's dearest price per pattern unit-hour: the floor holds unless the owned
    commitments alone already break it, and then new capacity must be used at least
    ``u`` at the margin.
    """
    floor = problem.policy.min_utilisation
    if floor is None or columns.buy.size == 0:
        return
    buy_pattern = layout.pattern_of[columns.kept]
    patterns = np.unique(buy_pattern[buy_pattern >= 0])
    if patterns.size == 0:
        return
    scale = layout.scale_of[columns.kept]
    penalty = np.array([UTILISATION_PENALTY * float(np.max(
        (prices[columns.kept] * scale)[buy_pattern == p])) for p in patterns.tolist()])
    slack = builder.add_variables("shortfall", (patterns,), cost=penalty)
    row_of = np.full(layout.weights.shape[0], -1, dtype=np.intp)
    row_of[patterns] = np.arange(patterns.size)
    probabilities = problem.scenarios.probabilities
    rep = layout.rep
    on_cov = np.flatnonzero(row_of[coverage.pattern] >= 0)
    on_buy = np.flatnonzero(buy_pattern >= 0)
    lengths = np.diff(layout.bounds).astype(np.float64)
    lower = floor * (lengths @ layout.capacity[:, patterns])
    builder.add_constraints(
        "utilisation", (patterns,),
        row=np.concatenate([row_of[coverage.pattern[on_cov]], row_of[buy_pattern[on_buy]],
                            np.arange(patterns.size)]),
        column=np.concatenate([coverage.column[on_cov], columns.buy[on_buy], slack]),
        coefficient=np.concatenate([
            probabilities[coverage.scenario[on_cov]] * rep.weight[coverage.hour[on_cov]]
            * coverage.use[on_cov],
            -floor * (columns.end - columns.start)[on_buy] / scale[on_buy]
            * np.where(columns.scenario[on_buy] >= 0,
                       probabilities[np.maximum(columns.scenario[on_buy], 0)], 1.0),
            np.ones(patterns.size)]),
        lower=lower,
    )


def add_risk_bound(builder: LinearModelBuilder, problem: StochasticProblem, columns: Columns,
                   commitment_cost: FloatArray, owned_cost: float) -> None:
    """CVaR_α(loss) = K + C + CVaR_α(−cov) ≤ cvar_bound, when the policy sets a bound."""
    policy = problem.policy
    if policy.cvar_bound is None or columns.eta < 0:
        return
    decided = columns.decided
    probabilities = problem.scenarios.probabilities
    cols = np.concatenate([decided, [columns.eta], columns.xi]).astype(np.intp)
    coefs = np.concatenate([commitment_cost[decided], [1.0],
                            probabilities / (1.0 - policy.cvar_alpha)])
    builder.add_constraints("cvar_bound", (np.zeros(1, dtype=np.intp),),
                            row=np.zeros(cols.size, dtype=np.intp), column=cols,
                            coefficient=coefs, upper=policy.cvar_bound - owned_cost)


def _idle_prices(layout: Layout, kept: IntArray, targets: IntArray, prices: FloatArray,
                 owned_prices: FloatArray) -> FloatArray:
    """(P,) p̂[P]: what an idle pattern unit-hour is valued at in the waste term, the
    cheapest risk-adjusted price of one among the kept candidates and exchange targets of
    the pattern, or among its owned commitments where nothing of it can be bought.

    The cheapest, so that a fully used commitment is never rewarded by the term:
    κ (p[o] − p̂[P]) ≥ 0 per unit-hour.
    """
    n_cand = prices.size
    best = np.full(layout.weights.shape[0], np.inf)
    for o in np.concatenate([kept, targets]).tolist():
        p = int(layout.pattern_of[o])
        if p >= 0:
            best[p] = min(best[p], prices[o] * layout.scale_of[o])
    owned_best = np.full_like(best, np.inf)
    for c, price in enumerate(owned_prices.tolist()):
        p = int(layout.pattern_of[n_cand + c])
        if p >= 0:
            owned_best[p] = min(owned_best[p], price * layout.scale_of[n_cand + c])
    best = np.where(np.isfinite(best), best, owned_best)
    return np.where(np.isfinite(best), best, 0.0)


def add_policy_terms(program: LinearProgram, problem: StochasticProblem, layout: Layout,
                     coverage: Coverage, columns: Columns, idle_prices: FloatArray | None
                     ) -> LinearProgram:
    """The program with the policy's terms that are not money billed added to its
    objective: the switching hurdle φ on what returns and exchanges give up, and κ E[W]
    (κ = waste_weight; ``idle_prices`` p̂, needed when κ > 0).

    φ: a return or give-up column saves (1 − φ) of its price. κ E[W], with
    W = C − Σ_g w[g] Σ_{P,j} p̂[P] â[P,j] y[s,g,P,j], the commitment decided now and
    planned less the part of the capacity used, valued at p̂[P]: idle commitment dollars
    (the owned commitments' sunk cost K is left out, as it does not depend on x). Every
    commitment column's cost is multiplied by 1 + κ (a planned one's by π[s] more) and
    every coverage column earns κ π[s] w[g] p̂[P] â[P,j] more. The billed costs stay in
    ``StochasticModel.true_cost``.
    """
    policy = problem.policy
    billed = program.cost
    cost = billed.copy()
    for family in (columns.ret, columns.give):
        cost[family] -= policy.switching_cost * billed[family]
    weight = policy.waste_weight
    if weight > 0:
        assert idle_prices is not None
        probabilities = problem.scenarios.probabilities
        share = np.where(columns.scenario >= 0,
                         probabilities[np.maximum(columns.scenario, 0)], 1.0)
        cost[columns.buy] += weight * columns.span_cost * share
        for family in (columns.ret, columns.give, columns.receive):
            cost[family] += weight * billed[family]
        rep = layout.rep
        cost[coverage.column] -= (weight * probabilities[coverage.scenario]
                                  * rep.weight[coverage.hour] * idle_prices[coverage.pattern]
                                  * coverage.use)
    return replace(program, cost=cost)


def _idle_unit_values(problem: StochasticProblem, layout: Layout,
                      idle_prices: FloatArray) -> dict[str, float]:
    """κ p̂[P] / s[o] by offering id: what one own unit-hour of an offering earns in the waste
    term when used (a billed portfolio's ``used`` is in own units;
    :func:`optimizer.stochastic.solution.objective_at`)."""
    offerings = (*problem.candidates, *(c.offering for c in problem.owned))
    values: dict[str, float] = {}
    for index, offering in enumerate(offerings):
        p = int(layout.pattern_of[index])
        if p >= 0:
            values[offering.offering_id] = (problem.policy.waste_weight * idle_prices[p]
                                            / layout.scale_of[index])
    return values


def per_key_coverage(layout: Layout, can: npt.NDArray[np.bool_]) -> int:
    """How many coverage columns the model holds with no pattern pooled."""
    rep = layout.rep
    count = 0
    for p in range(layout.weights.shape[0]):
        keys = np.flatnonzero(layout.weights[p] > 0)
        live = can[rep.segment, p]
        count += int(np.count_nonzero(rep.usage[:, live][:, :, keys] > 0))
    return count


def build_model(problem: StochasticProblem, *, backend: Backend = "auto",
                pool: bool | None = None) -> StochasticModel:
    """Build the stochastic LP (pure: no solving). ``backend="auto"`` picks by size.

    ``pool``: hold the coverage of the patterns :func:`optimizer.reduction.pool_coverage`
    pools per class of keys rather than per key (exact; ``None``: when the model would
    otherwise hold more than :data:`POOL_THRESHOLD` coverage columns, so that small models
    are built as they always were).
    """
    started = time.perf_counter()
    horizon = problem.horizon
    policy = problem.policy
    active = np.array([min(o.term_hours, horizon) for o in problem.candidates], dtype=np.intp)
    prices = np.array([problem.price(o, o.term_hours) for o in problem.candidates])
    owned_prices = np.array([problem.price(c.offering, max(c.hours_left, 1))
                             for c in problem.owned])
    owned_cost = float(sum(c.offering.amortized_hourly * c.quantity * min(c.hours_left, horizon)
                           for c in problem.owned))
    kept = reductions.kept_candidates(problem, prices, active)
    pair_owned, pair_target = reductions.exchange_pairs(problem)
    returnable = reductions.returnable_owned(problem)
    layout = reductions.build_layout(problem, kept, active, pair_target)
    risk_weight = policy.cvar_weight
    with_tail = risk_weight > 0 or policy.cvar_bound is not None

    builder = LinearModelBuilder("stochastic")
    probabilities = problem.scenarios.probabilities
    builder.offset = owned_cost + float(probabilities @ layout.offset_usage)
    buy, buy_offering, buy_start, buy_end, buy_scenario, span_cost = add_buy_variables(
        builder, problem, kept, layout.epochs, prices)
    ret = add_return_variables(builder, problem, returnable, owned_prices)
    give, receive = add_exchange_variables(builder, problem, pair_owned, pair_target,
                                           owned_prices)
    eta, xi = -1, np.zeros(0, dtype=np.intp)
    if with_tail:
        eta = int(builder.add_variables("eta", (), cost=risk_weight, lower=-INF)[0])
        xi = builder.add_variables("xi", (np.arange(problem.scenarios.n_scenarios),),
                                   cost=risk_weight * probabilities / (1.0 - policy.cvar_alpha))
    columns = Columns(buy, buy_offering, buy_start, buy_end, buy_scenario, span_cost, ret,
                      returnable, give, receive, pair_owned, pair_target, eta, xi)
    can = _pattern_active(layout, problem, columns, pair_target, pair_owned)
    n_patterns, n_keys = layout.weights.shape
    if pool is None:
        pool = per_key_coverage(layout, can) > POOL_THRESHOLD
    pooled = pool_coverage(layout.weights, layout.rates) if pool else \
        PooledCoverage.none(n_patterns, n_keys)
    coverage = add_coverage_variables(builder, layout, can, probabilities, risk_weight, pooled)
    add_usage_constraints(builder, layout, coverage, pooled)
    add_capacity_constraints(builder, layout, coverage, columns, problem)
    add_tail_constraints(builder, layout, coverage, columns)
    add_exchange_constraints(builder, problem, columns)
    add_cap_constraints(builder, problem, columns)
    add_utilisation_floor(builder, layout, coverage, columns, problem, prices)
    commitment_cost = builder.cost_vector()
    add_risk_bound(builder, problem, columns, commitment_cost, owned_cost)
    program = builder.build()
    true_cost = program.cost
    idle: FloatArray | None = None
    idle_values: dict[str, float] = {}
    if policy.waste_weight > 0:
        idle = _idle_prices(layout, kept, pair_target, prices, owned_prices)
        idle_values = _idle_unit_values(problem, layout, idle)
    if policy.waste_weight > 0 or policy.switching_cost > 0:
        program = add_policy_terms(program, problem, layout, coverage, columns, idle)

    chosen, solver_model = to_solver(program, backend)
    return StochasticModel(
        problem=problem, program=program, backend=chosen, solver_model=solver_model,
        columns=columns, coverage=coverage, representative=layout.rep, bounds=layout.bounds,
        key_groups=layout.key_groups, prices=prices, active=active, owned_prices=owned_prices,
        owned_cost=owned_cost, true_cost=true_cost, idle_values=MappingProxyType(idle_values),
        build_seconds=time.perf_counter() - started,
        exact=layout.rep.n_hours == horizon, pooled=pooled,
    )


