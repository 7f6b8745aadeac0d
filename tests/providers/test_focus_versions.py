"""FOCUS versions told from declarations and columns, and OCI's Compute rows read by its rules."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from focus_exports import FIXTURES

from core.errors import InvalidInput
from providers.bills import read_cloud_usage
from providers.focus.schema import (
    FOCUS_1_0,
    FocusVersion,
    detect_version,
    normalise_declared,
    version_columns,
)
from providers.oci.usage import read_oci_usage

FOCUS_SAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "billing" \
    / "focus-sample" / "focus_sample.csv"
BY_NAME = {f.name: f for f in FIXTURES}


@pytest.mark.parametrize(("extra", "version"), [
    ((), "1.0"),
    (("BillingAccountType", "SubAccountType"), "1.0"),  # Microsoft's 1.0 export has them
    (("SkuPriceDetails",), "1.1"),
    (("CommitmentDiscountQuantity", "x_UsageType"), "1.1"),
    (("InvoiceId",), "1.2"),
    (("pricingcurrency",), "1.2"),  # matched case-insensitively
    (("SkuMeter", "InvoiceId", "HostProviderName"), "1.3"),
])
def test_the_version_is_the_newest_whose_marker_columns_are_present(
        extra: tuple[str, ...], version: str) -> None:
    assert detect_version([*FOCUS_1_0, *extra]) == FocusVersion(version, "columns")


def test_the_1_0_preview_names_are_told_apart() -> None:
    preview = [c for c in FOCUS_1_0 if c not in ("ConsumedQuantity", "ConsumedUnit")]
    assert detect_version([*preview, "UsageQuantity", "UsageUnit"]).version == "1.0-preview"


@pytest.mark.parametrize(("label", "version", "declared"), [
    ("1.0", "1.0", None), ("1.0r2", "1.0", "1.0r2"), ("1.2-preview", "1.2", "1.2-preview"),
    ("1.0-preview(v1)", "1.0-preview", "1.0-preview(v1)"), ("FOCUS 1.3", "1.3", None),
    ("v1.1", "1.1", None),
])
def test_the_exports_labels_name_a_version(label: str, version: str,
                                           declared: str | None) -> None:
    assert normalise_declared(label, source="m.json") == FocusVersion(version, "metadata",
                                                                      declared)


@pytest.mark.parametrize("label", ["0.5", "1.4", "2.0", "latest"])
def test_a_label_of_another_version_is_refused(label: str) -> None:
    with pytest.raises(InvalidInput, match="which Ladder does not read") as refused:
        normalise_declared(label, source="m.json")
    assert refused.value.source == "m.json"


def test_a_1_3_file_without_its_deprecated_columns_is_read(tmp_path: Path) -> None:
    fixture = BY_NAME["aws-1.3"]
    frame = pd.read_parquet(next(fixture.path.glob("*.parquet")))
    assert set(version_columns("1.3")) <= set(frame.columns)
    path = tmp_path / "no-deprecated.parquet"
    frame.drop(columns=["ProviderName", "PublisherName"]).to_parquet(path)
    usage = read_cloud_usage(path, "aws")
    whole = read_cloud_usage(fixture.path, "aws")
    assert usage.rows_used == whole.rows_used
    pd.testing.assert_frame_equal(usage.hourly, whole.hourly)
    assert {v.version for v in usage.versions.values()} == {"1.3"}


def test_one_file_taken_out_of_an_export_is_versioned_by_its_columns() -> None:
    part = next(BY_NAME["azure-1.2"].path.rglob("*.parquet"))
    usage = read_cloud_usage(part, "azure")
    assert list(usage.versions.values()) == [FocusVersion("1.2", "columns")]


@pytest.mark.skipif(not FOCUS_SAMPLE.exists(), reason="shared FOCUS sample not present")
def test_the_samples_oci_compute_usage_is_ocpu_and_memory_hours() -> None:
    raw = pd.read_csv(FOCUS_SAMPLE, na_values=["NULL"], keep_default_na=False)
    oracle = raw[raw.ProviderName == "Oracle"]
    usage = read_oci_usage(FOCUS_SAMPLE)
    units = usage.hourly.groupby(usage.hourly.usage_key.str.split("/").str[4])["units"].sum()
    compute = oracle[(oracle.ServiceName == "COMPUTE") & (oracle.ChargeCategory == "Usage")]
    assert usage.rows_used == len(compute) == 3  # the two adjustments are left out
    assert units.to_dict() == {
        "standard-e3.memory": compute.loc[compute.ConsumedUnit == "GB Hours",
                                          "ConsumedQuantity"].sum(),
        "standard-e5.ocpu": compute.loc[compute.ConsumedUnit == "OCPU Hours",
                                        "ConsumedQuantity"].sum(),
    }
    assert set(usage.keys["region"]) == {"us-sanjose-1", "us-phoenix-1"}  # from RegionName


def test_dynamic_unused_and_unknown_oci_rows_are_not_compute_usage(tmp_path: Path) -> None:
    fixture = BY_NAME["oci-1.1"]
    source = next(fixture.path.rglob("*.csv"))
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    used = frame[frame.ChargeDescription == "Standard - E5"].iloc[0]
    dynamic, unused, other, wrong_unit = used.copy(), used.copy(), used.copy(), used.copy()
    dynamic["PricingCategory"] = "Dynamic"
    unused["CommitmentDiscountStatus"] = "Unused"
    other["ChargeDescription"] = "Standard - E5 - Preemptible"
    wrong_unit["ConsumedUnit"] = "GB Months"
    path = tmp_path / "oci.csv"
    pd.DataFrame([used, dynamic, unused, other, wrong_unit]).to_csv(path, index=False)
    usage = read_oci_usage(path)
    assert usage.rows_used == 1
    assert usage.hourly["units"].sum() == pytest.approx(float(used["ConsumedQuantity"]))
