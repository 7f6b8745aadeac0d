"""Schemas of reports: ``ReportRead`` (one family for every report; rows keyed by column).

Each report's rows have the fixed columns the response lists, in order, and
``definitions`` says what each figure is; the same rows download as CSV.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from reporting.freshness import FRESHNESS_DEFINITIONS


class ReportFormat(StrEnum):
    """How a report is sent: JSON (paginated rows) or CSV (every row, to download)."""

    JSON = "json"
    CSV = "csv"


class UsageGroup(StrEnum):
    """Groupings of usage figures (coverage)."""

    NONE = "none"
    PROVIDER = "provider"
    ACCOUNT = "account"
    SERVICE = "service"
    REGION = "region"
    USAGE_KEY = "usage_key"
    TAG = "tag"


class CommitmentGroup(StrEnum):
    """Groupings of commitment figures (utilisation, amortization)."""

    NONE = "none"
    PROVIDER = "provider"
    COMMITMENT = "commitment"


class ChargeGroup(StrEnum):
    """Who a cost is charged to (chargeback, showback)."""

    PROVIDER = "provider"
    ACCOUNT = "account"
    SERVICE = "service"
    REGION = "region"
    USAGE_KEY = "usage_key"
    TAG = "tag"


class ReportSource(BaseModel):
    """Where a report's figures come from: a reporting snapshot of one provider's data."""

    snapshot_id: int
    provider: str
    dataset_id: int
    currency: str
    start: str
    end: str
    created_at: str


class ReportRead(BaseModel):
    """A report: its rows (one page), every figure's definition, the totals, the sources."""

    report: str
    currency: str
    parameters: dict[str, Any] = Field(description="The request as understood.")
    columns: list[str] = Field(description="The columns of every row, in order.")
    definitions: dict[str, str] = Field(description="What each column is.")
    notes: list[str] = Field(description="Allocation rules and caveats, in words.")
    totals: dict[str, float | None] = Field(
        description="Σ of each money column over all rows (not only this page); null when "
        "unknown.")
    data_through: str | None = Field(description=FRESHNESS_DEFINITIONS["data_through"])
    newest_commitment_start: str | None = Field(
        description="Start of the newest stored commitment of the report's providers.")
    stale: bool = Field(description=FRESHNESS_DEFINITIONS["stale"])
    warnings: list[str] = Field(description=FRESHNESS_DEFINITIONS["warnings"])
    sources: list[ReportSource]
    rows: list[dict[str, Any]] = Field(description="One page of rows, keyed by column.")
    total_rows: int = Field(ge=0, description="How many rows the report has in all.")
    limit: int
    offset: int
