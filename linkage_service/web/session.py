"""Console sessions and CSRF tokens: a cookie signed by the service that holds no part of the
API token (``v1.<token_id>.<expires>.<nonce>.<mac>``), looked up again on every request so a
revoked token ends its sessions; a form's CSRF token is an HMAC of the session's nonce. Details
and limits (one process's list of ended sessions): docs/console.md.

"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "ANONYMOUS",
    "SESSION_TTL",
    "ConsoleSession",
    "SessionKeys",
    "end_session",
    "is_ended",
    "issue_session",
    "read_session",
]

SESSION_TTL = timedelta(hours=8)
ANONYMOUS = "-"
_VALUE = re.compile(
    r"^v1\.(-|[0-9a-f]{12})\.([0-9]{1,12})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$")
_ENDED: dict[str, datetime] = {}
_ENDED_LOCK = threading.Lock()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class SessionKeys:
    """The console's HMAC key, derived from the service key (stable across restarts).

    >>> keys = SessionKeys.from_service_key(Ed25519PrivateKey.generate())
    >>> len(keys.mac_key)
    32
    """

    mac_key: bytes

    @classmethod
    def from_service_key(cls, service_key: Ed25519PrivateKey) -> SessionKeys:
        raw = service_key.private_bytes_raw()
        return cls(hmac.new(raw, b"vinculo console session v1", hashlib.sha256).digest())

    def mac(self, message: str) -> str:
        return _b64(hmac.new(self.mac_key, message.encode("ascii"), hashlib.sha256).digest())


@dataclass(frozen=True)
class ConsoleSession:
    """A verified session value: who (``token_id`` or None when anonymous), until when."""

    token_id: str | None
    expires: datetime
    nonce: str

    def csrf_token(self, keys: SessionKeys) -> str:
        """The token every form of this session carries."""
        return keys.mac("csrf|" + self.nonce)

    def csrf_ok(self, keys: SessionKeys, candidate: object) -> bool:
        return isinstance(candidate, str) and hmac.compare_digest(
            candidate.encode("ascii", "replace"), self.csrf_token(keys).encode("ascii"))


def issue_session(
    keys: SessionKeys, *, token_id: str | None, now: datetime, ttl: timedelta = SESSION_TTL
) -> tuple[str, ConsoleSession]:
    """A new cookie value and its session (fresh nonce, so a login never reuses a session).

    >>> keys = SessionKeys(b"k" * 32)
    >>> start = datetime(2025, 1, 1, tzinfo=UTC)
    >>> value, s = issue_session(keys, token_id="0123456789ab", now=start)
    >>> read_session(keys, value, now=start + timedelta(hours=1)) == s
    True
    """
    expires = (now + ttl).astimezone(UTC).replace(microsecond=0)
    nonce = _b64(secrets.token_bytes(16))
    body = f"v1.{token_id or ANONYMOUS}.{int(expires.timestamp())}.{nonce}"
    return f"{body}.{keys.mac(body)}", ConsoleSession(token_id=token_id, expires=expires,
                                                       nonce=nonce)


def read_session(keys: SessionKeys, value: str | None, *, now: datetime) -> ConsoleSession | None:
    """The session of a cookie value, or None if absent, malformed, forged, expired or ended.

    >>> read_session(SessionKeys(b"k" * 32), "v1.-.1.x.y", now=datetime.now(UTC)) is None
    True
    """
    match = _VALUE.match(value or "")
    if match is None:
        return None
    token_id, expires_s, nonce, mac = match.groups()
    body = f"v1.{token_id}.{expires_s}.{nonce}"
    if not hmac.compare_digest(mac.encode("ascii"), keys.mac(body).encode("ascii")):
        return None
    expires = datetime.fromtimestamp(int(expires_s), UTC)
    if now >= expires or is_ended(nonce, now=now):
        return None
    return ConsoleSession(token_id=None if token_id == ANONYMOUS else token_id,
                          expires=expires, nonce=nonce)


def end_session(session: ConsoleSession, *, now: datetime) -> None:
    """Refuse this session's value from now on (logout); forgotten once it has expired anyway."""
    with _ENDED_LOCK:
        for nonce, until in list(_ENDED.items()):
            if until <= now:
                del _ENDED[nonce]
        _ENDED[session.nonce] = session.expires


def is_ended(nonce: str, *, now: datetime) -> bool:
    with _ENDED_LOCK:
        until = _ENDED.get(nonce)
    return until is not None and now < until
