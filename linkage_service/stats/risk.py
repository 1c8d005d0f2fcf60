"""Risk by territory: victims by place of birth per 100,000 inhabitants, set against poverty,
extreme poverty and IDH, and a ranking of provinces for prevention.

- **Population**: 2020 estimate from the UBIGEO tables (district area × 2020 density, summed
  to provinces and departments, :func:`vinculo_common.ubigeo.population_2020`).
- **Rate**: ``tasa_100k = personas / población × 100000``, persons counted by place of birth
  (victims *of origin*). Blank where the count is suppressed.
- **Correlation**: Pearson and Spearman coefficients (with ``n``, the number of territories)
  between the rate and each indicator, over every territory of the level (zero victims
  included). They are computed from the counts the caller passes (exact ones on the server,
  or the noisy ones in differential-privacy mode) and published rounded to 3 decimals.
- **Ranking of provinces** ("where prevention reaches most people at risk"): the rate is first
  smoothed towards the national rate ``r0`` (Poisson–gamma, prior worth ``prior_strength``
  victims: ``(x + a) / (población + a / r0)``) so a small province with one victim does not top
  the list by chance; where the count is suppressed the national rate is used, so the rank
  reveals nothing about it. Then ``índice = personas en pobreza × tasa suavizada / r0``: the
  number of poor inhabitants weighted by how much more (or less) often than the national
  average the province's people become victims. Provinces are ranked by that index.

>>> table = risk_table({"15": 500, "07": None}, level=2)
>>> table.loc[table["ubigeo"] == "07", "tasa_100k"].isna().item()
True
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from functools import cache

import numpy as np
import pandas as pd

from vinculo_common import ubigeo
from vinculo_common.errors import InputError
from vinculo_common.paths import ubigeo_dir

__all__ = [
    "INDICATORS",
    "correlations",
    "national_rate",
    "prevention_ranking",
    "risk_table",
    "territory_codes",
]

INDICATORS: dict[str, str] = {
    "pct_pobreza": "Pobreza total (%)",
    "pct_pobreza_extrema": "Pobreza extrema (%)",
    "idh": "Índice de desarrollo humano 2019",
}


@cache
def territory_codes(level: int) -> tuple[str, ...]:
    """Every INEI code of a level (2 = department, 4 = province), in code order.

    >>> len(territory_codes(2))
    25
    """
    files = {2: "ubigeo_departamento.csv", 4: "ubigeo_provincia.csv"}
    if level not in files:
        raise InputError(f"nivel de riesgo inválido: {level} (válidos: 2, 4)")
    with (ubigeo_dir() / files[level]).open(encoding="utf-8", newline="") as handle:
        return tuple(sorted(row["inei"][:level] for row in csv.DictReader(handle)))


def _base(level: int) -> pd.DataFrame:
    rows = []
    for code in territory_codes(level):
        unit = ubigeo.unit(code)
        if unit is None:
            continue
        row: dict[str, object] = {"ubigeo": code, "departamento": unit.department}
        if level == 4:
            row["provincia"] = unit.province
        row["poblacion"] = round(ubigeo.population_2020(code) or 0.0)
        row["pct_pobreza"] = unit.poverty_pct
        row["pct_pobreza_extrema"] = unit.extreme_poverty_pct
        row["idh"] = None if unit.idh_2019 is None else round(unit.idh_2019, 4)
        rows.append(row)
    return pd.DataFrame(rows)


def risk_table(published: Mapping[str, int | None], *, level: int) -> pd.DataFrame:
    """Every territory of ``level`` with ``personas`` (born there; ``None`` = suppressed,
    absent = 0), population, rate per 100,000 and the three indicators."""
    table = _base(level)
    counts = [published.get(code, 0) for code in table["ubigeo"]]
    table.insert(len(table.columns) - 4, "personas", pd.Series(counts, dtype="Int64"))
    rate = [None if n is None or not pop else round(n / pop * 1e5, 2)
            for n, pop in zip(counts, table["poblacion"], strict=True)]
    table.insert(len(table.columns) - 3, "tasa_100k", pd.Series(rate, dtype="Float64"))
    return table


def _ranks(values: np.ndarray) -> np.ndarray:
    return pd.Series(values).rank(method="average").to_numpy()


def correlations(counts: Mapping[str, int], *, level: int) -> pd.DataFrame:
    """Pearson and Spearman coefficients between the rate per 100,000 and each indicator.

    >>> correlations({"15": 10}, level=2).columns.tolist()
    ['nivel', 'indicador', 'pearson', 'spearman', 'n']
    """
    table = _base(level)
    rate = np.array([counts.get(code, 0) for code in table["ubigeo"]], float)
    population = table["poblacion"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(population > 0, rate / population * 1e5, np.nan)
    out = []
    for column, label in INDICATORS.items():
        other = pd.to_numeric(table[column], errors="coerce").to_numpy(float)
        keep = ~(np.isnan(rate) | np.isnan(other))
        x, y = rate[keep], other[keep]
        pearson = spearman = None
        if keep.sum() >= 3 and x.std() > 0 and y.std() > 0:
            pearson = round(float(np.corrcoef(x, y)[0, 1]), 3)
            spearman = round(float(np.corrcoef(_ranks(x), _ranks(y))[0, 1]), 3)
        out.append({"nivel": {2: "departamento", 4: "provincia"}[level], "indicador": label,
                    "pearson": pearson, "spearman": spearman, "n": int(keep.sum())})
    return pd.DataFrame(out, columns=["nivel", "indicador", "pearson", "spearman", "n"])


def national_rate(counts: Mapping[str, int], *, level: int = 4) -> float:
    """Victims of known origin at ``level`` per inhabitant of Peru (not per 100,000).

    >>> national_rate({"1501": 0}) == 0.0
    True
    """
    population = sum(ubigeo.population_2020(code) or 0.0 for code in territory_codes(2))
    known = set(territory_codes(level))
    return sum(n for code, n in counts.items() if code in known) / population


def prevention_ranking(published: Mapping[str, int | None], *, rate: float,
                       prior_strength: float = 5.0) -> pd.DataFrame:
    """Provinces ranked by the prevention index (module docstring). ``rate`` is the national
    rate per inhabitant (:func:`national_rate`); ``published`` the province counts."""
    if prior_strength <= 0:
        raise InputError("prior_strength debe ser positivo")
    table = risk_table(published, level=4)
    smoothed, basis = [], []
    for n, pop in zip(table["personas"], table["poblacion"], strict=True):
        if n is pd.NA or rate <= 0 or not pop:
            smoothed.append(rate)
            basis.append("nacional (celda suprimida)" if n is pd.NA else "observada")
        else:
            smoothed.append((int(n) + prior_strength) / (pop + prior_strength / rate))
            basis.append("observada (suavizada)")
    smooth = np.array(smoothed)
    poverty = pd.to_numeric(table["pct_pobreza"], errors="coerce").fillna(0).to_numpy(float)
    poor = table["poblacion"].to_numpy(float) * poverty / 100
    relative = smooth / rate if rate > 0 else np.ones_like(smooth)
    table["tasa_suavizada_100k"] = np.round(smooth * 1e5, 2)
    table["base_tasa"] = basis
    table["personas_en_pobreza"] = np.round(poor).astype(int)
    table["riesgo_relativo"] = np.round(relative, 3)
    table["indice_prevencion"] = np.round(poor * relative).astype(int)
    table = table.sort_values(["indice_prevencion", "ubigeo"], ascending=[False, True])
    table.insert(0, "puesto", range(1, len(table) + 1))
    return table.reset_index(drop=True)
