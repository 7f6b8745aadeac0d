"""Plans from the stochastic LP: rounding, tranches, explanations, reconciliation, certificate."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from lp_factories import daily_usage, grid, spend, unit

from core.billing import bill, summarize
from core.domain import ActionKind, Commitment
from optimizer.risk_settings import RiskSettings
from optimizer.stochastic import (
    OwnedCommitment,
    ScenarioSet,
    StochasticProblem,
    build_model,
    owned_from,
    solve,
)
from optimizer.stochastic_plan import make_portfolio_plan

A = "aws/1/ec2/us-east-1/m4/linux/shared"
B = "aws/1/ec2/us-east-1/c5/linux/shared"
NOW = datetime(2024, 6, 1, tzinfo=UTC)
NEUTRAL = RiskSettings(cvar_weight=0.0)


def plan_for(problem: StochasticProblem):  # type: ignore[no-untyped-def]
    """Build, solve and make the plan."""
    model = build_model(problem)
    return make_portfolio_plan(model, solve(model), window_start=NOW)


def constant(level: float, hours: int = 24) -> ScenarioSet:
    return ScenarioSet(np.full((1, hours, 1), level), (A,))


def test_purchases_are_rounded_down_and_the_tranche_rule_applies() -> None:
    """Usage of 10.6 units/h: the LP buys 10.6 RI units, the plan 10 (whole units, rounded
    down); with a tranche of one half, 5.3 rounded down: 5."""
    ri = unit("ri", {A: 1.0}, hourly=0.6)
    whole = plan_for(StochasticProblem(constant(10.6), np.array([1.0]), (ri,), policy=NEUTRAL))
    assert [a.quantity for a in whole.plan.actions] == [10.0]

    half = plan_for(StochasticProblem(constant(10.6), np.array([1.0]), (ri,),
                                      policy=RiskSettings(cvar_weight=0.0,
                                                            tranche_fraction=0.5)))
    assert [a.quantity for a in half.plan.actions] == [5.0]


def test_a_purchase_explains_its_coverage_utilisation_break_even_and_savings() -> None:
    """10 units/h at $1; an all-upfront RI at $0.60/h amortized over a 1,000 h term
    (upfront $600 a unit). Over the 24 h horizon: covers 10 units/h, fully used, saves
    (1 - 0.60) · 10 · 24 = $96 in every scenario; it repays its $600 upfront at $1/h
    of on-demand avoided per unit: after 600 hours."""
    ri = unit("ri-au", {A: 1.0}, upfront=600.0, term_hours=1000)
    result = plan_for(StochasticProblem(constant(10.0), np.array([1.0]), (ri,), policy=NEUTRAL))
    (action,) = result.plan.actions
    why = action.explanation
    assert action.kind is ActionKind.PURCHASE and action.cash_effect == pytest.approx(6000.0)
    assert why is not None
    assert why.covered_units_per_hour == pytest.approx(10.0)
    assert why.expected_utilisation == pytest.approx(1.0)
    assert why.savings_median == pytest.approx(96.0)
    assert why.savings_bad == pytest.approx(96.0)
    assert why.break_even_hours == pytest.approx(600.0)
    assert "breaks even after 0.8 months" in action.reason


def test_bad_scenario_savings_are_below_the_median() -> None:
    """Scenarios of 10 units and of 4: a plan sized for 10 saves less in the low one."""
    usage = np.stack([np.full((24, 1), level) for level in (10, 10, 10, 10, 4)])
    result = plan_for(StochasticProblem(ScenarioSet(usage, (A,)), np.array([1.0]),
                                        (spend("sp", {A: 0.3}),), policy=NEUTRAL))
    why = result.plan.actions[0].explanation
    assert why is not None
    assert why.savings_bad < why.savings_median
    assert why.expected_utilisation < 1.0


def idle_plan_and_convertible(policy: RiskSettings) -> StochasticProblem:
    """Key A's usage stopped, B runs 10 units/h: a $5/h Savings Plan of A bought a day ago
    (upfront $100 a unit, term 200 h) and 5 convertible RIs of A ($0.60/h) are owned; the
    candidate is a convertible RI of B at $0.30/h."""
    sp = spend("sp", {A: 0.5}, upfront_fraction=0.5, term_hours=200)
    conv_a = unit("ri-conv/m4", {A: 1.0}, hourly=0.6)
    conv_b = unit("ri-conv/c5", {B: 1.0}, hourly=0.3)
    usage = np.zeros((1, 48, 2))
    usage[0, :, 1] = 10.0
    owned = (OwnedCommitment(sp, 5.0, hours_left=176, age_hours=24, commitment_id="sp-1"),
             OwnedCommitment(conv_a, 5.0, hours_left=4000, age_hours=400, commitment_id="ri-1"))
    return StochasticProblem(ScenarioSet(usage, (A, B)), np.array([1.0, 1.0]), (conv_b,),
                             owned=owned, policy=policy)


def test_returns_and_exchanges_are_actions_with_their_cash_effect() -> None:
    """A $5/h Savings Plan bought a day ago (upfront $100 a unit) on a key whose usage
    stopped: returned with its upfront refunded. A convertible RI of A exchanged for
    convertible RIs of B at value parity (5 units at $0.60 → 10 at $0.30: no true-up)."""
    result = plan_for(idle_plan_and_convertible(NEUTRAL))
    kinds = {a.kind: a for a in result.plan.actions}
    assert set(kinds) == {ActionKind.RETURN, ActionKind.EXCHANGE}
    returned = kinds[ActionKind.RETURN]
    assert returned.commitment_id == "sp-1"
    assert returned.cash_effect == pytest.approx(-5.0 * 0.5 * 200)
    exchanged = kinds[ActionKind.EXCHANGE]
    assert (exchanged.commitment_id, exchanged.quantity) == ("ri-1", 5.0)
    assert (exchanged.target_offering_id, exchanged.target_quantity) == ("ri-conv/c5", 10.0)
    assert exchanged.cash_effect == pytest.approx(0.0)
    assert returned.explanation is not None and returned.explanation.savings_median > 0
    assert result.plan.cost_after < result.plan.cost_before
    # Fields the database's action rows do not hold travel in the plan's JSON details.
    details = json.loads(json.dumps(dict(result.plan.details)))
    assert {a["kind"] for a in details["actions"]} == {"return", "exchange"}
    assert {a["commitment_id"] for a in details["actions"]} == {"sp-1", "ri-1"}


def test_plan_reconciles_with_the_billing_engine_on_the_same_portfolio() -> None:
    """The plan's before/after costs are the mean over scenarios of what core.billing.bill
    charges the dated commitments (owned, and owned + bought) over the horizon."""
    g = grid(accounts=1, families=("m4", "c5"))
    n_keys = len(g.key_ids)
    hours = 96
    usage = np.stack([daily_usage(n_keys, hours, seed=s) for s in range(4)])
    candidates = tuple(o for o in g.offerings if o.term_hours == 8760)
    owned_commitment = Commitment(g.offerings[0], 30.0, NOW - timedelta(hours=8700))
    problem = StochasticProblem(ScenarioSet(usage, g.key_ids), g.rates, candidates,
                                owned=owned_from([owned_commitment], NOW),
                                policy=RiskSettings(representative_hours=48))
    result = plan_for(problem)
    plan = result.plan
    assert any(a.kind is ActionKind.PURCHASE for a in plan.actions)

    bought = [Commitment(candidates[p.index], p.quantity, NOW)
              for p in result.decision.purchases]
    before, after = [], []
    for s in range(usage.shape[0]):
        before.append(summarize(bill(usage[s], g.key_ids, g.rates, [owned_commitment], NOW)))
        after.append(summarize(bill(usage[s], g.key_ids, g.rates,
                                    [owned_commitment, *bought], NOW)))
    assert plan.cost_before == pytest.approx(np.mean([b.total_cost for b in before]))
    assert plan.cost_after == pytest.approx(np.mean([a.total_cost for a in after]))
    assert plan.on_demand_equivalent == pytest.approx(
        np.mean([a.on_demand_equivalent for a in after]))
    # Each purchase's savings are its share of the bill: covered on-demand minus its cost.
    for action, column in zip(plan.actions, result.evaluation.new_columns, strict=True):
        why = action.explanation
        assert why is not None
        shares = [a.by_commitment[column].covered_on_demand - a.by_commitment[column]
                  .commitment_cost for a in after]
        assert why.savings_median == pytest.approx(float(np.median(shares)))


def test_the_certificate_bounds_the_plan_from_below() -> None:
    """The LP's optimum never exceeds the billed plan's price under the same objective, and
    with fractional-free usage and no rounding loss the gap is small."""
    g = grid(accounts=1, families=("m4", "c5"))
    usage = np.stack([daily_usage(len(g.key_ids), 168, seed=s) * 10 for s in range(3)])
    candidates = tuple(o for o in g.offerings if o.term_hours == 8760)
    problem = StochasticProblem(ScenarioSet(usage, g.key_ids), g.rates, candidates,
                                policy=RiskSettings(representative_hours=72))
    certificate = plan_for(problem).certificate
    assert certificate.lower_bound <= certificate.plan_price * (1 + 1e-9)
    assert 0.0 <= certificate.gap < 0.01


def test_the_certificate_holds_with_the_waste_term() -> None:
    """With waste aversion the bound and the price both carry κ E[idle commitment]: the
    price from the billing engine's own use of each commitment."""
    g = grid(accounts=1, families=("m4", "c5"))
    usage = np.stack([daily_usage(len(g.key_ids), 168, seed=s) * 10 for s in range(3)])
    candidates = tuple(o for o in g.offerings if o.term_hours == 8760)
    plain = RiskSettings(representative_hours=None)
    averse = RiskSettings(representative_hours=None, waste_weight=1.0)
    results = {}
    for policy in (plain, averse):
        problem = StochasticProblem(ScenarioSet(usage, g.key_ids), g.rates, candidates,
                                    policy=policy)
        results[policy.waste_weight] = plan_for(problem)
    certificate = results[1.0].certificate
    assert certificate.lower_bound <= certificate.plan_price * (1 + 1e-9)
    assert 0.0 <= certificate.gap < 0.01
    # The term is in both: the averse bound is above the plain one by at least the waste
    # the averse plan still leaves, and its plan commits less.
    assert certificate.lower_bound > results[0.0].certificate.lower_bound
    assert results[1.0].plan.cost_after >= results[0.0].plan.cost_after - 1e-9
    committed = {w: sum(p.quantity * p.offering.amortized_hourly
                        for p in r.decision.purchases) for w, r in results.items()}
    assert committed[1.0] < committed[0.0]


def test_the_certificate_is_for_the_lp_solution_and_the_tranche_is_priced_beside_it() -> None:
    """Buying half the increment per run does not loosen the certificate: it certifies
    the LP's own (rounded) solution, the same as when the whole is bought; the half
    bought is priced under the same objective in ``tranche_price``."""
    g = grid(accounts=1, families=("m4", "c5"))
    usage = np.stack([daily_usage(len(g.key_ids), 168, seed=s) * 10 for s in range(3)])
    candidates = tuple(o for o in g.offerings if o.term_hours == 8760)
    results = {}
    for fraction in (1.0, 0.5):
        policy = RiskSettings(representative_hours=72, tranche_fraction=fraction)
        problem = StochasticProblem(ScenarioSet(usage, g.key_ids), g.rates, candidates,
                                    policy=policy)
        results[fraction] = plan_for(problem)
    whole, half = results[1.0], results[0.5]
    assert half.certificate.plan_price == pytest.approx(whole.certificate.plan_price)
    assert half.certificate.gap < 0.01
    assert whole.plan.details["tranche_price"] == pytest.approx(whole.certificate.plan_price)
    assert half.plan.details["tranche_price"] > half.certificate.plan_price
    assert sum(p.quantity for p in half.decision.purchases) \
        < sum(p.quantity for p in whole.decision.purchases)


def test_the_certificate_carries_the_switching_hurdle_and_the_billed_costs_do_not() -> None:
    """The case above with a 2% switching cost and waste aversion: the return and the
    exchange still pay (they save far more than 2%), the bound stays below the price, and
    the LP's scenario costs are what the billing engine charges, without the hurdle."""
    policy = RiskSettings(cvar_weight=0.0, switching_cost=0.02, waste_weight=0.5,
                            representative_hours=None)
    model = build_model(idle_plan_and_convertible(policy))
    solution = solve(model)
    result = make_portfolio_plan(model, solution, window_start=NOW)
    assert {a.kind for a in result.plan.actions} == {ActionKind.RETURN, ActionKind.EXCHANGE}
    # (The objective is negative here: the waste term credits the owned RI's used hours.)
    bound, price = result.certificate.lower_bound, result.certificate.plan_price
    assert bound <= price + 1e-9 * abs(price)
    assert bound == pytest.approx(price, rel=1e-6)
    assert 0.0 <= result.certificate.gap < 1e-6
    assert solution.expected_cost == pytest.approx(result.plan.cost_after)
