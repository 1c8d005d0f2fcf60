"""``vinculo-sdk``: the institution's command, installed from the SDK wheel alone.

Only what an institution runs on its own machines: ``keys`` (a pilot's key directory),
``encode``, ``upload``, ``results`` and ``reid fetch|open`` (with ``request``, ``approve`` and
``deny``, which are HTTP calls like them). Nothing here, nor in the modules it registers,
imports the service (``linkage_service``), the lab (``vinculo_lab``) or their dependencies
(FastAPI, SQLAlchemy, anonlink, psycopg, uvicorn, alembic, matplotlib) at import time; the
wheel built by ``make sdk-wheel`` (``sdk/build_wheel.py``) holds only these modules, and
``tests/test_sdk_wheel.py`` installs it in a fresh environment and runs the commands.
"""

from __future__ import annotations

import sys

from vinculo_cli import client, encode, keys, reid, results
from vinculo_cli.errors import new_app, run_app

__all__ = ["app", "main", "run"]

app = new_app(
    "vinculo-sdk",
    "vinculo para las instituciones: codificar, subir, recibir resultados y abrir "
    "paquetes de reidentificación (the institution's commands).",
)

keys.register(app)
encode.register(app)
app.command("upload")(client.upload)
results.register(app)
reid.register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``vinculo-sdk``; returns the exit code (as ``vinculo``'s)."""
    return run_app(app, argv)


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
