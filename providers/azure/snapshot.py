"""The bundled Azure price snapshot: the real VM prices that public Azure billing data shows.

No snapshot of the Azure Retail Prices API is in the project's shared data, so Ladder's
offline Azure prices are those that Microsoft's own public billing fixtures carry
(``shared/data/billing``; ``data/NOTICE`` names them and their MIT and CC BY 4.0 licences),
each value from one rule below, none guessed. ``data/vm_prices.csv`` has one row per
region and VM size: the Linux pay-as-you-go price per hour, the reservation price for the
whole term (``P1Y``/``P3Y``) and the savings plan price per hour, each with its date.

Rules (applied by :func:`derive`, checked by the tests against the shared files):

* **amortized EA export** (finops-toolkit ``EA_AmortizedCost_Small.csv``), VM usage rows:
  on demand = ``UnitPrice`` (the pay-as-you-go price of the meter); a row covered by a
  reservation (``PricingModel`` Reservation, ``Term`` in months) gives the reservation's
  term price of that size = ``EffectivePrice`` × hours of the term, rounded to the cent; a
  row covered by a savings plan gives its savings plan rate = ``EffectivePrice``. The size
  is ``ServiceType`` of ``AdditionalInfo``, the region ``ResourceLocation``.
* **actual EA export** (``EA_ActualCost_Small.csv``), on-demand VM usage rows: on demand
  = ``UnitPrice``.
* **FOCUS sample** (FinOps Foundation, ``focus_sample.csv``), Microsoft VM usage rows: on
  demand = ``ListUnitPrice``, the size from the meter in the charge description.
* **reservation recommendations** (``EA-Reservations-Recommendations.csv``, 7 days =
  168 hours): for a recommendation of one instance whose ``CostWithNoReservedInstances``
  is a whole number of hours (≤ 168) at a known on-demand price of that size and region
  (the check that usage never exceeded that one instance, so nothing of it stayed on
  demand), the reservation's hourly cost is ``TotalCostWithReservedInstances / 168`` and
  its term price that × the term's hours, rounded to the cent.

Run ``python -m providers.azure.snapshot [SHARED_DATA_DIR]`` to regenerate the file.
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from providers.azure.sizes import load_sizes, sku_from_meter

DATA_DIR = Path(__file__).resolve().parent / "data"
SNAPSHOT_FILE = DATA_DIR / "vm_prices.csv"
SHARED_DIR = Path(__file__).resolve().parents[3] / "shared" / "data"
TOOLKIT = "billing/azure-finops-toolkit"
FOCUS_SAMPLE = "billing/focus-sample/focus_sample.csv"
TERM_HOURS: dict[str, int] = {"P1Y": 8760, "P3Y": 26280}
TERM_BY_MONTHS: dict[int, str] = {12: "P1Y", 36: "P3Y"}
LOOKBACK_HOURS = {"Last7Days": 168}
COLUMNS = ("region", "arm_sku", "on_demand_hourly", "on_demand_as_of", "reservation_P1Y",
           "reservation_P3Y", "reservation_as_of", "savings_plan_P1Y_hourly",
           "savings_plan_P3Y_hourly", "savings_plan_as_of", "sources")
SOURCE = ("Azure VM list prices (USD, Linux) shown in Microsoft's public billing fixtures "
          "(finops-toolkit EA exports and reservation recommendations, MIT; FinOps "
          "Foundation FOCUS sample, CC BY 4.0), bundled snapshot; providers/azure/data/NOTICE")


@dataclass(slots=True)
class VmPrice:
    """What the snapshot knows of one VM size in one region."""

    region: str
    arm_sku: str
    on_demand_hourly: float | None = None
    on_demand_as_of: str = ""
    reservation: dict[str, float] = field(default_factory=dict)
    reservation_as_of: str = ""
    savings_plan: dict[str, float] = field(default_factory=dict)
    savings_plan_as_of: str = ""
    sources: set[str] = field(default_factory=set)

    @property
    def as_of(self) -> date:
        """The oldest date of any of its prices."""
        dates = [d for d in (self.on_demand_as_of, self.reservation_as_of,
                             self.savings_plan_as_of) if d]
        return min(date.fromisoformat(d) for d in dates)


def _us_date(text: str) -> str:
    return datetime.strptime(text, "%m/%d/%Y").date().isoformat()


def _entry(table: dict[tuple[str, str], VmPrice], region: str, sku: str) -> VmPrice:
    return table.setdefault((region.lower(), sku), VmPrice(region.lower(), sku))


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _vm_usage(row: dict[str, str]) -> bool:
    return row.get("MeterCategory") == "Virtual Machines" and row.get("ChargeType") == "Usage"


def derive(shared: Path = SHARED_DIR) -> list[VmPrice]:
    """The snapshot's rows from the shared billing files (see the module's rules)."""
    table: dict[tuple[str, str], VmPrice] = {}
    amortized = f"{TOOLKIT}/EA_AmortizedCost_Small.csv"
    for row in _read(shared / amortized):
        if not _vm_usage(row):
            continue
        info = json.loads(row["AdditionalInfo"] or "{}")
        entry = _entry(table, row["ResourceLocation"], str(info["ServiceType"]))
        day = _us_date(row["Date"])
        entry.on_demand_hourly, entry.on_demand_as_of = float(row["UnitPrice"]), day
        entry.sources.add(amortized)
        if row["PricingModel"] == "Reservation":
            term = TERM_BY_MONTHS[int(float(row["Term"]))]
            entry.reservation[term] = round(float(row["EffectivePrice"]) * TERM_HOURS[term], 2)
            entry.reservation_as_of = day
        elif row["PricingModel"] == "SavingsPlan":
            term = TERM_BY_MONTHS[int(float(row["Term"]))]
            entry.savings_plan[term] = float(row["EffectivePrice"])
            entry.savings_plan_as_of = day
    actual = f"{TOOLKIT}/EA_ActualCost_Small.csv"
    for row in _read(shared / actual):
        if _vm_usage(row) and row["PricingModel"] == "OnDemand":
            info = json.loads(row["AdditionalInfo"] or "{}")
            entry = _entry(table, row["ResourceLocation"], str(info["ServiceType"]))
            if entry.on_demand_hourly is None:
                entry.on_demand_hourly = float(row["UnitPrice"])
                entry.on_demand_as_of = _us_date(row["Date"])
            entry.sources.add(actual)
    for row in _read(shared / FOCUS_SAMPLE):
        description = row["ChargeDescription"]
        if (row["ProviderName"] != "Microsoft" or row["ChargeCategory"] != "Usage"
                or not description.startswith("Virtual Machines ")
                or row["PricingUnit"] != "Hours"):
            continue
        meter = description.split(" - ")[1]
        for sku in {sku_from_meter(meter), sku_from_meter(meter.split("/")[0])}:
            entry = _entry(table, row["RegionId"], sku)
            if entry.on_demand_hourly is None:
                entry.on_demand_hourly = float(row["ListUnitPrice"])
                entry.on_demand_as_of = row["ChargePeriodStart"][:10]
            entry.sources.add(FOCUS_SAMPLE)
    recommendations = f"{TOOLKIT}/EA-Reservations-Recommendations.csv"
    for row in _read(shared / recommendations):
        entry_key = (row["Location"].lower(), row["SKU"])
        known = table.get(entry_key)
        hours = LOOKBACK_HOURS.get(row["LookBackPeriod"])
        if (known is None or known.on_demand_hourly is None or hours is None
                or int(row["RecommendedQuantity"]) != 1 or row["Term"] not in TERM_HOURS):
            continue
        used = float(row["CostWithNoReservedInstances"]) / known.on_demand_hourly
        if abs(used - round(used)) > 1e-6 or round(used) > hours:
            continue  # not one instance at the known price: the rate cannot be separated
        hourly = float(row["TotalCostWithReservedInstances"]) / hours
        known.reservation[row["Term"]] = round(hourly * TERM_HOURS[row["Term"]], 2)
        known.reservation_as_of = row["FirstUsageDate"][:10]
        known.sources.add(recommendations)
    sizes = load_sizes()
    return sorted((p for p in table.values()
                   if p.on_demand_hourly is not None and p.arm_sku in sizes),
                  key=lambda p: (p.region, p.arm_sku))


def _text(value: float | None) -> str:
    return "" if value is None else repr(value)


def write(prices: list[VmPrice], target: Path = SNAPSHOT_FILE) -> None:
    """Write the snapshot table."""
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for p in prices:
            writer.writerow([p.region, p.arm_sku, _text(p.on_demand_hourly), p.on_demand_as_of,
                             _text(p.reservation.get("P1Y")), _text(p.reservation.get("P3Y")),
                             p.reservation_as_of, _text(p.savings_plan.get("P1Y")),
                             _text(p.savings_plan.get("P3Y")), p.savings_plan_as_of,
                             ";".join(sorted(p.sources))])


@lru_cache(maxsize=2)
def load_snapshot(path: Path = SNAPSHOT_FILE) -> tuple[VmPrice, ...]:
    """The bundled snapshot's rows."""
    prices = []
    for row in _read(path):
        price = VmPrice(row["region"], row["arm_sku"], float(row["on_demand_hourly"]),
                        row["on_demand_as_of"], sources=set(row["sources"].split(";")))
        for term in TERM_HOURS:
            if row[f"reservation_{term}"]:
                price.reservation[term] = float(row[f"reservation_{term}"])
            if row[f"savings_plan_{term}_hourly"]:
                price.savings_plan[term] = float(row[f"savings_plan_{term}_hourly"])
        price.reservation_as_of = row["reservation_as_of"]
        price.savings_plan_as_of = row["savings_plan_as_of"]
        prices.append(price)
    return tuple(prices)


def snapshot_date(prices: tuple[VmPrice, ...] | None = None) -> date:
    """The snapshot's date: the oldest of its prices (its age is never understated)."""
    return min(p.as_of for p in (prices if prices is not None else load_snapshot()))


if __name__ == "__main__":
    rows = derive(Path(sys.argv[1]) if len(sys.argv) > 1 else SHARED_DIR)
    write(rows)
    print(f"{len(rows)} rows written to {SNAPSHOT_FILE}")
