"""What the whole bill's reports (spend, spend forecast, variance, unit cost) mean, per column.

Kept apart from ``reporting.definitions`` (which merges them in) so that it imports
nothing: every report of the whole bill reads its columns' meanings from here.
"""

from __future__ import annotations

SPEND_DEFINITIONS: dict[str, str] = {
    "cost": "Spend on the report's basis: cash = Σ FOCUS BilledCost (purchases of "
            "commitments counted when billed); amortized = Σ FOCUS EffectiveCost (purchases "
            "count 0, their cost spread over the usage they cover). A commitment's purchase "
            "and its amortisation are never both counted.",
    "billed_cost": "Σ FOCUS BilledCost of every row of the bill in the row's period and group "
                   "(the invoice's figure).",
    "effective_cost": "Σ FOCUS EffectiveCost of every row of the bill in the row's period and "
                      "group (amortised cost; null when the rows do not carry it).",
    "list_cost": "Σ FOCUS ListCost of every row of the bill in the row's period and group "
                 "(the cost at public list prices).",
    "currency": "The FOCUS BillingCurrency of the row's figures.",
}
"""Definitions of the spend report's own columns (merged into ``reporting.DEFINITIONS``)."""

FINANCE_DEFINITIONS: dict[str, str] = {**SPEND_DEFINITIONS}
"""Every column of the whole bill's reports."""

__all__ = ["FINANCE_DEFINITIONS", "SPEND_DEFINITIONS"]
