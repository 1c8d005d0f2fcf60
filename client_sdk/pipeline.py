"""The institution-side input pipeline: read an export, map, validate, standardize.

>>> from pathlib import Path
>>> import tempfile
>>> export = Path(tempfile.mkdtemp()) / "reta.csv"
>>> _ = export.write_text("record_id,nombres,apellido_paterno,color\\n"
...                       "R1,Rosa,Quispe,azul\\nR1,Ana,Flores,rojo\\n", encoding="utf-8")
>>> run = standardize_export(export)
>>> [[r.given_names for r in chunk] for chunk in run]
[['ROSA']]
>>> run.rows_read, run.rows_accepted, run.rows_complete, run.rows_partial, run.unknown_columns
(2, 1, 1, 0, ['color'])
>>> [(r.row, r.column, r.reason) for r in run.rejects]  # doctest: +NORMALIZE_WHITESPACE
[(1, '', 'columna desconocida: color (unknown column)'),
 (3, 'record_id', 'record_id duplicado (ya en la fila 2)')]

Errors: a file that cannot be read at all (missing, not CSV/xlsx, undecodable with the given
encoding, empty, no ``record_id`` column) raises :class:`InputError` **when
standardize_export is called**; only a malformed line deep inside a CSV (more fields than the
header, an unclosed quote, a cell over 16 MiB) raises it **during iteration**, naming the line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

from client_sdk.mapping import HeaderResolution, SourceMapping, load_mapping
from client_sdk.reading import ExportTable, open_export
from client_sdk.records import StandardizedRecord
from client_sdk.validation import Reject, RowValidator
from vinculo_common.errors import InputError

__all__ = [
    "Reject",
    "SourceMapping",
    "StandardizeRun",
    "load_mapping",
    "standardize_export",
    "write_rejects",
]


class StandardizeRun:
    """One pass over an export. Iterate it once for chunks of standardized records; the
    counters and ``rejects`` grow while iterating and are complete when it ends."""

    def __init__(
        self,
        *,
        table: ExportTable,
        mapping: SourceMapping,
        resolution: HeaderResolution,
        chunk_size: int,
        today: date,
    ) -> None:
        self.mapping = mapping
        self.encoding = table.encoding
        self.unknown_columns: list[str] = list(resolution.unknown)
        self.rejects: list[Reject] = [
            Reject(table.header_row, "", f"columna desconocida: {name} (unknown column)",
                   kept=True)
            for name in resolution.unknown
        ]
        self._table = table
        self._resolution = resolution
        self._chunk_size = chunk_size
        self._validator = RowValidator(mapping=mapping, today=today)
        self._started = False
        self._accepted = 0

    @property
    def rows_read(self) -> int:
        """Data rows seen so far (blank lines not counted)."""
        return self._validator.rows_read

    @property
    def rows_accepted(self) -> int:
        return self._accepted

    @property
    def rows_rejected(self) -> int:
        return self.rows_read - self._accepted

    @property
    def rows_partial(self) -> int:
        """Rows kept with a field dropped or cut down to what could be salvaged (noted)."""
        return self._validator.rows_partial

    @property
    def rows_complete(self) -> int:
        """Rows kept with every field as given."""
        return self._accepted - self._validator.rows_partial

    @property
    def rows_blank(self) -> int:
        return self._validator.rows_blank

    def __iter__(self) -> Iterator[list[StandardizedRecord]]:
        if self._started:
            raise InputError("esta lectura ya se recorrió; abra el archivo otra vez "
                             "(a StandardizeRun can be iterated only once)")
        self._started = True
        positions = self._resolution.positions
        wanted = sorted(positions.values())
        for first_row, cells in self._table.chunks(positions=wanted, chunk_size=self._chunk_size):
            columns = {name: cells[position] for name, position in positions.items()}
            records, rejects = self._validator.check_chunk(first_row, columns)
            if self._table.notes:  # lines read as Windows-1252, short rows: in row order
                notes = [Reject(row, "", why, kept=True) for row, why in self._table.notes]
                self._table.notes.clear()
                rejects = sorted(notes + rejects, key=lambda r: r.row)
            self.rejects.extend(rejects)
            self._accepted += len(records)
            if records:
                yield records


def standardize_export(
    path: Path,
    *,
    mapping: SourceMapping | None = None,
    encoding: str | None = None,
    chunk_size: int = 5000,
    today: date | None = None,
) -> StandardizeRun:
    """Open an export and prepare its standardization (nothing is read past the header yet).

    ``mapping`` defaults to the canonical layout; ``encoding`` (else the mapping's, else
    detected) forces the CSV text encoding; ``today`` bounds "future" dates (default: today).
    Raises :class:`InputError` when the file cannot be read at all.
    """
    if chunk_size < 1:
        raise InputError(f"chunk_size debe ser ≥ 1, no {chunk_size} (chunk_size must be ≥ 1)")
    mapping = mapping or SourceMapping.canonical()
    table = open_export(Path(path), encoding=encoding or mapping.encoding,
                        delimiter=mapping.delimiter)
    resolution = mapping.resolve_headers(table.headers)
    return StandardizeRun(table=table, mapping=mapping, resolution=resolution,
                          chunk_size=chunk_size, today=today or date.today())


def write_rejects(path: Path, rejects: Sequence[Reject]) -> None:
    """Write the rejects report: CSV (UTF-8) with columns ``row,column,reason``.

    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "r.csv"
    >>> write_rejects(out, [Reject(3, "edad", "edad fuera del rango 0–110 (age out of range)")])
    >>> out.read_text(encoding="utf-8").splitlines()[1]
    '3,edad,edad fuera del rango 0–110 (age out of range)'
    """
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["row", "column", "reason"])
        for reject in rejects:
            writer.writerow([reject.row, reject.column, reject.reason])
