"""Public surfaces are real: every name a module lists in ``__all__`` exists, is listed once,
and every public function or class a library module defines is listed (so ``__all__`` is the
module's contract, not a stale copy). Route handlers, console pages and CLI commands are
registered by decorators, not imported by name, so their modules are held only to the first
two rules."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("vinculo_common", "client_sdk", "linkage_service", "vinculo_lab", "vinculo_cli")
ADAPTERS = ("linkage_service.api.", "linkage_service.web.", "vinculo_cli.")


def _modules() -> list[tuple[str, Path]]:
    out = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(REPO).with_suffix("").parts
            out.append((".".join(parts[:-1] if parts[-1] == "__init__" else parts), path))
    return out


def unlisted_public_names(module: object, path: Path) -> list[str]:
    listed = set(getattr(module, "__all__", ()))
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node.name for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.ClassDef)
            and not node.name.startswith("_") and node.name not in listed]


@pytest.mark.parametrize(("name", "path"), _modules(), ids=[n for n, _ in _modules()])
def test_all_lists_what_the_module_offers(name: str, path: Path) -> None:
    module = importlib.import_module(name)
    listed = getattr(module, "__all__", None)
    if listed is None:
        assert path.name == "__init__.py", f"{name} has no __all__"
        return
    assert len(listed) == len(set(listed)), f"{name}: a name is listed twice"
    missing = [n for n in listed if not hasattr(module, n)]
    assert missing == [], f"{name}.__all__ names what it does not define: {missing}"
    if path.name != "__init__.py" and not name.startswith(ADAPTERS):
        assert unlisted_public_names(module, path) == [], f"{name}: public but not in __all__"


def test_an_unlisted_public_function_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "mod.py"
    path.write_text('__all__ = ["a"]\ndef a(): ...\ndef b(): ...\ndef _c(): ...\n')

    import types

    module = types.ModuleType("mod")
    module.__all__ = ["a"]
    assert unlisted_public_names(module, path) == ["b"]
