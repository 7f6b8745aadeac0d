"""``ladder serve``'s scheduler of autonomous runs, and its health check.

Every policy with a ``schedule`` (a cron expression, UTC) has its scope run at
those times by :func:`ladder.run.run_once`; the scope's run lock keeps two
servers (or a server and a person's ``ladder run``) from running it at once.
On start-up the scheduler marks failed the runs that a killed process left
running (:func:`reap_all`), then reconciles every scope with unfinished intents,
before it schedules anything.

:func:`health` is what the API's ``GET /healthz`` answers under ``ladder serve``:
200 with the database reachable, 503 otherwise, and the scheduler's next and
last runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from croniter import croniter
from sqlalchemy import Engine, text

from core.db.models import utc_now
from core.db.session import session_scope
from core.errors import LadderError
from core.settings import Settings
from executor import repository as repo
from executor.execute import Executor
from executor.locks import ScopeLocked, run_lock
from executor.policy import check_schedule_interval, list_policies
from executor.recovery import reap_dead_runs, running_scopes
from ladder.run import RunOutcome, market_for, run_once
from providers.base import get_provider

log = logging.getLogger("ladder.scheduler")

RunFunction = Callable[[str, str], RunOutcome]
"""Runs one scope (provider, scope) and says how it ended."""


@dataclass(slots=True)
class Job:
    """A scheduled scope: its cron expression and when it runs next."""

    provider: str
    scope: str
    cron: str
    next_at: datetime
    last_run_id: int | None = None
    last_status: str | None = None
    last_outcome: str | None = None


class Scheduler:
    """Runs each scheduled scope when its cron expression comes due."""

    def __init__(self, engine: Engine, run: RunFunction, *,
                 min_interval: timedelta = timedelta(hours=1)) -> None:
        self.engine = engine
        self.run = run
        self.min_interval = min_interval
        self.jobs: dict[tuple[str, str], Job] = {}
        self.refused: dict[tuple[str, str], str] = {}
        """Scopes whose schedule is not run, and why (stored before the rules of today)."""
        self._lock = threading.Lock()

    def _refusal(self, cron: str) -> str | None:
        """Why a stored schedule is not run, or None when it may be."""
        try:
            check_schedule_interval(cron, self.min_interval)
        except (ValueError, LadderError) as exc:
            return str(exc)
        return None

    def refresh(self, now: datetime) -> list[Job]:
        """Read the policies' schedules: add, change and drop jobs; keep their next times.

        A schedule that today's rules refuse (more than five fields, or runs closer
        together than ``min_interval``: stored before those rules) is not run; it
        is logged and shown by :meth:`status` until the policy changes.
        """
        with session_scope(self.engine) as session:
            stored = {(p.provider, p.scope): p.policy.schedule for p in list_policies(session)
                      if p.policy.schedule}
        schedules: dict[tuple[str, str], str] = {}
        refused: dict[tuple[str, str], str] = {}
        for key, cron in stored.items():
            assert cron is not None
            refusal = self._refusal(cron)
            if refusal is None:
                schedules[key] = cron
            else:
                refused[key] = refusal
        with self._lock:
            for key, refusal in refused.items():
                if self.refused.get(key) != refusal:
                    log.warning("not scheduling %s/%s: %s", key[0], key[1], refusal)
            self.refused = refused
            for key in list(self.jobs):
                if key not in schedules:
                    del self.jobs[key]
            for (provider, scope), cron in schedules.items():
                job = self.jobs.get((provider, scope))
                if job is None or job.cron != cron:
                    next_at = croniter(cron, now).get_next(datetime)
                    self.jobs[(provider, scope)] = Job(provider, scope, cron, next_at)
            return list(self.jobs.values())

    def tick(self, now: datetime) -> list[RunOutcome]:
        """Run every job due at ``now``, one after the other; move each to its next time."""
        self.refresh(now)
        with self._lock:
            due = sorted((job for job in self.jobs.values() if job.next_at <= now),
                         key=lambda job: job.next_at)
        outcomes = []
        for job in due:
            outcome = self.run(job.provider, job.scope)
            with self._lock:
                job.last_run_id, job.last_status = outcome.run_id, outcome.status
                job.last_outcome = outcome.outcome
                job.next_at = croniter(job.cron, max(now, utc_now())).get_next(datetime)
            outcomes.append(outcome)
        return outcomes

    def status(self) -> list[dict[str, Any]]:
        """The jobs, for the health endpoint."""
        with self._lock:
            jobs: list[dict[str, Any]] = [
                {"provider": j.provider, "scope": j.scope, "cron": j.cron,
                 "next_at": j.next_at.isoformat(), "last_run_id": j.last_run_id,
                 "last_status": j.last_status, "last_outcome": j.last_outcome}
                for j in sorted(self.jobs.values(), key=lambda j: (j.provider, j.scope))]
            jobs += [{"provider": provider, "scope": scope, "refused": why}
                     for (provider, scope), why in sorted(self.refused.items())]
            return jobs

    def serve(self, stop: threading.Event, *, poll_s: float = 30.0) -> None:
        """Tick until ``stop`` is set, sleeping at most ``poll_s`` between ticks."""
        while not stop.is_set():
            try:
                self.tick(utc_now())
            except Exception:  # the scheduler outlives any one failure
                log.exception("scheduler tick failed")
            with self._lock:
                upcoming = min((job.next_at for job in self.jobs.values()), default=None)
            wait = poll_s if upcoming is None else max(
                0.0, min(poll_s, (upcoming - utc_now()).total_seconds()))
            stop.wait(wait)


def reap_all(engine: Engine, *, actor: str = "scheduler") -> list[str]:
    """Mark failed every run left running by a process that died (start-up); what was done."""
    with session_scope(engine) as session:
        scopes = running_scopes(session)
    lines = []
    for provider, scope in scopes:
        with session_scope(engine) as session:
            reaped = reap_dead_runs(session, provider, scope, actor=actor,
                                    found_by="ladder serve start-up")
        lines.append(f"{provider}/{scope}: run(s) {', '.join(map(str, reaped))} had died; "
                     "marked failed" if reaped else
                     f"{provider}/{scope}: a run is running in another live process")
    return lines


def reconcile_all(engine: Engine, settings: Settings, *, actor: str = "scheduler") -> list[str]:
    """Reconcile every scope that has unfinished intents (start-up); lines saying what was done."""
    with session_scope(engine) as session:
        scopes = repo.unfinished_scopes(session)
    lines = []
    for provider_name, scope in scopes:
        try:
            market = market_for(get_provider(provider_name))
            if market is None:
                lines.append(f"{provider_name}/{scope}: the provider cannot buy; left as is")
                continue
            executor = Executor(engine, market, settings=settings, actor=actor)
            with run_lock(engine, provider_name, scope, lease_s=settings.run_lock_lease_s):
                report = executor.reconcile(provider_name, scope)
            lines.append(f"{provider_name}/{scope}: {report.checked} checked, settled "
                         f"{report.settled or 'none'}, {len(report.unresolved)} unresolved")
        except ScopeLocked:
            lines.append(f"{provider_name}/{scope}: another run holds the lock; it reconciles")
        except Exception as exc:  # one scope's failure must not stop the others
            log.exception("start-up reconciliation of %s/%s failed", provider_name, scope)
            lines.append(f"{provider_name}/{scope}: failed: {exc}")
    return lines


def health(engine: Engine, scheduler: Scheduler | None) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of the health endpoint."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:
        database = f"unreachable: {type(exc).__name__}"
    body: dict[str, Any] = {"status": "ok" if database == "ok" else "degraded",
                            "database": database}
    if scheduler is not None:
        body["scheduler"] = scheduler.status()
    return (200 if database == "ok" else 503), body


def scheduled_run(engine: Engine, settings: Settings) -> RunFunction:
    """The run function of the scheduler: :func:`run_once` with the ``schedule`` trigger."""

    def run(provider: str, scope: str) -> RunOutcome:
        """One scheduled run of the scope."""
        return run_once(engine, settings, provider_name=provider, scope=scope,
                        trigger="schedule", actor="scheduler")

    return run
