"""Content attributes: sex, nationality, form of exploitation, and the coarsening policy.

Each normaliser takes the source's own code list (``codes``: keys folded by
:func:`~client_sdk.standardize.text.value_key`) before the built-in one, and raises
:class:`~client_sdk.standardize.text.InvalidValue` for a value neither knows.

>>> normalize_sex("Mujer"), normalize_nationality("venezolana")
('F', 'VEN')
>>> normalize_exploitation("Trabajo forzoso")
('laboral',)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from functools import lru_cache

from client_sdk.standardize.countries import COUNTRY_KEYS
from client_sdk.standardize.text import InvalidValue, Salvaged, value_key

__all__ = [
    "EVENT_DATE_LEVELS",
    "EXPLOITATION_FORMS",
    "coarsen_event_date",
    "normalize_exploitation",
    "normalize_nationality",
    "normalize_sex",
]

EXPLOITATION_FORMS = ("sexual", "laboral", "mendicidad", "venta_ninos", "organos", "otra")
EVENT_DATE_LEVELS = ("day", "month", "year")

_SEX: dict[str, str] = {
    "F": "F", "FEMENINO": "F", "MUJER": "F", "FEM": "F",
    "M": "M", "MASCULINO": "M", "HOMBRE": "M", "MASC": "M", "H": "M", "VARON": "M", "V": "M",
    "NO ESPECIFICA": "", "NO REGISTRA": "", "NO PRECISA": "", "DESCONOCIDO": "", "ND": "",
    "SIN DATO": "", "S D": "",
}
_UNKNOWN_NATIONALITY = frozenset({"NO REGISTRA", "NO PRECISA", "DESCONOCIDA", "DESCONOCIDO",
                                  "SIN DATO", "ND", "S D", "APATRIDA"})
_EXPLOITATION: dict[str, str] = {
    "SEXUAL": "sexual", "EXPLOTACION SEXUAL": "sexual", "EXPLOTACION SEXUAL COMERCIAL": "sexual",
    "PROSTITUCION": "sexual", "PORNOGRAFIA": "sexual",
    "LABORAL": "laboral", "EXPLOTACION LABORAL": "laboral", "TRABAJO FORZOSO": "laboral",
    "TRABAJOS FORZADOS": "laboral", "TRABAJOS O SERVICIOS FORZADOS": "laboral",
    "SERVIDUMBRE": "laboral", "TRABAJO DOMESTICO": "laboral", "ESCLAVITUD": "laboral",
    "MENDICIDAD": "mendicidad", "EXPLOTACION DE LA MENDICIDAD": "mendicidad",
    "VENTA DE NINOS": "venta_ninos", "VENTA NINOS": "venta_ninos",
    "VENTA DE NINAS NINOS Y ADOLESCENTES": "venta_ninos",
    "ORGANOS": "organos", "TRAFICO DE ORGANOS": "organos", "EXTRACCION DE ORGANOS": "organos",
    "EXTRACCION O TRAFICO DE ORGANOS": "organos", "COMERCIALIZACION DE ORGANOS": "organos",
    "OTRA": "otra", "OTRO": "otra", "OTROS": "otra", "OTRAS": "otra",
    "MATRIMONIO SERVIL": "otra", "RECLUTAMIENTO FORZOSO": "otra",
}
_EXPLOITATION.update({form.upper(): form for form in EXPLOITATION_FORMS})
_SPLIT = re.compile(r"\s*[;|/+,]\s*")


def _lookup(key: str, codes: Mapping[str, str] | None, builtin: Mapping[str, str]) -> str | None:
    if codes and key in codes:
        return codes[key]
    return builtin.get(key)


@lru_cache(maxsize=256)
def _sex(value: str, codes: tuple[tuple[str, str], ...]) -> str:
    found = _lookup(value_key(value), dict(codes), _SEX)
    if found is None:
        raise InvalidValue("valor de sexo no reconocido (unknown sex value)")
    return found


def normalize_sex(value: str, *, codes: Mapping[str, str] | None = None) -> str:
    """``F``, ``M`` or ``""`` from the spec's forms or the source's codes.

    >>> normalize_sex("2", codes={"1": "M", "2": "F"}), normalize_sex("")
    ('F', '')
    """
    if not value.strip():
        return ""
    return _sex(value, tuple(sorted((codes or {}).items())))


def normalize_nationality(value: str, *, codes: Mapping[str, str] | None = None) -> str:
    """ISO 3166-1 alpha-3 from a code, a Spanish country name or a demonym; ``""`` if unknown.

    >>> normalize_nationality("Perú"), normalize_nationality("COL"), normalize_nationality("")
    ('PER', 'COL', '')
    """
    key = value_key(value)
    if not key or key in _UNKNOWN_NATIONALITY:
        return ""
    found = _lookup(key, codes, COUNTRY_KEYS)
    if found is None:
        raise InvalidValue("nacionalidad no reconocida (unknown nationality)")
    return found


def normalize_exploitation(
    value: str, *, codes: Mapping[str, str] | None = None
) -> tuple[str, ...]:
    """Forms of exploitation, several joined by ``;`` (or ``,`` ``/`` ``|`` ``+``), canonical order.

    Raises :class:`Salvaged` with the known forms when only some are known.

    >>> normalize_exploitation("Explotación sexual; mendicidad")
    ('sexual', 'mendicidad')
    """
    whole = value_key(value)
    if not whole:
        return ()
    found = _lookup(whole, codes, _EXPLOITATION)
    parts = [found] if found is not None else [
        _lookup(value_key(part), codes, _EXPLOITATION) for part in _SPLIT.split(value)
        if part.strip()
    ]
    forms = set(parts)
    known = tuple(form for form in EXPLOITATION_FORMS if form in forms)
    if None in forms:
        if known:  # "sexual; pesca": the forms that are known are kept
            raise Salvaged("forma de explotación no reconocida en parte; se conservan las "
                           "reconocidas (unknown form of exploitation: known ones kept)", known)
        raise InvalidValue("forma de explotación no reconocida (unknown form of exploitation)")
    return known


def coarsen_event_date(event: date | None, *, level: str) -> str:
    """The event date as sent to the bank under a source's policy: day, month or year.

    >>> coarsen_event_date(date(2021, 3, 4), level="month"), coarsen_event_date(None, level="day")
    ('2021-03', '')
    """
    if event is None:
        return ""
    iso = event.isoformat()
    return {"day": iso, "month": iso[:7], "year": iso[:4]}[level]
