"""Forecasting benchmarks: accuracy on the benchmark traces, and the time to forecast a fleet.

Run: ``python -m benchmarks.forecast`` (both), or ``--only evaluation`` /
``--only scale``.

(a) **Evaluation.** Every forecaster is scored by rolling origin on every trace
of ``/work/shared/benchmark/traces-dev/`` and ``benchmarks/backtest/traces/``
(``--traces`` to change): at each origin it sees only the hours before, and
forecasts ``--horizon`` hours (a week: the scaled "1-year" term of the
benchmark catalogs). Origins start after ``--min-history`` hours (the
backtest's 168-hour warm-up) and are spread evenly to the last one. Per model:
mean scaled pinball loss (pinball loss at the 10th, 50th and 90th percentiles
divided by the key's mean usage), the coverage of the 80% interval, and the
skill against seasonal naive (``1 - loss / seasonal naive's loss``), over all
traces and per trace.

(b) **Scale.** A synthetic fleet of ``--keys`` keys (default 1,000) with 90 days
of hourly history of mixed shapes — daily and weekly cycles, growth, level
shifts, spikes, new keys, decommissioned keys — forecast 30 days ahead with
quantiles and 100 scenarios, by the default forecaster, on ``--jobs`` processes.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.base import history_frame
from forecasting.evaluate import BASELINE, evaluate
from forecasting.registry import DEFAULT, FORECASTERS, make_forecaster
from optimizer.backtest.trace import read_trace

ROOT = Path(__file__).resolve().parent.parent
TRACE_DIRS = (Path("/work/shared/benchmark/traces-dev"), ROOT / "benchmarks/backtest/traces")
DAY = 24
WEEK = 168


def trace_files(folders: Sequence[Path]) -> list[Path]:
    """The trace CSVs of the folders that exist, in name order."""
    return [path for folder in folders if folder.is_dir() for path in sorted(folder.glob("*.csv"))]


def evaluation(files: Sequence[Path], models: Sequence[str], horizon: int, n_origins: int,
               min_history: int) -> pd.DataFrame:
    """One row per (trace, model): scaled pinball, coverage, skill, origins, seconds."""
    rows = []
    for path in files:
        trace = read_trace(path)
        history = history_frame(trace.units, trace.key_ids, trace.start)
        label = f"{path.parent.name}/{path.stem}"
        if trace.hours < min_history + horizon:
            print(f"skipped {label}: {trace.hours} hours is too short")
            continue
        result = evaluate(history, {name: make_forecaster(name) for name in models},
                          horizon=horizon, n_origins=n_origins, min_history=min_history)
        for name, row in result.table.iterrows():
            rows.append({"trace": label, "model": name, "keys": len(trace.key_ids),
                         "origins": len(result.origins), **row.to_dict()})
        print(f"{label}: " + ", ".join(
            f"{name} {row['skill']:+.1%}" for name, row in result.table.iterrows()), flush=True)
    return pd.DataFrame(rows)


def summary(results: pd.DataFrame) -> pd.DataFrame:
    """Per model over all traces: mean scaled pinball, coverage, skill, traces beaten."""
    by_model = results.groupby("model", sort=False)
    table = pd.DataFrame({
        "scaled pinball": by_model["scaled_pinball"].mean(),
        "80% coverage": by_model["coverage"].mean(),
        "mean skill per trace": by_model["skill"].mean(),
        "traces better than seasonal naive": by_model["skill"].apply(lambda s: int((s > 0).sum())),
        "seconds per trace": by_model["seconds"].mean(),
    })
    baseline = float(table["scaled pinball"].loc[BASELINE])
    table.insert(1, "skill", 1.0 - table["scaled pinball"] / baseline)
    return table


def markdown(table: pd.DataFrame, formats: dict[str, str]) -> str:
    """A markdown table with the given column formats (``"{:.1%}"`` …)."""
    header = "| " + " | ".join([str(table.index.name or ""), *map(str, table.columns)]) + " |"
    rule = "|" + "|".join(["---"] + ["---:"] * len(table.columns)) + "|"
    lines = [header, rule]
    for name, row in table.iterrows():
        cells = [formats.get(c, "{}").format(row[c]) for c in table.columns]
        lines.append("| " + " | ".join([str(name), *cells]) + " |")
    return "\n".join(lines)


def synthetic_fleet(n_keys: int, hours: int, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """Hourly usage of a fleet of mixed shapes, hours × keys, and the keys' names.

    Each key has a level (log-uniform 2–2,000 units), a daily cycle and a weekly
    one of random strength and phase, a persistent shock (AR(1)), and some of:
    a trend (30%), a level shift (20%), spikes (20%); 5% start in the last two
    weeks (new keys) and 3% stop before the last three days (decommissioned).
    """
    rng = np.random.default_rng(seed)
    t = np.arange(hours)[:, None]
    level = np.exp(rng.uniform(np.log(2), np.log(2000), n_keys))
    daily = rng.uniform(0, 0.4, n_keys) * np.sin(2 * np.pi * (t + rng.uniform(0, 24, n_keys)) / DAY)
    weekend = rng.uniform(-0.3, 0.1, n_keys) * (((t // DAY) % 7) >= 5)
    shock = np.zeros((hours, n_keys))
    innovations = rng.normal(0, 1, (hours, n_keys)) * rng.uniform(0.01, 0.06, n_keys)
    for h in range(1, hours):
        shock[h] = 0.95 * shock[h - 1] + innovations[h]
    trend = np.where(rng.random(n_keys) < 0.3, rng.normal(0, 0.5, n_keys), 0.0) * t / hours
    shift_at = rng.integers(hours // 4, hours, n_keys)
    shift = np.where(rng.random(n_keys) < 0.2, rng.uniform(-0.5, 0.8, n_keys), 0.0)
    units = level * (1 + daily + weekend + shock + trend + shift * (t >= shift_at))
    spiky = rng.random(n_keys) < 0.2
    spikes = (rng.random((hours, n_keys)) < 0.005) & spiky
    units = np.where(spikes, units * rng.uniform(2, 6, (hours, n_keys)), units)
    new = rng.random(n_keys) < 0.05
    units[: hours - rng.integers(3 * DAY, 2 * WEEK), new] = 0.0
    gone = (rng.random(n_keys) < 0.03) & ~new
    units[hours - 3 * DAY:, gone] = 0.0
    keys = [f"aws/acct{k % 20}/ec2/us-east-1/fam{k // 20}/linux/shared" for k in range(n_keys)]
    return np.round(np.maximum(units, 0.0), 2), keys


def scale(n_keys: int, days: int, horizon_days: int, n_jobs: int, name: str) -> pd.DataFrame:
    """Wall time to fit, predict quantiles and draw scenarios for a synthetic fleet."""
    units, keys = synthetic_fleet(n_keys, days * DAY)
    history = history_frame(units, keys, pd.Timestamp("2024-01-01T00:00:00Z"))
    horizon = horizon_days * DAY
    model = make_forecaster(name)
    if "n_jobs" in model.get_params():
        model.set_params(n_jobs=n_jobs)
    started = time.perf_counter()
    model.fit(history)
    fitted = time.perf_counter()
    frame = model.predict(horizon)
    predicted = time.perf_counter()
    model.sample_paths(horizon, n=100, seed=0)
    sampled = time.perf_counter()
    rows = [
        ("fit", fitted - started),
        (f"predict {horizon} h × 3 quantiles ({len(frame):,} rows)", predicted - fitted),
        (f"fit + predict ({name}, {n_jobs} processes)", predicted - started),
        ("100 scenarios of 30 days", sampled - predicted),
    ]
    if hasattr(model, "choices_"):
        counts = pd.Series(model.choices_).value_counts()
        print("chosen per key: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return pd.DataFrame(rows, columns=["step", "seconds"]).set_index("step")


def main() -> None:
    """Print the evaluation and scale tables (markdown, as in benchmarks/README.md)."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("evaluation", "scale"))
    parser.add_argument("--traces", type=Path, nargs="*", default=list(TRACE_DIRS))
    parser.add_argument("--models", nargs="*", default=list(FORECASTERS))
    parser.add_argument("--horizon", type=int, default=WEEK)
    parser.add_argument("--origins", type=int, default=5)
    parser.add_argument("--min-history", type=int, default=WEEK)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--model", default=DEFAULT, help="forecaster of the scale run")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    if args.only in (None, "evaluation"):
        models = list(dict.fromkeys([BASELINE, *args.models]))
        results = evaluation(trace_files(args.traces), models, args.horizon, args.origins,
                             args.min_history)
        table = summary(results)
        table.index.name = "model"
        print(f"\n{results['trace'].nunique()} traces, horizon {args.horizon} h, up to "
              f"{args.origins} origins after {args.min_history} h:\n")
        print(markdown(table, {"scaled pinball": "{:.2%}", "skill": "{:+.1%}",
                               "80% coverage": "{:.1%}", "mean skill per trace": "{:+.1%}",
                               "traces better than seasonal naive": "{:.0f}",
                               "seconds per trace": "{:.2f}"}))
        skill = results.pivot(index="trace", columns="model", values="skill")[models]
        skill.index.name = "skill vs seasonal naive"
        print()
        print(markdown(skill, dict.fromkeys(models, "{:+.1%}")))
        coverage = results.pivot(index="trace", columns="model", values="coverage")[models]
        coverage.index.name = "80% coverage"
        print()
        print(markdown(coverage, dict.fromkeys(models, "{:.0%}")))
    if args.only in (None, "scale"):
        timing = scale(args.keys, 90, 30, args.jobs, args.model)
        print(f"\n{args.keys:,} keys × 90 days hourly, 30 days ahead:\n")
        print(markdown(timing, {"seconds": "{:.1f}"}))


if __name__ == "__main__":
    main()
