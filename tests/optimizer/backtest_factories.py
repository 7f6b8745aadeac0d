"""Small typed factories for the backtest tests: trace CSVs, catalogs, policies that record."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from core.catalog import catalog_from_dict, catalog_to_dict
from core.domain import Catalog, KeyPrice, Offering, Shape
from optimizer.backtest.policies import Decision, UsageHistory
from optimizer.backtest.purchases import Portfolio
from optimizer.backtest.trace import UsageTrace, trace_from_array
from optimizer.ladder_policy import ScenarioSource

M5 = "aws/us-east-1/ec2/m5/linux"
C5 = "aws/us-east-1/ec2/c5/linux"


def unit(offering_id: str, covers: dict[str, float], *, hourly: float = 0.6,
         upfront: float = 0.0, term_hours: int = 4, order: int = 0) -> Offering:
    """A unit offering (an RI)."""
    return Offering(offering_id, Shape.UNIT, term_hours=term_hours, upfront=upfront,
                    hourly=hourly, order=order, covers=covers)


def spend(offering_id: str, rates: dict[str, float], *, term_hours: int = 4,
          upfront_fraction: float = 0.0, order: int = 10) -> Offering:
    """A spend offering (a Savings Plan): one unit is $1/h committed."""
    return Offering.spend(offering_id, term_hours=term_hours, upfront_fraction=upfront_fraction,
                          rates=rates, order=order)


def catalog(offerings: Sequence[Offering], rates: dict[str, float] | None = None) -> Catalog:
    """A catalog over ``rates`` (default: m5 at $1/unit-hour)."""
    rates = rates or {M5: 1.0}
    return Catalog(keys=tuple(KeyPrice(k, r) for k, r in rates.items()),
                   offerings=tuple(offerings))


def trace(units: npt.ArrayLike, keys: Sequence[str] = (M5,)) -> UsageTrace:
    """A trace from hourly rows (one value per key), starting 2024-01-01T00:00Z."""
    return trace_from_array(np.asarray(units, dtype=float), keys)


def write_csv(path: Path, rows: Sequence[Sequence[Any]],
              header: str = "hour,usage_key,units") -> Path:
    """Write a trace CSV from literal rows (for the invalid-file tests)."""
    lines = [header] + [",".join(str(cell) for cell in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def hour(h: int) -> str:
    """The timestamp of hour ``h`` of a trace starting 2024-01-01T00:00Z."""
    return f"2024-01-{1 + h // 24:02d}T{h % 24:02d}:00:00Z"


def steady_rows(hours: int, keys: Sequence[str] = (M5,), units: float = 10.0) -> list[list[Any]]:
    """Rows of a steady trace: every key at ``units`` every hour."""
    return [[hour(h), key, units] for h in range(hours) for key in keys]


def write_catalog(path: Path, data: Catalog | dict[str, Any]) -> Path:
    """Write a catalog JSON (a domain catalog or a raw document)."""
    document = catalog_to_dict(data) if isinstance(data, Catalog) else data
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def roundtrip(data: Catalog) -> Catalog:
    """The catalog as its JSON reader sees it."""
    return catalog_from_dict(catalog_to_dict(data))


class Recorder:
    """A policy that buys fixed amounts and records what it was shown."""

    name = "recorder"

    def __init__(self, buys: dict[int, Decision] | None = None) -> None:
        self.buys = buys or {}
        self.seen: list[tuple[int, int, tuple[str, ...], dict[str, float]]] = []

    def decide(self, history: UsageHistory, owned: Portfolio, hour: int,
               catalog: Catalog) -> Decision:
        """Record (hour, hours seen, menu, active portfolio) and buy what was scripted."""
        self.seen.append((hour, history.hours, tuple(o.offering_id for o in catalog.offerings),
                          owned.active_at(hour)))
        return list(self.buys.get(hour, []))


def flat_source(level: float) -> ScenarioSource:
    """Scenarios of constant usage at ``level`` (a stand-in forecaster)."""

    def source(history: np.ndarray, key_ids: tuple[str, ...], start: datetime, horizon: int,
               n: int, seed: int) -> np.ndarray:
        return np.full((n, horizon, len(key_ids)), level)

    return source
