"""``ladder reports spend|spend-forecast|variance|unit-cost``, ``ladder metrics``,
``ladder spend-budgets`` and ``ladder forecast-eval --spend``, on a stored bill."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner
from webhook_server import webhook_server

from core.settings import Settings, get_settings
from ladder.cli import app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reporting"))
from bill_factories import long_bill_rows, write_bill

runner = CliRunner()


@pytest.fixture
def bill(ladder_settings: Settings, tmp_path: Path) -> pd.DataFrame:
    """70 days of a bill from 2024-06-01, ingested with ``ladder ingest``."""
    path = write_bill(tmp_path / "bill.csv", long_bill_rows())
    stored = runner.invoke(app, ["ingest", str(path), "--provider", "aws"])
    assert stored.exit_code == 0, stored.output
    return pd.read_csv(path)


def _json(args: list[str]) -> dict[str, object]:
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    found: dict[str, object] = json.loads(result.stdout)
    return found


def test_reports_spend_prints_the_bills_cash_total(bill: pd.DataFrame) -> None:
    body = _json(["reports", "spend", "--basis", "cash", "--granularity", "total"])
    totals = body["totals"]
    assert isinstance(totals, dict)
    assert totals["cost"] == pytest.approx(round(bill.BilledCost.sum(), 2))


def test_reports_spend_forecast_and_variance(bill: pd.DataFrame) -> None:
    forecast = _json(["reports", "spend-forecast", "--horizon", "month"])
    variance = _json(["reports", "variance", "--group-by", "account"])

    rows = forecast["rows"]
    assert isinstance(rows, list) and rows[0]["period"] == "2024-08"
    movers = [r for r in variance["rows"] if isinstance(r, dict) and r["kind"] == "mover"]
    assert {m["group"] for m in movers} == {"111111111111", "222222222222"}


def test_a_bad_metrics_file_is_refused_with_its_row_and_stores_nothing(
        bill: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text("date,metric,value\n2024-08-01,requests,100\n2024-08-02,requests,x\n",
                    encoding="utf-8")
    refused = runner.invoke(app, ["metrics", "ingest", str(path)])
    listed = runner.invoke(app, ["metrics", "list"])

    assert refused.exit_code == 2
    assert "row 3, column 'value'" in " ".join(refused.output.split())
    assert "requests" not in listed.output


def test_metrics_ingest_then_unit_cost(bill: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text("date,metric,value,scope\n2024-08-01,requests,2000,\n"
                    "2024-08-02,requests,2000,\n", encoding="utf-8")
    stored = runner.invoke(app, ["metrics", "ingest", str(path)])
    body = _json(["reports", "unit-cost", "requests", "--per", "1000", "--basis", "cash",
                  "--granularity", "total"])

    assert stored.exit_code == 0 and "Stored 2 metric values" in stored.output
    days = bill.ChargePeriodStart.str[:10].isin(["2024-08-01", "2024-08-02"])
    [row] = body["rows"]  # type: ignore[misc]
    assert row["unit_cost"] == pytest.approx(bill.loc[days, "BilledCost"].sum() / 4.0)


def test_spend_budget_alerts_go_through_the_webhook_once(
        bill: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    created = runner.invoke(app, ["spend-budgets", "create", "storage", "--amount", "490",
                                  "--basis", "cash", "--service-category", "Storage",
                                  "--threshold", "0.3", "--threshold", "0.9"])
    status = runner.invoke(app, ["spend-budgets", "status", "--format", "json"])
    with webhook_server() as hook:
        monkeypatch.setenv("LADDER_WEBHOOK_URL", hook.url)
        get_settings.cache_clear()
        first = runner.invoke(app, ["spend-budgets", "alert"])
        again = runner.invoke(app, ["spend-budgets", "alert"])

    assert created.exit_code == 0, created.output
    [found] = json.loads(status.stdout)
    assert found["actual"] == 180.0 and found["run_out_date"] == "2024-08-25"
    assert first.exit_code == 0 and "2 sent" in first.output, first.output
    assert "2 duplicate" in again.output
    texts = hook.texts()
    assert len(texts) == 2
    assert any("30% reached" in t for t in texts)
    assert any("90% forecast to be reached" in t for t in texts)


def test_forecast_eval_scores_the_spend_forecast_on_a_bill(tmp_path: Path) -> None:
    path = write_bill(tmp_path / "bill.csv", long_bill_rows(80))
    result = runner.invoke(app, ["forecast-eval", "--spend", str(path), "--by", "account",
                                 "--days", "7", "--origins", "3"])

    assert result.exit_code == 0, result.output
    for model in ("daily-regression", "seasonal-naive", "run-rate"):
        assert model in result.output


def test_the_readmes_whole_bill_steps_show_the_non_compute_spend(
        ladder_settings: Settings) -> None:
    sample = Path(__file__).resolve().parents[2] / "providers" / "sample" / "data"
    for name in ("usage.parquet", "bill.parquet"):
        stored = runner.invoke(app, ["ingest", str(sample / name), "--provider", "sample"])
        assert stored.exit_code == 0, stored.output
    body = _json(["reports", "spend", "--group-by", "service_category", "--basis", "cash"])
    forecast = runner.invoke(app, ["reports", "spend-forecast"])
    variance = runner.invoke(app, ["reports", "variance", "--group-by", "service_category"])

    rows = body["rows"]
    assert isinstance(rows, list)
    groups = {row["group"] for row in rows}
    assert {"Compute", "Storage", "Databases", "Networking", "Other"} <= groups
    assert forecast.exit_code == 0 and variance.exit_code == 0, forecast.output
