"""The stochastic purchase LP: one portfolio decision, judged on every forecast scenario.

:func:`build_model` turns a :class:`StochasticProblem` (scenarios of usage over
the horizon, the candidates, the commitments owned with their expiries, a
:class:`~optimizer.risk_settings.RiskSettings`) into a linear program; :func:`solve`
solves it with HiGHS (arrays through highspy for large models, PuLP for small
readable ones) and returns a frozen :class:`StochasticSolution`;
:func:`optimize` does both. What it buys, exchanges and returns now is the same in
every scenario; what it plans to buy at later runs, and the coverage of each key by
each commitment, are decided per scenario (and hour), as they will be once more of
the usage is known.

The package follows the stages: :mod:`~optimizer.stochastic.problem` (the inputs),
:mod:`~optimizer.stochastic.layout` (the exact reductions), :mod:`~optimizer.stochastic.model`
(the formulation, its math in a block comment, and :func:`build_model`) and
:mod:`~optimizer.stochastic.solution` (:func:`solve`, and :func:`objective_at`, the
objective at any decision, which the plan's certificate prices a billed plan with).

Unlike the foundation LP (:mod:`optimizer.lp`), a commitment counts only while it
is active: an owned one until it expires, a new one for its term, which may end
inside the horizon.
"""

from core.domain import can_exchange
from optimizer.stochastic.layout import MAX_EPOCHS
from optimizer.stochastic.model import UTILISATION_PENALTY, StochasticModel, build_model
from optimizer.stochastic.problem import (
    OwnedCommitment,
    ScenarioSet,
    StochasticProblem,
    owned_from,
)
from optimizer.stochastic.solution import (
    Decided,
    Exchange,
    Planned,
    StochasticSolution,
    decision_vector,
    objective_at,
    optimize,
    scenario_costs,
    solve,
)

__all__ = [
    "MAX_EPOCHS",
    "UTILISATION_PENALTY",
    "Decided",
    "Exchange",
    "OwnedCommitment",
    "Planned",
    "ScenarioSet",
    "StochasticModel",
    "StochasticProblem",
    "StochasticSolution",
    "build_model",
    "can_exchange",
    "decision_vector",
    "objective_at",
    "optimize",
    "owned_from",
    "scenario_costs",
    "solve",
]
