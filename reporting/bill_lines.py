"""The whole bill, stored: every FOCUS row of a dataset summed per day (``bill_cost_lines``).

The compute cost lines (``focus_cost_lines``) hold only what the optimizer reads, per
usage key. Finance works on the whole bill — storage, network, support, purchases of
commitments, credits and taxes beside compute — so ingest also stores every row, grouped
by the day and the columns finance splits spend by (provider, accounts, region, service
category and name, charge category and class, tags, currency). Spend, chargeback and
budgets over the whole bill read these lines.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from core.db.frames import BILL_COLUMNS, BILL_COSTS
from core.db.reporting_models import BillCostLineRow
from core.errors import InvalidInput
from reporting.repository import bulk_insert


def _table() -> Table:
    return cast(Table, cast(Any, BillCostLineRow).__table__)


def add_bill_lines(session: Session, dataset_id: int, lines: pd.DataFrame) -> int:
    """Store a dataset's bill lines (``BILL_COLUMNS``); return the rows written."""
    missing = [c for c in BILL_COLUMNS if c not in lines.columns]
    if missing:
        raise InvalidInput(f"the bill-line frame has no {missing[0]!r} column",
                           column=missing[0])
    if lines.empty:
        return 0
    frame = lines[list(BILL_COLUMNS)].copy()
    frame["tags"] = frame["tags"].fillna("{}").astype(str)
    for column in BILL_COSTS:
        frame[column] = frame[column].astype(np.float64)
    frame.insert(0, "dataset_id", dataset_id)
    written = bulk_insert(session, _table(), frame)
    session.flush()
    return written


def load_bill_lines(session: Session, dataset_id: int) -> pd.DataFrame:
    """A dataset's bill lines, columns ``BILL_COLUMNS`` (``day`` a date)."""
    table = _table()
    rows = session.execute(select(*(table.c[c] for c in BILL_COLUMNS))
                           .where(table.c.dataset_id == dataset_id)).all()
    frame = pd.DataFrame(rows, columns=list(BILL_COLUMNS))
    for column in BILL_COSTS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(np.float64)
    return frame


__all__ = ["add_bill_lines", "load_bill_lines"]
