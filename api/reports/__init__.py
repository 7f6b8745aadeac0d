"""Reports for finance and FinOps: JSON, or CSV to download."""
