"""The stochastic LP's inputs: scenarios of usage, owned commitments, the problem to decide."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

from core.domain import HOUR, Commitment, Offering
from core.errors import InvalidInput
from optimizer.pricing import amortized_with_capital
from optimizer.risk import offering_decline, term_multiplier
from optimizer.risk_settings import RiskSettings

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class ScenarioSet:
    """Scenarios of hourly usage over the horizon: ``usage[s, h, k]`` with probabilities.

    ``weights`` are normalised to sum to 1 (equal when omitted); ``key_ids[k]``
    names the last axis.
    """

    usage: FloatArray
    key_ids: tuple[str, ...]
    weights: FloatArray | None = None

    def __post_init__(self) -> None:
        usage = np.asarray(self.usage, dtype=np.float64)
        key_ids = tuple(self.key_ids)
        if usage.ndim != 3 or usage.shape[2] != len(key_ids) or usage.shape[0] < 1 \
                or usage.shape[1] < 1:
            raise InvalidInput(f"scenarios must be (S ≥ 1, H ≥ 1, {len(key_ids)} keys), "
                               f"got {usage.shape}")
        if not np.all(np.isfinite(usage)) or np.any(usage < 0):
            raise InvalidInput("scenario usage must be finite and >= 0")
        if self.weights is None:
            weights = np.full(usage.shape[0], 1.0 / usage.shape[0])
        else:
            weights = np.asarray(self.weights, dtype=np.float64)
            if weights.shape != (usage.shape[0],) or not np.all(np.isfinite(weights)) \
                    or np.any(weights < 0) or weights.sum() <= 0:
                raise InvalidInput(f"scenario weights must be ({usage.shape[0]},), finite, "
                                   ">= 0 and not all zero")
            weights = weights / weights.sum()
        object.__setattr__(self, "usage", usage)
        object.__setattr__(self, "key_ids", key_ids)
        object.__setattr__(self, "weights", weights)

    @property
    def probabilities(self) -> FloatArray:
        """``(S,)`` normalised weights (never ``None``)."""
        assert self.weights is not None  # set by __post_init__
        return self.weights

    @property
    def n_scenarios(self) -> int:
        """Number of scenarios ``S``."""
        return int(self.usage.shape[0])

    @property
    def horizon(self) -> int:
        """Hours ``H`` of the horizon."""
        return int(self.usage.shape[1])


@dataclass(frozen=True, slots=True)
class OwnedCommitment:
    """A commitment owned at the decision hour: active for the first ``hours_left`` hours.

    ``age_hours`` is the time since it was bought (for the return window).
    """

    offering: Offering
    quantity: float
    hours_left: int
    age_hours: int = 0
    commitment_id: str = ""

    @classmethod
    def from_commitment(cls, commitment: Commitment, now: datetime) -> OwnedCommitment:
        """An owned commitment as seen from the hour ``now``."""
        return cls(
            offering=commitment.offering,
            quantity=commitment.quantity,
            hours_left=max(int((commitment.end - now) / HOUR), 0),
            age_hours=max(int((now - commitment.start) / HOUR), 0),
            commitment_id=commitment.commitment_id,
        )


@dataclass(frozen=True, eq=False)
class StochasticProblem:
    """What to decide on: scenarios, on-demand rates, candidates, owned commitments, policy.

    ``decline[k]`` is key ``k``'s learned rate of decline per hour
    (:func:`optimizer.risk.decline_rates`; zeros when omitted) and ``recent_usage``
    the usage per key that weighs the keys of an offering when its rate is
    averaged (the scenarios' mean when omitted). ``pool_decline`` gives, per offering
    id, the decline of the pooled usage the offering covers
    (:func:`optimizer.risk.pooled_declines`); where it names an offering, it is used
    instead of that average. ``last_purchase`` gives, per offering id, the last hour of the
    horizon at which the offering can still be bought (a backtest's menu drops a term that
    would end after the trace); the LP plans no later purchase of it after that hour.
    Offerings it does not name stay on the menu. ``hazard`` is the rate per hour at which
    usage retires (:func:`optimizer.risk.retirement_hazard`); it adds to every decline in
    the term-aware price, as a retired key's usage is lost for the rest of a term.
    """

    scenarios: ScenarioSet
    on_demand_rates: FloatArray
    candidates: tuple[Offering, ...]
    owned: tuple[OwnedCommitment, ...] = ()
    policy: RiskSettings = field(default_factory=RiskSettings)
    decline: FloatArray | None = None
    recent_usage: FloatArray | None = None
    pool_decline: Mapping[str, float] | None = None
    last_purchase: Mapping[str, int] | None = None
    hazard: float = 0.0

    def __post_init__(self) -> None:
        n_keys = len(self.scenarios.key_ids)
        rates = np.asarray(self.on_demand_rates, dtype=np.float64)
        if rates.shape != (n_keys,) or not np.all(np.isfinite(rates)) or np.any(rates < 0):
            raise InvalidInput(f"on_demand_rates must be ({n_keys},), finite and >= 0")
        ids = [o.offering_id for o in self.candidates]
        if len(set(ids)) != len(ids):
            raise InvalidInput("candidates list an offering_id twice")
        for offering in (*self.candidates, *(c.offering for c in self.owned)):
            _check_offering(offering)
        for c in self.owned:
            if not np.isfinite(c.quantity) or c.quantity < 0 or c.hours_left < 0:
                raise InvalidInput(f"owned {c.offering.offering_id!r}: quantity and hours_left "
                                   "must be >= 0")
        decline = np.zeros(n_keys) if self.decline is None else \
            np.asarray(self.decline, dtype=np.float64)
        if decline.shape != (n_keys,) or not np.all(np.isfinite(decline)) or np.any(decline < 0):
            raise InvalidInput(f"decline must be ({n_keys},), finite and >= 0")
        if not np.isfinite(self.hazard) or self.hazard < 0:
            raise InvalidInput("hazard must be finite and >= 0")
        recent = self.scenarios.usage.mean(axis=(0, 1)) if self.recent_usage is None else \
            np.asarray(self.recent_usage, dtype=np.float64)
        object.__setattr__(self, "on_demand_rates", rates)
        object.__setattr__(self, "candidates", tuple(self.candidates))
        object.__setattr__(self, "owned", tuple(self.owned))
        object.__setattr__(self, "decline", decline)
        object.__setattr__(self, "recent_usage", recent)

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The usage keys, in the scenarios' order."""
        return self.scenarios.key_ids

    @property
    def horizon(self) -> int:
        """Hours of the horizon."""
        return self.scenarios.horizon

    def price(self, offering: Offering, term_hours: int) -> float:
        """Risk-adjusted price per unit-hour over ``term_hours`` of term left: capital on the
        upfront, times the term multiplier for the hours beyond the horizon."""
        assert self.decline is not None and self.recent_usage is not None
        pooled = (self.pool_decline or {}).get(offering.offering_id)
        rate = pooled if pooled is not None else offering_decline(
            offering, self.key_ids, self.decline, self.recent_usage * self.on_demand_rates)
        multiplier = term_multiplier((rate + self.hazard) * self.policy.decline_aversion,
                                     term_hours,
                                     self.horizon)
        return amortized_with_capital(offering, self.policy.cost_of_capital) * multiplier


def _check_offering(offering: Offering) -> None:
    numbers = (offering.upfront, offering.hourly, *offering.covers.values(),
               *offering.rates.values())
    if not all(np.isfinite(v) and v >= 0 for v in numbers) or offering.term_hours < 1:
        raise InvalidInput(f"offering {offering.offering_id!r}: prices, weights and term must be "
                           "finite and >= 0 (a negative price would make the LP unbounded)")



def owned_from(commitments: Sequence[Commitment], now: datetime) -> tuple[OwnedCommitment, ...]:
    """The commitments still active at ``now``, as the LP sees them."""
    return tuple(OwnedCommitment.from_commitment(c, now) for c in commitments if c.end > now)
