"""Scoring API Lambda of the real-time fraud blueprint (deployed from this directory)."""
