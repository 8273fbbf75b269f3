"""Incremental roll-ups: 15-min, hour, day and month per point and per node x medium."""
