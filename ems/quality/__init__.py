"""Data quality: per point and local day (completeness, stale, flatline, spikes, range, negative
consumption, clock skew) and meter-tree balance; pure checks in ``checks``/``balance``, I/O in ``store``."""
