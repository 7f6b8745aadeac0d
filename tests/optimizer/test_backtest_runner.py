"""The replay: scores worked by hand, the answer keys, terms, the menu, and no peeking."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from backtest_factories import C5, M5, Recorder, catalog, spend, trace, unit

from core.catalog import load_catalog
from core.domain import Catalog
from core.errors import InvalidInput, PolicyViolation
from optimizer.backtest.policies import (
    Decision,
    Lookback,
    NoCommitments,
    Replay,
    UsageHistory,
)
from optimizer.backtest.purchases import Portfolio, Purchase, read_purchase_log
from optimizer.backtest.runner import BacktestConfig, make_policy, run_backtest, score_purchases
from optimizer.backtest.trace import read_trace
from optimizer.ladder_policy import ForecastLadder

ANSWER_KEYS = Path(__file__).resolve().parents[1] / "data" / "answer-keys"
CASES = sorted(p.name for p in ANSWER_KEYS.iterdir() if p.is_dir())
FIELDS = ("on_demand_equivalent", "commitment_cost", "on_demand_cost", "total_cost", "savings",
          "esr", "coverage", "utilisation", "waste")


def test_hand_made_trace_scores_as_worked_out() -> None:
    """Two keys, an RI and a Savings Plan bought at hour 2, scored over hours 2-5.

    m5 costs $1, c5 $0.5 per unit-hour. ``ri`` (unit, m5 only, $0.6/h, 4 h) x 3;
    ``sp`` (spend, $1/h, 4 h; m5 at $0.8, c5 at $0.3) x 1. Discounts: c5 40 %,
    m5 20 %, so the plan covers c5 first.

    ====  ==  ==  ==========  ==================================  ==========
    hour  m5  c5  RI (3)      SP ($1)                             on-demand
    ====  ==  ==  ==========  ==================================  ==========
    2     4   2   3 of m5     c5 2 ($0.6), m5 0.5 ($0.4)          m5 0.5 = $0.5
    3     2   2   2 (1 idle)  c5 2 ($0.6), $0.4 idle              0
    4     5   2   3           c5 2 ($0.6), m5 0.5 ($0.4)          m5 1.5 = $1.5
    5     0   2   0 (3 idle)  c5 2 ($0.6), $0.4 idle              0
    ====  ==  ==  ==========  ==================================  ==========

    (Hours 0-1 are the warm-up: m5 5, c5 2, on-demand, not scored.)
    on-demand equivalent = (4 + 2 + 5 + 0) x 1 + 8 x 0.5 = 15;
    commitments = 3 x 0.6 x 4 + 1 x 4 = 11.2; on-demand = 2.0; total 13.2;
    ESR = 1 - 13.2 / 15 = 0.12; coverage = (15 - 2) / 15;
    used = RI 8 units x 0.6 = 4.8 + SP 3.2 = 8.0, utilisation 8 / 11.2, waste 3.2.
    """
    prices = catalog([unit("ri", {M5: 1.0}, hourly=0.6),
                      spend("sp", {M5: 0.8, C5: 0.3})], {M5: 1.0, C5: 0.5})
    usage = trace([[5, 2], [5, 2], [4, 2], [2, 2], [5, 2], [0, 2]], keys=(M5, C5))
    policy = Replay([Purchase(2, "ri", 3.0), Purchase(2, "sp", 1.0)])

    result = run_backtest(usage, prices, policy, BacktestConfig(cadence_hours=1, warmup_hours=2))
    score = result.score

    assert (score.hours, score.decisions, score.n_purchases) == (4, 1, 2)
    assert score.on_demand_equivalent == pytest.approx(15.0)
    assert score.commitment_cost == pytest.approx(11.2)
    assert score.on_demand_cost == pytest.approx(2.0)
    assert score.total_cost == pytest.approx(13.2)
    assert score.esr == pytest.approx(0.12)
    assert score.coverage == pytest.approx(13 / 15)
    assert score.utilisation == pytest.approx(8.0 / 11.2)
    assert score.waste == pytest.approx(3.2)
    by_offering = {o.offering_id: o for o in score.by_offering}
    assert by_offering["ri"].used_cost == pytest.approx(4.8)
    assert by_offering["ri"].covered_on_demand == pytest.approx(8.0)  # 3 + 2 + 3 + 0 of m5
    assert by_offering["sp"].covered_on_demand == pytest.approx(5.0)  # 1.5 + 1 + 1.5 + 1


@pytest.mark.parametrize("case", CASES)
def test_answer_keys_are_reproduced_from_their_purchase_log(case: str) -> None:
    folder = ANSWER_KEYS / case
    prices = load_catalog(folder / "catalog.json")
    usage = read_trace(folder / "trace.csv").for_catalog(prices)
    expected = json.loads((folder / "expected.json").read_text())
    purchases = read_purchase_log(folder / "purchases.json", trace=usage, catalog=prices)

    score, _ = score_purchases(usage, prices, purchases, warmup_hours=expected["warmup_hours"])

    assert score.hours == expected["hours"]
    for field in FIELDS:
        assert getattr(score, field) == pytest.approx(expected[field], abs=1e-9), field
    got = {o.offering_id: o for o in score.by_offering}
    for row in expected["by_offering"]:
        for field in ("commitment_cost", "used_cost", "covered_on_demand"):
            assert getattr(got[row["offering_id"]], field) == pytest.approx(row[field], abs=1e-9)


@pytest.mark.parametrize("case", [c for c in CASES if "warmup" not in c])
def test_answer_keys_are_reproduced_by_replaying_through_the_runner(case: str) -> None:
    """The keys bought at hour 0 with no warm-up: a replay policy decides every hour."""
    folder = ANSWER_KEYS / case
    prices = load_catalog(folder / "catalog.json")
    usage = read_trace(folder / "trace.csv")
    expected = json.loads((folder / "expected.json").read_text())
    purchases = read_purchase_log(folder / "purchases.json", trace=usage.for_catalog(prices),
                                  catalog=prices)

    result = run_backtest(usage, prices, Replay(purchases),
                          BacktestConfig(cadence_hours=1, warmup_hours=0))

    assert result.purchases == tuple(purchases)
    for field in FIELDS:
        assert getattr(result.score, field) == pytest.approx(expected[field], abs=1e-9), field


def test_a_purchase_is_active_exactly_for_its_term() -> None:
    """5 units of a 3-hour RI bought at hour 2 cover hours 2, 3 and 4: not 1, not 5."""
    prices = catalog([unit("ri", {M5: 1.0}, term_hours=3)])
    usage = trace([10.0] * 8)
    result = run_backtest(usage, prices, Replay([Purchase(2, "ri", 5.0)]),
                          BacktestConfig(cadence_hours=1, warmup_hours=1))

    covered = result.billing.covered_units[:, 0]
    np.testing.assert_array_equal(covered, [0, 0, 5, 5, 5, 0, 0, 0])
    np.testing.assert_array_equal(result.billing.quantity[:, 0], [0, 0, 5, 5, 5, 0, 0, 0])
    assert result.score.commitment_cost == pytest.approx(5 * 0.6 * 3)


def test_the_portfolio_reports_what_is_active_at_each_hour() -> None:
    prices = catalog([unit("ri", {M5: 1.0}, term_hours=3)])
    owned = Portfolio().with_purchases([Purchase(2, "ri", 5.0), Purchase(3, "ri", 1.0)], prices)
    assert [owned.active_at(h).get("ri", 0.0) for h in range(7)] == [0, 0, 5, 6, 6, 1, 0]


def test_decisions_run_at_the_cadence_while_a_term_fits() -> None:
    """Trace 12 h, warm-up 3, cadence 2: decisions at 3, 5, 7, 9 (9 + 3 <= 12), not 11.

    The 6-hour offering is on the menu only while d + 6 <= 12, i.e. at 3 and 5.
    """
    prices = catalog([unit("ri-3h", {M5: 1.0}, term_hours=3),
                      unit("ri-6h", {M5: 1.0}, term_hours=6)])
    recorder = Recorder()
    run_backtest(trace([1.0] * 12), prices, recorder,
                 BacktestConfig(cadence_hours=2, warmup_hours=3))
    assert [(h, seen, menu) for h, seen, menu, _ in recorder.seen] == [
        (3, 3, ("ri-3h", "ri-6h")), (5, 5, ("ri-3h", "ri-6h")), (7, 7, ("ri-3h",)),
        (9, 9, ("ri-3h",)),
    ]


def test_a_policy_sees_what_it_owns() -> None:
    prices = catalog([unit("ri", {M5: 1.0}, term_hours=3)])
    recorder = Recorder({2: [("ri", 4.0)]})
    run_backtest(trace([1.0] * 9), prices, recorder, BacktestConfig(cadence_hours=2,
                                                                     warmup_hours=2))
    assert [owned for *_, owned in recorder.seen] == [{}, {"ri": 4.0}, {}]


def test_buying_an_offering_off_the_menu_is_refused() -> None:
    prices = catalog([unit("ri", {M5: 1.0}, term_hours=3),
                      unit("ri-5h", {M5: 1.0}, term_hours=5)])
    with pytest.raises(PolicyViolation, match="not on the menu"):
        run_backtest(trace([1.0] * 6), prices, Recorder({2: [("ri-5h", 1.0)]}),
                     BacktestConfig(cadence_hours=1, warmup_hours=1))  # 2 + 5 > 6
    with pytest.raises(PolicyViolation, match="need a finite number >= 0"):
        run_backtest(trace([1.0] * 6), prices, Recorder({1: [("ri", float("nan"))]}),
                     BacktestConfig(cadence_hours=1, warmup_hours=1))


class Peeker:
    """Fails the test if anything at or after the decision hour is reachable from the history.

    The trace's usage at hour ``h`` is ``1000 + h``, so any value >= 1000 + d seen at
    decision ``d`` comes from the future.
    """

    name = "peeker"

    def __init__(self) -> None:
        self.decisions = 0

    def decide(self, history: UsageHistory, owned: Portfolio, hour: int,
               catalog: Catalog) -> Decision:
        """Look everywhere the history leads, and try to write to it."""
        assert history.hours == hour and history.units.shape == (hour, 1)
        assert history.now == history.start + timedelta(hours=hour)
        assert np.all(history.units < 1000 + hour)
        assert history.units.base is None or np.all(np.asarray(history.units.base) < 1000 + hour)
        assert not history.units.flags.writeable
        with pytest.raises(ValueError):
            history.units[...] = 0.0
        self.decisions += 1
        return []


def test_a_policy_never_sees_the_decision_hour_or_after() -> None:
    prices = catalog([unit("ri", {M5: 1.0}, term_hours=2)])
    peeker = Peeker()
    run_backtest(trace(1000.0 + np.arange(12)), prices, peeker,
                 BacktestConfig(cadence_hours=1, warmup_hours=1))
    assert peeker.decisions == 10  # hours 1..10 (d + 2 <= 12)


def test_the_peeking_check_would_catch_a_view_of_the_trace() -> None:
    """The check above is not vacuous: a history that is a view of the trace fails it."""
    units = (1000.0 + np.arange(12, dtype=np.float64))[:, None]
    leaky = UsageHistory(start=trace([0.0]).start, key_ids=(M5,), units=units[:5])
    assert leaky.units.base is not None and np.any(leaky.units.base >= 1005)
    honest = UsageHistory.before(units, 5, start=trace([0.0]).start, key_ids=(M5,))
    assert honest.units.base is None


def test_no_commitments_scores_zero() -> None:
    result = run_backtest(trace([4.0, 5.0, 6.0, 7.0]), catalog([unit("ri", {M5: 1.0},
                                                                     term_hours=2)]),
                          NoCommitments(), BacktestConfig(cadence_hours=1, warmup_hours=1))
    assert (result.score.esr, result.score.n_purchases) == (0.0, 0)
    assert result.score.total_cost == pytest.approx(18.0)


def test_lookback_buys_the_level_of_the_last_hours_and_rebuys_after_expiry() -> None:
    """Usage 10 every hour; an RI at $0.6 (on-demand $1), term 4; trace 12 h, warm-up 4.

    Decisions at 4 and 8. At 4 the last 4 hours were at 10 and nothing is owned: buy
    10. At 8 the first purchase has just expired: buy 10 again. Every scored hour
    is covered: cost 8 h x 10 x 0.6 = 48 of an on-demand 80, ESR 0.4.
    """
    prices = catalog([unit("ri", {M5: 1.0}, hourly=0.6, term_hours=4)])
    result = run_backtest(trace([10.0] * 12), prices, Lookback(4),
                          BacktestConfig(cadence_hours=4, warmup_hours=4))
    assert [(p.hour, p.offering_id) for p in result.purchases] == [(4, "ri"), (8, "ri")]
    assert [p.quantity for p in result.purchases] == pytest.approx([10.0, 10.0])
    assert result.score.esr == pytest.approx(0.4)


def test_lookback_counts_what_is_active_now() -> None:
    """With 6 of a 6-hour RI bought at 2, the lookback at 4 only tops up to 10."""
    prices = catalog([unit("ri", {M5: 1.0}, hourly=0.6, term_hours=6)])
    owned = Portfolio().with_purchases([Purchase(2, "ri", 6.0)], prices)
    history = UsageHistory.before(np.full((12, 1), 10.0), 4, start=trace([0.0]).start,
                                  key_ids=(M5,))
    decision = Lookback(4).decide(history, owned, 4, prices)
    assert decision == [("ri", pytest.approx(4.0))]


def test_the_ladder_policy_is_the_forecast_ladder_on_the_scenarios_given() -> None:
    """``ladder`` needs a scenario source (the optimizer does not import forecasting)."""
    usage = trace([10.0] * 48)
    prices = catalog([unit("ri", {M5: 1.0}, hourly=0.6, term_hours=24)])
    with pytest.raises(InvalidInput, match="needs a scenario source"):
        make_policy("ladder", usage, prices)

    def source(history: np.ndarray, key_ids: tuple[str, ...], start: datetime, horizon: int,
               n: int, seed: int) -> np.ndarray:
        return np.full((n, horizon, len(key_ids)), 7.0)

    policy = make_policy("ladder", usage, prices, scenarios=source)
    assert isinstance(policy, ForecastLadder) and policy.scenarios is source
    history = UsageHistory.before(np.full((24, 1), 10.0), 24, start=usage.start, key_ids=(M5,))
    # Scenarios flat at 7 (not the history's 10): the ladder commits to what they say.
    assert policy.decide(history, Portfolio(), 24, prices) == [("ri", pytest.approx(7.0))]
