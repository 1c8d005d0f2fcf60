"""Reading exports: CSV (UTF-8 with or without BOM, Windows-1252/Latin-1) and Excel ``.xlsx``.

Files are read in chunks, every cell as text, so memory stays flat however long the export
is. An export that cannot be read at all raises :class:`InputError` when it is opened
(:func:`open_export`); a malformed line deep inside a CSV raises it while iterating.

>>> from pathlib import Path
>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "x.csv"
>>> _ = path.write_bytes("record_id;nombres\\n1;PEÑA\\n".encode("cp1252"))
>>> table = open_export(path)
>>> table.encoding, table.delimiter, table.headers
('cp1252', ';', ['record_id', 'nombres'])
>>> [columns for _, columns in table.chunks(positions=[1], chunk_size=10)]
[{1: ['PEÑA']}]
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from vinculo_common.errors import InputError

__all__ = ["ExportTable", "detect_encoding", "open_export"]

_BOM = codecs.BOM_UTF8
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # Excel 97-2003 .xls
_DELIMITERS = (",", ";", "\t", "|")
_BLOCK = 1 << 20
# Bytes Windows-1252 leaves undefined; a file holding them is read as Latin-1 instead.
_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")

Chunk = tuple[int, dict[int, list[str]]]  # (spreadsheet row of the chunk's first row, columns)


def _decodes(path: Path, encoding: str) -> tuple[bool, int]:
    """Whether the whole file decodes strictly; the byte offset of the first failure."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    offset = 0
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                return False, offset + exc.start
            offset += len(block)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False, offset
    return True, -1


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` (BOM), ``utf-8`` if the whole file is valid UTF-8, else ``cp1252``
    (``latin-1`` when bytes undefined in Windows-1252 occur).

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = p.write_bytes("ñ".encode("utf-8")); detect_encoding(p)
    'utf-8'
    """
    with path.open("rb") as handle:
        if handle.read(3) == _BOM:
            return "utf-8-sig"
    if _decodes(path, "utf-8")[0]:
        return "utf-8"
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            if not _CP1252_UNDEFINED.isdisjoint(block):
                return "latin-1"
    return "cp1252"


def _sniff_delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a CSV export would hold."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass
class ExportTable:
    """An opened export: its header row and a way to read its data rows in chunks."""

    path: Path
    kind: str  # "csv" or "xlsx"
    headers: list[str]
    encoding: str  # "xlsx" for workbooks
    delimiter: str  # "" for workbooks
    header_row: int = 1  # spreadsheet row of the header (xlsx may start lower)

    def chunks(self, *, positions: Sequence[int], chunk_size: int) -> Iterator[Chunk]:
        """Yield ``(first_row, {position: [cell text, ...]})`` for the wanted columns."""
        if self.kind == "xlsx":
            return self._xlsx_chunks(positions, chunk_size)
        return self._csv_chunks(positions, chunk_size)

    def _csv_chunks(self, positions: Sequence[int], chunk_size: int) -> Iterator[Chunk]:
        import pandas as pd

        reader = pd.read_csv(
            self.path,
            sep=self.delimiter,
            encoding=self.encoding,
            dtype=str,
            header=0,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            chunksize=chunk_size,
            engine="c",
        )
        first_row = self.header_row + 1
        try:
            with reader:
                for frame in reader:
                    if not isinstance(frame.index, pd.RangeIndex):
                        # pandas takes surplus leading fields of the first row as an index
                        raise ValueError("la primera fila de datos tiene más campos que el "
                                         "encabezado (more fields than headers)")
                    # na_filter=False: every cell is already text ("" when missing)
                    columns = {pos: frame.iloc[:, pos].tolist() for pos in positions}
                    yield first_row, columns
                    first_row += len(frame)
        except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as exc:
            detail = str(exc).strip().splitlines()[-1][:200]
            raise InputError(
                f"CSV mal formado cerca de la fila {first_row}: {detail} (malformed CSV)"
            ) from None

    def _xlsx_chunks(self, positions: Sequence[int], chunk_size: int) -> Iterator[Chunk]:
        import openpyxl

        workbook = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        try:
            sheet = workbook.worksheets[0]
            rows = sheet.iter_rows(min_row=self.header_row + 1, values_only=True)
            first_row = self.header_row + 1
            columns: dict[int, list[str]] = {pos: [] for pos in positions}
            count = 0
            for row in rows:
                for pos in positions:
                    columns[pos].append(_cell_text(row[pos]) if pos < len(row) else "")
                count += 1
                if count == chunk_size:
                    yield first_row, columns
                    first_row += count
                    columns, count = {pos: [] for pos in positions}, 0
            if count:
                yield first_row, columns
        finally:
            workbook.close()


def _open_xlsx(path: Path) -> ExportTable:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for damaged workbooks
        raise InputError(
            f"no se pudo abrir el libro Excel {path.name}: {type(exc).__name__} "
            "(unreadable .xlsx workbook)"
        ) from None
    try:
        if not workbook.worksheets:
            raise InputError(f"el libro {path.name} no tiene hojas (workbook has no sheets)")
        for number, row in enumerate(workbook.worksheets[0].iter_rows(values_only=True), 1):
            cells = [_cell_text(value).strip() for value in row]
            if any(cells):
                while cells and not cells[-1]:
                    cells.pop()
                return ExportTable(path=path, kind="xlsx", headers=cells, encoding="xlsx",
                                   delimiter="", header_row=number)
    finally:
        workbook.close()
    raise InputError(f"el libro {path.name} está vacío (workbook is empty)")


def open_export(
    path: Path, *, encoding: str | None = None, delimiter: str | None = None
) -> ExportTable:
    """Open a CSV or ``.xlsx`` export and read its header row.

    ``encoding`` forces a text encoding (the whole file must decode with it); otherwise it is
    detected. ``delimiter`` forces the CSV separator; otherwise it is taken from the header
    line (``,`` ``;`` tab or ``|``). Raises :class:`InputError` for a missing, empty, binary,
    ``.xls`` or undecodable file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"el archivo no existe: {path} (file not found)")
    with path.open("rb") as handle:
        head = handle.read(8192)
    if head.startswith(_ZIP_MAGIC):
        return _open_xlsx(path)
    if head.startswith(_OLE_MAGIC) or path.suffix.lower() == ".xls":
        raise InputError(
            f"formato .xls (Excel 97-2003) no soportado: guarde {path.name} como .xlsx o CSV "
            "(.xls not supported)"
        )
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        raise InputError(f"{path.name} no es un libro .xlsx válido (not a valid .xlsx file)")
    if b"\x00" in head:
        raise InputError(f"{path.name} no es un CSV ni un .xlsx (binary file)")
    if encoding:
        try:
            encoding = codecs.lookup(encoding).name
        except LookupError:
            raise InputError(f"codificación desconocida: {encoding} (unknown encoding)") from None
        ok, offset = _decodes(path, encoding)
        if not ok:
            raise InputError(
                f"{path.name} no se puede leer como {encoding} (byte {offset}); pruebe otra "
                "--encoding o déjela detectar (file does not decode with this encoding)"
            )
        if encoding == "utf-8" and head.startswith(_BOM):
            encoding = "utf-8-sig"
    else:
        encoding = detect_encoding(path)
    with path.open(encoding=encoding, newline="") as text:
        first_line = text.readline()
        if not first_line.strip():
            raise InputError(
                f"{path.name} está vacío o su primera fila no tiene encabezados "
                "(empty file or no header row)"
            )
    delimiter = delimiter or _sniff_delimiter(first_line)
    headers = next(csv.reader(io.StringIO(first_line), delimiter=delimiter))
    return ExportTable(path=path, kind="csv", headers=[h.strip() for h in headers],
                       encoding=encoding, delimiter=delimiter)
