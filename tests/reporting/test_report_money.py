"""Rounding at the edge: rows of a group always add up to the group's total to the cent."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from api.reports.schemas import ReportFormat
from api.reports.service import Rendering, render
from reporting.common import Report
from reporting.money import allocate_cents, cents_of, group_cents, round_cents, round_frame

amounts = st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1,
                   max_size=40)


def test_round_cents_is_half_up_on_the_decimal_value() -> None:
    assert round_cents(0.125) == 13
    assert round_cents(-0.125) == -13
    assert round_cents(157.95499999999998) == 15796  # the float sum of amounts making 157.955
    assert round_cents(2.675) == 268


@given(amounts)
def test_allocated_cents_add_up_to_the_rounded_total(values: list[float]) -> None:
    cents = allocate_cents(values)
    assert int(cents.sum()) == round_cents(float(np.sum(values)))
    # Each row moves by less than a cent from its exact value.
    assert np.all(np.abs(cents - np.asarray(values) * 100) < 1.0 + 1e-6)


@given(amounts, st.integers(min_value=1, max_value=5))
def test_group_cents_is_allocate_cents_per_group(values: list[float], groups: int) -> None:
    array = np.asarray(values)
    codes = np.arange(array.size, dtype=np.int64) % groups
    cents = group_cents(array, codes)
    for group in range(min(groups, array.size)):
        assert np.array_equal(cents[codes == group], allocate_cents(array[codes == group]))


def test_round_frame_keeps_unknown_amounts_unknown() -> None:
    frame = pd.DataFrame({"period": ["a", "a", "a", "b"],
                          "cost": [0.333, 0.333, 0.334, np.nan]})
    out = round_frame(frame, ["cost"], groups=["period"])
    assert list(cents_of(out["cost"][:3])) == [33, 33, 34]
    assert np.isnan(out["cost"].iloc[3])


def _unknown_and_overflowed() -> Report:
    """A report whose figures include an unknown (NaN) and overflowed sums (±inf)."""
    frame = pd.DataFrame({
        "period": ["2026-01", "2026-02", "2026-03"],
        "on_demand_cost": [12.34, np.inf, np.nan],
        "amortized_cost": [-np.inf, 1.5, 2.0],
        "esr_billing": [0.25, np.inf, np.nan],
    })
    return Report(name="savings", columns=tuple(frame.columns), frame=frame, parameters={},
                  currency="USD", money=("on_demand_cost", "amortized_cost"))


def test_csv_never_holds_nan_or_inf() -> None:
    text = _unknown_and_overflowed().to_csv()
    assert not re.search(r"nan|inf", text, re.IGNORECASE), text
    assert text.splitlines() == ["period,on_demand_cost,amortized_cost,esr_billing",
                                 "2026-01,12.34,,0.25", "2026-02,,1.50,", "2026-03,,2.00,"]


def test_json_never_holds_nan_or_inf_and_an_overflowed_total_is_unknown() -> None:
    report = _unknown_and_overflowed()
    assert report.totals() == {"on_demand_cost": None, "amortized_cost": None}
    rendered = render(report, Rendering(format=ReportFormat.JSON, limit=10, offset=0))

    def refuse(token: str) -> None:
        raise AssertionError(f"{token} in the JSON")

    body = json.loads(bytes(rendered.body), parse_constant=refuse)
    assert [row["on_demand_cost"] for row in body["rows"]] == [12.34, None, None]
    assert json.loads(json.dumps(report.to_dict(), allow_nan=False))["totals"] == report.totals()
