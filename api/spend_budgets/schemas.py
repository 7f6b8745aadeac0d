"""Schemas of spend budgets: ``SpendBudgetCreate`` in; ``SpendBudgetRead``,
``SpendBudgetStatusRead`` out."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from api.budgets.schemas import TAG_RULE, Amount, Currency, Threshold, ThresholdRead
from api.params import Filter, JsonBody, ProviderFilter, ShortFilter
from reporting.spend import SpendBasis
from reporting.spend_budgets import MAX_THRESHOLDS
from reporting.spend_definitions import FINANCE_DEFINITIONS
from reporting.spend_forecast import ForecastHorizon


class SpendBudgetCreate(JsonBody):
    """A budget on the whole bill or the part of it its scope fields name."""

    name: ShortFilter = Field(description="Unique.")
    amount: Amount
    period: ForecastHorizon = Field(default=ForecastHorizon.MONTH, description="month, "
                                    "quarter or fiscal_year (LADDER_FISCAL_YEAR_START_MONTH).")
    basis: SpendBasis = Field(default=SpendBasis.AMORTIZED, description="cash: Σ BilledCost; "
                              "amortized: Σ EffectiveCost.")
    provider: ProviderFilter | None = None
    billing_account: Filter | None = None
    account: Filter | None = Field(default=None, description="A FOCUS SubAccountId.")
    service_category: ShortFilter | None = None
    service: Filter | None = Field(default=None, description="A FOCUS ServiceName.")
    region: ShortFilter | None = None
    charge_category: ShortFilter | None = None
    tag_key: ShortFilter | None = Field(default=None, description=TAG_RULE)
    tag_value: Filter | None = Field(default=None, description=TAG_RULE)
    thresholds: list[Threshold] = Field(default=[0.8, 1.0], max_length=MAX_THRESHOLDS,
                                        description="Alert shares of the amount (0.8 = 80 %).")
    currency: Currency = Field(default="USD", description="The currency of the budget's bill "
                               "(another is refused: no conversion rates are kept).")


class SpendBudgetRead(BaseModel):
    """A stored spend budget."""

    id: int
    name: str
    amount: float
    currency: str
    period: str
    basis: str
    thresholds: list[float]
    provider: str | None
    billing_account: str | None
    account: str | None
    service_category: str | None
    service: str | None
    region: str | None
    charge_category: str | None
    tag_key: str | None
    tag_value: str | None
    created_at: datetime
    updated_at: datetime


class SpendBudgetStatusRead(BaseModel):
    """Where a spend budget stands in the period containing as_of (money in cents)."""

    budget: SpendBudgetRead
    period: str | None
    period_start: date | None
    period_end: date | None
    as_of: date | None
    days_elapsed: int | None
    days_remaining: int | None
    actual: float | None = Field(description=FINANCE_DEFINITIONS["actual"])
    forecast: float | None = Field(description=FINANCE_DEFINITIONS["forecast"])
    forecast_low_80: float | None
    forecast_high_80: float | None
    forecast_low_95: float | None
    forecast_high_95: float | None
    variance: float | None = Field(description="forecast − amount: positive when the period "
                                   "is forecast over budget.")
    variance_ratio: float | None
    burn_rate: float | None = Field(description=FINANCE_DEFINITIONS["burn_rate"])
    required_daily_rate: float | None = Field(
        description=FINANCE_DEFINITIONS["required_daily_rate"])
    run_out_date: date | None = Field(description=FINANCE_DEFINITIONS["run_out_date"])
    thresholds: list[ThresholdRead]
    state: str = Field(description="over_budget, forecast_over, warning, ok, or unavailable "
                       "(problem says why).")
    currency: str
    problem: str | None
