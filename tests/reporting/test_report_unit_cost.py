"""Unit economics: metrics files refused row by row, stored whole, and cost per unit."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from bill_factories import store_bill, write_bill
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.reporting_models import BusinessMetricRow
from core.errors import InvalidInput, NotFound
from reporting.spend import SpendBasis, SpendGranularity
from reporting.unit_cost import (
    MetricPoint,
    UnitCostQuery,
    list_metrics,
    parse_scope,
    read_metrics_csv,
    store_metrics,
    unit_cost,
)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def bill(tmp_path: Path, session: Session) -> pd.DataFrame:
    path = write_bill(tmp_path / "bill.csv")
    store_bill(session, path)
    return pd.read_csv(path)


def _count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(BusinessMetricRow)) or 0)


def test_a_metrics_file_with_bad_rows_names_each_row_and_column_and_stores_nothing(
        tmp_path: Path, session: Session) -> None:
    path = _write(tmp_path / "m.csv", "date,metric,value,scope\n"
                  "2025-02-01,requests,1000,\n"
                  "2025-02-31,requests,5,\n"
                  "2025-02-02,requests,-3,\n"
                  "2025-02-03,requests,7,team=web\n")

    with pytest.raises(InvalidInput) as caught:
        store_metrics(session, read_metrics_csv(path), source=str(path))
    message = str(caught.value)
    assert "row 3, column 'date'" in message
    assert "row 4, column 'value'" in message
    assert "row 5, column 'scope'" in message
    assert caught.value.row == 3 and caught.value.column == "date"
    assert _count(session) == 0


def test_a_metrics_file_without_a_value_column_is_refused_at_its_header(
        tmp_path: Path) -> None:
    path = _write(tmp_path / "m.csv", "date,metric,amount\n2025-02-01,requests,1\n")
    with pytest.raises(InvalidInput, match="row 1: the header has no 'value' column") as caught:
        read_metrics_csv(path)
    assert caught.value.column == "value"


def test_a_metric_twice_on_one_day_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.csv", "date,metric,value\n2025-02-01,requests,1\n"
                  "2025-02-01,requests,2\n")
    with pytest.raises(InvalidInput, match=r"row 3: .* already on row 2"):
        read_metrics_csv(path)


def test_storing_a_day_again_replaces_its_value(tmp_path: Path, session: Session) -> None:
    path = _write(tmp_path / "m.csv", "date,metric,value,scope\n2025-02-01,requests,10,"
                  "tag: team = web\n2025-02-02,requests,20,tag:team=web\n")
    store_metrics(session, read_metrics_csv(path), source="m.csv")
    store_metrics(session, [MetricPoint(pd.Timestamp("2025-02-02").date(), "requests", 25.0,
                                        "tag:team=web")], source="api")

    [series] = list_metrics(session)
    assert (series.metric, series.scope, series.points, series.total) == (
        "requests", "tag:team=web", 2, 35.0)


def test_scopes_name_a_dimension_or_a_tag() -> None:
    assert parse_scope("account=111").account == "111"
    assert parse_scope("tag:team=web").tag_value == "web"
    assert parse_scope("").to_dict() == {k: None for k in parse_scope("").to_dict()}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_scope("colour=blue")


def test_unit_cost_is_the_scopes_cost_on_the_metrics_days_per_unit(
        session: Session, bill: pd.DataFrame) -> None:
    points = [MetricPoint(pd.Timestamp(d).date(), "requests", v, "account=222222222222")
              for d, v in (("2025-01-31", 2000.0), ("2025-02-01", 4000.0),
                           ("2025-02-02", 4000.0))]
    store_metrics(session, points, source="test")

    report = unit_cost(session, UnitCostQuery(metric="requests", scope="account=222222222222",
                                              per=1000, basis=SpendBasis.CASH))

    rows = bill[bill.SubAccountId == 222222222222]
    day = rows["ChargePeriodStart"].str[:10]
    january = rows.loc[day == "2025-01-31", "BilledCost"].sum()
    february = rows.loc[day.isin(["2025-02-01", "2025-02-02"]), "BilledCost"].sum()
    frame = report.frame.set_index("period")
    assert list(frame.index) == ["2025-01", "2025-02"]
    assert frame.loc["2025-01", "cost"] == pytest.approx(round(january, 2))
    assert frame.loc["2025-02", "unit_cost"] == pytest.approx(february / 8000 * 1000)
    assert frame.loc["2025-02", "unit_cost_change"] == pytest.approx(
        (february / 8000) / (january / 2000) - 1)
    assert frame.loc["2025-01", "metric_days"] == 1


def test_unit_cost_shows_the_share_saved_by_commitments(session: Session,
                                                        bill: pd.DataFrame) -> None:
    store_metrics(session, [MetricPoint(pd.Timestamp("2025-02-01").date(), "customers", 50.0)],
                  source="test")

    report = unit_cost(session, UnitCostQuery(metric="customers",
                                              granularity=SpendGranularity.DAY))

    rows = bill[bill["ChargePeriodStart"].str[:10] == "2025-02-01"]
    saved = (rows["ContractedCost"] - rows["EffectiveCost"]).sum()
    [row] = report.records()
    assert saved > 0
    assert row["commitment_savings"] == pytest.approx(round(saved, 2))
    assert row["commitment_savings_share"] == pytest.approx(saved / rows["ContractedCost"].sum())
    assert row["unit_cost"] == pytest.approx(rows["EffectiveCost"].sum() / 50.0)


def test_unit_cost_of_an_unknown_metric_is_not_found(session: Session,
                                                     bill: pd.DataFrame) -> None:
    with pytest.raises(NotFound, match="metrics ingest"):
        unit_cost(session, UnitCostQuery(metric="nothing"))
