"""The REST API under mixed load: 16 clients for 10 minutes, reads and writes, on loopback.

The bundled sample is stored in a database of its own (a SQLite file in a
temporary folder by default; ``--url`` for PostgreSQL, in a schema of its own
dropped at the end): 90 days of usage, its catalog and inventory, a plan from the
lookback planner, a policy. ``uvicorn --factory api.app:create_app``
serves it in a separate process (``--workers``), and ``--clients`` concurrent
clients (``httpx``, async, one key each: an admin's) send requests one after the
other for ``--duration`` seconds, each drawn from a fixed mix:

* reads (about four in five): plans, a plan, runs, commitments, expiring
  commitments, the savings, coverage and utilisation reports (JSON, and CSV), the
  budgets and a budget's status, the audit log, the policies, ``/healthz``;
* writes: a new version of the client's own policy, a budget created, changed and
  deleted, an API key created and revoked (each audited: the writes queue on the
  audit chain's head, and on SQLite on its write lock).

An error is any response other than the one the request must get (a 5xx, a 409,
a 422 …) or a request that fails (time-out, connection). It prints the error
count, the p50/p95/p99 latency of all requests and of each kind, and the
throughput; the exit code is 1 when there was any error::

    python -m benchmarks.load                       # SQLite, 16 clients, 600 s
    python -m benchmarks.load --duration 60
    python -m benchmarks.load --url postgresql+psycopg://postgres@127.0.0.1:5432/test

Measured on the development machine (2 cores, shared with a long benchmark; load
average 2-8 during the runs), 2 uvicorn workers, 16 clients, 45 s each, 2026-12-07:

| database | requests | errors | p50 | p95 | p99 | writes' p95 |
|---|---|---|---|---|---|---|
| SQLite | 7,911 (175/s) | 0 | 53 ms | 204 ms | 1,089 ms | 0.9-1.9 s |
| PostgreSQL | 7,289 (162/s) | 0 | 65 ms | 308 ms | 683 ms | 0.6-0.8 s |

Writes are slower than reads: each is audited, and the audit chain's head is one
row every write locks (on SQLite, the database's write lock besides).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import make_url

from api.keys.service import create_key
from api.roles import Role
from benchmarks.schemas import create_schema, drop_schema
from core.db.session import create_engine_for, migrate, session_scope
from core.settings import Settings, sqlite_url
from executor.policy import ScopePolicy, save_policy
from ladder import pipeline

SCHEMA = "ladder_bench_load"
PROVIDER = "sample"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class Deployment:
    """The database the server serves, the pepper of its keys, and what the requests name."""

    url: str
    data_dir: Path
    pepper: str
    keys: tuple[str, ...]
    plan_id: int


def prepare(url: str | None, data_dir: Path, clients: int) -> Deployment:
    """Store the sample (usage, catalog, inventory, a plan), a policy and the clients' keys."""
    if url is None:
        url = sqlite_url(data_dir / "ladder.db")
    else:
        url = create_schema(url, SCHEMA, fresh=True)
    migrate(url)
    pepper = secrets.token_urlsafe(32)
    settings = Settings(database_url=url, data_dir=data_dir, planner="lookback",
                        lookback_hours=24 * 28, exchanges=False)
    engine = create_engine_for(url)
    try:
        began = time.perf_counter()
        plan_id = pipeline.optimize(engine, settings, provider_name=PROVIDER).plan_id
        print(f"stored the sample and a plan in {time.perf_counter() - began:.0f} s")
        with session_scope(engine) as session:
            save_policy(session, PROVIDER, "all", ScopePolicy(max_run_upfront=1e5, schedule=None),
                        actor="benchmark", reason="load benchmark")
            keys = tuple(create_key(session, name=f"load-{n}", role=Role.ADMIN, pepper=pepper,
                                    actor="benchmark").key for n in range(clients))
    finally:
        engine.dispose()
    return Deployment(url, data_dir, pepper, keys, plan_id)


def serve(deployment: Deployment, port: int, workers: int) -> subprocess.Popen[bytes]:
    """uvicorn serving the API on ``port``, once it answers its health check."""
    env = {**os.environ, "LADDER_DATABASE_URL": deployment.url,
           "LADDER_DATA_DIR": str(deployment.data_dir),
           "LADDER_API_KEY_PEPPER": deployment.pepper}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app", "--host",
         "127.0.0.1", "--port", str(port), "--workers", str(workers), "--log-level", "warning",
         "--no-access-log"], env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise SystemExit("uvicorn stopped before it answered")
        time.sleep(0.2)
    process.kill()
    raise SystemExit("uvicorn did not start")


@dataclass
class Tally:
    """Latencies (ms) and errors, per kind of request."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def record(self, kind: str, began: float, problem: str | None) -> None:
        """One request of ``kind`` that began at ``began`` (perf_counter); its problem if any."""
        self.latencies[kind].append((time.perf_counter() - began) * 1000)
        if problem is not None:
            self.errors[kind] += 1
            self.examples.setdefault(kind, problem[:300])


Step = Callable[[httpx.AsyncClient, Tally], Awaitable[None]]
"""A write of the mix: one request or a short cycle of them."""


async def _call(client: httpx.AsyncClient, tally: Tally, kind: str, method: str, path: str,
                expect: int, **kwargs: object) -> httpx.Response | None:
    """Send one request; record its latency, and an error unless it answered ``expect``."""
    began = time.perf_counter()
    try:
        response = await client.request(method, path, **kwargs)  # type: ignore[arg-type]
        await response.aread()
    except httpx.HTTPError as exc:
        tally.record(kind, began, f"{type(exc).__name__}: {exc}")
        return None
    problem = None if response.status_code == expect else (
        f"{method} {path}: {response.status_code} {response.text[:200]}")
    tally.record(kind, began, problem)
    return response


class Client:
    """One simulated user: its key, its own policy scope and budgets, and the mix it draws."""

    def __init__(self, index: int, deployment: Deployment, seed: int) -> None:
        self.index = index
        self.deployment = deployment
        self.random = random.Random(seed)
        self.budget_id: int | None = None
        self.created = 0
        reports = f"?provider={PROVIDER}"
        plan = deployment.plan_id
        self.reads: list[tuple[int, str, str]] = [
            (10, "GET plans", "/v1/plans?limit=20"),
            (5, "GET plan", f"/v1/plans/{plan}"),
            (5, "GET runs", "/v1/runs"),
            (5, "GET commitments", "/v1/commitments"),
            (3, "GET expiring", "/v1/commitments/expiring"),
            (10, "GET savings report", f"/v1/reports/savings{reports}&granularity=month"),
            (5, "GET coverage report", f"/v1/reports/coverage{reports}&group_by=usage_key"),
            (5, "GET utilisation report", f"/v1/reports/utilisation{reports}"),
            (3, "GET savings CSV", f"/v1/reports/savings{reports}&format=csv"),
            (5, "GET budgets", "/v1/budgets"),
            (5, "GET audit", "/v1/audit?limit=20"),
            (4, "GET policies", "/v1/policies"),
            (5, "GET healthz", "/healthz"),
        ]
        self.writes: list[tuple[int, Step]] = [
            (6, self.put_policy), (4, self.budget_cycle), (4, self.budget_status),
            (2, self.key_cycle),
        ]

    async def put_policy(self, client: httpx.AsyncClient, tally: Tally) -> None:
        """A new version of this client's own scope's policy."""
        body = {"policy": {"max_run_upfront": float(self.random.randint(1, 10**6)),
                           "auto_approve": self.random.random() < 0.5},
                "reason": "load benchmark"}
        await _call(client, tally, "PUT policy", "PUT",
                    f"/v1/policies/{PROVIDER}/load-{self.index}", 200, json=body)

    async def budget_cycle(self, client: httpx.AsyncClient, tally: Tally) -> None:
        """Create this client's budget, change it, or delete it (in turn)."""
        if self.budget_id is None:
            self.created += 1
            body = {"name": f"load-{self.index}-{self.created}", "amount": 1000.0,
                    "provider": PROVIDER}
            response = await _call(client, tally, "POST budget", "POST", "/v1/budgets", 201,
                                   json=body)
            if response is not None and response.status_code == 201:
                self.budget_id = int(response.json()["id"])
        elif self.random.random() < 0.7:
            await _call(client, tally, "PATCH budget", "PATCH", f"/v1/budgets/{self.budget_id}",
                        200, json={"amount": float(self.random.randint(100, 10**5))})
        else:
            await _call(client, tally, "DELETE budget", "DELETE",
                        f"/v1/budgets/{self.budget_id}", 204)
            self.budget_id = None

    async def budget_status(self, client: httpx.AsyncClient, tally: Tally) -> None:
        """The status of this client's budget (forecast and variance), once it has one."""
        if self.budget_id is None:
            await self.budget_cycle(client, tally)
            return
        await _call(client, tally, "GET budget status", "GET",
                    f"/v1/budgets/{self.budget_id}/status", 200)

    async def key_cycle(self, client: httpx.AsyncClient, tally: Tally) -> None:
        """Create a viewer's key and revoke it."""
        self.created += 1
        response = await _call(client, tally, "POST key", "POST", "/v1/keys", 201,
                               json={"name": f"load-{self.index}-{self.created}",
                                     "role": "viewer"})
        if response is not None and response.status_code == 201:
            await _call(client, tally, "DELETE key", "DELETE",
                        f"/v1/keys/{response.json()['id']}", 200)

    async def step(self, client: httpx.AsyncClient, tally: Tally) -> None:
        """One request (or a short cycle of writes) drawn from the mix."""
        read_weight = sum(w for w, *_ in self.reads)
        write_weight = sum(w for w, _ in self.writes)
        if self.random.random() < read_weight / (read_weight + write_weight):
            _, kind, path = self.random.choices(self.reads,
                                                weights=[w for w, *_ in self.reads])[0]
            await _call(client, tally, kind, "GET", path, 200)
        else:
            _, write = self.random.choices(self.writes, weights=[w for w, _ in self.writes])[0]
            await write(client, tally)


async def load(base_url: str, deployment: Deployment, *, clients: int,
               duration_s: float, seed: int) -> tuple[Tally, float]:
    """``clients`` clients sending requests one after the other until ``duration_s`` ends."""
    tally = Tally()
    deadline = time.monotonic() + duration_s

    async def run(index: int) -> None:
        user = Client(index, deployment, seed + index)
        headers = {"Authorization": f"Bearer {deployment.keys[index]}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:
            while time.monotonic() < deadline:
                await user.step(client, tally)

    began = time.perf_counter()
    await asyncio.gather(*(run(n) for n in range(clients)))
    return tally, time.perf_counter() - began


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else 0.0


def report(tally: Tally, wall_s: float) -> int:
    """Print the figures; the number of errors."""
    every = [ms for values in tally.latencies.values() for ms in values]
    errors = sum(tally.errors.values())
    print(f"\n{len(every):,} requests in {wall_s:.0f} s ({len(every) / wall_s:.1f}/s), "
          f"errors: {errors}")
    print(f"latency ms: p50 {_percentile(every, 0.5):.0f}, p95 {_percentile(every, 0.95):.0f}, "
          f"p99 {_percentile(every, 0.99):.0f}, max {max(every, default=0):.0f}\n")
    print(f"{'request':<24}{'count':>8}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}")
    for kind in sorted(tally.latencies, key=lambda k: -len(tally.latencies[k])):
        values = tally.latencies[kind]
        print(f"{kind:<24}{len(values):>8}{tally.errors[kind]:>8}"
              f"{_percentile(values, 0.5):>9.0f}{_percentile(values, 0.95):>9.0f}")
    for kind, example in tally.examples.items():
        print(f"first error of {kind}: {example}")
    return errors


def main() -> None:
    """Store the sample, serve it with uvicorn, load it with mixed requests, print figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="Seconds of load.")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes.")
    parser.add_argument("--url", default=None,
                        help="A PostgreSQL URL (a schema of its own is made and dropped); "
                        "default: a SQLite file in a temporary folder.")
    parser.add_argument("--seed", type=int, default=23)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ladder-load-") as folder:
        deployment = prepare(args.url, Path(folder), args.clients)
        port = _free_port()
        server = serve(deployment, port, args.workers)
        try:
            print(f"{args.clients} clients for {args.duration:.0f} s against "
                  f"{args.workers} worker(s) on {make_url(deployment.url).get_backend_name()}")
            tally, wall = asyncio.run(load(f"http://127.0.0.1:{port}", deployment,
                                           clients=args.clients, duration_s=args.duration,
                                           seed=args.seed))
        finally:
            server.terminate()
            server.wait(timeout=60)
        errors = report(tally, wall)
        if args.url is not None:
            drop_schema(args.url, SCHEMA)
    raise SystemExit(1 if errors else 0)


if __name__ == "__main__":
    main()
