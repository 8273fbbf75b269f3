"""Cockpit pages: each module has ``layout(...)`` and ``register_callbacks(app, db)``."""
