"""Time the billing engine on a year of hours × 300 keys × 50 commitments.

Run: ``python -m benchmarks.billing`` (prints the median of a few runs).
The portfolio mixes what a large AWS estate holds: 40 unit commitments
(RIs, each size-flexible over the 6 keys of one family across accounts) and
10 spend commitments (EC2 Instance SPs over one family's keys and Compute SPs
over every key).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from core.billing import apply_commitments, summarize
from core.domain import Offering, Shape

HOURS = 8760


def synthetic_portfolio(
    n_keys: int = 300, n_units: int = 40, n_spend: int = 10, seed: int = 0
) -> tuple[np.ndarray, list[str], np.ndarray, list[Offering], np.ndarray]:
    """Usage with daily cycles for ``n_keys`` keys and a mixed portfolio active all year."""
    rng = np.random.default_rng(seed)
    keys = [f"aws/acct{i % 6}/ec2/us-east-1/fam{i // 6}/linux/shared" for i in range(n_keys)]
    hours = np.arange(HOURS)
    base = rng.uniform(5, 200, n_keys)
    daily = 1 + 0.3 * np.sin(2 * np.pi * (hours[:, None] + rng.uniform(0, 24, n_keys)) / 24)
    usage = np.maximum(base * daily + rng.normal(0, 3, (HOURS, n_keys)), 0)
    rates = rng.uniform(0.02, 0.05, n_keys)
    families = n_keys // 6
    offerings: list[Offering] = []
    for c in range(n_units):
        family = c % families
        covers = {keys[family * 6 + a]: 1.0 for a in range(6)}
        offerings.append(Offering(f"ri{c}", Shape.UNIT, 8760, 0.0, 0.015, c % 3, covers=covers))
    for c in range(n_spend):
        scope = keys if c % 2 else keys[c % families * 6:c % families * 6 + 6]
        rates_sp = {k: rates[keys.index(k)] * rng.uniform(0.55, 0.75) for k in scope}
        offerings.append(Offering.spend(f"sp{c}", term_hours=8760, upfront_fraction=0.0,
                                        rates=rates_sp, order=10 + (c % 2) * 10))
    quantity = np.empty((HOURS, len(offerings)))
    quantity[:, :n_units] = rng.uniform(20, 200, n_units)
    quantity[:, n_units:] = rng.uniform(1, 20, n_spend)
    return usage, keys, rates, offerings, quantity


def main() -> None:
    """Print the engine's time for the synthetic year."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    usage, keys, rates, offerings, quantity = synthetic_portfolio()
    times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        result = apply_commitments(usage, keys, rates, offerings, quantity)
        summary = summarize(result)
        times.append(time.perf_counter() - started)
    print(f"billing engine: {HOURS} hours x {len(keys)} keys x {len(offerings)} commitments")
    print(f"  apply + summarize: median {statistics.median(times):.2f} s over {args.repeat} runs "
          f"(min {min(times):.2f} s)")
    print(f"  ESR {summary.esr:.4f}, coverage {summary.coverage:.4f}, "
          f"utilisation {summary.utilisation:.4f}")


if __name__ == "__main__":
    main()
