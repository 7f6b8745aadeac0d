"""``forecast-eval`` on a trace CSV, through a local Typer app."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import typer
from typer.testing import CliRunner

from ladder.commands import forecast_eval

KEYS = ("aws/us-east-1/ec2/m5/linux", "aws/us-east-1/ec2/c5/linux")


def write_trace(path: Path, hours: int = 24 * 21) -> Path:
    """A trace CSV in BENCHMARK.md's format: two keys with daily cycles."""
    t = np.arange(hours)
    stamps = pd.date_range("2024-03-01", periods=hours, freq="h", tz="UTC")
    rows = []
    for i, key in enumerate(KEYS):
        units = np.ceil(40 + 10 * np.sin(2 * np.pi * (t + 6 * i) / 24))
        rows.append(pd.DataFrame({"hour": stamps.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                  "usage_key": key, "units": units}))
    pd.concat(rows).to_csv(path, index=False)
    return path


def app() -> typer.Typer:
    local = typer.Typer()
    forecast_eval.register(local)

    @local.callback()
    def main() -> None:
        """Keep ``forecast-eval`` a sub-command."""

    return local


def test_forecast_eval_prints_the_table(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "trace.csv")
    result = CliRunner().invoke(app(), [
        "forecast-eval", "--usage", str(trace), "--model", "seasonal-profile",
        "--horizon", "48", "--origins", "2",
    ], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "seasonal-profile" in result.output and "seasonal-naive" in result.output
    assert "cover" in result.output and "2 origins" in result.output
    assert "seasonal-profile" in result.output.replace("\n", "")


def test_forecast_eval_reports_a_bad_trace_clearly(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "trace.csv")
    lines = trace.read_text().splitlines()
    trace.write_text("\n".join(lines[:10] + lines[12:]) + "\n")
    result = CliRunner().invoke(app(), ["forecast-eval", "--usage", str(trace)])
    assert result.exit_code == 2
    assert "error" in result.output


def test_forecast_eval_rejects_an_unknown_model(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "trace.csv")
    result = CliRunner().invoke(app(), ["forecast-eval", "--usage", str(trace),
                                        "--model", "crystal-ball"])
    assert result.exit_code == 2
    assert "unknown forecaster" in result.output
