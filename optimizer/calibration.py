"""Self-calibration per scope: replay the scope's own recent past over a few risk settings.

Before a decision at hour ``t`` the planner may ask which of a small grid of its risk
settings (:data:`CALIBRATION_GRID`: the waste weight and tranche fraction, the ramp rule,
the retirement hazard's prior) would have served *this* scope best lately.
:func:`calibrate` answers from the usage strictly before ``t`` only:

1. **Rolling origin.** The replay window is the last ``calibration_days`` days before
   ``t`` (fewer when history is short), ``[t0, t)``. Its decisions are taken at the
   policy's cadence, ``t0, t0 + c, …``; the decision at ``d`` sees the usage of
   ``[0, d)`` only, through the same planner as the real run
   (:class:`optimizer.ladder_policy.ForecastLadder`: the scenario source, the stochastic
   LP on its representative hours, the safe core and the tranche), with the grid point's
   settings. The replay starts from the commitments really owned at ``t0`` (bought
   before it) and buys what the replayed planner buys.
2. **Truncated-term scoring.** The billing engine (:func:`core.billing.apply_commitments`)
   charges the replay's portfolio over the window's hours only: a commitment bought in
   the replay pays its amortized hourly cost for the hours from its purchase to ``t`` and
   nothing after. Why: the hours after ``t`` are the future, which the replay must not
   read; charging a whole term against usage it cannot see would need a forecast of that
   usage, which is what the replay is there to check. Every grid point is charged by the
   same rule, so the rule ranks them fairly on what each bought *and used*; what it does
   not see is a commitment stranded after ``t``, which is why the choice needs a
   utilisation floor as well as the best ESR.
3. **The choice.** Among the grid points whose replay utilisation reaches the floor
   (``calibration_floor``), the highest realised ESR; a point other than the current
   settings must beat theirs by :data:`CALIBRATION_MARGIN` (sampling noise is not a
   reason to move). If none reaches the floor, the most utilised point. With fewer than
   :data:`MIN_REPLAY_DECISIONS` replay decisions, each seeing at least
   :data:`REPLAY_WARMUP_HOURS` of history, the current settings are kept and the
   reason is given; the same when a replay's solver fails (:class:`core.errors.SolverError`,
   a HiGHS time limit included), so that the real decision still goes ahead.

The function is pure: it reads only the history handed to it (a frozen copy of the hours
before ``t``), writes nothing, and returns a :class:`Calibration` that the plan stores
(``ladder plans show`` prints it). :class:`CalibratedLadder` is the backtest's ``ladder``
with calibration on: it calibrates before each decision (or every
``calibration_hold_hours``) and decides with the chosen settings.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np

from core.billing import apply_commitments, summarize
from core.domain import HOUR, Catalog, Commitment
from core.errors import SolverError
from optimizer.backtest.policies import Decision, UsageHistory
from optimizer.backtest.purchases import Holding, Portfolio, Purchase
from optimizer.ladder_policy import ForecastLadder
from optimizer.risk_settings import RiskSettings

REPLAY_WARMUP_HOURS = 168
"""The history every replay decision sees at least: a week, the backtest's warm-up (the
forecaster's daily cycle and the ramp test's days need it)."""
MIN_REPLAY_DECISIONS = 3
"""Fewer replay decisions than this are too few to rank settings on: the defaults stay."""
CALIBRATION_MARGIN = 0.002
"""A setting other than the current one must beat its replay ESR by this (0.2 point of
the window's on-demand bill): stated, not tuned; it keeps a tie from flipping the choice."""
RISK_FIELDS = ("waste_weight", "tranche_fraction", "ramp_days", "retirement_scenarios",
               "hazard_prior_events", "hazard_prior_hours")
"""The settings a calibration may move, and reports."""


@dataclass(frozen=True, slots=True)
class GridPoint:
    """One setting of the grid: a label and the policy fields it overrides."""

    label: str
    overrides: tuple[tuple[str, object], ...] = ()

    def apply(self, policy: RiskSettings) -> RiskSettings:
        """``policy`` with this point's overrides (and calibration off: no replay in a
        replay)."""
        overrides: dict[str, Any] = dict(self.overrides)
        return replace(policy, calibration_days=0, **overrides)


CALIBRATION_GRID: tuple[GridPoint, ...] = (
    GridPoint("current"),
    GridPoint("ramp", (("ramp_days", 4),)),
    GridPoint("bold", (("waste_weight", 0.5), ("tranche_fraction", 1.0))),
    GridPoint("hazard", (("retirement_scenarios", 4), ("hazard_prior_hours", 8760.0))),
)
"""Four points, the first the current settings: the ramp rule of the stress suite
(``ramp_days=4``, chosen there, README "Draws and the ramp rule"); a bolder ladder (idle
commitment weighed less, the whole increment bought); and a cautious one (scenarios in
which the scope retires, with a prior of one retirement per key-year instead of five)."""


@dataclass(frozen=True, slots=True)
class PointScore:
    """A grid point's replay: its settings and what the billing engine made of them."""

    label: str
    settings: dict[str, float | int]
    esr: float
    utilisation: float
    coverage: float
    savings: float
    on_demand_equivalent: float
    purchases: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {"label": self.label, "settings": dict(self.settings), "esr": self.esr,
                "utilisation": self.utilisation, "coverage": self.coverage,
                "savings": self.savings, "on_demand_equivalent": self.on_demand_equivalent,
                "purchases": self.purchases}


@dataclass(frozen=True, slots=True)
class Calibration:
    """The outcome: the policy to decide with, which point it is, why, and the replay's
    figures (empty when it fell back)."""

    policy: RiskSettings
    chosen: str
    calibrated: bool
    reason: str
    replay_start: datetime | None
    replay_hours: int
    decisions: int
    floor: float
    points: tuple[PointScore, ...] = ()
    seconds: float = 0.0

    @property
    def days_replayed(self) -> float:
        """The replay window in days."""
        return self.replay_hours / 24

    def to_details(self) -> dict[str, Any]:
        """What the plan stores under ``details["calibration"]``."""
        return {
            "calibrated": self.calibrated, "chosen": self.chosen, "reason": self.reason,
            "settings": risk_settings(self.policy),
            "replay_start": self.replay_start.isoformat() if self.replay_start else None,
            "replay_hours": self.replay_hours, "days_replayed": self.days_replayed,
            "decisions": self.decisions, "utilisation_floor": self.floor,
            "scoring": "truncated term: a commitment bought in the replay is charged for the "
                       "replay window's hours only (the hours after the decision are not "
                       "read)",
            "points": [p.to_dict() for p in self.points], "seconds": self.seconds,
        }


def risk_settings(policy: RiskSettings) -> dict[str, float | int]:
    """The policy's values of the fields a calibration may move."""
    return {name: getattr(policy, name) for name in RISK_FIELDS}


def replay_decisions(history_hours: int, *, days: int, cadence_hours: int,
                     warmup_hours: int = REPLAY_WARMUP_HOURS) -> tuple[int, ...]:
    """The replay's decision hours before ``history_hours``: the last ``days`` days at the
    cadence, each seeing at least ``warmup_hours`` (fewer days when history is short)."""
    wanted = days * 24 // cadence_hours
    possible = max((history_hours - warmup_hours) // cadence_hours, 0)
    n = min(wanted, possible)
    first = history_hours - n * cadence_hours
    return tuple(first + i * cadence_hours for i in range(n))


def holdings_before(owned: Portfolio, hour: int) -> Portfolio:
    """The commitments bought before ``hour`` and still active at it: what the replay
    starts from (later real purchases are what the replay replaces)."""
    return Portfolio(tuple(h for h in owned.holdings if h.start < hour and h.end > hour))


def portfolio_from(commitments: Sequence[Commitment], start: datetime, *,
                   active_at: datetime | None = None) -> Portfolio:
    """Dated commitments as holdings at hour indices from ``start`` (a live run's
    inventory in the history's clock; whole hours, rounded down), leaving out those no
    longer active at ``active_at`` (the replay's start: one exchanged or returned before it
    was not owned then). A holding runs its whole term: one given up inside the replay
    window is kept to its term there, as the replay only buys."""
    return Portfolio(tuple(
        Holding(c.offering, c.quantity, math.floor((c.start - start) / HOUR))
        for c in sorted(commitments, key=lambda c: c.start)
        if active_at is None or c.end > active_at))


def replay_point(history: UsageHistory, catalog: Catalog, owned: Portfolio,
                 decisions: Sequence[int], planner: ForecastLadder) -> tuple[Portfolio, int]:
    """Run ``planner`` at each replay decision on the history before it; the portfolio
    at the end and the number of purchases."""
    units = np.asarray(history.units)
    portfolio = holdings_before(owned, decisions[0])
    bought = 0
    for hour in decisions:
        seen = UsageHistory.before(units, hour, start=history.start, key_ids=history.key_ids)
        decision: Decision = planner.decide(seen, portfolio, hour, catalog)
        purchases = [Purchase(hour, o, q) for o, q in decision if q > 0]
        portfolio = portfolio.with_purchases(purchases, catalog)
        bought += len(purchases)
    return portfolio, bought


def score_window(history: UsageHistory, catalog: Catalog, portfolio: Portfolio,
                 first: int) -> tuple[float, float, float, float, float]:
    """ESR, utilisation, coverage, savings and on-demand equivalent of ``portfolio`` billed
    over the hours ``[first, history.hours)`` only (truncated terms)."""
    hours = history.hours - first
    offerings = portfolio.offerings()
    quantity = portfolio.quantity(offerings, first, hours)
    priced = catalog.on_demand_rates()
    rates = np.array([priced[k] for k in history.key_ids])
    billing = apply_commitments(np.asarray(history.units)[first:], history.key_ids, rates,
                                offerings, quantity)
    summary = summarize(billing)
    return (summary.esr, summary.utilisation, summary.coverage, summary.savings,
            summary.on_demand_equivalent)


def choose(points: Sequence[PointScore], floor: float, *,
           margin: float = CALIBRATION_MARGIN) -> tuple[int, str]:
    """The index of the chosen point and why: the best ESR among those at or above the
    utilisation floor (the first point, the current settings, unless beaten by
    ``margin``), else the most utilised."""
    eligible = [i for i, p in enumerate(points) if p.utilisation >= floor - 1e-12]
    if not eligible:
        best = max(range(len(points)), key=lambda i: (points[i].utilisation, points[i].esr,
                                                      -i))
        return best, (f"no setting reached utilisation {floor:.0%} in the replay: the most "
                      f"utilised ({points[best].utilisation:.1%})")
    best = max(eligible, key=lambda i: (points[i].esr, -i))
    if 0 in eligible and best != 0 and points[best].esr < points[0].esr + margin:
        best = 0
    return best, (f"the best replay ESR ({points[best].esr:.1%}) among the settings at or "
                  f"above utilisation {floor:.0%}")


def calibrate(history: UsageHistory, catalog: Catalog, planner: ForecastLadder, *,
              owned: Portfolio | None = None,
              grid: Sequence[GridPoint] = CALIBRATION_GRID) -> Calibration:
    """Replay the last days of ``history`` with ``planner`` at every grid point, score each
    with the billing engine and return the chosen settings (module docstring).

    ``planner.policy`` holds the current settings and the calibration's own
    (``calibration_days``, ``calibration_floor``, ``cadence_hours``); ``owned`` the
    commitments held, at hour indices of ``history`` (those bought before the replay
    window are its starting portfolio). Only ``history`` is read: hours before the decision.
    """
    started = time.perf_counter()
    current = planner.policy
    cadence = current.cadence_hours or 24
    floor = current.calibration_floor
    decisions = replay_decisions(history.hours, days=current.calibration_days,
                                 cadence_hours=cadence)

    def kept(reason: str) -> Calibration:
        return Calibration(policy=current, chosen="current", calibrated=False,
                           reason=f"{reason}: the current settings are kept",
                           replay_start=None, replay_hours=0, decisions=len(decisions),
                           floor=floor, seconds=time.perf_counter() - started)

    if len(decisions) < MIN_REPLAY_DECISIONS:
        need = REPLAY_WARMUP_HOURS + MIN_REPLAY_DECISIONS * cadence
        return kept(f"history of {history.hours} h is shorter than the {need} h a replay "
                    f"needs ({REPLAY_WARMUP_HOURS} h of warm-up and {MIN_REPLAY_DECISIONS} "
                    f"decisions every {cadence} h)")
    owned = owned or Portfolio()
    policies: list[tuple[GridPoint, RiskSettings]] = []
    for point in grid:
        applied = point.apply(current)
        if all(applied != p for _, p in policies):
            policies.append((point, applied))
    scores = []
    for point, policy in policies:
        replayer = replace(planner, policy=policy, menu_closes=None, solves_=0,
                           seconds_=0.0, lp_seconds_=0.0, ramp_runs_=0, last_solution_=None)
        try:
            portfolio, bought = replay_point(history, catalog, owned, decisions, replayer)
        except SolverError as error:
            # A replay is advice: its solver failing must not stop the real decision.
            return kept(f"the replay of {point.label!r} failed ({error})")
        esr, utilisation, coverage, savings, equivalent = score_window(
            history, catalog, portfolio, decisions[0])
        scores.append(PointScore(point.label, risk_settings(policy), esr, utilisation,
                                 coverage, savings, equivalent, bought))
    index, reason = choose(scores, floor)
    chosen_point, chosen_policy = policies[index]
    return Calibration(
        policy=replace(chosen_policy, calibration_days=current.calibration_days),
        chosen=chosen_point.label, calibrated=True, reason=reason,
        replay_start=history.start + decisions[0] * HOUR,
        replay_hours=history.hours - decisions[0], decisions=len(decisions), floor=floor,
        points=tuple(scores), seconds=time.perf_counter() - started)


@dataclass
class CalibratedLadder:
    """The backtest's ``ladder`` with self-calibration: before a decision it calibrates on
    the history it is given (every ``calibration_hold_hours``; the choice is held in
    between) and decides with the chosen settings.

    ``ladder`` keeps the current settings in its ``policy``; it decides with the chosen
    ones and is put back after each decision.
    """

    ladder: ForecastLadder
    grid: tuple[GridPoint, ...] = CALIBRATION_GRID
    name: str = "ladder"
    calibrations_: list[Calibration] = field(default_factory=list)
    last_hour_: int | None = None

    def decide(self, history: UsageHistory, owned: Portfolio, hour: int,
               catalog: Catalog) -> Decision:
        """Calibrate (when due), then the ladder's purchases with the chosen settings."""
        current = self.ladder.policy
        due = (self.last_hour_ is None
               or hour - self.last_hour_ >= current.calibration_hold_hours)
        if due:
            self.calibrations_.append(calibrate(history, catalog, self.ladder, owned=owned,
                                                grid=self.grid))
            self.last_hour_ = hour
        chosen = self.calibrations_[-1].policy
        try:
            self.ladder.policy = chosen
            return self.ladder.decide(history, owned, hour, catalog)
        finally:
            self.ladder.policy = current

    def details(self) -> dict[str, float | int | str]:
        """The ladder's figures, and how often each setting was chosen and at what cost."""
        chosen: dict[str, int] = {}
        for c in self.calibrations_:
            label = c.chosen if c.calibrated else "fallback"
            chosen[label] = chosen.get(label, 0) + 1
        return {**self.ladder.details(),
                "calibrations": len(self.calibrations_),
                "calibration_seconds": sum(c.seconds for c in self.calibrations_),
                "calibration_chosen": ", ".join(f"{k} {v}" for k, v in sorted(chosen.items()))}


__all__ = ["CALIBRATION_GRID", "CALIBRATION_MARGIN", "MIN_REPLAY_DECISIONS",
           "REPLAY_WARMUP_HOURS", "CalibratedLadder", "Calibration", "GridPoint",
           "PointScore", "calibrate", "choose", "holdings_before", "portfolio_from",
           "replay_decisions", "risk_settings", "score_window"]
