"""GCP resource-based commitment prices per machine series, region and resource.

The bundled table ``data/resource_prices.csv`` (derived by ``build.py`` from an
Apache-2.0 snapshot of the Cloud Billing catalog; see ``data/NOTICE``) has, per
series, region and resource (``vcpu`` per vCPU, ``memory`` per GiB), the
on-demand rate and the 1- and 3-year commitment rates per hour.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
PRICES_FILE = DATA_DIR / "resource_prices.csv"

COMMITMENT_TYPES: dict[str, str] = {
    "e2": "GENERAL_PURPOSE_E2",
    "n1": "GENERAL_PURPOSE",
    "n2": "GENERAL_PURPOSE_N2",
    "n2d": "GENERAL_PURPOSE_N2D",
    "n4": "GENERAL_PURPOSE_N4",
    "n4a": "GENERAL_PURPOSE_N4A",
    "n4d": "GENERAL_PURPOSE_N4D",
    "c4": "GENERAL_PURPOSE_C4",
    "c4a": "GENERAL_PURPOSE_C4A",
    "c4d": "GENERAL_PURPOSE_C4D",
    "c2d": "COMPUTE_OPTIMIZED_C2D",
    "c3": "COMPUTE_OPTIMIZED_C3",
    "c3d": "COMPUTE_OPTIMIZED_C3D",
}
"""Machine series Ladder prices, and the commitment ``type`` that covers each."""

SERIES_BY_TYPE: dict[str, str] = {t: s for s, t in COMMITMENT_TYPES.items()}
RESOURCES: tuple[str, ...] = ("vcpu", "memory")
PLANS: dict[str, int] = {"TWELVE_MONTH": 8760, "THIRTY_SIX_MONTH": 26280}
"""Commitment plans and their terms in hours (1 and 3 years of 365 days)."""
MB_PER_GIB = 1024


@dataclass(frozen=True, slots=True)
class ResourcePrice:
    """Hourly rates of one resource of one series in one region."""

    series: str
    region: str
    resource: str
    on_demand_hourly: float
    cud_1y_hourly: float
    cud_3y_hourly: float

    def commitment_hourly(self, plan: str) -> float:
        """The committed hourly rate under ``plan`` (``TWELVE_MONTH``/``THIRTY_SIX_MONTH``)."""
        return self.cud_1y_hourly if plan == "TWELVE_MONTH" else self.cud_3y_hourly


@lru_cache(maxsize=4)
def load_prices(path: Path = PRICES_FILE) -> tuple[ResourcePrice, ...]:
    """The bundled per-resource price table."""
    with path.open(encoding="utf-8", newline="") as handle:
        return tuple(
            ResourcePrice(
                row["series"], row["region"], row["resource"], float(row["on_demand_hourly"]),
                float(row["cud_1y_hourly"]), float(row["cud_3y_hourly"]),
            )
            for row in csv.DictReader(handle)
        )
