"""Self-calibration per scope (issue 17, part 3): no look-ahead, the fallback, the choice."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest

from core.domain import Commitment
from core.errors import SolverError
from optimizer import ladder_policy
from optimizer.backtest.policies import UsageHistory
from optimizer.backtest.purchases import Holding, Portfolio
from optimizer.backtest.runner import BacktestConfig, make_policy, run_backtest
from optimizer.calibration import (
    CalibratedLadder,
    Calibration,
    GridPoint,
    PointScore,
    calibrate,
    choose,
    holdings_before,
    portfolio_from,
    replay_decisions,
)
from optimizer.ladder_policy import ForecastLadder, ScenarioSource, replay_scenarios
from optimizer.risk_settings import RiskSettings
from tests.optimizer.backtest_factories import M5, catalog, trace, unit

START = datetime(2024, 1, 1)
RI = unit("ri", {M5: 1.0}, hourly=0.6, term_hours=504)
PRICES = catalog([RI])
NOTHING = GridPoint("nothing", (("allowed_terms", (1,)),))
"""A point that may buy nothing (no offering has a 1-hour term): ESR 0, utilisation 1."""


def last_days(history: np.ndarray, key_ids: tuple[str, ...], start: datetime, horizon: int,
              n: int, seed: int) -> np.ndarray:
    """A deterministic stand-in forecaster: the last two days replayed."""
    return replay_scenarios(history, horizon, n)


def _ladder(source: ScenarioSource = last_days, **policy: object) -> ForecastLadder:
    settings = replace(RiskSettings(cvar_weight=0.0, tranche_fraction=0.5),
                       calibration_days=5, **policy)  # type: ignore[arg-type]
    return ForecastLadder(scenarios=source, policy=settings, n_scenarios=2,
                          max_horizon_hours=48)


def _history(units: np.ndarray) -> UsageHistory:
    return UsageHistory.before(units.reshape(-1, 1), units.shape[0], start=START,
                               key_ids=(M5,))


def test_replay_decisions_are_the_last_days_at_the_cadence_after_a_week() -> None:
    """300 h seen, 7 days asked: (300 − 168) // 24 = 5 decisions fit, at 180 … 276."""
    assert replay_decisions(300, days=7, cadence_hours=24) == (180, 204, 228, 252, 276)
    assert replay_decisions(600, days=7, cadence_hours=24)[0] == 600 - 168
    assert replay_decisions(600, days=2, cadence_hours=12) == tuple(range(552, 600, 12))
    assert replay_decisions(170, days=7, cadence_hours=24) == ()


def test_short_history_keeps_the_current_settings_and_replays_nothing() -> None:
    """200 h seen: one replay decision after the week's warm-up, fewer than the three a
    ranking needs; the scenario source is never called."""
    calls: list[int] = []

    def counting(history: np.ndarray, key_ids: tuple[str, ...], start: datetime,
                 horizon: int, n: int, seed: int) -> np.ndarray:
        calls.append(history.shape[0])
        return last_days(history, key_ids, start, horizon, n, seed)

    ladder = _ladder(counting)
    result = calibrate(_history(np.full(200, 10.0)), PRICES, ladder)
    assert not result.calibrated and result.chosen == "current"
    assert result.policy == ladder.policy
    assert "200 h is shorter than the 240 h" in result.reason
    assert result.points == () and calls == []
    assert result.to_details()["calibrated"] is False


def test_a_replay_whose_solver_fails_keeps_the_current_settings_and_the_decision_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A HiGHS time-out in the replay's first solve: the calibration falls back with the
    reason, as a short history does, and the decision itself is still made (10 units seen,
    the safe core bought)."""
    real = ladder_policy.optimize
    calls: list[int] = []

    def timing_out(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise SolverError("HiGHS did not prove an optimum for 'stochastic': Time limit "
                              "reached (time limit 1 s)")
        return real(*args, **kwargs)

    monkeypatch.setattr(ladder_policy, "optimize", timing_out)
    ladder = CalibratedLadder(_ladder())
    decision = ladder.decide(_history(np.full(288, 10.0)), Portfolio(), 288, PRICES)
    (calibration,) = ladder.calibrations_
    assert not calibration.calibrated and calibration.chosen == "current"
    assert calibration.policy == ladder.ladder.policy and calibration.points == ()
    assert "the replay of 'current' failed" in calibration.reason
    assert "time limit 1 s" in calibration.reason
    assert calibration.reason.endswith("the current settings are kept")
    # After the failed replay solve, the decision's own two: the LP and its safe core.
    assert len(calls) == 3 and decision == [("ri", pytest.approx(10.0))]


def test_the_choice_is_the_best_esr_above_the_utilisation_floor() -> None:
    """By hand: the current settings must be beaten by the margin; a point under the floor
    is not chosen whatever its ESR; with none above it, the most utilised."""
    def point(label: str, esr: float, utilisation: float) -> PointScore:
        return PointScore(label, {}, esr, utilisation, 0.5, 0.0, 1.0, 1)

    points = [point("current", 0.30, 0.97), point("ramp", 0.40, 0.90),
              point("bold", 0.35, 0.96), point("hazard", 0.301, 0.99)]
    assert choose(points, 0.95)[0] == 2  # bold: ramp is under the floor, hazard a tie
    assert choose(points, 0.85)[0] == 1  # with a lower floor ramp's ESR wins
    assert choose(points[:1] + points[3:], 0.95)[0] == 0  # +0.1 point < the margin
    index, reason = choose(points, 0.995)
    assert index == 3 and "most utilised" in reason


def test_a_hand_computed_replay_picks_the_setting_that_met_the_floor() -> None:
    """One key at 10 units for the week before the replay and its first day, then 8.

    History 288 h: five replay decisions at 168, 192, …, 264 (window [168, 288), 120 h).
    At 168 the planner has seen only 10s: every scenario is 10, the safe core is the whole
    10 units, bought at $0.60 (on-demand $1). Later decisions own 10 ≥ usage: nothing.
    Billed over the window: used 24·10 + 96·8 = 1,008 unit-hours of the 1,200 paid,
    utilisation 0.84; ESR (1,008 − 720) / 1,008 = 0.2857. The point that buys nothing has
    ESR 0 and utilisation 1. Floor 0.95: nothing; floor 0.8: the ladder.
    """
    units = np.r_[np.full(192, 10.0), np.full(96, 8.0)]
    grid = (GridPoint("current"), NOTHING)
    strict = calibrate(_history(units), PRICES, _ladder(), grid=grid)
    assert strict.calibrated and strict.decisions == 5 and strict.replay_hours == 120
    current, nothing = strict.points
    assert current.utilisation == pytest.approx(1008 / 1200)
    assert current.esr == pytest.approx((1008 - 720) / 1008)
    assert current.purchases == 1
    assert (nothing.esr, nothing.utilisation, nothing.purchases) == (0.0, 1.0, 0)
    assert strict.chosen == "nothing" and strict.policy.allowed_terms == (1,)
    assert strict.policy.calibration_days == 5  # the chosen settings keep calibrating

    loose = calibrate(_history(units), PRICES, _ladder(calibration_floor=0.8), grid=grid)
    assert loose.chosen == "current"
    assert loose.points[0].esr == pytest.approx(current.esr)
    details = loose.to_details()
    assert details["days_replayed"] == 5 and details["utilisation_floor"] == 0.8
    assert [p["label"] for p in details["points"]] == ["current", "nothing"]


def test_the_replay_starts_from_what_was_owned_before_its_window() -> None:
    """Owned 10 units from hour 0 (term 504): the replay needs to buy nothing and bills them;
    a commitment bought inside the window is the real run's, which the replay replaces."""
    owned = Portfolio((Holding(RI, 10.0, 0), Holding(RI, 3.0, 200)))
    assert holdings_before(owned, 168).holdings == (Holding(RI, 10.0, 0),)
    result = calibrate(_history(np.full(288, 10.0)), PRICES, _ladder(), owned=owned,
                       grid=(GridPoint("current"),))
    (point,) = result.points
    assert point.purchases == 0
    assert point.esr == pytest.approx(0.4) and point.utilisation == pytest.approx(1.0)


def test_a_live_inventory_becomes_the_holdings_owned_when_the_replay_starts() -> None:
    """Hours from the history's start; a commitment given up before the replay's start is
    left out, one still held then is kept."""
    held = Commitment(RI, 4.0, START + timedelta(hours=30, minutes=20))
    returned = Commitment(RI, 2.0, START, ended_at=START + timedelta(hours=100))
    everything = portfolio_from([held, returned], START)
    assert [(h.start, h.quantity) for h in everything.holdings] == [(0, 2.0), (30, 4.0)]
    at_replay = portfolio_from([held, returned], START, active_at=START + timedelta(hours=168))
    assert at_replay.holdings == (Holding(RI, 4.0, 30),)


def _two_futures(t: int) -> tuple[np.ndarray, np.ndarray]:
    """Two traces of one key that agree before hour ``t`` and differ arbitrarily after it."""
    rng = np.random.default_rng(5)
    past = 10 + 3 * np.sin(np.arange(t) * 2 * np.pi / 24) + rng.uniform(0, 2, t)
    return (np.r_[past, rng.uniform(0, 30, 150)], np.r_[past, np.zeros(150)])


def _calibrations(units: np.ndarray, seen: list[int]) -> list[Calibration]:
    def spying(history: np.ndarray, key_ids: tuple[str, ...], start: datetime,
               horizon: int, n: int, seed: int) -> np.ndarray:
        seen.append(history.shape[0])
        # Every history the replay hands the forecaster is a prefix of the trace.
        assert np.array_equal(history, units[:history.shape[0]].reshape(-1, 1))
        return last_days(history, key_ids, start, horizon, n, seed)

    prices = catalog([unit("ri", {M5: 1.0}, hourly=0.6, term_hours=96)])
    config = BacktestConfig(cadence_hours=24, warmup_hours=168,
                            ladder_policy=replace(_ladder().policy, calibration_days=3))
    policy = make_policy("ladder", trace(units.reshape(-1, 1)), prices, config,
                         scenarios=spying)
    assert isinstance(policy, CalibratedLadder)
    run_backtest(trace(units.reshape(-1, 1)), prices, policy, config)
    return policy.calibrations_


def test_a_changed_future_gives_the_identical_calibration_and_no_hour_at_or_after_t_is_read(
) -> None:
    """The calibrations of every decision up to ``t`` are identical on two traces whose
    hours from ``t`` on differ; and, instrumenting the forecaster, the replay at decision
    ``d`` only ever hands it a prefix of the trace shorter than ``d``."""
    t = 288
    first, second = _two_futures(t)
    seen_first: list[int] = []
    a = _calibrations(first, seen_first)
    b = _calibrations(second, [])
    upto = [i for i, hour in enumerate(range(168, 168 + 24 * len(a), 24)) if hour <= t]
    assert len(upto) == 6 and any(a[i].calibrated for i in upto)
    for i in upto:
        assert a[i].to_details() | {"seconds": 0} == b[i].to_details() | {"seconds": 0}
    assert any(a[i].to_details() != b[i].to_details() for i in range(len(a)) if i not in upto)
    # Decisions at 168, 192 and 216 fall back (fewer than three replay days) and forecast
    # once each; the calibration at 240 replays 168, 192 and 216 for each of the four grid
    # points, then the decision at 240 forecasts on its own 240 hours.
    assert seen_first[:16] == [168, 192, 216] + [168, 192, 216] * 4 + [240]


def test_the_backtest_ladder_decides_with_the_chosen_settings_and_reports_them() -> None:
    """With calibration on, the backtest's ladder reports how often each setting won; its
    own policy is back to the current settings after every decision."""
    units = np.r_[np.full(192, 10.0), np.full(300, 8.0)]
    prices = catalog([unit("ri", {M5: 1.0}, hourly=0.6, term_hours=96)])
    config = BacktestConfig(ladder_policy=_ladder().policy)
    ladder = make_policy("ladder", trace(units.reshape(-1, 1)), prices, config,
                         scenarios=last_days)
    assert isinstance(ladder, CalibratedLadder)
    ladder.grid = (GridPoint("current"), NOTHING)
    score = run_backtest(trace(units.reshape(-1, 1)), prices, ladder, config).score
    assert score.details["calibrations"] == score.decisions
    assert "fallback 3" in str(score.details["calibration_chosen"])
    assert ladder.ladder.policy == config.ladder_policy
    off = make_policy("ladder", trace(units.reshape(-1, 1)), prices,
                      BacktestConfig(ladder_policy=replace(_ladder().policy,
                                                           calibration_days=0)),
                      scenarios=last_days)
    assert isinstance(off, ForecastLadder)


def test_calibration_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="calibration_floor"):
        RiskSettings(calibration_floor=1.5)
    with pytest.raises(ValueError, match="calibration_days"):
        RiskSettings(calibration_days=-1)
    assert RiskSettings().calibration_days == 0  # off by default until measured
