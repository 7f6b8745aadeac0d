"""How much the ladder's decisions move on the dice: sampling noise with and without
variance reduction in the scenario draws.

Run: ``python -m benchmarks.backtest.stability [--suite FOLDER] [--seeds 5] [--days 6]``.

For every trace of the suite and ``days`` decision hours a day apart after the warm-up,
the ladder's LP is solved on the history before the hour, with nothing owned (so two
decisions differ only by the data and the draws), once per seed. The figure of a decision
is the hourly value it commits (Σ quantity × amortized hourly price of each offering). Two
figures per trace and draw mode:

- **seed spread**: at one hour, the standard deviation of that value over the seeds, over
  its mean — what the dice alone move a decision by;
- **day-to-day move**: with one seed, the mean absolute change between decisions a day
  apart, over the mean value — what a run that follows another moves, data and dice
  together. With common draws the dice are (nearly) the same from one day to the next.

Draw modes: ``independent`` (each decision its own draws, no pairs: the ladder before
variance reduction) and ``common`` (the same seed at every decision, history blocks
anchored to their clock hours, antithetic pairs: ``forecasting.scenarios``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from datetime import datetime
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.backtest.run import HERE, Case, suite_cases
from core.catalog import load_catalog
from core.domain import Catalog
from ladder.scenarios import default_scenarios
from optimizer.backtest.policies import UsageHistory
from optimizer.backtest.purchases import Portfolio
from optimizer.backtest.trace import read_trace
from optimizer.ladder_policy import ForecastLadder
from optimizer.linear_model import stdout_to_stderr
from optimizer.stochastic import optimize

MODES = ("independent", "common")
WARMUP = 168


def committed_value(ladder: ForecastLadder, units: np.ndarray, start: datetime, hour: int,
                    catalog: Catalog, key_ids: tuple[str, ...]) -> float:
    """The hourly value the ladder's LP commits at ``hour`` with nothing owned."""
    history = UsageHistory.before(units, hour, start=start, key_ids=key_ids)
    problem = ladder.problem_at(history, Portfolio(), hour, catalog)
    if problem is None:
        return 0.0
    solution = optimize(problem, time_limit_s=ladder.time_limit_s, backend="highs")
    price = {o.offering_id: o.amortized_hourly for o in problem.candidates}
    return float(sum(q * price[i] for i, q in solution.quantities.items()))


def trace_figures(case: Case, mode: str, seeds: int, days: int) -> tuple[float, float]:
    """(seed spread, day-to-day move) of one trace in one draw mode."""
    trace = read_trace(case.trace)
    catalog = load_catalog(case.catalog)
    aligned = trace.for_catalog(catalog, catalog_source=str(case.catalog))
    units = np.asarray(aligned.units, dtype=np.float64)
    common = mode == "common"
    source = default_scenarios(variance_reduction=common)
    hours = [WARMUP + 24 * d for d in range(days) if WARMUP + 24 * d < units.shape[0]]
    values = np.zeros((seeds, len(hours)))
    for s in range(seeds):
        ladder = ForecastLadder(scenarios=source, seed=1000 * s, common_draws=common)
        for j, hour in enumerate(hours):
            values[s, j] = committed_value(ladder, units, aligned.start, hour, catalog,
                                           aligned.key_ids)
    scale = max(float(values.mean()), 1e-12)
    spread = float(values.std(axis=0).mean()) / scale
    move = float(np.abs(np.diff(values, axis=1)).mean()) / scale if len(hours) > 1 else 0.0
    return spread, move


def main(argv: list[str] | None = None) -> None:
    """Command line entry point: a table per trace, and the mean over traces."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=HERE, help="suite folder (MANIFEST.json)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--days", type=int, default=6)
    parser.add_argument("--only", nargs="*", help="trace names (default: all)")
    args = parser.parse_args(argv)
    cases = [c for c in suite_cases(args.suite) if not args.only or c.name in args.only]
    print("| trace | seed spread, independent | common | day-to-day move, independent "
          "| common |\n|---|---:|---:|---:|---:|")
    totals: dict[str, list[tuple[float, float]]] = {m: [] for m in MODES}
    for case in cases:
        with stdout_to_stderr():
            figures = {m: trace_figures(case, m, args.seeds, args.days) for m in MODES}
        for m in MODES:
            totals[m].append(figures[m])
        ind, com = figures["independent"], figures["common"]
        print(f"| {case.name} | {ind[0]:.3f} | {com[0]:.3f} | {ind[1]:.3f} | {com[1]:.3f} |",
              flush=True)
    mean = {m: (statistics.fmean(f[0] for f in totals[m]),
                statistics.fmean(f[1] for f in totals[m])) for m in MODES}
    print(f"| **mean** | {mean['independent'][0]:.3f} | {mean['common'][0]:.3f} | "
          f"{mean['independent'][1]:.3f} | {mean['common'][1]:.3f} |")


if __name__ == "__main__":
    main()
