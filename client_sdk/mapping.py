"""Source mappings: how one institution's export maps onto the canonical record.

A mapping is a JSON file (format in ``schemas/sources/README.md``, JSON Schema in
``schemas/sources/mapping.schema.json``): the headers the source uses for each canonical
column, its own code lists, the numbering of its UBIGEO columns and its coarsening policy.
A new source is a new file, not new code. A file already in the canonical layout needs none
(:meth:`SourceMapping.canonical`).

>>> mapping = load_mapping("reta")
>>> mapping.source, mapping.resolve_headers(["N° REGISTRO", "NOMBRES"]).positions
('reta', {'record_id': 0, 'nombres': 1})
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from client_sdk.standardize.text import header_key, value_key
from vinculo_common.errors import InputError, MappingError
from vinculo_common.paths import schemas_dir

__all__ = [
    "CANONICAL_COLUMNS",
    "DEFAULT_POLICY",
    "UBIGEO_COLUMNS",
    "HeaderResolution",
    "SourceMapping",
    "load_mapping",
]

CANONICAL_COLUMNS = (
    "record_id", "nombres", "apellido_paterno", "apellido_materno", "sexo", "fecha_nacimiento",
    "edad", "tipo_documento", "numero_documento", "nacionalidad", "ubigeo_nacimiento",
    "ubigeo_residencia", "fecha_hecho", "ubigeo_hecho", "forma_explotacion",
)
UBIGEO_COLUMNS = ("ubigeo_nacimiento", "ubigeo_residencia", "ubigeo_hecho")
DEFAULT_POLICY: Mapping[str, str] = {"event_date": "day", "ubigeo": "district"}


@dataclass(frozen=True)
class HeaderResolution:
    """Where each canonical column sits in an export, and which headers are unknown."""

    positions: dict[str, int]  # canonical column -> 0-based position in the header row
    unknown: list[str]  # headers as written, neither mapped nor ignored


@dataclass(frozen=True)
class SourceMapping:
    """A loaded, validated mapping. ``values[column]`` keys are folded by ``value_key``."""

    source: str | None
    columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    ignore_columns: tuple[str, ...] = ()
    ubigeo_system: Mapping[str, str] = field(
        default_factory=lambda: dict.fromkeys(UBIGEO_COLUMNS, "inei")
    )
    policy: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_POLICY))
    delimiter: str | None = None
    encoding: str | None = None
    description: str = ""

    @classmethod
    def canonical(cls) -> SourceMapping:
        """The identity mapping, for exports already in the canonical layout.

        >>> SourceMapping.canonical().policy
        {'event_date': 'day', 'ubigeo': 'district'}
        """
        return cls(source=None)

    def _header_lookup(self) -> dict[str, str]:
        lookup = {header_key(column): column for column in CANONICAL_COLUMNS}
        for column, aliases in self.columns.items():
            for alias in aliases:
                lookup[header_key(alias)] = column
        return lookup

    def resolve_headers(self, headers: Sequence[str]) -> HeaderResolution:
        """Match an export's header row (ignoring case, accents, spaces, ``_``, punctuation).

        Raises :class:`InputError` when ``record_id`` or every name column is missing, or when
        two headers land on one canonical column.
        """
        lookup = self._header_lookup()
        ignored = {header_key(name) for name in self.ignore_columns}
        positions: dict[str, int] = {}
        unknown: list[str] = []
        for index, header in enumerate(headers):
            key = header_key(header)
            column = lookup.get(key)
            if column is None:
                if key not in ignored:
                    unknown.append(header.strip() or f"(sin nombre, posición {index + 1})")
                continue
            if column in positions:
                raise InputError(
                    f"dos columnas corresponden a {column}: posiciones {positions[column] + 1} y "
                    f"{index + 1} (two columns map to {column})"
                )
            positions[column] = index
        if "record_id" not in positions:
            accepted = ", ".join(("record_id", *self.columns.get("record_id", ())))
            hint = "" if positions else "; ¿la primera fila no es la de encabezados?"
            raise InputError(
                f"falta la columna obligatoria record_id (acepta: {accepted}){hint} "
                "(required column record_id is missing)"
            )
        if "nombres" not in positions and not (
            "apellido_paterno" in positions and "apellido_materno" in positions
        ):
            raise InputError(
                "falta la columna nombres, o ambas columnas de apellidos "
                "(nombres, or both surname columns, required)"
            )
        return HeaderResolution(positions=positions, unknown=unknown)


@cache
def _schema() -> dict[str, Any]:
    with (schemas_dir() / "sources" / "mapping.schema.json").open(encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


def _validate(document: Any, origin: str) -> None:
    import jsonschema  # clkhash depends on it; imported here to keep start-up fast

    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(part) for part in first.absolute_path) or "(raíz)"
        raise MappingError(f"mapeo inválido {origin}: {where}: {first.message} (invalid mapping)")


def _build(document: dict[str, Any], origin: str) -> SourceMapping:
    owner: dict[str, str] = {header_key(c): c for c in CANONICAL_COLUMNS}
    columns: dict[str, tuple[str, ...]] = {}
    for column, aliases in document["columns"].items():
        for alias in aliases:
            previous = owner.setdefault(header_key(alias), column)
            if previous != column:
                raise MappingError(
                    f"mapeo inválido {origin}: el encabezado '{alias}' corresponde a {previous} "
                    f"y a {column} (header maps to two columns)"
                )
        columns[column] = tuple(aliases)
    for name in document.get("ignore_columns", []):
        if header_key(name) in owner:
            raise MappingError(
                f"mapeo inválido {origin}: '{name}' está a la vez mapeada e ignorada "
                "(column both mapped and ignored)"
            )
    values: dict[str, dict[str, str]] = {}
    for column, codes in document.get("values", {}).items():
        folded: dict[str, str] = {}
        for raw, target in codes.items():
            key = value_key(raw)
            if folded.setdefault(key, target) != target:
                raise MappingError(
                    f"mapeo inválido {origin}: values/{column}: '{raw}' se repite con otro valor "
                    "(code listed twice)"
                )
        values[column] = folded
    system = document.get("ubigeo_system", "inei")
    if isinstance(system, str):
        systems = dict.fromkeys(UBIGEO_COLUMNS, system)
    else:
        systems = {column: system.get(column, "inei") for column in UBIGEO_COLUMNS}
    file_options = document.get("file", {})
    return SourceMapping(
        source=document["source"],
        columns=columns,
        values=values,
        ignore_columns=tuple(document.get("ignore_columns", [])),
        ubigeo_system=systems,
        policy={**DEFAULT_POLICY, **document.get("policy", {})},
        delimiter=file_options.get("delimiter"),
        encoding=file_options.get("encoding"),
        description=document.get("description", ""),
    )


def load_mapping(source_or_path: str | Path) -> SourceMapping:
    """Load and validate a mapping: a source name (``"reta"`` → ``schemas/sources/reta.json``)
    or the path of any mapping file. Raises :class:`MappingError` with the reason.

    >>> load_mapping("care").ubigeo_system["ubigeo_nacimiento"]
    'reniec'
    """
    text = str(source_or_path)
    path = Path(text)
    if not path.exists() and "/" not in text and "\\" not in text and not text.endswith(".json"):
        path = schemas_dir() / "sources" / f"{text}.json"
        if not path.exists():
            raise MappingError(
                f"no hay mapeo para la fuente '{text}' en schemas/sources/ "
                "(no mapping for this source)"
            )
    origin = f"({path.name})"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(f"no existe el archivo de mapeo {path} (file not found)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"no se pudo leer el mapeo {origin}: {exc} (unreadable)") from None
    except json.JSONDecodeError as exc:
        raise MappingError(
            f"mapeo {origin} no es JSON válido: línea {exc.lineno}, columna {exc.colno}: {exc.msg} "
            "(not valid JSON)"
        ) from None
    _validate(document, origin)
    return _build(document, origin)
