"""How every ``vinculo`` command ends: one place that turns a VinculoError into one line on
stderr and its exit code (shared by ``vinculo`` and the SDK's ``vinculo-sdk``)."""

from __future__ import annotations

import sys

import typer

from vinculo_common.errors import VinculoError

__all__ = ["new_app", "run_app"]


def new_app(name: str, help_text: str) -> typer.Typer:
    """The Typer app of a ``vinculo`` command, set up the same way for ``vinculo`` and
    ``vinculo-sdk`` (no completion, no rich markup, plain tracebacks for bugs)."""
    return typer.Typer(name=name, help=help_text, no_args_is_help=True, add_completion=False,
                       rich_markup_mode=None, pretty_exceptions_enable=False)


def run_app(app: typer.Typer, argv: list[str] | None = None) -> int:
    """Run ``app`` on ``argv``; returns the exit code.

    Click handles usage errors and --help itself (exit 2 / 0); a VinculoError becomes one line
    on stderr and the error's exit code; anything else is a bug and keeps its traceback.
    """
    try:
        app(args=argv, standalone_mode=True)
    except VinculoError as exc:
        print(f"vinculo: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("vinculo: interrumpido (interrupted)", file=sys.stderr)
        return 130
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    return 0
