"""The optimizer's risk settings: the risk appetite, caps and choices a person sets for it.

:class:`RiskSettings` (the brief's purchase ``Policy``; ``PurchasePolicy`` before) is
named apart from the two other things Ladder calls a policy: a scope's
:class:`executor.policy.ScopePolicy` (the limits inside which the executor buys
without a person) and :class:`optimizer.backtest.BacktestStrategy`, the protocol
of the replayed strategies (``none``, ``lookback``, ``ladder``, ``oracle``). A
strategy such as ``ladder`` *uses* risk settings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from core.domain import Offering, PaymentOption

RiskAppetite = Literal["cautious", "balanced", "bold"]

_APPETITES: dict[str, tuple[float, float]] = {
    # (CVaR weight, decline aversion); "cautious" is the backtest ladder's CVaR weight.
    "cautious": (0.8, 1.5),
    "balanced": (0.5, 1.0),
    "bold": (0.0, 0.5),
}


@dataclass(frozen=True, slots=True)
class RiskSettings:
    """What the optimizer may buy and how much risk it takes.

    * ``cvar_alpha``, ``cvar_weight``: the objective is
      ``(1 - w) · E[cost] + w · (E[on-demand equivalent] + CVaR_α(loss))`` over the
      scenarios, the loss being what the portfolio costs beyond paying on-demand
      (its waste when usage falls); ``w = 0`` is risk neutral. ``cvar_bound``
      (dollars over the horizon), when set, caps ``CVaR_α(loss)`` outright: 0 says
      the portfolio must at least pay for itself in the worst ``1 - α`` scenarios.
    * ``decline_aversion`` multiplies the term-aware penalty learned from the
      history (:mod:`optimizer.risk`): 0 ignores the risk that usage falls after
      the horizon, 1 prices the learned decline as it is.
    * ``max_new_hourly``: new amortized commitment per run, dollars per hour;
      ``max_upfront``: upfront cash per run, dollars.
    * ``allowed_offerings`` (ids), ``allowed_terms`` (hours), ``allowed_payment_options``,
      ``allowed_kinds`` (``offering.kind``): ``None`` allows all.
    * ``cost_of_capital``: annual rate charged on upfront cash.
    * ``tranche_fraction``: the share of the optimal increment bought on one run
      (laddering: 1 buys it all, 0.5 half of it, the rest is left to later runs).
    * ``representative_hours``: how many weighted hours the LP keeps per scenario
      (``None``: every hour, the full model).
    * ``exchanges``, ``returns``: whether the plan may exchange convertible
      commitments and return spend commitments within ``return_window_hours``.
    * ``switching_cost`` (φ): a return or an exchange must save more than this share of
      the owned value it moves over the horizon. It is a hurdle in the LP, not a fee
      (AWS charges none): without it the LP is indifferent between keeping a Savings
      Plan and returning it to buy the same one again, and two runs can move the
      same commitment back and forth between near-equal choices.
    * ``min_utilisation``: a floor on the expected utilisation (over the scenarios
      and hours) of every coverage pattern the plan buys into; soft, so that
      owned commitments already below it do not make the LP infeasible.
    * ``waste_weight`` (κ): each expected idle commitment dollar costs ``1 + κ`` in the
      objective (:mod:`optimizer.stochastic`, "Waste aversion"): a unit is bought only
      if it is expected to be used at least ``(1 + κ) c / (r + κ c)`` of the hours (its
      price ``c``, the on-demand rate ``r``), not ``c / r``. 0 is the plain expected
      cost; the ladder uses 0.5, chosen on the backtest suite (``benchmarks/README.md``).
    * ``plan_ahead``: let the LP plan purchases at later runs inside the horizon
      (when owned commitments expire), so that it does not buy today for a gap
      that opens later; only today's purchases are made. Later runs are every
      ``cadence_hours`` (and at each expiry); with ``recourse`` each scenario plans
      its own later purchases (wait and see), otherwise one plan for all.
    * ``hazard_prior_events`` retirements in ``hazard_prior_hours`` key-hours: the prior of
      the retirement hazard learned from the scope's history
      (:func:`optimizer.risk.retirement_hazard`); the default, one retirement per five key-years, is
      stated, not tuned. ``retirement_scenarios`` adds that many scenarios in which all usage
      stops within the horizon, weighted by the hazard's chance of it (0: none); the hazard
      also joins the learned decline in pricing the term beyond the horizon.
    * ``ramp_days``: a key whose daily means rise significantly over this many days is a
      ramp (:func:`optimizer.risk.detect_ramp`; 0: never): its scenarios become the recent
      level held (the ramp stops now) or the ramp continued for at most ``ramp_cap_hours``,
      weighted by how often ramps went on in the history, and the run buys the LP's whole
      increment instead of a tranche.
    * ``young_days`` (with ``ramp_days``): a ramping key's usage above the lowest daily mean
      of its last this many days (the level it has held that long,
      :func:`optimizer.risk.held_level`) is young, of unknown life: the run buys that
      increment only in the shortest term's no-upfront offerings, while the held level keeps
      the whole menu (:func:`optimizer.ladder_policy.young_split`; 0: the whole menu for all).
    * ``calibration_days``: before each decision replay the scope's last this many days
      over a small grid of the risk settings above and decide with the best
      (:mod:`optimizer.calibration`; 0: never, the default until measured);
      ``calibration_floor`` is the replay utilisation a setting must reach to be chosen;
      ``calibration_hold_hours``: a backtest's ladder replays again only when its last
      choice is at least this old (a live run is one decision and always replays).
    """

    cvar_alpha: float = 0.9
    cvar_weight: float = 0.2
    cvar_bound: float | None = None
    decline_aversion: float = 1.0
    max_new_hourly: float | None = None
    max_upfront: float | None = None
    allowed_offerings: tuple[str, ...] | None = None
    allowed_terms: tuple[int, ...] | None = None
    allowed_payment_options: tuple[PaymentOption, ...] | None = None
    allowed_kinds: tuple[str, ...] | None = None
    cost_of_capital: float = 0.0
    tranche_fraction: float = 1.0
    representative_hours: int | None = 240
    exchanges: bool = True
    returns: bool = True
    return_window_hours: int = 168
    plan_ahead: bool = True
    recourse: bool = True
    cadence_hours: int | None = 24
    min_utilisation: float | None = None
    waste_weight: float = 0.0
    switching_cost: float = 0.0
    hazard_prior_events: float = 1.0
    hazard_prior_hours: float = 43800.0
    retirement_scenarios: int = 0
    ramp_days: int = 0
    ramp_cap_hours: int = 168
    young_days: int = 0
    calibration_days: int = 0
    calibration_floor: float = 0.95
    calibration_hold_hours: int = 24

    def __post_init__(self) -> None:
        checks = {
            "cvar_alpha": 0.0 <= self.cvar_alpha < 1.0,
            "cvar_weight": 0.0 <= self.cvar_weight <= 1.0,
            "decline_aversion": math.isfinite(self.decline_aversion)
            and self.decline_aversion >= 0.0,
            "cost_of_capital": math.isfinite(self.cost_of_capital) and self.cost_of_capital >= 0,
            "tranche_fraction": 0.0 < self.tranche_fraction <= 1.0,
            "return_window_hours": self.return_window_hours >= 0,
            "waste_weight": math.isfinite(self.waste_weight) and self.waste_weight >= 0,
            "switching_cost": 0.0 <= self.switching_cost < 1.0,
            "hazard_prior_events": math.isfinite(self.hazard_prior_events)
            and self.hazard_prior_events >= 0,
            "hazard_prior_hours": math.isfinite(self.hazard_prior_hours)
            and self.hazard_prior_hours >= 0,
            "retirement_scenarios": self.retirement_scenarios >= 0,
            "ramp_days": self.ramp_days == 0 or self.ramp_days >= 3,
            "ramp_cap_hours": self.ramp_cap_hours >= 0,
            "young_days": self.young_days >= 0,
            "calibration_days": self.calibration_days >= 0,
            "calibration_floor": 0.0 <= self.calibration_floor <= 1.0,
            "calibration_hold_hours": self.calibration_hold_hours >= 1,
        }
        for name in ("cvar_bound", "max_new_hourly", "max_upfront"):
            value = getattr(self, name)
            checks[name] = value is None or (math.isfinite(value)
                                             and (value >= 0 or name == "cvar_bound"))
        if self.cadence_hours is not None:
            checks["cadence_hours"] = self.cadence_hours >= 1
        if self.min_utilisation is not None:
            checks["min_utilisation"] = 0.0 < self.min_utilisation <= 1.0
        if self.representative_hours is not None:
            checks["representative_hours"] = self.representative_hours >= 1
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid policy value(s): {', '.join(bad)}")

    @classmethod
    def from_appetite(cls, appetite: RiskAppetite, **overrides: object) -> RiskSettings:
        """A policy from a named risk appetite (cautious, balanced, bold), with overrides."""
        if appetite not in _APPETITES:
            raise ValueError(f"unknown risk appetite {appetite!r}: choose one of "
                             f"{', '.join(_APPETITES)}")
        weight, aversion = _APPETITES[appetite]
        return replace(cls(cvar_weight=weight, decline_aversion=aversion), **overrides)  # type: ignore[arg-type]

    def allows(self, offering: Offering) -> bool:
        """Whether the policy lets the optimizer buy this offering."""
        return (
            (self.allowed_offerings is None or offering.offering_id in self.allowed_offerings)
            and (self.allowed_terms is None or offering.term_hours in self.allowed_terms)
            and (self.allowed_payment_options is None
                 or offering.payment_option in self.allowed_payment_options)
            and (self.allowed_kinds is None or offering.kind in self.allowed_kinds)
        )

    def candidates(self, offerings: Sequence[Offering]) -> tuple[Offering, ...]:
        """The offerings the policy allows, in their order."""
        return tuple(o for o in offerings if self.allows(o))

    def tranche(self, quantity: float, core: float = 0.0) -> float:
        """What one run buys of the LP's optimal ``quantity``: ``tranche_fraction`` of it,
        but at least the safe ``core`` (the part every scenario uses is bought whole;
        only the rest is laddered), and never more than ``quantity``."""
        return min(quantity, max(quantity * self.tranche_fraction, core))
