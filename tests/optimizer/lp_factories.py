"""Small typed factories for the LP tests: offerings, a catalog grid, usage, a reference LP."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pulp

from core.domain import Offering, PaymentOption, Shape
from optimizer.lp import PurchaseProblem
from optimizer.pricing import amortized_with_capital

HOURS_PER_YEAR = 8760


def unit(
    offering_id: str,
    covers: dict[str, float],
    *,
    hourly: float = 0.0,
    upfront: float = 0.0,
    term_hours: int = HOURS_PER_YEAR,
    order: int = 0,
) -> Offering:
    """A unit offering (an RI) with keyword overrides."""
    return Offering(offering_id, Shape.UNIT, term_hours=term_hours, upfront=upfront,
                    hourly=hourly, order=order, covers=covers)


def spend(
    offering_id: str,
    rates: dict[str, float],
    *,
    upfront_fraction: float = 0.0,
    term_hours: int = HOURS_PER_YEAR,
    order: int = 10,
) -> Offering:
    """A spend offering (a Savings Plan): one unit is $1/h committed."""
    return Offering.spend(offering_id, term_hours=term_hours, upfront_fraction=upfront_fraction,
                          rates=rates, order=order)


FAMILIES = {"m4": 0.025, "c4": 0.0249, "c5": 0.02125, "r4": 0.03325}
# Discounts off on-demand, as in AWS's grid: (standard RI, convertible RI) per term and payment.
RI_DISCOUNTS = {
    (1, PaymentOption.NO_UPFRONT): (0.38, 0.29),
    (1, PaymentOption.PARTIAL_UPFRONT): (0.40, 0.31),
    (1, PaymentOption.ALL_UPFRONT): (0.41, 0.32),
    (3, PaymentOption.NO_UPFRONT): (0.57, 0.50),
    (3, PaymentOption.PARTIAL_UPFRONT): (0.61, 0.54),
    (3, PaymentOption.ALL_UPFRONT): (0.62, 0.55),
}
UPFRONT_SHARE = {PaymentOption.NO_UPFRONT: 0.0, PaymentOption.PARTIAL_UPFRONT: 0.5,
                 PaymentOption.ALL_UPFRONT: 1.0}


@dataclass(frozen=True)
class Grid:
    """Keys with their on-demand rates and the full candidate grid over them."""

    key_ids: tuple[str, ...]
    rates: np.ndarray
    offerings: tuple[Offering, ...]


def grid(*, accounts: int = 3, families: Sequence[str] = tuple(FAMILIES)) -> Grid:
    """Per family: Standard/Convertible RIs x 1y/3y x 3 payments (12 unit offerings over the
    family's keys in every account) and 6 EC2 Instance SPs; one Compute SP per term and payment.
    """
    key_ids: list[str] = []
    rates: list[float] = []
    for family in families:
        for account in range(accounts):
            key_ids.append(f"aws/{100000 + account}/ec2/us-east-1/{family}/linux/shared")
            rates.append(FAMILIES[family])
    offerings: list[Offering] = []
    for family in families:
        keys = [k for k in key_ids if f"/{family}/" in k]
        od = FAMILIES[family]
        for (years, payment), (standard, convertible) in RI_DISCOUNTS.items():
            term = years * HOURS_PER_YEAR
            share = UPFRONT_SHARE[payment]
            for kind, discount in (("std", standard), ("conv", convertible)):
                price = od * (1 - discount)
                offerings.append(unit(
                    f"ri-{kind}-{years}y-{payment}/{family}", dict.fromkeys(keys, 1.0),
                    upfront=price * share * term, hourly=price * (1 - share),
                    term_hours=term, order=0 if kind == "std" else 1,
                ))
            offerings.append(spend(
                f"sp-ec2-{years}y-{payment}/{family}",
                dict.fromkeys(keys, od * (1 - standard)),
                upfront_fraction=share, term_hours=term, order=10,
            ))
    nudge = {family: 0.01 * i for i, family in enumerate(families)}
    for (years, payment), (_, convertible) in RI_DISCOUNTS.items():
        # Compute SP discounts differ a little by family (not by account), as at AWS.
        offerings.append(spend(
            f"sp-compute-{years}y-{payment}",
            {k: r * (1 - convertible + nudge[k.split("/")[4]])
             for k, r in zip(key_ids, rates, strict=True)},
            upfront_fraction=UPFRONT_SHARE[payment], term_hours=years * HOURS_PER_YEAR,
            order=20,
        ))
    return Grid(tuple(key_ids), np.array(rates), tuple(offerings))


def daily_usage(n_keys: int, hours: int, *, seed: int = 0) -> np.ndarray:
    """Seeded usage with a daily cycle and noise, in whole units, (hours, n_keys)."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(20, 200, n_keys)
    phase = rng.uniform(0, 24, n_keys)
    t = np.arange(hours)[:, None]
    cycle = 1 + 0.35 * np.sin(2 * np.pi * (t + phase) / 24)
    return np.maximum(np.round(base * cycle + rng.normal(0, 8, (hours, n_keys))), 0.0)


def reference_objective(problem: PurchaseProblem) -> float:
    """The LP exactly as written in the brief, with no reduction: one y per hour, commitment, key.

    For checking that pruning, patterns, merged keys and collapsed hours leave the optimum.
    """
    prob = pulp.LpProblem("reference", pulp.LpMinimize)
    key_index = {k: i for i, k in enumerate(problem.key_ids)}
    hours = range(problem.hours)
    commitments = [(o, None) for o in problem.candidates] + \
        [(o, c) for c, o in enumerate(problem.owned)]
    objective = []
    coverage: dict[tuple[int, int], list[pulp.LpVariable]] = {}
    for c, (offering, owned) in enumerate(commitments):
        x = None
        if owned is None:
            x = prob.add_variable(f"x_{c}", lowBound=0)
            price = amortized_with_capital(offering, problem.cost_of_capital)
            objective.append(price * problem.hours * x)
        weights = offering.covers if offering.shape is Shape.UNIT else offering.rates
        for h in hours:
            terms = []
            for key, weight in weights.items():
                k = key_index[key]
                y = prob.add_variable(f"y_{h}_{c}_{k}", lowBound=0)
                coverage.setdefault((h, k), []).append(y)
                objective.append(-problem.on_demand_rates[k] * y)
                terms.append(y / weight if offering.shape is Shape.UNIT else weight * y)
            size = x if owned is None else float(problem.owned_active[h, owned])
            prob.addConstraint(pulp.lpSum(terms) <= size, f"cap_{h}_{c}")
    for (h, k), ys in coverage.items():
        prob.addConstraint(pulp.lpSum(ys) <= float(problem.usage[h, k]), f"use_{h}_{k}")
    constant = float((problem.usage @ problem.on_demand_rates).sum())
    prob.setObjective(pulp.lpSum(objective) + constant)
    prob.solve(pulp.HiGHS(msg=False))
    assert pulp.LpStatus[prob.status] == "Optimal"
    return float(pulp.value(prob.objective))
