"""The bundled AWS price snapshot: EC2 Linux on-demand and Reserved Instance prices of 2017-11-12.

``data/ec2_prices_2017-11-12.csv`` holds, verbatim, the Linux rows of the 2017-11-12 snapshot
in ``shared/data/pricing/aws-ec2-ec2instances-info/aws_ec2_ondemand_and_ri_tidy.csv``
(ec2instances.info, MIT; see ``data/NOTICE``): per instance type and region the on-demand
price and the twelve Reserved Instance options as *effective* hourly prices (upfront spread
over the term plus the hourly charge). It is what Ladder plans with when the AWS price APIs
cannot be asked (no credentials, no network, or ``LADDER_AWS_PRICES=snapshot``).

The rows become the same records the live fetchers return, so that the one pure
:func:`providers.aws.catalog.build_catalog` makes the catalog either way:

* :class:`~providers.aws.pricing.ProductPrice` per row (factor from the size name);
* :class:`~providers.aws.offerings.RiOffering` per RI option, the effective price split as
  AWS splits it: all upfront ``fixed = effective × term``; partial upfront half and half;
  no upfront ``hourly = effective`` (the sample provider's rule, checked there against the
  AWS Pricing Calculator);
* :class:`~providers.aws.offerings.SpRate` **derived**, as ``shared/data/README.md``
  prescribes (no public Savings Plans snapshot exists): the EC2 Instance Savings Plan rate
  of an instance type is its Standard RI's effective price of the same term and payment,
  the Compute Savings Plan rate its Convertible RI's.

Offering ids of snapshot records start with ``snapshot-2017-11-12:``: nothing can be bought
with them. A plan made on the snapshot names Ladder's offering ids, which the market
resolves against the live APIs when (and only when) an approved plan is executed.

Run ``python -m providers.aws.snapshot [TIDY_CSV]`` to regenerate the file.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from providers.aws.naming import TERM_SECONDS, family_of, size_factor
from providers.aws.offerings import RiOffering, SpRate
from providers.aws.pricing import ProductPrice

DATA_DIR = Path(__file__).resolve().parent / "data"
SNAPSHOT_DATE = date(2017, 11, 12)
SNAPSHOT_FILE = DATA_DIR / f"ec2_prices_{SNAPSHOT_DATE.isoformat()}.csv"
SHARED_FILE = (Path(__file__).resolve().parents[3] / "shared" / "data" / "pricing"
               / "aws-ec2-ec2instances-info" / "aws_ec2_ondemand_and_ri_tidy.csv")
PREFIX = f"snapshot-{SNAPSHOT_DATE.isoformat()}"
SOURCE = (f"AWS EC2 Linux list prices, bundled snapshot of {SNAPSHOT_DATE.isoformat()} "
          "(ec2instances.info www/instances.json @94e1f006, MIT; providers/aws/data/NOTICE): "
          "on-demand and Reserved Instances as published; Savings Plans rates DERIVED from "
          "the RIs (EC2 Instance SP = Standard RI, Compute SP = Convertible RI)")

CLASSES: dict[str, str] = {"Standard": "standard", "Convertible": "convertible"}
PAYMENTS: dict[str, str] = {"noUpfront": "No Upfront", "partialUpfront": "Partial Upfront",
                            "allUpfront": "All Upfront"}
TERMS: dict[str, str] = {"1": "1y", "3": "3y"}
_SP_PLAN = {"standard": "EC2Instance", "convertible": "Compute"}
_PAY_CODES = {"No Upfront": "nu", "Partial Upfront": "pu", "All Upfront": "au"}


def grid_column(offering_class: str, years: str, payment: str) -> str:
    """The tidy file's column of one RI option (``ri_yrTerm1Standard_noUpfront_…``)."""
    return f"ri_yrTerm{years}{offering_class}_{payment}_effective_hourly"


@dataclass(frozen=True, slots=True)
class SnapshotPrices:
    """The snapshot as the fetchers' records."""

    products: tuple[ProductPrice, ...]
    ri_offerings: tuple[RiOffering, ...]
    sp_rates: tuple[SpRate, ...]


def split(effective_hourly: float, term_hours: int, payment: str) -> tuple[float, float]:
    """(fixed price, hourly price) of an RI whose effective hourly price is given."""
    if payment == "All Upfront":
        return effective_hourly * term_hours, 0.0
    if payment == "Partial Upfront":
        return effective_hourly * term_hours / 2, effective_hourly / 2
    return 0.0, effective_hourly


def _number(text: str | None) -> float | None:
    return float(text) if text not in (None, "") else None


def records(rows: Iterable[dict[str, str]]) -> SnapshotPrices:
    """Products, RI offerings and derived Savings Plans rates of snapshot rows."""
    products: list[ProductPrice] = []
    offerings: list[RiOffering] = []
    rates: list[SpRate] = []
    for row in rows:
        instance_type, region = row["instance_type"], row["region"]
        on_demand = _number(row["ondemand_hourly"])
        if on_demand is None or row["os"] != "linux":
            continue
        products.append(ProductPrice(
            sku=f"{PREFIX}:{instance_type}:{region}", instance_type=instance_type,
            region=region, platform="linux", tenancy="shared",
            normalization_factor=size_factor(instance_type), on_demand_hourly=on_demand,
        ))
        for grid_class, offering_class in CLASSES.items():
            for years, term in TERMS.items():
                for grid_payment, payment in PAYMENTS.items():
                    effective = _number(row[grid_column(grid_class, years, grid_payment)])
                    if effective is None or effective <= 0:
                        continue
                    seconds = TERM_SECONDS[term]
                    fixed, hourly = split(effective, seconds // 3600, payment)
                    code = f"{offering_class}-{term}-{_PAY_CODES[payment]}"
                    offerings.append(RiOffering(
                        region=region, offering_id=f"{PREFIX}:{instance_type}:{region}:{code}",
                        instance_type=instance_type, offering_class=offering_class,
                        offering_type=payment, duration_s=seconds, fixed_price=fixed,
                        hourly_price=hourly, product_description="Linux/UNIX",
                        tenancy="default", scope="Region", marketplace=False,
                    ))
                    plan = _SP_PLAN[offering_class]
                    # One AWS offering per Ladder spend offering (catalog.py keeps one).
                    scope = (f"/{region}/{family_of(instance_type)}" if plan == "EC2Instance"
                             else "")
                    rates.append(SpRate(
                        offering_id=f"{PREFIX}:sp-{plan}-{term}-{_PAY_CODES[payment]}{scope}",
                        plan_type=plan, payment_option=payment, duration_s=seconds,
                        currency="USD", rate=effective, region=region,
                        instance_type=instance_type, operation="RunInstances", tenancy="shared",
                    ))
    return SnapshotPrices(tuple(products), tuple(offerings), tuple(rates))


@lru_cache(maxsize=2)
def load_snapshot(path: Path = SNAPSHOT_FILE) -> SnapshotPrices:
    """The bundled snapshot's records."""
    with path.open(encoding="utf-8", newline="") as handle:
        return records(csv.DictReader(handle))


def build_snapshot(source: Path = SHARED_FILE, target: Path = SNAPSHOT_FILE) -> int:
    """Copy the Linux rows of the snapshot date from the shared tidy file; the row count."""
    with source.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = [r for r in reader
                if r["snapshot_date"] == SNAPSHOT_DATE.isoformat() and r["os"] == "linux"]
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


if __name__ == "__main__":
    written = build_snapshot(Path(sys.argv[1]) if len(sys.argv) > 1 else SHARED_FILE)
    print(f"{written} rows written to {SNAPSHOT_FILE}")
