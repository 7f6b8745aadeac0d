"""Large fleets' LP: pooled coverage (exact) and the scenario decomposition, on small fleets
where the full LP solves, so that both can be checked against it."""

from __future__ import annotations

import numpy as np
import pytest
from lp_factories import spend, unit

from core.errors import InvalidInput
from optimizer.reduction import pool_coverage
from optimizer.risk_settings import RiskSettings
from optimizer.stochastic import (
    OwnedCommitment,
    ScenarioSet,
    StochasticProblem,
    build_model,
    decomposition,
    scenario_costs,
    solve,
)
from optimizer.stochastic import model as stochastic_model
from optimizer.stochastic.decomposition import TOLERANCE

LADDER_LIKE = RiskSettings(cvar_weight=0.8, cvar_alpha=0.9, representative_hours=48,
                           waste_weight=1.5, switching_cost=0.02)


def fleet(pools: int = 6, accounts: int = 3, hours: int = 96, scenarios: int = 4,
          seed: int = 0, policy: RiskSettings = LADDER_LIKE,
          owned_sp: float = 0.0) -> StochasticProblem:
    """``pools`` instance pools of ``accounts`` keys each; per pool a Standard RI, on every
    other pool an EC2 Instance Savings Plan, on one pool an RI of two of its accounts only;
    a Compute Savings Plan over every key at a share of on-demand (one class of keys) and
    one at two shares (two classes); optionally an owned Compute Savings Plan."""
    rng = np.random.default_rng(seed)
    keys = [f"aws/{a}/ec2/r{p % 2}/f{p}/linux/shared" for p in range(pools)
            for a in range(accounts)]
    pool_rate = 0.5 + rng.random(pools)
    rates = np.repeat(pool_rate, accounts)
    level = rng.uniform(5, 40, pools)
    daily = 1 + 0.4 * np.sin(np.arange(hours) * 2 * np.pi / 24)
    drift = rng.uniform(0.6, 1.3, (scenarios, 1, pools))
    noise = rng.uniform(0.8, 1.2, (scenarios, hours, pools))
    usage = np.repeat(level * daily[None, :, None] * drift * noise, accounts, axis=2)
    offerings = []
    for p in range(pools):
        members = keys[p * accounts:(p + 1) * accounts]
        od = float(pool_rate[p])
        offerings.append(unit(f"ri/{p}", dict.fromkeys(members, 1.0), hourly=od * 0.55,
                              term_hours=8760))
        if p % 2 == 0:
            offerings.append(spend(f"sp-ec2/{p}", dict.fromkeys(members, od * 0.6),
                                   term_hours=8760))
    offerings.append(unit("ri-two", dict.fromkeys(keys[:2], 1.0), hourly=float(rates[0]) * 0.5,
                          term_hours=3 * 8760))
    offerings.append(spend("sp-compute", {k: float(r) * 0.62 for k, r in zip(keys, rates,
                                                                             strict=True)},
                           term_hours=8760, order=20))
    offerings.append(spend("sp-compute-3y", {k: float(r) * (0.5 if i % 2 else 0.52)
                                             for i, (k, r) in enumerate(zip(keys, rates,
                                                                            strict=True))},
                           term_hours=3 * 8760, upfront_fraction=1.0, order=21))
    owned = (OwnedCommitment(offerings[-2], owned_sp, hours_left=hours // 2),) \
        if owned_sp else ()
    return StochasticProblem(ScenarioSet(usage, tuple(keys)), rates, tuple(offerings),
                             owned=owned, policy=policy)


@pytest.mark.parametrize("policy", [
    LADDER_LIKE,
    RiskSettings(cvar_weight=0.0, representative_hours=None),
    RiskSettings(cvar_weight=0.5, min_utilisation=0.9, waste_weight=1.0,
                 representative_hours=30),
])
def test_pooled_coverage_solves_to_the_per_key_optimum_with_fewer_columns(
        policy: RiskSettings) -> None:
    """Pooling is exact: the same optimum (and the same cost per scenario at the LP's
    point) with fewer columns; an owned Compute Savings Plan's capacity counts the same."""
    problem = fleet(policy=policy, owned_sp=20.0)
    per_key = build_model(problem, pool=False)
    pooled = build_model(problem, pool=True)
    assert pooled.pooled.n_classes > 0
    assert pooled.n_variables < per_key.n_variables
    a, b = solve(per_key), solve(pooled)
    assert b.objective == pytest.approx(a.objective, rel=1e-7)
    assert b.expected_cost == pytest.approx(a.expected_cost, rel=1e-6)
    assert np.sum(scenario_costs(pooled, np.zeros(pooled.n_variables))) == pytest.approx(
        np.sum(scenario_costs(per_key, np.zeros(per_key.n_variables))))


def test_pool_coverage_classes_follow_the_dollars_per_unit_of_capacity() -> None:
    """A pattern with rates at one share of on-demand is one class; at two shares, two; a
    pattern sharing a key with one already pooled, or one class per key, is not pooled."""
    rates = np.array([1.0, 2.0, 4.0, 1.0])
    weights = np.array([
        [0.6, 1.2, 2.4, 0.6],    # one share of on-demand: one class of four keys
        [0.5, 1.0, 0.0, 0.0],    # shares a key with the first: per key
        [0.0, 0.0, 2.0, 0.55],   # per key as well
    ])
    pooled = pool_coverage(weights, rates)
    assert pooled.pooled.tolist() == [True, False, False]
    assert [k.tolist() for k in pooled.keys] == [[0, 1, 2, 3]]
    assert pooled.value == pytest.approx([1 / 0.6])
    two = pool_coverage(np.array([[0.6, 1.2, 2.0, 0.5]]), rates)
    assert sorted(k.tolist() for k in two.keys) == [[0, 1], [2, 3]]
    assert not pool_coverage(np.array([[0.6, 1.0]]), rates[:2]).pooled.any()


def test_models_pool_above_the_threshold_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """``pool=None`` keeps one coverage column per key up to POOL_THRESHOLD and pools above."""
    problem = fleet()
    per_key = build_model(problem, pool=False)
    count = per_key.program.family("coverage").size
    monkeypatch.setattr(stochastic_model, "POOL_THRESHOLD", count)
    assert build_model(problem).pooled.n_classes == 0
    monkeypatch.setattr(stochastic_model, "POOL_THRESHOLD", count - 1)
    assert build_model(problem).pooled.n_classes > 0


def test_the_decomposition_brackets_the_whole_lps_optimum() -> None:
    """Scenario by scenario (Benders): the lower bound is at most the whole LP's optimum, the
    point's cost at least it and within the stated gap of the bound; the bound is the
    solution's objective (what the certificate compares with)."""
    model = build_model(fleet(pools=20, owned_sp=20.0))
    whole = solve(model, method="whole")
    split = solve(model, method="decomposed")
    assert split.method == "decomposed" and whole.method == "whole"
    assert split.objective <= whole.objective * (1 + 1e-9)
    assert split.upper >= whole.objective * (1 - 1e-9)
    assert (split.upper - split.objective) / abs(split.upper) <= TOLERANCE
    assert split.objective == pytest.approx(whole.objective, rel=TOLERANCE)


def test_the_solver_decomposes_only_when_asked() -> None:
    """``method="auto"`` solves whole; a utilisation floor (a row over every scenario) makes
    the LP indecomposable, and asking to decompose it is refused."""
    model = build_model(fleet())
    assert solve(model).method == "whole"
    assert decomposition.split_by_scenario(model) is not None
    floor = build_model(fleet(policy=RiskSettings(cvar_weight=0.5, min_utilisation=0.9,
                                                  representative_hours=30)))
    assert decomposition.split_by_scenario(floor) is None
    with pytest.raises(InvalidInput):
        solve(floor, method="decomposed")
