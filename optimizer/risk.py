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
    daily = history[history.shape[0] - n_days * DAY:].reshape(n_days, DAY, -1).mean(axis=1)
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
