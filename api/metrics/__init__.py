"""``/v1/metrics``: the business metrics unit costs are per."""
