"""The ``vinculo`` command. Thin: parse options, call the SDK or service functions, and turn a
VinculoError into one line on stderr and a non-zero exit.

Each area registers its commands from its own module (``vinculo_cli/<area>.py`` defines
``register(app)``); the list of areas below is explicit, and tests/test_layers.py fails on a
module that defines ``register`` and is missing from it.
"""

from __future__ import annotations

import sys
import warnings

from vinculo_cli import (
    audit,
    client,
    demo,
    encode,
    evaluate,
    keys,
    link,
    reid,
    results,
    service,
    stats,
    synth,
)
from vinculo_cli.errors import new_app, run_app

__all__ = ["AREAS", "app", "main", "run"]

# anonlink imports pkg_resources; the warning is about setuptools' future, not ours to act on.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

app = new_app(
    "vinculo",
    "vinculo: enlace de registros que preserva la privacidad (privacy-preserving record "
    "linkage) para los registros de víctimas de trata del Perú.",
)

AREAS = (keys, encode, synth, service, client, link, results, evaluate, reid, audit, stats, demo)

for _area in AREAS:
    _area.register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code (see ``errors.run_app``)."""
    return run_app(app, argv)


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
