"""The dense path (``reporting.dense``) against the frame-by-frame path, on random queries.

Savings, coverage and chargeback over a new window are computed from the
snapshot's (day × key) cubes as matrices; the frame path (``key_rows`` →
``summed`` → ``finish``, itself checked against independent pandas in
``test_report_sample`` and by hand in ``test_report_hand``) is the reference.
The two must give the same frame to the bit — same rows, same cents, same
ratios — for random windows, period lengths, groupings and scopes, on data with
idle commitments (unallocated cost), keys without usage some days, key-days
without FOCUS lines and a window starting mid-day. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.orm import Session

from core.db.repository import add_dataset, replace_inventory, upsert_catalog
from core.domain import HOUR, Catalog, Commitment, KeyPrice, Offering, Shape
from reporting import Dimension, Granularity, Report, ReportQuery, Scope, dense
from reporting.budgets import BudgetBasis, _daily_cost_frames, daily_cost
from reporting.chargeback import chargeback_report, dense_chargeback
from reporting.money import group_cents, matrix_cents
from reporting.repository import add_cost_lines
from reporting.savings import dense_savings, savings, savings_report
from reporting.snapshot import ReportData, load_report_data, refresh_facts
from reporting.utilisation import coverage, coverage_report, dense_coverage

START = datetime(2025, 1, 20, 5, tzinfo=UTC)
HOURS = 24 * 75 + 7
PROVIDERS = ("densea", "denseb")
TEAMS = ("web", "api", "data")
TERM = 8760


def _keys(provider: str) -> list[str]:
    return [f"{provider}/acct-{i % 3}/{('ec2', 'rds')[i % 2]}/"
            f"{('us-east-1', 'eu-west-1')[i // 5]}/fam{i % 4}/linux/shared" for i in range(9)]


def _store(session: Session, provider: str, seed: int) -> None:
    """Nine keys over 75 days from 05:00, four RIs (one idle, one ending), a Savings Plan."""
    rng = np.random.default_rng(seed)
    keys = _keys(provider)
    rates = dict(zip(keys, rng.uniform(0.05, 0.3, len(keys)).round(4).tolist(), strict=True))
    hours = pd.date_range(START, periods=HOURS, freq="h", tz="UTC", unit="us")
    units = rng.lognormal(1.5, 0.6, size=(HOURS, len(keys)))
    units[24 * 20:24 * 31, 3] = 0.0  # key 3 off for 11 days: its RI idles, unallocated
    weekend = np.asarray((hours.dayofweek >= 5) & (hours.hour < 12))
    units[weekend, 5] = 0.0
    units[:, 7] = 0.0  # key 7 never runs
    usage = pd.DataFrame({
        "hour": np.repeat(hours, len(keys)), "usage_key": np.tile(keys, HOURS),
        "units": units.ravel(),
        "on_demand_cost": (units * np.array([rates[k] for k in keys])[None, :]).ravel()})
    parts = [k.split("/") for k in keys]
    frame = pd.DataFrame(parts, columns=["provider", "scope", "service", "region", "family",
                                         "platform", "tenancy"])
    frame.insert(0, "usage_key", keys)
    frame["on_demand_rate"] = [rates[k] for k in keys]
    frame["provider"] = provider
    dataset = add_dataset(session, provider=provider, sources=["dense"], sha256=provider * 8,
                          currency="USD", start=START, end=START + HOURS * HOUR,
                          rows_read=len(usage), rows_used=len(usage), keys=frame,
                          hourly=usage)
    idle_key = f"{provider}/acct-0/ec2/us-east-1/idle/linux/shared"
    offerings = [
        Offering(f"{provider}-ri-fam{f}", Shape.UNIT, TERM, upfront=0.0,
                 hourly=0.6 * max(rates[k] for k in keys if f"/fam{f}/" in k), order=f,
                 covers={k: 1.0 for k in keys if f"/fam{f}/" in k}, kind="standard_ri")
        for f in range(3)
    ]
    offerings.append(Offering(f"{provider}-ri-idle", Shape.UNIT, TERM, upfront=0.0,
                              hourly=0.04, order=9, covers={idle_key: 1.0},
                              kind="standard_ri"))
    offerings.append(Offering.spend(f"{provider}-sp", term_hours=TERM, upfront_fraction=0.5,
                                    rates={k: 0.7 * r for k, r in rates.items()}, order=100,
                                    kind="compute_sp"))
    upsert_catalog(session, provider, Catalog(
        keys=tuple(KeyPrice(k, r) for k, r in rates.items()), offerings=tuple(offerings),
        currency="USD"))
    replace_inventory(session, provider, [
        Commitment(offerings[0], 6.0, START + timedelta(days=40) - TERM * HOUR, f"{provider}-0"),
        Commitment(offerings[1], 4.0, START - timedelta(days=5), f"{provider}-1"),
        Commitment(offerings[2], 9.0, START + timedelta(days=3), f"{provider}-2"),
        Commitment(offerings[3], 2.0, START - timedelta(days=1), f"{provider}-idle"),
        Commitment(offerings[4], 0.8, START + timedelta(days=10), f"{provider}-sp"),
    ])
    daily = usage.assign(day=usage["hour"].dt.floor("D").dt.date).groupby(
        ["day", "usage_key"], as_index=False)[["units", "on_demand_cost"]].sum()
    daily = daily[(daily["units"] > 0) & (rng.random(len(daily)) > 0.1)]
    lines = []
    for day, key, units_, cost in daily.itertuples(index=False, name=None):
        split = rng.random() < 0.5
        for share, tags in ((0.6, {"team": TEAMS[int(rng.integers(3))], "env": "prod"}),
                            (0.4, {"env": "test"})) if split else ((1.0, {
                                "team": TEAMS[int(rng.integers(3))]}),):
            contracted = np.nan if rng.random() < 0.05 else cost * share
            lines.append({"day": day, "usage_key": key, "tags": json.dumps(tags),
                          "commitment_discount_id": None, "units": units_ * share,
                          "list_cost": cost * share, "billed_cost": cost * share,
                          "contracted_cost": contracted, "effective_cost": cost * share * 0.8})
    add_cost_lines(session, dataset.id, pd.DataFrame(lines), provider=provider)
    refresh_facts(session, provider)


@pytest.fixture
def stored(session: Session) -> Session:
    """Two providers of random usage, commitments and tagged FOCUS lines, facts refreshed."""
    for seed, provider in enumerate(PROVIDERS):
        _store(session, provider, seed)
    return session


def _random_query(rng: np.random.Generator, groups: tuple[Dimension, ...], *,
                  tags: bool) -> ReportQuery:
    first = START.date()
    start = first + timedelta(days=int(rng.integers(-5, 70)))
    end = start + timedelta(days=int(rng.integers(1, 90)))
    provider = rng.choice([None, *PROVIDERS])
    keys = _keys(str(provider or PROVIDERS[0]))
    narrow = rng.random()
    scope = Scope(
        provider=provider,
        account=f"acct-{rng.integers(3)}" if narrow < 0.2 else None,
        service=str(rng.choice(["ec2", "rds"])) if 0.2 <= narrow < 0.3 else None,
        usage_key=str(rng.choice(keys)) if 0.3 <= narrow < 0.35 else None,
        tag_key="team" if tags and narrow > 0.75 else None,
        tag_value=str(rng.choice(TEAMS)) if tags and narrow > 0.9 else None,
    )
    group = groups[int(rng.integers(len(groups)))]
    if group is Dimension.TAG and scope.tag_key is None:
        scope = Scope(provider=scope.provider, account=scope.account, tag_key="team")
    return ReportQuery(start=start if rng.random() > 0.1 else None,
                       end=end if rng.random() > 0.1 else None,
                       granularity=rng.choice(list(Granularity)), group_by=group, scope=scope)


def _data(session: Session, query: ReportQuery) -> ReportData:
    return load_report_data(session, query.scope.provider)


def assert_same_report(fast: Report | None, reference: Report) -> None:
    """The same frame to the bit (rows, cents, ratios, types), columns and provenance."""
    if fast is None:
        assert reference.frame.empty
        return
    assert len(fast.frame) > 0
    pd.testing.assert_frame_equal(fast.frame, reference.frame, check_exact=True)
    assert (fast.name, fast.columns, fast.money, fast.notes, fast.currency) == (
        reference.name, reference.columns, reference.money, reference.notes,
        reference.currency)
    assert dict(fast.parameters) == dict(reference.parameters)
    assert fast.sources == reference.sources


KEY_GROUPS = (Dimension.NONE, Dimension.PROVIDER, Dimension.ACCOUNT, Dimension.SERVICE,
              Dimension.REGION, Dimension.USAGE_KEY)


def test_dense_savings_equal_the_frame_path_on_random_queries(stored: Session) -> None:
    rng = np.random.default_rng(11)
    unallocated = 0
    for _ in range(60):
        query = _random_query(rng, KEY_GROUPS, tags=False)
        data = _data(stored, query)
        reference = savings_report(data, stored, query)
        assert_same_report(dense_savings(data, stored, query), reference)
        unallocated += int(reference.frame["group"].eq("(unallocated)").sum())
    assert unallocated > 0  # the idle commitments were in some windows


def test_dense_coverage_equals_the_frame_path_on_random_queries(stored: Session) -> None:
    rng = np.random.default_rng(12)
    for _ in range(60):
        query = _random_query(rng, (*KEY_GROUPS, Dimension.TAG), tags=True)
        data = _data(stored, query)
        assert_same_report(dense_coverage(data, stored, query),
                           coverage_report(data, stored, query))


def test_dense_chargeback_equals_the_frame_path_on_random_queries(stored: Session) -> None:
    rng = np.random.default_rng(13)
    for _ in range(40):
        query = _random_query(rng, (*KEY_GROUPS[1:], Dimension.TAG), tags=True)
        data = _data(stored, query)
        assert_same_report(dense_chargeback(data, stored, query),
                           chargeback_report(data, stored, query))


def test_reports_answer_what_the_frame_path_does_whichever_path_they_take(
        stored: Session) -> None:
    rng = np.random.default_rng(14)
    for _ in range(20):
        query = _random_query(rng, (*KEY_GROUPS, Dimension.TAG), tags=True)
        data = _data(stored, query)
        assert_same_report(savings(stored, query), savings_report(data, stored, query))
        assert_same_report(coverage(stored, query), coverage_report(data, stored, query))


def test_budget_daily_cost_equals_the_frame_path_on_random_scopes(stored: Session) -> None:
    rng = np.random.default_rng(15)
    first = START.date()
    for _ in range(40):
        provider = rng.choice([None, *PROVIDERS])
        kind = rng.integers(3)
        scope = Scope(provider=provider,
                      account=f"acct-{rng.integers(3)}" if kind == 1 else None,
                      tag_key="team" if kind == 2 else None,
                      tag_value=str(rng.choice(TEAMS)) if kind == 2 else None)
        start = first + timedelta(days=int(rng.integers(-3, 60)))
        end = start + timedelta(days=int(rng.integers(1, 60)))
        data = load_report_data(stored, scope.provider)
        fast = daily_cost(data, stored, scope, BudgetBasis.AMORTIZED, start, end)
        reference = _daily_cost_frames(data, stored, ReportQuery(
            start=start, end=end, granularity=Granularity.DAY, scope=scope), BudgetBasis.AMORTIZED,
            start, end)
        pd.testing.assert_series_equal(fast, reference, check_exact=True)
        assert len(fast) == (end - start).days


def test_dense_cells_sum_the_unallocated_cost_into_its_group(stored: Session) -> None:
    """The idle RIs' cost lands in ``(unallocated)`` by day, as the commitment-days say."""
    query = ReportQuery(start=date(2025, 2, 1), end=date(2025, 2, 20),
                        granularity=Granularity.DAY, group_by=Dimension.ACCOUNT,
                        scope=Scope(provider=PROVIDERS[0]))
    data = _data(stored, query)
    periods, groups, costs = dense.unallocated_cells(data, query)
    days = data.commitment_days
    expected = days[(days["provider"] == PROVIDERS[0])
                    & (days["day"] >= np.datetime64("2025-02-01"))
                    & (days["day"] < np.datetime64("2025-02-20"))]
    assert costs.sum() == pytest.approx(expected["unallocated_cost"].sum(), rel=1e-12)
    assert set(groups) == {"(unallocated)"} and len(set(periods.tolist())) == 19


def test_matrix_cents_equal_group_cents_per_row() -> None:
    rng = np.random.default_rng(16)
    for case in range(4000):
        shape = (int(rng.integers(1, 8)), int(rng.integers(1, 12)))
        if case % 4 == 0:
            values = rng.random(shape) * 100
        elif case % 4 == 1:
            values = np.round(rng.random(shape) * 100, 3)
        elif case % 4 == 2:  # ties and half cents
            values = rng.choice([0.005, 0.015, 0.125, 1.0049999, 0.0, -0.005, 2.675], shape)
        else:
            values = (rng.random(shape) - 0.3) * 1e4
        rows = rng.random(shape) < 0.7
        codes = np.broadcast_to(np.arange(shape[0])[:, None], shape)[rows]
        expected = np.zeros(shape, dtype=np.int64)
        expected[rows] = group_cents(values[rows], codes)
        np.testing.assert_array_equal(matrix_cents(values, rows), expected)
