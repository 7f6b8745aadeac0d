"""Rolling-origin evaluation: pinball loss, coverage of the 80% interval, skill vs seasonal naive.

At each origin a fresh copy of every forecaster is fitted on the hours before
the origin only, and forecasts the next ``horizon`` hours; the forecasts are
scored against what happened. Scores:

* **pinball loss** at the 10th, 50th and 90th percentiles, in units, and its mean;
* **scaled pinball loss**: the pinball loss divided by the key's mean usage over
  the scored hours, so that keys and traces of different sizes weigh the same
  (a percentage of usage);
* **coverage**: the share of outcomes inside ``[q0.1, q0.9]`` (80% is ideal);
* **skill**: ``1 - scaled pinball(model) / scaled pinball(seasonal naive)`` on the
  same outcomes: positive is better than the baseline.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone

from core.errors import InvalidInput
from forecasting.base import (
    QUANTILES,
    Forecaster,
    check_horizon,
    prepare,
    quantile_column,
    to_wide,
)

BASELINE = "seasonal-naive"
MIN_HISTORY_HOURS = 72
ORIGIN_STEP_HOURS = 24


def pinball_loss(actual: np.ndarray, forecast: np.ndarray, level: float) -> np.ndarray:
    """The pinball (quantile) loss of each forecast of quantile ``level``, elementwise."""
    diff = np.asarray(actual, dtype=float) - np.asarray(forecast, dtype=float)
    return np.maximum(level * diff, (level - 1.0) * diff)


def rolling_origins(n_hours: int, horizon: int, n_origins: int,
                    min_history: int = MIN_HISTORY_HOURS,
                    step: int = ORIGIN_STEP_HOURS) -> list[int]:
    """Origins (the number of history hours each forecast sees), evenly spread, latest last.

    The latest origin leaves exactly ``horizon`` hours to score; the others go
    back in whole multiples of ``step`` hours, no earlier than ``min_history``.
    """
    horizon = check_horizon(horizon)
    if n_origins < 1:
        raise InvalidInput(f"the number of origins must be at least 1, got {n_origins}")
    last = n_hours - horizon
    if last < min_history:
        raise InvalidInput(
            f"the trace has {n_hours} hours: too short to forecast {horizon} hours after at "
            f"least {min_history} hours of history"
        )
    span = (last - min_history) // step
    back = np.unique(np.round(np.linspace(0, span, n_origins)).astype(int)) * step
    return sorted(int(last - b) for b in back)


def backtest(forecasters: Mapping[str, Forecaster], wide: pd.DataFrame, horizon: int,
             origins: list[int]) -> tuple[dict[str, pd.DataFrame], dict[str, float]]:
    """Forecasts of fresh copies of each forecaster at each origin, joined with the actual usage.

    Returns per forecaster a long frame ``origin, usage_key, hour, q0.1, q0.5,
    q0.9, actual, lead``, and the seconds it spent fitting and predicting.
    """
    frames: dict[str, list[pd.DataFrame]] = {name: [] for name in forecasters}
    seconds = dict.fromkeys(forecasters, 0.0)
    for origin in origins:
        prepared = prepare(wide.iloc[:origin])
        actual = wide.iloc[origin: origin + horizon].to_numpy().T.reshape(-1)
        for name, forecaster in forecasters.items():
            started = time.perf_counter()
            forecast = clone(forecaster).fit_prepared(prepared).predict(horizon, QUANTILES)
            seconds[name] += time.perf_counter() - started
            forecast["actual"] = actual
            forecast["lead"] = np.tile(np.arange(1, horizon + 1), wide.shape[1])
            forecast.insert(0, "origin", wide.index[origin])
            frames[name].append(forecast)
    return {name: pd.concat(parts, ignore_index=True) for name, parts in frames.items()}, seconds


def scaled(frame: pd.DataFrame, column: str) -> pd.Series:
    """``column`` divided by each (origin, key)'s mean actual usage (1 where that is zero)."""
    scale = frame.groupby(["origin", "usage_key"])["actual"].transform("mean")
    return frame[column] / scale.where(scale > 0, 1.0)


def score(frame: pd.DataFrame) -> dict[str, float]:
    """Pinball losses (raw and scaled), and 80% coverage of a backtest frame."""
    out: dict[str, float] = {}
    scored = frame.copy()
    losses = []
    for level in QUANTILES:
        column = quantile_column(level)
        scored[f"loss_{column}"] = pinball_loss(scored["actual"].to_numpy(),
                                                scored[column].to_numpy(), level)
        out[f"pinball_{column}"] = float(scored[f"loss_{column}"].mean())
        losses.append(f"loss_{column}")
    scored["loss"] = scored[losses].mean(axis=1)
    out["pinball"] = float(scored["loss"].mean())
    out["scaled_pinball"] = float(scaled(scored, "loss").mean())
    low, high = quantile_column(QUANTILES[0]), quantile_column(QUANTILES[-1])
    inside = (scored["actual"] >= scored[low]) & (scored["actual"] <= scored[high])
    out["coverage"] = float(inside.mean())
    return out


@dataclass(frozen=True)
class Evaluation:
    """The result of a rolling-origin evaluation: one row per model, and the raw forecasts."""

    table: pd.DataFrame
    forecasts: dict[str, pd.DataFrame]
    origins: tuple[pd.Timestamp, ...]
    horizon: int


def evaluate(history: pd.DataFrame, models: Mapping[str, Forecaster], *, horizon: int = 168,
             n_origins: int = 5, min_history: int = MIN_HISTORY_HOURS,
             baseline: str = BASELINE) -> Evaluation:
    """Rolling-origin evaluation of ``models`` on a usage history.

    ``models[baseline]`` is the reference of the skill column; it is added as a
    default ``SeasonalNaive`` if absent. The table has one row per model with
    ``pinball_q0.1, pinball_q0.5, pinball_q0.9, pinball, scaled_pinball,
    coverage, skill, seconds``.
    """
    from forecasting.naive import SeasonalNaive

    wide = to_wide(history)
    horizon = check_horizon(horizon)
    origins = rolling_origins(len(wide), horizon, n_origins, min_history)
    candidates = dict(models)
    if baseline not in candidates:
        candidates[baseline] = SeasonalNaive()
    forecasts, seconds = backtest(candidates, wide, horizon, origins)
    rows = [{"model": name, **score(forecasts[name]), "seconds": seconds[name]}
            for name in candidates]
    table = pd.DataFrame(rows).set_index("model")
    reference = float(table["scaled_pinball"].loc[baseline])
    table["skill"] = 1.0 - table["scaled_pinball"] / reference if reference > 0 else 0.0
    return Evaluation(table=table, forecasts=forecasts,
                      origins=tuple(wide.index[o] for o in origins), horizon=horizon)
