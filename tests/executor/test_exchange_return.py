"""Exchanges and returns executed exactly once against the simulated account, on SQLite and
PostgreSQL: the same protocol as purchases (quote, intent, call, outcome, reconcile), the
inventory updated, and the guardrails still holding what they must."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pytest
from executor_factories import GENEROUS, PROVIDER, SCOPE, assert_consistent, set_policy
from sqlalchemy import Engine, select

from core.db import repository
from core.db.models import ActionRow, AuditEntryRow, PlanRow, utc_now
from core.db.session import session_scope
from core.domain import HOURS_PER_MONTH, Action, ActionKind, Catalog, Plan
from core.errors import Conflict, PolicyViolation
from core.settings import Settings
from executor import repository as executor_repo
from executor.approval import review
from executor.execute import ExecutionReport, Executor, RetryPolicy, UnresolvedIntents
from executor.guardrails import INPUTS_KEY
from executor.lifecycle import PlanStatus, transition
from executor.locks import run_lock
from executor.policy import ScopePolicy
from providers.base import PurchaseRequest
from providers.sample import SampleProvider
from providers.sample.market import SAMPLE_ACCOUNT_NOW, FaultKind, SampleMarket

C4 = "sample-ri-c4-2022-01"  # bundled: 192 units of a convertible c4 RI, until 2025-01-09
C4_OFFERING = "ri-conv-3y-pu/us-east-1/c4/linux"
C5_CONV = "ri-conv-3y-pu/us-east-1/c5/linux"
C4_HOURS_LEFT = 3120  # from the account's clock (2024-09-01) to 2025-01-09
SP = "sp-compute-1y-pu"
GIVE = 64.0


@pytest.fixture
def provider(tmp_path: Path) -> SampleProvider:
    return SampleProvider(account_path=tmp_path / "sample-account.json")


@pytest.fixture
def market(provider: SampleProvider) -> SampleMarket:
    return provider.market()


def _receive(catalog: Catalog, give: float = GIVE) -> float:
    """The whole units of the c5 target that keep the new worth at least the old."""
    return float(math.ceil(give * catalog.offering(C4_OFFERING).amortized_hourly
                           / catalog.offering(C5_CONV).amortized_hourly - 1e-9))


def exchange_action(catalog: Catalog, *, give: float = GIVE, receive: float | None = None,
                    commitment_id: str = C4, target: str = C5_CONV,
                    cash_scale: float = 1.0) -> Action:
    """An exchange priced as the optimizer prices it (the true-up over the hours left)."""
    old, new = catalog.offering(C4_OFFERING), catalog.offering(target)
    receive = _receive(catalog, give) if receive is None else receive
    amortized = receive * new.amortized_hourly - give * old.amortized_hourly
    true_up = amortized * C4_HOURS_LEFT * cash_scale
    return Action(kind=ActionKind.EXCHANGE, offering_id=C4_OFFERING, quantity=give,
                  upfront_cost=true_up, hourly_cost=receive * new.hourly - give * old.hourly,
                  amortized_hourly_cost=amortized, commitment_id=commitment_id,
                  target_offering_id=target, target_quantity=receive, cash_effect=true_up,
                  reason="c4 is going away")


def return_action(catalog: Catalog, commitment_id: str, offering_id: str,
                  quantity: float) -> Action:
    """A return priced as the optimizer prices it (negative: it gives back)."""
    offering = catalog.offering(offering_id)
    return Action(kind=ActionKind.RETURN, offering_id=offering_id, quantity=quantity,
                  upfront_cost=-quantity * offering.upfront,
                  hourly_cost=-quantity * offering.hourly,
                  amortized_hourly_cost=-quantity * offering.amortized_hourly,
                  commitment_id=commitment_id, cash_effect=-quantity * offering.upfront,
                  reason="bought too much")


def purchase_action(catalog: Catalog, offering_id: str, quantity: float) -> Action:
    offering = catalog.offering(offering_id)
    return Action(kind=ActionKind.PURCHASE, offering_id=offering_id, quantity=quantity,
                  upfront_cost=quantity * offering.upfront,
                  hourly_cost=quantity * offering.hourly,
                  amortized_hourly_cost=quantity * offering.amortized_hourly,
                  cash_effect=quantity * offering.upfront, reason="test purchase")


def _store(engine: Engine, provider: SampleProvider, actions: Sequence[Action], *,
           policy: ScopePolicy = GENEROUS) -> tuple[int, bool]:
    """Store the catalog, the account's inventory, the policy and a plan; (id, approved)."""
    hourly = sum(a.amortized_hourly_cost for a in actions)
    plan = Plan(actions=tuple(actions), window_start=SAMPLE_ACCOUNT_NOW, window_hours=720,
                on_demand_equivalent=1000.0, cost_before=900.0, cost_after=800.0,
                esr_before=0.1, esr_after=0.2,
                upfront_cash=sum(a.cash_effect for a in actions),
                monthly_commitment=hourly * HOURS_PER_MONTH)
    with session_scope(engine) as session:
        set_policy(session, policy)
        repository.upsert_catalog(session, PROVIDER, provider.catalog())
        repository.replace_inventory(session, PROVIDER, provider.inventory(SAMPLE_ACCOUNT_NOW))
        plan_id = repository.add_plan(
            session, provider=PROVIDER, dataset_id=None, plan=plan, build_seconds=0.0,
            solve_seconds=0.0, details={INPUTS_KEY: {
                "low_forecast_hourly": 100.0, "committed_capacity_hourly": 10.0,
                "expected_utilisation": [0.95] * len(actions)}})
        approved = review(session, plan_id).approved
    return plan_id, approved


def _approved(engine: Engine, provider: SampleProvider, actions: Sequence[Action]) -> int:
    plan_id, approved = _store(engine, provider, actions)
    assert approved
    return plan_id


def _executor(engine: Engine, market: SampleMarket, db_url: str,
              attempts: int = 4) -> Executor:
    return Executor(engine, market, retry=RetryPolicy(attempts=attempts, base_s=0.001),
                    settings=Settings(database_url=db_url, execute_providers="sample",
                                      provider_retry_base_s=0.0),
                    sleep=lambda _: None)


def _execute(engine: Engine, executor: Executor, plan_id: int) -> ExecutionReport:
    with run_lock(engine, PROVIDER, SCOPE) as lock:
        return executor.execute(plan_id, lock)


def _actions(engine: Engine, plan_id: int) -> list[ActionRow]:
    with session_scope(engine) as session:
        return list(session.scalars(select(ActionRow).where(ActionRow.plan_id == plan_id)
                                    .order_by(ActionRow.position)))


def _audit(engine: Engine) -> list[AuditEntryRow]:
    with session_scope(engine) as session:
        return list(session.scalars(select(AuditEntryRow).order_by(AuditEntryRow.seq)))


def _recorded(engine: Engine) -> dict[str, tuple[str, float]]:
    """The live commitments recorded (not the units given up, kept for their history)."""
    with session_scope(engine) as session:
        return {c.commitment_id: (c.offering.offering_id, c.quantity)
                for c in repository.list_commitments(session, PROVIDER) if c.ended_at is None}


def _ended(engine: Engine) -> list[tuple[str, str, float]]:
    """(id, offering, quantity) of the units given up early, kept for the hours owned."""
    with session_scope(engine) as session:
        return [(c.commitment_id, c.offering.offering_id, c.quantity)
                for c in repository.list_commitments(session, PROVIDER)
                if c.ended_at is not None]


def _owned(provider: SampleProvider) -> dict[str, tuple[str, float]]:
    return {c.commitment_id: (c.offering.offering_id, c.quantity)
            for c in provider.inventory(SAMPLE_ACCOUNT_NOW)}


def _exchange_calls(market: SampleMarket) -> list[str]:
    return [c["outcome"] for c in market.calls() if c["op"] == "exchange"]


def _assert_exchanged_once(provider: SampleProvider, market: SampleMarket, engine: Engine,
                           new_id: str, receive: float) -> None:
    """One exchange reached the account, and the account and the database both show it."""
    orders = market.orders()
    assert [o["kind"] for o in orders] == ["exchange"]
    assert "duplicate" not in _exchange_calls(market)  # never asked to exchange twice
    assert _owned(provider)[C4] == (C4_OFFERING, 192.0 - GIVE)
    assert _owned(provider)[new_id] == (C5_CONV, receive)
    recorded = _recorded(engine)
    assert recorded[C4] == (C4_OFFERING, 192.0 - GIVE)  # taken off exactly once
    assert recorded[new_id] == (C5_CONV, receive)
    assert_consistent(engine, market)


# --- exchanges ------------------------------------------------------------------------------


def test_an_exchange_is_executed_and_the_inventory_shows_it(
    engine: Engine, db_url: str, provider: SampleProvider, market: SampleMarket
) -> None:
    catalog = provider.catalog()
    plan_id = _approved(engine, provider, [exchange_action(catalog)])
    report = _execute(engine, _executor(engine, market, db_url), plan_id)

    assert report.plan_status == "executed"
    [action] = report.actions
    assert action.status == "done" and len(action.commitment_ids) == 1
    _assert_exchanged_once(provider, market, engine, action.commitment_ids[0],
                           _receive(catalog))
    order = market.orders()[0]
    assert order["upfront"] == pytest.approx(exchange_action(catalog).cash_effect)
    # Quote, then the committed intent, then the call, each audited.
    events = [(e.event, e.data) for e in _audit(engine) if e.subject == f"action:{plan_id}/0"]
    names = [name for name, _ in events]
    assert names == ["provider.quote", "action.intent", "provider.exchange"]
    intent, call = events[1][1], events[2][1]
    assert intent["kind"] == "exchange" and intent["commitment_id"] == C4
    assert call["given_commitment_ids"] == [C4] and call["target_offering_id"] == C5_CONV
    assert call["give_quantity"] == GIVE and call["provider_status"] == "active"
    # The units given up stay, ended at the exchange, for the hours they were owned.
    [(ended_id, ended_offering, ended_quantity)] = _ended(engine)
    assert ended_id.startswith(f"{C4}@ended-") and ended_quantity == pytest.approx(GIVE)
    # The next inventory sync agrees with what the executor recorded, and keeps that history.
    with session_scope(engine) as session:
        repository.replace_inventory(session, PROVIDER, provider.inventory(SAMPLE_ACCOUNT_NOW))
    assert _recorded(engine) == _owned(provider)
    assert _ended(engine) == [(ended_id, ended_offering, ended_quantity)]


def test_an_invalid_exchange_quote_is_refused_with_its_reason(
    engine: Engine, db_url: str, provider: SampleProvider, market: SampleMarket
) -> None:
    catalog = provider.catalog()
    # One unit short of parity: the new would be worth less than the old.
    short = exchange_action(catalog, receive=_receive(catalog) - 1)
    plan_id = _approved(engine, provider, [short])
    report = _execute(engine, _executor(engine, market, db_url), plan_id)

    assert report.plan_status == "failed"
    [action] = _actions(engine, plan_id)
    assert action.status == "failed" and action.attempts == 0 and action.intent_at is None
    assert action.error is not None
    assert action.error.startswith("not exchanged: the provider says the exchange is invalid")
    assert "the new must be worth at least the old" in action.error
    assert _exchange_calls(market) == [] and market.orders() == []
    assert _owned(provider)[C4] == (C4_OFFERING, 192.0)
    assert _recorded(engine)[C4] == (C4_OFFERING, 192.0)
    quote = next(e for e in _audit(engine) if e.event == "provider.quote")
    assert quote.data["quote"]["valid"] is False and "worth at least" in quote.reason


def test_an_exchange_asking_more_cash_than_planned_is_refused(
    engine: Engine, db_url: str, provider: SampleProvider, market: SampleMarket
) -> None:
    catalog = provider.catalog()
    plan_id = _approved(engine, provider, [exchange_action(catalog, cash_scale=0.5)])
    report = _execute(engine, _executor(engine, market, db_url), plan_id)

    assert report.plan_status == "failed"
    assert "the true-up moved" in report.actions[0].detail
    assert market.orders() == []


def test_a_dry_run_quotes_the_exchange_and_changes_nothing(
    engine: Engine, db_url: str, provider: SampleProvider, market: SampleMarket
) -> None:
    catalog = provider.catalog()
    plan_id = _approved(engine, provider, [exchange_action(catalog)])
    executor = Executor(engine, market, settings=Settings(database_url=db_url),
                        retry=RetryPolicy(attempts=1, base_s=0.0))
    report = _execute(engine, executor, plan_id)
    assert report.dry_run and report.plan_status == "approved"
    assert report.actions[0].detail.startswith(f"would exchange {C4} for")
    assert market.orders() == [] and _owned(provider)[C4] == (C4_OFFERING, 192.0)


@pytest.mark.parametrize(("fault", "attempts"), [(FaultKind.TIMEOUT_AFTER, 1),
                                                 (FaultKind.TIMEOUT_BEFORE, 2),
                                                 (FaultKind.THROTTLE, 2)])
def test_an_exchange_with_a_lost_answer_looks_before_trying_again(
    engine: Engine, db_url: str, provider: SampleProvider, market: SampleMarket,
    fault: FaultKind, attempts: int,
) -> None:
    market.inject(fault, on="exchange")
    plan_id = _approved(engine, provider, [exchange_action(provider.catalog())])
    report = _execute(engine, _executor(engine, market, db_url), plan_id)

    assert report.plan_status == "executed"
    [action] = _actions(engine, plan_id)
    assert (action.status, action.attempts) == ("done", attempts)
    calls = [(c["op"], c["outcome"]) for c in market.calls()
             if c["idempotency_key"] in ("", action.idempotency_key)]
    # After the failed call it asked find_order first; a second exchange only if not found.
    failed = next(i for i, call in enumerate(calls) if call[0] == "exchange")
    assert calls[failed + 1] == ("find_order", "looked up")
    assert action.commitment_ids is not None
    _assert_exchanged_once(provider, market, engine, action.commitment_ids[0],
                           _receive(provider.catalog()))


def test_an_exchange_with_an_unknown_outcome_is_never_repeated_blind(
    engine: Engine, db_url: str, provider: SampleProvider, market: SampleMarket
) -> None:
    market.inject(FaultKind.TIMEOUT_AFTER, on="exchange")
    market.inject(FaultKind.TIMEOUT_BEFORE, on="find_order", times=4)
    plan_id = _approved(engine, provider, [exchange_action(provider.catalog())])
    executor = _executor(engine, market, db_url)
    report = _execute(engine, executor, plan_id)
    assert (report.plan_status, report.actions[0].status) == ("executing", "unknown")

    market.inject(FaultKind.TIMEOUT_BEFORE, on="find_order", times=4)
    with pytest.raises(UnresolvedIntents):
        _execute(engine, executor, plan_id)
    assert len(market.orders()) == 1 and _exchange_calls(market) == ["active"]

    reconciled = executor.reconcile(PROVIDER, SCOPE)
    assert reconciled.settled == {"done": 1} and reconciled.plans_finished == (plan_id,)
    [action] = _actions(engine, plan_id)
    assert action.commitment_ids is not None
    _assert_exchanged_once(provider, market, engine, action.commitment_ids[0],
                           _receive(provider.catalog()))
    with pytest.raises(Conflict, match="is executed"):  # and it cannot be placed again
        _execute(engine, executor, plan_id)
    assert _exchange_calls(market) == ["active"]


def _crash_state(engine: Engine, executor: Executor, plan_id: int, *,
                 call_provider: bool) -> None:
    """What a process killed after the intent leaves: before the call, or after it."""
    from executor.execute import idempotency_key

    with session_scope(engine) as session:
        plan = repository.get_plan(session, plan_id)
        assert plan is not None
        transition(session, plan, PlanStatus.EXECUTING, actor="test", reason="crash test")
        key = idempotency_key(plan, plan.actions[0])
        request = executor._request(plan, plan.actions[0])
    executor._write_intent(plan_id, 0, key)
    if call_provider:
        executor.market.exchange(request)  # type: ignore[arg-type]


@pytest.mark.parametrize(("call_provider", "settled"), [(False, {"pending": 1}),
                                                        (True, {"done": 1})])
def test_a_crash_around_the_exchange_call_is_reconciled_without_a_second_exchange(
    engine: Engine, db_url: str, provider: SampleProvider, market: SampleMarket,
    call_provider: bool, settled: dict[str, int],
) -> None:
    plan_id = _approved(engine, provider, [exchange_action(provider.catalog())])
    executor = _executor(engine, market, db_url)
    _crash_state(engine, executor, plan_id, call_provider=call_provider)

    assert executor.reconcile(PROVIDER, SCOPE).settled == settled
    if call_provider:  # found done: the plan is finished, nothing is placed again
        with pytest.raises(Conflict, match="is executed"):
            _execute(engine, executor, plan_id)
    else:  # never reached the provider: placed now, with the same key
        assert _execute(engine, executor, plan_id).plan_status == "executed"

    [action] = _actions(engine, plan_id)
    assert action.status == "done" and action.commitment_ids is not None
    assert _exchange_calls(market) == ["active"]  # one call reached the account, ever
    _assert_exchanged_once(provider, market, engine, action.commitment_ids[0],
                           _receive(provider.catalog()))


# --- returns --------------------------------------------------------------------------------


def _buy_savings_plan(market: SampleMarket, quantity: float = 2.0) -> str:
    """A Savings Plan bought in the account now: inside its return window."""
    return market.purchase(PurchaseRequest("bought-last-week", SP, quantity)).commitment_ids[0]


def test_a_return_is_executed_and_the_commitment_is_gone(
    engine: Engine, db_url: str, provider: SampleProvider, market: SampleMarket
) -> None:
    catalog = provider.catalog()
    bought = _buy_savings_plan(market)
    action = return_action(catalog, bought, SP, 2.0)
    plan_id = _approved(engine, provider, [action])
    assert bought in _recorded(engine)
    report = _execute(engine, _executor(engine, market, db_url), plan_id)

    assert report.plan_status == "executed" and report.actions[0].status == "done"
    returns = [o for o in market.orders() if o.get("kind") == "return"]
    assert len(returns) == 1 and returns[0]["refund"] == pytest.approx(2.0 * 4380.0)
    assert bought not in _owned(provider) and bought not in _recorded(engine)
    names = [e.event for e in _audit(engine) if e.subject == f"action:{plan_id}/0"]
    assert names == ["action.intent", "provider.return"]  # a return is not quoted
    # A done return lowers the month's new commitment for the next plans.
    with session_scope(engine) as session:
        month = executor_repo.spend_to_date(session, PROVIDER, SCOPE, exclude_plan_id=-1,
                                            since=executor_repo.month_start(utc_now()))
    assert month.hourly == pytest.approx(action.amortized_hourly_cost)
    assert month.upfront == pytest.approx(action.cash_effect)


def test_a_return_with_a_lost_answer_is_found_not_made_twice(
    engine: Engine, db_url: str, provider: SampleProvider, market: SampleMarket
) -> None:
    bought = _buy_savings_plan(market)
    market.inject(FaultKind.TIMEOUT_AFTER, on="return_commitment")
    plan_id = _approved(engine, provider, [return_action(provider.catalog(), bought, SP, 2.0)])
    report = _execute(engine, _executor(engine, market, db_url), plan_id)

    assert report.plan_status == "executed"
    assert _actions(engine, plan_id)[0].attempts == 1
    assert [c["outcome"] for c in market.calls() if c["op"] == "return_commitment"] == [
        "active"]
    assert bought not in _owned(provider) and bought not in _recorded(engine)


def test_a_return_past_its_window_fails_with_the_providers_reason(
    engine: Engine, db_url: str, provider: SampleProvider, market: SampleMarket
) -> None:
    old = "sample-sp-compute-2024-03"  # bundled, started in March
    plan_id = _approved(engine, provider,
                        [return_action(provider.catalog(), old, "sp-compute-1y-nu", 4.0)])
    report = _execute(engine, _executor(engine, market, db_url), plan_id)

    assert report.plan_status == "failed"
    assert report.actions[0].detail.startswith("not returned: the provider refused "
                                               "(ReturnWindowClosed")
    assert old in _owned(provider) and old in _recorded(engine)


# --- guardrails -----------------------------------------------------------------------------


def _held_checks(engine: Engine, plan_id: int) -> set[str]:
    with session_scope(engine) as session:
        plan = session.get(PlanRow, plan_id)
        assert plan is not None
        assert plan.status == "proposed"
        return {r["check"] for r in plan.policy_reasons or []}


def test_the_caps_count_an_exchanges_true_up_and_added_commitment(
    engine: Engine, provider: SampleProvider
) -> None:
    action = exchange_action(provider.catalog())
    assert action.cash_effect > 10 and action.amortized_hourly_cost > 0
    policy = GENEROUS.model_copy(update={"max_run_upfront": action.cash_effect / 2,
                                         "max_run_hourly": action.amortized_hourly_cost / 2})
    plan_id, approved = _store(engine, provider, [action], policy=policy)
    assert not approved
    assert _held_checks(engine, plan_id) == {"max_run_upfront", "max_run_hourly"}


def test_the_allowed_offerings_apply_to_what_an_exchange_receives(
    engine: Engine, provider: SampleProvider
) -> None:
    policy = GENEROUS.model_copy(update={"allowed_offerings": ("ri-conv-*/c4/*",)})
    plan_id, approved = _store(engine, provider, [exchange_action(provider.catalog())],
                               policy=policy)
    assert not approved and _held_checks(engine, plan_id) == {"allowed_offerings"}


def test_an_exchange_that_does_not_say_what_it_gives_up_cannot_be_approved(
    engine: Engine, provider: SampleProvider
) -> None:
    plan_id, approved = _store(engine, provider,
                               [exchange_action(provider.catalog(), commitment_id="")])
    assert not approved and _held_checks(engine, plan_id) == {"action_kind"}
    with session_scope(engine) as session:
        plan = session.get(PlanRow, plan_id)
        assert plan is not None
        [reason] = plan.policy_reasons or []
    assert reason["severity"] == "rule" and "does not name the commitment" in reason["message"]


def test_a_return_makes_room_under_the_cap_and_its_failure_stops_the_purchase(
    engine: Engine, db_url: str, provider: SampleProvider, market: SampleMarket
) -> None:
    catalog = provider.catalog()
    buy = purchase_action(catalog, SP, 5.0)  # $5/h amortized
    old = "sample-sp-compute-2024-03"  # $4/h, past its return window: the return will fail
    give_back = return_action(catalog, old, "sp-compute-1y-nu", 4.0)
    policy = GENEROUS.model_copy(update={"max_run_hourly": 2.0})
    # The purchase alone breaks the cap; with the return the plan adds $1/h and is approved.
    alone, approved = _store(engine, provider, [buy], policy=policy)
    assert not approved and _held_checks(engine, alone) == {"max_run_hourly"}
    plan_id, approved = _store(engine, provider, [buy, give_back], policy=policy)
    assert approved

    report = _execute(engine, _executor(engine, market, db_url), plan_id)

    # The return went first, failed, and the purchase was not placed.
    assert [a.status for a in report.actions] == ["pending", "failed"]
    assert report.plan_status == "executing"
    assert market.orders() == []
    stopped = [e for e in _audit(engine) if e.event == "plan.stopped"]
    assert len(stopped) == 1
    assert "a return this plan counted on was not made" in stopped[0].reason


def test_the_kill_switch_still_stops_an_exchange(
    engine: Engine, db_url: str, provider: SampleProvider, market: SampleMarket
) -> None:
    plan_id = _approved(engine, provider, [exchange_action(provider.catalog())])
    with session_scope(engine) as session:
        set_policy(session, GENEROUS.model_copy(update={"kill_switch": True}))
    with pytest.raises(PolicyViolation, match="kill switch"):
        _execute(engine, _executor(engine, market, db_url), plan_id)
    assert market.orders() == [] and _owned(provider)[C4] == (C4_OFFERING, 192.0)
