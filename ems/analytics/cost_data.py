"""Read what electricity costing needs: 15-min kWh of meters and nodes, what the utility bills, and
the site's tariffs; and the cost-centre report of a node. The CLI and the cockpit both call these."""

from __future__ import annotations

import pandas as pd
import psycopg

from ems.errors import UserError

QUARTER = pd.Timedelta("15min")


def point_kwh_15min(conn: psycopg.Connection, point: dict, start: pd.Timestamp, end: pd.Timestamp, *,
                    demand: bool = False) -> pd.Series:
    """A meter's energy per 15 min (kWh), indexed by interval end. With ``demand``, an interval holding a
    delta that spans a data gap is NaN (its energy is billed, but it is no 15-min demand)."""
    from ems.readings.query import read_point
    from ems.units import conversion

    frame = read_point(conn, point, start, end, "15min")
    scale, _ = conversion(point["unit"], "kWh")
    values = frame["delta_sum"].astype(float).to_numpy() * scale
    if demand:
        values[frame["gap_flagged"].fillna(False).astype(bool).to_numpy()] = float("nan")
    return pd.Series(values, index=pd.DatetimeIndex(frame["bucket"]) + QUARTER, name=point["code"])


def node_kwh_15min(conn: psycopg.Connection, node: str, start, end) -> pd.Series:
    """A node's electricity use per 15 min (kWh), indexed by interval end."""
    from ems.rollups.query import node_energy

    frame = node_energy(conn, node, start, end, "15min", "electricity")
    return pd.Series(frame["value"].astype(float).to_numpy(), index=pd.DatetimeIndex(frame["bucket"]) + QUARTER)


def billed_kwh(conn: psycopg.Connection, node: str, start, end) -> tuple[pd.Series, str]:
    """What the utility bills: the grid-import meters (role grid_import) below the node when it has
    them (a site: on-site PV and storage lower the bill), else the node's own electricity use."""
    from ems.analytics.sources import role_points

    meters = role_points(conn, node).get("grid_import", [])
    if not meters:
        return node_kwh_15min(conn, node, start, end), "the node's electricity use"
    parts = [point_kwh_15min(conn, m, start, end) for m in meters]
    return pd.concat(parts, axis=1).sum(axis=1, min_count=1), "grid import (" + ", ".join(m["code"] for m in meters) + ")"


def site_tariffs(conn: psycopg.Connection, node: str, start, tariff_id: str | None = None,
                 tariffs: list | None = None) -> tuple[str, list, list]:
    """(site, assignments, tariffs) of a node; ``tariff_id`` overrides the site's assignments."""
    from ems.analytics.sources import tariff_assignments
    from ems.analytics.tariff_files import TariffAssignment, builtin_tariffs

    tariffs = tariffs if tariffs is not None else builtin_tariffs()
    site, assigned = tariff_assignments(conn, node)
    if tariff_id:
        assigned = [TariffAssignment(site_code=site, tariff_id=tariff_id, valid_from=pd.Timestamp(start).date())]
    if not assigned:
        raise UserError(f"'{node}' and the nodes above it have no tariff assigned: add 'tariffs: [{{tariff: ID, "
                        f"from: DATE}}]' to its site in the plant YAML, or pass --tariff", where="--tariff")
    known = {t.id for t in tariffs}
    for a in assigned:
        if a.tariff_id not in known:
            raise UserError(f"no tariff with id '{a.tariff_id}' (ems cost --list-tariffs)", where="--tariff")
    return site, assigned, tariffs


def centre_report(conn: psycopg.Connection, node: str, tz: str, start, end, by: str = "month", *,
                  centres: bool = True, tariff_id: str | None = None, tariffs: list | None = None,
                  daily_max_temp_c: pd.Series | None = None):
    """The node's bill and, with ``centres``, each child node's cost and the remainder (a CostReport)."""
    from ems.analytics.cost_report import cost_by_centre

    site, assigned, tariffs = site_tariffs(conn, node, start, tariff_id, tariffs)
    billed, basis = billed_kwh(conn, node, start, end)
    kwh, names = {node: billed}, {}
    if centres:
        for code, zh, en in conn.execute(
                """SELECT c.code, c.name_zh, c.name_en FROM node c JOIN node p ON c.parent_id = p.node_id
                   WHERE p.code = %s ORDER BY c.code""", (node,)):
            series = node_kwh_15min(conn, code, start, end)
            if series.notna().any():
                kwh[code], names[code] = series, " / ".join(x for x in (zh, en) if x)
    report = cost_by_centre(kwh, names, node if centres else None, site, assigned, tariffs, tz, by, daily_max_temp_c)
    report.notes.insert(0, f"priced: {basis}")
    return report
