"""The ``vinculo`` command. Thin: parse options, call the SDK or service functions, and turn a
VinculoError into one line on stderr and a non-zero exit.

Each area registers its commands from its own module (``vinculo_cli/<area>.py`` defines
``register(app)``); the list of areas below is explicit, and tests/test_layers.py fails on a
module that defines ``register`` and is missing from it.
"""

from __future__ import annotations

import sys
import warnings

import typer

from vinculo_cli import (
    audit,
    bank,
    client,
    demo,
    encode,
    evaluate,
    keys,
    reid,
    service,
    stats,
    synth,
)
from vinculo_common.errors import VinculoError

__all__ = ["AREAS", "app", "main", "run"]

# anonlink imports pkg_resources; the warning is about setuptools' future, not ours to act on.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

app = typer.Typer(
    name="vinculo",
    help="vinculo: enlace de registros que preserva la privacidad (privacy-preserving record "
    "linkage) para los registros de víctimas de trata del Perú.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

AREAS = (keys, encode, synth, service, client, bank, evaluate, reid, audit, stats, demo)

for _area in AREAS:
    _area.register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code.

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


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
