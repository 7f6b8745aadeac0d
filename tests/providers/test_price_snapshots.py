"""The bundled price snapshots: built from the public data they name, chosen visibly.

The recomputations read ``../shared/data`` with pandas and skip cleanly without it; the
snapshots themselves ship in the package, so everything else runs on a clean checkout.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from botocore.config import Config
from botocore.session import Session as BotocoreSession

from core.errors import InvalidInput, ProviderError
from providers.aws import AwsClients, AwsProvider, AwsSettings
from providers.aws.snapshot import SNAPSHOT_DATE, SNAPSHOT_FILE, load_snapshot
from providers.azure import AzureProvider, AzureSettings
from providers.azure.snapshot import SNAPSHOT_FILE as AZURE_SNAPSHOT
from providers.azure.snapshot import derive, snapshot_date
from providers.gcp import GcpProvider, GcpSettings
from providers.gcp.pricing import load_prices
from providers.prices import PriceSource

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
AWS_TIDY = SHARED / "pricing" / "aws-ec2-ec2instances-info" / "aws_ec2_ondemand_and_ri_tidy.csv"
GCP_SNAPSHOT = SHARED / "pricing" / "gcp-compute" / "gcp_compute_instance_prices_all.csv"
TOOLKIT = SHARED / "billing" / "azure-finops-toolkit"
FOCUS_SAMPLE = SHARED / "billing" / "focus-sample" / "focus_sample.csv"
AWS_SAMPLE = REPO / "providers" / "sample" / "data" / "usage.parquet"
AZURE_SAMPLE = REPO / "providers" / "azure" / "data" / "sample_usage.parquet"
GCP_SAMPLE = REPO / "providers" / "gcp" / "data" / "sample_usage.parquet"

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is absent")


# -- the snapshots equal the public data they were built from ------------------------------


@needs_shared
def test_aws_snapshot_is_the_linux_rows_of_the_2017_grid_verbatim() -> None:
    shared = pd.read_csv(AWS_TIDY, dtype=str, keep_default_na=False)
    expected = shared[(shared["snapshot_date"] == "2017-11-12") & (shared["os"] == "linux")]
    bundled = pd.read_csv(SNAPSHOT_FILE, dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(bundled.reset_index(drop=True),
                                  expected.reset_index(drop=True))


@needs_shared
def test_aws_snapshot_catalog_rates_are_the_grid_prices_per_normalised_unit(
        no_cloud_credentials: None) -> None:
    """m4 in us-east-1: the reference size is m4.large (factor 4, the smallest m4 size)."""
    grid = pd.read_csv(AWS_TIDY)
    row = grid[(grid["snapshot_date"] == "2017-11-12") & (grid["os"] == "linux")
               & (grid["instance_type"] == "m4.large") & (grid["region"] == "us-east-1")].iloc[0]
    key = "aws/111111111111/ec2/us-east-1/m4/linux/shared"
    catalog = AwsProvider(AwsSettings(), usage_keys=[key]).catalog()
    assert catalog.on_demand_rates()[key] == pytest.approx(row["ondemand_hourly"] / 4)
    all_upfront = catalog.offering("ri-std-3y-au/us-east-1/m4/linux")
    assert all_upfront.upfront == pytest.approx(
        row["ri_yrTerm3Standard_allUpfront_effective_hourly"] * 26280 / 4)
    assert all_upfront.hourly == 0
    partial = catalog.offering("ri-conv-1y-pu/us-east-1/m4/linux")
    effective = row["ri_yrTerm1Convertible_partialUpfront_effective_hourly"]
    assert partial.upfront == pytest.approx(effective * 8760 / 2 / 4)
    assert partial.hourly == pytest.approx(effective / 2 / 4)
    # Derived Savings Plans: EC2 Instance = Standard RI, Compute = Convertible RI.
    ec2_sp = catalog.offering("sp-ec2-1y-nu/us-east-1/m4")
    assert ec2_sp.rates[key] == pytest.approx(
        row["ri_yrTerm1Standard_noUpfront_effective_hourly"] / 4)
    compute_sp = catalog.offering("sp-compute-3y-au")
    assert compute_sp.rates[key] == pytest.approx(
        row["ri_yrTerm3Convertible_allUpfront_effective_hourly"] / 4)


@needs_shared
def test_azure_snapshot_is_what_its_rules_derive_from_the_shared_billing_files() -> None:
    bundled = pd.read_csv(AZURE_SNAPSHOT, dtype=str, keep_default_na=False)
    rebuilt = derive(SHARED)
    assert list(bundled["arm_sku"]) == [p.arm_sku for p in rebuilt]
    assert [float(v) for v in bundled["on_demand_hourly"]] == [p.on_demand_hourly
                                                                for p in rebuilt]


@needs_shared
def test_azure_snapshot_prices_recomputed_from_the_raw_rows() -> None:
    bundled = pd.read_csv(AZURE_SNAPSHOT).set_index(["region", "arm_sku"])
    amortized = pd.read_csv(TOOLKIT / "EA_AmortizedCost_Small.csv", encoding="utf-8-sig")
    vms = amortized[amortized["MeterCategory"] == "Virtual Machines"]
    reserved = vms[vms["PricingModel"] == "Reservation"].iloc[0]
    assert json.loads(reserved["AdditionalInfo"])["ServiceType"] == "Standard_DS2_v2"
    assert bundled.loc[("eastus", "Standard_DS2_v2"), "on_demand_hourly"] == \
        reserved["UnitPrice"]
    assert bundled.loc[("eastus", "Standard_DS2_v2"), "reservation_P1Y"] == \
        round(reserved["EffectivePrice"] * 8760, 2)
    saving = vms[vms["PricingModel"] == "SavingsPlan"].iloc[0]
    assert bundled.loc[("eastus", "Standard_B2s"), "savings_plan_P3Y_hourly"] == \
        saving["EffectivePrice"]
    assert bundled.loc[("eastus", "Standard_B2s"), "on_demand_hourly"] == saving["PayGPrice"]

    focus = pd.read_csv(FOCUS_SAMPLE)
    d11 = focus[focus["ChargeDescription"].str.contains("D11 v2/DS11 v2", na=False)]
    on_demand = float(d11["ListUnitPrice"].iloc[0])
    assert bundled.loc[("eastus2", "Standard_D11_v2"), "on_demand_hourly"] == on_demand
    recommendations = pd.read_csv(TOOLKIT / "EA-Reservations-Recommendations.csv")
    d11_recs = recommendations[(recommendations["SKU"] == "Standard_D11_v2")
                               & (recommendations["Location"] == "eastus2")]
    for _, rec in d11_recs.iterrows():
        hours = rec["CostWithNoReservedInstances"] / on_demand
        assert hours == pytest.approx(round(hours)) and round(hours) <= 168
        term_hours = {"P1Y": 8760, "P3Y": 26280}[rec["Term"]]
        assert bundled.loc[("eastus2", "Standard_D11_v2"), f"reservation_{rec['Term']}"] == \
            round(rec["TotalCostWithReservedInstances"] / 168 * term_hours, 2)


@needs_shared
def test_gcp_snapshot_rates_price_the_shared_machine_types() -> None:
    machines = pd.read_csv(GCP_SNAPSHOT)
    rates = {(p.series, p.region, p.resource): p for p in load_prices()}
    for machine_type, region in (("n2-standard-4", "us-central1"),
                                 ("e2-standard-8", "us-central1"),
                                 ("n2-highmem-8", "europe-west1")):
        row = machines[(machines["machine_type"] == machine_type)
                       & (machines["region"] == region)].iloc[0]
        series = machine_type.split("-")[0]
        vcpu, memory = rates[(series, region, "vcpu")], rates[(series, region, "memory")]
        shape = (row["vcpu"], row["ram_gb"])
        assert vcpu.on_demand_hourly * shape[0] + memory.on_demand_hourly * shape[1] == \
            pytest.approx(row["hour_ondemand"], rel=1e-8)
        assert vcpu.cud_1y_hourly * shape[0] + memory.cud_1y_hourly * shape[1] == \
            pytest.approx(row["month_cud_1y"] / 730, rel=1e-8)
        assert vcpu.cud_3y_hourly * shape[0] + memory.cud_3y_hourly * shape[1] == \
            pytest.approx(row["month_cud_3y"] / 730, rel=1e-8)


@needs_shared
@pytest.mark.parametrize("cloud", ["azure", "gcp"])
def test_sample_bills_are_what_the_build_writes_from_the_shared_traces(cloud: str) -> None:
    from tools.build_sample_clouds import azure_usage, gcp_usage

    rebuilt = (azure_usage if cloud == "azure" else gcp_usage)(SHARED).to_pandas()
    bundled = pd.read_parquet(AZURE_SAMPLE if cloud == "azure" else GCP_SAMPLE)
    pd.testing.assert_frame_equal(bundled, rebuilt)


def test_sample_bills_are_priced_at_the_snapshots_list_prices() -> None:
    azure = pd.read_parquet(AZURE_SAMPLE)
    snapshot = pd.read_csv(AZURE_SNAPSHOT)
    prices = dict(zip(snapshot["arm_sku"], snapshot["on_demand_hourly"], strict=True))
    sizes = azure["x_SkuDetails"].map(lambda text: json.loads(text)["ServiceType"])
    assert (azure["ListUnitPrice"] == sizes.map(prices)).all()
    assert (azure["BilledCost"] - azure["ConsumedQuantity"] * azure["ListUnitPrice"]).abs().max() \
        < 1e-9
    gcp = pd.read_parquet(GCP_SAMPLE)
    rates = {(f"{p.series.upper()} Instance {'Core' if p.resource == 'vcpu' else 'Ram'} "
              "running in Americas"): p.on_demand_hourly
             for p in load_prices() if p.region == "us-central1"}
    assert (gcp["ListUnitPrice"] == gcp["ChargeDescription"].map(rates)).all()


# -- which prices, and why -------------------------------------------------------------


def test_price_source_label_says_the_date_and_age() -> None:
    source = PriceSource("snapshot", "s", date(2024, 1, 1), "r")
    assert source.label(datetime(2024, 1, 31, 12, tzinfo=UTC)) == \
        "bundled snapshot of 2024-01-01 (30 days old)"
    assert source.details(datetime(2024, 1, 2, tzinfo=UTC))["age_days"] == 1


def test_aws_without_credentials_plans_with_the_snapshot_and_reads_no_inventory(
        no_cloud_credentials: None) -> None:
    provider = AwsProvider(AwsSettings(usage=str(AWS_SAMPLE)))
    catalog = provider.catalog()
    source = provider.price_source()
    assert (source.kind, source.as_of, source.reason) == (
        "snapshot", SNAPSHOT_DATE, "no AWS credentials configured")
    assert len(catalog.keys) == 10
    assert {o.kind for o in catalog.offerings} == {"standard_ri", "convertible_ri",
                                                    "ec2_instance_sp", "compute_sp"}
    assert provider.offering_refs() == {}, "nothing can be bought with snapshot records"
    assert provider.inventory(datetime(2024, 9, 1, tzinfo=UTC)) == []


def _closed_port_factory(session: BotocoreSession) -> Any:
    def factory(service: str, region: str, config: Config) -> Any:
        # A real botocore client whose endpoint refuses connections: the API is unreachable.
        return session.create_client(service, region_name=region,
                                     endpoint_url="http://127.0.0.1:9",
                                     config=config.merge(Config(connect_timeout=1,
                                                                retries={"max_attempts": 0})))
    return factory


@pytest.fixture
def fake_credentials(no_cloud_credentials: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials that exist (to botocore) but reach nothing."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")


def test_aws_auto_falls_back_to_the_snapshot_when_the_price_api_is_unreachable(
        fake_credentials: None) -> None:
    settings = AwsSettings(usage=str(AWS_SAMPLE), max_attempts=1, throttle_attempts=1)
    clients = AwsClients(settings, client_factory=_closed_port_factory(BotocoreSession()))
    provider = AwsProvider(clients=clients)
    provider.catalog()
    source = provider.price_source()
    assert source.kind == "snapshot"
    assert source.reason == ("the AWS price APIs could not be used: "
                             "EndpointConnectionError")


def test_aws_prices_api_refuses_to_fall_back(fake_credentials: None) -> None:
    settings = AwsSettings(usage=str(AWS_SAMPLE), prices="api", max_attempts=1,
                           throttle_attempts=1)
    clients = AwsClients(settings, client_factory=_closed_port_factory(BotocoreSession()))
    with pytest.raises(ProviderError, match=r"pricing\.GetProducts"):
        AwsProvider(clients=clients).catalog()


def test_aws_prices_snapshot_is_used_even_with_credentials(fake_credentials: None) -> None:
    provider = AwsProvider(AwsSettings(usage=str(AWS_SAMPLE), prices="snapshot"))
    provider.catalog()
    assert provider.price_source().reason == "LADDER_AWS_PRICES=snapshot"


def test_azure_without_credentials_prices_the_bills_subscription_from_the_snapshot(
        no_cloud_credentials: None) -> None:
    provider = AzureProvider(AzureSettings(usage_path=AZURE_SAMPLE))
    catalog = provider.catalog()
    source = provider.price_source()
    assert (source.kind, source.as_of) == ("snapshot", snapshot_date())
    assert source.as_of == date(2023, 9, 3)
    scopes = {k.usage_key.split("/")[1] for k in catalog.keys}
    assert scopes == {"5f1c7a2e-3b9d-4e61-a8c0-7d2e9b4f6a13"}
    assert provider.inventory(datetime(2024, 9, 1, tzinfo=UTC)) == []


def test_gcp_without_credentials_prices_the_bills_project_and_refuses_api_mode(
        no_cloud_credentials: None) -> None:
    provider = GcpProvider(GcpSettings(usage_path=GCP_SAMPLE))
    catalog = provider.catalog()
    assert {k.usage_key.split("/")[1] for k in catalog.keys} == {"ladder-sample-prod"}
    assert provider.price_source().as_of == date(2026, 7, 30)
    assert provider.inventory(datetime(2024, 9, 1, tzinfo=UTC)) == []
    with pytest.raises(InvalidInput, match="no live GCP price reader"):
        GcpProvider(GcpSettings(usage_path=GCP_SAMPLE, prices="api")).catalog()


def test_the_snapshots_ship_in_the_package() -> None:
    assert len(load_snapshot().products) > 900
    assert SNAPSHOT_FILE.parent.name == "data" and (SNAPSHOT_FILE.parent / "NOTICE").is_file()
    assert AZURE_SNAPSHOT.is_file() and (AZURE_SNAPSHOT.parent / "NOTICE").is_file()
