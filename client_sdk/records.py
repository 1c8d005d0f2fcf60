"""The standardized record: what validation and standardization hand to the encoder.

This is the contract between ``client_sdk.standardize`` (which produces it from one row of the
canonical layout) and ``client_sdk.record_encoder`` (which turns it into a CLK and content
attributes). Identifying fields are marked; they never leave the institution in clear.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

__all__ = ["PartialDate", "StandardizedRecord"]


@dataclass(frozen=True, slots=True)
class PartialDate:
    """A date of which only the year, or year and month, may be known.

    >>> PartialDate(1998, 7, None).iso()
    '1998-07'
    """

    year: int
    month: int | None = None
    day: int | None = None

    def iso(self) -> str:
        if self.month is None:
            return f"{self.year:04d}"
        if self.day is None:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"

    @property
    def is_full(self) -> bool:
        return self.month is not None and self.day is not None


@dataclass(frozen=True, slots=True)
class StandardizedRecord:
    """One victim record after mapping, validation and standardization.

    Names are upper case, accents folded, ``Ñ`` kept (or repaired) where the source allows it,
    particles normalised (``DE LA CRUZ``), single spaces. Empty strings mean "unknown".
    """

    row: int  # row number in the export as a spreadsheet shows it (header is row 1)
    record_id: str  # IDENTIFYING: never leaves the institution in clear
    # --- identifying: only enter the Bloom-filter encoding ---
    given_names: str = ""  # all given names, e.g. "MARIA ISABEL"
    first_given_name: str = ""  # "MARIA"
    surname_paternal: str = ""  # "DE LA CRUZ"
    surname_maternal: str = ""  # "QUISPE" (married "DE <husband>" removed)
    married_surname: str = ""  # "DE FLORES" -> "FLORES" when present, else ""
    birth_date: PartialDate | None = None  # full or partial date of birth
    document_type: str = ""  # DNI, CE, PASAPORTE, PTP, CPP, OTRO
    document_number: str = ""  # cleaned: DNI 8 digits, others upper alphanumeric
    # --- content attributes: sent in clear to the bank (coarsened per source policy) ---
    sex: str = ""  # "F", "M" or ""
    birth_year_min: int | None = None  # from birth date, or from age at the event
    birth_year_max: int | None = None
    age_at_event: int | None = None
    nationality: str = ""  # ISO 3166-1 alpha-3
    ubigeo_birth: str = ""  # INEI code, 2, 4 or 6 digits
    ubigeo_residence: str = ""
    ubigeo_event: str = ""
    event_date: date | None = None
    exploitation: tuple[str, ...] = field(default_factory=tuple)
