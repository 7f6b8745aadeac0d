"""Scale and accuracy of the stochastic optimizer: build and solve time, certified gap, and the
error of representative hours against the full hourly model on the backtest suite.

Run: ``python -m benchmarks.optimizer`` (``--suite`` adds the representative-hours check on
the suite's decisions, ``--full`` also solves the scale instance hour by hour).

**Scale.** A synthetic fleet: 500 usage keys (100 instance pools of a family in a region,
5 accounts each; keys of one pool share their prices, as at AWS), 40 offerings (Standard
RIs 1y no upfront on 20 pools, Convertible RIs 3y partial upfront on 10, EC2 Instance
Savings Plans 1y on 4, and the Compute Savings Plan in 1y/3y × no/partial/all upfront over
every key), 8 scenarios of a 4-week (672-hour) horizon with daily and weekly cycles, a
shared level shock per scenario and per-key noise; a declining trend on a fifth of the
pools; a cost of capital of 5% and a CVaR weight of 0.2. Reported: the LP's size before
and after the exact reductions, build and solve seconds, and the **certified gap**
``(price − bound) / price``: the bound is the representative-hours LP's optimum (a lower
bound on the full model's, Jensen), the price is the same objective for the rounded plan,
every scenario billed hour by hour by the billing engine.

**Suite.** At decisions of the backtest suite (every trace, the ladder policy's problem
at its first decision and at every seventh after), the representative-hours model and the
full hourly model are both solved; the table gives the difference of their optima (the
representative model's is the lower one) as a share of the full model's expected cost.
The problems are the ladder's own: its CVaR and waste weight, and the menu's end as the
backtest tells it (``--risk-neutral`` solves them on expected cost alone instead).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.domain import Offering, PaymentOption, Shape
from optimizer.ladder_policy import LADDER_POLICY
from optimizer.risk_settings import RiskSettings
from optimizer.stochastic import (
    ScenarioSet,
    StochasticProblem,
    build_model,
    solve,
)
from optimizer.stochastic_plan import make_portfolio_plan

HORIZON = 672
FAMILIES = ("m5", "c5", "r5", "t3", "m6i", "c6i", "r6i", "i3", "d3", "x2")
REGIONS = ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-south-1",
           "ap-northeast-1", "sa-east-1", "ca-central-1", "eu-north-1")
ACCOUNTS = 5
YEAR = 8760
DECLINE = 4e-5
"""Per hour, on a fifth of the pools: about 30% a year."""


def unit_offering(offering_id: str, keys: Sequence[str], price: float, term: int,
                  upfront_share: float, kind: str, order: int) -> Offering:
    """A unit offering of ``keys`` at ``price`` an hour, ``upfront_share`` of it paid up front."""
    payment = (PaymentOption.NO_UPFRONT if upfront_share == 0 else
               PaymentOption.ALL_UPFRONT if upfront_share == 1 else PaymentOption.PARTIAL_UPFRONT)
    return Offering(offering_id, Shape.UNIT, term_hours=term,
                    upfront=price * upfront_share * term, hourly=price * (1 - upfront_share),
                    order=order, covers=dict.fromkeys(keys, 1.0), payment_option=payment,
                    kind=kind)


def scale_instance(seed: int = 0) -> StochasticProblem:
    """The 500-key × 40-offering × 8-scenario × 672-hour instance (see the module docstring)."""
    rng = np.random.default_rng(seed)
    pools = [(f, r) for f in FAMILIES for r in REGIONS]
    pool_rate = {p: 0.02 * (1 + 0.6 * rng.random()) for p in pools}
    key_ids: list[str] = []
    rates: list[float] = []
    pool_keys: dict[tuple[str, str], list[str]] = {}
    for family, region in pools:
        for account in range(ACCOUNTS):
            key = f"aws/{100000 + account}/ec2/{region}/{family}/linux/shared"
            key_ids.append(key)
            rates.append(pool_rate[(family, region)])
            pool_keys.setdefault((family, region), []).append(key)
    offerings: list[Offering] = []
    for i, pool in enumerate(pools[:20]):
        od = pool_rate[pool]
        offerings.append(unit_offering(f"ri-std-1y-nu/{pool[1]}/{pool[0]}", pool_keys[pool],
                               od * 0.62, YEAR, 0.0, "standard_ri", 0))
        if i < 10:
            offerings.append(unit_offering(f"ri-conv-3y-pu/{pool[1]}/{pool[0]}", pool_keys[pool],
                                   od * 0.48, 3 * YEAR, 0.5, "convertible_ri", 1))
        if i < 4:
            offerings.append(Offering.spend(
                f"sp-ec2-1y-nu/{pool[1]}/{pool[0]}", term_hours=YEAR, upfront_fraction=0.0,
                rates=dict.fromkeys(pool_keys[pool], od * 0.64), order=10,
                kind="ec2_instance_sp"))
    for years, discount in ((1, 0.28), (3, 0.48)):
        for share, bonus in ((0.0, 0.0), (0.5, 0.02), (1.0, 0.03)):
            offerings.append(Offering.spend(
                f"sp-compute-{years}y-{share:g}", term_hours=years * YEAR,
                upfront_fraction=share, order=20, kind="compute_sp",
                rates={k: r * (1 - discount - bonus) for k, r in zip(key_ids, rates,
                                                                   strict=True)}))
    assert len(key_ids) == 500 and len(offerings) == 40

    n_keys = len(key_ids)
    t = np.arange(HORIZON)[:, None]
    base = rng.uniform(10, 200, n_keys)
    phase = rng.uniform(0, 24, n_keys)
    shape = (1 + 0.3 * np.sin(2 * np.pi * (t + phase) / 24)) \
        * (1 - 0.15 * ((t // 24) % 7 >= 5))
    declining = rng.random(n_keys) < 0.2
    trend = np.where(declining, np.exp(-DECLINE * t), 1.0)
    scenarios = []
    for _ in range(8):
        level = 1 + 0.12 * rng.standard_normal()
        noise = 1 + 0.08 * rng.standard_normal((HORIZON, n_keys))
        scenarios.append(np.maximum(np.round(base * shape * trend * level * noise), 0.0))
    decline = np.where(declining, DECLINE, 0.0)
    policy = RiskSettings(cvar_weight=0.2, cost_of_capital=0.05, representative_hours=168,
                            waste_weight=LADDER_POLICY.waste_weight)
    return StochasticProblem(ScenarioSet(np.stack(scenarios), tuple(key_ids)), np.array(rates),
                             tuple(offerings), policy=policy, decline=decline)


def run_scale(full: bool) -> list[str]:
    """Build, solve, plan and certify the scale instance; optionally the full hourly model."""
    problem = scale_instance()
    started = time.perf_counter()
    model = build_model(problem, backend="highs")
    solution = solve(model, time_limit_s=600)
    total = time.perf_counter() - started
    plan = make_portfolio_plan(model, solution, window_start=_epoch())
    s, h, k = problem.scenarios.usage.shape
    lines = [
        f"- instance: {k} keys × {len(problem.candidates)} offerings × {s} scenarios × {h} hours "
        f"({k * s * h:,} key-scenario-hours); {os.cpu_count()} cores",
        f"- after exact reductions: {model.key_groups.n_groups} merged keys, "
        f"{int(model.columns.kept.size)} purchase columns; {model.representative.n_hours} "
        f"representative hours",
        f"- LP: {model.n_variables:,} variables, {model.n_constraints:,} constraints, "
        f"{model.program.a_value.size:,} non-zeros; built in {solution.build_seconds:.1f} s, "
        f"solved in {solution.solve_seconds:.1f} s: {total:.1f} s "
        f"({'under' if total < 60 else 'OVER'} 60 s)",
        f"- plan: {len(plan.plan.actions)} purchases, ${plan.plan.monthly_commitment:,.0f}/month "
        f"new commitment; expected ESR over the horizon {plan.plan.esr_after:.1%}",
        f"- certified gap: bound ${plan.certificate.lower_bound:,.2f}, billed plan "
        f"${plan.certificate.plan_price:,.2f}: {plan.certificate.gap:.3%} "
        f"({'under' if plan.certificate.gap < 0.01 else 'OVER'} 1%)",
    ]
    if full:
        from dataclasses import replace

        exact = replace(problem, policy=replace(problem.policy, representative_hours=None))
        started = time.perf_counter()
        exact_model = build_model(exact, backend="highs")
        exact_solution = solve(exact_model, time_limit_s=1800)
        below = (exact_solution.objective - solution.objective) / exact_solution.objective
        lines.append(
            f"- full hourly model: {exact_model.n_variables:,} variables, solved in "
            f"{time.perf_counter() - started:.1f} s; optimum ${exact_solution.objective:,.2f}, "
            f"the representative bound {below:.3%} below it")
    return lines


def _epoch() -> datetime:
    """The (arbitrary) first hour of the synthetic horizon."""
    return datetime(2024, 1, 1, tzinfo=UTC)


def run_suite(n_hours: int, every: int, *, risk_neutral: bool = False) -> list[str]:
    """Representative vs full model at decisions of the backtest suite, under the ladder's
    policy (or on expected cost alone when ``risk_neutral``)."""
    from dataclasses import replace

    from benchmarks.backtest.run import HERE, suite_cases
    from core.catalog import load_catalog
    from core.domain import Catalog
    from ladder.scenarios import default_scenarios
    from optimizer.backtest.policies import UsageHistory
    from optimizer.backtest.purchases import Portfolio, Purchase
    from optimizer.backtest.runner import BacktestConfig, make_policy
    from optimizer.backtest.schedule import buyable, decision_hours, market
    from optimizer.backtest.trace import read_trace
    from optimizer.ladder_policy import ForecastLadder
    from optimizer.stochastic import optimize

    lines = ["| trace | decision hour | keys | scenarios × hours | representative hours | "
             "full optimum | representative optimum | full expected cost | "
             "difference / expected cost |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|"]
    worst = 0.0
    policy = (RiskSettings(representative_hours=n_hours) if risk_neutral
              else replace(LADDER_POLICY, representative_hours=n_hours))
    for case in suite_cases(HERE):
        catalog = load_catalog(case.catalog)
        trace = read_trace(case.trace).for_catalog(catalog)
        # The backtest's own ladder (told where the menu ends), with the policy above.
        ladder = make_policy("ladder", trace, catalog, BacktestConfig(ladder_policy=policy),
                             scenarios=default_scenarios())
        assert isinstance(ladder, ForecastLadder)
        replay = market(catalog, trace)
        hours = decision_hours(trace.hours, replay.offerings, cadence_hours=24,
                               warmup_hours=168)
        owned = Portfolio()
        units = np.asarray(trace.units)
        for i, hour in enumerate(hours):
            menu = Catalog(keys=replay.keys, offerings=buyable(replay.offerings, hour,
                                                              trace.hours))
            history = UsageHistory.before(units, hour, start=trace.start, key_ids=trace.key_ids)
            problem = ladder.problem_at(history, owned, hour, menu)
            if problem is None:
                continue
            reduced = optimize(problem, backend="highs")
            if i % every == 0:
                exact = optimize(replace(problem, policy=replace(problem.policy,
                                                                 representative_hours=None)),
                                 backend="highs")
                # The difference of the optima as a share of the full model's expected
                # cost over the horizon. Not of the objective itself: the ladder's adds
                # constants (the waste term credits owned commitments' use, so it can be
                # negative), which would make a share of it arbitrary. Risk-neutral, the
                # objective is the expected cost.
                diff = (exact.objective - reduced.objective) / exact.expected_cost
                worst = max(worst, abs(diff))
                lines.append(
                    f"| {case.name} | {hour} | {len(trace.key_ids)} | "
                    f"{problem.scenarios.n_scenarios} × {problem.horizon} | {reduced.n_hours} | "
                    f"{exact.objective:,.2f} | {reduced.objective:,.2f} | "
                    f"{exact.expected_cost:,.2f} | {diff:.3%} |")
            owned = owned.with_purchases(
                [Purchase(hour, o, q) for o, q in reduced.quantities.items()], replay)
    lines.append("")
    lines.append(f"- largest difference: {worst:.3%} "
                 f"({'within' if worst <= 0.005 else 'OVER'} 0.5%)")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", action="store_true",
                        help="also compare representative and full models on the suite")
    parser.add_argument("--full", action="store_true",
                        help="also solve the scale instance's full hourly model")
    parser.add_argument("--representative-hours", type=int, default=240)
    parser.add_argument("--every", type=int, default=7)
    parser.add_argument("--risk-neutral", action="store_true",
                        help="compare the models on expected cost alone, not the ladder's "
                             "CVaR and waste weight")
    args = parser.parse_args(argv)
    print("### Scale\n")
    print("\n".join(run_scale(args.full)))
    if args.suite:
        print("\n### Representative hours on the suite\n")
        print("\n".join(run_suite(args.representative_hours, args.every,
                                   risk_neutral=args.risk_neutral)))


if __name__ == "__main__":
    main()
