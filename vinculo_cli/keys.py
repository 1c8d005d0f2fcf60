"""``vinculo keys init``: create a keys directory for a demo, a test or a pilot."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]

keys_app = typer.Typer(
    name="keys",
    help="Claves: secreto de enlace, claves por fuente y del servicio (key material).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@keys_app.command("init")
def init(
    dir: Annotated[Path, typer.Option("--dir", help="Directorio de claves a crear.")],
    sources: Annotated[
        str, typer.Option("--sources", help="Fuentes separadas por comas, p. ej. reta,sistra,care.")
    ],
    passphrase_file: Annotated[
        Path | None,
        typer.Option("--passphrase-file", help="Proteger el secreto de enlace con la frase de "
                     "paso de este archivo (scrypt + ChaCha20-Poly1305)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Reemplazar claves existentes (¡irreversible!).")
    ] = False,
) -> None:
    """Crea el secreto de enlace compartido, las claves de cada fuente y las del servicio.

    Creates the shared linkage secret (+ its public check value), each source's record-reference
    key, Ed25519 signing pair and X25519 box pair, and the service's Ed25519 pair. Private files
    are 0600. For a real deployment follow the ceremony in keys/README.md instead.

    Ejemplo: vinculo keys init --dir claves --sources reta,sistra,care
    """
    from client_sdk.keys import init_keys, parse_sources, read_passphrase_file

    names = parse_sources(sources)
    passphrase = read_passphrase_file(passphrase_file) if passphrase_file else None
    files = init_keys(keys_dir=dir, sources=names, passphrase=passphrase, force=force)
    print(
        f"Claves creadas en {dir}: {len(files)} archivos para {', '.join(names)} y el servicio "
        f"(keys written). Lo privado (*.key) no debe salir de cada institución.",
        file=sys.stderr,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
