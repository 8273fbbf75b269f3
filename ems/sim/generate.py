"""``ems sim generate``: simulate the demo group open-loop and write historian exports."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ems.sim import air, meters
from ems.sim.export import write_plant_csvs
from ems.sim.openloop import simulate_open_loop
from ems.sim.plants import PlantSpec, demo_plants
from ems.sim.points import PointDef, plant_points

STANDBY_TEMP_C = 22.0
STANDBY_TAU_STEPS = 8.0


def _standby_temperatures(phys: pd.DataFrame) -> None:
    """Loop temperature sensors while the plant is off: relax from the last value to plant-room air."""
    a = 1.0 / STANDBY_TAU_STEPS
    for col in ("chws_c", "chwr_c", "cws_c", "cwr_c"):
        v = phys[col].to_numpy(dtype=float).copy()
        last = STANDBY_TEMP_C
        for i in range(len(v)):
            x = v[i]
            if np.isnan(x):
                last = last + a * (STANDBY_TEMP_C - last)
                v[i] = last
            else:
                last = x
        phys[col] = v


def _refrigerant_events(phys: pd.DataFrame, exo: pd.DataFrame, rng: np.random.Generator, plant: PlantSpec,
                        manifest: list[dict]) -> None:
    """Occasional refrigerant top-ups (fugitive emissions), logged in working hours on working days."""
    n_events = max(1, int(round(len(phys) / 35040 * 2)))
    ok = np.flatnonzero(exo["workday"].to_numpy() & (exo["hour"].to_numpy() > 9) & (exo["hour"].to_numpy() < 16))
    col = np.zeros(len(phys))
    if ok.size:
        for pos in rng.choice(ok, size=min(n_events, ok.size), replace=False):
            kg = float(np.round(rng.uniform(0.01, 0.04) * plant.refrigerant_charge_kg, 1))
            col[pos] = kg
            manifest.append({"event": "refrigerant_top_up", "plant": plant.code, "at": str(phys.index[pos]),
                             "kg": kg, "gas": plant.refrigerant})
    phys["refrigerant_kg"] = col


def simulate_plant_readings(plant: PlantSpec, start: str, days: float, seed: int,
                            manifest: list[dict]) -> tuple[dict[str, pd.DataFrame], list[PointDef], pd.DataFrame]:
    """Physics -> meter readings for one plant. Returns ({'15min': df, '1min': df}, points, physics)."""
    plant_idx = sorted(demo_plants()).index(plant.code)
    rng = np.random.default_rng([seed, plant_idx])
    phys, extras = simulate_open_loop(plant, start, days)
    _standby_temperatures(phys)
    _refrigerant_events(phys, extras["exo"], rng, plant, manifest)
    points = plant_points(plant.code)
    f15 = meters.readings_15min(points, phys, rng, manifest)
    p1 = air.header_pressure_1min(extras["air"], 900, plant.air_station.band_bar, rng)
    f1 = meters.readings_1min(points, phys, p1, rng)
    frames = {"15min": f15, "1min": f1}
    meters.inject_gaps(frames, rng, manifest, plant.code)
    return frames, points, phys


def generate(out_dir: str | Path, days: float = 365, start: str = "2025-01-01", seed: int = 1,
             plants: list[str] | None = None) -> dict:
    """Write the exports for the demo group. Returns a summary (files, readings, seconds)."""
    t0 = time.perf_counter()
    out = Path(out_dir)
    manifest: list[dict] = []
    files: list[Path] = []
    readings = 0
    specs = demo_plants()
    for code in plants or list(specs):
        plant = specs[code]
        frames, points, _ = simulate_plant_readings(plant, start, days, seed, manifest)
        decimals = {p.code: p.decimals for p in points}
        paths, n = write_plant_csvs(out, plant.code, frames, plant.time_header, plant.encoding, decimals)
        files += paths
        readings += n
    seconds = time.perf_counter() - t0
    summary = {"out": str(out), "start": start, "days": days, "seed": seed, "files": len(files),
               "readings": readings, "seconds": round(seconds, 2)}
    (out / "sim_manifest.json").write_text(json.dumps({**summary, "faults_and_events": manifest}, indent=2,
                                                      ensure_ascii=False), encoding="utf-8")
    return summary
