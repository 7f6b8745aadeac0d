"""Schemas of budgets: ``BudgetCreate``, ``BudgetUpdate`` in; ``BudgetRead``,
``BudgetStatusRead`` out."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, field_validator

from api.params import Filter, JsonBody, ProviderFilter, ShortFilter
from reporting.budgets import MAX_THRESHOLDS, BudgetBasis, BudgetPeriod
from reporting.freshness import FRESHNESS_DEFINITIONS

Amount = Annotated[float, Field(ge=0, le=1e15, allow_inf_nan=False,
                                description="The budget for one period, in its currency.")]
Threshold = Annotated[float, Field(gt=0, le=10, allow_inf_nan=False)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
BudgetName = ShortFilter

TAG_RULE = "tag_key and tag_value go together: both or neither."
DATA_THROUGH = FRESHNESS_DEFINITIONS["data_through"]
STALE = FRESHNESS_DEFINITIONS["stale"]


class BudgetCreate(JsonBody):
    """A budget: an amount per period for a scope, on the amortized or the cash basis."""

    name: BudgetName = Field(description="Unique.")
    amount: Amount
    period: BudgetPeriod = BudgetPeriod.MONTH
    basis: BudgetBasis = Field(default=BudgetBasis.AMORTIZED, description="amortized: "
                               "upfront fees spread over the term; cash: fees when billed.")
    provider: ProviderFilter | None = None
    account: ShortFilter | None = None
    tag_key: ShortFilter | None = Field(default=None, description=TAG_RULE)
    tag_value: Filter | None = Field(default=None, description=TAG_RULE)
    thresholds: list[Threshold] = Field(
        default=[0.8, 1.0], max_length=MAX_THRESHOLDS,
        description="Alert shares of the amount (0.8 = 80 %).")
    currency: Currency = Field(default="USD", description="The currency the budget's billing "
                               "data is in (a budget in another currency is refused: no "
                               "conversion rates are kept).")


def _not_null(schema: dict[str, Any]) -> None:
    """Document an optional field as never null (leaving it out leaves the value as is)."""
    branches = [branch for branch in schema.pop("anyOf", []) if branch != {"type": "null"}]
    if len(branches) == 1:
        schema.update(branches[0])
    schema.pop("default", None)


NOT_NULL = Field(default=None, json_schema_extra=_not_null)
SCOPE_FIELDS = ("provider", "account", "tag_key", "tag_value")


class BudgetUpdate(JsonBody):
    """Fields of a budget to change; the others stay. ``null`` clears a scope field."""

    name: BudgetName | None = NOT_NULL
    amount: Amount | None = NOT_NULL
    period: BudgetPeriod | None = NOT_NULL
    basis: BudgetBasis | None = NOT_NULL
    provider: ProviderFilter | None = None
    account: ShortFilter | None = None
    tag_key: ShortFilter | None = Field(default=None, description=TAG_RULE)
    tag_value: Filter | None = Field(default=None, description=TAG_RULE)
    thresholds: list[Threshold] | None = Field(default=None, max_length=MAX_THRESHOLDS,
                                               json_schema_extra=_not_null)
    currency: Currency | None = NOT_NULL

    @field_validator("name", "amount", "period", "basis", "thresholds", "currency",
                     mode="before")
    @classmethod
    def _given_not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be left out, not null")
        return value


class BudgetRead(BaseModel):
    """A stored budget."""

    id: int
    name: str
    amount: float
    currency: str
    period: BudgetPeriod
    basis: BudgetBasis
    thresholds: list[float]
    provider: str | None
    account: str | None
    tag_key: str | None
    tag_value: str | None
    created_at: datetime
    updated_at: datetime


class ThresholdRead(BaseModel):
    """One alert threshold: whether actual cost, or the forecast, reached it."""

    threshold: float
    amount: float
    reached: bool
    forecast_reached: bool


class StatusSource(BaseModel):
    """The reporting snapshot the figures come from."""

    snapshot_id: int
    provider: str
    dataset_id: int
    currency: str
    start: datetime
    end: datetime
    created_at: datetime


class BudgetStatusRead(BaseModel):
    """Where a budget stands in its current period: actual, forecast, variance, alerts."""

    budget: BudgetRead
    period: str | None
    period_start: date | None
    period_end: date | None
    as_of: date | None
    days_elapsed: int | None
    days_remaining: int | None
    actual: float | None
    forecast: float | None
    forecast_method: str
    variance: float | None
    variance_ratio: float | None
    consumed: float | None
    forecast_consumed: float | None
    thresholds: list[ThresholdRead]
    state: str = Field(description="ok, warning, forecast_over or over_budget; unavailable "
                       "when the budget cannot be reported on (see problem; figures null).")
    currency: str
    problem: str | None = Field(default=None, description="Why the budget cannot be "
                                "reported on (state unavailable), else null.")
    data_through: datetime | None = Field(default=None, description=DATA_THROUGH)
    newest_commitment_start: datetime | None = None
    stale: bool = Field(default=False, description=STALE)
    warnings: list[str] = Field(default=[], description="What makes the status stale.")
    definitions: dict[str, str]
    sources: list[StatusSource]
