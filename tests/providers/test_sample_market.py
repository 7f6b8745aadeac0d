"""The sample provider's simulated account: orders shared by processes, and injected faults."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from core.errors import ProviderError
from providers.base import Market, OrderStatus, PurchaseRequest
from providers.sample import SampleProvider
from providers.sample.market import SAMPLE_ACCOUNT_NOW, FaultKind, SampleMarket

OFFERING = "sp-compute-1y-nu"


@pytest.fixture
def provider(tmp_path: Path) -> SampleProvider:
    return SampleProvider(account_path=tmp_path / "sample-account.json")


def _buy(market: SampleMarket, key: str, quantity: float = 1.5) -> None:
    market.purchase(PurchaseRequest(key, OFFERING, quantity))


def test_the_account_is_a_market(provider: SampleProvider) -> None:
    assert isinstance(provider.market(), Market)


def test_a_purchase_becomes_part_of_the_inventory(provider: SampleProvider) -> None:
    before = provider.inventory(SAMPLE_ACCOUNT_NOW)
    result = provider.market().purchase(PurchaseRequest("k-1", OFFERING, 2.5))

    assert result.status is OrderStatus.ACTIVE and result.commitment_ids == ("sample-000001",)
    after = provider.inventory(SAMPLE_ACCOUNT_NOW)
    bought = [c for c in after if c.commitment_id == "sample-000001"]
    assert len(after) == len(before) + 1 and len(bought) == 1
    assert bought[0].quantity == 2.5 and bought[0].start == SAMPLE_ACCOUNT_NOW
    assert bought[0].is_active(SAMPLE_ACCOUNT_NOW)


def test_find_order_tells_placed_from_never_seen(provider: SampleProvider) -> None:
    market = provider.market()
    assert market.find_order("k-1").status is OrderStatus.NOT_FOUND
    _buy(market, "k-1")
    found = market.find_order("k-1")
    assert found.status is OrderStatus.ACTIVE and found.commitment_ids == ("sample-000001",)


def test_the_account_does_not_deduplicate_a_repeated_key(provider: SampleProvider) -> None:
    market = provider.market()
    _buy(market, "k-1")
    _buy(market, "k-1")
    assert [o["idempotency_key"] for o in market.orders()] == ["k-1", "k-1"]


def test_quotes_and_the_upfront_limit(provider: SampleProvider) -> None:
    market = provider.market()
    offering = provider.catalog().offering("ri-std-1y-au/us-east-1/m4/linux")
    quote = market.quote_purchase(PurchaseRequest("q", offering.offering_id, 2.0))
    assert quote.valid and quote.upfront == pytest.approx(2 * offering.upfront)
    assert not market.quote_purchase(PurchaseRequest("q", "no-such", 1.0)).valid
    refused = market.purchase(PurchaseRequest("k-2", offering.offering_id, 2.0,
                                              limit_upfront=offering.upfront))
    assert refused.status is OrderStatus.FAILED and "above the limit" in refused.detail
    assert provider.market().commitments() == ()


def test_concurrent_buyers_lose_no_order(provider: SampleProvider) -> None:
    market = provider.market()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda i: _buy(market, f"k-{i}"), range(40)))
    orders = market.orders()
    assert len(orders) == 40
    assert len({cid for o in orders for cid in o["commitment_ids"]}) == 40


def _run_buyer(path: Path, key: str) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent(f"""
        from pathlib import Path
        from providers.base import PurchaseRequest
        from providers.sample import SampleProvider
        market = SampleProvider(account_path=Path({str(path)!r})).market()
        market.purchase(PurchaseRequest({key!r}, {OFFERING!r}, 1.0))
        print("answered")
    """)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)


def test_other_processes_see_the_same_account(provider: SampleProvider) -> None:
    assert _run_buyer(provider.account_path, "from-another-process").returncode == 0
    assert provider.market().find_order("from-another-process").status is OrderStatus.ACTIVE


@pytest.mark.parametrize(("kind", "placed"), [(FaultKind.CRASH_BEFORE, False),
                                              (FaultKind.CRASH_AFTER, True)])
def test_a_crash_kills_the_process_at_the_injected_point_once(
    provider: SampleProvider, kind: FaultKind, placed: bool
) -> None:
    provider.market().inject(kind)
    crashed = _run_buyer(provider.account_path, "k-crash")
    assert crashed.returncode == -signal.SIGKILL and "answered" not in crashed.stdout
    found = provider.market().find_order("k-crash")
    assert (found.status is OrderStatus.ACTIVE) is placed
    again = _run_buyer(provider.account_path, "k-next")  # the fault was used up
    assert again.returncode == 0


@pytest.mark.parametrize(("kind", "placed", "code"), [
    (FaultKind.TIMEOUT_BEFORE, False, "RequestTimeout"),
    (FaultKind.TIMEOUT_AFTER, True, "RequestTimeout"),
    (FaultKind.THROTTLE, False, "Throttling"),
    (FaultKind.ERROR, False, "InvalidParameterValue"),
])
def test_failures_say_whether_to_retry_and_what_happened(
    provider: SampleProvider, kind: FaultKind, placed: bool, code: str
) -> None:
    market = provider.market()
    market.inject(kind, retry_after_s=0.5)
    with pytest.raises(ProviderError) as raised:
        _buy(market, "k-1")
    assert raised.value.code == code
    assert raised.value.retryable is (kind is not FaultKind.ERROR)
    if kind is FaultKind.THROTTLE:
        assert raised.value.retry_after_s == 0.5
    assert (market.find_order("k-1").status is OrderStatus.ACTIVE) is placed
    _buy(market, "k-2")  # used up


def test_faults_can_hit_lookups_too(provider: SampleProvider) -> None:
    market = provider.market()
    market.inject(FaultKind.THROTTLE, on="find_order", times=2)
    for _ in range(2):
        with pytest.raises(ProviderError, match="Rate exceeded"):
            market.find_order("k")
    assert market.find_order("k").status is OrderStatus.NOT_FOUND
    with pytest.raises(ValueError, match="faults can be injected into"):
        market.inject(FaultKind.ERROR, on="cancel")
