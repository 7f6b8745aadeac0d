"""The optimizer: what to buy, exchange and return.

* ``lp``, ``reduction``, ``linear_model``, ``lp_plan``: the foundation LP on past usage, its
  exact reductions, the array model handed to HiGHS, and its plans;
* ``stochastic``: the risk-aware stochastic LP over forecast scenarios (purchases,
  planned later purchases, exchanges, returns; CVaR of the loss; term-aware prices);
* ``representative``: representative hours (k-means, peaks and troughs kept);
* ``risk``: the decline learned from history, the term multiplier, CVaR;
* ``risk_settings``: :class:`~optimizer.risk_settings.RiskSettings`, the risk appetite and caps;
* ``stochastic_plan``: plans from the stochastic LP, billed per scenario, explained and
  certified;
* ``ladder_policy``: the forecast-driven, laddered strategy of the backtest and its settings;
* ``backtest``: the replay of history with a strategy.

Importing this package imports nothing heavy; ``optimizer.lp`` brings in PuLP and
highspy when it is imported.
"""
