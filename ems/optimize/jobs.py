"""Scheduled optimiser jobs (``ems serve``'s scheduler): plain ``job(conn) -> rows``.

``chw_recommend``: every 15 minutes, for each plant with a chiller plant (a point with role
``chiller_plant_energy``), a chilled-water recommendation for the coming hour from STORED data
(:mod:`ems.optimize.observe`: observation at the last complete 15-min step, models fitted on the
stored history), stored as 'proposed' (:mod:`ems.optimize.store`). A plant whose data are missing or
stale (:class:`~ems.optimize.history.DataProblem`), or that has no optimiser configuration, is
skipped with the reason logged; the other plants still get theirs. A recommendation already stored
for the same plant and step is not stored again (a re-run is harmless).
"""

from __future__ import annotations

import logging

import pandas as pd
import psycopg

from ems.errors import UserError

log = logging.getLogger(__name__)


def chiller_plants(conn: psycopg.Connection) -> list[str]:
    """Codes of the plant nodes with a chiller plant energy meter (role chiller_plant_energy) below them."""
    rows = conn.execute(
        """WITH RECURSIVE up AS (
               SELECT n.node_id, n.parent_id, n.level, n.code FROM point p JOIN node n USING (node_id)
               WHERE p.tags->>'role' = 'chiller_plant_energy'
               UNION
               SELECT n.node_id, n.parent_id, n.level, n.code FROM node n JOIN up ON n.node_id = up.parent_id)
           SELECT DISTINCT code FROM up WHERE level = 'plant' ORDER BY code""").fetchall()
    return [r[0] for r in rows]


def _already(conn: psycopg.Connection, plant: str, valid_from: pd.Timestamp) -> int | None:
    row = conn.execute("""SELECT rec_id FROM recommendation WHERE plant_code = %s AND system = 'chilled_water'
                          AND valid_from = %s ORDER BY rec_id LIMIT 1""", (plant, valid_from)).fetchone()
    return None if row is None else int(row[0])


def recommend_plant(conn: psycopg.Connection, plant: str, at: pd.Timestamp | str | None = None
                    ) -> tuple[int, bool]:
    """Build, solve and store one plant's chilled-water recommendation; returns (rec_id, newly stored).
    Raises DataProblem (missing or stale data, nothing stored) or UserError (no configuration)."""
    from ems.analytics.sources import node_info
    from ems.optimize import store
    from ems.optimize.config import plant_config
    from ems.optimize.observe import decision_step, optimiser_from_store
    from ems.optimize.recommend import chw_recommendation
    from ems.optimize.tariffs import TZ

    pc = plant_config(plant)
    tz = node_info(conn, plant)["timezone"]
    if tz != TZ:
        raise UserError(f"plant {plant} keeps time in {tz}; the optimiser's tariff clock is {TZ}")
    t_last = decision_step(at, tz)
    done = _already(conn, plant, t_last.tz_localize(tz))
    if done is not None:
        log.info("chw_recommend %s: recommendation %s for %s already stored", plant, done, t_last)
        return done, False
    opt, so = optimiser_from_store(conn, plant, t_last)
    rec = chw_recommendation(opt, pc, so.obs, so.last, so.forecast_issued)
    rec["inputs"]["data_notes"] = list(so.notes)
    rec["inputs"]["source"] = "stored readings"
    rec["inputs"]["forecast_issued"] = so.forecast_issued.isoformat() if so.forecast_issued is not None else None
    warn = [n for n in so.notes if "not trusted" in n]
    if warn:
        rec["diagnosis"] = "; ".join(x for x in [rec.get("diagnosis") or "", *warn] if x)
    rec_id = store.insert_recommendation(conn, rec)
    d = rec["decision"]
    log.info("chw_recommend %s: recommendation %s for %s: CHW supply %.1f degC, %s chillers; expected %.1f kWh saved",
             plant, rec_id, t_last, d["chws_setpoint_c"], d["n_chillers"], rec["expected_kwh_saved"])
    return rec_id, True


def _run(conn: psycopg.Connection, at, plants: list[str] | None) -> tuple[dict[str, int | str], int]:
    from ems.optimize.history import DataProblem

    out: dict[str, int | str] = {}
    stored = 0
    failures: list[Exception] = []
    for plant in plants or chiller_plants(conn):
        try:
            rec_id, new = recommend_plant(conn, plant, at)
            out[plant] = rec_id
            stored += int(new)
        except (DataProblem, UserError) as exc:   # missing/stale data, unconfigured plant: skip this plant
            if not conn.autocommit:
                conn.rollback()
            out[plant] = str(exc)
            log.warning("chw_recommend %s skipped: %s", plant, exc)
        except Exception as exc:  # noqa: BLE001 - one broken plant must not stop the others
            if not conn.autocommit:
                conn.rollback()
            out[plant] = f"{type(exc).__name__}: {exc}"
            log.exception("chw_recommend %s failed", plant)
            failures.append(exc)
    if failures:   # the others are stored; the run itself is reported as failed
        raise RuntimeError(f"chw_recommend: {len(failures)} plant(s) failed: {out}") from failures[0]
    return out, stored


def chw_recommend_outcomes(conn: psycopg.Connection, at: pd.Timestamp | str | None = None,
                           plants: list[str] | None = None) -> dict[str, int | str]:
    """Per plant: the rec_id of its recommendation for the step (stored now or by an earlier run), or the
    reason it was skipped (str)."""
    return _run(conn, at, plants)[0]


def chw_recommend(conn: psycopg.Connection, at: pd.Timestamp | str | None = None,
                  plants: list[str] | None = None) -> int:
    """Chilled-water recommendations ('proposed') for every plant with a chiller plant at the last
    complete 15-min step (``at``: default now); returns how many this run stored."""
    return _run(conn, at, plants)[1]


def recommendation_expiry(conn: psycopg.Connection) -> int:
    """Expire recommendations whose validity has ended (proposed, accepted or applied); how many."""
    from ems.optimize.store import expire_due

    expired = expire_due(conn, pd.Timestamp.now(tz="UTC"))
    conn.commit()
    return expired


try:  # plug into the scheduler registry when the service package is present
    from ems.service.registry import register_job
except ImportError:  # pragma: no cover
    register_job = None
if register_job is not None:
    register_job("chw_recommend", f"{__name__}:chw_recommend",
                 description="chilled-water setpoint recommendations (proposed) for every plant with a chiller "
                             "plant, from stored readings at the last complete 15-min step; plants with missing "
                             "or stale data are skipped with the reason logged")
    register_job("recommendation_expiry", f"{__name__}:recommendation_expiry",
                 description="expire recommendations whose validity has ended")
