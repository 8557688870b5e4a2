"""Runtime code the blueprints deploy (Lambda handlers, pipeline scripts)."""
