"""Monitoring results publisher Lambda (deployed from this directory)."""
