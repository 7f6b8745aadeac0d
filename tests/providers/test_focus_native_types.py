"""Parquet numbers and timestamps are read in DuckDB's own types, not as text re-parsed, and a
bad row is still named by file, row and column; a column that any file holds as text is read
as text from every file."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest
from test_focus import make_row, write_focus

from core.errors import InvalidInput
from providers.focus import read_focus
from providers.focus.reader import _describe, _native_columns


def _error(path: Path) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        read_focus(path)
    return caught.value


def _native(*paths: Path) -> dict[str, str]:
    con = duckdb.connect(":memory:")
    try:
        return _native_columns([_describe(con, p, (), None) for p in paths])
    finally:
        con.close()


def test_typed_parquet_columns_are_loaded_natively(tmp_path: Path) -> None:
    path = write_focus(tmp_path / "f.parquet", [make_row(hour=h) for h in range(3)])
    assert _native(path) == {
        "ConsumedQuantity": "DOUBLE", "ListUnitPrice": "DOUBLE", "ListCost": "DOUBLE",
        "BilledCost": "DOUBLE", "ChargePeriodStart": "TIMESTAMPTZ",
        "ChargePeriodEnd": "TIMESTAMPTZ"}


def test_a_column_any_file_holds_as_text_is_read_as_text(tmp_path: Path) -> None:
    parquet = write_focus(tmp_path / "a.parquet", [make_row(hour=0)])
    csv = write_focus(tmp_path / "b.csv", [make_row(hour=1)])
    assert _native(parquet, csv) == {}
    assert _native(csv) == {}


def test_a_mixed_folder_reads_as_the_same_rows_in_csv(tmp_path: Path) -> None:
    rows = [make_row(hour=h, quantity=0.5 + h / 7) for h in range(6)]
    write_focus(tmp_path / "mixed" / "a.parquet", rows[:3])
    write_focus(tmp_path / "mixed" / "b.csv", rows[3:])
    write_focus(tmp_path / "csv" / "a.csv", rows[:3])
    write_focus(tmp_path / "csv" / "b.csv", rows[3:])
    mixed, text = read_focus(tmp_path / "mixed"), read_focus(tmp_path / "csv")
    pd.testing.assert_frame_equal(mixed.hourly, text.hourly, check_exact=True)
    pd.testing.assert_frame_equal(mixed.keys, text.keys, check_exact=True)


def test_an_infinite_typed_cost_is_named_by_row(tmp_path: Path) -> None:
    rows = [make_row(hour=h) for h in range(5)]
    rows[2]["ListCost"] = float("inf")
    path = write_focus(tmp_path / "f.parquet", rows)
    error = _error(path)
    assert (error.source, error.row, error.column) == (str(path), 3, "ListCost")
    assert "inf" in str(error) and "not a finite number" in str(error)


def test_a_typed_period_that_ends_before_it_starts_is_named_by_row(tmp_path: Path) -> None:
    rows = [make_row(hour=h) for h in range(4)]
    rows[1]["ChargePeriodEnd"] = rows[1]["ChargePeriodStart"]
    path = write_focus(tmp_path / "f.parquet", rows)
    error = _error(path)
    assert (error.source, error.row, error.column) == (str(path), 2, "ChargePeriodEnd")
    assert " to " in str(error)


def test_parquet_numbers_written_as_text_are_parsed_and_checked(tmp_path: Path) -> None:
    rows = [make_row(hour=h) for h in range(4)]
    frame = pd.DataFrame(rows)
    frame["ConsumedQuantity"] = frame["ConsumedQuantity"].astype(str)
    frame.loc[2, "ConsumedQuantity"] = "lots"
    path = tmp_path / "f.parquet"
    frame.to_parquet(path, index=False)
    assert "ConsumedQuantity" not in _native(path)
    error = _error(path)
    assert (error.source, error.row, error.column) == (str(path), 3, "ConsumedQuantity")
    assert "'lots' is not a number" in str(error)
