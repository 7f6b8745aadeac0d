"""The optimizer: the purchase linear program, plan construction and (later) the backtest.

Importing this package imports nothing heavy; ``optimizer.lp`` brings in PuLP and
highspy when it is imported.
"""
