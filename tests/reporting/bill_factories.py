"""A small whole bill in FOCUS, over two billing periods, for the spend tests.

Two AWS accounts; EC2 usage on demand and covered by an upfront Savings Plan (billed 0,
amortized at its effective cost), the Savings Plan's purchase (billed once, EffectiveCost
0 as FOCUS 1.0 says), S3 storage every day, a month's support fee, a tax, a credit and a
database charge, tagged by team. Amounts are chosen so that no total ends in half a cent.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from ladder.pipeline import read_bill, store_delivery
from providers.focus.schema import REQUIRED

COLUMNS = (*REQUIRED, "BillingPeriodStart", "BillingPeriodEnd", "EffectiveCost",
           "ContractedCost", "ChargeClass", "ChargeFrequency", "CommitmentDiscountId", "Tags",
           "x_UsageType")
WEB = '{"team": "web"}'
DATA = '{"team": "data"}'
SP_ID = "arn:aws:savingsplans::111111111111:savingsplan/sp-1"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _period(moment: datetime) -> tuple[str, str]:
    start = moment.replace(day=1, hour=0, minute=0, second=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return _iso(start), _iso(end)


def row(start: datetime, end: datetime, *, billed: float, effective: float | None = None,
        list_cost: float | None = None, contracted: float | None = None,
        category: str = "Usage", service_category: str = "Compute",
        service: str = "Amazon Elastic Compute Cloud", account: str = "111111111111",
        region: str = "us-east-1", tags: str = WEB, description: str = "",
        usage_type: str = "", quantity: float = 1.0, unit: str = "Hours",
        price: float = 0.0, commitment: str = "", frequency: str = "Usage-Based",
        ) -> dict[str, Any]:
    """One FOCUS row of the fixture's AWS bill."""
    period_start, period_end = _period(start)
    cost = billed if list_cost is None else list_cost
    return {
        "ChargePeriodStart": _iso(start), "ChargePeriodEnd": _iso(end),
        "BillingPeriodStart": period_start, "BillingPeriodEnd": period_end,
        "ChargeCategory": category, "ServiceCategory": service_category, "ServiceName": service,
        "ProviderName": "AWS", "SubAccountId": account, "BillingAccountId": "999999999999",
        "RegionId": region, "ConsumedQuantity": quantity, "ConsumedUnit": unit,
        "ListUnitPrice": price, "ListCost": cost, "BilledCost": billed,
        "EffectiveCost": billed if effective is None else effective,
        "ContractedCost": cost if contracted is None else contracted,
        "BillingCurrency": "USD", "PricingCategory": "Standard",
        "ChargeDescription": description, "ChargeClass": "", "ChargeFrequency": frequency,
        "CommitmentDiscountId": commitment, "Tags": tags, "x_UsageType": usage_type,
    }


def ec2(hour: datetime, *, covered: bool = False, account: str = "111111111111",
        tags: str = WEB) -> dict[str, Any]:
    """One hour of an m5.large: on demand (0.096) or covered by the Savings Plan (0.06)."""
    description = ("$0.096 per On Demand Linux m5.large Instance Hour" if not covered else
                   "Savings Plan covered usage: m5.large")
    return row(hour, hour + timedelta(hours=1), billed=0.0 if covered else 0.096,
               effective=0.06 if covered else 0.096, list_cost=0.096,
               contracted=0.096, description=description, usage_type="BoxUsage:m5.large",
               price=0.096, account=account, tags=tags,
               commitment=SP_ID if covered else "")


def bill_rows() -> list[dict[str, Any]]:
    """Every row of the fixture: 2025-01-30 to 2025-02-03, two billing periods."""
    rows: list[dict[str, Any]] = []
    for day in range(4):
        base = datetime(2025, 1, 30, tzinfo=UTC) + timedelta(days=day)
        for hour in range(6):
            moment = base + timedelta(hours=hour)
            rows.append(ec2(moment, covered=day >= 2 and hour < 3))
            rows.append(ec2(moment, account="222222222222", tags=DATA))
        rows.append(row(base, base + timedelta(days=1), billed=1.23, service_category="Storage",
                        service="Amazon Simple Storage Service", account="222222222222",
                        tags=DATA, quantity=50.0, unit="GB-Mo", description="S3 storage"))
        rows.append(row(base, base + timedelta(days=1), billed=2.41,
                        service_category="Databases",
                        service="Amazon Relational Database Service",
                        description="RDS db.t3.micro", quantity=24.0))
    purchase_day = datetime(2025, 2, 1, tzinfo=UTC)
    rows.append(row(purchase_day, purchase_day + timedelta(days=1), billed=100.0,
                    effective=0.0, list_cost=100.0, contracted=100.0, category="Purchase",
                    service="Savings Plans for AWS Compute usage", tags="{}",
                    description="Savings Plan upfront fee", frequency="One-Time",
                    commitment=SP_ID, unit="", quantity=0.0))
    rows.append(row(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC),
                    billed=31.0, category="Usage", service_category="Management and Governance",
                    service="AWS Support (Business)", tags="{}", description="Support fee",
                    frequency="Recurring", quantity=0.0, unit=""))
    rows.append(row(datetime(2025, 1, 31, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC),
                    billed=3.33, category="Tax", service_category="Other", service="Tax",
                    tags="{}", description="Sales tax", frequency="One-Time",
                    quantity=0.0, unit=""))
    rows.append(row(datetime(2025, 2, 2, tzinfo=UTC), datetime(2025, 2, 3, tzinfo=UTC),
                    billed=-5.55, category="Credit", service_category="Other",
                    service="AWS Promotional Credit", tags="{}", description="Credit",
                    frequency="One-Time", quantity=0.0, unit=""))
    return rows


def write_bill(path: Path, rows: list[dict[str, Any]] | None = None) -> Path:
    """The fixture's rows (or ``rows``) as a FOCUS CSV at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
        writer.writeheader()
        for entry in rows if rows is not None else bill_rows():
            writer.writerow({c: entry.get(c, "") for c in COLUMNS})
    return path


def store_bill(session: Session, path: Path, provider: str | None = None) -> list[str]:
    """Store the bill at ``path`` as ``ladder ingest`` does, in the test's session; return
    the providers stored."""
    stored = []
    for bill in read_bill(path, provider):
        store_delivery(session, bill.usage, provider=bill.provider, identity=bill.identity,
                       lines=bill.lines)
        stored.append(bill.provider)
    return stored


def long_bill_rows(days: int = 70, *, start: datetime | None = None) -> list[dict[str, Any]]:
    """``days`` days of a steadier bill: an m5.large hour a day (so that the bill has compute
    usage), S3 storage of 20.00 a day, 12.00 more on Saturdays and Sundays (batch jobs in
    account 222222222222), and 50.00 of support on the first of each month."""
    first = start or datetime(2024, 6, 1, tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    for offset in range(days):
        base = first + timedelta(days=offset)
        rows.append(ec2(base))
        rows.append(row(base, base + timedelta(days=1), billed=20.0,
                        service_category="Storage", service="Amazon Simple Storage Service",
                        description="S3 storage", quantity=400.0, unit="GB-Mo"))
        if base.weekday() >= 5:
            rows.append(row(base, base + timedelta(days=1), billed=12.0,
                            service="AWS Batch", account="222222222222", tags=DATA,
                            description="Batch jobs"))
        if base.day == 1:
            rows.append(row(base, base + timedelta(days=1), billed=50.0,
                            service_category="Management and Governance",
                            service="AWS Support (Business)", tags="{}",
                            description="Support fee", quantity=0.0, unit=""))
    return rows
