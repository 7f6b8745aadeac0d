"""Reading the backtest's inputs: each invalid trace, catalog or log gives its clear error."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from backtest_factories import (
    C5,
    M5,
    catalog,
    hour,
    steady_rows,
    trace,
    unit,
    write_catalog,
    write_csv,
)

from core.catalog import load_catalog
from core.errors import InvalidInput
from optimizer.backtest.policies import NoCommitments
from optimizer.backtest.purchases import (
    Purchase,
    read_purchase_log,
    write_purchase_log,
)
from optimizer.backtest.runner import BacktestConfig, run_backtest
from optimizer.backtest.trace import read_trace, write_trace


def _error(path: Path) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        read_trace(path)
    return caught.value


# The trace --------------------------------------------------------------------------


def test_a_valid_trace_is_read_into_an_hourly_matrix(tmp_path: Path) -> None:
    rows = [[hour(h), key, h + (100 if key == C5 else 0)] for h in range(3) for key in (C5, M5)]
    got = read_trace(write_csv(tmp_path / "t.csv", rows[::-1]))  # any row order
    assert got.key_ids == (M5, C5)  # order of first appearance (the file is reversed)
    assert got.hours == 3
    assert got.start.isoformat() == "2024-01-01T00:00:00+00:00"
    np.testing.assert_array_equal(got.units, [[0, 100], [1, 101], [2, 102]])
    assert not got.units.flags.writeable


def test_write_then_read_gives_the_same_trace(tmp_path: Path) -> None:
    original = trace([[1.5, 2.0], [0.0, 3.25]], keys=(M5, C5))
    write_trace(tmp_path / "t.csv", original)
    again = read_trace(tmp_path / "t.csv")
    assert again.key_ids == original.key_ids and again.start == original.start
    np.testing.assert_array_equal(again.units, original.units)


def test_a_missing_hour_of_one_key_is_an_error_not_zero(tmp_path: Path) -> None:
    rows = [r for r in steady_rows(4, (M5, C5)) if not (r[0] == hour(2) and r[1] == C5)]
    error = _error(write_csv(tmp_path / "t.csv", rows))
    assert error.source == str(tmp_path / "t.csv") and error.column == "usage_key"
    assert f"usage_key '{C5}' has no row for hour {hour(2)}" in str(error)
    assert "not zero" in str(error)


def test_hours_missing_for_every_key_are_not_contiguous(tmp_path: Path) -> None:
    rows = [r for r in steady_rows(6) if r[0] not in (hour(2), hour(3))]
    error = _error(write_csv(tmp_path / "t.csv", rows))
    assert error.row == 4 and error.column == "hour"  # the row of hour 4, after the gap
    assert f"not contiguous: no row for any key from {hour(2)} to {hour(3)} (2 hours)" \
        in str(error)


def test_a_duplicate_row_names_both_rows(tmp_path: Path) -> None:
    rows = [*steady_rows(3), [hour(1), M5, 7]]
    error = _error(write_csv(tmp_path / "t.csv", rows))
    assert error.row == 5 and "duplicate row" in str(error) and "first at row 3" in str(error)


@pytest.mark.parametrize(("units", "shown"), [(-1, "'-1'"), ("nan", "'nan'"), ("", "''"),
                                              ("inf", "'inf'"), ("ten", "'ten'")])
def test_units_must_be_a_finite_number_not_negative(tmp_path: Path, units: object,
                                                    shown: str) -> None:
    rows = steady_rows(3)
    rows[1][2] = units
    error = _error(write_csv(tmp_path / "t.csv", rows))
    assert (error.row, error.column) == (3, "units")
    assert f"units must be a finite number >= 0, got {shown}" in str(error)


@pytest.mark.parametrize(("stamp", "message"), [
    ("2024-01-01T00:30:00Z", "is not the start of an hour"),
    ("2024-01-01T01:00:00", "has no UTC offset"),
    ("yesterday", "is not an ISO 8601 timestamp"),
])
def test_bad_timestamps_name_row_and_column(tmp_path: Path, stamp: str, message: str) -> None:
    rows = steady_rows(3)
    rows[2][0] = stamp
    error = _error(write_csv(tmp_path / "t.csv", rows))
    assert (error.row, error.column) == (4, "hour") and message in str(error)


def test_other_utc_offsets_are_converted(tmp_path: Path) -> None:
    rows = [["2024-01-01T01:00:00+01:00", M5, 1], ["2024-01-01T01:00:00Z", M5, 2]]
    got = read_trace(write_csv(tmp_path / "t.csv", rows))
    assert got.start.isoformat() == "2024-01-01T00:00:00+00:00"
    np.testing.assert_array_equal(got.units[:, 0], [1, 2])


@pytest.mark.parametrize(("header", "message"), [
    ("hour,key,units", "missing usage_key; unexpected 'key'"),
    ("hour,usage_key", "missing units"),
    ("hour,usage_key,units,region", "unexpected 'region'"),
])
def test_a_bad_header_is_named(tmp_path: Path, header: str, message: str) -> None:
    error = _error(write_csv(tmp_path / "t.csv", steady_rows(2), header=header))
    assert error.row == 1 and "bad header" in str(error) and message in str(error)


def test_columns_may_come_in_any_order(tmp_path: Path) -> None:
    rows = [[r[1], r[2], r[0]] for r in steady_rows(2)]
    got = read_trace(write_csv(tmp_path / "t.csv", rows, header="usage_key,units,hour"))
    np.testing.assert_array_equal(got.units[:, 0], [10, 10])


def test_a_row_with_a_missing_field_is_named(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", steady_rows(2))
    path.write_text(path.read_text() + f"{hour(2)},{M5}\n")
    error = _error(path)
    assert error.row == 4 and "expected 3 fields, got 2" in str(error)


def test_an_empty_file_and_a_header_only_file_are_errors(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("")
    assert "the file is empty" in str(_error(tmp_path / "empty.csv"))
    (tmp_path / "header.csv").write_text("hour,usage_key,units\n")
    assert "no rows" in str(_error(tmp_path / "header.csv"))
    assert "does not exist" in str(_error(tmp_path / "missing.csv"))


def test_a_key_the_catalog_does_not_price_is_named_with_its_first_row(tmp_path: Path) -> None:
    rows = [[hour(h), key, 1] for h in range(2) for key in (M5, "aws/us-east-1/ec2/x9/linux")]
    got = read_trace(write_csv(tmp_path / "t.csv", rows))
    with pytest.raises(InvalidInput) as caught:
        got.for_catalog(catalog([unit("ri", {M5: 1.0})]), catalog_source="prices.json")
    assert (caught.value.row, caught.value.column) == (3, "usage_key")
    assert "'aws/us-east-1/ec2/x9/linux' is not priced in prices.json" in str(caught.value)


def test_catalog_keys_without_usage_are_left_out_of_the_replay() -> None:
    prices = catalog([unit("ri", {M5: 1.0, C5: 2.0})], {C5: 0.5, M5: 1.0})
    got = trace([[3.0]], keys=(M5,)).for_catalog(prices)
    assert got.key_ids == (M5,)
    result = run_backtest(trace([[3.0]] * 6), prices, NoCommitments(),
                          BacktestConfig(cadence_hours=1, warmup_hours=1))
    assert result.score.on_demand_equivalent == pytest.approx(15.0)


# The catalog ------------------------------------------------------------------------


def _raw_catalog(**offering: object) -> dict[str, object]:
    return {"version": 1, "currency": "USD",
            "keys": [{"usage_key": M5, "on_demand_rate": 1.0}],
            "offerings": [{"offering_id": "sp", "shape": "spend", "term_hours": 4,
                           "upfront_fraction": 0.0, "order": 1, **offering}]}


@pytest.mark.parametrize(("offering", "message"), [
    ({"rates": {}}, "rates must be a non-empty object"),
    ({"rates": {M5: 0.0}}, "must be > 0"),
    ({"shape": "unit", "upfront": 0.0, "hourly": 0.5, "covers": {}},
     "covers must be a non-empty object"),
])
def test_an_offering_without_rates_is_an_error(tmp_path: Path, offering: dict[str, object],
                                               message: str) -> None:
    path = write_catalog(tmp_path / "c.json", _raw_catalog(**offering))
    with pytest.raises(InvalidInput, match=message) as caught:
        load_catalog(path)
    assert caught.value.source == str(path)


def test_a_catalog_that_is_not_json_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"version": 1, "keys": [')
    with pytest.raises(InvalidInput, match="not valid JSON"):
        load_catalog(path)


def test_no_offering_whose_term_fits_after_the_warmup_is_an_error() -> None:
    prices = catalog([unit("ri-8h", {M5: 1.0}, term_hours=8)])
    with pytest.raises(InvalidInput) as caught:
        run_backtest(trace([10.0] * 10), prices, NoCommitments(),
                     BacktestConfig(cadence_hours=1, warmup_hours=4))
    assert "no offering's term fits after the warm-up: the shortest term is 8 h, the trace " \
        "has 10 h and the warm-up 4 h" in str(caught.value)


def test_allowed_offerings_must_exist_and_cover_a_key_of_the_trace() -> None:
    prices = catalog([unit("ri", {M5: 1.0}), unit("ri-c5", {C5: 1.0})], {M5: 1.0, C5: 1.0})
    config = BacktestConfig(cadence_hours=1, warmup_hours=1, allowed=("nope",))
    with pytest.raises(InvalidInput, match="unknown offering_id"):
        run_backtest(trace([1.0] * 6), prices, NoCommitments(), config)
    config = BacktestConfig(cadence_hours=1, warmup_hours=1, allowed=("ri-c5",))
    with pytest.raises(InvalidInput, match="no allowed offering covers any usage_key"):
        run_backtest(trace([1.0] * 6), prices, NoCommitments(), config)


# The purchase log -------------------------------------------------------------------


def test_a_purchase_log_round_trips(tmp_path: Path) -> None:
    usage, prices = trace([1.0] * 6), catalog([unit("ri", {M5: 1.0})])
    bought = [Purchase(1, "ri", 2.5), Purchase(2, "ri", 1.0)]
    write_purchase_log(tmp_path / "p.json", bought, usage)
    data = json.loads((tmp_path / "p.json").read_text())
    assert data["purchases"][0] == {"hour": hour(1), "offering_id": "ri", "quantity": 2.5}
    assert read_purchase_log(tmp_path / "p.json", trace=usage, catalog=prices) == bought


@pytest.mark.parametrize(("document", "message"), [
    ("[1, 2", "not valid JSON"),
    ('{"buys": []}', 'a purchase log must be an object {"purchases": [...]}'),
    ('{"purchases": [{"hour": "2024-01-01T01:00:00Z", "offering_id": "x", "quantity": 1}]}',
     "purchases[0].offering_id 'x' is not in the catalog"),
    ('{"purchases": [{"hour": "2024-01-01T03:00:00Z", "offering_id": "ri", "quantity": 1}]}',
     "ends after the trace"),
    ('{"purchases": [{"hour": "2023-12-31T23:00:00Z", "offering_id": "ri", "quantity": 1}]}',
     "is outside the trace"),
    ('{"purchases": [{"hour": "2024-01-01T01:00:00Z", "offering_id": "ri", "quantity": -1}]}',
     "quantity must be a finite number > 0"),
])
def test_an_invalid_purchase_log_is_named(tmp_path: Path, document: str, message: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(document)
    with pytest.raises(InvalidInput, match=re.escape(message)):
        read_purchase_log(path, trace=trace([1.0] * 6), catalog=catalog([unit("ri", {M5: 1.0})]))
