"""Dates and ages: every accepted form, impossible dates refused, partial dates kept partial.

>>> parse_date("12/07/1998"), parse_date("1998-07")
(PartialDate(year=1998, month=7, day=12), PartialDate(year=1998, month=7, day=None))
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import lru_cache

from client_sdk.records import PartialDate
from client_sdk.standardize.text import InvalidValue, Salvaged

__all__ = [
    "MAX_AGE",
    "age_at",
    "birth_year_range",
    "check_birth_date",
    "implausible_age",
    "parse_age",
    "parse_age_band",
    "parse_date",
    "parse_event_date",
]

MAX_AGE = 110
_EXCEL_EPOCH = date(1899, 12, 30)  # Excel's day 0, counting its 1900 leap-year bug
_TIME_SUFFIX = re.compile(r"[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$")
_YMD = re.compile(r"^(\d{4})[-/.](\d{1,2})(?:[-/.](\d{1,2}))?$")
_DMY = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")
_MY = re.compile(r"^(\d{1,2})[-/.](\d{4})$")
_YEAR = re.compile(r"^\d{4}$")
_SERIAL = re.compile(r"^(\d{5})(?:\.0+)?$")  # Excel day numbers 1927–2173
_ZERO_DATE = re.compile(r"^0{1,4}[-/.]0{1,2}[-/.]0{1,4}$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")  # YYYYMMDD, as some systems export
_ANY_YEAR = re.compile(r"(?<!\d)(18[5-9]\d|19\d\d|20\d\d)(?!\d)")
_BAND = re.compile(r"^(?:ENTRE\s+)?(\d{1,3})\s*(?:-|A|Y|AL)\s*(\d{1,3})(?:\s*(?:AÑOS|ANOS))?$")
_MONTHS_ONLY = re.compile(r"^\d{1,2}\s*(?:MESES|MES|M)$")
_YEARS_AND_MORE = re.compile(r"^(\d{1,3})\s*(?:AÑOS|ANOS|AÑO|ANO|A)\b.*$")
_FRACTION = re.compile(r"^(\d{1,3})[.,]\d+$")
_MINOR = frozenset({"MENOR", "MENOR DE EDAD", "MENOR EDAD", "NNA"})
_AGE = re.compile(r"^(\d{1,3})(?:[.,]0+)?(?:\s*(?:AÑOS|ANOS|A|AÑO|ANO))?$")


def _checked(year: int, month: int | None, day: int | None) -> PartialDate:
    """The date, or :class:`Salvaged` with what of it can be trusted: the year when the month
    is impossible, or the day does not exist in that month (either may be the typo), year and
    month when the day could be no month's (0 or over 31)."""
    if not 1850 <= year <= 2200:
        raise InvalidValue("fecha imposible: año fuera de rango (impossible date: year)")
    if month is not None and not 1 <= month <= 12:
        raise Salvaged("fecha imposible: mes fuera de 1–12; se conserva el año "
                       "(impossible month: year kept)", PartialDate(year))
    if day is not None:
        assert month is not None
        if not 1 <= day <= 31:
            raise Salvaged("fecha imposible: el día no existe; se conservan año y mes "
                           "(impossible day: year and month kept)", PartialDate(year, month))
        try:
            date(year, month, day)
        except ValueError:
            raise Salvaged("fecha imposible: el día no existe en ese mes; se conserva el año "
                           "(impossible day: year kept)", PartialDate(year)) from None
    return PartialDate(year, month, day)


@lru_cache(maxsize=65536)
def parse_date(text: str) -> PartialDate | None:
    """Parse ``YYYY-MM-DD``, ``DD/MM/YYYY``, ``DD-MM-YYYY``, ``YYYY-MM``, ``MM/YYYY``, ``YYYY``,
    ``YYYYMMDD``, an Excel serial day number or a spreadsheet ``YYYY-MM-DD 00:00:00``; ``""``
    and an all-zero date (``0000-00-00``, a database's "no date") give None.

    Raises :class:`InvalidValue` for an impossible date (``31/02/1990``) or an unknown form.

    >>> parse_date("1998"), parse_date("35988"), parse_date("")
    (PartialDate(year=1998, month=None, day=None), PartialDate(year=1998, month=7, day=12), None)
    """
    text = _TIME_SUFFIX.sub("", text.strip())
    if not text or _ZERO_DATE.match(text):  # "0000-00-00": a database's "no date"
        return None
    if match := _YMD.match(text):
        year, month, day = match.groups()
        return _checked(int(year), int(month), int(day) if day else None)
    if match := _DMY.match(text):
        day, month, year = match.groups()
        return _checked(int(year), int(month), int(day))
    if match := _MY.match(text):
        month, year = match.groups()
        return _checked(int(year), int(month), None)
    if _YEAR.match(text):
        return _checked(int(text), None, None)
    if match := _SERIAL.match(text):
        serial = _EXCEL_EPOCH + timedelta(days=int(match.group(1)))
        return PartialDate(serial.year, serial.month, serial.day)
    if match := _COMPACT.match(text):
        year, month, day = match.groups()
        return _checked(int(year), int(month), int(day))
    years = set(_ANY_YEAR.findall(text))
    if len(years) == 1:
        raise Salvaged("fecha con formato no reconocido; se conserva el año "
                       "(unrecognised date format: year kept)", PartialDate(int(years.pop())))
    raise InvalidValue("fecha con formato no reconocido (unrecognised date format)")


def parse_event_date(text: str, *, today: date) -> date | None:
    """A full event date, not in the future; a partial one is refused.

    >>> parse_event_date("2021-03-04", today=date(2024, 1, 1))
    datetime.date(2021, 3, 4)
    """
    try:
        parsed = parse_date(text)
    except Salvaged as exc:  # the event date is sent whole or not at all
        raise InvalidValue(str(exc).split(";")[0] + " (impossible event date)") from None
    if parsed is None:
        return None
    if parsed.month is None or parsed.day is None:
        raise InvalidValue("fecha del hecho incompleta: se espera día, mes y año "
                           "(event date needs day, month and year)")
    event = date(parsed.year, parsed.month, parsed.day)
    if event > today:
        raise InvalidValue("fecha del hecho en el futuro (event date in the future)")
    if event.year < today.year - MAX_AGE:
        raise InvalidValue("fecha del hecho imposible: demasiado antigua (event date too old)")
    return event


@lru_cache(maxsize=1024)
def parse_age(text: str) -> int | None:
    """Age in completed years, 0–110: ``"25"``, ``"25 AÑOS"``, ``"25.0"``; ``""`` gives None.

    >>> parse_age("17 años"), parse_age("")
    (17, None)
    """
    text = text.strip().upper()
    if not text:
        return None
    match = _AGE.match(text)
    if not match:
        raise InvalidValue("edad no es un número entero (age is not a whole number)")
    age = int(match.group(1))
    if age > MAX_AGE:
        raise InvalidValue(f"edad fuera del rango 0–{MAX_AGE} (age out of range)")
    return age


def parse_age_band(text: str) -> tuple[int, int] | None:
    """Age in completed years as a band ``(low, high)``: an exact age gives ``(a, a)``; a band
    ``15-17`` / ``15 a 17`` / ``entre 15 y 17 años`` gives it; ``menor de edad`` is ``(0, 17)``;
    ``8 meses`` is 0, ``17 años 3 meses`` and ``17.5`` are 17. ``""`` gives None.

    >>> parse_age_band("15 a 17 años"), parse_age_band("17.5"), parse_age_band("Menor de edad")
    ((15, 17), (17, 17), (0, 17))
    """
    try:
        age = parse_age(text)
    except InvalidValue as exc:
        key = " ".join(text.strip().upper().replace(".", " ").split())
        if key in _MINOR:
            return 0, 17
        if _MONTHS_ONLY.match(key):
            return 0, 0
        if match := _BAND.match(key):
            low, high = sorted((int(match.group(1)), int(match.group(2))))
            if high > MAX_AGE:
                raise InvalidValue(f"edad fuera del rango 0–{MAX_AGE} (age out of range)") from None
            return low, high
        match = _YEARS_AND_MORE.match(key) or _FRACTION.match(text.strip())
        if match and int(match.group(1)) <= MAX_AGE:
            return int(match.group(1)), int(match.group(1))
        raise exc from None
    return None if age is None else (age, age)


def age_at(birth: PartialDate, when: date) -> int | None:
    """Completed years at ``when`` for a full birth date; None if the birth date is partial.

    >>> age_at(PartialDate(2000, 7, 12), date(2018, 7, 11))
    17
    """
    if birth.month is None or birth.day is None:
        return None
    return when.year - birth.year - ((when.month, when.day) < (birth.month, birth.day))


def check_birth_date(birth: PartialDate, *, event: date | None, today: date) -> None:
    """Refuse a birth date in the future or after the event.

    A birth date long ago (``1905-03-12``) is not refused: peer registries hold such dates,
    and for linkage the date as typed is what matters. Validation only stops deriving an
    age at the event over 110 from it (:func:`implausible_age`).

    >>> check_birth_date(PartialDate(2030), event=None, today=date(2024, 1, 9))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    client_sdk.standardize.text.InvalidValue: fecha de nacimiento en el futuro (...)
    """
    earliest = (birth.year, birth.month or 1, birth.day or 1)
    if earliest > (today.year, today.month, today.day):
        raise InvalidValue("fecha de nacimiento en el futuro (birth date in the future)")
    if event is not None and earliest > (event.year, event.month, event.day):
        raise InvalidValue("fecha de nacimiento posterior a la fecha del hecho "
                           "(birth date after the event)")


def implausible_age(age: int | None) -> bool:
    """An age at the event over 110: not sent as a content attribute.

    >>> implausible_age(111), implausible_age(110), implausible_age(None)
    (True, False, False)
    """
    return age is not None and age > MAX_AGE


def birth_year_range(
    *, birth: PartialDate | None, age: int | None, event_year: int | None
) -> tuple[int | None, int | None]:
    """Birth-year bounds: the birth year itself, or from age ``a`` at event year ``Y``:
    ``[Y - a - 1, Y - a]`` (the birthday may or may not have passed).

    >>> birth_year_range(birth=None, age=17, event_year=2020)
    (2002, 2003)
    >>> birth_year_range(birth=PartialDate(2001), age=17, event_year=2020)
    (2001, 2001)
    """
    if birth is not None:
        return birth.year, birth.year
    if age is not None and event_year is not None:
        return event_year - age - 1, event_year - age
    return None, None
