"""Validation: every reject reason of the canonical spec, duplicates across chunks, the report."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from client_sdk.pipeline import Reject, StandardizeRun, standardize_export, write_rejects
from client_sdk.records import PartialDate
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


# Only a row that cannot be linked at all is rejected.
REJECTED = [
    ("record_id", "", "record_id vacío"),
    ("record_id", "   ", "record_id vacío"),
    ("record_id", "X" * (MAX_RECORD_ID_BYTES + 1), "excede 63 bytes"),
    ("record_id", "Ñ" * 32, "excede 63 bytes"),  # 64 UTF-8 bytes
]

# Anything else wrong in a field keeps the record without it, or with what can be salvaged:
# (column, value, fragment of the note, record field, its value).
FIELD_NOTES = [
    ("fecha_nacimiento", "31/02/2001", "el día no existe", "birth_date", PartialDate(2001)),
    ("fecha_nacimiento", "2001-13", "mes", "birth_date", PartialDate(2001)),
    ("fecha_nacimiento", "1905-13-45", "se conserva el año", "birth_date", PartialDate(1905)),
    ("fecha_nacimiento", "2001-05-45", "se conservan año y mes", "birth_date",
     PartialDate(2001, 5)),
    ("fecha_nacimiento", "mayo 2001", "formato no reconocido", "birth_date", PartialDate(2001)),
    ("fecha_nacimiento", "12/07/98", "formato no reconocido", "birth_date", None),
    ("fecha_nacimiento", "1789-07-14", "año fuera de rango", "birth_date", None),
    ("fecha_nacimiento", "2025-01-01", "futuro", "birth_date", None),
    ("fecha_nacimiento", "2021-03-05", "posterior a la fecha del hecho", "birth_date", None),
    ("fecha_hecho", "2021-02-30", "el día no existe", "event_date", None),
    ("fecha_hecho", "2025-01-01", "futuro", "event_date", None),
    ("fecha_hecho", "2021-03", "incompleta", "event_date", None),
    ("edad", "111", "edad fuera del rango", "age_at_event", 19),  # from the birth date
    ("edad", "veinte", "edad no es un número", "age_at_event", 19),
    ("ubigeo_nacimiento", "LIMA", "UBIGEO mal formado", "ubigeo_birth", ""),
    ("ubigeo_nacimiento", "1501011", "UBIGEO mal formado", "ubigeo_birth", ""),
    ("ubigeo_residencia", "150199", "se conserva la provincia", "ubigeo_residence", "1501"),
    ("ubigeo_residencia", "159999", "se conserva el departamento", "ubigeo_residence", "15"),
    ("ubigeo_hecho", "999999", "UBIGEO desconocido", "ubigeo_event", ""),
    ("sexo", "X", "sexo no reconocido", "sex", ""),
    ("tipo_documento", "LICENCIA", "tipo de documento no reconocido", "document_type", ""),
    ("forma_explotacion", "sexual;pesca", "se conservan las reconocidas", "exploitation",
     ("sexual",)),
    ("forma_explotacion", "pesca", "explotación no reconocida", "exploitation", ()),
    ("nacionalidad", "ATLANTIDA", "nacionalidad no reconocida", "nationality", ""),
    ("nombres", "Ana " * 60, "más de 200 caracteres", "given_names", ""),
    ("apellido_materno", "D" * 121, "más de 120 caracteres", "surname_maternal", ""),
    ("numero_documento", "4" * 41, "más de 40 caracteres", "document_number", ""),
    ("forma_explotacion", "sexual;" * 50, "más de 300 caracteres", "exploitation", ()),
]

# Cleaned without a note: the value is read whole.
CLEANED = [
    ("numero_documento", "4567812", "document_number", "04567812"),  # a lost zero
    ("ubigeo_nacimiento", "15-01", "ubigeo_birth", "1501"),
    ("ubigeo_nacimiento", "15 01 01", "ubigeo_birth", "150101"),
    ("fecha_nacimiento", "20010504", "birth_date", PartialDate(2001, 5, 4)),
    ("edad", "19 años 3 meses", "age_at_event", 19),
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


@pytest.mark.parametrize(("column", "value", "fragment"), REJECTED)
def test_each_reject_reason(tmp_path: Path, column: str, value: str, fragment: str) -> None:
    records, run = _run(tmp_path, [{**GOOD, column: value}])
    assert records == []
    [reject] = run.rejects
    assert (reject.row, reject.column, reject.kept) == (2, column, False)
    assert fragment in reject.reason
    assert (run.rows_read, run.rows_accepted, run.rows_rejected) == (1, 0, 1)


@pytest.mark.parametrize(("column", "value", "fragment", "field", "expected"), FIELD_NOTES)
def test_a_bad_field_keeps_the_record(tmp_path: Path, column: str, value: str, fragment: str,
                                      field: str, expected: object) -> None:
    records, run = _run(tmp_path, [{**GOOD, column: value}])
    [record] = records
    assert getattr(record, field) == expected
    [note] = run.rejects
    assert (note.row, note.column, note.kept) == (2, column, True)
    assert fragment in note.reason
    assert (run.rows_read, run.rows_accepted, run.rows_rejected) == (1, 1, 0)
    assert (run.rows_complete, run.rows_partial) == (0, 1)
    # the rest of the record is as a good row gives it
    good = _run(tmp_path, [GOOD])[0][0]
    derived = {"birth_year_min", "birth_year_max", "age_at_event", "first_given_name"}
    others = [name for name in good.__slots__ if name != field and name not in derived]
    assert [getattr(record, n) for n in others] == [getattr(good, n) for n in others]


@pytest.mark.parametrize(("column", "value", "_", "__", "___"),
                         [n for n in FIELD_NOTES if len(n[1]) >= 4])
def test_reasons_never_echo_the_value(tmp_path: Path, column: str, value: str, _: object,
                                      __: object, ___: object) -> None:
    ____, run = _run(tmp_path, [{**GOOD, column: value}])
    assert all(value.strip() not in reject.reason for reject in run.rejects)


@pytest.mark.parametrize(("column", "value", "field", "expected"), CLEANED)
def test_values_cleaned_without_a_note(tmp_path: Path, column: str, value: str, field: str,
                                       expected: object) -> None:
    records, run = _run(tmp_path, [{**GOOD, column: value}])
    assert run.rejects == [] and getattr(records[0], field) == expected


def test_an_age_band_gives_the_birth_years(tmp_path: Path) -> None:
    records, run = _run(tmp_path, [{**GOOD, "fecha_nacimiento": "", "edad": "15 a 17 años"},
                                   {**GOOD, "record_id": "B", "fecha_nacimiento": "",
                                    "edad": "menor de edad"}])
    assert run.rejects == []
    # event in 2021: 15 to 17 at the event -> born 2003 to 2006
    assert [(r.birth_year_min, r.birth_year_max, r.age_at_event) for r in records] == [
        (2003, 2006, None), (2003, 2021, None)]


def test_old_birth_dates_are_kept_for_linkage(tmp_path: Path) -> None:
    """Peer registries hold people born early in the 1900s: the date is kept as typed; only
    an age at the event over 110 is not sent as an attribute (noted)."""
    records, run = _run(tmp_path, [
        {**GOOD, "record_id": "A", "fecha_nacimiento": "1905-03-12", "fecha_hecho": ""},
        {**GOOD, "record_id": "B", "fecha_nacimiento": "1905-03-12"},
        {**GOOD, "record_id": "C", "fecha_nacimiento": "1912-03-12"},
    ])
    assert [(r.birth_date, r.birth_year_min, r.age_at_event) for r in records] == [
        (PartialDate(1905, 3, 12), 1905, None), (PartialDate(1905, 3, 12), 1905, None),
        (PartialDate(1912, 3, 12), 1912, 108)]
    assert [(n.row, n.column, n.kept) for n in run.rejects] == [(3, "fecha_nacimiento", True)]
    assert "mayor de 110" in run.rejects[0].reason
    assert (run.rows_complete, run.rows_partial, run.rows_rejected) == (2, 1, 0)


def test_every_problem_of_a_kept_row_is_noted(tmp_path: Path) -> None:
    records, run = _run(tmp_path, [{**GOOD, "sexo": "X", "edad": "200", "ubigeo_hecho": "99"}])
    [record] = records
    assert (record.sex, record.ubigeo_event, record.age_at_event) == ("", "", 19)
    assert sorted(r.column for r in run.rejects) == ["edad", "sexo", "ubigeo_hecho"]
    assert all(r.kept for r in run.rejects)
    assert (run.rows_rejected, run.rows_partial) == (0, 1)


def test_a_rejected_row_lists_every_problem(tmp_path: Path) -> None:
    records, run = _run(tmp_path, [GOOD, {**GOOD, "sexo": "X", "fecha_nacimiento": "2001-13"}])
    assert len(records) == 1
    assert [(r.row, r.column, r.kept) for r in run.rejects] == [
        (3, "record_id", False), (3, "sexo", False), (3, "fecha_nacimiento", False)]
    assert "se conserva el registro" not in run.rejects[1].reason


def test_names_too_long_everywhere_is_no_name(tmp_path: Path) -> None:
    long = {"nombres": "x" * 201, "apellido_paterno": "y" * 121, "apellido_materno": ""}
    records, run = _run(tmp_path, [{**GOOD, **long}])
    assert records == []
    assert ("nombres", "sin nombres ni apellidos (no name at all)") in [
        (r.column, r.reason) for r in run.rejects]
    assert run.rows_rejected == 1


def test_a_salvaged_year_must_agree_with_the_age(tmp_path: Path) -> None:
    rows = [{**GOOD, "record_id": "A", "fecha_nacimiento": "2001-02-30", "edad": "19"},
            {**GOOD, "record_id": "B", "fecha_nacimiento": "2001-02-30", "edad": "35"}]
    records, run = _run(tmp_path, rows)
    assert [r.birth_date for r in records] == [PartialDate(2001), None]
    assert [(n.row, n.column) for n in run.rejects] == [(2, "fecha_nacimiento"),
                                                         (3, "fecha_nacimiento")]
    assert "no concuerda con la edad" in run.rejects[1].reason
    assert records[1].birth_year_min == 2021 - 35 - 1  # from the age


def test_what_the_service_would_refuse_is_never_sent(tmp_path: Path) -> None:
    """A birth year the batch format does not accept (before 1880: a typo such as 1809 for 1890,
    or an old date read from a peer registry) stays in the encoding but leaves the clear
    attributes with a note, so one record never makes the service refuse a whole batch."""
    from vinculo_common.batch import YEAR_RANGE

    rows = [{**GOOD, "record_id": "A", "fecha_nacimiento": "1859-05-04", "fecha_hecho": ""},
            {**GOOD, "record_id": "B"}]
    records, run = _run(tmp_path, rows)
    old, good = records
    assert old.birth_date is not None and old.birth_date.year == 1859
    assert (old.birth_year_min, old.birth_year_max) == (None, None)
    assert good.birth_year_min == 2001 and YEAR_RANGE[0] <= good.birth_year_min
    notes = [(n.row, n.column, n.kept) for n in run.rejects]
    assert (2, "fecha_nacimiento", True) in notes
    assert run.rows_rejected == 0 and run.rows_partial == 1
