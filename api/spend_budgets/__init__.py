"""``/v1/spend-budgets``: budgets on the whole bill or a part of it."""
