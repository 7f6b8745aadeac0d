"""The billing engine reproduces the shared answer keys (independent implementation) to 1e-9."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.billing import bill, by_offering, summarize
from core.catalog import load_catalog
from core.domain import Commitment

# A copy of ../shared/benchmark/answer-keys, so the suite runs from a bare clone.
ANSWER_KEYS = Path(__file__).resolve().parents[1] / "data" / "answer-keys"
CASES = sorted(p.name for p in ANSWER_KEYS.iterdir() if p.is_dir())


def _parse_hour(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@pytest.mark.parametrize("case", CASES)
def test_engine_reproduces_answer_key(case: str) -> None:
    folder = ANSWER_KEYS / case
    catalog = load_catalog(folder / "catalog.json")
    expected = json.loads((folder / "expected.json").read_text())
    trace = pd.read_csv(folder / "trace.csv")
    matrix = trace.pivot(index="hour", columns="usage_key", values="units")
    keys = [k for k in catalog.key_ids if k in matrix.columns]
    matrix = matrix[keys].sort_index()
    start = _parse_hour(matrix.index[0])
    purchases = json.loads((folder / "purchases.json").read_text())["purchases"]
    commitments = [
        Commitment(catalog.offering(p["offering_id"]), float(p["quantity"]), _parse_hour(p["hour"]))
        for p in purchases
    ]
    rates = np.array([catalog.on_demand_rates()[k] for k in keys])

    result = bill(matrix.to_numpy(dtype=float), keys, rates, commitments, start)
    summary = summarize(result, slice(expected["warmup_hours"], None))

    assert summary.hours == expected["hours"]
    for field in ("on_demand_equivalent", "commitment_cost", "on_demand_cost", "total_cost",
                  "savings", "esr", "coverage", "utilisation", "waste"):
        assert getattr(summary, field) == pytest.approx(expected[field], abs=1e-9), field
    got = {o.offering_id: o for o in by_offering(summary)}
    for row in expected["by_offering"]:
        figures = got[row["offering_id"]]
        assert figures.commitment_cost == pytest.approx(row["commitment_cost"], abs=1e-9)
        assert figures.used_cost == pytest.approx(row["used_cost"], abs=1e-9)
        assert figures.covered_on_demand == pytest.approx(row["covered_on_demand"], abs=1e-9)
