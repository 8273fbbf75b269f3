"""Quality flags of a stored reading (bit mask in ``reading.quality``).

0 means good. Flags say what the ingest pipeline found or repaired; nothing is hidden.
"""

from __future__ import annotations

from enum import IntFlag


class Quality(IntFlag):
    GOOD = 0
    GAP_SPANNING = 1     # the interval delta spans a gap in the data (longer than 1.5 expected intervals)
    ROLLOVER = 2         # register wrapped past register_max; delta repaired
    RESET = 4            # meter reset or replaced; delta taken from the new register start
    GLITCH = 8           # this register reading is inconsistent with its neighbours; it carries no delta
    SPIKE = 16           # implausible increase (beyond max_rate_per_h); delta withheld
    BACKSTEP = 32        # small negative step (meter jitter); delta set to 0
    ESTIMATED = 64       # value estimated, not measured
    EDITED = 128         # value changed by an explicit correction (see reading_edit)
    SOURCE_SUSPECT = 256 # the source itself flagged the value as uncertain


def describe(mask: int) -> list[str]:
    """Names of the flags set in ``mask``, e.g. ['GAP_SPANNING', 'ROLLOVER']."""
    return [f.name for f in Quality if f and mask & f]
