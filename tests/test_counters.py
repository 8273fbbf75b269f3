"""Cumulative registers -> interval quantities: known answers and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ems.readings.counters import (
    EVENT_COLUMNS,
    NAT_NS,
    NS_PER_H,
    CounterParams,
    CounterResult,
    carry_over,
    infer_max_rate_per_h,
    interval_values,
    register_modulus,
    registers_to_intervals,
)
from ems.readings.quality import Quality

Q_NS = 15 * 60 * 1_000_000_000  # 15 min
T0 = 1_700_000_000 * 1_000_000_000


def ts_of(n: int, start: int = 0) -> np.ndarray:
    return T0 + (np.arange(n, dtype=np.int64) + start) * Q_NS


def run(values: list[float], params: CounterParams | None = None, prev: float | None = None) -> CounterResult:
    ts = ts_of(len(values), start=1)
    return registers_to_intervals(
        ts, np.asarray(values, float), params or CounterParams(),
        prev_ts_ns=T0 if prev is not None else None, prev_value=prev,
    )


def kinds(r: CounterResult) -> list[tuple[int, str]]:
    return list(zip(r.events["index"].tolist(), r.events["kind"].tolist(), strict=True))


def assert_deltas(r: CounterResult, expected: list[float]) -> None:
    np.testing.assert_allclose(r.delta, np.asarray(expected, float), rtol=0, atol=1e-9, equal_nan=True)


# --- known answers ------------------------------------------------------------------------------

def test_clean_series_first_reading_without_prev_is_nan() -> None:
    r = run([100.0, 110.0, 125.0, 125.0, 140.5])
    assert_deltas(r, [np.nan, 10, 15, 0, 15.5])
    assert r.quality.dtype == np.int16 and r.delta.dtype == np.float64
    assert (r.quality == 0).all()
    assert list(r.events.columns) == list(EVENT_COLUMNS) and r.events.empty
    assert r.start_ns[0] == NAT_NS and (r.start_ns[1:] == ts_of(5, 1)[:-1]).all()


def test_first_reading_with_prev_value() -> None:
    r = run([100.0, 110.0], prev=95.0)
    assert_deltas(r, [5, 10])
    assert r.start_ns[0] == T0


def test_batch_continuing_a_stored_series_matches_one_run() -> None:
    values = np.array([100, 104, 109, 108.5, 112, 120, 121, 130, 131, 135], float)
    ts = ts_of(values.size)
    whole = registers_to_intervals(ts, values)
    first = registers_to_intervals(ts[:4], values[:4])
    pts, pv = carry_over(ts[:4], values[:4], first.quality)
    assert pv == 109.0  # the high-water mark, not the jittered 108.5
    second = registers_to_intervals(ts[4:], values[4:], prev_ts_ns=pts, prev_value=pv)
    np.testing.assert_allclose(np.concatenate([first.delta, second.delta]), whole.delta, equal_nan=True)
    assert np.nansum(first.delta) + np.nansum(second.delta) == pytest.approx(135 - 100)


def test_rollover_with_register_max_uses_modulus_max_plus_resolution() -> None:
    r = run([999990.0, 999995.0, 3.0, 8.0], CounterParams(register_max=999999.9))
    assert register_modulus(CounterParams(register_max=999999.9)) == 1_000_000.0
    assert_deltas(r, [np.nan, 5, 8, 5])
    assert r.quality[2] == Quality.ROLLOVER
    ev = r.events.iloc[0]
    assert (ev["index"], ev["kind"], ev["prev_value"], ev["value"], ev["delta"]) == (2, "rollover", 999995, 3, 8)


def test_rollover_16_bit_register() -> None:
    r = run([65000.0, 65300.0, 64.0, 400.0], CounterParams(register_max=65535))
    assert_deltas(r, [np.nan, 300, 300, 336])
    assert kinds(r) == [(2, "rollover")]


def test_rollover_without_register_max_near_power_of_ten() -> None:
    r = run([99_980.0, 99_990.0, 5.0, 15.0, 25.0, 35.0])
    assert_deltas(r, [np.nan, 10, 15, 10, 10, 10])
    assert kinds(r) == [(2, "rollover")]


def test_drop_far_from_register_max_is_a_reset_not_a_rollover() -> None:
    r = run([5000.0, 5010.0, 3.0, 12.0, 20.0], CounterParams(register_max=999999, max_rate_per_h=100))
    assert_deltas(r, [np.nan, 10, 3, 9, 8])
    assert r.quality[2] == Quality.RESET and kinds(r) == [(2, "reset")]


def test_reset_without_register_max_with_inferred_rate() -> None:
    r = run([5000, 5010, 5020, 5030, 5040, 5050, 4, 14, 24])
    assert_deltas(r, [np.nan, 10, 10, 10, 10, 10, 4, 10, 10])
    assert kinds(r) == [(6, "reset")]


def test_replacement_meter_with_implausible_start_gives_nan() -> None:
    r = run([5000.0, 5010.0, 4000.0, 4010.0], CounterParams(max_rate_per_h=100))  # 25 per 15 min
    assert_deltas(r, [np.nan, 10, np.nan, 10])
    assert r.quality[2] == Quality.RESET and r.start_ns[2] == NAT_NS


def test_zero_glitch() -> None:
    r = run([1000.0, 1010.0, 0.0, 1030.0, 1040.0])
    assert_deltas(r, [np.nan, 10, np.nan, 20, 10])
    assert r.quality[2] == Quality.GLITCH
    # the delta after the glitch spans two intervals: flagged, and its span is reported
    assert r.quality[3] == Quality.GAP_SPANNING and r.start_ns[3] == ts_of(5, 1)[1]
    assert kinds(r) == [(2, "glitch"), (3, "gap")]


@pytest.mark.parametrize("cap", [None, 400.0])
def test_high_glitch_with_and_without_rate_cap(cap: float | None) -> None:
    r = run([1000.0, 1010.0, 999999.0, 1030.0, 1040.0], CounterParams(max_rate_per_h=cap))
    assert_deltas(r, [np.nan, 10, np.nan, 20, 10])
    assert r.quality[2] == Quality.GLITCH


def test_glitch_on_first_reading_of_batch_uses_prev() -> None:
    r = run([0.0, 1010.0, 1020.0], prev=1000.0)
    assert_deltas(r, [np.nan, 10, 10])
    assert r.quality[0] == Quality.GLITCH


def test_glitch_run_of_two_needs_max_glitch_run() -> None:
    values = [1000, 1010, 1020, 0, 0, 1050, 1060, 1070, 1080]
    r = run(values, CounterParams(max_glitch_run=2))
    assert_deltas(r, [np.nan, 10, 10, np.nan, np.nan, 30, 10, 10, 10])
    r1 = run(values)  # with runs of 1, the second zero looks like a reset, the recovery like a spike
    assert np.nansum(r1.delta) <= 1080 - 1000


def test_jitter_is_backstep_with_zero_delta_and_no_double_count() -> None:
    r = run([5000.0, 5010.0, 5009.0, 5009.5, 5020.0])
    assert_deltas(r, [np.nan, 10, 0, 0, 10])
    assert r.quality.tolist() == [0, 0, Quality.BACKSTEP, Quality.BACKSTEP, 0]
    assert kinds(r) == [(2, "backstep"), (3, "backstep")]


def test_jitter_abs_for_an_idle_meter() -> None:
    values = [500.0, 500.0, 499.9, 499.9, 499.9]
    r0 = run(values)  # no positive step, so no typical step: any drop is beyond the tolerance
    assert r0.quality[2] == Quality.RESET and np.isnan(r0.delta[2])
    r = run(values, CounterParams(jitter_abs=0.2))
    assert_deltas(r, [np.nan, 0, 0, 0, 0])
    assert r.quality[2] == Quality.BACKSTEP


def test_spike_with_explicit_max_rate() -> None:
    r = run([1000.0, 1010.0, 1500.0, 1510.0, 1520.0], CounterParams(max_rate_per_h=400))  # 100/interval
    assert_deltas(r, [np.nan, 10, np.nan, 10, 10])
    assert r.quality[2] == Quality.SPIKE and kinds(r) == [(2, "spike")]


def test_spike_with_inferred_max_rate() -> None:
    values = [1000, 1010, 1020, 1030, 1040, 1050, 500000, 500010, 500020, 500030]
    r = run(values)
    assert_deltas(r, [np.nan, 10, 10, 10, 10, 10, np.nan, 10, 10, 10])
    assert r.quality[6] == Quality.SPIKE
    assert infer_max_rate_per_h(ts_of(10), np.asarray(values, float)) == pytest.approx(50 * 40)


def test_min_spike_delta_lets_an_idle_meter_start_up() -> None:
    values = [100, 100.01, 100.02, 100.03, 100.04, 100.05, 105, 110, 115]
    assert run(values).quality[6] == Quality.SPIKE
    r = run(values, CounterParams(min_spike_delta=10))
    assert (r.quality == 0).all() and np.nansum(r.delta) == pytest.approx(15)


def test_gap_keeps_delta_and_flags_it() -> None:
    ts = ts_of(6)
    ts[3:] += 4 * Q_NS  # four missing readings before position 3
    r = registers_to_intervals(ts, np.array([10.0, 20, 30, 90, 100, 110]))
    assert_deltas(r, [np.nan, 10, 10, 60, 10, 10])
    assert r.quality.tolist() == [0, 0, 0, Quality.GAP_SPANNING, 0, 0]
    assert kinds(r) == [(3, "gap")]
    assert r.start_ns[3] == ts[2]
    # explicit expected interval: every step now spans a gap
    r2 = registers_to_intervals(ts, np.array([10.0, 20, 30, 90, 100, 110]), CounterParams(expected_interval_s=300))
    assert (r2.quality[1:] & Quality.GAP_SPANNING).all()


def test_nan_reading_is_missing_and_chain_continues() -> None:
    r = run([100.0, 110.0, math.nan, 130.0])
    assert_deltas(r, [np.nan, 10, np.nan, 20])
    assert r.quality[2] == Quality.GLITCH and r.quality[3] == Quality.GAP_SPANNING


def test_datetime64_timestamps_accepted() -> None:
    ts = ts_of(3).astype("datetime64[ns]")
    assert_deltas(registers_to_intervals(ts, np.array([1.0, 2.0, 4.0])), [np.nan, 1, 2])


def test_empty_input() -> None:
    r = registers_to_intervals(np.empty(0, np.int64), np.empty(0))
    assert r.delta.size == 0 and r.events.empty


@pytest.mark.parametrize(
    ("ts", "values", "kw", "match"),
    [
        ([0, 0, 1], [1.0, 2.0, 3.0], {}, "strictly increasing: position 1"),
        ([0, 2, 1], [1.0, 2.0, 3.0], {}, "strictly increasing: position 2"),
        ([0, 1], [1.0], {}, "equal length"),
        ([5, 6], [1.0, 2.0], {"prev_ts_ns": 5, "prev_value": 0.0}, "must be before"),
        ([5, 6], [1.0, 2.0], {"prev_value": 0.0}, "without prev_ts_ns"),
    ],
)
def test_bad_input_raises(ts: list[int], values: list[float], kw: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        registers_to_intervals(np.array(ts, np.int64), np.array(values), **kw)


def test_bad_params_raise() -> None:
    with pytest.raises(ValueError, match="max_rate_per_h=-1"):
        CounterParams(max_rate_per_h=-1)


# --- interval totals ----------------------------------------------------------------------------

def test_interval_values_rules() -> None:
    ts = ts_of(9)
    ts[7:] += 2 * Q_NS  # gap before position 7
    x = np.array([10, 11, -5, -1e-12, 12, 9999, math.nan, 10, 11], float)
    r = interval_values(ts, x, CounterParams(max_rate_per_h=400, expected_interval_s=900))
    assert_deltas(r, [10, 11, np.nan, 0, 12, np.nan, np.nan, 10, 11])
    assert r.quality.tolist() == [0, 0, Quality.GLITCH, Quality.BACKSTEP, 0, Quality.SPIKE, Quality.GLITCH, 0, 0]
    assert kinds(r) == [(2, "glitch"), (3, "backstep"), (5, "spike"), (6, "glitch"), (7, "gap")]
    assert r.start_ns[0] == ts[0] - Q_NS and r.start_ns[2] == NAT_NS


def test_interval_values_inferred_spike_and_gap_before_batch() -> None:
    ts = ts_of(8, start=3)
    r = interval_values(ts, np.array([10, 12, 11, 10, 5000, 12, 10, 11.0]), prev_ts_ns=T0)
    assert r.quality[4] == Quality.SPIKE and np.isnan(r.delta[4])
    assert kinds(r) == [(0, "gap"), (4, "spike")]


# --- properties ---------------------------------------------------------------------------------

steps_st = st.lists(st.floats(0.5, 10.0), min_size=8, max_size=80)
PROP = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROP
@given(
    st.lists(st.floats(-1e7, 1e7, allow_nan=False), min_size=1, max_size=60),
    st.lists(st.integers(1, 10 * Q_NS), min_size=60, max_size=60),
    st.sampled_from([None, 999999.9, 65535]),
    st.sampled_from([None, 50.0, 1e6]),
)
def test_delta_never_negative_and_never_beyond_max_rate(
    values: list[float], gaps: list[int], register_max: float | None, cap: float | None
) -> None:
    ts = T0 + np.cumsum(np.asarray(gaps[: len(values)], np.int64))
    r = registers_to_intervals(ts, np.asarray(values), CounterParams(register_max=register_max, max_rate_per_h=cap))
    fin = np.isfinite(r.delta)
    assert (r.delta[fin] >= 0).all()
    assert (r.start_ns[fin] != NAT_NS).all()
    if cap is not None:
        hours = (ts[fin] - r.start_ns[fin]) / NS_PER_H
        assert (r.delta[fin] <= cap * hours * (1 + 1e-9) + 1e-9).all()


@PROP
@given(st.floats(0, 1e6), steps_st)
def test_clean_monotonic_sum_is_last_minus_first(first: float, steps: list[float]) -> None:
    x = first + np.concatenate(([0.0], np.cumsum(steps)))
    r = registers_to_intervals(ts_of(x.size), x)
    assert (r.quality == 0).all()
    assert np.nansum(r.delta) == pytest.approx(x[-1] - x[0], rel=1e-9, abs=1e-6)


@PROP
@given(steps_st, st.integers(0, 200), st.sampled_from([(99999, 100000.0), (999999.9, 1e6), (None, 100000.0)]))
def test_injected_rollover_total_is_true_consumption(
    steps: list[float], where: int, register: tuple[float | None, float]
) -> None:
    register_max, modulus = register
    true = np.concatenate(([0.0], np.cumsum(steps)))
    start = modulus - true[min(where % len(steps) + 1, len(steps))] + 0.25  # wraps inside the series
    x = np.mod(start + true, modulus)
    r = registers_to_intervals(ts_of(x.size), x, CounterParams(register_max=register_max))
    assert np.nansum(r.delta) == pytest.approx(true[-1], rel=1e-6)
    assert (r.quality & Quality.ROLLOVER).sum() == Quality.ROLLOVER


@PROP
@given(steps_st, st.integers(1, 10_000), st.sampled_from([0.0, 1e9]))
def test_glitch_does_not_change_sum_over_the_others(steps: list[float], where: int, bad: float) -> None:
    x = 1000.0 + np.concatenate(([0.0], np.cumsum(steps)))
    i = 1 + where % (x.size - 2)
    xg = x.copy()
    xg[i] = bad
    r = registers_to_intervals(ts_of(x.size), xg)
    assert np.isnan(r.delta[i]) and r.quality[i] & Quality.GLITCH
    assert np.nansum(r.delta) == pytest.approx(x[-1] - x[0], rel=1e-9)


@PROP
@given(steps_st, st.lists(st.booleans(), min_size=80, max_size=80), st.integers(1, 200))
def test_split_batches_with_carry_over_give_the_same_total(
    steps: list[float], jitter: list[bool], cut: int
) -> None:
    x = 1000.0 + np.concatenate(([0.0], np.cumsum(steps)))
    jit = np.asarray(jitter[: x.size]) & (np.arange(x.size) > 0)
    x[jit] -= 0.3  # small backward jitter
    ts = ts_of(x.size)
    p = CounterParams(jitter_abs=0.5)
    whole = registers_to_intervals(ts, x, p)
    c = 1 + cut % (x.size - 1)
    a = registers_to_intervals(ts[:c], x[:c], p)
    pts, pv = carry_over(ts[:c], x[:c], a.quality)
    b = registers_to_intervals(ts[c:], x[c:], p, prev_ts_ns=pts, prev_value=pv)
    assert (whole.delta[np.isfinite(whole.delta)] >= 0).all()
    assert np.nansum(a.delta) + np.nansum(b.delta) == pytest.approx(np.nansum(whole.delta), rel=1e-9)
