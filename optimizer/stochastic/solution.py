"""The solved stochastic LP: what to do now, and the LP's objective at any decision."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import numpy as np
import numpy.typing as npt

from core.billing import BillingResult
from core.errors import InvalidInput
from optimizer.linear_model import Backend, solve_program
from optimizer.pricing import QUANTITY_TOLERANCE
from optimizer.risk import cvar
from optimizer.stochastic import decomposition
from optimizer.stochastic.model import StochasticModel, build_model
from optimizer.stochastic.problem import StochasticProblem

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Exchange:
    """Give up ``give`` units of owned commitment ``owned`` for ``receive`` units of ``target``."""

    owned: int
    target: str
    give: float
    receive: float


@dataclass(frozen=True, slots=True)
class Planned:
    """A purchase the LP plans for a later run (at hour ``hour`` of the horizon): not made now.

    ``scenario`` is the scenario it is planned in (recourse: later runs will know more),
    or -1 when it is planned in every scenario.
    """

    hour: int
    offering_id: str
    quantity: float
    scenario: int = -1


@dataclass(frozen=True)
class StochasticSolution:
    """The solved LP: what to buy, return and exchange now, and the LP's own figures.

    ``planned`` are the purchases the LP expects to make at later runs inside the
    horizon (when owned commitments expire or terms end); they are not bought now,
    but knowing they can be made keeps the LP from buying a long term today to
    cover a gap that opens next week.

    ``objective`` is the LP's risk-weighted cost over the horizon (owned
    commitments included), plus the policy's switching hurdle and waste term when set;
    with representative hours it is a lower bound on the full hourly model's optimum.
    ``scenario_costs`` are each scenario's cost under the LP's own allocation of
    coverage.

    ``method`` says how the LP was solved: ``"whole"``, or ``"decomposed"`` scenario by
    scenario (:mod:`optimizer.stochastic.decomposition`), when ``objective`` is the
    decomposition's lower bound on the LP's optimum and ``upper`` the LP's objective at the
    point returned (solved whole, both are the optimum).
    """

    quantities: Mapping[str, float]
    returns: Mapping[int, float]
    exchanges: tuple[Exchange, ...]
    planned: tuple[Planned, ...]
    objective: float
    expected_cost: float
    cvar_loss: float
    scenario_costs: FloatArray
    scenario_equivalents: FloatArray
    status: str
    build_seconds: float
    solve_seconds: float
    n_variables: int
    n_constraints: int
    n_hours: int
    exact: bool
    method: str = "whole"
    upper: float = float("nan")

    def __post_init__(self) -> None:
        object.__setattr__(self, "quantities", MappingProxyType(dict(self.quantities)))
        object.__setattr__(self, "returns", MappingProxyType(dict(self.returns)))


def planned_costs(model: StochasticModel, x: FloatArray) -> FloatArray:
    """C[s]: the cost of the purchases planned in scenario s alone at the LP point ``x``."""
    columns = model.columns
    planned = np.flatnonzero(columns.scenario >= 0)
    costs = np.zeros(model.problem.scenarios.n_scenarios)
    np.add.at(costs, columns.scenario[planned],
              columns.span_cost[planned] * x[columns.buy[planned]])
    return costs


def scenario_costs(model: StochasticModel, x: FloatArray) -> FloatArray:
    """Each scenario's cost at the LP point ``x``: decided commitments, owned, on-demand."""
    problem = model.problem
    decided = model.columns.decided
    commitment = float(model.true_cost[decided] @ x[decided]) if decided.size else 0.0
    on_demand = (problem.scenarios.usage @ problem.on_demand_rates).sum(axis=1)
    on_demand += planned_costs(model, x)
    coverage = model.coverage
    np.subtract.at(on_demand, coverage.scenario, coverage.value * x[coverage.column])
    return commitment + model.owned_cost + on_demand


Method = Literal["auto", "whole", "decomposed"]


def solve(model: StochasticModel, *, time_limit_s: float = 120,
          method: Method = "auto") -> StochasticSolution:
    """Solve a built model; raise :class:`core.errors.SolverError` unless HiGHS proves optimal.

    ``method``: ``"whole"`` (or ``"auto"``) gives the LP to HiGHS as one; ``"decomposed"``
    solves it scenario by scenario (:mod:`optimizer.stochastic.decomposition`: its objective
    is then the decomposition's lower bound, its point the best one found, within
    ``TOLERANCE`` of it unless the time ran out). ``"auto"`` does not decompose yet: on the
    1,000-key fleet (``python -m benchmarks.fleet_plan``) the decomposition priced no point
    in 120 s, where the whole pooled LP solved in 169 s.
    """
    split = None
    if method == "decomposed":
        split = decomposition.split_by_scenario(model)
        if split is None:
            raise InvalidInput("this model does not decompose by scenario (a utilisation "
                               "floor or a CVaR bound holds every scenario's columns)")
    if split is None:
        solved = solve_program(model.program, model.solver_model, time_limit_s=time_limit_s)
        return _solution(model, solved.x, objective=solved.objective, status=solved.status,
                         seconds=solved.seconds)
    found = decomposition.solve_decomposed(model, split, time_limit_s=time_limit_s)
    status = (f"Optimal within {found.gap:.3%} (scenario decomposition, {found.iterations} "
              "iterations)" if found.converged else
              f"Time limit: within {found.gap:.3%} (scenario decomposition, "
              f"{found.iterations} iterations)")
    return _solution(model, found.x, objective=found.lower, status=status,
                     seconds=found.seconds, method="decomposed", upper=found.upper)


def _solution(model: StochasticModel, point: FloatArray, *, objective: float, status: str,
              seconds: float, method: str = "whole",
              upper: float | None = None) -> StochasticSolution:
    """The solution at the LP point ``point`` whose objective (or lower bound) is given."""
    program = model.program
    x = np.maximum(point, 0.0) if point.size else np.zeros(0)
    if model.columns.eta >= 0 and point.size:
        x[model.columns.eta] = point[model.columns.eta]  # η is free
    problem = model.problem
    columns = model.columns
    quantities: dict[str, float] = {}
    planned: list[Planned] = []
    for col, o, start, only in zip(columns.buy.tolist(), columns.kept.tolist(),
                                   columns.start.tolist(), columns.scenario.tolist(),
                                   strict=True):
        if x[col] <= QUANTITY_TOLERANCE:
            continue
        if start == 0:
            quantities[problem.candidates[o].offering_id] = float(x[col])
        else:
            planned.append(Planned(start, problem.candidates[o].offering_id, float(x[col]),
                                   only))
    returns = {c: float(x[col]) for col, c in zip(columns.ret.tolist(),
                                                  columns.ret_owned.tolist(), strict=True)
               if x[col] > QUANTITY_TOLERANCE}
    exchanges = tuple(
        Exchange(c, problem.candidates[t].offering_id, float(x[g]), float(x[r]))
        for g, r, c, t in zip(columns.give.tolist(), columns.receive.tolist(),
                              columns.pair_owned.tolist(), columns.pair_target.tolist(),
                              strict=True)
        if x[g] > QUANTITY_TOLERANCE or x[r] > QUANTITY_TOLERANCE
    )
    costs = scenario_costs(model, x)
    equivalents = (problem.scenarios.usage @ problem.on_demand_rates).sum(axis=1)
    probabilities = problem.scenarios.probabilities
    return StochasticSolution(
        quantities=quantities, returns=returns, exchanges=exchanges, planned=tuple(planned),
        objective=objective,
        expected_cost=float(probabilities @ costs),
        cvar_loss=cvar(costs - equivalents, probabilities, problem.policy.cvar_alpha),
        scenario_costs=costs, scenario_equivalents=equivalents, status=status,
        build_seconds=model.build_seconds,
        solve_seconds=seconds, n_variables=program.n_variables,
        n_constraints=program.n_constraints, n_hours=model.representative.n_hours,
        exact=model.exact, method=method,
        upper=objective if upper is None else upper,
    )


def optimize(problem: StochasticProblem, *, time_limit_s: float = 120,
             backend: Backend = "auto", method: Method = "auto") -> StochasticSolution:
    """Build and solve the stochastic LP."""
    return solve(build_model(problem, backend=backend), time_limit_s=time_limit_s,
                 method=method)


@dataclass(frozen=True)
class Decided:
    """A decision in the LP's terms, for :func:`objective_at`: units bought now by offering id,
    owned commitments returned (by owned index), exchanges, and the purchases the LP plans
    for later runs."""

    quantities: Mapping[str, float]
    returns: Mapping[int, float]
    exchanges: tuple[Exchange, ...] = ()
    planned: tuple[Planned, ...] = ()


def decision_vector(model: StochasticModel, decided: Decided) -> FloatArray:
    """The LP point of a decision: its purchase, return and exchange columns set, every
    coverage and CVaR column at 0. Raises InvalidInput for an action the model has no
    column for (a pruned or disallowed offering, a commitment it cannot return)."""
    problem, columns = model.problem, model.columns
    position = {o.offering_id: i for i, o in enumerate(problem.candidates)}
    x = np.zeros(model.program.n_variables)
    buy = dict(zip(zip(columns.kept.tolist(), columns.start.tolist(), columns.scenario.tolist(),
                       strict=True), columns.buy.tolist(), strict=True))
    bought = [(offering_id, 0, -1, quantity) for offering_id, quantity in
              decided.quantities.items()]
    bought += [(p.offering_id, p.hour, p.scenario, p.quantity) for p in decided.planned]
    for offering_id, hour, scenario, quantity in bought:
        column = buy.get((position.get(offering_id, -1), hour, scenario))
        if column is None:
            raise InvalidInput(f"the model has no purchase of {offering_id!r} at hour {hour} "
                               f"in scenario {scenario}")
        x[column] += quantity
    returned = dict(zip(columns.ret_owned.tolist(), columns.ret.tolist(), strict=True))
    for owned, quantity in decided.returns.items():
        if owned not in returned:
            raise InvalidInput(f"the model cannot return owned commitment {owned}")
        x[returned[owned]] = quantity
    pairs = {(c, t): (g, r) for c, t, g, r in zip(
        columns.pair_owned.tolist(), columns.pair_target.tolist(), columns.give.tolist(),
        columns.receive.tolist(), strict=True)}
    for e in decided.exchanges:
        pair = pairs.get((e.owned, position.get(e.target, -1)))
        if pair is None:
            raise InvalidInput(f"the model cannot exchange owned commitment {e.owned} for "
                               f"{e.target!r}")
        x[pair[0]] += e.give
        x[pair[1]] += e.receive
    return x


def objective_at(model: StochasticModel, decided: Decided, *, on_demand: FloatArray,
                 on_demand_equivalent: FloatArray, bills: Sequence[BillingResult]) -> float:
    """The LP's objective at a decision whose coverage was billed rather than allocated by
    the LP: what the certificate compares with the LP's bound.

    ``on_demand[s]`` and ``on_demand_equivalent[s]`` are scenario s's billed on-demand cost
    and on-demand equivalent with the decision (and the purchases planned in s) in force,
    ``bills[s]`` that bill. With D[s] the billed on-demand and C[s] the purchases planned
    in s (see the formulation in :mod:`optimizer.stochastic.model`):

        price = K + c · x + (1 − λ) E[D + C] + λ (E[V] + CVaR_α(D + C − V))
                + κ (E[C] − E[Σ_c p̂ used[c] / s[c]])

    where c · x prices the columns decided now at the LP's own coefficients (billed cost,
    the switching hurdle, κ × their cost), and the last term is the rest of κ E[W]
    (:func:`~optimizer.stochastic.model.add_policy_terms`): the planned purchases, less
    the used part the billing engine found, valued as the LP values it.
    """
    problem, columns = model.problem, model.columns
    x = decision_vector(model, decided)
    shared = columns.decided
    commitment = float(model.program.cost[shared] @ x[shared]) + model.owned_cost
    planned_cost = planned_costs(model, x)
    policy = problem.policy
    weight = policy.cvar_weight
    probabilities = problem.scenarios.probabilities
    # Purchases planned in one scenario are part of that scenario's cost, like on-demand.
    billed = on_demand + planned_cost
    price = commitment + (1 - weight) * float(probabilities @ billed)
    if weight > 0:
        price += weight * (float(probabilities @ on_demand_equivalent)
                           + cvar(billed - on_demand_equivalent, probabilities,
                                  policy.cvar_alpha))
    if policy.waste_weight > 0:
        used = np.array([_idle_value_used(bill, model.idle_values) for bill in bills])
        price += policy.waste_weight * float(probabilities @ planned_cost) \
            - float(probabilities @ used)
    return price


def _idle_value_used(bill: BillingResult, values: Mapping[str, float]) -> float:
    """Σ_c κ p̂ / s[c] × the own units of commitment c used over the bill's hours."""
    per_unit = np.array([values.get(o.offering_id, 0.0) for o in bill.offerings])
    return float(bill.used.sum(axis=0) @ per_unit) if per_unit.size else 0.0
