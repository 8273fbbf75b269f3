"""Carbon Cockpit: the Dash cockpit."""
