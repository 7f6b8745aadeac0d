"""What an execution reports: each action's outcome and the plan's status after it."""

from __future__ import annotations

from dataclasses import dataclass

from core.db.models import PlanRow
from executor.guardrails import Violation
from executor.recording import ActionStatus


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    """Where one action ended."""

    position: int
    offering_id: str
    quantity: float
    status: str
    idempotency_key: str | None = None
    commitment_ids: tuple[str, ...] = ()
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """What an execution did: the plan's status after it, and each action's."""

    plan_id: int
    dry_run: bool
    plan_status: str
    actions: tuple[ActionOutcome, ...]
    violations: tuple[Violation, ...] = ()

    @property
    def bought(self) -> tuple[ActionOutcome, ...]:
        """Actions that bought something."""
        return tuple(a for a in self.actions if a.status in (ActionStatus.DONE,
                                                             ActionStatus.ORDERED))

    @classmethod
    def of(cls, plan: PlanRow, *, dry_run: bool,
           violations: tuple[Violation, ...] = ()) -> ExecutionReport:
        """The report of a plan as it stands: its status and each action's as stored."""
        return cls(
            plan.id, dry_run, plan.status,
            tuple(ActionOutcome(a.position, a.offering_id, a.quantity, a.status,
                                a.idempotency_key, tuple(a.commitment_ids or ()), a.error or "")
                  for a in plan.actions),
            violations,
        )
