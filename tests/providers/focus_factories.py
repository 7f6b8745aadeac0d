"""FOCUS rows of each cloud for the provider tests: Azure VMs, GCP cores and RAM, EC2."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from providers.focus.schema import REQUIRED

SUB = "9ec51cfd-5ca7-4d76-8101-dd0a4abc5674"
AZURE_KEY = f"azure/{SUB}/vm/eastus/{{}}/linux/shared"
GCP_KEY = "gcp/my-project/compute/us-central1/{}/linux/shared"
EXTRA = ("x_SkuDetails", "x_SkuMeterCategory", "x_SkuMeterSubcategory", "x_SkuMeterName",
         "x_UsageType")


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    """A FOCUS CSV with the required columns, the Azure ``x_`` columns and ``rows``."""
    columns = [*REQUIRED, *EXTRA]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})
    return path


def azure_row(description: str, *, hour: int = 0, quantity: float = 1.0, price: float = 0.096,
              **overrides: Any) -> dict[str, Any]:
    """One hour of an Azure VM in FOCUS (Cost Management's FOCUS export)."""
    row = {
        "ChargePeriodStart": f"2025-01-01T{hour:02d}:00:00Z",
        "ChargePeriodEnd": f"2025-01-01T{hour + 1:02d}:00:00Z",
        "ChargeCategory": "Usage", "ServiceCategory": "Compute", "ServiceName": "Virtual Machines",
        "ProviderName": "Microsoft", "SubAccountId": f"/subscriptions/{SUB}",
        "BillingAccountId": "/providers/Microsoft.Billing/billingAccounts/8611537",
        "RegionId": "eastus", "ConsumedQuantity": quantity, "ConsumedUnit": "Hours",
        "ListUnitPrice": price, "ListCost": price * quantity, "BilledCost": price * quantity,
        "BillingCurrency": "USD", "PricingCategory": "Standard", "ChargeDescription": description,
    }
    row.update(overrides)
    return row


def gcp_row(description: str, *, quantity: float, unit: str, price: float,
            **overrides: Any) -> dict[str, Any]:
    """One hour of a GCP SKU in FOCUS (the billing export's FOCUS view)."""
    row = azure_row(description, quantity=quantity, price=price, ProviderName="Google Cloud",
                    ServiceName="Compute Engine", SubAccountId="my-project",
                    BillingAccountId="01A2B3-C4D5E6-F7A8B9", RegionId="us-central1",
                    ConsumedUnit=unit)
    row.update(overrides)
    return row


def aws_row(instance_type: str = "m5.large", *, hour: int = 0, quantity: float = 1.0,
            price: float = 0.096, **overrides: Any) -> dict[str, Any]:
    """One hour of an EC2 instance in FOCUS (AWS Data Exports' FOCUS 1.0 with AWS columns)."""
    row = azure_row(f"${price} per On Demand Linux {instance_type} Instance Hour", hour=hour,
                    quantity=quantity, price=price, ProviderName="AWS",
                    ServiceName="Amazon Elastic Compute Cloud",
                    SubAccountId="111111111111", BillingAccountId="999999999999",
                    RegionId="us-east-1", x_UsageType=f"BoxUsage:{instance_type}")
    row.update(overrides)
    return row
