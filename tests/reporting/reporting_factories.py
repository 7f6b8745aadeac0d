"""A small hand-computable fixture for the reports: 3 keys, 48 hours, 3 commitments.

Hours: 2025-01-31 00:00 to 2025-02-02 00:00 UTC (a month boundary in the middle).

| key | account | rate $/unit-h | units, Jan 31 | units, Feb 1 |
|---|---|---|---|---|
| K1 m5 | acct-a | 0.10 | 6 | 6 |
| K2 m5 | acct-b | 0.10 | 4 | 0 |
| K3 c5 | acct-b | 0.08 | 10 | 10 |

Commitments (all active over the 48 hours):

* ``ri-m5``: unit, covers K1 and K2 (weight 1), 8 units, $0.06 per unit-hour, no
  upfront; ends 2025-03-15. K1 comes first (equal displaced dollars, key order).
* ``sp``: spend, $0.50/h, rates K3 0.05 (37.5 % off) and K2 0.07 (30 % off),
  half upfront (hourly fee $0.25/h); ends 2025-06-01. It covers K3's 10 units.
* ``ri-r5``: unit, covers a key without usage, 2 units × $0.05: always unused,
  hence unallocated ($2.40 a day); ends 2025-02-09.
* ``ri-c5-future``: unit, K3, 5 units, $100 upfront + $0.05/h per unit, starts
  2025-03-01 (after the data): only in the calendar and the payment schedule.

Per hour, Jan 31: on-demand equivalent 0.6 + 0.4 + 0.8 = $1.80; ri-m5 covers 6 (K1)
+ 2 (K2) = $0.80 od for $0.48; sp covers K3 = $0.80 od for $0.50; K2's other 2
units on demand: $0.20; ri-r5 unused $0.10. Amortized $1.28/h, $30.72 a day.
Feb 1: od equivalent $1.40; ri-m5 covers K1's 6 ($0.60 od), 2 units unused
($0.12/h) allocated to K1 (the only eligible usage); sp as before; ri-r5 $0.10.
Amortized $1.08/h, $25.92 a day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from core.db.repository import add_dataset, replace_inventory, upsert_catalog
from core.domain import HOUR, Catalog, Commitment, KeyPrice, Offering, PaymentOption, Shape
from ladder.pipeline import store_usage
from providers.focus import read_focus
from providers.sample import SampleProvider, usage_path
from reporting.repository import add_cost_lines
from reporting.snapshot import SnapshotInfo, refresh_facts

PROVIDER = "handfix"
START = datetime(2025, 1, 31, tzinfo=UTC)
END = START + 48 * HOUR
K1 = "aws/acct-a/ec2/us-east-1/m5/linux/shared"
K2 = "aws/acct-b/ec2/us-east-1/m5/linux/shared"
K3 = "aws/acct-b/ec2/us-east-1/c5/linux/shared"
R5 = "aws/acct-a/ec2/us-east-1/r5/linux/shared"
RATES = {K1: 0.10, K2: 0.10, K3: 0.08}
TERM = 8760

RI_M5 = Offering("ri-m5", Shape.UNIT, TERM, upfront=0.0, hourly=0.06, order=0,
                 covers={K1: 1.0, K2: 1.0}, kind="standard_ri")
RI_R5 = Offering("ri-r5", Shape.UNIT, TERM, upfront=0.0, hourly=0.05, order=1,
                 covers={R5: 1.0}, kind="standard_ri")
RI_C5 = Offering("ri-c5", Shape.UNIT, TERM, upfront=100.0, hourly=0.05, order=2,
                 covers={K3: 1.0}, kind="standard_ri",
                 payment_option=PaymentOption.PARTIAL_UPFRONT)
SP = Offering.spend("sp", term_hours=TERM, upfront_fraction=0.5, rates={K3: 0.05, K2: 0.07},
                    order=100, kind="compute_sp", payment_option=PaymentOption.PARTIAL_UPFRONT)

COMMITMENTS = (
    Commitment(RI_M5, 8.0, datetime(2025, 3, 15, tzinfo=UTC) - TERM * HOUR, "ri-m5"),
    Commitment(SP, 0.5, datetime(2025, 6, 1, tzinfo=UTC) - TERM * HOUR, "sp"),
    Commitment(RI_R5, 2.0, datetime(2025, 2, 9, tzinfo=UTC) - TERM * HOUR, "ri-r5"),
    Commitment(RI_C5, 5.0, datetime(2025, 3, 1, tzinfo=UTC), "ri-c5-future"),
)


def hand_usage() -> pd.DataFrame:
    """The hourly usage frame (``HOURLY_COLUMNS``) of the table above."""
    hours = pd.date_range(START, END, freq="h", inclusive="left", tz="UTC", unit="us")
    rows = []
    for index, hour in enumerate(hours):
        first_day = index < 24
        for key, units in ((K1, 6.0), (K2, 4.0 if first_day else 0.0), (K3, 10.0)):
            rows.append({"hour": hour, "usage_key": key, "units": units,
                         "on_demand_cost": units * RATES[key]})
    return pd.DataFrame(rows)


def hand_cost_lines() -> pd.DataFrame:
    """Daily FOCUS lines: K1 split 2/3 team=web, 1/3 team=api (effective 90 % of list)."""
    rows = []
    for day, k2_units in ((date(2025, 1, 31), 4.0), (date(2025, 2, 1), 0.0)):
        for key, units, tags, share, effective in (
            (K1, 6.0, '{"team":"web"}', 2 / 3, 0.9),
            (K1, 6.0, '{"team":"api"}', 1 / 3, 0.9),
            (K2, k2_units, '{"team":"web"}', 1.0, 1.0),
            (K3, 10.0, "{}", 1.0, 1.0),
        ):
            if units == 0:
                continue
            cost = units * RATES[key] * 24 * share
            rows.append({"day": day, "usage_key": key, "tags": tags,
                         "commitment_discount_id": None, "units": units * 24 * share,
                         "list_cost": cost, "billed_cost": cost, "contracted_cost": cost,
                         "effective_cost": cost * effective})
    return pd.DataFrame(rows)


def keys_frame() -> pd.DataFrame:
    """The usage-key frame ``add_dataset`` takes."""
    parts = [k.split("/") for k in (K1, K2, K3)]
    frame = pd.DataFrame(parts, columns=["provider", "scope", "service", "region", "family",
                                         "platform", "tenancy"])
    frame.insert(0, "usage_key", [K1, K2, K3])
    frame["on_demand_rate"] = [RATES[k] for k in (K1, K2, K3)]
    frame["provider"] = PROVIDER
    return frame


def store_hand_fixture(session: Session, *, cost_lines: bool = True) -> SnapshotInfo:
    """Store the dataset, catalog, inventory and cost lines, and refresh the facts."""
    usage = hand_usage()
    dataset = add_dataset(
        session, provider=PROVIDER, sources=["hand"], sha256="h" * 64, currency="USD",
        start=START, end=END, rows_read=len(usage), rows_used=len(usage),
        keys=keys_frame(), hourly=usage,
    )
    upsert_catalog(session, PROVIDER, Catalog(
        keys=tuple(KeyPrice(k, RATES[k]) for k in (K1, K2, K3)),
        offerings=(RI_M5, RI_R5, RI_C5, SP), currency="USD"))
    replace_inventory(session, PROVIDER, list(COMMITMENTS))
    if cost_lines:
        add_cost_lines(session, dataset.id, hand_cost_lines(), provider=PROVIDER)
    return refresh_facts(session, PROVIDER)


def store_sample(session: Session) -> SnapshotInfo:
    """The bundled sample ingested (usage, FOCUS cost lines, catalog, inventory) and its facts
    built: the realistic fixture beside the hand one."""
    provider = SampleProvider()
    usage = read_focus(usage_path())
    store_usage(session, usage, provider="sample")
    upsert_catalog(session, "sample", provider.catalog())
    replace_inventory(session, "sample", list(provider.inventory(usage.start)))
    return refresh_facts(session, "sample")


def day_range(first: date, days: int) -> list[date]:
    """``days`` consecutive days from ``first``."""
    return [first + timedelta(days=n) for n in range(days)]


__all__ = ["COMMITMENTS", "END", "K1", "K2", "K3", "PROVIDER", "RATES", "START",
           "hand_cost_lines", "hand_usage", "np", "store_hand_fixture"]
