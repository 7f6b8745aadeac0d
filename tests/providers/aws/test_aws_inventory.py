"""Owned RIs and Savings Plans as Ladder commitments, from recorded describe responses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from aws_factories import recorded_id
from aws_replay import ClientsFor, Replay, replay_session
from test_aws_catalog import C5_A, FOLDER, M5_A, M5_B, M5_WIN_B, USAGE_KEYS

from core.domain import Commitment, PaymentOption, Shape
from providers.aws import AwsClients, AwsProvider, AwsSettings
from providers.aws.catalog import AwsCatalog
from providers.aws.inventory import commitments, fetch_reserved_instances, fetch_savings_plans

AT = datetime(2024, 9, 2, tzinfo=UTC)
ACCOUNT = "111122223333"


@pytest.fixture(scope="module")
def built() -> Iterator[AwsCatalog]:
    """The catalog of test_catalog (its recording), for the Savings Plans' rates."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7LADDERX")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "fake")
        replay = Replay(FOLDER, replay_session())
        clients = AwsClients(AwsSettings(), session=replay.session,
                             client_factory=replay.factory)
        yield AwsProvider(clients=clients, usage_keys=USAGE_KEYS).aws_catalog()


def _by_id(owned: list[Commitment]) -> dict[str, Commitment]:
    return {c.commitment_id: c for c in owned}


def test_inventory_from_recorded_reserved_instances_and_savings_plans(
    aws_clients: ClientsFor, built: AwsCatalog
) -> None:
    """Six RIs and three plans: five RIs and all plans active at 09-02 or later."""
    clients = aws_clients()
    reserved = [("us-east-1", raw) for raw in fetch_reserved_instances(clients, "us-east-1")]
    plans = fetch_savings_plans(clients)  # two pages: a nextToken loop
    owned = _by_id(commitments(reserved, plans, AT, catalog=built.catalog,
                               factors=built.factors, account=ACCOUNT))
    assert recorded_id("ri:e") not in owned  # ended 2024-08-19
    assert len(owned) == 5 + 3

    standard = owned[recorded_id("ri:a")]  # 10 × m5.large, 3-year All Upfront
    assert standard.quantity == 40.0
    assert standard.offering.shape is Shape.UNIT
    assert standard.offering.upfront == pytest.approx(1012.0 / 4)
    assert standard.offering.term_hours == 26280
    assert standard.offering.payment_option is PaymentOption.ALL_UPFRONT
    assert dict(standard.offering.covers) == {M5_A: 1.0, M5_B: 1.0}
    assert standard.offering.offering_id == (
        f"ri-std-3y-au/us-east-1/m5/linux@{recorded_id('ri:a')}")
    assert standard.start == datetime(2022, 5, 1, 9, 12, 44, tzinfo=UTC)

    convertible = owned[recorded_id("ri:b")]  # 4 × c5.xlarge (factor 8 from its size)
    assert convertible.quantity == 32.0
    assert convertible.offering.hourly == pytest.approx(0.128 / 8)
    assert dict(convertible.offering.covers) == {C5_A: 1.0}
    assert convertible.offering.kind == "convertible_ri"

    zonal = owned[recorded_id("ri:c")]
    assert "zonal" in zonal.offering.description and zonal.quantity == 32.0

    windows = owned[recorded_id("ri:d")]
    assert dict(windows.offering.covers) == {M5_WIN_B: 1.0, f"aws/{ACCOUNT}/ec2/us-east-1/m5/"
                                             "windows/shared": 1.0}
    metal = owned[recorded_id("ri:f")]  # factor from the price list (192), not the size name
    assert metal.quantity == 192.0

    compute = owned[recorded_id("sp:compute")]
    assert compute.offering.shape is Shape.SPEND and compute.quantity == 5.0
    assert dict(compute.offering.rates) == dict(built.catalog.offering("sp-compute-1y-nu").rates)
    assert compute.offering.upfront_fraction == 0.0

    instance = owned[recorded_id("sp:ec2")]
    assert instance.offering.upfront_fraction == pytest.approx(0.5)
    assert set(instance.offering.rates) == {M5_A, M5_B, M5_WIN_B}

    queued = owned[recorded_id("sp:queued")]
    assert queued.start == datetime(2024, 10, 1, tzinfo=UTC)
    assert queued.offering.upfront_fraction == pytest.approx(1.0)
    assert list(owned) == sorted(owned, key=lambda i: (owned[i].start, i))


def test_commitments_without_a_catalog_still_cover_their_own_account() -> None:
    """An RI with no usage keys known covers the key of the account that owns it."""
    raw = {"ReservedInstancesId": "r-1", "InstanceType": "r5.2xlarge", "InstanceCount": 1,
           "Start": datetime(2024, 1, 1, tzinfo=UTC), "Duration": 31_536_000,
           "FixedPrice": 0.0, "UsagePrice": 0.0, "OfferingClass": "standard",
           "OfferingType": "No Upfront", "ProductDescription": "Linux/UNIX",
           "RecurringCharges": [{"Amount": 0.315, "Frequency": "Hourly"}], "State": "active"}
    (owned,) = commitments([("eu-west-1", raw)], [], AT, account=ACCOUNT)
    assert dict(owned.offering.covers) == {
        f"aws/{ACCOUNT}/ec2/eu-west-1/r5/linux/shared": 1.0}
    assert owned.quantity == 16.0


def test_provider_inventory_reads_every_region_of_the_usage(aws_clients: ClientsFor) -> None:
    """AwsProvider.inventory: catalog, RIs of the usage's regions, plans, the account id."""
    provider = AwsProvider(clients=aws_clients(), usage_keys=USAGE_KEYS)
    assert provider.regions() == ("us-east-1",)
    owned = _by_id(list(provider.inventory(datetime(2024, 9, 2))))  # naive: read as UTC
    assert set(owned) == {recorded_id("ri:a"), recorded_id("sp:compute")}
    ri = owned[recorded_id("ri:a")]
    assert dict(ri.offering.covers) == {M5_A: 1.0, M5_B: 1.0}
    sp = owned[recorded_id("sp:compute")]
    assert set(sp.offering.rates) == {C5_A, M5_A, M5_B, M5_WIN_B}
