"""What the purchase LPs share: the price of a unit-hour and when a quantity is solver noise.

The foundation LP (:mod:`optimizer.lp`) and the stochastic LP
(:mod:`optimizer.stochastic`) price a commitment at its amortized cost with interest
on the upfront cash (:func:`amortized_with_capital`) and report a quantity as bought
only above :data:`QUANTITY_TOLERANCE`. The hindsight LP
(:mod:`optimizer.backtest.oracle`) prices at the plain amortized cost
(:attr:`core.domain.Offering.amortized_hourly`, the same as a zero cost of capital)
and uses the tighter :data:`HINDSIGHT_QUANTITY_TOLERANCE`: its interior point method
with crossover ends on a vertex, so what it leaves above 1e-9 is a purchase.
"""

from __future__ import annotations

from core.domain import Offering

HOURS_PER_YEAR = 8760.0
QUANTITY_TOLERANCE = 1e-7
"""Quantities at or below this are reported as not bought."""
HINDSIGHT_QUANTITY_TOLERANCE = 1e-9
"""The hindsight LP's purchases at or below this many units are solver noise and not made."""


def amortized_with_capital(offering: Offering, cost_of_capital: float) -> float:
    """Cost per unit-hour of an offering with simple interest on its upfront payment.

    The upfront ``U`` is cash out for the whole term while its amortization
    recovers it evenly, so on average half of it is outstanding: at an annual
    rate ``i`` over a term of ``T`` years it costs ``U · i · T / 2`` of interest.
    The price is ``U · (1 + i · T / 2) / term_hours + hourly``.
    """
    term_years = offering.term_hours / HOURS_PER_YEAR
    upfront = offering.upfront * (1.0 + cost_of_capital * term_years / 2.0)
    return upfront / offering.term_hours + offering.hourly
