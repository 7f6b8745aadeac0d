"""The stochastic LP: structure, one hand-solved case per decision, typed errors, invariants."""

from __future__ import annotations

import numpy as np
import pytest
from lp_factories import spend, unit

from core.domain import PaymentOption
from core.errors import InvalidInput, SolverError
from optimizer.linear_model import LinearModelBuilder, solve_highs, to_highs
from optimizer.risk_settings import RiskSettings
from optimizer.stochastic import (
    Decided,
    OwnedCommitment,
    ScenarioSet,
    StochasticProblem,
    build_model,
    can_exchange,
    objective_at,
    optimize,
    solve,
)

A = "aws/1/ec2/us-east-1/m4/linux/shared"
B = "aws/1/ec2/us-east-1/c5/linux/shared"
B_WEST = "aws/1/ec2/us-west-2/c5/linux/shared"
NEUTRAL = RiskSettings(cvar_weight=0.0)


def flat(levels: list[float], hours: int = 24, keys: int = 1) -> ScenarioSet:
    """Scenarios of constant usage: scenario s has ``levels[s]`` units on every key and hour."""
    usage = np.array(levels, dtype=float)[:, None, None] * np.ones((1, hours, keys))
    return ScenarioSet(usage, (A, B)[:keys])


def problem(scenarios: ScenarioSet, *offerings: object, rates: tuple[float, ...] = (1.0,),
            policy: RiskSettings = NEUTRAL, **extra: object) -> StochasticProblem:
    """A problem with on-demand ``rates`` per key and the offerings as candidates."""
    return StochasticProblem(scenarios, np.array(rates), tuple(offerings),  # type: ignore[arg-type]
                             policy=policy, **extra)  # type: ignore[arg-type]


# --- structure --------------------------------------------------------------------------


def test_tiny_model_counts_and_names() -> None:
    """One key, two scenarios of constant usage (10 and 6), 4 hours kept whole, one RI:
    buy[0]; per scenario and hour one coverage variable (8) and one capacity row (8);
    a single pattern covers the key, so no usage row (the bound on y is enough)."""
    model = build_model(problem(flat([10, 6], hours=4), unit("ri", {A: 1.0}, hourly=0.6)))

    assert model.n_variables == 1 + 8
    assert model.n_constraints == 8
    names = model.program.column_names() + model.program.row_names()
    assert len(set(names)) == len(names)
    assert {f.name for f in model.program.variables} == {"buy", "coverage"}
    assert {f.name for f in model.program.constraints} == {"capacity"}


def test_cvar_adds_eta_xi_and_one_tail_row_per_scenario() -> None:
    policy = RiskSettings(cvar_weight=0.5)
    model = build_model(problem(flat([10, 6, 3], hours=4), unit("ri", {A: 1.0}, hourly=0.6),
                                policy=policy))
    assert model.program.family("xi").size == 3
    assert model.program.family("eta").size == 1
    assert model.program.family("tail").size == 3


# --- hand-solved decisions --------------------------------------------------------------


def test_ri_versus_savings_plan_at_known_prices() -> None:
    """Usage 10 units/h at $1. An RI covers a unit for $0.60/h; a Savings Plan covers a
    unit for $0.55 of commitment. Cheaper coverage wins: $5.50/h of the plan, no RI.
    With the RI at $0.50/h the RI wins: 10 units."""
    sp = spend("sp", {A: 0.55})
    solution = optimize(problem(flat([10]), unit("ri", {A: 1.0}, hourly=0.60), sp))
    assert dict(solution.quantities) == pytest.approx({"sp": 5.5})

    solution = optimize(problem(flat([10]), unit("ri", {A: 1.0}, hourly=0.50), sp))
    assert dict(solution.quantities) == pytest.approx({"ri": 10.0})


def test_ec2_instance_plan_for_its_family_compute_plan_for_the_rest() -> None:
    """Keys A and B, 10 units/h each at $1. The EC2 Instance SP covers only A at $0.60 a
    unit; the Compute SP covers A and B at $0.70. Optimal: $6/h of EC2 SP for A (0.60 <
    0.70) and $7/h of Compute SP for B."""
    ec2 = spend("sp-ec2", {A: 0.60}, order=10)
    compute = spend("sp-compute", {A: 0.70, B: 0.70}, order=20)
    solution = optimize(problem(flat([10], keys=2), ec2, compute, rates=(1.0, 1.0)))
    assert dict(solution.quantities) == pytest.approx({"sp-ec2": 6.0, "sp-compute": 7.0})


def test_risk_neutral_buys_up_to_the_level_that_pays_in_expectation() -> None:
    """Scenarios of 10 and 6 units (each p = 0.5), a plan at $0.55 per unit covered.
    A unit up to 6 saves 1 - 0.55 in both; from 6 to 10 it saves 0.5·1 - 0.55 < 0:
    buy $3.30/h. Cost over 24 h: 24 · (3.30 + 0.5 · 4) = 127.2."""
    solution = optimize(problem(flat([10, 6]), spend("sp", {A: 0.55})))
    assert dict(solution.quantities) == pytest.approx({"sp": 3.3})
    assert solution.objective == pytest.approx(127.2)
    assert solution.expected_cost == pytest.approx(127.2)


def test_cvar_of_the_loss_sizes_for_the_scenario_where_usage_falls() -> None:
    """Scenarios of 10, 6 and 2 units (p = 1/3 each), a plan at $0.55 per unit covered.
    Risk neutral: a unit between 2 and 6 saves in two scenarios of three (2/3 > 0.55), one
    above 6 in one (1/3 < 0.55): $3.30/h. With all weight on the CVaR of the loss at
    α = 2/3 (the worst third: the 2-unit scenario, where committed units go to waste) only
    the 2 units used everywhere are bought: $1.10/h. Its objective over 24 h is
    E[on-demand equivalent] + CVaR(loss) = 24·6 + 24·(1.10 − 2) = 122.4, its expected cost
    24·(1.10 + 6 − 2) = 122.4 too; the neutral plan's expected cost is lower, 111.2."""
    sp = spend("sp", {A: 0.55})
    neutral = optimize(problem(flat([10, 6, 2]), sp))
    assert dict(neutral.quantities) == pytest.approx({"sp": 3.3})
    assert neutral.expected_cost == pytest.approx(111.2)

    cautious = optimize(problem(flat([10, 6, 2]), sp,
                                policy=RiskSettings(cvar_weight=1.0, cvar_alpha=2 / 3)))
    assert dict(cautious.quantities) == pytest.approx({"sp": 1.1})
    assert cautious.objective == pytest.approx(122.4)
    assert cautious.expected_cost == pytest.approx(122.4)
    assert cautious.cvar_loss == pytest.approx(24 * (1.1 - 2))


def test_one_year_versus_three_years_under_a_known_decline() -> None:
    """Horizon 100 h of 10 units/h; a "1y" of 100 h at $0.80/h, a "3y" of 300 h at $0.60/h.
    No decline: the 3y is cheaper. At δ = 0.01/h, g(T) = (1 - e^{-δT}) / (δT) gives
    g(100) = 0.632, g(300) = 0.317, so the 3y's price is 0.60 · 0.632 / 0.317 = 1.197 > 0.80:
    the 1y. At δ = 0.001/h the factor is 0.952 / 0.864 = 1.10: 0.66 < 0.80, still the 3y."""
    one = unit("ri-1y", {A: 1.0}, hourly=0.80, term_hours=100)
    three = unit("ri-3y", {A: 1.0}, hourly=0.60, term_hours=300)
    scenarios = flat([10], hours=100)
    for decline, chosen in ((0.0, "ri-3y"), (0.01, "ri-1y"), (0.001, "ri-3y")):
        solution = optimize(problem(scenarios, one, three, decline=np.array([decline])))
        assert dict(solution.quantities) == pytest.approx({chosen: 10.0}), decline


def test_a_pooled_decline_overrides_the_keys_own_rates() -> None:
    """The same 1y/3y choice with δ = 0.01/h learned per key: the 3y loses; when the
    pool the offering covers does not decline (usage moved between its keys), it wins."""
    one = unit("ri-1y", {A: 1.0}, hourly=0.80, term_hours=100)
    three = unit("ri-3y", {A: 1.0}, hourly=0.60, term_hours=300)
    scenarios = flat([10], hours=100)
    declining = problem(scenarios, one, three, decline=np.array([0.01]))
    assert dict(optimize(declining).quantities) == pytest.approx({"ri-1y": 10.0})
    pooled = problem(scenarios, one, three, decline=np.array([0.01]),
                     pool_decline={"ri-3y": 0.0, "ri-1y": 0.0})
    assert pooled.price(three, 300) == pytest.approx(0.60)
    assert dict(optimize(pooled).quantities) == pytest.approx({"ri-3y": 10.0})


def test_upfront_versus_no_upfront_at_a_cost_of_capital() -> None:
    """A 1-year RI at $0.62/h no upfront, or all upfront at $0.60/h amortized. Interest on
    half the upfront on average: 0.60 · (1 + i/2) per hour, above 0.62 once i > 6.7%."""
    term = 8760
    no_upfront = unit("ri-nu", {A: 1.0}, hourly=0.62, term_hours=term)
    all_upfront = unit("ri-au", {A: 1.0}, upfront=0.60 * term, term_hours=term)
    for rate, chosen in ((0.0, "ri-au"), (0.05, "ri-au"), (0.10, "ri-nu")):
        policy = RiskSettings(cvar_weight=0.0, cost_of_capital=rate)
        solution = optimize(problem(flat([10]), no_upfront, all_upfront, policy=policy))
        assert dict(solution.quantities) == pytest.approx({chosen: 10.0}), rate


def test_a_term_shorter_than_the_horizon_counts_only_for_its_term() -> None:
    """A 10-hour RI at $0.60 in a 24-hour horizon of 10 units/h: buy 10; it covers hours
    0-9 only. Cost 10 · 0.60 · 10 + 14 h · 10 units on demand = 60 + 140 = 200 (not
    planning ahead). Planning ahead, the LP also plans 10 units at hour 10, active 10-19:
    60 + 60 + 4 h · 10 on demand = 160."""
    ri = unit("ri", {A: 1.0}, hourly=0.6, term_hours=10)
    myopic = optimize(problem(flat([10]), ri, policy=RiskSettings(cvar_weight=0.0,
                                                                    plan_ahead=False)))
    assert dict(myopic.quantities) == pytest.approx({"ri": 10.0})
    assert myopic.objective == pytest.approx(200.0)

    ahead = optimize(problem(flat([10]), ri))
    assert dict(ahead.quantities) == pytest.approx({"ri": 10.0})
    assert [(p.hour, p.quantity) for p in ahead.planned] == [(10, pytest.approx(10.0))]
    assert ahead.objective == pytest.approx(160.0)


def test_an_owned_commitment_counts_only_until_it_expires() -> None:
    """10 units/h; 10 owned RI units expire after h hours; a new RI at $0.60/h bought now is
    paid all 24 hours but only saves the 24 - h hours after the expiry: a unit saves 24 - h
    dollars for 14.40. Without planning ahead: with h = 12 that is 12 < 14.4, nothing; with
    h = 6, 18 > 14.4, 10 units now. Planning ahead, the LP sees that a purchase at the
    expiry pays 0.60 for every hour it saves 1: nothing now, 10 units planned at hour h."""
    ri = unit("ri", {A: 1.0}, hourly=0.6, term_hours=8760)
    myopic = RiskSettings(cvar_weight=0.0, plan_ahead=False)
    for left, bought in ((12, 0.0), (6, 10.0)):
        owned = (OwnedCommitment(ri, 10.0, hours_left=left, age_hours=1000),)
        solution = optimize(problem(flat([10]), ri, owned=owned, policy=myopic))
        assert solution.quantities.get("ri", 0.0) == pytest.approx(bought), left

        ahead = optimize(problem(flat([10]), ri, owned=owned))
        assert dict(ahead.quantities) == {}
        assert [(p.hour, p.offering_id, p.quantity) for p in ahead.planned] == [
            (left, "ri", pytest.approx(10.0))]
        assert ahead.objective == pytest.approx(24 * 10 * 0.6)


def test_no_purchase_is_planned_after_the_offering_leaves_the_menu() -> None:
    """As above with the owned units expiring at hour 6: planning ahead, the LP buys nothing
    now and plans 10 units at hour 6. If the RI can be bought only until hour 5 (a
    backtest's menu drops a term that would end after the trace), that plan is not
    possible: buying now saves 18 > 14.40 per unit, so 10 units now, nothing planned.
    Until hour 6 the plan is allowed again."""
    ri = unit("ri", {A: 1.0}, hourly=0.6, term_hours=8760)
    owned = (OwnedCommitment(ri, 10.0, hours_left=6, age_hours=1000),)
    for last, now, planned in ((None, {}, [(6, 10.0)]), (5, {"ri": 10.0}, []),
                               (0, {"ri": 10.0}, []), (6, {}, [(6, 10.0)])):
        menu = None if last is None else {"ri": last}
        solution = optimize(problem(flat([10]), ri, owned=owned, last_purchase=menu))
        assert dict(solution.quantities) == pytest.approx(now), last
        assert [(p.hour, p.quantity) for p in solution.planned] == [
            (h, pytest.approx(q)) for h, q in planned], last


def test_an_exchange_that_pays() -> None:
    """Key A fell to 5 units/h, B runs 10 units/h on demand. 10 owned convertible RI units
    of A ($0.60/h each) can become convertible RIs of B at $0.30/h: value parity gives 2
    new units per old one, so the 5 units A no longer uses become the 10 B needs, at no
    extra cost. Cost: 10 · 0.60 · 48 = 288, all sunk; without the exchange 288 + 480."""
    conv_a = unit("ri-conv/m4", {A: 1.0}, hourly=0.6, term_hours=8760)
    conv_b = unit("ri-conv/c5", {B: 1.0}, hourly=0.3, term_hours=8760)
    usage = np.zeros((1, 48, 2))
    usage[0, :, 0] = 5.0
    usage[0, :, 1] = 10.0
    owned = (OwnedCommitment(conv_a, 10.0, hours_left=5000, age_hours=500, commitment_id="c1"),)
    solution = optimize(problem(ScenarioSet(usage, (A, B)), conv_b, rates=(1.0, 1.0),
                                owned=owned))
    assert len(solution.exchanges) == 1
    exchange = solution.exchanges[0]
    assert (exchange.target, exchange.receive) == ("ri-conv/c5", pytest.approx(10.0))
    assert exchange.give == pytest.approx(5.0)
    assert solution.objective == pytest.approx(288.0)


def test_no_exchange_across_regions_or_from_a_standard_ri() -> None:
    conv_a = unit("ri-conv/m4", {A: 1.0}, hourly=0.6)
    assert not can_exchange(conv_a, unit("ri-conv/c5-west", {B_WEST: 1.0}, hourly=0.3))
    assert not can_exchange(unit("ri-std/m4", {A: 1.0}, hourly=0.5),
                            unit("ri-conv/c5", {B: 1.0}, hourly=0.3))
    assert can_exchange(conv_a, unit("ri-conv/c5", {B: 1.0}, hourly=0.3))


def test_a_return_that_pays_inside_the_window_only() -> None:
    """A $5/h Savings Plan bought 48 h ago, and the forecast collapsed to zero: returning it
    saves 5 · 48 over the horizon. Bought 500 h ago it is past the 168 h window: kept."""
    sp = spend("sp", {A: 0.5})
    scenarios = ScenarioSet(np.zeros((2, 48, 1)), (A,))
    for age, returned in ((48, {0: 5.0}), (500, {})):
        owned = (OwnedCommitment(sp, 5.0, hours_left=8000, age_hours=age),)
        solution = optimize(problem(scenarios, owned=owned))
        assert dict(solution.returns) == pytest.approx(returned), age
        assert solution.objective == pytest.approx(0.0 if returned else 240.0)


def test_a_switching_cost_keeps_a_commitment_that_a_near_equal_one_would_replace() -> None:
    """A $5/h Savings Plan bought 48 h ago covers 10 units of $1 fully. Another covers them
    for $4.95/h: 1% cheaper. Without a hurdle the LP returns the first and buys the second
    (4.95 · 48 = 237.6 against 240). With a switching cost of 2% the return saves only
    0.98 · 240 = 235.2 against 237.6 for the new plan: it keeps what it owns."""
    owned = (OwnedCommitment(spend("sp", {A: 0.5}), 5.0, hours_left=8000, age_hours=48),)
    cheaper = spend("sp2", {A: 0.495})
    for cost, returned, bought, objective in ((0.0, {0: 5.0}, {"sp2": 4.95}, 237.6),
                                              (0.02, {}, {}, 240.0)):
        policy = RiskSettings(cvar_weight=0.0, switching_cost=cost)
        solution = optimize(problem(flat([10], hours=48), cheaper, owned=owned, policy=policy))
        assert dict(solution.returns) == pytest.approx(returned), cost
        assert dict(solution.quantities) == pytest.approx(bought), cost
        assert solution.objective == pytest.approx(objective), cost


def test_a_utilisation_floor_keeps_commitment_below_the_troughs_it_would_waste() -> None:
    """Usage 10 units in 8 hours of 10 and 5 in the other 2; an RI at $0.50. Risk neutral:
    a unit between 5 and 10 is used 80% of the time and saves 0.8 > 0.5: buy 10, used
    (2·5 + 8·10) / 100 = 90%. With a floor of 95%: (2·5 + 8·c) / (10·c) ≥ 0.95 gives
    c ≤ 10 / 1.5 = 6.67 units."""
    usage = np.array([10.0] * 8 + [5.0] * 2)[None, :, None]
    scenarios = ScenarioSet(usage, (A,))
    ri = unit("ri", {A: 1.0}, hourly=0.5)
    neutral = optimize(problem(scenarios, ri, policy=RiskSettings(cvar_weight=0.0,
                                                                    representative_hours=None)))
    assert dict(neutral.quantities) == pytest.approx({"ri": 10.0})
    floored = optimize(problem(scenarios, ri, policy=RiskSettings(
        cvar_weight=0.0, representative_hours=None, min_utilisation=0.95)))
    assert dict(floored.quantities) == pytest.approx({"ri": 10 / 1.5})


def test_waste_aversion_raises_the_usage_a_unit_must_have_to_be_bought() -> None:
    """Usage 10 units in 7 of 10 hours and 5 in the other 3; an RI at $0.60, on demand $1.
    A unit between 5 and 10 is used 70% of the hours: it pays risk neutral (0.7 ≥ 0.6), not
    at waste weight κ = 1, where it must be used (1 + κ) 0.6 / (1 + κ 0.6) = 75% of them.
    The units up to 5, always used, are bought either way. At κ = 0.5 the bar is
    0.9 / 1.3 = 69%: bought again."""
    usage = np.array([10.0] * 7 + [5.0] * 3)[None, :, None]
    scenarios = ScenarioSet(usage, (A,))
    ri = unit("ri", {A: 1.0}, hourly=0.6)
    for weight, bought in ((0.0, 10.0), (1.0, 5.0), (0.5, 10.0)):
        policy = RiskSettings(cvar_weight=0.0, representative_hours=None, waste_weight=weight)
        solution = optimize(problem(scenarios, ri, policy=policy))
        assert dict(solution.quantities) == pytest.approx({"ri": bought}), weight
        # Scenario costs are what is billed, without the waste term: 10 units cost 60 and
        # leave 15 unit-hours idle; 5 units cost 30, with 35 unit-hours on demand.
        assert solution.expected_cost == pytest.approx(60.0 if bought == 10.0 else 65.0)


def test_the_waste_term_is_the_idle_commitment_valued_at_the_pattern_price() -> None:
    """At κ = 1 in the case above, 10 units would be billed 60 and leave 15 unit-hours idle,
    worth 9 at $0.60: 69 in the objective; 5 units are billed 65 and leave nothing idle."""
    usage = np.array([10.0] * 7 + [5.0] * 3)[None, :, None]
    ri = unit("ri", {A: 1.0}, hourly=0.6)
    policy = RiskSettings(cvar_weight=0.0, representative_hours=None, waste_weight=1.0)
    solution = optimize(problem(ScenarioSet(usage, (A,)), ri, policy=policy))
    assert solution.objective == pytest.approx(65.0)
    forced = optimize(problem(ScenarioSet(usage, (A,)), ri, policy=policy,
                              owned=(OwnedCommitment(ri, 10.0, hours_left=10),)))
    assert forced.quantities == {}
    # Owned units are sunk (K = 60, no waste term on K); the used ones earn κ p̂ each:
    # 60 + 0 on demand − 85 unit-hours used × 0.60.
    assert forced.objective == pytest.approx(60.0 - 0.6 * 85)


def test_a_negative_waste_weight_or_a_whole_switching_cost_is_refused() -> None:
    with pytest.raises(ValueError, match="waste_weight"):
        RiskSettings(waste_weight=-0.1)
    with pytest.raises(ValueError, match="switching_cost"):
        RiskSettings(switching_cost=1.0)


def test_caps_limit_new_hourly_commitment() -> None:
    """Without a cap the LP buys $5.50/h; a cap of $2/h amortized binds."""
    policy = RiskSettings(cvar_weight=0.0, max_new_hourly=2.0)
    solution = optimize(problem(flat([10]), spend("sp", {A: 0.55}), policy=policy))
    assert dict(solution.quantities) == pytest.approx({"sp": 2.0})


def test_disallowed_offerings_are_not_bought() -> None:
    policy = RiskSettings(cvar_weight=0.0, allowed_payment_options=(PaymentOption.NO_UPFRONT,))
    all_upfront = unit("ri-au", {A: 1.0}, upfront=0.5 * 8760, term_hours=8760)
    all_upfront = type(all_upfront)(**{**{f: getattr(all_upfront, f) for f in (
        "offering_id", "shape", "term_hours", "upfront", "hourly", "order", "covers")},
        "payment_option": PaymentOption.ALL_UPFRONT})
    no_upfront = unit("ri-nu", {A: 1.0}, hourly=0.62)
    solution = optimize(problem(flat([10]), all_upfront, no_upfront, policy=policy))
    assert dict(solution.quantities) == pytest.approx({"ri-nu": 10.0})


# --- typed errors -----------------------------------------------------------------------


def test_an_unreachable_cvar_bound_is_an_infeasible_lp_and_a_solver_error() -> None:
    """10 units/h at $1 over 24 h: the best plan saves 24 · 10 · 0.45 = 108 against
    on-demand, so a bound asking to save $200 even in the bad scenarios cannot be met."""
    policy = RiskSettings(cvar_weight=0.0, cvar_bound=-200.0)
    with pytest.raises(SolverError, match="Infeasible"):
        optimize(problem(flat([10]), spend("sp", {A: 0.55}), policy=policy))


def test_an_unbounded_program_is_a_solver_error() -> None:
    builder = LinearModelBuilder("unbounded")
    builder.add_variables("x", (np.arange(1),), cost=-1.0)
    with pytest.raises(SolverError, match=r"[Uu]nbounded"):
        solve_highs(to_highs(builder.build()), time_limit_s=10)


def test_a_negative_price_is_rejected_before_it_can_make_the_lp_unbounded() -> None:
    with pytest.raises(InvalidInput, match="negative price"):
        problem(flat([10]), unit("ri", {A: 1.0}, hourly=-0.1))


@pytest.mark.parametrize("usage", [np.zeros((2, 3)), np.full((1, 3, 1), -1.0),
                                   np.full((1, 3, 1), np.nan)])
def test_bad_scenarios_are_invalid_input(usage: np.ndarray) -> None:
    with pytest.raises(InvalidInput):
        ScenarioSet(usage, (A,))


# --- invariants -------------------------------------------------------------------------


def test_pulp_and_highs_routes_agree() -> None:
    rng = np.random.default_rng(3)
    usage = rng.uniform(0, 20, (3, 30, 2))
    offerings = (unit("ri", {A: 1.0}, hourly=0.6, term_hours=20), spend("sp", {A: 0.6, B: 0.7}))
    p = problem(ScenarioSet(usage, (A, B)), *offerings, rates=(1.0, 1.0),
                policy=RiskSettings(cvar_weight=0.3))
    pulp_solution = solve(build_model(p, backend="pulp"))
    highs_solution = solve(build_model(p, backend="highs"))
    assert pulp_solution.objective == pytest.approx(highs_solution.objective, rel=1e-7)


def test_lp_scenario_costs_reproduce_its_objective() -> None:
    """Objective = (1 - λ) E[cost] + λ (E[equivalent] + CVaR[cost - equivalent])."""
    rng = np.random.default_rng(4)
    usage = rng.uniform(0, 20, (5, 30, 2))
    offerings = (unit("ri", {A: 1.0}, hourly=0.6), spend("sp", {A: 0.6, B: 0.7}))
    policy = RiskSettings(cvar_weight=0.4, cvar_alpha=0.8)
    solution = optimize(problem(ScenarioSet(usage, (A, B)), *offerings, rates=(1.0, 1.0),
                                policy=policy))
    equivalent = float(solution.scenario_equivalents.mean())
    assert solution.objective == pytest.approx(
        0.6 * solution.expected_cost + 0.4 * (equivalent + solution.cvar_loss))


# --- the objective at a decision ----------------------------------------------------------


def test_objective_at_prices_a_decision_by_hand() -> None:
    """10 units/h for 24 h at $1 on-demand, an RI at $0.60/h, expected cost alone: 4 units
    bought cost 0.60 · 4 · 24 = $57.60 and leave (10 − 4) · 24 = $144 billed on-demand, so
    the objective at that decision is $201.60, whatever the LP itself would buy."""
    model = build_model(problem(flat([10]), unit("ri", {A: 1.0}, hourly=0.6)))
    price = objective_at(model, Decided({"ri": 4.0}, {}), on_demand=np.array([144.0]),
                         on_demand_equivalent=np.array([240.0]), bills=())
    assert price == pytest.approx(201.6)


def test_objective_at_the_lps_own_decision_is_its_optimum() -> None:
    """Priced at its own purchases and the on-demand its allocation leaves, the objective
    is the LP's optimum: here all 10 units, $0.60 · 10 · 24 = $144 and no on-demand."""
    model = build_model(problem(flat([10]), unit("ri", {A: 1.0}, hourly=0.6)))
    solution = solve(model)
    decided = Decided(solution.quantities, solution.returns, solution.exchanges,
                      solution.planned)
    on_demand = solution.scenario_costs - model.owned_cost - 0.6 * 24 * solution.quantities["ri"]
    price = objective_at(model, decided, on_demand=on_demand,
                         on_demand_equivalent=solution.scenario_equivalents, bills=())
    assert solution.quantities["ri"] == pytest.approx(10.0)
    assert price == pytest.approx(solution.objective) == pytest.approx(144.0)


def test_objective_at_refuses_a_purchase_the_model_has_no_column_for() -> None:
    """A decision naming an offering that is not a candidate is an error that names it."""
    model = build_model(problem(flat([10]), unit("ri", {A: 1.0}, hourly=0.6)))
    with pytest.raises(InvalidInput, match="'other-ri'"):
        objective_at(model, Decided({"other-ri": 1.0}, {}), on_demand=np.zeros(1),
                     on_demand_equivalent=np.zeros(1), bills=())
