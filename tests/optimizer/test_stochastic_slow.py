"""Slow checks of the stochastic optimizer at scale and on the backtest suite (``-m slow``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from benchmarks.optimizer import scale_instance
from core.catalog import load_catalog
from core.domain import Catalog
from ladder.scenarios import default_scenarios
from optimizer.backtest.policies import UsageHistory
from optimizer.backtest.purchases import Portfolio
from optimizer.backtest.schedule import buyable, market
from optimizer.backtest.trace import read_trace
from optimizer.ladder_policy import ForecastLadder
from optimizer.stochastic import build_model, optimize, solve
from optimizer.stochastic_plan import make_portfolio_plan

SUITE = Path(__file__).resolve().parents[2] / "benchmarks" / "backtest"
pytestmark = pytest.mark.slow


def test_scale_instance_plan_is_certified_within_one_percent() -> None:
    """500 keys × 40 offerings × 8 scenarios × 672 hours: the billed plan is within 1% of
    the representative model's lower bound (timing is printed by benchmarks/optimizer.py)."""
    problem = scale_instance()
    model = build_model(problem, backend="highs")
    solution = solve(model, time_limit_s=600)
    plan = make_portfolio_plan(model, solution, window_start=datetime(2024, 1, 1, tzinfo=UTC))
    assert 0.0 <= plan.certificate.gap < 0.01


@pytest.mark.parametrize("name", ["nab-mix4", "google-steady", "fleet10-tiled"])
def test_representative_hours_within_half_a_percent_of_the_full_model_on_the_suite(
    name: str,
) -> None:
    catalog_file = "aws-2017-us-east-1-linux-8off.json" if name == "fleet10-tiled" else \
        "aws-2017-us-east-1-linux-short.json"
    catalog = load_catalog(SUITE / "catalogs" / catalog_file)
    trace = read_trace(SUITE / "traces" / f"{name}.csv").for_catalog(catalog)
    replay = market(catalog, trace)
    hour = 168
    menu = Catalog(keys=replay.keys, offerings=buyable(replay.offerings, hour, trace.hours))
    history = UsageHistory.before(np.asarray(trace.units), hour, start=trace.start,
                                  key_ids=trace.key_ids)
    ladder = ForecastLadder(scenarios=default_scenarios())
    problem = ladder.problem_at(history, Portfolio(), hour, menu)
    assert problem is not None
    reduced = optimize(problem, backend="highs")
    full = optimize(replace(problem, policy=replace(problem.policy, representative_hours=None)),
                    backend="highs")
    assert reduced.objective <= full.objective * (1 + 1e-9)
    assert reduced.objective == pytest.approx(full.objective, rel=0.005)
