"""Exactly-once execution against the simulated account, in process, on SQLite and PostgreSQL.

Crashes of a real process are in ``tests/ladder/test_faults.py``; here the
faults that leave the process alive (timeouts, throttling, refusals, a provider
that cannot answer) and the states a crash leaves behind, rebuilt directly.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from executor_factories import (
    DEFAULT_BUYS,
    GENEROUS,
    PROVIDER,
    SCOPE,
    assert_consistent,
    make_market,
    set_policy,
    store_plan,
)
from sqlalchemy import Engine, select

from core.db import repository
from core.db.models import ActionRow, AuditEntryRow, PlanRow, utc_now
from core.db.session import session_scope
from core.errors import Conflict, PolicyViolation
from core.settings import Settings
from executor.approval import review
from executor.execute import ExecutionReport, Executor, RetryPolicy, UnresolvedIntents
from executor.locks import LockLost, run_lock
from executor.policy import BlackoutWindow
from providers.sample.market import FaultKind, SampleMarket


@pytest.fixture
def market(tmp_path: Path) -> SampleMarket:
    return make_market(tmp_path / "account.json")


def _settings(db_url: str, *, execute: bool = True) -> Settings:
    return Settings(database_url=db_url, execute_providers="sample" if execute else "",
                    provider_retry_base_s=0.0)


def _executor(engine: Engine, market: SampleMarket, db_url: str, *, execute: bool = True,
              attempts: int = 4, sleeps: list[float] | None = None) -> Executor:
    record = sleeps if sleeps is not None else []
    return Executor(engine, market, settings=_settings(db_url, execute=execute),
                    retry=RetryPolicy(attempts=attempts, base_s=0.001), sleep=record.append)


def _approved_plan(engine: Engine, **kwargs: object) -> int:
    with session_scope(engine) as session:
        set_policy(session)
        plan_id = store_plan(session, **kwargs)  # type: ignore[arg-type]
        assert review(session, plan_id).approved
    return plan_id


def _execute(engine: Engine, executor: Executor, plan_id: int) -> ExecutionReport:
    with run_lock(engine, PROVIDER, SCOPE) as lock:
        return executor.execute(plan_id, lock)


def _actions(engine: Engine, plan_id: int) -> list[ActionRow]:
    with session_scope(engine) as session:
        return list(session.scalars(select(ActionRow).where(ActionRow.plan_id == plan_id)
                                    .order_by(ActionRow.position)))


def _events(engine: Engine) -> list[str]:
    with session_scope(engine) as session:
        return list(session.scalars(select(AuditEntryRow.event).order_by(AuditEntryRow.seq)))


def test_approved_plan_is_bought_once_per_action_and_recorded(
    engine: Engine, db_url: str, market: SampleMarket
) -> None:
    plan_id = _approved_plan(engine)
    report = _execute(engine, _executor(engine, market, db_url), plan_id)

    assert report.plan_status == "executed" and not report.dry_run
    assert [a.status for a in report.actions] == ["done", "done"]
    assert [o["offering_id"] for o in market.orders()] == [b[0] for b in DEFAULT_BUYS]
    with session_scope(engine) as session:
        owned = {c.commitment_id for c in repository.list_commitments(session, PROVIDER)}
    assert owned == {cid for a in report.actions for cid in a.commitment_ids}
    events = _events(engine)
    # Every purchase was preceded by its committed intent, and followed by its outcome.
    assert events.count("action.intent") == 2 and events.count("provider.purchase") == 2
    assert events.index("action.intent") < events.index("provider.purchase")
    assert_consistent(engine, market)


def test_dry_run_is_the_default_and_buys_nothing(
    engine: Engine, db_url: str, market: SampleMarket
) -> None:
    plan_id = _approved_plan(engine)
    report = _execute(engine, _executor(engine, market, db_url, execute=False), plan_id)

    assert report.dry_run and report.plan_status == "approved"
    assert all(a.status == "dry_run" and "would buy" in a.detail for a in report.actions)
    assert market.orders() == []
    assert "plan.dry_run" in _events(engine)


def test_only_an_approved_plan_is_executed(
    engine: Engine, db_url: str, market: SampleMarket
) -> None:
    with session_scope(engine) as session:
        plan_id = store_plan(session)  # no policy: it stays proposed
        assert not review(session, plan_id).approved
    with pytest.raises(Conflict, match="only an approved plan"):
        _execute(engine, _executor(engine, market, db_url), plan_id)
    assert market.orders() == []


def test_timeout_after_the_order_finds_it_instead_of_buying_again(
    engine: Engine, db_url: str, market: SampleMarket
) -> None:
    market.inject(FaultKind.TIMEOUT_AFTER, on="purchase")
    plan_id = _approved_plan(engine)
    report = _execute(engine, _executor(engine, market, db_url), plan_id)

    assert report.plan_status == "executed"
    assert len(market.orders()) == 2
    first = _actions(engine, plan_id)[0]
    assert first.attempts == 1 and first.status == "done"
    assert_consistent(engine, market)


def test_timeout_before_the_order_looks_then_buys_with_the_same_key(
    engine: Engine, db_url: str, market: SampleMarket
) -> None:
    market.inject(FaultKind.TIMEOUT_BEFORE, on="purchase")
    plan_id = _approved_plan(engine)
    _execute(engine, _executor(engine, market, db_url), plan_id)

    first = _actions(engine, plan_id)[0]
    assert first.attempts == 2 and first.status == "done"
    calls = [(c["op"], c["outcome"]) for c in market.calls()
             if c["idempotency_key"] in ("", first.idempotency_key)]
    # It looked (find_order) after the timeout and before buying again.
    assert calls.index(("find_order", "looked up")) < calls.index(("purchase", "active"))
    assert_consistent(engine, market)


def test_throttling_backs_off_as_told_and_buys_once(
    engine: Engine, db_url: str, market: SampleMarket
) -> None:
    market.inject(FaultKind.THROTTLE, on="purchase", times=2, retry_after_s=0.25)
    plan_id = _approved_plan(engine)
    sleeps: list[float] = []
    report = _execute(engine, _executor(engine, market, db_url, sleeps=sleeps), plan_id)

    assert report.plan_status == "executed"
    assert sleeps == [0.25, 0.25]
    assert _actions(engine, plan_id)[0].attempts == 3
    assert_consistent(engine, market)


def test_throttled_past_every_attempt_fails_the_action_without_buying(
    engine: Engine, db_url: str, market: SampleMarket
) -> None:
    market.inject(FaultKind.THROTTLE, on="purchase", times=3)
    plan_id = _approved_plan(engine, buys=DEFAULT_BUYS[:1])
    report = _execute(engine, _executor(engine, market, db_url, attempts=3), plan_id)

    assert report.plan_status == "failed"
    assert "Throttling" in report.actions[0].detail
    assert market.orders() == []
    assert_consistent(engine, market)


def test_refusal_fails_the_action_and_the_rest_goes_on(
    engine: Engine, db_url: str, market: SampleMarket
) -> None:
    market.inject(FaultKind.ERROR, on="purchase")
    plan_id = _approved_plan(engine)
    report = _execute(engine, _executor(engine, market, db_url), plan_id)

    assert [a.status for a in report.actions] == ["failed", "done"]
    assert report.plan_status == "partially_executed"
    assert_consistent(engine, market)


def test_unknown_outcome_waits_for_reconciliation_and_is_never_bought_blind(
    engine: Engine, db_url: str, market: SampleMarket
) -> None:
    # The order goes through but the answer is lost, and the provider cannot be asked.
    market.inject(FaultKind.TIMEOUT_AFTER, on="purchase")
    market.inject(FaultKind.TIMEOUT_BEFORE, on="find_order", times=4)
    plan_id = _approved_plan(engine)
    executor = _executor(engine, market, db_url)
    report = _execute(engine, executor, plan_id)

    assert report.plan_status == "executing"
    assert [a.status for a in report.actions] == ["unknown", "pending"]
    assert len(market.orders()) == 1
    # Nothing else is bought while an earlier order is unknown and cannot be checked.
    market.inject(FaultKind.TIMEOUT_BEFORE, on="find_order", times=4)
    with pytest.raises(UnresolvedIntents):
        _execute(engine, executor, plan_id)
    assert len(market.orders()) == 1

    # Once the provider answers, reconciliation settles it and the plan finishes.
    with run_lock(engine, PROVIDER, SCOPE) as lock:
        assert executor.reconcile(PROVIDER, SCOPE).settled == {"done": 1}
        report = executor.execute(plan_id, lock)
    assert report.plan_status == "executed"
    assert_consistent(engine, market)


def test_intent_without_order_is_reset_by_reconciliation_and_bought_once(
    engine: Engine, db_url: str, market: SampleMarket
) -> None:
    """The state a crash between the intent and the provider call leaves."""
    plan_id = _approved_plan(engine)
    executor = _executor(engine, market, db_url)
    with session_scope(engine) as session:
        plan = repository.get_plan(session, plan_id)
        assert plan is not None
        from executor.lifecycle import PlanStatus, transition
        transition(session, plan, PlanStatus.EXECUTING, actor="test", reason="crash test")
    from executor.execute import idempotency_key
    with session_scope(engine) as session:
        plan = repository.get_plan(session, plan_id)
        assert plan is not None
        key = idempotency_key(plan, plan.actions[0])
    executor._write_intent(plan_id, 0, key)

    report = executor.reconcile(PROVIDER, SCOPE)
    assert report.settled == {"pending": 1}
    _execute(engine, executor, plan_id)
    assert [o["idempotency_key"] for o in market.orders()].count(key) == 1
    assert_consistent(engine, market)


def test_order_placed_before_a_crash_is_found_not_bought_again(
    engine: Engine, db_url: str, market: SampleMarket
) -> None:
    """The state a crash between the provider call and the outcome leaves."""
    plan_id = _approved_plan(engine)
    executor = _executor(engine, market, db_url)
    from executor.execute import idempotency_key
    from executor.lifecycle import PlanStatus, transition
    with session_scope(engine) as session:
        plan = repository.get_plan(session, plan_id)
        assert plan is not None
        transition(session, plan, PlanStatus.EXECUTING, actor="test", reason="crash test")
        key = idempotency_key(plan, plan.actions[0])
        request = executor._request(plan, plan.actions[0])
    executor._write_intent(plan_id, 0, key)
    market.purchase(request)

    assert executor.reconcile(PROVIDER, SCOPE).settled == {"done": 1}
    report = _execute(engine, executor, plan_id)
    assert report.plan_status == "executed"
    assert len(market.orders()) == 2
    assert_consistent(engine, market)


def test_a_moved_price_is_not_bought(engine: Engine, db_url: str, market: SampleMarket) -> None:
    plan_id = _approved_plan(engine, buys=DEFAULT_BUYS[1:], upfront_scale=0.5)
    report = _execute(engine, _executor(engine, market, db_url), plan_id)

    assert report.plan_status == "failed"
    assert "the price moved" in report.actions[0].detail
    assert market.orders() == []


def test_an_expired_plan_cannot_be_executed(
    engine: Engine, db_url: str, market: SampleMarket
) -> None:
    plan_id = _approved_plan(engine)
    with session_scope(engine) as session:
        plan = session.get(PlanRow, plan_id)
        assert plan is not None
        plan.valid_until = utc_now() - timedelta(minutes=1)
    report = _execute(engine, _executor(engine, market, db_url), plan_id)
    assert report.plan_status == "expired"
    assert market.orders() == []


def test_blackout_at_execution_time_blocks_and_keeps_the_plan_approved(
    engine: Engine, db_url: str, market: SampleMarket
) -> None:
    plan_id = _approved_plan(engine)
    now = utc_now()
    with session_scope(engine) as session:
        set_policy(session, GENEROUS.model_copy(update={"blackouts": (BlackoutWindow(
            start=now - timedelta(hours=1), end=now + timedelta(hours=1),
            reason="year-end freeze"),)}))
    with pytest.raises(PolicyViolation, match="year-end freeze"):
        _execute(engine, _executor(engine, market, db_url), plan_id)
    with session_scope(engine) as session:
        plan = session.get(PlanRow, plan_id)
        assert plan is not None and plan.status == "approved"
        assert [r["check"] for r in plan.policy_reasons or []] == ["blackout"]
    assert market.orders() == []


def test_kill_switch_turned_on_mid_plan_stops_the_next_purchase(
    engine: Engine, db_url: str, market: SampleMarket
) -> None:
    plan_id = _approved_plan(engine)

    class SwitchingMarket(SampleMarket):
        """Turns the kill switch on right after the first purchase."""

        def purchase(self, request):  # type: ignore[no-untyped-def]
            result = super().purchase(request)
            with session_scope(engine) as session:
                set_policy(session, GENEROUS.model_copy(update={"kill_switch": True}))
            return result

    switching = SwitchingMarket(market.catalog, market.path)
    report = _execute(engine, _executor(engine, switching, db_url), plan_id)
    assert [a.status for a in report.actions] == ["done", "pending"]
    assert report.plan_status == "executing"
    assert len(market.orders()) == 1
    assert "plan.stopped" in _events(engine)


def test_a_lost_lock_stops_before_buying(
    engine: Engine, db_url: str, market: SampleMarket
) -> None:
    plan_id = _approved_plan(engine)

    class LostLock:
        name, owner = "sample/all", "nobody"

        def check(self) -> None:
            raise LockLost("the lease ran out")

    with pytest.raises(LockLost):
        _executor(engine, market, db_url).execute(plan_id, LostLock())
    assert market.orders() == []
