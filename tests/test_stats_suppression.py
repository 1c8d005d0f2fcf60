"""Suppression on every published table, attacked the way a reader would: rebuild the sums the
tables show (totals of rows and columns, departments = their provinces, a margin of a cross
table = the same cell in the one-way table), then solve for the empty cells. The solver here is
our own (column-rank test per connected block, plus the plain "one unknown in a line" peeling),
not the service's."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_stats_synthetic import make_bank

from linkage_service.stats import build_tables, count_tables
from linkage_service.stats.suppression import recoverable_cells, suppress_cells

TOTAL = "Total"
PLACE_KINDS = ("nacimiento", "residencia", "explotacion")


def _signature(table: str, columns: list[str], row: list[Any]) -> tuple[Any, ...]:
    """What a row counts, as a reader sees it: the non-Total labels (same in every table),
    and for the two tables of other populations, the table's name."""
    labels = tuple((c, v) for c, v in zip(columns, row, strict=True) if c != "personas"
                   and not c.startswith(("porcentaje", "mediana", "cuartil")) and v != TOTAL)
    population = table if table in ("cobertura_atencion", "tiempo_hasta_atencion") else ""
    return (population, *sorted(labels))


def _dims(columns: list[str]) -> list[str]:
    return [c for c in columns if c != "personas" and not c.startswith(
        ("porcentaje", "mediana", "cuartil"))]


def _equations(tables: dict[str, Any]) -> tuple[dict[tuple[Any, ...], int | None], list[
        tuple[list[tuple[Any, ...]], tuple[Any, ...]]]]:
    values: dict[tuple[Any, ...], int | None] = {}
    equations: list[tuple[list[tuple[Any, ...]], tuple[Any, ...]]] = []
    for name, table in tables.items():
        if name.startswith("riesgo_"):
            continue
        columns = table["columns"]
        where = columns.index("personas")
        dims = _dims(columns)
        rows = [dict(zip(columns, r, strict=True)) for r in table["rows"]]
        for raw in table["rows"]:
            values[_signature(name, columns, raw)] = raw[where]

        def sig(row: dict[str, Any], name: str = name, columns: list[str] = columns) -> tuple[
                Any, ...]:
            return _signature(name, columns, [row[c] for c in columns])

        if name.removeprefix("personas_por_").split("_")[0] in PLACE_KINDS and len(
                name.split("_")) == 4:
            _place_equations(name, rows, dims, f"ubigeo_{name.split('_')[2]}", tables, sig,
                             equations)
            continue
        # Columns that are Total on the same rows form one block (a dimension's labels).
        blocks: dict[frozenset[int], list[str]] = {}
        for column in dims:
            where_total = frozenset(i for i, r in enumerate(rows) if r[column] == TOTAL)
            blocks.setdefault(where_total, []).append(column)
        ordered = list(blocks.values())
        if len(ordered) == 1:
            total = next(sig(r) for r in rows if r[ordered[0][0]] == TOTAL)
            equations.append(([sig(r) for r in rows if r[ordered[0][0]] != TOTAL], total))
            continue
        first, second = ordered[0][0], ordered[1][0]
        for axis, other in ((first, second), (second, first)):
            for value in {r[axis] for r in rows}:
                members = [sig(r) for r in rows if r[axis] == value and r[other] != TOTAL]
                total = [sig(r) for r in rows if r[axis] == value and r[other] == TOTAL]
                equations.append((members, total[0]))
    return values, equations


def _place_equations(name: str, rows: list[dict[str, Any]], dims: list[str], place: str,
                     tables: dict[str, Any], sig: Any, equations: list[Any]) -> None:
    kind = place.removeprefix("ubigeo_")
    level = len(dims) - 2  # 0 departamento, 1 provincia, 2 distrito
    total = next(sig(r) for r in rows if r[place] == TOTAL)
    inner = [r for r in rows if r[place] != TOTAL]
    if level == 0:
        equations.append(([sig(r) for r in inner], total))
        return
    parent_name = f"personas_por_{kind}_{['departamento', 'provincia'][level - 1]}"
    parent = tables[parent_name]
    parent_rows = [dict(zip(parent["columns"], r, strict=True)) for r in parent["rows"]]
    for up in parent_rows:
        code = up[place]
        if code == TOTAL:
            continue
        members = [sig(r) for r in inner if _parent(r[place], level) == code]
        equations.append((members, _signature(parent_name, parent["columns"],
                                               [up[c] for c in parent["columns"]])))


def _parent(code: str, level: int) -> str:
    return code[:2] if level == 1 else (code[:4] if len(code) >= 4 else code)


def _determined(values: dict[Any, int | None], equations: Iterable[tuple[list[Any], Any]]
                ) -> set[Any]:
    unknown = [k for k, v in values.items() if v is None]
    position = {k: i for i, k in enumerate(unknown)}
    rows = []
    for members, total in equations:
        row = np.zeros(len(unknown))
        for m in members:
            if m in position:
                row[position[m]] += 1
        if total in position:
            row[position[total]] -= 1
        if row.any():
            rows.append(row)
    if not rows:
        return set()
    matrix = np.array(rows)
    # Blocks of unknowns that share an equation, then a column-rank test per unknown.
    parent = list(range(len(unknown)))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for row in matrix:
        nz = np.flatnonzero(row)
        for j in nz[1:]:
            parent[find(j)] = find(nz[0])
    found = set()
    for root in {find(i) for i in range(len(unknown))}:
        cols = [i for i in range(len(unknown)) if find(i) == root]
        block = matrix[:, cols][np.abs(matrix[:, cols]).sum(axis=1) > 0]
        if block.size == 0:
            continue
        rank = np.linalg.matrix_rank(block)
        for j, col in enumerate(cols):
            if np.linalg.matrix_rank(np.delete(block, j, axis=1)) < rank:
                found.add(unknown[col])
    return found


def _peel(values: dict[Any, int | None], equations: list[tuple[list[Any], Any]]) -> set[Any]:
    """The simple attack: a sum with exactly one unknown gives it; repeat."""
    known = {k: v for k, v in values.items() if v is not None}
    solved: set[Any] = set()
    progress = True
    while progress:
        progress = False
        for members, total in equations:
            cells = [*members, total]
            missing = [c for c in cells if c not in known]
            if len(missing) == 1:
                cell = missing[0]
                rest = sum(known[m] for m in members if m != cell)
                known[cell] = (known[total] - rest) if cell != total else rest
                solved.add(cell)
                progress = True
    return solved


@pytest.fixture(scope="module")
def published() -> dict[str, Any]:
    snapshot, _ = make_bank(500, seed=5)
    return build_tables(snapshot, min_cell=10)


def test_no_small_cell_is_published(published: dict[str, Any]) -> None:
    seen = 0
    for name, table in published.items():
        if "personas" not in table["columns"]:
            continue
        where = table["columns"].index("personas")
        for row in table["rows"]:
            value = row[where]
            assert value is None or value == 0 or value >= 10, (name, row)
            seen += value is None
    assert seen > 50  # the synthetic bank does have small cells


def test_published_cells_are_the_true_counts() -> None:
    snapshot, _ = make_bank(200, seed=8)
    tables = build_tables(snapshot, min_cell=5)
    for table in count_tables(snapshot):
        true = table.frame()["personas"].tolist()
        where = tables[table.name]["columns"].index("personas")
        shown = [row[where] for row in tables[table.name]["rows"]]
        for a, b in zip(true, shown, strict=True):
            assert b is None or a == b


def test_suppressed_cells_cannot_be_solved_for(published: dict[str, Any]) -> None:
    values, equations = _equations(published)
    hidden = sum(v is None for v in values.values())
    assert hidden > 50
    assert len(equations) > 100
    assert _peel(values, equations) == set()
    assert _determined(values, equations) == set()


def test_the_attack_works_without_complementary_suppression(published: dict[str, Any]) -> None:
    """Sanity of the attacker: keep only primary suppression and it recovers cells."""
    _, equations = _equations(published)
    snapshot, _ = make_bank(500, seed=5)
    true_values, _ = _equations(build_tables(snapshot, min_cell=1))
    primary = {k: (None if v is not None and 0 < v < 10 else v) for k, v in true_values.items()}
    assert _peel(primary, equations)
    assert _determined(primary, equations)


def test_coverage_percentages_hide_with_their_cells(published: dict[str, Any]) -> None:
    table = published["cobertura_atencion"]
    frame = pd.DataFrame(table["rows"], columns=table["columns"])
    margin = dict(zip(frame[frame["llego_a_atencion"] == TOTAL]["anio_primer_registro"],
                      frame[frame["llego_a_atencion"] == TOTAL]["personas"], strict=True))
    for row in frame.itertuples(index=False):
        if row.personas is None or (row.llego_a_atencion != TOTAL
                                    and margin[row.anio_primer_registro] is None):
            assert row.porcentaje_fila is None or pd.isna(row.porcentaje_fila)


def test_risk_tables_hide_what_birth_tables_hide(published: dict[str, Any]) -> None:
    births = {r[0]: r[-1] for r in published["personas_por_nacimiento_provincia"]["rows"]}
    risk = published["riesgo_por_provincia"]
    where = risk["columns"].index("personas")
    rate = risk["columns"].index("tasa_100k")
    for row in risk["rows"]:
        assert row[where] == births.get(row[0], 0)
        assert (row[rate] is None) == (row[where] is None)


def test_bridge_between_two_blocks_is_closed() -> None:
    """Two suppressed rectangles joined by one cell: two per line, yet the joining cell is
    solvable; the exact check must hide more."""
    grid = np.full((5, 5), 40)
    for r, c in [(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3), (0, 2)]:
        grid[r, c] = 3
    values: dict[Any, int] = {("c", r, c): int(grid[r, c]) for r in range(5) for c in range(5)}
    lines = []
    for r in range(5):
        values[("row", r)] = int(grid[r].sum())
        lines.append(([("c", r, c) for c in range(5)], ("row", r)))
    for c in range(5):
        values[("col", c)] = int(grid[:, c].sum())
        lines.append(([("c", r, c) for r in range(5)], ("col", c)))
    values[("all",)] = int(grid.sum())
    lines.append(([("row", r) for r in range(5)], ("all",)))
    lines.append(([("col", c) for c in range(5)], ("all",)))
    primary = {k: (None if 0 < v < 10 else v) for k, v in values.items()}
    assert ("c", 0, 2) in recoverable_cells(primary, lines)
    assert ("c", 0, 2) in _determined(primary, lines)
    result = suppress_cells(values, lines, min_cell=10)
    assert recoverable_cells(result, lines) == set()
    assert _determined(result, lines) == set()
    assert all(result[k] is None for k, v in primary.items() if v is None)


def test_min_cell_must_be_positive() -> None:
    from vinculo_common.errors import InputError

    with pytest.raises(InputError):
        suppress_cells({"a": 1}, [], min_cell=0)
