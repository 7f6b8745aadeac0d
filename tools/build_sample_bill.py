"""The sample's whole bill: its EC2 usage and the rest of an AWS bill, shaped by a real one.

``providers/sample/data/bill.parquet`` holds every row of ``usage.parquet`` (the EC2 usage,
unchanged) and the rows a real AWS bill has beside compute:

* **usage of other services** (EBS volumes, RDS, load balancers, VPC, CloudWatch,
  CloudFront, S3): for each service, the ratio of its BilledCost to EC2 compute's in the
  AWS rows of the FOCUS sample (``shared/data/billing/focus-sample``, CC BY 4.0), applied
  to each account's, team's and day's EC2 cost, at that service's median list unit price
  in the same rows (the quantity is cost ÷ price). A day's row covers the whole day;
* **support**: AWS Business Support's public price formula, once a month per billing
  account (10 % of the month's usage up to $10,000, 7 % from $10,000 to $80,000, 5 % to
  $250,000, 3 % above, at least $100);
* **tax**: a sales tax of ``TAX_RATE`` (6 %, an illustrative rate: the FOCUS sample has no
  tax row) on each account's month of usage;
* **credits**: a promotional credit on the smallest account, the share of its month's usage
  that the FOCUS sample's AWS credit row is of that sample's AWS usage.

Everything is at list price (ContractedCost = EffectiveCost = BilledCost = ListCost), as the
EC2 rows are. Rebuild with ``python -m tools.build_sample_bill`` (needs shared/data).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tools.build_sample import (
    BILLING_ACCOUNT_ID,
    BILLING_ACCOUNT_NAME,
    DEFAULT_DATA_DIR,
    FOCUS_COLUMNS,
    FOCUS_DECIMAL_COLUMNS,
    REGION,
    REGION_NAME,
    SAMPLE_DIR,
    USAGE_FILE,
    focus_schema,
    write_usage,
)

BILL_FILE = "bill.parquet"
FOCUS_SAMPLE = Path("billing") / "focus-sample" / "focus_sample.csv"
TAX_RATE = 0.06
SUPPORT_TIERS = ((10_000.0, 0.10), (80_000.0, 0.07), (250_000.0, 0.05), (float("inf"), 0.03))
SUPPORT_MINIMUM = 100.0


@dataclass(frozen=True, slots=True)
class Service:
    """A service of the FOCUS sample's AWS rows that the sample's bill gets too."""

    category: str
    name: str
    unit: str
    description: str


SERVICES: tuple[Service, ...] = (
    Service("Storage", "Amazon Elastic Compute Cloud", "GB-Months", "EBS gp2 volume storage"),
    Service("Databases", "Amazon Relational Database Service", "vCPU-Hours",
            "RDS database instance vCPU hours"),
    Service("Networking", "Elastic Load Balancing", "Hours", "Application load balancer hours"),
    Service("Networking", "Amazon Virtual Private Cloud", "Hours", "Public IPv4 address hours"),
    Service("Management and Governance", "AmazonCloudWatch", "GB", "CloudWatch logs ingested"),
    Service("Networking", "Amazon CloudFront", "GB", "CloudFront data transfer out"),
    Service("Storage", "Amazon Simple Storage Service", "GB-Months", "S3 standard storage"),
)


@dataclass(frozen=True, slots=True)
class Shape:
    """A service's cost per dollar of EC2 compute, and its list unit price."""

    service: Service
    ratio: float
    unit_price: float


def focus_shapes(data_dir: Path) -> tuple[list[Shape], float]:
    """Each service's shape, and the credit's share of usage, from the FOCUS sample's AWS
    rows."""
    raw = pd.read_csv(data_dir / FOCUS_SAMPLE, na_values=["NULL"], keep_default_na=False)
    aws = raw[raw["ProviderName"] == "AWS"]
    usage = aws[aws["ChargeCategory"] == "Usage"]
    compute = usage[(usage["ServiceCategory"] == "Compute")
                    & (usage["ServiceName"] == "Amazon Elastic Compute Cloud")
                    & (usage["ConsumedUnit"] == "Hours")]["BilledCost"].sum()
    shapes = []
    for service in SERVICES:
        rows = usage[(usage["ServiceCategory"] == service.category)
                     & (usage["ServiceName"] == service.name)
                     & (usage["ConsumedUnit"] == service.unit)]
        prices = rows.loc[rows["ListUnitPrice"] > 0, "ListUnitPrice"]
        shapes.append(Shape(service, float(rows["BilledCost"].sum() / compute),
                            float(prices.median())))
    credit = float(aws.loc[aws["ChargeCategory"] == "Credit", "BilledCost"].sum()
                   / usage["BilledCost"].sum())
    return shapes, credit


def support_fee(usage: float) -> float:
    """AWS Business Support's monthly fee for a month of ``usage`` dollars."""
    fee, lower = 0.0, 0.0
    for upper, rate in SUPPORT_TIERS:
        fee += rate * max(0.0, min(usage, upper) - lower)
        lower = upper
    return max(fee, SUPPORT_MINIMUM)


def _row(template: pd.Series, **values: object) -> dict[str, object]:
    """A FOCUS row of the sample's organisation, with the columns ``values`` gives."""
    base: dict[str, object] = {column: None for column in FOCUS_COLUMNS}
    base.update({
        "BillingAccountId": BILLING_ACCOUNT_ID, "BillingAccountName": BILLING_ACCOUNT_NAME,
        "BillingCurrency": "USD", "InvoiceIssuerName": "Amazon Web Services, Inc.",
        "ProviderName": "AWS", "PublisherName": "Amazon Web Services, Inc.",
        "RegionId": REGION, "RegionName": REGION_NAME, "PricingCategory": "Standard",
        "SubAccountId": template["SubAccountId"], "SubAccountName": template["SubAccountName"],
        "Tags": template.get("Tags"),
    })
    base.update(values)
    return base


def _priced(cost: float) -> dict[str, float]:
    return {"BilledCost": cost, "ContractedCost": cost, "EffectiveCost": cost, "ListCost": cost}


def service_rows(usage: pd.DataFrame, shapes: list[Shape]) -> list[dict[str, object]]:
    """A row per service, day, account and tag set: the EC2 cost that day × the ratio."""
    day = usage["ChargePeriodStart"].dt.floor("D")
    daily = usage.assign(day=day).groupby(
        ["day", "SubAccountId", "SubAccountName", "Tags"], sort=True)["BilledCost"].sum()
    rows = []
    for key, compute in daily.items():
        start, account, name, tags = cast(tuple[pd.Timestamp, str, str, str], key)
        template = pd.Series({"SubAccountId": account, "SubAccountName": name, "Tags": tags})
        end = start + pd.Timedelta(days=1)
        month = start.tz_convert(None).to_period("M")
        for shape in shapes:
            cost = round(float(compute) * shape.ratio, 10)
            quantity = round(cost / shape.unit_price, 10)
            rows.append(_row(
                template, ChargeCategory="Usage", ChargeFrequency="Usage-Based",
                ChargePeriodStart=start, ChargePeriodEnd=end,
                BillingPeriodStart=month.start_time.tz_localize("UTC"),
                BillingPeriodEnd=(month + 1).start_time.tz_localize("UTC"),
                ServiceCategory=shape.service.category, ServiceName=shape.service.name,
                ChargeDescription=shape.service.description, ConsumedUnit=shape.service.unit,
                PricingUnit=shape.service.unit, ConsumedQuantity=quantity,
                PricingQuantity=quantity, ListUnitPrice=shape.unit_price,
                ContractedUnitPrice=shape.unit_price, **_priced(cost)))
    return rows


def monthly_rows(usage: pd.DataFrame, services: pd.DataFrame,
                 credit_share: float) -> list[dict[str, object]]:
    """Support per month for the organisation, tax per account and month, and the credit."""
    frame = pd.concat([usage, services], ignore_index=True)
    frame["month"] = frame["ChargePeriodStart"].dt.tz_convert(None).dt.to_period("M")
    rows = []
    per_account = frame.groupby(["month", "SubAccountId", "SubAccountName"])["BilledCost"].sum()
    smallest = frame.groupby("SubAccountId")["BilledCost"].sum().idxmin()
    for label, total in frame.groupby("month")["BilledCost"].sum().items():
        month = cast(pd.Period, label)
        start = month.start_time.tz_localize("UTC")
        end = (month + 1).start_time.tz_localize("UTC")
        period: dict[str, object] = {"ChargePeriodStart": start, "ChargePeriodEnd": end,
                  "BillingPeriodStart": start, "BillingPeriodEnd": end,
                  "ChargeFrequency": "Recurring"}
        payer = pd.Series({"SubAccountId": BILLING_ACCOUNT_ID,
                           "SubAccountName": BILLING_ACCOUNT_NAME, "Tags": None})
        rows.append(_row(payer, ChargeCategory="Usage", ServiceCategory="Other",
                         ServiceName="AWS Support (Business)",
                         ChargeDescription="AWS Support (Business) monthly fee",
                         **period, **_priced(round(support_fee(float(total)), 2))))
        for group, spent in per_account.items():
            when, account, name = cast(tuple[pd.Period, str, str], group)
            if when != month:
                continue
            template = pd.Series({"SubAccountId": account, "SubAccountName": name,
                                  "Tags": None})
            rows.append(_row(template, ChargeCategory="Tax", ServiceCategory="Other",
                             ServiceName="Tax", ChargeDescription=f"Sales tax {TAX_RATE:.0%}",
                             **{**period, "ChargeFrequency": "One-Time"},
                             **_priced(round(float(spent) * TAX_RATE, 2))))
            if account == smallest:
                rows.append(_row(template, ChargeCategory="Credit", ServiceCategory="Other",
                                 ServiceName="Amazon Elastic Compute Cloud",
                                 ChargeDescription="AWS Promotional Credit",
                                 **{**period, "ChargeFrequency": "One-Time"},
                                 **_priced(round(float(spent) * credit_share, 2))))
    return rows


def build_bill(data_dir: Path, usage_path: Path) -> pa.Table:
    """The whole bill: the EC2 usage rows, then the other services', then the month's."""
    usage_table = pq.read_table(usage_path).replace_schema_metadata(None)
    usage = usage_table.to_pandas()
    shapes, credit_share = focus_shapes(data_dir)
    rows = service_rows(usage, shapes)
    services = pd.DataFrame(rows, columns=list(FOCUS_COLUMNS))
    extra = pd.DataFrame(rows + monthly_rows(usage, services, credit_share),
                         columns=list(FOCUS_COLUMNS))
    for column in FOCUS_DECIMAL_COLUMNS:
        extra[column] = extra[column].astype(np.float64)
    table = pa.Table.from_pandas(extra[list(FOCUS_COLUMNS)], schema=focus_schema(),
                                 preserve_index=False).replace_schema_metadata(None)
    return pa.concat_tables([usage_table, table])


def main(argv: Sequence[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m tools.build_sample_bill",
                                     description="Rebuild the sample provider's whole bill.")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR,
                        help=f"the shared data folder (default: {DEFAULT_DATA_DIR})")
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR,
                        help=f"where to write {BILL_FILE} (default: {SAMPLE_DIR})")
    args = parser.parse_args(argv)
    path = args.out.resolve() / BILL_FILE
    write_usage(path, build_bill(args.data.resolve(), SAMPLE_DIR / USAGE_FILE))
    print(f"bill: {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
