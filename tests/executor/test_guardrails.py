"""Each guardrail holds back what it must, with its reason stored on the plan; approvers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from executor_factories import DEFAULT_BUYS, GENEROUS, set_policy, store_plan
from pydantic import ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.db.models import ActionRow, AuditEntryRow, PlanRow, utc_now
from core.db.session import session_scope
from core.domain import PaymentOption
from core.errors import Conflict, Forbidden, InvalidInput, PolicyViolation
from executor.approval import (
    APPROVER,
    Actor,
    approve,
    decide,
    expire_stale,
    reject,
    review,
    supersede,
)
from executor.policy import (
    BlackoutWindow,
    ScopePolicy,
    load_policy,
    parse_policy,
    policy_history,
)

ALICE = Actor("alice", frozenset({APPROVER}))
NOW = utc_now()


def _plan(session: Session, plan_id: int) -> PlanRow:
    plan = session.get(PlanRow, plan_id)
    assert plan is not None
    session.refresh(plan)
    return plan


GUARDRAILS: list[tuple[str, dict[str, Any], dict[str, Any], str, str]] = [
    # (check, policy fields, plan options, severity, words in the reason)
    ("max_run_hourly", {"max_run_hourly": 0.05}, {}, "limit", "exceeds the per-run cap"),
    ("max_run_upfront", {"max_run_upfront": 100.0}, {}, "limit", "upfront cash of $370.20"),
    ("max_low_forecast_share", {"max_low_forecast_share": 1.0},
     {"inputs": {"low_forecast_hourly": 10.0, "committed_capacity_hourly": 50.0,
                 "expected_utilisation": [1.0, 1.0]}},
     "limit", "500% of the low forecast of $10.00/h"),
    ("min_utilisation", {"min_utilisation": 0.8},
     {"inputs": {"low_forecast_hourly": 100.0, "committed_capacity_hourly": 10.0,
                 "expected_utilisation": [0.5, 0.95]}},
     "limit", "expected utilisation 50.0% is below the floor of 80.0%"),
    ("allowed_offerings", {"allowed_offerings": ["sp-*"]}, {}, "rule",
     "not in the allowed offerings (sp-*)"),
    ("allowed_terms", {"allowed_terms_hours": [26280]}, {}, "rule",
     "a 1-year term is not allowed (allowed: 3-year)"),
    ("allowed_payment_options", {"allowed_payment_options": ["all_upfront"]}, {}, "rule",
     "payment option no_upfront is not allowed"),
    ("blackout", {"blackouts": [{"start": (NOW - timedelta(days=1)).isoformat(),
                                 "end": (NOW + timedelta(days=1)).isoformat(),
                                 "reason": "year-end freeze"}]},
     {}, "block", "inside the blackout window"),
    ("blackout", {"blackouts": [{"cron": "0 0 * * *", "hours": 24, "reason": "always"}]},
     {}, "block", "24 h from each '0 0 * * *' (always)"),
    ("kill_switch", {"kill_switch": True}, {}, "block", "the kill switch of sample/all is on"),
    ("auto_approve", {"auto_approve": False}, {}, "limit",
     "does not approve plans automatically"),
]


@pytest.mark.parametrize(("check", "fields", "options", "severity", "words"), GUARDRAILS,
                         ids=[f"{g[0]}-{i}" for i, g in enumerate(GUARDRAILS)])
def test_each_guardrail_holds_the_plan_with_its_reason(
    session: Session, check: str, fields: dict[str, Any], options: dict[str, Any],
    severity: str, words: str,
) -> None:
    set_policy(session, parse_policy({**GENEROUS.model_dump(mode="json"), **fields}))
    plan_id = store_plan(session, **options)
    decision = review(session, plan_id)

    assert not decision.approved
    plan = _plan(session, plan_id)
    assert plan.status == "proposed"
    reasons = [r for r in plan.policy_reasons or [] if r["check"] == check]
    assert reasons, plan.policy_reasons
    assert reasons[0]["severity"] == severity
    assert any(words in r["message"] for r in reasons), reasons
    assert plan.status_reason is not None and plan.status_reason.startswith(
        "waiting for an approver")
    assert plan.policy_version == 1


def test_a_plan_inside_every_limit_is_approved_by_the_policy(session: Session) -> None:
    set_policy(session, GENEROUS.model_copy(update={
        "max_low_forecast_share": 1.0, "min_utilisation": 0.9,
        "allowed_offerings": ("ri-1y/*",), "allowed_terms_hours": (8760,),
        "allowed_payment_options": (PaymentOption.NO_UPFRONT, PaymentOption.PARTIAL_UPFRONT),
    }))
    plan_id = store_plan(session)
    decision = review(session, plan_id)

    assert decision.approved and decision.violations == ()
    plan = _plan(session, plan_id)
    assert (plan.status, plan.approved_by, plan.policy_reasons) == ("approved", "policy", [])
    assert plan.valid_until == plan.created_at + timedelta(hours=24)


def test_a_plan_that_costs_more_than_doing_nothing_waits_for_an_approver(
    session: Session,
) -> None:
    """Inside every cap, but billed $120 dearer over its window than doing nothing."""
    set_policy(session)
    plan_id = store_plan(session)
    plan = _plan(session, plan_id)
    plan.cost_after = plan.cost_before + 120.0
    plan.expected_savings = -120.0
    session.flush()

    decision = review(session, plan_id)

    assert not decision.approved
    reasons = [r for r in _plan(session, plan_id).policy_reasons or []
               if r["check"] == "expected_savings"]
    assert [r["severity"] for r in reasons] == ["limit"]
    assert f"$120.00 more than doing nothing over its {plan.window_hours} hours" in \
        reasons[0]["message"]
    # The same plan saving money passes this check.
    plan = _plan(session, plan_id)
    plan.cost_after, plan.expected_savings = plan.cost_before - 1.0, 1.0
    plan.status = "proposed"
    session.flush()
    assert "expected_savings" not in {v.check for v in review(session, plan_id).violations}


def test_without_a_policy_every_plan_waits_for_an_approver(session: Session) -> None:
    plan_id = store_plan(session)
    decision = review(session, plan_id)
    assert not decision.approved
    assert decision.reasons == ["no policy is stored for sample/all, so nothing is approved "
                                "automatically"]


def test_monthly_caps_count_what_other_plans_bought_this_month(session: Session) -> None:
    set_policy(session, GENEROUS.model_copy(update={"max_month_hourly": 0.3,
                                                    "max_month_upfront": 500.0}))
    first = store_plan(session)
    assert review(session, first).approved
    for action in session.scalars(select(ActionRow).where(ActionRow.plan_id == first)):
        action.status, action.intent_at = "done", NOW
    session.flush()

    second = store_plan(session)
    decision = review(session, second)
    checks = {v.check: v.message for v in decision.violations}
    assert set(checks) == {"max_month_hourly", "max_month_upfront"}
    assert "$0.20/h committed since" in checks["max_month_hourly"]
    assert "$370.20 upfront since" in checks["max_month_upfront"]


def test_an_approved_plan_not_yet_bought_reserves_its_part_of_the_monthly_cap(
    session: Session,
) -> None:
    set_policy(session, GENEROUS.model_copy(update={"max_month_hourly": 0.3}))
    assert review(session, store_plan(session)).approved
    decision = review(session, store_plan(session))
    assert [v.check for v in decision.violations] == ["max_month_hourly"]


def test_missing_planner_figures_fail_closed(session: Session) -> None:
    set_policy(session, GENEROUS.model_copy(update={"max_low_forecast_share": 1.0,
                                                    "min_utilisation": 0.5}))
    plan_id = store_plan(session, inputs={})
    messages = review(session, plan_id).reasons
    assert "the plan states no low forecast or portfolio capacity" in messages[0]
    assert all("states no expected utilisation" in m for m in messages[1:])


def test_unknown_offering_is_a_rule_violation(session: Session) -> None:
    set_policy(session)
    plan_id = store_plan(session)
    for action in session.scalars(select(ActionRow).where(ActionRow.plan_id == plan_id)):
        action.offering_id = "no-such-offering"
    session.flush()
    decision = review(session, plan_id)
    assert {v.check for v in decision.violations} == {"offering_unknown"}


# --- approvers ------------------------------------------------------------------------------


def test_an_approver_accepts_limits_and_the_acceptance_is_audited(session: Session) -> None:
    set_policy(session, GENEROUS.model_copy(update={"max_run_hourly": 0.01}))
    plan_id = store_plan(session)
    assert not review(session, plan_id).approved

    decision = approve(session, plan_id, actor=ALICE, note="budget agreed with finance")
    assert decision.approved
    plan = _plan(session, plan_id)
    assert (plan.status, plan.approved_by) == ("approved", "alice")
    entry = session.scalars(select(AuditEntryRow).where(AuditEntryRow.event == "plan.status")
                            .order_by(AuditEntryRow.seq.desc())).first()
    assert entry is not None and entry.actor == "alice"
    assert entry.reason.startswith("budget agreed with finance; accepted: new commitment")
    assert entry.data["accepted"][0]["check"] == "max_run_hourly"
    assert entry.data["plan"]["upfront_cash"] == pytest.approx(370.2)


def test_nobody_can_approve_what_the_rules_forbid(session: Session) -> None:
    set_policy(session, GENEROUS.model_copy(update={"allowed_terms_hours": (26280,)}))
    plan_id = store_plan(session)
    with pytest.raises(PolicyViolation, match="1-year term is not allowed"):
        approve(session, plan_id, actor=ALICE)
    assert _plan(session, plan_id).status == "proposed"


def test_a_refused_approval_is_a_result_audited_and_the_plan_left_as_it_was(
    session: Session,
) -> None:
    set_policy(session, GENEROUS.model_copy(update={"allowed_terms_hours": (26280,)}))
    plan_id = store_plan(session)
    before = list(_plan(session, plan_id).policy_reasons or [])

    decision = decide(session, plan_id, actor=ALICE, note="please")

    assert decision.refused and not decision.approved and decision.status == "proposed"
    assert "allowed_terms" in {v.check for v in decision.violations}
    refusal = decision.refusal()
    assert isinstance(refusal, PolicyViolation)
    assert str(refusal).startswith(f"plan {plan_id} cannot be approved: ")
    assert "1-year term is not allowed" in str(refusal)
    plan = _plan(session, plan_id)
    assert (plan.status, plan.approved_by, plan.policy_reasons or []) == ("proposed", None,
                                                                          before)
    entry = session.scalars(select(AuditEntryRow).where(
        AuditEntryRow.event == "plan.approval_refused")).one()
    assert (entry.actor, entry.subject) == ("alice", f"plan:{plan_id}")
    assert "1-year term is not allowed" in entry.reason
    assert {v["check"] for v in entry.data["violations"]} == {"allowed_terms"}


def test_a_caller_that_commits_keeps_the_refusal_in_the_audit_log(engine: Engine,
                                                                   db_url: str) -> None:
    with session_scope(engine) as session:
        set_policy(session, GENEROUS.model_copy(update={"allowed_terms_hours": (26280,)}))
        plan_id = store_plan(session)
    with session_scope(engine) as session:
        decision = decide(session, plan_id, actor=ALICE)
    assert decision.refused

    with session_scope(engine) as session:
        events = list(session.scalars(select(AuditEntryRow.event).where(
            AuditEntryRow.subject == f"plan:{plan_id}")))
        assert events[-1] == "plan.approval_refused"
        assert session.get(PlanRow, plan_id).status == "proposed"  # type: ignore[union-attr]


def test_approving_needs_the_approver_role(session: Session) -> None:
    plan_id = store_plan(session)
    with pytest.raises(Forbidden, match="bob does not have the approver role"):
        approve(session, plan_id, actor=Actor("bob"))
    with pytest.raises(Forbidden):
        reject(session, plan_id, actor=Actor("bob"), reason="no")


def test_a_rejected_plan_cannot_be_approved(session: Session) -> None:
    plan_id = store_plan(session)
    reject(session, plan_id, actor=ALICE, reason="we are moving to Graviton")
    assert _plan(session, plan_id).status == "rejected"
    with pytest.raises(Conflict, match="only a proposed plan can be approved"):
        approve(session, plan_id, actor=ALICE)


def test_a_stale_plan_expires_instead_of_being_approved(session: Session) -> None:
    set_policy(session)
    plan_id = store_plan(session, created_at=NOW - timedelta(hours=30))
    decision = review(session, plan_id)
    assert decision.status == "expired"
    plan = _plan(session, plan_id)
    assert plan.status_reason is not None and "prices and usage have moved" in \
        plan.status_reason


def test_expire_stale_and_supersede(session: Session) -> None:
    old = store_plan(session, created_at=NOW - timedelta(hours=25))
    live = store_plan(session)
    newest = store_plan(session)
    assert expire_stale(session, "sample", "all", actor="scheduler") == [old]
    assert supersede(session, newest, actor="scheduler") == [live]
    assert _plan(session, live).status_reason == f"superseded by plan {newest}"


# --- the policy itself ----------------------------------------------------------------------


def test_policies_are_versioned_and_audited(session: Session) -> None:
    set_policy(session)
    set_policy(session, GENEROUS.model_copy(update={"kill_switch": True}), actor="bob")
    stored = load_policy(session, "sample", "all")
    assert stored is not None and stored.version == 2 and stored.policy.kill_switch
    assert [p.version for p in policy_history(session, "sample", "all")] == [2, 1]
    entry = session.scalars(select(AuditEntryRow).where(AuditEntryRow.event == "policy.update")
                            .order_by(AuditEntryRow.seq.desc())).first()
    assert entry is not None and entry.actor == "bob" and entry.data["changed"] == ["kill_switch"]


def test_bad_policies_are_refused_with_the_field_named() -> None:
    with pytest.raises(InvalidInput, match="schedule"):
        parse_policy({"schedule": "every monday"})
    with pytest.raises(InvalidInput, match="min_utilisation"):
        parse_policy({"min_utilisation": 1.5})
    with pytest.raises(InvalidInput, match="no_such_field"):
        parse_policy({"no_such_field": 1})
    with pytest.raises(ValidationError, match="time zone"):
        BlackoutWindow(start=NOW.replace(tzinfo=None), end=NOW.replace(tzinfo=None))
    with pytest.raises(ValidationError, match="either start and end, or cron and hours"):
        BlackoutWindow(start=NOW, end=NOW + timedelta(hours=1), cron="0 0 * * *", hours=1)


def test_recurring_blackout_covers_its_hours_after_each_start() -> None:
    window = BlackoutWindow(cron="0 0 25 * *", hours=72, reason="month-end close")
    start = NOW.replace(month=1, day=25, hour=0, minute=0, second=0, microsecond=0)
    assert window.active_at(start)
    assert window.active_at(start + timedelta(hours=71, minutes=59))
    assert not window.active_at(start + timedelta(hours=72))
    assert not window.active_at(start - timedelta(minutes=1))
    assert ScopePolicy(blackouts=(window,)).blackout_at(start) == window


def test_default_buys_are_what_the_reasons_above_quote() -> None:
    # The numbers the parametrised reasons name come from these two purchases.
    assert DEFAULT_BUYS[1][1] * 123.4 == pytest.approx(370.2)
