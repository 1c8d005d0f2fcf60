"""``vinculo encode``: turn an institution's export into a signed encoding batch."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from vinculo_common.schemas import DEFAULT_SCHEMA_ID

__all__ = ["register"]


class _Progress:
    """A one-line counter on stderr, only when stderr is a terminal (never in logs or pipes)."""

    def __init__(self) -> None:
        self._enabled = sys.stderr.isatty()
        self._start = time.perf_counter()

    def __call__(self, rows: int) -> None:
        if not self._enabled:
            return
        from client_sdk.encode_export import format_count

        rate = rows / max(time.perf_counter() - self._start, 1e-9)
        sys.stderr.write(f"\rCodificando… {format_count(rows)} filas leídas "
                         f"({format_count(int(rate))}/s)   ")
        sys.stderr.flush()

    def done(self) -> None:
        if self._enabled:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def encode(
    source: Annotated[str, typer.Option("--source", help="Fuente (institución): reta, sistra, "
                                        "care…")],
    input: Annotated[Path, typer.Option("--input", help="Exportación: CSV (UTF-8 o "
                                        "Windows-1252) o .xlsx.")],
    keys: Annotated[Path, typer.Option("--keys", help="Directorio de claves de la institución.")],
    output: Annotated[Path, typer.Option("--output", help="Lote a escribir (p. ej. reta.vnb).")],
    mapping: Annotated[
        str | None,
        typer.Option("--mapping", help="Archivo de mapeo o nombre de fuente. Por defecto "
                     "schemas/sources/<fuente>.json si la exportación no es canónica."),
    ] = None,
    encoding: Annotated[
        str | None, typer.Option("--encoding", help="Codificación del CSV (utf-8, cp1252…); "
                                 "por defecto se detecta.")
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Cualquier fila rechazada hace fallar todo; no se "
                           "escribe el lote.")
    ] = False,
    rejects: Annotated[
        Path | None, typer.Option("--rejects", help="Reporte de rechazos (por defecto "
                                  "<output>.rejects.csv).")
    ] = None,
    schema: Annotated[
        str, typer.Option("--schema", help="Esquema de enlace (schemas/linkage/<id>.json).")
    ] = DEFAULT_SCHEMA_ID,
    passphrase_file: Annotated[
        Path | None, typer.Option("--passphrase-file", help="Frase de paso del secreto de "
                                  "enlace, si está protegido.")
    ] = None,
) -> None:
    """Codifica la exportación de una fuente en un lote firmado (encode an export into a batch).

    Lee, valida y estandariza cada fila, la codifica (CLK, referencia y localizador sellado),
    firma el lote y escribe los rechazos. Nombres, documentos y fechas de nacimiento no salen
    en claro. Resumen en stderr.

    Ejemplo: vinculo encode --source reta --input reta.csv --keys claves --output reta.vnb
    """
    from client_sdk.encode_export import encode_file
    from client_sdk.keys import read_passphrase_file

    passphrase = read_passphrase_file(passphrase_file) if passphrase_file else None
    progress = _Progress()
    try:
        summary = encode_file(
            source=source, input_path=input, keys_dir=keys, output=output, mapping=mapping,
            encoding=encoding, strict=strict, rejects_path=rejects, schema_id=schema,
            passphrase=passphrase, progress=progress,
        )
    finally:
        progress.done()
    print(summary.message(), file=sys.stderr)


def register(app: typer.Typer) -> None:
    app.command("encode")(encode)
