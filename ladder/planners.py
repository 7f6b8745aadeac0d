"""The two planners of a run: what to buy, from the stored usage, prices and inventory.

* :func:`forecast_plan` (the default, ``LADDER_PLANNER=forecast``): forecast
  scenarios over the next ``horizon_hours`` (:func:`ladder.scenarios.default_scenarios`:
  sample paths of the forecasting package and replays of the last two days), the
  risk-aware stochastic LP (:mod:`optimizer.stochastic`) with the owned
  commitments until they expire, the safe core and a tranche of the rest bought
  (:data:`optimizer.ladder_policy.LADDER_POLICY`, the policy measured on the
  backtest suite), every scenario re-priced by the billing engine, each action
  explained, and the LP's certificate. With ``LADDER_CALIBRATION_DAYS`` it first
  replays the scope's last days over a few risk settings and plans with the best
  (:func:`calibrate_run`; the choice and the replay's figures are stored on the plan).
* :func:`lookback_plan` (``LADDER_PLANNER=lookback``): the foundation LP on the
  last ``lookback_hours`` of usage replayed as the next ones, the way the clouds'
  own recommenders look back.

Both return a :class:`Planned`; :func:`ladder.pipeline.optimize` stores it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from core.billing import schedule
from core.domain import HOUR, ActionKind, Catalog, Commitment, Plan
from core.errors import InvalidInput
from core.settings import Settings
from executor.guardrails import INPUTS_KEY, GuardrailInputs
from ladder.scenarios import SCENARIO_SOURCE, default_scenarios
from ladder.window import Window, usage_window
from optimizer.backtest.policies import UsageHistory
from optimizer.calibration import (
    CALIBRATION_GRID,
    Calibration,
    calibrate,
    portfolio_from,
    replay_decisions,
)
from optimizer.ladder_policy import (
    LADDER_POLICY,
    ForecastLadder,
    forecast_problem,
    solve_safe_core,
)
from optimizer.lp import PurchaseProblem, optimize_purchases
from optimizer.lp_plan import make_plan
from optimizer.risk_settings import RiskSettings
from optimizer.stochastic import StochasticProblem, build_model, owned_from, solve
from optimizer.stochastic_plan import PortfolioPlan, make_portfolio_plan

StepReporter = Callable[[str], AbstractContextManager[object]]
"""Called with a step's label; returns a context manager that spans the step."""

LOW_QUANTILE = 0.1
"""The low forecast the guardrails read: this quantile of the scenarios' hourly usage."""


@dataclass(frozen=True, slots=True)
class Planned:
    """A plan, what it took to compute, and the figures stored with it."""

    plan: Plan
    build_seconds: float
    solve_seconds: float
    n_variables: int
    n_constraints: int
    details: dict[str, Any]
    skipped_keys: tuple[str, ...]


def _history(usage: pd.DataFrame, catalog: Catalog, hours: int) -> Window:
    window = usage_window(usage, catalog, hours=hours)
    if not window.keys:
        raise InvalidInput("no usage key of the dataset is in the provider's catalog: "
                           "nothing to optimise")
    return window


def _common_details(window: Window, decision_time: datetime, owned: int,
                    planner: str) -> dict[str, Any]:
    return {
        "planner": planner,
        "history_start": window.start.isoformat(),
        "history_hours": int(window.usage.shape[0]),
        "decision_time": decision_time.isoformat(),
        "keys": list(window.keys),
        "skipped_keys": list(window.skipped),
        "owned_commitments": owned,
    }


def run_risk_settings(settings: Settings) -> RiskSettings:
    """The risk settings of an autonomous run: the ladder's (measured on the backtest
    suite), at the settings' cost of capital, with exchanges of convertible
    commitments and returns of recent Savings Plans allowed unless ``LADDER_EXCHANGES``
    is false (the executor carries them out, under the same guardrails as purchases),
    and the ladder's waste weight and representative hours unless ``LADDER_WASTE_WEIGHT``
    or ``LADDER_REPRESENTATIVE_HOURS`` set others."""
    risk = replace(LADDER_POLICY, cost_of_capital=settings.cost_of_capital,
                   exchanges=settings.exchanges, returns=settings.exchanges)
    if settings.waste_weight is not None:
        risk = replace(risk, waste_weight=settings.waste_weight)
    if settings.representative_hours is not None:
        risk = replace(risk, representative_hours=settings.representative_hours)
    if settings.calibration_days:
        risk = replace(risk, calibration_days=settings.calibration_days)
    return risk


def calibrate_run(window: Window, catalog: Catalog, inventory: Sequence[Commitment],
                  risk: RiskSettings, settings: Settings) -> Calibration:
    """Self-calibration of a live run (:func:`optimizer.calibration.calibrate`): the scope's
    last ``calibration_days`` replayed with the run's own planner (its scenario source,
    scenario count, horizon and seed) from the inventory held before them, on the
    window's history only; purchases only, as in a backtest."""
    history = UsageHistory.before(window.usage, window.usage.shape[0], start=window.start,
                                  key_ids=window.keys)
    planner = ForecastLadder(scenarios=default_scenarios(), policy=risk,
                             n_scenarios=settings.scenarios,
                             max_horizon_hours=settings.horizon_hours,
                             time_limit_s=settings.solver_time_limit_s, seed=0,
                             common_draws=True)
    decisions = replay_decisions(history.hours, days=risk.calibration_days,
                                 cadence_hours=risk.cadence_hours or 24)
    replay_start = window.start + (decisions[0] if decisions else history.hours) * HOUR
    owned = portfolio_from(inventory, window.start, active_at=replay_start)
    return calibrate(history, catalog, planner, owned=owned, grid=CALIBRATION_GRID)


@dataclass(frozen=True, slots=True)
class _Solved:
    result: PortfolioPlan
    build_seconds: float
    solve_seconds: float
    n_variables: int
    n_constraints: int
    core: dict[str, float]


def _solve(problem: StochasticProblem, settings: Settings, decision_time: datetime) -> _Solved:
    """Solve the LP (and its safe core when laddering), round, re-price and explain."""
    model = build_model(problem, backend="highs")
    solution = solve(model, time_limit_s=settings.solver_time_limit_s)
    build, solve_s = solution.build_seconds, solution.solve_seconds
    core: dict[str, float] = {}
    if problem.policy.tranche_fraction < 1.0 and solution.quantities:
        safe = solve_safe_core(problem, time_limit_s=settings.solver_time_limit_s)
        core = dict(safe.quantities)
        build, solve_s = build + safe.build_seconds, solve_s + safe.solve_seconds
    result = make_portfolio_plan(model, solution, window_start=decision_time, core=core)
    return _Solved(result, build, solve_s, solution.n_variables, solution.n_constraints, core)


def _changes_owned(plan: Plan) -> bool:
    return any(a.kind is not ActionKind.PURCHASE for a in plan.actions)


def forecast_plan(usage: pd.DataFrame, catalog: Catalog, inventory: Sequence[Commitment], *,
                  decision_time: datetime, settings: Settings,
                  step: StepReporter) -> Planned:
    """Forecast, solve the stochastic LP (and its safe core), round, re-price and explain.

    Exchanges and returns are weighed over the whole term (the LP moves a commitment
    out of a usage it expects to decline), which the billed horizon may not repay. In
    the LP they must save more than the policy's switching cost; as a guard behind it,
    a plan with exchanges or returns that bills dearer than doing nothing is replaced
    by the purchases-only plan: otherwise two runs can move the same commitment back
    and forth between near-equal choices. (Any plan that still bills dearer than doing
    nothing waits for an approver: ``executor.guardrails.check_savings``.)
    """
    window = _history(usage, catalog, settings.lookback_hours)
    owned = owned_from(inventory, decision_time)
    risk = run_risk_settings(settings)
    calibration: dict[str, Any] = {}
    if risk.calibration_days > 0:
        with step(f"Calibrating: replaying the last {risk.calibration_days} days over "
                  f"{len(CALIBRATION_GRID)} risk settings"):
            calibrated = calibrate_run(window, catalog, inventory, risk, settings)
        risk = calibrated.policy
        calibration = {"calibration": calibrated.to_details()}
    with step(f"Forecasting {settings.scenarios} scenarios × {settings.horizon_hours} hours "
              f"for {len(window.keys)} keys"):
        problem = forecast_problem(
            window.usage, window.keys, window.start, owned, catalog,
            scenarios=default_scenarios(), policy=risk, n_scenarios=settings.scenarios,
            max_horizon_hours=settings.horizon_hours, seed=0)
    if problem is None:
        raise InvalidInput("the provider's catalog has no offering the policy allows: "
                           "nothing to buy")
    with step(f"Solving the stochastic LP ({len(problem.candidates)} offerings, "
              f"{len(owned)} owned) and re-pricing every scenario"):
        solved = _solve(problem, settings, decision_time)
        fallback: dict[str, Any] = {}
        plan = solved.result.plan
        if _changes_owned(plan) and plan.expected_savings < 0:
            purchases_only = replace(problem, policy=replace(risk, exchanges=False,
                                                             returns=False))
            alternative = _solve(purchases_only, settings, decision_time)
            fallback = {"replaced_plan": {
                "reason": "its exchanges or returns bill dearer than doing nothing over "
                          "the horizon",
                "expected_savings": plan.expected_savings,
                "actions": [f"{a.kind} {a.quantity:g} {a.offering_id}" for a in plan.actions],
            }}
            solved = replace(alternative, build_seconds=solved.build_seconds
                             + alternative.build_seconds,
                             solve_seconds=solved.solve_seconds + alternative.solve_seconds)
            problem = purchases_only
    result = solved.result
    plan = result.plan
    hourly_value = problem.scenarios.usage @ problem.on_demand_rates
    details = {
        **plan.details,
        **_common_details(window, decision_time, len(owned), "forecast"),
        **fallback,
        **calibration,
        "scenario_source": SCENARIO_SOURCE,
        "safe_core": solved.core,
        INPUTS_KEY: GuardrailInputs(
            low_forecast_hourly=float(np.quantile(hourly_value, LOW_QUANTILE)),
            low_forecast_source=(
                f"{LOW_QUANTILE:.0%} quantile of the on-demand value of "
                f"{problem.scenarios.n_scenarios} forecast scenarios × {problem.horizon} "
                "hours"),
            expected_utilisation=tuple(a.explanation.expected_utilisation if a.explanation
                                       else None for a in plan.actions),
        ).to_json(),
    }
    return Planned(plan, solved.build_seconds, solved.solve_seconds, solved.n_variables,
                   solved.n_constraints, details, window.skipped)


def lookback_problem(
    usage: pd.DataFrame, catalog: Catalog, inventory: Sequence[Commitment], *,
    decision_time: datetime, lookback_hours: int, cost_of_capital: float,
) -> tuple[PurchaseProblem, Window]:
    """The foundation LP's inputs: the last ``lookback_hours`` of usage stand in for the next.

    Owned commitments count in hour ``h`` of the window only if they are still
    active at ``decision_time + h``: one expiring next month covers only the first
    month of the window.
    """
    window = _history(usage, catalog, lookback_hours)
    owned = [c for c in inventory if c.end > decision_time]
    problem = PurchaseProblem(
        usage=window.usage,
        key_ids=window.keys,
        on_demand_rates=window.rates,
        candidates=catalog.offerings,
        owned=tuple(c.offering for c in owned),
        owned_quantity=schedule(owned, decision_time, len(window.usage)),
        cost_of_capital=cost_of_capital,
    )
    return problem, window


def lookback_plan(usage: pd.DataFrame, catalog: Catalog, inventory: Sequence[Commitment], *,
                  decision_time: datetime, settings: Settings,
                  step: StepReporter) -> Planned:
    """The foundation LP on the lookback window, re-priced on the same window."""
    problem, window = lookback_problem(
        usage, catalog, inventory, decision_time=decision_time,
        lookback_hours=settings.lookback_hours, cost_of_capital=settings.cost_of_capital)
    with step(f"Solving the LP ({len(problem.key_ids)} keys × {len(problem.usage)} hours)"):
        solution = optimize_purchases(problem, time_limit_s=settings.solver_time_limit_s)
    with step("Re-pricing the plan with the billing engine"):
        plan = make_plan(problem, solution, window_start=decision_time)
    details = {
        **_common_details(window, decision_time, len(problem.owned), "lookback"),
        "n_variables": solution.n_variables,
        "n_constraints": solution.n_constraints,
        "objective": solution.objective,
    }
    return Planned(plan, solution.build_seconds, solution.solve_seconds, solution.n_variables,
                   solution.n_constraints, details, window.skipped)


PLANNERS = {"forecast": forecast_plan, "lookback": lookback_plan}
"""The planners by the name ``LADDER_PLANNER`` gives them."""


__all__ = ["PLANNERS", "Planned", "calibrate_run", "forecast_plan", "lookback_plan",
           "lookback_problem", "run_risk_settings"]
