"""The demo group: two plants in different climates, with their equipment and ratings.

Ratings are engineering choices for a plausible mid-size appliance/electronics plant; every
curve they use is published (see the equipment modules). docs/demo-plant.md tabulates them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache

from ems.sim import air, chiller, schedule, weather
from ems.sim.chiller_plant import ChillerPlantSpec
from ems.sim.onsite import BatterySpec, BoilerSpec, PVSpec
from ems.sim.pumps import PumpSpec
from ems.sim.zones import ZoneSpec


@dataclass(frozen=True)
class LineSpec:
    code: str                       # full node code, e.g. QD.WS1.L1
    name_zh: str
    name_en: str
    share: float                    # share of the workshop's process electricity
    units_per_h: float              # output at full intensity
    unit_zh: str = "台"


@dataclass(frozen=True)
class WorkshopSpec:
    zone: ZoneSpec                  # zone.code is the workshop node code
    lines: tuple[LineSpec, ...]
    process_kw: float               # process electricity at full production
    idle_kw: float                  # machines idle / standby
    air_m3_per_min: float           # compressed-air use at full production
    water_m3_per_h: float           # process water at full production
    lighting_metered: bool = False  # separate lighting sub-meter
    oven_gas_nm3_per_h: float = 0.0 # direct-fired process gas at full production


@dataclass(frozen=True)
class PlantSpec:
    code: str
    name_zh: str
    name_en: str
    site: weather.Site
    grid_region: str
    ownership_share: float
    shifts: schedule.ShiftPattern
    workshops: tuple[WorkshopSpec, ...]
    chiller_plant: ChillerPlantSpec
    air_station: air.AirStationSpec
    pv: PVSpec
    battery: BatterySpec
    boiler: BoilerSpec | None
    steam_t_per_h: float            # purchased steam at full production (0: none)
    hot_water_kw: float             # process/domestic hot water from the boiler at full production
    office_day_kw: float
    office_night_kw: float
    canteen_gas_nm3_per_h: float
    people: int
    time_header: str                # first CSV column header
    encoding: str                   # CSV encoding
    pressure_unit: str              # 'bar' or 'MPa' for the header pressure point
    one_minute_points: tuple[str, ...]
    refrigerant: str = "R134a"
    refrigerant_charge_kg: float = 1500.0

    @property
    def chiller_codes(self) -> tuple[str, ...]:
        return tuple(f"{self.code}.CH{i + 1}" for i in range(self.chiller_plant.n))

    @property
    def compressor_codes(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.air_station.compressors)


def _chw_pump(chillers) -> PumpSpec:
    total_m3_h = sum(c.chw_flow_ref_m3_per_s for c in chillers) * 3600.0
    return PumpSpec(design_flow_m3_per_h=total_m3_h / len(chillers), design_head_m=32.0, pump_efficiency=0.80)


def _qd() -> PlantSpec:
    ch = (chiller.CARRIER_19XR_VSD.scaled(1750.0, "QD.CH1"), chiller.CARRIER_19XR_VSD.scaled(1750.0, "QD.CH2"),
          dataclasses.replace(chiller.TRANE_RTHB_SCREW, name="QD.CH3"))
    zones = (
        ZoneSpec("QD.WS1", "总装车间", "Final assembly", 12000, 9, 9.0, 80, 380, 20, 120, 300, 15, 80, 110),
        ZoneSpec("QD.WS2", "注塑车间", "Injection moulding", 8000, 9, 6.5, 80, 620, 5, 80, 80, 12, 75, 95,
                 process_chw_kw=500),
        ZoneSpec("QD.WS3", "钣金喷涂车间", "Sheet metal and paint", 10000, 10, 8.0, 80, 260, 40, 100, 120, 25, 70, 90),
    )
    ws = (
        WorkshopSpec(zones[0], (LineSpec("QD.WS1.L1", "冰箱总装一线", "Refrigerator line 1", 0.55, 60),
                                LineSpec("QD.WS1.L2", "冰箱总装二线", "Refrigerator line 2", 0.45, 50)),
                     process_kw=420, idle_kw=40, air_m3_per_min=12, water_m3_per_h=1.0, lighting_metered=True),
        WorkshopSpec(zones[1], (LineSpec("QD.WS2.L1", "注塑线", "Moulding line", 1.0, 400, "件"),),
                     process_kw=900, idle_kw=90, air_m3_per_min=8, water_m3_per_h=2.0),
        WorkshopSpec(zones[2], (LineSpec("QD.WS3.L1", "钣金喷涂线", "Sheet metal and paint line", 1.0, 300, "件"),),
                     process_kw=520, idle_kw=50, air_m3_per_min=15, water_m3_per_h=4.0, oven_gas_nm3_per_h=85),
    )
    lu = air.MEASUR_LOAD_UNLOAD
    comps = (dataclasses.replace(lu, code="QD.AC1"), dataclasses.replace(lu, code="QD.AC2"),
             dataclasses.replace(lu, code="QD.AC3"), dataclasses.replace(air.MEASUR_VSD, code="QD.AC4"))
    dryers = (air.DryerSpec("QD.DRY1", "heatless", 45.0, 0.15, 0.2),
              air.DryerSpec("QD.DRY2", "heated_blower", 45.0, 0.02, 12.0))
    return PlantSpec(
        code="QD", name_zh="青岛工厂", name_en="Qingdao plant", site=weather.QINGDAO_LIKE, grid_region="north",
        ownership_share=1.0, shifts=schedule.TWO_SHIFT, workshops=ws,
        chiller_plant=ChillerPlantSpec(ch, _chw_pump(ch)),
        air_station=air.AirStationSpec(comps, dryers, leak_m3_per_min_at_7barg=6.0),
        pv=PVSpec(1200.0, 30.0), battery=BatterySpec(1000.0, 500.0), boiler=BoilerSpec(2800.0),
        steam_t_per_h=0.0, hot_water_kw=350.0, office_day_kw=120.0, office_night_kw=30.0,
        canteen_gas_nm3_per_h=30.0, people=1400, time_header="Timestamp", encoding="utf-8",
        pressure_unit="bar", one_minute_points=("QD.AIR.P",), refrigerant="R134a",
        refrigerant_charge_kg=1400.0,
    )


def _fs() -> PlantSpec:
    ch = (chiller.DOE2_CENTRIFUGAL.scaled(2100.0, "FS.CH1"), chiller.DOE2_CENTRIFUGAL.scaled(2100.0, "FS.CH2"),
          chiller.DOE2_CENTRIFUGAL.scaled(2100.0, "FS.CH3"), dataclasses.replace(chiller.TRANE_RTHB_SCREW, name="FS.CH4"))
    zones = (
        ZoneSpec("FS.WS1", "SMT贴片车间", "SMT workshop", 10000, 6, 7.0, 80, 850, 10, 100, 250, 20, 120, 130,
                 cooling_setpoint_c=24.0),
        ZoneSpec("FS.WS2", "整机组装车间", "Final assembly", 15000, 8, 11.0, 80, 420, 30, 150, 600, 25, 120, 140),
        ZoneSpec("FS.WS3", "注塑车间", "Injection moulding", 8000, 9, 6.5, 80, 650, 5, 80, 80, 12, 75, 95,
                 process_chw_kw=700),
    )
    ws = (
        WorkshopSpec(zones[0], (LineSpec("FS.WS1.L1", "SMT一线", "SMT line 1", 0.5, 240, "块"),
                                LineSpec("FS.WS1.L2", "SMT二线", "SMT line 2", 0.5, 240, "块")),
                     process_kw=950, idle_kw=120, air_m3_per_min=10, water_m3_per_h=1.5),
        WorkshopSpec(zones[1], (LineSpec("FS.WS2.L1", "空调总装线", "Air-conditioner assembly line", 1.0, 90),),
                     process_kw=480, idle_kw=40, air_m3_per_min=18, water_m3_per_h=1.5, lighting_metered=True),
        WorkshopSpec(zones[2], (LineSpec("FS.WS3.L1", "注塑线", "Moulding line", 1.0, 420, "件"),),
                     process_kw=950, idle_kw=95, air_m3_per_min=9, water_m3_per_h=2.0),
    )
    lu = air.MEASUR_LOAD_UNLOAD
    comps = (dataclasses.replace(lu, code="FS.AC1"), dataclasses.replace(lu, code="FS.AC2"),
             lu.scaled("FS.AC3", 19.0), dataclasses.replace(air.MEASUR_VSD, code="FS.AC4"))
    dryers = (air.DryerSpec("FS.DRY1", "heatless", 40.0, 0.15, 0.2), air.DryerSpec("FS.DRY2", "heatless", 40.0, 0.15, 0.2))
    return PlantSpec(
        code="FS", name_zh="佛山工厂", name_en="Foshan plant", site=weather.FOSHAN_LIKE, grid_region="south",
        ownership_share=0.6, shifts=schedule.THREE_SHIFT, workshops=ws,
        chiller_plant=ChillerPlantSpec(ch, _chw_pump(ch)),
        air_station=air.AirStationSpec(comps, dryers, leak_m3_per_min_at_7barg=8.0),
        pv=PVSpec(2000.0, 20.0), battery=BatterySpec(2000.0, 1000.0), boiler=None,
        steam_t_per_h=1.2, hot_water_kw=0.0, office_day_kw=150.0, office_night_kw=40.0,
        canteen_gas_nm3_per_h=40.0, people=2200, time_header="时间", encoding="gbk",
        pressure_unit="MPa", one_minute_points=("FS.MAIN.kWh",), refrigerant="R134a", refrigerant_charge_kg=2000.0,
    )


GROUP_CODE = "CCG"
COMPANY_CODE = "CCG.APPL"
JV_COMPANY_CODE = "CCG.JV"


@lru_cache(maxsize=1)
def demo_plants() -> dict[str, PlantSpec]:
    """The two demo plants by code (built once; the specs are frozen)."""
    return {p.code: p for p in (_qd(), _fs())}


def get_plant(code: str) -> PlantSpec:
    from ems.errors import UserError

    plants = demo_plants()
    if code not in plants:
        raise UserError(f"unknown demo plant '{code}' (choose from {', '.join(plants)})")
    return plants[code]
