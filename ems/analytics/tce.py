"""Tonnes of standard coal equivalent (tce, 吨标准煤) per energy medium, GB/T 2589-2020.

The coefficients are data, in ``ems/data/tce_coefficients.yaml``, each with its source, version and
firmness tag ([S]/[S2]/[R], see that file). This module only looks them up and converts:

    tce = quantity [in the coefficient's unit, converted with pint] x kgce_per_unit / 1000

Bases (GB/T 2589-2020 §3.2-3.3):

* ``'equivalent'`` (当量值): the energy content of the medium. Electricity 0.1229 kgce/kWh
  (3600 kJ/kWh, 860 kcal/kWh / 7000 kcal/kgce), heat 0.03412 kgce/MJ.
* ``'equal_value'`` (等价值): primary energy spent to supply one unit. Equal to the equivalent value
  for fuels. For electricity it is the year's national average coal consumption of thermal power
  supply (供电标准煤耗; default series in the YAML, [R]), or any figure passed as
  ``equal_value_kgce_per_kwh``. Purchased heat/steam has no tabulated equal value (it depends on
  the supplier's boiler), so asking for it raises unless ``kgce_per_unit`` is given. Working media
  (water, compressed air) have only an equal value (Annex B).

Units are converted with :func:`ems.units.conversion` (pint): '万kWh', 'MWh', 'GJ', 't', 'Nm3', ...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np
import pandas as pd
import yaml

from ems.units import conversion, parse_unit

Basis = Literal["equivalent", "equal_value"]
BASES: tuple[str, ...] = ("equivalent", "equal_value")
KGCE_PER_TCE = 1000.0  # definition: 1 tce = 1000 kgce
DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "tce_coefficients.yaml"

Q = TypeVar("Q", float, pd.Series, np.ndarray)


@dataclass(frozen=True)
class TceCoefficient:
    """One conversion coefficient: ``kgce_per_unit`` kgce for one ``unit`` of ``medium``."""

    medium: str
    unit: str
    bases: tuple[str, ...]
    kgce_per_unit: float
    source: str
    firmness: str
    standard: str = "GB/T 2589-2020"
    name_zh: str = ""
    kcal_per_unit: float | None = None
    kj_per_unit: float | None = None
    note: str = ""
    year: int | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-able record (for audit trails: which coefficient, from where, how firm)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class TceTable:
    """All coefficients of one YAML file plus the electricity equal-value series."""

    standard: str
    coefficients: tuple[TceCoefficient, ...]
    electricity_equal_value_by_year: dict[int, float]
    electricity_equal_value_default_year: int
    electricity_equal_value_source: str
    electricity_equal_value_firmness: str

    @property
    def media(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.medium for c in self.coefficients))


def load_table(path: str | Path | None = None) -> TceTable:
    """Read a coefficient YAML (default: the packaged GB/T 2589-2020 table).

    Raises ValueError naming the file and the entry when a field is missing or wrong.
    """
    if path is None:
        return _default_table()
    return _load(Path(path))


@lru_cache(maxsize=1)
def _default_table() -> TceTable:
    return _load(DEFAULT_PATH)


def _load(path: Path) -> TceTable:
    with path.open(encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    standard = str(doc.get("standard", ""))
    coeffs: list[TceCoefficient] = []
    for i, raw in enumerate(doc.get("coefficients") or []):
        where = f"{path}: coefficients[{i}]"
        try:
            bases = tuple(raw["bases"])
            coeff = TceCoefficient(
                medium=str(raw["medium"]), unit=str(raw["unit"]), bases=bases,
                kgce_per_unit=float(raw["kgce_per_unit"]), source=str(raw["source"]),
                firmness=str(raw["firmness"]), standard=standard, name_zh=str(raw.get("name_zh", "")),
                kcal_per_unit=_opt_float(raw.get("kcal_per_unit")), kj_per_unit=_opt_float(raw.get("kj_per_unit")),
                note=" ".join(str(raw.get("note", "")).split()),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{where}: bad or missing field ({exc})") from exc
        if not set(bases) <= set(BASES):
            raise ValueError(f"{where}: bases must be among {BASES}, got {bases}")
        if coeff.kgce_per_unit <= 0:
            raise ValueError(f"{where}: kgce_per_unit must be positive")
        parse_unit(coeff.unit)
        coeffs.append(coeff)
    ev = doc.get("electricity_equal_value") or {}
    by_year = {int(y): float(v) for y, v in (ev.get("kgce_per_kwh_by_year") or {}).items()}
    default_year = int(ev.get("default_year", max(by_year) if by_year else 0))
    if by_year and default_year not in by_year:
        raise ValueError(f"{path}: electricity_equal_value.default_year {default_year} not in the series")
    return TceTable(standard, tuple(coeffs), by_year, default_year, str(ev.get("source", "")),
                    str(ev.get("firmness", "R")))


def _opt_float(x: object) -> float | None:
    return None if x is None else float(x)  # type: ignore[arg-type]


def kgce_per_unit_from_ncv(ncv_kj_per_unit: float) -> float:
    """Coefficient from a measured net calorific value (GB/T 2589: 1 kgce = 29 307.6 kJ).

    The standard asks for the measured NCV of fuels when it is known; the Annex A values are
    reference values for when it is not.
    """
    return float(ncv_kj_per_unit) * conversion("kJ", "tce")[0] * KGCE_PER_TCE


def electricity_equal_value(year: int | None = None, table: TceTable | None = None) -> TceCoefficient:
    """Electricity equal value (等价值) for ``year`` (default: the table's default year)."""
    table = table or load_table()
    if not table.electricity_equal_value_by_year:
        raise ValueError("no electricity equal-value series in the coefficient table; pass equal_value_kgce_per_kwh")
    y = table.electricity_equal_value_default_year if year is None else int(year)
    if y not in table.electricity_equal_value_by_year:
        years = sorted(table.electricity_equal_value_by_year)
        raise ValueError(f"no electricity equal value for year {y} (have {years}); pass equal_value_kgce_per_kwh")
    return TceCoefficient(
        medium="electricity", unit="kWh", bases=("equal_value",),
        kgce_per_unit=table.electricity_equal_value_by_year[y], source=table.electricity_equal_value_source,
        firmness=table.electricity_equal_value_firmness, standard=table.standard, name_zh="电力（等价值）",
        note=f"coal consumption of thermal power supply, {y}", year=y,
    )


def coefficient(medium: str, unit: str, basis: Basis = "equivalent", *, year: int | None = None,
                table: TceTable | None = None) -> TceCoefficient:
    """The coefficient for ``medium`` measured in ``unit`` on ``basis``.

    When a medium has entries in several dimensions (steam per kg and per MJ), the one whose unit
    has the same dimension as ``unit`` is chosen. Raises ValueError naming the medium, unit and basis.
    """
    if basis not in BASES:
        raise ValueError(f"basis must be one of {BASES}, got '{basis}'")
    table = table or load_table()
    if medium == "electricity" and basis == "equal_value":
        return electricity_equal_value(year, table)
    candidates = [c for c in table.coefficients if c.medium == medium]
    if not candidates:
        raise ValueError(f"no tce coefficient for medium '{medium}' (known: {', '.join(table.media)})")
    dim = parse_unit(unit).dimensionality
    same_dim = [c for c in candidates if parse_unit(c.unit).dimensionality == dim]
    if not same_dim:
        units = ", ".join(c.unit for c in candidates)
        raise ValueError(f"cannot convert '{unit}' of {medium} to tce: coefficients are per {units}")
    on_basis = [c for c in same_dim if basis in c.bases]
    if not on_basis:
        have = sorted({b for c in same_dim for b in c.bases})
        raise ValueError(f"{medium} has no '{basis}' coefficient in GB/T 2589 (only {have}); "
                         "pass kgce_per_unit explicitly")
    return on_basis[0]


def to_tce(quantity: Q, unit: str, medium: str, basis: Basis = "equivalent", *, year: int | None = None,
           equal_value_kgce_per_kwh: float | None = None, kgce_per_unit: float | None = None,
           table: TceTable | None = None) -> Q:
    """Convert ``quantity`` of ``medium`` in ``unit`` to tonnes of standard coal equivalent.

    ``quantity`` may be a float, numpy array or pandas Series (index kept, NaN stays NaN).
    ``year`` picks the electricity equal-value figure; ``equal_value_kgce_per_kwh`` overrides it;
    ``kgce_per_unit`` overrides any coefficient (given per ``unit`` as passed, e.g. a measured NCV
    via :func:`kgce_per_unit_from_ncv`).

    >>> to_tce(1000.0, "kWh", "electricity")   # GB/T 2589 equivalent value 0.1229 kgce/kWh
    0.1229
    """
    if kgce_per_unit is not None:
        factor = float(kgce_per_unit) / KGCE_PER_TCE
    elif medium == "electricity" and basis == "equal_value" and equal_value_kgce_per_kwh is not None:
        factor = conversion(unit, "kWh")[0] * float(equal_value_kgce_per_kwh) / KGCE_PER_TCE
    else:
        coeff = coefficient(medium, unit, basis, year=year, table=table)
        factor = conversion(unit, coeff.unit)[0] * coeff.kgce_per_unit / KGCE_PER_TCE
    if isinstance(quantity, pd.Series):
        return (quantity.astype(float) * factor).rename(quantity.name)  # type: ignore[return-value]
    if isinstance(quantity, np.ndarray):
        return quantity.astype(float) * factor  # type: ignore[return-value]
    return float(_round(float(quantity) * factor))  # type: ignore[return-value]


def _round(x: float) -> float:
    """Drop binary noise (1000 x 0.1229 / 1000 -> 0.1229, not 0.12290000000000001)."""
    return float(f"{x:.12g}") if np.isfinite(x) else x


def tce_frame(frame: pd.DataFrame, basis: Basis = "equivalent", *, quantity_col: str = "quantity",
              unit_col: str = "unit", medium_col: str = "medium", year: int | None = None,
              equal_value_kgce_per_kwh: float | None = None) -> pd.DataFrame:
    """Add ``tce``, ``kgce_per_unit_source`` and ``firmness`` columns to a table of quantities.

    Input columns: ``medium`` (e.g. 'electricity'), ``quantity`` (float), ``unit`` (e.g. 'MWh').
    Rows whose medium has no coefficient on ``basis`` raise ValueError (never silently 0).
    """
    out = frame.copy()
    tce: list[float] = []
    sources: list[str] = []
    firmness: list[str] = []
    for q, u, m in zip(out[quantity_col], out[unit_col], out[medium_col]):
        if m == "electricity" and basis == "equal_value" and equal_value_kgce_per_kwh is not None:
            tce.append(to_tce(float(q), str(u), "electricity", basis,
                              equal_value_kgce_per_kwh=equal_value_kgce_per_kwh))
            sources.append("user-supplied equal value")
            firmness.append("user")
            continue
        c = coefficient(str(m), str(u), basis, year=year)
        tce.append(to_tce(float(q), str(u), str(m), basis, year=year))
        sources.append(f"{c.standard}: {c.source}")
        firmness.append(c.firmness)
    out["tce"] = tce
    out["coefficient_source"] = sources
    out["firmness"] = firmness
    return out


def coefficient_table(media: Sequence[str] | None = None) -> pd.DataFrame:
    """The packaged coefficients as a table (medium, unit, bases, kgce_per_unit, source, firmness)."""
    table = load_table()
    rows = [c.as_dict() for c in table.coefficients if media is None or c.medium in media]
    rows += [electricity_equal_value(y).as_dict() for y in sorted(table.electricity_equal_value_by_year)
             if media is None or "electricity" in media]
    return pd.DataFrame(rows)
