"""The ``family`` and ``doc_near`` sections: keyed evidence that lets the service tell twins
apart (same surnames and birth date, different given names; consecutive DNIs) without learning
a name or a number. Byte layout and what the service compares: docs/encoding.md.

>>> keys = family_keys(bytes(32))
>>> from client_sdk.records import PartialDate, StandardizedRecord
>>> ana = StandardizedRecord(row=2, record_id="A", given_names="ANA LUZ", first_given_name="ANA",
...     surname_paternal="ROJAS", surname_maternal="QUISPE", birth_date=PartialDate(2001, 5, 3))
>>> twin = StandardizedRecord(row=3, record_id="B", given_names="ROSA", first_given_name="ROSA",
...     surname_paternal="QUISPE", surname_maternal="ROJAS", birth_date=PartialDate(2001, 5, 3))
>>> a, b = family_section(keys, ana), family_section(keys, twin)
>>> len(a), a[:32] == b[:32], a[32:] == b[32:]
(64, True, False)
>>> family_section(keys, StandardizedRecord(row=4, record_id="C", given_names="ANA")) == bytes(64)
True
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from client_sdk.records import StandardizedRecord

__all__ = [
    "DOC_NEAR_SIZE",
    "FAMILY_HASH_SIZE",
    "FAMILY_SIZE",
    "GIVEN_FILTER_BITS",
    "FamilyKeys",
    "doc_near_key",
    "doc_near_section",
    "family_keys",
    "family_section",
]

FAMILY_HASH_SIZE = 32
GIVEN_FILTER_BITS = 128
FAMILY_SIZE = FAMILY_HASH_SIZE + 2 * GIVEN_FILTER_BITS // 8
_HASH_INFO = b"vinculo family hash v1"
_GIVEN_INFO = b"vinculo family given v1"
DOC_NEAR_SIZE = 32
_DOC_NEAR_INFO = b"vinculo doc_near v1"


@dataclass(frozen=True, slots=True)
class FamilyKeys:
    """The two keys of the section, derived from the linkage secret (never the secret)."""

    family: bytes
    given: bytes


def _derive(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


def family_keys(linkage_secret: bytes) -> FamilyKeys:
    """Derive the section's keys once per batch."""
    return FamilyKeys(family=_derive(linkage_secret, _HASH_INFO),
                      given=_derive(linkage_secret, _GIVEN_INFO))


def _family_text(record: StandardizedRecord) -> str:
    """'A|B|YYYY|DD|MM': surnames sorted, day and month sorted; '' when incomplete.

    Sorting day and month makes a date written day-first in one registry and month-first in
    another (10/11 against 11/10) the same family, as sorting the surnames does for swapped
    surnames.
    """
    date = record.birth_date
    paternal, maternal = record.surname_paternal, record.surname_maternal
    if not (paternal and maternal and record.given_names and date is not None and date.is_full):
        return ""
    first, second = sorted((paternal, maternal))
    low, high = sorted((date.month or 0, date.day or 0))
    return f"{first}|{second}|{date.year:04d}|{low:02d}|{high:02d}"


def _given_filters(key: bytes, family: str, first: str, given: str) -> bytes:
    """The two filters (first given name, all given names), 32 bytes.

    One keyed BLAKE2b per record keys the family's own hash function; each distinct bigram costs
    one keyed BLAKE2b call (the first name's bigrams are among all the names' bigrams and are
    hashed once). Position j (0..127) is bit 7 − j mod 8 of byte j div 8, i.e. bit 127 − j of
    the filter read as a big-endian integer.
    """
    blake2b = hashlib.blake2b
    seed = blake2b(family.encode("utf-8"), key=key).digest()
    memo: dict[str, int] = {}

    def fill(text: str) -> int:
        padded = f" {text} "
        bits = 0
        for i in range(len(padded) - 1):
            gram = padded[i : i + 2]
            mask = memo.get(gram)
            if mask is None:
                d = blake2b(gram.encode("utf-8"), key=seed, digest_size=4).digest()
                mask = memo[gram] = (1 << (127 - (d[1] & 127))) | (1 << (127 - (d[3] & 127)))
            bits |= mask
        return bits

    whole = fill(given)
    return fill(first).to_bytes(16, "big") + whole.to_bytes(16, "big")


def family_section(keys: FamilyKeys, record: StandardizedRecord) -> bytes:
    """The 64 bytes of one record (all zero when surnames, birth date or given names lack)."""
    family = _family_text(record)
    if not family:
        return bytes(FAMILY_SIZE)
    given = record.given_names
    first = record.first_given_name or given.split(" ", 1)[0]
    digest = hmac.digest(keys.family, family.encode("utf-8"), "sha256")
    return digest + _given_filters(keys.given, family, first, given)


def doc_near_key(linkage_secret: bytes) -> bytes:
    """The key of ``doc_near``, derived from the linkage secret."""
    return _derive(linkage_secret, _DOC_NEAR_INFO)


def doc_near_section(key: bytes, document_class: str, number: str) -> bytes:
    """32 bytes for a DNI (class ``DNI``, 8 digits); zeros for any other document or none.

    >>> k = doc_near_key(bytes(32))
    >>> a, b, c = (doc_near_section(k, "DNI", n) for n in ("41234569", "41234570", "41234572"))
    >>> a[:16] == b[:16] or a[16:] == b[16:], b[:16] == c[:16] or b[16:] == c[16:]
    (True, False)
    >>> doc_near_section(k, "PAS", "41234569") == bytes(32)
    True
    """
    if document_class != "DNI" or len(number) != 8 or not number.isdigit():
        return bytes(DOC_NEAR_SIZE)
    value = int(number)
    halves = (value // 2, (value + 1) // 2)
    return b"".join(
        hashlib.blake2b(b"DNI\x00%d\x00%d" % (k, h), key=key, digest_size=16).digest()
        for k, h in enumerate(halves)
    )
