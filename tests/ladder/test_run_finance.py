"""The README's "Buying, safely" steps, then finance's view of them (issue 18, point 6).

``ladder policy set --set max_run_upfront=500000`` and ``LADDER_EXECUTE_PROVIDERS=sample
ladder run`` on the bundled sample exchange the idle convertible c4 RI and buy
Savings Plans. Then:

* the payment schedule asks of the exchanged RI its true-up — what the run paid —
  not the received offering's list upfront; the cash due of everything the run
  bought is what the executed actions paid, recomputed here from the actions table
  and the simulated account's orders;
* what the run bought starts at the run's time, after the sample's data (which
  ends 2024-09-01): every report says through when its data runs and that it is
  stale, in the JSON and in the CLI's output.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from core.db.models import ActionRow, CommitmentRow, PlanRow, RunRow
from core.db.session import create_engine_for, session_scope
from core.settings import Settings, get_settings
from ladder.cli import app
from providers.sample import SampleProvider
from reporting import payment_schedule, savings

runner = CliRunner()
DATA_END = "2024-09-01T00:00:00+00:00"


def _cents(value: float) -> int:
    return int((Decimal(f"{value:.8f}") * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@pytest.fixture
def bought(ladder_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The README's steps, run with the CLI; the engine on their database."""
    monkeypatch.setenv("LADDER_PROVIDER_RETRY_BASE_S", "0")
    get_settings.cache_clear()
    policy = runner.invoke(app, ["policy", "set", "--set", "max_run_upfront=500000",
                                 "--reason", "try the sample"])
    assert policy.exit_code == 0, policy.output
    monkeypatch.setenv("LADDER_EXECUTE_PROVIDERS", "sample")
    get_settings.cache_clear()
    run = runner.invoke(app, ["run"])
    assert run.exit_code == 0, run.output
    assert "executed" in run.output
    engine = create_engine_for(get_settings().database_url)
    yield engine
    engine.dispose()


def _done_actions(engine: Engine) -> pd.DataFrame:
    with session_scope(engine) as session:
        rows = session.execute(select(ActionRow.kind, ActionRow.commitment_ids,
                                      ActionRow.cash_effect, ActionRow.offering_id,
                                      ActionRow.target_offering_id)
                               .join(PlanRow).where(ActionRow.status == "done")).all()
    return pd.DataFrame(rows, columns=["kind", "commitment_ids", "cash_effect", "offering_id",
                                       "target_offering_id"]).explode("commitment_ids")


def test_the_payment_schedule_asks_an_exchange_its_true_up(bought: Engine) -> None:
    actions = _done_actions(bought)
    exchanged = actions[actions["kind"] == "exchange"]
    assert len(exchanged) == 1, actions  # the sample's run exchanges its idle c4 RI
    [received] = list(exchanged["commitment_ids"])
    with session_scope(bought) as session:
        schedule = payment_schedule(session).frame
        row = session.scalars(select(CommitmentRow).where(
            CommitmentRow.commitment_id == received)).one()
        list_upfront = row.quantity * row.offering.upfront
    upfront = schedule.groupby("commitment_id")["upfront_due"].sum()

    # The exchange's cash is its true-up (as the executor recorded it and the account charged
    # it), not the received RI's list upfront.
    orders = {o["commitment_ids"][0]: o for o in SampleProvider().market().orders()
              if o.get("kind") == "exchange"}
    true_up = float(exchanged["cash_effect"].iloc[0])
    assert _cents(orders[received]["upfront"]) == _cents(true_up)
    assert round(upfront[received] * 100) == _cents(true_up)
    assert list_upfront > 1000 * true_up  # $59,637.53 against $22.81 on the sample
    # Everything the run bought is due what its actions paid, nothing more.
    ids = list(actions["commitment_ids"])
    paid = sum(_cents(cash) for cash in actions["cash_effect"])
    assert round(upfront[upfront.index.isin(ids)].sum() * 100) == paid
    # The plan's upfront cash, as the CLI shows it, is that same figure to the cent.
    with session_scope(bought) as session:
        plan_id = session.scalars(select(PlanRow.id)).one()
    shown = runner.invoke(app, ["plans", "show", str(plan_id)])
    assert shown.exit_code == 0, shown.output
    assert f"Upfront cash ${paid / 100:,.2f};" in shown.output, shown.output


def test_what_a_run_bought_starts_at_the_run_and_reports_say_their_data_is_older(
    bought: Engine,
) -> None:
    with session_scope(bought) as session:
        run = session.scalars(select(RunRow)).one()
        assert run.finished_at is not None
        began, ended = run.started_at, run.finished_at
        starts = [c.start_at for c in session.scalars(select(CommitmentRow).where(
            CommitmentRow.source == "plan"))]
        newest = max(c.start_at for c in session.scalars(select(CommitmentRow)))
    assert starts and all(began <= s <= ended for s in starts)

    for name in ("savings", "chargeback", "showback", "payment-schedule", "amortization",
                 "calendar"):
        shown = runner.invoke(app, ["report", name, "--format", "json"])
        assert shown.exit_code == 0, shown.output
        body = json.loads(shown.output)
        assert body["data_through"] == DATA_END, name
        assert body["stale"] is True, name
        assert pd.Timestamp(body["newest_commitment_start"]) == pd.Timestamp(newest), name
        [warning] = body["warnings"]
        assert "2024-09-01 00:00 UTC" in warning and f"{newest:%Y-%m-%d %H:%M}" in warning

    # The former spelling still answers, the same report, and says it is deprecated.
    american = runner.invoke(app, ["report", "amortization", "--format", "json"])
    british = runner.invoke(app, ["report", "amortisation", "--format", "json"])
    assert british.exit_code == 0, british.output
    assert json.loads(british.stdout) == json.loads(american.stdout)
    assert "deprecated" in british.stderr and "deprecated" not in american.stderr

    table = runner.invoke(app, ["report", "savings"])
    assert table.exit_code == 0, table.output
    assert "Data through 2024-09-01 00:00 UTC." in table.output
    assert "stale:" in table.output and "before its newest commitment" in table.output


def test_the_cli_refuses_a_budget_in_another_currency_than_its_data(
    ladder_settings: Settings,
) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reporting"))
    from reporting_factories import PROVIDER, store_hand_fixture  # billed in USD

    engine = create_engine_for(ladder_settings.database_url)
    with session_scope(engine) as session:
        store_hand_fixture(session)
    engine.dispose()

    refused = runner.invoke(app, ["budgets", "create", "euros", "--amount", "100",
                                  "--currency", "EUR", "--provider", PROVIDER])
    assert refused.exit_code == 2, refused.output
    assert "the budget is in EUR" in refused.output and "USD" in refused.output
    created = runner.invoke(app, ["budgets", "create", "dollars", "--amount", "100",
                                  "--provider", PROVIDER, "--as", "alice"])
    assert created.exit_code == 0, created.output
    budget_id = created.output.split("Created budget ", 1)[1].split(":", 1)[0]
    moved = runner.invoke(app, ["budgets", "update", budget_id, "--currency", "EUR"])
    assert moved.exit_code == 2 and "the budget is in EUR" in moved.output, moved.output

    status = runner.invoke(app, ["budgets", "status", "--format", "json"])
    assert status.exit_code == 0, status.output
    [only] = json.loads(status.output)
    assert only["budget"]["name"] == "dollars" and only["budget"]["currency"] == "USD"
    assert only["actual"] == 25.92 and only["stale"] is True  # ri-c5-future after the data
    listed = runner.invoke(app, ["budgets", "list"])
    assert "dollars" in listed.output and "euros" not in listed.output


def test_units_an_exchange_gave_up_still_count_for_the_hours_they_were_owned(
    bought: Engine,
) -> None:
    """The run's facts were refreshed before it exchanged; the next optimize refreshes them
    with the inventory after the exchange. The data (to 2024-09-01) all predates the
    exchange, so what the commitments saved over it must not move (it fell from 11,439.02
    to 7,025.93 when an exchange deleted the units it gave up)."""
    def realised() -> float:
        with session_scope(bought) as session:
            frame = savings(session).frame
        return round(float(frame["realised_savings"].sum()), 2)

    before = realised()
    assert before > 0
    again = runner.invoke(app, ["optimize"])
    assert again.exit_code == 0, again.output
    assert realised() == before
    actions = _done_actions(bought)
    [given_up] = list(actions.loc[actions["kind"] == "exchange", "offering_id"])
    with session_scope(bought) as session:
        ended = session.scalars(select(CommitmentRow).where(
            CommitmentRow.source == "ended")).all()
        run = session.scalars(select(RunRow)).one()
        assert [row.offering.offering_id for row in ended] == [given_up]
        # Ended when the run exchanged it, or at its term's end if that came first (the
        # sample's c4 RI runs to 2025-01-09; the run is today).
        natural = ended[0].start_at + timedelta(hours=ended[0].offering.term_hours)
        if natural <= run.started_at:
            assert ended[0].end_at == natural
        else:
            assert run.started_at <= ended[0].end_at <= run.finished_at
