"""Forecast and plan a large fleet through the run's own planner: stage times for N keys.

Issue 22 asks for 10,000 usage keys forecast and planned in under 10 minutes on 2 cores.
This drives ``ladder.planners.forecast_plan`` (the autonomous run's planner: window,
scenarios from the default forecaster, the stochastic LP and its safe core, rounding,
re-pricing, explanations) on a synthetic fleet and prints how long each stage took::

    python -m benchmarks.fleet_plan                 # 10,000 keys, 90 days of history
    python -m benchmarks.fleet_plan --keys 1000 --days 28

The fleet is ``benchmarks.forecast.synthetic_fleet`` (mixed shapes: cycles, trends,
level shifts, spikes, new and decommissioned keys) over pools of an instance family in a
region with many accounts each, as an AWS organisation has them. The catalog prices each
pool alike (AWS prices a family in a region once) and sells, as AWS does, a Standard RI
per pool, a Convertible RI and an EC2 Instance Savings Plan on some pools, and six
Compute Savings Plans (1 and 3 years × three payment options) that cover every key.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import numpy as np
import pandas as pd

from benchmarks.forecast import synthetic_fleet
from benchmarks.optimizer import REGIONS, YEAR, unit_offering
from core.domain import Catalog, KeyPrice, Offering
from core.errors import SolverError
from core.settings import Settings
from ladder.planners import forecast_plan

FAMILIES = 20
TARGET_S = 600.0
START = pd.Timestamp("2026-01-01", tz="UTC")


def fleet_keys(n_keys: int) -> list[str]:
    """Key names of ``n_keys`` spread over ``FAMILIES × REGIONS`` pools, many accounts each."""
    pools = FAMILIES * len(REGIONS)
    keys = []
    for k in range(n_keys):
        pool, account = k % pools, k // pools
        family, region = pool // len(REGIONS), REGIONS[pool % len(REGIONS)]
        keys.append(f"aws/{100000 + account}/ec2/{region}/fam{family}/linux/shared")
    return keys


def _pool(key: str) -> tuple[str, str]:
    parts = key.split("/")
    return parts[4], parts[3]


def fleet_catalog(keys: list[str], seed: int = 0) -> Catalog:
    """Prices and the AWS-like menu of offerings for ``keys`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    by_pool: dict[tuple[str, str], list[str]] = {}
    for key in keys:
        by_pool.setdefault(_pool(key), []).append(key)
    rate = {pool: 0.02 * (1 + 0.6 * rng.random()) for pool in by_pool}
    prices = tuple(KeyPrice(key, rate[_pool(key)]) for key in keys)
    offerings: list[Offering] = []
    for i, (pool, members) in enumerate(sorted(by_pool.items())):
        family, region = pool
        od = rate[pool]
        offerings.append(unit_offering(f"ri-std-1y-nu/{region}/{family}", members, od * 0.62,
                                       YEAR, 0.0, "standard_ri", 0))
        if i % 2 == 0:
            offerings.append(unit_offering(f"ri-conv-3y-pu/{region}/{family}", members,
                                           od * 0.48, 3 * YEAR, 0.5, "convertible_ri", 1))
        if i % 5 == 0:
            offerings.append(Offering.spend(
                f"sp-ec2-1y-nu/{region}/{family}", term_hours=YEAR, upfront_fraction=0.0,
                rates=dict.fromkeys(members, od * 0.64), order=10, kind="ec2_instance_sp"))
    for years, discount in ((1, 0.28), (3, 0.48)):
        for share, bonus in ((0.0, 0.0), (0.5, 0.02), (1.0, 0.03)):
            offerings.append(Offering.spend(
                f"sp-compute-{years}y-{share:g}", term_hours=years * YEAR,
                upfront_fraction=share, order=20, kind="compute_sp",
                rates={p.usage_key: p.on_demand_rate * (1 - discount - bonus) for p in prices}))
    return Catalog(keys=prices, offerings=tuple(offerings), source="benchmarks.fleet_plan")


def fleet_usage(keys: list[str], hours: int, seed: int = 0) -> pd.DataFrame:
    """The long usage frame (hour, usage_key, units) of the synthetic fleet, zeros left out."""
    units, _ = synthetic_fleet(len(keys), hours, seed=seed)
    hour_index, key_index = np.nonzero(units)
    stamps = pd.date_range(START, periods=hours, freq="h")
    return pd.DataFrame({"hour": stamps[hour_index],
                         "usage_key": np.asarray(keys, dtype=object)[key_index],
                         "units": units[hour_index, key_index]})


class Stages:
    """Wall time of each step the planner reports, in order."""

    def __init__(self) -> None:
        """No step timed yet."""
        self.seconds: list[tuple[str, float]] = []

    @contextmanager
    def __call__(self, label: str) -> Iterator[None]:
        """Time the step ``label`` (the planner's ``StepReporter``)."""
        began = time.perf_counter()
        try:
            yield
        finally:
            self.seconds.append((label, time.perf_counter() - began))


def _print_stages(stages: Stages) -> None:
    for label, seconds in stages.seconds:
        print(f"  {seconds:8.1f} s  {label}")


def main() -> None:
    """Build the fleet, plan it, print the stage times against the 10-minute target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90, help="days of hourly history")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=None,
                        help="the solver's time limit in seconds (default: the settings')")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} before the run")
    began = time.perf_counter()
    keys = fleet_keys(args.keys)
    catalog = fleet_catalog(keys, seed=args.seed)
    usage = fleet_usage(keys, args.days * 24, seed=args.seed)
    print(f"fleet: {args.keys:,} keys × {args.days * 24:,} hours ({len(usage):,} non-zero "
          f"rows), {len(catalog.offerings)} offerings; built in "
          f"{time.perf_counter() - began:.1f} s (not counted)")
    settings = Settings(lookback_hours=args.days * 24)
    if args.time_limit is not None:
        settings = settings.model_copy(update={"solver_time_limit_s": args.time_limit})
    decision = (START + timedelta(hours=args.days * 24)).to_pydatetime()
    stages = Stages()
    began = time.perf_counter()
    try:
        planned = forecast_plan(usage, catalog, (), decision_time=decision, settings=settings,
                                step=stages)
    except SolverError as error:
        _print_stages(stages)
        raise SystemExit(f"no plan after {time.perf_counter() - began:.1f} s: {error}") from None
    total = time.perf_counter() - began
    _print_stages(stages)
    print(f"  LP: {planned.n_variables:,} variables, {planned.n_constraints:,} constraints; "
          f"built in {planned.build_seconds:.1f} s, solved in {planned.solve_seconds:.1f} s "
          "(main LP and safe core)")
    details = planned.plan.details
    print(f"  LP solved {details['lp_method']} ({planned.plan.solver_status}): bound "
          f"${details['lower_bound']:,.0f}, LP point ${details['lp_upper']:,.0f}; billed plan "
          f"${details['plan_price']:,.0f}: certified gap {details['certified_gap']:.3%}")
    print(f"  plan: {len(planned.plan.actions)} actions, expected savings "
          f"${planned.plan.expected_savings:,.0f} over the horizon")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    verdict = "under" if total < TARGET_S else "OVER"
    print(f"forecast and plan: {total:.1f} s ({verdict} the {TARGET_S:.0f} s target); "
          f"peak RSS {peak:.2f} GiB; load average {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
