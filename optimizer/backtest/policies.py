"""Backtest strategies: what to buy at a decision hour, seeing only the usage before it.

A strategy (BENCHMARK.md's and the CLI's ``--policy``) is any object with a
``name`` and a ``decide`` method (:class:`BacktestStrategy`). It is not the
optimizer's risk settings nor a scope's policy of the executor: a strategy such
as ``ladder`` *uses* the optimizer's settings.
The runner calls ``decide`` at every decision hour ``d`` with

* ``history``: a read-only *copy* of the usage of hours ``[0, d)`` (:class:`UsageHistory`),
  never a view of the trace, so that nothing at or after ``d`` is reachable from it;
* ``owned``: the commitments bought so far (:class:`Portfolio`), active or expired;
* ``hour``: ``d``, the index of the decision hour in the trace;
* ``catalog``: the menu at ``d``: the trace's keys with their on-demand rates and
  the allowed offerings whose whole term fits in the trace from ``d``.

It returns ``(offering_id, quantity)`` pairs, each offering from the menu.

The four policies of BENCHMARK.md:

* :class:`NoCommitments` (``none``) never buys;
* :class:`Lookback` (``lookback``) buys the increment that would have minimised
  the cost of the last N hours given what is active now, as the clouds' own
  recommenders do (the foundation LP, :mod:`optimizer.lp`, on those hours);
* ``ladder`` is Ladder's own policy, :class:`optimizer.ladder_policy.ForecastLadder`:
  forecast scenarios, the risk-aware stochastic LP and a tranche per run (built by
  :func:`optimizer.backtest.runner.make_policy` from a scenario source the caller
  composes, :func:`ladder.scenarios.default_scenarios` by default);
* :class:`Oracle` (``oracle``) replays the hindsight optimum of
  :mod:`optimizer.backtest.oracle`; it is given the whole trace when it is built,
  for scoring only.

:class:`Replay` returns the purchases of a log, to re-price a run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from core.domain import HOUR, Catalog, Offering
from optimizer.backtest.oracle import OracleSolution
from optimizer.backtest.purchases import Portfolio, Purchase
from optimizer.lp import PurchaseProblem, optimize_purchases

FloatArray = npt.NDArray[np.float64]

Decision = list[tuple[str, float]]

DEFAULT_LOOKBACK_HOURS = 168
LP_TIME_LIMIT_S = 60.0


@dataclass(frozen=True, eq=False)
class UsageHistory:
    """The usage a policy may see at a decision: hours ``[0, d)`` of the trace.

    ``units`` is a read-only copy (``(d, K)``) owning its memory: it is not a view
    of the trace and holds no reference to the hours from ``d`` on.
    """

    start: datetime
    key_ids: tuple[str, ...]
    units: FloatArray

    @classmethod
    def before(cls, units: FloatArray, hour: int, *, start: datetime,
               key_ids: Sequence[str]) -> UsageHistory:
        """The history of hours ``[0, hour)`` of ``units``, copied and frozen."""
        seen = np.array(units[:hour], dtype=np.float64, copy=True)
        seen.setflags(write=False)
        return cls(start=start, key_ids=tuple(key_ids), units=seen)

    @property
    def hours(self) -> int:
        """Number of hours seen (the decision hour's index)."""
        return int(self.units.shape[0])

    @property
    def now(self) -> datetime:
        """The decision hour: the first hour not in the history."""
        return self.start + self.hours * HOUR

    def last(self, hours: int) -> FloatArray:
        """The last ``hours`` hours (fewer if the history is shorter)."""
        return self.units[max(self.hours - hours, 0):]


class BacktestStrategy(Protocol):
    """A backtest strategy: decides purchases at a decision hour from the past only."""

    name: str

    def decide(self, history: UsageHistory, owned: Portfolio, hour: int,
               catalog: Catalog) -> Decision:
        """The ``(offering_id, quantity)`` pairs to buy at ``hour``."""
        ...


@runtime_checkable
class Reporting(Protocol):
    """A policy that has figures of its own to put in the score's ``details``."""

    def details(self) -> dict[str, float | int | str]:
        """Figures about the run (solver sizes, times)."""
        ...


class NoCommitments:
    """Never buys: the on-demand reference (ESR 0)."""

    name = "none"

    def decide(self, history: UsageHistory, owned: Portfolio, hour: int,
               catalog: Catalog) -> Decision:
        """Nothing."""
        return []


def _active_owned(owned: Portfolio, hours: range) -> tuple[tuple[Offering, ...], FloatArray]:
    """The offerings held and their active quantity over ``hours`` (dropping all-zero ones)."""
    offerings = owned.offerings()
    quantity = owned.quantity(offerings, hours.start, len(hours))
    keep = [c for c in range(len(offerings)) if quantity[:, c].any()]
    return tuple(offerings[c] for c in keep), quantity[:, keep]


class _WindowLP:
    """Shared by lookback and ladder: the foundation LP on the last hours of usage."""

    name = "window-lp"

    def __init__(self, window_hours: int, *, time_limit_s: float = LP_TIME_LIMIT_S) -> None:
        if window_hours < 1:
            raise ValueError(f"window_hours must be >= 1, got {window_hours}")
        self.window_hours = window_hours
        self.time_limit_s = time_limit_s
        self.solves_ = 0
        self.solve_seconds_ = 0.0

    def _owned_quantity(self, owned: Portfolio, hour: int,
                        window: int) -> tuple[tuple[Offering, ...], FloatArray]:
        """What is active now, held constant over the window (the recommenders' view)."""
        offerings, quantity = _active_owned(owned, range(hour, hour + 1))
        return offerings, np.repeat(quantity, window, axis=0)

    def decide(self, history: UsageHistory, owned: Portfolio, hour: int,
               catalog: Catalog) -> Decision:
        """The LP's purchases on the last ``window_hours`` hours of usage."""
        usage = history.last(self.window_hours)
        if usage.shape[0] == 0 or not catalog.offerings:
            return []
        held, quantity = self._owned_quantity(owned, hour, usage.shape[0])
        rates = np.array([catalog.on_demand_rates()[k] for k in history.key_ids])
        problem = PurchaseProblem(
            usage=usage, key_ids=history.key_ids, on_demand_rates=rates,
            candidates=catalog.offerings, owned=held, owned_quantity=quantity,
        )
        solution = optimize_purchases(problem, time_limit_s=self.time_limit_s, backend="highs")
        self.solves_ += 1
        self.solve_seconds_ += solution.build_seconds + solution.solve_seconds
        return sorted(solution.quantities.items())

    def details(self) -> dict[str, float | int | str]:
        """Number of LPs solved and the time spent building and solving them."""
        return {"window_hours": self.window_hours, "lp_solves": self.solves_,
                "lp_seconds": self.solve_seconds_}


class Lookback(_WindowLP):
    """The clouds' recommender: the increment that would have minimised the last N hours' cost.

    At each decision it solves the foundation LP on the usage of the last
    ``lookback_hours`` hours, with the commitments active at the decision hour
    held constant over those hours, and buys the LP's new quantities (for each
    coverage pattern the cheapest allowed offering, at amortized prices).
    """

    name = "lookback"

    def __init__(self, lookback_hours: int = DEFAULT_LOOKBACK_HOURS, *,
                 time_limit_s: float = LP_TIME_LIMIT_S) -> None:
        super().__init__(lookback_hours, time_limit_s=time_limit_s)


class Replay:
    """Returns the purchases of a log at their hours (to re-price a run)."""

    name = "replay"

    def __init__(self, purchases: Iterable[Purchase]) -> None:
        self._by_hour: dict[int, Decision] = {}
        for purchase in purchases:
            self._by_hour.setdefault(purchase.hour, []).append(
                (purchase.offering_id, purchase.quantity))

    @property
    def hours(self) -> tuple[int, ...]:
        """The hours at which the log buys."""
        return tuple(sorted(self._by_hour))

    def decide(self, history: UsageHistory, owned: Portfolio, hour: int,
               catalog: Catalog) -> Decision:
        """The log's purchases at ``hour``."""
        return list(self._by_hour.get(hour, []))


class Oracle(Replay):
    """Replays the hindsight schedule (built with knowledge of the whole trace)."""

    name = "oracle"

    def __init__(self, solution: OracleSolution) -> None:
        super().__init__(solution.purchases)
        self.solution = solution

    def details(self) -> dict[str, float | int | str]:
        """The LP's size, times and cost."""
        return self.solution.details()
