"""Monitoring job launcher Lambda (deployed from this directory)."""
