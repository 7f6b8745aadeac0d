"""``ladder providers check`` for AWS: credentials, identity, and each permission Ladder uses.

Every probe is a read, or an EC2 call with ``DryRun=True`` (AWS answers
``DryRunOperation`` when the call would be allowed and does nothing). The
Savings Plans writes (``CreateSavingsPlan``, ``ReturnSavingsPlan``,
``TagResource``) and ``AcceptReservedInstancesExchangeQuote`` have no dry run and
are not probed: README.md lists them. The two Cost Explorer probes are billed by
AWS (USD 0.01 each at the time of writing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from providers.aws.errors import AwsProviderError
from providers.aws.session import AwsClients
from providers.aws.usage import parse_s3_uri
from providers.base import CheckResult

_PROBE_TYPE = "m5.large"


def _probe(name: str, call: Callable[[], Any]) -> tuple[CheckResult, Any]:
    """Run one probe: allowed when it answers (or answers ``DryRunOperation``)."""
    try:
        return CheckResult(name, True, "allowed"), call()
    except AwsProviderError as error:
        if error.code == "DryRunOperation":
            return CheckResult(name, True, "allowed (dry run)"), None
        if error.access_denied:
            return CheckResult(name, False, f"denied ({error.code})"), None
        return CheckResult(name, False, f"failed: {error}"), None


def check(clients: AwsClients, *, usage: str | None = None) -> list[CheckResult]:
    """Probe credentials and every permission that can be probed without changing anything."""
    if not clients.has_credentials():
        return [CheckResult(
            "credentials", False,
            "no AWS credentials in boto3's standard chain (environment, shared config and "
            "credentials files, SSO, container or instance role)",
        )]
    credentials = clients.session.get_credentials()
    method = getattr(credentials, "method", "") or "standard chain"
    results = [CheckResult("credentials", True, f"found ({method})")]
    identity, answer = _probe("sts:GetCallerIdentity",
                              lambda: clients.call("sts", "get_caller_identity"))
    if answer is not None:
        identity = CheckResult(identity.name, True,
                               f"account {answer.get('Account')} as {answer.get('Arn')}")
    results.append(identity)
    if not identity.ok:
        return results
    region = (clients.settings.regions or (clients.settings.home_region,))[0]
    results.append(_probe("ec2:DescribeReservedInstances", lambda: clients.call(
        "ec2", "describe_reserved_instances", region=region, DryRun=True))[0])
    offerings_check, offerings = _probe(
        "ec2:DescribeReservedInstancesOfferings", lambda: clients.call(
            "ec2", "describe_reserved_instances_offerings", region=region,
            InstanceType=_PROBE_TYPE, ProductDescription="Linux/UNIX",
            IncludeMarketplace=False, MaxResults=5))
    results.append(offerings_check)
    results.append(_probe("savingsplans:DescribeSavingsPlans", lambda: clients.call(
        "savingsplans", "describe_savings_plans", maxResults=1))[0])
    results.append(_probe("savingsplans:DescribeSavingsPlansOfferings", lambda: clients.call(
        "savingsplans", "describe_savings_plans_offerings", planTypes=["Compute"],
        maxResults=1))[0])
    results.append(_probe("savingsplans:DescribeSavingsPlansOfferingRates", lambda: clients.call(
        "savingsplans", "describe_savings_plans_offering_rates", savingsPlanTypes=["Compute"],
        products=["EC2"], filters=[{"name": "instanceType", "values": [_PROBE_TYPE]},
                                   {"name": "region", "values": [region]}],
        maxResults=1))[0])
    results.append(_probe("pricing:GetProducts", lambda: clients.call(
        "pricing", "get_products", region=clients.settings.pricing_region,
        ServiceCode="AmazonEC2", MaxResults=1,
        Filters=[{"Type": "TERM_MATCH", "Field": "instanceType", "Value": _PROBE_TYPE},
                 {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}]))[0])
    results.append(_probe("ce:GetSavingsPlansPurchaseRecommendation", lambda: clients.call(
        "ce", "get_savings_plans_purchase_recommendation", SavingsPlansType="COMPUTE_SP",
        TermInYears="ONE_YEAR", PaymentOption="NO_UPFRONT",
        LookbackPeriodInDays="SEVEN_DAYS", PageSize=1))[0])
    results.append(_probe("ce:GetReservationPurchaseRecommendation", lambda: clients.call(
        "ce", "get_reservation_purchase_recommendation",
        Service="Amazon Elastic Compute Cloud - Compute", PageSize=1))[0])
    if usage and usage.startswith("s3://"):
        bucket, prefix = parse_s3_uri(usage)
        results.append(_probe(f"s3:ListBucket ({bucket})", lambda: clients.call(
            "s3", "list_objects_v2", Bucket=bucket, Prefix=prefix, MaxKeys=1))[0])
    items = (offerings or {}).get("ReservedInstancesOfferings", [])
    if items:
        offering_id = items[0]["ReservedInstancesOfferingId"]
        # DryRun=True: AWS checks the permission and buys nothing.
        results.append(_probe("ec2:PurchaseReservedInstancesOffering", lambda: clients.call(
            "ec2", "purchase_reserved_instances_offering", region=region, idempotent=False,
            DryRun=True, ReservedInstancesOfferingId=offering_id, InstanceCount=1))[0])
    return results
