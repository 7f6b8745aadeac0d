"""Exchanges and returns are stored and read back exactly, on SQLite and PostgreSQL (0005)."""

from __future__ import annotations

from alembic import command
from factories import T0, make_plan
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.db.models import ActionRow
from core.db.repository import add_plan, get_plan, plan_from_row
from core.db.session import alembic_config, create_engine_for, migrate
from core.domain import Action, ActionKind, Plan

EXCHANGE = Action(
    kind=ActionKind.EXCHANGE, offering_id="ri-conv-3y-pu/us-east-1/c4/linux", quantity=64.0,
    upfront_cost=12.345678901, hourly_cost=-0.0123, amortized_hourly_cost=0.0041,
    reason="c4 is going away", commitment_id="sample-ri-c4-2022-01",
    target_offering_id="ri-conv-3y-pu/us-east-1/c5/linux", target_quantity=80.0,
    cash_effect=12.345678901,
)
RETURN = Action(
    kind=ActionKind.RETURN, offering_id="sp-compute-1y-pu", quantity=2.5,
    upfront_cost=-10950.0, hourly_cost=-1.25, amortized_hourly_cost=-2.5,
    reason="bought too much last week", commitment_id="sample-000007", cash_effect=-10950.0,
)


def _plan() -> Plan:
    purchase = make_plan(actions=1).actions[0]
    return Plan(actions=(RETURN, EXCHANGE, purchase), window_start=T0, window_hours=720,
                on_demand_equivalent=1000.0, cost_before=900.0, cost_after=800.0,
                esr_before=0.1, esr_after=0.2, upfront_cash=1.0, monthly_commitment=2.0)


def test_exchange_and_return_round_trip_exactly(session: Session) -> None:
    plan = _plan()
    plan_id = add_plan(session, provider="sample", dataset_id=None, plan=plan,
                       build_seconds=0.0, solve_seconds=0.0)
    session.expunge_all()  # read from the database, not from the objects just added
    row = get_plan(session, plan_id)
    assert row is not None

    assert plan_from_row(row).actions == plan.actions
    exchange = row.actions[1]
    assert (exchange.kind, exchange.commitment_id, exchange.target_offering_id,
            exchange.target_quantity, exchange.cash_effect) == (
        "exchange", "sample-ri-c4-2022-01", "ri-conv-3y-pu/us-east-1/c5/linux", 80.0,
        12.345678901)
    # A purchase's empty ids are stored as null, and come back as "".
    purchase = row.actions[2]
    assert (purchase.commitment_id, purchase.target_offering_id) == (None, None)
    assert plan_from_row(row).actions[2].commitment_id == ""


def test_actions_stored_before_0005_become_purchases_with_their_cash_effect(
    empty_db_url: str,
) -> None:
    migrate(empty_db_url, "0004")
    engine = create_engine_for(empty_db_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO plans (id, provider, created_at, status, window_start, window_hours,"
                " on_demand_equivalent, cost_before, cost_after, esr_before, esr_after,"
                " upfront_cash, monthly_commitment, expected_savings, solver_status,"
                " build_seconds, solve_seconds, details, scope) VALUES (1, 'sample',"
                " '2026-01-01 00:00:00', 'proposed', '2026-01-01 00:00:00', 720, 10, 9, 8,"
                " 0.1, 0.2, 0, 1, 1, 'Optimal', 0, 0, '{}', 'all')"))
            connection.execute(text(
                "INSERT INTO actions (plan_id, position, kind, offering_id, quantity,"
                " upfront_cost, hourly_cost, amortized_hourly_cost, reason, status, attempts)"
                " VALUES (1, 0, 'purchase', 'ri', 1, 123.5, 0.1, 0.1, 'why', 'pending', 0)"))
        migrate(engine)
        with Session(engine) as session:
            row = get_plan(session, 1)
            assert row is not None
            action = plan_from_row(row).actions[0]
            stored = session.get(ActionRow, row.actions[0].id)
            assert stored is not None and stored.commitment_id is None
    finally:
        engine.dispose()
    assert (action.kind, action.cash_effect, action.commitment_id, action.target_offering_id,
            action.target_quantity) == (ActionKind.PURCHASE, 123.5, "", "", 0.0)


def test_downgrade_from_0005_keeps_the_actions(empty_db_url: str) -> None:
    migrate(empty_db_url)
    engine = create_engine_for(empty_db_url)
    try:
        with Session(engine) as session:
            add_plan(session, provider="sample", dataset_id=None, plan=_plan(),
                     build_seconds=0.0, solve_seconds=0.0)
            session.commit()
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0004")
        with engine.connect() as connection:
            kinds = connection.execute(text("SELECT kind FROM actions ORDER BY position")).all()
            columns = connection.execute(text("SELECT * FROM actions")).keys()
    finally:
        engine.dispose()
    assert [k for (k,) in kinds] == ["return", "exchange", "purchase"]
    assert "cash_effect" not in columns and "target_offering_id" not in columns
