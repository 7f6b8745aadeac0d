"""The usage window a planner reads: the last hours of a stored dataset, over priced keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from core.db.frames import usage_matrix
from core.domain import Catalog


@dataclass(frozen=True, slots=True)
class Window:
    """Usage over the last hours of a dataset: hours × the keys the catalog prices."""

    start: datetime
    keys: tuple[str, ...]
    rates: np.ndarray
    usage: np.ndarray
    skipped: tuple[str, ...]
    """Keys of the usage that the catalog does not price (left out of ``usage``)."""


def usage_window(usage: pd.DataFrame, catalog: Catalog, *, hours: int) -> Window:
    """The last ``hours`` of a (non-empty) usage frame, over the keys the catalog prices."""
    present = set(usage["usage_key"].unique())
    priced = catalog.on_demand_rates()
    keys = tuple(k for k in catalog.key_ids if k in present)
    matrix = usage_matrix(usage, keys=keys)
    hours = min(hours, len(matrix.hours))
    return Window(start=matrix.hours[-hours].to_pydatetime(), keys=keys,
                  rates=np.array([priced[k] for k in keys], dtype=np.float64),
                  usage=matrix.values[-hours:], skipped=tuple(sorted(present - set(keys))))


__all__ = ["Window", "usage_window"]
