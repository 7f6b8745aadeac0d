"""Regime changes in the ladder: the retirement hazard, ramps, and the scenarios they add."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from backtest_factories import M5, catalog, flat_source, trace, unit

from optimizer.backtest.runner import BacktestConfig, run_backtest
from optimizer.ladder_policy import (
    ForecastLadder,
    forecast_problem,
    ramp_scenarios,
    retirement_scenarios,
)
from optimizer.risk import RetirementHazard, detect_ramp, retirement_hazard
from optimizer.risk_settings import RiskSettings

DAY = 24
START = datetime(2024, 1, 1, tzinfo=UTC)


def test_a_scope_never_seen_to_retire_keeps_the_prior() -> None:
    history = np.full((10 * DAY, 2), 5.0)
    hazard = retirement_hazard(history, prior_events=1.0, prior_hours=8760.0)
    assert hazard.events == 0
    assert hazard.exposure_hours == 2 * 10 * DAY
    assert hazard.rate == pytest.approx(1.0 / (8760.0 + 480.0))
    assert hazard.probability(336) == pytest.approx(1 - np.exp(-336 * hazard.rate))


def test_retirements_seen_raise_the_hazard_and_leave_the_exposure() -> None:
    history = np.full((10 * DAY, 3), 5.0)
    history[:50, 0] = 0.0                # starts late: not at risk before its first hour
    history[100:, 1] = 0.0               # retired at hour 100 (140 zero hours)
    history[120:190, 2] = 0.0            # a 70-hour gap it came back from is no retirement
    hazard = retirement_hazard(history, prior_events=1.0, prior_hours=1000.0)
    assert hazard.events == 1
    assert hazard.exposure_hours == (240 - 50) + 100 + 240
    quiet = retirement_hazard(np.full((10 * DAY, 3), 5.0), prior_events=1.0,
                              prior_hours=1000.0)
    assert hazard.rate > 2 * quiet.rate


def test_the_hazard_prior_must_be_finite() -> None:
    with pytest.raises(ValueError, match="prior"):
        retirement_hazard(np.ones((48, 1)), prior_events=float("inf"), prior_hours=1.0)
    with pytest.raises(ValueError, match="hazard_prior_hours"):
        RiskSettings(hazard_prior_hours=-1.0)


def test_a_linear_ramp_is_detected_with_its_slope() -> None:
    rng = np.random.default_rng(0)
    hours = np.arange(14 * DAY)
    ramp = np.clip(hours - 100, 0, None) * 0.5 + rng.normal(0, 1, hours.size)
    flat = 40 + rng.normal(0, 3, hours.size)
    found = detect_ramp(np.column_stack([ramp, flat]), days=7)
    assert found.rising.tolist() == [True, False]
    assert found.slope[0] == pytest.approx(0.5, rel=0.05)
    assert found.slope[1] == 0.0
    # Every past week of the ramp went on rising the next day.
    assert found.continues > 0.8


def test_spikes_on_a_flat_fleet_are_no_ramp() -> None:
    usage = np.full((14 * DAY, 1), 20.0)
    usage[[30, 90, 200, 250, 300], 0] = 200.0
    assert not detect_ramp(usage, days=7).rising.any()


def test_a_burst_that_has_fallen_back_is_no_longer_a_ramp() -> None:
    # Five days at 40, three at 93, then back to 40: a rise while at 93, none after.
    days = [40.0] * 5 + [93.0] * 3
    plateau = np.repeat(days, DAY)[:, None]
    assert detect_ramp(plateau, days=7).rising.all()
    fallen = np.repeat([*days, 40.0], DAY)[:, None]
    assert not detect_ramp(fallen, days=7).rising.any()


def test_too_short_a_history_finds_no_ramp() -> None:
    ramp = np.arange(5 * DAY, dtype=float)[:, None]
    assert not detect_ramp(ramp, days=7).rising.any()


def test_a_ramping_key_holds_todays_level_or_goes_on_ramping() -> None:
    hours = 10 * DAY
    history = np.column_stack([np.arange(hours) * 0.5, np.full(hours, 7.0)])
    found = detect_ramp(history, days=7)
    base = np.full((4, 48, 2), -1.0)                       # what the source said
    paths, weights = ramp_scenarios(base, history, found, cap_hours=24)
    today = np.tile(history[-DAY:, 0], 2)                  # the last day, hour of day kept
    stop, go_on = paths[0, :, 0], paths[1, :, 0]
    assert stop == pytest.approx(today)
    assert go_on[:24] == pytest.approx(today[:24] + 0.5 * np.arange(1, 25))
    assert go_on[24:] == pytest.approx(today[24:] + 12.0)  # capped after a day
    assert (paths[:, :, 1] == -1.0).all()                  # the flat key keeps its paths
    assert weights.sum() == pytest.approx(1.0)
    assert weights[1::2].sum() == pytest.approx(found.continues)


def test_retirement_scenarios_stop_all_usage_and_carry_the_hazards_chance() -> None:
    paths = np.full((4, 100, 2), 3.0)
    hazard = RetirementHazard(events=1, exposure_hours=100.0, prior_events=1.0,
                              prior_hours=100.0)
    out, weights = retirement_scenarios(paths, np.full(4, 0.25), hazard, 2)
    p = hazard.probability(100)
    assert out.shape == (6, 100, 2)
    assert weights.sum() == pytest.approx(1.0)
    assert weights[4:].sum() == pytest.approx(p)
    for extra in out[4:]:
        stop = int(np.argmax(extra[:, 0] == 0.0))
        assert 0 < stop < 100
        assert (extra[stop:] == 0.0).all() and (extra[:stop] == 3.0).all()
    unchanged, same = retirement_scenarios(paths, np.full(4, 0.25), hazard, 0)
    assert unchanged is paths and same.tolist() == [0.25] * 4


def test_the_problem_carries_the_hazard_in_its_scenarios_and_its_price() -> None:
    prices = catalog([unit("ri", {M5: 1.0}, hourly=0.6, term_hours=96)])
    history = np.full((8 * DAY, 1), 10.0)
    plain = forecast_problem(history, (M5,), START, (), prices, scenarios=flat_source(10.0),
                             policy=RiskSettings(), n_scenarios=4, max_horizon_hours=48)
    hedged = forecast_problem(history, (M5,), START, (), prices, scenarios=flat_source(10.0),
                              policy=RiskSettings(retirement_scenarios=2), n_scenarios=4,
                              max_horizon_hours=48)
    assert plain is not None and hedged is not None
    assert plain.scenarios.n_scenarios == 4 and plain.hazard == 0.0
    assert hedged.scenarios.n_scenarios == 6 and hedged.hazard > 0
    assert hedged.scenarios.probabilities[4:].sum() > 0
    # The 96 h term runs past the 48 h horizon: the hazard prices those hours.
    offering = prices.offerings[0]
    assert hedged.price(offering, 96) > plain.price(offering, 96)


def _ramp_purchases(policy: RiskSettings) -> list[tuple[int, float]]:
    """A key ramping 1 unit per hour from hour 24, a 48 h RI, flat-at-zero forecasts (a
    forecaster that has not seen the ramp): what each run buys."""
    prices = catalog([unit("ri", {M5: 1.0}, hourly=0.6, term_hours=48)])
    hours = np.arange(24 * 14, dtype=float)
    usage = trace(np.clip(hours - 24, 0, None)[:, None])
    ladder = ForecastLadder(policy=policy, scenarios=flat_source(0.0), n_scenarios=4,
                            max_horizon_hours=48)
    result = run_backtest(usage, prices, ladder, BacktestConfig(cadence_hours=24,
                                                                warmup_hours=24 * 8))
    return [(p.hour, p.quantity) for p in result.purchases]


def test_a_ramp_is_bought_although_the_forecast_has_not_seen_it() -> None:
    policy = RiskSettings(cvar_weight=0.8, tranche_fraction=0.5)
    assert _ramp_purchases(policy) == []
    ramped = _ramp_purchases(RiskSettings(cvar_weight=0.8, tranche_fraction=0.5,
                                            ramp_days=7))
    assert ramped and ramped[0][0] == 24 * 8
    # At once, at least the floor of the last day (hours 168–191 ran 144–167 units).
    assert ramped[0][1] >= 144


def test_a_steady_fleet_drifting_up_a_little_is_no_ramp() -> None:
    hours = np.arange(14 * DAY)
    drift = 100 + 0.05 * hours            # significant, but 7 % over the week
    assert not detect_ramp(drift[:, None], days=7).rising.any()
    assert detect_ramp(drift[:, None], days=7, min_growth=0.0).rising.all()
