"""Schemas of plans: ``PlanSummary`` in lists, ``PlanRead`` with actions and reasons,
``PlanApprove`` and ``PlanReject`` in, ``PlanDecision`` out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.params import JsonBody, Text
from executor.guardrails import Severity
from executor.lifecycle import PlanStatus


class ActionRead(BaseModel):
    """One step of a plan, why it is there, and how far it got."""

    model_config = ConfigDict(from_attributes=True)

    position: int
    kind: str = Field(description="purchase, exchange or return.")
    offering_id: str
    quantity: float
    upfront_cost: float = Field(description="Cash paid at purchase, $.")
    hourly_cost: float = Field(description="Recurring fee, $/h.")
    amortized_hourly_cost: float = Field(description="Upfront over the term plus hourly, $/h.")
    reason: str = Field(description="Why the optimizer chose this action, in words.")
    status: str = Field(description="pending, intent, unknown, ordered, done, failed, skipped.")
    attempts: int
    commitment_ids: list[str] | None = Field(description="What the action bought, if done.")
    finished_at: datetime | None
    error: str | None


class PolicyReason(BaseModel):
    """One way the plan breaks its scope's policy, and who can get past it."""

    check: str
    severity: Severity = Field(description="block: nothing is bought while it holds; rule: no "
                               "one can approve; limit: an approver may accept it.")
    message: str


class PlanSummary(BaseModel):
    """A plan's headline figures and where it stands."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    provider: str
    scope: str
    status: PlanStatus
    status_reason: str | None
    created_at: datetime
    valid_until: datetime | None
    window_start: datetime
    window_hours: int
    on_demand_equivalent: float = Field(description="Usage at on-demand prices over the "
                                        "window, $.")
    cost_before: float = Field(description="Amortized cost over the window without the plan, $.")
    cost_after: float = Field(description="Amortized cost over the window with the plan, $.")
    expected_savings: float = Field(description="cost_before − cost_after, $.")
    esr_before: float
    esr_after: float
    upfront_cash: float
    monthly_commitment: float = Field(description="New amortized commitment per 730-hour "
                                      "month, $.")
    approved_by: str | None
    approved_at: datetime | None
    actions_count: int


class PlanRead(PlanSummary):
    """A plan with its actions and the reasons the policy gave."""

    dataset_id: int | None
    solver_status: str
    status_changed_at: datetime | None
    policy_version: int | None
    policy_reasons: list[PolicyReason]
    actions: list[ActionRead]
    details: dict[str, Any] = Field(description="What the planner recorded about its inputs.")


class PlanApprove(JsonBody):
    """An approval: an optional note recorded in the audit log."""

    note: Text = ""


class PlanReject(JsonBody):
    """A rejection: why, recorded on the plan and in the audit log."""

    reason: Text = Field(min_length=1)


class PlanDecision(BaseModel):
    """Where a plan stands after an approval or a rejection, and why.

    An approval of a plan past its validity expires it instead: ``approved`` is
    false and ``status`` is ``expired``.
    """

    plan_id: int
    status: PlanStatus
    approved: bool
    policy_version: int | None
    violations: list[PolicyReason] = Field(description="The policy's objections; an approval "
                                           "accepts those of severity limit.")
    plan: PlanRead
