"""Azure and GCP VM usage in FOCUS: hand-made rows with known answers, and the real sample."""

from __future__ import annotations

from pathlib import Path

import pytest
from focus_factories import AZURE_KEY, GCP_KEY, azure_row, gcp_row, write

from core.errors import InvalidInput
from providers.azure.sizes import base_size, group_slug, sku_from_meter
from providers.azure.usage import read_azure_focus
from providers.gcp.usage import read_gcp_focus

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
FOCUS_SAMPLE = DATA / "billing" / "focus-sample" / "focus_sample.csv"


def test_azure_sizes_are_normalised_by_their_flexibility_ratio(tmp_path: Path) -> None:
    usage = read_azure_focus(write(tmp_path / "azure.csv", [
        azure_row("Virtual Machines Dv3/DSv3 Series - D4 v3/D4s v3 - US East", price=0.192),
        azure_row("Virtual Machines Dv3/DSv3 Series - D2 v3/D2s v3 - US East"),
        azure_row("ignored", price=0.384, x_SkuMeterCategory="Virtual Machines",
                  x_SkuDetails='{"ServiceType":"Standard_D8s_v5","VCPUs":8}'),
        azure_row("Virtual Machines DSv2 Series - DS4 v2 Spot - US East"),  # spot
        azure_row("Virtual Machines Dv3/DSv3 Series - D2 v3/D2s v3 - US East", quantity=-1),
        azure_row("Virtual Machines Dv3/DSv3 Series Windows - D2 v3/D2s v3 - US East",
                  price=0.188),
        azure_row("Virtual Machines F/FS Series - F2/F2s - US East"),  # not in the ISF table
    ]))
    units = dict(zip(usage.hourly["usage_key"], usage.hourly["units"], strict=True))
    assert units == {
        AZURE_KEY.format("dsv3-series"): 3.0,       # D4s_v3 (ratio 2) + D2s_v3 (ratio 1)
        AZURE_KEY.format("dsv5-series"): 4.0,       # D8s_v5, ratio 4
        AZURE_KEY.format("dsv3-series").replace("/linux/", "/windows/"): 1.0,
    }
    rates = dict(zip(usage.keys["usage_key"], usage.keys["on_demand_rate"], strict=True))
    assert rates[AZURE_KEY.format("dsv3-series")] == pytest.approx(0.096)
    assert rates[AZURE_KEY.format("dsv5-series")] == pytest.approx(0.096)
    assert dict(usage.skipped) == {"Standard_F2s": 1}


def test_azure_meter_names_map_to_the_premium_storage_size() -> None:
    assert sku_from_meter("D2 v3/D2s v3") == "Standard_D2s_v3"
    assert sku_from_meter("D11 v2/DS11 v2") == "Standard_DS11_v2"
    assert sku_from_meter("B2s") == "Standard_B2s"
    assert base_size("DSv3 Series").arm_sku == "Standard_D2s_v3"
    assert group_slug("DSv2 Series High Memory") == "dsv2-series-high-memory"


def test_gcp_cores_and_ram_are_separate_keys_in_hours(tmp_path: Path) -> None:
    usage = read_gcp_focus(write(tmp_path / "gcp.csv", [
        gcp_row("N2 Instance Core running in Americas", quantity=4, unit="hour", price=0.031611),
        gcp_row("N2 Instance Ram running in Americas", quantity=16, unit="gibibyte hour",
                price=0.004237),
        gcp_row("N2D AMD Instance Core running in Americas", quantity=7200, unit="seconds",
                price=0.0000076),
        gcp_row("N1 Predefined Instance Core running in Americas", quantity=2, unit="hour",
                price=0.031611),
        gcp_row("Compute optimized Core running in Americas", quantity=8, unit="hour",
                price=0.03398),
        gcp_row("Spot Preemptible N2 Instance Core running in Americas", quantity=4,
                unit="hour", price=0.0077),
        gcp_row("Commitment v1: N2 Cpu in Americas for 1 Year", quantity=4, unit="hour",
                price=0.019915),
    ]))
    units = dict(zip(usage.hourly["usage_key"], usage.hourly["units"], strict=True))
    assert units == {
        GCP_KEY.format("n2.vcpu"): 4.0, GCP_KEY.format("n2.memory"): 16.0,
        GCP_KEY.format("n2d.vcpu"): 2.0, GCP_KEY.format("n1.vcpu"): 2.0,
        GCP_KEY.format("c2.vcpu"): 8.0,
    }
    rates = dict(zip(usage.keys["usage_key"], usage.keys["on_demand_rate"], strict=True))
    assert rates[GCP_KEY.format("n2.vcpu")] == pytest.approx(0.031611)
    assert rates[GCP_KEY.format("n2.memory")] == pytest.approx(0.004237)


def test_other_clouds_rows_are_not_read_as_vm_usage(tmp_path: Path) -> None:
    path = write(tmp_path / "mixed.csv", [
        azure_row("Virtual Machines Dv3/DSv3 Series - D2 v3/D2s v3 - US East"),
        gcp_row("N2 Instance Core running in Americas", quantity=4, unit="hour", price=0.03),
    ])
    assert set(read_azure_focus(path).keys["provider"]) == {"azure"}
    assert set(read_gcp_focus(path).keys["provider"]) == {"gcp"}


@pytest.mark.skipif(not FOCUS_SAMPLE.is_file(), reason="shared FOCUS sample not found")
def test_real_sample_has_no_usable_azure_vm_hours() -> None:
    """The sample's one Microsoft VM row is a negative adjustment: no VM usage, a clear error."""
    with pytest.raises(InvalidInput, match="no Azure VM usage found"):
        read_azure_focus(FOCUS_SAMPLE)
    with pytest.raises(InvalidInput, match="no GCP VM usage found"):
        read_gcp_focus(FOCUS_SAMPLE)
