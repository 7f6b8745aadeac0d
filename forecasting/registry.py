"""Forecasters by name, for the CLI, the benchmarks and the optimizer's policies."""

from __future__ import annotations

from collections.abc import Callable

from core.errors import InvalidInput
from forecasting.base import Forecaster
from forecasting.boosting import GradientBoostingForecaster
from forecasting.chooser import BacktestChooser
from forecasting.ensemble import QuantileAverage
from forecasting.naive import SeasonalNaive
from forecasting.profile import SeasonalProfile
from forecasting.stats import MSTLForecaster

DEFAULT = "chooser"

FORECASTERS: dict[str, Callable[[], Forecaster]] = {
    "seasonal-naive": SeasonalNaive,
    "seasonal-naive-daily": lambda: SeasonalNaive(season_length=24),
    "seasonal-profile": SeasonalProfile,
    "mstl": MSTLForecaster,
    "gradient-boosting": GradientBoostingForecaster,
    "ensemble": QuantileAverage,
    "chooser": BacktestChooser,
}


def make_forecaster(name: str) -> Forecaster:
    """A new, unfitted forecaster of the given name (see ``FORECASTERS``)."""
    try:
        factory = FORECASTERS[name]
    except KeyError:
        raise InvalidInput(
            f"unknown forecaster {name!r}; known: {', '.join(FORECASTERS)}"
        ) from None
    return factory()
