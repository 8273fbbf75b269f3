"""Carbon Cockpit: the carbon-management side (factors, scopes, inventories, exports)."""
