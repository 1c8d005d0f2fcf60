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
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from itertools import chain, islice
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


def _check_line_lengths(path: Path) -> None:
    """Refuse a file with a physical line over LINE_LIMIT bytes, before any is read whole."""
    number, current = 1, 0
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            parts = block.split(b"\n")
            lengths = [current + len(parts[0]), *map(len, parts[1:])]
            longest = max(lengths)
            if longest > LINE_LIMIT:
                raise InputError(
                    f"la línea {number + lengths.index(longest)} tiene más de "
                    f"{LINE_LIMIT >> 20} MiB: no es una exportación de registros (line too long)"
                )
            number += len(parts) - 1
            current = lengths[-1]


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


def _text_lines(handle: IO[bytes], *, encoding: str, forced: bool,
                legacy: list[int]) -> Iterator[str]:
    """The file's text lines for :mod:`csv`, then the end sentinel. A file of one encoding
    is decoded by :class:`io.TextIOWrapper` (C speed; its lines were bounded when it was
    opened); a mixed one line by line (:func:`_decoded_lines`)."""
    if "+" in encoding and not forced:
        return _decoded_lines(handle, forced=None, legacy=legacy)
    text = io.TextIOWrapper(handle, encoding=encoding, newline="")
    return chain(text, (_EOF,))


def _malformed(line: int, detail: str) -> str:
    return f"CSV mal formado en la línea {line}: {detail} (malformed CSV)"


def _read_header(reader: Iterator[list[str]]) -> list[str]:
    """The first record of the file (the header); ``[]`` when it is blank or missing."""
    try:
        cells = next(reader, None)
    except csv.Error as exc:
        raise InputError(_malformed(1, str(exc))) from None
    if cells is None or cells == [_EOF] or not any(cell.strip() for cell in cells):
        return []
    return cells


def _start_lines(rows: list[list[str]], line_before: int) -> list[int]:
    """The physical line each row starts on: a row takes one line plus one per line break
    inside its quoted fields."""
    starts = []
    line = line_before + 1
    for cells in rows:
        starts.append(line)
        line += 1 + sum(cell.count("\n") for cell in cells)
    return starts


def _columns(rows: list[list[str]], positions: Sequence[int]) -> dict[int, list[str]]:
    """The wanted columns of a chunk of equal-width rows."""
    transposed = list(zip(*rows, strict=True))
    return {pos: list(transposed[pos]) for pos in positions}


def _decoded_lines(handle: IO[bytes], *, forced: str | None,
                   legacy: list[int]) -> Iterator[str]:
    """A CSV file's text, one physical line at a time, for :mod:`csv`: each line decoded on
    its own (``forced`` encoding, or UTF-8 falling back to Windows-1252, the numbers of those
    lines appended to ``legacy``), each bounded by LINE_LIMIT, and a sentinel after the last
    line so that a quote left open to the end shows."""
    encoding = forced or "utf-8"
    readline = handle.readline
    limit = LINE_LIMIT + 1
    number = 0
    while line := readline(limit):
        number += 1
        if len(line) == limit:
            raise InputError(
                f"la línea {number} tiene más de {LINE_LIMIT >> 20} MiB: no es una exportación "
                "de registros (line too long)"
            )
        if number == 1 and line.startswith(_BOM):
            line = line[len(_BOM):]
        if line[-1:] != b"\n":
            line += b"\n"  # the sentinel must start a line of its own
        try:
            yield line.decode(encoding)
        except UnicodeDecodeError:
            if forced:  # the whole file was checked when it was opened
                raise
            legacy.append(number)
            yield _legacy(line)
    yield _EOF


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
        if csv.field_size_limit() != FIELD_LIMIT:
            csv.field_size_limit(FIELD_LIMIT)
        with self.path.open("rb") as handle:
            legacy: list[int] = []
            lines = _text_lines(handle, encoding=self.encoding, forced=self.forced,
                                legacy=legacy)
            reader = csv.reader(lines, delimiter=self.delimiter)
            _read_header(reader)
            first_row = self.header_row + 1
            noted = 0  # legacy lines already noted
            while True:
                line_before = reader.line_num  # physical lines read before this chunk
                try:
                    rows = list(islice(reader, chunk_size))  # parsed in C, chunk by chunk
                except csv.Error as exc:
                    raise InputError(_malformed(reader.line_num, str(exc))) from None
                if rows and rows[-1] == [_EOF]:
                    rows.pop()
                if not rows:
                    break
                last = rows[-1]
                if last and _EOF in last[-1]:
                    start = _start_lines(rows, line_before)[-1]
                    raise InputError(_malformed(
                        start, "comilla sin cerrar hasta el final del archivo (unclosed quote)"))
                if set(map(len, rows)) != {width}:
                    starts = _start_lines(rows, line_before)
                    for k, cells in enumerate(rows):
                        if len(cells) != width:
                            rows[k] = self._fit(cells, width, first_row + k, starts[k])
                if mixed and len(legacy) > noted:
                    self._note_legacy(legacy[noted:], rows, first_row, line_before)
                    noted = len(legacy)
                yield first_row, _columns(rows, positions)
                first_row += len(rows)

    def _note_legacy(self, lines: list[int], rows: list[list[str]], first_row: int,
                     line_before: int) -> None:
        """A note on each row holding a line read as Windows-1252 (in a mixed file)."""
        starts = _start_lines(rows, line_before)
        k = 0
        for line in lines:
            while k + 1 < len(starts) and starts[k + 1] <= line:
                k += 1
            if line >= starts[0] and (not self.notes or self.notes[-1] != (first_row + k,
                                                                            _LEGACY_NOTE)):
                self.notes.append((first_row + k, _LEGACY_NOTE))

    def _fit(self, cells: list[str], width: int, row: int, start: int) -> list[str]:
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
        if any("\n" in cell for cell in cells):
            # a quoted field ran over lines and the row still came up short
            end = start + sum(cell.count("\n") for cell in cells)
            raise InputError(_malformed(
                start, f"comilla sin cerrar: la fila sigue hasta la línea {end} con "
                f"{len(cells)} de {width} campos (unclosed quote)"))
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
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text" export
        raise InputError(
            f"{path.name} está en UTF-16 (\"Texto Unicode\" de Excel): guárdelo como \"CSV UTF-8\" "
            "o .xlsx (UTF-16 text: save it as UTF-8 CSV or .xlsx)"
        )
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
    _check_line_lengths(path)
    if csv.field_size_limit() != FIELD_LIMIT:
        csv.field_size_limit(FIELD_LIMIT)
    with path.open("rb") as handle:
        lines = _text_lines(handle, encoding=encoding, forced=forced_encoding, legacy=[])
        first_line = next(lines)
        if first_line == _EOF or not first_line.strip():
            raise InputError(
                f"{path.name} está vacío o su primera fila no tiene encabezados "
                "(empty file or no header row)"
            )
        delimiter = delimiter or _sniff_delimiter(first_line)
        headers = _read_header(csv.reader(_chain(first_line, lines), delimiter=delimiter))
    return ExportTable(path=path, kind="csv", headers=[h.strip() for h in headers],
                       encoding=encoding, delimiter=delimiter, forced=bool(forced_encoding))


def _chain(first: str, rest: Iterable[str]) -> Iterator[str]:
    yield first
    yield from rest
