"""The autonomous run: reconcile → ingest → forecast → optimise → approve by policy → execute.

One run of one scope at a time (the scope's run lock), in this order:

1. **reconcile** every unfinished intent with the provider; when one cannot be
   settled, the run stops before anything else happens;
2. **resume** plans left executing by a run that died, and expire stale plans;
3. **plan**: the planner ingests usage, prices and inventory, forecasts and
   optimises, and stores a plan (:func:`store_plan`: the settings' planner,
   forecast scenarios and the risk-aware stochastic LP by default,
   :mod:`ladder.planners`; tests plug their own in as ``planner=``);
4. **review** the plan against the scope's policy: approved automatically
   inside it, else held for an approver (and a notification says so);
5. **execute** it once (a dry run unless the provider is in
   ``LADDER_EXECUTE_PROVIDERS``);
6. **alerts**: commitments expiring within 30/60/90 days, utilisation below
   the policy's floor.

Each run is stored in ``runs`` with its status, outcome, timings and plan, and
audited. A run that finds the lock taken is recorded as ``skipped``.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from core.db import repository as core_repository
from core.db.models import DEFAULT_SCOPE, RunRow, utc_now
from core.db.session import session_scope
from core.errors import LadderError, PolicyViolation
from core.settings import Settings
from executor import audit, notify
from executor import repository as repo
from executor.approval import Decision, expire_stale, review, supersede
from executor.execute import ExecutionReport, Executor, UnresolvedIntents
from executor.guardrails import INPUTS_KEY
from executor.lifecycle import PlanStatus
from executor.locks import RunLock, ScopeLocked, kept_alive, run_lock
from executor.policy import StoredPolicy, load_policy
from executor.recovery import mark_interrupted
from ladder import facts, pipeline
from ladder.planners import StepReporter
from providers.base import Market, Provider, get_provider

log = logging.getLogger("ladder.run")

Planner = Callable[[Engine, Settings, str, StepReporter], int]
"""Ingest, forecast and optimise for a provider; store the plan and return its id."""


def store_plan(engine: Engine, settings: Settings, provider: str,
               step: StepReporter) -> int:
    """Ingest, plan with the settings' planner (``LADDER_PLANNER``), store; the plan's id."""
    return pipeline.optimize(engine, settings, provider_name=provider, step=step).plan_id


def market_for(provider: Provider) -> Market | None:
    """The provider's market, if it can buy (``provider.market()``)."""
    factory = getattr(provider, "market", None)
    return factory() if callable(factory) else None


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How a run ended."""

    run_id: int
    status: str
    outcome: str
    mode: str
    plan_id: int | None = None
    detail: str = ""
    decision: Decision | None = None
    execution: ExecutionReport | None = None
    timings: dict[str, float] = field(default_factory=dict)


class _Timer:
    """Seconds spent in each named step."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def __call__(self, label: str) -> Iterator[None]:
        # Steps may name their sizes in parentheses; timings are kept per step.
        name = label.split(" (", 1)[0]
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(self.timings.get(name, 0.0)
                                       + time.perf_counter() - started, 4)


def _start_run(engine: Engine, *, provider: str, scope: str, trigger: str, actor: str,
               mode: str) -> int:
    with session_scope(engine) as session:
        audit.lock_chain(session)
        run = repo.add_run(session, provider=provider, scope=scope, trigger=trigger,
                           actor=actor, mode=mode, host=socket.gethostname(), pid=os.getpid())
        audit.append(session, actor=actor, event="run.start", subject=f"run:{run.id}",
                     reason=f"{trigger} run of {provider}/{scope} ({mode})",
                     data={"provider": provider, "scope": scope, "mode": mode,
                           "trigger": trigger, "pid": os.getpid()})
        return run.id


def _record_skipped(engine: Engine, *, provider: str, scope: str, trigger: str, actor: str,
                    mode: str, error: str) -> int:
    """A run that found the scope locked: stored as skipped at once (never as running,
    which only a holder of the lock may be)."""
    with session_scope(engine) as session:
        audit.lock_chain(session)
        run = repo.add_run(session, provider=provider, scope=scope, trigger=trigger,
                           actor=actor, mode=mode, host=socket.gethostname(), pid=os.getpid())
        run.status, run.outcome, run.error = "skipped", "locked", error
        run.finished_at = utc_now()
        session.flush()
        audit.append(session, actor=actor, event="run.start", subject=f"run:{run.id}",
                     reason=f"{trigger} run of {provider}/{scope} ({mode})",
                     data={"provider": provider, "scope": scope, "mode": mode,
                           "trigger": trigger, "pid": os.getpid()})
        audit.append(session, actor=actor, event="run.finish", subject=f"run:{run.id}",
                     reason=error, data={"status": "skipped", "outcome": "locked",
                                         "plan_id": None, "timings": {}})
        return run.id


def _finish_run(engine: Engine, run_id: int, *, status: str, outcome: str, actor: str,
                timings: dict[str, float], summary: dict[str, Any], plan_id: int | None,
                error: str | None = None) -> None:
    with session_scope(engine) as session:
        audit.lock_chain(session)
        run = session.get(RunRow, run_id)
        assert run is not None
        run.status, run.outcome, run.plan_id, run.error = status, outcome, plan_id, error
        run.timings, run.summary = dict(timings), audit.canonical(summary)
        run.finished_at = utc_now()
        audit.append(session, actor=actor, event="run.finish", subject=f"run:{run_id}",
                     reason=error or outcome,
                     data={"status": status, "outcome": outcome, "plan_id": plan_id,
                           "timings": timings})


def _mark_interrupted(engine: Engine, provider: str, scope: str, run_id: int,
                      actor: str) -> list[int]:
    """Runs of the scope left running: under the scope's lock, they are dead."""
    with session_scope(engine) as session:
        stale = repo.interrupted_runs(session, provider, scope, but=run_id)
        return mark_interrupted(session, stale, actor=actor, found_by=f"run:{run_id}")


def _notifier(stored: StoredPolicy | None, settings: Settings) -> notify.WebhookNotifier:
    urls = stored.policy.webhook_urls if stored is not None and stored.policy.webhook_urls \
        else ((settings.webhook_url,) if settings.webhook_url else ())
    return notify.WebhookNotifier(urls)


def _prepare_plan(engine: Engine, plan_id: int, scope: str, actor: str) -> list[int]:
    """Give the plan its scope and guardrail inputs; expire the plans it supersedes."""
    with session_scope(engine) as session:
        audit.lock_chain(session)
        plan = core_repository.get_plan(session, plan_id)
        assert plan is not None
        plan.scope = scope
        inputs = facts.complete_plan_inputs(session, plan).to_json()
        repo.merge_plan_details(session, plan, {INPUTS_KEY: inputs})
        audit.append(session, actor=actor, event="plan.created", subject=f"plan:{plan_id}",
                     reason="planned by the run",
                     data={INPUTS_KEY: inputs, "details": plan.details})
        return supersede(session, plan_id, actor=actor)


def _alerts(engine: Engine, plan_id: int, stored: StoredPolicy | None,
            notifier: notify.WebhookNotifier) -> dict[str, str]:
    """Expiring commitments and low utilisation, each notified once; failed sends retried."""
    sent: dict[str, str] = {}
    with session_scope(engine) as session:
        plan = core_repository.get_plan(session, plan_id)
        assert plan is not None
        provider, scope = plan.provider, plan.scope
        decided = str((plan.details or {}).get("decision_time", ""))
        now = datetime.fromisoformat(decided) if decided else utc_now()
        messages = notify.expiring(core_repository.list_commitments(session, provider),
                                   provider=provider, scope=scope, now=now)
        floor = stored.policy.min_utilisation if stored is not None else None
        health = facts.portfolio_health(session, plan) if floor is not None else None
        if floor is not None and health is not None and health.utilisation < floor:
            messages.append(notify.utilisation_low(
                provider=provider, scope=scope, utilisation=health.utilisation, floor=floor,
                day=f"{now:%Y-%m-%d}", worst=health.by_commitment))
    for message in messages:
        sent[message.dedup_key] = notify.notify(engine, notifier, message)
    # Earlier sends that failed (run failures included) are tried again.
    return {**notify.resend_failed(engine, notifier, provider=provider, scope=scope), **sent}


def _execution_outcome(report: ExecutionReport) -> tuple[str, str, str | None]:
    """(run status, outcome, error) of an execution report."""
    if report.dry_run:
        return "succeeded", "dry_run", None
    if report.plan_status == PlanStatus.EXECUTING:
        unsettled = [a for a in report.actions if a.status in repo.UNFINISHED]
        return ("failed", "incomplete",
                f"{len(unsettled)} purchase(s) have no known outcome yet; the next run "
                "reconciles them before anything else")
    return "succeeded", report.plan_status, None


def run_once(
    engine: Engine,
    settings: Settings,
    *,
    provider_name: str | None = None,
    scope: str = DEFAULT_SCOPE,
    trigger: str = "cli",
    actor: str = "scheduler",
    planner: Planner = store_plan,
    wait_s: float = 0.0,
    market: Market | None = None,
    step: StepReporter | None = None,
) -> RunOutcome:
    """One autonomous run of a scope; never raises for a failure of the run itself.

    The run is stored as ``running`` only while this process holds the scope's run
    lock, from just after it takes the lock to just before it gives it back: a
    ``running`` run whose scope no live process holds is dead
    (:mod:`executor.recovery`).
    """
    provider = get_provider(provider_name or settings.default_provider)
    name = provider.name
    mode = "execute" if settings.executes(name) else "dry_run"
    try:
        with run_lock(engine, name, scope, lease_s=settings.run_lock_lease_s,
                      wait_s=wait_s) as lock, kept_alive(lock, settings.run_lock_lease_s / 3):
            run_id = _start_run(engine, provider=name, scope=scope, trigger=trigger,
                                actor=actor, mode=mode)
            outcome = _run_locked(engine, settings, lock, run_id, provider=provider,
                                  scope=scope, mode=mode, actor=actor, planner=planner,
                                  market=market, step=step)
    except ScopeLocked as exc:
        run_id = _record_skipped(engine, provider=name, scope=scope, trigger=trigger,
                                 actor=actor, mode=mode, error=str(exc))
        return RunOutcome(run_id, "skipped", "locked", mode, detail=str(exc))
    if outcome.status == "failed":
        _notify_failure(engine, settings, name, scope, run_id, outcome.detail or outcome.outcome)
    return outcome


def _run_locked(
    engine: Engine, settings: Settings, lock: RunLock, run_id: int, *, provider: Provider,
    scope: str, mode: str, actor: str, planner: Planner, market: Market | None,
    step: StepReporter | None,
) -> RunOutcome:
    """The run under the scope's lock, recorded as finished before the lock is given back."""
    name = provider.name
    timer = _Timer()
    summary: dict[str, Any] = {}
    plan_id: int | None = None
    stored: StoredPolicy | None = None

    @contextmanager
    def timed(label: str) -> Iterator[None]:
        """Time a step, and show it to the caller's reporter."""
        with timer(label):
            if step is None:
                yield
            else:
                with step(label):
                    yield

    try:
        summary["interrupted_runs"] = _mark_interrupted(engine, name, scope, run_id, actor)
        market = market or market_for(provider)
        executor = (Executor(engine, market, settings=settings, actor=actor)
                    if market is not None else None)
        if executor is not None:
            with timed("reconcile"):
                report = executor.reconcile(name, scope)
                summary["reconcile"] = {"checked": report.checked,
                                        "settled": report.settled,
                                        "finished_plans": list(report.plans_finished)}
                if not report.clean:
                    raise UnresolvedIntents(report.unresolved)
            if mode == "execute":
                with timed("resume"):
                    summary["resumed"] = [r.plan_id for r in
                                          executor.resume(name, scope, lock)]
        with timed("expire"), session_scope(engine) as session:
            summary["expired"] = expire_stale(session, name, scope, actor=actor)
        with timed("plan"):
            plan_id = planner(engine, settings, name, timed)
        lock.check()
        with timed("review"):
            summary["superseded"] = _prepare_plan(engine, plan_id, scope, actor)
            with session_scope(engine) as session:
                decision = review(session, plan_id)
                stored = load_policy(session, name, scope)
                plan = core_repository.get_plan(session, plan_id)
                assert plan is not None
                numbers = (plan.expected_savings, plan.upfront_cash,
                           sum(a.amortized_hourly_cost for a in plan.actions),
                           len(plan.actions))
        summary["decision"] = {"status": decision.status,
                               "violations": [v.to_dict() for v in decision.violations],
                               "policy_version": decision.policy_version}
        notifier = _notifier(stored, settings)
        execution = None
        if decision.approved and executor is None:
            status, outcome, error = "succeeded", "no_market", None
        elif decision.approved:
            assert executor is not None
            with timed("execute"):
                try:
                    execution = executor.execute(plan_id, lock)
                except PolicyViolation as exc:
                    status, outcome, error = "succeeded", "blocked", str(exc)
                else:
                    status, outcome, error = _execution_outcome(execution)
                    summary["execution"] = [
                        {"position": a.position, "offering_id": a.offering_id,
                         "quantity": a.quantity, "status": a.status,
                         "commitment_ids": list(a.commitment_ids), "detail": a.detail}
                        for a in execution.actions]
        else:
            status, outcome, error = "succeeded", (
                "expired" if decision.status == PlanStatus.EXPIRED else "awaiting_approval"
            ), None
            if decision.status == PlanStatus.PROPOSED and numbers[3]:
                summary["approval_notification"] = notify.notify(
                    engine, notifier, notify.approval_needed(
                        provider=name, scope=scope, plan_id=plan_id,
                        reasons=decision.reasons, expected_savings=numbers[0],
                        upfront=numbers[1], hourly=numbers[2]))
        with timed("alerts"):
            summary["notifications"] = _alerts(engine, plan_id, stored, notifier)
    except Exception as exc:
        log.exception("run %s of %s/%s failed", run_id, name, scope)
        message = f"{type(exc).__name__}: {exc}" if not isinstance(exc, LadderError) else str(exc)
        _finish_run(engine, run_id, status="failed", outcome="error", actor=actor,
                    timings=timer.timings, summary=summary, plan_id=plan_id, error=message)
        return RunOutcome(run_id, "failed", "error", mode, plan_id, detail=message,
                          timings=timer.timings)
    _finish_run(engine, run_id, status=status, outcome=outcome, actor=actor,
                timings=timer.timings, summary=summary, plan_id=plan_id, error=error)
    return RunOutcome(run_id, status, outcome, mode, plan_id, detail=error or "",
                      decision=decision, execution=execution, timings=timer.timings)


def _notify_failure(engine: Engine, settings: Settings, provider: str, scope: str,
                    run_id: int, message: str) -> None:
    try:
        with session_scope(engine) as session:
            stored = load_policy(session, provider, scope)
        notify.notify(engine, _notifier(stored, settings),
                      notify.run_failed(provider=provider, scope=scope, run_id=run_id,
                                        error=message))
    except Exception:  # a failing notification must not hide the run's own failure
        log.exception("could not notify the failure of run %s", run_id)


__all__ = ["Planner", "RunOutcome", "market_for", "run_once", "store_plan"]
