"""A linear program assembled from numpy arrays, handed to HiGHS directly or through PuLP.

Variables and constraints are added in named *families* of arrays, as linopy does:
one call adds every element of a family, each element named by its family and
its labels (``coverage[12,3,5]``). The assembled :class:`LinearProgram` is

    minimise    cost · x + offset
    subject to  row_lower ≤ A x ≤ row_upper,   col_lower ≤ x ≤ col_upper

with ``A`` stored column-wise (CSC). It goes to the solver one of two ways, one
per model (STYLE.md): as arrays through highspy's ``passModel``, which costs
nothing per element, or as a PuLP problem (readable, writable as an LP file),
which costs about 25 µs per variable to build and so suits small models only.
Either way HiGHS solves it and its own model status is checked: PuLP 3.3 reports
``Optimal`` on a HiGHS time-out.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import highspy
import numpy as np
import numpy.typing as npt
import pulp

from core.errors import SolverError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

INF = float("inf")

Backend = Literal["auto", "pulp", "highs"]
ARRAY_BACKEND_THRESHOLD = 50_000
"""Models with more variables than this go to HiGHS as arrays; smaller ones through PuLP."""


@dataclass(frozen=True, eq=False)
class Family:
    """A named block of variables or constraints: elements ``start .. start + size``."""

    name: str
    start: int
    labels: tuple[IntArray, ...]

    @property
    def size(self) -> int:
        """Number of elements of the family."""
        return int(self.labels[0].size) if self.labels else 1

    def names(self) -> list[str]:
        """One name per element: the family's name and the element's labels."""
        if not self.labels:
            return [self.name]
        columns = [label.tolist() for label in self.labels]
        return [f"{self.name}[{','.join(map(str, row))}]" for row in zip(*columns, strict=True)]


@dataclass(frozen=True, eq=False)
class LinearProgram:
    """An assembled LP: costs, bounds and the constraint matrix in CSC arrays."""

    name: str
    cost: FloatArray
    col_lower: FloatArray
    col_upper: FloatArray
    row_lower: FloatArray
    row_upper: FloatArray
    a_start: npt.NDArray[np.int32]
    a_index: npt.NDArray[np.int32]
    a_value: FloatArray
    offset: float
    variables: tuple[Family, ...]
    constraints: tuple[Family, ...]

    @property
    def n_variables(self) -> int:
        """Number of columns."""
        return int(self.cost.size)

    @property
    def n_constraints(self) -> int:
        """Number of rows."""
        return int(self.row_lower.size)

    def family(self, name: str) -> Family:
        """The variable or constraint family called ``name``."""
        for family in (*self.variables, *self.constraints):
            if family.name == name:
                return family
        raise KeyError(f"no family {name!r} in model {self.name!r}")

    def column_names(self) -> list[str]:
        """Every variable's name, in column order."""
        return [name for family in self.variables for name in family.names()]

    def row_names(self) -> list[str]:
        """Every constraint's name, in row order."""
        return [name for family in self.constraints for name in family.names()]

    def objective_value(self, x: FloatArray) -> float:
        """The objective at the point ``x``, offset included."""
        return float(self.cost @ x) + self.offset


class LinearModelBuilder:
    """Collects families of variables and constraints, then assembles a :class:`LinearProgram`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.offset = 0.0
        self._variables: list[Family] = []
        self._constraints: list[Family] = []
        self._cost: list[FloatArray] = []
        self._col_lower: list[FloatArray] = []
        self._col_upper: list[FloatArray] = []
        self._row_lower: list[FloatArray] = []
        self._row_upper: list[FloatArray] = []
        self._terms: list[tuple[IntArray, IntArray, FloatArray]] = []
        self.n_variables = 0
        self.n_constraints = 0

    def add_variables(
        self,
        name: str,
        labels: Sequence[npt.ArrayLike],
        *,
        cost: npt.ArrayLike,
        lower: npt.ArrayLike = 0.0,
        upper: npt.ArrayLike = INF,
    ) -> IntArray:
        """Add one variable per label row; returns their column indices."""
        family = Family(name, self.n_variables,
                        tuple(np.asarray(label, dtype=np.intp) for label in labels))
        size = family.size
        self._variables.append(family)
        self._cost.append(np.broadcast_to(np.asarray(cost, dtype=np.float64), (size,)))
        self._col_lower.append(np.broadcast_to(np.asarray(lower, dtype=np.float64), (size,)))
        self._col_upper.append(np.broadcast_to(np.asarray(upper, dtype=np.float64), (size,)))
        self.n_variables += size
        return np.arange(family.start, family.start + size, dtype=np.intp)

    def add_constraints(
        self,
        name: str,
        labels: Sequence[npt.ArrayLike],
        *,
        row: npt.ArrayLike,
        column: npt.ArrayLike,
        coefficient: npt.ArrayLike,
        upper: npt.ArrayLike = INF,
        lower: npt.ArrayLike = -INF,
    ) -> IntArray:
        """Add one constraint per label row, ``lower ≤ Σ coefficient · x[column] ≤ upper``.

        The terms are triplets: ``row`` is the constraint's position within this
        family, ``column`` a column index returned by :meth:`add_variables`.
        """
        family = Family(name, self.n_constraints,
                        tuple(np.asarray(label, dtype=np.intp) for label in labels))
        size = family.size
        local = np.asarray(row, dtype=np.intp)
        if local.size and (local.min() < 0 or local.max() >= size):
            raise ValueError(f"constraint family {name!r}: row index out of range")
        self._constraints.append(family)
        self._row_lower.append(np.broadcast_to(np.asarray(lower, dtype=np.float64), (size,)))
        self._row_upper.append(np.broadcast_to(np.asarray(upper, dtype=np.float64), (size,)))
        coefficients = np.broadcast_to(np.asarray(coefficient, dtype=np.float64), local.shape)
        self._terms.append((local + family.start, np.asarray(column, dtype=np.intp),
                            np.array(coefficients)))
        self.n_constraints += size
        return np.arange(family.start, family.start + size, dtype=np.intp)

    def cost_vector(self) -> FloatArray:
        """The objective's coefficients of the columns added so far."""
        return _concat_float(self._cost)

    def build(self) -> LinearProgram:
        """Assemble the families into column-wise arrays."""
        rows = _concat_int([t[0] for t in self._terms])
        cols = _concat_int([t[1] for t in self._terms])
        values = _concat_float([t[2] for t in self._terms])
        order = np.lexsort((rows, cols))
        cols, rows, values = cols[order], rows[order], values[order]
        start = np.searchsorted(cols, np.arange(self.n_variables + 1)).astype(np.int32)
        return LinearProgram(
            name=self.name,
            cost=_concat_float(self._cost),
            col_lower=_concat_float(self._col_lower),
            col_upper=_concat_float(self._col_upper),
            row_lower=_concat_float(self._row_lower),
            row_upper=_concat_float(self._row_upper),
            a_start=start,
            a_index=rows.astype(np.int32),
            a_value=values,
            offset=self.offset,
            variables=tuple(self._variables),
            constraints=tuple(self._constraints),
        )


def _concat_int(parts: list[IntArray]) -> IntArray:
    return np.concatenate(parts).astype(np.intp) if parts else np.zeros(0, dtype=np.intp)


def _concat_float(parts: list[FloatArray]) -> FloatArray:
    return np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)


@dataclass(frozen=True, eq=False)
class Solved:
    """What a solver returned: its own status string and the column values."""

    status: str
    x: FloatArray
    objective: float
    seconds: float


def to_highs(program: LinearProgram) -> highspy.HighsLp:
    """The program as a highspy ``HighsLp`` (arrays copied once, names included)."""
    lp = highspy.HighsLp()
    lp.model_name_ = program.name
    lp.num_col_ = program.n_variables
    lp.num_row_ = program.n_constraints
    lp.col_cost_ = program.cost
    lp.col_lower_ = program.col_lower
    lp.col_upper_ = np.where(np.isinf(program.col_upper), highspy.kHighsInf, program.col_upper)
    lp.row_lower_ = np.where(np.isinf(program.row_lower), -highspy.kHighsInf, program.row_lower)
    lp.row_upper_ = np.where(np.isinf(program.row_upper), highspy.kHighsInf, program.row_upper)
    lp.offset_ = program.offset
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_ = program.n_variables
    lp.a_matrix_.num_row_ = program.n_constraints
    lp.a_matrix_.start_ = program.a_start
    lp.a_matrix_.index_ = program.a_index
    lp.a_matrix_.value_ = program.a_value
    lp.col_names_ = program.column_names()
    lp.row_names_ = program.row_names()
    return lp


@dataclass(frozen=True, eq=False)
class PulpModel:
    """The program as a PuLP problem, with its variables in column order."""

    problem: pulp.LpProblem
    variables: tuple[pulp.LpVariable, ...]


def to_pulp(program: LinearProgram) -> PulpModel:
    """The program as a PuLP problem (variables through ``prob.add_variable``)."""
    problem = pulp.LpProblem(program.name, pulp.LpMinimize)
    variables = tuple(
        problem.add_variable(
            name,
            lowBound=None if np.isinf(lo) else float(lo),
            upBound=None if np.isinf(up) else float(up),
        )
        for name, lo, up in zip(program.column_names(), program.col_lower.tolist(),
                                program.col_upper.tolist(), strict=True)
    )
    problem.setObjective(pulp.LpAffineExpression(
        [(variables[j], c) for j, c in enumerate(program.cost.tolist()) if c != 0.0],
        constant=program.offset,
    ))
    # Row-wise view of the CSC matrix: one expression per constraint.
    cols = np.repeat(np.arange(program.n_variables), np.diff(program.a_start))
    order = np.lexsort((cols, program.a_index))
    rows_sorted = program.a_index[order]
    row_start = np.searchsorted(rows_sorted, np.arange(program.n_constraints + 1))
    cols_by_row = cols[order].tolist()
    values_by_row = program.a_value[order].tolist()
    for r, name in enumerate(program.row_names()):
        lo, up = float(program.row_lower[r]), float(program.row_upper[r])
        expression = pulp.LpAffineExpression([
            (variables[cols_by_row[i]], values_by_row[i])
            for i in range(row_start[r], row_start[r + 1])
        ])
        if lo == up:
            problem.addConstraint(pulp.LpConstraint(expression, pulp.LpConstraintEQ, rhs=up), name)
        elif np.isinf(lo):
            problem.addConstraint(pulp.LpConstraint(expression, pulp.LpConstraintLE, rhs=up), name)
        elif np.isinf(up):
            problem.addConstraint(pulp.LpConstraint(expression, pulp.LpConstraintGE, rhs=lo), name)
        else:
            raise ValueError(f"constraint {name!r}: ranged rows are not supported through PuLP")
    return PulpModel(problem, variables)


def _check_status(highs: highspy.Highs, model_name: str, time_limit_s: float) -> str:
    status = highs.getModelStatus()
    text = str(highs.modelStatusToString(status))
    if status == highspy.HighsModelStatus.kTimeLimit:
        text += f" (time limit {time_limit_s:g} s)"
    if status != highspy.HighsModelStatus.kOptimal:
        raise SolverError(f"HiGHS did not prove an optimum for {model_name!r}: {text}")
    return text


def solve_highs(lp: highspy.HighsLp, *, time_limit_s: float,
                options: Mapping[str, bool | int | float | str] | None = None) -> Solved:
    """Solve a ``HighsLp`` with highspy; raise :class:`SolverError` unless HiGHS says Optimal.

    ``options`` are further HiGHS options (``{"solver": "ipm"}``).
    """
    started = time.perf_counter()
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    for name, value in (options or {}).items():
        highs.setOptionValue(name, value)
    highs.setOptionValue("time_limit", float(time_limit_s))
    if highs.passModel(lp) != highspy.HighsStatus.kOk:
        raise SolverError(f"HiGHS rejected the model {lp.model_name_!r}")
    highs.run()
    status = _check_status(highs, lp.model_name_, time_limit_s)
    x = np.array(highs.getSolution().col_value, dtype=np.float64)
    objective = float(highs.getInfo().objective_function_value)
    return Solved(status, x, objective, time.perf_counter() - started)


def solve_pulp(model: PulpModel, *, time_limit_s: float) -> Solved:
    """Solve a PuLP problem with HiGHS (through highspy), checking HiGHS's own model status."""
    started = time.perf_counter()
    model.problem.solve(pulp.HiGHS(msg=False, timeLimit=float(time_limit_s)))
    # PuLP maps a HiGHS time-out to LpStatusOptimal: ask HiGHS itself.
    status = _check_status(model.problem.solverModel, model.problem.name, time_limit_s)
    x = np.array([v.varValue or 0.0 for v in model.variables], dtype=np.float64)
    objective = float(pulp.value(model.problem.objective))
    return Solved(status, x, objective, time.perf_counter() - started)


def to_solver(program: LinearProgram,
              backend: Backend) -> tuple[Literal["pulp", "highs"], highspy.HighsLp | PulpModel]:
    """The program in the backend's form; ``"auto"`` picks arrays for large models (STYLE.md)."""
    if backend == "auto":
        backend = "highs" if program.n_variables > ARRAY_BACKEND_THRESHOLD else "pulp"
    return backend, (to_highs(program) if backend == "highs" else to_pulp(program))


def solve_program(program: LinearProgram, solver_model: highspy.HighsLp | PulpModel, *,
                  time_limit_s: float) -> Solved:
    """Solve a program in the form :func:`to_solver` gave it.

    A program with no variable has nothing to decide and is optimal by inspection:
    the solver is not called.
    """
    if program.n_variables == 0:
        return Solved("Optimal", np.zeros(0), program.offset, 0.0)
    if isinstance(solver_model, PulpModel):
        return solve_pulp(solver_model, time_limit_s=time_limit_s)
    return solve_highs(solver_model, time_limit_s=time_limit_s)


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send anything written to file descriptor 1 to 2 meanwhile.

    HiGHS prints a banner from C++ on first use; a command whose stdout carries
    data (JSON, a table) solves inside this so that the output can be piped.
    """
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real stdout (embedded): nothing to protect
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
