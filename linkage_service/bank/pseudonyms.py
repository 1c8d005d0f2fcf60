"""Person pseudonyms: random, not sequential, never derived from identifiers.

A pseudonym is ``P-`` followed by 10 characters of RFC 4648 base32 (50 random bits from
``secrets``), so two institutions that receive the same pseudonym learn only that they hold the
same person, and the order of creation says nothing about who was registered first.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Callable

from vinculo_common.errors import InputError

__all__ = ["PSEUDONYM_PATTERN", "check_pseudonym", "new_pseudonym"]

PSEUDONYM_PATTERN = re.compile(r"^P-[A-Z2-7]{10}$")


def new_pseudonym(*, random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """A fresh pseudonym; ``random_bytes`` is a parameter so tests can be deterministic.

    >>> new_pseudonym(random_bytes=lambda n: bytes(n))
    'P-AAAAAAAAAA'
    """
    return "P-" + base64.b32encode(random_bytes(7)).decode("ascii")[:10]


def check_pseudonym(value: str) -> str:
    """Return ``value`` if it has the shape of a pseudonym, else raise InputError.

    >>> check_pseudonym("P-ABCDEFGH23")
    'P-ABCDEFGH23'
    """
    if not PSEUDONYM_PATTERN.match(value):
        raise InputError(
            "seudónimo inválido: se espera 'P-' y 10 caracteres base32 (invalid pseudonym)"
        )
    return value
