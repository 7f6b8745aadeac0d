"""One ingest for every cloud: the cloud's rules chosen from the bill or from --provider."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from focus_factories import AZURE_KEY, GCP_KEY, aws_row, azure_row, gcp_row, write
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from core.db.models import DatasetRow, UsageKeyRow
from core.db.reporting_models import BillCostLineRow, FocusCostLineRow
from core.db.session import create_engine_for, session_scope
from core.errors import InvalidInput
from core.settings import Settings
from ladder.cli import app
from ladder.pipeline import ingest, ingest_bill
from providers.bills import choose_clouds, cloud_of_name, clouds_in

FOCUS_SAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "billing" \
    / "focus-sample" / "focus_sample.csv"
D2 = "Virtual Machines Dv3/DSv3 Series - D2 v3/D2s v3 - US East"
N2_CORE = "N2 Instance Core running in Americas"


def mixed_rows() -> list[dict[str, object]]:
    """Two hours of an EC2 m5.large, an Azure D2s v3 and four N2 vCPUs, plus rows no
    optimizer reads (an Azure storage charge, an Oracle row)."""
    rows: list[dict[str, object]] = []
    for hour in range(2):
        rows += [aws_row(hour=hour, price=0.096),
                 azure_row(D2, hour=hour, price=0.096),
                 gcp_row(N2_CORE, quantity=4.0, unit="hour", price=0.0316, hour=hour)]
    rows.append(azure_row("Standard SSD Managed Disks", ServiceCategory="Storage",
                          ServiceName="Storage", ConsumedUnit="GB/Month", price=0.3))
    rows.append(azure_row("Oracle thing", ProviderName="Oracle", ServiceName="Compute"))
    return rows


@pytest.fixture
def bill(tmp_path: Path) -> Path:
    return write(tmp_path / "bill.csv", mixed_rows())


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    engine = create_engine_for(db_url)
    yield engine
    engine.dispose()


def test_the_clouds_of_a_bill_are_counted_from_its_provider_names(bill: Path) -> None:
    assert clouds_in(bill) == {"aws": 2, "azure": 3, "gcp": 2, "oci": 1}
    assert cloud_of_name("Amazon Web Services") == "aws"
    assert cloud_of_name("Microsoft") == "azure"
    assert cloud_of_name("Some Other Cloud") == "some other cloud"


def test_every_cloud_of_a_bill_is_stored_as_its_own_dataset(db_engine: Engine,
                                                             bill: Path) -> None:
    outcomes = ingest_bill(db_engine, bill)
    assert [(o.provider, o.created, o.rows_used) for o in outcomes] == [
        ("azure", True, 2), ("aws", True, 2), ("gcp", True, 2)]
    raw = pd.read_csv(bill)
    with session_scope(db_engine) as session:
        datasets = {d.provider: d for d in session.scalars(select(DatasetRow))}
        assert set(datasets) == {"aws", "azure", "gcp"}
        assert len({d.sha256 for d in datasets.values()}) == 3
        billed = dict(session.execute(
            select(UsageKeyRow.usage_key, func.sum(FocusCostLineRow.billed_cost))
            .join(UsageKeyRow, UsageKeyRow.id == FocusCostLineRow.usage_key_id)
            .group_by(UsageKeyRow.usage_key)).all())
    # Each cloud's compute cost lines hold that cloud's VM rows of the raw bill, no others.
    assert billed[AZURE_KEY.format("dsv3-series")] == pytest.approx(
        raw.loc[raw.ChargeDescription == D2, "BilledCost"].sum())
    assert billed[GCP_KEY.format("n2.vcpu")] == pytest.approx(
        raw.loc[raw.ChargeDescription == N2_CORE, "BilledCost"].sum())
    aws_keys = [k for k in billed if k.startswith("aws/")]
    assert len(aws_keys) == 1
    assert billed[aws_keys[0]] == pytest.approx(
        raw.loc[raw.ProviderName == "AWS", "BilledCost"].sum())
    again = ingest_bill(db_engine, bill)
    assert [o.created for o in again] == [False, False, False]
    assert [o.dataset_id for o in again] == [o.dataset_id for o in outcomes]


def test_a_named_provider_reads_only_its_clouds_rows(db_engine: Engine, bill: Path) -> None:
    outcome = ingest(db_engine, bill, provider="azure")
    assert outcome.provider == "azure" and outcome.rows_used == 2
    with session_scope(db_engine) as session:
        keys = set(session.scalars(
            select(UsageKeyRow.usage_key)
            .join(FocusCostLineRow, UsageKeyRow.id == FocusCostLineRow.usage_key_id)))
    assert keys == {AZURE_KEY.format("dsv3-series")}


def test_a_provider_of_another_cloud_is_refused_naming_what_the_bill_holds(
        db_engine: Engine, tmp_path: Path) -> None:
    aws_only = write(tmp_path / "aws.csv", [aws_row(hour=h) for h in range(3)])
    with pytest.raises(InvalidInput, match=r"reads gcp bills, but the bill holds only aws "
                                           r"\(3 rows\)") as refused:
        ingest(db_engine, aws_only, provider="gcp")
    assert refused.value.column == "ProviderName"
    with session_scope(db_engine) as session:
        assert session.scalar(select(func.count()).select_from(DatasetRow)) == 0


def test_a_bill_of_clouds_ladder_has_no_rules_for_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"no cloud whose compute usage Ladder reads "
                                           r"\(aws, azure, gcp, oci\).*alibaba cloud \(7 rows\)"):
        choose_clouds({"alibaba cloud": 7}, None, source="bill.csv")


def test_an_oci_bill_is_read_with_the_oci_rules() -> None:
    assert choose_clouds({"oci": 7, "aws": 2}, None, source="bill.csv") == ["oci", "aws"]
    assert choose_clouds({"oci": 7}, "oci", source="bill.csv") == ["oci"]


def test_a_bad_row_of_one_cloud_stores_nothing_of_the_others(db_engine: Engine,
                                                              tmp_path: Path) -> None:
    rows = mixed_rows()
    rows.append(gcp_row(N2_CORE, quantity=4.0, unit="hour", price=0.0316,
                        BilledCost="lots"))
    bad = write(tmp_path / "bad.csv", rows)
    with pytest.raises(InvalidInput, match="BilledCost") as refused:
        ingest_bill(db_engine, bad)
    assert refused.value.row == len(rows)
    with session_scope(db_engine) as session:
        assert session.scalar(select(func.count()).select_from(DatasetRow)) == 0
        assert session.scalar(select(func.count()).select_from(FocusCostLineRow)) == 0


def test_the_cli_ingests_an_azure_export_without_being_told_the_cloud(
        ladder_settings: Settings, tmp_path: Path) -> None:
    azure = write(tmp_path / "azure.csv", [azure_row(D2, hour=h) for h in range(3)])
    result = CliRunner().invoke(app, ["ingest", str(azure)])
    assert result.exit_code == 0, result.output
    assert "Stored: dataset 1 of azure, 1 usage keys, 3 hours" in " ".join(result.output.split())


def _bill_totals(engine: Engine) -> dict[str, tuple[float, float]]:
    """Per provider (dataset), Σ BilledCost and Σ EffectiveCost of its stored bill lines."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(DatasetRow.provider, func.sum(BillCostLineRow.billed_cost),
                   func.sum(BillCostLineRow.effective_cost))
            .join(DatasetRow, DatasetRow.id == BillCostLineRow.dataset_id)
            .group_by(DatasetRow.provider)).all()
    return {p: (float(b or 0.0), float(e or 0.0)) for p, b, e in rows}


def test_every_row_of_each_cloud_is_kept_in_its_bill_lines(db_engine: Engine,
                                                            bill: Path) -> None:
    ingest_bill(db_engine, bill)
    raw = pd.read_csv(bill)
    raw["EffectiveCost"] = raw["BilledCost"]  # the fixture's rows carry no EffectiveCost
    expected = {cloud: float(raw.loc[raw.ProviderName == name, "BilledCost"].sum())
                for cloud, name in (("aws", "AWS"), ("azure", "Microsoft"),
                                    ("gcp", "Google Cloud"))}
    found = {p: billed for p, (billed, _) in _bill_totals(db_engine).items()}
    assert found == pytest.approx(expected)
    # The Azure storage row is in the bill lines, not in the compute cost lines.
    assert found["azure"] > billed_compute(db_engine, "azure")


def billed_compute(engine: Engine, provider: str) -> float:
    with session_scope(engine) as session:
        return float(session.scalar(
            select(func.sum(FocusCostLineRow.billed_cost))
            .join(DatasetRow, DatasetRow.id == FocusCostLineRow.dataset_id)
            .where(DatasetRow.provider == provider)) or 0.0)


@pytest.mark.skipif(not FOCUS_SAMPLE.exists(), reason="shared FOCUS sample not present")
def test_the_focus_samples_aws_bill_is_kept_to_the_cent(db_engine: Engine) -> None:
    ingest_bill(db_engine, FOCUS_SAMPLE)
    raw = pd.read_csv(FOCUS_SAMPLE, na_values=["NULL"], keep_default_na=False)
    aws = raw[raw.ProviderName == "AWS"]
    billed, effective = _bill_totals(db_engine)["aws"]
    assert round(billed, 2) == round(float(aws["BilledCost"].sum()), 2)
    assert round(effective, 2) == round(float(aws["EffectiveCost"].sum()), 2)


def oci_row(hour: int, **overrides: object) -> dict[str, object]:
    """One hour of an OCI E4 shape's OCPUs (OCI's FOCUS reports, 1.0 names)."""
    return azure_row("Standard - E4 - OCPU", hour=hour, quantity=2.0, price=0.025,
                     ProviderName="Oracle", ServiceName="COMPUTE", ConsumedUnit="OCPU Hours",
                     SubAccountId="ocid1.tenancy.oc1..aaaa", BillingAccountId="20209880",
                     RegionId="us-ashburn-1", **overrides)


def test_the_oci_rows_of_a_mixed_bill_are_stored_as_the_oci_dataset(
        db_engine: Engine, tmp_path: Path) -> None:
    bill = write(tmp_path / "mixed.csv", [*mixed_rows(), oci_row(0), oci_row(1)])
    outcome = ingest(db_engine, bill, provider="oci")
    assert (outcome.provider, outcome.rows_used, outcome.keys) == ("oci", 2, 1)
    with session_scope(db_engine) as session:
        keys = set(session.scalars(select(UsageKeyRow.usage_key)))
    assert keys == {"oci/ocid1.tenancy.oc1..aaaa/compute/us-ashburn-1/standard-e4.ocpu/"
                    "linux/shared"}
    raw = pd.read_csv(bill)
    oracle = float(raw.loc[raw.ProviderName == "Oracle", "BilledCost"].sum())
    # Every Oracle row of the bill (the two Compute hours and the other one) is a bill line.
    assert _bill_totals(db_engine)["oci"][0] == pytest.approx(oracle)
    assert oracle > float(raw.loc[raw.ChargeDescription == "Standard - E4 - OCPU",
                                  "BilledCost"].sum())
