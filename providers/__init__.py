"""Cloud providers behind one protocol, and FOCUS ingestion shared by all of them."""
