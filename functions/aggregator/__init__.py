"""Streaming feature aggregator of the real-time fraud blueprint (deployed from here)."""
