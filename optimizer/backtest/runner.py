"""The replay: a policy decides at a fixed cadence seeing only the past, the billing engine charges.

:func:`run_backtest` walks the decision hours ``warmup, warmup + cadence, …``
(while an allowed offering's term still fits), hands the policy a frozen copy of
the usage before the hour, checks what it buys against the menu, then bills every
hour of the trace with :mod:`core.billing` and scores the window ``[warmup, H)``
exactly as the answer keys do (:func:`score_purchases`). :func:`backtest` builds a
named policy and runs it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import partial
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from core.billing import (
    BillingResult,
    CommitmentSummary,
    apply_commitments,
    by_offering,
    summarize,
)
from core.domain import Catalog
from core.errors import InvalidInput, PolicyViolation
from optimizer.backtest.oracle import solve_oracle
from optimizer.backtest.policies import (
    DEFAULT_LOOKBACK_HOURS,
    BacktestStrategy,
    Lookback,
    NoCommitments,
    Oracle,
    Reporting,
    UsageHistory,
)
from optimizer.backtest.purchases import Portfolio, Purchase
from optimizer.backtest.schedule import buyable, decision_hours, last_purchase_hour, market
from optimizer.backtest.trace import UsageTrace
from optimizer.ladder_policy import LADDER_POLICY, ForecastLadder, ScenarioSource
from optimizer.risk_settings import RiskSettings

PolicyName = Literal["none", "lookback", "ladder", "oracle"]
POLICY_NAMES: tuple[PolicyName, ...] = ("none", "lookback", "ladder", "oracle")

MIN_QUANTITY = 1e-9
"""Purchases of at most this many units are dropped (solver noise), not logged."""


@dataclass(frozen=True)
class BacktestConfig:
    """How a backtest runs: cadence and warm-up (hours), allowed offerings, policy windows.

    ``allowed`` are offering ids (``None``: every offering of the catalog).
    ``lookback_hours`` is the lookback policy's window; ``ladder_policy`` the ladder's
    risk settings (``None``: its own, :data:`optimizer.ladder_policy.LADDER_POLICY`);
    ``ladder_seed`` the seed of its scenario draws, so a run can be repeated on other
    draws to see their spread; ``ladder_common_draws``: every decision draws with that
    seed, as a live run does (off: with the seed plus its hour, independent draws).
    """

    cadence_hours: int = 24
    warmup_hours: int = 168
    lookback_hours: int = DEFAULT_LOOKBACK_HOURS
    allowed: tuple[str, ...] | None = None
    oracle_time_limit_s: float = 600.0
    ladder_policy: RiskSettings | None = None
    ladder_seed: int = 0
    ladder_common_draws: bool = False


@dataclass(frozen=True)
class Score:
    """A backtest's score over ``[warmup, H)`` (BENCHMARK.md, "The score")."""

    policy: str
    hours: int
    warmup_hours: int
    cadence_hours: int
    decisions: int
    on_demand_equivalent: float
    commitment_cost: float
    on_demand_cost: float
    total_cost: float
    savings: float
    esr: float
    coverage: float
    utilisation: float
    waste: float
    n_purchases: int
    run_seconds: float
    by_offering: tuple[CommitmentSummary, ...] = ()
    details: Mapping[str, float | int | str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        """Pickle with the details as a plain dict (a mappingproxy does not pickle), so a
        score crosses process boundaries: the benchmarks run traces in parallel."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["details"] = dict(self.details)
        return partial(Score, **values), ()

    def to_dict(self) -> dict[str, Any]:
        """The score as JSON-ready data."""
        return {
            "policy": self.policy,
            "hours": self.hours,
            "warmup_hours": self.warmup_hours,
            "cadence_hours": self.cadence_hours,
            "decisions": self.decisions,
            "on_demand_equivalent": self.on_demand_equivalent,
            "commitment_cost": self.commitment_cost,
            "on_demand_cost": self.on_demand_cost,
            "total_cost": self.total_cost,
            "savings": self.savings,
            "esr": self.esr,
            "coverage": self.coverage,
            "utilisation": self.utilisation,
            "waste": self.waste,
            "n_purchases": self.n_purchases,
            "run_seconds": self.run_seconds,
            "by_offering": [
                {"offering_id": o.offering_id, "commitment_cost": o.commitment_cost,
                 "used_cost": o.used_cost, "covered_on_demand": o.covered_on_demand,
                 "waste": o.waste, "utilisation": o.utilisation}
                for o in self.by_offering
            ],
            "details": dict(self.details),
        }


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """A run: its score, the purchases made (hour indices of the trace) and the billing."""

    score: Score
    purchases: tuple[Purchase, ...]
    billing: BillingResult


def bill_purchases(trace: UsageTrace, catalog: Catalog,
                   purchases: Sequence[Purchase]) -> BillingResult:
    """Apply the purchases to every hour of the trace, as the clouds bill it.

    One billing column per offering bought, holding the sum of its active
    tranches: tranches of one offering are interchangeable (see
    :meth:`Portfolio.quantity`).
    """
    portfolio = Portfolio().with_purchases(purchases, catalog)
    offerings = portfolio.offerings()
    quantity = portfolio.quantity(offerings, 0, trace.hours)
    rates = np.array([catalog.on_demand_rates()[k] for k in trace.key_ids])
    return apply_commitments(np.asarray(trace.units), trace.key_ids, rates, offerings, quantity)


def score_purchases(
    trace: UsageTrace, catalog: Catalog, purchases: Sequence[Purchase], *, warmup_hours: int,
    policy: str = "replay", cadence_hours: int = 0, decisions: int = 0,
    run_seconds: float = 0.0, details: Mapping[str, float | int | str] | None = None,
) -> tuple[Score, BillingResult]:
    """Bill a purchase schedule over the whole trace and score the window ``[warmup, H)``."""
    if not 0 <= warmup_hours < trace.hours:
        raise InvalidInput(f"warmup_hours must be in [0, {trace.hours}), got {warmup_hours}",
                           source=trace.source)
    trace = trace.for_catalog(catalog)  # billing breaks ties by catalog order
    billing = bill_purchases(trace, catalog, purchases)
    summary = summarize(billing, slice(warmup_hours, None))
    offerings = tuple(by_offering(summary))
    score = Score(
        policy=policy, hours=summary.hours, warmup_hours=warmup_hours,
        cadence_hours=cadence_hours, decisions=decisions,
        on_demand_equivalent=summary.on_demand_equivalent,
        commitment_cost=summary.commitment_cost, on_demand_cost=summary.on_demand_cost,
        total_cost=summary.total_cost, savings=summary.savings, esr=summary.esr,
        coverage=summary.coverage, utilisation=summary.utilisation, waste=summary.waste,
        n_purchases=len(purchases), run_seconds=run_seconds, by_offering=offerings,
        details=details or {},
    )
    return score, billing


def _checked(decision: Sequence[tuple[str, float]], menu: Catalog, hour: int,
             policy: str) -> list[Purchase]:
    """The policy's decision as purchases, or an error if it breaks the menu."""
    allowed = {o.offering_id for o in menu.offerings}
    bought = []
    for offering_id, quantity in decision:
        if offering_id not in allowed:
            raise PolicyViolation(
                f"policy {policy!r} bought {offering_id!r} at hour {hour}, which is not on the "
                f"menu there (allowed and with its whole term inside the trace)")
        if not isinstance(quantity, int | float) or not math.isfinite(quantity) or quantity < 0:
            raise PolicyViolation(f"policy {policy!r} bought {quantity!r} units of "
                                  f"{offering_id!r} at hour {hour}: need a finite number >= 0")
        if quantity > MIN_QUANTITY:
            bought.append(Purchase(hour, offering_id, float(quantity)))
    return bought


def run_backtest(
    trace: UsageTrace, catalog: Catalog, policy: BacktestStrategy,
    config: BacktestConfig | None = None, *, catalog_source: str = "the catalog",
    started: float | None = None,
) -> BacktestResult:
    """Replay ``trace`` with ``policy`` and score it.

    ``catalog`` is the full catalog; the trace's keys must all be priced in it.
    ``started`` (a ``time.perf_counter()`` value) lets a caller count the time it
    spent building the policy in ``run_seconds``.
    """
    config = config or BacktestConfig()
    started = time.perf_counter() if started is None else started
    trace = trace.for_catalog(catalog, catalog_source=catalog_source)
    replay = market(catalog, trace, config.allowed, catalog_source=catalog_source)
    hours = decision_hours(trace.hours, replay.offerings, cadence_hours=config.cadence_hours,
                           warmup_hours=config.warmup_hours, source=trace.source)
    units = np.asarray(trace.units)
    owned = Portfolio()
    purchases: list[Purchase] = []
    for hour in hours:
        menu = Catalog(keys=replay.keys, offerings=buyable(replay.offerings, hour, trace.hours),
                       currency=replay.currency, source=replay.source)
        history = UsageHistory.before(units, hour, start=trace.start, key_ids=trace.key_ids)
        decision = policy.decide(history, owned, hour, menu)
        bought = _checked(decision, menu, hour, policy.name)
        owned = owned.with_purchases(bought, replay)
        purchases.extend(bought)
    details = policy.details() if isinstance(policy, Reporting) else {}
    score, billing = score_purchases(
        trace, replay, purchases, warmup_hours=config.warmup_hours, policy=policy.name,
        cadence_hours=config.cadence_hours, decisions=len(hours), details=details,
    )
    elapsed = time.perf_counter() - started
    if "lp_cost" in details:
        # Billed cost minus the LP's: what greedy billing loses against optimal allocation.
        details = {**details, "allocation_gap": score.total_cost - float(details["lp_cost"])}
    score = replace(score, run_seconds=elapsed, details=details)
    return BacktestResult(score=score, purchases=tuple(purchases), billing=billing)


def make_policy(name: str, trace: UsageTrace, catalog: Catalog,
                config: BacktestConfig | None = None, *,
                catalog_source: str = "the catalog",
                scenarios: ScenarioSource | None = None) -> BacktestStrategy:
    """Build a named policy; the oracle solves its LP on the whole trace here.

    ``ladder`` is :class:`~optimizer.ladder_policy.ForecastLadder` on ``scenarios``,
    which the caller composes (the optimizer does not import forecasting:
    :func:`ladder.scenarios.default_scenarios` is the forecast-driven default). It is told
    when each offering leaves the replay's menu (``menu_closes``): the contract sells a
    term only while it ends inside the trace, and the ladder defers purchases. With the
    policy's ``calibration_days`` it calibrates itself before each decision
    (:class:`optimizer.calibration.CalibratedLadder`).
    """
    config = config or BacktestConfig()
    if name == "none":
        return NoCommitments()
    if name == "lookback":
        return Lookback(config.lookback_hours)
    if name == "ladder":
        if scenarios is None:
            raise InvalidInput("the ladder policy needs a scenario source "
                               "(ladder.scenarios.default_scenarios() forecasts them)")
        ladder = ForecastLadder(scenarios=scenarios,
                                policy=config.ladder_policy or LADDER_POLICY,
                                seed=config.ladder_seed,
                                common_draws=config.ladder_common_draws,
                                menu_closes=partial(last_purchase_hour, hours=trace.hours))
        if ladder.policy.calibration_days > 0:
            # Imported here: optimizer.calibration imports this package.
            from optimizer.calibration import CalibratedLadder
            return CalibratedLadder(ladder)
        return ladder
    if name == "oracle":
        aligned = trace.for_catalog(catalog, catalog_source=catalog_source)
        replay = market(catalog, aligned, config.allowed, catalog_source=catalog_source)
        solution = solve_oracle(aligned, replay, cadence_hours=config.cadence_hours,
                                warmup_hours=config.warmup_hours,
                                time_limit_s=config.oracle_time_limit_s)
        return Oracle(solution)
    raise InvalidInput(f"unknown policy {name!r}: choose one of {', '.join(POLICY_NAMES)}")


def backtest(trace: UsageTrace, catalog: Catalog, policy: str,
             config: BacktestConfig | None = None, *,
             catalog_source: str = "the catalog",
             scenarios: ScenarioSource | None = None) -> BacktestResult:
    """Build the named policy and replay the trace with it (``run_seconds`` counts both)."""
    started = time.perf_counter()
    built = make_policy(policy, trace, catalog, config, catalog_source=catalog_source,
                        scenarios=scenarios)
    return run_backtest(trace, catalog, built, config, catalog_source=catalog_source,
                        started=started)
