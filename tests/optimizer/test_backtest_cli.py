"""``ladder backtest`` end to end on a small trace, through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from backtest_factories import M5, catalog, steady_rows, unit, write_catalog, write_csv
from typer.testing import CliRunner

from core.catalog import load_catalog
from ladder.commands.backtest import register
from optimizer.backtest.purchases import read_purchase_log
from optimizer.backtest.runner import score_purchases
from optimizer.backtest.trace import read_trace

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def main() -> None:
        """Keep ``backtest`` a sub-command, as in the real CLI."""

    return app


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    """96 hours at 10 units; an RI of 24 hours at $0.6 against $1 on demand."""
    usage = write_csv(tmp_path / "trace.csv", steady_rows(96))
    prices = write_catalog(tmp_path / "catalog.json",
                           catalog([unit("ri", {M5: 1.0}, hourly=0.6, term_hours=24)]))
    return usage, prices


@pytest.mark.parametrize("policy", ["lookback", "ladder", "oracle"])
def test_backtest_prints_the_score_and_writes_a_log_that_reprices_to_it(
    tmp_path: Path, inputs: tuple[Path, Path], policy: str
) -> None:
    """Decisions at 24, 48, 72 each buy 10 (the level of every past day): ESR 0.4."""
    usage, prices = inputs
    log = tmp_path / "purchases.json"
    result = runner.invoke(_app(), [
        "backtest", "--usage", str(usage), "--catalog", str(prices), "--policy", policy,
        "--cadence-hours", "24", "--warmup-hours", "24", "--lookback-hours", "24",
        "--purchases-out", str(log)])

    assert result.exit_code == 0, result.output
    score = json.loads(result.stdout)
    assert score["policy"] == policy and score["decisions"] == 3 and score["n_purchases"] == 3
    assert score["esr"] == pytest.approx(0.4)
    for field in ("on_demand_equivalent", "commitment_cost", "on_demand_cost", "total_cost",
                  "savings", "coverage", "utilisation", "waste", "run_seconds", "by_offering"):
        assert field in score

    trace = read_trace(usage)
    purchases = read_purchase_log(log, trace=trace, catalog=load_catalog(prices))
    again, _ = score_purchases(trace, load_catalog(prices), purchases, warmup_hours=24)
    assert again.total_cost == pytest.approx(score["total_cost"], abs=1e-9)


def test_an_invalid_trace_exits_2_with_the_message_on_stderr(
    tmp_path: Path, inputs: tuple[Path, Path]
) -> None:
    _, prices = inputs
    rows = steady_rows(48)
    rows[5][2] = -3
    usage = write_csv(tmp_path / "bad.csv", rows)
    result = runner.invoke(_app(), ["backtest", "--usage", str(usage), "--catalog", str(prices),
                                    "--policy", "none"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"file {usage}, row 7, column units: units must be a finite number >= 0" \
        in result.stderr


def test_unknown_allowed_offerings_exit_2(inputs: tuple[Path, Path]) -> None:
    usage, prices = inputs
    result = runner.invoke(_app(), ["backtest", "--usage", str(usage), "--catalog", str(prices),
                                    "--policy", "lookback", "--offerings", "ri,sp-nope"])
    assert result.exit_code == 2 and "sp-nope" in result.stderr
