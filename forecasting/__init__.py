"""Probabilistic hourly usage forecasts per key: quantiles and scenarios, honestly scored.

``forecasting`` imports only ``core``: it knows usage, not prices or commitments.

* ``base``: the interface (``Forecaster``: ``fit``, ``predict``, ``sample_paths``)
  and the validation of histories;
* ``naive``, ``profile``, ``stats``, ``boosting``: the forecasters; ``ensemble``
  averages their quantiles; ``chooser`` picks one per key by rolling-origin
  backtest (the default); ``registry`` names them;
* ``robust``: new keys, decommissioned keys, spikes; ``calibration``: conformal
  quantiles of held-out errors; ``scenarios``: sample paths;
* ``evaluate``: rolling-origin evaluation (pinball loss, coverage, skill);
* ``spend``: daily spend forecasts (weekday and month-end effects, 80 % and 95 %
  intervals from sample paths, known committed spend) and their rolling-origin scores
  against seasonal naive and run rate.
"""

from forecasting.base import QUANTILES, Forecaster, history_frame, quantile_column, to_wide
from forecasting.registry import DEFAULT, FORECASTERS, make_forecaster

__all__ = [
    "DEFAULT",
    "FORECASTERS",
    "QUANTILES",
    "Forecaster",
    "history_frame",
    "make_forecaster",
    "quantile_column",
    "to_wide",
]
