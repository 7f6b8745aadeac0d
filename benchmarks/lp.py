"""Time the purchase LP on the bundled sample: build vs solve, model size, what the reductions did.

Run: ``python -m benchmarks.lp`` (``--backend pulp|highs|auto``, ``--hours N`` for the
last N hours, ``--cost-of-capital 0.08``, ``--repeat 3``). The problem is the one the
pipeline solves: the sample's FOCUS usage over the window, every catalog offering as
a candidate, the inventory active at the window's start as owned commitments. It
prints the LP's objective beside the billed cost of the rounded plan, and the number
of coverage variables the LP would have before each exact reduction.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.billing import apply_commitments, schedule, summarize
from core.domain import Offering
from optimizer.lp import (
    PurchaseModel,
    PurchaseProblem,
    amortized_with_capital,
    build_model,
    solve,
)
from optimizer.lp_plan import make_plan
from providers.focus import read_focus
from providers.sample import SampleProvider


def sample_problem(hours: int | None, cost_of_capital: float) -> tuple[PurchaseProblem, datetime]:
    """The sample's usage, catalog and inventory as a purchase problem, and the window start."""
    provider = SampleProvider()
    catalog = provider.catalog()
    focus = read_focus(provider.usage_paths()[0])
    matrix = focus.hourly.pivot(index="hour", columns="usage_key", values="units").sort_index()
    if hours:
        matrix = matrix.iloc[-hours:]
    keys = tuple(k for k in catalog.key_ids if k in matrix.columns)
    start = matrix.index[0].to_pydatetime()
    owned = list(provider.inventory(start))
    rates = catalog.on_demand_rates()
    problem = PurchaseProblem(
        usage=matrix[list(keys)].to_numpy(dtype=np.float64),
        key_ids=keys,
        on_demand_rates=np.array([rates[k] for k in keys]),
        candidates=catalog.offerings,
        owned=tuple(c.offering for c in owned),
        owned_quantity=schedule(owned, start, len(matrix)),
        cost_of_capital=cost_of_capital,
    )
    return problem, start


def reduction_steps(model: PurchaseModel) -> list[tuple[str, int]]:
    """Coverage variables the LP would hold after each exact reduction, in order."""
    problem = model.problem
    hours = problem.hours
    key_index = {k: i for i, k in enumerate(problem.key_ids)}

    def keys_of(offerings: Sequence[Offering]) -> int:
        return sum(sum(1 for k in o.eligible_keys if k in key_index) for o in offerings)

    kept = [problem.candidates[o] for o in model.kept]
    merged = sum(len(set(model.key_groups.group[p.key_index].tolist())) for p in model.patterns)
    return [
        ("as written (every candidate, commitment, key, hour)",
         hours * keys_of((*problem.candidates, *problem.owned))),
        ("dominated candidates pruned", hours * keys_of((*kept, *problem.owned))),
        ("one coverage per pattern", hours * sum(p.key_index.size for p in model.patterns)),
        ("identical keys merged", hours * merged),
        ("identical hours collapsed, empty cells dropped",
         model.program.family("coverage").size if model.n_variables > len(kept) else 0),
    ]


def main() -> None:
    """Print build and solve times, sizes and the re-priced plan for the sample problem."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["auto", "pulp", "highs"], default="auto")
    parser.add_argument("--hours", type=int, default=None, help="last N hours (default: all)")
    parser.add_argument("--cost-of-capital", type=float, default=0.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    problem, start = sample_problem(args.hours, args.cost_of_capital)
    builds, solves = [], []
    for _ in range(args.repeat):
        model = build_model(problem, backend=args.backend)
        solution = solve(model)
        builds.append(solution.build_seconds)
        solves.append(solution.solve_seconds)

    print(f"purchase LP on the sample: {problem.hours} hours x {len(problem.key_ids)} keys, "
          f"{len(problem.candidates)} candidates, {len(problem.owned)} owned, "
          f"cost of capital {args.cost_of_capital:g}")
    print(f"  backend {model.backend}: {solution.n_variables:,} variables, "
          f"{solution.n_constraints:,} constraints")
    print(f"  build: median {statistics.median(builds):.3f} s, "
          f"solve: median {statistics.median(solves):.3f} s over {args.repeat} runs "
          f"({solution.status})")
    print(f"  reductions: {len(problem.candidates)} -> {model.kept.size} candidates, "
          f"{len(model.patterns)} patterns, {len(problem.key_ids)} -> "
          f"{model.key_groups.n_groups} keys, {problem.hours} -> "
          f"{model.hour_groups.n_groups} distinct hours")
    print("  coverage variables:")
    for label, count in reduction_steps(model):
        print(f"    {count:>9,}  {label}")

    plan = make_plan(problem, solution, window_start=start)
    owned_cost = summarize(apply_commitments(problem.usage, problem.key_ids,
                                             problem.on_demand_rates, problem.owned,
                                             problem.owned_active)).commitment_cost
    by_id = {o.offering_id: o for o in problem.candidates}
    # The LP charges interest on upfront cash; the billing engine does not: add it back.
    capital = sum(
        a.quantity * problem.hours
        * (amortized_with_capital(by_id[a.offering_id], problem.cost_of_capital)
           - by_id[a.offering_id].amortized_hourly)
        for a in plan.actions
    )
    billed = plan.cost_after - owned_cost + capital
    print(f"  LP objective (new commitments + on-demand, owned sunk): ${solution.objective:,.2f}; "
          f"billed, rounded plan, same terms: ${billed:,.2f} "
          f"({billed / solution.objective - 1:+.3%})")
    print(f"  billed: on-demand equivalent ${plan.on_demand_equivalent:,.2f}, "
          f"before ${plan.cost_before:,.2f} (ESR {plan.esr_before:.1%}), "
          f"after ${plan.cost_after:,.2f} (ESR {plan.esr_after:.1%})")
    print(f"  plan: upfront ${plan.upfront_cash:,.2f}, "
          f"monthly commitment ${plan.monthly_commitment:,.2f}")
    for action in plan.actions:
        print(f"    {action.offering_id} x {action.quantity:g}: {action.reason}")


if __name__ == "__main__":
    main()
