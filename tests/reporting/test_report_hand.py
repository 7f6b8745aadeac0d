"""Every report on the hand fixture of ``reporting_factories``, against figures worked by hand.

The docstring of ``reporting_factories`` sets the fixture out hour by hour; the
expected figures below are its arithmetic, written out, not the code under test.
Runs on SQLite and on PostgreSQL (when ``LADDER_TEST_DATABASE_URL`` is set).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest
from reporting_factories import COMMITMENTS, K1, K2, K3, PROVIDER, store_hand_fixture
from sqlalchemy.orm import Session

from core.billing import bill, summarize
from core.errors import InvalidInput, NotFound
from reporting import (
    BudgetBasis,
    BudgetPeriod,
    BudgetSpec,
    Dimension,
    Granularity,
    ReportQuery,
    Scope,
    amortization,
    budget_status,
    chargeback,
    commitment_calendar,
    commitment_showback,
    coverage,
    create_budget,
    expirations,
    payment_schedule,
    savings,
    utilisation,
    waste,
)
from reporting.definitions import UNALLOCATED, UNTAGGED
from reporting.money import cents_of

G, D = Granularity, Dimension

SCOPE = Scope(provider=PROVIDER)


@pytest.fixture
def hand(session: Session) -> Session:
    """The session with the hand fixture stored and its facts refreshed."""
    store_hand_fixture(session)
    return session


def _rows(report: object, key: str = "group") -> dict[str, dict[str, object]]:
    return {f"{r['period']}|{r[key]}": r for r in report.records()}  # type: ignore[attr-defined]


def test_savings_per_day_match_the_hand_computation(hand: Session) -> None:
    report = savings(hand, ReportQuery(granularity=G.DAY, scope=SCOPE))
    rows = _rows(report)
    jan, feb = rows["2025-01-31|all"], rows["2025-02-01|all"]
    assert (jan["on_demand_equivalent"], jan["amortized_cost"]) == (43.2, 30.72)
    assert (jan["on_demand_cost"], jan["commitment_cost"]) == (4.8, 25.92)
    assert jan["realised_savings"] == 12.48
    assert jan["esr_billing"] == pytest.approx(12.48 / 43.2)
    assert (feb["on_demand_equivalent"], feb["amortized_cost"]) == (33.6, 25.92)
    assert feb["realised_savings"] == 7.68
    # FOCUS: K1's effective cost is 90 % of its contracted cost, others 100 %.
    assert jan["focus_contracted_cost"] == 43.2
    assert jan["focus_effective_cost"] == pytest.approx(43.2 - 0.1 * 14.4)
    assert jan["esr_focus"] == pytest.approx(0.1 * 14.4 / 43.2)
    assert (jan["hours"], feb["hours"]) == (24, 24)


def test_savings_agree_with_the_billing_engine_summary(hand: Session) -> None:
    """Constant prices per key: the reports' totals are ``summarize(bill(...))``'s."""
    from reporting_factories import RATES, START, hand_usage

    usage = hand_usage()
    keys = sorted(RATES)
    matrix = usage.pivot(index="hour", columns="usage_key", values="units")[keys].to_numpy()
    active = [c for c in COMMITMENTS if c.start < START]
    summary = summarize(bill(matrix, keys, np.array([RATES[k] for k in keys]), active, START))
    report = savings(hand, ReportQuery(granularity=G.TOTAL, scope=SCOPE))
    (row,) = report.records()
    assert row["on_demand_equivalent"] == pytest.approx(summary.on_demand_equivalent, abs=0.005)
    assert row["amortized_cost"] == pytest.approx(summary.total_cost, abs=0.005)
    assert row["realised_savings"] == pytest.approx(summary.savings, abs=0.005)
    cov = coverage(hand, ReportQuery(granularity=G.TOTAL, scope=SCOPE)).records()[0]
    assert cov["coverage"] == pytest.approx(summary.coverage)
    util = utilisation(hand, ReportQuery(granularity=G.TOTAL, scope=SCOPE)).records()[0]
    assert util["utilisation"] == pytest.approx(summary.utilisation)
    assert util["unused_cost"] == pytest.approx(summary.waste, abs=0.005)


def test_savings_by_account_month_put_unallocated_waste_on_its_own_row(hand: Session) -> None:
    rows = _rows(savings(hand, ReportQuery(group_by=D.ACCOUNT, scope=SCOPE)))
    assert set(rows) == {"2025-01|acct-a", "2025-01|acct-b", f"2025-01|{UNALLOCATED}",
                         "2025-02|acct-a", "2025-02|acct-b", f"2025-02|{UNALLOCATED}"}
    assert rows["2025-01|acct-a"]["amortized_cost"] == 8.64  # 6 units × $0.06 × 24
    assert rows["2025-01|acct-b"]["amortized_cost"] == 19.68  # 4.80 od + 2.88 RI + 12 SP
    assert rows["2025-02|acct-a"]["amortized_cost"] == 11.52  # used 8.64 + unused 2.88
    assert rows[f"2025-02|{UNALLOCATED}"]["commitment_cost"] == 2.4


def test_savings_by_commitment_compare_each_commitment_with_what_it_covered(
        hand: Session) -> None:
    rows = _rows(savings(hand, ReportQuery(group_by=D.COMMITMENT, granularity=G.TOTAL,
                                           scope=SCOPE)))
    ri, sp, r5 = rows["total|ri-m5"], rows["total|sp"], rows["total|ri-r5"]
    assert (ri["on_demand_equivalent"], ri["commitment_cost"]) == (33.6, 23.04)
    assert (sp["on_demand_equivalent"], sp["commitment_cost"]) == (38.4, 24.0)
    assert (r5["on_demand_equivalent"], r5["commitment_cost"]) == (0.0, 4.8)
    assert sp["realised_savings"] == 14.4


def test_savings_by_tag_split_each_key_day_by_its_tag_shares(hand: Session) -> None:
    query = ReportQuery(group_by=D.TAG, granularity=G.TOTAL, scope=Scope(provider=PROVIDER,
                                                                         tag_key="team"))
    rows = _rows(savings(hand, query))
    # K1 (14.4 + 14.4 od) 2/3 web, 1/3 api; K2 (9.6) web; K3 (38.4) untagged.
    assert rows["total|web"]["on_demand_equivalent"] == pytest.approx(19.2 + 9.6)
    assert rows["total|api"]["on_demand_equivalent"] == 9.6
    assert rows[f"total|{UNTAGGED}"]["on_demand_equivalent"] == 38.4
    assert rows[f"total|{UNALLOCATED}"]["commitment_cost"] == 4.8
    # Every key-day of K1 pays 0.36 $/h used (+ 0.12 unused on Feb 1): 8.64 + 11.52.
    assert rows["total|api"]["amortized_cost"] == pytest.approx((8.64 + 11.52) / 3, abs=0.01)
    assert rows["total|api"]["esr_focus"] == pytest.approx(0.1)


def test_coverage_per_day(hand: Session) -> None:
    rows = _rows(coverage(hand, ReportQuery(granularity=G.DAY, scope=SCOPE)))
    assert rows["2025-01-31|all"]["coverage"] == pytest.approx(1.6 / 1.8)
    assert rows["2025-01-31|all"]["covered_on_demand"] == 38.4
    assert rows["2025-02-01|all"]["coverage"] == pytest.approx(1.0)
    per_key = _rows(coverage(hand, ReportQuery(granularity=G.TOTAL, group_by=D.USAGE_KEY,
                                               scope=SCOPE)))
    assert per_key[f"total|{K2}"]["coverage"] == pytest.approx(0.5)
    assert per_key[f"total|{K3}"]["coverage"] == pytest.approx(1.0)


def test_utilisation_and_waste_per_commitment(hand: Session) -> None:
    rows = _rows(utilisation(hand, ReportQuery(granularity=G.DAY, group_by=D.COMMITMENT,
                                               scope=SCOPE)))
    assert rows["2025-01-31|ri-m5"]["utilisation"] == pytest.approx(1.0)
    assert rows["2025-02-01|ri-m5"]["utilisation"] == pytest.approx(0.75)
    assert rows["2025-02-01|ri-m5"]["unused_cost"] == 2.88
    assert rows["2025-02-01|ri-r5"]["unallocated_cost"] == 2.4
    wasted = {r["commitment_id"]: r for r in waste(hand).records()}
    assert wasted["ri-m5"]["unused_cost"] == 2.88
    assert wasted["ri-r5"]["utilisation"] == 0.0
    assert "ri-c5-future" not in wasted


def test_chargeback_rows_add_up_to_the_bill_to_the_cent(hand: Session) -> None:
    report = chargeback(hand, ReportQuery(granularity=G.DAY, group_by=D.ACCOUNT, scope=SCOPE))
    frame = report.frame
    bills = {"2025-01-31": 3072, "2025-02-01": 2592}
    for period, cents in bills.items():
        assert cents_of(frame.loc[frame["period"] == period, "amortized_cost"]).sum() == cents
    rows = _rows(report)
    assert rows["2025-02-01|acct-a"]["commitment_unused_cost"] == 2.88
    assert rows["2025-01-31|acct-b"]["benefit"] == pytest.approx(28.8 - 19.68)


def test_commitment_showback_splits_each_commitment_by_the_benefit_received(
        hand: Session) -> None:
    report = commitment_showback(hand, ReportQuery(granularity=G.TOTAL, group_by=D.ACCOUNT,
                                                   scope=SCOPE))
    rows = {(r["commitment"], r["group"]): r for r in report.records()}
    # ri-m5: acct-a covered 12 units×48 h, acct-b 2 units×24 h; acct-a takes the unused part.
    assert rows[("ri-m5", "acct-a")]["commitment_cost"] == pytest.approx(17.28 + 2.88)
    assert rows[("ri-m5", "acct-b")]["commitment_cost"] == 2.88
    assert rows[("ri-r5", UNALLOCATED)]["commitment_cost"] == 4.8
    frame = report.frame
    assert cents_of(frame.loc[frame["commitment"] == "ri-m5", "commitment_cost"]).sum() == 2304


def test_amortized_and_cash_basis(hand: Session) -> None:
    rows = _rows(amortization(hand, ReportQuery(granularity=G.DAY, scope=SCOPE)))
    jan = rows["2025-01-31|all"]
    assert jan["amortized_cost"] == 30.72
    # Cash: 4.80 od + RIs' hourly fees 11.52 + 2.40, + the SP's hourly half ($0.25/h) 6.00.
    assert jan["cash_cost"] == 24.72
    assert jan["cash_minus_amortized"] == -6.0
    per = _rows(amortization(hand, ReportQuery(granularity=G.TOTAL, group_by=D.COMMITMENT,
                                               scope=SCOPE)))
    assert per["total|sp"]["recurring_paid"] == 12.0
    assert per["total|(on-demand)"]["on_demand_cost"] == 4.8


def test_payment_schedule_runs_until_every_commitment_ends(hand: Session) -> None:
    report = payment_schedule(hand, provider=PROVIDER)
    frame = report.frame
    future = frame[frame["commitment_id"] == "ri-c5-future"]
    assert future["period"].iloc[0] == "2025-03"
    assert future["upfront_due"].iloc[0] == 500.0
    assert future["period"].iloc[-1] == "2026-02"
    assert frame["period"].max() == "2026-02"
    feb = frame[(frame["period"] == "2025-02") & (frame["commitment_id"] == "ri-r5")]
    # From as_of (Feb 2) to the end on Feb 9: 7 days × 24 h × 2 units × $0.05.
    assert feb["recurring_due"].iloc[0] == 16.8


def test_calendar_shows_expirations_and_their_on_demand_exposure(hand: Session) -> None:
    rows = {r["commitment_id"]: r for r in expirations(hand, provider=PROVIDER).records()}
    assert rows["ri-m5"]["period"] == "2025-03"
    # ri-m5 covered $0.80 od/h on Jan 31 and $0.60/h on Feb 1: $0.70/h observed.
    assert rows["ri-m5"]["exposure_basis"] == "observed"
    assert rows["ri-m5"]["on_demand_exposure_monthly"] == 511.0
    assert rows["ri-m5"]["net_increase_monthly"] == pytest.approx(511.0 - 0.48 * 730)
    assert rows["ri-r5"]["on_demand_exposure_monthly"] == 0.0
    # Not in the data: 5 units of K3 at $0.08 at most.
    assert rows["ri-c5-future"]["exposure_basis"] == "capacity"
    assert rows["ri-c5-future"]["on_demand_exposure_hourly"] == pytest.approx(0.4)
    months = {r["period"]: r for r in commitment_calendar(hand, provider=PROVIDER).records()}
    assert months["2025-06"]["on_demand_exposure_monthly"] == pytest.approx(584.0)
    assert sorted(months) == ["2025-02", "2025-03", "2025-06", "2026-03"]
    later = expirations(hand, provider=PROVIDER, as_of=datetime(2025, 3, 1, tzinfo=UTC),
                        months=6).records()
    assert [r["commitment_id"] for r in later] == ["ri-m5", "sp"]


def test_budget_status_math(hand: Session) -> None:
    budget = create_budget(hand, BudgetSpec(name="all", amount=100.0, scope=SCOPE,
                                            thresholds=(0.2, 0.5)))
    status = budget_status(hand, budget.id)
    assert status is not None
    assert (status.period, status.as_of, status.days_remaining) == ("2025-02",
                                                                    date(2025, 2, 2), 27)
    assert status.actual == 25.92
    # Run-rate: mean of the days there are (30.72, 25.92) × 27 days left.
    assert status.forecast == pytest.approx(25.92 + 28.32 * 27, abs=0.005)
    assert status.variance == pytest.approx(status.forecast - 100.0, abs=0.005)
    assert [(t.reached, t.forecast_reached) for t in status.thresholds] == [(True, True),
                                                                           (False, True)]
    assert status.state == "forecast_over"
    closed = budget_status(hand, budget.id, as_of=date(2025, 2, 1))
    assert closed is not None
    assert (closed.period, closed.actual, closed.forecast, closed.state) == (
        "2025-01", 30.72, 30.72, "warning")


def test_budget_status_of_an_account_on_cash_and_amortized_bases(hand: Session) -> None:
    scope = Scope(provider=PROVIDER, account="acct-a")
    cash = create_budget(hand, BudgetSpec(name="a cash", amount=50.0, scope=scope,
                                          basis=BudgetBasis.CASH, period=BudgetPeriod.QUARTER))
    amortized = create_budget(hand, BudgetSpec(name="a amortized", amount=50.0, scope=scope,
                                               basis=BudgetBasis.AMORTIZED,
                                               period=BudgetPeriod.QUARTER))
    cash_status = budget_status(hand, cash, as_of=date(2025, 2, 2))
    amortized_status = budget_status(hand, amortized, as_of=date(2025, 2, 2))
    assert cash_status is not None and amortized_status is not None
    # Quarter Q1 from Jan 1: Jan 31 + Feb 1. ri-m5's fees follow acct-a's share (0.75, 1).
    assert amortized_status.actual == pytest.approx(8.64 + 11.52)
    assert cash_status.actual == pytest.approx(0.75 * 11.52 + 11.52)
    assert cash_status.period == "2025-Q1"


def test_budget_status_of_a_missing_budget_is_none(hand: Session) -> None:
    assert budget_status(hand, 999_999) is None


def test_reports_need_a_snapshot(session: Session) -> None:
    with pytest.raises(NotFound):
        savings(session, ReportQuery(scope=Scope(provider="nobody")))


@pytest.mark.parametrize("query", [
    {"granularity": "week"}, {"group_by": "team"}, {"start": "2025-13-01"},
    {"start": date(2025, 2, 1), "end": date(2025, 1, 1)}, {"group_by": "tag"},
])
def test_bad_parameters_raise_invalid_input(query: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        ReportQuery(**query)  # type: ignore[arg-type]


def test_reports_refuse_groupings_they_cannot_make(hand: Session) -> None:
    with pytest.raises(InvalidInput):
        coverage(hand, ReportQuery(group_by=D.COMMITMENT, scope=SCOPE))
    with pytest.raises(InvalidInput):
        utilisation(hand, ReportQuery(scope=Scope(provider=PROVIDER, account="acct-a")))
    with pytest.raises(InvalidInput):
        chargeback(hand, ReportQuery(group_by=D.NONE, scope=SCOPE))


def test_a_window_narrows_every_report(hand: Session) -> None:
    query = ReportQuery(start=date(2025, 2, 1), granularity=G.MONTH, scope=SCOPE)
    (row,) = savings(hand, query).records()
    assert (row["period"], row["period_start"], row["amortized_cost"]) == (
        "2025-02", "2025-02-01", 25.92)


def test_report_serialises_to_json_and_csv(hand: Session) -> None:
    report = savings(hand, ReportQuery(group_by=D.ACCOUNT, scope=SCOPE))
    body = report.to_dict()
    assert body["columns"][0] == "period"
    assert set(body["definitions"]) <= set(body["columns"])
    assert "esr_focus" in body["definitions"] and "esr_billing" in body["definitions"]
    assert body["totals"]["amortized_cost"] == pytest.approx(30.72 + 25.92)
    csv = report.to_csv().splitlines()
    assert csv[0].startswith("period,period_start,period_end,group")
    assert any(",8.64," in line for line in csv)


def test_without_cost_lines_focus_figures_are_unknown_not_zero(session: Session) -> None:
    store_hand_fixture(session, cost_lines=False)
    (row,) = savings(session, ReportQuery(granularity=G.TOTAL, scope=SCOPE)).records()
    assert row["amortized_cost"] == pytest.approx(30.72 + 25.92)
    assert (row["focus_billed_cost"], row["focus_contracted_cost"], row["esr_focus"]) == (
        None, None, None)
    tagged = savings(session, ReportQuery(group_by=D.TAG, granularity=G.TOTAL,
                                          scope=Scope(provider=PROVIDER, tag_key="team")))
    assert {r["group"] for r in tagged.records()} == {UNTAGGED, UNALLOCATED}
    assert {K1, K2, K3}
