"""What an engineer enters about a plant for the optimiser: limits, nameplates, equipment ranges.

These are configuration data (asset register and comfort specification), not learned. Nameplate
figures for the demo plants are those tabulated in ``docs/demo-plant.md``; zone limits are the
comfort/process specification: occupied temperature at most cooling setpoint + 1 K and relative
humidity at most 65 % (a common electronics/assembly specification; ASHRAE 55 recommends <= 65 %
RH for comfort).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ems.errors import UserError


@dataclass(frozen=True)
class ZoneLimit:
    code: str
    t_max_c: float
    rh_max_pct: float = 65.0


@dataclass(frozen=True)
class ChwConfig:
    """Chilled-water plant settings.

    chiller_capacity_kw: nameplate cooling capacity per chiller in staging order [kW];
    chiller_min_plr: minimum part-load ratio per chiller; design_flow_m3_per_h: evaporator design
    flow per chiller; min_flow_fraction: evaporator minimum flow (fraction of design) of each
    running chiller; max_dt_k: largest CHW delta-T the coils accept (coil design delta-T);
    stage_plr: largest planned part-load ratio (capacity reserve); safe_chws_c: design supply
    temperature, the warmest allowed while a zone is out of limits; chws range and rate limits [deg C,
    K per 15 min; raising, lowering (the safe direction)]; hz range of the CHW pump VFDs; margins applied to predicted zone states;
    end_of_day_rh_pct: humidity limit over the last end_of_day_steps occupied steps before a scheduled
    HVAC stop (the
    zone's contents buffer moisture overnight: a humid evening makes a humid morning);
    end_of_week_rh_pct / end_of_week_steps: the same before a long stop (at least long_stop_steps,
    e.g. a weekend: the first hours after it are the plant's worst); capacity_guard: CHW load predicted at the
    design supply temperature, as a fraction of the total nameplate, from which the plant is near
    capacity: the zone temperature limits are tightened by capacity_margin_k (a zone that drifts up
    cannot be pulled back; 0 = off: on the 2025 season the margin cost 4 % of QD's saving for a few
    zone-hours); capacity_hold: measured load fraction from which the plant is at
    capacity: the design supply temperature and the plant's own staging.
    cw_setpoint_c: the tower setpoint of the plant's own control; cw_min_c..cw_max_c in cw_step_c:
    the tower setpoints the optimiser may choose (the range the commissioning test covered; the
    minimum also gives the chillers their largest capacity during a pull-down).
    """

    zones: tuple[ZoneLimit, ...]
    chiller_capacity_kw: tuple[float, ...]
    chiller_min_plr: tuple[float, ...]
    design_flow_m3_per_h: tuple[float, ...]
    min_flow_fraction: float = 0.4
    max_dt_k: float = 7.0
    stage_plr: float = 0.9
    chws_min_c: float = 5.5
    chws_max_c: float = 13.0
    chws_step_c: float = 0.5
    chws_rate_k_per_step: float = 1.0
    chws_rate_down_k_per_step: float = 4.0
    hz_min: float = 20.0
    hz_max: float = 50.0
    cw_setpoint_c: float = 29.0
    cw_min_c: float = 22.0
    cw_max_c: float = 32.0
    cw_step_c: float = 1.0
    safe_chws_c: float = 7.0
    t_margin_k: float = 0.4
    rh_margin_pct: float = 4.0
    end_of_day_rh_pct: float = 50.0
    end_of_day_steps: int = 8
    end_of_week_rh_pct: float = 42.0
    end_of_week_steps: int = 16
    long_stop_steps: int = 96
    horizon_steps: int = 8
    capacity_guard: float = 0.93
    capacity_margin_k: float = 0.0
    capacity_hold: float = 0.98

    @property
    def n_chillers(self) -> int:
        return len(self.chiller_capacity_kw)


@dataclass(frozen=True)
class AirConfig:
    """Compressed-air station settings: machines (code, control, rated m3/min), pressure range and
    reserve. min_header_barg is the lowest header pressure the users accept (the baseline cascade's lowest
    cut-in, 6.5 - 3 x 0.15 barg, so both policies deliver the same minimum); band_bar the load/unload band; reserve_m3_per_min the spare capacity kept running; min run / stop times in steps."""

    compressors: tuple[tuple[str, str, float], ...]
    min_header_barg: float = 6.05
    band_bar: float = 0.6
    max_header_barg: float = 7.2
    reserve_fraction: float = 0.10
    min_run_steps: int = 4
    min_stop_steps: int = 2
    max_starts_per_day: int = 6


@dataclass(frozen=True)
class PlantConfig:
    code: str
    chw: ChwConfig
    air: AirConfig
    grid_factor_kg_per_kwh: float
    tariff_id: str = "CN-GD-IND-TOU"
    storage: dict = field(default_factory=dict)


def _flow(kw: float, dt_k: float = 5.0) -> float:
    return kw / (4.186 * 998.0 / 3600.0 * dt_k)


# MEE 2023 regional grid average emission factors [kgCO2/kWh] (reference/carbon-standards-and-factors.md,
# announcement 2025 No. 47): South 0.4042 (FS), North 0.6361 (QD).
_DEMO = {
    "FS": PlantConfig(
        "FS",
        ChwConfig(zones=(ZoneLimit("FS.WS1", 25.0), ZoneLimit("FS.WS2", 27.0), ZoneLimit("FS.WS3", 27.0)),
                  chiller_capacity_kw=(2100.0, 2100.0, 2100.0, 1051.4), chiller_min_plr=(0.1, 0.1, 0.1, 0.2),
                  design_flow_m3_per_h=(_flow(2100.0), _flow(2100.0), _flow(2100.0), 0.04527 * 3600.0)),
        AirConfig(compressors=(("FS.AC1", "load_unload", 12.94), ("FS.AC2", "load_unload", 12.94),
                               ("FS.AC3", "load_unload", 19.0), ("FS.AC4", "vsd", 28.57))),
        grid_factor_kg_per_kwh=0.4042,
        storage={"battery_kwh": 2000.0, "battery_kw": 1000.0, "pv_kwp": 2000.0},
    ),
    "QD": PlantConfig(
        "QD",
        ChwConfig(zones=(ZoneLimit("QD.WS1", 27.0), ZoneLimit("QD.WS2", 27.0), ZoneLimit("QD.WS3", 27.0)),
                  chiller_capacity_kw=(1750.0, 1750.0, 1051.4), chiller_min_plr=(0.2, 0.2, 0.2),
                  design_flow_m3_per_h=(0.06057 * 3600 * 1750 / 1406.6, 0.06057 * 3600 * 1750 / 1406.6,
                                        0.04527 * 3600.0)),
        AirConfig(compressors=(("QD.AC1", "load_unload", 12.94), ("QD.AC2", "load_unload", 12.94),
                               ("QD.AC3", "load_unload", 12.94), ("QD.AC4", "vsd", 28.57))),
        grid_factor_kg_per_kwh=0.6361,
        tariff_id="CN-GD-IND-TOU",
        storage={"battery_kwh": 1000.0, "battery_kw": 500.0, "pv_kwp": 1200.0},
    ),
}


def plant_config(code: str) -> PlantConfig:
    if code not in _DEMO:
        raise UserError(f"no optimiser configuration for plant '{code}' (configured: {', '.join(_DEMO)})")
    return _DEMO[code]
