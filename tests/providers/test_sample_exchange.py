"""The simulated account exchanges convertible reservations and takes Savings Plans back."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pytest

from core.domain import HOUR
from core.errors import ProviderError
from providers.base import ExchangeRequest, OrderStatus, PurchaseRequest, ReturnRequest
from providers.sample import SampleProvider
from providers.sample.market import (
    RETURN_WINDOW_HOURS,
    SAMPLE_ACCOUNT_NOW,
    FaultKind,
    SampleMarket,
)

C4 = "sample-ri-c4-2022-01"  # bundled: 192 units of ri-conv-3y-pu c4, until 2025-01-09
C4_OFFERING = "ri-conv-3y-pu/us-east-1/c4/linux"
C5_CONV = "ri-conv-3y-pu/us-east-1/c5/linux"
SP = "sp-compute-1y-pu"


@pytest.fixture
def provider(tmp_path: Path) -> SampleProvider:
    return SampleProvider(account_path=tmp_path / "sample-account.json")


def _owned(provider: SampleProvider) -> dict[str, tuple[str, float]]:
    return {c.commitment_id: (c.offering.offering_id, c.quantity)
            for c in provider.inventory(SAMPLE_ACCOUNT_NOW)}


def _parity(provider: SampleProvider, give: float) -> float:
    catalog = provider.catalog()
    return give * catalog.offering(C4_OFFERING).amortized_hourly / \
        catalog.offering(C5_CONV).amortized_hourly


def _exchange(key: str = "x-1", give: float | None = 64.0, receive: float = 80.0,
              target: str = C5_CONV, commitment: str = C4) -> ExchangeRequest:
    return ExchangeRequest(key, (commitment,), target, receive, give_quantity=give)


def test_an_exchange_replaces_the_units_given_up_by_the_target(
    provider: SampleProvider,
) -> None:
    market = provider.market()
    catalog = provider.catalog()
    receive = math.ceil(_parity(provider, 64.0))
    request = _exchange(receive=receive)
    quote = market.quote_exchange(request)
    c4 = next(c for c in provider.inventory(SAMPLE_ACCOUNT_NOW) if c.commitment_id == C4)
    hours_left = (c4.end - SAMPLE_ACCOUNT_NOW) / HOUR  # until 2025-01-09 00:00: 130 days
    assert hours_left == 3120
    true_up = (receive * catalog.offering(C5_CONV).amortized_hourly
               - 64 * catalog.offering(C4_OFFERING).amortized_hourly) * hours_left
    assert quote.valid and quote.upfront == pytest.approx(true_up) and quote.upfront > 0
    assert quote.hourly == pytest.approx(receive * catalog.offering(C5_CONV).hourly
                                         - 64 * catalog.offering(C4_OFFERING).hourly)

    result = market.exchange(request)

    assert result.status is OrderStatus.ACTIVE and len(result.commitment_ids) == 1
    new_id = result.commitment_ids[0]
    owned = _owned(provider)
    assert owned[C4] == (C4_OFFERING, 128.0)
    assert owned[new_id] == (C5_CONV, float(receive))
    assert market.find_order("x-1") == result
    [order] = market.orders()
    assert order["kind"] == "exchange" and order["given"] == {C4: 64.0}


def test_an_exchange_with_the_same_key_is_not_made_twice(provider: SampleProvider) -> None:
    market = provider.market()
    first = market.exchange(_exchange())
    again = market.exchange(_exchange())
    assert again == first
    assert _owned(provider)[C4] == (C4_OFFERING, 128.0)
    assert len(market.orders()) == 1
    assert [c["outcome"] for c in market.calls() if c["op"] == "exchange"] == [
        "active", "duplicate"]


def test_giving_up_everything_removes_the_commitment(provider: SampleProvider) -> None:
    market = provider.market()
    receive = math.ceil(_parity(provider, 192.0))
    market.exchange(_exchange(give=None, receive=receive))
    owned = _owned(provider)
    assert C4 not in owned
    assert sorted(owned.values()).count((C5_CONV, float(receive))) == 1


@pytest.mark.parametrize(("request_", "words"), [
    (_exchange(target="ri-std-3y-pu/us-east-1/c5/linux"), "not a convertible reservation"),
    (_exchange(receive=79.0), "the new must be worth at least the old"),
    (_exchange(give=200.0, receive=300.0), "cannot give up 200 units"),
    (_exchange(commitment="sample-ri-r4-2023-10", target="ri-conv-1y-nu/us-east-1/r4/linux"),
     "is not convertible"),
    (_exchange(commitment="no-such"), "not owned"),
    (_exchange(commitment="sample-ri-m4-2021-08", target="ri-conv-3y-pu/us-east-1/m4/linux"),
     "is not active"),  # expired on 2024-08-15
    (_exchange(target="no-such-offering"), "unknown offering"),
    (_exchange(receive=0.0), "must be > 0"),
])
def test_an_invalid_exchange_is_quoted_invalid_and_refused(
    provider: SampleProvider, request_: ExchangeRequest, words: str
) -> None:
    market = provider.market()
    market.orders()  # the account file exists: the rules read the orders
    quote = market.quote_exchange(request_)
    assert not quote.valid and words in quote.detail
    with pytest.raises(ProviderError, match=words) as raised:
        market.exchange(request_)
    assert raised.value.code == "InvalidExchange" and not raised.value.retryable
    assert market.orders() == [] and market.find_order("x-1").status is OrderStatus.NOT_FOUND
    assert _owned(provider)[C4] == (C4_OFFERING, 192.0)


def test_an_exchange_stays_in_its_region(tmp_path: Path) -> None:
    from dataclasses import replace

    provider = SampleProvider(account_path=tmp_path / "a.json")
    catalog = provider.catalog()
    moved = replace(catalog.offering(C5_CONV), offering_id="ri-conv-3y-pu/eu-west-1/c5/linux",
                    covers={"aws/1/ec2/eu-west-1/c5/linux/shared": 1.0})
    market = SampleMarket(replace(catalog, offerings=(*catalog.offerings, moved)),
                          tmp_path / "a.json", inventory=provider.market().inventory)
    quote = market.quote_exchange(_exchange(target=moved.offering_id))
    assert not quote.valid and "stays in its region" in quote.detail


@pytest.mark.parametrize(("kind", "placed"), [(FaultKind.TIMEOUT_BEFORE, False),
                                              (FaultKind.TIMEOUT_AFTER, True),
                                              (FaultKind.THROTTLE, False)])
def test_faults_hit_exchanges_as_they_hit_purchases(
    provider: SampleProvider, kind: FaultKind, placed: bool
) -> None:
    market = provider.market()
    market.inject(kind, on="exchange")
    with pytest.raises(ProviderError) as raised:
        market.exchange(_exchange())
    assert raised.value.retryable
    assert (market.find_order("x-1").status is OrderStatus.ACTIVE) is placed
    assert _owned(provider)[C4][1] == (128.0 if placed else 192.0)


def test_faults_hit_exchange_quotes_and_returns(provider: SampleProvider) -> None:
    market = provider.market()
    market.inject(FaultKind.ERROR, on="quote_exchange")
    with pytest.raises(ProviderError):
        market.quote_exchange(_exchange())
    assert market.quote_exchange(_exchange()).valid  # used up
    market.purchase(PurchaseRequest("buy", SP, 2.0))
    bought = market.find_order("buy").commitment_ids[0]
    market.inject(FaultKind.TIMEOUT_AFTER, on="return_commitment")
    with pytest.raises(ProviderError, match="timed out"):
        market.return_commitment(ReturnRequest("r-1", bought))
    assert market.find_order("r-1").status is OrderStatus.ACTIVE
    assert bought not in _owned(provider)


def test_a_savings_plan_is_returned_within_its_window_with_its_upfront_refunded(
    provider: SampleProvider,
) -> None:
    market = provider.market()
    bought = market.purchase(PurchaseRequest("buy", SP, 2.0)).commitment_ids[0]
    assert bought in _owned(provider)

    result = market.return_commitment(ReturnRequest("r-1", bought))

    assert result.status is OrderStatus.ACTIVE and result.commitment_ids == ()
    assert bought not in _owned(provider) and market.commitments() == ()
    order = market.orders()[-1]
    assert order["kind"] == "return" and order["refund"] == pytest.approx(2.0 * 4380.0)
    assert market.find_order("r-1") == result
    # The same key again answers the same, and nothing else changes.
    assert market.return_commitment(ReturnRequest("r-1", bought)) == result
    assert len(market.orders()) == 2
    with pytest.raises(ProviderError, match="not owned") as raised:
        market.return_commitment(ReturnRequest("r-2", bought))
    assert raised.value.code == "NotReturnable"


def test_returns_outside_the_window_or_of_reservations_are_refused(
    provider: SampleProvider,
) -> None:
    market = provider.market()
    bought = market.purchase(PurchaseRequest("buy", SP, 2.0)).commitment_ids[0]
    later = SampleMarket(market.catalog, market.path, inventory=market.inventory,
                         clock=lambda: SAMPLE_ACCOUNT_NOW + timedelta(hours=RETURN_WINDOW_HOURS))
    with pytest.raises(ProviderError, match="could be returned until") as raised:
        later.return_commitment(ReturnRequest("r-late", bought))
    assert raised.value.code == "ReturnWindowClosed"
    # The bundled Savings Plan started in March: its window closed long ago.
    with pytest.raises(ProviderError, match="could be returned until"):
        market.return_commitment(ReturnRequest("r-old", "sample-sp-compute-2024-03"))
    with pytest.raises(ProviderError, match="only Savings Plans can be returned"):
        market.return_commitment(ReturnRequest("r-ri", C4))
    assert [o.get("kind", "purchase") for o in market.orders()] == ["purchase"]
    assert bought in _owned(provider)
