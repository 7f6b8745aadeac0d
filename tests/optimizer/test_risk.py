"""Risk helpers: the decline learned from history, the term multiplier, CVaR."""

from __future__ import annotations

import numpy as np
import pytest
from backtest_factories import spend, unit

from optimizer.risk import (
    cvar,
    decline_rates,
    falls_significantly,
    offering_decline,
    pooled_declines,
    retained,
    term_multiplier,
)
from optimizer.risk_settings import RiskSettings


def test_decline_rate_of_an_exponential_decay_is_recovered() -> None:
    """Usage 100 · e^{-0.002 t} over 21 days: the learned rate is 0.002 per hour."""
    t = np.arange(21 * 24)
    history = np.column_stack([100 * np.exp(-0.002 * t), 100 + 0 * t, 50 * np.exp(0.001 * t)])
    rates = decline_rates(history)
    assert rates[0] == pytest.approx(0.002, rel=0.02)
    assert rates[1] == 0.0  # flat
    assert rates[2] == 0.0  # growing: no bet on growth


def test_decline_is_robust_to_a_spike_and_needs_three_days() -> None:
    history = np.full((10 * 24, 1), 40.0)
    history[100:104] = 400.0
    assert decline_rates(history)[0] == pytest.approx(0.0, abs=1e-12)
    assert decline_rates(np.full((48, 1), 40.0))[0] == 0.0


def test_a_flat_weekly_cycle_ending_on_a_weekend_is_not_learned_as_a_decline() -> None:
    """Two weeks at a flat level, weekends 10% lower, 3% noise per day, the window ending
    on a Sunday. Theil–Sen alone reads a fall in most of 20 draws (the low weekend comes
    last); the Mann–Kendall test lets through about its level's share of them."""
    raw, tested = 0, 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        level = 100 * (1 - 0.1 * (np.arange(14) % 7 >= 5)) * (1 + 0.03 * rng.standard_normal(14))
        history = np.repeat(level, 24)[:, None]
        raw += decline_rates(history, significance=None)[0] > 0
        tested += decline_rates(history)[0] > 0
    assert raw >= 15
    assert tested <= 3


def test_mann_kendall_critical_values_for_ten_days() -> None:
    """n = 10: σ² = 10 · 9 · 25 / 18 = 125. At the one-sided 5% level (z ≤ −1.645) S = −21
    gives z = −20 / 11.18 = −1.79: a fall; S = −19 gives −1.61: not. Rises never are."""
    assert falls_significantly(np.array([-45.0, -21.0, -19.0, 0.0, 21.0]), 10, 0.05).tolist() \
        == [True, True, False, False, False]


def test_a_migration_between_the_keys_of_a_savings_plan_is_not_a_decline() -> None:
    """Account a's usage moves to account b over three weeks (a + b stays 100 units of
    $1): each key alone declines or grows, the pool a Savings Plan covers does not."""
    t = np.arange(21 * 24)
    a = 60 * np.exp(-0.004 * t)
    history = np.column_stack([a, 100 - a, 30 * np.exp(-0.003 * t)])
    keys = ("a", "b", "c")
    rates = np.ones(3)
    plan = spend("sp", {"a": 0.7, "b": 0.7})
    ri_a = unit("ri-a", {"a": 1.0})
    both = spend("sp-all", {"a": 0.7, "b": 0.7, "c": 0.7})
    pooled = pooled_declines(history, keys, [plan, ri_a, both], rates)
    assert pooled["sp"] == pytest.approx(0.0, abs=1e-12)
    # One key alone keeps its own rate, and a pool with a declining key declines.
    assert pooled["ri-a"] == pytest.approx(0.004, rel=0.02)
    assert 0.0 < pooled["sp-all"] < 0.003
    # The average of the keys' own rates (the fallback) would call the migration a decline.
    per_key = decline_rates(history)
    assert offering_decline(plan, keys, per_key, history[-168:].mean(axis=0)) > 1e-4


def test_term_multiplier_prices_only_the_term_beyond_the_horizon() -> None:
    """g(T) = (1 - e^{-δT}) / (δT); m = g(min(T, H)) / g(T)."""
    assert term_multiplier(0.01, 100, 100) == 1.0
    assert term_multiplier(0.0, 300, 100) == pytest.approx(1.0)
    assert term_multiplier(0.01, 300, 100) == pytest.approx(
        (1 - np.exp(-1)) / ((1 - np.exp(-3)) / 3))
    assert retained(1e-12, 10) == pytest.approx(1.0)


def test_cvar_is_the_mean_of_the_worst_tail() -> None:
    costs = np.array([1.0, 2.0, 3.0, 10.0])
    weights = np.full(4, 0.25)
    assert cvar(costs, weights, 0.75) == pytest.approx(10.0)
    assert cvar(costs, weights, 0.5) == pytest.approx(6.5)
    assert cvar(costs, weights, 0.0) == pytest.approx(4.0)
    assert cvar(costs, weights, 0.875) == pytest.approx(10.0)


def test_policy_validates_and_filters() -> None:
    with pytest.raises(ValueError, match="tranche_fraction"):
        RiskSettings(tranche_fraction=0.0)
    with pytest.raises(ValueError, match="cvar_alpha"):
        RiskSettings(cvar_alpha=1.0)
    cautious = RiskSettings.from_appetite("cautious", tranche_fraction=0.5)
    assert cautious.cvar_weight > RiskSettings.from_appetite("bold").cvar_weight
    assert cautious.tranche_fraction == 0.5
