"""Oracle Cloud (OCI): its FOCUS reports read for cost lines and compute usage; no commitment
catalog yet, so nothing is planned or bought for OCI."""
