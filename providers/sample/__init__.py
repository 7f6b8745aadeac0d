"""The sample provider: Ladder's offline default, with bundled data and no cloud account.

Three accounts of one AWS organisation running m4, c4, c5 and r4 instances in
us-east-1, with a 92-day hourly FOCUS usage history, a catalog of Reserved
Instances and Savings Plans priced from AWS's real 2017 price grid, and a few
commitments already owned. ``README.md`` beside this file says how every number
was derived; ``tools/build_sample.py`` (outside the installed package) regenerates the
data from ``shared/data``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from core.catalog import load_catalog
from core.domain import Catalog, Commitment
from core.errors import InvalidInput
from providers.prices import PriceSource
from providers.sample.market import ACCOUNT_FILE, SampleMarket

SAMPLE_DIR = Path(__file__).resolve().parent / "data"
"""Where the bundled files live (resolved from this module, never from the CWD)."""

CATALOG_FILE = "catalog.json"
USAGE_FILE = "usage.parquet"
BILL_FILE = "bill.parquet"
INVENTORY_FILE = "inventory.json"


PRICES_DATE = date(2017, 11, 12)
"""The date of the EC2 price grid the sample catalog is built from
(``tools.build_sample.GRID_SNAPSHOT``)."""


def catalog_path(data_dir: Path | None = None) -> Path:
    """Path of the bundled pricing catalog (BENCHMARK.md JSON format)."""
    return (data_dir or SAMPLE_DIR) / CATALOG_FILE


def usage_path(data_dir: Path | None = None) -> Path:
    """Path of the bundled FOCUS usage history (Parquet)."""
    return (data_dir or SAMPLE_DIR) / USAGE_FILE


def bill_path(data_dir: Path | None = None) -> Path:
    """Path of the bundled whole bill (Parquet): every row of the usage history, and the
    storage, database, network, support, tax and credit rows of the rest of an AWS bill."""
    return (data_dir or SAMPLE_DIR) / BILL_FILE


def inventory_path(data_dir: Path | None = None) -> Path:
    """Path of the bundled list of commitments already owned."""
    return (data_dir or SAMPLE_DIR) / INVENTORY_FILE


def _utc(moment: datetime) -> datetime:
    # A naive datetime is read as UTC, the only clock Ladder's data uses.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _commitment(raw: Any, index: int, catalog: Catalog, *, source: str) -> Commitment:
    if not isinstance(raw, dict):
        raise InvalidInput(f"commitments[{index}] must be an object", source=source)
    try:
        offering = catalog.offering(str(raw["offering_id"]))
        quantity = float(raw["quantity"])
        start = _utc(datetime.fromisoformat(str(raw["start"])))
        commitment_id = str(raw["commitment_id"])
    except KeyError as exc:
        raise InvalidInput(f"commitments[{index}]: {exc.args[0]}", source=source) from exc
    except ValueError as exc:
        raise InvalidInput(f"commitments[{index}]: {exc}", source=source) from exc
    if quantity <= 0:
        raise InvalidInput(f"commitments[{index}]: quantity must be > 0", source=source)
    return Commitment(offering=offering, quantity=quantity, start=start,
                      commitment_id=commitment_id)


def load_inventory(path: Path, catalog: Catalog) -> tuple[Commitment, ...]:
    """Read an inventory JSON file and resolve its offerings against ``catalog``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidInput("inventory file does not exist", source=str(path)) from exc
    raw = data.get("commitments") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        raise InvalidInput("inventory must be an object with a 'commitments' list",
                           source=str(path))
    return tuple(_commitment(item, i, catalog, source=str(path)) for i, item in enumerate(raw))


class SampleProvider:
    """The bundled offline provider: FOCUS usage, a catalog and an inventory from files.

    Its simulated account (:class:`providers.sample.market.SampleMarket`) lives in
    ``account_path``, by default ``sample-account.json`` in Ladder's data directory;
    what was bought there is part of the inventory.
    """

    name: str = "sample"

    def __init__(self, data_dir: Path | None = None, account_path: Path | None = None) -> None:
        self.data_dir = Path(data_dir) if data_dir is not None else SAMPLE_DIR
        self._account_path = Path(account_path) if account_path is not None else None
        self._catalog: Catalog | None = None

    @property
    def account_path(self) -> Path:
        """The simulated account's file (read from the settings when not given)."""
        if self._account_path is not None:
            return self._account_path
        from core.settings import get_settings

        return get_settings().data_dir / ACCOUNT_FILE

    def market(self) -> SampleMarket:
        """The simulated account, where the executor buys, exchanges and returns.

        It holds the bundled inventory, so that those commitments can be exchanged.
        """
        return SampleMarket(self.catalog(), self.account_path,
                            inventory=load_inventory(inventory_path(self.data_dir),
                                                     self.catalog()))

    def usage_paths(self) -> Sequence[Path]:
        """The bundled whole bill: its EC2 rows are the usage the optimizer plans on, and
        the rest of it the cost lines of spend, chargeback and budgets, so that the quick
        start's reports cover the whole bill. A data folder without one (a custom sample
        written before the bill existed) gives its usage file alone."""
        whole = bill_path(self.data_dir)
        return [whole if whole.exists() else usage_path(self.data_dir)]

    def catalog(self) -> Catalog:
        """The bundled catalog, read once per provider."""
        if self._catalog is None:
            self._catalog = load_catalog(catalog_path(self.data_dir))
        return self._catalog

    def price_source(self) -> PriceSource:
        """The sample's prices: the bundled catalog, built from the 2017-11-12 EC2 grid."""
        return PriceSource("snapshot", self.catalog().source, PRICES_DATE,
                           "the sample provider's bundled catalog")

    def inventory(self, at: datetime) -> Sequence[Commitment]:
        """Commitments active at ``at`` or starting later (naive ``at`` is UTC).

        The bundled inventory plus what was bought in the simulated account, less
        what was returned or given up in exchanges there.
        """
        moment = _utc(at)
        owned = self.market().owned()
        return sorted((c for c in owned if c.end > moment),
                      key=lambda c: (c.start, c.commitment_id))


__all__ = [
    "SAMPLE_DIR",
    "SampleMarket",
    "SampleProvider",
    "bill_path",
    "catalog_path",
    "inventory_path",
    "load_inventory",
    "usage_path",
]
