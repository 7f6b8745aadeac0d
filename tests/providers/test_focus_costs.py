"""FOCUS cost lines: daily costs per usage key, tag set and commitment, as read_focus keys them."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_focus import ACCOUNT, make_other_row, make_row, write_focus

from core.errors import InvalidInput
from providers.focus import read_focus
from providers.focus.costs import COST_COLUMNS, read_focus_costs
from providers.sample import usage_path

KEY = f"aws/{ACCOUNT}/ec2/us-east-1/m5/linux/shared"


def test_sample_lines_equal_pandas_over_the_focus_rows() -> None:
    path = usage_path()
    lines = read_focus_costs(path)
    assert list(lines.columns) == list(COST_COLUMNS)
    rows = pd.read_parquet(path)
    rows["day"] = rows["ChargePeriodStart"].dt.tz_convert("UTC").dt.date
    rows["tags"] = rows["Tags"].map(lambda t: json.dumps(json.loads(t), sort_keys=True,
                                                         separators=(",", ":")))
    expected = rows.groupby(["day", "tags"])[["ListCost", "BilledCost", "EffectiveCost",
                                               "ContractedCost"]].sum()
    got = lines.groupby(["day", "tags"])[["list_cost", "billed_cost", "effective_cost",
                                          "contracted_cost"]].sum()
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-12)
    assert lines["commitment_discount_id"].isna().all()


def test_units_per_key_and_day_equal_the_hourly_reader() -> None:
    path = usage_path()
    hourly = read_focus(path).hourly
    hourly["day"] = hourly["hour"].dt.date
    expected = hourly.groupby(["day", "usage_key"])["units"].sum()
    got = read_focus_costs(path).groupby(["day", "usage_key"])["units"].sum()
    pd.testing.assert_series_equal(got, expected.loc[got.index], check_names=False)
    assert expected.drop(got.index).eq(0).all()


def test_a_charge_over_two_days_is_spread_by_overlap_and_tags_are_canonical(
        tmp_path: Path) -> None:
    rows = [
        make_row(hour=12, hours=24, quantity=1.0, price=0.1, Tags='{"b": "2", "a": 1}',
                 EffectiveCost=1.2, ContractedCost=2.4, CommitmentDiscountId="ri-1"),
        make_row(hour=0, Tags='{"a": 1, "b": "2"}', EffectiveCost=0.05, ContractedCost=0.1,
                 CommitmentDiscountId="ri-1"),
        make_row(hour=1, Tags="not json", EffectiveCost=None, ContractedCost=None,
                 CommitmentDiscountId=None),
        make_other_row(hour=2, Tags="{}"),
    ]
    lines = read_focus_costs(write_focus(tmp_path / "focus.csv", rows))
    tagged = lines[lines["tags"] == '{"a":"1","b":"2"}'].set_index("day")
    # The 24-hour row ($0.10) is half on each day; the one-hour row adds $0.10 to the first.
    assert tagged.loc[date(2025, 1, 1), "list_cost"] == pytest.approx(0.05 + 0.1)
    assert tagged.loc[date(2025, 1, 2), "list_cost"] == pytest.approx(0.05)
    assert tagged.loc[date(2025, 1, 2), "effective_cost"] == pytest.approx(0.6)
    untagged = lines[lines["tags"] == "{}"]
    assert len(untagged) == 1 and np.isnan(untagged["effective_cost"].iloc[0])
    assert set(lines["usage_key"]) == {KEY}


def test_files_without_the_optional_cost_columns_give_unknown_costs(tmp_path: Path) -> None:
    lines = read_focus_costs(write_focus(tmp_path / "focus.parquet", [make_row()]))
    assert lines["effective_cost"].isna().all() and lines["contracted_cost"].isna().all()
    assert lines["tags"].tolist() == ["{}"]


def test_bad_input_is_refused_as_read_focus_refuses_it(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        read_focus_costs(write_focus(tmp_path / "focus.csv", [make_row(ConsumedQuantity="x")]))
    with pytest.raises(InvalidInput):
        read_focus_costs([])


@pytest.mark.parametrize(("value", "expected"), [
    (1.7e308, "EffectiveCost 1.7e+308 is implausibly large"),
    ("inf", "EffectiveCost 'inf' is not a finite number"),
    ("lots", "EffectiveCost 'lots' is not a number"),
])
def test_implausible_effective_costs_are_refused_with_the_row(tmp_path: Path, value: object,
                                                              expected: str) -> None:
    rows = [make_row(hour=0, EffectiveCost=0.1), make_row(hour=1, EffectiveCost=value)]
    path = write_focus(tmp_path / "f.csv", rows)
    with pytest.raises(InvalidInput) as caught:
        read_focus_costs(path)
    assert (caught.value.source, caught.value.row, caught.value.column) == (
        str(path), 2, "EffectiveCost")
    assert expected in str(caught.value)
