"""Carbon Cockpit: forecasting (features, models, backtests, registry)."""
