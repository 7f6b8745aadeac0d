"""Leave-one-source-out: choose a setting on every source but one, score it on that one.

Run: ``python -m benchmarks.backtest.loso --suite benchmarks/backtest SETTING=FILE ...``,
each ``FILE`` the ``--json`` output of one ``benchmarks.backtest.run`` at one setting of the
ladder (``--set ...``) over the same suite. A trace's sources are the public datasets its
keys come from (``nab``, ``azure``, ``google``, ``worldcup98``; from ``MANIFEST.json``).

For each source ``S``: the setting is chosen on the traces that hold no key of ``S`` (the
rule: the highest mean ESR among settings whose mean utilisation there is at least the
floor, else the highest utilisation), then scored on the traces that hold ``S``. The
figures printed are the held-out ones only: they are what a setting tuned elsewhere does
on usage it never saw. A trace with keys of several sources is held out with each of them
and never used to choose against any of them.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

UTILISATION_FLOOR = 0.95

Scores = Mapping[str, Mapping[str, float]]
"""Per trace, the ladder's score fields (``esr``, ``utilisation``) at one setting."""


def trace_sources(manifest: Sequence[Mapping[str, object]]) -> dict[str, frozenset[str]]:
    """Per trace name, the sources of its keys (``source`` field, else from the dataset)."""
    out = {}
    for entry in manifest:
        keys = entry["keys"]
        assert isinstance(keys, list)
        found = set()
        for key in keys:
            source = key.get("source")
            if source is None:
                dataset, series = key["dataset"], key.get("series_id", "")
                source = ("azure" if "azure" in series else "google") if dataset == "dc" \
                    else dataset
            found.add(str(source))
        out[str(entry["name"])] = frozenset(found)
    return out


def choose(settings: Mapping[str, Scores], traces: Sequence[str], *,
           floor: float = UTILISATION_FLOOR) -> str:
    """The setting with the highest mean ESR on ``traces`` among those whose mean
    utilisation there reaches ``floor``; if none does, the most utilised one."""
    def means(name: str) -> tuple[float, float]:
        runs = [settings[name][t] for t in traces]
        return (statistics.mean(r["esr"] for r in runs),
                statistics.mean(r["utilisation"] for r in runs))

    figures = {name: means(name) for name in sorted(settings)}
    admissible = [n for n, (_, used) in figures.items() if used >= floor]
    if admissible:
        return max(admissible, key=lambda n: figures[n][0])
    return max(figures, key=lambda n: figures[n][1])


@dataclass(frozen=True)
class Fold:
    """One held-out source: the setting chosen without it and its held-out traces."""

    source: str
    chosen: str
    tuned_on: tuple[str, ...]
    held_out: tuple[str, ...]


def folds(sources: Mapping[str, frozenset[str]], settings: Mapping[str, Scores], *,
          floor: float = UTILISATION_FLOOR) -> list[Fold]:
    """One fold per source that some trace holds and some other trace does not."""
    common = set.intersection(*(set(s) for s in settings.values()))
    out = []
    for source in sorted({s for names in sources.values() for s in names}):
        held = tuple(t for t in sorted(common) if source in sources[t])
        tuned = tuple(t for t in sorted(common) if source not in sources[t])
        if held and tuned:
            out.append(Fold(source, choose(settings, tuned, floor=floor), tuned, held))
    return out


def held_out_scores(fold_list: Sequence[Fold], settings: Mapping[str, Scores]
                    ) -> dict[str, tuple[str, Mapping[str, float]]]:
    """Per trace, the setting it is scored at and that score. A trace held out by several
    folds (keys of several sources) takes the lowest ESR of them: the honest side."""
    out: dict[str, tuple[str, Mapping[str, float]]] = {}
    for fold in fold_list:
        for trace in fold.held_out:
            score = settings[fold.chosen][trace]
            if trace not in out or score["esr"] < out[trace][1]["esr"]:
                out[trace] = (fold.chosen, score)
    return out


def load_setting(path: Path, suite_title: str = "Suite") -> tuple[Scores, dict[str, dict]]:
    """The ladder's scores per trace from a run's ``--json``, and every policy's scores."""
    data = json.loads(path.read_text(encoding="utf-8"))
    runs = data[suite_title]
    ladder = {t: r["scores"]["ladder"] for t, r in runs.items() if "ladder" in r["scores"]}
    return ladder, {t: r["scores"] for t, r in runs.items()}


def report(fold_list: Sequence[Fold], settings: Mapping[str, Scores],
           others: Mapping[str, Mapping[str, Mapping[str, float]]]) -> list[str]:
    """The folds, then the held-out figures against the oracle and lookback."""
    lines = ["| held-out source | setting chosen on the others | traces tuned on | "
             "traces held out |", "|---|---|---:|---:|"]
    lines += [f"| {f.source} | {f.chosen} | {len(f.tuned_on)} | {len(f.held_out)} |"
              for f in fold_list]
    scored = held_out_scores(fold_list, settings)
    lines += ["", "| trace | setting | ESR | ESR / oracle | utilisation | − lookback (points) |",
              "|---|---|---:|---:|---:|---:|"]
    fractions, behind = [], []
    for trace, (setting, s) in sorted(scored.items()):
        oracle = others.get(trace, {}).get("oracle")
        lookback = others.get(trace, {}).get("lookback")
        fraction = "—"
        if oracle and oracle["esr"] > 0:
            fractions.append(s["esr"] / oracle["esr"])
            fraction = f"{fractions[-1]:.3f}"
        distance = "—"
        if lookback:
            behind.append(100 * (s["esr"] - lookback["esr"]))
            distance = f"{behind[-1]:+.2f}"
        lines.append(f"| {trace} | {setting} | {s['esr']:.4f} | {fraction} | "
                     f"{s['utilisation']:.3f} | {distance} |")
    used = [s["utilisation"] for _, s in scored.values()]
    summary = f"- held out: {len(scored)} traces, mean utilisation {statistics.mean(used):.3f}"
    if fractions:
        summary += (f", ESR / oracle median {statistics.median(fractions):.3f}, mean "
                    f"{statistics.mean(fractions):.3f}")
    summary += f", worst ESR {min(s['esr'] for _, s in scored.values()):+.4f}"
    if behind:
        summary += (f", worst − lookback {min(behind):+.2f} points, "
                    f"{sum(b < -1 for b in behind)} traces more than a point below it")
    return [*lines, "", summary]


def main(argv: Sequence[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, required=True, help="folder of MANIFEST.json")
    parser.add_argument("--title", default="Suite", help="the results' section (run.py)")
    parser.add_argument("--floor", type=float, default=UTILISATION_FLOOR)
    parser.add_argument("runs", nargs="+", metavar="SETTING=FILE")
    args = parser.parse_args(argv)
    settings: dict[str, Scores] = {}
    others: dict[str, dict] = {}
    for run in args.runs:
        name, sep, file = run.partition("=")
        if not sep:
            parser.error(f"{run!r}: expected SETTING=FILE")
        settings[name], scores = load_setting(Path(file), args.title)
        for trace, by_policy in scores.items():
            others.setdefault(trace, {}).update(
                {p: v for p, v in by_policy.items() if p != "ladder"})
    manifest = json.loads((args.suite / "MANIFEST.json").read_text(encoding="utf-8"))
    fold_list = folds(trace_sources(manifest), settings, floor=args.floor)
    print("\n".join(report(fold_list, settings, others)))


if __name__ == "__main__":
    main()
