"""Indicators of persons over a bank snapshot: by place, by one or two dimensions, flows.

Each ``*_table`` function returns a :class:`CountTable` (cells + lines, for suppression and
publication); each public DataFrame function (``persons_by`` …) is its tidy view, with Spanish
column names, a ``personas`` column of distinct persons and ``Total`` rows. Nothing here is
suppressed: :mod:`linkage_service.stats.report` applies suppression before anything leaves
the service.

>>> import pandas as pd
>>> snap = pd.DataFrame({"person_id": ["A", "B", "B"], "source": ["reta", "reta", "care"],
...     "sex": ["F", "F", ""]})
>>> persons_by(snap, dimensions=["sexo"]).values.tolist()
[['Mujer', 2], ['Total', 2]]
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from linkage_service.stats.cells import (
    TOTAL,
    TOTAL_KEY,
    CountTable,
    Line,
    VarKey,
    count_persons,
)
from linkage_service.stats.labels import LEVELS, PLACES, dimension
from linkage_service.stats.snapshot import normalize_snapshot
from vinculo_common.errors import InputError

__all__ = [
    "cross_table",
    "flows_birth_to_exploitation",
    "one_way_table",
    "persons_by",
    "persons_by_place",
    "place_tables",
]


def _ordered(keys: Sequence[str]) -> list[str]:
    """Known keys in order, unknown (``""``) last."""
    return sorted(keys, key=lambda k: (k == "", k))


def _normal(snapshot: pd.DataFrame) -> pd.DataFrame:
    return snapshot if snapshot.attrs.get("vinculo_normalized") else normalize_snapshot(snapshot)


def _total_persons(frame: pd.DataFrame) -> int:
    return int(frame["person_id"].nunique())


def one_way_table(snapshot: pd.DataFrame, name: str, *, table: str | None = None,
                  title: str | None = None) -> CountTable:
    """Persons by one dimension, with a ``Total`` row (all persons of the bank).

    >>> one_way_table(pd.DataFrame({"person_id": ["A"], "source": ["reta"]}), "sexo").rows
    [(('Sin dato',), ('sexo', ('',))), (('Total',), ('', ()))]
    """
    frame = _normal(snapshot)
    dim = dimension(name)
    counts = count_persons(frame, [dim.dimension])
    spec = dim.dimension.spec
    values: dict[VarKey, int] = {(spec, key): n for key, n in counts.items()}
    values[TOTAL_KEY] = _total_persons(frame)
    rows = [(dim.label(key[0]), (spec, key)) for key in sorted(counts, key=_key_order)]
    rows.append(((TOTAL,) * len(dim.columns), TOTAL_KEY))
    return CountTable(
        name=table or f"personas_por_{dim.dimension.name}",
        title=title or f"Personas por {dim.title}",
        description=f"Personas distintas del banco por {dim.title}.",
        columns=dim.columns, rows=rows, values=values,
        lines=[Line(tuple(k for _, k in rows[:-1]), TOTAL_KEY)],
    )


def _key_order(key: tuple[str, ...]) -> tuple[tuple[bool, str], ...]:
    return tuple((part == "", part) for part in key)


def place_tables(snapshot: pd.DataFrame, kind: str) -> dict[int, CountTable]:
    """Persons by place (``nacimiento``, ``residencia`` or ``explotacion``) at department (2),
    province (4) and district (6) level. The three tables share all cells and lines: a
    department is the sum of its provinces, a province of its districts, and so on.
    """
    if kind not in PLACES:
        raise InputError(f"lugar desconocido: {kind} (válidos: {', '.join(PLACES)})")
    frame = _normal(snapshot)
    dims = {level: dimension(f"{kind}@{level}") for level in (2, 4, 6)}
    counts = {level: count_persons(frame, [d.dimension]) for level, d in dims.items()}
    values: dict[VarKey, int] = {TOTAL_KEY: _total_persons(frame)}
    for level, found in counts.items():
        values.update({(f"{kind}@{level}", key): n for key, n in found.items()})
    lines = [Line(tuple((f"{kind}@2", key) for key in sorted(counts[2])), TOTAL_KEY)]
    for level, parent_level in ((4, 2), (6, 4)):
        children: dict[str, list[VarKey]] = {}
        for (key,) in sorted(counts[level]):
            children.setdefault(key[:parent_level], []).append((f"{kind}@{level}", (key,)))
        for parent, members in children.items():
            lines.append(Line(tuple(members), (f"{kind}@{parent_level}", (parent,))))
    place_title = dims[2].title.split(" (")[0]
    tables = {}
    for level, dim in dims.items():
        rows = [(dim.label(key[0]), (f"{kind}@{level}", key))
                for key in sorted(counts[level], key=_key_order)]
        rows.append(((TOTAL,) * len(dim.columns), TOTAL_KEY))
        notes = [] if PLACES[kind][1] else [
            "Una persona con hechos en varios lugares cuenta en cada uno; la fila Total la "
            "cuenta una vez."]
        tables[level] = CountTable(
            name=f"personas_por_{kind}_{LEVELS[level]}",
            title=f"Personas por {place_title}, nivel {LEVELS[level]}",
            description=(f"Personas distintas por {place_title} ({LEVELS[level]}, nombres del "
                         "INEI). 'Sin dato' en un nivel: el registro solo da un nivel mayor."),
            columns=dim.columns, rows=rows, values=dict(values), lines=list(lines), notes=notes,
        )
    return tables


def cross_table(snapshot: pd.DataFrame, row: str, column: str, *, table: str | None = None,
                title: str | None = None, description: str | None = None) -> CountTable:
    """Persons by two dimensions with both margins and the grand total (all combinations of
    the keys seen, zeros included). Margins are the one-way cells of each dimension.
    """
    frame = _normal(snapshot)
    row_dim, col_dim = dimension(row), dimension(column)
    if row_dim.columns == col_dim.columns:
        raise InputError("una tabla cruzada necesita dos dimensiones distintas")
    both = count_persons(frame, [row_dim.dimension, col_dim.dimension])
    row_counts = count_persons(frame, [row_dim.dimension])
    col_counts = count_persons(frame, [col_dim.dimension])
    rspec, cspec = row_dim.dimension.spec, col_dim.dimension.spec
    spec = f"{rspec}|{cspec}"
    row_keys = _ordered([k[0] for k in row_counts])
    col_keys = _ordered([k[0] for k in col_counts])
    values: dict[VarKey, int] = {TOTAL_KEY: _total_persons(frame)}
    values.update({(rspec, (k,)): row_counts[(k,)] for k in row_keys})
    values.update({(cspec, (k,)): col_counts[(k,)] for k in col_keys})
    rows: list[tuple[tuple[str, ...], VarKey]] = []
    lines: list[Line] = []
    total_row = (TOTAL,) * len(row_dim.columns)
    total_col = (TOTAL,) * len(col_dim.columns)
    for r in row_keys:
        members = []
        for c in col_keys:
            key = (spec, (r, c))
            values[key] = both.get((r, c), 0)
            rows.append(((*row_dim.label(r), *col_dim.label(c)), key))
            members.append(key)
        rows.append(((*row_dim.label(r), *total_col), (rspec, (r,))))
        lines.append(Line(tuple(members), (rspec, (r,))))
    for c in col_keys:
        rows.append(((*total_row, *col_dim.label(c)), (cspec, (c,))))
        lines.append(Line(tuple((spec, (r, c)) for r in row_keys), (cspec, (c,))))
    rows.append(((*total_row, *total_col), TOTAL_KEY))
    lines.append(Line(tuple((rspec, (r,)) for r in row_keys), TOTAL_KEY))
    lines.append(Line(tuple((cspec, (c,)) for c in col_keys), TOTAL_KEY))
    name = table or f"personas_por_{row_dim.dimension.name}_y_{col_dim.dimension.name}"
    return CountTable(
        name=name,
        title=title or f"Personas por {row_dim.title} y {col_dim.title}",
        description=description or (
            f"Personas distintas por {row_dim.title} y {col_dim.title}, con totales de fila "
            "y columna."),
        columns=(*row_dim.columns, *col_dim.columns), rows=rows, values=values, lines=lines,
        notes=["Una persona con varios hechos puede contar en varias celdas; los totales la "
               "cuentan una vez."],
    )


def persons_by(snapshot: pd.DataFrame, *, dimensions: Sequence[str]) -> pd.DataFrame:
    """Distinct persons by one or two named dimensions (see :func:`labels.dimension`), with
    ``Total`` rows; unsuppressed (server side only).
    """
    if len(dimensions) == 1:
        return one_way_table(snapshot, dimensions[0]).frame()
    if len(dimensions) == 2:
        return cross_table(snapshot, dimensions[0], dimensions[1]).frame()
    raise InputError("persons_by admite una o dos dimensiones")


def persons_by_place(snapshot: pd.DataFrame, *, place: str, level: str) -> pd.DataFrame:
    """Distinct persons by place of ``nacimiento``/``residencia``/``explotacion`` at
    ``departamento``/``provincia``/``distrito`` level, INEI names, with a ``Total`` row.
    """
    by_name = {v: k for k, v in LEVELS.items()}
    if level not in by_name:
        raise InputError(f"nivel desconocido: {level} (válidos: {', '.join(by_name)})")
    return place_tables(snapshot, place)[by_name[level]].frame()


def flows_birth_to_exploitation(snapshot: pd.DataFrame) -> CountTable:
    """Flows: persons by department of birth × department of exploitation (with margins)."""
    return cross_table(
        snapshot, "nacimiento@2", "explotacion@2", table="flujos_nacimiento_explotacion",
        title="Flujos del departamento de nacimiento al departamento de explotación",
        description=("Personas distintas por departamento de nacimiento y departamento donde "
                     "ocurrió la explotación (lugar del hecho)."),
    )
