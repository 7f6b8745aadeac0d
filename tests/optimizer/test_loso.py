"""Leave-one-source-out (``benchmarks/backtest/loso.py``): a setting is never scored on a
source it was chosen on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.backtest import loso
from benchmarks.backtest.run import HERE

SOURCES = {"a1": frozenset({"nab"}), "a2": frozenset({"nab"}), "b1": frozenset({"azure"}),
           "ab": frozenset({"nab", "azure"})}


def _s(esr: float, used: float) -> dict[str, float]:
    return {"esr": esr, "utilisation": used}


# "bold" wins on nab traces, "careful" on azure ones: a choice made in sample would
# take each source's own winner; out of sample each source gets the other's.
SETTINGS = {
    "bold": {"a1": _s(0.40, 0.97), "a2": _s(0.38, 0.96), "b1": _s(0.10, 0.96),
             "ab": _s(0.20, 0.96)},
    "careful": {"a1": _s(0.30, 0.99), "a2": _s(0.295, 0.99), "b1": _s(0.30, 0.99),
                "ab": _s(0.25, 0.99)},
}


def test_each_source_is_scored_at_the_setting_chosen_without_it() -> None:
    fold_list = {f.source: f for f in loso.folds(SOURCES, SETTINGS)}
    assert fold_list["azure"].tuned_on == ("a1", "a2")
    assert fold_list["azure"].chosen == "bold"
    assert fold_list["nab"].tuned_on == ("b1",)
    assert fold_list["nab"].chosen == "careful"
    for fold in fold_list.values():
        assert not set(fold.tuned_on) & set(fold.held_out)
    scored = loso.held_out_scores(list(fold_list.values()), SETTINGS)
    assert scored["b1"][0] == "bold" and scored["a1"][0] == "careful"
    # "ab" is held out by both folds: it takes the lower of its two held-out ESRs.
    assert scored["ab"] == ("bold", SETTINGS["bold"]["ab"])


def test_the_utilisation_floor_rules_out_a_richer_setting() -> None:
    settings = {"rich": {"x": _s(0.5, 0.90)}, "safe": {"x": _s(0.4, 0.96)}}
    assert loso.choose(settings, ["x"]) == "safe"
    assert loso.choose(settings, ["x"], floor=0.85) == "rich"
    assert loso.choose({"p": {"x": _s(0.5, 0.8)}, "q": {"x": _s(0.1, 0.9)}}, ["x"]) == "q"


def test_the_suites_sources_come_from_the_manifest() -> None:
    manifest = json.loads((HERE / "MANIFEST.json").read_text())
    sources = loso.trace_sources(manifest)
    assert sources["google-steady"] == {"google"}
    assert sources["asg-wc98-mix"] == {"nab", "worldcup98"}
    assert sources["fleet10-tiled"] == {"nab", "azure", "google", "worldcup98"}


def test_the_command_reads_run_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = [{"name": t, "keys": [{"source": s} for s in sorted(src)]}
                for t, src in SOURCES.items()]
    (tmp_path / "MANIFEST.json").write_text(json.dumps(manifest))
    files = []
    for name, scores in SETTINGS.items():
        runs = {t: {"keys": 1, "hours": 10, "scores": {
            "ladder": s, "oracle": _s(0.5, 1.0), "lookback": _s(0.3, 0.9)}}
            for t, s in scores.items()}
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"config": {}, "Suite": runs}))
        files.append(f"{name}={path}")
    loso.main(["--suite", str(tmp_path), *files])
    out = capsys.readouterr().out
    assert "| b1 | bold | 0.1000 | 0.200 | 0.960 | -20.00 |" in out
    assert "- held out: 4 traces" in out and "2 traces more than a point below it" in out
