"""The FOCUS reduction on Spark (local mode) equals DuckDB's, to the cent and to the unit.

Marked ``spark``: the default suite leaves them out (``-m 'not slow and not spark'``), and CI
runs them in a step of their own. Skipped with the reason when pyspark or Java is missing.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from focus_factories import aws_row, write

from core.errors import InvalidInput
from providers.azure.usage import azure_rules
from providers.focus.costs import read_bill_lines, read_focus_costs, read_focus_periods
from providers.focus.reader import EC2_RULES, NoUsageFound, VmRules, read_focus
from providers.gcp.usage import gcp_rules
from providers.oci.usage import oci_rules

_JAVA = shutil.which("java") or (os.environ.get("JAVA_HOME") and
                                 Path(os.environ["JAVA_HOME"], "bin", "java").exists())
pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(importlib.util.find_spec("pyspark") is None,
                       reason="pyspark is not installed: pip install -e '.[spark]'"),
    pytest.mark.skipif(not _JAVA, reason="Spark needs a Java runtime (17 or 21) on PATH"),
]

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "providers" / "sample" / "data" / "usage.parquet"
FIXTURES = ROOT / "tests" / "data" / "focus"
CENT = 0.005
"""Half a cent: two costs that round to the same cent differ by less."""
UNIT = 1e-9
"""Normalised units agree to far better than one unit."""


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from providers.focus.spark import spark_session

    session = spark_session("local[2]", partitions=2)
    yield session
    session.catalog.clearCache()


def _spark(spark: Any, path: Path | str, rules: VmRules) -> tuple[Any, pd.DataFrame]:
    from providers.focus.spark import SparkReduction

    reduction = SparkReduction(spark, str(path))
    try:
        result = reduction.usage(rules)
        return result, reduction.bill_lines()
    finally:
        reduction.close()


def _assert_frames_equal(got: pd.DataFrame, expected: pd.DataFrame, tolerance: Callable[[str],
                         float]) -> None:
    """Same columns, same non-numeric values row by row, numbers within the tolerance."""
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected)
    numbers = [c for c in got.columns if got[c].dtype.kind == "f"]
    others = [c for c in got.columns if c not in numbers]
    assert got[others].astype(str).equals(expected[others].astype(str))
    for column in numbers:
        a, b = got[column].to_numpy(float), expected[column].to_numpy(float)
        assert np.array_equal(np.isnan(a), np.isnan(b)), column
        assert np.nanmax(np.abs(a - b), initial=0.0) < tolerance(column), column


def _money(column: str) -> float:
    return UNIT if column == "units" else CENT


def _assert_same_as_duckdb(spark: Any, path: Path, rules: VmRules) -> None:
    result, lines = _spark(spark, path, rules)
    duck = read_focus(path, rules)
    usage = result.usage
    assert (usage.rows_read, usage.rows_used, usage.currency, usage.start, usage.end) == (
        duck.rows_read, duck.rows_used, duck.currency, duck.start, duck.end)
    assert dict(usage.skipped) == dict(duck.skipped)
    assert usage.hourly["units"].sum() > 0
    _assert_frames_equal(usage.hourly, duck.hourly, _money)
    _assert_frames_equal(usage.keys, duck.keys, lambda _: 1e-9)
    _assert_frames_equal(result.costs, read_focus_costs(path, rules), _money)
    periods = read_focus_periods(path, rules)
    _assert_frames_equal(result.periods.hours, periods.hours, _money)
    assert result.periods.hours["hour"].dtype == periods.hours["hour"].dtype
    _assert_frames_equal(lines, read_bill_lines(path), _money)


def test_sample_reduces_on_spark_as_on_duckdb(spark: Any) -> None:
    _assert_same_as_duckdb(spark, SAMPLE, EC2_RULES)


@pytest.mark.parametrize(("fixture", "rules"), [
    ("azure-1.2", azure_rules), ("gcp-1.2", gcp_rules), ("oci-1.0-preview", oci_rules),
])
def test_every_clouds_rules_reduce_on_spark_as_on_duckdb(spark: Any, fixture: str,
                                                         rules: Callable[[], VmRules]) -> None:
    _assert_same_as_duckdb(spark, FIXTURES / fixture, rules())


def test_a_charge_over_several_hours_and_days_is_spread_alike(spark: Any,
                                                              tmp_path: Path) -> None:
    rows = [aws_row(hour=0), aws_row("m5.xlarge", hour=3),
            {**aws_row(hour=5), "ChargePeriodEnd": "2025-01-03T07:30:00Z"}]
    path = write(tmp_path / "spread.csv", rows)
    _assert_same_as_duckdb(spark, path, EC2_RULES)


@pytest.mark.parametrize(("column", "value", "expected"), [
    ("ConsumedQuantity", "abc", "ConsumedQuantity 'abc' is not a number"),
    ("ListCost", "1,5", "ListCost '1,5' is not a number"),
    ("ChargePeriodStart", "yesterday", "ChargePeriodStart 'yesterday' is not a date-time"),
    ("ChargePeriodEnd", "", "ChargePeriodEnd is empty"),
    ("ConsumedQuantity", "NaN", "ConsumedQuantity 'NaN' is not a finite number"),
    ("ConsumedQuantity", "-2", "is negative on a compute usage row"),
    ("ConsumedQuantity", "", "ConsumedQuantity is empty on a compute usage row"),
    ("ListCost", "", "ListCost is empty on a compute usage row"),
    ("RegionId", "", "RegionId is empty"),
    ("ListCost", "1.7e308", "is implausibly large"),
    ("BilledCost", "-2e12", "BilledCost -2e12 is implausibly large"),
    ("RegionId", "us/east", "RegionId 'us/east' contains '/'"),
])
def test_bad_input_fails_on_spark_naming_the_file_and_column(
        spark: Any, tmp_path: Path, column: str, value: str, expected: str) -> None:
    bad: dict[str, Any] = {column: value}
    rows = [aws_row(hour=0), aws_row(hour=1), aws_row(hour=2, **bad)]
    path = write(tmp_path / "bad.csv", rows)
    with pytest.raises(InvalidInput) as duck:
        read_focus(path)
    with pytest.raises(InvalidInput) as raised:
        _spark(spark, path, EC2_RULES)
    error = raised.value
    assert (error.source, error.column) == (str(path), column) == (duck.value.source,
                                                                   duck.value.column)
    assert expected in str(error)
    assert duck.value.row == 3  # DuckDB names the row; Spark has no row order to name


def test_mixed_currencies_fail_on_spark(spark: Any, tmp_path: Path) -> None:
    path = write(tmp_path / "eur.csv", [aws_row(hour=0), aws_row(hour=1, BillingCurrency="EUR")])
    with pytest.raises(InvalidInput, match="mixed billing currencies EUR and USD") as raised:
        _spark(spark, path, EC2_RULES)
    assert raised.value.column == "BillingCurrency"


def test_a_file_that_is_not_focus_is_refused_as_duckdb_refuses_it(spark: Any,
                                                                  tmp_path: Path) -> None:
    path = tmp_path / "cur.csv"
    path.write_text("lineItem/UsageStartDate,lineItem/UsageAmount\n2024-01-01,1\n")
    with pytest.raises(InvalidInput) as duck:
        read_focus(path)
    with pytest.raises(InvalidInput) as raised:
        _spark(spark, path, EC2_RULES)
    assert str(raised.value) == str(duck.value)
    assert "legacy AWS Cost and Usage Report" in str(raised.value)


def test_an_export_without_vm_usage_has_nothing_to_optimise(spark: Any, tmp_path: Path) -> None:
    path = write(tmp_path / "nat.csv", [aws_row(x_UsageType="NatGateway-Hours",
                                                ChargeDescription="$0.045 per NAT Gateway")])
    with pytest.raises(NoUsageFound, match="no EC2 instance usage found"):
        _spark(spark, path, EC2_RULES)


def test_an_unknown_table_names_itself(spark: Any) -> None:
    with pytest.raises(InvalidInput, match="Spark cannot read it") as raised:
        _spark(spark, "no_such_database.focus_export", EC2_RULES)
    assert raised.value.source == "no_such_database.focus_export"


def test_a_catalog_table_is_read_like_a_file(spark: Any) -> None:
    spark.read.parquet(str(SAMPLE)).createOrReplaceTempView("focus_export")
    result, _ = _spark(spark, "focus_export", EC2_RULES)
    duck = read_focus(SAMPLE)
    _assert_frames_equal(result.usage.hourly, duck.hourly, _money)


def test_ingest_on_spark_stores_what_ingest_on_duckdb_stores(spark: Any,
                                                            tmp_path: Path) -> None:
    from core.db import repository
    from core.db.session import create_engine_for, migrate, session_scope
    from core.settings import sqlite_url
    from ladder import pipeline
    from reporting.bill_lines import load_bill_lines
    from reporting.repository import load_cost_lines

    stored = []
    for reducer in ("duckdb", "spark"):
        url = sqlite_url(tmp_path / f"{reducer}.db")
        migrate(url)
        engine = create_engine_for(url)
        try:
            outcome = pipeline.ingest(engine, SAMPLE, provider="aws") if reducer == "duckdb" \
                else pipeline.ingest_bill(engine, SAMPLE, provider="aws", reducer="spark")[0]
            with session_scope(engine) as session:
                stored.append((outcome, repository.load_usage(session, outcome.dataset_id),
                               load_cost_lines(session, outcome.dataset_id),
                               load_bill_lines(session, outcome.dataset_id)))
        finally:
            engine.dispose()
    (duck, *duck_frames), (on_spark, *spark_frames) = stored
    assert (on_spark.keys, on_spark.hours, on_spark.rows_used, on_spark.start) == (
        duck.keys, duck.hours, duck.rows_used, duck.start)
    for got, expected in zip(spark_frames, duck_frames, strict=True):
        _assert_frames_equal(got.drop(columns=["id", "dataset_id"], errors="ignore"),
                             expected.drop(columns=["id", "dataset_id"], errors="ignore"),
                             _money)
