"""The ladder policy: forecast scenarios, the risk-aware stochastic LP, a tranche per run.

At each decision :class:`ForecastLadder` (the backtest's ``ladder`` policy)

1. draws ``n_scenarios`` sample paths of usage over the horizon from its scenario
   source, given the usage seen so far;
2. learns each key's rate of decline from the last weeks of history
   (:func:`optimizer.risk.decline_rates`);
3. builds the stochastic LP (:mod:`optimizer.stochastic`) with the commitments
   owned and their expiries, the menu's offerings and the
   :class:`~optimizer.risk_settings.RiskSettings`, and solves it;
4. buys the policy's ``tranche_fraction`` of the LP's purchases, but never less than
   the *safe core*: what the same LP buys when it weighs (almost) only the worst tenth
   of the scenarios (CVaR weight 0.95), the part of the increment every scenario uses.
   The rest is left to later runs, which will have seen more: the ladder.

The scenario source is a parameter (any callable with the signature of
:data:`ScenarioSource`), so the policy can be run on any forecaster, or on
scenarios built another way. The optimizer does not import forecasting: the
forecast-based sources, and the default one, are composed in :mod:`ladder.scenarios`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from core.domain import Catalog, Offering, PaymentOption
from optimizer.lp_plan import round_down
from optimizer.risk import (
    Ramp,
    RetirementHazard,
    decline_rates,
    detect_ramp,
    held_level,
    pooled_declines,
    retirement_hazard,
)
from optimizer.risk_settings import RiskSettings
from optimizer.stochastic import (
    OwnedCommitment,
    ScenarioSet,
    StochasticProblem,
    StochasticSolution,
    optimize,
)

if TYPE_CHECKING:  # types only: the backtest's runner imports this module
    from optimizer.backtest.policies import UsageHistory
    from optimizer.backtest.purchases import Portfolio

FloatArray = npt.NDArray[np.float64]

ScenarioSource = Callable[[FloatArray, tuple[str, ...], datetime, int, int, int], FloatArray]
"""``(history (T, K), key_ids, first hour, horizon, n, seed) -> scenarios (n, horizon, K)``."""

DECLINE_DAYS = 14
"""Days of history the decline rate is learned from."""
MAX_HORIZON_HOURS = 336
"""The longest horizon forecast: longer terms are priced by the term-aware penalty."""


REPLAY_HOURS = 48
"""The replays draw on the last two days of history (whole days only)."""
DAY_HOURS = 24


def replay_index(n_hours: int, horizon: int, n: int, *,
                 replay_hours: int = REPLAY_HOURS) -> npt.NDArray[np.intp]:
    """``(n, horizon)`` hours of a history of ``n_hours`` that the replays of
    :func:`replay_scenarios` take, so that a caller can tell each replayed hour's age."""
    length = min(replay_hours, n_hours - n_hours % 24) if n_hours >= 24 else n_hours
    days = max(length // 24, 1)
    offsets = (np.arange(n) % days) * 24 if length >= 24 else np.zeros(n, dtype=np.intp)
    return n_hours - length + (offsets[:, None] + np.arange(horizon)[None, :]) % length


def replay_scenarios(history: FloatArray, horizon: int, n: int, *,
                     replay_hours: int = REPLAY_HOURS) -> FloatArray:
    """``(n, horizon, K)`` scenarios that replay the last ``replay_hours`` cyclically.

    Scenario ``j`` starts ``j`` days into the last ``L`` hours of history (``L`` =
    ``replay_hours``, or the whole days available) and runs through them in a loop, so every
    scenario holds the same hours in a different order of days: the distribution a
    lookback recommender sees, with the hour of day kept.
    """
    history = np.asarray(history, dtype=np.float64)
    return history[replay_index(history.shape[0], horizon, n, replay_hours=replay_hours)]


def blended_scenarios(forecast: ScenarioSource, *, replay_share: float = 0.5,
                      replay_hours: int = REPLAY_HOURS) -> ScenarioSource:
    """Forecast paths and history replays side by side (``replay_share`` of them replays).

    The replays are what a lookback recommender sees, made into scenarios; the
    forecast paths add what the history alone does not say (a trend, a level shift
    already under way). Either alone is fragile: replays miss a decline, and a
    forecaster fitted on a week of spiky usage can put its quantiles far off.
    """

    def source(history: FloatArray, key_ids: tuple[str, ...], start: datetime, horizon: int,
               n: int, seed: int) -> FloatArray:
        n_replay = round(n * replay_share)
        parts = []
        if n - n_replay > 0:
            parts.append(forecast(history, key_ids, start, horizon, n - n_replay, seed))
        if n_replay > 0:
            parts.append(replay_scenarios(history, horizon, n_replay,
                                          replay_hours=replay_hours))
        return np.concatenate(parts, axis=0)

    return source


SAFE_CORE_WEIGHT = 0.95
"""CVaR weight of the LP that sizes the safe core (the worst tenth of the scenarios)."""

LADDER_POLICY = RiskSettings(cvar_weight=0.8, cvar_alpha=0.9, representative_hours=240,
                               tranche_fraction=0.5, waste_weight=1.5, switching_cost=0.02)
"""The ladder's default: mostly CVaR of the loss at 90% (waste in the worst tenth of the
scenarios); half the increment per run beyond the safe core; 240 representative hours, so
a one-week horizon is solved hour by hour and a two-week one close to its full model; an
expected idle commitment dollar costs 2.5 (waste weight 1.5: with the backtest's menu end
known, ``ForecastLadder.menu_closes``, a weight of 1 left the suite's utilisation below
the 95% the issue asks). A return or exchange must save more than 2% of
the value it moves (the backtest buys only, so this is chosen on the sample's runs: it
stops a run returning a Savings Plan to buy the same again). The measured figures behind
each choice are in ``benchmarks/README.md``, "Optimizer (issue 5)": "Representative hours
on the suite", "The menu's end", "The waste weight", "The tranche rule"."""


def ramp_scenarios(paths: FloatArray, history: FloatArray, ramp: Ramp,
                   cap_hours: int) -> tuple[FloatArray, FloatArray]:
    """The scenarios with every ramping key's columns replaced, and their weights.

    A forecaster fitted on a week that holds a ramp (or a step up) mixes two regimes: its
    quantiles reach down to the usage before the change and up past any level seen, and
    the LP, weighing its worst tenth, buys nothing while usage is plainly above what is
    owned. For a ramping key ``k`` (slope ``s``, units per hour) every scenario instead
    replays the last day of history, hour of day kept (today's level: the days before it
    lag a ramp, and lifting them by the week's slope overshot a plateau reached after a
    step), and then:

    * even scenarios hold that level (the ramp stops now);
    * odd scenarios go on ramping, ``+ s · min(t, cap_hours)`` at hour ``t``.

    The odd scenarios weigh ``ramp.continues`` of the mass, the even ones the rest; the
    other keys keep their own paths.
    """
    n, horizon, _ = paths.shape
    history = np.asarray(history, dtype=np.float64)
    paths = paths.copy()
    day = min(DAY_HOURS, history.shape[0])
    index = history.shape[0] - day + np.arange(horizon) % day  # the last day, in a loop
    odd = np.arange(n) % 2 == 1
    continued = odd[:, None, None] * np.minimum(np.arange(1, horizon + 1),
                                                cap_hours)[None, :, None]
    keys = np.flatnonzero(ramp.rising)
    slope = ramp.slope[keys][None, None, :]
    paths[:, :, keys] = history[index][:, keys][None, :, :] + slope * continued
    if odd.all() or not odd.any():
        return paths, np.full(n, 1.0 / n)
    weights = np.where(odd, ramp.continues / odd.sum(), (1 - ramp.continues) / (~odd).sum())
    return paths, weights


def retirement_scenarios(paths: FloatArray, weights: FloatArray, hazard: RetirementHazard,
                         count: int) -> tuple[FloatArray, FloatArray]:
    """``paths`` with ``count`` scenarios in which all usage stops, weighted by the hazard.

    The chance that usage retires within the horizon ``H`` is ``p = 1 − e^{−λ̂H}``. The
    retirement hours are stratified over the hazard's law given a retirement inside the
    horizon: ``u_i = −ln(1 − p·(i + ½)/count) / λ̂``; retirement ``i`` copies base scenario
    ``i·S/count`` and sets it to zero from ``u_i`` on. They share ``p`` of the mass, the base
    scenarios ``1 − p`` in their own proportions. A whole scope stops at once here, not one
    key at a time: fleets are retired together, and the LP hedges against the worse case.
    """
    n, horizon, _ = paths.shape
    p = hazard.probability(horizon)
    if count <= 0 or p <= 0:
        return paths, weights
    rate = hazard.rate
    stops = [int(-np.log1p(-p * (i + 0.5) / count) / rate) for i in range(count)]
    extra = np.stack([paths[(i * n) // count] for i in range(count)])
    for i, hour in enumerate(stops):
        extra[i, min(hour, horizon):] = 0.0
    mass = np.concatenate([weights / weights.sum() * (1 - p), np.full(count, p / count)])
    return np.concatenate([paths, extra]), mass


def forecast_problem(
    units: FloatArray, key_ids: tuple[str, ...], start: datetime,
    owned: tuple[OwnedCommitment, ...], catalog: Catalog, *, scenarios: ScenarioSource,
    policy: RiskSettings = LADDER_POLICY, n_scenarios: int = 8,
    max_horizon_hours: int = MAX_HORIZON_HOURS, seed: int = 0,
    last_purchase: Mapping[str, int] | None = None, ramp: Ramp | None = None,
) -> StochasticProblem | None:
    """The stochastic problem on scenarios drawn after the history ``units`` (hours × keys,
    the first hour at ``start``); ``None`` when the policy allows nothing to buy.

    The horizon is the longest allowed term, at most ``max_horizon_hours`` (the rest
    of a term is priced by the decline learned from the last :data:`DECLINE_DAYS` of the
    usage each offering covers, pooled over its keys, plus the retirement hazard); keys are
    weighed by their mean usage over the last week. ``last_purchase`` (per offering id, the
    last hour from now at which it can be bought) keeps the LP from planning purchases the
    menu will not allow. With the policy's ``ramp_days``, ramping keys get the ramp's
    scenarios (:func:`ramp_scenarios`; ``ramp`` when the caller has found it already,
    :func:`scope_ramp`); with ``retirement_scenarios``, scenarios in which the scope
    retires are added (:func:`retirement_scenarios`).
    """
    candidates = policy.candidates(catalog.offerings)
    if not candidates or units.shape[0] == 0:
        return None
    horizon = min(max(o.term_hours for o in candidates), max_horizon_hours)
    paths = scenarios(units, key_ids, start, horizon, n_scenarios, seed)
    weights = np.full(paths.shape[0], 1.0 / paths.shape[0])
    ramp = ramp if ramp is not None else scope_ramp(units, policy)
    if ramp is not None and ramp.rising.any():
        paths, weights = ramp_scenarios(paths, units, ramp, policy.ramp_cap_hours)
    hazard = 0.0
    if policy.retirement_scenarios > 0:
        learned = retirement_hazard(units, prior_events=policy.hazard_prior_events,
                                    prior_hours=policy.hazard_prior_hours)
        paths, weights = retirement_scenarios(paths, weights, learned,
                                              policy.retirement_scenarios)
        hazard = learned.rate
    priced = catalog.on_demand_rates()
    rates = np.array([priced[k] for k in key_ids])
    offerings = (*candidates, *(c.offering for c in owned))
    return StochasticProblem(
        scenarios=ScenarioSet(paths, key_ids, weights),
        on_demand_rates=rates,
        candidates=candidates,
        owned=owned,
        policy=policy,
        decline=decline_rates(units, days=DECLINE_DAYS),
        recent_usage=units[-168:].mean(axis=0),
        pool_decline=pooled_declines(units, key_ids, offerings, rates, days=DECLINE_DAYS),
        last_purchase=last_purchase,
        hazard=hazard,
    )


def scope_ramp(units: FloatArray, policy: RiskSettings) -> Ramp | None:
    """The ramps in the history ``units`` (``None`` when the policy does not look for them)."""
    if policy.ramp_days <= 0:
        return None
    return detect_ramp(units, days=policy.ramp_days)


def young_menu(candidates: Sequence[Offering]) -> tuple[Offering, ...]:
    """The offerings young usage may be bought in: the shortest term's no-upfront ones (all
    of that term's when it sells none without upfront). They are the cheapest to be wrong
    in: the shortest commitment, and no cash paid for hours that may never be used."""
    shortest = min(o.term_hours for o in candidates)
    short = tuple(o for o in candidates if o.term_hours == shortest)
    bare = tuple(o for o in short if o.payment_option is PaymentOption.NO_UPFRONT)
    return bare or short


def young_split(problem: StochasticProblem, held: FloatArray,
                ramp: Ramp | None) -> StochasticProblem | None:
    """The problem of the *established* usage, or ``None`` when there is no young usage to
    keep off the long terms.

    A ramping key ``k`` (``ramp.rising``) splits at its held level ``b[k]``
    (:func:`optimizer.risk.held_level`): its scenarios are capped,

        u_base[s, h, k] = min(u[s, h, k], b[k]),

    the other keys keep theirs. The capped problem keeps the whole menu, so the established
    part of a key is bought as it would be without a ramp (its coverage of a level ``c`` pays
    iff ``P(u ≥ c)`` is high enough, and for ``c ≤ b`` capping leaves that chance as it is);
    the rest, ``u − u_base``, is the young increment, which :func:`young_increment` prices on
    :func:`young_menu` only. ``None`` when no key ramps above its held level, or when every
    candidate is on the young menu already (one LP decides the same).
    """
    if ramp is None or not ramp.rising.any():
        return None
    usage = problem.scenarios.usage
    cap = np.where(ramp.rising, np.asarray(held, dtype=np.float64), np.inf)
    if not (usage > cap[None, None, :]).any():
        return None
    if len(young_menu(problem.candidates)) == len(problem.candidates):
        return None
    capped = ScenarioSet(np.minimum(usage, cap[None, None, :]), problem.key_ids,
                         problem.scenarios.probabilities)
    return replace(problem, scenarios=capped)


def young_increment(problem: StochasticProblem,
                    established: Mapping[str, float]) -> StochasticProblem:
    """The problem of the young increment: the whole scenarios, what the established
    problem bought already owned (whole terms ahead), and only :func:`young_menu` to buy."""
    position = {o.offering_id: o for o in problem.candidates}
    bought = tuple(OwnedCommitment(offering=position[offering_id], quantity=quantity,
                                   hours_left=position[offering_id].term_hours,
                                   commitment_id=f"{offering_id}@established")
                   for offering_id, quantity in sorted(established.items()) if quantity > 0)
    return replace(problem, candidates=young_menu(problem.candidates),
                   owned=(*problem.owned, *bought))


def solve_safe_core(problem: StochasticProblem, *, time_limit_s: float) -> StochasticSolution:
    """The *safe core*: what the same LP buys when it weighs (almost) only the worst tenth
    of the scenarios, the part of the increment every scenario uses.

    (Weight 0.95, not 1: with no weight on the other scenarios their coverage is free,
    and the LP so degenerate that HiGHS hit its time limit on the suite's fleet10-tiled.)
    """
    cautious = replace(problem, policy=replace(problem.policy, cvar_weight=SAFE_CORE_WEIGHT))
    return optimize(cautious, time_limit_s=time_limit_s, backend="highs")


@dataclass
class ForecastLadder:
    """The backtest's ``ladder`` policy: forecasts, the stochastic LP, tranches.

    ``round_quantities`` rounds purchases down to what a cloud sells (whole units,
    cents of hourly commitment); the backtest compares policies without it, as the
    lookback reference and the oracle buy fractional quantities.

    The replay can only buy (its decisions are purchases), so the policy's exchanges
    and returns are switched off here: left on, the LP would count on returning a
    recent Savings Plan and buying it again (a term extended for free) that the
    replay never executes.

    ``menu_closes`` gives the last hour at which an offering is on the menu: a replay's
    menu sells a term only while it ends inside the trace (BENCHMARK.md;
    :func:`optimizer.backtest.schedule.last_purchase_hour`), so each term leaves it before
    the trace ends. The ladder defers on two counts, the tranche and the purchases its LP
    plans for later runs, and both assume a later run can still buy. With ``menu_closes``
    set, the LP plans no purchase of an offering after it leaves the menu, and the run
    after which no run can buy it buys the LP's whole quantity of it. ``None`` (a live
    account): every offering stays on the menu.
    """

    scenarios: ScenarioSource
    policy: RiskSettings = LADDER_POLICY
    n_scenarios: int = 8
    max_horizon_hours: int = MAX_HORIZON_HOURS
    time_limit_s: float = 60.0
    seed: int = 0
    round_quantities: bool = False
    safe_core: bool = True
    menu_closes: Callable[[Offering], int] | None = None
    common_draws: bool = False
    name: str = "ladder"
    solves_: int = 0
    seconds_: float = 0.0
    lp_seconds_: float = 0.0
    ramp_runs_: int = 0
    young_runs_: int = 0
    last_solution_: StochasticSolution | None = None

    def problem_at(self, history: UsageHistory, owned: Portfolio, hour: int,
                   catalog: Catalog, ramp: Ramp | None = None) -> StochasticProblem | None:
        """The stochastic problem the policy solves at ``hour`` (``None``: nothing to decide);
        ``ramp``: the ramps already found in ``history`` (found here when omitted)."""
        if history.hours == 0:
            return None
        return forecast_problem(
            np.asarray(history.units), history.key_ids, history.start, owned_at(owned, hour),
            catalog, scenarios=self.scenarios,
            policy=replace(self.policy, exchanges=False, returns=False),
            n_scenarios=self.n_scenarios, max_horizon_hours=self.max_horizon_hours,
            seed=self.seed if self.common_draws else self.seed + hour,
            last_purchase=self.last_purchase(hour, catalog), ramp=ramp)

    def last_purchase(self, hour: int, catalog: Catalog) -> dict[str, int] | None:
        """Per offering on the menu, the last hour from ``hour`` at which it can still be
        bought (``None`` without ``menu_closes``: always)."""
        if self.menu_closes is None:
            return None
        return {o.offering_id: self.menu_closes(o) - hour for o in catalog.offerings}

    def leaves_menu(self, problem: StochasticProblem, offering_id: str) -> bool:
        """Whether no later run can buy ``offering_id``: the tranche would defer it for good."""
        last = (problem.last_purchase or {}).get(offering_id)
        cadence = self.policy.cadence_hours
        return last is not None and cadence is not None and last < cadence

    def decide(self, history: UsageHistory, owned: Portfolio, hour: int,
               catalog: Catalog) -> list[tuple[str, float]]:
        """The purchases at ``hour``: the tranche of the LP's optimal increment."""
        started = time.perf_counter()
        ramp = scope_ramp(np.asarray(history.units), self.policy)
        problem = self.problem_at(history, owned, hour, catalog, ramp)
        if problem is None:
            return []
        # A ramp is no time to ladder: usage is already above what is owned, and every run
        # that waits pays on-demand for it. Its scenarios already hedge the stop.
        whole = ramp is not None and bool(ramp.rising.any())
        self.ramp_runs_ += int(whole)
        quantities = self._solve(problem, np.asarray(history.units), ramp)
        core: dict[str, float] = {}
        if self.policy.tranche_fraction < 1.0 and self.safe_core and quantities and not whole:
            safe = solve_safe_core(problem, time_limit_s=self.time_limit_s)
            self.lp_seconds_ += safe.build_seconds + safe.solve_seconds
            core = dict(safe.quantities)
        position = {o.offering_id: o for o in problem.candidates}
        bought = []
        for offering_id, quantity in sorted(quantities.items()):
            amount = quantity if whole or self.leaves_menu(problem, offering_id) else \
                self.policy.tranche(quantity, core.get(offering_id, 0.0))
            if self.round_quantities:
                amount = round_down(position[offering_id], amount)
            if amount > 0:
                bought.append((offering_id, float(amount)))
        self.seconds_ += time.perf_counter() - started
        return bought

    def _solve(self, problem: StochasticProblem, units: FloatArray,
               ramp: Ramp | None) -> dict[str, float]:
        """The LP's purchases now: one LP, or with the policy's ``young_days`` and young usage
        (:func:`young_split`) the established usage's LP on the whole menu, then the young
        increment's on the young menu, their purchases added."""
        split = None if self.policy.young_days <= 0 else \
            young_split(problem, held_level(units, self.policy.young_days), ramp)
        if split is None:
            return self._optimize(problem)
        self.young_runs_ += 1
        established = self._optimize(split)
        young = self._optimize(young_increment(problem, established))
        return {offering_id: established.get(offering_id, 0.0) + young.get(offering_id, 0.0)
                for offering_id in sorted(established.keys() | young.keys())}

    def _optimize(self, problem: StochasticProblem) -> dict[str, float]:
        """One LP solved (counted and timed): its purchases now."""
        solution = optimize(problem, time_limit_s=self.time_limit_s, backend="highs")
        self.last_solution_ = solution
        self.solves_ += 1
        self.lp_seconds_ += solution.build_seconds + solution.solve_seconds
        return dict(solution.quantities)

    def details(self) -> dict[str, float | int | str]:
        """Solves, time in the LP and in all (forecasts included), the policy's risk figures."""
        return {"lp_solves": self.solves_, "lp_seconds": self.lp_seconds_,
                "policy_seconds": self.seconds_, "scenarios": self.n_scenarios,
                "cvar_weight": self.policy.cvar_weight,
                "tranche_fraction": self.policy.tranche_fraction, "ramp_runs": self.ramp_runs_,
                "young_runs": self.young_runs_}


def owned_at(portfolio: Portfolio, hour: int) -> tuple[OwnedCommitment, ...]:
    """The holdings active at ``hour`` as owned commitments (hours left, age)."""
    return tuple(
        OwnedCommitment(offering=h.offering, quantity=h.quantity, hours_left=h.end - hour,
                        age_hours=hour - h.start,
                        commitment_id=f"{h.offering.offering_id}@{h.start}")
        for h in portfolio.holdings if h.is_active(hour)
    )


__all__ = ["LADDER_POLICY", "ForecastLadder", "ScenarioSource", "blended_scenarios",
           "forecast_problem", "owned_at", "ramp_scenarios", "replay_index", "replay_scenarios",
           "retirement_scenarios", "scope_ramp", "solve_safe_core", "young_increment",
           "young_menu", "young_split"]
