"""The layers stay as drawn in docs/design.md: which package may import which (lazy imports
inside functions count too), no discovery by name, and explicit registries that list every
module they should.
"""

from __future__ import annotations

import ast
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("vinculo_common", "client_sdk", "linkage_service", "vinculo_lab", "vinculo_cli")

# The service's parts, from the bottom: infrastructure, the pure linkage core, the domain
# (use cases that change state and audit), then the HTTP adapters and the app that wires them.
_INFRA = {"linkage_service.settings", "linkage_service.db", "linkage_service.logs",
          "linkage_service.models"}
_DOMAIN = {"linkage_service.audit", "linkage_service.auth", "linkage_service.store",
           "linkage_service.bank", "linkage_service.reid", "linkage_service.stats",
           "linkage_service.admin", "linkage_service.service_key", "linkage_service.backup",
           "linkage_service.custody"}
_CORE = {"linkage_service.linkage"}
_ADAPTERS = {"linkage_service.api", "linkage_service.web"}

# layer -> the layers it may import (besides itself).
ALLOWED: dict[str, set[str]] = {
    "vinculo_common": set(),
    "client_sdk": {"vinculo_common"},
    "linkage_service.linkage": {"vinculo_common"},
    **{m: {"vinculo_common"} | _INFRA for m in _INFRA},
    **{m: {"vinculo_common"} | _INFRA | _CORE | _DOMAIN for m in _DOMAIN},
    "linkage_service.api": {"vinculo_common"} | _INFRA | _CORE | _DOMAIN,
    "linkage_service.web": {"vinculo_common", "linkage_service.api"} | _INFRA | _CORE | _DOMAIN,
    "linkage_service.app": {"vinculo_common"} | _INFRA | _DOMAIN | _ADAPTERS,
    "linkage_service.migrations": {"vinculo_common"} | _INFRA,
    "vinculo_lab": {"vinculo_common", "client_sdk"} | _INFRA | _CORE | _DOMAIN,
    "vinculo_cli": {"vinculo_common", "client_sdk", "vinculo_lab", "linkage_service.app"}
    | _INFRA | _DOMAIN,
}


def layer_of(module: str) -> str:
    """``linkage_service.bank.jobs`` -> ``linkage_service.bank``; other packages are one layer.

    >>> layer_of("linkage_service.api.routes.jobs"), layer_of("client_sdk.encode_export")
    ('linkage_service.api', 'client_sdk')
    """
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "linkage_service" and len(parts) > 1 else parts[0]


def imports_of(root: Path, packages: tuple[str, ...]) -> Iterator[tuple[str, str, int]]:
    """(importing module, imported module, line) for every project import under ``root``."""
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            module = ".".join(path.relative_to(root).with_suffix("").parts)
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module]
                    if node.module in packages or node.module == "linkage_service":
                        names = [f"{node.module}.{alias.name}" for alias in node.names]
                for name in names:
                    if name.split(".")[0] in packages:
                        yield module, name, node.lineno


def violations(root: Path, packages: tuple[str, ...] = PACKAGES) -> list[str]:
    found = []
    for module, imported, line in imports_of(root, packages):
        source, target = layer_of(module), layer_of(imported)
        if source == target:
            continue
        if target not in ALLOWED.get(source, set()):
            found.append(f"{module}:{line} imports {imported} ({source} -> {target})")
    return found


def test_imports_follow_the_layers() -> None:
    assert violations(REPO) == []


def test_every_layer_is_drawn() -> None:
    """A new part of the service must be placed in ALLOWED (and docs/design.md) on purpose."""
    layers = {layer_of(module) for module, _, _ in imports_of(REPO, PACKAGES)}
    assert layers - set(ALLOWED) == set()


@pytest.mark.parametrize(("module", "line", "reason"), [
    ("client_sdk/leak.py", "from linkage_service.linkage import link", "client_sdk ->"),
    ("linkage_service/bank/leak.py", "from linkage_service.api.deps import SessionDep",
     "linkage_service.bank -> linkage_service.api"),
    ("linkage_service/linkage/leak.py", "def f():\n    from linkage_service.models import Upload",
     "linkage_service.linkage -> linkage_service.models"),
    ("client_sdk/leak.py", "import vinculo_lab.synth", "client_sdk -> vinculo_lab"),
    ("linkage_service/reid/leak.py", "from linkage_service import web",
     "linkage_service.reid -> linkage_service.web"),
])
def test_a_wrong_import_is_caught(tmp_path: Path, module: str, line: str, reason: str) -> None:
    path = tmp_path / module
    path.parent.mkdir(parents=True)
    path.write_text(line + "\n", encoding="utf-8")
    found = violations(tmp_path)
    assert len(found) == 1 and reason in found[0]


def test_no_module_is_imported_by_a_computed_name() -> None:
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert "importlib.import_module" not in text, path
            assert "pkgutil.iter_modules" not in text, path


def test_explicit_registries_list_every_module() -> None:
    from linkage_service.api import routes
    from linkage_service.api.main import ROUTE_MODULES
    from vinculo_cli.main import AREAS

    route_names = {info.name for info in pkgutil.iter_modules(routes.__path__)}
    assert {m.__name__.rsplit(".", 1)[1] for m in ROUTE_MODULES} == route_names

    import vinculo_cli

    registering = {info.name for info in pkgutil.iter_modules(vinculo_cli.__path__)
                   if "def register(" in (REPO / "vinculo_cli" / f"{info.name}.py").read_text()}
    assert {m.__name__.rsplit(".", 1)[1] for m in AREAS} == registering

    from sqlmodel import SQLModel

    import linkage_service.models as models

    checked = 0
    for info in pkgutil.iter_modules(models.__path__):
        text = (REPO / "linkage_service" / "models" / f"{info.name}.py").read_text()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and any(
                    kw.arg == "table" for kw in node.keywords):
                tables = {t.name for t in SQLModel.metadata.sorted_tables}
                name = next((kw.value for kw in node.body if isinstance(kw, ast.Assign)
                             and any(getattr(t, "id", "") == "__tablename__"
                                     for t in kw.targets)), None)
                table = (name.value if isinstance(name, ast.Constant)
                         else node.name.lower())
                assert table in tables, f"{info.name}.{node.name} not in SQLModel.metadata"
                checked += 1
    assert checked >= 8


# The HTTP adapters only parse, call a use case and format: SQL and session writes live in the
# domain. The health probe's ``SELECT 1`` is the one query an adapter runs, being the probe.
_SESSION_CALLS = {"exec", "execute", "scalar", "scalars", "get", "add", "add_all", "delete",
                  "flush", "merge", "query"}
_SQL_BUILDERS = {"select", "insert", "update", "delete", "text"}
_HEALTH_PROBE = ("linkage_service/api/routes/health.py", 'session.execute(text("SELECT 1"))')


def _sql_call(node: ast.AST) -> str | None:
    """What a call does with the database, or None."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if isinstance(func, ast.Name):
        return f"{func.id}(…)" if func.id in _SQL_BUILDERS else None
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
        return None
    owner, name = func.value.id, func.attr
    if (owner in {"session", "conn", "connection"} and name in _SESSION_CALLS) or \
            (owner in {"sa", "sqlalchemy", "sqlmodel"} and name in _SQL_BUILDERS):
        return f"{owner}.{name}(…)"
    return None


def sql_in_adapters(root: Path) -> list[str]:
    """``path:line what`` for every query, session write or SQL builder an adapter module
    uses (the routes under ``api/routes`` and the console under ``web``)."""
    probe_path, probe = _HEALTH_PROBE
    found = []
    for folder in ("linkage_service/api/routes", "linkage_service/web"):
        for path in sorted((root / folder).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            text = path.read_text(encoding="utf-8")
            for node in ast.walk(ast.parse(text, filename=rel)):
                what = _sql_call(node)
                segment = ast.get_source_segment(text, node) or ""
                if what is None or (rel == probe_path and segment in (probe, 'text("SELECT 1")')):
                    continue
                found.append(f"{rel}:{getattr(node, 'lineno', 0)} {what}")
    return found


def test_routes_and_console_pages_run_no_sql() -> None:
    assert sql_in_adapters(REPO) == []


@pytest.mark.parametrize("line", [
    "rows = session.exec(select(Upload)).all()",
    "n = session.execute(sa.select(sa.func.count())).scalar()",
    "session.add(row)",
    "session.execute(text('SELECT 2'))",
])
def test_sql_in_an_adapter_is_caught(tmp_path: Path, line: str) -> None:
    for folder in ("linkage_service/api/routes", "linkage_service/web"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "linkage_service/web/page.py").write_text(f"def page(session):\n    {line}\n")
    (tmp_path / _HEALTH_PROBE[0]).write_text(f"def health(session):\n    {_HEALTH_PROBE[1]}\n")
    found = sql_in_adapters(tmp_path)
    assert found and all(f.startswith("linkage_service/web/page.py:2 ") for f in found)


def test_console_pages_call_use_cases_not_route_handlers() -> None:
    """The console and the API are two adapters over the same use cases: a page never calls
    (or imports) a route handler."""
    for module, imported, line in imports_of(REPO, ("linkage_service",)):
        if module.startswith("linkage_service.web"):
            assert not imported.startswith("linkage_service.api.routes"), (module, line)
