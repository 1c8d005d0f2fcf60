"""API tokens: creation, hashing and constant-time verification.

A token reads ``vnc_<token_id>_<secret>``: ``token_id`` (12 hex digits) finds the row, ``secret``
(32 random bytes, URL-safe base64) proves possession. Only ``SHA-256(secret)`` is stored. A
plain hash is enough here, unlike for passwords: the secret has 256 bits of entropy from
``secrets``, so no dictionary or brute-force search over hashes is possible, and a slow KDF would
only make every API call slower. Comparison is constant-time (``hmac.compare_digest``), and an
unknown token id is checked against a dummy hash so that it costs the same work and gets the
same answer as a wrong secret or a revoked token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from linkage_service.audit import record
from linkage_service.models import ROLES, ApiToken, Source, utcnow
from vinculo_common.errors import AuthError, InputError, NotFound

__all__ = [
    "TOKEN_PREFIX",
    "Actor",
    "actor_of_token_id",
    "authenticate",
    "create_token",
    "hash_secret",
    "parse_token",
    "record_console_visit",
    "revoke_token",
    "same_person",
]

TOKEN_PREFIX = "vnc"  # noqa: S105  (a prefix, not a secret)
_TOKEN_RE = re.compile(r"^vnc_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_INVALID = "token inválido o revocado (invalid or revoked token)"
_USER_LABEL = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_DUMMY_HASH = hashlib.sha256(b"vinculo dummy token secret").hexdigest()


@dataclass(frozen=True)
class Actor:
    """Who is calling: what the token says, never more. ``label`` is printable ASCII.

    >>> Actor(token_id="0123456789ab", role="operator").label
    'operator:0123456789ab'
    """

    token_id: str
    role: str
    source: str | None = None
    source_id: int | None = None
    user_label: str | None = None

    @property
    def label(self) -> str:
        """How the audit log and the logs name this caller."""
        parts = [self.role, self.token_id]
        if self.source:
            parts.append(self.source)
        if self.user_label:
            parts.append(self.user_label)
        return ":".join(parts)


def same_person(
    token_a: str, user_a: str | None, token_b: str, user_b: str | None
) -> bool:
    """Whether two callers are (or may be) the same person: same token, or same user label.

    >>> same_person("aaa", "ana", "bbb", "ANA")
    True
    >>> same_person("aaa", None, "bbb", None)
    False
    """
    if token_a == token_b:
        return True
    return bool(user_a and user_b and user_a.strip().casefold() == user_b.strip().casefold())


def hash_secret(secret: str) -> str:
    """Hex SHA-256 of a token secret.

    >>> len(hash_secret("x"))
    64
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def parse_token(token: str) -> tuple[str, str] | None:
    """Split a token into (token_id, secret), or None when it is not shaped like one.

    >>> parse_token("vnc_0123456789ab_" + "A" * 43)[0]
    '0123456789ab'
    >>> parse_token("hola") is None
    True
    """
    match = _TOKEN_RE.match(token.strip())
    if not match:
        return None
    return match.group(1), match.group(2)


def create_token(
    session: Session,
    *,
    role: str,
    source: str | None = None,
    user_label: str | None = None,
    now: datetime | None = None,
) -> tuple[str, ApiToken]:
    """Create a token; return the clear token (shown once, never stored) and its row.

    An ``uploader`` must name its source; other roles may not.
    """
    if role not in ROLES:
        raise InputError(f"rol desconocido {role!r}; roles válidos: {', '.join(ROLES)}")
    source_id: int | None = None
    if role == "uploader":
        if not source:
            raise InputError("el rol uploader requiere --source (uploader needs a source)")
        row = session.exec(select(Source).where(Source.name == source)).first()
        if row is None:
            raise NotFound(f"fuente no registrada: {source} (unknown source)")
        source_id = row.id
    elif source:
        raise InputError("solo el rol uploader se vincula a una fuente (--source)")
    if user_label is not None and not _USER_LABEL.match(user_label):
        raise InputError(
            "etiqueta de usuario inválida: 1-64 letras ASCII, dígitos o _ . @ - (invalid user "
            "label)"
        )
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    token = ApiToken(
        token_id=token_id,
        role=role,
        user_label=user_label,
        secret_hash=hash_secret(secret),
        source_id=source_id,
        created_at=now or utcnow(),
    )
    session.add(token)
    session.flush()
    return f"{TOKEN_PREFIX}_{token_id}_{secret}", token


def _actor_of(session: Session, row: ApiToken) -> Actor:
    source = session.get(Source, row.source_id) if row.source_id is not None else None
    return Actor(token_id=row.token_id, role=row.role, source=source.name if source else None,
                 source_id=row.source_id, user_label=row.user_label)


def actor_of_token_id(session: Session, token_id: str) -> Actor | None:
    """The Actor of a live (not revoked) token by its public id, or None (the console's
    session cookie names the token id; the token is looked up again on every request)."""
    row = session.exec(select(ApiToken).where(ApiToken.token_id == token_id)).first()
    if row is None or row.revoked_at is not None:
        return None
    return _actor_of(session, row)


def record_console_visit(session: Session, *, actor: Actor, action: str) -> None:
    """Record a console login, logout or home visit (``console.*``) in the caller's
    transaction."""
    record(session, actor=actor.label, action=action, objects=[f"token:{actor.token_id}"])


def authenticate(session: Session, token: str | None) -> Actor:
    """The Actor of a valid token; AuthError (one message for every failure) otherwise."""
    parsed = parse_token(token or "")
    token_id, secret = parsed if parsed else ("", "")
    row = (
        session.exec(select(ApiToken).where(ApiToken.token_id == token_id)).first()
        if parsed
        else None
    )
    expected = row.secret_hash if row is not None else _DUMMY_HASH
    matches = hmac.compare_digest(hash_secret(secret).encode(), expected.encode())
    if row is None or not matches or row.revoked_at is not None:
        raise AuthError(_INVALID)
    return _actor_of(session, row)


def revoke_token(session: Session, *, token_id: str, now: datetime | None = None) -> ApiToken:
    """Mark a token revoked; later calls with it get 401."""
    row = session.exec(select(ApiToken).where(ApiToken.token_id == token_id)).first()
    if row is None:
        raise NotFound("token desconocido (unknown token id)")
    row.revoked_at = now or utcnow()
    session.add(row)
    return row
