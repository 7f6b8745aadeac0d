"""The optimizer: the purchase linear program (``lp``), plans (``plan``) and the backtest.

Importing this package imports nothing heavy; ``optimizer.lp`` brings in PuLP and
highspy when it is imported.
"""
