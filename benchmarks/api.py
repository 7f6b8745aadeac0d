"""The REST API under load: p50 and p95 latency of the savings, coverage and budget-status
reports, with 16 concurrent clients, over HTTP on loopback, on PostgreSQL.

One year of hourly usage for 500 keys (``benchmarks.reporting_data``: 4.38M usage
hours, daily FOCUS cost lines with tags, 26 commitments, a monthly budget) is
stored in a schema of its own, then ``uvicorn --factory api.app:create_app``
serves it in a separate process (one worker per core), and the clients (``httpx``, async)
each send their requests one after the other::

    python -m benchmarks.api --url postgresql+psycopg://postgres@127.0.0.1:5432/test

``--reuse`` measures the data an earlier run left in the schema (it is kept
unless ``--drop``). The target is a p95 under 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta

import httpx
from sqlalchemy import make_url, select

from api.keys.service import create_key
from api.roles import Role
from benchmarks.reporting_data import START, generate_reporting_data
from benchmarks.schemas import create_schema, drop_schema, in_schema
from core.db.models import DatasetRow
from core.db.session import create_engine_for, migrate, session_scope
from reporting import list_budgets

PEPPER = "ladder-api-benchmark"
"""The pepper of the benchmark's key and server (an empty one is no longer accepted: the
server would generate its own and refuse the key)."""
SCHEMA = "ladder_bench_api"
TARGET_P95_MS = 300.0

Request = Callable[[int], str]
"""The path of a scenario's request number n (a scenario may vary its parameters with n)."""


def _prepare(url: str, provider: str, *, keys: int, days: int, reuse: bool) -> tuple[int, str]:
    """Data in the benchmark's schema (generated unless reused); the budget id and a key."""
    schema_url = create_schema(url, SCHEMA, fresh=False)
    migrate(schema_url)
    engine = create_engine_for(schema_url)
    try:
        with session_scope(engine) as session:
            stored = session.scalar(select(DatasetRow.id).where(DatasetRow.provider == provider))
        if stored is None or not reuse:
            if stored is not None:
                raise SystemExit(f"{SCHEMA} already holds {provider!r}: pass --reuse, or "
                                 "--drop once to start afresh")
            began = time.perf_counter()
            with session_scope(engine) as session:
                data = generate_reporting_data(session, provider=provider, keys=keys,
                                               days=days)
            print(f"generated {data.usage_rows:,} usage hours ({data.keys} keys × "
                  f"{data.hours} hours), {data.cost_lines:,} cost lines in "
                  f"{time.perf_counter() - began:.0f} s")
        with session_scope(engine) as session:
            budget = next(b for b in list_budgets(session, provider=provider)
                          if b.spec.name == f"{provider} monthly")
            key = create_key(session, name="benchmark", role=Role.ADMIN, pepper=PEPPER,
                             actor="benchmark").key
        return budget.id, key
    finally:
        engine.dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _serve(url: str, port: int, *, workers: int = 1) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LADDER_DATABASE_URL": in_schema(url, SCHEMA),
           "LADDER_API_KEY_PEPPER": PEPPER}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app", "--host",
         "127.0.0.1", "--port", str(port), "--workers", str(workers), "--log-level", "warning",
         "--no-access-log"],
        env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("uvicorn did not start")


def scenarios(provider: str, budget_id: int, days: int) -> dict[str, Request]:
    """The requests measured: each report asked the same way every time (a dashboard), and
    with a different window each time (every request misses the per-snapshot memo)."""
    first = START.date()

    def window(n: int) -> tuple[date, date]:
        start = first + timedelta(days=n % max(days - 31, 1))
        return start, start + timedelta(days=31)

    def between(n: int) -> str:
        start, end = window(n)
        return f"start={start}&end={end}"

    base = f"/v1/reports/{{}}?provider={provider}"
    return {
        "savings month × account (same query)":
            lambda n: base.format("savings") + "&group_by=account",
        "savings day × account (new window each)":
            lambda n: base.format("savings") + f"&granularity=day&group_by=account&{between(n)}",
        "coverage month × service (same query)":
            lambda n: base.format("coverage") + "&group_by=service",
        "coverage day × usage_key (new window each)":
            lambda n: base.format("coverage") + f"&granularity=day&group_by=usage_key&"
                                                f"{between(n)}",
        "budget status (same budget)": lambda n: f"/v1/budgets/{budget_id}/status",
        "budget status (new as_of each)":
            lambda n: f"/v1/budgets/{budget_id}/status?as_of={window(n)[1]}",
    }


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def _load(base_url: str, key: str, request: Request, *, clients: int,
                requests: int) -> tuple[list[float], float]:
    """``clients`` concurrent clients, each sending ``requests`` in turn; latencies in ms."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {key}"},
                                 limits=limits, timeout=120) as client:

        async def one_client(offset: int) -> None:
            for index in range(requests):
                began = time.perf_counter()
                response = await client.get(request(offset * requests + index))
                await response.aread()
                latencies.append((time.perf_counter() - began) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{response.status_code}: {response.text[:300]}")

        began = time.perf_counter()
        await asyncio.gather(*(one_client(n) for n in range(clients)))
        return latencies, time.perf_counter() - began


def measure(base_url: str, key: str, requests_by_name: dict[str, Request], *, clients: int,
            requests: int, workers: int = 1) -> dict[str, dict[str, float]]:
    """First call (the first after start-up loads the reporting snapshot), then p50/p95 ms
    and throughput of each scenario under load, every worker warmed up first."""
    results: dict[str, dict[str, float]] = {}
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"},
                      timeout=300) as client:
        for name, request in requests_by_name.items():
            began = time.perf_counter()
            client.get(request(10_000)).raise_for_status()
            results[name] = {"first_ms": (time.perf_counter() - began) * 1000}
    for request in requests_by_name.values():  # reach every worker, untimed
        asyncio.run(_load(base_url, key, request, clients=4 * workers, requests=2))
    for name, request in requests_by_name.items():
        latencies, wall = asyncio.run(_load(base_url, key, request, clients=clients,
                                            requests=requests))
        results[name] |= {"p50_ms": statistics.median(latencies),
                          "p95_ms": _percentile(latencies, 0.95),
                          "max_ms": max(latencies),
                          "requests_per_s": len(latencies) / wall}
    return results


def main() -> None:
    """Store the data, serve it with uvicorn, load it, print the latencies."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get(
        "LADDER_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--keys", type=int, default=500)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=25, help="per client and scenario")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="uvicorn worker processes (default: one per core)")
    parser.add_argument("--provider", default="bench")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the data an earlier run left in the schema")
    parser.add_argument("--drop", action="store_true", help="drop the schema at the end")
    args = parser.parse_args()
    if make_url(args.url).get_backend_name() != "postgresql":
        raise SystemExit("the API benchmark runs on PostgreSQL")

    budget_id, key = _prepare(args.url, args.provider, keys=args.keys, days=args.days,
                              reuse=args.reuse)
    load = os.getloadavg()[0]
    port = _free_port()
    server = _serve(args.url, port, workers=args.workers)
    try:
        results = measure(f"http://127.0.0.1:{port}", key,
                          scenarios(args.provider, budget_id, args.days),
                          clients=args.clients, requests=args.requests, workers=args.workers)
    finally:
        server.terminate()
        server.wait(timeout=30)
        if args.drop:
            drop_schema(args.url, SCHEMA)
    print(f"{args.clients} concurrent clients × {args.requests} requests per scenario, "
          f"uvicorn ({args.workers} worker(s)) on loopback, PostgreSQL; {args.keys} keys × "
          f"{args.days} days; {os.cpu_count()} cores, load average "
          f"{load:.1f} before the run")
    print(f"{'scenario':<46} {'first':>8} {'p50':>7} {'p95':>7} {'max':>7} {'req/s':>6}")
    worst = 0.0
    for name, figures in results.items():
        worst = max(worst, figures["p95_ms"])
        print(f"{name:<46} {figures['first_ms']:>6.0f}ms {figures['p50_ms']:>5.0f}ms "
              f"{figures['p95_ms']:>5.0f}ms {figures['max_ms']:>5.0f}ms "
              f"{figures['requests_per_s']:>6.1f}")
    verdict = "met" if worst < TARGET_P95_MS else "NOT met"
    print(f"worst p95 {worst:.0f} ms: target p95 < {TARGET_P95_MS:.0f} ms {verdict}")


if __name__ == "__main__":
    main()
