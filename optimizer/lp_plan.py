"""From a solved purchase LP to a plan: rounded quantities, re-priced by the billing engine.

The LP allocates coverage optimally, a relaxation of the clouds' greedy order,
and its quantities are fractional; the plan is what the billing engine charges
for what can actually be bought. Quantities are rounded *down*, so a plan never
commits more than the LP chose:

* unit offerings to whole normalised units (any whole number of units is an
  integer count of the family's smallest size, so AWS can sell it);
* spend offerings to whole cents per hour (AWS accepts commitments to $0.001; a
  cent is the coarser, stated choice).

The plan's costs are billed over the window: ``cost_before`` with the owned
commitments only, ``cost_after`` with the owned and the new ones, both at
amortized prices (without the LP's charge for the cost of capital).
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np

from core.billing import BillingResult, apply_commitments, summarize
from core.domain import HOURS_PER_MONTH, Action, ActionKind, Offering, Plan, Shape, UsageKey
from optimizer.lp import FloatArray, PurchaseProblem, PurchaseSolution

UNIT_STEP = 1.0
"""Unit offerings are bought in whole normalised units."""
SPEND_STEP = 0.01
"""Spend offerings are bought in whole cents of hourly commitment."""
_ROUNDING_SLACK = 1e-6
"""Solver noise forgiven when rounding down (3.9999999 units is 4)."""


def round_down(offering: Offering, quantity: float) -> float:
    """The largest purchasable quantity not above ``quantity`` (up to solver noise)."""
    step = UNIT_STEP if offering.shape is Shape.UNIT else SPEND_STEP
    return round(math.floor(quantity / step + _ROUNDING_SLACK) * step, 10)


def make_plan(
    problem: PurchaseProblem, solution: PurchaseSolution, *, window_start: datetime
) -> Plan:
    """Round the LP's quantities, bill the window without and with them, and explain each buy."""
    position = {o.offering_id: i for i, o in enumerate(problem.candidates)}
    purchases = [
        (problem.candidates[position[offering_id]], rounded)
        for offering_id, quantity in sorted(solution.quantities.items(),
                                            key=lambda item: position[item[0]])
        if (rounded := round_down(problem.candidates[position[offering_id]], quantity)) > 0
    ]
    hours = problem.hours
    owned_quantity = problem.owned_active
    before = apply_commitments(problem.usage, problem.key_ids, problem.on_demand_rates,
                               problem.owned, owned_quantity)
    new_quantity = np.tile(np.array([q for _, q in purchases], dtype=np.float64), (hours, 1))
    after = apply_commitments(
        problem.usage, problem.key_ids, problem.on_demand_rates,
        (*problem.owned, *(o for o, _ in purchases)),
        np.hstack([owned_quantity, new_quantity.reshape(hours, len(purchases))]),
    )
    summary_before, summary_after = summarize(before), summarize(after)

    actions = tuple(
        Action(
            kind=ActionKind.PURCHASE,
            offering_id=offering.offering_id,
            quantity=quantity,
            upfront_cost=quantity * offering.upfront,
            hourly_cost=quantity * offering.hourly,
            amortized_hourly_cost=quantity * offering.amortized_hourly,
            reason=_reason(problem, after, len(problem.owned) + i, offering, quantity),
        )
        for i, (offering, quantity) in enumerate(purchases)
    )
    return Plan(
        actions=actions,
        window_start=window_start,
        window_hours=hours,
        on_demand_equivalent=summary_after.on_demand_equivalent,
        cost_before=summary_before.total_cost,
        cost_after=summary_after.total_cost,
        esr_before=summary_before.esr,
        esr_after=summary_after.esr,
        upfront_cash=sum(a.upfront_cost for a in actions),
        monthly_commitment=sum(a.amortized_hourly_cost for a in actions) * HOURS_PER_MONTH,
        solver_status=solution.status,
    )


def _scope(key_ids: tuple[str, ...]) -> str:
    """Words for a set of usage keys: the family when they share one."""
    try:
        families = sorted({UsageKey.parse(k).family for k in key_ids})
    except ValueError:
        families = []
    if len(families) == 1:
        return families[0]
    if len(key_ids) == 1:
        return key_ids[0]
    if families:
        return f"{len(key_ids)} keys of {', '.join(families)}"
    return f"{len(key_ids)} keys"


def _reason(
    problem: PurchaseProblem, billed: BillingResult, column: int, offering: Offering,
    quantity: float,
) -> str:
    """Why this purchase, in words, from how the billing engine applied it over the window."""
    block = billed.covered[column]
    keys = tuple(problem.key_ids[k] for k in block.key_index)
    rates = problem.on_demand_rates[block.key_index]
    weights = np.array([offering.covers[k] if offering.shape is Shape.UNIT else offering.rates[k]
                        for k in keys], dtype=np.float64)
    # Amortized price of covering one unit-hour of each key when fully used.
    unit_price = (offering.amortized_hourly / weights if offering.shape is Shape.UNIT
                  else offering.amortized_hourly * weights)
    covered: FloatArray = block.units.sum(axis=0)
    if covered.sum() > 0:
        share = covered / covered.sum()
    else:
        share = np.full(len(keys), 1.0 / max(len(keys), 1))
    full = float(np.mean(billed.used[:, column] >= quantity * (1 - 1e-9))) if quantity else 0.0
    hours = problem.hours
    net = float(covered @ rates) - quantity * offering.amortized_hourly * hours
    prices = (f"amortized ${float(share @ unit_price):.4f}/unit-h vs on-demand "
              f"${float(share @ rates):.4f}; net saving ${net:,.2f} over the {hours}-hour window")
    if offering.shape is Shape.UNIT:
        return (f"covers {quantity:g} units of {_scope(keys)}, fully used in {full:.0%} of hours; "
                f"{prices}")
    return (f"commits ${quantity:,.2f}/h to {_scope(keys)}, fully used in {full:.0%} of hours, "
            f"covering {float(covered.sum()) / hours:,.1f} units/h on average; {prices}")
