"""The stochastic LP solved scenario by scenario: Benders' L-shaped method, for large models.

A fleet of many pools makes an LP that HiGHS does not solve whole in minutes (200 merged
keys, 84 pool-level offerings and a Compute Savings Plan, 8 scenarios × 240 hours:
``benchmarks/README.md``, "Fleet planning"). Its structure is a two-stage one: what is
decided now (purchases now, returns, exchanges) and the CVaR level η are shared; every
other column (coverage, purchases planned in one scenario, ξ[s]) belongs to one scenario,
and every row holds columns of at most one scenario. Given the shared columns the LP
separates into one LP per scenario.

Write the LP as ``min c x + Σ_s c_s y_s`` over the shared columns ``x`` (with their own
rows) and each scenario's ``y_s``, subject to ``lo_s ≤ A_s y_s + B_s x ≤ up_s``. With
``Q_s(x) = min {c_s y_s : lo_s − B_s x ≤ A_s y_s ≤ up_s − B_s x, bounds}``, a convex
piecewise-linear function of ``x``, the LP is ``min c x + Σ_s Q_s(x)``. The *master*

    min c x + Σ_s θ_s   s.t. the rows of x alone,  θ_s ≥ L_s,
                             θ_s ≥ Q_s(x̂_i) − π_i,s^T B_s (x − x̂_i)   (one cut per iterate i)

relaxes it (``π_i,s`` are the row duals of scenario s's LP at ``x̂_i``: ``−B_s^T π`` is a
subgradient of ``Q_s``; ``L_s`` the sum of each column's cheapest bound, a floor under any
``Q_s``), so its optimum is a **lower bound** on the LP's; and any ``x̂`` with its
scenario LPs solved is a feasible point, whose cost ``c x̂ + Σ_s Q_s(x̂)`` is an upper
bound. Each iteration solves the master, then the scenario LPs at its ``x̂`` (warm
started: only their row bounds move), and adds the cuts. It stops when the bounds are
within ``tolerance`` of each other (relative), or at the time limit with the bounds it has.

Every scenario LP is feasible for any ``x`` the master can choose (coverage 0 is: the
recourse is complete), so no feasibility cut is needed. η is free in the LP; the master
bounds it below by ``−max_s Σ value × upper`` of scenario s's coverage (the optimal η is
a quantile of ``C[s] − cov[s]``, which is no lower), or its first iterate would be
unbounded. Rows that hold two scenarios' columns (the utilisation floor, a CVaR bound)
make the LP indecomposable: :func:`split_by_scenario` returns ``None`` and the caller
solves it whole.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np
import numpy.typing as npt
from scipy import sparse

from core.errors import SolverError
from optimizer.linear_model import LinearProgram
from optimizer.stochastic.model import StochasticModel

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

TOLERANCE = 1e-4
"""Stop when the upper and lower bounds are within this share of the upper one."""
MAX_ITERATIONS = 500


@dataclass(frozen=True, eq=False)
class Split:
    """Columns and rows of the shared part (``master_*``) and of each scenario."""

    master_columns: IntArray
    master_rows: IntArray
    scenario_columns: tuple[IntArray, ...]
    scenario_rows: tuple[IntArray, ...]


@dataclass(frozen=True, eq=False)
class Decomposed:
    """What the decomposition found: the LP point of its best iterate, its cost (an upper
    bound on the LP's optimum), the master's optimum (a lower bound), and its run."""

    x: FloatArray
    upper: float
    lower: float
    iterations: int
    seconds: float
    converged: bool

    @property
    def gap(self) -> float:
        """``(upper − lower) / |upper|``: how far the point's cost can be from the LP's optimum."""
        return (self.upper - self.lower) / abs(self.upper) if self.upper else 0.0


def column_scenarios(model: StochasticModel) -> IntArray:
    """The scenario each column belongs to (-1: shared, decided now or η)."""
    owner = np.full(model.n_variables, -1, dtype=np.intp)
    owner[model.coverage.column] = model.coverage.scenario
    planned = model.columns.scenario >= 0
    owner[model.columns.buy[planned]] = model.columns.scenario[planned]
    owner[model.columns.xi] = np.arange(model.columns.xi.size)
    return owner


def split_by_scenario(model: StochasticModel) -> Split | None:
    """The shared and per-scenario columns and rows; ``None`` when a row holds columns of
    two scenarios (the LP does not decompose)."""
    program = model.program
    owner = column_scenarios(model)
    n_scen = model.problem.scenarios.n_scenarios
    entry_owner = np.repeat(owner, np.diff(program.a_start))
    rows = program.a_index.astype(np.intp)
    low = np.full(program.n_constraints, n_scen, dtype=np.intp)
    high = np.full(program.n_constraints, -1, dtype=np.intp)
    mine = entry_owner >= 0
    np.minimum.at(low, rows[mine], entry_owner[mine])
    np.maximum.at(high, rows[mine], entry_owner[mine])
    if np.any((high >= 0) & (low != high)):
        return None
    return Split(
        master_columns=np.flatnonzero(owner < 0).astype(np.intp),
        master_rows=np.flatnonzero(high < 0).astype(np.intp),
        scenario_columns=tuple(np.flatnonzero(owner == s).astype(np.intp)
                               for s in range(n_scen)),
        scenario_rows=tuple(np.flatnonzero(high == s).astype(np.intp) for s in range(n_scen)),
    )


def _highs_bounds(values: FloatArray) -> FloatArray:
    return np.where(np.isposinf(values), highspy.kHighsInf,
                    np.where(np.isneginf(values), -highspy.kHighsInf, values))


def _lp(cost: FloatArray, col_lower: FloatArray, col_upper: FloatArray,
        row_lower: FloatArray, row_upper: FloatArray, matrix: sparse.csc_matrix) -> highspy.Highs:
    """A HiGHS instance holding ``min cost · x`` over those bounds and rows, not yet run."""
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = int(cost.size), int(row_lower.size)
    lp.col_cost_ = cost
    lp.col_lower_, lp.col_upper_ = _highs_bounds(col_lower), _highs_bounds(col_upper)
    lp.row_lower_, lp.row_upper_ = _highs_bounds(row_lower), _highs_bounds(row_upper)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = lp.num_col_, lp.num_row_
    lp.a_matrix_.start_ = matrix.indptr.astype(np.int32)
    lp.a_matrix_.index_ = matrix.indices.astype(np.int32)
    lp.a_matrix_.value_ = matrix.data.astype(np.float64)
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    if highs.passModel(lp) != highspy.HighsStatus.kOk:
        raise SolverError("HiGHS rejected a part of the decomposed LP")
    return highs


def _run(highs: highspy.Highs, what: str, seconds_left: float) -> None:
    highs.setOptionValue("time_limit", max(seconds_left, 1.0))
    highs.run()
    status = highs.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise SolverError(f"HiGHS did not prove an optimum for {what}: "
                          f"{highs.modelStatusToString(status)}")


def _run_master(master: highspy.Highs, seconds_left: float) -> bool:
    """Solve the master; once more from scratch when HiGHS reports no optimum (its cuts'
    coefficients span many orders of magnitude). ``False`` when that fails too."""
    for attempt in range(2):
        if attempt:
            master.clearSolver()
        master.setOptionValue("time_limit", max(seconds_left, 1.0))
        master.run()
        if master.getModelStatus() == highspy.HighsModelStatus.kOptimal:
            return True
    return False


@dataclass(eq=False)
class _Scenario:
    """One scenario's LP, its rows' bounds before the shared columns move them, and B_s."""

    highs: highspy.Highs
    row_lower: FloatArray
    row_upper: FloatArray
    coupling: sparse.csr_matrix  # B_s: (rows of s) × (shared columns)
    floor: float                 # L_s

    def solve(self, x: FloatArray, seconds_left: float, what: str) -> tuple[float, FloatArray,
                                                                          FloatArray]:
        """Q_s(x), a subgradient of Q_s at x, and the scenario's columns at its optimum."""
        shift = self.coupling @ x
        n_rows = self.row_lower.size
        self.highs.changeRowsBounds(  # type: ignore[attr-defined]
            n_rows, np.arange(n_rows, dtype=np.int32), _highs_bounds(self.row_lower - shift),
            _highs_bounds(self.row_upper - shift))
        _run(self.highs, what, seconds_left)
        solution = self.highs.getSolution()
        duals = np.asarray(solution.row_dual, dtype=np.float64)
        value = float(self.highs.getInfo().objective_function_value)
        return value, -(self.coupling.T @ duals), np.asarray(solution.col_value,
                                                             dtype=np.float64)


def _floor(program: LinearProgram, columns: IntArray) -> float:
    """Σ_j min(c_j l_j, c_j u_j, 0) over ``columns``: no point of theirs costs less."""
    cost = program.cost[columns]
    bound = np.where(cost < 0, program.col_upper[columns], program.col_lower[columns])
    if np.any(~np.isfinite(bound[cost != 0])):
        return -np.inf
    return float(np.sum(np.where(cost != 0, cost * np.nan_to_num(bound), 0.0)))


def solve_decomposed(model: StochasticModel, split: Split, *, time_limit_s: float,
                     tolerance: float = TOLERANCE) -> Decomposed:
    """Benders' L-shaped method on the model's LP (see the module docstring).

    Raises :class:`SolverError` when a part is not solved to optimality, when a scenario's
    LP has no finite floor (a column that could earn without bound), or when the time
    runs out before one iterate is priced.
    """
    started = time.perf_counter()
    program = model.program
    matrix = sparse.csc_matrix((program.a_value, program.a_index, program.a_start),
                               shape=(program.n_constraints, program.n_variables))
    by_row = matrix.tocsr()
    shared = split.master_columns
    n_scen = len(split.scenario_columns)
    col_lower = program.col_lower.copy()
    if model.columns.eta >= 0:
        coverage = model.coverage
        reach = np.zeros(n_scen)
        np.add.at(reach, coverage.scenario,
                  coverage.value * program.col_upper[coverage.column])
        col_lower[model.columns.eta] = -float(reach.max()) if reach.size else 0.0
    scenarios = []
    for s in range(n_scen):
        cols, rows = split.scenario_columns[s], split.scenario_rows[s]
        floor = _floor(program, cols)
        if not np.isfinite(floor):
            raise SolverError(f"scenario {s} of the decomposed LP has no finite floor")
        part = by_row[rows]
        scenarios.append(_Scenario(
            _lp(program.cost[cols], program.col_lower[cols], program.col_upper[cols],
                program.row_lower[rows], program.row_upper[rows], part[:, cols].tocsc()),
            program.row_lower[rows], program.row_upper[rows], part[:, shared].tocsr(), floor))
    own = by_row[split.master_rows][:, shared].tocsc()
    # Master columns: the shared ones, then θ_s.
    theta = np.arange(shared.size, shared.size + n_scen)
    master_matrix = sparse.hstack([own, sparse.csc_matrix((own.shape[0], n_scen))]).tocsc()
    master = _lp(np.concatenate([program.cost[shared], np.ones(n_scen)]),
                 np.concatenate([col_lower[shared], [sc.floor for sc in scenarios]]),
                 np.concatenate([program.col_upper[shared], np.full(n_scen, np.inf)]),
                 program.row_lower[split.master_rows], program.row_upper[split.master_rows],
                 master_matrix)
    best: tuple[float, FloatArray, list[FloatArray]] | None = None
    lower = -np.inf
    iterations = 0
    converged = False
    while iterations < MAX_ITERATIONS:
        left = time_limit_s - (time.perf_counter() - started)
        if left <= 0 and best is not None:
            break
        iterations += 1
        if not _run_master(master, left):
            if best is None:
                raise SolverError(f"HiGHS did not prove an optimum for the master of "
                                  f"{program.name!r}")
            break  # the master's numerics failed: keep the bounds proved so far
        point = np.asarray(master.getSolution().col_value, dtype=np.float64)
        lower = max(lower, float(master.getInfo().objective_function_value) + program.offset)
        x = point[:shared.size]
        upper = float(program.cost[shared] @ x) + program.offset
        parts = []
        cut_index: list[int] = []
        cut_start: list[int] = []
        cut_value: list[float] = []
        cut_lower: list[float] = []
        for s, scenario in enumerate(scenarios):
            left = time_limit_s - (time.perf_counter() - started)
            value, slope, y = scenario.solve(x, left, f"scenario {s} of {program.name!r}")
            upper += value
            parts.append(y)
            if point[theta[s]] < value - 1e-9 * max(abs(value), 1.0):
                # θ_s − slope · x ≥ value − slope · x̂
                nonzero = np.flatnonzero(slope)
                cut_start.append(len(cut_index))
                cut_index += [*nonzero.tolist(), int(theta[s])]
                cut_value += [*(-slope[nonzero]).tolist(), 1.0]
                cut_lower.append(value - float(slope @ x))
        if best is None or upper < best[0]:
            best = (upper, x, parts)
        if best[0] - lower <= tolerance * max(abs(best[0]), 1.0):
            converged = True
            break
        if not cut_lower:
            converged = True  # no cut violated: the master's point is optimal
            break
        master.addRows(len(cut_lower), np.array(cut_lower),
                       np.full(len(cut_lower), highspy.kHighsInf),
                       len(cut_index), np.array(cut_start, dtype=np.int32),
                       np.array(cut_index, dtype=np.int32), np.array(cut_value))
    if best is None:
        raise SolverError(f"the decomposed LP {program.name!r} priced no point in "
                          f"{time_limit_s:g} s")
    upper, x, parts = best
    point = np.zeros(program.n_variables)
    point[shared] = x
    for cols, y in zip(split.scenario_columns, parts, strict=True):
        point[cols] = y
    return Decomposed(point, upper, min(lower, upper), iterations,
                      time.perf_counter() - started, converged)
