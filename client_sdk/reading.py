"""Reading exports: CSV (UTF-8 with or without BOM, Windows-1252/Latin-1) and Excel ``.xlsx``.

Files are read in chunks, every cell as text, so memory stays flat however long the export
is. An export that cannot be read at all raises :class:`InputError` when it is opened
(:func:`open_export`); a malformed line deep inside a CSV raises it while iterating, naming
the line.

CSV text is decoded **line by line**: a line that is valid UTF-8 is read as UTF-8, any other
line as Windows-1252 (Latin-1 when it holds bytes Windows-1252 leaves undefined), so an export
appended to by two systems keeps every name right. In such a mixed file each line read as
Windows-1252 is noted (:attr:`ExportTable.notes`).

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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any

from vinculo_common.errors import InputError

__all__ = ["FIELD_LIMIT", "LINE_LIMIT", "ExportTable", "detect_encoding", "open_export"]

_BOM = codecs.BOM_UTF8
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # Excel 97-2003 .xls
_DELIMITERS = (",", ";", "\t", "|")
_BLOCK = 1 << 20
# Bytes Windows-1252 leaves undefined; a line holding them is read as Latin-1 instead.
_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")
# Bounds that keep memory flat whatever a file holds: one CSV cell (characters) and one
# physical line (bytes). No real cell comes near them; what is longer than a real name or
# code but under them is dropped with a note by validation (client_sdk.validation).
FIELD_LIMIT = 16 << 20
LINE_LIMIT = 64 << 20
# Appended after the last line: still inside a field at the end means an unclosed quote.
_EOF = "\ue000vinculo-eof\ue000"
_LEGACY_NOTE = ("línea no válida en UTF-8: leída como Windows-1252 "
                "(line is not valid UTF-8: decoded as Windows-1252)")
_SHORT_NOTE = ("fila con menos campos que el encabezado: los que faltan quedan vacíos "
               "(row has fewer fields than the header: missing ones left empty)")

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


def _legacy(line: bytes) -> str:
    """A line that is not UTF-8: Windows-1252, or Latin-1 if it has bytes cp1252 lacks."""
    if _CP1252_UNDEFINED.isdisjoint(line):
        return line.decode("cp1252")
    return line.decode("latin-1")


def _physical_lines(handle: IO[bytes]) -> Iterator[bytes]:
    """The file's lines as bytes, each bounded by LINE_LIMIT (InputError past it)."""
    number = 0
    while line := handle.readline(LINE_LIMIT + 1):
        number += 1
        if len(line) > LINE_LIMIT:
            raise InputError(
                f"la línea {number} tiene más de {LINE_LIMIT >> 20} MiB: no es una exportación "
                "de registros (line too long)"
            )
        yield line


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` (BOM) or ``utf-8`` when every line is valid UTF-8; ``cp1252`` (or
    ``latin-1`` when bytes undefined in Windows-1252 occur) when no line with accents is;
    ``utf-8+cp1252`` (``utf-8-sig+cp1252``) when the file mixes both, line by line.

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = p.write_bytes("ñ".encode("utf-8")); detect_encoding(p)
    'utf-8'
    >>> _ = p.write_bytes("ñ\\n".encode("utf-8") + "ñ\\n".encode("cp1252")); detect_encoding(p)
    'utf-8+cp1252'
    """
    with path.open("rb") as handle:
        base = "utf-8-sig" if handle.read(3) == _BOM else "utf-8"
    if _decodes(path, "utf-8")[0]:
        return base
    utf8_lines = latin1 = False
    with path.open("rb") as handle:
        for line in _physical_lines(handle):
            if line.isascii():
                continue
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                latin1 = latin1 or not _CP1252_UNDEFINED.isdisjoint(line)
            else:
                utf8_lines = True
    if utf8_lines:
        return f"{base}+cp1252"
    return "latin-1" if latin1 else "cp1252"


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


def _malformed(line: int, detail: str) -> str:
    return f"CSV mal formado en la línea {line}: {detail} (malformed CSV)"


def _read_header(reader: Iterator[list[str]], text: _TextLines) -> list[str]:
    """The first record of the file (the header); ``[]`` when it is blank or missing."""
    try:
        cells = next(reader, None)
    except csv.Error as exc:
        raise InputError(_malformed(1, str(exc))) from None
    if cells is None or cells == [_EOF] or not any(cell.strip() for cell in cells):
        return []
    return cells


def _columns(rows: list[list[str]], positions: Sequence[int]) -> dict[int, list[str]]:
    """The wanted columns of a chunk of equal-width rows."""
    transposed = list(zip(*rows, strict=True))
    return {pos: list(transposed[pos]) for pos in positions}


class _TextLines:
    """A CSV file's text, one line at a time, for :mod:`csv`: each line decoded on its own
    (``forced`` encoding, or UTF-8 falling back to Windows-1252), the line numbers read as
    Windows-1252 remembered, and a sentinel after the last line to catch an unclosed quote."""

    def __init__(self, handle: IO[bytes], *, forced: str | None) -> None:
        self._lines = _physical_lines(handle)
        self._decode = codecs.getdecoder(forced) if forced else None
        self.number = 0  # physical lines read so far
        self.legacy: list[int] = []  # lines decoded as Windows-1252
        self._ended = False

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self._ended:
            raise StopIteration
        line = next(self._lines, None)
        if line is None:
            self._ended = True
            return _EOF
        self.number += 1
        if self.number == 1 and line.startswith(_BOM):
            line = line[len(_BOM):]
        if not line.endswith(b"\n"):
            line += b"\n"  # the sentinel must start a line of its own
        if line.isascii():
            return line.decode("ascii")
        if self._decode is not None:
            return str(self._decode(line)[0])
        try:
            return line.decode("utf-8")
        except UnicodeDecodeError:
            self.legacy.append(self.number)
            return _legacy(line)


@dataclass
class ExportTable:
    """An opened export: its header row and a way to read its data rows in chunks.

    ``notes`` grows while reading: ``(row, reason)`` for rows that are kept but worth a line
    in the report (a line read as Windows-1252 in a mixed file, a row shorter than the header).
    """

    path: Path
    kind: str  # "csv" or "xlsx"
    headers: list[str]
    encoding: str  # "xlsx" for workbooks
    delimiter: str  # "" for workbooks
    header_row: int = 1  # spreadsheet row of the header (xlsx may start lower)
    forced: bool = False  # the encoding was given, not detected
    notes: list[tuple[int, str]] = field(default_factory=list)

    def chunks(self, *, positions: Sequence[int], chunk_size: int) -> Iterator[Chunk]:
        """Yield ``(first_row, {position: [cell text, ...]})`` for the wanted columns."""
        if self.kind == "xlsx":
            return self._xlsx_chunks(positions, chunk_size)
        return self._csv_chunks(positions, chunk_size)

    def _csv_chunks(self, positions: Sequence[int], chunk_size: int) -> Iterator[Chunk]:
        width = len(self.headers)
        mixed = "+" in self.encoding
        forced = self.encoding if self.forced else None
        if forced == "utf-8-sig":
            forced = "utf-8"
        if csv.field_size_limit() != FIELD_LIMIT:
            csv.field_size_limit(FIELD_LIMIT)
        with self.path.open("rb") as handle:
            text = _TextLines(handle, forced=forced)
            reader = csv.reader(text, delimiter=self.delimiter)
            _read_header(reader, text)
            row = self.header_row
            first_row = row + 1
            rows: list[list[str]] = []
            legacy_seen = 0
            while True:
                start_line = text.number + 1
                try:
                    cells = next(reader, None)
                except csv.Error as exc:
                    raise InputError(_malformed(start_line, str(exc))) from None
                if cells is None or cells == [_EOF]:
                    break
                row += 1
                if cells and _EOF in cells[-1]:
                    raise InputError(_malformed(
                        start_line, "comilla sin cerrar hasta el final del archivo "
                        "(unclosed quote)"))
                if len(cells) != width:
                    cells = self._fit(cells, width, row, start_line, text.number)
                if mixed and len(text.legacy) > legacy_seen:
                    legacy_seen = len(text.legacy)
                    self.notes.append((row, _LEGACY_NOTE))
                rows.append(cells)
                if len(rows) == chunk_size:
                    yield first_row, _columns(rows, positions)
                    first_row += len(rows)
                    rows = []
            if rows:
                yield first_row, _columns(rows, positions)

    def _fit(self, cells: list[str], width: int, row: int, start: int, end: int) -> list[str]:
        """A row with more or fewer fields than the header: empty surplus fields are dropped,
        missing ones left empty (noted); anything else is a malformed line."""
        if not cells:
            return [""] * width  # a blank line: kept, so row numbers stay the sheet's
        if len(cells) > width:
            if any(cell.strip() for cell in cells[width:]):
                raise InputError(_malformed(
                    start, f"{len(cells)} campos y el encabezado tiene {width} "
                    f"(more fields than the header)"))
            return cells[:width]
        if end > start:  # a quoted field ran over lines and the row still came up short
            raise InputError(_malformed(
                start, "comilla sin cerrar: la fila sigue hasta la línea "
                f"{end} con {len(cells)} de {width} campos (unclosed quote)"))
        self.notes.append((row, _SHORT_NOTE))
        return cells + [""] * (width - len(cells))

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
    forced_encoding = bool(encoding)
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
    if csv.field_size_limit() != FIELD_LIMIT:
        csv.field_size_limit(FIELD_LIMIT)
    with path.open("rb") as handle:
        forced = None if not forced_encoding else (
            "utf-8" if encoding == "utf-8-sig" else encoding)
        text = _TextLines(handle, forced=forced)
        first_line = next(text)
        if first_line == _EOF or not first_line.strip():
            raise InputError(
                f"{path.name} está vacío o su primera fila no tiene encabezados "
                "(empty file or no header row)"
            )
        delimiter = delimiter or _sniff_delimiter(first_line)
        headers = _read_header(csv.reader(_chain(first_line, text), delimiter=delimiter), text)
    return ExportTable(path=path, kind="csv", headers=[h.strip() for h in headers],
                       encoding=encoding, delimiter=delimiter, forced=bool(forced_encoding))


def _chain(first: str, rest: Iterable[str]) -> Iterator[str]:
    yield first
    yield from rest
