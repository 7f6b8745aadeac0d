"""Returning Savings Plans: only while ``returnableUntil`` is in the future, and only once."""

from __future__ import annotations

import pytest
from aws_factories import Clock, market, recorded_id
from aws_replay import ClientsFor

from core.errors import ProviderError
from providers.aws.errors import AwsProviderError
from providers.base import OrderStatus, ReturnRequest

KEY = "plan-44/action-1"
PLAN = recorded_id("sp:recent")
REQUEST = ReturnRequest(KEY, PLAN)


def test_return_success(aws_clients: ClientsFor) -> None:
    """Returnable until 09-05, now 09-02: tagged with the key, returned, now pending-return."""
    result = market(aws_clients()).return_commitment(REQUEST)
    assert result.status is OrderStatus.PENDING and result.commitment_ids == (PLAN,)
    assert "pending-return" in result.detail


def test_return_throttled_then_succeeds(aws_clients: ClientsFor, sleeps: list[float]) -> None:
    """ThrottlingException on the return: sent again (same clientToken) after a backoff."""
    result = market(aws_clients()).return_commitment(REQUEST)
    assert result.status is OrderStatus.ACTIVE and "returned" in result.detail
    assert sleeps == [1.0]


def test_return_refused_once_returnable_until_has_passed(aws_clients: ClientsFor) -> None:
    """returnableUntil one second before now: refused without calling ReturnSavingsPlan."""
    with pytest.raises(AwsProviderError) as raised:
        market(aws_clients()).return_commitment(REQUEST)
    assert raised.value.code == "ReturnWindowClosed" and not raised.value.retryable


def test_return_permanent_error(aws_clients: ClientsFor) -> None:
    """AWS refuses the return: a non-retryable ProviderError with its code."""
    with pytest.raises(ProviderError) as raised:
        market(aws_clients()).return_commitment(REQUEST)
    assert raised.value.retryable is False and raised.value.code == "ValidationException"


def test_return_retry_after_unknown_outcome_does_not_return_twice(
    aws_clients: ClientsFor,
) -> None:
    """A 500 to the return; the retry sees pending-return and returns nothing again.

    ``find_order`` sees it too: with the request (by plan id) and with the key
    alone (by the ``ladder:return-key`` tag set before the call).
    """
    aws = market(aws_clients(), clock=Clock())
    with pytest.raises(AwsProviderError) as raised:
        aws.return_commitment(REQUEST)
    assert raised.value.retryable and raised.value.code == "InternalServerException"
    retried = aws.return_commitment(REQUEST)
    assert retried.status is OrderStatus.PENDING and retried.commitment_ids == (PLAN,)
    assert aws.find_order(KEY, request=REQUEST).status is OrderStatus.PENDING
    assert aws.find_order(KEY).status is OrderStatus.ACTIVE  # returned by then
