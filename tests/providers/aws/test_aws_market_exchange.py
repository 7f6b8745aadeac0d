"""Exchanging convertible RIs: only on a valid quote, and never twice."""

from __future__ import annotations

import pytest
from aws_factories import THREE_YEARS, Clock, market, recorded_id, ri_ref
from aws_replay import ClientsFor

from core.errors import ProviderError
from providers.aws.errors import AwsProviderError
from providers.base import ExchangeRequest, OrderStatus

KEY = "plan-43/action-3"
SOURCES = (recorded_id("ri:conv-c5-1"), recorded_id("ri:conv-c5-2"))
TARGET = ri_ref("ri-conv-3y-nu/us-east-1/m5/linux", offering_class="convertible",
                duration_s=THREE_YEARS, payment="No Upfront", fixed_price=0.0,
                hourly_price=0.050)
# 48 normalised units of m5 = 12 × m5.large.
REQUEST = ExchangeRequest(KEY, SOURCES, TARGET.offering_id, 48.0)


def test_exchange_success(aws_clients: ClientsFor) -> None:
    """Quote valid → sources tagged with the key → quote accepted once."""
    result = market(aws_clients(), TARGET).exchange(REQUEST)
    assert result.status is OrderStatus.ACTIVE
    assert "riex-0f4e8a2c1b9d7e6a5" in result.detail


def test_exchange_throttled_then_succeeds(aws_clients: ClientsFor, sleeps: list[float]) -> None:
    """RequestLimitExceeded on the accept: AWS did nothing, the accept is sent again."""
    result = market(aws_clients(), TARGET).exchange(REQUEST)
    assert result.status is OrderStatus.ACTIVE
    assert sleeps == [1.0]


def test_exchange_refused_when_the_quote_is_not_valid(aws_clients: ClientsFor) -> None:
    """IsValidExchange false: no tag, no accept; AWS's reason is in the error."""
    with pytest.raises(AwsProviderError) as raised:
        market(aws_clients(), TARGET).exchange(REQUEST)
    assert raised.value.code == "InvalidExchange" and not raised.value.retryable
    assert "lower than the value" in str(raised.value)


def test_exchange_permanent_error(aws_clients: ClientsFor) -> None:
    """A refused accept is a non-retryable ProviderError with AWS's code."""
    with pytest.raises(ProviderError) as raised:
        market(aws_clients(), TARGET).exchange(REQUEST)
    assert raised.value.retryable is False
    assert raised.value.code == "InvalidReservedInstancesId"


def test_exchange_retry_after_unknown_outcome_does_not_exchange_twice(
    aws_clients: ClientsFor,
) -> None:
    """A 500 to the accept; the retry sees the tagged sources retired and accepts nothing."""
    aws = market(aws_clients(), TARGET, clock=Clock())
    with pytest.raises(AwsProviderError) as raised:
        aws.exchange(REQUEST)
    assert raised.value.outcome_unknown and raised.value.code == "InternalError"
    retried = aws.exchange(REQUEST)
    assert retried.status is OrderStatus.ACTIVE and "retired" in retried.detail


def test_exchange_quote_says_whether_aws_allows_it(aws_clients: ClientsFor) -> None:
    """quote_exchange reports IsValidExchange, the payment due and the new hourly price."""
    quote = market(aws_clients(), TARGET).quote_exchange(REQUEST)
    assert quote.valid and quote.upfront == 0.0 and quote.hourly == pytest.approx(0.6)
    assert quote.detail == "2 RIs for 12 × m5.large"
