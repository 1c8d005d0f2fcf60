"""Identity documents: type code lists, DNI cleaning and RENIEC check character.

>>> clean_document_number("12345678-E", document_type="DNI")
'12345678'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from client_sdk.standardize.text import InvalidValue, value_key

__all__ = [
    "DOCUMENT_TYPES",
    "clean_dni",
    "clean_document_number",
    "dni_check_characters",
    "normalize_document_type",
]

DOCUMENT_TYPES = ("DNI", "CE", "PASAPORTE", "PTP", "CPP", "OTRO")

_TYPE_ALIASES: dict[str, str] = {
    "DNI": "DNI", "DOCUMENTO NACIONAL DE IDENTIDAD": "DNI", "LE": "DNI",
    "LIBRETA ELECTORAL": "DNI", "CUI": "DNI",
    "CE": "CE", "CARNE DE EXTRANJERIA": "CE", "CARNET DE EXTRANJERIA": "CE",
    "CARNE EXTRANJERIA": "CE", "CARNET EXTRANJERIA": "CE",
    "PASAPORTE": "PASAPORTE", "PAS": "PASAPORTE", "PASS": "PASAPORTE", "PASSPORT": "PASAPORTE",
    "PTP": "PTP", "PERMISO TEMPORAL DE PERMANENCIA": "PTP",
    "CPP": "CPP", "CARNE DE PERMISO TEMPORAL DE PERMANENCIA": "CPP",
    "CARNET DE PERMISO TEMPORAL DE PERMANENCIA": "CPP",
    "OTRO": "OTRO", "OTROS": "OTRO", "PARTIDA DE NACIMIENTO": "OTRO", "CEDULA": "OTRO",
    "CEDULA DE IDENTIDAD": "OTRO",
    "SIN DOCUMENTO": "", "NINGUNO": "", "NO TIENE": "", "INDOCUMENTADO": "",
    "INDOCUMENTADA": "", "NO REGISTRA": "",
}
_SEPARATORS = re.compile(r"[\s.\-/_]+")
# A scanner or a tired clerk reads these letters for digits; a DNI has no letters but the check.
_OCR_DIGITS = str.maketrans("OQDILZSBG", "001112586")
_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)
_CHECK_DIGITS = "65432110987"
_CHECK_LETTERS = "KJIHGFEDCBA"


def normalize_document_type(value: str, *, codes: Mapping[str, str] | None = None) -> str:
    """Canonical document type (``DNI``, ``CE``, ``PASAPORTE``, ``PTP``, ``CPP``, ``OTRO``, "").

    ``codes`` is the source's own code list (keys as :func:`value_key` folds them).

    >>> normalize_document_type("D.N.I."), normalize_document_type("Carné de extranjería")
    ('DNI', 'CE')
    >>> normalize_document_type("1", codes={"1": "DNI"})
    'DNI'
    """
    key = value_key(value)
    if not key:
        return ""
    if codes and key in codes:
        return codes[key]
    try:
        return _TYPE_ALIASES[key]
    except KeyError:
        raise InvalidValue("tipo de documento no reconocido (unknown document type)") from None


def dni_check_characters(number: str) -> str:
    """The two accepted RENIEC check characters of an 8-digit DNI: a digit and a letter.

    Weights 3,2,7,6,5,4,3,2; the weighted sum modulo 11 indexes ``65432110987`` (digit) and
    ``KJIHGFEDCBA`` (letter).

    >>> dni_check_characters("12345678")  # 138 mod 11 = 6
    '1E'
    """
    remainder = sum(w * int(d) for w, d in zip(_WEIGHTS, number, strict=True)) % 11
    return _CHECK_DIGITS[remainder] + _CHECK_LETTERS[remainder]


@lru_cache(maxsize=65536)
def clean_dni(raw: str) -> str:
    """8 digits, leading zeros restored; a 9th check character is verified and dropped.

    Letters a scanner reads for digits (``O``→0, ``I``/``L``→1, ``S``→5, ``B``→8, …) are read
    back as digits in the first 8 places. Raises :class:`InvalidValue` for other letters, fewer
    than 6 digits, or a wrong check character.

    >>> clean_dni("01234567"), clean_dni("1234567"), clean_dni("12345678-1")
    ('01234567', '01234567', '12345678')
    >>> clean_dni("123456781"), clean_dni("1234567-D")
    ('12345678', '01234567')
    """
    upper = raw.strip().upper()
    head, dash, tail = upper.rpartition("-")
    if dash and len(tail.strip()) == 1:  # "12345678-1": the check character is explicit
        number, check = _SEPARATORS.sub("", head).translate(_OCR_DIGITS), tail.strip()
    else:
        compact = _SEPARATORS.sub("", upper)
        number, check = compact[:8].translate(_OCR_DIGITS), compact[8:]
        if len(compact) < 9:
            check = ""
        elif len(compact) > 9:
            number = compact  # too long: reported as malformed below
        if compact[-1:] and compact[-1] in _CHECK_LETTERS and compact[:-1].isdigit() and (
                6 <= len(compact) - 1 <= 7):
            # a lost leading zero and a check letter: "1234567D" is 01234567 + D
            short, letter = compact[:-1].zfill(8), compact[-1]
            if letter in dni_check_characters(short) or not number.isdigit():
                number, check = short, letter
    if not number.isdigit() or not number.isascii() or not 6 <= len(number) <= 8:
        raise InvalidValue("número de DNI mal formado (malformed DNI number)")
    number = number.zfill(8)
    if check and check not in dni_check_characters(number):
        raise InvalidValue(
            "dígito verificador del DNI no coincide (DNI check character does not match)"
        )
    return number


def clean_document_number(raw: str, *, document_type: str) -> str:
    """A document number cleaned for its type: DNI by :func:`clean_dni`, others upper alphanumeric.

    A number made of one repeated digit (``00000000``) is a placeholder and becomes ``""``.

    >>> clean_document_number(" ab-123.456 ", document_type="PASAPORTE")
    'AB123456'
    >>> clean_document_number("00000000", document_type="DNI")
    ''
    """
    if document_type == "DNI" and len(raw) == 8 and raw.isdigit() and raw.isascii():
        return "" if raw.count(raw[0]) == 8 else raw  # the common case, cheaply
    compact = _SEPARATORS.sub("", raw).upper()
    if not compact or (compact.isdigit() and len(set(compact)) == 1):
        return ""
    if document_type == "DNI":
        return clean_dni(raw.strip())
    if not compact.isalnum() or not compact.isascii() or not 4 <= len(compact) <= 20:
        raise InvalidValue(
            "número de documento mal formado: se esperan 4 a 20 letras o dígitos "
            "(malformed document number)"
        )
    return compact
