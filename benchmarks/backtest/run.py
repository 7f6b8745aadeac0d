"""Run every policy on every trace of the backtest suite and print the table.

Run: ``python -m benchmarks.backtest.run`` (or ``python benchmarks/backtest/run.py``).
Defaults: decisions every 24 h after a 168 h warm-up, lookback 168 h, every offering
of each trace's catalog. ``--traces-dev`` also runs the shared dev traces
(``../shared/benchmark/traces-dev``) with their catalog, when they are present.

Per trace and policy the table gives the ESR, the ESR as a fraction of the oracle's,
coverage, utilisation, the number of purchases and the run time (the oracle's includes
its LP). Below it: the mean ESR fraction per policy, the check that the oracle's billed
cost is ≤ every other policy's on every trace (and the LP's allocation gap), and the
oracle LP's size and time on the 10-key × 2,200-hour trace.

``--seeds 0 1000 2000`` runs the ladder once per seed of its scenario draws (the main
table's ``ladder`` row is the first seed, ``ladder@1000`` and so on the others) and prints
the spread: per trace the mean, lowest and highest ESR and utilisation, and the mean's
distance to lookback when lookback ran. The ladder's forecast paths are random draws, so
one run's figure on a long trace can sit a point or two from another's.

``--merge FILE`` (an earlier ``--json`` of the same suite) adds the scores of the policies
not run now to the tables: ``--policies ladder --merge results-….json`` scores a new ladder
setting against the stored lookback and oracle without running them again (the written
``--json`` holds only what ran, and names the merged file).

``--set waste_weight=2 tranche_fraction=1`` runs the ladder at other settings of its
risk settings; ``--jobs 2`` runs traces in parallel processes; ``--json FILE`` writes
every score (per suite, trace and policy) for later analysis (``benchmarks.backtest.loso``
chooses settings on some sources and scores them on the others). Under the table, the
issue-17 targets per policy: ESR / oracle median and mean, the worst trace's ESR, mean
utilisation, and the worst distance to lookback in points.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.catalog import load_catalog
from ladder.scenarios import default_scenarios
from optimizer.backtest.runner import POLICY_NAMES, BacktestConfig, Score, backtest
from optimizer.backtest.trace import read_trace
from optimizer.ladder_policy import LADDER_POLICY
from optimizer.linear_model import stdout_to_stderr
from optimizer.risk_settings import RiskSettings

HERE = Path(__file__).resolve().parent
DEV = HERE.parents[2] / "shared" / "benchmark"
TIMING_TRACE = "fleet10-tiled"
TOLERANCE = 1e-6
"""Relative to the on-demand equivalent: how much more the oracle may bill (solver noise)."""


@dataclass(frozen=True)
class Case:
    """A trace and the catalog it is run with."""

    name: str
    trace: Path
    catalog: Path


def suite_cases(folder: Path) -> list[Case]:
    """The suite's traces, from its MANIFEST."""
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    return [Case(e["name"], folder / e["file"], folder / e["catalog"]) for e in manifest]


def dev_cases(folder: Path) -> list[Case]:
    """The shared dev traces with the shared short catalog (if present)."""
    catalog = folder / "catalogs" / "aws-2017-us-east-1-linux-short.json"
    traces = folder / "traces-dev"
    if not catalog.exists() or not traces.is_dir():
        return []
    return [Case(p.stem, p, catalog) for p in sorted(traces.glob("*.csv"))]


def run_case(case: Case, config: BacktestConfig, policies: Sequence[str],
             seeds: Sequence[int] = ()) -> tuple[int, int, dict[str, Score]]:
    """Every policy on one trace: (keys, hours, score per policy). With ``seeds`` the
    ladder also runs once per seed (``config.ladder_seed`` is the first run's), scored
    as ``ladder@seed``."""
    catalog = load_catalog(case.catalog)
    trace = read_trace(case.trace)
    runs = [(p, config) for p in policies]
    if "ladder" in policies:
        runs += [(f"ladder@{seed}", replace(config, ladder_seed=seed)) for seed in seeds]
    scores = {name: backtest(trace, catalog, name.partition("@")[0], run_config,
                             catalog_source=str(case.catalog),
                             scenarios=default_scenarios(
                                 variance_reduction=config.ladder_common_draws)).score
              for name, run_config in runs}
    return len(trace.key_ids), trace.hours, scores


def run_cases(cases: Sequence[Case], config: BacktestConfig, policies: Sequence[str],
              seeds: Sequence[int] = (), *, jobs: int = 1
              ) -> dict[str, tuple[int, int, dict[str, Score]]]:
    """:func:`run_case` on every case, in ``jobs`` processes; results in the cases' order."""
    results: dict[str, tuple[int, int, dict[str, Score]]] = {}
    if jobs <= 1:
        for case in cases:
            with stdout_to_stderr():
                results[case.name] = run_case(case, config, policies, seeds)
            print(f"  ran {case.name}", file=sys.stderr, flush=True)
        return results
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {case.name: pool.submit(_run_quietly, case, config, tuple(policies),
                                          tuple(seeds)) for case in cases}
        for name, future in futures.items():
            results[name] = future.result()
            print(f"  ran {name}", file=sys.stderr, flush=True)
    return results


def _run_quietly(case: Case, config: BacktestConfig, policies: tuple[str, ...],
                 seeds: tuple[int, ...]) -> tuple[int, int, dict[str, Score]]:
    with stdout_to_stderr():
        return run_case(case, config, policies, seeds)


def policy_settings(assignments: Sequence[str], base: RiskSettings) -> RiskSettings:
    """``base`` with ``name=value`` assignments of its numeric and true/false fields
    (``--set``)."""
    known = {f.name: f for f in fields(RiskSettings)}
    changes: dict[str, Any] = {}
    for assignment in assignments:
        name, sep, text = assignment.partition("=")
        if not sep or name not in known:
            raise ValueError(f"--set {assignment!r}: expected FIELD=VALUE, FIELD one of "
                             f"{', '.join(sorted(known))}")
        current = getattr(base, name)
        if text.lower() == "none":
            changes[name] = None
        elif isinstance(current, bool):
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(f"--set {name}: expected true or false, got {text!r}")
            changes[name] = text.lower() in ("true", "1")
        elif not isinstance(current, int | float | None):
            raise ValueError(f"--set {name}: only numeric and true/false fields can be set here")
        else:
            changes[name] = int(text) if isinstance(current, int) else float(text)
    return replace(base, **changes)


def stored_scores(path: Path, title: str) -> dict[str, dict[str, Score]]:
    """Per trace, every policy's score in section ``title`` of a ``--json`` file (empty when
    the file has no such section)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    section = data.get(title, {})
    return {trace: {policy: Score(**values) for policy, values in run["scores"].items()}
            for trace, run in section.items()}


def merge_stored(results: dict[str, tuple[int, int, dict[str, Score]]],
                 stored: dict[str, dict[str, Score]]) -> list[str]:
    """Add to ``results`` the stored scores of the policies not run now (a policy run now
    keeps its own score); the traces the stored file lacks, named for the caller."""
    missing = []
    for trace, (_, _, scores) in results.items():
        if trace not in stored:
            missing.append(trace)
            continue
        for policy, score in stored[trace].items():
            scores.setdefault(policy, score)
    return missing


def target_lines(results: dict[str, tuple[int, int, dict[str, Score]]]) -> list[str]:
    """Per policy, the figures issue 17 sets targets on: ESR / oracle median and mean (over
    traces where the oracle saves), the worst trace's ESR, mean utilisation, and against
    lookback the worst distance and how many traces are more than a point below it."""
    lines = ["| policy | traces | ESR / oracle median | mean | worst trace ESR | mean "
             "utilisation | worst − lookback (points) | traces > 1 point below lookback |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    names = sorted({p for _, _, scores in results.values() for p in scores},
                   key=lambda p: (p.partition("@")[0] not in POLICY_NAMES, p))
    for policy in names:
        runs = {t: s for t, (_, _, s) in results.items() if policy in s}
        fractions = [s[policy].esr / s["oracle"].esr for s in runs.values()
                     if "oracle" in s and s["oracle"].esr > 0]
        worst = min(runs, key=lambda t: runs[t][policy].esr)
        behind = {t: 100 * (s[policy].esr - s["lookback"].esr) for t, s in runs.items()
                  if "lookback" in s}
        if behind:
            low = min(behind, key=behind.__getitem__)
            versus = f"{behind[low]:+.2f} ({low})"
            count = str(sum(d < -1.0 for d in behind.values()))
        else:
            versus = count = "—"
        median = f"{statistics.median(fractions):.3f}" if fractions else "—"
        mean = f"{statistics.mean(fractions):.3f}" if fractions else "—"
        lines.append(
            f"| {policy} | {len(runs)} | {median} | {mean} | "
            f"{100 * runs[worst][policy].esr:+.1f} % ({worst}) | "
            f"{statistics.mean(s[policy].utilisation for s in runs.values()):.3f} | "
            f"{versus} | {count} |")
    return lines


def scores_json(results: dict[str, tuple[int, int, dict[str, Score]]]) -> dict[str, object]:
    """The results as JSON-ready data: per trace, its keys, hours and every score."""
    return {name: {"keys": keys, "hours": hours,
                   "scores": {p: {k: v for k, v in s.to_dict().items() if k != "by_offering"}
                              for p, s in scores.items()}}
            for name, (keys, hours, scores) in results.items()}


def ladder_seeds(scores: dict[str, Score]) -> list[Score]:
    """The ladder's runs on one trace: its own, then one per extra seed."""
    return [s for name, s in scores.items() if name == "ladder" or name.startswith("ladder@")]


def seed_spread(results: dict[str, tuple[int, int, dict[str, Score]]]) -> list[str]:
    """The ladder's ESR and utilisation over the seeds, per trace and over the suite."""
    spread = {name: ladder_seeds(scores) for name, (_, _, scores) in results.items()}
    lines = ["| trace | seeds | ESR mean | ESR lowest | ESR highest | utilisation mean | "
             "utilisation lowest | utilisation highest | mean − lookback (points) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    distances: dict[str, float] = {}
    for name, scores in spread.items():
        esr = [s.esr for s in scores]
        used = [s.utilisation for s in scores]
        lookback = results[name][2].get("lookback")
        distance = "—"
        if lookback is not None:
            distances[name] = 100 * (statistics.mean(esr) - lookback.esr)
            distance = f"{distances[name]:+.2f}"
        lines.append(f"| {name} | {len(scores)} | {statistics.mean(esr):.4f} | {min(esr):.4f} | "
                     f"{max(esr):.4f} | {statistics.mean(used):.3f} | {min(used):.3f} | "
                     f"{max(used):.3f} | {distance} |")
    runs = len(next(iter(spread.values())))
    per_seed_esr = [statistics.mean(scores[i].esr for scores in spread.values())
                    for i in range(runs)]
    per_seed_used = [statistics.mean(scores[i].utilisation for scores in spread.values())
                     for i in range(runs)]
    line = (f"- ladder over {runs} seeds: mean ESR {statistics.mean(per_seed_esr):.4f} (per "
            f"seed {', '.join(f'{v:.4f}' for v in per_seed_esr)}), mean utilisation "
            f"{statistics.mean(per_seed_used):.3f} (per seed "
            f"{', '.join(f'{v:.3f}' for v in per_seed_used)})")
    if distances:
        worst = min(distances, key=distances.__getitem__)
        ahead = sum(d > 0 for d in distances.values())
        line += (f"; its mean ahead of lookback on {ahead} of {len(distances)} traces, worst "
                 f"{distances[worst]:+.2f} points ({worst})")
    return [*lines, "", line]


def _fraction(esr: float, oracle: float | None) -> str:
    if oracle is None or oracle <= 0:
        return "—"
    return f"{esr / oracle:.3f}"


def table(results: dict[str, tuple[int, int, dict[str, Score]]]) -> list[str]:
    """The markdown table, one row per trace and policy."""
    lines = ["| trace | keys | hours | policy | ESR | ESR / oracle | coverage | utilisation "
             "| purchases | time (s) |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for name, (keys, hours, scores) in results.items():
        oracle = scores["oracle"].esr if "oracle" in scores else None
        for policy, s in scores.items():
            lines.append(
                f"| {name} | {keys} | {hours} | {policy} | {s.esr:.4f} | "
                f"{_fraction(s.esr, oracle)} | {s.coverage:.3f} | {s.utilisation:.3f} | "
                f"{s.n_purchases} | {s.run_seconds:.2f} |")
    return lines


def summary(results: dict[str, tuple[int, int, dict[str, Score]]]) -> list[str]:
    """Mean and worst ESR fraction per policy, and the oracle invariant per trace."""
    lines = []
    policies = [p for p in POLICY_NAMES if p not in ("none", "oracle")]
    for policy in policies:
        runs = [scores for _, _, scores in results.values() if policy in scores]
        fractions = sorted(s[policy].esr / s["oracle"].esr for s in runs
                           if "oracle" in s and s["oracle"].esr > 0)
        if not runs:
            continue
        line = (f"- {policy}: mean ESR {statistics.mean(s[policy].esr for s in runs):.4f}, "
                f"mean utilisation {statistics.mean(s[policy].utilisation for s in runs):.3f}")
        if fractions:
            line += (f"; ESR / oracle mean {statistics.mean(fractions):.3f}, median "
                     f"{statistics.median(fractions):.3f}, min {fractions[0]:.3f} over "
                     f"{len(fractions)} traces")
        lines.append(line)
    worst_gap, violations = 0.0, []
    for name, (_, _, scores) in results.items():
        if "oracle" not in scores:
            continue
        oracle = scores["oracle"]
        scale = max(oracle.on_demand_equivalent, 1.0)
        worst_gap = max(worst_gap, float(oracle.details.get("allocation_gap", 0.0)) / scale)
        for other, s in scores.items():
            if oracle.total_cost > s.total_cost + TOLERANCE * scale:
                violations.append(f"{name}: oracle {oracle.total_cost:.6f} > {other} "
                                  f"{s.total_cost:.6f}")
    lines.append(f"- oracle billed cost ≤ every other policy's on every trace: "
                 f"{'yes' if not violations else 'NO'}; largest allocation gap (billed − LP) "
                 f"{worst_gap:.2e} of the on-demand equivalent")
    lines += [f"  - {v}" for v in violations]
    return lines


def timing(results: dict[str, tuple[int, int, dict[str, Score]]]) -> list[str]:
    """The oracle LP's size and time on the timing trace."""
    if TIMING_TRACE not in results or "oracle" not in results[TIMING_TRACE][2]:
        return []
    keys, hours, scores = results[TIMING_TRACE]
    oracle = scores["oracle"]
    d = oracle.details
    total = float(d["lp_build_seconds"]) + float(d["lp_solve_seconds"])
    return [
        f"- oracle on {TIMING_TRACE} ({keys} keys × {hours} h, {oracle.decisions} decision "
        f"hours, {d['lp_candidates']} offerings, {d['lp_offerings']} after pruning dominated "
        f"ones): {d['lp_variables']} variables, {d['lp_constraints']} constraints, "
        f"{d['lp_nonzeros']} non-zeros; built in {float(d['lp_build_seconds']):.2f} s, solved "
        f"in {float(d['lp_solve_seconds']):.2f} s ({total:.1f} s: "
        f"{'under' if total < 60 else 'OVER'} a minute) on {os.cpu_count()} cores"
    ]


def main(argv: Sequence[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=HERE, help="suite folder (MANIFEST.json)")
    parser.add_argument("--traces-dev", action="store_true",
                        help=f"also run the shared dev traces ({DEV / 'traces-dev'})")
    parser.add_argument("--dev-folder", type=Path, default=DEV, help=argparse.SUPPRESS)
    parser.add_argument("--only", nargs="*", help="trace names to run (default: all)")
    parser.add_argument("--policies", nargs="*", default=list(POLICY_NAMES),
                        choices=list(POLICY_NAMES))
    parser.add_argument("--cadence-hours", type=int, default=24)
    parser.add_argument("--warmup-hours", type=int, default=168)
    parser.add_argument("--lookback-hours", type=int, default=168)
    parser.add_argument("--waste-weight", type=float, default=None,
                        help="the ladder's waste weight (default: its own, "
                             f"{LADDER_POLICY.waste_weight})")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                        help="the ladder's purchase-policy settings, e.g. tranche_fraction=1")
    parser.add_argument("--jobs", type=int, default=1, help="traces run in parallel")
    parser.add_argument("--json", type=Path, help="write every score to this file")
    parser.add_argument("--merge", type=Path, metavar="FILE",
                        help="an earlier --json of the same suite: its scores of the policies "
                             "not run now join the tables (not the written --json)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="seeds of the ladder's scenario draws: one run per seed, and "
                             "their spread (default: 0)")
    parser.add_argument("--common-draws", action="store_true",
                        help="the ladder's scenarios from common random numbers (one seed at "
                             "every decision, history blocks anchored to clock hours) in "
                             "antithetic pairs (default: drawn anew at every decision)")
    args = parser.parse_args(argv)
    if len(set(args.seeds)) != len(args.seeds):
        parser.error("--seeds: give each seed once")

    ladder = None if args.waste_weight is None else \
        replace(LADDER_POLICY, waste_weight=args.waste_weight)
    if args.set:
        try:
            ladder = policy_settings(args.set, ladder or LADDER_POLICY)
        except ValueError as error:
            parser.error(str(error))
    config = BacktestConfig(cadence_hours=args.cadence_hours, warmup_hours=args.warmup_hours,
                            lookback_hours=args.lookback_hours, ladder_policy=ladder,
                            ladder_seed=args.seeds[0],
                            ladder_common_draws=args.common_draws)
    groups = [("Suite", suite_cases(args.suite))]
    if args.traces_dev:
        dev = dev_cases(args.dev_folder)
        if not dev:
            print(f"(no dev traces under {args.dev_folder})")
        groups.append(("Shared dev traces", dev))
    print(f"cadence {config.cadence_hours} h, warm-up {config.warmup_hours} h, lookback "
          f"{config.lookback_hours} h\n")
    if args.set:
        print(f"ladder settings: {', '.join(args.set)}\n")
    stored: dict[str, object] = {"config": {"cadence_hours": config.cadence_hours,
                                            "warmup_hours": config.warmup_hours,
                                            "lookback_hours": config.lookback_hours,
                                            "set": list(args.set), "seeds": args.seeds,
                                            "waste_weight": args.waste_weight,
                                            "common_draws": args.common_draws,
                                            "merged": None if args.merge is None
                                            else str(args.merge)}}
    for title, cases in groups:
        chosen = [c for c in cases if not args.only or c.name in args.only]
        results = run_cases(chosen, config, args.policies, args.seeds[1:], jobs=args.jobs)
        if not results:
            continue
        stored[title] = scores_json(results)
        if args.merge is not None:
            missing = merge_stored(results, stored_scores(args.merge, title))
            if missing:
                print(f"(not in {args.merge}: {', '.join(missing)})")
        print(f"### {title}\n")
        print("\n".join(table(results)))
        print()
        print("\n".join(summary(results) + timing(results)))
        print()
        print("\n".join(target_lines(results)))
        print()
        if "ladder" in args.policies and len(args.seeds) > 1:
            print(f"### {title}: the ladder over seeds {', '.join(map(str, args.seeds))}\n")
            print("\n".join(seed_spread(results)))
            print()
    if args.json:
        args.json.write_text(json.dumps(stored, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
