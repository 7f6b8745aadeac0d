"""The AWS catalog, built from recorded price-list, RI-offering and Savings Plans rate responses.

The recording (``tests/data/aws/test_catalog_from_recorded_responses``) answers
five ``pricing.get_products`` pages (c5, m5 over two pages, m5 Windows, and an
unknown family with no product), three ``describe_reserved_instances_offerings``
pages (c5.large, m5.large over two pages) and two pages of
``describe_savings_plans_offering_rates`` (a ``nextToken`` loop): every request
is checked against the recorded one, every response against the service model.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from aws_replay import Replay, replay_session

from core.catalog import catalog_from_dict, catalog_to_dict
from core.domain import PaymentOption, Shape
from providers.aws import AwsClients, AwsProvider, AwsSettings
from providers.aws.catalog import AwsCatalog, RiRef, SpRef, build_catalog
from providers.aws.pricing import parse_price_list_item

A, B = "111122223333", "444455556666"
M5_A = f"aws/{A}/ec2/us-east-1/m5/linux/shared"
M5_B = f"aws/{B}/ec2/us-east-1/m5/linux/shared"
C5_A = f"aws/{A}/ec2/us-east-1/c5/linux/shared"
M5_WIN_B = f"aws/{B}/ec2/us-east-1/m5/windows/shared"
UNKNOWN = f"aws/{A}/ec2/us-east-1/x9z/linux/shared"
USAGE_KEYS = (M5_A, M5_B, C5_A, M5_WIN_B, UNKNOWN, "azure/sub/vm/westeurope/dsv5/linux/shared")
FOLDER = "test_catalog_from_recorded_responses"


@pytest.fixture(scope="module")
def built() -> Iterator[AwsCatalog]:
    """The catalog built once from the recording (every recorded call must be made)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7LADDERX")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "fake")
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        replay = Replay(FOLDER, replay_session())
        clients = AwsClients(AwsSettings(), session=replay.session,
                             client_factory=replay.factory, sleep=lambda _: None)
        provider = AwsProvider(clients=clients, usage_keys=USAGE_KEYS)
        result = provider.aws_catalog()
        replay.assert_all_played()
    yield result


def test_catalog_from_recorded_responses(built: AwsCatalog) -> None:
    """Keys priced per normalised unit from the smallest size; unknown keys left out."""
    catalog = built.catalog
    assert catalog.key_ids == (C5_A, M5_A, M5_B, M5_WIN_B)
    rates = catalog.on_demand_rates()
    assert rates[M5_A] == pytest.approx(0.096 / 4)
    assert rates[C5_A] == pytest.approx(0.085 / 4)
    assert rates[M5_WIN_B] == pytest.approx(0.188 / 4)
    assert built.skipped_keys == (UNKNOWN, "azure/sub/vm/westeurope/dsv5/linux/shared")
    assert built.factors["m5.metal"] == 192 and built.factors["c5.2xlarge"] == 16
    assert len(catalog.offerings) == 24 + 6 + 12
    assert catalog.currency == "USD"


def test_aws_catalog_is_a_valid_core_catalog(built: AwsCatalog) -> None:
    """The catalog survives the strict JSON reader of core.catalog unchanged."""
    again = catalog_from_dict(catalog_to_dict(built.catalog), source="aws")
    assert again.key_ids == built.catalog.key_ids
    assert [o.offering_id for o in again.offerings] == [
        o.offering_id for o in built.catalog.offerings]
    for before, after in zip(built.catalog.offerings, again.offerings, strict=True):
        assert after.amortized_hourly == pytest.approx(before.amortized_hourly)
        assert after.payment_option is before.payment_option


def test_reserved_instances_are_priced_per_normalised_unit(built: AwsCatalog) -> None:
    """m5.large (factor 4) Standard 1-year Partial: $259 and $0.030/h → per unit ÷ 4."""
    offering = built.catalog.offering("ri-std-1y-pu/us-east-1/m5/linux")
    assert offering.shape is Shape.UNIT
    assert offering.term_hours == 8760
    assert offering.upfront == pytest.approx(259.0 / 4)
    assert offering.hourly == pytest.approx(0.030 / 4)
    assert offering.payment_option is PaymentOption.PARTIAL_UPFRONT
    assert offering.kind == "standard_ri"
    # Regional, size-flexible: the family's keys in every account, Windows excluded.
    assert dict(offering.covers) == {M5_A: 1.0, M5_B: 1.0}
    ref = built.refs["ri-std-1y-pu/us-east-1/m5/linux"]
    assert isinstance(ref, RiRef)
    assert ref.offering.instance_type == "m5.large" and ref.normalization_factor == 4
    three_year = built.catalog.offering("ri-conv-3y-au/us-east-1/c5/linux")
    assert three_year.term_hours == 26280 and three_year.hourly == 0
    assert three_year.upfront == pytest.approx(1075.0 / 4)
    # No RI for Windows: Windows RIs are not size-flexible.
    assert not any(o.offering_id.endswith("/windows") for o in built.catalog.offerings)


def test_savings_plans_rates_cover_their_keys(built: AwsCatalog) -> None:
    """Compute SP over every key, EC2 Instance SP over its family; rates per unit."""
    compute = built.catalog.offering("sp-compute-1y-nu")
    assert compute.shape is Shape.SPEND
    assert dict(compute.rates) == pytest.approx({
        C5_A: 0.061 / 4, M5_A: 0.068 / 4, M5_B: 0.068 / 4, M5_WIN_B: 0.160 / 4})
    assert compute.upfront_fraction == 0
    ec2 = built.catalog.offering("sp-ec2-3y-pu/us-east-1/m5")
    assert set(ec2.rates) == {M5_A, M5_B, M5_WIN_B}
    assert ec2.rates[M5_A] == pytest.approx(0.039 / 4)
    assert ec2.upfront_fraction == pytest.approx(0.5)
    assert ec2.upfront / ec2.term_hours + ec2.hourly == pytest.approx(1.0)
    ref = built.refs["sp-ec2-3y-pu/us-east-1/m5"]
    assert isinstance(ref, SpRef) and ref.plan_type == "EC2Instance"
    assert ref.duration_s == 94_608_000


def test_offerings_apply_narrowest_and_deepest_first(built: AwsCatalog) -> None:
    """Order: Standard RIs, Convertible RIs, EC2 Instance SPs, Compute SPs; 3-year first."""
    orders = {o.offering_id: o.order for o in built.catalog.offerings}
    assert orders["ri-std-3y-au/us-east-1/m5/linux"] < orders["ri-std-1y-nu/us-east-1/m5/linux"]
    assert orders["ri-std-1y-nu/us-east-1/m5/linux"] < orders["ri-conv-3y-au/us-east-1/m5/linux"]
    assert orders["sp-ec2-1y-nu/us-east-1/m5"] < orders["sp-compute-3y-au"]
    assert list(built.catalog.offerings) == sorted(
        built.catalog.offerings, key=lambda o: (o.order, o.offering_id))


def test_aws_catalog_feeds_the_optimizer_unchanged(built: AwsCatalog) -> None:
    """The LP solves on the AWS catalog as built; steady usage makes it buy commitments."""
    from optimizer.lp import PurchaseProblem, optimize_purchases

    catalog = built.catalog
    hours = 48
    steady = {C5_A: 16.0, M5_A: 40.0, M5_B: 24.0, M5_WIN_B: 8.0}
    usage = np.array([[steady[k] for k in catalog.key_ids]] * hours)
    rates = np.array([catalog.on_demand_rates()[k] for k in catalog.key_ids])
    solution = optimize_purchases(PurchaseProblem(
        usage=usage, key_ids=catalog.key_ids, on_demand_rates=rates,
        candidates=catalog.offerings))
    assert solution.status == "Optimal"
    on_demand_cost = float((usage * rates).sum())
    assert solution.objective < on_demand_cost * 0.75
    bought = {k: q for k, q in solution.quantities.items() if q > 1e-6}
    assert bought and set(bought) <= {o.offering_id for o in catalog.offerings}


def test_price_list_items_are_json_strings() -> None:
    """A PriceList item is decoded from its JSON string; capacity blocks are ignored."""
    item = (
        '{"product": {"sku": "X", "attributes": {"instanceType": "m5.large", '
        '"regionCode": "us-east-1", "operation": "RunInstances", "tenancy": "Shared", '
        '"capacitystatus": "Used", "normalizationSizeFactor": "4", "marketoption": "OnDemand"}},'
        ' "terms": {"OnDemand": {"X.T": {"priceDimensions": {"X.T.D": {"unit": "Hrs", '
        '"pricePerUnit": {"USD": "0.0960000000"}}}}}}}'
    )
    parsed = parse_price_list_item(item)
    assert parsed is not None
    assert (parsed.platform, parsed.tenancy, parsed.normalization_factor,
            parsed.on_demand_hourly) == ("linux", "shared", 4.0, 0.096)
    assert parse_price_list_item(item.replace('"OnDemand"}}', '"CapacityBlock"}}')) is None
    assert parse_price_list_item(item.replace('"4"', '"NA"')).normalization_factor is None  # type: ignore[union-attr]


def test_build_catalog_without_prices_keeps_nothing() -> None:
    """No product for a key: the key is skipped, no offering is invented."""
    built = build_catalog([M5_A], [], [], [])
    assert built.catalog.keys == () and built.catalog.offerings == ()
    assert built.skipped_keys == (M5_A,)
