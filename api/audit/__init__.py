"""The audit log: list its entries, show one, verify its chain."""
