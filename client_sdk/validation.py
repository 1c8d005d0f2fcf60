"""Validation and standardization of rows: every row that can be linked becomes a
StandardizedRecord; the report (row number, canonical column, Spanish-first reason without the
value) says what was wrong.

A row is **rejected** only when it cannot be linked at all: no ``record_id``, a duplicate one
(the first is kept, later ones name its row), one longer than the sealed locator holds, or no
name of any kind. Anything else wrong in a field keeps the record **without that field**, or
with what can be salvaged (the year of an impossible date, the province or department of an
unknown UBIGEO, the known forms of exploitation), and the report has a note for it
(``Reject.kept``): impossible or unknown dates, a birth date in the future or after the event,
an age outside 0–110, unknown UBIGEOs and codes, malformed document numbers, cells longer than
any real name or code. Losing a victim's record loses her from the bank and every statistic.

>>> from datetime import date
>>> from client_sdk.mapping import SourceMapping
>>> checker = RowValidator(mapping=SourceMapping.canonical(), today=date(2024, 1, 1))
>>> records, rejects = checker.check_chunk(
...     2, {"record_id": ["A1", "A1"], "nombres": ["Rosa Quispe", "Ana"]})
>>> [r.surname_paternal for r in records], [(r.row, r.column, r.reason) for r in rejects]
(['QUISPE'], [(3, 'record_id', 'record_id duplicado (ya en la fila 2)')])
>>> records, notes = checker.check_chunk(2, {"record_id": ["A2"], "nombres": ["Ana"],
...                                         "fecha_nacimiento": ["1905-13-45"]})
>>> records[0].birth_date, [(n.column, n.kept) for n in notes]
(PartialDate(year=1905, month=None, day=None), [('fecha_nacimiento', True)])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import TypeVar

from client_sdk.mapping import SourceMapping
from client_sdk.records import PartialDate, StandardizedRecord
from client_sdk.standardize.attributes import (
    normalize_exploitation,
    normalize_nationality,
    normalize_sex,
)
from client_sdk.standardize.dates import (
    MAX_AGE,
    age_at,
    check_birth_date,
    implausible_age,
    parse_age_band,
    parse_date,
    parse_event_date,
)
from client_sdk.standardize.documents import clean_document_number, normalize_document_type
from client_sdk.standardize.name_roles import NameRoles
from client_sdk.standardize.names import NameParts, standardize_names
from client_sdk.standardize.places import standardize_ubigeo
from client_sdk.standardize.text import InvalidValue, Salvaged
from vinculo_common.batch import LOCATOR_PLAINTEXT_SIZE, YEAR_RANGE

__all__ = ["CELL_LIMITS", "MAX_RECORD_ID_BYTES", "Reject", "RowValidator", "map_column"]

MAX_RECORD_ID_BYTES = LOCATOR_PLAINTEXT_SIZE - 1  # what one sealed locator can carry
T = TypeVar("T")
# Longest cell (characters) each column may hold: well past any real name or code, so only a
# cell that is not one (a pasted note, a whole row in one cell, a runaway field) is dropped.
CELL_LIMITS: dict[str, int] = {
    "nombres": 200, "apellido_paterno": 120, "apellido_materno": 120,
    "sexo": 40, "fecha_nacimiento": 40, "edad": 40, "tipo_documento": 60,
    "numero_documento": 40, "nacionalidad": 80, "ubigeo_nacimiento": 40,
    "ubigeo_residencia": 40, "fecha_hecho": 40, "ubigeo_hecho": 40, "forma_explotacion": 300,
}
KEPT = "; se conserva el registro sin este dato (record kept without this field)"


@dataclass(frozen=True)
class Reject:
    """One line of the rejects report. ``reason`` never contains the identifying value."""

    row: int  # as a spreadsheet shows it: header = 1, first data row = 2
    column: str  # canonical column name; "" for the whole row or the file
    reason: str  # Spanish first, English in parentheses
    # True for a note: the row was kept (this field dropped or cut down to what could be
    # salvaged), or a remark on the row or file (column "": an unknown column, a line read as
    # Windows-1252). A victim's record is not lost for a bad field.
    kept: bool = False


def map_column(
    values: Sequence[str], rule: Callable[[str], T]
) -> tuple[list[T | None], dict[int, str]]:
    """Apply a one-value rule to a column, once per distinct value (codes repeat a lot).

    Returns the results (None where the rule refused the value) and ``{index: reason}``.

    A rule that salvages part of a value (:class:`Salvaged`) gives that part, and its reason.

    >>> map_column(["F", "x", "F"], normalize_sex)[1][1].split(";")[0]
    'valor de sexo no reconocido (unknown sex value)'
    """
    results: dict[str, T] = {}
    refused: dict[str, str] = {}
    for value in set(values):
        try:
            results[value] = rule(value)
        except Salvaged as exc:
            results[value] = exc.value  # type: ignore[assignment]
            refused[value] = str(exc)
        except InvalidValue as exc:
            refused[value] = str(exc) + KEPT
    mapped = [results.get(value) for value in values]
    if not refused:
        return mapped, {}
    return mapped, {i: refused[v] for i, v in enumerate(values) if v in refused}


class RowValidator:
    """Checks and standardizes rows chunk by chunk, remembering record_ids across chunks.

    Work is done column by column (each distinct code, date or UBIGEO once per chunk), then
    row by row only for what spans columns: names, document numbers, dates against each other.
    """

    def __init__(self, *, mapping: SourceMapping, today: date) -> None:
        self.mapping = mapping
        self.today = today
        self._first_row_of: dict[str, int] = {}
        # Which words this export writes as given names and as surnames: decides how a whole
        # name typed into `nombres` is split (learned from earlier chunks and this one).
        self.name_roles = NameRoles()
        self.rows_read = 0
        self.rows_blank = 0
        self.rows_partial = 0  # kept with a field dropped or cut down

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

    def _names(self, count: int, blank: set[int] | frozenset[int], given: Sequence[str],
               paternal: Sequence[str], maternal: Sequence[str]) -> list[NameParts]:
        """Standardize the chunk's names: rows with surnames in their columns first, which
        teach ``name_roles``; then rows with the whole name in ``nombres``, split by it."""
        names: list[NameParts | None] = [None] * count
        whole: list[int] = []
        given_seen: list[str] = []
        surnames_seen: list[str] = []
        for index in range(count):
            in_columns = index not in blank and bool(paternal[index].strip()
                                                     or maternal[index].strip())
            if index not in blank and not in_columns and " " in given[index].strip():
                whole.append(index)  # split once the chunk has taught name_roles
                continue
            parts = names[index] = standardize_names(
                nombres=given[index], paterno=paternal[index], materno=maternal[index])
            if in_columns:
                given_seen.append(parts.given_names)
                surnames_seen += (parts.surname_paternal, parts.surname_maternal)
        self.name_roles.learn(given_names=" ".join(given_seen), surnames=surnames_seen)
        for index in whole:
            names[index] = standardize_names(nombres=given[index], paterno=paternal[index],
                                             materno=maternal[index], roles=self.name_roles)
        out = [parts for parts in names if parts is not None]
        assert len(out) == count
        return out

    def check_chunk(
        self, first_row: int, columns: Mapping[str, list[str]]
    ) -> tuple[list[StandardizedRecord], list[Reject]]:
        """Standardize one chunk; ``columns`` maps canonical column -> its cells, in row order.

        Returns the records and the report's lines for the chunk, in row order: rejects
        (``kept=False``) for rows that cannot be linked, notes (``kept=True``) for fields of
        kept rows that were dropped or cut down. Rows whose cells are all empty are skipped
        (an empty line is not a record).
        """
        count = len(next(iter(columns.values()))) if columns else 0
        empty = [""] * count
        problems: dict[int, list[tuple[str, str]]] = {}  # a field dropped or cut down
        col = {name: columns.get(name, empty) for name in _ALL_COLUMNS}
        for name, limit in CELL_LIMITS.items():
            col[name] = self._bounded(name, col[name], limit, problems)
        values = self.mapping.values
        systems = self.mapping.ubigeo_system

        def column_rule(name: str, rule: Callable[[str], T]) -> list[T | None]:
            mapped, refused = map_column(col[name], rule)
            for index, reason in refused.items():
                problems.setdefault(index, []).append((name, reason))
            return mapped

        blank: set[int] = set()
        fatal: dict[int, list[tuple[str, str]]] = {}  # the row cannot be linked
        record_ids = col["record_id"]
        for index, raw in enumerate(record_ids):
            if not raw.strip() and not any(col[name][index].strip() for name in _ALL_COLUMNS):
                blank.add(index)
                continue
            if (why := self._check_record_id(first_row + index, raw)) is not None:
                fatal.setdefault(index, []).append(("record_id", why))
        self.rows_blank += len(blank)
        self.rows_read += count - len(blank)

        sexes = column_rule("sexo", partial(normalize_sex, codes=values.get("sexo")))
        doc_types = column_rule(
            "tipo_documento", partial(normalize_document_type, codes=values.get("tipo_documento"))
        )
        nationalities = column_rule(
            "nacionalidad", partial(normalize_nationality, codes=values.get("nacionalidad"))
        )
        exploitations = column_rule(
            "forma_explotacion",
            partial(normalize_exploitation, codes=values.get("forma_explotacion")),
        )
        places = {
            name: column_rule(name, partial(standardize_ubigeo, system=systems[name]))
            for name in ("ubigeo_nacimiento", "ubigeo_residencia", "ubigeo_hecho")
        }
        events = column_rule("fecha_hecho", partial(parse_event_date, today=self.today))
        births = column_rule("fecha_nacimiento", parse_date)
        ages = column_rule("edad", parse_age_band)

        records: list[StandardizedRecord] = []
        report: list[Reject] = []
        given_col, paternal_col, maternal_col = (
            col["nombres"], col["apellido_paterno"], col["apellido_materno"])
        numbers = col["numero_documento"]
        names_of = self._names(count, blank, given_col, paternal_col, maternal_col)
        for index in range(count):
            if index in blank:
                continue
            row = first_row + index
            row_fatal = fatal.get(index, [])
            row_notes = problems.get(index, [])
            names = names_of[index]
            if not (names.given_names or names.surname_paternal or names.surname_maternal):
                row_fatal.append(("nombres", "sin nombres ni apellidos (no name at all)"))
            document_type = doc_types[index] or ""
            document_number = ""
            if numbers[index]:
                try:
                    document_number = clean_document_number(numbers[index],
                                                            document_type=document_type)
                except InvalidValue as exc:
                    # A wrong check character or a malformed number is usually a typo: keep
                    # the record (names and dates still link it) without the document.
                    row_notes.append(("numero_documento", f"{exc}; se conserva el registro "
                                      "sin documento (record kept without document)"))
            event, birth, band = events[index], births[index], ages[index]
            if birth is not None:
                try:
                    check_birth_date(birth, event=event, today=self.today)
                except InvalidValue as exc:
                    row_notes.append(("fecha_nacimiento", str(exc) + KEPT))
                    birth = None
            # what was salvaged of an impossible date is kept only when the rest agrees
            if (birth is not None and band is not None and event is not None
                    and any(c == "fecha_nacimiento" for c, _ in row_notes)
                    and not event.year - band[1] - 1 <= birth.year <= event.year - band[0]):
                row_notes[:] = [(c, w) for c, w in row_notes if c != "fecha_nacimiento"]
                row_notes.append(("fecha_nacimiento", "fecha imposible y lo que queda no "
                                  "concuerda con la edad (impossible date that disagrees "
                                  "with the age)" + KEPT))
                birth = None
            if row_fatal:
                # every problem of the row is listed, the ones that reject it first
                report.extend(Reject(row, c, why) for c, why in row_fatal)
                report.extend(Reject(row, c, why.removesuffix(KEPT)) for c, why in row_notes)
                continue
            age = band[0] if band is not None and band[0] == band[1] else None
            if birth is not None and event is not None:
                exact = age_at(birth, event)
                age = exact if exact is not None else age
                if implausible_age(age):
                    # the date is kept for linkage as typed; an age over 110 is not sent
                    row_notes.append(("fecha_nacimiento", f"edad en el hecho mayor de {MAX_AGE}: "
                                      "la fecha solo se usa para enlazar, no se envía la edad "
                                      "(implausible age at the event: not sent)"))
                    age = None
            year_min, year_max = _birth_years(birth, band, event)
            if year_min is not None and year_max is not None and not (
                    YEAR_RANGE[0] <= year_min and year_max <= YEAR_RANGE[1]):
                # the date still goes into the encoding; only the clear year range is not sent
                row_notes.append(("fecha_nacimiento", "año de nacimiento fuera de "
                                  f"{YEAR_RANGE[0]}–{YEAR_RANGE[1]}: no se envía como atributo "
                                  "(birth year out of range: not sent)"))
                year_min = year_max = None
            if event is not None and not YEAR_RANGE[0] <= event.year <= YEAR_RANGE[1]:
                row_notes.append(("fecha_hecho", "fecha del hecho fuera de "
                                  f"{YEAR_RANGE[0]}–{YEAR_RANGE[1]} (event date out of range)"))
                event = None
            if row_notes:
                self.rows_partial += 1
                report.extend(Reject(row, c, why, kept=True) for c, why in row_notes)
            records.append(StandardizedRecord(
                row=row,
                record_id=record_ids[index].strip(),
                given_names=names.given_names,
                first_given_name=names.first_given_name,
                surname_paternal=names.surname_paternal,
                surname_maternal=names.surname_maternal,
                married_surname=names.married_surname,
                birth_date=birth,
                document_type=document_type,
                document_number=document_number,
                sex=sexes[index] or "",
                birth_year_min=year_min,
                birth_year_max=year_max,
                age_at_event=age,
                nationality=nationalities[index] or "",
                ubigeo_birth=places["ubigeo_nacimiento"][index] or "",
                ubigeo_residence=places["ubigeo_residencia"][index] or "",
                ubigeo_event=places["ubigeo_hecho"][index] or "",
                event_date=event,
                exploitation=exploitations[index] or (),
            ))
        return records, report

    @staticmethod
    def _bounded(name: str, values: list[str], limit: int,
                 problems: dict[int, list[tuple[str, str]]]) -> list[str]:
        """The column with cells longer than ``limit`` emptied, each noted."""
        if not values or max(map(len, values)) <= limit:
            return values
        bounded = list(values)
        for index, value in enumerate(values):
            if len(value) > limit:
                bounded[index] = ""
                problems.setdefault(index, []).append((name, (
                    f"valor de más de {limit} caracteres (value longer than {limit} "
                    f"characters){KEPT}")))
        return bounded


def _birth_years(birth: PartialDate | None, band: tuple[int, int] | None,
                 event: date | None) -> tuple[int | None, int | None]:
    """Birth-year bounds: the birth year itself, or from an age band ``[low, high]`` at event
    year ``Y``: ``[Y - high - 1, Y - low]`` (the birthday may or may not have passed)."""
    if birth is not None:
        return birth.year, birth.year
    if band is not None and event is not None:
        return event.year - band[1] - 1, event.year - band[0]
    return None, None


_ALL_COLUMNS = (
    "record_id", "nombres", "apellido_paterno", "apellido_materno", "sexo", "fecha_nacimiento",
    "edad", "tipo_documento", "numero_documento", "nacionalidad", "ubigeo_nacimiento",
    "ubigeo_residencia", "fecha_hecho", "ubigeo_hecho", "forma_explotacion",
)
