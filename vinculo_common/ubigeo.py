"""Peru's geographic codes (UBIGEO): INEI codes, RENIEC → INEI translation, names, indicators.

vinculo speaks INEI codes everywhere: 2 digits for a department (``"15"``), 4 for a province
(``"1501"``), 6 for a district (``"150101"``). RENIEC numbers the same places differently (Lima
is ``14`` there) and many RENIEC codes are valid INEI codes *of another place*, so a code's
system can never be guessed from the code: the caller says which one it holds.

The tables in ``data/ubigeo/`` (MIT licence, see ``LICENSE`` there) are read once, on first
use. Lookups accept 2/4/6-digit codes and 6-digit codes padded with ``00``/``0000``.

>>> name("150101")
'LIMA, LIMA, LIMA'
>>> reniec_to_inei("140101")
'150101'
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import cache

from vinculo_common.paths import ubigeo_dir

__all__ = [
    "UbigeoUnit",
    "canonical_code",
    "department",
    "extreme_poverty_pct",
    "idh_2019",
    "is_inei",
    "name",
    "population_2020",
    "poverty_pct",
    "province",
    "reniec_to_inei",
    "unit",
]


@dataclass(frozen=True, slots=True)
class UbigeoUnit:
    """One department, province or district, by its INEI code (2, 4 or 6 digits)."""

    code: str
    department: str
    province: str  # "" for a department
    district: str  # "" for a department or province
    area_km2: float
    density_2020: float
    idh_2019: float | None
    poverty_pct: float | None
    extreme_poverty_pct: float | None

    @property
    def level(self) -> str:
        return {2: "department", 4: "province", 6: "district"}[len(self.code)]


@dataclass(frozen=True, slots=True)
class _Tables:
    units: dict[str, UbigeoUnit]  # INEI code (2/4/6 digits) -> unit
    reniec: dict[str, str]  # RENIEC code (2/4/6 digits) -> INEI code (same level)
    population: dict[str, float]  # INEI code -> 2020 population (districts summed upwards)


def canonical_code(code: str) -> str:
    """Strip the ``00``/``0000`` padding of a 6-digit province or department code.

    >>> canonical_code("150000"), canonical_code("150100"), canonical_code("150101")
    ('15', '1501', '150101')
    """
    if len(code) == 6:
        if code.endswith("0000"):
            return code[:2]
        if code.endswith("00"):
            return code[:4]
    return code


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


@cache
def _tables() -> _Tables:
    units: dict[str, UbigeoUnit] = {}
    reniec: dict[str, str] = {}
    population: dict[str, float] = {}
    folder = ubigeo_dir()
    for file_name in ("ubigeo_departamento.csv", "ubigeo_provincia.csv", "ubigeo_distrito.csv"):
        with (folder / file_name).open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                code = canonical_code(row["inei"])
                units[code] = UbigeoUnit(
                    code=code,
                    department=row["departamento"],
                    province=row.get("provincia", ""),
                    district=row.get("distrito", ""),
                    area_km2=_float(row["superficie"]) or 0.0,
                    density_2020=_float(row["pob_densidad_2020"]) or 0.0,
                    idh_2019=_float(row["idh_2019"]),
                    poverty_pct=_float(row["pct_pobreza_total"]),
                    extreme_poverty_pct=_float(row["pct_pobreza_extrema"]),
                )
                reniec[canonical_code(row["reniec"])] = code
    for code, item in units.items():
        if len(code) == 6:
            people = item.area_km2 * item.density_2020
            for key in (code, code[:4], code[:2]):
                population[key] = population.get(key, 0.0) + people
    return _Tables(units=units, reniec=reniec, population=population)


def unit(code: str) -> UbigeoUnit | None:
    """The unit with this INEI code, or None.

    >>> unit("15").department
    'LIMA'
    """
    return _tables().units.get(canonical_code(code))


def is_inei(code: str) -> bool:
    """True when ``code`` is a known INEI department, province or district code.

    >>> is_inei("150101"), is_inei("1501"), is_inei("159999")
    (True, True, False)
    """
    return canonical_code(code) in _tables().units


def reniec_to_inei(code: str) -> str | None:
    """The INEI code of the place RENIEC numbers ``code`` (same level), or None if unknown.

    >>> reniec_to_inei("14"), reniec_to_inei("140101")
    ('15', '150101')
    """
    return _tables().reniec.get(canonical_code(code))


def name(code: str) -> str | None:
    """``"DEPARTAMENTO[, PROVINCIA[, DISTRITO]]"`` for an INEI code, or None if unknown.

    >>> name("1501")
    'LIMA, LIMA'
    """
    item = unit(code)
    if item is None:
        return None
    return ", ".join(part for part in (item.department, item.province, item.district) if part)


def department(code: str) -> str | None:
    """The 2-digit department code of an INEI code (any level), or None if unknown.

    >>> department("150101")
    '15'
    """
    return code[:2] if is_inei(code) else None


def province(code: str) -> str | None:
    """The 4-digit province code of a province or district code; None for a department.

    >>> province("150101")
    '1501'
    """
    canonical = canonical_code(code)
    if len(canonical) < 4 or not is_inei(canonical):
        return None
    return canonical[:4]


def population_2020(code: str) -> float | None:
    """Estimated 2020 population: area × density per district, summed for larger units.

    >>> round(population_2020("15")) > 9_000_000
    True
    """
    return _tables().population.get(canonical_code(code))


def idh_2019(code: str) -> float | None:
    """Human development index 2019 (IDH), or None when unknown."""
    item = unit(code)
    return None if item is None else item.idh_2019


def poverty_pct(code: str) -> float | None:
    """Total monetary poverty, percent of the population, or None when unknown."""
    item = unit(code)
    return None if item is None else item.poverty_pct


def extreme_poverty_pct(code: str) -> float | None:
    """Extreme poverty, percent of the population, or None when unknown."""
    item = unit(code)
    return None if item is None else item.extreme_poverty_pct
