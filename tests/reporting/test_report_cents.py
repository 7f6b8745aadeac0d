"""Every report of the same period and scope agrees to the cent (issue 18, point 6).

Money is rounded once, at the edge, by one rule (``reporting.money.cents``:
half-up): each period's figure is its unrounded sum rounded, and its rows share
those cents by largest remainder. So chargeback by account, by region or by tag,
savings, amortization, showback, coverage, utilisation and budgets show the same
figure for the same period. The expected figures are recomputed here from the
snapshot's stored daily facts with plain pandas and ``decimal``'s ROUND_HALF_UP,
not with ``reporting.money``.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reporting_factories import store_sample
from sqlalchemy.orm import Session

from reporting import (
    BudgetBasis,
    BudgetSpec,
    Dimension,
    Granularity,
    ReportQuery,
    Scope,
    amortization,
    budget_status,
    chargeback,
    commitment_showback,
    coverage,
    create_budget,
    savings,
    utilisation,
)
from reporting.money import cents, nested_cents

G, D = Granularity, Dimension
TEAM = Scope(tag_key="team")


@pytest.fixture
def sample(session: Session) -> Session:
    """The sample ingested (usage, FOCUS cost lines, catalog, inventory) and its facts built."""
    store_sample(session)
    return session


def _half_up(value: float) -> float:
    """``value`` to the cent, half-up, with ``decimal`` (float noise under 1e-8 dropped)."""
    return float(Decimal(f"{value:.8f}").quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _per_period(report: object, column: str) -> dict[str, float]:
    frame = report.frame  # type: ignore[attr-defined]
    sums = frame.groupby("period")[column].sum()
    return {period: round(float(value), 2) for period, value in sums.items()}


@pytest.mark.parametrize("granularity", [G.DAY, G.MONTH, G.TOTAL])
def test_every_report_of_a_period_shows_the_same_cents(sample: Session,
                                                       granularity: Granularity) -> None:
    def query(group_by: Dimension = D.NONE, scope: Scope | None = None) -> ReportQuery:
        return ReportQuery(granularity=granularity, group_by=group_by, scope=scope or Scope())

    bill = {
        "chargeback by account": _per_period(chargeback(sample, query(D.ACCOUNT)),
                                             "amortized_cost"),
        "chargeback by region": _per_period(chargeback(sample, query(D.REGION)),
                                            "amortized_cost"),
        "chargeback by tag": _per_period(chargeback(sample, query(D.TAG, TEAM)),
                                         "amortized_cost"),
        "savings": _per_period(savings(sample, query()), "amortized_cost"),
        "savings by account": _per_period(savings(sample, query(D.ACCOUNT)), "amortized_cost"),
        "amortization": _per_period(amortization(sample, query()), "amortized_cost"),
    }
    showback = commitment_showback(sample, query(D.ACCOUNT))
    benefit = {
        "showback": _per_period(showback, "benefit"),
        "showback by tag": _per_period(commitment_showback(sample, query(D.TAG, TEAM)),
                                       "benefit"),
        "realised savings": _per_period(savings(sample, query()), "realised_savings"),
        "chargeback benefit": _per_period(chargeback(sample, query(D.ACCOUNT)), "benefit"),
        "savings by commitment": _per_period(savings(sample, query(D.COMMITMENT)),
                                             "realised_savings"),
    }
    covered = {
        "showback": _per_period(showback, "covered_on_demand"),
        "coverage": _per_period(coverage(sample, query()), "covered_on_demand"),
        "coverage by tag": _per_period(coverage(sample, query(D.TAG, TEAM)),
                                       "covered_on_demand"),
    }
    commitment_cost = {
        "showback": _per_period(showback, "commitment_cost"),
        "utilisation": _per_period(utilisation(sample, query()), "commitment_cost"),
        "savings": _per_period(savings(sample, query()), "commitment_cost"),
        "amortization": _per_period(amortization(sample, query()),
                                    "commitment_amortized_cost"),
    }
    for figure, by_report in (("amortized bill", bill), ("benefit", benefit),
                              ("covered on-demand", covered),
                              ("commitment cost", commitment_cost)):
        table = pd.DataFrame(by_report)
        differ = table[table.nunique(axis=1) > 1]
        assert differ.empty, f"{figure} differs between reports:\n{differ}"


def test_a_commitment_costs_the_same_in_showback_and_utilisation(sample: Session) -> None:
    showback = commitment_showback(sample, ReportQuery(group_by=D.ACCOUNT))
    per_commitment = showback.frame.groupby(["period", "commitment"])["commitment_cost"].sum()
    used = utilisation(sample, ReportQuery(group_by=D.COMMITMENT)).frame
    expected = used.set_index(["period", "group"])["commitment_cost"]
    expected.index.names = ["period", "commitment"]
    joined = pd.concat([per_commitment.round(2).rename("showback"),
                        expected.rename("utilisation")], axis=1).fillna(0.0)
    assert len(joined) > 3
    assert (joined["showback"] == joined["utilisation"]).all(), joined


def _facts(session: Session) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The newest snapshot's key-days and commitment-days, read with plain SQL."""
    snapshot = session.connection().exec_driver_sql(
        "SELECT max(id) FROM report_snapshots WHERE provider = 'sample'").scalar_one()
    connection = session.connection()
    key_days = pd.read_sql_query(
        f"SELECT * FROM report_key_days WHERE snapshot_id = {int(snapshot)}", connection)
    commitment_days = pd.read_sql_query(
        f"SELECT * FROM report_commitment_days WHERE snapshot_id = {int(snapshot)}",
        connection)
    for frame in (key_days, commitment_days):
        frame["month"] = pd.to_datetime(frame["day"]).dt.strftime("%Y-%m")
    return key_days, commitment_days


def test_each_months_figures_are_its_unrounded_sums_rounded_half_up(sample: Session) -> None:
    key_days, commitment_days = _facts(sample)
    by_month = key_days.groupby("month")[["on_demand_equivalent", "covered_on_demand",
                                          "on_demand_cost", "commitment_used_cost",
                                          "commitment_unused_cost"]].sum()
    unallocated = commitment_days.groupby("month")["unallocated_cost"].sum()
    commitment = (by_month["commitment_used_cost"] + by_month["commitment_unused_cost"]
                  + unallocated.reindex(by_month.index, fill_value=0.0))
    amortized = by_month["on_demand_cost"] + commitment
    expected = pd.DataFrame({
        "amortized_cost": amortized,
        "realised_savings": by_month["on_demand_equivalent"] - amortized,
        "covered_on_demand": by_month["covered_on_demand"],
        "benefit": by_month["covered_on_demand"] - commitment,
    }).map(_half_up)
    report_savings = savings(sample, ReportQuery()).frame.set_index("period")
    report_coverage = coverage(sample, ReportQuery()).frame.set_index("period")
    showback = commitment_showback(sample, ReportQuery(group_by=D.ACCOUNT)).frame
    got = pd.DataFrame({
        "amortized_cost": report_savings["amortized_cost"],
        "realised_savings": report_savings["realised_savings"],
        "covered_on_demand": report_coverage["covered_on_demand"],
        "benefit": showback.groupby("period")["benefit"].sum().round(2),
    })
    assert list(got.index) == ["2024-06", "2024-07", "2024-08"]
    pd.testing.assert_frame_equal(got.sort_index(), expected.sort_index(),
                                  check_names=False, check_exact=True)


@pytest.mark.parametrize("basis", [BudgetBasis.AMORTIZED, BudgetBasis.CASH])
def test_a_budgets_actual_is_the_months_bill_of_the_reports(sample: Session,
                                                            basis: BudgetBasis) -> None:
    budget = create_budget(sample, BudgetSpec(name=f"sample {basis}", amount=50_000.0,
                                              basis=basis, scope=Scope(provider="sample")))
    status = budget_status(sample, budget, as_of=date(2024, 8, 20))
    assert status is not None
    window = ReportQuery(start=date(2024, 8, 1), end=date(2024, 8, 20),
                         granularity=G.MONTH, scope=Scope(provider="sample"))
    column = "amortized_cost" if basis is BudgetBasis.AMORTIZED else "cash_cost"
    report = amortization(sample, window)
    assert status.actual == float(report.frame[column].sum())
    if basis is BudgetBasis.AMORTIZED:
        charged = chargeback(sample, ReportQuery(start=window.start, end=window.end,
                                                 group_by=D.ACCOUNT))
        assert status.actual == round(float(charged.frame["amortized_cost"].sum()), 2)


amounts = st.lists(st.floats(min_value=-1e5, max_value=1e5, allow_nan=False), min_size=1,
                   max_size=30)


@given(amounts, st.integers(1, 3), st.integers(1, 4))
def test_nested_cents_add_up_at_every_level(values: list[float], outer: int,
                                            inner: int) -> None:
    array = np.asarray(values)
    periods = np.arange(array.size, dtype=np.int64) % outer
    commitments = (np.arange(array.size, dtype=np.int64) // outer) % inner
    found = nested_cents(array, [periods, commitments])
    for period in np.unique(periods):
        in_period = periods == period
        # The period's cents are its unrounded sum rounded half-up.
        assert int(found[in_period].sum()) == int(cents(float(array[in_period].sum()))[0])
        for commitment in np.unique(commitments[in_period]):
            part = in_period & (commitments == commitment)
            # Each commitment is within a cent of its own unrounded sum.
            assert abs(int(found[part].sum()) - float(array[part].sum()) * 100) < 1 + 1e-6
    assert np.all(np.abs(found - array * 100) < 1 + 1e-6)


def test_the_rounding_rule_is_half_up_away_from_zero() -> None:
    values = [0.125, -0.125, 2.675, 157.95499999999998, 0.005, 1.004999]
    expected = [Decimal(f"{v:.8f}").quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) * 100
                for v in values]
    assert list(cents(values)) == [int(e) for e in expected]
