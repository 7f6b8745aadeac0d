"""What the whole bill's reports (spend, spend forecast, variance, unit cost) mean, per column.

Kept apart from ``reporting.definitions`` (which merges them in) so that it imports
nothing: every report of the whole bill reads its columns' meanings from here.
"""

from __future__ import annotations

SPEND_DEFINITIONS: dict[str, str] = {
    "cost": "Spend on the report's basis: cash = Σ FOCUS BilledCost (purchases of "
            "commitments counted when billed); amortized = Σ FOCUS EffectiveCost (purchases "
            "count 0, their cost spread over the usage they cover). A commitment's purchase "
            "and its amortization are never both counted.",
    "billed_cost": "Σ FOCUS BilledCost of every row of the bill in the row's period and group "
                   "(the invoice's figure).",
    "effective_cost": "Σ FOCUS EffectiveCost of every row of the bill in the row's period and "
                      "group (amortized cost; null when the rows do not carry it).",
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

FORECAST_DEFINITIONS: dict[str, str] = {
    "horizon": "The period forecast to the end of: month, quarter (calendar) or fiscal_year "
               "(starting in LADDER_FISCAL_YEAR_START_MONTH).",
    "as_of": "The first day forecast (UTC): actual spend is from the period's start to the "
             "day before; by default the end of the bill.",
    "days_elapsed": "Days of the period before as_of (with actual spend).",
    "days_remaining": "Days of the period from as_of to its end (forecast).",
    "actual": "Spend in the scope and basis from the period's first day to as_of (exclusive).",
    "known_spend": "Committed spend already known over the days forecast: the stored "
                   "commitments' cost (amortized, or their fees when billed on the cash "
                   "basis), counted as known, not forecast; 0 on a scope narrower than a "
                   "provider.",
    "forecast": "actual + the median forecast of the days left (for a day: that day's "
                "median).",
    "forecast_mean": "actual + the mean forecast of the days left (means add up across "
                     "groups, medians do not).",
    "forecast_low_95": "Lower end of the 95 % interval of the forecast (2.5 % quantile).",
    "forecast_low_80": "Lower end of the 80 % interval of the forecast (10 % quantile).",
    "forecast_high_80": "Upper end of the 80 % interval of the forecast (90 % quantile).",
    "forecast_high_95": "Upper end of the 95 % interval of the forecast (97.5 % quantile).",
    "day": "A UTC day.",
}
"""Definitions of the spend forecast's columns."""

VARIANCE_DEFINITIONS: dict[str, str] = {
    "kind": "budget (a monthly spend budget), total (the report's scope) or mover (one "
            "group of the scope; '(other)' sums the movers not shown).",
    "name": "The spend budget's name (budget rows).",
    "budget": "The budget's amount for the month (budget rows).",
    "previous": "Spend of the month before, in the row's scope and basis.",
    "variance": "forecast − budget: positive when the month is forecast over budget.",
    "change": "forecast − previous: how much the month moves from the month before.",
    "share_of_change": "change ÷ the total's change: the part of the move the row explains "
                       "(the movers' shares add up to 1).",
    "burn_rate": "actual ÷ days_elapsed: spend per day so far in the period.",
    "required_daily_rate": "(amount − actual) ÷ days_remaining: what may still be spent per "
                           "day to end the period on budget.",
    "run_out_date": "The day the period's cumulative spend (actual, then the daily median "
                    "forecast) reaches the budget's amount; null when it does not within the "
                    "period.",
}
"""Definitions of the variance report's columns and the spend budgets' status fields."""

FINANCE_DEFINITIONS: dict[str, str] = {**SPEND_DEFINITIONS, **UNIT_COST_DEFINITIONS,
                                       **FORECAST_DEFINITIONS, **VARIANCE_DEFINITIONS}
"""Every column of the whole bill's reports."""

__all__ = ["FINANCE_DEFINITIONS", "FORECAST_DEFINITIONS", "SPEND_DEFINITIONS",
           "UNIT_COST_DEFINITIONS", "VARIANCE_DEFINITIONS"]
