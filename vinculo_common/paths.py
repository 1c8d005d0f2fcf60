"""Where the project's data files live, in a checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

__all__ = ["schemas_dir", "ubigeo_dir"]

_PKG = Path(__file__).resolve().parent


def schemas_dir() -> Path:
    """The ``schemas/`` folder: the checkout's, or the copy packed into the wheel."""
    for candidate in (_PKG.parent / "schemas", _PKG / "_schemas"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("schemas/ folder not found beside vinculo_common")


def ubigeo_dir() -> Path:
    """INEI/RENIEC UBIGEO tables (MIT licence, LICENSE beside them)."""
    return _PKG / "data" / "ubigeo"
