"""Reference blueprints: compositions of the kit's components, one module per blueprint.

A blueprint module `blueprints/<key with underscores>.py` defines `BLUEPRINT`; the engine
finds it by its key (`realtime-fraud` -> `blueprints/realtime_fraud.py`).
"""
