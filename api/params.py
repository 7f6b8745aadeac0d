"""Validated request parameters shared by the routes: pagination, periods, names and texts.

Every bound is explicit so that a bad parameter is a 422 problem document, never
a database error: limits and offsets are bounded, a period's start comes before
its end, and strings that a database cannot store (NUL, lone surrogates) are
refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Generic, Self, TypeVar

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    StringConstraints,
    ValidationInfo,
    create_model,
    model_validator,
)

from core.domain import NAME_PATTERN, PROVIDER_NAME_MAX, SCOPE_NAME_MAX

MAX_LIMIT = 500
MAX_OFFSET = 1_000_000
DEFAULT_LIMIT = 50

T = TypeVar("T")


def _storable(value: str) -> str:
    """Refuse what SQLite or PostgreSQL cannot store: NUL and text that is not UTF-8."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode text") from exc
    return value


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: object) -> object:
    """Only ``YYYY-MM-DD`` for a date (pydantic would read ``0`` as 1970-01-01)."""
    if isinstance(value, str):
        if not _ISO_DATE.match(value):
            raise ValueError("must be an ISO date, YYYY-MM-DD")
        return date.fromisoformat(value)
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
"""A calendar day written ``YYYY-MM-DD``."""

FILTER_PATTERN = r"^[^\s\x00-\x1f\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$"

# Lengths are those of the columns the values are stored in (providers 64, scopes,
# accounts and tag keys 128), so that no value that passes can fail a database write.

Name = Annotated[str, StringConstraints(min_length=1, max_length=SCOPE_NAME_MAX,
                                        pattern=NAME_PATTERN)]
"""A scope or similar identifier: letters, digits and ``. _ : @ -``, up to 128."""

ProviderName = Annotated[str, StringConstraints(min_length=1, max_length=PROVIDER_NAME_MAX,
                                                pattern=NAME_PATTERN)]
"""A provider's name (``aws``, ``sample``), as ``Name`` but up to 64."""

Label = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$"),
    AfterValidator(_storable),
]
"""A person's or a key's name: 1 to 128 characters, no control characters."""

Filter = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=FILTER_PATTERN),
                   AfterValidator(_storable)]
"""A value to filter on (a service, a usage key, a tag's value): no surrounding spaces or
control characters, up to 256."""

ShortFilter = Annotated[str, StringConstraints(min_length=1, max_length=128,
                                               pattern=FILTER_PATTERN),
                        AfterValidator(_storable)]
"""As ``Filter``, up to 128 (an account, a tag's key, a budget's name)."""

ProviderFilter = Annotated[str, StringConstraints(min_length=1, max_length=64,
                                                  pattern=FILTER_PATTERN),
                           AfterValidator(_storable)]
"""As ``Filter``, up to 64 (a provider)."""

Text = Annotated[str, StringConstraints(max_length=2000, pattern=r"^[^\x00]*$"),
                 AfterValidator(_storable)]
"""Free text (a reason, a note), at most 2000 characters."""


_STRICT_TWINS: dict[type[BaseModel], type[BaseModel]] = {}


def _strict_twin(model: type[BaseModel]) -> type[BaseModel]:
    """The same fields without ``JsonBody``'s validator, to validate JSON strictly.

    Strictness must reach nested models as JSON: below a wrap validator pydantic
    hands on Python values, where a strict tuple refuses a list.
    """
    twin = _STRICT_TWINS.get(model)
    if twin is None:
        fields: dict[str, Any] = {name: (field.annotation, field)
                                  for name, field in model.model_fields.items()}
        twin = create_model(model.__name__, __config__=ConfigDict(extra="forbid"), **fields)
        _STRICT_TWINS[model] = twin
    return twin


class JsonBody(BaseModel):
    """Base of every request body: validated as strict JSON, unknown fields refused.

    FastAPI validates a parsed body in pydantic's lax Python mode, where ``"1"``
    or ``true`` pass for the number 1; a body is validated here as the JSON it
    was, strictly, so that what the OpenAPI document says is what is accepted.
    """

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="wrap")
    @classmethod
    def _strict_json(
        cls, value: Any, handler: ModelWrapValidatorHandler[Self], info: ValidationInfo
    ) -> Self:
        if info.mode != "python" or not isinstance(value, dict):
            return handler(value)
        try:
            text = json.dumps(value, allow_nan=False)
        except ValueError as exc:
            raise ValueError("numbers must be finite (no NaN or Infinity)") from exc
        except TypeError:  # not JSON: a body built in Python, validated as such
            return handler(value)
        strict = _strict_twin(cls).model_validate_json(text, strict=True)
        return handler({name: getattr(strict, name) for name in strict.model_fields_set})


async def single_valued_query(request: Request) -> None:
    """Refuse a query parameter given twice: every parameter of the API takes one value."""
    seen: set[str] = set()
    for name, _value in request.query_params.multi_items():
        if name in seen:
            raise invalid("query", name, "given more than once; it takes one value")
        seen.add(name)


class Page(BaseModel, Generic[T]):
    """One page of a list: its items, how many there are in all, and where the page starts."""

    items: list[T]
    total: int = Field(ge=0, description="How many items match, over all pages.")
    limit: int = Field(ge=1, le=MAX_LIMIT)
    offset: int = Field(ge=0)


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Which page a list request asks for."""

    limit: int
    offset: int

    def page(self, items: Sequence[T], total: int) -> Page[T]:
        """The page of ``items`` out of ``total``."""
        return Page[T](items=list(items), total=total, limit=self.limit, offset=self.offset)

    def slice(self, items: Sequence[T]) -> Page[T]:
        """The page of ``items``, a whole list held in memory."""
        return self.page(items[self.offset:self.offset + self.limit], len(items))


async def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")] = 0,
) -> PageRequest:
    """The page asked for (``limit``, ``offset``)."""
    return PageRequest(limit=limit, offset=offset)


PageDep = Annotated[PageRequest, Depends(page_request)]


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open period of days, ``[start, end)``; either side may be open."""

    start: date | None
    end: date | None

    @property
    def start_at(self) -> datetime | None:
        """The first instant of the period (UTC midnight of ``start``)."""
        return None if self.start is None else datetime.combine(self.start, time(), UTC)

    @property
    def end_at(self) -> datetime | None:
        """The first instant after the period (UTC midnight of ``end``)."""
        return None if self.end is None else datetime.combine(self.end, time(), UTC)


def invalid(
    location: str, field: str, message: str, value: object = None
) -> RequestValidationError:
    """A request validation error on one field, rendered as a 422 problem document."""
    return RequestValidationError(
        [{"type": "value_error", "loc": (location, field), "msg": message, "input": value}]
    )


async def period(
    start: Annotated[
        IsoDate | None, Query(description="First day of the period (ISO date, UTC), inclusive.")
    ] = None,
    end: Annotated[
        IsoDate | None, Query(description="Day after the period (ISO date, UTC), exclusive; "
                              "after start.")
    ] = None,
) -> Period:
    """The period asked for; ``start`` must come before ``end``."""
    if start is not None and end is not None and start >= end:
        raise invalid("query", "end", f"end ({end}) must come after start ({start})", str(end))
    return Period(start=start, end=end)


PeriodDep = Annotated[Period, Depends(period)]
