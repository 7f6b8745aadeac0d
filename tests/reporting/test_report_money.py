"""Rounding at the edge: rows of a group always add up to the group's total to the cent."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

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
