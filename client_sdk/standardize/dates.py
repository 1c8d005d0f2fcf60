"""Dates and ages: every accepted form, impossible dates refused, partial dates kept partial.

>>> parse_date("12/07/1998"), parse_date("1998-07")
(PartialDate(year=1998, month=7, day=12), PartialDate(year=1998, month=7, day=None))
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import lru_cache

from client_sdk.records import PartialDate
from client_sdk.standardize.text import InvalidValue

__all__ = [
    "MAX_AGE",
    "age_at",
    "birth_year_range",
    "check_birth_date",
    "parse_age",
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
_AGE = re.compile(r"^(\d{1,3})(?:[.,]0+)?(?:\s*(?:AÑOS|ANOS|A|AÑO|ANO))?$")


def _checked(year: int, month: int | None, day: int | None) -> PartialDate:
    if not 1850 <= year <= 2200:
        raise InvalidValue("fecha imposible: año fuera de rango (impossible date: year)")
    if month is not None and not 1 <= month <= 12:
        raise InvalidValue("fecha imposible: mes fuera de 1–12 (impossible date: month)")
    if day is not None:
        assert month is not None
        try:
            date(year, month, day)
        except ValueError:
            raise InvalidValue("fecha imposible: el día no existe (impossible date: day)") from None
    return PartialDate(year, month, day)


@lru_cache(maxsize=65536)
def parse_date(text: str) -> PartialDate | None:
    """Parse ``YYYY-MM-DD``, ``DD/MM/YYYY``, ``DD-MM-YYYY``, ``YYYY-MM``, ``MM/YYYY``, ``YYYY``,
    an Excel serial day number or a spreadsheet ``YYYY-MM-DD 00:00:00``; ``""`` gives None.

    Raises :class:`InvalidValue` for an impossible date (``31/02/1990``) or an unknown form.

    >>> parse_date("1998"), parse_date("35988"), parse_date("")
    (PartialDate(year=1998, month=None, day=None), PartialDate(year=1998, month=7, day=12), None)
    """
    text = _TIME_SUFFIX.sub("", text.strip())
    if not text:
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
    raise InvalidValue("fecha con formato no reconocido (unrecognised date format)")


def parse_event_date(text: str, *, today: date) -> date | None:
    """A full event date, not in the future; a partial one is refused.

    >>> parse_event_date("2021-03-04", today=date(2024, 1, 1))
    datetime.date(2021, 3, 4)
    """
    parsed = parse_date(text)
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


def age_at(birth: PartialDate, when: date) -> int | None:
    """Completed years at ``when`` for a full birth date; None if the birth date is partial.

    >>> age_at(PartialDate(2000, 7, 12), date(2018, 7, 11))
    17
    """
    if birth.month is None or birth.day is None:
        return None
    return when.year - birth.year - ((when.month, when.day) < (birth.month, birth.day))


def check_birth_date(birth: PartialDate, *, event: date | None, today: date) -> None:
    """Refuse a birth date in the future, after the event, or more than 110 years before.

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
    reference = event or today
    if reference.year - birth.year > MAX_AGE + 1:
        raise InvalidValue(f"edad fuera del rango 0–{MAX_AGE} (age out of range)")
    exact = age_at(birth, reference)
    if exact is not None and exact > MAX_AGE:
        raise InvalidValue(f"edad fuera del rango 0–{MAX_AGE} (age out of range)")


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
