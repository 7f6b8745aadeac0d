"""When a backtest decides and what it may buy: the decision hours and the menu at each.

Decisions are taken every ``cadence_hours`` from the end of the warm-up, and an
offering may be bought at hour ``d`` only if its whole term fits in the trace
(``d + term_hours ≤ H``), so every purchase is charged in full inside the scored
window ``[warmup, H)``. The runner and the hindsight LP share these functions, so
the oracle optimises over exactly the purchases a policy could make.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from core.domain import Catalog, KeyPrice, Offering, Shape
from core.errors import InvalidInput
from optimizer.backtest.trace import UsageTrace


def market(
    catalog: Catalog, trace: UsageTrace, allowed: Sequence[str] | None = None,
    *, catalog_source: str = "the catalog",
) -> Catalog:
    """The catalog as the replay of ``trace`` sees it.

    Its keys are the trace's keys (catalog order, with their rates); its offerings
    are the ``allowed`` ones (all by default) that cover at least one of those
    keys, with ``covers``/``rates`` restricted to them. An offering that covers
    none of the trace's keys could only add cost, so it is never offered. An
    unknown id in ``allowed`` is an error.
    """
    rates = catalog.on_demand_rates()
    ids = [o.offering_id for o in catalog.offerings]
    if allowed is not None:
        unknown = [i for i in allowed if i not in ids]
        if unknown:
            raise InvalidInput(f"unknown offering_id(s) in the allowed offerings: "
                               f"{', '.join(unknown)}", source=catalog_source)
    wanted = set(ids if allowed is None else allowed)
    present = set(trace.key_ids)
    offerings = []
    for offering in catalog.offerings:
        if offering.offering_id not in wanted:
            continue
        if offering.shape is Shape.UNIT:
            covers = {k: w for k, w in offering.covers.items() if k in present}
            if covers:
                offerings.append(replace(offering, covers=covers))
        else:
            spend_rates = {k: w for k, w in offering.rates.items() if k in present}
            if spend_rates:
                offerings.append(replace(offering, rates=spend_rates))
    keys = tuple(KeyPrice(k, rates[k]) for k in trace.key_ids)
    return Catalog(keys=keys, offerings=tuple(offerings), currency=catalog.currency,
                   source=catalog.source)


def last_purchase_hour(offering: Offering, hours: int) -> int:
    """The last hour at which ``offering`` is on the menu of a ``hours``-long replay: its whole
    term must fit inside (BENCHMARK.md)."""
    return hours - offering.term_hours


def buyable(offerings: Sequence[Offering], hour: int, hours: int) -> tuple[Offering, ...]:
    """The offerings whose whole term, bought at ``hour``, fits in ``hours``."""
    return tuple(o for o in offerings if hour <= last_purchase_hour(o, hours))


def decision_hours(
    hours: int, offerings: Sequence[Offering], *, cadence_hours: int, warmup_hours: int,
    source: str | None = None,
) -> list[int]:
    """The decision hours ``warmup, warmup + cadence, …`` at which some offering still fits.

    Raises :class:`InvalidInput` when the cadence or warm-up is out of range or
    when no offering's term fits after the warm-up: such a backtest could not
    buy anything and would compare nothing.
    """
    if cadence_hours < 1:
        raise InvalidInput(f"cadence_hours must be >= 1, got {cadence_hours}")
    if not 0 <= warmup_hours < hours:
        raise InvalidInput(f"warmup_hours must be in [0, {hours}) for a trace of {hours} hours, "
                           f"got {warmup_hours}", source=source)
    if not offerings:
        raise InvalidInput("no allowed offering covers any usage_key of the trace",
                           source=source)
    shortest = min(o.term_hours for o in offerings)
    if warmup_hours + shortest > hours:
        raise InvalidInput(
            f"no offering's term fits after the warm-up: the shortest term is {shortest} h, "
            f"the trace has {hours} h and the warm-up {warmup_hours} h "
            f"(a purchase at hour d needs d + term_hours <= {hours})",
            source=source,
        )
    return list(range(warmup_hours, hours - shortest + 1, cadence_hours))
