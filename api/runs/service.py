"""Runs: read the history; start one through the launcher the server was given.

The run itself (``ladder.run.run_once``) belongs to the composition layer, which
the API must not import: ``ladder serve`` hands the app a :class:`RunLauncher`
that starts it in the background.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from api.errors import ServiceUnavailable
from api.keys.service import Caller
from api.runs import repository as repo
from api.runs.repository import RunFilter
from api.runs.schemas import RunAccepted, RunRead
from core.db.models import utc_now
from core.errors import Conflict
from executor.recovery import reap_dead_runs


class RunLauncher(Protocol):
    """Starts one run of a scope in the background, as ``actor``; returns at once."""

    def __call__(self, *, provider: str, scope: str, actor: str) -> None:
        """Start the run."""


def list_runs(
    session: Session, where: RunFilter, *, limit: int, offset: int
) -> tuple[list[RunRead], int]:
    """Runs matching ``where``, the newest first, and how many match in all."""
    rows, total = repo.list_runs(session, where, limit=limit, offset=offset)
    return [RunRead.model_validate(row) for row in rows], total


def get_run(session: Session, run_id: int) -> RunRead | None:
    """One run, or None."""
    row = repo.get_run(session, run_id)
    return None if row is None else RunRead.model_validate(row)


def trigger_run(
    session: Session, launcher: RunLauncher | None, *, provider: str, scope: str, caller: Caller
) -> RunAccepted:
    """Start a run of the scope as the caller, unless one is running already.

    A run still marked running whose process died (no live process holds the
    scope's run lock) is marked failed first, and audited: it does not block.

    ``provider`` is one of ``provider_names()``: ``RunCreate`` accepts no other.
    """
    if launcher is None:
        raise ServiceUnavailable("this server cannot start runs: serve the API with "
                                 "`ladder serve`, or start one with `ladder run`")
    running = repo.running_run(session, provider, scope)
    if running is not None and not reap_dead_runs(session, provider, scope, actor=caller.name,
                                                  found_by="POST /v1/runs"):
        raise Conflict(f"run {running.id} of {provider}/{scope} is running since "
                       f"{running.started_at:%Y-%m-%d %H:%M:%S} UTC")
    launcher(provider=provider, scope=scope, actor=caller.name)
    return RunAccepted(provider=provider, scope=scope, actor=caller.name,
                       accepted_at=utc_now(),
                       runs="/v1/runs?" + urlencode({"provider": provider, "scope": scope}))
