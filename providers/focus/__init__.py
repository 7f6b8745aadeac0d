"""FOCUS ingestion: read FOCUS 1.x CSV or Parquet and reduce it to hourly compute usage."""

from providers.focus.reader import FocusUsage, read_focus

__all__ = ["FocusUsage", "read_focus"]
