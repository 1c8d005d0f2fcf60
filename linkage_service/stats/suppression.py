"""Safe to publish: small-cell suppression (``0 < n < min_cell``), complementary suppression
checked exactly over every published sum, and optional discrete Laplace noise before it. The
rules, and why zeros are published: docs/statistics.md.

>>> cells = {"a": 3, "b": 12, "c": 30, "t": 45}
>>> suppress_cells(cells, [(("a", "b", "c"), "t")], min_cell=10)
{'a': None, 'b': None, 'c': 30, 't': 45}
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from vinculo_common.errors import InputError

__all__ = [
    "DEFAULT_MIN_CELL",
    "add_discrete_laplace",
    "discrete_laplace",
    "discrete_laplace_variance",
    "recoverable_cells",
    "suppress_cells",
]

DEFAULT_MIN_CELL = 10
K = TypeVar("K", bound=Hashable)
LineLike = tuple[Sequence[Any], Any]


def discrete_laplace(*, epsilon: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` draws of two-sided geometric noise with ``P(z) ∝ exp(-epsilon·|z|)``.

    >>> discrete_laplace(epsilon=1.0, size=3, rng=np.random.default_rng(7)).dtype
    dtype('int64')
    """
    if not epsilon > 0 or not np.isfinite(epsilon):
        raise InputError(f"epsilon debe ser un número positivo (recibido: {epsilon})")
    p = -np.expm1(-epsilon)  # 1 - e^{-ε}, accurate for small ε
    first = rng.geometric(p, size=size)
    second = rng.geometric(p, size=size)
    return (first - second).astype(np.int64)


def discrete_laplace_variance(epsilon: float) -> float:
    """Variance of :func:`discrete_laplace`: ``2α/(1−α)²`` with ``α = e^{−ε}``.

    >>> round(discrete_laplace_variance(1.0), 4)
    1.8413
    """
    alpha = float(np.exp(-epsilon))
    return 2 * alpha / (1 - alpha) ** 2


def add_discrete_laplace(values: Mapping[K, int], *, epsilon: float,
                         rng: np.random.Generator) -> dict[K, int]:
    """Noisy copy of ``values`` (each cell independently, clamped at 0, fixed key order)."""
    keys = sorted(values, key=repr)
    noise = discrete_laplace(epsilon=epsilon, size=len(keys), rng=rng)
    return {key: max(0, int(values[key]) + int(z)) for key, z in zip(keys, noise, strict=True)}


def _solvable(suppressed: list[Any], lines: Sequence[LineLike]) -> set[Any]:
    """Suppressed cells that the linear system of the lines determines exactly."""
    index = {key: i for i, key in enumerate(suppressed)}
    parent = list(range(len(suppressed)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    rows: list[dict[int, float]] = []
    for members, total in lines:
        coefficients: dict[int, float] = {}
        for key in members:
            if key in index:
                coefficients[index[key]] = coefficients.get(index[key], 0.0) + 1.0
        if total in index:
            coefficients[index[total]] = coefficients.get(index[total], 0.0) - 1.0
        coefficients = {i: c for i, c in coefficients.items() if c}
        if coefficients:
            rows.append(coefficients)
            first = next(iter(coefficients))
            for other in coefficients:
                parent[find(other)] = find(first)
    groups: dict[int, list[int]] = {}
    for i in range(len(suppressed)):
        groups.setdefault(find(i), []).append(i)
    row_groups: dict[int, list[dict[int, float]]] = {}
    for row in rows:
        row_groups.setdefault(find(next(iter(row))), []).append(row)
    solved: set[Any] = set()
    for root, cells in groups.items():
        equations = row_groups.get(root, [])
        if not equations:
            continue
        position = {cell: j for j, cell in enumerate(cells)}
        matrix = np.zeros((len(equations), len(cells)))
        for r, row in enumerate(equations):
            for cell, coefficient in row.items():
                matrix[r, position[cell]] = coefficient
        _, singular, vt = np.linalg.svd(matrix, full_matrices=False)
        basis = vt[singular > 1e-9 * max(1.0, float(singular.max(initial=0.0)))]
        reach = (basis**2).sum(axis=0)
        for cell, j in position.items():
            if reach[j] > 1 - 1e-7:
                solved.add(suppressed[cell])
    return solved


def recoverable_cells(published: Mapping[K, int | None], lines: Sequence[LineLike]) -> set[K]:
    """Suppressed (``None``) cells of ``published`` that the lines give away exactly.

    >>> sorted(recoverable_cells({"a": None, "b": 5, "t": 9}, [(("a", "b"), "t")]))
    ['a']
    """
    hidden = [key for key, value in published.items() if value is None]
    return _solvable(hidden, lines)


def _complement(line: list[Any], total: Any, values: Mapping[Any, int],
                suppressed: set[Any]) -> Any | None:
    candidates = [key for key in line if key not in suppressed]
    if not candidates:
        return None
    return min(candidates, key=lambda k: (values[k] == 0, k == total, values[k], line.index(k)))


def suppress_cells(values: Mapping[K, int], lines: Sequence[LineLike], *,
                   min_cell: int = DEFAULT_MIN_CELL) -> dict[K, int | None]:
    """Publishable copy of ``values``: suppressed cells are ``None`` (module rules).

    ``lines`` are ``(members, total)`` pairs meaning ``sum(members) == total``; every key a
    line names must be in ``values``.
    """
    if min_cell < 1:
        raise InputError(f"min_cell debe ser al menos 1 (recibido: {min_cell})")
    missing = {k for members, total in lines for k in (*members, total) if k not in values}
    if missing:
        raise InputError(f"líneas con celdas sin valor: {sorted(map(repr, missing))[:3]}")
    suppressed: set[Any] = {key for key, n in values.items() if 0 < n < min_cell}
    full_lines = [([*members, total], total) for members, total in lines]
    while True:
        changed = True
        while changed:
            changed = False
            for cells, total in full_lines:
                if sum(1 for key in cells if key in suppressed) == 1:
                    extra = _complement(cells, total, values, suppressed)
                    if extra is not None:
                        suppressed.add(extra)
                        changed = True
        solved = _solvable(sorted(suppressed, key=repr), lines)
        if not solved:
            break
        added = False
        for cell in sorted(solved, key=repr):
            for cells, total in full_lines:
                if cell in cells:
                    extra = _complement(cells, total, values, suppressed)
                    if extra is not None:
                        suppressed.add(extra)
                        added = True
                        break
        if not added:
            # Every line through those cells is hidden already; the system still solves
            # them, so widen: the smallest visible cell of any line that hides something.
            touching = [cells for cells, _ in full_lines if any(k in suppressed for k in cells)]
            visible = {k for cells in touching for k in cells if k not in suppressed}
            if not visible:
                break
            suppressed.add(min(visible, key=lambda k: (values[k] == 0, values[k], repr(k))))
    return {key: (None if key in suppressed else int(n)) for key, n in values.items()}
