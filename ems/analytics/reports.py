"""Indicator reports of a node from stored roll-ups: equipment EnPIs, intensity, tce, load profile,
peak demand, energy flow and a weather/production-normalised baseline.

The glue between :mod:`ems.analytics.sources` (reads) and the pure modules; the CLI and the cockpit
both call these. Each returns plain frames (or dataclasses) with the units in the column names.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import psycopg

from ems.analytics import indicators
from ems.analytics.sources import node_info, node_series, point_series, role_points, summed
from ems.errors import UserError

SECONDARY_MEDIA = {"chilled_water": "produced on site from electricity (counted as that electricity)",
                   "compressed_air": "produced on site from electricity (counted as that electricity)",
                   "heat": "from on-site boilers (counted as their fuel); meter purchased heat as 'steam' or give "
                           "--include heat",
                   "water": "not an energy carrier", "production": "output, not energy",
                   "refrigerant": "a greenhouse gas, not energy"}


def site_of(conn: psycopg.Connection, node_code: str) -> str:
    """The plant (or site) a node belongs to: the nearest ancestor at level plant/site, else itself."""
    row = conn.execute(
        """WITH RECURSIVE up AS (SELECT node_id, parent_id, code, level, 0 AS d FROM node WHERE code = %s
                                 UNION ALL SELECT n.node_id, n.parent_id, n.code, n.level, up.d + 1
                                 FROM node n JOIN up ON n.node_id = up.parent_id)
           SELECT code FROM up WHERE level IN ('plant', 'site') ORDER BY d LIMIT 1""", (node_code,)).fetchone()
    return row[0] if row else node_code


def _first(conn, roles: dict[str, list[dict]], role: str, start, end) -> pd.Series | None:
    """Hourly series of the first point with ``role`` (None when there is none)."""
    return point_series(conn, roles[role][0], start, end) if roles.get(role) else None


def chiller_plants(conn, node_code: str, start, end, by: str = "month") -> dict[str, pd.DataFrame]:
    """kW/kW, kW/RT, COP and delta-T of every chiller plant below ``node_code``, keyed by its node."""
    out = {}
    for p in role_points(conn, node_code).get("chiller_plant_energy", []):
        system = p["node"]
        roles = role_points(conn, system)
        if not roles.get("cooling_energy"):
            raise UserError(f"chiller plant {system} has no point with role 'cooling_energy' (a BTU meter); "
                            "kW/kW needs the delivered cooling")
        design = float((node_info(conn, system)["attrs"] or {}).get("chw_design_dt_k", 5.0))
        out[system] = indicators.chiller_plant_table(
            point_series(conn, p, start, end), summed(conn, roles["cooling_energy"], start, end),
            _first(conn, roles, "chw_supply_temp", start, end), _first(conn, roles, "chw_return_temp", start, end),
            by=by, design_delta_t_k=design)
    return out


def air_stations(conn, node_code: str, start, end, by: str = "month") -> dict[str, pd.DataFrame]:
    """Specific power, leak baseline and dryer purge share of every compressed-air station below the node."""
    out = {}
    for p in role_points(conn, node_code).get("air_station_energy", []):
        system = p["node"]
        roles = role_points(conn, system)
        if not roles.get("air_volume"):
            raise UserError(f"compressed-air station {system} has no point with role 'air_volume' "
                            "(a free-air totaliser); specific power needs the delivered air")
        counts = role_points(conn, site_of(conn, system)).get("production_count", [])
        units = summed(conn, counts, start, end) if counts else None
        out[system] = indicators.air_station_table(
            point_series(conn, p, start, end), summed(conn, roles["air_volume"], start, end),
            _first(conn, roles, "air_flow", start, end), _first(conn, roles, "dryer_purge_flow", start, end), units,
            by=by)
    return out


def _long(series: pd.Series, entity: str) -> pd.DataFrame:
    return pd.DataFrame({"entity": entity, "bucket": series.index, "value": series.to_numpy()})


def intensity(conn, node_code: str, start, end, by: str = "month") -> pd.DataFrame:
    """Electricity per unit of output for each product line below the node and for each plant.

    A line's energy is its node's electricity; a plant's is the plant's electricity over the sum of
    all its lines' output (mixed products: compare a plant with itself over time).
    """
    counts = role_points(conn, node_code).get("production_count", [])
    if not counts:
        raise UserError(f"no production counter (role 'production_count') below '{node_code}'", where="--node")
    energy, output = [], []
    for c in counts:
        energy.append(_long(node_series(conn, c["node"], "electricity", start, end, "day")[0], c["node"]))
        output.append(_long(point_series(conn, c, start, end, "day"), c["node"]))
    plants: dict[str, list[dict]] = {}
    for c in counts:
        plants.setdefault(site_of(conn, c["node"]), []).append(c)
    for plant, members in plants.items():
        energy.append(_long(node_series(conn, plant, "electricity", start, end, "day")[0], plant))
        output.append(_long(summed(conn, members, start, end, "day"), plant))
    table = indicators.intensity_table(pd.concat(energy), pd.concat(output), by=by)
    table["level"] = ["plant" if e in plants else "line" for e in table["entity"]]
    return table


def tce(conn, node_code: str, start, end, basis: str = "equivalent", include: tuple[str, ...] = ()
        ) -> tuple[pd.DataFrame, dict[str, str]]:
    """Energy of the node per medium over [start, end) in tce (GB/T 2589), and the media left out
    with the reason (secondary media would count the same energy twice)."""
    from ems.analytics.tce import load_table, tce_frame

    info = node_info(conn, node_code)
    rows = conn.execute(
        """SELECT medium, unit, sum(value) FROM rollup_node WHERE grain = 'day' AND node_id = %s
           AND bucket >= %s AND bucket < %s GROUP BY medium, unit ORDER BY medium""",
        (info["node_id"], start, end)).fetchall()
    known = set(load_table().media)
    keep, skipped = [], {}
    for medium, unit, quantity in rows:
        if medium in SECONDARY_MEDIA and medium not in include:
            skipped[medium] = SECONDARY_MEDIA[medium]
        elif medium not in known:
            skipped[medium] = "no GB/T 2589 coefficient in the table"
        else:
            keep.append({"medium": medium, "quantity": float(quantity or 0.0), "unit": unit})
    frame = pd.DataFrame(keep, columns=["medium", "quantity", "unit"])
    if frame.empty:
        return frame.assign(tce=[]), skipped
    year = pd.Timestamp(start).year
    if basis == "equal_value":
        years = sorted(load_table().electricity_equal_value_by_year)
        if not years:
            raise UserError("the coefficient table has no electricity equal-value series", where="--basis")
        if year not in years:   # the series is published with a lag: use the latest year not after the period
            year = max([y for y in years if y <= year] or years[:1])
    out = tce_frame(frame, basis, year=year)  # type: ignore[arg-type]
    out.attrs["equal_value_year"] = year if basis == "equal_value" else None
    return out, skipped


def power_kw_15min(conn, node_code: str, start, end) -> pd.Series:
    """A node's average electric power per 15 min (kW), indexed by interval start (local).

    An interval holding a delta that spans a data gap (quality flag GAP_SPANNING) is NaN: its energy
    belongs to the whole outage, and read as 15-min power it would invent a peak."""
    from ems.readings.quality import Quality
    from ems.rollups.query import node_energy

    frame = node_energy(conn, node_code, start, end, "15min", "electricity")
    kw = frame["value"].astype(float) * 4.0
    kw[(frame["flags"].fillna(0).astype(int) & int(Quality.GAP_SPANNING)) != 0] = float("nan")
    return pd.Series(kw.to_numpy(), index=pd.DatetimeIndex(frame["bucket"]), name=f"{node_code}:kW")


@dataclass
class BaselineReport:
    model: object              # ems.analytics.baseline.BaselineModel
    savings: pd.DataFrame      # per reporting day, see ems.analytics.baseline.savings
    features: list[str]


def daily_drivers(conn, node_code: str, start, end) -> pd.DataFrame:
    """Daily electricity (kWh), cooling and heating degree days (from the site's outdoor temperature),
    output (units) and day type of a node."""
    from ems.analytics.baseline import add_day_type, cooling_degree_days, heating_degree_days

    info = node_info(conn, node_code)
    tz = info["timezone"]
    energy, _ = node_series(conn, node_code, "electricity", start, end, "day")
    frame = pd.DataFrame({"energy_kwh": energy})
    site_roles = role_points(conn, site_of(conn, node_code))
    if site_roles.get("outdoor_temp"):
        temp = point_series(conn, site_roles["outdoor_temp"][0], start, end, "hour")
        frame["cdd"] = cooling_degree_days(temp, 18.0, tz=tz).reindex(frame.index)
        frame["hdd"] = heating_degree_days(temp, 18.0, tz=tz).reindex(frame.index)
    counts = role_points(conn, node_code).get("production_count") or site_roles.get("production_count", [])
    if counts:
        frame["output_units"] = summed(conn, counts, start, end, "day").reindex(frame.index)
    return add_day_type(frame, tz)


def baseline(conn, node_code: str, base: tuple, reporting: tuple) -> BaselineReport:
    """Fit a daily baseline (electricity ~ CDD + HDD + output + day type) on the base period and
    report the savings over the reporting period (IPMVP Option C, ASHRAE Guideline 14 statistics)."""
    from ems.analytics.baseline import fit_baseline, savings

    frame = daily_drivers(conn, node_code, base[0], reporting[1])
    features = [c for c in ("cdd", "hdd", "output_units") if c in frame and frame[c].notna().any()
                and frame.loc[frame.index < reporting[0], c].std() > 0]
    if frame["day_type"].nunique() > 1:
        features.append("day_type")
    base_frame = frame[(frame.index >= base[0]) & (frame.index < base[1])]
    if base_frame["energy_kwh"].notna().sum() < 14:
        raise UserError(f"the base period has {base_frame['energy_kwh'].notna().sum()} days of data; "
                        "a daily baseline needs at least 14", where="--base")
    model = fit_baseline(base_frame, "energy_kwh", features)
    report_frame = frame[(frame.index >= reporting[0]) & (frame.index < reporting[1])]
    return BaselineReport(model, savings(model, report_frame), features)


FLOW_MEDIA = ("electricity", "natural_gas", "steam")


def energy_flows(conn, node_code: str, start, end) -> pd.DataFrame:
    """Energy flows (source, target, value, unit MWh) along the meter tree below a node: supplies
    (grid, PV, storage discharge, gas, steam) into the site meters, site meters into system and workshop
    feeders, feeders into their sub-meters. Fuels are converted by their net calorific value
    (GB/T 2589 table), so one diagram carries all media.
    """
    from ems.analytics.tce import coefficient
    from ems.assets.store import points_frame
    from ems.rollups.virtual import linear_terms, parse_formula
    from ems.units import conversion

    pts = [p for p in points_frame(conn, node_code) if p["medium"] in FLOW_MEDIA
           and p["kind"] in ("cumulative", "interval") and p["quantity"] in ("energy", "volume", "mass")]
    by_code = {p["code"]: p for p in pts}
    totals = dict(conn.execute(
        """SELECT p.code, sum(r.sum_delta) FROM rollup_point r JOIN point p USING (point_id)
           WHERE r.grain = 'day' AND p.code = ANY(%s) AND r.bucket >= %s AND r.bucket < %s GROUP BY p.code""",
        (list(by_code), start, end)).fetchall())

    def mwh(p: dict) -> float:
        value = float(totals.get(p["code"]) or 0.0)
        if p["quantity"] == "energy":
            return value * conversion(p["unit"], "MWh")[0]
        c = coefficient(p["medium"], p["unit"])
        if c.kj_per_unit is None:
            raise UserError(f"no calorific value for {p['medium']} in the tce table", where=p["code"])
        return value * conversion(p["unit"], c.unit)[0] * c.kj_per_unit * conversion("kJ", "MWh")[0]

    names = {code: (p.get("name_en") or code) for code, p in by_code.items()}
    seen: dict[str, int] = {}
    for name in names.values():
        seen[name] = seen.get(name, 0) + 1
    # the same meter name in two plants (a group view) must not merge two meters into one Sankey node
    label = {code: name if seen[name] == 1 else f"{name} ({code})" for code, name in names.items()}
    rows = []
    for code, p in by_code.items():
        if p["formula"]:
            terms = linear_terms(parse_formula(p["formula"])) or {}
            for ref, coef in terms.items():
                if ref in by_code:
                    src, dst = (ref, code) if coef > 0 else (code, ref)
                    rows.append((label[src], label[dst], abs(coef) * mwh(by_code[ref])))
        elif p["parent"] in by_code:
            rows.append((label[p["parent"]], label[code], mwh(p)))
    return pd.DataFrame(rows, columns=["source", "target", "value"]).assign(unit="MWh")
