"""Validation and standardization of rows: a usable row becomes a StandardizedRecord, a bad
one becomes rejects (row number, canonical column, Spanish-first reason without the value).

The rules are the canonical spec's "Bad input": no ``record_id``, a duplicate one (the first
is kept, later ones name its row), one longer than the sealed locator holds, no name at all,
impossible dates (birth, event, birth after event, future, age outside 0–110), malformed or
unknown UBIGEO, values outside the code lists, malformed document numbers.

>>> from datetime import date
>>> from client_sdk.mapping import SourceMapping
>>> checker = RowValidator(mapping=SourceMapping.canonical(), today=date(2024, 1, 1))
>>> records, rejects = checker.check_chunk(
...     2, {"record_id": ["A1", "A1"], "nombres": ["Rosa Quispe", "Ana"]})
>>> [r.surname_paternal for r in records], rejects
(['QUISPE'], [Reject(row=3, column='record_id', reason='record_id duplicado (ya en la fila 2)')])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import ParamSpec, TypeVar

from client_sdk.mapping import SourceMapping
from client_sdk.records import StandardizedRecord
from client_sdk.standardize.attributes import (
    normalize_exploitation,
    normalize_nationality,
    normalize_sex,
)
from client_sdk.standardize.dates import (
    age_at,
    birth_year_range,
    check_birth_date,
    parse_age,
    parse_date,
    parse_event_date,
)
from client_sdk.standardize.documents import clean_document_number, normalize_document_type
from client_sdk.standardize.names import standardize_names
from client_sdk.standardize.places import standardize_ubigeo
from client_sdk.standardize.text import InvalidValue
from vinculo_common.batch import LOCATOR_PLAINTEXT_SIZE

__all__ = ["MAX_RECORD_ID_BYTES", "Reject", "RowValidator"]

MAX_RECORD_ID_BYTES = LOCATOR_PLAINTEXT_SIZE - 1  # what one sealed locator can carry
T = TypeVar("T")
P = ParamSpec("P")


@dataclass(frozen=True)
class Reject:
    """One line of the rejects report. ``reason`` never contains the identifying value."""

    row: int  # as a spreadsheet shows it: header = 1, first data row = 2
    column: str  # canonical column name; "" for the whole row or the file
    reason: str  # Spanish first, English in parentheses


class RowValidator:
    """Checks and standardizes rows chunk by chunk, remembering record_ids across chunks."""

    def __init__(self, *, mapping: SourceMapping, today: date) -> None:
        self.mapping = mapping
        self.today = today
        self._first_row_of: dict[str, int] = {}
        self.rows_read = 0
        self.rows_blank = 0

    def check_chunk(
        self, first_row: int, columns: Mapping[str, list[str]]
    ) -> tuple[list[StandardizedRecord], list[Reject]]:
        """Standardize one chunk; ``columns`` maps canonical column -> its cells, in row order."""
        count = len(next(iter(columns.values()))) if columns else 0
        empty = [""] * count
        cells = {name: columns.get(name, empty) for name in _ALL_COLUMNS}
        records: list[StandardizedRecord] = []
        rejects: list[Reject] = []
        for index in range(count):
            row = {name: values[index] for name, values in cells.items()}
            if not any(value.strip() for value in row.values()):
                self.rows_blank += 1  # an empty line is not a record
                continue
            self.rows_read += 1
            record, problems = self._check_row(first_row + index, row)
            if problems:
                rejects.extend(Reject(first_row + index, col, why) for col, why in problems)
            elif record is not None:
                records.append(record)
        return records, rejects

    def _check_record_id(self, row_number: int, raw: str) -> str | None:
        record_id = raw.strip()
        if not record_id:
            return "record_id vacío (record_id is empty)"
        if len(record_id.encode("utf-8")) > MAX_RECORD_ID_BYTES:
            return (f"record_id excede {MAX_RECORD_ID_BYTES} bytes UTF-8 "
                    f"(record_id longer than {MAX_RECORD_ID_BYTES} bytes)")
        first = self._first_row_of.setdefault(record_id, row_number)
        if first != row_number:
            return f"record_id duplicado (ya en la fila {first})"
        return None

    def _check_row(
        self, row_number: int, row: dict[str, str]
    ) -> tuple[StandardizedRecord | None, list[tuple[str, str]]]:
        problems: list[tuple[str, str]] = []
        values = self.mapping.values
        systems = self.mapping.ubigeo_system

        def attempt(
            column: str, rule: Callable[P, T], *args: P.args, **kwargs: P.kwargs
        ) -> T | None:
            try:
                return rule(*args, **kwargs)
            except InvalidValue as exc:
                problems.append((column, str(exc)))
                return None

        if (why := self._check_record_id(row_number, row["record_id"])) is not None:
            problems.append(("record_id", why))
        names = standardize_names(
            nombres=row["nombres"], paterno=row["apellido_paterno"], materno=row["apellido_materno"]
        )
        if not (names.given_names or names.surname_paternal or names.surname_maternal):
            problems.append(("nombres", "sin nombres ni apellidos (no name at all)"))
        sex = attempt("sexo", normalize_sex, row["sexo"], codes=values.get("sexo"))
        document_type = attempt("tipo_documento", normalize_document_type, row["tipo_documento"],
                                codes=values.get("tipo_documento")) or ""
        document_number = attempt("numero_documento", clean_document_number,
                                  row["numero_documento"], document_type=document_type)
        nationality = attempt("nacionalidad", normalize_nationality, row["nacionalidad"],
                              codes=values.get("nacionalidad"))
        exploitation = attempt("forma_explotacion", normalize_exploitation,
                               row["forma_explotacion"], codes=values.get("forma_explotacion"))
        places = {
            column: attempt(column, standardize_ubigeo, row[column], system=systems[column])
            for column in ("ubigeo_nacimiento", "ubigeo_residencia", "ubigeo_hecho")
        }
        event = attempt("fecha_hecho", parse_event_date, row["fecha_hecho"], today=self.today)
        birth = attempt("fecha_nacimiento", parse_date, row["fecha_nacimiento"])
        if birth is not None:
            try:
                check_birth_date(birth, event=event, today=self.today)
            except InvalidValue as exc:
                problems.append(("fecha_nacimiento", str(exc)))
        age = attempt("edad", parse_age, row["edad"])
        if problems:
            return None, problems
        if birth is not None and event is not None and (exact := age_at(birth, event)) is not None:
            age = exact
        year_min, year_max = birth_year_range(
            birth=birth, age=age, event_year=event.year if event else None
        )
        record = StandardizedRecord(
            row=row_number,
            record_id=row["record_id"].strip(),
            given_names=names.given_names,
            first_given_name=names.first_given_name,
            surname_paternal=names.surname_paternal,
            surname_maternal=names.surname_maternal,
            married_surname=names.married_surname,
            birth_date=birth,
            document_type=document_type,
            document_number=document_number or "",
            sex=sex or "",
            birth_year_min=year_min,
            birth_year_max=year_max,
            age_at_event=age,
            nationality=nationality or "",
            ubigeo_birth=places["ubigeo_nacimiento"] or "",
            ubigeo_residence=places["ubigeo_residencia"] or "",
            ubigeo_event=places["ubigeo_hecho"] or "",
            event_date=event,
            exploitation=exploitation or (),
        )
        return record, []


_ALL_COLUMNS = (
    "record_id", "nombres", "apellido_paterno", "apellido_materno", "sexo", "fecha_nacimiento",
    "edad", "tipo_documento", "numero_documento", "nacionalidad", "ubigeo_nacimiento",
    "ubigeo_residencia", "fecha_hecho", "ubigeo_hecho", "forma_explotacion",
)
