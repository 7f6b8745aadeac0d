"""Reading and writing catalogs in the JSON format of BENCHMARK.md.

The catalog is Ladder's public price-list interface: any trace can be replayed
against any catalog, so the reader is strict and its errors name the file, the
offering and the field at fault.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from core.domain import Catalog, KeyPrice, Offering, PaymentOption, Shape
from core.errors import InvalidInput

CATALOG_VERSION = 1


def _number(value: Any, *, source: str, field: str, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{field} must be a finite number, got {value!r}", source=source)
    if value < minimum:
        raise InvalidInput(f"{field} must be >= {minimum}, got {value!r}", source=source)
    return float(value)


def _weights(
    value: Any, *, source: str, field: str, known: set[str], positive: bool
) -> dict[str, float]:
    if not isinstance(value, dict) or not value:
        raise InvalidInput(f"{field} must be a non-empty object of usage_key: number",
                           source=source)
    weights: dict[str, float] = {}
    for key, weight in value.items():
        if key not in known:
            raise InvalidInput(f"{field} names unknown usage_key {key!r}", source=source)
        number = _number(weight, source=source, field=f"{field}[{key!r}]")
        if positive and number <= 0:
            raise InvalidInput(f"{field}[{key!r}] must be > 0, got {weight!r}", source=source)
        weights[key] = number
    return weights


def _payment_option(upfront_fraction: float) -> PaymentOption:
    if upfront_fraction <= 0:
        return PaymentOption.NO_UPFRONT
    if upfront_fraction >= 1:
        return PaymentOption.ALL_UPFRONT
    return PaymentOption.PARTIAL_UPFRONT


def _offering(raw: Any, index: int, *, source: str, known: set[str]) -> Offering:
    if not isinstance(raw, dict):
        raise InvalidInput(f"offerings[{index}] must be an object", source=source)
    offering_id = raw.get("offering_id")
    if not isinstance(offering_id, str) or not offering_id:
        raise InvalidInput(f"offerings[{index}].offering_id must be a non-empty string",
                           source=source)
    where = f"offering {offering_id!r}"
    term = raw.get("term_hours")
    if isinstance(term, bool) or not isinstance(term, int) or term <= 0:
        raise InvalidInput(f"{where}: term_hours must be a positive integer, got {term!r}",
                           source=source)
    order = raw.get("order", 0)
    if isinstance(order, bool) or not isinstance(order, int):
        raise InvalidInput(f"{where}: order must be an integer, got {order!r}", source=source)
    kind, description = str(raw.get("kind", "")), str(raw.get("description", ""))
    shape = raw.get("shape")
    if shape == Shape.UNIT:
        upfront = _number(raw.get("upfront"), source=source, field=f"{where}: upfront")
        hourly = _number(raw.get("hourly"), source=source, field=f"{where}: hourly")
        if upfront == 0 and hourly == 0:
            raise InvalidInput(f"{where}: a unit offering needs a price (upfront or hourly)",
                               source=source)
        covers = _weights(raw.get("covers"), source=source, field=f"{where}: covers",
                          known=known, positive=True)
        offering = Offering(
            offering_id=offering_id, shape=Shape.UNIT, term_hours=term, upfront=upfront,
            hourly=hourly, order=order, covers=covers, kind=kind, description=description,
        )
        return _with_payment(offering, raw)
    if shape == Shape.SPEND:
        fraction = _number(raw.get("upfront_fraction"), source=source,
                           field=f"{where}: upfront_fraction")
        if fraction > 1:
            raise InvalidInput(f"{where}: upfront_fraction must be <= 1, got {fraction}",
                               source=source)
        rates = _weights(raw.get("rates"), source=source, field=f"{where}: rates",
                         known=known, positive=True)
        offering = Offering.spend(offering_id, term_hours=term, upfront_fraction=fraction,
                                  rates=rates, order=order,
                                  payment_option=_payment_option(fraction), kind=kind,
                                  description=description)
        return offering
    raise InvalidInput(f"{where}: shape must be 'unit' or 'spend', got {shape!r}", source=source)


def _with_payment(offering: Offering, raw: dict[str, Any]) -> Offering:
    option = raw.get("payment_option")
    if option is None:
        option = _payment_option(offering.upfront_fraction)
    try:
        payment = PaymentOption(option)
    except ValueError as exc:
        raise InvalidInput(
            f"offering {offering.offering_id!r}: unknown payment_option {option!r}"
        ) from exc
    return Offering(
        offering_id=offering.offering_id, shape=offering.shape, term_hours=offering.term_hours,
        upfront=offering.upfront, hourly=offering.hourly, order=offering.order,
        covers=offering.covers, rates=offering.rates, payment_option=payment,
        kind=offering.kind, description=offering.description,
    )


def catalog_from_dict(data: Any, *, source: str = "<catalog>") -> Catalog:
    """Validate a parsed catalog document and build the domain catalog."""
    if not isinstance(data, dict):
        raise InvalidInput("a catalog must be a JSON object", source=source)
    if data.get("version") != CATALOG_VERSION:
        raise InvalidInput(f"version must be {CATALOG_VERSION}, got {data.get('version')!r}",
                           source=source)
    raw_keys = data.get("keys")
    if not isinstance(raw_keys, list) or not raw_keys:
        raise InvalidInput("keys must be a non-empty list", source=source)
    keys: list[KeyPrice] = []
    for index, raw in enumerate(raw_keys):
        if not isinstance(raw, dict) or not isinstance(raw.get("usage_key"), str):
            raise InvalidInput(f"keys[{index}] needs a string usage_key", source=source)
        rate = _number(raw.get("on_demand_rate"), source=source,
                       field=f"keys[{index}] ({raw['usage_key']}): on_demand_rate")
        if rate <= 0:
            raise InvalidInput(f"keys[{index}] ({raw['usage_key']}): on_demand_rate must be > 0",
                               source=source)
        keys.append(KeyPrice(raw["usage_key"], rate))
    known = {k.usage_key for k in keys}
    if len(known) != len(keys):
        raise InvalidInput("keys lists a usage_key twice", source=source)
    raw_offerings = data.get("offerings", [])
    if not isinstance(raw_offerings, list):
        raise InvalidInput("offerings must be a list", source=source)
    offerings = [
        _offering(raw, index, source=source, known=known) for index, raw in enumerate(raw_offerings)
    ]
    ids = [o.offering_id for o in offerings]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise InvalidInput(f"offering_id listed twice: {', '.join(duplicates)}", source=source)
    currency = data.get("currency", "USD")
    if not isinstance(currency, str) or len(currency) != 3:
        raise InvalidInput(f"currency must be a 3-letter code, got {currency!r}", source=source)
    return Catalog(keys=tuple(keys), offerings=tuple(offerings), currency=currency,
                   source=str(data.get("source", "")))


def load_catalog(path: str | Path) -> Catalog:
    """Read and validate a catalog JSON file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidInput("catalog file does not exist", source=str(path)) from exc
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"not valid JSON: {exc.msg} at line {exc.lineno}",
                           source=str(path), row=exc.lineno) from exc
    return catalog_from_dict(data, source=str(path))


def offering_to_dict(offering: Offering) -> dict[str, Any]:
    """The JSON form of one offering."""
    raw: dict[str, Any] = {
        "offering_id": offering.offering_id,
        "shape": str(offering.shape),
        "term_hours": offering.term_hours,
    }
    if offering.shape is Shape.UNIT:
        raw |= {"upfront": offering.upfront, "hourly": offering.hourly,
                "covers": dict(offering.covers)}
    else:
        raw |= {"upfront_fraction": offering.upfront_fraction, "rates": dict(offering.rates)}
    raw["order"] = offering.order
    raw["payment_option"] = str(offering.payment_option)
    if offering.kind:
        raw["kind"] = offering.kind
    if offering.description:
        raw["description"] = offering.description
    return raw


def catalog_to_dict(catalog: Catalog) -> dict[str, Any]:
    """The JSON form of a catalog (BENCHMARK.md), for writing."""
    data: dict[str, Any] = {"version": CATALOG_VERSION, "currency": catalog.currency}
    if catalog.source:
        data["source"] = catalog.source
    data["keys"] = [{"usage_key": k.usage_key, "on_demand_rate": k.on_demand_rate}
                    for k in catalog.keys]
    data["offerings"] = [offering_to_dict(o) for o in catalog.offerings]
    return data
