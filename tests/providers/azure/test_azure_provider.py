"""The Azure provider against the real SDK clients, replaying recorded HTTP below azure-core.

Each test's recorded exchanges live in ``tests/data/azure/<test name>/``. The
clients are the SDK's own (azure-mgmt-reservations 3.x, azure-mgmt-billingbenefits
and an azure-core pipeline for the Retail Prices API) with azure-core's requests
transport on a session that replays them: serialisation, paging, long-running
operation polling, error mapping and the retry policy all run, and the waits
the policies ask for (``Retry-After``) are recorded instead of slept.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from replay import Recording, StaticToken, azure_transport

from core.catalog import catalog_from_dict, catalog_to_dict
from core.domain import Shape
from core.errors import PolicyViolation, ProviderError
from providers.azure import AzureProvider, AzureSettings
from providers.azure.clients import make_clients
from providers.azure.errors import RefundLimitExceeded
from providers.azure.journal import FileJournal, JournalEntry, MemoryJournal
from providers.azure.market import AzureMarket, display_name
from providers.base import (
    ExchangeRequest,
    Market,
    OrderStatus,
    Provider,
    PurchaseRequest,
    ReturnRequest,
    is_irreversible,
)

SUB = "9ec51cfd-5ca7-4d76-8101-dd0a4abc5674"
KEY = "plan-7/action-2"
OID = "a965d46f-aedf-4176-8ff1-2617943b8960"
RID = "f39d1c73-af74-4308-9083-fbf5efab37d1"
SOURCE = "4e2ffff7-b331-4fcb-ab11-b5fa49368188/7f3a5dc2-93b6-4e10-92a4-c01f1a2d6e1a"
D2S_V5_1Y = "azure:ri:eastus:Standard_D2s_v5:P1Y:upfront"
SETTINGS = AzureSettings(subscription_ids=(SUB,), regions=("eastus",),
                         groups=("Dsv5 Series", "DSv3 Series"), retry_total=2,
                         retry_backoff_factor=0.0, polling_interval_s=0.0, lro_timeout_s=30.0)


@dataclass
class Harness:
    """A provider on the SDK's real clients, its recording and its transport."""

    provider: AzureProvider
    recording: Recording
    transport: Any
    journal: MemoryJournal

    def market(self) -> AzureMarket:
        """The provider's market."""
        return self.provider.market()


@pytest.fixture
def azure(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """The running test's recording behind real Azure SDK clients; all of it must be used."""
    recording = Recording.load("azure", request.node.name)
    transport = azure_transport(recording)
    journal = MemoryJournal()
    clients = make_clients(SETTINGS, credential=StaticToken(), transport=transport)
    provider = AzureProvider(SETTINGS, clients=clients, journal=journal)
    yield Harness(provider, recording, transport, journal)
    recording.assert_done()


def buy() -> PurchaseRequest:
    """Two Standard_D2s_v5 reservations in eastus for a year, paid up front."""
    return PurchaseRequest(idempotency_key=KEY, offering_id=D2S_V5_1Y, quantity=2)


def exchange() -> ExchangeRequest:
    """Exchange one D2s_v3 reservation for two D2s_v5."""
    return ExchangeRequest(idempotency_key=KEY, commitment_ids=(SOURCE,),
                           target_offering_id=D2S_V5_1Y, quantity=2)


# -- purchase -----------------------------------------------------------------------------


def test_purchase_calculates_journals_the_order_and_buys(azure: Harness) -> None:
    result = azure.market().purchase(buy())
    assert result.status is OrderStatus.ACTIVE
    assert result.commitment_ids == (f"{OID}/{RID}",)
    assert azure.journal.get(KEY) == JournalEntry("reservation", OID)
    (put,) = azure.recording.calls("PUT")
    assert put.body["properties"]["billingScopeId"] == f"/subscriptions/{SUB}"
    assert put.body["properties"]["reservedResourceProperties"] == {"instanceFlexibility": "On"}
    assert "fake-token-for-tests" in put.headers["Authorization"]


def test_purchase_retries_throttling_and_honours_retry_after(
    azure: Harness, caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="ladder.providers.azure"):
        result = azure.market().purchase(buy())
    assert result.status is OrderStatus.ACTIVE
    assert 7.0 in azure.transport.slept  # the throttled calculate's Retry-After
    assert len(azure.recording.calls("POST", "/calculatePrice")) == 3  # 429 on POST retried
    assert {p.path for p in azure.recording.calls("PUT")} == {
        f"/providers/Microsoft.Capacity/reservationOrders/{OID}"}
    assert "-> 429" in caplog.text and "-> 503" in caplog.text
    assert "fake-token-for-tests" not in caplog.text


def test_purchase_permanent_error_is_not_retried(azure: Harness) -> None:
    with pytest.raises(ProviderError) as raised:
        azure.market().purchase(buy())
    assert raised.value.retryable is False
    assert raised.value.code == "InvalidReservationQuantity"
    assert azure.journal.get(KEY) is None  # nothing calculated, nothing to re-use


def test_retry_after_unknown_outcome_does_not_buy_twice(azure: Harness) -> None:
    market = azure.market()
    with pytest.raises(ProviderError) as raised:
        market.purchase(buy())
    assert raised.value.retryable is True and raised.value.code == "UnknownOutcome"
    again = market.purchase(buy())  # the same action, retried by the executor
    assert again.status is OrderStatus.ACTIVE
    assert again.commitment_ids == (f"{OID}/{RID}",)
    assert len(azure.recording.calls("POST", "/calculatePrice")) == 1  # no second order id
    assert {p.path for p in azure.recording.calls("PUT")} == {
        f"/providers/Microsoft.Capacity/reservationOrders/{OID}"}


def test_find_order_without_journal_finds_the_order_by_its_name(azure: Harness) -> None:
    found = azure.market().find_order(KEY)  # the journal is empty: lost with a crashed host
    assert found.status is OrderStatus.ACTIVE
    assert found.commitment_ids == (f"{OID}/{RID}",)


def test_find_order_is_not_found_when_nothing_was_bought(azure: Harness) -> None:
    assert azure.market().find_order(KEY).status is OrderStatus.NOT_FOUND


def test_invalid_purchases_are_refused_before_any_call() -> None:
    market = AzureMarket(SETTINGS, make_clients(SETTINGS, StaticToken(), azure_transport(
        Recording("none", []))), MemoryJournal())
    for offering_id, quantity in ((D2S_V5_1Y, 1.5), (D2S_V5_1Y, 0), ("gcp:cud:x", 1)):
        with pytest.raises(ProviderError) as raised:
            market.purchase(PurchaseRequest(KEY, offering_id, quantity))
        assert raised.value.retryable is False


# -- exchange -----------------------------------------------------------------------------


def test_exchange_calculates_then_exchanges_the_session(azure: Harness) -> None:
    result = azure.market().exchange(exchange())
    assert result.status is OrderStatus.ACTIVE
    assert result.commitment_ids == (
        "c0ffee00-1234-4a5b-9c8d-0e1f2a3b4c5d/d00dfeed-5678-4e9f-8a7b-6c5d4e3f2a1b",)
    (calculate,) = azure.recording.calls("POST", "/calculateExchange")
    purchase = calculate.body["properties"]["reservationsToPurchase"][0]
    assert purchase["sku"] == {"name": "Standard_D2s_v5"}
    assert purchase["properties"]["quantity"] == 2


def test_exchange_retries_throttled_posts(azure: Harness) -> None:
    assert azure.market().exchange(exchange()).status is OrderStatus.ACTIVE
    assert len(azure.recording.calls("POST", "/exchange")) == 2
    assert 2.0 in azure.transport.slept


def test_exchange_refused_by_policy_is_a_permanent_error(azure: Harness) -> None:
    with pytest.raises(ProviderError) as raised:
        azure.market().exchange(exchange())
    assert raised.value.retryable is False
    assert raised.value.code == "ExchangeRequiresSameOrHigherValue"
    assert not azure.recording.calls("POST", "/exchange")


def test_exchange_retry_after_unknown_outcome_does_not_exchange_twice(azure: Harness) -> None:
    market = azure.market()
    with pytest.raises(ProviderError) as raised:
        market.exchange(exchange())
    assert raised.value.code == "UnknownOutcome"
    again = market.exchange(exchange())  # the source reservation is gone: it happened
    assert again.status is OrderStatus.ACTIVE
    assert len(azure.recording.calls("POST", "/exchange")) == 1
    assert len(azure.recording.calls("POST", "/calculateExchange")) == 1


# -- return -------------------------------------------------------------------------------


def test_return_reports_the_remaining_refund_limit_and_returns(azure: Harness) -> None:
    result = azure.market().return_commitment(ReturnRequest(KEY, SOURCE))
    assert result.status is OrderStatus.ACTIVE
    assert result.commitment_ids == (SOURCE,)
    assert "37,318.50 of the 12-month limit left" in result.detail  # 50,000 − 12,000 − 681.5


def test_return_retries_throttling_and_transient_errors(azure: Harness) -> None:
    assert azure.market().return_commitment(ReturnRequest(KEY, SOURCE)).status \
        is OrderStatus.ACTIVE
    assert len(azure.recording.calls("POST", "/return")) == 2


def test_return_above_the_refund_limit_is_refused_before_returning(azure: Harness) -> None:
    with pytest.raises(RefundLimitExceeded) as raised:
        azure.market().return_commitment(ReturnRequest(KEY, SOURCE))
    error = raised.value
    assert isinstance(error, ProviderError) and isinstance(error, PolicyViolation)
    assert error.retryable is False and error.code == "RefundLimitExceeded"
    assert error.remaining == 500.0 and error.refund == 681.5
    assert "500.00 left" in str(error)
    assert not azure.recording.calls("POST", "/return")


def test_return_retry_after_unknown_outcome_does_not_return_twice(azure: Harness) -> None:
    market = azure.market()
    with pytest.raises(ProviderError) as raised:
        market.return_commitment(ReturnRequest(KEY, SOURCE))
    assert raised.value.code == "UnknownOutcome"
    assert market.return_commitment(ReturnRequest(KEY, SOURCE)).status is OrderStatus.ACTIVE
    assert len(azure.recording.calls("POST", "/return")) == 1


# -- catalog, inventory, check ------------------------------------------------------------


def test_catalog_from_recorded_retail_prices(azure: Harness) -> None:
    catalog = azure.provider.catalog()
    again = catalog_from_dict(catalog_to_dict(catalog))
    assert again.key_ids == catalog.key_ids
    key = f"azure/{SUB}/vm/eastus/dsv5-series/linux/shared"
    assert catalog.on_demand_rates() == {
        key: 0.096, f"azure/{SUB}/vm/eastus/dsv3-series/linux/shared": 0.096}
    ri = catalog.offering(D2S_V5_1Y)
    assert ri.shape is Shape.UNIT and ri.upfront == 496.0 and ri.covers == {key: 1.0}
    monthly = catalog.offering("azure:ri:eastus:Standard_D2s_v5:P3Y:monthly")
    assert monthly.hourly == pytest.approx(959.0 / 26280) and monthly.upfront == 0
    sp = catalog.offering("azure:sp:P1Y:monthly")
    assert sp.shape is Shape.SPEND and sp.rates[key] == 0.0672 and sp.order == 1
    assert len(catalog.offerings) == 2 * 2 * 2 + 2 * 2  # (RI: groups × terms × plans) + SP


def test_inventory_reads_reservations_orders_and_savings_plans(azure: Harness) -> None:
    owned = azure.provider.inventory(datetime(2026, 8, 10, tzinfo=UTC))
    by_id = {c.commitment_id: c for c in owned}
    assert set(by_id) == {SOURCE, f"{OID}/{RID}",
                          "/providers/Microsoft.BillingBenefits/savingsPlanOrders/"
                          "20000000-0000-0000-0000-000000000000/savingsPlans/"
                          "30000000-0000-0000-0000-000000000000"}  # the cancelled one left out
    single = by_id[SOURCE]  # single-scope: its own offering, priced from its order
    assert single.quantity == 3 and single.offering.upfront == pytest.approx(1476.9 / 3)
    assert single.offering.covers == {f"azure/{SUB}/vm/eastus/dsv3-series/linux/shared": 1.0}
    shared = by_id[f"{OID}/{RID}"]
    assert shared.offering == azure.provider.catalog().offering(D2S_V5_1Y)
    plan = next(c for c in owned if c.offering.shape is Shape.SPEND)
    assert plan.quantity == 2.5 and plan.offering.offering_id == "azure:sp:P1Y:monthly"


def test_check_reports_credentials_reads_and_permissions(azure: Harness) -> None:
    results = {r.name: r for r in azure.provider.check()}
    assert results["credentials"].ok
    assert results["reservationOrder.list"].ok
    assert not results["savingsPlan.listAll"].ok
    assert "403" in results["savingsPlan.listAll"].detail
    assert results["Microsoft.Capacity/reservationOrders/read"].ok
    assert results["Microsoft.Capacity/calculatePrice/action"].ok
    assert not results["Microsoft.Capacity/reservationOrders/write"].ok
    assert "purchasing" in results["Microsoft.Capacity/reservationOrders/write"].detail


def test_provider_and_market_satisfy_the_protocols() -> None:
    provider = AzureProvider(SETTINGS, clients=make_clients(SETTINGS, StaticToken()),
                             journal=MemoryJournal())
    assert isinstance(provider, Provider)
    market = provider.market()
    assert isinstance(market, Market) and not is_irreversible(market)


def test_file_journal_survives_a_new_process(tmp_path: Any) -> None:
    path = tmp_path / "orders.json"
    FileJournal(path).put(KEY, JournalEntry("reservation", OID))
    assert FileJournal(path).get(KEY) == JournalEntry("reservation", OID)
    assert FileJournal(path).get("other") is None
    assert display_name(KEY) == display_name(KEY) != display_name("other")
