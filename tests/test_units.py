"""Units: pint conversions incl. Chinese field spellings; property test of round trips."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ems.units import conversion, convert_array, parse_unit


@pytest.mark.parametrize("src,dst,scale,offset", [
    ("MWh", "kWh", 1000.0, 0.0), ("万kWh", "kWh", 10000.0, 0.0), ("度", "kWh", 1.0, 0.0),
    ("bar", "MPa", 0.1, 0.0), ("℃", "degC", 1.0, 0.0), ("m³/h", "m3/min", 1 / 60, 0.0),
    ("GJ", "kWh", 277.777777777778, 0.0), ("tce", "GJ", 29.3076, 0.0), ("RT", "kW", 3.51685333333333, 0.0),
])
def test_known_conversions(src, dst, scale, offset):
    s, o = conversion(src, dst)
    assert s == pytest.approx(scale, rel=1e-12) and o == pytest.approx(offset, abs=1e-12)


def test_fahrenheit_offset_and_incompatible_units():
    np.testing.assert_allclose(convert_array(np.array([32.0, 212.0]), "degF", "degC"), [0.0, 100.0], atol=1e-9)
    with pytest.raises(ValueError, match="different dimensions"):
        conversion("kWh", "m3")
    with pytest.raises(ValueError, match="unknown unit 'kWhh'"):
        parse_unit("kWhh")


@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
       st.sampled_from([("kWh", "MWh"), ("degC", "degF"), ("m3", "L"), ("kPa", "bar"), ("Nm3/min", "m3/h")]))
def test_round_trip(value, pair):
    a, b = pair
    there = convert_array(np.array([value]), a, b)
    back = convert_array(there, b, a)
    assert back[0] == pytest.approx(value, rel=1e-9, abs=1e-6)
