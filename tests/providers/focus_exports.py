"""FOCUS export fixtures of every cloud and version, built from real rows and documented columns.

Run ``python tests/providers/focus_exports.py`` (from the repository root) to rebuild
``tests/data/focus/``; ``test_focus_exports.py`` checks that the committed files equal a
rebuild. Where each part comes from (``tests/data/focus/README.md`` says it too):

* AWS: 13 rows of the FinOps Foundation's FOCUS 1.0 sample (``shared/data/billing/
  focus-sample``, CC BY 4.0), chosen by ``Id``: EC2 instance hours on demand and under a
  Savings Plan, data transfer, ELB, CloudWatch, VPC, RDS and a credit; AWS's five ``x_``
  columns of "FOCUS 1.0/1.2 with AWS columns" (Data Exports table dictionary).
* Azure: the three VM rows (reservation, savings plan, on demand) and six other rows of
  Microsoft's FinOps toolkit fixture ``EA_AmortizedCost_Small.csv`` (MIT), mapped to FOCUS as
  Microsoft's FOCUS conversion guide maps EA columns; the ``x_`` columns of Microsoft's
  FocusCost metadata (``finops-toolkit/docs-mslearn/focus/metadata.md``).
* GCP: N2 core and RAM hours in us-central1 at the list prices of the bundled snapshot
  (``providers/gcp/data/resource_prices.csv``), over two billing periods, with storage,
  egress, a commitment fee and a credit; the project and amounts are invented.
* OCI: the FOCUS sample's seven Oracle rows; OCI's FOCUS report columns (its 1.0-preview
  names and ``oci_`` columns).

Each cloud's rows are written with the columns of each FOCUS version (``schema.py``): the
versions a cloud exports in its own layout (AWS 1.0 and 1.2 as Data Exports writes them,
Azure 1.0r2 and 1.2-preview as Cost Management does, OCI's 1.0-preview reports), the others
as single files of that version's columns. Invented values (invoice ids, account types) are
marked in the README.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from providers.focus.schema import PREVIEW_NAMES, version_columns  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "billing"
FOCUS_SAMPLE = SHARED / "focus-sample" / "focus_sample.csv"
AZURE_EA = SHARED / "azure-finops-toolkit" / "EA_AmortizedCost_Small.csv"
GCP_PRICES = ROOT / "providers" / "gcp" / "data" / "resource_prices.csv"
OUT = ROOT / "tests" / "data" / "focus"

Row = dict[str, Any]
NUMBERS = ("BilledCost", "ConsumedQuantity", "ContractedCost", "ContractedUnitPrice",
           "EffectiveCost", "ListCost", "ListUnitPrice", "PricingQuantity",
           "CommitmentDiscountQuantity", "PricingCurrencyContractedUnitPrice",
           "PricingCurrencyEffectiveCost", "PricingCurrencyListUnitPrice", "UsageQuantity")
TIMES = ("BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart")

AWS_X = ("x_CostCategories", "x_Discounts", "x_Operation", "x_ServiceCode", "x_UsageType")
AZURE_X = (
    "x_AccountId", "x_AccountName", "x_AccountOwnerId", "x_BilledCostInUsd", "x_BilledUnitPrice",
    "x_BillingAccountId", "x_BillingAccountName", "x_BillingExchangeRate",
    "x_BillingExchangeRateDate", "x_BillingProfileId", "x_BillingProfileName",
    "x_ContractedCostInUsd", "x_CostAllocationRuleName", "x_CostCenter", "x_CustomerId",
    "x_CustomerName", "x_EffectiveCostInUsd", "x_EffectiveUnitPrice", "x_InvoiceId",
    "x_InvoiceIssuerId", "x_InvoiceSectionId", "x_InvoiceSectionName", "x_ListCostInUsd",
    "x_PartnerCreditApplied", "x_PartnerCreditRate", "x_PricingBlockSize", "x_PricingCurrency",
    "x_PricingSubcategory", "x_PricingUnitDescription", "x_PublisherCategory", "x_PublisherId",
    "x_ResellerId", "x_ResellerName", "x_ResourceGroupName", "x_ResourceType",
    "x_ServicePeriodEnd", "x_ServicePeriodStart", "x_SkuDescription", "x_SkuDetails",
    "x_SkuIsCreditEligible", "x_SkuMeterCategory", "x_SkuMeterId", "x_SkuMeterName",
    "x_SkuMeterSubcategory", "x_SkuOfferId", "x_SkuOrderId", "x_SkuOrderName",
    "x_SkuPartNumber", "x_SkuRegion", "x_SkuServiceFamily", "x_SkuTerm", "x_SkuTier",
)
GCP_X = ("x_Credits", "x_CostType", "x_CurrencyConversionRate", "x_ExportTime", "x_Location",
         "x_Project", "x_ServiceId")
OCI_X = ("oci_ReferenceNumber", "oci_CompartmentId", "oci_CompartmentName", "oci_OverageFlag",
         "oci_UnitPriceOverage", "oci_BilledQuantityOverage", "oci_CostOverage",
         "oci_AttributedUsage", "oci_AttributedCost", "oci_BackReferenceNumber")
OCI_PREVIEW = (
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
    "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeDescription",
    "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart", "ChargeSubcategory",
    "CommitmentDiscountCategory", "CommitmentDiscountId", "CommitmentDiscountName",
    "CommitmentDiscountType", "EffectiveCost", "InvoiceIssuer", "ListCost", "ListUnitPrice",
    "PricingCategory", "PricingQuantity", "PricingUnit", "Provider", "Publisher", "Region",
    "ResourceId", "ResourceName", "ResourceType", "ServiceCategory", "ServiceName", "SkuId",
    "SkuPriceId", "SubAccountId", "SubAccountName", "Tags", "UsageQuantity", "UsageUnit",
)
"""The columns of OCI's FOCUS reports before its ``oci_`` columns (1.0-preview names)."""

AWS_IDS = ("121035", "135908", "1034956", "1383958", "855450", "4697704", "19384", "22148",
           "87455", "166670", "211751", "282316", "2555992")
AWS_REGION_CODES = {"us-east-1": "", "us-east-2": "USE2", "us-west-2": "USW2",
                    "eu-west-2": "EUW2", "ap-south-1": "APS3"}
"""AWS usage-type prefixes of the regions of the chosen rows (none for us-east-1)."""
AWS_SERVICE_CODES = {
    "Amazon Elastic Compute Cloud": "AmazonEC2", "Elastic Load Balancing": "AWSELB",
    "Amazon Simple Storage Service": "AmazonS3", "AmazonCloudWatch": "AmazonCloudWatch",
    "Amazon Relational Database Service": "AmazonRDS", "Amazon Virtual Private Cloud":
    "AmazonVPC",
}


def _iso(text: str) -> str:
    """The sample's ``2024-09-18 22:00:00`` as ISO 8601 UTC."""
    return datetime.fromisoformat(text).strftime("%Y-%m-%dT%H:%M:%SZ")


def _null(value: str) -> str | None:
    return None if value in ("", "NULL") else value


def _sample_rows(provider: str, ids: tuple[str, ...] | None = None) -> list[Row]:
    with FOCUS_SAMPLE.open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["ProviderName"] == provider
                and (ids is None or r["Id"] in ids)]
    out = []
    for raw in rows:
        row: Row = {k: _null(v) for k, v in raw.items() if k != "Id"}
        for column in TIMES:
            row[column] = _iso(raw[column])
        out.append(row)
    return out


def aws_rows() -> list[Row]:
    """The chosen AWS rows of the FOCUS sample, with AWS's ``x_`` columns."""
    rows = _sample_rows("AWS", AWS_IDS)
    for row in rows:
        description = row["ChargeDescription"] or ""
        row["x_ServiceCode"] = AWS_SERVICE_CODES.get(row["ServiceName"])
        row["x_CostCategories"] = row["x_Discounts"] = None
        row["x_Operation"] = row["x_UsageType"] = None
        if "Instance Hour" in description:
            instance_type = description.split(" Linux ")[1].split(" ")[0]
            code = AWS_REGION_CODES[row["RegionId"]]
            row["x_UsageType"] = f"{code}-BoxUsage:{instance_type}".lstrip("-")
            row["x_Operation"] = "RunInstances"
            row["_instance_type"] = instance_type
            row["_subcategory"] = "Virtual Machines"
        row.setdefault("_subcategory", {"Networking": "Network Connectivity",
                                        "Management and Governance": "Observability",
                                        "Storage": "Object Storage"}
                       .get(row["ServiceCategory"], "Other (" + str(row["ServiceCategory"])
                            + ")"))
    return rows


def _azure_day(text: str) -> tuple[str, str]:
    day = datetime.strptime(text, "%m/%d/%Y")
    return (day.strftime("%Y-%m-%dT%H:%M:%SZ"),
            (day + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))


_AZURE_REGIONS = {"eastus": "East US", "eastus2": "East US 2", "westus2": "West US 2",
                  "ukwest": "UK West", "southcentralus": "South Central US"}
_AZURE_CATEGORIES = {"Virtual Machines": ("Compute", "Virtual Machines"),
                     "Storage": ("Storage", "Block Storage"),
                     "Log Analytics": ("Management and Governance", "Observability"),
                     "Virtual Network": ("Networking", "Network Connectivity"),
                     "SQL Managed Instance": ("Databases", "Relational Databases"),
                     "Bandwidth": ("Networking", "Network Connectivity")}


def azure_rows() -> list[Row]:
    """The toolkit's EA amortized rows (3 VMs and 6 others) as Cost Management's FOCUS export."""
    with AZURE_EA.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    vms = [r for r in rows if r["MeterCategory"] == "Virtual Machines"]
    others = [r for r in rows if r["MeterCategory"] != "Virtual Machines"][:6]
    out = []
    for ea in vms + others:
        start, end = _azure_day(ea["Date"])
        quantity = float(ea["Quantity"])
        unit_price = float(ea["UnitPrice"])
        # EA's PayGPrice is 0 on reservation rows: the list price is then the unit price.
        list_price = float(ea["PayGPrice"]) or unit_price
        amortized = float(ea["Cost"])
        committed = ea["PricingModel"] in ("Reservation", "SavingsPlan")
        region = ea["ResourceLocation"].lower()
        category, subcategory = _AZURE_CATEGORIES[ea["MeterCategory"]]
        hours = ea["UnitOfMeasure"] == "1 Hour"
        tags = json.loads("{" + ea["Tags"] + "}") if ea["Tags"] else {}
        row: Row = {
            "AvailabilityZone": None, "BilledCost": 0.0 if committed else amortized,
            "BillingAccountId": f"/providers/Microsoft.Billing/billingAccounts/"
                                f"{ea['BillingAccountId']}",
            "BillingAccountName": ea["BillingAccountName"], "BillingCurrency":
            ea["BillingCurrency"], "BillingPeriodEnd": "2023-10-01T00:00:00Z",
            "BillingPeriodStart": "2023-09-01T00:00:00Z", "ChargeCategory": "Usage",
            "ChargeClass": None, "ChargeDescription": ea["Product"],
            "ChargeFrequency": "Usage-Based", "ChargePeriodEnd": end, "ChargePeriodStart": start,
            "CommitmentDiscountCategory": ("Usage" if ea["PricingModel"] == "Reservation" else
                                           "Spend") if committed else None,
            "CommitmentDiscountId": ea["benefitId"] or None if committed else None,
            "CommitmentDiscountName": ea["ReservationName"] or None if committed else None,
            "CommitmentDiscountStatus": "Used" if committed else None,
            "CommitmentDiscountType": ("Reservation" if ea["PricingModel"] == "Reservation"
                                       else "Savings Plan") if committed else None,
            "ConsumedQuantity": quantity, "ConsumedUnit": "Hours" if hours else
            ea["UnitOfMeasure"], "ContractedCost": unit_price * quantity,
            "ContractedUnitPrice": unit_price, "EffectiveCost": amortized,
            "InvoiceIssuerName": "Microsoft", "ListCost": list_price * quantity,
            "ListUnitPrice": list_price, "PricingCategory": "Committed" if committed
            else "Standard", "PricingQuantity": quantity, "PricingUnit": "Hours" if hours
            else ea["UnitOfMeasure"], "ProviderName": "Microsoft", "PublisherName": "Microsoft",
            "RegionId": region, "RegionName": _AZURE_REGIONS[region],
            "ResourceId": ea["ResourceId"] or None, "ResourceName": ea["ResourceName"] or None,
            "ResourceType": None, "ServiceCategory": category,
            "ServiceName": ea["MeterCategory"], "SkuId": ea["PartNumber"],
            "SkuPriceId": ea["MeterId"], "SubAccountId": f"/subscriptions/{ea['SubscriptionId']}",
            "SubAccountName": ea["SubscriptionName"], "Tags": json.dumps(tags, sort_keys=True),
            "BillingAccountType": "Billing Account", "SubAccountType": "Subscription",
        }
        row.update({c: None for c in AZURE_X})
        row.update({
            "x_AccountName": ea["AccountName"], "x_AccountOwnerId": ea["AccountOwnerId"],
            "x_BillingAccountId": ea["BillingAccountId"],
            "x_BillingAccountName": ea["BillingAccountName"],
            "x_BilledCostInUsd": row["BilledCost"], "x_EffectiveCostInUsd": amortized,
            "x_ListCostInUsd": row["ListCost"], "x_ContractedCostInUsd": row["ContractedCost"],
            "x_PricingCurrency": ea["BillingCurrency"], "x_BillingExchangeRate": 1.0,
            "x_ResourceGroupName": ea["ResourceGroup"] or None,
            "x_SkuMeterCategory": ea["MeterCategory"], "x_SkuMeterSubcategory":
            ea["MeterSubCategory"], "x_SkuMeterName": ea["MeterName"],
            "x_SkuMeterId": ea["MeterId"], "x_SkuPartNumber": ea["PartNumber"],
            "x_SkuRegion": ea["MeterRegion"] or None, "x_SkuServiceFamily": ea["ServiceFamily"],
            "x_SkuTerm": float(ea["Term"]) if ea["Term"] else None,
            "x_SkuOfferId": ea["OfferId"], "x_EffectiveUnitPrice": float(ea["EffectivePrice"]),
        })
        row["_subcategory"], row["_meter"] = subcategory, ea["MeterName"]
        out.append(row)
    return out


GCP_PROJECT = "ladder-fixture-project"
GCP_ACCOUNT = "01A2B3-C4D5E6-F7A8B9"


def _gcp_prices() -> dict[tuple[str, str], tuple[float, float]]:
    with GCP_PRICES.open(encoding="utf-8", newline="") as handle:
        return {(r["series"], r["resource"]): (float(r["on_demand_hourly"]),
                                              float(r["cud_1y_hourly"]))
                for r in csv.DictReader(handle) if r["region"] == "us-central1"}


def gcp_rows() -> list[Row]:
    """N2 cores and RAM over five hours across two billing periods, and other charges."""
    prices = _gcp_prices()
    hours = [datetime(2024, 8, 31, 22) + timedelta(hours=h) for h in range(5)]
    out: list[Row] = []

    def period(start: datetime) -> tuple[str, str]:
        first = start.replace(day=1, hour=0)
        after = (first + timedelta(days=32)).replace(day=1)
        return first.strftime("%Y-%m-%dT%H:%M:%SZ"), after.strftime("%Y-%m-%dT%H:%M:%SZ")

    def row(start: datetime, end: datetime, **values: Any) -> Row:
        billing_start, billing_end = period(start)
        base: Row = {c: None for c in version_columns("1.0")}
        base.update({
            "BillingAccountId": GCP_ACCOUNT, "BillingAccountName": "Ladder fixture",
            "BillingCurrency": "USD", "BillingPeriodStart": billing_start,
            "BillingPeriodEnd": billing_end, "ChargeCategory": "Usage",
            "ChargeFrequency": "Usage-Based", "ChargePeriodStart":
            start.strftime("%Y-%m-%dT%H:%M:%SZ"), "ChargePeriodEnd":
            end.strftime("%Y-%m-%dT%H:%M:%SZ"), "InvoiceIssuerName": "Google",
            "ProviderName": "Google Cloud", "PublisherName": "Google", "PricingCategory":
            "Standard", "RegionId": "us-central1", "RegionName": "Iowa",
            "SubAccountId": GCP_PROJECT, "SubAccountName": GCP_PROJECT,
            "Tags": json.dumps({"team": "data"}),
        })
        base.update(values)
        quantity, price = base.get("ConsumedQuantity"), base.pop("_price", None)
        if price is not None and quantity is not None:
            cost = round(float(quantity) * price, 10)
            base.update({"ListUnitPrice": price, "ContractedUnitPrice": price,
                         "PricingQuantity": quantity, "PricingUnit": base["ConsumedUnit"],
                         "ListCost": cost, "ContractedCost": cost})
            if base["BilledCost"] is None:
                base["BilledCost"] = cost
            if base["EffectiveCost"] is None:
                base["EffectiveCost"] = base["BilledCost"]
        base.update({"x_CostType": "regular", "x_Credits": None,
                     "x_CurrencyConversionRate": 1.0, "x_ExportTime": None,
                     "x_Location": "us-central1", "x_Project": GCP_PROJECT,
                     "x_ServiceId": "6F81-5844-456A" if base["ServiceName"] == "Compute Engine"
                     else "95FF-2EF5-5EA1"})
        return base

    vm = {"ServiceCategory": "Compute", "ServiceName": "Compute Engine",
          "ResourceType": "Compute Engine", "_subcategory": "Virtual Machines"}
    for start in hours:
        end = start + timedelta(hours=1)
        out.append(row(start, end, ChargeDescription="N2 Instance Core running in Americas",
                       ConsumedQuantity=8.0, ConsumedUnit="hour", SkuId="BB77-5FDA-309D",
                       _price=prices[("n2", "vcpu")][0], **vm))
        out.append(row(start, end, ChargeDescription="N2 Instance Ram running in Americas",
                       ConsumedQuantity=32.0, ConsumedUnit="gibibyte hour",
                       SkuId="6E2A-DCD4-7C04", _price=prices[("n2", "memory")][0], **vm))
    day = datetime(2024, 9, 1)
    storage = row(day, day + timedelta(days=1), ServiceCategory="Storage",
                  ServiceName="Cloud Storage", ChargeDescription="Standard Storage US Multi-region",
                  ConsumedQuantity=120.5 / 30, ConsumedUnit="gibibyte month",
                  SkuId="E5F0-6A5D-7BAD", _price=0.026, _subcategory="Object Storage")
    egress = row(day, day + timedelta(days=1), ServiceCategory="Networking",
                 ServiceName="Compute Engine",
                 ChargeDescription="Network Internet Data Transfer Out from Americas to Europe",
                 ConsumedQuantity=3.2, ConsumedUnit="gibibyte", SkuId="9DE9-9092-B3BC",
                 _price=0.12, _subcategory="Network Connectivity")
    fee_price = prices[("n2", "vcpu")][1]
    fee = row(day, day + timedelta(hours=1), ChargeCategory="Purchase",
              ChargeFrequency="Recurring", ServiceCategory="Compute",
              ServiceName="Compute Engine",
              ChargeDescription="Commitment v1: N2 Cpu in Americas for 1 Year",
              ConsumedQuantity=None, ConsumedUnit=None, PricingQuantity=4.0,
              PricingUnit="hour", ListUnitPrice=fee_price, ContractedUnitPrice=fee_price,
              ListCost=round(4.0 * fee_price, 10), ContractedCost=round(4.0 * fee_price, 10),
              BilledCost=round(4.0 * fee_price, 10), EffectiveCost=0.0,
              CommitmentDiscountCategory="Usage", CommitmentDiscountType="Committed Use Discount",
              CommitmentDiscountId=f"projects/{GCP_PROJECT}/regions/us-central1/commitments/"
                                   "n2-cpu-1y",
              CommitmentDiscountName="n2-cpu-1y", SkuId="5E46-0D1E-E9E3",
              _subcategory="Virtual Machines")
    credit = row(day, day + timedelta(days=1), ChargeCategory="Credit",
                 ChargeFrequency="Usage-Based", ServiceCategory="Compute",
                 ServiceName="Compute Engine", ChargeDescription="Sustained use discount",
                 BilledCost=-0.0421, EffectiveCost=-0.0421, ListCost=0.0, ContractedCost=0.0,
                 PricingCategory=None, SkuId="BB77-5FDA-309D", _subcategory="Virtual Machines")
    credit["x_CostType"] = "regular"
    credit["x_Credits"] = json.dumps([{"name": "Sustained use discount", "amount": -0.0421,
                                       "type": "SUSTAINED_USAGE_DISCOUNT"}])
    return [*out, storage, egress, fee, credit]


def oci_rows() -> list[Row]:
    """The FOCUS sample's seven Oracle rows, with OCI's ``oci_`` columns."""
    rows = _sample_rows("Oracle")
    for i, row in enumerate(rows):
        row.update({c: None for c in OCI_X})
        row["oci_ReferenceNumber"] = f"fixture-{i:04d}"
        row["oci_CompartmentId"] = row["SubAccountId"]
        row["oci_CompartmentName"] = row["SubAccountName"]
        row["oci_OverageFlag"] = "N"
        row["_subcategory"] = ("Virtual Machines" if row["ResourceType"] == "instance"
                               else "Other (" + str(row["ServiceCategory"]) + ")")
    return rows


ACCOUNT_TYPES = {"aws": ("Billing Account", "Linked Account"),
                 "azure": ("Billing Account", "Subscription"),
                 "gcp": ("Billing Account", "Project"), "oci": ("Tenancy", "Compartment")}
"""``BillingAccountType`` and ``SubAccountType`` of each cloud's 1.2 rows (labels invented
where the cloud's documentation gives none)."""


def project(row: Row, version: str, cloud: str) -> Row:
    """One row with the columns a version adds filled as the cloud would fill them."""
    out = dict(row)
    committed = out.get("PricingCategory") == "Committed"
    if version in ("1.1", "1.2", "1.3"):
        instance_type = out.get("_instance_type")
        out.update({
            "CapacityReservationId": None, "CapacityReservationStatus": None,
            "CommitmentDiscountQuantity": (out["ConsumedQuantity"] if committed else None),
            "CommitmentDiscountUnit": ("Hours" if committed else None),
            "ServiceSubcategory": out.get("_subcategory"),
            "SkuMeter": out.get("_meter"),
            "SkuPriceDetails": (json.dumps({"InstanceType": instance_type})
                                if instance_type else None),
        })
    if version in ("1.2", "1.3"):
        billing_type, sub_type = ACCOUNT_TYPES[cloud]
        currency = out.get("BillingCurrency")
        out.update({
            "BillingAccountType": billing_type, "SubAccountType": sub_type,
            "InvoiceId": f"{cloud.upper()}-{str(out['BillingPeriodStart'])[:7]}-0001",
            "PricingCurrency": currency,
            "PricingCurrencyContractedUnitPrice": out.get("ContractedUnitPrice"),
            "PricingCurrencyEffectiveCost": out.get("EffectiveCost"),
            "PricingCurrencyListUnitPrice": out.get("ListUnitPrice"),
        })
    if version == "1.3":
        out.update({"ServiceProviderName": out["ProviderName"],
                    "HostProviderName": out["ProviderName"], "ContractApplied": None,
                    "AllocatedMethodId": None, "AllocatedMethodDetails": None,
                    "AllocatedResourceId": None, "AllocatedResourceName": None,
                    "AllocatedTags": None})
    return out


def to_preview(row: Row) -> Row:
    """A FOCUS 1.0 row under the 1.0-preview names of OCI's FOCUS reports."""
    old_name = {new: old for old, new in PREVIEW_NAMES.items()}
    out = {old_name.get(k, k): v for k, v in row.items()}
    out["Region"] = row["RegionId"] or row["RegionName"]  # 1.0-preview had one region column
    out["ChargeSubcategory"] = None
    return out


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def csv_bytes(rows: list[Row], columns: tuple[str, ...]) -> bytes:
    """The rows as FOCUS CSV (every field quoted when needed, empty for null)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_text(row.get(c)) for c in columns])
    return buffer.getvalue().encode("utf-8")


def parquet_table(rows: list[Row], columns: tuple[str, ...]) -> pa.Table:
    """The rows as a typed Arrow table (doubles, UTC timestamps, strings), as exports write."""
    arrays = {}
    for column in columns:
        values = [row.get(column) for row in rows]
        floats = (all(isinstance(v, float) or v is None for v in values)
                  and any(isinstance(v, float) for v in values))
        if column in NUMBERS or (column.startswith("x_") and floats):
            arrays[column] = pa.array([None if v is None else float(v) for v in values],
                                      pa.float64())
        elif column in TIMES:
            arrays[column] = pa.array(
                [None if v is None else datetime.fromisoformat(v.replace("Z", "+00:00"))
                 for v in values], pa.timestamp("ms", tz="UTC"))
        else:
            arrays[column] = pa.array([None if v is None else str(v) for v in values],
                                      pa.string())
    return pa.table(arrays)


def write_data(path: Path, rows: list[Row], columns: tuple[str, ...]) -> Path:
    """Write rows as CSV, gzipped CSV (no timestamp in the gzip header) or Parquet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    name = path.name.lower()
    if name.endswith(".parquet"):
        pq.write_table(parquet_table(rows, columns), path, compression="snappy")
    elif name.endswith(".csv.gz"):
        with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                                   filename="") as handle:
            handle.write(csv_bytes(rows, columns))
    else:
        path.write_bytes(csv_bytes(rows, columns))
    return path


def _json(path: Path, document: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def aws_export(root: Path, rows: list[Row], columns: tuple[str, ...], table: str,
               suffix: str) -> None:
    """An AWS Data Exports delivery: data under ``data/BILLING_PERIOD=…`` and its manifest."""
    export = "ladder-focus"
    name = f"{export}-00001.{suffix}"
    write_data(root / export / "data" / "BILLING_PERIOD=2024-09" / name, rows, columns)
    _json(root / export / "metadata" / "BILLING_PERIOD=2024-09" / f"{export}-Manifest.json", {
        "exportName": export, "billingPeriod": "2024-09",
        "queryStatement": f"SELECT {', '.join(columns[:3])}, ... FROM {table}",
        "dataFiles": [f"s3://ladder-bucket/exports/{export}/data/BILLING_PERIOD=2024-09/"
                      f"{name}"],
    })


def azure_export(root: Path, rows: list[Row], columns: tuple[str, ...], data_version: str,
                 suffix: str) -> None:
    """A Cost Management FOCUS export run: its part and its ``manifest.json``."""
    run = "6b4f5c2e-0000-4000-8000-000000000001"
    folder = root / "ladder-focus" / "20230901-20230930" / run
    name = f"part_0_0001.{suffix}"
    write_data(folder / name, rows, columns)
    _json(folder / "manifest.json", {
        "manifestVersion": "2024-04-01", "byteCount": 1, "blobCount": 1,
        "exportConfig": {"exportName": "ladder-focus", "type": "FocusCost",
                         "dataVersion": data_version},
        "runInfo": {"runId": run, "submittedTime": "2023-10-02T03:00:00Z",
                    "startDate": "2023-09-01T00:00:00", "endDate": "2023-09-30T23:59:59"},
        "blobs": [{"blobName": f"exports/ladder-focus/20230901-20230930/{run}/{name}",
                   "byteCount": 1}],
    })


def oci_report(root: Path, rows: list[Row], columns: tuple[str, ...], suffix: str) -> None:
    """OCI FOCUS reports as the bucket holds them: ``FOCUS Reports/YYYY/MM/DD/<n>.<ext>``."""
    write_data(root / "FOCUS Reports" / "2024" / "09" / "21" / f"0001000000000001.{suffix}",
               rows, columns)


@dataclass(frozen=True)
class Fixture:
    """One fixture: where it is, its cloud and FOCUS version, and how it is written."""

    name: str
    cloud: str
    version: str
    declared: bool
    build: Callable[[Path], None]

    @property
    def path(self) -> Path:
        return OUT / self.name


def _plain(cloud: str, version: str, rows: Callable[[], list[Row]], extra: tuple[str, ...],
           file: str) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        columns = (*version_columns(version), *extra)
        write_data(root / file, [project(r, version, cloud) for r in rows()], columns)
    return build


def _aws(version: str, table: str, suffix: str) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        aws_export(root, [project(r, version, "aws") for r in aws_rows()],
                   (*version_columns(version), *AWS_X), table, suffix)
    return build


def _azure(version: str, data_version: str, suffix: str) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        columns = version_columns(version)
        if version == "1.0":  # Microsoft's 1.0 export already has the account types
            columns = (*columns, "BillingAccountType", "SubAccountType")
        azure_export(root, [project(r, version, "azure") for r in azure_rows()],
                     (*columns, *AZURE_X), data_version, suffix)
    return build


def _oci(version: str, suffix: str) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        if version == "1.0-preview":
            oci_report(root, [to_preview(r) for r in oci_rows()], (*OCI_PREVIEW, *OCI_X),
                       suffix)
        else:
            oci_report(root, [project(r, version, "oci") for r in oci_rows()],
                       (*version_columns(version), *OCI_X), suffix)
    return build


EUR_PER_USD = 0.92
"""The invented rate of the GCP 1.2 fixture, billed in EUR and priced in USD."""
_BILLING_AMOUNTS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ListUnitPrice",
                    "ContractedUnitPrice")


def in_euros(row: Row) -> Row:
    """A 1.2 row of a USD-priced account billed in EUR: the billing-currency amounts converted
    at :data:`EUR_PER_USD`, the ``PricingCurrency*`` columns left in USD."""
    out = dict(row)
    for column in _BILLING_AMOUNTS:
        if out.get(column) is not None:
            out[column] = round(float(out[column]) * EUR_PER_USD, 10)
    out.update({"BillingCurrency": "EUR", "PricingCurrency": "USD",
                "x_CurrencyConversionRate": EUR_PER_USD})
    return out


def _gcp_eur(version: str, file: str) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        write_data(root / file, [in_euros(project(r, version, "gcp")) for r in gcp_rows()],
                   (*version_columns(version), *GCP_X))
    return build


def _gcp_with_metadata(version: str) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        _plain("gcp", version, gcp_rows, GCP_X, "focus-000000000000.csv")(root)
        _json(root / "metadata" / "schema-ladder-fixture.json", {
            "SchemaId": "ladder-fixture-gcp-1-3", "FocusVersion": version,
            "CreationDate": "2024-09-02T00:00:00Z", "DataGenerator": "Ladder test fixture",
        })
    return build


FIXTURES: tuple[Fixture, ...] = (
    Fixture("aws-1.0", "aws", "1.0", True, _aws("1.0", "FOCUS_1_0_AWS", "snappy.parquet")),
    Fixture("aws-1.1", "aws", "1.1", False,
            _plain("aws", "1.1", aws_rows, AWS_X, "aws-focus-1-1.csv")),
    Fixture("aws-1.2", "aws", "1.2", True, _aws("1.2", "FOCUS_1_2_AWS", "csv.gz")),
    Fixture("aws-1.3", "aws", "1.3", False,
            _plain("aws", "1.3", aws_rows, AWS_X, "aws-focus-1-3.parquet")),
    Fixture("azure-1.0", "azure", "1.0", True, _azure("1.0", "1.0r2", "csv.gz")),
    Fixture("azure-1.1", "azure", "1.1", False,
            _plain("azure", "1.1", azure_rows, AZURE_X, "azure-focus-1-1.csv.gz")),
    Fixture("azure-1.2", "azure", "1.2", True, _azure("1.2", "1.2-preview", "parquet")),
    Fixture("azure-1.3", "azure", "1.3", False,
            _plain("azure", "1.3", azure_rows, AZURE_X, "azure-focus-1-3.csv")),
    Fixture("gcp-1.0", "gcp", "1.0", False,
            _plain("gcp", "1.0", gcp_rows, GCP_X, "gcp-focus-1-0.csv")),
    Fixture("gcp-1.1", "gcp", "1.1", False,
            _plain("gcp", "1.1", gcp_rows, GCP_X, "gcp-focus-1-1.parquet")),
    Fixture("gcp-1.2", "gcp", "1.2", False,
            _gcp_eur("1.2", "gcp-focus-1-2.csv.gz")),
    Fixture("gcp-1.3", "gcp", "1.3", True, _gcp_with_metadata("1.3")),
    Fixture("oci-1.0-preview", "oci", "1.0-preview", False, _oci("1.0-preview", "csv.gz")),
    Fixture("oci-1.0", "oci", "1.0", False, _oci("1.0", "csv.gz")),
    Fixture("oci-1.1", "oci", "1.1", False, _oci("1.1", "csv")),
    Fixture("oci-1.2", "oci", "1.2", False, _oci("1.2", "parquet")),
    Fixture("oci-1.3", "oci", "1.3", False, _oci("1.3", "csv.gz")),
)
"""Every fixture: each cloud in FOCUS 1.0 to 1.3, and OCI's 1.0-preview reports."""


def build_all(root: Path = OUT) -> None:
    """Write every fixture under ``root`` (one folder each)."""
    for fixture in FIXTURES:
        fixture.build(root / fixture.name)


if __name__ == "__main__":
    build_all()
    print(f"wrote {len(FIXTURES)} fixtures under {OUT}")
