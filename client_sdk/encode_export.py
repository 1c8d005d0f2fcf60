"""Encode an institution's export into a signed batch: the library behind ``vinculo encode``.

read → map → validate → standardize (``client_sdk.pipeline``) → encode
(``client_sdk.record_encoder``) → sign and write (``vinculo_common.batch.BatchWriter``), chunk
by chunk, so memory stays flat however large the export is.

Which mapping is used (docs/encoding.md):

1. ``mapping=`` when given (a path or a source name);
2. otherwise ``schemas/sources/<source>.json`` when it exists and the export is *not* already in
   the canonical layout (its header has no ``record_id`` column);
3. otherwise none: the export is read as canonical.

The attribute policy (coarsening of event dates and UBIGEOs) is the mapping's; for a canonical
export it is taken from ``schemas/sources/<source>.json`` when that file exists, because what a
source shares is its decision whatever the layout of the file.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from vinculo_common.errors import InputError
from vinculo_common.keyfiles import check_source_name
from vinculo_common.paths import schemas_dir
from vinculo_common.schemas import DEFAULT_SCHEMA_ID, load_linkage_schema

__all__ = ["EncodeSummary", "default_rejects_path", "encode_file", "format_count",
           "is_canonical_header", "resolve_mapping"]


def format_count(n: int) -> str:
    """Thousands with a dot, as Peruvian officials write them.

    >>> format_count(9812)
    '9.812'
    """
    return f"{n:,}".replace(",", ".")


def default_rejects_path(output: Path) -> Path:
    """``<output>.rejects.csv``.

    >>> default_rejects_path(Path("out/reta.vnb")).name
    'reta.vnb.rejects.csv'
    """
    return output.with_name(output.name + ".rejects.csv")


@dataclass(frozen=True)
class EncodeSummary:
    """What one encode run did; ``message()`` is the line shown to the official."""

    source: str
    output: Path | None  # None when nothing was written (strict mode with rejects)
    rejects_path: Path
    rows_read: int
    encoded: int
    rejected: int
    unknown_columns: tuple[str, ...]
    input_encoding: str
    mapping: str
    schema_id: str
    schema_fingerprint: str
    seconds: float
    header: dict[str, Any] = field(default_factory=dict)
    partial: int = 0  # records kept with a field dropped or cut down (see the report)

    @property
    def complete(self) -> int:
        """Records encoded with every field as given."""
        return self.encoded - self.partial

    def message(self) -> str:
        """Spanish first, then English, one line: how many records went out complete, how
        many with fields dropped, how many rows were rejected.

        >>> EncodeSummary("reta", Path("b.vnb"), Path("b.vnb.rejects.csv"), 9826, 9812, 14, (),
        ...     "utf-8", "reta", "vinculo-v1", "sha256:x", 1.0, partial=112).message()
        ... # doctest: +NORMALIZE_WHITESPACE
        'Codificados 9.812 registros (9.700 completos, 112 con campos descartados); rechazados
        14 (ver b.vnb.rejects.csv) → b.vnb (encoded 9,812 records: 9,700 complete, 112 with
        fields dropped; 14 rejected; schema vinculo-v1)'
        """
        text = (
            f"Codificados {format_count(self.encoded)} registros ({format_count(self.complete)}"
            f" completos, {format_count(self.partial)} con campos descartados); rechazados "
            f"{format_count(self.rejected)} (ver {self.rejects_path})"
        )
        if self.unknown_columns:
            text += f"; columnas desconocidas: {', '.join(self.unknown_columns)}"
        return (
            f"{text} → {self.output} (encoded {self.encoded:,} records: {self.complete:,} "
            f"complete, {self.partial:,} with fields dropped; {self.rejected:,} rejected; "
            f"schema {self.schema_id})"
        )


def _fold(name: str) -> str:
    text = unicodedata.normalize("NFKD", name.strip().lstrip("\ufeff").lower())
    return "_".join("".join(c for c in text if not unicodedata.combining(c)).split())


def _header_names(path: Path, encoding: str | None) -> list[str]:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        try:
            wb = load_workbook(path, read_only=True)
            sheet = wb.active
            first = next(sheet.iter_rows(max_row=1, values_only=True), ()) if sheet else ()
            wb.close()
        except Exception:  # any unreadable workbook: the reader will explain why
            return []
        return [str(v) for v in first if v is not None]
    try:
        with open(path, "rb") as fh:
            head = fh.read(64 * 1024)
    except OSError:
        return []
    # Only the first line is decoded: the 64 KiB read may end inside a multi-byte letter
    # (an accented name of row 900), which would fail UTF-8 and cp1252 alike.
    first_line = head.split(b"\n", 1)[0]
    for enc in ([encoding] if encoding else []) + ["utf-8-sig", "cp1252"]:
        try:
            line = first_line.decode(enc).rstrip("\r")
            break
        except (UnicodeDecodeError, LookupError):
            continue
    else:
        return []
    delimiter = max((",", ";", "\t", "|"), key=line.count)
    return [cell.strip().strip('"') for cell in line.split(delimiter)]


def is_canonical_header(names: list[str]) -> bool:
    """True when the header already has the canonical ``record_id`` column (any case/accents).

    >>> is_canonical_header(["RECORD_ID", "Nombres"]), is_canonical_header(["N° CASO"])
    (True, False)
    """
    return "record_id" in {_fold(n) for n in names}


def resolve_mapping(
    *, source: str, input_path: Path, mapping: str | Path | None, encoding: str | None = None
) -> tuple[Any, Mapping[str, str], str]:
    """(mapping for standardize_export or None, attribute policy, label for the summary)."""
    from client_sdk.pipeline import load_mapping

    if mapping is not None:
        loaded = load_mapping(mapping)
        if loaded.source is not None and loaded.source != source:
            raise InputError(
                f"el mapeo {mapping} es de la fuente {loaded.source!r}, no de {source!r} "
                "(mapping belongs to another source)"
            )
        return loaded, dict(loaded.policy or {}), str(mapping)
    default = schemas_dir() / "sources" / f"{source}.json"
    if not default.is_file():
        return None, {}, "canónico (canonical)"
    loaded = load_mapping(default)
    if is_canonical_header(_header_names(input_path, encoding)):
        return None, dict(loaded.policy or {}), "canónico (canonical)"
    return loaded, dict(loaded.policy or {}), f"schemas/sources/{source}.json"


def encode_file(
    *,
    source: str,
    input_path: Path,
    keys_dir: Path,
    output: Path,
    mapping: str | Path | None = None,
    encoding: str | None = None,
    strict: bool = False,
    rejects_path: Path | None = None,
    schema_id: str = DEFAULT_SCHEMA_ID,
    passphrase: bytes | None = None,
    chunk_size: int = 5000,
    progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
) -> EncodeSummary:
    """Encode ``input_path`` into the signed batch ``output``; return the summary.

    Rejected rows and notes on kept ones go to ``rejects_path`` (default
    ``<output>.rejects.csv``, written even when empty). With ``strict``, any rejected row or
    any field dropped or cut down fails the run (InputError) and no batch is written.
    ``progress`` is called with the running count of records read after each chunk.

    Example (shell): ``vinculo encode --source reta --input reta.csv --keys claves
    --output reta.vnb`` calls ``encode_file(source="reta", input_path=Path("reta.csv"), ...)``.
    """
    from client_sdk.keys import (
        load_box_public,
        load_linkage_kcv,
        load_linkage_secret,
        load_record_ref_key,
        load_signing_key,
    )
    from client_sdk.pipeline import standardize_export, write_rejects
    from client_sdk.record_encoder import RecordEncoder
    from vinculo_common.batch import BatchWriter

    started = time.perf_counter()
    check_source_name(source)
    input_path, output = Path(input_path), Path(output)
    rejects_path = Path(rejects_path) if rejects_path else default_rejects_path(output)
    if not input_path.is_file():
        raise InputError(f"no existe el archivo de entrada {input_path} (input file not found)")
    if output.is_dir():
        raise InputError(
            f"--output es una carpeta: {output}; indique el archivo del lote, p. ej. "
            f"{output / (source + '.vnb')} (output is a folder)"
        )
    if rejects_path.is_dir():
        raise InputError(f"--rejects es una carpeta: {rejects_path}; indique un archivo "
                         "(rejects path is a folder)")
    if not output.parent.is_dir():
        raise InputError(f"no existe la carpeta de salida {output.parent} (output folder missing)")
    if output.resolve() == input_path.resolve():
        raise InputError("la salida no puede ser el archivo de entrada (output = input)")
    if chunk_size < 1:
        raise InputError(f"chunk_size debe ser ≥ 1, no {chunk_size}")

    # Keys and schema first: a wrong keys directory fails before the export is read.
    signing_key = load_signing_key(keys_dir, source)
    record_ref_key = load_record_ref_key(keys_dir, source)
    box_public = load_box_public(keys_dir, source)
    secret = load_linkage_secret(keys_dir, passphrase=passphrase)
    kcv = load_linkage_kcv(keys_dir)
    schema = load_linkage_schema(schema_id)
    mapping_obj, policy, mapping_label = resolve_mapping(
        source=source, input_path=input_path, mapping=mapping, encoding=encoding
    )
    encoder = RecordEncoder(schema=schema, linkage_secret=secret, record_ref_key=record_ref_key,
                            box_public=box_public, policy=policy)
    del secret
    run = standardize_export(input_path, mapping=mapping_obj, encoding=encoding,
                             chunk_size=chunk_size)
    writer = BatchWriter(
        output, source=source, schema_id=encoder.schema_id,
        schema_fingerprint=encoder.schema_fingerprint, secret_check=kcv,
        clk_bits=encoder.clk_bits, signing_key=signing_key,
        extra_sections=encoder.extra_sections, now=now,
    )
    header: dict[str, Any] = {}
    try:
        for chunk in run:
            if not (strict and (run.rows_rejected or run.rows_partial)):
                encoded = encoder.encode_columns(chunk)
                writer.add_many(record_refs=encoded.record_refs, clks=encoded.clks,
                                locators=encoded.locators, attributes=encoded.attributes,
                                extras=encoded.extras)
            if progress is not None:
                progress(run.rows_read)
        write_rejects(rejects_path, run.rejects)
        if strict and (run.rows_rejected or run.rows_partial):
            writer.abort()
            raise InputError(
                f"modo estricto: {format_count(run.rows_rejected)} filas rechazadas y "
                f"{format_count(run.rows_partial)} con campos descartados (ver {rejects_path}); "
                "no se escribió el lote (strict: batch not written)"
            )
        if writer.count == 0:
            writer.abort()
            raise InputError(
                f"ningún registro válido en {input_path.name}: no se escribió el lote (ver "
                f"{rejects_path}) (no valid records)"
            )
        header = writer.close()
    except BaseException:
        writer.abort()
        raise
    return EncodeSummary(
        source=source,
        output=output,
        rejects_path=rejects_path,
        rows_read=run.rows_read,
        encoded=int(header["record_count"]),
        rejected=run.rows_rejected,
        partial=run.rows_partial,
        unknown_columns=tuple(run.unknown_columns),
        input_encoding=str(run.encoding),
        mapping=mapping_label,
        schema_id=encoder.schema_id,
        schema_fingerprint=encoder.schema_fingerprint,
        seconds=time.perf_counter() - started,
        header=header,
    )
