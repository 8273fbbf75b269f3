"""Analytics: pure computations over pandas frames (tariffs and energy cost, internal settlement,
EnPIs, baselines). No database access here; jobs and the CLI feed these functions from the roll-ups."""
