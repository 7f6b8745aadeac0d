"""Young usage (issue 17, point 2): a ramp's increment is bought in short, no-upfront terms;
the level a key has held keeps the whole menu."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from backtest_factories import C5, M5, catalog, flat_source, trace, unit

from core.domain import Offering, PaymentOption, Shape
from optimizer.backtest.runner import BacktestConfig, run_backtest
from optimizer.ladder_policy import ForecastLadder, forecast_problem, young_menu, young_split
from optimizer.risk import Ramp, held_level
from optimizer.risk_settings import RiskSettings

DAY = 24
START = datetime(2024, 1, 1, tzinfo=UTC)
RAMP_FROM = 96
"""The ramp starts at hour 96: 20 units before, a quarter unit more every hour after."""


def _long(offering_id: str, key: str) -> Offering:
    """A 96 h all-upfront RI at an effective $0.40 per unit-hour."""
    return Offering(offering_id, Shape.UNIT, term_hours=96, upfront=0.4 * 96, hourly=0.0,
                    order=0, covers={key: 1.0}, payment_option=PaymentOption.ALL_UPFRONT)


def _menu(keys: tuple[str, ...] = (M5,)) -> list[Offering]:
    """Per key, a 48 h no-upfront RI at $0.70 and the 96 h all-upfront RI at $0.40."""
    out = []
    for key in keys:
        name = key.split("/")[3]
        out += [unit(f"short-{name}", {key: 1.0}, hourly=0.7, term_hours=48),
                _long(f"long-{name}", key)]
    return out


def _ramp(hours: int) -> np.ndarray:
    """20 units until :data:`RAMP_FROM`, then up by a quarter unit an hour."""
    h = np.arange(hours, dtype=float)
    return 20.0 + 0.25 * np.clip(h - RAMP_FROM, 0.0, None)


def _purchases(units: np.ndarray, keys: tuple[str, ...], young_days: int
               ) -> list[tuple[int, str, float]]:
    """Every purchase of the ladder (ramp rule on, ``young_days``) on ``units``, with
    forecasts flat at 20 (a forecaster that has not seen the ramp)."""
    rates = {key: 1.0 for key in keys}
    prices = catalog(_menu(keys), rates)
    policy = RiskSettings(cvar_weight=0.8, tranche_fraction=0.5, ramp_days=4,
                          young_days=young_days)
    ladder = ForecastLadder(policy=policy, scenarios=flat_source(20.0), n_scenarios=4,
                            max_horizon_hours=96)
    result = run_backtest(trace(units, keys), prices, ladder,
                          BacktestConfig(cadence_hours=24, warmup_hours=8 * DAY))
    return [(p.hour, p.offering_id, p.quantity) for p in result.purchases]


def _bought(purchases: list[tuple[int, str, float]], hour: int, offering_id: str) -> float:
    return sum(q for h, o, q in purchases if h == hour and o == offering_id)


def test_the_held_level_is_the_lowest_recent_daily_mean() -> None:
    history = np.column_stack([_ramp(8 * DAY), np.full(8 * DAY, 5.0)])
    # Days 1..7 are the last seven whole days; day 1 (hours 24-47) is still at 20.
    assert held_level(history, 7) == pytest.approx([20.0, 5.0])
    # Over the last two days the ramp's level is its day 6 (hours 144-167): 20 + 0.25 · 59.5.
    assert held_level(history, 2)[0] == pytest.approx(20.0 + 0.25 * 59.5)
    assert held_level(np.ones((10, 2)), 7).tolist() == [0.0, 0.0]   # no whole day yet
    with pytest.raises(ValueError, match="days"):
        held_level(history, 0)


def test_the_young_menu_is_the_shortest_no_upfront_term() -> None:
    menu = _menu()
    assert [o.offering_id for o in young_menu(menu)] == ["short-m5"]
    only_long = [_long("a", M5), _long("b", M5)]
    assert young_menu(only_long) == tuple(only_long)   # no no-upfront: that term's all


def test_the_split_caps_only_the_ramping_keys_at_their_held_level() -> None:
    history = np.column_stack([_ramp(8 * DAY), np.full(8 * DAY, 5.0)])
    problem = forecast_problem(history, (M5, C5), START, (), catalog(_menu((M5, C5)),
                               {M5: 1.0, C5: 1.0}), scenarios=flat_source(50.0),
                               policy=RiskSettings(), n_scenarios=2, max_horizon_hours=96)
    assert problem is not None
    ramp = Ramp(np.array([True, False]), np.array([0.25, 0.0]), 0.5)
    split = young_split(problem, held_level(history, 7), ramp)
    assert split is not None
    assert (split.scenarios.usage[:, :, 0] == 20.0).all()          # capped at what it held
    assert (split.scenarios.usage[:, :, 1] == 50.0).all()          # not ramping: as it was
    assert split.candidates == problem.candidates                  # the whole menu
    assert young_split(problem, held_level(history, 7), None) is None
    still = Ramp(np.array([False, False]), np.zeros(2), 0.5)
    assert young_split(problem, held_level(history, 7), still) is None


def test_a_ramps_increment_goes_to_the_short_no_upfront_term() -> None:
    units = _ramp(14 * DAY)[:, None]
    whole_menu = _purchases(units, (M5,), young_days=0)
    young = _purchases(units, (M5,), young_days=7)
    first = 8 * DAY
    # Without the split the ramp is bought whole in the cheap long term, above the 20 units
    # the key has held all week; with it the long term gets no more than those 20 ...
    assert _bought(whole_menu, first, "long-m5") > 25.0
    assert 0.0 < _bought(young, first, "long-m5") <= 20.0 + 1e-6
    # ... and the increment is still bought, in the short no-upfront term.
    assert _bought(young, first, "short-m5") > 5.0
    total = _bought(young, first, "long-m5") + _bought(young, first, "short-m5")
    assert total == pytest.approx(_bought(whole_menu, first, "long-m5")
                                  + _bought(whole_menu, first, "short-m5"), rel=0.1)


def test_the_established_usage_is_bought_as_before() -> None:
    # A steady key beside the ramping one: its purchases do not change with the split.
    units = np.column_stack([_ramp(14 * DAY), np.full(14 * DAY, 30.0)])
    whole_menu = _purchases(units, (M5, C5), young_days=0)
    young = _purchases(units, (M5, C5), young_days=7)
    steady = [(h, o, pytest.approx(q)) for h, o, q in whole_menu if o.endswith("c5")]
    assert [(h, o, q) for h, o, q in young if o.endswith("c5")] == steady
    assert steady  # the steady key is bought at all
    # A key that never ramps gets exactly the purchases it got without the split.
    flat = np.full((14 * DAY, 1), 20.0)
    assert _purchases(flat, (M5,), young_days=7) == _purchases(flat, (M5,), young_days=0)


def test_the_split_sees_no_hour_after_the_decision() -> None:
    # Two traces equal until hour 240, then one retires: every decision up to 240 is the same.
    units = _ramp(14 * DAY)[:, None]
    retired = units.copy()
    retired[241:] = 0.0
    cut = 240
    same = [p for p in _purchases(units, (M5,), young_days=7) if p[0] <= cut]
    other = [p for p in _purchases(retired, (M5,), young_days=7) if p[0] <= cut]
    assert same == other
    assert any(o == "short-m5" for _, o, _ in same)   # the split did act before the cut


def test_young_days_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="young_days"):
        RiskSettings(young_days=-1)
