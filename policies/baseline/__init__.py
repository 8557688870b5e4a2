"""Controls: cross-cutting baseline (tags, protection, instance types, logs and messaging)."""
