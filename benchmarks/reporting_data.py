"""One year of hourly usage for 500 keys, stored fast, with commitments, tags and a budget.

For the reporting and API benchmarks (issue 8): ``generate_reporting_data``
writes a dataset (8,760 hours × 500 keys = 4.38M usage hours, by PostgreSQL
``COPY``), a catalog, an inventory, daily FOCUS cost lines with two tag sets per
key, a budget, and refreshes the reporting facts. ``python -m
benchmarks.reporting_data --url URL`` does that and then times the savings,
coverage and budget-status services under concurrent threads::

    python -m benchmarks.reporting_data --url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Table
from sqlalchemy.orm import Session

from core.db.models import DatasetRow, UsageHour
from core.db.repository import replace_inventory, upsert_catalog, upsert_usage_keys
from core.db.session import create_engine_for, migrate, session_scope
from core.domain import Catalog, Commitment, KeyPrice, Offering, PaymentOption, Shape
from reporting import (
    BudgetSpec,
    Dimension,
    Granularity,
    ReportQuery,
    Scope,
    budget_status,
    clear_cache,
    coverage,
    create_budget,
    list_budgets,
    refresh_facts,
    savings,
)
from reporting.repository import add_cost_lines, bulk_insert

START = datetime(2025, 1, 1, tzinfo=UTC)
ACCOUNTS = 20
TEAMS = ("alpha", "beta", "gamma", "delta", "epsilon")


@dataclass(frozen=True, slots=True)
class BenchmarkData:
    """What ``generate_reporting_data`` stored, and how long each step took (seconds)."""

    provider: str
    dataset_id: int
    budget_id: int
    keys: int
    hours: int
    usage_rows: int
    cost_lines: int
    timings: dict[str, float]


def _keys(count: int, provider: str) -> list[str]:
    families = -(-count // ACCOUNTS)
    return [f"{provider}/acct-{i % ACCOUNTS:02d}/ec2/us-east-1/fam{i // ACCOUNTS:02d}/linux/"
            "shared" for i in range(count)][: families * ACCOUNTS][:count]


def _usage(keys: int, hours: int, seed: int) -> np.ndarray:
    """Hourly normalised units: a level per key, a daily and weekly cycle, a trend, noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(hours)[:, None]
    level = rng.lognormal(3.0, 0.8, size=keys)[None, :]
    daily = 1 + 0.3 * np.sin(2 * np.pi * (t % 24) / 24 + rng.uniform(0, 6, size=keys))
    weekly = 1 - 0.15 * ((t // 24) % 7 >= 5)
    trend = 1 + rng.uniform(-0.3, 0.5, size=keys) * t / hours
    noise = rng.lognormal(0.0, 0.1, size=(hours, keys))
    return np.maximum(level * daily * weekly * trend * noise, 0.0)


def _catalog(key_ids: list[str], rates: np.ndarray) -> Catalog:
    """One size-flexible RI per family (its accounts' keys) and one Compute-style SP."""
    rate_of = dict(zip(key_ids, rates.tolist(), strict=True))
    families = sorted({k.split("/")[4] for k in key_ids})
    unit = tuple(
        Offering(offering_id=f"ri-1y-nu/{family}", shape=Shape.UNIT, term_hours=8760,
                 upfront=0.0, hourly=max(rate_of[k] for k in covers) * 0.62, order=0,
                 covers={k: 1.0 for k in covers}, kind="standard_ri")
        for family in families
        for covers in [[k for k in key_ids if k.split("/")[4] == family]]
    )
    spend = Offering.spend("sp-compute-1y-pu", term_hours=8760, upfront_fraction=0.5,
                           rates={k: float(r) * 0.72 for k, r in zip(key_ids, rates,
                                                                     strict=True)},
                           order=200, kind="compute_sp",
                           payment_option=PaymentOption.PARTIAL_UPFRONT)
    return Catalog(keys=tuple(KeyPrice(k, float(r)) for k, r in zip(key_ids, rates,
                                                                   strict=True)),
                   offerings=(*unit, spend), currency="USD", source="benchmark")


def generate_reporting_data(
    session: Session, *, provider: str = "bench", keys: int = 500, days: int = 365,
    seed: int = 0, start: datetime = START, store_usage: bool = True,
) -> BenchmarkData:
    """Store a year (``days``) of hourly usage for ``keys`` keys and refresh the facts.

    Flushes, never commits (use ``session_scope``). PostgreSQL takes the rows by
    ``COPY``; SQLite by batched inserts (slower: minutes for the full size).
    ``store_usage=False`` skips the 4.38M ``usage_hours`` rows, which no report
    reads (the facts are built from the generated frame): the dataset, cost
    lines, inventory, budget and facts are stored all the same, in a fraction
    of the time.
    """
    timings: dict[str, float] = {}
    began = time.perf_counter()
    hours = days * 24
    key_ids = _keys(keys, provider)
    rng = np.random.default_rng(seed + 1)
    family_rate = {f: rng.uniform(0.02, 0.2) for f in {k.split("/")[4] for k in key_ids}}
    rates = np.array([family_rate[k.split("/")[4]] for k in key_ids])
    units = _usage(len(key_ids), hours, seed)
    index = pd.date_range(start, periods=hours, freq="h", tz="UTC")
    hourly = pd.DataFrame({
        "hour": np.repeat(index, len(key_ids)),
        "usage_key": np.tile(np.array(key_ids, dtype=object), hours),
        "units": units.ravel(),
        "on_demand_cost": (units * rates[None, :]).ravel(),
    })
    timings["generate"] = time.perf_counter() - began

    began = time.perf_counter()
    catalog = _catalog(key_ids, rates)
    upsert_catalog(session, provider, catalog)
    ids = upsert_usage_keys(session, [
        {"usage_key": k, "provider": provider, "scope": k.split("/")[1], "service": "ec2",
         "region": "us-east-1", "family": k.split("/")[4], "platform": "linux",
         "tenancy": "shared", "on_demand_rate": float(r)} for k, r in zip(key_ids, rates,
                                                                          strict=True)])
    digest = hashlib.sha256(f"{provider}{keys}{days}{seed}{start}".encode()).hexdigest()
    dataset = DatasetRow(provider=provider, sources=["benchmark"], sha256=digest,
                         currency="USD", start=start, end=start + timedelta(hours=hours),
                         rows_read=len(hourly), rows_used=len(hourly))
    session.add(dataset)
    session.flush()
    rows = pd.DataFrame({
        "dataset_id": dataset.id,
        "usage_key_id": hourly["usage_key"].map(ids).to_numpy(),
        "hour": hourly["hour"],
        "units": hourly["units"].to_numpy(),
        "on_demand_cost": hourly["on_demand_cost"].to_numpy(),
    })
    if store_usage:
        bulk_insert(session, cast(Table, UsageHour.__table__), rows)
    timings["store_usage"] = time.perf_counter() - began

    began = time.perf_counter()
    frame = pd.DataFrame({"day": index.floor("D").date.repeat(len(key_ids)),
                          "usage_key": hourly["usage_key"], "units": hourly["units"],
                          "list_cost": hourly["on_demand_cost"]})
    daily = frame.groupby(["day", "usage_key"], sort=True).sum().reset_index()
    team = {k: TEAMS[i % len(TEAMS)] for i, k in enumerate(key_ids)}
    parts = []
    for share, environment in ((0.7, "production"), (0.3, "staging")):
        part = daily.assign(units=daily["units"] * share, list_cost=daily["list_cost"] * share)
        part["tags"] = [f'{{"environment":"{environment}","team":"{team[k]}"}}'
                        for k in part["usage_key"]]
        parts.append(part)
    lines = pd.concat(parts, ignore_index=True)
    lines["commitment_discount_id"] = None
    lines["billed_cost"] = lines["list_cost"]
    lines["contracted_cost"] = lines["list_cost"]
    lines["effective_cost"] = lines["list_cost"] * 0.8
    written = add_cost_lines(session, dataset.id, lines, provider=provider)
    timings["store_cost_lines"] = time.perf_counter() - began

    began = time.perf_counter()
    owned = [Commitment(offering=o, quantity=float(
        np.quantile(units[:, [i for i, k in enumerate(key_ids) if k in o.covers]].sum(axis=1),
                    0.2)), start=start - timedelta(days=100 + 30 * n),
        commitment_id=f"{provider}-ri-{n:02d}")
        for n, o in enumerate(catalog.offerings[:-1])]
    owned.append(Commitment(offering=catalog.offerings[-1], quantity=50.0,
                            start=start + timedelta(days=120), commitment_id=f"{provider}-sp"))
    replace_inventory(session, provider, owned)
    budget = create_budget(session, BudgetSpec(
        name=f"{provider} monthly", amount=float(units.sum() * rates.mean() / 12 * 0.6),
        scope=Scope(provider=provider)))
    timings["inventory_and_budget"] = time.perf_counter() - began

    began = time.perf_counter()
    refresh_facts(session, provider, dataset_id=dataset.id, usage=hourly, commitments=owned,
                  rates=catalog.on_demand_rates())
    timings["refresh_facts"] = time.perf_counter() - began
    return BenchmarkData(provider=provider, dataset_id=dataset.id, budget_id=budget.id,
                         keys=len(key_ids), hours=hours, usage_rows=len(hourly),
                         cost_lines=written, timings=timings)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


Call = Callable[[Session, int], Any]
"""A service call; the int numbers the request (to vary parameters and defeat the memo)."""


def _clients(engine: Engine, call: Call, clients: int, requests: int) -> tuple[list[float],
                                                                             float]:
    latencies: list[float] = []
    lock = threading.Lock()

    def client(offset: int) -> None:
        for index in range(requests):
            began = time.perf_counter()
            with session_scope(engine) as session:
                call(session, offset * requests + index)
            elapsed = (time.perf_counter() - began) * 1000
            with lock:
                latencies.append(elapsed)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - began


def measure(engine: Engine, calls: dict[str, Call], *, clients: int = 16,
            requests: int = 20) -> dict[str, dict[str, float]]:
    """p50/p95 milliseconds of each call with ``clients`` threads × ``requests`` calls each."""
    results: dict[str, dict[str, float]] = {}
    for name, call in calls.items():
        latencies, wall = _clients(engine, call, clients, requests)
        results[name] = {"p50_ms": statistics.median(latencies),
                         "p95_ms": _percentile(latencies, 0.95),
                         "requests_per_s": len(latencies) / wall}
    return results


def main() -> None:
    """Generate the data into ``--url`` and print timings and latencies."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--keys", type=int, default=500)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--provider", default="bench")
    parser.add_argument("--no-usage-hours", action="store_true",
                        help="do not store the hourly usage rows (reports do not read them)")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the provider's data already stored by an earlier run")
    args = parser.parse_args()
    migrate(args.url)
    engine = create_engine_for(args.url, pool_size=args.clients, max_overflow=4)
    if args.reuse:
        with session_scope(engine) as session:
            found = next(b for b in list_budgets(session, provider=args.provider)
                         if b.spec.name == f"{args.provider} monthly")
        budget_id = found.id
    else:
        with session_scope(engine) as session:
            data = generate_reporting_data(session, provider=args.provider, keys=args.keys,
                                           days=args.days, store_usage=not args.no_usage_hours)
        budget_id = data.budget_id
        print(f"generated {data.usage_rows:,} usage hours ({data.keys} keys × {data.hours} "
              f"hours), {data.cost_lines:,} cost lines")
        for step, seconds in data.timings.items():
            print(f"  {step}: {seconds:.1f} s")
    scope = Scope(provider=args.provider)
    first = START.date()

    def window(index: int) -> dict[str, Any]:
        # A different window per request: every call misses the per-snapshot result memo.
        start = first + timedelta(days=index % max(args.days - 31, 1))
        return {"start": start, "end": start + timedelta(days=31)}

    calls: dict[str, Call] = {
        "savings month × account (same query)": lambda s, i: savings(s, ReportQuery(
            group_by=Dimension.ACCOUNT, scope=scope)),
        "savings day × account (new window each)": lambda s, i: savings(s, ReportQuery(
            granularity=Granularity.DAY, group_by=Dimension.ACCOUNT, scope=scope,
            **window(i))),
        "coverage month × service (same query)": lambda s, i: coverage(s, ReportQuery(
            group_by=Dimension.SERVICE, scope=scope)),
        "coverage day × usage_key (new window each)": lambda s, i: coverage(s, ReportQuery(
            granularity=Granularity.DAY, group_by=Dimension.USAGE_KEY, scope=scope,
            **window(i))),
        "budget status (same budget)": lambda s, i: budget_status(s, budget_id),
        "budget status (new as_of each)": lambda s, i: budget_status(
            s, budget_id, as_of=window(i)["end"]),
    }
    clear_cache()
    for name, call in calls.items():
        began = time.perf_counter()
        with session_scope(engine) as session:
            call(session, 0)
        print(f"  first call, {name}: {(time.perf_counter() - began) * 1000:.0f} ms")
    for name, figures in measure(engine, calls, clients=args.clients,
                                 requests=args.requests).items():
        print(f"  {name}: p50 {figures['p50_ms']:.0f} ms, p95 {figures['p95_ms']:.0f} ms, "
              f"{figures['requests_per_s']:.0f} req/s ({args.clients} clients)")
    engine.dispose()


if __name__ == "__main__":
    main()
