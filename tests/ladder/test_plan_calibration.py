"""A live run's self-calibration: stored on the plan and shown by `ladder plans show`."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from typer.testing import CliRunner

from core.db import repository
from core.db.models import PlanRow
from core.db.session import create_engine_for, session_scope
from core.settings import Settings, get_settings
from ladder.cli import app
from ladder.planners import run_risk_settings
from ladder.render import calibration_lines
from optimizer.calibration import GridPoint

runner = CliRunner()


def test_the_run_policy_calibrates_only_when_the_setting_says_so(tmp_path: Path) -> None:
    assert run_risk_settings(Settings(data_dir=tmp_path)).calibration_days == 0
    assert run_risk_settings(Settings(data_dir=tmp_path, calibration_days=7)).calibration_days == 7
    with pytest.raises(ValueError, match="calibration_days"):
        Settings(data_dir=tmp_path, calibration_days=-1)


def test_optimize_stores_the_calibration_and_plans_show_prints_it(
    ladder_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two weeks of the sample, three days replayed (decisions 72, 48 and 24 hours before
    the run) over two settings; the plan is made with the chosen one's settings."""
    for name, value in {"LADDER_LOOKBACK_HOURS": "336", "LADDER_CALIBRATION_DAYS": "3",
                        "LADDER_HORIZON_HOURS": "48", "LADDER_SCENARIOS": "2",
                        "LADDER_EXCHANGES": "false"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("ladder.planners.CALIBRATION_GRID", (
        GridPoint("current"), GridPoint("bold", (("waste_weight", 0.5),
                                                 ("tranche_fraction", 1.0)))))
    get_settings.cache_clear()
    settings = get_settings()
    result = runner.invoke(app, ["optimize"])
    assert result.exit_code == 0, result.output
    assert "Calibrating: replaying the last 3 days" in result.output

    engine = create_engine_for(settings.database_url)
    with session_scope(engine) as session:
        plan = repository.list_plans(session)[0]
        calibration = plan.details["calibration"]
        history_start = datetime.fromisoformat(plan.details["history_start"])
        plan_id = plan.id
    assert calibration["calibrated"] is True
    assert calibration["decisions"] == 3 and calibration["replay_hours"] == 72
    assert datetime.fromisoformat(calibration["replay_start"]) == \
        history_start + timedelta(hours=336 - 72)
    labels = [p["label"] for p in calibration["points"]]
    assert labels == ["current", "bold"] and calibration["chosen"] in labels
    chosen = calibration["points"][labels.index(calibration["chosen"])]
    assert calibration["settings"] == chosen["settings"]
    assert {p["settings"]["tranche_fraction"] for p in calibration["points"]} == {0.5, 1.0}
    for point in calibration["points"]:
        assert -1.0 <= point["esr"] <= 1.0 and 0.0 <= point["utilisation"] <= 1.0

    shown = runner.invoke(app, ["plans", "show", str(plan_id)])
    assert shown.exit_code == 0, shown.output
    assert f"Calibration: {calibration['chosen']} chosen" in shown.output
    assert "replayed 3 days (3 decisions" in shown.output
    for point in calibration["points"]:
        assert f"{point['label']}: ESR {point['esr']:.1%}, utilisation " \
               f"{point['utilisation']:.1%}" in shown.output


def test_a_calibration_that_fell_back_says_why_and_an_uncalibrated_plan_says_nothing(
) -> None:
    fell_back = cast(PlanRow, SimpleNamespace(details={"calibration": {
        "calibrated": False, "reason": "history of 200 h is shorter than the 240 h",
        "settings": {"waste_weight": 1.5, "tranche_fraction": 0.5}, "points": []}}))
    text = calibration_lines(fell_back)
    assert "Calibration: not run — history of 200 h is shorter" in text
    assert "waste_weight 1.5, tranche_fraction 0.5" in text
    assert calibration_lines(cast(PlanRow, SimpleNamespace(details={}))) == ""
