"""The suite's command (``python -m benchmarks.backtest.run``): the waste weight option."""

from __future__ import annotations

import re

import pytest

from benchmarks.backtest.run import main


def _ladder_row(output: str, trace: str) -> tuple[float, float]:
    row = next(line for line in output.splitlines()
               if line.startswith(f"| {trace} |") and "| ladder |" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    return float(cells[4]), float(cells[7])


def test_the_waste_weight_option_reaches_the_ladder(capsys: pytest.CaptureFixture[str]) -> None:
    """On nab-spiky the ladder without waste aversion leaves 12% of its commitment idle;
    at weight 1 it buys less and uses nearly all of it, and earns more (the suite's
    table in benchmarks/README.md: 0.1353 / 0.876 against 0.1540 / 0.996)."""
    found = {}
    for weight in ("0", "1"):
        main(["--policies", "ladder", "--only", "nab-spiky", "--waste-weight", weight])
        output = capsys.readouterr().out
        found[weight] = _ladder_row(output, "nab-spiky")
        assert re.search(r"- ladder: mean ESR [\d.]+, mean utilisation [\d.]+", output)
    (esr_plain, used_plain), (esr_averse, used_averse) = found["0"], found["1"]
    assert used_plain == pytest.approx(0.876, abs=0.002)
    assert used_averse == pytest.approx(0.996, abs=0.002)
    assert esr_averse > esr_plain
