"""UBIGEO codes: validated against the INEI table, RENIEC codes translated, coarsened by policy.

>>> standardize_ubigeo("150100"), standardize_ubigeo("140101", system="reniec")
('1501', '150101')
"""

from __future__ import annotations

from functools import lru_cache

from client_sdk.standardize.text import InvalidValue
from vinculo_common import ubigeo

__all__ = ["UBIGEO_LEVELS", "UBIGEO_SYSTEMS", "coarsen_ubigeo", "standardize_ubigeo"]

UBIGEO_SYSTEMS = ("inei", "reniec")
UBIGEO_LEVELS = {"district": 6, "province": 4, "department": 2}


@lru_cache(maxsize=16384)
def standardize_ubigeo(text: str, *, system: str = "inei") -> str:
    """The INEI code (2, 4 or 6 digits) of a UBIGEO written as 1–6 digits; ``""`` stays ``""``.

    A leading zero lost by a spreadsheet is restored (``10101`` → ``010101``); a 6-digit code
    ending in ``00``/``0000`` is a province/department. With ``system="reniec"`` the code is
    translated from RENIEC's numbering. With ``system="inei"`` an INEI code is kept as it is
    and a code that only RENIEC knows is translated (its only valid reading; a code valid in
    both is read as INEI). Raises :class:`InvalidValue` for a malformed or unknown code.

    >>> standardize_ubigeo("10101"), standardize_ubigeo("15"), standardize_ubigeo("")
    ('010101', '15', '')
    >>> standardize_ubigeo("070207")  # RENIEC-only code: Cusco, Acomayo, in INEI numbering
    '080204'
    """
    code = text.strip()
    if code.endswith(".0"):  # a number cell read back as float text
        code = code[:-2]
    if not code:
        return ""
    if not code.isdigit() or not code.isascii() or len(code) > 6:
        raise InvalidValue("UBIGEO mal formado: se esperan 2, 4 o 6 dígitos (malformed UBIGEO)")
    if len(code) % 2:
        code = "0" + code
    code = ubigeo.canonical_code(code)
    if system == "reniec":
        translated = ubigeo.reniec_to_inei(code)
        if translated is None:
            raise InvalidValue("UBIGEO RENIEC desconocido (unknown RENIEC UBIGEO)")
        return translated
    if ubigeo.is_inei(code):
        return code
    # Not an INEI code but a RENIEC one: RENIEC codes (copied from a DNI) are the usual slip in
    # an INEI column, and this is the code's only valid reading.
    translated = ubigeo.reniec_to_inei(code)
    if translated is None:
        raise InvalidValue("UBIGEO desconocido en las tablas INEI y RENIEC (unknown UBIGEO)")
    return translated


def coarsen_ubigeo(code: str, *, level: str) -> str:
    """Cut an INEI code to a coarser level (``district``, ``province``, ``department``).

    >>> coarsen_ubigeo("150101", level="province"), coarsen_ubigeo("15", level="province")
    ('1501', '15')
    """
    return code[: UBIGEO_LEVELS[level]]
