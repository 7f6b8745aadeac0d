"""Hourly values packed per day (core.db.packed) come back exactly as they went in."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.db.packed import (
    HOUR_US,
    DuplicateHour,
    pack_days,
    unpack_blobs,
    unpack_days,
)


def _micros(stamps: list[str]) -> np.ndarray:
    return np.asarray(pd.DatetimeIndex(stamps, tz="UTC").as_unit("us").asi8, dtype=np.int64)


def _round_trip(groups: np.ndarray, micros: np.ndarray, units: np.ndarray,
                costs: np.ndarray) -> pd.DataFrame:
    packed = pack_days(groups, micros, units, costs)
    grid_units = unpack_blobs(packed.blobs(packed.units))
    grid_costs = unpack_blobs(packed.blobs(packed.costs))
    rows, hours, got_units, got_costs = unpack_days(packed.day_us, grid_units, grid_costs)
    return pd.DataFrame({"group": packed.groups[rows], "hour": hours, "units": got_units,
                         "cost": got_costs}).sort_values(["group", "hour"], ignore_index=True)


def test_odd_and_missing_hours_and_a_key_starting_mid_day_round_trip_exactly() -> None:
    # Key 1 runs from 05:00 on day one, skips 07:00, ends at 02:00 on day two (an odd span);
    # key 2 appears at 13:00 on day one only. Values carry every bit, zeros are kept as zeros.
    micros = _micros(["2024-03-01 05:00", "2024-03-01 06:00", "2024-03-01 08:00",
                      "2024-03-02 00:00", "2024-03-02 01:00", "2024-03-01 13:00"])
    groups = np.asarray([1, 1, 1, 1, 1, 2], dtype=np.int64)
    units = np.asarray([1 / 3, 0.0, np.pi, 1e-300, 2.5, 7.0])
    costs = units * 0.017
    order = np.random.default_rng(0).permutation(len(micros))  # given out of order
    found = _round_trip(groups[order], micros[order], units[order], costs[order])
    expected = pd.DataFrame({"group": groups, "hour": micros, "units": units, "cost": costs}
                            ).sort_values(["group", "hour"], ignore_index=True)
    pd.testing.assert_frame_equal(found, expected, check_exact=True)


def test_a_day_of_one_key_is_one_row_of_24_hours_nan_where_absent() -> None:
    micros = _micros(["2024-03-01 00:00", "2024-03-01 23:00", "2024-03-02 12:00"])
    packed = pack_days(np.asarray([4, 4, 4], dtype=np.int64), micros,
                       np.asarray([1.0, 2.0, 3.0]), np.asarray([0.1, 0.2, 0.3]))
    assert packed.units.shape == (2, 24)
    assert list(packed.day_us - packed.day_us[0]) == [0, 24 * HOUR_US]
    assert packed.units[0, 0] == 1.0 and packed.units[0, 23] == 2.0
    assert np.isnan(packed.units[0, 1:23]).all()
    assert [len(b) for b in packed.blobs(packed.units)] == [192, 192]


def test_a_repeated_hour_is_refused_naming_its_row() -> None:
    micros = _micros(["2024-03-01 05:00", "2024-03-01 06:00", "2024-03-01 05:00"])
    with pytest.raises(DuplicateHour) as raised:
        pack_days(np.asarray([1, 1, 1], dtype=np.int64), micros, np.ones(3), np.ones(3))
    assert raised.value.index == 2
