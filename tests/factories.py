"""Small typed factories for tests: frames, catalogs, plans and stored datasets.

Import them as ``from factories import make_plan`` (``tests/`` is on ``sys.path``
through its conftest).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from core.db.models import DatasetRow
from core.db.repository import add_dataset
from core.domain import (
    Action,
    ActionKind,
    Catalog,
    KeyPrice,
    Offering,
    PaymentOption,
    Plan,
    Shape,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)
KEYS = (
    "sample/acct-1/ec2/us-east-1/m5/linux/shared",
    "sample/acct-1/ec2/us-east-1/c5/linux/shared",
)


def make_keys_frame(keys: Sequence[str] = KEYS, *, on_demand_rate: float = 0.05) -> pd.DataFrame:
    """The usage-key frame ``add_dataset`` takes, for seven-part keys."""
    parts = [key.split("/") for key in keys]
    columns = ("provider", "scope", "service", "region", "family", "platform", "tenancy")
    frame = pd.DataFrame(parts, columns=list(columns))
    frame.insert(0, "usage_key", list(keys))
    frame["on_demand_rate"] = on_demand_rate
    return frame


def make_hourly_frame(
    keys: Sequence[str] = KEYS,
    *,
    start: datetime = T0,
    hours: int = 48,
    on_demand_rate: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """A dense hourly usage frame (every key every hour), sorted by hour then key."""
    index = pd.date_range(start, periods=hours, freq="h", tz="UTC", unit="us")
    sorted_keys = sorted(keys)
    rng = np.random.default_rng(seed)
    units = rng.uniform(0.0, 50.0, size=hours * len(sorted_keys))
    return pd.DataFrame(
        {
            "hour": index.repeat(len(sorted_keys)),
            "usage_key": pd.Series(sorted_keys * hours, dtype="str"),
            "units": units,
            "on_demand_cost": units * on_demand_rate,
        }
    )


def make_dataset(
    session: Session,
    *,
    provider: str = "sample",
    keys: Sequence[str] = KEYS,
    start: datetime = T0,
    hours: int = 48,
    sha256: str | None = None,
) -> DatasetRow:
    """Store a dataset of random usage through ``add_dataset``."""
    hourly = make_hourly_frame(keys, start=start, hours=hours)
    return add_dataset(
        session,
        provider=provider,
        sources=["focus/2025-01.parquet"],
        sha256=sha256 or hashlib.sha256(f"{provider}{start}{hours}{keys}".encode()).hexdigest(),
        currency="USD",
        start=start,
        end=start + pd.Timedelta(hours=hours).to_pytimedelta(),
        rows_read=len(hourly) + 3,
        rows_used=len(hourly),
        keys=make_keys_frame(keys),
        hourly=hourly,
    )


def make_catalog(keys: Sequence[str] = KEYS) -> Catalog:
    """A catalog with one RI per key and one spend offering over all keys."""
    rates = {key: 0.05 + 0.01 * index for index, key in enumerate(keys)}
    unit = tuple(
        Offering(
            offering_id=f"ri-1y/{key}",
            shape=Shape.UNIT,
            term_hours=8760,
            upfront=0.0 if index % 2 == 0 else 123.4,
            hourly=0.031 + index / 1000,
            order=index,
            covers={key: 1.0},
            payment_option=PaymentOption.NO_UPFRONT if index % 2 == 0
            else PaymentOption.PARTIAL_UPFRONT,
            kind="ri-standard",
            description=f"Standard RI for {key}",
        )
        for index, key in enumerate(keys)
    )
    spend = Offering.spend(
        "sp-compute-1y",
        term_hours=8760,
        upfront_fraction=0.5,
        rates={key: rates[key] * 0.7 for key in reversed(keys)},
        order=10,
        payment_option=PaymentOption.PARTIAL_UPFRONT,
        kind="sp-compute",
    )
    return Catalog(
        keys=tuple(KeyPrice(key, rates[key]) for key in keys),
        offerings=(*unit, spend),
        currency="USD",
        source="test catalog",
    )


def make_plan(
    *,
    actions: int = 2,
    created_at: datetime | None = None,
    window_start: datetime = T0,
    cost_before: float = 1000.0,
    cost_after: float = 800.0,
) -> Plan:
    """A plan with ``actions`` purchases and consistent headline numbers."""
    return Plan(
        actions=tuple(
            Action(
                kind=ActionKind.PURCHASE,
                offering_id=f"ri-1y/{KEYS[index % len(KEYS)]}",
                quantity=1.5 + index,
                upfront_cost=10.0 * index,
                hourly_cost=0.031 * (1.5 + index),
                amortized_hourly_cost=0.031 * (1.5 + index) + 10.0 * index / 8760,
                reason=f"covers the low forecast of key {index}",
            )
            for index in range(actions)
        ),
        window_start=window_start,
        window_hours=720,
        on_demand_equivalent=1100.0,
        cost_before=cost_before,
        cost_after=cost_after,
        esr_before=1 - cost_before / 1100.0,
        esr_after=1 - cost_after / 1100.0,
        upfront_cash=10.0 * max(actions - 1, 0),
        monthly_commitment=123.45,
        created_at=created_at,
    )
