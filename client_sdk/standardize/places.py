"""UBIGEO codes: validated against the INEI table, RENIEC codes translated, coarsened by policy.

>>> standardize_ubigeo("150100"), standardize_ubigeo("140101", system="reniec")
('1501', '150101')
"""

from __future__ import annotations

import re
from functools import lru_cache

from client_sdk.standardize.text import InvalidValue, Salvaged
from vinculo_common import ubigeo

__all__ = ["UBIGEO_LEVELS", "UBIGEO_SYSTEMS", "coarsen_ubigeo", "standardize_ubigeo"]

UBIGEO_SYSTEMS = ("inei", "reniec")
UBIGEO_LEVELS = {"district": 6, "province": 4, "department": 2}
_SEPARATORS = re.compile(r"(?<=\d)[\s./-]+(?=\d)")


@lru_cache(maxsize=16384)
def standardize_ubigeo(text: str, *, system: str = "inei") -> str:
    """The INEI code (2, 4 or 6 digits) of a UBIGEO written as 1–6 digits; ``""`` stays ``""``.

    A leading zero lost by a spreadsheet is restored (``10101`` → ``010101``); a 6-digit code
    ending in ``00``/``0000`` is a province/department. With ``system="reniec"`` the code is
    translated from RENIEC's numbering. With ``system="inei"`` an INEI code is kept as it is
    and a code that only RENIEC knows is translated (its only valid reading; a code valid in
    both is read as INEI). Separators between digits are dropped (``15-01-01``). An unknown
    code whose province or department is known raises :class:`Salvaged` with that coarser
    code; a malformed or wholly unknown code raises :class:`InvalidValue`.

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
    if not code.isdigit():
        code = _SEPARATORS.sub("", code)  # "15-01-01", "15 01 01"
    if not code.isdigit() or not code.isascii() or len(code) > 6:
        raise InvalidValue("UBIGEO mal formado: se esperan 2, 4 o 6 dígitos (malformed UBIGEO)")
    if len(code) % 2:
        code = "0" + code
    code = ubigeo.canonical_code(code)
    found = _known(code, system)
    if found is not None:
        return found
    # An unknown district (or province): the department and province it names may still be
    # right, and where the victim lives or was exploited matters for the statistics.
    for level, size in (("la provincia", 4), ("el departamento", 2)):
        if len(code) > size and (found := _known(code[:size], system)) is not None:
            raise Salvaged(f"UBIGEO desconocido: se conserva {level} (unknown UBIGEO: "
                           f"{'province' if size == 4 else 'department'} kept)", found)
    if system == "reniec":
        raise InvalidValue("UBIGEO RENIEC desconocido (unknown RENIEC UBIGEO)")
    raise InvalidValue("UBIGEO desconocido en las tablas INEI y RENIEC (unknown UBIGEO)")


def _known(code: str, system: str) -> str | None:
    """The INEI code of ``code`` in ``system``'s numbering, or None if no table has it."""
    if system == "reniec":
        return ubigeo.reniec_to_inei(code)
    if ubigeo.is_inei(code):
        return code
    # Not an INEI code but a RENIEC one: RENIEC codes (copied from a DNI) are the usual slip in
    # an INEI column, and this is the code's only valid reading.
    return ubigeo.reniec_to_inei(code)


def coarsen_ubigeo(code: str, *, level: str) -> str:
    """Cut an INEI code to a coarser level (``district``, ``province``, ``department``).

    >>> coarsen_ubigeo("150101", level="province"), coarsen_ubigeo("15", level="province")
    ('1501', '15')
    """
    return code[: UBIGEO_LEVELS[level]]
