"""Every ``>>>`` example in the project's packages is true: each module that has one is found
by scanning the sources (so a new example is run without touching this file) and run here."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("vinculo_common", "client_sdk", "linkage_service", "vinculo_lab", "vinculo_cli")


def modules_with_examples() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if ">>> " in path.read_text(encoding="utf-8") and "migrations" not in path.parts:
                parts = path.relative_to(REPO).with_suffix("").parts
                found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


MODULES = modules_with_examples()


def test_examples_are_found() -> None:
    assert "linkage_service.linkage.link" in MODULES and len(MODULES) > 40


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has '>>> ' but no example doctest can run"
    assert result.failed == 0
