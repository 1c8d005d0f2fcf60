"""Reading exports: encodings, delimiters, xlsx, chunking, and files that cannot be read."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from client_sdk.pipeline import standardize_export
from client_sdk.reading import detect_encoding, open_export
from client_sdk.records import PartialDate, StandardizedRecord
from vinculo_common.errors import InputError

EXPORTS = Path(__file__).parent / "fixtures" / "exports"
HEADER = "record_id,nombres,apellido_paterno,fecha_nacimiento,ubigeo_hecho\n"
ROWS = "A1,José,Peña,1999-05-04,150101\nA2,Ana,Muñoz,,1501\n"


def _all(path: Path, **kwargs: object) -> list[StandardizedRecord]:
    return [record for chunk in standardize_export(path, **kwargs) for record in chunk]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("encoding", "prefix", "detected"),
    [("utf-8", b"", "utf-8"), ("utf-8", b"\xef\xbb\xbf", "utf-8-sig"), ("cp1252", b"", "cp1252")],
)
def test_encodings_are_detected(tmp_path: Path, encoding: str, prefix: bytes,
                                detected: str) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(prefix + (HEADER + ROWS).encode(encoding))
    run = standardize_export(path)
    records = [record for chunk in run for record in chunk]
    assert run.encoding == detected
    assert [(r.given_names, r.surname_paternal) for r in records] == [
        ("JOSE", "PEÑA"), ("ANA", "MUÑOZ")]


def test_latin1_bytes_undefined_in_cp1252(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(HEADER.encode() + b"A1,Ana\x81,Pe\xf1a,,\n")
    assert detect_encoding(path) == "latin-1"
    assert _all(path)[0].surname_paternal == "PEÑA"


def test_utf8_read_as_cp1252_is_repaired(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes((HEADER + ROWS).encode("utf-8"))
    records = _all(path, encoding="cp1252")  # wrong on purpose: "PeÃ±a"
    assert records[0].surname_paternal == "PEÑA"


def test_forced_encoding_that_does_not_decode_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes((HEADER + ROWS).encode("cp1252"))
    with pytest.raises(InputError, match="no se puede leer como utf-8"):
        standardize_export(path, encoding="utf-8")
    with pytest.raises(InputError, match="codificación desconocida"):
        standardize_export(path, encoding="klingon")


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_are_sniffed(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "export.csv"
    path.write_text((HEADER + ROWS).replace(",", delimiter), encoding="utf-8")
    assert open_export(path).delimiter == delimiter
    assert len(_all(path)) == 2


def test_quoted_fields_with_delimiters_and_newlines(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(HEADER + 'A1,"Ana, María","Peña\nRojas",,\nA2,Rosa,Diaz,,\n', encoding="utf-8")
    records = _all(path)
    assert records[0].given_names == "ANA MARIA"
    assert records[1].row == 3  # a spreadsheet row per record, not per line


def test_xlsx_with_typed_cells(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["record_id", "nombres", "apellido_paterno", "fecha_nacimiento", "edad",
                  "tipo_documento", "numero_documento", "ubigeo_hecho", "fecha_hecho"])
    sheet.append([1001, "Ana", "Peña", datetime(1999, 5, 4), 21.0, "DNI", 1234567, 150101,
                  date(2021, 3, 4)])
    sheet.append(["X2", "Rosa", "Diaz", 35988, None, None, None, "1501", "2021-03-04"])
    workbook.save(path)
    run = standardize_export(path)
    records = [record for chunk in run for record in chunk]
    assert run.encoding == "xlsx"
    first, second = records
    assert first.record_id == "1001"
    assert first.birth_date == PartialDate(1999, 5, 4)
    assert first.document_number == "01234567"  # number cell lost its leading zero
    assert first.ubigeo_event == "150101"
    assert first.event_date == date(2021, 3, 4)
    assert second.birth_date == PartialDate(1998, 7, 12)  # Excel serial day number
    assert first.row == 2 and second.row == 3


def test_xlsx_header_below_title_rows_keeps_sheet_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append([])
    sheet.append(["record_id", "nombres"])
    sheet.append(["A1", "Ana"])
    sheet.append(["A1", "Rosa"])
    workbook.save(path)
    run = standardize_export(path)
    assert [r.row for chunk in run for r in chunk] == [3]
    assert run.rejects[0].reason == "record_id duplicado (ya en la fila 3)"
    assert run.rejects[0].row == 4


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 1000])
def test_chunks_give_the_same_records(chunk_size: int) -> None:
    whole = _all(EXPORTS / "canonical_export.csv", chunk_size=10_000, today=date(2024, 6, 30))
    chunked = standardize_export(EXPORTS / "canonical_export.csv", chunk_size=chunk_size,
                                 today=date(2024, 6, 30))
    chunks = list(chunked)
    assert [record for chunk in chunks for record in chunk] == whole
    assert all(len(chunk) <= chunk_size for chunk in chunks)


def test_xlsx_chunks_give_the_same_records(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["record_id", "nombres"])
    for i in range(7):
        sheet.append([f"A{i}", "Ana"])
    workbook.save(path)
    assert _all(path, chunk_size=3) == _all(path, chunk_size=100)


def test_a_run_is_iterated_once() -> None:
    run = standardize_export(EXPORTS / "canonical_export.csv")
    list(run)
    with pytest.raises(InputError, match="ya se recorrió"):
        list(run)


@pytest.mark.parametrize(
    ("content", "name", "fragment"),
    [
        (None, "missing.csv", "no existe"),
        (b"", "empty.csv", "vacío"),
        (b"\n\n", "blank.csv", "vacío"),
        (b"\x00\x01\x02binary", "data.csv", "no es un CSV"),
        ("record_id\tnombres\nA1\tAna\n".encode("utf-16"), "unicode.txt", "UTF-16"),
        (b"\xd0\xcf\x11\xe0 old excel", "old.xls", ".xls"),
        (b"not a zip", "fake.xlsx", "no es un libro .xlsx"),
        (b"PK\x03\x04 broken zip", "broken.xlsx", "no se pudo abrir"),
        (b"nombres,apellido_paterno\nAna,Rojas\n", "noid.csv", "record_id"),
        (b"A1,Ana,Rojas\nA2,Rosa,Diaz\n", "noheader.csv", "encabezados"),
    ],
)
def test_unreadable_files_raise_input_error_on_creation(
    tmp_path: Path, content: bytes | None, name: str, fragment: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=fragment):
        standardize_export(path)


@pytest.mark.parametrize(
    "rows", ["A1,Ana,Rojas,,,EXTRA,MORE\n", "A1,Ana,Rojas,,\nA2,Ana,Rojas,,,EXTRA\n"]
)
def test_ragged_line_raises_input_error_while_iterating(tmp_path: Path, rows: str) -> None:
    path = tmp_path / "export.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    run = standardize_export(path)
    with pytest.raises(InputError, match="CSV mal formado"):
        list(run)


def test_fixture_files_have_the_encodings_they_claim() -> None:
    assert detect_encoding(EXPORTS / "reta_export.csv") == "cp1252"
    assert detect_encoding(EXPORTS / "sistra_export.csv") == "utf-8"
    assert detect_encoding(EXPORTS / "care_export.csv") == "utf-8-sig"


def test_path_may_be_a_string(tmp_path: Path) -> None:
    copy = tmp_path / "c.csv"
    shutil.copy(EXPORTS / "canonical_export.csv", copy)
    assert len(_all(str(copy))) == 3  # type: ignore[arg-type]


# --- per-line decoding -------------------------------------------------------------------

def test_mixed_utf8_and_cp1252_lines_are_decoded_line_by_line(tmp_path: Path) -> None:
    """An export appended to by two systems: a line that is not valid UTF-8 is read as
    Windows-1252 on its own and noted; the UTF-8 lines stay UTF-8 (never MARÃ\x8dA)."""
    path = tmp_path / "export.csv"
    path.write_bytes(HEADER.encode() + "A1,María,Peña,,\n".encode()
                     + "A2,Inés,Muñoz,,\n".encode("cp1252") + b"A3,Ana,Rojas,,\n"
                     + "A4,Ángel,Íñiguez,,\n".encode())
    assert detect_encoding(path) == "utf-8+cp1252"
    run = standardize_export(path)
    records = [r for chunk in run for r in chunk]
    assert [(r.given_names, r.surname_paternal) for r in records] == [
        ("MARIA", "PEÑA"), ("INES", "MUÑOZ"), ("ANA", "ROJAS"), ("ANGEL", "IÑIGUEZ")]
    assert [(n.row, n.column, n.kept) for n in run.rejects] == [(3, "", True)]
    assert "Windows-1252" in run.rejects[0].reason
    assert run.rows_partial == 0  # a note on the line, no field lost


def test_a_whole_cp1252_file_has_no_line_notes(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes((HEADER + ROWS).encode("cp1252"))
    run = standardize_export(path)
    assert len([r for chunk in run for r in chunk]) == 2 and run.rejects == []


def test_a_quoted_multiline_cp1252_field_is_noted_on_its_row(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(HEADER.encode() + "A1,Rosa,Peña,,\n".encode()
                     + 'A2,"Ana\nInés",Muñoz,,\n'.encode("cp1252"))
    run = standardize_export(path)
    records = [r for chunk in run for r in chunk]
    assert records[1].given_names == "ANA INES"
    assert [(n.row, n.column) for n in run.rejects] == [(3, "")]


# --- malformed CSV -------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("rows", "fragment"),
    [
        ('A1,Ana,Rojas,,\nA2,"Rosa,Diaz,,\nA3,Luz,Mamani,,\n',
         "línea 3: comilla sin cerrar hasta el final"),
        ('A1,"Ana,Rojas,,\nA2,Rosa",Diaz\nA3,Luz,Mamani,,\n',
         "línea 2: comilla sin cerrar: la fila sigue hasta la línea 3"),
        ("A1,Ana,Rojas,,\nA2,Ana,Rojas,,,EXTRA\n", "línea 3: 6 campos y el encabezado tiene 5"),
    ],
    ids=["unclosed_to_the_end", "unclosed_then_short", "ragged"],
)
def test_malformed_csv_names_the_line(tmp_path: Path, rows: str, fragment: str) -> None:
    path = tmp_path / "export.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    with pytest.raises(InputError, match=fragment) as caught:
        list(standardize_export(path))
    assert "\n" not in str(caught.value)


def test_empty_surplus_fields_and_short_rows_are_read(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(HEADER + "A1,Ana,Rojas,,,,\nA2,Rosa\n", encoding="utf-8")
    run = standardize_export(path)
    records = [r for chunk in run for r in chunk]
    assert [r.given_names for r in records] == ["ANA", "ROSA"]
    assert [(n.row, n.kept) for n in run.rejects] == [(3, True)]
    assert "menos campos" in run.rejects[0].reason


def test_an_overlong_line_is_an_input_error(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import client_sdk.reading as reading

    monkeypatch.setattr(reading, "LINE_LIMIT", 100)
    path = tmp_path / "export.csv"
    path.write_text(HEADER + "A1," + "x" * 200 + ",Rojas,,\n", encoding="utf-8")
    with pytest.raises(InputError, match="la línea 2 tiene más de"):
        list(standardize_export(path))


# --- bounded cells -------------------------------------------------------------------------

_PEAK = """
import resource, sys
from pathlib import Path
from client_sdk.pipeline import standardize_export
run = standardize_export(Path(sys.argv[1]))
kept = sum(len(chunk) for chunk in run)
notes = [(r.row, r.column) for r in run.rejects]
print(kept, notes, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def _peak(path: Path) -> tuple[int, str, int]:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _PEAK, str(path)], capture_output=True,
                         text=True, check=True, timeout=300).stdout.split()
    return int(out[0]), " ".join(out[1:-1]), int(out[-1])


def test_a_10_mb_cell_is_dropped_and_memory_stays_flat(tmp_path: Path) -> None:
    """A 10 MB name cell (once accepted whole, and standardized) is dropped with a note; the
    peak memory of the whole read stays within a generous bound of a file without it."""
    rows = [f"A{i},Ana María,Quispe,2001-05-04,150101" for i in range(2000)]
    small = tmp_path / "small.csv"
    small.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    rows.insert(3, "BIG,\"" + "ÑANDÚ " * 1_700_000 + "\",Quispe,2001-05-04,150101")
    big = tmp_path / "big.csv"
    big.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    assert big.stat().st_size > 10_000_000
    kept_small, notes_small, peak_small = _peak(small)
    kept_big, notes_big, peak_big = _peak(big)
    assert (kept_small, notes_small) == (2000, "[]")
    assert (kept_big, notes_big) == (2001, "[(5, 'nombres')]")
    # measured 117 against 48 MiB (a 10 MiB cell is read once, as text); bound generous
    assert peak_big - peak_small < 300, (peak_small, peak_big)


def test_xlsx_cells_are_bounded_too(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["record_id", "nombres", "apellido_paterno", "fecha_nacimiento"])
    sheet.append(["A1", "Ana " * 100, "Rojas", "1905-13-45"])
    workbook.save(path)
    run = standardize_export(path)
    [record] = [r for chunk in run for r in chunk]
    assert (record.given_names, record.surname_paternal, record.birth_date) == (
        "", "ROJAS", PartialDate(1905))
    assert [(n.row, n.column, n.kept) for n in run.rejects] == [
        (2, "nombres", True), (2, "fecha_nacimiento", True)]
