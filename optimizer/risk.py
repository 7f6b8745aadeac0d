"""Risk: the decline of usage learned from the history, the term-aware price, and CVaR.

**Decline.** For each key, the trend of the logarithm of its daily mean usage over
the history, fitted robustly (Theil–Sen: the median of the slopes between every
pair of days), gives a rate ``δ[k]`` per hour at which usage shrinks; a key that
grows or holds gets ``δ = 0`` (growth is not bet on), and so does one whose fall is
not significant: the Mann–Kendall test of the same pairs (the sum S of their signs,
normal approximation with continuity correction, no tie correction, which errs
towards "not significant") must reject "no trend" at ``DECLINE_SIGNIFICANCE``
(one-sided). Two weeks of noise around a weekly cycle otherwise give a slope that the
term-aware price extrapolates over three years. An offering's rate is the mean of its
keys' rates weighted by their recent on-demand dollars.

**Term-aware price.** The scenarios cover the horizon ``[0, H)``; a commitment of
term ``T > H`` is paid for ``T`` hours. If usage falls at rate ``δ``, a commitment
sized for today is used on average ``g(T) = (1 - e^{-δT}) / (δT)`` of its term, and
the scenarios already show it ``g(H)`` of it. Its price per unit-hour in the LP
is multiplied by

    m(T) = g(min(T, H)) / g(T)  ≥ 1,

so that a 3-year commitment pays for the risk that usage falls in years two and
three, and a commitment no longer than the horizon pays nothing extra. The
policy's ``decline_aversion`` scales ``δ``.

**CVaR.** ``CVaR_α`` of a discrete cost distribution is the expected cost in its
worst ``1 - α`` tail (Rockafellar–Uryasev): ``min_η η + E[(X - η)+] / (1 - α)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from core.domain import Offering, Shape

FloatArray = npt.NDArray[np.float64]

DAY = 24
MIN_DAYS = 3
"""Fewer whole days of history than this and no decline is learned."""
MAX_DECLINE_PER_HOUR = 0.05
"""A rate above this (usage halving within a day) is a decommission, not a trend: capped."""
DECLINE_SIGNIFICANCE = 0.05
"""One-sided level at which the Mann–Kendall test must find the fall (``None``: no test)."""


def decline_rates(history: FloatArray, *, days: int | None = None,
                  significance: float | None = DECLINE_SIGNIFICANCE) -> FloatArray:
    """``(K,)`` rate per hour at which each key's usage declines (0 when it does not, or
    not significantly at ``significance``).

    ``history`` is ``(T, K)`` hourly units, oldest first; only whole days counted
    back from the last hour are used, the last ``days`` of them when given.
    """
    history = np.asarray(history, dtype=np.float64)
    n_days = history.shape[0] // DAY
    if days is not None:
        n_days = min(n_days, days)
    rates = np.zeros(history.shape[1])
    if n_days < MIN_DAYS:
        return rates
    daily = daily_means(history, n_days)
    scale = np.maximum(daily.mean(axis=0), 1e-12)
    logs = np.log(np.maximum(daily, 0.01 * scale))
    i, j = np.triu_indices(n_days, k=1)
    rises = logs[j] - logs[i]
    trend = np.median(rises / ((j - i)[:, None] * DAY), axis=0)
    rates = np.clip(-trend, 0.0, MAX_DECLINE_PER_HOUR)
    if significance is not None:
        rates[~falls_significantly(np.sign(rises).sum(axis=0), n_days, significance)] = 0.0
    return rates


def falls_significantly(s: FloatArray, n: int, significance: float) -> npt.NDArray[np.bool_]:
    """Whether Mann–Kendall statistics ``s`` (Σ_{i<j} sign(x_j − x_i) over ``n`` points)
    show a fall at the one-sided level ``significance``: ``z = (S + 1) / σ ≤ z_α``, with
    ``σ² = n (n − 1) (2n + 5) / 18`` (no ties)."""
    sigma = np.sqrt(n * (n - 1) * (2 * n + 5) / 18.0)
    z = (np.asarray(s, dtype=np.float64) + 1.0) / sigma
    return (np.asarray(s) < 0) & (z <= NormalDist().inv_cdf(significance))


def retained(decline: float, hours: float) -> float:
    """``g(T)``: mean of ``e^{-δt}`` over ``[0, T)``, the share of today's usage kept on average."""
    x = decline * hours
    if x < 1e-9:
        return 1.0 - x / 2.0
    return float(-np.expm1(-x) / x)


def term_multiplier(decline: float, term_hours: int, horizon_hours: int) -> float:
    """``m(T) = g(min(T, H)) / g(T)``: the price factor for the term beyond the horizon."""
    return retained(decline, min(term_hours, horizon_hours)) / retained(decline, term_hours)


def offering_decline(
    offering: Offering, key_ids: Sequence[str], decline: FloatArray, dollars: FloatArray
) -> float:
    """An offering's decline rate: its keys' rates weighted by their on-demand ``dollars``."""
    weights = offering.covers if offering.shape is Shape.UNIT else offering.rates
    index = [k for k, key in enumerate(key_ids) if key in weights]
    if not index:
        return 0.0
    w = np.asarray(dollars, dtype=np.float64)[index]
    if w.sum() <= 0:
        return float(np.mean(decline[index]))
    return float(w @ decline[index] / w.sum())


def pooled_declines(
    history: FloatArray, key_ids: Sequence[str], offerings: Sequence[Offering],
    on_demand_rates: FloatArray, *, days: int | None = None,
) -> dict[str, float]:
    """Per offering id, the decline rate of the on-demand dollars of the usage it can cover.

    A commitment that covers several keys (a Savings Plan over accounts, a
    size-flexible RI) loses value only when their usage *together* falls: usage
    that moves from one account or size to another (a migration) is a decline of
    one key and a growth of the other, not a risk to the commitment. So the
    decline is learned from the pooled series ``history[:, covered] @ rates[covered]``
    (:func:`decline_rates`), not averaged over the keys' own rates.
    """
    history = np.asarray(history, dtype=np.float64)
    rates = np.asarray(on_demand_rates, dtype=np.float64)
    position = {key: k for k, key in enumerate(key_ids)}
    pool_of: dict[str, tuple[int, ...]] = {}
    for offering in offerings:
        weights = offering.covers if offering.shape is Shape.UNIT else offering.rates
        index = tuple(sorted(position[key] for key in weights if key in position))
        if index:
            pool_of.setdefault(offering.offering_id, index)
    # Offerings over the same keys (terms, payment options, RI or plan) share one pool:
    # each distinct pool's series is a column, and all are learned in one call.
    pools = sorted(set(pool_of.values()))
    if not pools:
        return {}
    series = np.column_stack([history[:, list(index)] @ rates[list(index)] for index in pools])
    learned = dict(zip(pools, decline_rates(series, days=days).tolist(), strict=True))
    return {offering_id: learned[index] for offering_id, index in pool_of.items()}


def cvar(costs: FloatArray, weights: FloatArray, alpha: float) -> float:
    """CVaR at level ``alpha`` of costs with probabilities ``weights`` (normalised here)."""
    costs = np.asarray(costs, dtype=np.float64)
    p = np.asarray(weights, dtype=np.float64)
    p = p / p.sum()
    order = np.argsort(-costs)
    tail = 1.0 - alpha
    if tail <= 0:
        return float(costs.max())
    taken = np.minimum(np.cumsum(p[order]), tail)
    mass = np.diff(np.concatenate([[0.0], taken]))
    return float(mass @ costs[order] / tail)


# -- Regime changes: retirement and ramps ------------------------------------------------
#
# **Retirement hazard.** A key's usage can go to zero and stay there (an application or a
# fleet is retired); nothing in a smooth forecast says when. Retirements are counted as
# Poisson events over the key-hours at risk: a key is at risk from its first non-zero hour,
# until it is switched off for good: at least ``RETIRED_HOURS`` zero hours that last to the
# end of the history are one event (a gap after which usage came back is not). With a
# Gamma(a, b) prior on the rate λ per key-hour (``a`` retirements in ``b`` key-hours,
# stated by the policy), ``n`` events over an exposure ``E`` give the posterior
# Gamma(a + n, b + E), whose mean
#
#     λ̂ = (a + n) / (b + E)
#
# is the hazard the planner uses: a key that was never seen to stop is still given the
# prior's chance of stopping, and a scope that has retired keys before is given more.
#
# **Ramps.** A key ramps when its daily mean usage over the last days rises: the
# Mann–Kendall test of those days must reject "no trend" at ``RAMP_SIGNIFICANCE``
# (one-sided, upwards); its rate is the Theil–Sen slope of the daily means, in units per
# hour. How often a ramp goes on is learned from the history too: over every past day that
# followed a detected rise, the share of days whose mean rose again (Beta(1, 1) prior).

RETIRED_HOURS = 48
"""This many consecutive zero hours after a key's first non-zero hour count as a retirement."""
RAMP_SIGNIFICANCE = 0.05
"""One-sided level at which the Mann–Kendall test must find the rise of the daily means."""
RAMP_MIN_GROWTH = 0.25
"""A ramp must also grow by this share of its mean level over the days it is tested on: a
steady fleet drifting up a few percent a week is no ramp (stated, not tuned)."""
RAMP_STILL_ON = 0.9
"""A ramp is still on while its last day's mean is at least this share of its highest day's
over the test: a burst that has already fallen back is no reason to buy (stated, not tuned;
without it a three-day plateau was bought whole on the day it ended)."""


@dataclass(frozen=True, slots=True)
class RetirementHazard:
    """The Gamma–Poisson estimate of the rate at which a key retires (module section above).

    ``events`` retirements were seen over ``exposure_hours`` key-hours at risk; the prior
    is ``prior_events`` retirements in ``prior_hours`` key-hours.
    """

    events: int
    exposure_hours: float
    prior_events: float
    prior_hours: float

    @property
    def rate(self) -> float:
        """λ̂ per key-hour: the posterior mean ``(a + n) / (b + E)``."""
        total = self.prior_hours + self.exposure_hours
        return (self.prior_events + self.events) / total if total > 0 else 0.0

    def probability(self, hours: float) -> float:
        """The chance that a key at risk retires within ``hours``: ``1 − e^{−λ̂·hours}``."""
        return float(-np.expm1(-self.rate * max(hours, 0.0)))


def retirement_hazard(history: FloatArray, *, prior_events: float, prior_hours: float,
                      retired_hours: int = RETIRED_HOURS) -> RetirementHazard:
    """The retirement hazard of the scope whose usage is ``history`` (hours × keys).

    Every key counts its hours at risk (from its first non-zero hour to its last, or to the
    end when it has not been off for ``retired_hours``) and, when it has, one retirement.
    """
    if prior_events < 0 or prior_hours < 0 or not np.isfinite(prior_events + prior_hours):
        raise ValueError("the hazard prior must be finite and >= 0")
    history = np.asarray(history, dtype=np.float64)
    events, exposure = 0, 0.0
    n_hours = history.shape[0]
    for column in history.T:
        live = np.flatnonzero(column > 0)
        if live.size == 0:
            continue
        # Only a switch-off that lasts to the end of the history is a retirement: a key
        # that came back after a gap (a weekend, a batch window) was idle, not retired.
        off = n_hours - 1 - int(live[-1])
        retired = off >= retired_hours
        events += int(retired)
        exposure += n_hours - int(live[0]) - (off if retired else 0)
    return RetirementHazard(events=events, exposure_hours=exposure,
                            prior_events=prior_events, prior_hours=prior_hours)


@dataclass(frozen=True, slots=True)
class Ramp:
    """Which keys ramp (``rising``), how fast (``slope``, units per hour, 0 where not), and
    the chance that a ramp goes on another day (``continues``, learned from the history)."""

    rising: npt.NDArray[np.bool_]
    slope: FloatArray
    continues: float


def daily_means(history: FloatArray, days: int) -> FloatArray:
    """``(D, K)`` mean usage of the last ``D ≤ days`` whole days counted back from the end."""
    history = np.asarray(history, dtype=np.float64)
    n_days = min(history.shape[0] // DAY, days)
    recent = history[history.shape[0] - n_days * DAY:]
    return recent.reshape(n_days, DAY, -1).mean(axis=1)


def _ramping(daily: FloatArray, significance: float,
             min_growth: float) -> tuple[npt.NDArray[np.bool_], FloatArray]:
    """The ramp rule on ``(D, K)`` daily means: which keys ramp, and their Theil–Sen slope
    per hour (0 where they do not). A ramp's means rise significantly (Mann–Kendall, one
    side: a rise is the mirror of a fall, so the negated statistic is tested) and grow by
    at least ``min_growth`` of their mean over the ``D`` days, and are still on: the last
    day is at least :data:`RAMP_STILL_ON` of the highest."""
    n_days = daily.shape[0]
    i, j = np.triu_indices(n_days, k=1)
    steps = daily[j] - daily[i]
    slope = np.median(steps / ((j - i)[:, None] * DAY), axis=0)
    rising = falls_significantly(-np.sign(steps).sum(axis=0), n_days, significance)
    rising &= slope * DAY * (n_days - 1) >= min_growth * np.maximum(daily.mean(axis=0), 1e-12)
    rising &= slope > 0
    rising &= daily[-1] >= RAMP_STILL_ON * daily.max(axis=0)
    return rising, np.where(rising, slope, 0.0)


def detect_ramp(history: FloatArray, *, days: int, significance: float = RAMP_SIGNIFICANCE,
                min_growth: float = RAMP_MIN_GROWTH) -> Ramp:
    """Which keys of ``history`` (hours × keys) ramp over its last ``days`` whole days: their
    daily means rise significantly, by at least ``min_growth`` of their mean over the days.

    ``continues`` is the posterior mean (Beta(1, 1) prior) of the share of past days,
    after ``days`` days that the same rule calls a ramp, on which the key's mean rose again.
    """
    history = np.asarray(history, dtype=np.float64)
    n_keys = history.shape[1]
    if days < MIN_DAYS or history.shape[0] // DAY < days:
        return Ramp(np.zeros(n_keys, dtype=bool), np.zeros(n_keys), 0.5)
    rising, slope = _ramping(daily_means(history, days), significance, min_growth)
    all_days = daily_means(history, history.shape[0] // DAY)
    trials = successes = 0
    for end in range(days, all_days.shape[0]):
        seen, _ = _ramping(all_days[end - days:end], significance, min_growth)
        trials += int(seen.sum())
        successes += int((seen & (all_days[end] > all_days[end - 1])).sum())
    return Ramp(rising, slope, (1 + successes) / (2 + trials))


# **Young usage.** Usage a key has held for ``a`` hours has shown that it lives at least that
# long, and no more: a level reached by a ramp this week may be gone next week (a lifecycle
# that ramps, runs and retires), while the level held all along has outlived every week of
# the window. So a ramping key's usage splits at its *held level*, the lowest daily mean of
# the last ``days`` whole days: below it the usage is established, above it young.


def held_level(history: FloatArray, days: int) -> FloatArray:
    """``(K,)`` the level each key of ``history`` (hours × keys) has held for ``days`` days:
    the lowest of its last ``days`` whole daily means (of all whole days when fewer; 0 with
    no whole day, when no usage is established yet)."""
    history = np.asarray(history, dtype=np.float64)
    if days < 1:
        raise ValueError("held_level needs days >= 1")
    if history.shape[0] < DAY:
        return np.zeros(history.shape[1])
    return daily_means(history, days).min(axis=0)
