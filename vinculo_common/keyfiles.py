"""Layout of a keys directory, as ``vinculo keys init`` writes it (see keys/README.md).

    DIR/
      linkage_secret.key          shared linkage secret (institutions only; 0600)
      linkage_secret.kcv          its public check value (the service may hold it)
      service/signing.key|.pub    the service's Ed25519 key pair (signs reid packages, checkpoints)
      sources/<S>/record_ref.key  S's HMAC key for record references (0600)
      sources/<S>/signing.key|.pub   S's Ed25519 key pair (signs batches)
      sources/<S>/box.key|.pub       S's X25519 key pair (sealed locators, reid packages)

Private files end in ``.key`` and are written 0600; public files end in ``.pub``/``.kcv``.
Keys are stored PEM (PKCS#8 / SubjectPublicKeyInfo); symmetric secrets as hex text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from vinculo_common.errors import InputError

__all__ = ["SOURCE_NAME", "KeyDir", "SourceKeyPaths", "check_source_name"]

SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


def check_source_name(source: str) -> str:
    if not SOURCE_NAME.match(source):
        raise InputError(
            f"nombre de fuente inválido {source!r}: use 2-32 letras minúsculas, dígitos o '_'"
            " (invalid source name)"
        )
    return source


@dataclass(frozen=True)
class SourceKeyPaths:
    root: Path

    @property
    def record_ref_key(self) -> Path:
        return self.root / "record_ref.key"

    @property
    def signing_key(self) -> Path:
        return self.root / "signing.key"

    @property
    def signing_pub(self) -> Path:
        return self.root / "signing.pub"

    @property
    def box_key(self) -> Path:
        return self.root / "box.key"

    @property
    def box_pub(self) -> Path:
        return self.root / "box.pub"


@dataclass(frozen=True)
class KeyDir:
    root: Path

    @property
    def linkage_secret(self) -> Path:
        return self.root / "linkage_secret.key"

    @property
    def linkage_kcv(self) -> Path:
        return self.root / "linkage_secret.kcv"

    @property
    def service_signing_key(self) -> Path:
        return self.root / "service" / "signing.key"

    @property
    def service_signing_pub(self) -> Path:
        return self.root / "service" / "signing.pub"

    def source(self, source: str) -> SourceKeyPaths:
        return SourceKeyPaths(self.root / "sources" / check_source_name(source))
