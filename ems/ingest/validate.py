"""Map export tags to points, normalise units and check plausible ranges (pure, vectorised)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ems.ingest.mapping import TagMap
from ems.ingest.rounding import round_significant
from ems.readings.counters import CounterParams
from ems.units import conversion


@dataclass(frozen=True)
class PointRule:
    point_id: int
    code: str
    kind: str
    unit: str
    min_value: float | None
    max_value: float | None
    counter_params: CounterParams

    @classmethod
    def from_row(cls, row: dict) -> PointRule:
        return cls(point_id=row["point_id"], code=row["code"], kind=row["kind"], unit=row["unit"],
                   min_value=row["min_value"], max_value=row["max_value"],
                   counter_params=CounterParams(expected_interval_s=row["interval_s"],
                                                register_max=row["register_max"],
                                                max_rate_per_h=row["max_rate_per_h"]))


@dataclass(frozen=True)
class TagTarget:
    """Where an export tag's values go, or why they cannot go anywhere."""

    point_id: int = -1
    scale: float = 1.0
    offset: float = 0.0
    min_value: float = -np.inf
    max_value: float = np.inf
    unit: str = ""
    reject_reason: str | None = None
    reject_detail: str = ""


def resolve_tags(tags: list[str], rules: dict[str, PointRule], mapping: dict[str, TagMap] | None,
                 tag_units: dict[str, str]) -> dict[str, TagTarget]:
    """Resolve export tags: through the mapping file when given, else a tag equal to a point code."""
    out: dict[str, TagTarget] = {}
    for tag in tags:
        entry = mapping.get(tag) if mapping else None
        code = entry.point if entry else tag
        rule = rules.get(code)
        if rule is None:
            why = (f"mapping says point '{code}', which is not a point of this site" if entry
                   else "no point with this code at this site and no mapping entry")
            out[tag] = TagTarget(reject_reason="unknown_tag", reject_detail=why)
            continue
        src_unit = (entry.unit if entry and entry.unit else None) or tag_units.get(tag) or rule.unit
        try:
            scale, offset = conversion(src_unit, rule.unit)
        except ValueError as exc:
            out[tag] = TagTarget(reject_reason="unit_mismatch", reject_detail=f"{exc} (point {rule.code})")
            continue
        mscale = entry.scale if entry else 1.0
        out[tag] = TagTarget(
            point_id=rule.point_id, scale=scale * mscale, offset=offset, unit=rule.unit,
            min_value=-np.inf if rule.min_value is None else rule.min_value,
            max_value=np.inf if rule.max_value is None else rule.max_value)
    return out


def validate_chunk(readings: pd.DataFrame, resolved: dict[str, TagTarget], tz: str = "UTC"
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split parsed readings into accepted (point_id, ts, value in the point's unit) and rejects.

    Reject times are written in the site's zone with their offset (``2025-07-01T00:15:00+08:00``).
    """
    tags = readings["tag"].astype("category")
    cats = list(tags.cat.categories)
    targets = [resolved[str(c)] for c in cats]
    codes = tags.cat.codes.to_numpy()
    pid = np.array([t.point_id for t in targets], np.int64)[codes]
    scale = np.array([t.scale for t in targets])[codes]
    offset = np.array([t.offset for t in targets])[codes]
    lo = np.array([t.min_value for t in targets])[codes]
    hi = np.array([t.max_value for t in targets])[codes]
    raw = readings["value"].to_numpy(np.float64)
    value = raw * scale + offset
    converted = (scale != 1.0) | (offset != 0.0)
    if converted.any():
        value[converted] = round_significant(value[converted])
    unresolved = pid < 0
    out_of_range = ~unresolved & ((value < lo) | (value > hi))
    ok = ~unresolved & ~out_of_range
    ts = readings["ts"].to_numpy(dtype="datetime64[ns]")
    accepted = pd.DataFrame({"point_id": pid[ok].astype(np.int32), "ts": pd.to_datetime(ts[ok], utc=True),
                             "value": value[ok]})
    bad = ~ok
    if not bad.any():
        return accepted, _empty_rejects()
    reason_of_tag = np.array([t.reject_reason or "" for t in targets], dtype=object)[codes[bad]]
    detail_of_tag = np.array([t.reject_detail for t in targets], dtype=object)[codes[bad]]
    unit_of_tag = np.array([t.unit for t in targets], dtype=object)[codes[bad]]
    oor = out_of_range[bad]
    sub = readings.loc[bad]
    detail = np.where(oor, [f"{v:g} {u} outside [{a:g}, {b:g}]" for v, u, a, b in
                            zip(value[bad], unit_of_tag, lo[bad], hi[bad])], detail_of_tag)
    rejects = pd.DataFrame({
        "line": sub["line"].to_numpy(),
        "tag": sub["tag"].astype(str).to_numpy(),
        "raw": [repr(float(v)) for v in raw[bad]],
        "ts_text": pd.to_datetime(sub["ts"], utc=True).dt.tz_convert(tz).map(lambda t: t.isoformat()).to_numpy(),
        "reason": np.where(oor, "out_of_range", reason_of_tag),
        "detail": detail,
    })
    return accepted, rejects


def _empty_rejects() -> pd.DataFrame:
    return pd.DataFrame({"line": pd.Series(dtype="int64"), "tag": pd.Series(dtype=object),
                         "raw": pd.Series(dtype=object), "ts_text": pd.Series(dtype=object),
                         "reason": pd.Series(dtype=object), "detail": pd.Series(dtype=object)})
