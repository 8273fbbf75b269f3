"""Known answers: the worked examples of reference/carbon-standards-and-factors.md §6, computed by the engine
from the shipped factor library (every figure below is the reference's, not recomputed here)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from cms.activities import ActivityDatum
from cms.boundary import Node, Tree
from cms.engine import Settings, compute
from cms.factors import load_library
from cms.gwp import gwp
from cms.instruments import Instrument
from cms.ledger import totals_kg

LIB = load_library()
Y23, Y24 = dt.date(2023, 1, 1), dt.date(2024, 1, 1)


def tree(region=None, share=D(1), operated=True):
    return Tree([Node("G", None, "group"), Node("C", "G", "company"),
                 Node("P", "C", "plant", share, operated, operated, region),
                 Node("P.EQ", "P", "equipment", share, operated, operated, None)])


def run(data, *, region=None, instruments=(), approach="operational_control", gwp_set="AR5", fuel="cn_guideline",
        year=2023, root="G", t=None):
    start, end = dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
    data = [ActivityDatum(node, start, end, act, D(q), unit, datum_id=i + 1) for i, (node, act, q, unit) in enumerate(data)]
    return compute(data, t or tree(region), LIB, Settings(root, start, end, approach, gwp_set, fuel), list(instruments))


def t_of(result, key):
    return totals_kg(result.lines)[key] / 1000


@pytest.mark.parametrize("region,year,expected", [
    (None, 2023, D("5306.0")),          # 1: national 2023
    ("east", 2023, D("5500.0")),        # 2: East China regional 2023
    (None, 2022, D("5366.0")),          # 3: national 2022
    (None, 2021, D("5568.0")),          # 3: national 2021
])
def test_location_based_electricity(region, year, expected):
    r = run([("P", "electricity_grid", "10000", "MWh")], region=region, year=year)
    assert t_of(r, "scope2_location") == expected
    assert r.lines[0].factor_id.startswith("MEE-GRID-CN")


def test_market_based_with_gecs_and_residual_proxy():          # 4
    gec = Instrument("GEC-2023-001", "gec", "P", D(3000), 2023, Y23, Y24)
    r = run([("P", "electricity_grid", "10000", "MWh")], instruments=[gec])
    assert t_of(r, "scope2_market") == D("4267.2")
    assert t_of(r, "scope2_location") == D("5306.0")
    assert r.claims == {"GEC-2023-001": D(3000)}
    market = [x for x in r.lines if x.scope2_method == "market"]
    assert [x.activity_quantity for x in market] == [D(3000), D(7000)]
    assert market[1].factor_id == "MEE-RESID-CN-2023" and "residual_mix_proxy" in market[1].flags
    assert any("proxy" in n for n in r.notes)


def test_market_based_without_instruments_exceeds_location():  # 5
    r = run([("P", "electricity_grid", "10000000", "kWh")])
    assert t_of(r, "scope2_market") == D("6096.0")
    assert t_of(r, "scope2_market") > t_of(r, "scope2_location")


def test_purchased_steam_china_default():                      # 6
    r = run([("P", "steam_purchased", "1000", "t")])
    assert t_of(r, "scope2_location") == D("305.47") == t_of(r, "scope2_market")
    assert {x["id"] for x in r.lines[0].factor_refs} >= {"CN-MEE-HEAT-DEFAULT", "CN-STEAM-ENTHALPY-DEFAULT"}


def test_natural_gas_china_guideline():                        # 7
    r = run([("P", "natural_gas", "1000000", "Nm3")])
    assert round(t_of(r, "scope1"), 2) == D("2162.19")
    assert D(r.lines[0].converted_quantity) == D("38931") and r.lines[0].converted_unit == "GJ"


@pytest.mark.parametrize("gwp_set,expected", [("AR5", D("2186.15")), ("AR6", D("2186.25"))])
def test_natural_gas_ipcc_tier1(gwp_set, expected):            # 8
    r = run([("P", "natural_gas", "1000000", "Nm3")], fuel="ipcc2006", gwp_set=gwp_set)
    gas = {x.gas_group: x.gas_mass_kg for x in r.lines}
    assert round(gas["CO2"] / 1000, 2) == D("2184.03")
    assert gas["CH4"] == D("38.931") and gas["N2O"] == D("3.893")     # 3.8931 kg at 1 g resolution
    assert round(t_of(r, "scope1"), 2) == expected
    assert all("ncv_from_cn_guideline" in x.flags for x in r.lines)


def test_diesel_ipcc_and_china_guideline():                    # 9, 10
    ipcc = run([("P", "diesel", "10", "t")], fuel="ipcc2006")
    co2 = next(x for x in ipcc.lines if x.gas == "CO2")
    assert co2.gas_mass_kg == D("31863.000")
    assert round(t_of(ipcc, "scope1"), 3) == D("31.967")
    cn = run([("P", "diesel", "10", "t")])
    assert round(t_of(cn, "scope1"), 3) == D("31.451")


@pytest.mark.parametrize("gwp_set,expected", [("AR5", D("19.24")), ("AR6", D("22.56")), ("AR4", D("20.88"))])
def test_refrigerant_topup_r410a(gwp_set, expected):           # 11
    r = run([("P", "refrigerant_topup:R-410A", "10", "kg")], gwp_set=gwp_set)
    assert t_of(r, "scope1") == expected
    assert r.lines[0].gas_group == "HFCs" and r.lines[0].category == "fugitive_refrigerant"


@pytest.mark.parametrize("gwp_set,expected", [("AR5", D("23.5")), ("AR6", D("25.2"))])
def test_sf6_leak(gwp_set, expected):                          # 12
    r = run([("P", "sf6_leak", "1", "kg")], gwp_set=gwp_set)
    assert t_of(r, "scope1") == expected and r.lines[0].category == "fugitive_sf6"


def test_us_epa_hub_examples():                                # 13, 14, 15, 16
    r = run([("P", "diesel", "1000", "gallon"), ("P", "gasoline", "1000", "gallon")], region="US", fuel="epa_hub")
    assert [x.co2e_kg for x in r.lines] == [D("10210.000"), D("8780.000")]
    steam = run([("P", "steam_purchased", "1000", "mmBtu")], region="US")
    assert round(t_of(steam, "scope2_location"), 3) == D("66.398")
    grid = run([("P", "electricity_grid", "1000", "MWh")], region="US")
    assert round(t_of(grid, "scope2_location"), 3) == D("349.667")
    assert any("no_residual_mix_grid_average_used" in x.flags for x in grid.lines if x.scope2_method == "market")


def test_equity_share_and_control():                           # 17: 10,000 t plant, 60 % equity
    data = [("P", "process:CO2", "10000", "t")]
    assert t_of(run(data, t=tree(share=D("0.6"), operated=False), approach="equity_share"), "scope1") == D(6000)
    not_operated = run(data, t=tree(share=D("0.6"), operated=False))
    assert t_of(not_operated, "scope1") == 0 and any("excluded" in n for n in not_operated.notes)
    assert t_of(run(data, t=tree(share=D("0.6"), operated=True)), "scope1") == D(10000)
    # equipment data under the plant inherit the plant's 0.6: counted once (6,000), never 0.6 x 0.6
    eq = run([("P.EQ", "process:CO2", "10000", "t")], t=tree(share=D("0.6"), operated=False), approach="equity_share")
    assert t_of(eq, "scope1") == D(6000) and eq.lines[0].entity == "P"


def test_mee_implied_market_traded_share_2021():               # 20: test the formula, not the article
    loc = LIB.select(kind="emission", activity="electricity_grid", region="CN", year=2021, series="location").value
    res = LIB.select(kind="emission", activity="electricity_grid", region="CN", year=2021, series="residual_proxy").value
    assert round((1 - loc / res) * 100, 2) == D("6.29")


def test_blend_gwps_from_components_match_the_published_values():
    published = {"R-410A": ("2088", "1924", "2256"), "R-407C": ("1774", "1624", "1908"),
                 "R-404A": ("3922", "3943", "4728")}
    for blend, values in published.items():
        assert tuple(str(gwp(LIB, blend, s).value) for s in ("AR4", "AR5", "AR6")) == values


def test_r22_is_a_memo_item_outside_scope1():
    r = run([("P", "refrigerant_topup:R-22", "10", "kg"), ("P", "refrigerant_topup:R-134a", "1", "kg")])
    assert t_of(r, "scope1") == D("1.3")                 # only R-134a, AR5 1,300
    s = r.summary()
    assert s["memo_outside_scopes"]["HCFC-22"]["tco2e"] == 17.6
    assert "HCFCs" not in s["by_gas"]["scope1"]


def test_refrigerant_mass_balance():
    # (start 100 - end 80) + (purchased 30 - sold 5) + (retired 10 - new 15) = 40 kg R-134a -> 52 t (AR5 1,300)
    r = run([("P", f"refrigerant_{k}:R-134a", q, "kg") for k, q in
             (("stock_start", "100"), ("stock_end", "80"), ("purchased", "30"), ("sold", "5"),
              ("capacity_retired", "10"), ("capacity_new", "15"))])
    assert t_of(r, "scope1") == D(52)
    assert sum(x.gas_mass_kg for x in r.lines) == D("40.000")


def test_custom_period_prorates_by_days_and_flags_it():
    datum = ActivityDatum("P", dt.date(2023, 12, 1), dt.date(2024, 2, 1), "electricity_grid", D(620), "MWh", datum_id=1)
    r = compute([datum], tree(), LIB, Settings("G", dt.date(2024, 1, 1), dt.date(2024, 2, 1)))
    loc = next(x for x in r.lines if x.scope2_method == "location")
    assert loc.activity_quantity == D(310) and "prorated_by_days" in loc.flags     # 31 of 62 days
    assert loc.co2e_kg == D("164486.000")                                          # 310 MWh x 0.5306 (2023 data)
    assert r.summary()["by_month"] == {"2024-01": {"scope1_tco2e": 0.0, "scope2_location_tco2e": 164.486,
                                                   "scope2_market_tco2e": 188.976}}


def test_line_flags_carry_data_quality():
    r = run([("P", "natural_gas", "1000", "Nm3")], fuel="ipcc2006")
    ch4 = next(x for x in r.lines if x.gas_group == "CH4")
    assert "factor_recalled_unverified" in ch4.flags and "entered_manual" in ch4.flags
    assert {ref["id"] for ref in ch4.factor_refs} >= {"IPCC-NG-CH4", "CN-GUIDE-NG-NCV", "GWP-AR5-CH4"}
