"""Runs whose process died: found, marked failed, and their plans handed back, audited.

A run is stored as ``running`` only while its process holds the scope's run lock
(``ladder.run.run_once`` takes the lock first, and records the end before it gives
the lock back). So a ``running`` run of a scope whose lock no live process holds
(:func:`executor.locks.holder_alive`: on PostgreSQL the advisory lock of a dead
connection is gone; on SQLite the lease ran out, or the holder ran on this machine
and its process is gone) was killed: ``kill -9``, an OOM kill, a lost machine.

:func:`reap_dead_runs` marks such runs ``failed`` (outcome ``interrupted``) and
audits it. A plan such a run left ``executing`` stays so: that is the state in
which the executor settles it. The next run of the scope (``POST /v1/runs``,
``ladder run``, the schedule) or ``ladder plans execute ID`` reconciles its
unsettled purchases with the provider first (nothing is bought twice), then places
what is still pending, or skips it once the plan has expired; ``ladder serve``
reconciles on start-up. The audit log says so on the plan (``plan.interrupted``),
and the run's error names the plans and what to do.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.db.models import PlanRow, RunRow, utc_now
from core.domain import PlanStatus
from executor import audit
from executor.locks import holder_alive

INTERRUPTED = "interrupted"
"""The outcome of a run that ended without finishing."""


def running_scopes(session: Session) -> list[tuple[str, str]]:
    """(provider, scope) of every scope with a run still marked running."""
    return [(provider, scope) for provider, scope in session.execute(
        select(RunRow.provider, RunRow.scope).where(RunRow.status == "running")
        .distinct().order_by(RunRow.provider, RunRow.scope))]


def mark_interrupted(session: Session, runs: list[RunRow], *, actor: str,
                     found_by: str) -> list[int]:
    """Mark runs known to be dead as failed/interrupted, audited with their executing plans."""
    if not runs:
        return []
    audit.lock_chain(session)
    marked = []
    for run in runs:
        plans = list(session.scalars(select(PlanRow).where(
            PlanRow.provider == run.provider, PlanRow.scope == run.scope,
            PlanRow.status == PlanStatus.EXECUTING).order_by(PlanRow.id)))
        left = "".join(
            f"; it left plan {plan.id} executing: the next run of {run.provider}/{run.scope} "
            "(or `ladder plans execute`) reconciles its purchases and carries it on"
            for plan in plans)
        error = ("the run ended without finishing (its process was killed or stopped: "
                 f"pid {run.pid} on {run.host})" + left)
        # Only if still running: a run that finished meanwhile keeps its own end.
        finished = session.execute(
            update(RunRow).where(RunRow.id == run.id, RunRow.status == "running")
            .values(status="failed", outcome=INTERRUPTED, error=error, finished_at=utc_now())
            .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
        session.refresh(run)
        if finished != 1:
            continue
        marked.append(run.id)
        audit.append(session, actor=actor, event="run.interrupted", subject=f"run:{run.id}",
                     reason=error, data={"found_by": found_by, "host": run.host,
                                         "pid": run.pid,
                                         "executing_plans": [p.id for p in plans]})
        for plan in plans:
            audit.append(session, actor=actor, event="plan.interrupted",
                         subject=f"plan:{plan.id}",
                         reason=f"run {run.id}, which was executing this plan, died; the plan "
                                "stays executing until a run reconciles and settles it",
                         data={"run_id": run.id, "status": plan.status})
    session.flush()
    return marked


def reap_dead_runs(session: Session, provider: str, scope: str, *, actor: str,
                   found_by: str) -> list[int]:
    """Mark the scope's runs still ``running`` failed if no live process holds its run lock.

    Returns their ids (empty when a live run holds the lock, or none is running).
    Call it in a transaction that writes: see :func:`executor.locks.holder_alive`.
    """
    runs = list(session.scalars(select(RunRow).where(
        RunRow.provider == provider, RunRow.scope == scope, RunRow.status == "running")
        .order_by(RunRow.id)))
    if not runs or holder_alive(session, provider, scope):
        return []
    return mark_interrupted(session, runs, actor=actor, found_by=found_by)


__all__ = ["INTERRUPTED", "mark_interrupted", "reap_dead_runs", "running_scopes"]
