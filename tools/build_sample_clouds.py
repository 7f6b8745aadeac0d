"""Build the Azure and GCP quick-start bills: FOCUS files of real shapes at real prices.

Beside the AWS sample (``providers/sample/data/usage.parquet``), these give
``ladder optimize --provider azure`` and ``--provider gcp`` a bill to plan from with no
credentials:

* ``providers/azure/data/sample_usage.parquet``: one subscription's VMs in FOCUS 1.0 as
  Cost Management exports it (``ProviderName`` Microsoft, meter in the charge description
  and ``x_SkuMeterName``, the size in ``x_SkuDetails``), priced at the Linux pay-as-you-go
  prices of ``providers/azure/data/vm_prices.csv``;
* ``providers/gcp/data/sample_usage.parquet``: one project's VMs in FOCUS 1.0 as the GCP
  billing export's FOCUS view writes them, one row per hour for each series' cores and
  RAM, priced at ``providers/gcp/data/resource_prices.csv``.

Every workload's hourly VM count is a real trace of ``shared/data/usage`` tiled over the
sample window (2024-06-01 to 2024-09-01) and rescaled, exactly as the AWS sample's
workloads are (:mod:`tools.build_sample`: ``load_series``, ``tile_whole_weeks``,
``to_instances``); the accounts, names and tags are invented. Deterministic: the same
inputs write the same rows.

Run ``python -m tools.build_sample_clouds [--data SHARED_DATA_DIR]``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from tools.build_sample import (
    DEFAULT_DATA_DIR,
    FOCUS_DATETIME_COLUMNS,
    FOCUS_DECIMAL_COLUMNS,
    TIMESTAMP,
    WINDOW_START,
    Rescale,
    billing_periods,
    load_series,
    tile_whole_weeks,
    to_instances,
    whole_weeks,
    window_hours,
    write_usage,
)

PROVIDERS_DIR = Path(__file__).resolve().parents[1] / "providers"
AZURE_FILE = PROVIDERS_DIR / "azure" / "data" / "sample_usage.parquet"
GCP_FILE = PROVIDERS_DIR / "gcp" / "data" / "sample_usage.parquet"

AZURE_SUBSCRIPTION = "5f1c7a2e-3b9d-4e61-a8c0-7d2e9b4f6a13"
AZURE_BILLING_ACCOUNT = "/providers/Microsoft.Billing/billingAccounts/73914026"
GCP_PROJECT = "ladder-sample-prod"
GCP_BILLING_ACCOUNT = "01B7C2-5D9E3F-A4C806"

COLUMNS: tuple[str, ...] = (
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
    "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeDescription",
    "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart", "ConsumedQuantity",
    "ConsumedUnit", "ContractedCost", "ContractedUnitPrice", "EffectiveCost",
    "InvoiceIssuerName", "ListCost", "ListUnitPrice", "PricingCategory", "PricingQuantity",
    "PricingUnit", "ProviderName", "PublisherName", "RegionId", "RegionName", "ResourceType",
    "ServiceCategory", "ServiceName", "SubAccountId", "SubAccountName", "Tags",
    "x_SkuDetails", "x_SkuMeterCategory", "x_SkuMeterName",
)


@dataclass(frozen=True, slots=True)
class Shape:
    """How a workload's hourly VM count is made: the real series ``source`` rescaled to
    ``scale`` VMs (``rescale``), tagged with its ``application``."""

    source: str
    scale: int
    rescale: Rescale
    application: str

    def counts(self, data_dir: Path) -> np.ndarray:
        """Hourly VM counts over the sample window (the AWS sample's rule)."""
        series = load_series(data_dir, self.source)
        values = tile_whole_weeks(series, WINDOW_START, len(window_hours()))
        return to_instances(values, whole_weeks(series), self.scale, self.rescale)


@dataclass(frozen=True, slots=True)
class AzureWorkload:
    """VMs of one size in one region, shaped by one real series."""

    arm_sku: str
    region: str
    region_name: str
    series_name: str
    meter: str
    shape: Shape


AZURE_WORKLOADS: tuple[AzureWorkload, ...] = (
    AzureWorkload("Standard_DS2_v2", "eastus", "US East", "Dv2/DSv2 Series", "D2 v2/DS2 v2",
                  Shape("dc:dc_azure_v2_2019_assigned_mem", 12, Rescale.CEIL_MEDIAN,
                        "aks-agents")),
    AzureWorkload("Standard_B2s", "eastus", "US East", "BS Series", "B2s",
                  Shape("nab:nab_elb_request_count_8c0756", 20, Rescale.CEIL_MEDIAN,
                        "web-frontend")),
    AzureWorkload("Standard_D11_v2", "eastus2", "US East 2", "Dv2/DSv2 Series",
                  "D11 v2/DS11 v2",
                  Shape("nab:nab_ec2_cpu_utilization_825cc2", 8, Rescale.CEIL_MEDIAN, "cache")),
)


@dataclass(frozen=True, slots=True)
class GcpWorkload:
    """VMs of one machine type in one region, shaped by one real series."""

    machine_type: str
    vcpus: int
    memory_gib: float
    region: str
    sku_prefix: str
    shape: Shape


GCP_WORKLOADS: tuple[GcpWorkload, ...] = (
    GcpWorkload("n2-standard-4", 4, 16.0, "us-central1", "N2 Instance",
                Shape("dc:dc_google_2019_cpu_util", 10, Rescale.CEIL_MEDIAN, "api")),
    GcpWorkload("e2-standard-8", 8, 32.0, "us-central1", "E2 Instance",
                Shape("dc:dc_google_2019_assigned_mem", 6, Rescale.CEIL_MEDIAN, "batch")),
)


def _frame(constant: dict[str, Any], quantity: np.ndarray, price: float,
           hours: pd.DatetimeIndex) -> pd.DataFrame:
    running = quantity > 0
    starts = hours[running]
    amount = quantity[running].astype(float)
    cost = np.round(amount * price, 10)
    period_start, period_end = billing_periods(starts)
    frame = pd.DataFrame({name: [value] * int(running.sum()) for name, value in constant.items()})
    for name, value in {"BilledCost": cost, "ContractedCost": cost, "EffectiveCost": cost,
                        "ListCost": cost, "ConsumedQuantity": amount, "PricingQuantity": amount,
                        "ListUnitPrice": np.full(len(amount), price),
                        "ContractedUnitPrice": np.full(len(amount), price)}.items():
        frame[name] = value
    frame["ChargePeriodStart"] = starts
    frame["ChargePeriodEnd"] = starts + pd.Timedelta(hours=1)
    frame["BillingPeriodStart"] = period_start
    frame["BillingPeriodEnd"] = period_end
    return frame


def _table(frames: list[pd.DataFrame]) -> pa.Table:
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.sort_values(["ChargePeriodStart", "ChargeDescription"], kind="stable",
                              ignore_index=True)
    for name in COLUMNS:
        if name not in frame:
            frame[name] = None
    schema = pa.schema([pa.field(n, pa.float64() if n in FOCUS_DECIMAL_COLUMNS else
                                 TIMESTAMP if n in FOCUS_DATETIME_COLUMNS else pa.string())
                        for n in COLUMNS])
    return pa.Table.from_pandas(frame[list(COLUMNS)], schema=schema,
                                preserve_index=False).replace_schema_metadata(None)


def azure_usage(data_dir: Path) -> pa.Table:
    """The Azure sample bill."""
    from providers.azure.snapshot import load_snapshot

    prices = {(p.region, p.arm_sku): p.on_demand_hourly for p in load_snapshot()}
    hours = window_hours()
    frames = []
    for w in AZURE_WORKLOADS:
        price = prices[(w.region, w.arm_sku)]
        assert price is not None
        constant = {
            "BillingAccountId": AZURE_BILLING_ACCOUNT, "BillingAccountName": "Ladder Sample EA",
            "BillingCurrency": "USD", "ChargeCategory": "Usage",
            "ChargeDescription": f"Virtual Machines {w.series_name} - {w.meter} - "
                                 f"{w.region_name}",
            "ChargeFrequency": "Usage-Based", "ConsumedUnit": "Hours",
            "InvoiceIssuerName": "Microsoft", "PricingCategory": "Standard",
            "PricingUnit": "1 Hour", "ProviderName": "Microsoft", "PublisherName": "Microsoft",
            "RegionId": w.region, "RegionName": w.region_name,
            "ResourceType": "Virtual machine", "ServiceCategory": "Compute",
            "ServiceName": "Virtual Machines",
            "SubAccountId": f"/subscriptions/{AZURE_SUBSCRIPTION}",
            "SubAccountName": "sample-production",
            "Tags": json.dumps({"application": w.shape.application, "team": "platform"}),
            "x_SkuDetails": json.dumps({"ServiceType": w.arm_sku}),
            "x_SkuMeterCategory": "Virtual Machines", "x_SkuMeterName": w.meter,
        }
        frames.append(_frame(constant, w.shape.counts(data_dir).astype(
            float), price, hours))
    return _table(frames)


def gcp_usage(data_dir: Path) -> pa.Table:
    """The GCP sample bill."""
    from providers.gcp.pricing import load_prices

    prices = {(p.series, p.region, p.resource): p.on_demand_hourly for p in load_prices()}
    hours = window_hours()
    frames = []
    for w in GCP_WORKLOADS:
        series = w.machine_type.split("-")[0]
        vms = w.shape.counts(data_dir).astype(float)
        for resource, word, per_vm, unit in (("vcpu", "Core", w.vcpus, "hour"),
                                              ("memory", "Ram", w.memory_gib, "gibibyte hour")):
            constant = {
                "BillingAccountId": GCP_BILLING_ACCOUNT, "BillingAccountName": "Ladder Sample",
                "BillingCurrency": "USD", "ChargeCategory": "Usage",
                "ChargeDescription": f"{w.sku_prefix} {word} running in Americas",
                "ChargeFrequency": "Usage-Based", "ConsumedUnit": unit,
                "InvoiceIssuerName": "Google", "PricingCategory": "Standard",
                "PricingUnit": unit, "ProviderName": "Google Cloud", "PublisherName": "Google",
                "RegionId": w.region, "RegionName": "Iowa", "ResourceType": "Compute Engine",
                "ServiceCategory": "Compute", "ServiceName": "Compute Engine",
                "SubAccountId": GCP_PROJECT, "SubAccountName": GCP_PROJECT,
                "Tags": json.dumps({"application": w.shape.application, "team": "data",
                                    "machine_type": w.machine_type}),
            }
            frames.append(_frame(constant, vms * per_vm,
                                 prices[(series, w.region, resource)], hours))
    return _table(frames)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m tools.build_sample_clouds",
                                     description="Rebuild the Azure and GCP sample bills.")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR)
    args = parser.parse_args(argv)
    for table, path in ((azure_usage(args.data), AZURE_FILE), (gcp_usage(args.data), GCP_FILE)):
        write_usage(path, table)
        print(f"{path}: {table.num_rows:,} rows, {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
