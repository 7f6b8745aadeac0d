"""Hourly values packed by UTC day: one row per (group, day) with its 24 hours as a blob.

Hourly usage is a dense grid (every key, every hour): a row per key-hour spends most of a
database's time and space on row overhead and on the three key columns repeated every hour.
Packed, a day of one key is one row holding two float64 arrays of 24 values (little-endian,
192 bytes each: ``units`` and ``on_demand_cost``), hour ``i`` of the array being the hour
``day + i`` (UTC has no daylight-saving days: every day has 24). An hour without a value is
NaN in both arrays, so a frame with missing hours, keys that start mid-day or spans that
start at an odd hour comes back exactly as it went in (the stored values are finite: NaN
never means anything else).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
HOURS_PER_DAY = 24
BLOB = np.dtype("<f8")
"""How each hour's value is stored: float64, little-endian (the same bytes everywhere)."""


@dataclass(frozen=True, slots=True)
class PackedDays:
    """Hourly values packed per group and day: ``groups`` and ``day_us`` (epoch microseconds
    of each day's midnight UTC) per row, ``units`` and ``costs`` as ``(rows, 24)`` float64
    grids (NaN where an hour has no value)."""

    groups: npt.NDArray[np.int64]
    day_us: npt.NDArray[np.int64]
    units: npt.NDArray[np.float64]
    costs: npt.NDArray[np.float64]

    def blobs(self, grid: npt.NDArray[np.float64]) -> list[bytes]:
        """Each row of ``grid`` (``units`` or ``costs``) as the 192 bytes stored."""
        raw = np.ascontiguousarray(grid, dtype=BLOB)
        return [row.tobytes() for row in raw]


class DuplicateHour(ValueError):
    """Two values for one group and hour (``index``: the position of the second)."""

    def __init__(self, index: int) -> None:
        super().__init__(f"two values for the same hour (row {index})")
        self.index = index


def pack_days(groups: npt.NDArray[np.int64], micros: npt.NDArray[np.int64],
              units: npt.NDArray[np.float64], costs: npt.NDArray[np.float64]) -> PackedDays:
    """Pack hourly values (``micros``: epoch microseconds of whole UTC hours) per group and
    day, sorted by group then day. Raises :class:`DuplicateHour` for a repeated hour."""
    day_us = micros - micros % DAY_US
    slot = (micros - day_us) // HOUR_US
    order = np.lexsort((slot, day_us, groups))
    g, d, s = groups[order], day_us[order], slot[order]
    new_row = np.ones(len(order), dtype=bool)
    new_row[1:] = (g[1:] != g[:-1]) | (d[1:] != d[:-1])
    repeated = np.flatnonzero(~new_row[1:] & (s[1:] == s[:-1]))
    if len(repeated):
        raise DuplicateHour(int(order[repeated[0] + 1]))
    row = np.cumsum(new_row) - 1
    count = int(row[-1]) + 1 if len(row) else 0
    grid_units = np.full((count, HOURS_PER_DAY), np.nan)
    grid_costs = np.full((count, HOURS_PER_DAY), np.nan)
    grid_units[row, s] = units[order]
    grid_costs[row, s] = costs[order]
    return PackedDays(g[new_row], d[new_row], grid_units, grid_costs)


def unpack_blobs(blobs: list[bytes]) -> npt.NDArray[np.float64]:
    """Stored blobs as a ``(rows, 24)`` float64 grid."""
    if not blobs:
        return np.empty((0, HOURS_PER_DAY))
    return np.frombuffer(b"".join(blobs), dtype=BLOB).astype(np.float64).reshape(
        -1, HOURS_PER_DAY)


def unpack_days(day_us: npt.NDArray[np.int64], units: npt.NDArray[np.float64],
                costs: npt.NDArray[np.float64]
                ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64],
                           npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The hours that have a value: for each, the packed row it came from, its epoch
    microseconds, its units and cost (row by row, hours in order)."""
    present = ~np.isnan(units)
    rows, slots = np.nonzero(present)
    micros = day_us[rows] + slots.astype(np.int64) * HOUR_US
    return rows, micros, units[rows, slots], costs[rows, slots]


__all__ = ["BLOB", "DAY_US", "HOURS_PER_DAY", "HOUR_US", "DuplicateHour", "PackedDays",
           "pack_days", "unpack_blobs", "unpack_days"]
