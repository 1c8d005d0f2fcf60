"""All publishable tables from one bank snapshot, suppressed (and optionally noised) together.

``build_tables(snapshot)`` runs on the server: it builds every count table, gathers their cells
and lines into one system (a cell shared by two tables is one cell), adds discrete Laplace
noise when ``dp_epsilon`` is given, applies small-cell and complementary suppression once for
all, and only then renders each table. What it returns is JSON-serialisable and holds no
record-level data.

>>> import pandas as pd
>>> snap = pd.DataFrame({"person_id": [f"P-{i}" for i in range(12)], "source": ["reta"] * 12,
...     "sex": ["F"] * 11 + ["M"]})
>>> tables = build_tables(snap, min_cell=10)
>>> tables["personas_por_sexo"]["rows"]
[['Mujer', None], ['Hombre', None], ['Total', 12]]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

import numpy as np
import pandas as pd

from linkage_service.stats.cells import CountTable, Line, VarKey
from linkage_service.stats.events import (
    DEFAULT_MIN_GAP_DAYS,
    care_coverage_table,
    care_delay_table,
    overlap_table,
    revictimization_table,
)
from linkage_service.stats.indicators import (
    cross_table,
    flows_birth_to_exploitation,
    one_way_table,
    place_tables,
)
from linkage_service.stats.risk import (
    correlations,
    national_rate,
    prevention_ranking,
    risk_table,
)
from linkage_service.stats.snapshot import DEFAULT_SOURCE_ROLES, normalize_snapshot
from linkage_service.stats.suppression import (
    DEFAULT_MIN_CELL,
    add_discrete_laplace,
    suppress_cells,
)
from vinculo_common.errors import InputError

__all__ = ["CROSS_TABLES", "ONE_WAY", "TablePayload", "build_tables", "count_tables"]

ONE_WAY = ("sexo", "anio", "grupo_edad", "grupo_edad_detalle", "nacionalidad",
           "forma_explotacion")
CROSS_TABLES: tuple[tuple[str, str], ...] = (
    ("anio", "sexo"),
    ("anio", "grupo_edad"),
    ("anio", "forma_explotacion"),
    ("nacimiento@2", "sexo"),
    ("nacimiento@2", "grupo_edad"),
    ("residencia@2", "sexo"),
    ("explotacion@2", "forma_explotacion"),
    ("forma_explotacion", "sexo"),
    ("forma_explotacion", "grupo_edad_detalle"),
    ("nacionalidad", "sexo"),
)


class TablePayload(TypedDict):
    """One published table: Spanish column names, rows of plain values, metadata."""

    name: str
    title: str
    description: str
    columns: list[str]
    rows: list[list[Any]]
    metadata: dict[str, Any]


def count_tables(snapshot: pd.DataFrame, *,
                 source_roles: Mapping[str, str] = DEFAULT_SOURCE_ROLES,
                 min_gap_days: int = DEFAULT_MIN_GAP_DAYS) -> list[CountTable]:
    """Every count table of the publication, unsuppressed (server side only)."""
    frame = normalize_snapshot(snapshot)
    tables: list[CountTable] = []
    for kind in ("nacimiento", "residencia", "explotacion"):
        tables.extend(place_tables(frame, kind).values())
    tables.extend(one_way_table(frame, name) for name in ONE_WAY)
    tables.extend(cross_table(frame, row, column) for row, column in CROSS_TABLES)
    tables.append(flows_birth_to_exploitation(frame))
    tables.append(revictimization_table(frame, min_gap_days=min_gap_days))
    tables.append(overlap_table(frame, source_roles=source_roles))
    tables.append(care_coverage_table(frame, source_roles=source_roles))
    tables.append(care_delay_table(frame, source_roles=source_roles))
    return tables


def _system(tables: list[CountTable]) -> tuple[dict[VarKey, int], list[Line]]:
    values: dict[VarKey, int] = {}
    lines: dict[Line, None] = {}
    for table in tables:
        for key, value in table.values.items():
            if values.setdefault(key, value) != value:
                raise InputError(f"celda {key!r} con dos valores distintos (error interno)")
        lines.update(dict.fromkeys(table.lines))
    return values, list(lines)


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _payload(name: str, title: str, description: str, frame: pd.DataFrame,
             metadata: dict[str, Any]) -> TablePayload:
    rows = [[_plain(v) for v in row] for row in frame.astype(object).itertuples(index=False)]
    suppressed = sum(1 for row in rows if "personas" in frame.columns
                     and row[list(frame.columns).index("personas")] is None)
    return TablePayload(name=name, title=title, description=description,
                        columns=[str(c) for c in frame.columns], rows=rows,
                        metadata={**metadata, "celdas_suprimidas": suppressed})


def build_tables(snapshot: pd.DataFrame, *, min_cell: int = DEFAULT_MIN_CELL,
                 dp_epsilon: float | None = None, rng: np.random.Generator | None = None,
                 source_roles: Mapping[str, str] = DEFAULT_SOURCE_ROLES,
                 min_gap_days: int = DEFAULT_MIN_GAP_DAYS) -> dict[str, TablePayload]:
    """Every table, safe to publish: ``{name: payload}`` (see the module docstring)."""
    if min_cell < 1:
        raise InputError(f"min_cell debe ser al menos 1 (recibido: {min_cell})")
    tables = count_tables(snapshot, source_roles=source_roles, min_gap_days=min_gap_days)
    values, lines = _system(tables)
    dp: dict[str, Any] | None = None
    counted = values
    if dp_epsilon is not None:
        counted = add_discrete_laplace(values, epsilon=dp_epsilon,
                                       rng=rng if rng is not None else np.random.default_rng())
        dp = {"epsilon": dp_epsilon, "mecanismo": "Laplace discreto (geométrico bilateral)",
              "alcance": "ε por celda; una persona aporta a varias celdas y tablas "
                         "(composición secuencial)"}
    published = suppress_cells(counted, [(line.members, line.total) for line in lines],
                               min_cell=min_cell)
    base = {"min_celda": min_cell, "privacidad_diferencial": dp,
            "unidad": "personas distintas del banco seudonimizado",
            "celdas_vacias": "suprimidas por confidencialidad (menos de min_celda personas, "
                             "o complementarias para que no se puedan deducir de los totales)"}
    out: dict[str, TablePayload] = {}
    for table in tables:
        out[table.name] = _payload(table.name, table.title, table.description,
                                   table.frame(published), {**base, "notas": table.notes})
    for level, word in ((2, "departamento"), (4, "provincia")):
        counts = {key[0]: n for (spec, key), n in published.items()
                  if spec == f"nacimiento@{level}"}
        name = f"riesgo_por_{word}"
        out[name] = _payload(
            name, f"Víctimas de origen por 100 000 habitantes, por {word}",
            "Personas por lugar de nacimiento, población 2020 (superficie × densidad, tablas "
            "UBIGEO), tasa por 100 000, pobreza total y extrema (%) e IDH 2019.",
            risk_table(counts, level=level), {**base, "notas": []})
    exact = {level: {key[0]: n for (spec, key), n in counted.items()
                     if spec == f"nacimiento@{level}"} for level in (2, 4)}
    corr = pd.concat([correlations(exact[2], level=2), correlations(exact[4], level=4)])
    out["riesgo_correlaciones"] = _payload(
        "riesgo_correlaciones", "Correlación entre la tasa de víctimas de origen y los "
        "indicadores territoriales",
        "Coeficientes de Pearson y de Spearman (n = territorios) entre la tasa por 100 000 y "
        "pobreza total, pobreza extrema e IDH.", corr.reset_index(drop=True),
        {**base, "notas": ["Calculados sobre todos los territorios con los conteos "
                           + ("con ruido." if dp else "exactos, antes de suprimir; se "
                              "publican redondeados.")]})
    province_counts = {key[0]: n for (spec, key), n in published.items() if spec == "nacimiento@4"}
    ranking = prevention_ranking(province_counts, rate=national_rate(exact[4], level=4))
    out["riesgo_ranking_provincias"] = _payload(
        "riesgo_ranking_provincias", "Provincias priorizadas para la prevención",
        "Orden por índice de prevención = personas en pobreza × riesgo relativo (tasa "
        "suavizada hacia la tasa nacional ÷ tasa nacional). Ver docs/statistics.md.",
        ranking, {**base, "notas": ["Donde la celda está suprimida se usa la tasa nacional."]})
    return out
