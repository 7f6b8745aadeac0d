"""The autonomous run's purchase policy: the ladder's, with the settings' overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings
from ladder.planners import run_risk_settings
from optimizer.ladder_policy import LADDER_POLICY


def test_the_run_policy_is_the_ladders_unless_the_settings_say_otherwise(tmp_path: Path) -> None:
    default = run_risk_settings(Settings(data_dir=tmp_path))
    assert default.waste_weight == LADDER_POLICY.waste_weight > 0
    assert default.exchanges and default.returns
    assert default.cvar_weight == LADDER_POLICY.cvar_weight
    assert default.representative_hours == LADDER_POLICY.representative_hours == 240

    plain = run_risk_settings(Settings(data_dir=tmp_path, waste_weight=0.0, exchanges=False,
                                cost_of_capital=0.07, representative_hours=480))
    assert plain.waste_weight == 0.0
    assert plain.representative_hours == 480
    assert not plain.exchanges and not plain.returns
    assert plain.cost_of_capital == 0.07


def test_a_negative_waste_weight_setting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="waste_weight"):
        Settings(data_dir=tmp_path, waste_weight=-1.0)
    with pytest.raises(ValueError, match="representative_hours"):
        Settings(data_dir=tmp_path, representative_hours=0)
