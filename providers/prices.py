"""Where a provider's prices came from: live from the cloud's price API, or a bundled snapshot.

Each cloud provider ships a dated snapshot of public list prices (``providers/<cloud>/data``,
attributed in the ``NOTICE`` beside it) so that a plan can be made from a bill alone, with
no credentials and no network. Which one a catalog was built from is an explicit decision,
recorded as a :class:`PriceSource` and stored in every plan's details (``details["prices"]``)
so that the CLI, ``ladder plans show`` and the API say which prices a plan used and how old
they were.

The setting ``LADDER_<CLOUD>_PRICES`` chooses: ``auto`` (the default) asks the price API only
when the cloud's credentials are configured and falls back to the snapshot when the API
cannot be reached; ``api`` always asks it (and fails when it cannot); ``snapshot`` never asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

PricesMode = Literal["auto", "api", "snapshot"]
"""The ``LADDER_<CLOUD>_PRICES`` setting."""

API: Literal["api"] = "api"
SNAPSHOT: Literal["snapshot"] = "snapshot"


@dataclass(frozen=True, slots=True)
class PriceSource:
    """The prices a catalog was built from, and why those.

    ``kind`` is ``api`` or ``snapshot``; ``as_of`` is the date of a snapshot's prices (for
    live prices, the day they were read); ``reason`` says why this source was chosen.
    """

    kind: Literal["api", "snapshot"]
    description: str
    as_of: date
    reason: str

    def age_days(self, at: datetime) -> int:
        """Whole days from the prices' date to ``at``."""
        moment = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        return (moment.date() - self.as_of).days

    def label(self, at: datetime) -> str:
        """One line for people: what the prices are and how old."""
        if self.kind == API:
            return f"live prices from the API (read {self.as_of.isoformat()})"
        days = self.age_days(at)
        return f"bundled snapshot of {self.as_of.isoformat()} ({days} day{'s' * (days != 1)} old)"

    def details(self, at: datetime) -> dict[str, Any]:
        """The plan-details entry (JSON): kind, date, age at ``at``, label, reason, source."""
        return {
            "kind": self.kind,
            "as_of": self.as_of.isoformat(),
            "age_days": self.age_days(at),
            "label": self.label(at),
            "reason": self.reason,
            "description": self.description,
        }


def live(description: str, reason: str, *, at: datetime | None = None) -> PriceSource:
    """A price source read from the cloud's API now (or at ``at``)."""
    moment = at or datetime.now(UTC)
    return PriceSource(API, description, moment.astimezone(UTC).date(), reason)


def use_api(mode: PricesMode, credentials: bool) -> bool:
    """Whether to ask the price API first: ``api`` always, ``auto`` only with credentials."""
    return mode == "api" or (mode == "auto" and credentials)


__all__ = ["API", "SNAPSHOT", "PriceSource", "PricesMode", "live", "use_api"]
