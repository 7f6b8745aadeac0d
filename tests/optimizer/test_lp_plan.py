"""Plans from LP solutions: rounding down, re-pricing with the billing engine, reasons in words."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from lp_factories import spend, unit

from core.domain import HOURS_PER_MONTH, ActionKind
from optimizer.lp import PurchaseProblem, PurchaseSolution, optimize_purchases
from optimizer.lp_plan import make_plan, round_down

K = "aws/1/ec2/us-east-1/m4/linux/shared"
K2 = "aws/1/ec2/us-east-1/c5/linux/shared"
START = datetime(2024, 6, 1, tzinfo=UTC)


def solution(**quantities: float) -> PurchaseSolution:
    """A solution as the LP would return it, with the given quantities."""
    return PurchaseSolution(quantities, 0.0, "Optimal", 0.0, 0.0, 0, 0)


def test_quantities_round_down_to_whole_units_and_cents() -> None:
    ri = unit("ri", {K: 1.0}, hourly=0.6)
    sp = spend("sp", {K: 0.5})
    assert round_down(ri, 3.7) == 3.0
    assert round_down(ri, 3.9999999) == 4.0  # solver noise, not a smaller purchase
    assert round_down(sp, 1.239) == 1.23
    assert round_down(sp, 0.004) == 0.0


def test_plan_reprices_the_rounded_purchase_with_the_billing_engine() -> None:
    """Usage [10, 10, 4, 4] at on-demand 1.0, LP quantity 4.6 of an RI at 0.6 -> 4 units.
    Before: 28 on demand. After: 4 x 0.6 x 4 = 9.6 plus (6 + 6) on demand = 21.6."""
    problem = PurchaseProblem(np.array([[10.0], [10.0], [4.0], [4.0]]), (K,), np.array([1.0]),
                              (unit("ri", {K: 1.0}, hourly=0.6),))
    plan = make_plan(problem, solution(ri=4.6), window_start=START)

    (action,) = plan.actions
    assert action.kind is ActionKind.PURCHASE
    assert (action.offering_id, action.quantity) == ("ri", 4.0)
    assert action.hourly_cost == pytest.approx(2.4)
    assert action.amortized_hourly_cost == pytest.approx(2.4)
    assert action.upfront_cost == 0.0
    assert plan.window_start == START and plan.window_hours == 4
    assert plan.on_demand_equivalent == pytest.approx(28.0)
    assert plan.cost_before == pytest.approx(28.0)
    assert plan.cost_after == pytest.approx(21.6)
    assert plan.esr_before == 0.0
    assert plan.esr_after == pytest.approx(1 - 21.6 / 28)
    assert plan.monthly_commitment == pytest.approx(2.4 * HOURS_PER_MONTH)
    assert plan.solver_status == "Optimal"
    assert action.reason.startswith("covers 4 units of m4, fully used in 100% of hours; "
                                    "amortized $0.6000/unit-h vs on-demand $1.0000")


def test_owned_commitments_are_billed_before_and_after() -> None:
    """3 RIs owned on usage [10, 10, 4, 4]: before 3 x 0.6 x 4 + (7 + 7 + 1 + 1) = 23.2;
    the LP buys 1 more: after 4 x 0.6 x 4 + 12 = 21.6."""
    ri = unit("ri", {K: 1.0}, hourly=0.6)
    problem = PurchaseProblem(np.array([[10.0], [10.0], [4.0], [4.0]]), (K,), np.array([1.0]),
                              (ri,), owned=(ri,), owned_quantity=np.full((4, 1), 3.0))
    plan = make_plan(problem, optimize_purchases(problem), window_start=START)

    assert [(a.offering_id, a.quantity) for a in plan.actions] == [("ri", 1.0)]
    assert plan.cost_before == pytest.approx(23.2)
    assert plan.cost_after == pytest.approx(21.6)
    assert plan.expected_savings == pytest.approx(1.6)


def test_all_upfront_purchase_counts_its_cash() -> None:
    au = unit("au", {K: 1.0}, upfront=0.5 * 8760)
    problem = PurchaseProblem(np.full((4, 1), 10.0), (K,), np.array([1.0]), (au,))
    plan = make_plan(problem, optimize_purchases(problem), window_start=START)

    assert plan.upfront_cash == pytest.approx(10 * 0.5 * 8760)
    assert plan.monthly_commitment == pytest.approx(10 * 0.5 * HOURS_PER_MONTH)
    assert plan.cost_after == pytest.approx(20.0)


def test_savings_plan_reason_names_dollars_per_hour() -> None:
    problem = PurchaseProblem(np.array([[2.0, 5.0], [2.0, 0.0]]), (K, K2), np.array([1.0, 1.0]),
                              (spend("sp", {K: 0.5, K2: 0.8}),))
    plan = make_plan(problem, optimize_purchases(problem), window_start=START)

    (action,) = plan.actions
    assert action.quantity == 1.0
    assert action.reason.startswith("commits $1.00/h to 2 keys of c5, m4, fully used in 100% "
                                    "of hours, covering 2.0 units/h on average")
    assert plan.cost_after == pytest.approx(7.0)


def test_nothing_bought_leaves_the_cost_unchanged() -> None:
    problem = PurchaseProblem(np.array([[1.0], [0.0]]), (K,), np.array([1.0]),
                              (unit("ri", {K: 1.0}, hourly=0.6),))
    plan = make_plan(problem, solution(ri=0.4), window_start=START)

    assert plan.actions == ()
    assert plan.cost_after == plan.cost_before == pytest.approx(1.0)
    assert plan.upfront_cash == 0 and plan.monthly_commitment == 0
