"""Every cloud's FOCUS export in every version: read, versioned, ingested, and adding up.

The fixtures under ``tests/data/focus`` are built by ``focus_exports.py`` from real rows
(the FOCUS sample, Microsoft's toolkit fixture) and the clouds' documented columns. Each one
goes through ``ladder ingest`` as a user would run it, and its stored bill lines are compared
with BilledCost and EffectiveCost summed by pandas from the raw rows, to the cent: per currency
and billing period where every charge falls in its billing period's month, else (the OCI
sample's September adjustments billed in October's period) per currency and month of charge
and per currency overall, since bill lines are stored per UTC day and keep no billing period.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from focus_exports import FIXTURES, OUT, Fixture, build_all
from sqlalchemy import func, select
from typer.testing import CliRunner

from core.db.models import DatasetRow
from core.db.reporting_models import BillCostLineRow
from core.db.session import create_engine_for, session_scope
from core.errors import InvalidInput
from core.settings import Settings
from ladder.cli import app
from providers.bills import clouds_in, read_cloud_usage
from providers.focus import read_focus
from providers.focus.schema import ADDED, DEPRECATED, FOCUS_1_0, version_columns

runner = CliRunner()
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "billing"
DATA_SUFFIXES = (".csv", ".csv.gz", ".parquet")
BY_NAME = {f.name: f for f in FIXTURES}


def data_files(fixture: Fixture) -> list[Path]:
    """The fixture's data files (its manifests and metadata left out)."""
    return sorted(p for p in fixture.path.rglob("*")
                  if p.is_file() and p.name.lower().endswith(DATA_SUFFIXES))


def raw_rows(fixture: Fixture) -> pd.DataFrame:
    """Every raw row of the fixture, read by pandas on its own (not through Ladder)."""
    frames = []
    for path in data_files(fixture):
        if path.name.endswith(".parquet"):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    for column in ("BilledCost", "EffectiveCost"):
        frame[column] = pd.to_numeric(frame[column])
    frame["period"] = pd.to_datetime(frame["BillingPeriodStart"], utc=True).dt.strftime("%Y-%m")
    frame["month"] = pd.to_datetime(frame["ChargePeriodStart"], utc=True).dt.strftime("%Y-%m")
    return frame


Totals = dict[tuple[str, ...], tuple[float, float]]


def _cents(frame: pd.DataFrame, keys: list[str], billed: str, effective: str) -> Totals:
    sums = frame.groupby(keys)[[billed, effective]].sum()
    totals: Totals = {}
    for key, (b, e) in sums.iterrows():
        parts = (key,) if isinstance(key, str) else tuple(key)  # type: ignore[arg-type]
        totals[tuple(str(k) for k in parts)] = (round(float(b), 2), round(float(e), 2))
    return totals


def raw_totals(fixture: Fixture, by: str = "period") -> Totals:
    """Σ BilledCost and Σ EffectiveCost per (currency, ``by``: billing period or month of
    charge), rounded to the cent."""
    return _cents(raw_rows(fixture), ["BillingCurrency", by], "BilledCost", "EffectiveCost")


def test_the_version_column_sets_follow_the_changelog() -> None:
    assert len(FOCUS_1_0) == 43 and len(set(FOCUS_1_0)) == 43
    assert len(version_columns("1.1")) == 50
    assert len(version_columns("1.2")) == 57  # the FOCUS 1.2 column library's count
    assert len(version_columns("1.3")) == 65
    assert set(DEPRECATED["1.3"]) <= set(version_columns("1.3"))
    assert "ServiceProviderName" in ADDED["1.3"] and "InvoiceId" in ADDED["1.2"]


def test_every_cloud_has_a_fixture_of_every_version() -> None:
    pairs = {(f.cloud, f.version) for f in FIXTURES}
    assert pairs >= {(c, v) for c in ("aws", "azure", "gcp", "oci")
                     for v in ("1.0", "1.1", "1.2", "1.3")}
    assert ("oci", "1.0-preview") in pairs
    suffixes = {p.name.split(".", 1)[1] for f in FIXTURES for p in data_files(f)}
    assert {"csv", "csv.gz", "parquet"} <= {s.removeprefix("snappy.") for s in suffixes}


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"the builder reads the shared FOCUS samples "
                    f"({SHARED}), not beside this checkout")
def test_the_committed_fixtures_are_what_the_builder_writes(tmp_path: Path) -> None:
    build_all(tmp_path)
    committed = sorted(p.relative_to(OUT) for p in OUT.rglob("*")
                       if p.is_file() and p.name != "README.md")
    rebuilt = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert committed == rebuilt
    for relative in committed:
        assert (OUT / relative).read_bytes() == (tmp_path / relative).read_bytes(), relative


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda f: f.name)
def test_each_fixture_has_its_versions_columns(fixture: Fixture) -> None:
    for path in data_files(fixture):
        header = list(pd.read_parquet(path).columns) if path.name.endswith(".parquet") else \
            pd.read_csv(path, nrows=0).columns.tolist()
        if fixture.version == "1.0-preview":
            assert {"Provider", "Region", "UsageQuantity", "UsageUnit"} <= set(header)
            assert "ConsumedQuantity" not in header
        else:
            assert set(version_columns(fixture.version)) <= set(header)
        extensions = [c for c in header if c not in version_columns("1.3")]
        prefix = "oci_" if fixture.cloud == "oci" else "x_"
        assert all(c.startswith(prefix) or fixture.version == "1.0-preview"
                   for c in extensions), extensions


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda f: f.name)
def test_each_fixture_is_read_with_its_clouds_rules_and_recorded_as_its_version(
        fixture: Fixture) -> None:
    assert set(clouds_in(fixture.path)) == {fixture.cloud}
    usage = read_cloud_usage(fixture.path, fixture.cloud)
    versions = set(usage.versions.values())
    assert {v.version for v in versions} == {fixture.version}
    assert {v.basis for v in versions} == {"metadata" if fixture.declared else "columns"}
    assert usage.rows_used > 0 and not usage.skipped
    assert set(usage.files) == {str(p) for p in data_files(fixture)}


def test_the_exports_own_labels_are_kept() -> None:
    labels = {name: {v.declared for v in read_cloud_usage(BY_NAME[name].path, "azure")
                     .versions.values()} for name in ("azure-1.0", "azure-1.2")}
    assert labels == {"azure-1.0": {"1.0r2"}, "azure-1.2": {"1.2-preview"}}


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda f: f.name)
def test_each_fixture_ingests_and_its_totals_equal_pandas_to_the_cent(
        fixture: Fixture, ladder_settings: Settings) -> None:
    result = runner.invoke(app, ["ingest", str(fixture.path)])
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert f"of {fixture.cloud}," in output
    assert f"FOCUS {fixture.version}" in output  # the version read, said on ingest
    assert ("no commitment catalog" in output) == (fixture.cloud == "oci")
    engine = create_engine_for(ladder_settings.database_url)
    try:
        with session_scope(engine) as session:
            assert session.scalar(select(func.count()).select_from(DatasetRow)) == 1
            lines = session.execute(
                select(BillCostLineRow.currency, BillCostLineRow.day,
                       BillCostLineRow.billed_cost, BillCostLineRow.effective_cost)).all()
    finally:
        engine.dispose()
    stored = pd.DataFrame(lines, columns=["currency", "day", "billed", "effective"])
    stored["month"] = pd.to_datetime(stored["day"]).dt.strftime("%Y-%m")
    by_month = _cents(stored, ["currency", "month"], "billed", "effective")
    raw = raw_rows(fixture)
    if (raw["period"] == raw["month"]).all():
        assert by_month == raw_totals(fixture, "period")
    else:  # charges billed in a later period: the store keeps their day, not their period
        assert fixture.cloud == "oci"
        assert by_month == raw_totals(fixture, "month")
        assert _cents(stored, ["currency"], "billed", "effective") == \
            _cents(raw, ["BillingCurrency"], "BilledCost", "EffectiveCost")
    assert any(abs(b) >= 0.01 for b, _ in by_month.values())  # a total that can be wrong


def test_the_gcp_fixture_spans_two_billing_periods() -> None:
    assert set(raw_totals(BY_NAME["gcp-1.0"])) == {("USD", "2024-08"), ("USD", "2024-09")}
    assert set(raw_totals(BY_NAME["gcp-1.2"])) == {("EUR", "2024-08"), ("EUR", "2024-09")}
    # OCI's adjustments of September usage are billed in October's period.
    assert set(raw_totals(BY_NAME["oci-1.0"])) == {("USD", "2024-09"), ("USD", "2024-10")}


def _one_row_csv(path: Path, header: list[str]) -> Path:
    path.write_text(",".join(header) + "\n" + ",".join("1" for _ in header) + "\n",
                    encoding="utf-8")
    return path


LEGACY = {
    "aws-cur": (SHARED / "focus-converters" / "sample-anonymous-aws-export-dataset.csv",
                r"legacy AWS Cost and Usage Report \(CUR\).*'FOCUS 1.2 with AWS columns'"),
    "azure-ea-actual": (SHARED / "azure-finops-toolkit" / "EA_ActualCost_Small.csv",
                        r"Azure cost details export \(EA/MCA.*Cost and usage details \(FOCUS\)"),
    "azure-ea-amortized": (SHARED / "azure-finops-toolkit" / "EA_AmortizedCost_Small.csv",
                           r"Azure cost details export \(EA/MCA.*\(FOCUS\)"),
    "azure-ea-export": (SHARED / "focus-converters" / "sample-anonymous-ea-export-dataset.csv",
                        r"Azure cost details export \(EA/MCA.*\(FOCUS\)"),
    "oci-cost-report": (SHARED / "focus-converters" / "reports_cost-csv_0000000030000269.csv",
                        r"Oracle Cloud \(OCI\) cost report.*'FOCUS Reports' folder"),
}


@pytest.mark.parametrize("name", sorted(LEGACY))
def test_a_real_native_export_is_refused_by_ingest_naming_the_focus_export(
        name: str, ladder_settings: Settings) -> None:
    path, message = LEGACY[name]
    if not path.exists():
        pytest.skip(f"shared data not present: {path}")
    result = runner.invoke(app, ["ingest", str(path)])
    assert result.exit_code != 0
    assert re.search(message, " ".join(result.output.split())), result.output
    with pytest.raises(InvalidInput, match=message):
        read_focus(path)


@pytest.mark.parametrize(("header", "message"), [
    # Azure MCA cost details, as the Cost Details API writes them (camelCase).
    (["billingAccountId", "date", "meterCategory", "quantity", "costInBillingCurrency"],
     r"Azure cost details export"),
    # CUR 2.0 (snake_case columns of Data Exports' CUR 2.0 table).
    (["identity_line_item_id", "line_item_usage_start_date", "line_item_unblended_cost"],
     r"AWS CUR 2.0 export.*'FOCUS 1.2 with AWS columns'"),
    # GCP's standard BigQuery billing export, extracted to CSV.
    (["billing_account_id", "usage_start_time", "usage_end_time", "cost"],
     r"Google Cloud billing export.*FOCUS export"),
])
def test_a_native_export_header_is_refused_naming_what_to_export(
        tmp_path: Path, header: list[str], message: str) -> None:
    path = _one_row_csv(tmp_path / "native.csv", header)
    with pytest.raises(InvalidInput, match=message):
        clouds_in(path)


def test_a_focus_0_5_file_is_refused_naming_its_missing_columns(tmp_path: Path) -> None:
    header = [c for c in FOCUS_1_0 if c not in ("ChargeCategory", "EffectiveCost",
                                                "ConsumedQuantity", "ConsumedUnit",
                                                "ListCost")]
    path = _one_row_csv(tmp_path / "old.csv", [*header, "ChargeType", "AmortizedCost"])
    with pytest.raises(InvalidInput) as refused:
        read_focus(path)
    text = str(refused.value)
    assert "not a FOCUS 1.0, 1.1, 1.2 or 1.3 file: missing required FOCUS columns" in text
    assert "ChargeCategory" in text and "ConsumedQuantity" in text and "ListCost" in text
    assert "FOCUS 0.5 names (ChargeType (now ChargeCategory)" in text
    assert refused.value.column == "ChargeCategory"


def _copy(fixture: Fixture, target: Path) -> Path:
    for path in fixture.path.rglob("*"):
        if path.is_file():
            destination = target / path.relative_to(fixture.path)
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(path.read_bytes())
    return target


def test_an_export_declaring_a_version_ladder_does_not_read_is_refused(tmp_path: Path) -> None:
    root = _copy(BY_NAME["azure-1.0"], tmp_path / "export")
    manifest = next(root.rglob("manifest.json"))
    document = json.loads(manifest.read_text(encoding="utf-8"))
    document["exportConfig"]["dataVersion"] = "0.5"
    manifest.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"declares FOCUS version '0.5', which Ladder does "
                                           r"not read") as refused:
        read_cloud_usage(root, "azure")
    assert refused.value.source == str(manifest)


def test_metadata_declaring_two_versions_in_one_folder_is_refused(tmp_path: Path) -> None:
    root = _copy(BY_NAME["gcp-1.3"], tmp_path / "export")
    (root / "metadata" / "other.json").write_text(json.dumps({"FocusVersion": "1.2"}),
                                                 encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"declares version 1.2 .* and 1.3 .*one export"):
        read_cloud_usage(root, "gcp")

