"""Carbon Cockpit: the energy-management side (core, ingest, analytics, optimiser, simulator, CLI)."""

__version__ = "0.1.0"
