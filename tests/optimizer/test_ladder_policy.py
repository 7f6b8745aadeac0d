"""The forecast-driven ladder policy in the replay: scenarios, tranches, planning ahead."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import numpy as np
import pytest
from backtest_factories import M5, catalog, flat_source, trace, unit

from core.domain import Offering
from optimizer.backtest.runner import BacktestConfig, make_policy, run_backtest
from optimizer.ladder_policy import (
    ForecastLadder,
    blended_scenarios,
    replay_scenarios,
)
from optimizer.risk_settings import RiskSettings


def test_replays_hold_the_last_week_in_day_rotations() -> None:
    history = np.arange(240, dtype=float)[:, None]
    paths = replay_scenarios(history, 30, 3, replay_hours=168)
    assert paths.shape == (3, 30, 1)
    assert paths[0, 0, 0] == 72.0      # the last 168 hours start at hour 72
    assert paths[1, 0, 0] == 96.0      # one day in
    assert set(paths[:, :, 0].ravel()) <= set(range(72, 240))
    # The default replays the last two days.
    assert set(replay_scenarios(history, 100, 2)[:, :, 0].ravel()) == set(range(192, 240))


def test_blended_scenarios_put_forecasts_and_replays_side_by_side() -> None:
    source = blended_scenarios(flat_source(7.0), replay_share=0.25)
    paths = source(np.full((48, 1), 3.0), (M5,), datetime(2024, 1, 1), 24, 8, 0)
    assert paths.shape == (8, 24, 1)
    assert (paths[:6] == 7.0).all() and (paths[6:] == 3.0).all()


def _run(policy: RiskSettings, level: float = 10.0, *, safe_core: bool = True,
         menu_closes: Callable[[Offering], int] | None = None) -> list[tuple[int, str, float]]:
    prices = catalog([unit("ri", {M5: 1.0}, hourly=0.6, term_hours=48)])
    usage = trace(np.full((24 * 8, 1), level))
    ladder = ForecastLadder(policy=policy, scenarios=flat_source(level), n_scenarios=2,
                            max_horizon_hours=48, safe_core=safe_core,
                            menu_closes=menu_closes)
    result = run_backtest(usage, prices, ladder, BacktestConfig(cadence_hours=24,
                                                                warmup_hours=24))
    return [(p.hour, p.offering_id, p.quantity) for p in result.purchases]


def test_steady_usage_is_covered_once_and_renewed_at_expiry() -> None:
    """10 units/h, a 48 h RI: buy 10 at hour 24; at hour 48 the LP plans the renewal at the
    expiry (hour 72) instead of buying overlapping coverage; renew at 72, 120, …"""
    purchases = _run(RiskSettings(cvar_weight=0.0))
    assert purchases[0] == (24, "ri", pytest.approx(10.0))
    hours = [h for h, _, _ in purchases]
    assert 48 not in hours
    assert 72 in hours
    assert sum(q for h, _, q in purchases if h == 72) == pytest.approx(10.0)


def test_a_tranche_fraction_buys_part_of_the_gap_on_each_run() -> None:
    """With half the gap per run: 5 at hour 24, then half the remaining gap at hour 48, …"""
    half = RiskSettings(cvar_weight=0.0, tranche_fraction=0.5)
    purchases = _run(half, safe_core=False)
    assert purchases[0] == (24, "ri", pytest.approx(5.0))
    assert purchases[1][0] == 48 and purchases[1][2] == pytest.approx(2.5, rel=0.05)


def test_the_safe_core_is_bought_whole_whatever_the_tranche() -> None:
    """Usage certain at 10 units: every scenario uses all 10, so the core is the whole
    increment and the tranche rule leaves nothing for later."""
    purchases = _run(RiskSettings(cvar_weight=0.0, tranche_fraction=0.5))
    assert purchases[0] == (24, "ri", pytest.approx(10.0))


def _active(purchases: list[tuple[int, str, float]], hour: int, term: int = 48) -> float:
    return sum(q for h, _, q in purchases if h <= hour < h + term)


def test_the_last_run_that_can_buy_an_offering_buys_it_whole() -> None:
    """Half the gap per run, 8 days of 10 units/h, a 48 h RI: the replay's menu holds the RI
    while hour + 48 ≤ 192, so hour 144 is the last run that can buy it. Told where the menu
    ends, the ladder buys the whole gap there; not told, it leaves half of it for a run
    that cannot buy."""
    half = RiskSettings(cvar_weight=0.0, tranche_fraction=0.5)
    told = _run(half, safe_core=False, menu_closes=lambda o: 24 * 8 - o.term_hours)
    blind = _run(half, safe_core=False)
    assert _active(told, 144) == pytest.approx(10.0)
    assert _active(blind, 144) < 9.9
    # Before the last run both ladder alike.
    assert [p for p in told if p[0] < 144] == [p for p in blind if p[0] < 144]


def test_the_ladder_knows_where_the_replay_menu_ends() -> None:
    """``make_policy`` tells the ladder when each offering leaves the replay's menu (the
    trace's end less its term), and the ladder turns it into each offering's last hour of
    purchase from the decision."""
    usage = trace(np.full((24 * 8, 1), 10.0))
    prices = catalog([unit("ri", {M5: 1.0}, hourly=0.6, term_hours=48)])
    ladder = make_policy("ladder", usage, prices, scenarios=flat_source(10.0))
    assert isinstance(ladder, ForecastLadder)
    assert ladder.last_purchase(120, prices) == {"ri": 24}
    assert ForecastLadder(scenarios=flat_source(10.0)).last_purchase(120, prices) is None


@pytest.mark.parametrize("common", [True, False])
def test_common_draws_give_every_decision_the_same_seed(common: bool) -> None:
    seeds: list[int] = []
    level = flat_source(10.0)

    def recording(history: np.ndarray, key_ids: tuple[str, ...], start: datetime,
                  horizon: int, n: int, seed: int) -> np.ndarray:
        seeds.append(seed)
        return level(history, key_ids, start, horizon, n, seed)

    prices = catalog([unit("ri", {M5: 1.0}, hourly=0.6, term_hours=48)])
    ladder = ForecastLadder(policy=RiskSettings(cvar_weight=0.0), scenarios=recording,
                            n_scenarios=2, max_horizon_hours=48, seed=5, common_draws=common)
    run_backtest(trace(np.full((24 * 6, 1), 10.0)), prices, ladder,
                 BacktestConfig(cadence_hours=24, warmup_hours=24))
    runs = len(seeds)  # the runs at hours 24, 48, … that still had something to decide
    assert runs >= 3
    assert seeds == ([5] * runs if common else [5 + 24 * d for d in range(1, runs + 1)])
