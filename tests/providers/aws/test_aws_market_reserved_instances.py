"""Buying Reserved Instances: success, throttling, a permanent error, and never buying twice.

``purchase_reserved_instances_offering`` has no idempotency token, so every test
also checks what the market looks at before it buys (RIs tagged with the key, then
untagged RIs matching the request in the time window).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aws_factories import Clock, market, recorded_id, ri_ref, sp_ref
from aws_replay import ClientsFor

from core.errors import ProviderError
from providers.aws import AwsClients, AwsSettings
from providers.aws.errors import AwsProviderError
from providers.aws.market import AwsMarket, instance_count
from providers.base import Market, OrderStatus, PurchaseRequest

KEY = "plan-42/action-1"
NEW_RI = recorded_id("ri:new")
# 32 normalised units of m5 = 8 × m5.large at $259 up front each.
REQUEST = PurchaseRequest(KEY, "ri-std-1y-pu/us-east-1/m5/linux", 32.0, limit_upfront=2072.0)


def test_ri_purchase_success(aws_clients: ClientsFor) -> None:
    """Looks first, buys 8 × m5.large with LimitPrice, tags the RI, reads its state back."""
    result = market(aws_clients(), ri_ref()).purchase(REQUEST)
    assert result.status is OrderStatus.PENDING  # payment-pending right after the purchase
    assert result.commitment_ids == (NEW_RI,)
    assert result.idempotency_key == KEY


def test_ri_purchase_throttled_then_succeeds(aws_clients: ClientsFor,
                                             sleeps: list[float]) -> None:
    """RequestLimitExceeded: AWS did nothing, so the purchase is sent again after a backoff."""
    result = market(aws_clients(), ri_ref()).purchase(REQUEST)
    assert result.status is OrderStatus.ACTIVE and result.commitment_ids == (NEW_RI,)
    assert sleeps == [1.0]


def test_ri_purchase_permanent_error(aws_clients: ClientsFor) -> None:
    """A refusal is a non-retryable ProviderError carrying AWS's code; nothing is looked up."""
    with pytest.raises(ProviderError) as raised:
        market(aws_clients(), ri_ref()).purchase(REQUEST)
    assert raised.value.retryable is False
    assert raised.value.code == "ReservedInstancesLimitExceeded"


def test_ri_purchase_retry_after_unknown_outcome_does_not_buy_twice(
    aws_clients: ClientsFor,
) -> None:
    """A 500 to the purchase: unknown outcome. The retry finds the untagged RI and claims it.

    The recording has exactly one PurchaseReservedInstancesOffering: a second one
    would fail the Stubber.
    """
    clock = Clock()
    aws = market(aws_clients(), ri_ref(), clock=clock)
    with pytest.raises(AwsProviderError) as raised:
        aws.purchase(REQUEST)
    assert raised.value.outcome_unknown and raised.value.retryable
    assert raised.value.code == "InternalError"
    clock.advance(minutes=5)
    retried = aws.purchase(REQUEST)
    assert retried.status is OrderStatus.PENDING and retried.commitment_ids == (NEW_RI,)
    assert "claimed" in retried.detail
    # Claimed means tagged: find_order with the key alone now sees it.
    found = aws.find_order(KEY)
    assert found.status is OrderStatus.ACTIVE and found.commitment_ids == (NEW_RI,)


def test_find_order_by_key_alone_sees_an_untagged_purchase_this_market_sent(
    aws_clients: ClientsFor,
) -> None:
    """The executor's reconciliation asks with the key only: the market remembers the request."""
    aws = market(aws_clients(), ri_ref(), clock=Clock())
    with pytest.raises(AwsProviderError) as raised:
        aws.purchase(REQUEST)
    assert raised.value.outcome_unknown and raised.value.code == "ServiceUnavailable"
    found = aws.find_order(KEY)
    assert found.status is OrderStatus.PENDING and found.commitment_ids == (NEW_RI,)


def test_two_untagged_matches_are_ambiguous(aws_clients: ClientsFor) -> None:
    """Two untagged RIs fit the rule: nothing is bought or claimed, a person decides."""
    with pytest.raises(AwsProviderError) as raised:
        market(aws_clients(), ri_ref()).purchase(REQUEST)
    assert raised.value.code == "AmbiguousOrder" and not raised.value.retryable
    assert NEW_RI in str(raised.value)


def test_ri_purchase_refuses_price_above_limit(aws_clients: ClientsFor) -> None:
    """The live price rose to $279 an instance: above the limit, nothing is bought."""
    with pytest.raises(AwsProviderError) as raised:
        market(aws_clients(), ri_ref()).purchase(REQUEST)
    assert raised.value.code == "PriceAboveLimit" and not raised.value.retryable


def test_ri_queued_purchase_sends_purchase_time(aws_clients: ClientsFor) -> None:
    """A start in the future is a queued purchase: PurchaseTime is sent, the RI is queued."""
    request = PurchaseRequest(KEY, REQUEST.offering_id, 32.0, limit_upfront=2072.0,
                              start=datetime(2024, 10, 1, tzinfo=UTC))
    result = market(aws_clients(), ri_ref()).purchase(request)
    assert result.status is OrderStatus.PENDING and result.detail == "queued"


def test_ri_offering_resolved_from_aws_when_not_in_the_catalog(aws_clients: ClientsFor) -> None:
    """Without the catalog's reference, the price list and RI offerings name what to buy."""
    aws = AwsMarket(aws_clients(), clock=Clock())
    quote = aws.quote_purchase(PurchaseRequest(KEY, REQUEST.offering_id, 32.0))
    assert quote.valid
    assert quote.upfront == pytest.approx(8 * 259.0)
    assert quote.hourly == pytest.approx(8 * 0.030)
    assert "8 × m5.large" in quote.detail


def test_quantities_must_be_whole_instances() -> None:
    """Normalised units are bought as whole reference-size instances, never rounded up."""
    assert instance_count(32.0, 4.0, "m5.large") == 8
    with pytest.raises(AwsProviderError, match=r"whole number|rounds to zero"):
        instance_count(30.0, 4.0, "m5.large")
    with pytest.raises(AwsProviderError, match=r"whole number|rounds to zero"):
        instance_count(0.0, 4.0, "m5.large")


def test_purchasable_quantity_rounds_down() -> None:
    """The executor rounds with the market: 30 units of m5 → 28 (7 × m5.large)."""
    aws = market(AwsClients(AwsSettings()), ri_ref(), sp_ref())
    assert aws.purchasable_quantity(REQUEST.offering_id, 30.0) == 28.0
    assert aws.purchasable_quantity("sp-compute-1y-pu", 1.2345678) == 1.23456


def test_aws_market_is_a_market() -> None:
    """The market satisfies the protocol of providers.base and is reversible within rules."""
    from providers.base import is_irreversible

    aws = market(AwsClients(AwsSettings()))
    assert isinstance(aws, Market)
    assert not is_irreversible(aws)
