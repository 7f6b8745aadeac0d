"""From a solved stochastic LP to a plan that explains itself, re-priced by the billing engine.

Steps, each stated so that a reviewer can redo it:

1. **Decision.** The LP's purchases are scaled by the policy's ``tranche_fraction``
   (laddering: only that share of the increment is bought on this run) and rounded
   *down* to what can be bought (:func:`optimizer.lp_plan.round_down`); returns are
   all or nothing (a Savings Plan is returned whole: it is returned when the LP
   returns at least half of it); exchanges give up whole units and receive the
   whole units that keep the new worth at least the old.
2. **Billing.** Every scenario is billed hour by hour by :mod:`core.billing` with
   the portfolio before the plan (owned commitments until they expire) and after
   it (minus returned and exchanged units, plus received and bought ones, each
   active for its term within the horizon). The plan's costs are the expectation
   over the scenarios of those bills, at amortized prices.
3. **Why.** Each action carries an :class:`~core.domain.ActionExplanation`. A
   purchase's savings in a scenario are the on-demand dollars it covered minus
   what it cost (its share of the bill: the purchases' shares add up to the
   plan's savings against on-demand); a return's or an exchange's are the bill
   without it minus the bill with it.
4. **Certificate.** The LP's optimum is a lower bound on the cost of any plan
   the policy allows (exactly with every hour kept; by Jensen's inequality with
   representative hours, :mod:`optimizer.representative`); the plan's price is
   the same objective with its on-demand part taken from the bills. The gap
   ``(price − bound) / price`` bounds how far the plan can be from the optimum.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import numpy.typing as npt

from core.billing import BillingResult, apply_commitments, summarize
from core.domain import (
    HOURS_PER_MONTH,
    Action,
    ActionExplanation,
    ActionKind,
    Offering,
    Plan,
    Shape,
)
from optimizer.lp_plan import round_down
from optimizer.risk import cvar
from optimizer.stochastic import (
    Decided,
    Exchange,
    Planned,
    StochasticModel,
    StochasticProblem,
    StochasticSolution,
    objective_at,
)

FloatArray = npt.NDArray[np.float64]

BAD_QUANTILE = 0.1
"""The bad scenario of an action: the 10th percentile of its savings over the scenarios."""


@dataclass(frozen=True, slots=True)
class Purchase:
    """Buy ``quantity`` of ``offering`` (candidate index ``index``) at hour ``start``: now (0),
    or later for a purchase the LP only plans."""

    index: int
    offering: Offering
    quantity: float
    start: int = 0
    scenario: int = -1


@dataclass(frozen=True, slots=True)
class Return:
    """Return owned commitment ``owned`` (its whole ``quantity``)."""

    owned: int
    quantity: float


@dataclass(frozen=True, slots=True)
class ExchangeAction:
    """Give up ``give`` units of owned ``owned`` for ``receive`` units of ``target``."""

    owned: int
    target: Offering
    give: float
    receive: float


@dataclass(frozen=True, slots=True)
class Decision:
    """What the plan does, in purchasable quantities, and what the LP plans for later runs."""

    purchases: tuple[Purchase, ...]
    returns: tuple[Return, ...]
    exchanges: tuple[ExchangeAction, ...]
    planned: tuple[Purchase, ...] = ()


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Each scenario billed with the portfolio before and after the decision.

    ``before[s]``/``after[s]`` are the billing results; ``new_columns`` the
    columns of the after-bills that hold the purchases (in decision order) and
    ``received_columns`` those of the exchanges' new units.
    """

    before: tuple[BillingResult, ...]
    after: tuple[BillingResult, ...]
    cost_before: FloatArray
    cost_after: FloatArray
    on_demand_after: FloatArray
    on_demand_equivalent: FloatArray
    new_columns: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Certificate:
    """The LP's lower bound, the billed plan's price under the same objective, and the gap."""

    lower_bound: float
    plan_price: float

    @property
    def gap(self) -> float:
        """``(price − bound) / |price|``: how far the plan can be from the optimum, at most
        (the objective can be negative: the waste term credits owned commitments' use)."""
        return ((self.plan_price - self.lower_bound) / abs(self.plan_price)
                if self.plan_price else 0.0)


def decide(problem: StochasticProblem, solution: StochasticSolution,
           core: Mapping[str, float] | None = None) -> Decision:
    """The LP's decision in purchasable quantities, the tranche rule applied to purchases
    (at least the safe ``core`` of each offering, when given:
    :func:`optimizer.ladder_policy.solve_safe_core`)."""
    position = {o.offering_id: i for i, o in enumerate(problem.candidates)}
    core = core or {}
    purchases = []
    for offering_id, quantity in sorted(solution.quantities.items(),
                                        key=lambda item: position[item[0]]):
        offering = problem.candidates[position[offering_id]]
        rounded = round_down(offering, problem.policy.tranche(quantity,
                                                              core.get(offering_id, 0.0)))
        if rounded > 0:
            purchases.append(Purchase(position[offering_id], offering, rounded))
    returns = tuple(Return(c, problem.owned[c].quantity)
                    for c, quantity in sorted(solution.returns.items())
                    if quantity >= 0.5 * problem.owned[c].quantity)
    exchanges = []
    given: dict[int, float] = {}
    for exchange in solution.exchanges:
        owned = problem.owned[exchange.owned]
        target = problem.candidates[position[exchange.target]]
        left = owned.quantity - given.get(exchange.owned, 0.0)
        give = min(math.floor(exchange.give + 1e-6), math.floor(left + 1e-9))
        if give <= 0:
            continue
        parity = give * owned.offering.amortized_hourly / target.amortized_hourly
        receive = max(math.ceil(parity - 1e-9), round_down(target, exchange.receive))
        given[exchange.owned] = given.get(exchange.owned, 0.0) + give
        exchanges.append(ExchangeAction(exchange.owned, target, float(give), float(receive)))
    planned = tuple(Purchase(position[p.offering_id], problem.candidates[position[p.offering_id]],
                             p.quantity, p.hour, p.scenario) for p in solution.planned)
    return Decision(tuple(purchases), returns, tuple(exchanges), planned)


def _portfolio(problem: StochasticProblem, decision: Decision | None, *,
               planned_in: int | None = None) -> tuple[list[Offering], FloatArray]:
    """Offerings and ``(H, C)`` active quantities: owned, received, bought (in that order),
    then the purchases planned in scenario ``planned_in`` (none when ``None``)."""
    horizon = problem.horizon
    hours = np.arange(horizon)[:, None]
    offerings: list[Offering] = []
    sizes: list[float] = []
    starts: list[int] = []
    ends: list[int] = []
    taken = np.zeros(len(problem.owned))
    if decision is not None:
        for r in decision.returns:
            taken[r.owned] += r.quantity
        for e in decision.exchanges:
            taken[e.owned] += e.give
    for c, owned in enumerate(problem.owned):
        offerings.append(owned.offering)
        sizes.append(max(owned.quantity - taken[c], 0.0))
        starts.append(0)
        ends.append(owned.hours_left)
    if decision is not None:
        for e in decision.exchanges:
            offerings.append(e.target)
            sizes.append(e.receive)
            starts.append(0)
            ends.append(problem.owned[e.owned].hours_left)
        later = () if planned_in is None else tuple(
            p for p in decision.planned if p.scenario in (-1, planned_in))
        for p in (*decision.purchases, *later):
            offerings.append(p.offering)
            sizes.append(p.quantity)
            starts.append(p.start)
            ends.append(min(p.start + p.offering.term_hours, horizon))
    if not offerings:
        return offerings, np.zeros((horizon, 0))
    active = (hours >= np.array(starts, dtype=np.intp)[None, :]) \
        & (hours < np.array(ends, dtype=np.intp)[None, :])
    return offerings, np.where(active, np.array(sizes)[None, :], 0.0)


def _bill(problem: StochasticProblem, decision: Decision | None, *,
          with_planned: bool = False) -> tuple[BillingResult, ...]:
    bills = []
    for s in range(problem.scenarios.n_scenarios):
        offerings, quantity = _portfolio(problem, decision,
                                         planned_in=s if with_planned else None)
        bills.append(apply_commitments(problem.scenarios.usage[s], problem.key_ids,
                                       problem.on_demand_rates, offerings, quantity))
    return tuple(bills)


def evaluate(problem: StochasticProblem, decision: Decision, *,
             with_planned: bool = False) -> Evaluation:
    """Bill every scenario, hour by hour, before and after the decision (and, when
    ``with_planned``, the purchases the LP plans for later runs)."""
    before = _bill(problem, None)
    after = _bill(problem, decision, with_planned=with_planned)
    first_new = len(problem.owned) + len(decision.exchanges)
    summaries_before = [summarize(b) for b in before]
    summaries_after = [summarize(a) for a in after]
    return Evaluation(
        before=before, after=after,
        cost_before=np.array([s.total_cost for s in summaries_before]),
        cost_after=np.array([s.total_cost for s in summaries_after]),
        on_demand_after=np.array([s.on_demand_cost for s in summaries_after]),
        on_demand_equivalent=np.array([s.on_demand_equivalent for s in summaries_after]),
        new_columns=tuple(range(first_new, first_new + len(decision.purchases))),
    )


def certify(model: StochasticModel, solution: StochasticSolution, decision: Decision,
            evaluation: Evaluation) -> Certificate:
    """The LP's bound against the billed decision's price under the LP's own objective
    (:func:`optimizer.stochastic.objective_at`).

    The price is that of the decision together with the purchases the LP plans
    for later runs (billed with them when there are any): that is the solution
    the LP's bound is for.
    """
    if decision.planned:
        evaluation = evaluate(model.problem, decision, with_planned=True)
    price = objective_at(model, _decided(decision), on_demand=evaluation.on_demand_after,
                         on_demand_equivalent=evaluation.on_demand_equivalent,
                         bills=evaluation.after)
    return Certificate(lower_bound=solution.objective, plan_price=price)


def _decided(decision: Decision) -> Decided:
    """The decision in the stochastic LP's own terms."""
    return Decided(
        quantities={p.offering.offering_id: p.quantity for p in decision.purchases},
        returns={r.owned: r.quantity for r in decision.returns},
        exchanges=tuple(Exchange(e.owned, e.target.offering_id, e.give, e.receive)
                        for e in decision.exchanges),
        planned=tuple(Planned(p.start, p.offering.offering_id, p.quantity, p.scenario)
                      for p in decision.planned),
    )


def _quantile(values: FloatArray, q: float) -> float:
    return float(np.quantile(values, q)) if values.size else 0.0


def _purchase_explanation(problem: StochasticProblem, evaluation: Evaluation,
                          purchase: Purchase, column: int) -> ActionExplanation:
    offering = purchase.offering
    active = min(offering.term_hours, problem.horizon)
    covered_units, savings, utilisation, covered_dollars = [], [], [], []
    for result in evaluation.after:
        block = result.covered[column]
        units = block.units[:active]
        dollars = float((units @ result.on_demand_rates[block.key_index]).sum())
        paid = purchase.quantity * active
        used = float(result.used[:active, column].sum())
        covered_units.append(float(units.sum()) / active)
        covered_dollars.append(dollars / active)
        utilisation.append(used / paid if paid else 1.0)
        savings.append(dollars - purchase.quantity * offering.amortized_hourly * active)
    savings_array = np.array(savings)
    hourly_gain = float(np.mean(covered_dollars)) - purchase.quantity * offering.hourly
    upfront = purchase.quantity * offering.upfront
    break_even: float | None
    if hourly_gain <= 0:
        break_even = None
    elif upfront <= 0:
        break_even = 0.0
    else:
        break_even = upfront / hourly_gain
        if break_even > offering.term_hours:
            break_even = None
    return ActionExplanation(
        covered_units_per_hour=float(np.median(covered_units)),
        expected_utilisation=float(np.mean(utilisation)),
        break_even_hours=break_even,
        savings_median=float(np.median(savings_array)),
        savings_bad=_quantile(savings_array, BAD_QUANTILE),
        horizon_hours=problem.horizon,
    )


def _marginal_explanation(problem: StochasticProblem, evaluation: Evaluation,
                          without: Decision, column: int, *, kept_side: bool
                          ) -> ActionExplanation:
    """Savings of one return or exchange: the bills without it minus the bills with it.

    Its coverage and utilisation are those of ``column``: in the bills without the
    action (``kept_side``: what a returned commitment would have done) or with it
    (what the units received in an exchange do).
    """
    kept = _bill(problem, without)
    cost_kept = np.array([summarize(k).total_cost for k in kept])
    savings = cost_kept - evaluation.cost_after
    covered, utilisation = [], []
    for result in (kept if kept_side else evaluation.after):
        active = np.flatnonzero(result.quantity[:, column] > 0)
        if active.size == 0:
            covered.append(0.0)
            utilisation.append(1.0)
            continue
        block = result.covered[column]
        covered.append(float(block.units[active].sum()) / active.size)
        paid = float(result.quantity[active, column].sum())
        utilisation.append(float(result.used[active, column].sum()) / paid)
    return ActionExplanation(
        covered_units_per_hour=float(np.median(covered)),
        expected_utilisation=float(np.mean(utilisation)),
        break_even_hours=0.0 if float(np.mean(savings)) > 0 else None,
        savings_median=float(np.median(savings)),
        savings_bad=_quantile(savings, BAD_QUANTILE),
        horizon_hours=problem.horizon,
    )


def _scope(offering: Offering) -> str:
    keys = offering.eligible_keys
    return keys[0] if len(keys) == 1 else f"{len(keys)} keys"


def _money(value: float) -> str:
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def _words(explanation: ActionExplanation) -> str:
    months = explanation.break_even_month
    even = "never within its term" if months is None else (
        "from the first hour" if months == 0 else f"after {months:.1f} months")
    return (f"expected utilisation {explanation.expected_utilisation:.0%}; breaks even {even}; "
            f"saves {_money(explanation.savings_median)} over {explanation.horizon_hours} h in "
            f"the median scenario, {_money(explanation.savings_bad)} in a bad one")


def build_actions(problem: StochasticProblem, decision: Decision,
                  evaluation: Evaluation) -> tuple[Action, ...]:
    """The plan's actions, each with its explanation, in the order returns, exchanges, buys."""
    actions = []
    for r in decision.returns:
        owned = problem.owned[r.owned]
        without = Decision(decision.purchases,
                           tuple(x for x in decision.returns if x.owned != r.owned),
                           decision.exchanges)
        explanation = _marginal_explanation(problem, evaluation, without, r.owned,
                                            kept_side=True)
        offering = owned.offering
        actions.append(Action(
            kind=ActionKind.RETURN, offering_id=offering.offering_id, quantity=r.quantity,
            upfront_cost=0.0 - r.quantity * offering.upfront,
            hourly_cost=0.0 - r.quantity * offering.hourly,
            amortized_hourly_cost=0.0 - r.quantity * offering.amortized_hourly,
            commitment_id=owned.commitment_id, cash_effect=0.0 - r.quantity * offering.upfront,
            explanation=explanation,
            reason=(f"return ${r.quantity:,.2f}/h of {offering.offering_id} bought "
                    f"{owned.age_hours} h ago: kept, it would cover "
                    f"{explanation.covered_units_per_hour:,.1f} units/h in the median scenario, "
                    f"used {explanation.expected_utilisation:.0%}; returning it saves "
                    f"{_money(explanation.savings_median)} over {problem.horizon} h in the median "
                    f"scenario, {_money(explanation.savings_bad)} in a bad one"),
        ))
    for i, e in enumerate(decision.exchanges):
        owned = problem.owned[e.owned]
        without = Decision(decision.purchases, decision.returns,
                           tuple(x for j, x in enumerate(decision.exchanges) if j != i))
        explanation = _marginal_explanation(problem, evaluation, without,
                                            len(problem.owned) + i, kept_side=False)
        old, new = owned.offering, e.target
        true_up = (e.receive * new.amortized_hourly - e.give * old.amortized_hourly) \
            * owned.hours_left
        actions.append(Action(
            kind=ActionKind.EXCHANGE, offering_id=old.offering_id, quantity=e.give,
            upfront_cost=true_up,
            hourly_cost=e.receive * new.hourly - e.give * old.hourly,
            amortized_hourly_cost=e.receive * new.amortized_hourly - e.give * old.amortized_hourly,
            commitment_id=owned.commitment_id, target_offering_id=new.offering_id,
            target_quantity=e.receive, cash_effect=true_up, explanation=explanation,
            reason=(f"exchange {e.give:g} units of {old.offering_id} for {e.receive:g} of "
                    f"{new.offering_id} (true-up {_money(true_up)}; the new is worth at least the "
                    f"old); " + _words(explanation)),
        ))
    for purchase, column in zip(decision.purchases, evaluation.new_columns, strict=True):
        offering = purchase.offering
        explanation = _purchase_explanation(problem, evaluation, purchase, column)
        what = (f"{purchase.quantity:g} units" if offering.shape is Shape.UNIT
                else f"${purchase.quantity:,.2f}/h")
        actions.append(Action(
            kind=ActionKind.PURCHASE, offering_id=offering.offering_id,
            quantity=purchase.quantity, upfront_cost=purchase.quantity * offering.upfront,
            hourly_cost=purchase.quantity * offering.hourly,
            amortized_hourly_cost=purchase.quantity * offering.amortized_hourly,
            cash_effect=purchase.quantity * offering.upfront, explanation=explanation,
            reason=(f"buy {what} of {offering.offering_id} covering "
                    f"{explanation.covered_units_per_hour:,.1f} units/h of {_scope(offering)} "
                    f"in the median scenario; " + _words(explanation)),
        ))
    return tuple(actions)


def _expected_planned(problem: StochasticProblem,
                      decision: Decision) -> list[dict[str, float | int | str]]:
    """Planned purchases by hour and offering, in expectation over the scenarios."""
    probabilities = problem.scenarios.probabilities
    expected: dict[tuple[int, str], float] = {}
    for p in decision.planned:
        weight = 1.0 if p.scenario < 0 else float(probabilities[p.scenario])
        key = (p.start, p.offering.offering_id)
        expected[key] = expected.get(key, 0.0) + weight * p.quantity
    return [{"hour": hour, "offering_id": offering_id, "expected_quantity": quantity}
            for (hour, offering_id), quantity in sorted(expected.items())]


@dataclass(frozen=True, eq=False)
class PortfolioPlan:
    """A plan with what it was computed from: the decision, the bills and the certificate."""

    plan: Plan
    decision: Decision
    evaluation: Evaluation
    certificate: Certificate


def make_portfolio_plan(model: StochasticModel, solution: StochasticSolution, *,
                        window_start: datetime,
                        core: Mapping[str, float] | None = None) -> PortfolioPlan:
    """Round, bill every scenario before and after, explain each action, and certify.

    The certificate is for the LP's own solution, rounded (what the bound is a bound
    on); when the policy ladders, the tranche bought is a deliberate step short of it,
    whose price under the same objective is ``details["tranche_price"]``.
    """
    problem = model.problem
    decision = decide(problem, solution, core)
    evaluation = evaluate(problem, decision)
    certificate = bought = certify(model, solution, decision, evaluation)
    if problem.policy.tranche_fraction < 1.0:
        whole = replace(problem, policy=replace(problem.policy, tranche_fraction=1.0))
        optimum = decide(whole, solution)
        if optimum != decision:  # the safe core was all of it: nothing more to bill
            certificate = certify(model, solution, optimum, evaluate(problem, optimum))
    actions = build_actions(problem, decision, evaluation)
    probabilities = problem.scenarios.probabilities
    equivalent = float(probabilities @ evaluation.on_demand_equivalent)
    before = float(probabilities @ evaluation.cost_before)
    after = float(probabilities @ evaluation.cost_after)
    alpha = problem.policy.cvar_alpha
    new_hourly = sum(a.amortized_hourly_cost for a in actions if a.kind is ActionKind.PURCHASE)
    details = {
        "horizon_hours": problem.horizon,
        "scenarios": problem.scenarios.n_scenarios,
        "representative_hours": solution.n_hours,
        "exact": solution.exact,
        "loss_before_cvar": cvar(evaluation.cost_before - evaluation.on_demand_equivalent,
                                 probabilities, alpha),
        "loss_after_cvar": cvar(evaluation.cost_after - evaluation.on_demand_equivalent,
                                probabilities, alpha),
        "cvar_alpha": alpha,
        "lp_objective": solution.objective,
        "lp_method": solution.method,
        "lp_upper": solution.upper,
        "lower_bound": certificate.lower_bound,
        "plan_price": certificate.plan_price,
        "certified_gap": certificate.gap,
        "tranche_fraction": problem.policy.tranche_fraction,
        "tranche_price": bought.plan_price,
        "planned": _expected_planned(problem, decision),
        "n_variables": solution.n_variables,
        "n_constraints": solution.n_constraints,
        "build_seconds": solution.build_seconds,
        "solve_seconds": solution.solve_seconds,
        "actions": [
            {"kind": str(a.kind), "offering_id": a.offering_id, "quantity": a.quantity,
             "commitment_id": a.commitment_id, "target_offering_id": a.target_offering_id,
             "target_quantity": a.target_quantity, "cash_effect": a.cash_effect,
             **(a.explanation.to_dict() if a.explanation else {})}
            for a in actions
        ],
    }
    plan = Plan(
        actions=actions,
        window_start=window_start,
        window_hours=problem.horizon,
        on_demand_equivalent=equivalent,
        cost_before=before,
        cost_after=after,
        esr_before=1 - before / equivalent if equivalent else 0.0,
        esr_after=1 - after / equivalent if equivalent else 0.0,
        upfront_cash=sum(a.cash_effect for a in actions),
        monthly_commitment=new_hourly * HOURS_PER_MONTH,
        solver_status=solution.status,
        details=details,
    )
    return PortfolioPlan(plan, decision, evaluation, certificate)
