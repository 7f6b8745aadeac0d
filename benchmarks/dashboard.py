"""The dashboard's overview page under a year of data: p50 and p95 of ``GET /`` over HTTP.

One year of hourly usage for 500 keys (``benchmarks.reporting_data``: daily FOCUS
cost lines with tags, 26 commitments, a budget; the hourly usage rows, which no
report reads, are not stored) goes into a SQLite file (or ``--url``); the app
(API and dashboard) is served by uvicorn on loopback in a thread; one signed-in
client asks for the overview again and again: month to date (the default), then
quarter and year to date, then month to date on a different day each time (which
misses every memo of the reports)::

    python -m benchmarks.dashboard            # SQLite in a temporary folder
    python -m benchmarks.dashboard --url postgresql+psycopg://postgres@127.0.0.1:5432/test

On PostgreSQL the data goes into a schema of the benchmark's own, dropped at the end.
The target is a p95 under 300 ms.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import uvicorn
from pydantic import SecretStr

from api.app import create_app
from api.keys.service import create_key
from api.roles import Role
from benchmarks.reporting_data import START, generate_reporting_data
from benchmarks.schemas import scratch_schema
from core.db.session import create_engine_for, migrate, session_scope
from core.settings import Settings, sqlite_url

PEPPER = "ladder-dashboard-benchmark"
SCHEMA = "ladder_bench_dashboard"
TARGET_P95_MS = 300.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _prepare(url: str, *, keys: int, days: int) -> str:
    """Generate the data into ``url``; an admin key."""
    migrate(url)
    engine = create_engine_for(url)
    try:
        began = time.perf_counter()
        with session_scope(engine) as session:
            data = generate_reporting_data(session, provider="bench", keys=keys, days=days,
                                           store_usage=False)
        print(f"generated {data.keys} keys × {data.hours:,} hours, {data.cost_lines:,} cost "
              f"lines, in {time.perf_counter() - began:.0f} s")
        with session_scope(engine) as session:
            return create_key(session, name="benchmark", role=Role.ADMIN, pepper=PEPPER,
                              actor="benchmark").key
    finally:
        engine.dispose()


def _serve(url: str) -> tuple[uvicorn.Server, threading.Thread, str]:
    settings = Settings(database_url=url, api_key_pepper=SecretStr(PEPPER))
    config = uvicorn.Config(create_app(settings, migrate_on_start=False, warm_reports=True),
                            host="127.0.0.1", port=_free_port(), log_level="warning",
                            access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="benchmark-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise SystemExit("uvicorn did not start")
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{config.port}"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(client: httpx.Client, paths: list[str]) -> dict[str, float]:
    """p50 and p95 milliseconds of GET of each path, one after the other."""
    latencies = []
    for path in paths:
        began = time.perf_counter()
        response = client.get(path)
        latencies.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200 or "data-figure=\"realised_savings\"" not in response.text:
            raise SystemExit(f"{path} answered {response.status_code} without its figures")
    return {"p50_ms": statistics.median(latencies), "p95_ms": _percentile(latencies, 0.95),
            "requests": float(len(latencies))}


def main() -> None:
    """Generate, serve, sign in, and print the overview's latencies."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (default: SQLite in a temporary folder)")
    parser.add_argument("--keys", type=int, default=500)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if args.url is None:
            run(sqlite_url(Path(folder) / "ladder.db"), args)
        else:
            with scratch_schema(args.url, SCHEMA) as url:
                run(url, args)


def run(url: str, args: argparse.Namespace) -> None:
    """Generate into ``url``, serve it, sign in, and print the overview's latencies."""
    key = _prepare(url, keys=args.keys, days=args.days)
    print(f"load average before the requests: {os.getloadavg()[0]:.2f} "
          f"({os.cpu_count()} cores)")
    server, thread, base = _serve(url)
    try:
        with httpx.Client(base_url=base, timeout=60, follow_redirects=True) as client:
            signed = client.post("/login", data={"key": key})
            if "data-figure" not in signed.text:
                raise SystemExit("sign-in failed")
            last = START.date() + timedelta(days=args.days - 1)
            began = time.perf_counter()
            client.get("/")
            print(f"first overview (reports cold): {(time.perf_counter() - began) * 1000:.0f}"
                  " ms")
            scenarios = {
                "month to date (default)": ["/"] * args.requests,
                "quarter to date": ["/?period=quarter"] * args.requests,
                "year to date": ["/?period=year"] * args.requests,
                "month to date, a new day each": [
                    f"/?to={last - timedelta(days=n)}" for n in range(args.requests)],
            }
            for name, paths in scenarios.items():
                figures = measure(client, paths)
                verdict = "under" if figures["p95_ms"] < TARGET_P95_MS else "OVER"
                print(f"  overview, {name}: p50 {figures['p50_ms']:.0f} ms, "
                      f"p95 {figures['p95_ms']:.0f} ms ({verdict} the {TARGET_P95_MS:.0f} ms "
                      f"target; {figures['requests']:.0f} requests)")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    print(f"load average after: {os.getloadavg()[0]:.2f}")

if __name__ == "__main__":
    main()
