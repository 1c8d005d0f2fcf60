"""Documentation is tested: every `vinculo` command is in docs/cli.md and its --help shows an
example; README gives the two set-up commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main

from vinculo_cli.main import app

ROOT = Path(__file__).resolve().parents[1]


def _commands() -> list[tuple[str, Any]]:
    """(name, click command) for every leaf command; typer vendors its own click, so groups are
    recognised by their ``commands`` mapping."""
    out: list[tuple[str, Any]] = []

    def walk(prefix: str, command: Any) -> None:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(f"{prefix} {name}".strip(), sub)
        else:
            out.append((prefix, command))

    walk("", typer.main.get_command(app))
    return out


COMMANDS = _commands()


def test_design_commands_exist() -> None:
    names = {name for name, _ in COMMANDS}
    for expected in ("keys init", "encode", "serve", "admin source add", "admin token create",
                     "upload", "link", "results", "synth", "evaluate", "reid request",
                     "reid approve", "reid deny", "reid fetch", "reid open", "audit verify",
                     "demo", "stats export"):
        assert expected in names, f"command of the operators' contract missing: vinculo {expected}"


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_every_command_is_documented_with_an_example(name: str, command: Any) -> None:
    cli_doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert f"vinculo {name}" in cli_doc, f"docs/cli.md does not document `vinculo {name}`"
    assert "Ejemplo" in (command.help or ""), f"`vinculo {name} --help` shows no example"


def test_readme_gives_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_docs_point_only_inside_the_repository() -> None:
    """The project stands alone: README, docs and code never send a reader outside it."""
    paths = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
             *sorted((ROOT / "schemas").rglob("*.md")), *sorted((ROOT / "keys").glob("*.md"))]
    for package in ("vinculo_common", "client_sdk", "linkage_service", "vinculo_lab",
                    "vinculo_cli"):
        paths += sorted((ROOT / package).rglob("*.py"))
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for outside in ("../shared", "shared/spec", "shared/DESIGN", "DESIGN.md"):
            assert outside not in text, f"{path.relative_to(ROOT)} points outside: {outside}"


def test_design_doc_draws_every_layer() -> None:
    from test_layers import ALLOWED

    design = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    for layer in ALLOWED:
        short = layer.removeprefix("linkage_service.")
        assert short in design, f"docs/design.md does not place {layer}"
