"""The backtest: replay a usage trace with a policy, bill it, score it (BENCHMARK.md).

* :mod:`~optimizer.backtest.trace` reads and validates usage trace CSVs;
* :mod:`~optimizer.backtest.purchases` holds purchases, the portfolio and the purchase log;
* :mod:`~optimizer.backtest.schedule` says when decisions are taken and what may be bought;
* :mod:`~optimizer.backtest.policies` the backtest strategies, BENCHMARK.md's "policies"
  (``none``, ``lookback``, ``ladder``, ``oracle``), behind one protocol,
  :class:`~optimizer.backtest.policies.BacktestStrategy`;
* :mod:`~optimizer.backtest.oracle` the hindsight LP;
* :mod:`~optimizer.backtest.runner` the replay and the score.
"""

from optimizer.backtest.policies import BacktestStrategy, UsageHistory
from optimizer.backtest.purchases import (
    Portfolio,
    Purchase,
    read_purchase_log,
    write_purchase_log,
)
from optimizer.backtest.runner import (
    POLICY_NAMES,
    BacktestConfig,
    BacktestResult,
    Score,
    backtest,
    make_policy,
    run_backtest,
    score_purchases,
)
from optimizer.backtest.trace import UsageTrace, read_trace

__all__ = [
    "POLICY_NAMES",
    "BacktestConfig",
    "BacktestResult",
    "BacktestStrategy",
    "Portfolio",
    "Purchase",
    "Score",
    "UsageHistory",
    "UsageTrace",
    "backtest",
    "make_policy",
    "read_purchase_log",
    "read_trace",
    "run_backtest",
    "score_purchases",
    "write_purchase_log",
]
