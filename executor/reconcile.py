"""Reconciliation: settle every unfinished action of a scope with the provider.

An action left ``intent``, ``unknown`` or ``ordered`` (a lost answer, a crash) is
looked up by its idempotency key (``find_order``). ``not_found`` means the order never
reached the provider: the action goes back to ``pending`` and may be placed again, with
the same key; an order accepted earlier and gone now fails and is never bought again
automatically. Runs on start-up and before every run and every execution.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.db import repository as core_repository
from core.db.session import session_scope
from core.domain import PlanStatus
from core.errors import ProviderError
from executor import repository as repo
from executor.provider_calls import ProviderCalls
from executor.recording import ActionRecorder


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """What a reconciliation settled, and what it could not."""

    checked: int = 0
    settled: dict[str, int] = field(default_factory=dict)
    unresolved: tuple[str, ...] = ()
    plans_finished: tuple[int, ...] = ()

    @property
    def clean(self) -> bool:
        """Whether every unfinished action was settled."""
        return not self.unresolved


class UnresolvedIntents(ProviderError):
    """Some intents could not be settled with the provider: nothing is bought until they are."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        super().__init__(
            f"{len(keys)} earlier order(s) could not be checked with the provider "
            f"({', '.join(keys[:3])}{'…' if len(keys) > 3 else ''}); nothing is bought until "
            "they are settled", retryable=True, code="UnresolvedIntents")
        self.keys = keys


class Reconciler:
    """Settles a provider's unfinished actions through its market, and finishes their plans."""

    def __init__(self, recorder: ActionRecorder, calls: ProviderCalls) -> None:
        self.recorder = recorder
        self.calls = calls

    def reconcile(self, provider: str, scope: str | None = None) -> ReconcileReport:
        """Settle every unfinished action of the provider (one scope, or all) with the market.

        Plans whose actions are all settled get their final status.
        """
        with session_scope(self.recorder.engine) as session:
            actions = [(a.id, a.idempotency_key, a.status)
                       for a in repo.unfinished_actions(session, provider, scope)]
        settled: dict[str, int] = {}
        unresolved: list[str] = []
        for action_id, key, status in actions:
            if key is None:  # an intent is always written with its key; never guess
                unresolved.append(f"action {action_id} (no key)")
                continue
            found = self.calls.find_order(key)
            if found is None:
                unresolved.append(key)
                continue
            outcome = str(self.recorder.settle_action(action_id, status, found,
                                                      event="reconcile"))
            settled[outcome] = settled.get(outcome, 0) + 1
        finished = self.finish_plans(provider, scope)
        return ReconcileReport(len(actions), settled, tuple(unresolved), tuple(finished))

    def finish_plans(self, provider: str, scope: str | None) -> list[int]:
        """Give executing plans whose actions are all settled their final status."""
        finished = []
        with session_scope(self.recorder.engine) as session:
            plan_ids = [p.id for p in repo.plans_in(session, provider, scope,
                                                    (PlanStatus.EXECUTING,))]
        for plan_id in plan_ids:
            with self.recorder.tx() as session:
                plan = core_repository.get_plan(session, plan_id)
                if plan is not None and self.recorder.settle_plan(session, plan):
                    finished.append(plan_id)
        return finished
