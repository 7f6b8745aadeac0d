"""Purchases, the portfolio they build, and the purchase log JSON of BENCHMARK.md.

A purchase made at hour ``d`` of a trace is active for the hours
``[d, d + term_hours)``, exactly its term. The log is what a backtest writes so
that an independent calculator can re-price the run::

    {"purchases": [{"hour": "2024-03-08T00:00:00Z", "offering_id": "…", "quantity": 1.25}]}
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from core.domain import Catalog, Offering
from core.errors import InvalidInput
from optimizer.backtest.trace import UsageTrace, format_hour, parse_utc_hour

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Purchase:
    """``quantity`` units of an offering bought at hour index ``hour`` of the trace."""

    hour: int
    offering_id: str
    quantity: float


@dataclass(frozen=True, slots=True)
class Holding:
    """An owned commitment: ``quantity`` units of ``offering`` active for ``[start, end)``."""

    offering: Offering
    quantity: float
    start: int

    @property
    def end(self) -> int:
        """First hour index at which the commitment no longer applies."""
        return self.start + self.offering.term_hours

    def is_active(self, hour: int) -> bool:
        """Whether the commitment applies to hour index ``hour``."""
        return self.start <= hour < self.end


@dataclass(frozen=True, slots=True)
class Portfolio:
    """The commitments owned, in the order they were bought."""

    holdings: tuple[Holding, ...] = ()

    def with_purchases(self, purchases: Iterable[Purchase], catalog: Catalog) -> Portfolio:
        """The portfolio after buying ``purchases``."""
        added = tuple(Holding(catalog.offering(p.offering_id), p.quantity, p.hour)
                      for p in purchases)
        return Portfolio(self.holdings + added)

    def active_at(self, hour: int) -> dict[str, float]:
        """Active quantity per offering_id at hour index ``hour``."""
        active: dict[str, float] = {}
        for holding in self.holdings:
            if holding.is_active(hour):
                key = holding.offering.offering_id
                active[key] = active.get(key, 0.0) + holding.quantity
        return active

    def offerings(self) -> tuple[Offering, ...]:
        """Each offering held at least once, in order of first purchase."""
        seen: dict[str, Offering] = {}
        for holding in self.holdings:
            seen.setdefault(holding.offering.offering_id, holding.offering)
        return tuple(seen.values())

    def quantity(self, offerings: Sequence[Offering], first: int, hours: int) -> FloatArray:
        """``(hours, len(offerings))`` active quantity per offering over ``[first, first + hours)``.

        Holdings of one offering are summed: tranches of the same offering are
        interchangeable in billing (the engine fills them one after the other in
        the same greedy order, which is the same as filling their sum).
        """
        column = {o.offering_id: c for c, o in enumerate(offerings)}
        quantity = np.zeros((hours, len(offerings)))
        for holding in self.holdings:
            c = column.get(holding.offering.offering_id)
            if c is None:
                continue
            lo, hi = max(holding.start - first, 0), min(holding.end - first, hours)
            if lo < hi:
                quantity[lo:hi, c] += holding.quantity
        return quantity


def purchase_log(purchases: Sequence[Purchase], trace: UsageTrace) -> dict[str, Any]:
    """The JSON document of a purchase log (hours as UTC timestamps)."""
    return {"purchases": [
        {"hour": format_hour(trace.hour_at(p.hour)), "offering_id": p.offering_id,
         "quantity": float(p.quantity)}
        for p in purchases
    ]}


def write_purchase_log(path: str | Path, purchases: Sequence[Purchase], trace: UsageTrace) -> None:
    """Write the purchase log JSON."""
    Path(path).write_text(json.dumps(purchase_log(purchases, trace), indent=1) + "\n",
                          encoding="utf-8")


def read_purchase_log(path: str | Path, *, trace: UsageTrace, catalog: Catalog) -> list[Purchase]:
    """Read and validate a purchase log against the trace and catalog it was made for.

    Each purchase must name an offering of the catalog, start at an hour of the
    trace, have its whole term inside the trace (as the contract's decisions do)
    and a finite quantity > 0.
    """
    path = Path(path)
    source = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidInput("purchase log file does not exist", source=source) from exc
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"not valid JSON: {exc.msg} at line {exc.lineno}", source=source,
                           row=exc.lineno) from exc
    return purchases_from_dict(data, trace=trace, catalog=catalog, source=source)


def purchases_from_dict(
    data: Any, *, trace: UsageTrace, catalog: Catalog, source: str = "<purchases>"
) -> list[Purchase]:
    """Validate a parsed purchase log document (see :func:`read_purchase_log`)."""
    if not isinstance(data, dict) or not isinstance(data.get("purchases"), list):
        raise InvalidInput('a purchase log must be an object {"purchases": [...]}', source=source)
    known = {o.offering_id: o for o in catalog.offerings}
    purchases = []
    for i, raw in enumerate(data["purchases"]):
        where = f"purchases[{i}]"
        if not isinstance(raw, dict):
            raise InvalidInput(f"{where} must be an object", source=source)
        offering_id = raw.get("offering_id")
        offering = known.get(offering_id) if isinstance(offering_id, str) else None
        if offering is None:
            raise InvalidInput(f"{where}.offering_id {offering_id!r} is not in the catalog",
                               source=source)
        hour_text = raw.get("hour")
        if not isinstance(hour_text, str):
            raise InvalidInput(f"{where}.hour must be a string timestamp", source=source)
        try:
            index = trace.index_of(parse_utc_hour(hour_text))
        except ValueError as exc:
            raise InvalidInput(f"{where}.hour {exc}", source=source) from exc
        if not 0 <= index < trace.hours:
            raise InvalidInput(f"{where}.hour {hour_text} is outside the trace "
                               f"[{format_hour(trace.start)}, {format_hour(trace.end)})",
                               source=source)
        if index + offering.term_hours > trace.hours:
            raise InvalidInput(f"{where}: the term of {offering.offering_id!r} "
                               f"({offering.term_hours} h) from {hour_text} ends after the trace",
                               source=source)
        quantity = raw.get("quantity")
        if (isinstance(quantity, bool) or not isinstance(quantity, int | float)
                or not math.isfinite(quantity) or quantity <= 0):
            raise InvalidInput(f"{where}.quantity must be a finite number > 0, got {quantity!r}",
                               source=source)
        purchases.append(Purchase(index, offering.offering_id, float(quantity)))
    return purchases
