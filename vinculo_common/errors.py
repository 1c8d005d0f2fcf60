"""The one error tree of vinculo. Everything the project raises on purpose is a VinculoError.

    VinculoError                 base; ``exit_code`` for the CLI, ``http_status`` for the API
    ├── InputError               bad input file, option or argument (the user can fix it)
    │   └── MappingError         a source mapping file is malformed
    ├── ConfigError              missing or unsafe configuration (keys, settings)
    ├── SchemaMismatch           batch made with another linkage schema, secret or format
    ├── IntegrityError           signature, hash chain or package authentication failed
    ├── AuthError                no or unknown credentials (401)
    ├── PermissionDenied         authenticated but not allowed (403)
    ├── NotFound                 unknown object (404)
    ├── Conflict                 state does not allow the operation (409)
    ├── LimitExceeded            a configured limit was hit (413)
    │   └── RateLimited          a limit per period was hit (429)
    └── ServiceError             the service answered with an error (SDK side)

Errors of clkhash, anonlink, httpx and the database are translated into these at the boundary.
Messages never contain identifiers (names, document numbers, birth dates, record ids).
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ConfigError",
    "Conflict",
    "InputError",
    "IntegrityError",
    "LimitExceeded",
    "MappingError",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "SchemaMismatch",
    "ServiceError",
    "VinculoError",
]


class VinculoError(Exception):
    """Base of every error vinculo raises on purpose.

    >>> raise InputError("el archivo no existe: export.csv")
    Traceback (most recent call last):
    ...
    vinculo_common.errors.InputError: el archivo no existe: export.csv
    """

    exit_code: int = 1
    http_status: int = 400


class InputError(VinculoError):
    exit_code = 2
    http_status = 422


class MappingError(InputError):
    pass


class ConfigError(VinculoError):
    exit_code = 3
    http_status = 500


class SchemaMismatch(VinculoError):
    exit_code = 4
    http_status = 422


class IntegrityError(VinculoError):
    exit_code = 5
    http_status = 422


class AuthError(VinculoError):
    exit_code = 6
    http_status = 401


class PermissionDenied(VinculoError):
    exit_code = 6
    http_status = 403


class NotFound(VinculoError):
    exit_code = 7
    http_status = 404


class Conflict(VinculoError):
    exit_code = 8
    http_status = 409


class LimitExceeded(VinculoError):
    exit_code = 9
    http_status = 413


class RateLimited(LimitExceeded):
    """Too many calls in a period (re-identification requests per day): try again later."""

    http_status = 429


class ServiceError(VinculoError):
    """The service refused a call; ``status`` is its HTTP status, the message its reason."""

    exit_code = 10

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status
