"""Buying Savings Plans: the commitment string, the client token, the tag that finds the order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from aws_factories import THREE_YEARS, Clock, market, recorded_id, sp_ref
from aws_replay import ClientsFor

from core.errors import ProviderError
from providers.aws.errors import AwsProviderError
from providers.aws.market import client_token, sp_commitment, tag_value
from providers.base import OrderStatus, PurchaseRequest

KEY = "plan-42/action-1"
NEW_SP = recorded_id("sp:new")
# $1.234567/h of a 1-year Partial Upfront Compute SP: AWS takes "1.23456" (5 decimals, down).
REQUEST = PurchaseRequest(KEY, "sp-compute-1y-pu", 1.234567, limit_upfront=5500.0)


def test_sp_purchase_success(aws_clients: ClientsFor) -> None:
    """Looks for the key's tag, creates the plan with clientToken and tag, reads its state."""
    result = market(aws_clients(), sp_ref()).purchase(REQUEST)
    assert result.status is OrderStatus.PENDING  # payment-pending
    assert result.commitment_ids == (NEW_SP,)


def test_sp_purchase_throttled_then_succeeds(aws_clients: ClientsFor,
                                             sleeps: list[float]) -> None:
    """ThrottlingException: sent again with the same clientToken after a backoff."""
    result = market(aws_clients(), sp_ref()).purchase(REQUEST)
    assert result.status is OrderStatus.ACTIVE and result.commitment_ids == (NEW_SP,)
    assert sleeps == [1.0]


def test_sp_purchase_permanent_error(aws_clients: ClientsFor) -> None:
    """A quota refusal is a non-retryable ProviderError with AWS's code."""
    with pytest.raises(ProviderError) as raised:
        market(aws_clients(), sp_ref()).purchase(REQUEST)
    assert raised.value.retryable is False
    assert raised.value.code == "ServiceQuotaExceededException"


def test_sp_purchase_retry_after_unknown_outcome_does_not_buy_twice(
    aws_clients: ClientsFor,
) -> None:
    """A 500 to CreateSavingsPlan; the retry finds the plan by its tag and buys nothing.

    A plan bought by hand with the same offering and commitment (untagged) is
    never taken for Ladder's: Savings Plans are matched by tag only.
    """
    aws = market(aws_clients(), sp_ref(), clock=Clock())
    with pytest.raises(AwsProviderError) as raised:
        aws.purchase(REQUEST)
    assert raised.value.outcome_unknown and raised.value.retryable
    assert raised.value.code == "InternalServerException"
    retried = aws.purchase(REQUEST)
    assert retried.status is OrderStatus.PENDING and retried.commitment_ids == (NEW_SP,)
    found = aws.find_order(KEY)
    assert found.status is OrderStatus.ACTIVE and found.commitment_ids == (NEW_SP,)


def test_sp_queued_purchase_sends_purchase_time(aws_clients: ClientsFor) -> None:
    """A start in the future queues the plan (purchaseTime); No Upfront sends no upfront."""
    ref = sp_ref("sp-ec2-3y-nu/us-east-1/m5", plan_type="EC2Instance", family="m5",
                 duration_s=THREE_YEARS, payment="No Upfront")
    request = PurchaseRequest(KEY, ref.offering_id, 0.75,
                              start=datetime(2024, 10, 1, tzinfo=UTC))
    result = market(aws_clients(), ref).purchase(request)
    assert result.status is OrderStatus.PENDING and "queued" in result.detail


def test_sp_quote_splits_upfront_and_hourly() -> None:
    """Partial upfront: a whole number of dollars, at least half of the total; the rest hourly."""
    from providers.aws import AwsClients, AwsSettings

    quote = market(AwsClients(AwsSettings()), sp_ref()).quote_purchase(REQUEST)
    assert quote.valid
    assert quote.upfront == 5408.0  # ceil(1.23456 × 8760 / 2)
    assert quote.upfront / 8760 + quote.hourly == pytest.approx(1.23456)


def test_sp_refuses_upfront_above_limit() -> None:
    """The upfront is known before the call: above the limit, nothing is sent."""
    from providers.aws import AwsClients, AwsSettings

    aws = market(AwsClients(AwsSettings()), sp_ref())
    with pytest.raises(AwsProviderError) as raised:
        aws._purchase_sp(PurchaseRequest(KEY, "sp-compute-1y-pu", 1.234567,
                                         limit_upfront=5000.0), sp_ref())
    assert raised.value.code == "PriceAboveLimit"


@pytest.mark.parametrize(("quantity", "text"), [
    (1.234567, "1.23456"), (4.0, "4"), (0.00001, "0.00001"), (2.5, "2.5"),
    (0.1 + 0.2, "0.3"), (123.456789, "123.45678"),
])
def test_commitment_is_a_string_with_at_most_five_decimals(quantity: float, text: str) -> None:
    """Rounded down, never in exponent form, never more than the plan approved."""
    assert sp_commitment(quantity) == text


def test_commitment_that_rounds_to_zero_is_refused() -> None:
    """Less than $0.00001/h cannot be bought."""
    with pytest.raises(AwsProviderError, match=r"whole number|rounds to zero"):
        sp_commitment(0.000004)


def test_client_token_and_tag_derive_from_the_key() -> None:
    """Same key, same token (AWS answers a repeat with the same plan); long keys are hashed."""
    assert client_token(KEY) == client_token(KEY) != client_token("plan-42/action-2")
    assert uuid.UUID(client_token(KEY)).version == 5
    assert tag_value(KEY) == KEY
    long_key = "x" * 300
    assert tag_value(long_key).startswith("sha256:") and len(tag_value(long_key)) <= 256
