"""Schemas of business metrics: ``MetricsCreate`` in; ``MetricsStored``, ``MetricSeriesRead``
out."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from api.params import IsoDate, JsonBody, ShortFilter
from reporting.unit_cost import MAX_METRIC_VALUE, METRIC_SCOPE_PATTERN

MAX_POINTS = 10_000


def _unicode(value: str) -> str:
    """Refuse text a database cannot store (lone surrogates)."""
    value.encode("utf-8")
    return value


MetricScope = Annotated[str, StringConstraints(max_length=512, pattern=METRIC_SCOPE_PATTERN),
                        AfterValidator(_unicode)]


class MetricPointIn(JsonBody):
    """One value of a business metric on one UTC day, for the whole bill or a part of it."""

    date: IsoDate
    metric: ShortFilter = Field(description="The metric's name (requests, customers, GB…).")
    value: float = Field(ge=0, le=MAX_METRIC_VALUE, allow_inf_nan=False)
    scope: MetricScope = Field(default="", description="Empty (the whole bill), KEY=VALUE "
                               "(provider, billing_account, account, service_category, "
                               "service, region) or tag:KEY=VALUE.")


class MetricsCreate(JsonBody):
    """Values of business metrics: all stored, or none (a bad point refuses them all)."""

    points: list[MetricPointIn] = Field(min_length=1, max_length=MAX_POINTS)


class MetricsStored(BaseModel):
    """How many values were stored (a value already stored for its day is replaced)."""

    stored: int = Field(ge=0)


class MetricSeriesRead(BaseModel):
    """One stored metric for one scope."""

    metric: str
    scope: str
    points: int
    first_day: date
    last_day: date
    total: float
