"""The GCP provider against google-cloud-compute's real REST client, replaying recorded HTTP.

Each test's recorded exchanges live in ``tests/data/gcp/<test name>/``; the
client is the SDK's own, with only its HTTP session's transport adapter
replaced, so request encoding, pagination, error mapping and retries all run.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials
from replay import Recording, ReplayAdapter

from core.catalog import catalog_from_dict, catalog_to_dict
from core.domain import Shape
from core.errors import ProviderError
from providers.base import (
    ActionNotSupported,
    CheckResult,
    ExchangeRequest,
    Market,
    OrderStatus,
    Provider,
    PurchaseRequest,
    ReturnRequest,
    is_irreversible,
)
from providers.gcp import GcpProvider, GcpSettings
from providers.gcp.catalog import build_catalog
from providers.gcp.clients import make_clients
from providers.gcp.market import commitment_name, request_id
from providers.gcp.pricing import load_prices

PROJECT = "ladder-demo-project"
KEY = "plan-7/action-1"
N2_VCPU_1Y = "gcp:cud:us-central1:n2:vcpu:1y"
SNAPSHOT = (Path(__file__).resolve().parents[4] / "shared" / "data" / "pricing" / "gcp-compute"
            / "gcp_compute_instance_prices_all.csv")


@pytest.fixture
def recording(request: pytest.FixtureRequest) -> Iterator[Recording]:
    """The recorded exchanges of the running test, checked to be all used at its end."""
    loaded = Recording.load("gcp", request.node.name)
    yield loaded
    loaded.assert_done()


@pytest.fixture
def provider(recording: Recording) -> GcpProvider:
    """A GCP provider on the SDK's real clients, answering from the test's recording."""
    settings = GcpSettings(project=PROJECT, regions=("us-central1", "europe-west4"),
                           retry_initial_s=0.0, retry_maximum_s=0.0, retry_timeout_s=5.0,
                           operation_timeout_s=5.0)
    clients = make_clients(credentials=AnonymousCredentials(), adapter=ReplayAdapter(recording))
    return GcpProvider(settings, clients=clients)


def buy(quantity: float = 8) -> PurchaseRequest:
    """The purchase of the tests: 8 vCPUs of N2 in us-central1 for a year."""
    return PurchaseRequest(idempotency_key=KEY, offering_id=N2_VCPU_1Y, quantity=quantity)


def test_names_derive_from_the_idempotency_key() -> None:
    assert request_id(KEY) == request_id(KEY) != request_id(KEY + "x")
    assert commitment_name(KEY) == "ladder-" + request_id(KEY).replace("-", "")
    assert len(commitment_name(KEY)) <= 63


def test_purchase_inserts_with_request_id_waits_and_reports_the_commitment(
    provider: GcpProvider, recording: Recording,
) -> None:
    result = provider.market().purchase(buy())
    assert result.status is OrderStatus.ACTIVE
    assert result.commitment_ids == (f"us-central1/{commitment_name(KEY)}",)
    (insert,) = recording.calls("POST", "/commitments")
    assert insert.query["requestId"] == request_id(KEY)
    assert insert.body["name"] == commitment_name(KEY)


def test_purchase_retries_throttling_with_the_same_request_id(
    provider: GcpProvider, recording: Recording, caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="ladder.providers.gcp"):
        result = provider.market().purchase(buy())
    assert result.status is OrderStatus.ACTIVE
    inserts = recording.calls("POST", "/commitments")
    assert len(inserts) == 3
    assert {i.query["requestId"] for i in inserts} == {request_id(KEY)}
    assert {i.body["name"] for i in inserts} == {commitment_name(KEY)}
    assert "retrying after TooManyRequests" in caplog.text
    assert "regionCommitments.insert ok" in caplog.text


def test_purchase_permanent_error_is_not_retried(provider: GcpProvider,
                                                 recording: Recording) -> None:
    with pytest.raises(ProviderError) as raised:
        provider.market().purchase(buy())
    assert raised.value.retryable is False
    assert raised.value.code == "forbidden"
    assert "compute.commitments.create" in str(raised.value)
    assert len(recording.calls("POST", "/commitments")) == 1


def test_purchase_quota_failure_in_operation_is_failed(provider: GcpProvider) -> None:
    result = provider.market().purchase(buy())
    assert result.status is OrderStatus.FAILED
    assert "QUOTA_EXCEEDED" in result.detail


def test_retry_after_unknown_outcome_does_not_buy_twice(provider: GcpProvider,
                                                        recording: Recording) -> None:
    market = provider.market()
    with pytest.raises(ProviderError) as raised:
        market.purchase(buy())
    assert raised.value.retryable is True
    assert raised.value.code == "UnknownOutcome"
    # The executor looks before it buys again: the first insert did reach GCP.
    assert market.find_order(KEY).status is OrderStatus.ACTIVE
    # Even a blind retry cannot buy twice: the name exists, GCP refuses, the first is reported.
    again = market.purchase(buy())
    assert again.status is OrderStatus.ACTIVE
    assert again.commitment_ids == (f"us-central1/{commitment_name(KEY)}",)
    inserts = recording.calls("POST", "/commitments")
    assert [i.body["name"] for i in inserts] == [commitment_name(KEY)] * 2
    assert [i.query["requestId"] for i in inserts] == [request_id(KEY)] * 2


def test_find_order_is_not_found_before_any_purchase(provider: GcpProvider) -> None:
    assert provider.market().find_order(KEY).status is OrderStatus.NOT_FOUND


def test_commitments_are_irreversible() -> None:
    market = GcpProvider(GcpSettings(project=PROJECT), clients=make_clients(
        credentials=AnonymousCredentials())).market()
    assert isinstance(market, Market)
    assert is_irreversible(market)
    with pytest.raises(ActionNotSupported) as raised:
        market.exchange(ExchangeRequest("k", ("c",), N2_VCPU_1Y, 1))
    assert raised.value.retryable is False and raised.value.code == "NotSupported"
    with pytest.raises(ActionNotSupported):
        market.quote_exchange(ExchangeRequest("k", ("c",), N2_VCPU_1Y, 1))
    with pytest.raises(ActionNotSupported):
        market.return_commitment(ReturnRequest("k", "us-central1/x"))


@pytest.mark.parametrize(("offering_id", "quantity"), [
    (N2_VCPU_1Y, 2.5), (N2_VCPU_1Y, 0), ("gcp:cud:us-central1:n2:memory:1y", 0.1),
    ("gcp:cud:us-central1:z9:vcpu:1y", 1), ("aws:ri:m5", 1),
])
def test_invalid_purchases_are_refused_before_any_call(offering_id: str, quantity: float) -> None:
    market = GcpProvider(GcpSettings(project=PROJECT), clients=make_clients(
        credentials=AnonymousCredentials(), adapter=ReplayAdapter(Recording("none", [])))).market()
    request = PurchaseRequest(KEY, offering_id, quantity)
    assert market.quote_purchase(request).valid is False
    with pytest.raises(ProviderError) as raised:
        market.purchase(request)
    assert raised.value.retryable is False


def test_quote_is_the_list_price_per_month_without_upfront() -> None:
    market = GcpProvider(GcpSettings(project=PROJECT), clients=make_clients(
        credentials=AnonymousCredentials())).market()
    quote = market.quote_purchase(buy(4))
    assert quote.valid and quote.upfront == 0
    assert quote.hourly == pytest.approx(4 * 0.019915, rel=1e-4)


def test_inventory_reads_every_page_and_region(provider: GcpProvider,
                                               recording: Recording) -> None:
    owned = provider.inventory(datetime(2026, 8, 10, tzinfo=UTC))
    by_id = {c.commitment_id: c for c in owned}
    assert sorted(by_id) == [
        "europe-west4/e2-3y:memory", "europe-west4/e2-3y:vcpu",
        "us-central1/n2-prod-1y:memory", "us-central1/n2-prod-1y:vcpu",
    ]  # expired, accelerator and local-SSD commitments left out
    assert by_id["us-central1/n2-prod-1y:vcpu"].quantity == 16
    assert by_id["us-central1/n2-prod-1y:memory"].quantity == 64  # 65,536 MB
    assert by_id["us-central1/n2-prod-1y:vcpu"].offering.offering_id == N2_VCPU_1Y
    e2 = by_id["europe-west4/e2-3y:vcpu"]
    assert e2.offering.term_hours == 26280
    assert e2.start == datetime(2026, 9, 1, 7, tzinfo=UTC)
    catalog = provider.catalog()
    assert e2.offering == catalog.offering("gcp:cud:europe-west4:e2:vcpu:3y")
    assert len(recording.sent) == 3  # throttled once, then two pages


def test_check_reports_credentials_reads_and_permissions(provider: GcpProvider) -> None:
    results = provider.check()
    assert all(isinstance(r, CheckResult) for r in results)
    ok = {r.name: r.ok for r in results}
    assert ok == {
        "credentials": True,
        "regionCommitments.aggregatedList": True,
        "compute.commitments.list": True,
        "compute.commitments.get": True,
        "compute.commitments.create": False,
        "compute.regionOperations.get": False,
    }
    assert "purchasing" in {r.name: r.detail for r in results}["compute.commitments.create"]


def test_catalog_is_a_valid_ladder_catalog() -> None:
    catalog = build_catalog(PROJECT, regions=["us-central1"])
    again = catalog_from_dict(catalog_to_dict(catalog))
    assert again.key_ids == catalog.key_ids
    assert {o.shape for o in catalog.offerings} == {Shape.UNIT}
    assert len(catalog.offerings) == 2 * len(catalog.keys)
    offering = catalog.offering(N2_VCPU_1Y)
    assert offering.covers == {f"gcp/{PROJECT}/compute/us-central1/n2.vcpu/linux/shared": 1.0}
    assert offering.upfront == 0 and offering.term_hours == 8760
    assert isinstance(GcpProvider(GcpSettings(project=PROJECT)), Provider)


def test_per_resource_prices_rebuild_the_machine_prices_of_the_snapshot() -> None:
    """n2-standard-4 in us-central1: 0.194236 $/h, 1y 89.33 and 3y 63.81 $/month (README)."""
    prices = {(p.series, p.region, p.resource): p for p in load_prices()}
    vcpu, memory = prices["n2", "us-central1", "vcpu"], prices["n2", "us-central1", "memory"]
    assert 4 * vcpu.on_demand_hourly + 16 * memory.on_demand_hourly == pytest.approx(0.194236)
    assert (4 * vcpu.cud_1y_hourly + 16 * memory.cud_1y_hourly) * 730 == pytest.approx(89.32572)
    assert (4 * vcpu.cud_3y_hourly + 16 * memory.cud_3y_hourly) * 730 == pytest.approx(63.81076)


@pytest.mark.skipif(not SNAPSHOT.is_file(), reason="shared price snapshot not found")
def test_bundled_prices_match_every_machine_type_of_the_snapshot() -> None:
    prices = {(p.series, p.region, p.resource): p for p in load_prices()}
    checked = 0
    with SNAPSHOT.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            series = row["machine_type"].split("-")[0]
            if (series, row["region"], "vcpu") not in prices or "lssd" in row["machine_type"] \
                    or row["machine_type"] in ("e2-micro", "e2-small", "e2-medium"):
                continue
            vcpu, memory = (prices[series, row["region"], r] for r in ("vcpu", "memory"))
            machine = float(row["vcpu"]) * vcpu.on_demand_hourly \
                + float(row["ram_gb"]) * memory.on_demand_hourly
            assert machine == pytest.approx(float(row["hour_ondemand"]), rel=1e-6), row
            checked += 1
    assert checked > 5000
