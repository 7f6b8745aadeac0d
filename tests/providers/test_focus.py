"""FOCUS ingestion: real sample, hand-made files with known answers, and every kind of bad input."""

from __future__ import annotations

import gzip
import re
import shutil
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from core.domain import UsageKey
from core.errors import InvalidInput
from providers.focus import FocusUsage, read_focus
from providers.focus.schema import REQUIRED

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
FOCUS_SAMPLE = DATA / "billing" / "focus-sample" / "focus_sample.csv"
AWS_CUR = DATA / "billing" / "focus-converters" / "sample-anonymous-aws-export-dataset.csv"
needs_real_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"real data not found at {DATA}")

T0 = datetime(2025, 1, 1, tzinfo=UTC)
ACCOUNT = "111111111111"
FACTORS = {"nano": 0.25, "micro": 0.5, "small": 1, "medium": 2, "large": 4, "xlarge": 8,
           "2xlarge": 16, "3xlarge": 24, "4xlarge": 32, "6xlarge": 48, "8xlarge": 64,
           "9xlarge": 72, "10xlarge": 80, "12xlarge": 96, "16xlarge": 128, "18xlarge": 144,
           "24xlarge": 192, "32xlarge": 256, "48xlarge": 384}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_row(
    instance_type: str = "m5.large",
    *,
    hour: int = 0,
    hours: int = 1,
    quantity: float = 1.0,
    price: float = 0.1,
    platform: str = "Linux",
    region: str = "us-east-1",
    account: str | None = ACCOUNT,
    usage_type: str | None = "",
    **overrides: Any,
) -> dict[str, Any]:
    """One FOCUS row of EC2 instance usage; keyword overrides replace any column."""
    start = T0 + timedelta(hours=hour)
    row: dict[str, Any] = {
        "ChargePeriodStart": _iso(start),
        "ChargePeriodEnd": _iso(start + timedelta(hours=hours)),
        "ChargeCategory": "Usage",
        "ServiceCategory": "Compute",
        "ServiceName": "Amazon Elastic Compute Cloud",
        "ProviderName": "AWS",
        "SubAccountId": account,
        "BillingAccountId": "999999999999",
        "RegionId": region,
        "ConsumedQuantity": quantity,
        "ConsumedUnit": "Hours",
        "ListUnitPrice": price,
        "ListCost": price * quantity,
        "BilledCost": price * quantity,
        "BillingCurrency": "USD",
        "PricingCategory": "Standard",
        "ChargeDescription": f"${price} per On Demand {platform} {instance_type} Instance Hour",
        "x_UsageType": f"BoxUsage:{instance_type}" if usage_type == "" else usage_type,
        "ResourceId": f"i-{instance_type}-{hour}",
    }
    row.update(overrides)
    return row


def make_other_row(**overrides: Any) -> dict[str, Any]:
    """A FOCUS row that is not instance usage (a NAT gateway hour)."""
    return make_row(ChargeDescription="$0.045 per NAT Gateway Hour",
                    usage_type="NatGateway-Hours", **overrides)


_TYPED = {"ChargePeriodStart": "time", "ChargePeriodEnd": "time", "ConsumedQuantity": "number",
          "ListUnitPrice": "number", "ListCost": "number", "BilledCost": "number"}


def write_focus(path: Path, rows: Sequence[dict[str, Any]] | pd.DataFrame, *,
                drop: Sequence[str] = ()) -> Path:
    """Write rows as FOCUS CSV (NULL written as the literal NULL, as real exports do) or
    Parquet (typed timestamp and number columns), by the suffix of ``path``."""
    frame = pd.DataFrame(rows).drop(columns=list(drop))
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        for column, kind in _TYPED.items():
            if column in frame:
                frame[column] = (pd.to_datetime(frame[column], utc=True) if kind == "time"
                                 else pd.to_numeric(frame[column]))
        frame.to_parquet(path, index=False)
    elif path.name.endswith(".csv.gz"):
        with gzip.open(path, "wt", newline="") as handle:
            frame.to_csv(handle, index=False, na_rep="NULL")
    else:
        frame.to_csv(path, index=False, na_rep="NULL")
    return path


def key(family: str, *, platform: str = "linux", tenancy: str = "shared",
        region: str = "us-east-1", scope: str = ACCOUNT) -> str:
    """The usage key string of EC2 usage in the test account."""
    return str(UsageKey("aws", scope, "ec2", region, family, platform, tenancy))


def units_by_key(usage: FocusUsage) -> dict[str, float]:
    """Total normalised units per usage key."""
    return {str(k): float(v) for k, v in usage.hourly.groupby("usage_key")["units"].sum().items()}


def series(usage: FocusUsage, usage_key: str, column: str = "units") -> list[float]:
    """One key's hourly values, in hour order."""
    frame = usage.hourly[usage.hourly["usage_key"] == usage_key].sort_values("hour")
    return [float(v) for v in frame[column]]


# --- the real FOCUS sample -------------------------------------------------------------------

_SAMPLE_DESCRIPTION = re.compile(r"per On Demand (\w+) ([a-z0-9-]+)\.(\w+) Instance Hour")


def _sample_by_pandas() -> pd.DataFrame:
    """EC2 instance-hour rows of the sample, keyed and normalised by plain pandas."""
    raw = pd.read_csv(FOCUS_SAMPLE, dtype=str, keep_default_na=False)
    parts = raw["ChargeDescription"].str.extract(_SAMPLE_DESCRIPTION)
    rows = raw[(raw["ServiceName"] == "Amazon Elastic Compute Cloud")
               & (raw["ChargeCategory"] == "Usage") & (raw["ConsumedUnit"] == "Hours")
               & parts[1].notna()].copy()
    parts = parts.loc[rows.index]
    rows["units"] = rows["ConsumedQuantity"].astype(float) * parts[2].map(FACTORS)
    rows["cost"] = rows["ListCost"].astype(float)
    rows["usage_key"] = ("aws/" + rows["SubAccountId"] + "/ec2/" + rows["RegionId"] + "/"
                         + parts[1] + "/" + parts[0].str.lower() + "/shared")
    return rows


@needs_real_data
def test_real_sample_uses_only_ec2_instance_hours() -> None:
    expected = _sample_by_pandas()
    usage = read_focus(FOCUS_SAMPLE)

    assert usage.rows_read == 1000
    assert usage.rows_used == len(expected) == 26
    assert usage.currency == "USD"
    assert (usage.start, usage.end) == (datetime(2024, 9, 1, tzinfo=UTC),
                                        datetime(2024, 10, 1, tzinfo=UTC))
    assert list(usage.keys["usage_key"]) == sorted(expected["usage_key"].unique())
    totals = expected.groupby("usage_key")[["units", "cost"]].sum()
    assert units_by_key(usage) == pytest.approx(totals["units"].to_dict())
    rates = usage.keys.set_index("usage_key")["on_demand_rate"]
    assert rates.to_dict() == pytest.approx((totals["cost"] / totals["units"]).to_dict())
    assert dict(usage.skipped) == {}


@needs_real_data
def test_real_sample_counts_usage_covered_by_savings_plans() -> None:
    usage = read_focus(FOCUS_SAMPLE)
    covered = key("t3", region="ap-south-1", scope="18938484842")  # PricingCategory Committed
    assert units_by_key(usage)[covered] == pytest.approx(0.5)
    assert usage.hourly.loc[usage.hourly["usage_key"] == covered, "on_demand_cost"].sum() \
        == pytest.approx(0.0112)


@needs_real_data
def test_real_cur_is_rejected_as_not_focus() -> None:
    with pytest.raises(InvalidInput) as caught:
        read_focus(AWS_CUR)
    assert caught.value.source == str(AWS_CUR)
    assert "Cost and Usage Report (CUR)" in str(caught.value)
    assert "not FOCUS" in str(caught.value)


# --- known answers ---------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "factor"), FACTORS.items())
def test_size_is_normalised_with_the_aws_factor(tmp_path: Path, size: str,
                                                factor: float) -> None:
    path = write_focus(tmp_path / "f.csv", [make_row(f"m5.{size}", quantity=2.0, price=0.5)])
    usage = read_focus(path)
    assert units_by_key(usage) == {key("m5"): 2.0 * factor}
    assert usage.keys["on_demand_rate"].tolist() == pytest.approx([0.5 / factor])


def test_sizes_of_one_family_add_up_in_one_key(tmp_path: Path) -> None:
    rows = [make_row("c5.large", quantity=1.0), make_row("c5.2xlarge", quantity=0.5),
            make_row("c5.xlarge", hour=1, quantity=3.0)]
    usage = read_focus(write_focus(tmp_path / "f.csv", rows))
    assert series(usage, key("c5")) == [4.0 + 8.0, 24.0]


def test_platform_tenancy_and_scope_make_the_key(tmp_path: Path) -> None:
    rows = [
        make_row("m5.large", platform="Windows"),
        make_row("m5.large", platform="RHEL"),
        make_row("m5.large", platform="SUSE"),
        make_row("m5.large", platform="Windows with SQL Std"),
        make_row("c5.xlarge", usage_type="USW2-BoxUsage:c5.xlarge", region="us-west-2"),
        make_row("c5.large", usage_type="DedicatedUsage:c5.large",
                 ChargeDescription="$0.1 per Dedicated Usage Linux c5.large Instance Hour"),
        make_row("r5.large", account=None),
        make_row("t3.small", x_Operation="RunInstances:0002", ChargeDescription="usage"),
        make_row("m6i.large", usage_type=None, ChargeDescription="usage",
                 SkuPriceDetails='{"InstanceType": "m6i.large", "OperatingSystem": "SUSE"}'),
        make_row("m7g.large", usage_type=None,
                 ChargeDescription="USD 0.0 per Linux/UNIX (Amazon VPC), m7g.large reserved "
                 "instance applied", PricingCategory="Committed"),
    ]
    usage = read_focus(write_focus(tmp_path / "f.csv", rows))
    assert usage.rows_used == len(rows)
    assert units_by_key(usage) == {
        key("m5", platform="windows"): 4.0,
        key("m5", platform="rhel"): 4.0,
        key("m5", platform="suse"): 4.0,
        key("m5", platform="windows_sql_std"): 4.0,
        key("c5", region="us-west-2"): 8.0,
        key("c5", tenancy="dedicated"): 4.0,
        key("r5", scope="999999999999"): 4.0,
        key("t3", platform="windows"): 1.0,
        key("m6i", platform="suse"): 4.0,
        key("m7g"): 4.0,
    }
    parts = usage.keys.set_index("usage_key").loc[key("c5", region="us-west-2")]
    assert (parts["provider"], parts["scope"], parts["billing_account"], parts["service"],
            parts["region"], parts["family"], parts["platform"], parts["tenancy"]) == (
        "aws", ACCOUNT, "999999999999", "ec2", "us-west-2", "c5", "linux", "shared")
    for usage_key in usage.keys["usage_key"]:
        assert str(UsageKey.parse(usage_key)) == usage_key


def test_rows_that_are_not_instance_usage_are_left_out(tmp_path: Path) -> None:
    rows = [
        make_row("m5.large"),
        make_other_row(),
        make_row("m5.large", usage_type="SpotUsage:m5.large", PricingCategory="Dynamic"),
        make_row("c6a.4xlarge", usage_type="EBSOptimized:c6a.4xlarge",
                 ServiceCategory="Storage"),
        make_row("m5.large", ServiceName="Amazon Elastic MapReduce"),
        make_row("m5.large", ConsumedUnit="GB"),
        make_row("m5.large", ChargeCategory="Purchase"),
        make_row("m5.large", CommitmentDiscountStatus="Unused", ConsumedQuantity=None),
    ]
    usage = read_focus(write_focus(tmp_path / "f.csv", rows))
    assert (usage.rows_read, usage.rows_used) == (len(rows), 1)
    assert units_by_key(usage) == {key("m5"): 4.0}


def test_metal_sizes_are_skipped_and_counted(tmp_path: Path) -> None:
    rows = [make_row("m5.large"), make_row("m5.metal"), make_row("m5.metal", hour=1)]
    usage = read_focus(write_focus(tmp_path / "f.csv", rows))
    assert usage.rows_used == 1
    assert dict(usage.skipped) == {"m5.metal": 2}


# --- densification, spreading, folders, formats ----------------------------------------------


def test_hours_without_usage_are_zero_for_every_key(tmp_path: Path) -> None:
    rows = [make_row("m5.large", hour=h) for h in range(4)]
    rows += [make_row("c5.large", hour=1, quantity=0.5), make_other_row(hour=5)]
    usage = read_focus(write_focus(tmp_path / "f.csv", rows))
    assert (usage.start, usage.end) == (T0, T0 + timedelta(hours=6))
    assert len(usage.hourly) == 2 * 6
    assert series(usage, key("c5")) == [0.0, 2.0, 0.0, 0.0, 0.0, 0.0]
    assert series(usage, key("m5")) == [4.0, 4.0, 4.0, 4.0, 0.0, 0.0]
    assert series(usage, key("m5"), "on_demand_cost") == pytest.approx([0.1] * 4 + [0.0] * 2)
    assert str(usage.hourly["hour"].dtype) == "datetime64[ns, UTC]"
    assert list(usage.hourly.columns) == ["hour", "usage_key", "units", "on_demand_cost"]
    assert usage.hourly[["hour", "usage_key"]].equals(
        usage.hourly[["hour", "usage_key"]].sort_values(["hour", "usage_key"]))
    assert usage.hourly["hour"].iloc[0] == pd.Timestamp(T0)


def test_a_charge_covering_several_hours_is_spread_evenly(tmp_path: Path) -> None:
    rows = [make_row("m5.xlarge", hours=4, quantity=2.0, price=0.2)]
    usage = read_focus(write_focus(tmp_path / "f.csv", rows))
    assert series(usage, key("m5")) == pytest.approx([4.0] * 4)
    assert series(usage, key("m5"), "on_demand_cost") == pytest.approx([0.1] * 4)


def test_a_folder_is_read_recursively_and_summed(tmp_path: Path) -> None:
    write_focus(tmp_path / "2025-01" / "part-0.csv", [make_row("m5.large", hour=0)])
    write_focus(tmp_path / "2025-01" / "part-1.csv.gz", [make_row("m5.large", hour=1)])
    write_focus(tmp_path / "2025-02" / "part-0.parquet", [make_row("c5.large", hour=2)])
    (tmp_path / "README.txt").write_text("not billing data")
    (tmp_path / ".staging").mkdir()
    (tmp_path / ".staging" / "part-0.csv").write_text("half written")
    usage = read_focus(tmp_path)
    assert len(usage.files) == 3
    assert usage.rows_read == usage.rows_used == 3
    assert series(usage, key("m5")) == [4.0, 4.0, 0.0]
    assert series(usage, key("c5")) == [0.0, 0.0, 4.0]


def test_parquet_and_csv_give_the_same_result(tmp_path: Path) -> None:
    rows = [make_row("m5.large", hour=h, quantity=0.25 * h, price=0.096) for h in range(1, 5)]
    rows += [make_row("c5.2xlarge", hour=2, hours=3, platform="Windows"), make_other_row()]
    from_csv = read_focus(write_focus(tmp_path / "f.csv", rows))
    from_parquet = read_focus(write_focus(tmp_path / "f.parquet", rows))
    pd.testing.assert_frame_equal(from_csv.hourly, from_parquet.hourly, check_exact=True)
    pd.testing.assert_frame_equal(from_csv.keys, from_parquet.keys, check_exact=True)
    assert (from_csv.start, from_csv.end, from_csv.rows_used) == (
        from_parquet.start, from_parquet.end, from_parquet.rows_used)


def test_focus_1_3_service_provider_name_and_lower_case_headers_are_read(tmp_path: Path) -> None:
    frame = pd.DataFrame([make_row()]).rename(columns={"ProviderName": "ServiceProviderName"})
    frame.columns = [c.lower() for c in frame.columns]
    usage = read_focus(write_focus(tmp_path / "f.csv", frame))
    assert units_by_key(usage) == {key("m5"): 4.0}


def test_ninety_days_of_hourly_rows_read_in_well_under_three_seconds(tmp_path: Path) -> None:
    """41,040 rows (19 an hour for 90 days): measured about 0.45 s on 2 busy cores."""
    hours, rows_per_hour = 90 * 24, 19
    rng = np.random.default_rng(7)
    types = ["m5.large", "m5.xlarge", "c5.2xlarge", "r5.large", "t3.micro"]
    frame = pd.DataFrame({
        "hour": np.repeat(np.arange(hours), rows_per_hour),
        "type": rng.choice(types, hours * rows_per_hour),
        "account": rng.choice(["111111111111", "222222222222"], hours * rows_per_hour),
    })
    starts = T0 + pd.to_timedelta(frame["hour"], unit="h")
    rows = pd.DataFrame([make_row()] * len(frame))
    rows["ChargePeriodStart"] = starts.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    rows["ChargePeriodEnd"] = (starts + pd.Timedelta(hours=1)).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    rows["x_UsageType"] = "BoxUsage:" + frame["type"]
    rows["ChargeDescription"] = "$0.1 per On Demand Linux " + frame["type"] + " Instance Hour"
    rows["SubAccountId"] = frame["account"]
    rows["ResourceId"] = "i-" + frame.index.astype(str)
    path = write_focus(tmp_path / "big.csv", rows)

    began = time.perf_counter()
    usage = read_focus(path)
    elapsed = time.perf_counter() - began

    assert usage.rows_used == hours * rows_per_hour
    assert usage.hourly["units"].sum() == pytest.approx(
        frame["type"].str.split(".").str[1].map(FACTORS).sum())
    assert len(usage.hourly) == hours * usage.keys.shape[0]
    assert elapsed < 3.0, f"read took {elapsed:.2f} s"


# --- bad input -------------------------------------------------------------------------------


def _error(path: Path) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        read_focus(path)
    return caught.value


def test_missing_required_column_names_the_column_and_file(tmp_path: Path) -> None:
    path = write_focus(tmp_path / "f.csv", [make_row()], drop=["ListCost"])
    error = _error(path)
    assert (error.source, error.row, error.column) == (str(path), None, "ListCost")
    assert "missing required FOCUS column ListCost" in str(error)
    assert str(path) in str(error)


@pytest.mark.parametrize(("column", "value", "expected"), [
    ("ConsumedQuantity", "abc", "ConsumedQuantity 'abc' is not a number"),
    ("ListCost", "1,5", "ListCost '1,5' is not a number"),
    ("ChargePeriodStart", "yesterday", "ChargePeriodStart 'yesterday' is not a date-time"),
    ("ChargePeriodEnd", None, "ChargePeriodEnd is empty"),
    ("ConsumedQuantity", "NaN", "ConsumedQuantity 'NaN' is not a finite number"),
    ("ConsumedQuantity", -2, "ConsumedQuantity -2.0 is negative"),
    ("ConsumedQuantity", None, "ConsumedQuantity is empty on a compute usage row"),
    ("ListCost", None, "ListCost is empty on a compute usage row"),
    ("SkuPriceDetails", "{not json", "SkuPriceDetails '{not json' is not valid JSON"),
    ("RegionId", None, "RegionId is empty"),
    ("ListCost", "1.7e308", "ListCost 1.7e308 is implausibly large"),
    ("BilledCost", "-2e12", "BilledCost -2e12 is implausibly large"),
    ("ListUnitPrice", 1e13, "ListUnitPrice 10000000000000.0 is implausibly large"),
    ("ConsumedQuantity", 1e16, "ConsumedQuantity 1e+16 is implausibly large"),
])
def test_bad_value_names_file_row_and_column(tmp_path: Path, column: str, value: Any,
                                             expected: str) -> None:
    rows = [make_row(hour=0), make_row(hour=1), make_row(hour=2, **{column: value})]
    path = write_focus(tmp_path / "f.csv", rows)
    error = _error(path)
    assert (error.source, error.row, error.column) == (str(path), 3, column)
    assert expected in str(error)
    assert str(error).startswith(f"file {path}, row 3, column {column}: ")


def test_an_implausible_cost_on_a_row_that_is_not_compute_is_refused_too(tmp_path: Path) -> None:
    # 1.7e308 is a finite double, but two of them sum to inf in every report.
    rows = [make_row(), make_other_row(ListCost=1.7e308, BilledCost=1.7e308)]
    error = _error(write_focus(tmp_path / "f.csv", rows))
    assert (error.row, error.column) == (2, "ListCost")
    assert "implausibly large" in str(error) and "1e+12" in str(error)


def test_the_largest_plausible_values_are_read(tmp_path: Path) -> None:
    rows = [make_row(), make_other_row(ListCost=1e12, BilledCost=-1e12, ConsumedQuantity=1e15)]
    assert read_focus(write_focus(tmp_path / "f.csv", rows)).rows_used == 1


def test_bad_type_on_a_row_that_is_not_compute_is_still_an_error(tmp_path: Path) -> None:
    rows = [make_row(), make_other_row(BilledCost="twelve")]
    error = _error(write_focus(tmp_path / "f.csv", rows))
    assert (error.row, error.column) == (2, "BilledCost")


def test_negative_quantity_on_a_refund_that_is_not_compute_is_accepted(tmp_path: Path) -> None:
    rows = [make_row(), make_other_row(ConsumedQuantity=-1.0, ListCost=-0.045)]
    assert read_focus(write_focus(tmp_path / "f.csv", rows)).rows_used == 1


def test_first_bad_row_is_reported(tmp_path: Path) -> None:
    rows = [make_row(hour=0), make_row(hour=1, ListCost="x"), make_row(hour=2, RegionId=None)]
    error = _error(write_focus(tmp_path / "f.csv", rows))
    assert (error.row, error.column) == (2, "ListCost")


def test_charge_period_end_not_after_start_is_an_error(tmp_path: Path) -> None:
    rows = [make_row(hour=0), make_row(hour=3, ChargePeriodEnd=_iso(T0 + timedelta(hours=3)))]
    path = write_focus(tmp_path / "f.csv", rows)
    error = _error(path)
    assert (error.source, error.row, error.column) == (str(path), 2, "ChargePeriodEnd")
    assert "ChargePeriodEnd must be after ChargePeriodStart" in str(error)


def test_mixed_currencies_name_both_and_the_row_of_the_second(tmp_path: Path) -> None:
    rows = [make_row(hour=0), make_other_row(BillingCurrency="EUR"), make_row(hour=1),
            make_row(hour=2, BillingCurrency="EUR")]
    path = write_focus(tmp_path / "f.csv", rows)
    error = _error(path)
    assert (error.source, error.row, error.column) == (str(path), 4, "BillingCurrency")
    assert "USD" in str(error) and "EUR" in str(error)


def test_bad_row_in_parquet_is_numbered_like_csv(tmp_path: Path) -> None:
    rows = [make_row(hour=h) for h in range(5)]
    rows[3]["ConsumedQuantity"] = -1.0
    path = write_focus(tmp_path / "f.parquet", rows)
    error = _error(path)
    assert (error.source, error.row, error.column) == (str(path), 4, "ConsumedQuantity")


def test_error_in_second_file_of_a_folder_names_that_file(tmp_path: Path) -> None:
    write_focus(tmp_path / "a.csv", [make_row(hour=0)])
    second = write_focus(tmp_path / "b.csv", [make_row(hour=1), make_row(hour=2, RegionId=None)])
    error = _error(tmp_path)
    assert (error.source, error.row, error.column) == (str(second), 2, "RegionId")


def test_mixed_currencies_across_files_name_the_second_file(tmp_path: Path) -> None:
    write_focus(tmp_path / "a.csv", [make_row(hour=0)])
    second = write_focus(tmp_path / "b.csv", [make_row(hour=1, BillingCurrency="EUR")])
    error = _error(tmp_path)
    assert (error.source, error.row, error.column) == (str(second), 1, "BillingCurrency")
    assert "USD" in str(error) and "EUR" in str(error)


def test_the_same_data_in_two_files_is_an_overlap(tmp_path: Path) -> None:
    first = write_focus(tmp_path / "a" / "export.csv", [make_row(hour=h) for h in range(3)])
    copy = tmp_path / "b" / "export.csv"
    copy.parent.mkdir()
    shutil.copy(first, copy)
    error = _error(tmp_path)
    assert (error.source, error.row) == (str(copy), 1)
    assert str(first) in str(error) and "overlap" in str(error)


@pytest.mark.parametrize(("content", "expected"), [
    ("", "the file is empty"),
    ("name,age\nann,3\nbob,4\n", "not a FOCUS file: none of its columns"),
])
def test_empty_and_random_csv_are_rejected(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "f.csv"
    path.write_text(content)
    error = _error(path)
    assert (error.source, error.row, error.column) == (str(path), None, None)
    assert expected in str(error)


def test_header_only_focus_file_has_no_data_rows(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text(",".join(REQUIRED) + "\n")
    error = _error(path)
    assert (error.source, error.row, error.column) == (str(path), None, None)
    assert "no data rows" in str(error)


def test_file_without_compute_usage_has_nothing_to_optimise(tmp_path: Path) -> None:
    path = write_focus(tmp_path / "f.csv", [make_other_row(hour=h) for h in range(3)])
    error = _error(path)
    assert error.source == str(path)
    assert "nothing to optimise" in str(error)


def test_unknown_path_and_unsupported_file_are_rejected(tmp_path: Path) -> None:
    assert "no such file" in str(_error(tmp_path / "missing.csv"))
    (tmp_path / "f.json").write_text("{}")
    assert "unsupported file type" in str(_error(tmp_path / "f.json"))
    (tmp_path / "empty").mkdir()
    assert "no FOCUS files" in str(_error(tmp_path / "empty"))


def test_malformed_csv_is_reported_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    write_focus(path, [make_row()])
    with path.open("a") as handle:
        handle.write('"unterminated,1,2\n')
    error = _error(path)
    assert error.source == str(path)
    assert "not well-formed CSV" in str(error)


def test_a_field_longer_than_the_line_limit_reports_the_limit_and_its_row(
    tmp_path: Path
) -> None:
    rows = [make_row(hour=0), make_row(hour=1), make_row(hour=2, ChargeDescription="x" * 3_000_000)]
    path = write_focus(tmp_path / "f.csv", rows)
    error = _error(path)
    assert (error.source, error.row) == (str(path), 3)
    assert "more than the 2,000,000 bytes a line may have" in str(error)
    assert "a quote is not closed" not in str(error)


def test_row_with_extra_fields_deep_in_a_large_csv_names_its_row(tmp_path: Path) -> None:
    path = write_focus(tmp_path / "f.csv", [make_row(hour=h % 24) for h in range(30_000)])
    lines = path.read_text().splitlines()
    lines[25_000] += ",extra"  # data row 25,000 (line 1 is the header)
    path.write_text("\n".join(lines) + "\n")
    error = _error(path)
    assert (error.source, error.row) == (str(path), 25_000)
    assert "expected 19 fields as in the header, found 20" in str(error)
