"""Streaming counters: chunk boundaries and stored history never change the result."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from ems.ingest.counterstream import CounterStream, Emitted
from ems.ingest.validate import PointRule
from ems.readings.counters import CounterParams, registers_to_intervals
from ems.readings.quality import Quality

RULE = PointRule(point_id=1, code="M", kind="cumulative", unit="kWh", min_value=None, max_value=None,
                 counter_params=CounterParams(expected_interval_s=900, max_rate_per_h=1000, register_max=9999.9))
T0 = pd.Timestamp("2025-07-01", tz="UTC").value
STEP = 900 * 10**9


def _series(n: int, seed: int, glitch_at: int | None = None, wrap: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    value = 9000.0 + np.cumsum(rng.uniform(5, 20, n)).round(1) if wrap else 100 + np.cumsum(rng.uniform(5, 20, n)).round(1)
    if wrap:
        value = np.where(value > 9999.9, (value - 10000.0).round(1), value)
    if glitch_at is not None:
        value[glitch_at] = 0.0
    return T0 + STEP * np.arange(1, n + 1, dtype=np.int64), value


def _stream(ts, value, cuts, rules=None) -> Emitted:
    stream = CounterStream(rules or {1: RULE}, pd.DataFrame(columns=["point_id", "ts", "value", "quality"]), {})
    parts = []
    for a, b in zip([0, *cuts], [*cuts, len(ts)]):
        emitted, late = stream.feed(np.full(b - a, 1, np.int32), ts[a:b], value[a:b])
        assert len(late) == 0
        parts.append(emitted)
    parts.append(stream.flush())
    return Emitted.concat(parts)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(5, 60), seed=st.integers(0, 10_000), cuts=st.lists(st.integers(1, 59), max_size=5),
       glitch=st.booleans(), wrap=st.booleans())
def test_chunking_does_not_change_deltas(n, seed, cuts, glitch, wrap):
    ts, value = _series(n, seed, glitch_at=n // 2 if glitch and n > 4 else None, wrap=wrap)
    whole = registers_to_intervals(ts, value, RULE.counter_params)
    out = _stream(ts, value, sorted({c for c in cuts if c < n}))
    order = np.argsort(out.ts_ns)
    np.testing.assert_array_equal(out.ts_ns[order], ts)
    np.testing.assert_allclose(out.delta[order], whole.delta, equal_nan=True)
    np.testing.assert_array_equal(out.quality[order], whole.quality)


def test_zero_glitch_at_a_chunk_boundary_is_caught():
    ts, value = _series(10, 1, glitch_at=4)
    out = _stream(ts, value, [5])          # the glitch is the last reading of the first chunk
    order = np.argsort(out.ts_ns)
    assert out.quality[order][4] & Quality.GLITCH
    assert np.nansum(out.delta) == value[-1] - value[0]


def test_stored_tail_is_rejudged_and_older_data_is_late():
    ts, value = _series(10, 2, glitch_at=7)
    tail = pd.DataFrame({"point_id": 1, "ts": pd.to_datetime(ts[5:8], utc=True), "value": value[5:8],
                         "quality": np.int16(0)})
    stream = CounterStream({1: RULE}, tail, {1: int(ts[7])})
    emitted, late = stream.feed(np.full(3, 1, np.int32), np.r_[ts[2], ts[8:]], np.r_[value[2], value[8:]])
    assert late.ts_ns.tolist() == [ts[2]]             # older than what is stored: merge path
    emitted = Emitted.concat([emitted, stream.flush()])
    assert sorted(emitted.ts_ns.tolist()) == ts[8:].tolist()
    rejudged = Emitted.concat(stream.rejudged)
    assert rejudged.ts_ns.tolist() == [ts[6], ts[7]]   # stored readings judged again with their successors
    assert rejudged.quality[1] & Quality.GLITCH         # the stored zero is now seen as a glitch
