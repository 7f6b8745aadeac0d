"""Gradient boosting (scikit-learn's HistGradientBoostingRegressor) with quantile loss.

**Direct, one global model.** One model per quantile is trained across all keys
and all leads at once: a training row is an (origin, lead) pair of one key,
whose features are known at the origin — the lead, the calendar of the target
hour, the same hour one day and one week before that are at or before the
origin (the most recent horizon-safe seasonal lags), the key's recent level and
daily profile — and whose target is the usage at ``origin + lead``. No feature
ever looks past the origin, whatever the lead, so the model forecasts every
lead directly from the last origin without feeding its own forecasts back.
Features and target are divided by the key's mean usage over the week before
the origin, so keys of any size share one model.

**Conformal widening.** Quantile loss alone gives intervals that are too narrow
out of sample. The rows of the last ``horizon`` hours of origins are held out:
the models are trained on rows whose target precedes them, and the held-out
errors, divided by the width of the model's own 10–90% interval, give the
calibrated quantiles by day of lead (normalised conformal prediction, pooled
over keys). The forecast is ``median + width × quantile of scaled errors``.

**Cost.** At most ``max_rows`` rows are drawn for training and as many for
calibration, before their features are built. Past the trained ``horizon`` the
lead is read as the last trained one and every other feature repeats weekly,
so one week of those leads is predicted and repeated.

When the history gives fewer than ``min_rows`` training rows (about four weeks
for a single key, less for a fleet), the forecaster falls back to
``SeasonalProfile``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from forecasting.base import Forecaster
from forecasting.calibration import LeadErrors
from forecasting.profile import SeasonalProfile, _masked
from forecasting.robust import nanmedian, quiet

DAY = 24
WEEK = 168
ORIGIN_STEP = 24
MIN_ORIGIN_HISTORY = 48
FEATURES = ("lead", "hour", "weekday", "lag_day", "lag_week", "profile", "last_6h",
            "last_24h", "week_spread", "week_trend")


def origin_features(history: np.ndarray, last_hour: pd.Timestamp, rows_lead: np.ndarray,
                    rows_key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features of the targets ``origin + rows_lead`` of keys ``rows_key``, at the history's end.

    ``history`` is hours × keys with NaN before a key's start and ``last_hour``
    its last hour (the origin is the hour after). Returns the feature matrix
    (rows, len(FEATURES)) and each row's scale (the key's mean usage over the
    last week), by which features and targets are divided.
    """
    n_hours = history.shape[0]
    week = history[-WEEK:]
    with quiet():
        scale = np.nanmean(week, axis=0)
        last_24h = np.nanmean(history[-DAY:], axis=0)
        last_6h = np.nanmean(history[-6:], axis=0)
        spread = np.nanstd(week, axis=0)
        first_day = np.nanmean(week[:DAY], axis=0)
        days = np.full((7 * DAY, history.shape[1]), np.nan)
        days[-min(n_hours, 7 * DAY):] = history[-7 * DAY:]
        profile = nanmedian(days.reshape(7, DAY, -1))  # by position from the origin
    scale = np.where(np.nan_to_num(scale) > 0, scale, 1.0)
    target_index = n_hours - 1 + rows_lead  # index of each target in the extended series
    # The most recent same hour of day, and of week, at or before the origin.
    day_lag = target_index - DAY * (-(-rows_lead // DAY))
    week_lag = target_index - WEEK * (-(-rows_lead // WEEK))
    hour_of_week = (last_hour.dayofweek * DAY + last_hour.hour + rows_lead) % WEEK
    row_scale = scale[rows_key]
    with quiet():
        lag_day = np.where(day_lag >= 0, history[np.maximum(day_lag, 0), rows_key], np.nan)
        lag_week = np.where(week_lag >= 0, history[np.maximum(week_lag, 0), rows_key], np.nan)
        features = np.column_stack([
            rows_lead,
            hour_of_week % DAY,
            hour_of_week // DAY,
            lag_day / row_scale,
            lag_week / row_scale,
            profile[(rows_lead - 1) % DAY, rows_key] / row_scale,
            last_6h[rows_key] / row_scale,
            last_24h[rows_key] / row_scale,
            spread[rows_key] / row_scale,
            (last_24h - first_day)[rows_key] / row_scale,
        ])
    return features, row_scale


class GradientBoostingForecaster(Forecaster):
    """Global HistGradientBoosting quantile models, direct over leads, conformally widened."""

    def __init__(self, horizon: int = WEEK, max_iter: int = 100, learning_rate: float = 0.1,
                 max_leaf_nodes: int = 31, min_samples_leaf: int = 40,
                 max_rows: int = 50_000, min_rows: int = 2_000, n_threads: int = 1,
                 random_state: int = 0) -> None:
        self.horizon = horizon
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.max_rows = max_rows
        self.min_rows = min_rows
        self.n_threads = n_threads
        self.random_state = random_state

    def _rows(self, clean: np.ndarray, raw: np.ndarray, origins: list[int],
              rng: np.random.Generator, limit: int | None,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Features, clean target, raw target, lead and (origin, key) group of rows.

        A row is one (origin, lead, key) with the key's history ending at the
        origin; at most ``limit`` rows, sampled evenly over origins.
        """
        n_hours, n_keys = clean.shape
        keys = np.arange(n_keys)
        parts: list[tuple[np.ndarray, ...]] = []
        per_origin = None if limit is None else max(1, limit // max(1, len(origins)))
        for number, origin in enumerate(origins):
            leads = np.arange(1, min(self.horizon, n_hours - origin) + 1)
            active = keys[origin - self.starts_ >= MIN_ORIGIN_HISTORY]
            pairs = leads.size * active.size
            if pairs == 0:
                continue
            # Sample (lead, key) pairs before building features: most would be thrown away.
            if per_origin is not None and pairs > per_origin:
                chosen = rng.choice(pairs, per_origin, replace=False)
            else:
                chosen = np.arange(pairs)
            lead = leads[chosen % leads.size]
            key_index = active[chosen // leads.size]
            features, scale = origin_features(clean[:origin], self.hours_[origin - 1], lead,
                                              key_index)
            target_index = origin - 1 + lead
            y_clean = clean[target_index, key_index] / scale
            y_raw = raw[target_index, key_index] / scale
            group = number * n_keys + key_index
            keep = np.isfinite(y_clean)
            parts.append((features[keep], y_clean[keep], y_raw[keep], lead[keep], group[keep]))
        if not parts:
            empty = np.zeros((0, len(FEATURES)))
            nothing = np.zeros(0, dtype=int)
            return empty, np.zeros(0), np.zeros(0), nothing, nothing
        stacked = [np.concatenate([p[i] for p in parts]) for i in range(5)]
        return (stacked[0], stacked[1], stacked[2], stacked[3].astype(int),
                stacked[4].astype(int))

    def _model(self, level: float) -> object:
        from sklearn.ensemble import HistGradientBoostingRegressor

        return HistGradientBoostingRegressor(
            loss="quantile", quantile=level, max_iter=self.max_iter,
            learning_rate=self.learning_rate, max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf, random_state=self.random_state,
        )

    def _fit(self, raw: np.ndarray, clean: np.ndarray) -> None:
        # OpenMP threads that spin on a busy machine cost more than they give.
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            self._fit_models(raw, clean)

    def _fit_models(self, raw: np.ndarray, clean: np.ndarray) -> None:
        clean_masked = _masked(clean, self.starts_)
        raw_masked = _masked(raw, self.starts_)
        n_hours = raw.shape[0]
        rng = np.random.default_rng(self.random_state)
        cutoff = n_hours - self.horizon
        train_origins = list(range(cutoff - self.horizon, MIN_ORIGIN_HISTORY - 1, -ORIGIN_STEP))
        calibration_origins = list(range(n_hours - ORIGIN_STEP, cutoff - 1, -ORIGIN_STEP))
        # Training targets must precede the held-out origins: leads are cut at the cutoff.
        x_train, y_train, _, _, _ = self._rows(clean_masked[:cutoff], raw_masked[:cutoff],
                                               train_origins, rng, self.max_rows)
        self.fallback_: Forecaster | None = None
        if len(y_train) < self.min_rows or not calibration_origins:
            self.fallback_ = self._fit_child(SeasonalProfile(), raw, clean)
            return
        self.models_: dict[float, object] = {}
        for level in (0.1, 0.5, 0.9):
            self.models_[level] = self._model(level).fit(x_train, y_train)  # type: ignore[attr-defined]
        x_cal, _, y_cal, lead_cal, group_cal = self._rows(clean_masked, raw_masked,
                                                          calibration_origins, rng, self.max_rows)
        median, width = self._median_width(x_cal)
        # Scaled errors pooled over keys: each (origin, key) is one sample of a lead path.
        groups, group_index = np.unique(group_cal, return_inverse=True)
        errors = np.full((len(groups), self.horizon, 1), np.nan)
        errors[group_index, lead_cal - 1, 0] = (y_cal - median) / width
        self.errors_: LeadErrors = LeadErrors(errors)
        self.history_: np.ndarray = clean_masked

    def _median_width(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        low, median, high = (self.models_[q].predict(features)  # type: ignore[attr-defined]
                             for q in (0.1, 0.5, 0.9))
        width = np.maximum(high - low, 0.02 * np.maximum(np.abs(median), 1e-3))
        return median, width

    def _quantiles(self, horizon: int, levels: tuple[float, ...]) -> np.ndarray:
        if self.fallback_ is not None:
            return self.fallback_._quantiles(horizon, levels)
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            return self._predict_quantiles(horizon, levels)

    def _predict_quantiles(self, horizon: int, levels: tuple[float, ...]) -> np.ndarray:
        n_keys = len(self.usage_keys_)
        leads = np.arange(1, horizon + 1)
        # Past the trained horizon the lead is read as the last trained one, and every
        # other feature repeats weekly: one week of those leads stands for all of them.
        beyond = leads > self.horizon
        representative = np.where(beyond, self.horizon + (leads - self.horizon - 1) % WEEK + 1,
                                  leads)
        unique, position = np.unique(representative, return_inverse=True)
        features, scale = origin_features(self.history_, self.last_hour_,
                                          np.tile(unique, n_keys),
                                          np.repeat(np.arange(n_keys), unique.size))
        features[:, 0] = np.minimum(features[:, 0], self.horizon)
        median, width = self._median_width(features)
        shape = (n_keys, unique.size)
        median, width, scale = (a.reshape(shape)[:, position] for a in (median, width, scale))
        offsets = np.nan_to_num(self.errors_.quantiles(levels, horizon)[:, :, 0])  # (L, H)
        values = (median[None] + offsets[:, None, :] * width[None]) * scale[None]  # (L, K, H)
        return values.transpose(0, 2, 1)
