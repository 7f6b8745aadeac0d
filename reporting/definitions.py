"""What every reported figure means: one definition per column name, used in responses and docs.

Reports return ``definitions`` restricted to their own columns, so that a JSON
response or a CSV download always carries the meaning of its numbers.
``reporting/README.md`` states the same texts (a test keeps them in step).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from reporting.spend_definitions import FINANCE_DEFINITIONS

UNTAGGED = "(untagged)"
"""The group of usage whose FOCUS rows lack the tag asked for."""

UNALLOCATED = "(unallocated)"
"""The group of unused commitment cost incurred in hours when none of its eligible keys ran."""

UNUSED_RULE = (
    "Unused commitment is allocated, hour by hour, to the commitment's eligible usage keys "
    "in proportion to their on-demand-equivalent usage in that hour; the unused cost of "
    "hours in which no eligible key had usage is reported as '(unallocated)' and belongs "
    "to the provider as a whole (it appears only in reports not narrowed to an account, "
    "service, usage key or tag)."
)

TAG_RULE = (
    "Usage keys do not carry tags: within one usage key and UTC day, the key's figures are "
    "shared among its FOCUS tag sets in proportion to their ListCost (their on-demand "
    "equivalent) that day; a key-day without FOCUS cost lines is '(untagged)'."
)

_DEFINITIONS: dict[str, str] = {
    # identification
    "period": "The period's label: 2024-06-01 (day), 2024-06 (month), 2024-Q3 (quarter), "
              "2024 (year) or 'total'. Periods are UTC calendar periods.",
    "period_start": "First UTC day of the period (inclusive) that the row covers.",
    "period_end": "First UTC day after the period (exclusive).",
    "group": "The value of the dimension the report is grouped by (provider, account, "
             "service, region, usage key, commitment or tag value); 'all' when ungrouped.",
    "hours": "Hours of usage data inside the row's period and window.",
    # money: billing engine
    "on_demand_equivalent": "What the usage would have cost at on-demand prices: FOCUS "
                            "ListCost of the compute usage, hour by hour (DESIGN.md, Money).",
    "covered_on_demand": "On-demand equivalent of the usage that commitments covered "
                         "(billing engine: covered units × the hour's on-demand price).",
    "on_demand_cost": "Cost of the usage no commitment covered, at on-demand prices.",
    "commitment_cost": "Amortized cost of the commitments charged to the row: upfront fees "
                       "spread evenly over the term plus recurring fees, for the used part "
                       "and the allocated unused part.",
    "commitment_used_cost": "Amortized cost of the part of the commitments that covered the "
                            "row's usage (covered units × the commitment's amortized rate per "
                            "unit consumed).",
    "commitment_unused_cost": "Amortized cost of unused commitment charged to the row by the "
                              "unused-commitment rule.",
    "amortized_cost": "Amortized cost: on_demand_cost + commitment_cost.",
    "realised_savings": "Realised savings = on_demand_equivalent − amortized_cost.",
    "esr_billing": "Effective Savings Rate from the billing engine: realised_savings ÷ "
                   "on_demand_equivalent (null when there is no usage).",
    # money: FOCUS
    "focus_contracted_cost": "Σ FOCUS ContractedCost of the compute usage rows (null when the "
                             "files do not carry it).",
    "focus_effective_cost": "Σ FOCUS EffectiveCost of the compute usage rows (null when the "
                            "files do not carry it).",
    "focus_billed_cost": "Σ FOCUS BilledCost of the compute usage rows (null when no FOCUS "
                         "cost lines were stored for them).",
    "esr_focus": "Effective Savings Rate as the FOCUS data states it: (ContractedCost − "
                 "EffectiveCost) ÷ ContractedCost over the compute usage rows Ladder keys "
                 "(unused-commitment rows carry no usage key and are not included).",
    # coverage and utilisation
    "coverage": "Coverage = covered_on_demand ÷ on_demand_equivalent (in on-demand dollars).",
    "units": "Normalised unit-hours of usage.",
    "quantity_hours": "Σ over hours of the commitment's active quantity (normalised units for "
                      "unit commitments, committed dollars for spend commitments).",
    "used_quantity_hours": "The part of quantity_hours that covered usage.",
    "used_cost": "Amortized cost of the used part of the commitment.",
    "unused_cost": "Waste: amortized cost of the commitment paid for and not used "
                   "(commitment_cost − used_cost).",
    "unallocated_cost": "The part of unused_cost incurred in hours when none of the "
                        "commitment's eligible keys had usage.",
    "utilisation": "Utilisation = used_cost ÷ commitment_cost (1 when nothing was paid).",
    "covered_units": "Normalised unit-hours of usage the commitment covered.",
    # amortization
    "commitment_amortized_cost": "Commitment cost on the amortized basis: quantity × "
                                 "(upfront ÷ term hours + hourly) for every active hour.",
    "upfront_paid": "Upfront fees paid in the period: quantity × upfront, on the day the "
                    "commitment starts; for a commitment received in an exchange, the "
                    "exchange's true-up (the cash it paid), not the list upfront.",
    "recurring_paid": "Recurring fees billed for the period: quantity × hourly for every "
                      "active hour.",
    "cash_cost": "Cost on the cash basis: on_demand_cost + upfront_paid + recurring_paid.",
    "cash_minus_amortized": "cash_cost − amortized_cost: positive when cash went out ahead "
                            "of the amortized cost (an upfront payment), negative after.",
    "upfront_due": "Upfront fee of a commitment starting in the month (future purchases); "
                   "for a commitment received in an exchange, the exchange's true-up.",
    "recurring_due": "Recurring fees of the commitment's active hours in the month from "
                     "as_of on.",
    "cash_due": "upfront_due + recurring_due.",
    "amortized_due": "Amortized cost of the commitment's active hours in the month from "
                     "as_of on.",
    # chargeback
    "benefit": "Savings the row received: on_demand_equivalent − amortized_cost, where the "
               "commitment cost it is charged is its used cost plus its share of unused "
               "commitment.",
    # calendar
    "expires_at": "First hour (UTC) at which the commitment no longer applies.",
    "quantity": "Size of the commitment: normalised units (unit) or dollars per hour (spend).",
    "exposure_basis": "'observed': the usage the commitment covered over the last window "
                      "days of data it was active; 'capacity': no such data (a commitment "
                      "outside the data), so its full quantity at the on-demand price of "
                      "the eligible key it displaces most.",
    "on_demand_exposure_hourly": "On-demand cost per hour the usage it covers would add if "
                                 "it expired unreplaced: covered on-demand equivalent ÷ active "
                                 "hours over the window ('observed').",
    "on_demand_exposure_monthly": "on_demand_exposure_hourly × 730 hours.",
    "commitment_cost_monthly": "The commitment's amortized cost per 730-hour month, which "
                               "stops when it expires.",
    "net_increase_monthly": "on_demand_exposure_monthly − commitment_cost_monthly: how much "
                            "the monthly bill grows if it expires and usage stays the same.",
    "commitments": "Number of commitments in the row.",
    **FINANCE_DEFINITIONS,
}

DEFINITIONS: Mapping[str, str] = MappingProxyType(_DEFINITIONS)
"""Every column's definition, by column name."""


def definitions_for(columns: Iterable[str]) -> dict[str, str]:
    """The definitions of the given columns (those that have one), in column order."""
    return {column: DEFINITIONS[column] for column in columns if column in DEFINITIONS}


__all__ = ["DEFINITIONS", "TAG_RULE", "UNALLOCATED", "UNTAGGED", "UNUSED_RULE",
           "definitions_for"]
