"""Controls: streaming ingestion (Kinesis streams, Lambda event source mappings)."""
