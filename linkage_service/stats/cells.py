"""Counting distinct persons into cells, and the count tables built from them.

A cell is named ``(spec, keys)`` (``("nacimiento@2|sexo", ("15", "F"))``; the bank's total is
``("", ())``); a table is a view on cells plus the lines ``sum(members) = total`` that tie them.
Tables share cells, so suppression decided once holds everywhere. How a person is counted (finer
values win, event tables are not additive): docs/statistics.md.

>>> frame = normalize_snapshot(pd.DataFrame({"person_id": ["A", "A", "B"],
...     "source": ["reta", "care", "reta"], "sex": ["F", "", "M"]}))
>>> count_persons(frame, [Dimension("sexo", lambda f: f["sex"], person_level=True)])
{('F',): 1, ('M',): 1}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from linkage_service.stats.snapshot import Dimension, normalize_snapshot

__all__ = [
    "TOTAL",
    "TOTAL_KEY",
    "UNKNOWN",
    "CountTable",
    "Line",
    "Row",
    "VarKey",
    "count_persons",
    "refines",
]

VarKey = tuple[str, tuple[str, ...]]
Row = tuple[tuple[str, ...], VarKey]  # labels of the dimension columns, cell shown
TOTAL_KEY: VarKey = ("", ())
UNKNOWN = "Sin dato"
TOTAL = "Total"


@dataclass(frozen=True)
class Line:
    """An additive relation a reader can use: ``sum(members) == total`` (exact for tables
    where each person is in one cell, an approximation an attacker may still try otherwise)."""

    members: tuple[VarKey, ...]
    total: VarKey


@dataclass
class CountTable:
    """A table of distinct persons: rows of labels, each pointing at a cell.

    ``values`` holds every cell the table's ``lines`` mention (also cells of other levels that
    are not rows here), so suppression can see all relations at once.
    """

    name: str
    title: str
    description: str
    columns: tuple[str, ...]
    rows: list[Row]
    values: dict[VarKey, int]
    lines: list[Line]
    notes: list[str] = field(default_factory=list)
    # Derived columns shown beside ``personas`` (blank where that cell is suppressed).
    extra_columns: tuple[str, ...] = ()
    extras: dict[VarKey, tuple[float | str | None, ...]] = field(default_factory=dict)
    # Other cells a row's extras are computed from: blank too when any of them is suppressed.
    extra_deps: dict[VarKey, tuple[VarKey, ...]] = field(default_factory=dict)
    # A percentage column computed from the *published* values: 100 × cell / ratio_of[cell].
    ratio_column: str | None = None
    ratio_of: dict[VarKey, VarKey] = field(default_factory=dict)

    def frame(self, published: Mapping[VarKey, int | None] | None = None) -> pd.DataFrame:
        """Tidy DataFrame: the dimension columns and ``personas`` (``<NA>`` when suppressed).

        >>> table = CountTable("t", "T", "", ("sexo",), [(("Mujer",), ("sexo", ("F",)))],
        ...     {("sexo", ("F",)): 3}, [])
        >>> table.frame()["personas"].tolist()
        [3]
        """
        source = self.values if published is None else published
        blank = (None,) * len(self.extra_columns)
        data = []
        for labels, key in self.rows:
            shown = all(source.get(k) is not None for k in (key, *self.extra_deps.get(key, ())))
            data.append((*labels, source.get(key), *(self.extras.get(key, blank) if shown
                                                      else blank)))
        columns = [*self.columns, "personas", *self.extra_columns]
        if self.ratio_column:
            columns.append(self.ratio_column)
            for index, (_, key) in enumerate(self.rows):
                top, bottom = source.get(key), source.get(self.ratio_of.get(key, key))
                share = None
                if key in self.ratio_of and top is not None and bottom:
                    share = round(100 * top / bottom, 1)
                data[index] = (*data[index], share)
        frame = pd.DataFrame(data, columns=columns)
        frame["personas"] = pd.array(frame["personas"].tolist(), dtype="Int64")
        return frame


def refines(general: str, specific: str, *, hierarchical: bool) -> bool:
    """True when ``specific`` says at least what ``general`` says.

    >>> refines("15", "1501", hierarchical=True), refines("", "F", hierarchical=False)
    (True, True)
    """
    if general == specific or general == "":
        return True
    return hierarchical and specific.startswith(general)


def _drop_dominated(tuples: pd.DataFrame, columns: list[str],
                    hierarchy: list[bool]) -> pd.DataFrame:
    """Drop each tuple that another tuple of the same person refines on every column."""
    repeated = tuples["person_id"].duplicated(keep=False).to_numpy()
    if not repeated.any():
        return tuples
    groups: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
    subset = tuples[repeated]
    people = subset["person_id"].tolist()
    keys = list(zip(*(subset[c].tolist() for c in columns), strict=True))
    for position, (person, key) in enumerate(zip(people, keys, strict=True)):
        groups.setdefault(person, []).append((position, key))
    dropped: set[int] = set()
    for items in groups.values():
        for position, mine in items:
            for other_position, other in items:
                if other_position != position and other != mine and all(
                    refines(a, b, hierarchical=h)
                    for a, b, h in zip(mine, other, hierarchy, strict=True)
                ):
                    dropped.add(position)
                    break
    if not dropped:
        return tuples
    keep = repeated.copy()
    keep[:] = True
    keep[repeated.nonzero()[0][sorted(dropped)]] = False
    return tuples[keep]


def count_persons(snapshot: pd.DataFrame, dimensions: Sequence[Dimension]) -> dict[
        tuple[str, ...], int]:
    """Distinct persons per combination of keys of ``dimensions`` (see the module rules).

    ``snapshot`` may be raw or already normalized. Keys with no person are absent.
    """
    frame = snapshot if _is_normal(snapshot) else normalize_snapshot(snapshot)
    if frame.empty:
        return {}
    columns = [f"k{i}" for i in range(len(dimensions))]
    hierarchy = [d.hierarchical for d in dimensions]
    base = pd.DataFrame({"person_id": frame["person_id"]}, index=frame.index)
    person_sets: list[tuple[str, pd.DataFrame]] = []
    for column, dimension in zip(columns, dimensions, strict=True):
        values = pd.Series(list(dimension.extract(frame)), index=frame.index, dtype=object)
        if dimension.person_level:
            per = pd.DataFrame({"person_id": frame["person_id"], column: values})
            per = _clean(per.explode(column), column).drop_duplicates()
            per = _drop_dominated(per, [column], [dimension.hierarchical])
            person_sets.append((column, per))
        else:
            base[column] = values
    for column, dimension in zip(columns, dimensions, strict=True):
        if not dimension.person_level:
            base = _clean(base.explode(column), column)
    for _column, per in person_sets:
        base = base.merge(per, on="person_id", how="left")
    tuples = base[["person_id", *columns]].drop_duplicates()
    tuples = _drop_dominated(tuples, columns, hierarchy)
    if not columns:
        return {(): int(tuples["person_id"].nunique())}
    counts = tuples.groupby(columns, sort=True)["person_id"].nunique()
    return {
        (key if isinstance(key, tuple) else (key,)): int(value) for key, value in counts.items()
    }


def _clean(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    frame[column] = frame[column].fillna("").astype(str)
    return frame


def _is_normal(frame: pd.DataFrame) -> bool:
    return bool(frame.attrs.get("vinculo_normalized"))
