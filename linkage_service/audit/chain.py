"""The exact bytes that are hashed and signed in the audit log: ``entry_hash`` over a domain tag
and the entry's canonical JSON (``prev_hash`` included, 64 zeros for the first: ``GENESIS``),
and the Ed25519 signature of a checkpoint. Formulas: docs/audit.md.

"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from vinculo_common.batch import canonical_json
from vinculo_common.errors import InputError

__all__ = [
    "GENESIS",
    "OUTCOMES",
    "EntryFields",
    "check_label",
    "checkpoint_message",
    "entry_hash",
    "format_at",
    "normalise_objects",
    "to_utc_naive",
]

GENESIS = "0" * 64
OUTCOMES = ("ok", "denied", "failed")
_ENTRY_LABEL = b"vinculo audit entry v1\n"
_CHECKPOINT_LABEL = b"vinculo audit checkpoint v1\n"
# Object ids are pseudonyms, request ids, upload ids, source names: short ASCII tokens. Spaces
# and accented letters are refused, so a name cannot be logged as an "object" by mistake.
_OBJECT_ID = re.compile(r"^[A-Za-z0-9_.:@/+=-]{1,200}$")
# Actor labels and actions: 1-200 printable characters, no control characters, no edge spaces.
_LABEL = re.compile(r"^\S(?:[^\x00-\x1f\x7f]{0,198}\S)?$")


def to_utc_naive(at: datetime) -> datetime:
    """UTC wall time without tzinfo, as the database stores it (naive means UTC)."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at


def format_at(at: datetime) -> str:
    """Fixed-width UTC timestamp used in hashes.

    >>> format_at(datetime(2024, 5, 1, 12, 0, tzinfo=UTC))
    '2024-05-01T12:00:00.000000Z'
    """
    return to_utc_naive(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def normalise_objects(objects: Sequence[str | int]) -> list[str]:
    """Check and stringify object ids; raise InputError for anything that is not an id."""
    if isinstance(objects, str | bytes):
        raise InputError("objects debe ser una lista de ids (objects must be a list)")
    out = []
    for obj in objects:
        text = str(obj) if isinstance(obj, int) and not isinstance(obj, bool) else obj
        if not isinstance(text, str) or not _OBJECT_ID.match(text):
            raise InputError(
                "id de objeto inválido para la bitácora: solo ids cortos ASCII sin espacios "
                "(audit object ids must be short ASCII ids)"
            )
        out.append(text)
    return out


def check_label(value: str, what: str) -> str:
    if not isinstance(value, str) or not _LABEL.match(value):
        raise InputError(f"{what} inválido para la bitácora: 1-200 caracteres imprimibles")
    return value


@dataclass(frozen=True)
class EntryFields:
    """Everything an entry's hash covers."""

    seq: int
    at: datetime
    actor: str
    action: str
    objects: tuple[str, ...]
    reason: str | None
    outcome: str
    prev_hash: str

    def canonical_objects(self) -> str:
        """The ``objects`` column: canonical JSON text of the id list."""
        return canonical_json(list(self.objects)).decode()

    def canonical(self) -> bytes:
        return canonical_json(
            {
                "seq": self.seq,
                "at": format_at(self.at),
                "actor": self.actor,
                "action": self.action,
                "objects": list(self.objects),
                "reason": self.reason,
                "outcome": self.outcome,
                "prev_hash": self.prev_hash,
            }
        )


def entry_hash(fields: EntryFields) -> str:
    """Hex SHA-256 of an entry's canonical encoding.

    >>> f = EntryFields(seq=1, at=datetime(2024, 1, 1), actor="u", action="a", objects=(),
    ...                 reason=None, outcome="ok", prev_hash=GENESIS)
    >>> len(entry_hash(f))
    64
    """
    return hashlib.sha256(_ENTRY_LABEL + fields.canonical()).hexdigest()


def checkpoint_message(
    *, number: int, seq: int, entry_hash: str, at: datetime, key_id: str
) -> bytes:
    """The bytes the service signs for a checkpoint."""
    return _CHECKPOINT_LABEL + canonical_json(
        {"number": number, "seq": seq, "entry_hash": entry_hash, "at": format_at(at),
         "key_id": key_id}
    )
