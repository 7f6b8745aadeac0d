"""The purchase LP: its structure, tiny cases solved by hand, and invariants on a realistic grid."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from lp_factories import daily_usage, grid, reference_objective, spend, unit

from core.billing import apply_commitments, summarize
from core.errors import SolverError
from optimizer.lp import (
    PurchaseProblem,
    PurchaseSolution,
    amortized_with_capital,
    build_model,
    optimize_purchases,
    solve,
)
from optimizer.lp_plan import make_plan
from optimizer.reduction import prune_candidates

K = "aws/1/ec2/us-east-1/m4/linux/shared"
K2 = "aws/1/ec2/us-east-1/c5/linux/shared"
START = datetime(2024, 6, 1, tzinfo=UTC)


def one_key(usage: list[float], *offerings: object, rate: float = 1.0, **extra: object
            ) -> PurchaseProblem:
    """A problem on the single key ``K`` with hourly ``usage``."""
    return PurchaseProblem(np.array(usage, dtype=float)[:, None], (K,), np.array([rate]),
                           tuple(offerings), **extra)  # type: ignore[arg-type]


# --- structure --------------------------------------------------------------------------


def test_tiny_model_has_one_buy_and_one_coverage_per_distinct_hour() -> None:
    """Usage [10, 10, 4, 4] has two distinct hours: buy[0], two coverage variables,
    and per distinct hour one usage and one capacity row."""
    model = build_model(one_key([10, 10, 4, 4], unit("ri", {K: 1.0}, hourly=0.6)))

    assert model.n_variables == 3
    assert model.n_constraints == 4
    assert model.program.column_names() == ["buy[0]", "coverage[0,0,0]", "coverage[2,0,0]"]
    assert model.program.row_names() == ["usage[0,0]", "usage[2,0]",
                                         "capacity[0,0]", "capacity[2,0]"]
    assert model.hour_groups.count.tolist() == [2.0, 2.0]


def test_every_variable_and_constraint_is_named_once() -> None:
    g = grid()
    problem = PurchaseProblem(daily_usage(len(g.key_ids), 48), g.key_ids, g.rates, g.offerings)
    program = build_model(problem).program

    names = program.column_names() + program.row_names()
    assert len(names) == program.n_variables + program.n_constraints
    assert len(set(names)) == len(names)
    assert {f.name for f in program.variables} == {"buy", "coverage"}
    assert {f.name for f in program.constraints} == {"usage", "capacity"}


def test_identical_hours_collapse_into_one_weighted_hour() -> None:
    usage = [[5, 1], [3, 1], [5, 1], [5, 1], [3, 2]]
    problem = PurchaseProblem(np.array(usage, dtype=float), (K, K2), np.array([1.0, 1.0]),
                              (unit("ri", {K: 1.0, K2: 1.0}, hourly=0.5),))
    model = build_model(problem)

    assert model.hour_groups.first.tolist() == [0, 1, 4]
    assert model.hour_groups.count.tolist() == [3.0, 1.0, 1.0]
    assert model.hour_groups.group.tolist() == [0, 1, 0, 0, 2]


def test_owned_capacity_splits_hours_it_differs_in() -> None:
    """Same usage, but the owned RI expires after hour 1: two distinct hours."""
    ri = unit("ri", {K: 1.0}, hourly=0.6)
    model = build_model(one_key([4, 4, 4, 4], ri, owned=(ri,),
                                owned_quantity=np.array([[4.0], [4.0], [0.0], [0.0]])))
    assert model.hour_groups.count.tolist() == [2.0, 2.0]


def test_keys_treated_alike_by_every_pattern_merge() -> None:
    """Three accounts of m4 priced alike are one key to the LP; c5 at another rate is not."""
    g = grid(families=("m4", "c5"))
    problem = PurchaseProblem(daily_usage(len(g.key_ids), 24), g.key_ids, g.rates, g.offerings)
    model = build_model(problem)

    assert model.key_groups.n_groups == 2
    assert model.key_groups.group.tolist() == [0, 0, 0, 1, 1, 1]


def test_pruning_keeps_only_the_cheapest_of_one_pattern() -> None:
    """Three RIs with identical covers at 0.7, 0.6 and 0.65 per unit-hour: only 0.6 can be in
    an optimum (moving units to it keeps every constraint and lowers the cost)."""
    offerings = (unit("a", {K: 1.0, K2: 1.0}, hourly=0.7),
                 unit("b", {K: 1.0, K2: 1.0}, hourly=0.6),
                 unit("c", {K: 1.0, K2: 1.0}, upfront=0.65 * 8760))
    problem = PurchaseProblem(np.ones((4, 2)), (K, K2), np.array([1.0, 1.0]), offerings)
    model = build_model(problem)

    assert model.kept.tolist() == [1]
    assert model.program.column_names()[0] == "buy[1]"


def test_pruning_sees_proportional_spend_rates_as_one_pattern() -> None:
    """B's rates are A's x 1.1: one dollar of B covers what $1/1.1 of A covers, so B costs
    1.1 per unit of A's coverage and A dominates."""
    a = spend("a", {K: 0.5, K2: 0.6})
    b = spend("b", {K: 0.55, K2: 0.66})
    kept = prune_candidates((b, a), (K, K2), np.array([1.0, 1.0]))
    assert kept.tolist() == [1]


def test_pruning_keeps_a_narrow_offering_cheaper_on_its_key() -> None:
    """A broad plan dominates a narrow one only if it is no dearer on the narrow one's keys."""
    broad = spend("broad", {K: 0.5, K2: 0.6})
    cheaper_narrow = spend("narrow-cheap", {K: 0.45})
    dearer_narrow = spend("narrow-dear", {K: 0.55})
    kept = prune_candidates((broad, cheaper_narrow, dearer_narrow), (K, K2), np.ones(3))
    assert kept.tolist() == [0, 1]


def test_cost_of_capital_changes_the_cheapest_of_a_pattern() -> None:
    """All upfront at $0.5/h amortized vs no upfront at $0.52/h, one-year term. At 10% a year,
    the upfront costs 0.5 x (1 + 0.10 x 1 / 2) = 0.525 per hour > 0.52: no upfront wins."""
    all_upfront = unit("au", {K: 1.0}, upfront=0.5 * 8760)
    no_upfront = unit("nu", {K: 1.0}, hourly=0.52)
    candidates = (all_upfront, no_upfront)

    assert amortized_with_capital(all_upfront, 0.10) == pytest.approx(0.525)
    assert build_model(one_key([1], *candidates)).kept.tolist() == [0]
    assert build_model(one_key([1], *candidates, cost_of_capital=0.10)).kept.tolist() == [1]


def test_a_tie_between_an_ri_and_a_savings_plan_keeps_the_savings_plan() -> None:
    ri = unit("ri", {K: 1.0}, hourly=0.6)
    sp = spend("sp", {K: 0.6})
    assert build_model(one_key([1], ri, sp)).kept.tolist() == [1]


# --- tiny cases solved by hand ----------------------------------------------------------


@pytest.mark.parametrize("backend", ["pulp", "highs"])
def test_one_ri_buys_the_level_used_often_enough(backend: str) -> None:
    """One key, usage [10, 10, 4, 4], an RI at 0.6/h vs on-demand 1.0.

    The k-th unit covers the hours with usage ≥ k: it saves (#those hours) x 1.0 - 4 x 0.6.
    Units 1-4 save 4 - 2.4 > 0, units 5-10 save 2 - 2.4 < 0: buy 4.
    Cost = 4 x 0.6 x 4 + on-demand (10 - 4) x 2 = 9.6 + 12 = 21.6.
    """
    solution = optimize_purchases(one_key([10, 10, 4, 4], unit("ri", {K: 1.0}, hourly=0.6)),
                                  backend=backend)  # type: ignore[arg-type]

    assert solution.status == "Optimal"
    assert dict(solution.quantities) == pytest.approx({"ri": 4.0})
    assert solution.objective == pytest.approx(21.6)


@pytest.mark.parametrize("backend", ["pulp", "highs"])
def test_a_savings_plan_is_sized_on_its_highest_discount(backend: str) -> None:
    """Keys A and B at on-demand 1.0; a plan whose rates are 0.5 on A (50% off) and 0.8 on B.
    Usage: A = [2, 2], B = [5, 0].

    The first $1/h covers A in both hours (2 units at $0.5): over 2 hours it costs 2 and
    displaces 4 of on-demand. Any further dollar can only cover B in hour 0, 1.25 units
    worth 1.25, for 2: not worth it. Buy $1/h; cost = 2 + B's on-demand 5 = 7.
    """
    problem = PurchaseProblem(np.array([[2.0, 5.0], [2.0, 0.0]]), (K, K2), np.array([1.0, 1.0]),
                              (spend("sp", {K: 0.5, K2: 0.8}),))
    solution = optimize_purchases(problem, backend=backend)  # type: ignore[arg-type]

    assert dict(solution.quantities) == pytest.approx({"sp": 1.0})
    assert solution.objective == pytest.approx(7.0)


def test_owned_commitment_reduces_what_is_bought() -> None:
    """As the [10, 10, 4, 4] case with 3 units of the RI owned: the optimum still covers 4,
    so it buys 1. Its cost: 1 x 0.6 x 4 = 2.4 plus on-demand 6 + 6 = 12 (owned are sunk)."""
    ri = unit("ri", {K: 1.0}, hourly=0.6)
    solution = optimize_purchases(one_key([10, 10, 4, 4], ri, owned=(ri,),
                                          owned_quantity=np.full((4, 1), 3.0)))

    assert dict(solution.quantities) == pytest.approx({"ri": 1.0})
    assert solution.objective == pytest.approx(14.4)


def test_owned_commitment_counts_only_while_active() -> None:
    """Usage 4 every hour; 4 units owned for hours 0-2 then expired. A new unit would cover
    only hour 3: it saves 1.0 and costs 4 x 0.6 = 2.4, so nothing is bought and hour 3 is
    paid on demand: objective 4."""
    ri = unit("ri", {K: 1.0}, hourly=0.6)
    owned = np.array([[4.0], [4.0], [4.0], [0.0]])
    solution = optimize_purchases(one_key([4, 4, 4, 4], ri, owned=(ri,), owned_quantity=owned))

    assert dict(solution.quantities) == {}
    assert solution.objective == pytest.approx(4.0)


def test_cost_of_capital_flips_all_upfront_to_no_upfront() -> None:
    """Usage 10 in each of 4 hours, on-demand 1.0. All upfront: $0.5/h amortized; no upfront:
    $0.52/h. Without cost of capital buy 10 all upfront (cost 10 x 0.5 x 4 = 20); at 10% a
    year the upfront one costs 0.525/h and 10 no upfront are bought (10 x 0.52 x 4 = 20.8)."""
    candidates = (unit("au", {K: 1.0}, upfront=0.5 * 8760), unit("nu", {K: 1.0}, hourly=0.52))

    free = optimize_purchases(one_key([10] * 4, *candidates))
    costly = optimize_purchases(one_key([10] * 4, *candidates, cost_of_capital=0.10))

    assert dict(free.quantities) == pytest.approx({"au": 10.0})
    assert free.objective == pytest.approx(20.0)
    assert dict(costly.quantities) == pytest.approx({"nu": 10.0})
    assert costly.objective == pytest.approx(20.8)


def test_nothing_to_decide_is_optimal_without_the_solver() -> None:
    solution = optimize_purchases(one_key([3, 4], rate=2.0))
    assert solution == PurchaseSolution({}, 14.0, "Optimal", solution.build_seconds, 0.0, 0, 0)


def test_problem_rejects_owned_quantity_of_the_wrong_shape() -> None:
    ri = unit("ri", {K: 1.0}, hourly=0.6)
    with pytest.raises(ValueError, match="owned_quantity"):
        one_key([1, 1], ri, owned=(ri,), owned_quantity=np.ones((3, 1)))


# --- invariants on a realistic grid -----------------------------------------------------


@pytest.fixture(scope="module")
def realistic() -> PurchaseProblem:
    """12 keys (4 families x 3 accounts) x 500 hours with daily cycles; the full grid of 78
    offerings; an owned RI on m4 and an owned Compute SP expiring mid-window."""
    g = grid()
    usage = daily_usage(len(g.key_ids), 500, seed=7)
    owned = (g.offerings[0], next(o for o in g.offerings if o.offering_id.startswith("sp-compute")))
    quantity = np.zeros((500, 2))
    quantity[:, 0] = 100.0
    quantity[:250, 1] = 2.0
    return PurchaseProblem(usage, g.key_ids, g.rates, g.offerings, owned, quantity)


@pytest.fixture(scope="module")
def realistic_solution(realistic: PurchaseProblem) -> PurchaseSolution:
    return optimize_purchases(realistic, backend="highs")


def _owned_cost(problem: PurchaseProblem) -> float:
    billed = apply_commitments(problem.usage, problem.key_ids, problem.on_demand_rates,
                               problem.owned, problem.owned_active)
    return summarize(billed).commitment_cost


def test_lp_never_costs_more_than_buying_nothing(
    realistic: PurchaseProblem, realistic_solution: PurchaseSolution
) -> None:
    owned = apply_commitments(realistic.usage, realistic.key_ids, realistic.on_demand_rates,
                              realistic.owned, realistic.owned_active)
    nothing = summarize(owned).on_demand_cost
    assert realistic_solution.quantities
    assert realistic_solution.objective <= nothing + 1e-6


def test_billed_plan_costs_less_than_owned_alone(
    realistic: PurchaseProblem, realistic_solution: PurchaseSolution
) -> None:
    plan = make_plan(realistic, realistic_solution, window_start=START)
    assert plan.actions
    assert plan.cost_after <= plan.cost_before
    assert plan.esr_after >= plan.esr_before


def test_lp_objective_bounds_the_billed_cost_from_below(
    realistic: PurchaseProblem, realistic_solution: PurchaseSolution
) -> None:
    """The LP allocates coverage optimally and the plan buys no more than it: the billed cost
    of the rounded plan, owned commitments' cost taken out, is at least the LP's objective."""
    plan = make_plan(realistic, realistic_solution, window_start=START)
    billed_new_and_on_demand = plan.cost_after - _owned_cost(realistic)
    assert realistic_solution.objective <= billed_new_and_on_demand + 1e-6 * plan.cost_after


def test_pulp_and_highspy_paths_agree(realistic: PurchaseProblem,
                                      realistic_solution: PurchaseSolution) -> None:
    through_pulp = optimize_purchases(realistic, backend="pulp")
    assert through_pulp.n_variables == realistic_solution.n_variables
    assert through_pulp.objective == pytest.approx(realistic_solution.objective, rel=1e-9)


@pytest.mark.parametrize("cost_of_capital", [0.0, 0.08])
def test_reductions_leave_the_optimum_unchanged(cost_of_capital: float) -> None:
    """The unreduced LP of the brief (one coverage variable per hour, commitment and key, all
    78 candidates) has the same optimum as the reduced one, with owned commitments, on 48
    hours (the last 12 repeat hours 12-23, so hours also collapse)."""
    g = grid()
    usage = daily_usage(len(g.key_ids), 36, seed=3)
    usage = np.vstack([usage, usage[12:24]])
    owned = (g.offerings[1], g.offerings[-1])
    quantity = np.zeros((48, 2))
    quantity[:, 0] = 60.0
    quantity[12:, 1] = 1.5
    problem = PurchaseProblem(usage, g.key_ids, g.rates, g.offerings, owned, quantity,
                              cost_of_capital=cost_of_capital)
    model = build_model(problem)

    assert model.kept.size < len(g.offerings)
    assert model.hour_groups.n_groups == 36
    assert solve(model).objective == pytest.approx(reference_objective(problem), rel=1e-9)


def test_reductions_are_exact_with_size_weights_and_patterns_across_shapes() -> None:
    """A size-flexible RI (1 unit covers 1 of A or 2 of B), the same RI in a double size at a
    worse price, a Savings Plan with the same pattern (rates 0.6, 0.3 ∝ 1, 0.5) owned in part of
    the window, a plan over A, B, C and D (D priced as A on demand but not in the plan), and
    A' identical to A in every pattern: the reduced and unreduced LPs agree."""
    k3 = "aws/1/ec2/us-east-1/r4/linux/shared"
    k4 = "aws/1/ec2/us-east-1/t2/linux/shared"
    k5 = "aws/2/ec2/us-east-1/m4/linux/shared"
    keys = (K, K2, k3, k4, k5)
    candidates = (
        unit("ri", {K: 1.0, K2: 2.0, k5: 1.0}, hourly=0.5),
        unit("ri-double", {K: 2.0, K2: 4.0, k5: 2.0}, hourly=1.05),
        spend("sp-ab", {K: 0.6, K2: 0.3, k5: 0.6}),
        spend("sp-all", {K: 0.7, K2: 0.4, k3: 0.75, k4: 0.8, k5: 0.7}),
    )
    owned = (spend("sp-ab-owned", {K: 0.6, K2: 0.3, k5: 0.6}),
             unit("ri-c", {k3: 1.0}, hourly=0.6))
    usage = daily_usage(5, 60, seed=11) / 10
    quantity = np.zeros((60, 2))
    quantity[:20, 0] = 4.0
    quantity[10:, 1] = 3.0
    problem = PurchaseProblem(usage, keys, np.array([1.0, 0.55, 1.1, 1.0, 1.0]), candidates,
                              owned, quantity)
    model = build_model(problem)

    assert [problem.candidates[o].offering_id for o in model.kept] == ["ri", "sp-all"]
    assert len(model.patterns) == 3  # ri with the owned sp-ab, sp-all, ri-c
    assert model.key_groups.group.tolist() == [0, 1, 2, 3, 0]
    assert solve(model).objective == pytest.approx(reference_objective(problem), rel=1e-9)


def test_time_limit_is_a_solver_error_not_an_optimum(realistic: PurchaseProblem) -> None:
    for backend in ("highs", "pulp"):
        model = build_model(realistic, backend=backend)
        with pytest.raises(SolverError, match="Time limit"):
            solve(model, time_limit_s=1e-6)
