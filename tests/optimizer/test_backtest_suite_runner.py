"""The suite's command (``python -m benchmarks.backtest.run``): the waste weight option."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from benchmarks.backtest.run import HERE, main, suite_cases
from core.catalog import load_catalog
from ladder.scenarios import default_scenarios
from optimizer.backtest.runner import BacktestConfig, make_policy
from optimizer.backtest.trace import read_trace
from optimizer.ladder_policy import ForecastLadder


def _ladder_row(output: str, trace: str) -> tuple[float, float]:
    row = next(line for line in output.splitlines()
               if line.startswith(f"| {trace} |") and "| ladder |" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    return float(cells[4]), float(cells[7])


def test_the_waste_weight_option_reaches_the_ladder(capsys: pytest.CaptureFixture[str]) -> None:
    """On nab-spiky the ladder without waste aversion leaves 14% of its commitment idle;
    at weight 1 it buys less, uses more of it, and earns more (measured:
    ESR 0.1316 / utilisation 0.864 against 0.1512 / 0.949)."""
    found = {}
    for weight in ("0", "1"):
        main(["--policies", "ladder", "--only", "nab-spiky", "--waste-weight", weight])
        output = capsys.readouterr().out
        found[weight] = _ladder_row(output, "nab-spiky")
        assert re.search(r"- ladder: mean ESR [\d.]+, mean utilisation [\d.]+", output)
    (esr_plain, used_plain), (esr_averse, used_averse) = found["0"], found["1"]
    assert used_plain == pytest.approx(0.864, abs=0.002)
    assert used_averse == pytest.approx(0.949, abs=0.002)
    assert esr_averse > esr_plain


def _cells(output: str, prefix: str) -> list[str]:
    row = next(line for line in output.splitlines() if line.startswith(prefix))
    return [c.strip() for c in row.strip("|").split("|")]


def test_the_seeds_option_repeats_the_ladder_on_other_draws(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Each seed is a run on other scenario draws: on nab-spiky they buy differently
    (at the default waste weight, 1.5, utilisation 1.000 at seeds 0 and 2, 0.988 at
    seed 1; ESR 0.1134 to 0.1550), the first seed is the main
    table's run, and the spread's row compares the mean with lookback."""
    main(["--policies", "lookback", "ladder", "--only", "nab-spiky", "--lookback-hours", "48",
          "--seeds", "0", "1", "2"])
    output = capsys.readouterr().out
    esr, used = _ladder_row(output, "nab-spiky")
    lookback = float(_cells(output, "| nab-spiky | 1 | 337 | lookback |")[4])
    assert "### Suite: the ladder over seeds 0, 1, 2" in output
    seeded = [float(_cells(output, f"| nab-spiky | 1 | 337 | ladder@{seed} |")[7])
              for seed in (1, 2)]
    cells = _cells(output, "| nab-spiky | 3 |")
    esr_mean, esr_low, esr_high, used_mean, used_low, used_high, distance = map(
        float, cells[2:9])
    assert esr_low <= esr <= esr_high and used_low <= used <= used_high
    assert used_low < used_high
    assert min(used, *seeded) == used_low and max(used, *seeded) == used_high
    assert esr_low <= esr_mean <= esr_high and used_low <= used_mean <= used_high
    assert distance == pytest.approx(100 * (esr_mean - lookback), abs=0.02)  # printed rounded
    summary = re.search(r"- ladder over 3 seeds: mean ESR ([\d.]+) \(per seed ([\d., ]+)\)",
                        output)
    assert summary is not None
    per_seed = [float(v) for v in summary.group(2).split(", ")]
    assert per_seed[0] == pytest.approx(esr, abs=1e-4)
    assert float(summary.group(1)) == pytest.approx(esr_mean, abs=1e-4)
    assert [float(_cells(output, f"| nab-spiky | 1 | 337 | ladder@{seed} |")[4])
            for seed in (1, 2)] == pytest.approx(per_seed[1:], abs=1e-4)


def test_a_seed_given_twice_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--policies", "ladder", "--only", "nab-spiky", "--seeds", "0", "1", "1"])
    assert "--seeds: give each seed once" in capsys.readouterr().err


def test_the_ladder_seed_reaches_the_policy() -> None:
    """``BacktestConfig.ladder_seed`` is the seed the built ladder draws its scenarios with."""
    case = next(c for c in suite_cases(HERE) if c.name == "nab-spiky")
    built = make_policy("ladder", read_trace(case.trace), load_catalog(case.catalog),
                        BacktestConfig(ladder_seed=7), scenarios=default_scenarios())
    assert isinstance(built, ForecastLadder)
    assert built.seed == 7


def test_merged_scores_join_the_tables_but_not_the_json(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A run of one policy compares with another's stored scores: the stored lookback row is
    printed and counted against, the new file holds only what ran and names the merged one."""
    stored, new = tmp_path / "stored.json", tmp_path / "new.json"
    main(["--policies", "lookback", "--only", "nab-steady", "--lookback-hours", "48",
          "--json", str(stored)])
    lookback_row = _cells(capsys.readouterr().out, "| nab-steady | 1 | 337 | lookback |")
    main(["--policies", "none", "--only", "nab-steady", "--merge", str(stored),
          "--json", str(new)])
    output = capsys.readouterr().out
    assert _cells(output, "| nab-steady | 1 | 337 | lookback |") == lookback_row
    # "none" saves nothing, so it is behind lookback by its whole ESR on the one trace.
    none_targets = _cells(output, "| none | 1 |")
    assert none_targets[-1] == "1" and none_targets[-2].endswith("(nab-steady)")
    written = json.loads(new.read_text())
    assert set(written["Suite"]["nab-steady"]["scores"]) == {"none"}
    assert written["config"]["merged"] == str(stored)
