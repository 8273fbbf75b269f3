"""The field wiring of the demo group: node tree and meter points, and the plant YAML.

Each :class:`PointDef` says what a meter measures in the twin (``source`` column of the physics
frame and how to turn it into the reading) and how the product should describe it (the fields
of the asset-model YAML, ``ems/assets/model.py``). ``examples/plant.yaml`` is rendered from here
(``python -m ems.sim.points > examples/plant.yaml``) and a test checks the file is up to date, so
the exports and the YAML cannot drift apart. The product reads only the YAML and the exports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from ems.sim.plants import COMPANY_CODE, GROUP_CODE, JV_COMPANY_CODE, PlantSpec, demo_plants


@dataclass
class PointDef:
    code: str
    zh: str
    en: str
    medium: str
    quantity: str
    unit: str
    kind: str
    interval: str = "15min"
    parent: str | None = None
    formula: str | None = None
    min: float | None = None
    max: float | None = None
    max_rate_per_h: float | None = None
    register_max: float | None = None
    tags: dict = field(default_factory=dict)
    # twin side (not written to the YAML)
    source: str | None = None        # physics column
    mode: str = "value"              # value | per_h (rate per hour -> amount) | per_min (rate per minute -> amount) | amount
    scale: float = 1.0               # physics unit -> point unit
    decimals: int = 1
    noise_sd: float = 0.0            # absolute, point unit
    noise_rel: float = 0.0           # relative

    def to_yaml(self) -> dict:
        d: dict = {"code": self.code, "name": {"zh": self.zh, "en": self.en}, "medium": self.medium,
                   "quantity": self.quantity, "unit": self.unit, "kind": self.kind, "interval": self.interval}
        for k in ("parent", "formula", "min", "max", "max_rate_per_h", "register_max"):
            v = getattr(self, k)
            if v is not None:
                d[k] = v
        if self.tags:
            d["tags"] = dict(self.tags)
        return d


@dataclass
class NodeDef:
    code: str
    level: str
    zh: str
    en: str
    attrs: dict = field(default_factory=dict)
    points: list[PointDef] = field(default_factory=list)
    children: list[NodeDef] = field(default_factory=list)
    extra: dict = field(default_factory=dict)   # timezone, grid_region, ownership ...

    def to_yaml(self) -> dict:
        d: dict = {"code": self.code, "level": self.level, "name": {"zh": self.zh, "en": self.en}}
        d.update(self.extra)
        if self.attrs:
            d["attrs"] = self.attrs
        if self.points:
            d["points"] = [p.to_yaml() for p in self.points]
        if self.children:
            d["children"] = [c.to_yaml() for c in self.children]
        return d

    def walk_points(self):
        yield from self.points
        for c in self.children:
            yield from c.walk_points()


def _kwh(code, zh, en, source, max_kw, parent=None, register_max=None, interval="15min", **tags) -> PointDef:
    return PointDef(code, zh, en, "electricity", "energy", "kWh", "cumulative", interval, parent=parent,
                    max_rate_per_h=round(max_kw * 1.3, 1), register_max=register_max, source=source, mode="per_h",
                    decimals=1, tags=dict(tags))


def _temp(code, zh, en, source, lo, hi, medium="chilled_water", sd=0.05, **tags) -> PointDef:
    return PointDef(code, zh, en, medium, "temperature", "°C", "instantaneous", min=lo, max=hi, source=source,
                    decimals=2, noise_sd=sd, tags=dict(tags))


def plant_node(p: PlantSpec) -> NodeDef:
    """The plant subtree with every point."""
    c = p.code
    cp, st = p.chiller_plant, p.air_station
    one = set(p.one_minute_points)
    iv = lambda code: "1min" if code in one else "15min"  # noqa: E731
    main_kw = 12000.0 if c == "QD" else 16000.0
    load = f"{c}.LOAD.kWh"
    plant = NodeDef(c, "plant", p.name_zh, p.name_en, extra={
        "timezone": p.site.timezone, "grid_region": p.grid_region, "ownership_share": p.ownership_share,
        "operational_control": True, "financial_control": p.ownership_share > 0.5,
        # FS is in Guangdong: the shipped 2021 TOU schedule; QD (Shandong) has no shipped schedule yet
        "tariffs": [{"tariff": "CN-GD-IND-TOU", "from": "2021-10-01"} if c == "FS"
                    else {"tariff": "EXAMPLE-FLAT", "from": "2020-01-01"}]},
        attrs={"climate": "temperate coastal (Qingdao-like)" if c == "QD" else "hot humid subtropical (Foshan-like)",
               "latitude": p.site.latitude, "longitude": p.site.longitude, "people": p.people,
               "shifts": "2 shifts Mon-Fri" if c == "QD" else "3 shifts Mon-Fri, day shift on Saturday",
               "synthetic": True})
    plant.points += [
        _kwh(f"{c}.MAIN.kWh", "10kV主进线有功电能", "10 kV main incomer active energy (grid import)", "grid_kw", main_kw,
             register_max=99999999.9, interval=iv(f"{c}.MAIN.kWh"), meter="revenue", role="grid_import"),
        PointDef(load, "全厂用电(虚拟)", "Site electricity use (virtual)", "electricity", "energy", "kWh", "interval",
                 formula=f"{c}.MAIN.kWh + {c}.PV.kWh + {c}.BAT.DIS.kWh - {c}.BAT.CHG.kWh",
                 tags={"virtual": True, "role": "site_electricity"}),
        PointDef(f"{c}.GAS.m3", "天然气总表", "Natural gas main meter", "natural_gas", "volume", "Nm3", "cumulative",
                 max_rate_per_h=600.0 if c == "QD" else 80.0, register_max=9999999.9, source="gas_nm3_per_h",
                 mode="per_h", decimals=1, tags={"role": "gas_main"}),
        PointDef(f"{c}.WATER.m3", "自来水总表", "Mains water meter", "water", "volume", "m3", "cumulative",
                 max_rate_per_h=80.0 if c == "QD" else 120.0, register_max=999999.9, source="water_m3_per_h",
                 mode="per_h", decimals=1),
        PointDef(f"{c}.REF.kg", "制冷剂补充量", "Refrigerant top-up (service log)", "refrigerant", "mass", "kg",
                 "interval", min=0.0, max=500.0, source="refrigerant_kg", mode="amount", decimals=1,
                 tags={"gas": p.refrigerant, "source": "maintenance log"}),
    ]
    wx = NodeDef(f"{c}.WX", "equipment", "气象站", "Weather station", attrs={"type": "weather_station"}, points=[
        _temp(f"{c}.WX.T", "室外干球温度", "Outdoor dry-bulb temperature", "wx_temp_c", -25.0, 45.0, "weather", 0.1,
              role="outdoor_temp"),
        PointDef(f"{c}.WX.RH", "室外相对湿度", "Outdoor relative humidity", "weather", "humidity", "%RH",
                 "instantaneous", min=0.0, max=100.0, source="wx_rh_pct", decimals=1, noise_sd=1.0),
        PointDef(f"{c}.WX.GHI", "水平面总辐照度", "Global horizontal irradiance", "weather", "irradiance", "W/m^2",
                 "instantaneous", min=0.0, max=1400.0, source="wx_ghi_w_m2", decimals=0, noise_rel=0.02),
    ])
    plant.children.append(wx)

    es = NodeDef(f"{c}.ES", "workshop", "能源中心", "Energy centre")
    chp = NodeDef(f"{c}.CHP", "line", "冷冻站", "Chiller plant", attrs={
        "chw_design_dt_k": cp.chw_design_dt_k, "variable_primary": True, "tower_model": "YorkCalc"})
    chp_kw = sum(ch.capacity_ref_kw / ch.cop_ref for ch in cp.chillers) + 200
    chp.points += [
        _kwh(f"{c}.CHP.kWh", "冷冻站总电能", "Chiller plant feeder energy", "chp_kw", chp_kw, parent=load,
             role="chiller_plant_energy"),
        _temp(f"{c}.CHW.Ts", "冷冻水供水温度", "Chilled-water supply temperature", "chws_c", 3.0, 35.0, role="chw_supply_temp"),
        _temp(f"{c}.CHW.Tr", "冷冻水回水温度", "Chilled-water return temperature", "chwr_c", 3.0, 35.0, role="chw_return_temp"),
        PointDef(f"{c}.CHW.F", "冷冻水流量", "Chilled-water flow", "chilled_water", "flow", "m3/h", "instantaneous",
                 min=0.0, max=round(float(cp.chw_design_flow_m3_per_h.sum()) * 1.5), source="chw_flow_m3_per_h",
                 decimals=1, noise_rel=0.01, tags={"role": "chw_flow"}),
        PointDef(f"{c}.CHW.kWh", "冷量表累计冷量", "Chilled-water energy (BTU meter)", "chilled_water", "energy", "kWh",
                 "cumulative", max_rate_per_h=round(sum(ch.capacity_ref_kw for ch in cp.chillers) * 1.3),
                 register_max=99999999.9, source="chw_evap_kw", mode="per_h", decimals=1,
                 tags={"role": "cooling_energy"}),
        _temp(f"{c}.CW.Ts", "冷却水供水温度", "Condenser-water supply temperature (to chillers)", "cws_c", 5.0, 40.0),
        _temp(f"{c}.CW.Tr", "冷却水回水温度", "Condenser-water return temperature", "cwr_c", 5.0, 45.0),
    ]
    for i, ch in enumerate(cp.chillers):
        code = f"{c}.CH{i + 1}"
        reg = 999999.9 if code == "QD.CH1" else None
        chp.children.append(NodeDef(code, "equipment", f"{i + 1}#冷水机组", f"Chiller {i + 1}", attrs={
            "type": "chiller", "curve_set": ch.name.split("/")[0] if code.startswith("FS") else ch.name,
            "capacity_kw": round(ch.capacity_ref_kw, 1), "cop_ref": ch.cop_ref, "refrigerant": p.refrigerant},
            points=[_kwh(f"{code}.kWh", f"{i + 1}#冷机电能", f"Chiller {i + 1} energy", f"ch{i + 1}_kw",
                         ch.capacity_ref_kw / ch.cop_ref * 1.2, parent=f"{c}.CHP.kWh", register_max=reg)]))
    chp.children += [
        NodeDef(f"{c}.CHWP", "equipment", "冷冻水泵组", "Chilled-water pumps", attrs={
            "type": "pump", "count": cp.n, "vfd": True, "design_flow_m3_per_h": round(cp.chw_pump.design_flow_m3_per_h, 1),
            "design_head_m": cp.chw_pump.design_head_m}, points=[
            _kwh(f"{c}.CHWP.kWh", "冷冻泵电能", "CHW pumps energy", "chwp_kw", cp.chw_pump.rated_power_kw * cp.n * 1.3,
                 parent=f"{c}.CHP.kWh"),
            PointDef(f"{c}.CHWP.Hz", "冷冻泵运行频率", "CHW pump VFD frequency", "electricity", "frequency", "Hz",
                     "instantaneous", min=0.0, max=55.0, source="chwp_hz", decimals=1, noise_sd=0.05)]),
        NodeDef(f"{c}.CWP", "equipment", "冷却水泵组", "Condenser-water pumps", attrs={"type": "pump", "count": cp.n,
                                                                               "vfd": False}, points=[
            _kwh(f"{c}.CWP.kWh", "冷却泵电能", "CW pumps energy", "cwp_kw", float(cp.cw_pump_kw.sum()), parent=f"{c}.CHP.kWh")]),
        NodeDef(f"{c}.CT", "equipment", "冷却塔组", "Cooling towers", attrs={"type": "cooling_tower", "cells": cp.n,
                                                                        "fan_vfd": True}, points=[
            _kwh(f"{c}.CT.kWh", "冷却塔风机电能", "Cooling-tower fans energy", "ct_kw", float(cp.tower_fan_design_kw.sum()),
                 parent=f"{c}.CHP.kWh"),
            PointDef(f"{c}.CT.MU.m3", "冷却塔补水", "Cooling-tower make-up water", "water", "volume", "m3", "cumulative",
                     parent=f"{c}.WATER.m3", max_rate_per_h=30.0, register_max=999999.9, source="makeup_m3_per_h",
                     mode="per_h", decimals=2)]),
    ]
    es.children.append(chp)

    air_node = NodeDef(f"{c}.AIR", "line", "空压站", "Compressed-air station", attrs={
        "receiver_m3": st.storage_m3, "control": "pressure-band cascade"})
    p_scale = 1.0 if p.pressure_unit == "bar" else 0.1
    air_node.points += [
        _kwh(f"{c}.AIR.kWh", "空压站总电能", "Compressed-air station feeder energy", "air_kw",
             sum(x.full_load_kw for x in st.compressors) + 30, parent=load, role="air_station_energy"),
        PointDef(f"{c}.AIR.P", "压缩空气总管压力", "Compressed-air header pressure", "compressed_air", "pressure",
                 p.pressure_unit, "instantaneous", iv(f"{c}.AIR.P"), min=0.0, max=round(10.0 * p_scale, 2),
                 max_rate_per_h=None, source="air_header_barg", scale=p_scale, decimals=2 if p_scale == 1 else 3,
                 noise_sd=0.01 * p_scale, tags={"gauge": True, "role": "air_pressure"}),
        PointDef(f"{c}.AIR.F", "压缩空气流量", "Compressed-air flow (free air)", "compressed_air", "flow", "m3/min",
                 "instantaneous", min=0.0, max=round(sum(x.capacity_m3_per_min for x in st.compressors) * 1.2, 1),
                 source="air_flow_m3_per_min", decimals=2, noise_rel=0.015, tags={"role": "air_flow"}),
        PointDef(f"{c}.AIR.V", "压缩空气累计流量", "Compressed-air totaliser (free air)", "compressed_air", "volume", "m3",
                 "cumulative", max_rate_per_h=round(sum(x.capacity_m3_per_min for x in st.compressors) * 60 * 1.2),
                 register_max=99999999.0, source="air_flow_m3_per_min", mode="per_min", decimals=0,
                 tags={"role": "air_volume"}),
    ]
    for i, comp in enumerate(st.compressors):
        kind = "VSD" if comp.control == "vsd" else "加卸载"
        air_node.children.append(NodeDef(comp.code, "equipment", f"{i + 1}#空压机({kind})", f"Compressor {i + 1} "
                                         f"({'VSD' if comp.control == 'vsd' else 'load/unload'})", attrs={
            "type": "air_compressor", "control": comp.control, "full_load_kw": round(comp.full_load_kw, 1),
            "capacity_m3_per_min": round(comp.capacity_m3_per_min, 2), "rated_pressure_barg": comp.rated_pressure_barg},
            points=[_kwh(f"{comp.code}.kWh", f"{i + 1}#空压机电能", f"Compressor {i + 1} energy", f"ac{i + 1}_kw",
                         comp.full_load_kw * 1.1, parent=f"{c}.AIR.kWh")]))
    air_node.children.append(NodeDef(f"{c}.DRY", "equipment", "干燥机组", "Desiccant dryers", attrs={
        "type": "dryer", "units": ", ".join(f"{d.code} {d.kind} {d.rated_m3_per_min:g} m3/min" for d in st.dryers)},
        points=[_kwh(f"{c}.DRY.kWh", "干燥机电能", "Dryers energy", "dryer_kw", sum(d.electric_kw for d in st.dryers) + 5,
                     parent=f"{c}.AIR.kWh", role="dryer_energy"),
                PointDef(f"{c}.DRY.PURGE", "干燥机再生耗气量", "Dryer purge air flow", "compressed_air", "flow",
                         "m3/min", "instantaneous", min=0.0, max=round(sum(d.rated_m3_per_min for d in st.dryers), 1),
                         source="air_purge_m3_per_min", decimals=2, noise_rel=0.02, tags={"role": "dryer_purge_flow"})]))
    es.children.append(air_node)
    es.children.append(NodeDef(f"{c}.PV", "equipment", "屋顶光伏", "Rooftop PV", attrs={
        "type": "pv", "dc_kwp": p.pv.dc_kwp, "tilt_deg": p.pv.tilt_deg}, points=[
        PointDef(f"{c}.PV.kWh", "光伏发电量", "PV generation", "electricity", "energy", "kWh", "cumulative",
                 max_rate_per_h=round(p.pv.dc_kwp * 1.1), register_max=9999999.9, source="pv_kw", mode="per_h",
                 tags={"direction": "generation", "renewable": True, "role": "pv_generation"})]))
    es.children.append(NodeDef(f"{c}.BAT", "equipment", "储能电池", "Battery storage", attrs={
        "type": "battery", "capacity_kwh": p.battery.capacity_kwh, "power_kw": p.battery.power_kw}, points=[
        PointDef(f"{c}.BAT.CHG.kWh", "储能充电量", "Battery charge energy", "electricity", "energy", "kWh", "cumulative",
                 max_rate_per_h=round(p.battery.power_kw * 1.2), source="bat_chg_kw", mode="per_h",
                 tags={"direction": "charge"}),
        PointDef(f"{c}.BAT.DIS.kWh", "储能放电量", "Battery discharge energy", "electricity", "energy", "kWh", "cumulative",
                 max_rate_per_h=round(p.battery.power_kw * 1.2), source="bat_dis_kw", mode="per_h",
                 tags={"direction": "discharge"}),
        PointDef(f"{c}.BAT.SOC", "储能荷电状态", "Battery state of charge", "electricity", "ratio", "%", "instantaneous",
                 min=0.0, max=100.0, source="bat_soc_pct", decimals=1, noise_sd=0.2)]))
    if p.boiler is not None:
        es.children.append(NodeDef(f"{c}.BLR", "equipment", "燃气热水锅炉", "Gas hot-water boiler", attrs={
            "type": "boiler", "capacity_kw": p.boiler.capacity_kw, "fuel": "natural gas"}, points=[
            PointDef(f"{c}.BLR.GAS.m3", "锅炉燃气量", "Boiler gas", "natural_gas", "volume", "Nm3", "cumulative",
                     parent=f"{c}.GAS.m3", max_rate_per_h=400.0, register_max=9999999.9, source="boiler_gas_nm3_per_h",
                     mode="per_h", decimals=1),
            PointDef(f"{c}.BLR.HEAT.GJ", "锅炉供热量", "Boiler heat output", "heat", "energy", "GJ", "cumulative",
                     max_rate_per_h=12.0, register_max=999999.99, source="boiler_heat_kw", mode="per_h",
                     scale=0.0036, decimals=2)]))
    if p.steam_t_per_h > 0:
        es.children.append(NodeDef(f"{c}.STEAM", "equipment", "外购蒸汽入口", "Purchased steam inlet", attrs={
            "type": "steam_supply", "supplier": "industrial park utility"}, points=[
            PointDef(f"{c}.STEAM.t", "外购蒸汽累计量", "Purchased steam", "steam", "mass", "t", "cumulative",
                     max_rate_per_h=3.0, register_max=999999.99, source="steam_t_per_h", mode="per_h", decimals=2,
                     tags={"role": "steam_supply"})]))
    plant.children.append(es)

    for j, w in enumerate(p.workshops):
        z = w.zone
        ws = NodeDef(z.code, "workshop", z.name_zh, z.name_en, attrs={
            "floor_area_m2": z.floor_area_m2, "cooling_setpoint_c": z.cooling_setpoint_c})
        ws_kw = w.process_kw + z.lighting_kw + z.ahu_fan_kw
        ws.points += [
            _kwh(f"{z.code}.kWh", f"{z.name_zh}总电能", f"{z.name_en} feeder energy", f"ws{j + 1}_kw", ws_kw, parent=load),
            _temp(f"{z.code}.T", f"{z.name_zh}温度", f"{z.name_en} air temperature", f"ws{j + 1}_t_c", 0.0, 45.0, "none", 0.1),
            PointDef(f"{z.code}.RH", f"{z.name_zh}相对湿度", f"{z.name_en} relative humidity", "none", "humidity", "%RH",
                     "instantaneous", min=0.0, max=100.0, source=f"ws{j + 1}_rh_pct", decimals=1, noise_sd=1.0),
        ]
        if w.lighting_metered:
            ws.points.append(_kwh(f"{z.code}.LTG.kWh", f"{z.name_zh}照明电能", f"{z.name_en} lighting energy",
                                  f"ws{j + 1}_light_kw", z.lighting_kw, parent=f"{z.code}.kWh"))
        if w.oven_gas_nm3_per_h > 0:
            ws.points.append(PointDef(f"{z.code}.GAS.m3", f"{z.name_zh}烘道燃气", f"{z.name_en} curing-oven gas",
                                      "natural_gas", "volume", "Nm3", "cumulative", parent=f"{c}.GAS.m3",
                                      max_rate_per_h=round(w.oven_gas_nm3_per_h * 1.3), register_max=9999999.9,
                                      source=f"ws{j + 1}_oven_gas_nm3_per_h", mode="per_h", decimals=1))
        for k, ln in enumerate(w.lines):
            ws.children.append(NodeDef(ln.code, "line", ln.name_zh, ln.name_en, attrs={"rated_units_per_h": ln.units_per_h},
                                       points=[
                _kwh(f"{ln.code}.kWh", f"{ln.name_zh}电能", f"{ln.name_en} energy", f"ws{j + 1}_l{k + 1}_kw",
                     w.process_kw * ln.share, parent=f"{z.code}.kWh"),
                PointDef(f"{ln.code}.CNT", f"{ln.name_zh}产量计数", f"{ln.name_en} output counter", "production", "count",
                         "pcs", "cumulative", max_rate_per_h=round(ln.units_per_h * 1.5), register_max=9999999.0,
                         source=f"ws{j + 1}_l{k + 1}_units_per_h", mode="per_h", decimals=0,
                         tags={"unit_zh": ln.unit_zh, "role": "production_count"})]))
        plant.children.append(ws)
    plant.children.append(NodeDef(f"{c}.OFF", "workshop", "办公楼及食堂", "Offices, canteen and auxiliaries", points=[
        _kwh(f"{c}.OFF.kWh", "办公及辅助电能", "Offices and auxiliaries energy", "office_kw", p.office_day_kw + 60,
             parent=load),
        PointDef(f"{c}.OFF.GAS.m3", "食堂燃气", "Canteen gas", "natural_gas", "volume", "Nm3", "cumulative",
                 parent=f"{c}.GAS.m3", max_rate_per_h=round(p.canteen_gas_nm3_per_h * 1.5), register_max=9999999.9,
                 source="canteen_gas_nm3_per_h", mode="per_h", decimals=1)]))
    return plant


def group_tree() -> NodeDef:
    """Group -> companies -> plants."""
    plants = demo_plants()
    group = NodeDef(GROUP_CODE, "group", "示例家电集团", "Demo Appliance Group", extra={
        "timezone": "Asia/Shanghai", "ownership_share": 1.0, "operational_control": True, "financial_control": True},
        attrs={"synthetic": True, "generated_by": "ems.sim.points"})
    appl = NodeDef(COMPANY_CODE, "company", "示例家电有限公司", "Demo Appliances Co., Ltd.")
    appl.children.append(plant_node(plants["QD"]))
    jv = NodeDef(JV_COMPANY_CODE, "company", "示例电子(佛山)有限公司", "Demo Electronics (Foshan) Co., Ltd. (joint venture)",
                 attrs={"joint_venture": True})
    jv.children.append(plant_node(plants["FS"]))
    group.children += [appl, jv]
    return group


def plant_points(plant_code: str) -> list[PointDef]:
    """All points of one plant (including virtual ones)."""
    return list(plant_node(demo_plants()[plant_code]).walk_points())


HEADER = ("# Demo group for Carbon Cockpit: two synthetic plants simulated by ems.sim (the plant twin).\n"
          "# GENERATED by `python -m ems.sim.points > examples/plant.yaml`; edit ems/sim/points.py instead.\n"
          "# Qingdao-like plant (QD, grid region north, 100 % owned) and Foshan-like plant (FS, grid region south,\n"
          "# 60 % owned joint venture). Exports: `ems sim generate --days 365 --out data/`.\n")


def _plain(x):
    """numpy scalars -> Python numbers (rounded), recursively, for a clean YAML."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_plain(v) for v in x]
    if isinstance(x, bool) or x is None or isinstance(x, str):
        return x
    if isinstance(x, int):
        return x
    try:
        f = float(x)
    except (TypeError, ValueError):
        return x
    return int(f) if f.is_integer() and abs(f) < 1e15 and not isinstance(x, float) else round(f, 4)


def render_yaml() -> str:
    doc = _plain({"version": 1, "nodes": [group_tree().to_yaml()]})
    return HEADER + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=120)


if __name__ == "__main__":
    import sys

    sys.stdout.write(render_yaml())
