"""Validation: every reject reason of the canonical spec, duplicates across chunks, the report."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from client_sdk.pipeline import Reject, StandardizeRun, standardize_export, write_rejects
from client_sdk.validation import MAX_RECORD_ID_BYTES

TODAY = date(2024, 6, 30)
COLUMNS = ["record_id", "nombres", "apellido_paterno", "apellido_materno", "sexo",
           "fecha_nacimiento", "edad", "tipo_documento", "numero_documento", "nacionalidad",
           "ubigeo_nacimiento", "ubigeo_residencia", "fecha_hecho", "ubigeo_hecho",
           "forma_explotacion"]
GOOD = {"record_id": "OK1", "nombres": "Ana Lucía", "apellido_paterno": "Rojas",
        "apellido_materno": "Diaz", "sexo": "F", "fecha_nacimiento": "2001-05-04", "edad": "",
        "tipo_documento": "DNI", "numero_documento": "45678123", "nacionalidad": "PER",
        "ubigeo_nacimiento": "080101", "ubigeo_residencia": "150101", "fecha_hecho": "2021-03-04",
        "ubigeo_hecho": "150101", "forma_explotacion": "sexual"}


def _run(tmp_path: Path, rows: list[dict[str, str]], *, chunk_size: int = 5000) -> tuple[
        list, StandardizeRun]:
    path = tmp_path / "export.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    run = standardize_export(path, chunk_size=chunk_size, today=TODAY)
    return [record for chunk in run for record in chunk], run


def test_good_row_is_accepted(tmp_path: Path) -> None:
    records, run = _run(tmp_path, [GOOD])
    assert len(records) == 1 and run.rejects == []
    assert (run.rows_read, run.rows_accepted, run.rows_rejected) == (1, 1, 0)


BAD_VALUES = [
    ("record_id", "", "record_id vacío"),
    ("record_id", "   ", "record_id vacío"),
    ("record_id", "X" * (MAX_RECORD_ID_BYTES + 1), "excede 63 bytes"),
    ("record_id", "Ñ" * 32, "excede 63 bytes"),  # 64 UTF-8 bytes
    ("fecha_nacimiento", "31/02/2001", "el día no existe"),
    ("fecha_nacimiento", "2001-13", "mes"),
    ("fecha_nacimiento", "2025-01-01", "futuro"),
    ("fecha_nacimiento", "2021-03-05", "posterior a la fecha del hecho"),
    ("fecha_nacimiento", "1900-01-01", "edad fuera del rango"),
    ("fecha_nacimiento", "mayo 2001", "formato no reconocido"),
    ("fecha_hecho", "2021-02-30", "el día no existe"),
    ("fecha_hecho", "2025-01-01", "futuro"),
    ("fecha_hecho", "2021-03", "incompleta"),
    ("edad", "111", "edad fuera del rango"),
    ("edad", "veinte", "edad no es un número"),
    ("ubigeo_nacimiento", "15-01", "UBIGEO mal formado"),
    ("ubigeo_residencia", "159999", "UBIGEO desconocido"),
    ("ubigeo_hecho", "LIMA", "UBIGEO mal formado"),
    ("sexo", "X", "sexo no reconocido"),
    ("tipo_documento", "LICENCIA", "tipo de documento no reconocido"),
    ("forma_explotacion", "sexual;pesca", "explotación no reconocida"),
    ("nacionalidad", "ATLANTIDA", "nacionalidad no reconocida"),
    ("numero_documento", "4567812", None),  # 7 digits: a lost zero, accepted
]

# A bad document number drops only the document: the record is kept and the note says so.
BAD_DOCUMENTS = [
    ("45678", "DNI mal formado"),
    ("4567812X", "DNI mal formado"),
    ("456781231", "dígito verificador"),  # right one is 9 / C
]


@pytest.mark.parametrize(("value", "fragment"), BAD_DOCUMENTS)
def test_bad_document_keeps_the_record_without_it(tmp_path: Path, value: str,
                                                  fragment: str) -> None:
    records, run = _run(tmp_path, [{**GOOD, "numero_documento": value}])
    [record] = records
    assert record.document_number == ""
    [note] = run.rejects
    assert (note.row, note.column, note.kept) == (2, "numero_documento", True)
    assert fragment in note.reason and "sin documento" in note.reason
    assert value not in note.reason
    assert (run.rows_read, run.rows_accepted, run.rows_rejected) == (1, 1, 0)


@pytest.mark.parametrize(("column", "value", "fragment"), BAD_VALUES)
def test_each_reject_reason(tmp_path: Path, column: str, value: str,
                            fragment: str | None) -> None:
    records, run = _run(tmp_path, [{**GOOD, column: value}])
    if fragment is None:
        assert len(records) == 1 and run.rejects == []
        return
    assert records == []
    [reject] = run.rejects
    assert (reject.row, reject.column) == (2, column)
    assert fragment in reject.reason
    assert (run.rows_read, run.rows_accepted, run.rows_rejected) == (1, 0, 1)


@pytest.mark.parametrize(("column", "value", "_"), [b for b in BAD_VALUES if len(b[1]) >= 4])
def test_reasons_never_echo_the_value(tmp_path: Path, column: str, value: str, _: object) -> None:
    __, run = _run(tmp_path, [{**GOOD, column: value}])
    assert all(value.strip() not in reject.reason for reject in run.rejects)


def test_malformed_document_for_other_types(tmp_path: Path) -> None:
    _, run = _run(tmp_path, [{**GOOD, "tipo_documento": "PASAPORTE", "numero_documento": "A1"}])
    assert [r.column for r in run.rejects] == ["numero_documento"]


def test_no_name_at_all(tmp_path: Path) -> None:
    empty = {"nombres": "", "apellido_paterno": " ", "apellido_materno": "N.N."}
    _, run = _run(tmp_path, [{**GOOD, **empty}])
    assert [(r.column, r.reason) for r in run.rejects] == [
        ("nombres", "sin nombres ni apellidos (no name at all)")]


def test_surnames_without_given_names_are_a_name(tmp_path: Path) -> None:
    records, _ = _run(tmp_path, [{**GOOD, "nombres": ""}])
    assert records[0].surname_paternal == "ROJAS"


def test_every_problem_of_a_row_is_reported(tmp_path: Path) -> None:
    records, run = _run(tmp_path, [{**GOOD, "sexo": "X", "edad": "200", "ubigeo_hecho": "99"}])
    assert records == []
    assert sorted(r.column for r in run.rejects) == ["edad", "sexo", "ubigeo_hecho"]
    assert run.rows_rejected == 1


def test_duplicate_keeps_the_first_and_names_its_row(tmp_path: Path) -> None:
    rows = [{**GOOD, "record_id": f"R{i}"} for i in range(5)]
    rows.append({**GOOD, "record_id": "R1"})
    rows.append({**GOOD, "record_id": " R3 "})  # same id once trimmed
    records, run = _run(tmp_path, rows)
    assert [r.record_id for r in records] == ["R0", "R1", "R2", "R3", "R4"]
    assert [(r.row, r.column, r.reason) for r in run.rejects] == [
        (7, "record_id", "record_id duplicado (ya en la fila 3)"),
        (8, "record_id", "record_id duplicado (ya en la fila 5)"),
    ]


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 5000])
def test_chunked_validation_equals_one_chunk(tmp_path: Path, chunk_size: int) -> None:
    rows = [{**GOOD, "record_id": f"R{i % 9}", "edad": str(i % 130), "fecha_nacimiento": ""}
            for i in range(25)]
    whole, whole_run = _run(tmp_path, rows, chunk_size=5000)
    chunked, chunked_run = _run(tmp_path, rows, chunk_size=chunk_size)
    assert chunked == whole
    assert chunked_run.rejects == whole_run.rejects
    duplicates = [r for r in chunked_run.rejects if "duplicado" in r.reason]
    assert len(duplicates) == 25 - 9  # found across chunk boundaries


def test_blank_lines_are_not_records_and_keep_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("record_id,nombres\nA1,Ana\n\n,\nA1,Rosa\n", encoding="utf-8")
    run = standardize_export(path, today=TODAY)
    records = [r for chunk in run for r in chunk]
    assert [r.row for r in records] == [2]
    assert [r.row for r in run.rejects] == [5]
    assert (run.rows_read, run.rows_blank) == (2, 2)


def test_unknown_columns_are_reported_on_row_1(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("record_id,nombres,Color favorito,,\nA1,Ana,azul,,\n", encoding="utf-8")
    run = standardize_export(path, today=TODAY)
    assert len([r for chunk in run for r in chunk]) == 1
    assert run.unknown_columns == ["Color favorito", "(sin nombre, posición 4)",
                                   "(sin nombre, posición 5)"]
    assert run.rejects[0] == Reject(1, "", "columna desconocida: Color favorito (unknown column)",
                                    kept=True)


def test_age_and_birth_years(tmp_path: Path) -> None:
    rows = [
        {**GOOD, "record_id": "A", "fecha_nacimiento": "", "edad": "17"},
        {**GOOD, "record_id": "B", "fecha_nacimiento": "2003-03-05", "edad": ""},
        {**GOOD, "record_id": "C", "fecha_nacimiento": "2003", "edad": "17"},
        {**GOOD, "record_id": "D", "fecha_nacimiento": "", "edad": "17", "fecha_hecho": ""},
    ]
    records, _ = _run(tmp_path, rows)
    summary = [(r.birth_year_min, r.birth_year_max, r.age_at_event) for r in records]
    assert summary == [(2003, 2004, 17), (2003, 2003, 17), (2003, 2003, 17), (None, None, 17)]


def test_write_rejects(tmp_path: Path) -> None:
    out = tmp_path / "out.rejects.csv"
    rejects = [Reject(1, "", "columna desconocida: X, Y (unknown column)"),
               Reject(7, "record_id", "record_id duplicado (ya en la fila 3)")]
    write_rejects(out, rejects)
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["row", "column", "reason"],
                    ["1", "", "columna desconocida: X, Y (unknown column)"],
                    ["7", "record_id", "record_id duplicado (ya en la fila 3)"]]
