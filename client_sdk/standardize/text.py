"""Text folding shared by every standardization rule.

Two foldings, for two purposes:

- :func:`fold_name` makes a *name* comparable: upper case, accents dropped, ``Ñ`` kept distinct
  from ``N``, code-page damage repaired, punctuation turned into spaces, spaces collapsed.
- :func:`value_key` makes a *code-list value or column header* comparable: the same, but ``Ñ``
  folded to ``N`` and punctuation removed, so ``"D.N.I."``, ``"dni"`` and ``"DNI "`` are one key.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from vinculo_common.errors import InputError

__all__ = ["InvalidValue", "Salvaged", "fold_name", "header_key", "repair_mojibake", "value_key"]


class InvalidValue(InputError):
    """A value a rule cannot accept. The message is Spanish first and never holds the value."""


class Salvaged(InvalidValue):
    """A value a rule cannot accept whole, part of which it keeps: ``value`` is that part (the
    year of an impossible date, the province of an unknown district). The message says what
    was wrong and what was kept; validation keeps the record with ``value`` and notes it."""

    def __init__(self, reason: str, value: object) -> None:
        super().__init__(reason)
        self.value = value

# Ñ as damaged by a wrong code page: UTF-8 read as Windows-1252 (Ã‘, Ã±), CP850/437 read as
# Windows-1252 (¥, ¤), and the em dash / eth some exports show in its place.
_DOUBLE_ENCODED = re.compile("Ã[\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192"
                             "\u02c6\u02dc\u2013-\u203a\u20ac\u2122]")
_ENYE_STANDINS = re.compile(r"(?<=[A-Z])[—Ð¥¤]|[—Ð¥¤](?=[A-Z])")
# A lost character shown as "?" or U+FFFD: between vowels (or starting a word before a vowel)
# it was an Ñ (PE?A, MU?OZ, ?AHUI); elsewhere an accented vowel we cannot know, so it is
# dropped rather than split the word in two.
_LOST_ENYE = re.compile(r"(?<=[AEIOU])[?\ufffd](?=[AEIOU])|(?<![A-ZÑ])[?\ufffd](?=[AEIOU])")
_LOST_OTHER = re.compile(r"(?<=[A-ZÑ])[?\ufffd]+(?=[A-ZÑ])")
# Scanner confusions: a digit inside a word is the letter it looks like (QUI5PE, R0SA).
_OCR_IN_WORD = re.compile(r"(?<=[A-ZÑ])[0-8]|[0-8](?=[A-ZÑ])")
_OCR_LETTERS = str.maketrans("012345678", "OIZEASGTB")
_NOT_NAME = re.compile(r"[^A-ZÑ ]+")
_SPACES = re.compile(r"\s+")
_NOT_KEY = re.compile(r"[^0-9A-Z ]+")
# Marks that look like letters once decomposed: "Nº" must not become "NO".
_ORDINALS = str.maketrans({"º": " ", "ª": " ", "°": " "})


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 text that was decoded as Windows-1252 (``"MUÃ‘OZ"`` → ``"MUÑOZ"``).

    >>> repair_mojibake("MUÃ‘OZ")
    'MUÑOZ'
    """
    if "Ã" not in text or not _DOUBLE_ENCODED.search(text):
        return text
    try:
        return text.encode("cp1252").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return _DOUBLE_ENCODED.sub(_repair_pair, text)


def _repair_pair(match: re.Match[str]) -> str:
    try:
        return match.group(0).encode("cp1252").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return match.group(0)


def _strip_accents_keep_enye(text: str) -> str:
    out: list[str] = []
    for char in unicodedata.normalize("NFD", text):
        if unicodedata.combining(char):
            if char == "\u0303" and out and out[-1] == "N":  # N + combining tilde = Ñ
                out[-1] = "Ñ"
            continue
        out.append(char)
    return "".join(out)


@lru_cache(maxsize=131072)
def fold_name(text: str) -> str:
    """Upper case, accents folded except ``Ñ``, damaged ``Ñ`` repaired, only letters and spaces.

    >>> fold_name("  María-José  Muñoz ")
    'MARIA JOSE MUÑOZ'
    >>> fold_name("CASTA—EDA"), fold_name("PEÐA"), fold_name("MU?OZ"), fold_name("QUI5PE")
    ('CASTAÑEDA', 'PEÑA', 'MUÑOZ', 'QUISPE')
    """
    if text.isascii():
        upper = text.upper()
        if upper.replace(" ", "").isalpha():
            # Only ASCII letters and spaces: every rule below would leave it as it is.
            return " ".join(upper.split())
    text = repair_mojibake(text).upper()
    text = _ENYE_STANDINS.sub("Ñ", text)
    if not text.isascii():
        text = _strip_accents_keep_enye(text)
    if "?" in text or "\ufffd" in text:
        text = _LOST_OTHER.sub("", _LOST_ENYE.sub("Ñ", text))
    if not text.isalpha():
        text = _OCR_IN_WORD.sub(lambda m: m.group(0).translate(_OCR_LETTERS), text)
    text = _NOT_NAME.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


@lru_cache(maxsize=65536)
def value_key(text: str) -> str:
    """Lookup key for code-list values: folded, upper case, punctuation removed.

    >>> value_key("D.N.I."), value_key(" Explotación  sexual "), value_key("Niño")
    ('DNI', 'EXPLOTACION SEXUAL', 'NINO')
    """
    text = repair_mojibake(text).translate(_ORDINALS).upper()
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in decomposed if not unicodedata.combining(c))
    text = text.replace(".", "")
    text = _NOT_KEY.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def header_key(text: str) -> str:
    """Lookup key for column headers: like :func:`value_key` with spaces and ``_`` removed.

    >>> header_key("FEC. NACIMIENTO") == header_key("fec_nacimiento")
    True
    >>> header_key("N° REGISTRO"), header_key("Nº registro")
    ('NREGISTRO', 'NREGISTRO')
    """
    return value_key(text.replace("_", " ")).replace(" ", "")
