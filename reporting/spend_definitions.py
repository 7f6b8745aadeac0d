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

UNIT_COST_DEFINITIONS: dict[str, str] = {
    "metric": "The business metric the cost is per (as supplied: requests, customers, GB…).",
    "scope": "The part of the bill the metric is for: empty for the whole bill, KEY=VALUE "
             "(provider, billing_account, account, service_category, service, region) or "
             "tag:KEY=VALUE.",
    "metric_days": "Days of the period with a value of the metric: only their cost counts.",
    "metric_value": "Σ of the metric's daily values in the period.",
    "unit_cost": "Cost per unit: cost ÷ metric_value × per (per = 1,000 gives the cost per "
                 "1,000 units); unrounded; null when the metric is 0.",
    "unit_cost_change": "unit_cost ÷ the previous period's unit_cost − 1 (the trend; null "
                        "for the first period).",
    "commitment_savings": "Σ FOCUS (ContractedCost − EffectiveCost) of the scope's lines on "
                          "the metric's days that carry both: what commitment discounts took "
                          "off the cost.",
    "unit_savings": "commitment_savings ÷ metric_value × per: what commitments saved per unit.",
    "commitment_savings_share": "commitment_savings ÷ Σ ContractedCost of the same lines: the "
                                "share of the unit cost that commitments saved (null when no "
                                "line carries ContractedCost).",
}
"""Definitions of the unit-cost report's columns."""

FINANCE_DEFINITIONS: dict[str, str] = {**SPEND_DEFINITIONS, **UNIT_COST_DEFINITIONS}
"""Every column of the whole bill's reports."""

__all__ = ["FINANCE_DEFINITIONS", "SPEND_DEFINITIONS", "UNIT_COST_DEFINITIONS"]
