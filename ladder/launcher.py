"""Runs started from the REST API (``POST /v1/runs``), in the background of ``ladder serve``.

The API hands a run to :class:`BackgroundRuns` and answers 202 at once; the run
itself is :func:`ladder.run.run_once` with the ``api`` trigger, recorded in
``runs`` and audited like any other. The scope's run lock still holds: a run
started while another of the scope is running is recorded as ``skipped``.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy import Engine

from core.settings import Settings
from ladder.run import RunOutcome, run_once

log = logging.getLogger("ladder.launcher")


class BackgroundRuns:
    """Starts runs on a small pool of threads (``api.runs.service.RunLauncher``)."""

    def __init__(self, engine: Engine, settings: Settings, *, max_workers: int = 2) -> None:
        """Runs go to ``engine`` with ``settings``, at most ``max_workers`` at a time."""
        self.engine = engine
        self.settings = settings
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="api-run")

    def __call__(self, *, provider: str, scope: str, actor: str) -> None:
        """Queue a run of the scope as ``actor``; returns at once."""
        self.submit(provider=provider, scope=scope, actor=actor)

    def submit(self, *, provider: str, scope: str, actor: str) -> Future[RunOutcome | None]:
        """Queue a run of the scope as ``actor``; its future ends with the outcome."""
        return self._pool.submit(self._run, provider, scope, actor)

    def _run(self, provider: str, scope: str, actor: str) -> RunOutcome | None:
        try:
            outcome = run_once(self.engine, self.settings, provider_name=provider, scope=scope,
                               trigger="api", actor=actor)
        except Exception:  # run_once records its own failures; this is what escaped it
            log.exception("the API's run of %s/%s could not start", provider, scope)
            return None
        log.info("API run %s of %s/%s: %s (%s)", outcome.run_id, provider, scope,
                 outcome.status, outcome.outcome)
        return outcome

    def shutdown(self, *, wait: bool = False) -> None:
        """Stop taking runs; with ``wait``, let the queued ones finish first."""
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
