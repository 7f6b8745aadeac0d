"""Build the stress suite: real usage shapes put through the regime changes real fleets undergo.

Run: ``python -m benchmarks.backtest.stress [--data ../shared/data] [--seed 17]``. Writes
``stress/traces/*.csv`` and ``stress/MANIFEST.json`` (the catalog is the dev suite's short
one, ``catalogs/aws-2017-us-east-1-linux-short.json``), in the formats of BENCHMARK.md, so
``python -m benchmarks.backtest.run --suite benchmarks/backtest/stress`` scores every policy
on it.

The dev suite (``build_suite.py``) holds the shapes the ladder was tuned on: steady, daily,
slowly growing or declining fleets. Out of sample the ladder lost most where usage changed
regime inside a term: fleets retired to zero (commitments stranded) and fleets ramping up
from zero (bought too little, too late). This suite is made of those changes, applied to
the same real series (the *donors*: NAB CloudWatch metrics, the Azure and Google 2019
datacenter aggregates, WorldCup98 requests), each rescaled as the dev suite does
(``units = ceil(value / median × level)``) before its transformation:

- ``retire-fleet``: every key of a 2–3-key fleet drops to zero at one random hour and stays
  there; ``retire-key``: a one-key fleet does; ``retire-one``: one key of several does, the
  others run on;
- ``ramp-linear``, ``ramp-step``, ``ramp-scurve``: usage starts at zero and ramps to the
  donor's level (a straight line, three to five steps, a logistic curve);
- ``step-up``, ``step-down``: the level is multiplied by 1.6–2.5 or by 0.25–0.6 at a
  random hour;
- ``spikes``: bursts of 2–4× the usage, lasting 2–12 hours, four to ten of them;
- ``migration``: a key's usage moves to another family over one to seven days (the fleet's
  total is kept; only a Compute Savings Plan follows it);
- ``lifecycle``: an application's life: ramp from zero, run, retire to zero.

Every random choice (donor, family, level, hour, size) is drawn from one seeded
``numpy`` generator per trace (``seed`` + the trace's index), so the same seed and inputs
give byte-identical files. Donors shorter than the trace are repeated end to end in
whole days (``"tiled": true`` in the MANIFEST). Retirements and changes fall after the
backtest's 168-hour warm-up and at least two days before the end, so every trace scores
a decision made before the change and one after it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.backtest.build_suite import (
    DC_START,
    DEFAULT_DATA,
    FAMILIES,
    LICENCES,
    Series,
    Sources,
    usage_key,
)
from optimizer.backtest.trace import UsageTrace, format_hour, write_trace

FloatArray = npt.NDArray[np.float64]

HERE = Path(__file__).resolve().parent
OUT = HERE / "stress"
CATALOG = "../catalogs/aws-2017-us-east-1-linux-short.json"
"""The dev suite's short catalog, relative to the stress folder."""
HOURS = 720
"""Every stress trace is 30 days: a 168-hour warm-up, then 552 scored hours."""
WARMUP = 168
EARLIEST_CHANGE = WARMUP + 24
LATEST_CHANGE = HOURS - 48
DEFAULT_SEED = 17
PER_KIND = 4
"""Traces per transformation (11 kinds × 4 = 44 traces)."""

DONORS: dict[str, Callable[[Sources], Series]] = {
    "nab-steady": lambda s: s.nab("ec2_cpu_utilization_53ea38"),
    "nab-daily": lambda s: s.nab("ec2_cpu_utilization_5f5533"),
    "nab-spiky": lambda s: s.nab("ec2_cpu_utilization_fe7f93"),
    "nab-rds": lambda s: s.nab("rds_cpu_utilization_cc0c53"),
    "nab-asg": lambda s: s.nab("cpu_utilization_asg_misconfiguration"),
    "azure-cpu": lambda s: s.dc("dc_azure_v2_2019_cpu_usage"),
    "azure-mem": lambda s: s.dc("dc_azure_v2_2019_assigned_mem"),
    "google-mem": lambda s: s.dc("dc_google_2019_assigned_mem"),
    "google-cpu": lambda s: s.dc("dc_google_2019_cpu_util"),
    "worldcup98": lambda s: s.worldcup98(),
}
"""The real series the shapes come from (see ``build_suite.py`` for each one's origin)."""


def source_of(series: Series) -> str:
    """The public source a series comes from, for leave-one-source-out: ``nab``,
    ``azure``, ``google`` or ``worldcup98`` (the two datacenter traces are separate
    sources: different operators, years and metrics)."""
    if series.dataset == "dc":
        return "azure" if "azure" in series.series_id else "google"
    return series.dataset


@dataclass
class Draw:
    """One trace being built: the rescaled donor columns and what was done to them."""

    rng: np.random.Generator
    donors: list[tuple[str, Series, int, bool]]
    """Per key: donor name, series, first hour taken from it, tiled."""
    families: list[str]
    levels: list[float]
    values: FloatArray
    """``(HOURS, K)`` usage before rounding up to whole units."""
    transformation: dict[str, Any]


def _donor_window(series: Series, rng: np.random.Generator) -> tuple[FloatArray, int, bool]:
    """``HOURS`` consecutive hours of a donor (from a random whole day when it is longer),
    or the donor repeated end to end in whole days when it is shorter; normalised to
    median 1."""
    values = series.values
    median = float(np.median(values))
    if len(values) >= HOURS:
        first = 24 * int(rng.integers(0, (len(values) - HOURS) // 24 + 1))
        window, tiled = values[first:first + HOURS], False
    else:
        days = len(values) - len(values) % 24
        first, window, tiled = 0, np.resize(values[:days], HOURS), True
    return window / median, first, tiled


def new_draw(sources: Sources, rng: np.random.Generator, n_keys: int,
             donor_names: Sequence[str] | None = None) -> Draw:
    """``n_keys`` keys of distinct families, each a random donor at a random level."""
    names = list(donor_names) if donor_names is not None else \
        [str(n) for n in rng.choice(sorted(DONORS), size=n_keys, replace=n_keys > len(DONORS))]
    families = [str(f) for f in rng.choice(FAMILIES, size=n_keys, replace=False)]
    columns, donors, levels = [], [], []
    for name in names:
        series = DONORS[name](sources)
        window, first, tiled = _donor_window(series, rng)
        level = float(rng.integers(20, 81))
        columns.append(window * level)
        donors.append((name, series, first, tiled))
        levels.append(level)
    return Draw(rng, donors, families, levels, np.column_stack(columns), {})


def change_hour(rng: np.random.Generator, earliest: int = EARLIEST_CHANGE,
                latest: int = LATEST_CHANGE) -> int:
    """A random hour for a regime change, inside the scored window."""
    return int(rng.integers(earliest, latest + 1))


def ramp_curve(kind: str, start: int, length: int, rng: np.random.Generator) -> FloatArray:
    """``(HOURS,)`` multipliers from 0 (before ``start``) to 1 (after ``start + length``)."""
    t = np.arange(HOURS, dtype=np.float64)
    x = np.clip((t - start) / max(length, 1), 0.0, 1.0)
    if kind == "linear":
        return x
    if kind == "step":
        steps = int(rng.integers(3, 6))
        return np.where(t < start, 0.0, np.ceil(np.maximum(x, 1e-12) * steps) / steps)
    if kind == "scurve":
        curve = 1.0 / (1.0 + np.exp(-10.0 * (x - 0.5)))
        low, high = 1.0 / (1.0 + np.exp(5.0)), 1.0 / (1.0 + np.exp(-5.0))
        return np.where(t < start, 0.0, (curve - low) / (high - low))
    raise ValueError(f"unknown ramp {kind!r}")


# Transformations -------------------------------------------------------------------------


def retire_fleet(sources: Sources, rng: np.random.Generator) -> Draw:
    """Every key of a 2–3-key fleet retires to zero at the same hour."""
    draw = new_draw(sources, rng, int(rng.integers(2, 4)))
    hour = change_hour(rng)
    draw.values[hour:, :] = 0.0
    draw.transformation = {"kind": "retire-fleet", "hour": hour}
    return draw


def retire_key(sources: Sources, rng: np.random.Generator) -> Draw:
    """A one-key fleet retires to zero."""
    draw = new_draw(sources, rng, 1)
    hour = change_hour(rng)
    draw.values[hour:, 0] = 0.0
    draw.transformation = {"kind": "retire-key", "hour": hour}
    return draw


def retire_one(sources: Sources, rng: np.random.Generator) -> Draw:
    """One key of a 2–3-key fleet retires to zero; the others run on."""
    draw = new_draw(sources, rng, int(rng.integers(2, 4)))
    hour, key = change_hour(rng), int(rng.integers(0, draw.values.shape[1]))
    draw.values[hour:, key] = 0.0
    draw.transformation = {"kind": "retire-one", "hour": hour,
                           "usage_key": usage_key(draw.families[key])}
    return draw


def _ramp(kind: str) -> Callable[[Sources, np.random.Generator], Draw]:
    def transform(sources: Sources, rng: np.random.Generator) -> Draw:
        draw = new_draw(sources, rng, int(rng.integers(1, 3)))
        start = int(rng.integers(0, 241))
        length = int(rng.integers(72, 337))
        draw.values *= ramp_curve(kind, start, length, rng)[:, None]
        draw.transformation = {"kind": f"ramp-{kind}", "start": start, "length": length}
        return draw

    transform.__doc__ = f"Usage starts at zero and ramps to the donor's level ({kind})."
    return transform


def step_up(sources: Sources, rng: np.random.Generator) -> Draw:
    """The whole fleet's level is multiplied by 1.6–2.5 at a random hour."""
    return _step(sources, rng, "step-up", float(rng.uniform(1.6, 2.5)))


def step_down(sources: Sources, rng: np.random.Generator) -> Draw:
    """The whole fleet's level is multiplied by 0.25–0.6 at a random hour."""
    return _step(sources, rng, "step-down", float(rng.uniform(0.25, 0.6)))


def _step(sources: Sources, rng: np.random.Generator, kind: str, factor: float) -> Draw:
    draw = new_draw(sources, rng, int(rng.integers(1, 3)))
    hour = change_hour(rng)
    draw.values[hour:, :] *= factor
    draw.transformation = {"kind": kind, "hour": hour, "factor": round(factor, 4)}
    return draw


def spikes(sources: Sources, rng: np.random.Generator) -> Draw:
    """Four to ten bursts of 2–4× the usage, 2–12 hours each, at random hours."""
    draw = new_draw(sources, rng, int(rng.integers(1, 3)))
    bursts = []
    for _ in range(int(rng.integers(4, 11))):
        hour, length = int(rng.integers(0, HOURS - 12)), int(rng.integers(2, 13))
        factor = float(rng.uniform(2.0, 4.0))
        draw.values[hour:hour + length, :] *= factor
        bursts.append([hour, length, round(factor, 4)])
    draw.transformation = {"kind": "spikes", "bursts": bursts}
    return draw


def migration(sources: Sources, rng: np.random.Generator) -> Draw:
    """A key's usage moves to another family over one to seven days; the total is kept."""
    draw = new_draw(sources, rng, int(rng.integers(1, 3)))
    source = int(rng.integers(0, draw.values.shape[1]))
    target = next(str(f) for f in rng.permutation(FAMILIES) if f not in draw.families)
    start = change_hour(rng, latest=LATEST_CHANGE - 168)
    length = int(rng.integers(24, 169))
    moved = draw.values[:, source] * ramp_curve("linear", start, length, rng)
    draw.values[:, source] -= moved
    draw.values = np.column_stack([draw.values, moved])
    draw.donors.append(draw.donors[source])
    draw.families.append(target)
    draw.levels.append(draw.levels[source])
    draw.transformation = {"kind": "migration", "start": start, "length": length,
                           "from": usage_key(draw.families[source]),
                           "to": usage_key(target)}
    return draw


def lifecycle(sources: Sources, rng: np.random.Generator) -> Draw:
    """An application's life: a ramp from zero, a run, then retirement to zero."""
    draw = new_draw(sources, rng, int(rng.integers(1, 3)))
    start, length = int(rng.integers(0, 121)), int(rng.integers(48, 169))
    retire = change_hour(rng, earliest=max(start + length + 48, EARLIEST_CHANGE))
    draw.values *= ramp_curve("scurve", start, length, rng)[:, None]
    draw.values[retire:, :] = 0.0
    draw.transformation = {"kind": "lifecycle", "start": start, "length": length,
                           "retire": retire}
    return draw


KINDS: dict[str, Callable[[Sources, np.random.Generator], Draw]] = {
    "retire-fleet": retire_fleet,
    "retire-key": retire_key,
    "retire-one": retire_one,
    "ramp-linear": _ramp("linear"),
    "ramp-step": _ramp("step"),
    "ramp-scurve": _ramp("scurve"),
    "step-up": step_up,
    "step-down": step_down,
    "spikes": spikes,
    "migration": migration,
    "lifecycle": lifecycle,
}


# Output ----------------------------------------------------------------------------------


def to_trace(name: str, draw: Draw) -> tuple[UsageTrace, dict[str, Any]]:
    """The trace of a draw (whole units, rounded up) and its MANIFEST entry."""
    # Round before ceil so that float noise (40.000000001) does not add an instance.
    units = np.ceil(np.round(np.maximum(draw.values, 0.0), 9))
    key_ids = tuple(usage_key(f) for f in draw.families)
    first_series = draw.donors[0][1]
    start = first_series.start if first_series.dataset != "dc" else DC_START
    keys = []
    for k, (donor, series, first, tiled) in enumerate(draw.donors):
        keys.append({
            "usage_key": key_ids[k], "donor": donor, "dataset": series.dataset,
            "source": source_of(series), "series_id": series.series_id, "file": series.file,
            "source_first_hour": first, "tiled": tiled, "level": draw.levels[k],
            "mean_units": float(units[:, k].mean()), "max_units": float(units[:, k].max()),
            "licence": LICENCES[series.dataset],
        })
    entry = {
        "name": name, "file": f"traces/{name}.csv", "catalog": CATALOG,
        "shapes": draw.transformation["kind"], "hours": HOURS, "start": format_hour(start),
        "rescaling": "units = ceil(transformed(value / median * level))",
        "transformation": draw.transformation,
        "sources": sorted({source_of(series) for _, series, _, _ in draw.donors}),
        "keys": keys,
    }
    return UsageTrace(start=start, key_ids=key_ids, units=units, source=f"{name}.csv"), entry


def stress_suite(sources: Sources, *, seed: int = DEFAULT_SEED,
                 per_kind: int = PER_KIND) -> list[tuple[UsageTrace, dict[str, Any]]]:
    """Every trace of the stress suite with its MANIFEST entry, in order."""
    out = []
    for k, (kind, transform) in enumerate(KINDS.items()):
        for i in range(per_kind):
            rng = np.random.default_rng([seed, k, i])
            draw = transform(sources, rng)
            draw.transformation["seed"] = [seed, k, i]
            out.append(to_trace(f"{kind}-{i + 1}", draw))
    return out


def build(data: Path, out: Path, *, seed: int = DEFAULT_SEED,
          per_kind: int = PER_KIND) -> list[dict[str, Any]]:
    """Write the stress traces and MANIFEST under ``out``; return the manifest."""
    (out / "traces").mkdir(parents=True, exist_ok=True)
    manifest = []
    for trace, entry in stress_suite(Sources(data), seed=seed, per_kind=per_kind):
        write_trace(out / entry["file"], trace)
        manifest.append(entry)
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def main(argv: Sequence[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"the shared data folder (default {DEFAULT_DATA})")
    parser.add_argument("--out", type=Path, default=OUT, help=f"output folder (default {OUT})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--per-kind", type=int, default=PER_KIND,
                        help=f"traces per transformation (default {PER_KIND})")
    args = parser.parse_args(argv)
    for entry in build(args.data, args.out, seed=args.seed, per_kind=args.per_kind):
        print(f"{entry['name']:16s} {len(entry['keys'])} keys  {entry['hours']} h  "
              f"{'+'.join(entry['sources']):18s} {json.dumps(entry['transformation'])}")


if __name__ == "__main__":
    main()
