"""Figures the guardrails and the alerts need, computed with the billing engine.

* :func:`guardrail_inputs` — for a stored plan, over the window it was decided
  on: each new commitment's expected utilisation, the low forecast of eligible
  usage and how much on-demand usage the commitments owned and new could cover
  (``plan.details["guardrail_inputs"]``, read by ``executor.guardrails``);
* :func:`portfolio_health` — the utilisation the owned commitments really had
  over that window (the alert when it falls below the policy's floor).

Until a forecaster feeds the optimizer, the "low forecast" is the 10th
percentile of the window's hourly on-demand-equivalent usage, and says so
(``low_forecast_source``). A planner that has real forecast quantiles writes
its own ``low_forecast_hourly`` and it is kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.orm import Session

from core.billing import apply_commitments, bill, schedule, summarize
from core.db import repository
from core.db.models import DatasetRow, PlanRow
from core.domain import HOUR, Catalog, Commitment, Offering, Shape
from executor.guardrails import GuardrailInputs
from ladder.window import Window, usage_window

LOW_QUANTILE = 0.1


def _window(session: Session, plan: PlanRow, catalog: Catalog) -> Window | None:
    """The last ``plan.window_hours`` of the plan's dataset, over the keys the catalog prices."""
    dataset = session.get(DatasetRow, plan.dataset_id) if plan.dataset_id is not None else None
    if dataset is None:
        return None
    history = repository.load_usage(session, dataset.id,
                                    start=dataset.end - plan.window_hours * HOUR)
    if history.empty:
        return None
    window = usage_window(history, catalog, hours=plan.window_hours)
    return window if window.keys else None


def capacity_hourly(offering: Offering, quantity: float, rates: Mapping[str, float]) -> float:
    """On-demand dollars per hour a commitment can cover at most (its best-paying key)."""
    if offering.shape is Shape.UNIT:
        values = [weight * rates[k] for k, weight in offering.covers.items() if k in rates]
    else:
        values = [rates[k] / rate for k, rate in offering.rates.items() if k in rates and rate > 0]
    return quantity * max(values, default=0.0)


def guardrail_inputs(session: Session, plan: PlanRow) -> GuardrailInputs:
    """The figures ``executor.guardrails`` reads, for a stored plan, from the usage before its
    decision (none stated when that is unknowable)."""
    catalog = repository.load_catalog(session, plan.provider)
    if catalog is None:
        return GuardrailInputs()
    window = _window(session, plan, catalog)
    if window is None:
        return GuardrailInputs()
    decision_time = plan.window_start
    hours = window.usage.shape[0]
    owned = [c for c in repository.list_commitments(session, plan.provider)
             if c.end > decision_time]
    known = {o.offering_id: o for o in catalog.offerings}
    new = [(a.position, known.get(a.offering_id), a.quantity) for a in plan.actions]
    bought = [(p, o, q) for p, o, q in new if o is not None]
    offerings = [c.offering for c in owned] + [o for _, o, _ in bought if o is not None]
    quantity = np.hstack([schedule(owned, decision_time, hours),
                          np.tile(np.array([q for _, _, q in bought], dtype=np.float64),
                                  (hours, 1)).reshape(hours, len(bought))])
    billed = apply_commitments(window.usage, window.keys, window.rates, offerings, quantity)
    utilisation: dict[int, float] = {}
    for index, (position, _, _) in enumerate(bought):
        column = len(owned) + index
        paid = float(billed.quantity[:, column].sum())
        utilisation[position] = float(billed.used[:, column].sum()) / paid if paid else 1.0
    hourly_value = window.usage @ window.rates
    rates = dict(zip(window.keys, window.rates.tolist(), strict=True))
    active = [c for c in owned if c.is_active(decision_time)]
    capacity = sum(capacity_hourly(c.offering, c.quantity, rates) for c in active) + sum(
        capacity_hourly(o, q, rates) for _, o, q in bought if o is not None)
    return GuardrailInputs(
        low_forecast_hourly=float(np.quantile(hourly_value, LOW_QUANTILE)),
        low_forecast_source=(f"10th percentile of the last {hours} hours' on-demand usage "
                             "(lookback; no forecaster is wired in)"),
        committed_capacity_hourly=float(capacity),
        expected_utilisation=tuple(utilisation.get(a.position) for a in plan.actions),
    )


def complete_plan_inputs(session: Session, plan: PlanRow) -> GuardrailInputs:
    """The guardrail inputs the plan states, with what the planner did not state computed
    from the usage before its decision."""
    stated = GuardrailInputs.of_plan(plan)
    if not stated.missing():
        return stated
    return stated.completed_by(guardrail_inputs(session, plan))


@dataclass(frozen=True, slots=True)
class PortfolioHealth:
    """How much of what the owned commitments cost was used, over a past window."""

    utilisation: float
    hours: int
    by_commitment: tuple[tuple[str, float], ...]


def portfolio_health(session: Session, plan: PlanRow) -> PortfolioHealth | None:
    """Realised utilisation of the commitments owned over the plan's window of history."""
    catalog = repository.load_catalog(session, plan.provider)
    window = _window(session, plan, catalog) if catalog is not None else None
    if window is None:
        return None
    commitments: Sequence[Commitment] = repository.list_commitments(session, plan.provider)
    ordered = sorted(commitments, key=lambda c: c.start)
    summary = summarize(bill(window.usage, window.keys, window.rates, ordered, window.start))
    if summary.commitment_cost <= 0:
        return None
    names = [c.commitment_id or c.offering.offering_id for c in ordered]
    paid = [(name, s.utilisation) for name, s in zip(names, summary.by_commitment, strict=True)
            if s.commitment_cost > 0]
    return PortfolioHealth(summary.utilisation, window.usage.shape[0],
                           tuple(sorted(paid, key=lambda item: item[1])))
