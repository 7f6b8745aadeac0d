"""Migration 0002 upgrades a database that already holds plans, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect, text

from core.db.session import create_engine_for, migrate


def test_plans_and_actions_stored_before_0002_keep_their_data(empty_db_url: str) -> None:
    migrate(empty_db_url, "0001")
    engine = create_engine_for(empty_db_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO plans (id, provider, created_at, status, window_start, window_hours,"
                " on_demand_equivalent, cost_before, cost_after, esr_before, esr_after,"
                " upfront_cash, monthly_commitment, expected_savings, solver_status,"
                " build_seconds, solve_seconds, details) VALUES (1, 'sample',"
                " '2026-01-01 00:00:00', 'proposed', '2026-01-01 00:00:00', 720, 10, 9, 8,"
                " 0.1, 0.2, 0, 1, 1, 'Optimal', 0, 0, '{}')"))
            connection.execute(text(
                "INSERT INTO actions (plan_id, position, kind, offering_id, quantity,"
                " upfront_cost, hourly_cost, amortized_hourly_cost, reason, status)"
                " VALUES (1, 0, 'purchase', 'ri', 1, 0, 0.1, 0.1, 'why', 'pending')"))
        migrate(engine)
        with engine.connect() as connection:
            plan = connection.execute(text("SELECT scope, status, valid_until FROM plans")).one()
            action = connection.execute(text(
                "SELECT status, attempts, idempotency_key FROM actions")).one()
            head = connection.execute(text("SELECT seq, hash FROM audit_head")).one()
            tables = set(inspect(connection).get_table_names())
        assert tuple(plan) == ("all", "proposed", None)
        assert tuple(action) == ("pending", 0, None)
        assert tuple(head) == (0, "0" * 64)
        assert {"policies", "runs", "run_locks", "audit_log", "notifications"} <= tables
    finally:
        engine.dispose()
