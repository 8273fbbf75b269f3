"""Meter history for fitting, and the checks that stop a recommendation on bad data.

A history frame has one row per 15-min interval (index = interval end) and the physical columns of
the plant's meters, named as in :func:`ems.sim.twin.run_policy` (which is how the twin's meters
read after the export conversions): per chiller ``ch{i}_kw`` (CHi.kWh / 0.25 h) and ``ch{i}_evap_kw``;
``chws_c`` / ``chwr_c`` / ``cws_c`` (CHW.Ts, CHW.Tr, CW.Ts); ``chw_flow_m3_per_h`` (CHW.F);
``chwp_kw`` / ``chwp_hz`` / ``chwp_n``; ``cwp_kw``; ``ct_kw``; ``chw_load_kw`` (CHW BTU meter);
zone ``ws{j}_t_c`` / ``ws{j}_rh_pct`` / ``ws{j}_ahu_kw``; weather ``wx_*``; compressors
``ac{i}_kw`` / ``ac{i}_m3_per_min``; ``air_*``; ``dryer_kw``.

The training history used by ``ems optimize evaluate`` is a *commissioning test* season: the
plant run for one cooling season (2024) with the CHW supply setpoint stepped through its range
every two hours (a setpoint excitation test, as commissioning engineers do to learn a plant), with
the plant's own staging and pump control otherwise. The evaluation season is the next year.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ems.errors import UserError

CHW_REQUIRED = ("chw_load_kw", "chws_c", "cws_c", "chw_flow_m3_per_h", "chwp_kw", "chwp_hz", "chwp_n", "cwp_kw",
                "ct_kw", "wx_temp_c", "wx_wet_bulb_c", "wx_rh_pct", "wx_ghi_w_m2")


class DataProblem(UserError):
    """Missing meters or stale data: the recommendation is stopped with this reason."""


def check_meters(last: dict, required: tuple[str, ...]) -> None:
    """Raise DataProblem naming every required meter missing (absent or NaN) from ``last``."""
    missing = [k for k in required if k not in last or last[k] is None or not np.isfinite(float(last[k]))]
    if missing:
        raise DataProblem(f"missing meter readings: {', '.join(missing)}; recommendation stopped")


def check_fresh(forecast_issued: pd.Timestamp, now: pd.Timestamp, max_age: str = "1h") -> None:
    """Raise DataProblem when the forecast was issued more than ``max_age`` before ``now``."""
    age = pd.Timestamp(now) - pd.Timestamp(forecast_issued)
    if age > pd.Timedelta(max_age):
        raise DataProblem(f"forecast is stale: issued {forecast_issued}, {age} before {now} "
                          f"(limit {max_age}); recommendation stopped")


def excitation_policy(seed: int = 7, lo: float = 6.0, hi: float = 15.0, hold_steps: int = 8,
                      cw_lo: float = 22.0, cw_hi: float = 32.0, log: list | None = None):
    """A commissioning test policy: CHW supply setpoint stepped randomly in [lo, hi] every 2 h, and
    the tower (condenser-water) setpoint stepped independently in [cw_lo, cw_hi] (so the chiller
    curves and the tower-fan model see condenser temperatures below the usual 29 deg C). ``log``
    collects the CW setpoint of every step (the BMS logs the setpoints it writes)."""
    from ems.sim.model import Decision

    rng = np.random.default_rng(seed)
    rng_cw = np.random.default_rng(seed + 1000)
    state = {"k": 0, "sp": 7.0, "cw": 29.0}

    def policy(obs: dict) -> Decision:
        if state["k"] % hold_steps == 0:
            state["sp"] = float(np.round(rng.uniform(lo, hi) * 2) / 2)
            state["cw"] = float(np.round(rng_cw.uniform(cw_lo, cw_hi)))
        state["k"] += 1
        if log is not None:
            log.append(state["cw"])
        return Decision(chws_setpoint_c=state["sp"], cw_setpoint_c=state["cw"])

    return policy


def training_history(plant: str, start: str = "2024-05-01", end: str = "2024-10-01", seed: int = 7) -> pd.DataFrame:
    """The commissioning-test history of a plant (closed loop on the twin, meters only, plus the
    logged tower setpoint ``cw_setpoint_c``)."""
    from ems.sim.twin import run_policy

    log: list[float] = []
    df = run_policy(plant, excitation_policy(seed, log=log), start, end)
    df["cw_setpoint_c"] = log
    return df


def zone_count(df: pd.DataFrame) -> int:
    return sum(1 for c in df.columns if c.startswith("ws") and c.endswith("_t_c"))


def chiller_count(df: pd.DataFrame) -> int:
    return sum(1 for c in df.columns if c.startswith("ch") and c[2:-3].isdigit() and c.endswith("_kw"))
