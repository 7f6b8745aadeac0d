"""Cost Explorer's own purchase recommendations, as frames with fixed columns, for reports.

AWS's recommender looks back 7, 30 or 60 days and proposes the commitment that
would have saved most then (the "lookback recommender" of DESIGN.md). Reports put
it beside Ladder's plan; ``offering_id`` is the Ladder catalog id when one applies.
Each Cost Explorer request is billed by AWS (USD 0.01 at the time of writing).

* ``get_savings_plans_purchase_recommendation`` (no paginator: a ``NextPageToken``
  loop): one row per recommended plan (per account when the scope is LINKED);
* ``get_reservation_purchase_recommendation`` (paginated): one row per
  recommended RI (instance type, account).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import product
from typing import Any

import pandas as pd

from providers.aws.naming import RI_CLASSES, RiId, SpId, is_region_code
from providers.aws.session import AwsClients

SP_RECOMMENDATION_COLUMNS: tuple[str, ...] = (
    "source", "recommendation_id", "generated_at", "lookback_days", "account_scope",
    "account_id", "savings_plans_type", "term", "payment_option", "region", "family",
    "offering_id", "aws_offering_id", "hourly_commitment", "upfront_cost",
    "estimated_monthly_savings", "estimated_savings_pct", "estimated_utilization_pct",
    "estimated_roi_pct", "currency",
)
RI_RECOMMENDATION_COLUMNS: tuple[str, ...] = (
    "source", "recommendation_id", "generated_at", "lookback_days", "account_scope",
    "account_id", "offering_class", "term", "payment_option", "region", "location",
    "instance_type", "family", "platform", "tenancy", "size_flexible", "offering_id",
    "instances", "normalized_units", "upfront_cost", "recurring_monthly_cost",
    "estimated_monthly_savings", "estimated_savings_pct", "estimated_utilization_pct",
    "break_even_months", "currency",
)

TERMS = {"ONE_YEAR": "1y", "THREE_YEARS": "3y"}
PAYMENTS = {"NO_UPFRONT": "nu", "PARTIAL_UPFRONT": "pu", "ALL_UPFRONT": "au"}
LOOKBACK_DAYS = {"SEVEN_DAYS": 7, "THIRTY_DAYS": 30, "SIXTY_DAYS": 60}
SP_PLAN_TYPES = {"COMPUTE_SP": "Compute", "EC2_INSTANCE_SP": "EC2Instance"}
RI_SERVICE = "Amazon Elastic Compute Cloud - Compute"

# Cost Explorer names regions by location; the price list uses the same names.
REGION_BY_LOCATION: dict[str, str] = {
    "US East (N. Virginia)": "us-east-1",
    "US East (Ohio)": "us-east-2",
    "US West (N. California)": "us-west-1",
    "US West (Oregon)": "us-west-2",
    "Canada (Central)": "ca-central-1",
    "EU (Ireland)": "eu-west-1",
    "EU (London)": "eu-west-2",
    "EU (Paris)": "eu-west-3",
    "EU (Frankfurt)": "eu-central-1",
    "EU (Stockholm)": "eu-north-1",
    "EU (Milan)": "eu-south-1",
    "Asia Pacific (Tokyo)": "ap-northeast-1",
    "Asia Pacific (Seoul)": "ap-northeast-2",
    "Asia Pacific (Osaka)": "ap-northeast-3",
    "Asia Pacific (Singapore)": "ap-southeast-1",
    "Asia Pacific (Sydney)": "ap-southeast-2",
    "Asia Pacific (Mumbai)": "ap-south-1",
    "South America (Sao Paulo)": "sa-east-1",
}
_RI_PLATFORMS = {"Linux/UNIX": "linux", "Windows": "windows",
                 "Red Hat Enterprise Linux": "rhel", "SUSE Linux": "suse"}


def _number(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _region(text: str | None) -> str | None:
    if not text:
        return None
    return text if is_region_code(text) else REGION_BY_LOCATION.get(text)


def _every_page_rows(
    clients: AwsClients,
    operation: str,
    requests: Iterable[dict[str, Any]],
    rows_of: Callable[[dict[str, Any]], list[dict[str, Any]]],
    *,
    input_token: str | None = None,
    output_token: str | None = None,
) -> list[dict[str, Any]]:
    """The rows (``rows_of`` each page) of every page of Cost Explorer's ``operation``,
    for each request in turn (one per combination of term, payment and kind asked for)."""
    rows: list[dict[str, Any]] = []
    for request in requests:
        for page in clients.pages("ce", operation, input_token=input_token,
                                  output_token=output_token, **request):
            rows.extend(rows_of(page))
    return rows


def savings_plans_recommendations(
    clients: AwsClients,
    *,
    plan_types: Sequence[str] = ("COMPUTE_SP", "EC2_INSTANCE_SP"),
    terms: Sequence[str] = ("ONE_YEAR", "THREE_YEARS"),
    payment_options: Sequence[str] = ("NO_UPFRONT", "PARTIAL_UPFRONT", "ALL_UPFRONT"),
    lookback: str = "THIRTY_DAYS",
    account_scope: str = "PAYER",
) -> pd.DataFrame:
    """Cost Explorer's Savings Plans recommendations, one row per recommended plan."""
    requests = ({"SavingsPlansType": plan_type, "TermInYears": term, "PaymentOption": payment,
                 "LookbackPeriodInDays": lookback, "AccountScope": account_scope}
                for plan_type, term, payment in product(plan_types, terms, payment_options))
    rows = _every_page_rows(clients, "get_savings_plans_purchase_recommendation", requests,
                            _sp_rows, input_token="NextPageToken", output_token="NextPageToken")
    return pd.DataFrame(rows, columns=list(SP_RECOMMENDATION_COLUMNS))


def _sp_rows(page: dict[str, Any]) -> list[dict[str, Any]]:
    meta = page.get("Metadata", {})
    recommendation = page.get("SavingsPlansPurchaseRecommendation", {})
    plan_type = SP_PLAN_TYPES.get(str(recommendation.get("SavingsPlansType")))
    term = TERMS.get(str(recommendation.get("TermInYears")))
    payment = PAYMENTS.get(str(recommendation.get("PaymentOption")))
    rows = []
    for detail in recommendation.get("SavingsPlansPurchaseRecommendationDetails", []):
        plan = detail.get("SavingsPlansDetails", {})
        region = _region(plan.get("Region"))
        family = plan.get("InstanceFamily") or None
        offering_id = None
        if plan_type and term and payment and (plan_type == "Compute" or (region and family)):
            offering_id = str(SpId(plan_type, term, payment, region, family))
        rows.append({
            "source": "aws-cost-explorer",
            "recommendation_id": meta.get("RecommendationId"),
            "generated_at": meta.get("GenerationTimestamp"),
            "lookback_days": LOOKBACK_DAYS.get(str(recommendation.get("LookbackPeriodInDays"))),
            "account_scope": recommendation.get("AccountScope"),
            "account_id": detail.get("AccountId"),
            "savings_plans_type": plan_type,
            "term": term,
            "payment_option": payment,
            "region": region,
            "family": family,
            "offering_id": offering_id,
            "aws_offering_id": plan.get("OfferingId"),
            "hourly_commitment": _number(detail.get("HourlyCommitmentToPurchase")),
            "upfront_cost": _number(detail.get("UpfrontCost")),
            "estimated_monthly_savings": _number(detail.get("EstimatedMonthlySavingsAmount")),
            "estimated_savings_pct": _number(detail.get("EstimatedSavingsPercentage")),
            "estimated_utilization_pct": _number(detail.get("EstimatedAverageUtilization")),
            "estimated_roi_pct": _number(detail.get("EstimatedROI")),
            "currency": detail.get("CurrencyCode"),
        })
    return rows


def reservation_recommendations(
    clients: AwsClients,
    *,
    offering_classes: Sequence[str] = ("STANDARD", "CONVERTIBLE"),
    terms: Sequence[str] = ("ONE_YEAR", "THREE_YEARS"),
    payment_options: Sequence[str] = ("NO_UPFRONT", "PARTIAL_UPFRONT", "ALL_UPFRONT"),
    lookback: str = "THIRTY_DAYS",
    account_scope: str = "PAYER",
) -> pd.DataFrame:
    """Cost Explorer's EC2 Reserved Instance recommendations, one row per instance type."""
    requests = ({"Service": RI_SERVICE, "AccountScope": account_scope,
                 "LookbackPeriodInDays": lookback, "TermInYears": term, "PaymentOption": payment,
                 "ServiceSpecification": {"EC2Specification": {"OfferingClass": offering_class}}}
                for offering_class, term, payment in product(offering_classes, terms,
                                                             payment_options))
    rows = _every_page_rows(clients, "get_reservation_purchase_recommendation", requests,
                            _ri_rows)
    return pd.DataFrame(rows, columns=list(RI_RECOMMENDATION_COLUMNS))


def _ri_rows(page: dict[str, Any]) -> list[dict[str, Any]]:
    meta = page.get("Metadata", {})
    rows = []
    for recommendation in page.get("Recommendations", []):
        spec = recommendation.get("ServiceSpecification", {}).get("EC2Specification", {})
        offering_class = str(spec.get("OfferingClass", "STANDARD")).lower()
        term = TERMS.get(str(recommendation.get("TermInYears")))
        payment = PAYMENTS.get(str(recommendation.get("PaymentOption")))
        for detail in recommendation.get("RecommendationDetails", []):
            ec2 = detail.get("InstanceDetails", {}).get("EC2InstanceDetails", {})
            location = ec2.get("Region")
            region = _region(location)
            platform = _RI_PLATFORMS.get(str(ec2.get("Platform")), ec2.get("Platform"))
            tenancy = str(ec2.get("Tenancy", "Shared")).lower()
            family = ec2.get("Family")
            offering_id = None
            if (term and payment and region and family and platform == "linux"
                    and tenancy == "shared" and ec2.get("SizeFlexEligible", True)
                    and offering_class in RI_CLASSES):
                offering_id = str(RiId(offering_class, term, payment, region, family))
            rows.append({
                "source": "aws-cost-explorer",
                "recommendation_id": meta.get("RecommendationId"),
                "generated_at": meta.get("GenerationTimestamp"),
                "lookback_days": LOOKBACK_DAYS.get(
                    str(recommendation.get("LookbackPeriodInDays"))),
                "account_scope": recommendation.get("AccountScope"),
                "account_id": detail.get("AccountId"),
                "offering_class": offering_class,
                "term": term,
                "payment_option": payment,
                "region": region,
                "location": location,
                "instance_type": ec2.get("InstanceType"),
                "family": family,
                "platform": platform,
                "tenancy": tenancy,
                "size_flexible": ec2.get("SizeFlexEligible"),
                "offering_id": offering_id,
                "instances": _number(detail.get("RecommendedNumberOfInstancesToPurchase")),
                "normalized_units": _number(detail.get("RecommendedNormalizedUnitsToPurchase")),
                "upfront_cost": _number(detail.get("UpfrontCost")),
                "recurring_monthly_cost": _number(detail.get("RecurringStandardMonthlyCost")),
                "estimated_monthly_savings": _number(detail.get("EstimatedMonthlySavingsAmount")),
                "estimated_savings_pct": _number(detail.get("EstimatedMonthlySavingsPercentage")),
                "estimated_utilization_pct": _number(detail.get("AverageUtilization")),
                "break_even_months": _number(detail.get("EstimatedBreakEvenInMonths")),
                "currency": detail.get("CurrencyCode"),
            })
    return rows
