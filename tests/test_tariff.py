"""Tariffs as data: Guangdong 2021 TOU known answers, sharp-peak rules, boundaries, demand charge,
versioning, and YAML errors that name file, line and field.

Known answers (hand-computed). Guangdong 2021 multiples of the flat price (reference
plant-physics-and-data.md §3): peak 1.7, flat 1.0, valley 0.38, sharp = peak x 1.25 = 2.125; with the
shipped (assumed) flat price 0.65 CNY/kWh: valley 0.247, flat 0.65, peak 1.105, sharp 1.38125 CNY/kWh.
A flat 100 kW load for one day:
  ordinary day:  valley 8 h = 800 kWh -> 197.60; flat 9 h = 900 kWh -> 585.00; peak 7 h = 700 kWh ->
                 773.50; total 2400 kWh, 1556.10 CNY
  sharp day:     sharp 3 h = 300 kWh -> 414.375; peak 4 h = 400 kWh -> 442.00; valley and flat as
                 above; total 2400 kWh, 1638.975 CNY
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from ems.analytics.tariff import Tariff, classify
from ems.analytics.tariff_cost import (
    capacity_charge_cny,
    cost_summary,
    cost_totals,
    demand_charge,
    energy_cost,
    site_energy_cost,
)
from ems.analytics.tariff_files import (
    TariffAssignment,
    assigned_tariff,
    builtin_tariffs,
    load_tariff,
    tariff_in_force,
)
from ems.errors import UserError

TZ = "Asia/Shanghai"
DATA = Path(str(importlib.resources.files("ems").joinpath("data/tariffs")))


@pytest.fixture(scope="module")
def gd() -> Tariff:
    return load_tariff(DATA / "guangdong_2021.yaml")


def _day(date: str, kw: float = 100.0) -> pd.Series:
    """One local day of 15-min energy (kWh) for a constant load, indexed by interval ends."""
    idx = pd.date_range(f"{date} 00:15", periods=96, freq="15min", tz=TZ)
    return pd.Series(kw * 0.25, index=idx)


def _temps(**days: float) -> pd.Series:
    return pd.Series(list(days.values()), index=pd.to_datetime([d.replace("_", "-")[1:] for d in days]))


def _by_period(costs: pd.DataFrame) -> dict[str, tuple[float, float]]:
    s = cost_summary(costs, "day")
    return {r.tou_period: (round(r.kwh, 6), round(r.cost_cny, 6)) for r in s.itertuples()}


def test_shipped_files_are_package_data():
    names = {p.name for p in importlib.resources.files("ems").joinpath("data/tariffs").iterdir()}
    assert {"guangdong_2021.yaml", "flat_example.yaml", "README.md"} <= names
    assert {t.label for t in builtin_tariffs()} == {"CN-GD-IND-TOU v2021-10", "EXAMPLE-FLAT v1"}


def test_guangdong_prices_keep_published_form(gd):
    table = gd.price_table().set_index("tou_period")
    assert table.loc["sharp", "published"] == "1.25 x peak"
    assert table.loc["peak", "published"] == "1.7 x flat"
    assert table.loc["sharp", "multiple_of_base"] == pytest.approx(2.125)
    assert table["price_cny_per_kwh"].to_dict() == pytest.approx(
        {"sharp": 1.38125, "peak": 1.105, "flat": 0.65, "valley": 0.247})
    assert table["assumed"].all()                     # the flat price is an assumed placeholder
    assert gd.demand_charge.assumed and gd.demand_charge.window_min == 15
    p = gd.prices_cny_per_kwh()
    assert p["peak"] / p["valley"] == pytest.approx(4.47, abs=0.005)     # reference: peak/valley 4.47
    assert p["sharp"] / p["valley"] == pytest.approx(5.6, abs=0.01)      # reference: critical/valley 5.6


def test_hourly_vector_matches_reference(gd):
    ends = pd.date_range("2021-10-12 01:00", periods=24, freq="h")   # naive local interval ends
    periods = classify(ends, gd, _temps(d2021_10_12=28.0))
    multiple = {"valley": 0.38, "flat": 1.0, "peak": 1.7, "sharp": 2.125}
    expected = [0.38] * 8 + [1, 1] + [1.7, 1.7] + [1, 1] + [1.7] * 5 + [1] * 5
    assert [multiple[p] for p in periods] == expected
    assert periods.attrs["assumptions"] == []


def test_flat_100kw_ordinary_day(gd):
    costs = energy_cost(_day("2021-10-12"), gd, TZ, _temps(d2021_10_12=30.0))
    assert _by_period(costs) == {"peak": (700.0, 773.5), "flat": (900.0, 585.0), "valley": (800.0, 197.6)}
    total = cost_totals(costs, "day").iloc[0]
    assert total["kwh"] == pytest.approx(2400.0) and total["cost_cny"] == pytest.approx(1556.10)
    assert total["avg_price_cny_per_kwh"] == pytest.approx(1556.10 / 2400)


def test_flat_100kw_sharp_day_whole_month_rule(gd):
    costs = energy_cost(_day("2022-07-12"), gd, TZ)     # July: sharp peak without any temperature
    assert _by_period(costs) == {"sharp": (300.0, 414.375), "peak": (400.0, 442.0),
                                 "flat": (900.0, 585.0), "valley": (800.0, 197.6)}
    assert costs["cost_cny"].sum() == pytest.approx(1638.975)
    assert costs.attrs["assumptions"] == [] and not costs["temperature_assumed"].any()


def test_sharp_peak_on_hot_days_outside_summer_months(gd):
    kwh = pd.concat([_day("2022-05-10"), _day("2022-05-11"), _day("2022-05-12")])
    temps = _temps(d2022_05_10=36.0, d2022_05_11=34.9, d2022_05_12=35.0)
    s = cost_summary(energy_cost(kwh, gd, TZ, temps), "day")
    sharp = s[s.tou_period == "sharp"].set_index("day")["kwh"]
    assert sharp.to_dict() == {pd.Timestamp("2022-05-10"): 300.0, pd.Timestamp("2022-05-12"): 300.0}  # >= 35


def test_missing_temperature_is_stated_as_assumption(gd):
    costs = energy_cost(_day("2022-05-10"), gd, TZ)
    assert "sharp" not in set(costs["tou_period"])
    assert int(costs["temperature_assumed"].sum()) == 12          # the 3 sharp-peak hours
    [note] = costs.attrs["assumptions"]
    assert "2022-05-10" in note and "assumed NOT hot" in note and "35" in note
    assert cost_summary(costs).attrs["assumptions"] == [note]


def test_sharp_only_on_hot_days_in_listed_months():
    """A variant rule (months AND temperature), as some provinces word it: July-August hot days only."""
    data = yaml.safe_load((DATA / "guangdong_2021.yaml").read_text(encoding="utf-8"))
    data["sharp_peak"]["triggers"] = [{"months": [7, 8], "daily_max_temp_c_at_least": 35.0}]
    variant = Tariff.model_validate(data)
    kwh = pd.concat([_day("2022-07-01"), _day("2022-07-02"), _day("2022-06-30")])
    temps = _temps(d2022_07_01=36.0, d2022_07_02=33.0, d2022_06_30=38.0)
    s = cost_summary(energy_cost(kwh, variant, TZ, temps), "day")
    assert s[s.tou_period == "sharp"]["day"].tolist() == [pd.Timestamp("2022-07-01")]


def test_interval_ending_on_a_boundary_belongs_to_the_earlier_band(gd):
    ends = pd.DatetimeIndex(["2022-07-12 08:00", "2022-07-12 08:15", "2022-07-12 12:00",
                             "2022-07-12 12:15", "2022-07-12 11:00", "2022-07-13 00:00"]).tz_localize(TZ)
    got = classify(ends, gd).tolist()
    assert got == ["valley", "flat", "sharp", "flat", "peak", "flat"]
    costs = energy_cost(pd.Series(1.0, index=ends), gd, TZ)
    assert costs["local_date"].iloc[-1] == pd.Timestamp("2022-07-12")   # 00:00 closes the previous day


def test_utc_input_is_classified_in_local_time(gd):
    ends = pd.DatetimeIndex(["2021-10-12 00:00"], tz="UTC")     # = 08:00 in Shanghai
    assert energy_cost(pd.Series(1.0, index=ends), gd, TZ)["tou_period"].tolist() == ["valley"]
    with pytest.raises(UserError, match="time-zone aware"):
        energy_cost(pd.Series(1.0, index=ends.tz_localize(None)), gd, TZ)


def test_rest_day_bands_follow_chinese_calendar():
    data = yaml.safe_load((DATA / "flat_example.yaml").read_text(encoding="utf-8"))
    data["seasons"][0]["bands"] = [{"start": "00:00", "end": "08:00", "period": "valley"},
                                   {"start": "08:00", "end": "24:00", "period": "peak"}]
    data["seasons"][0]["non_workday_bands"] = [{"start": "00:00", "end": "24:00", "period": "valley"}]
    data["energy_price"]["prices_cny_per_kwh"] = {"peak": 1.0, "valley": 0.3}
    t = Tariff.model_validate(data)
    ends = pd.DatetimeIndex(["2021-10-01 12:00", "2021-10-08 12:00", "2021-10-09 12:00",
                             "2021-10-10 12:00"])   # National Day, Friday, adjusted working Saturday, Sunday
    assert classify(ends, t).tolist() == ["valley", "peak", "peak", "valley"]


def test_demand_charge_takes_max_15min_average(gd):
    idx = pd.date_range("2022-03-01 00:05", "2022-05-01 00:00", freq="5min", tz=TZ)
    power_kw = pd.Series(100.0, index=idx)
    power_kw[pd.Timestamp("2022-03-10 14:05", tz=TZ)] = 1000.0          # 15-min average (1000+100+100)/3
    power_kw[pd.Timestamp("2022-04-20 09:35", tz=TZ)] = 250.0
    power_kw[pd.Timestamp("2022-04-20 09:40", tz=TZ)] = 250.0           # 15-min average 200
    out = demand_charge(power_kw, gd, TZ).set_index("month")
    march, april = out.loc[pd.Timestamp("2022-03-01")], out.loc[pd.Timestamp("2022-04-01")]
    assert march["max_demand_kw"] == pytest.approx(400.0)
    assert march["max_demand_at"] == pd.Timestamp("2022-03-10 14:15", tz=TZ)
    assert march["charge_cny"] == pytest.approx(400.0 * 32.0)
    assert april["max_demand_kw"] == pytest.approx(200.0)
    assert april["max_demand_at"] == pd.Timestamp("2022-04-20 09:45", tz=TZ)
    assert bool(march["assumed"])
    quarter = power_kw.resample("15min", closed="right", label="right").mean()
    assert demand_charge(quarter, gd, TZ)["max_demand_kw"].tolist() == pytest.approx([400.0, 200.0])
    with pytest.raises(UserError, match="resolution"):
        demand_charge(power_kw.resample("1h", closed="right", label="right").mean(), gd, TZ)
    assert capacity_charge_cny(1250.0, gd, months=2) == pytest.approx(1250 * 23.0 * 2)


def _flat(version: str, price: float, valid_from: str, valid_to: str | None) -> Tariff:
    data = yaml.safe_load((DATA / "flat_example.yaml").read_text(encoding="utf-8"))
    data.update(version=version, valid_from=valid_from, valid_to=valid_to)
    data["energy_price"]["prices_cny_per_kwh"] = {"flat": price}
    return Tariff.model_validate(data)


def test_tariff_change_mid_month_is_split():
    v1, v2 = _flat("1", 0.70, "2020-01-01", "2022-03-14"), _flat("2", 0.80, "2022-03-15", None)
    tariffs = [v1, v2]
    assignments = [TariffAssignment(site_code="SZ-01", tariff_id="EXAMPLE-FLAT", valid_from=dt.date(2021, 1, 1))]
    assert tariff_in_force(tariffs, "EXAMPLE-FLAT", dt.date(2022, 3, 14)).version == "1"
    assert assigned_tariff(assignments, tariffs, "SZ-01", dt.date(2022, 3, 15)).version == "2"
    idx = pd.date_range("2022-03-01 01:00", "2022-04-01 00:00", freq="h", tz=TZ)
    costs = site_energy_cost(pd.Series(10.0, index=idx), "SZ-01", assignments, tariffs, TZ)
    assert costs.loc[pd.Timestamp("2022-03-15 00:00", tz=TZ), "tariff_version"] == "1"   # closes the 14th
    s = cost_summary(costs, "month")
    assert s["tariff_version"].tolist() == ["1", "2"]
    assert s["kwh"].tolist() == pytest.approx([14 * 240.0, 17 * 240.0])
    assert s["cost_cny"].tolist() == pytest.approx([14 * 240 * 0.70, 17 * 240 * 0.80])   # 2352.0, 3264.0
    assert cost_totals(costs, "month")["cost_cny"].iloc[0] == pytest.approx(2352.0 + 3264.0)


def test_site_assignment_change_switches_tariff(gd):
    flat = _flat("1", 0.70, "2020-01-01", None)
    assignments = [TariffAssignment(site_code="GZ-02", tariff_id="EXAMPLE-FLAT", valid_from=dt.date(2021, 1, 1)),
                   TariffAssignment(site_code="GZ-02", tariff_id="CN-GD-IND-TOU", valid_from=dt.date(2021, 10, 1))]
    kwh = pd.concat([_day("2021-09-30"), _day("2021-10-01")])
    costs = site_energy_cost(kwh, "GZ-02", assignments, [flat, gd], TZ, _temps(d2021_10_01=30.0))
    by_day = cost_totals(costs, "day").set_index("day")["cost_cny"]
    assert by_day.tolist() == pytest.approx([2400 * 0.70, 1556.10])
    with pytest.raises(UserError, match="no tariff assigned"):
        assigned_tariff(assignments, [flat, gd], "GZ-02", dt.date(2020, 6, 1))
    with pytest.raises(UserError, match="no version"):
        tariff_in_force([gd], "CN-GD-IND-TOU", dt.date(2021, 9, 30))


def test_missing_kwh_is_counted_not_hidden(gd):
    kwh = _day("2021-10-12")
    kwh.iloc[:4] = np.nan
    s = cost_summary(energy_cost(kwh, gd, TZ, _temps(d2021_10_12=20.0)))
    valley = s[s.tou_period == "valley"].iloc[0]
    assert valley["missing_intervals"] == 4 and valley["kwh"] == pytest.approx(700.0)


# ------------------------------------------------------------------------------------------ bad YAML

GOOD = """\
id: T1
version: "1"
name: {en: Test}
region: TEST
valid_from: 2022-01-01
firmness: S
source: {document: test}
seasons:
  - name: all
    months: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    bands:
      - {start: "00:00", end: "08:00", period: valley}
      - {start: "08:00", end: "18:00", period: peak}
      - {start: "18:00", end: "24:00", period: flat}
energy_price:
  form: multiples
  base_price_cny_per_kwh: 0.6
  multiples: {peak: 1.5, flat: 1.0, valley: 0.5}
"""


def _load(tmp_path: Path, text: str) -> Tariff:
    p = tmp_path / "tariff.yaml"
    p.write_text(text, encoding="utf-8")
    return load_tariff(p)


def test_good_yaml_loads(tmp_path):
    t = _load(tmp_path, GOOD)
    assert t.prices_cny_per_kwh() == pytest.approx({"peak": 0.9, "flat": 0.6, "valley": 0.3})


@pytest.mark.parametrize(("old", "new", "line", "field", "words"), [
    ("period: peak}", "period: superpeak}", 13, "period", "unknown period 'superpeak'"),
    ('start: "08:00", end: "18:00"', 'start: "07:00", end: "18:00"', 13, "bands[1]", "overlaps"),
    ('start: "18:00", end: "24:00"', 'start: "18:00", end: "23:30"', 14, "bands[2]", "00:00-24:00"),
    ('start: "08:00", end: "18:00"', 'start: "09:00", end: "18:00"', 13, "bands[1]", "gap 08:00-09:00"),
    ("months: [1, 2, 3,", "months: [2, 3,", 8, "seasons", "months [1] are in no season"),
    ("peak: 1.5, ", "", 18, "multiples", "no price for period(s) ['peak']"),
    ('start: "00:00", end: "08:00"', 'start: "00:00", end: 8:00', 12, "end", "got 480"),
])
def test_bad_yaml_names_file_line_field(tmp_path, old, new, line, field, words):
    assert old in GOOD
    with pytest.raises(UserError) as err:
        _load(tmp_path, GOOD.replace(old, new))
    msg = str(err.value)
    assert msg.startswith(f"{tmp_path / 'tariff.yaml'}, line {line}, field '{field}': "), msg
    assert words in msg


def test_sharp_peak_needs_a_price(tmp_path):
    text = GOOD + 'sharp_peak:\n  bands: [{start: "10:00", end: "11:00"}]\n  triggers: [{months: [7]}]\n'
    with pytest.raises(UserError, match=r"line 18, field 'multiples'.*\['sharp'\]"):
        _load(tmp_path, text)


def test_not_yaml_names_the_line(tmp_path):
    with pytest.raises(UserError, match=r"line 5: not valid YAML"):   # where PyYAML notices it
        _load(tmp_path, GOOD.replace("region: TEST", "region: [TEST"))
