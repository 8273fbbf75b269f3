"""Readings: the store (bulk write, merge, read), counters to intervals, quality flags."""
