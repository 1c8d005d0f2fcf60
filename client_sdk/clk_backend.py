"""HAZMAT: the Bloom-filter (CLK) backend, the only module that imports clkhash.

It applies the versioned linkage schema (``schemas/linkage/*.json``) and refuses what would be
unsafe whatever the schema says (``doubleHash``, ``xorFolds``); clkhash's errors become
``VinculoError`` without quoting the value. Callers use ``client_sdk.record_encoder``. Its
memoised masks give clkhash's exact bytes faster (docs/encoding.md; tests/test_encoding_vectors.py
proves the bytes equal ``generate_clks``).

"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from functools import reduce
from operator import or_
from typing import Any

from clkhash import schema as clk_schema
from clkhash.bloomfilter import blake_hash_token
from clkhash.clk import generate_clks
from clkhash.field_formats import InvalidEntryError, InvalidSchemaError
from clkhash.key_derivation import generate_key_lists

from vinculo_common.errors import ConfigError, InputError, SchemaMismatch

__all__ = ["ClkEncoder", "clkhash_part", "reference_clks"]

VINCULO_SECTION = "vinculo"
_CACHE_LIMIT = 1 << 15  # per feature; a cleared cache only costs recomputation
# Token masks kept, all features together (~160 bytes each for 1024 bits): about 32 MB at most.
_TOKEN_MASK_LIMIT = 200_000


def clkhash_part(schema: dict[str, Any]) -> dict[str, Any]:
    """The clkhash v3 part of a vinculo linkage schema (everything but the ``vinculo`` key).

    >>> clkhash_part({"version": 3, "vinculo": {}})
    {'version': 3}
    """
    return {k: copy.deepcopy(v) for k, v in schema.items() if k != VINCULO_SECTION}


def _refuse_unsafe(part: dict[str, Any]) -> None:
    config = part.get("clkConfig") or {}
    if config.get("xorFolds") or config.get("xor_folds"):
        raise SchemaMismatch(
            "el esquema pide plegado XOR, que clkhash 0.18.3 ignora en silencio: no se acepta "
            "(xorFolds is ignored by clkhash; refused)"
        )
    for index, feature in enumerate(part.get("features") or []):
        hashing = feature.get("hashing") if isinstance(feature, dict) else None
        if not isinstance(hashing, dict):
            continue
        hash_type = (hashing.get("hash") or {}).get("type", "blakeHash")
        if hash_type != "blakeHash":
            raise SchemaMismatch(
                f"el esquema usa {hash_type!r} en la característica {index}: solo se acepta "
                "blakeHash (doubleHash leaks names to a frequency attack; refused)"
            )


class ClkEncoder:
    """Encode prepared feature values into CLKs with keys derived once from the secret.

    ``rows`` given to :meth:`encode` are lists of strings in the schema's feature order ("" when
    unknown). The result is one ``bytes`` of ``clk_bits // 8`` per row, bits in clkhash's
    (big-endian) bitarray order.

    >>> import json; from vinculo_common.schemas import load_linkage_schema
    >>> enc = ClkEncoder(load_linkage_schema("vinculo-v1"), secret=bytes(32))
    >>> len(enc.encode([["ANA", "ANA", "QUISPE", "QUISPE", "", "", "", "", "", "F"]])[0])
    128
    """

    def __init__(self, schema: dict[str, Any], *, secret: bytes) -> None:
        if not isinstance(secret, bytes) or len(secret) < 16:
            raise ConfigError("secreto de enlace inválido: se esperan al menos 16 bytes")
        part = clkhash_part(schema)
        _refuse_unsafe(part)
        try:
            self._schema = clk_schema.from_json_dict(part, validate=True)
        except (clk_schema.SchemaError, InvalidSchemaError, KeyError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SchemaMismatch(f"esquema de enlace inválido (invalid linkage schema): {first}")\
                from None
        for field in self._schema.fields:
            props = field.hashing_properties
            if props is not None and props.hash_type != "blakeHash":
                raise SchemaMismatch("solo se acepta blakeHash (doubleHash refused)")
        if self._schema.l % 8:
            raise SchemaMismatch("la longitud del CLK debe ser múltiplo de 8 bits")
        if self._schema.l & (self._schema.l - 1):
            raise SchemaMismatch("blakeHash exige una longitud de CLK potencia de 2")
        self.feature_names: tuple[str, ...] = tuple(f.identifier for f in self._schema.fields)
        self.clk_bits: int = int(self._schema.l)
        keys = generate_key_lists(
            secret,
            len(self._schema.fields),
            key_size=self._schema.kdf_key_size,
            salt=self._schema.kdf_salt,
            info=self._schema.kdf_info,
            kdf=self._schema.kdf_type,
            hash_algo=self._schema.kdf_hash,
        )
        # blakeHash uses only the first key of each feature (clkhash.bloomfilter).
        self._blake_keys = [bytes(k[0]) for k in keys]
        self._caches: list[dict[str, int]] = [{} for _ in self._schema.fields]
        # Per feature: token -> masks of its first k bits, k = 0, 1, 2, ... (see _token_masks).
        self._token_caches: list[dict[str, list[int]]] = [{} for _ in self._schema.fields]
        self._token_mask_count = 0
        self._bit_masks = [1 << (self.clk_bits - 1 - bit) for bit in range(self.clk_bits)]

    def _token_masks(self, index: int, token: str, k: int, encoding: str) -> list[int]:
        """Masks of the first 0, 1, …, ≥ k bits one token sets under feature ``index``.

        clkhash's ``blake_hash_token(token, k, …)`` takes the first k of a sequence of
        positions that depends only on the token and the key (one BLAKE2b per 32 positions),
        so the bits for k are a prefix of the bits for any larger k: one list per token
        answers every k the bits-per-feature strategy asks for.
        """
        cache = self._token_caches[index]
        masks = cache.get(token)
        if masks is not None and len(masks) > k:
            return masks
        size = self.clk_bits
        bits = blake_hash_token(token.encode(encoding), max(32, -(-k // 32) * 32),
                                self._blake_keys[index], size)
        bit_masks = self._bit_masks
        masks = [0]
        mask = 0
        for bit in bits:
            mask |= bit_masks[bit]
            masks.append(mask)
        if self._token_mask_count + len(masks) > _TOKEN_MASK_LIMIT:
            for other in self._token_caches:
                other.clear()
            self._token_mask_count = 0
        self._token_mask_count += len(masks) - len(cache.get(token, ()))
        cache[token] = masks
        return masks

    def _feature_mask(self, index: int, value: str) -> int:
        """The bits feature ``index`` sets for ``value``, as an int (bit l-1-j = filter bit j)."""
        field = self._schema.fields[index]
        props = field.hashing_properties
        if props is None:
            return 0
        ngrams = list(props.comparator.tokenize(field.format_value(value)))
        if not ngrams:
            return 0
        cache = self._token_caches[index]
        mask = 0
        for token, k in zip(ngrams, props.strategy.bits_per_token(len(ngrams)), strict=False):
            masks = cache.get(token)
            if masks is None or len(masks) <= k:
                masks = self._token_masks(index, token, k, props.encoding)
            mask |= masks[k]
        return mask

    def _value_masks(self, index: int, values: Sequence[str]) -> dict[str, int]:
        """Masks of the distinct ``values`` of one feature (memoised across calls)."""
        cache = self._caches[index]
        found: dict[str, int] = {}
        for value in set(values):
            mask = cache.get(value)
            if mask is None:
                try:
                    mask = self._feature_mask(index, value)
                except (InvalidEntryError, ValueError, UnicodeError):
                    raise _Unencodable(index) from None
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()
                cache[value] = mask
            found[value] = mask
        return found

    def encode(self, rows: Sequence[Sequence[str]]) -> list[bytes]:
        """CLK bytes of each row; InputError (without the value) if a value cannot be encoded."""
        width = len(self.feature_names)
        for row in rows:
            if len(row) != width:
                raise InputError(
                    f"se esperaban {width} valores por registro, no {len(row)} (feature count)"
                )
        return self.encode_columns([list(values) for values in zip(*rows, strict=True)]
                                   if rows else [[] for _ in range(width)])

    def encode_columns(self, columns: Sequence[Sequence[str]]) -> list[bytes]:
        """Like :meth:`encode`, given one sequence of values per feature (schema order).

        Work goes feature by feature: each distinct value is looked up once, then each record
        is the OR of its features' masks.
        """
        if len(columns) != len(self.feature_names) or len({len(c) for c in columns}) > 1:
            raise InputError("columnas de características incompletas (feature columns)")
        try:
            masks = [self._column_masks(index, values) for index, values in enumerate(columns)]
        except _Unencodable:
            raise self._first_unencodable(columns) from None
        nbytes = self.clk_bits // 8
        return [reduce(or_, row, 0).to_bytes(nbytes, "big") for row in zip(*masks, strict=True)]

    def _column_masks(self, index: int, values: Sequence[str]) -> list[int]:
        found = self._value_masks(index, values)
        if len(found) == 1:  # a feature the whole chunk leaves empty, or one constant value
            return [found[values[0]]] * len(values)
        return [found[value] for value in values]

    def _first_unencodable(self, columns: Sequence[Sequence[str]]) -> InputError:
        """The error for the first value, in row order, that clkhash refuses."""
        for row in zip(*columns, strict=True):
            for index, value in enumerate(row):
                try:
                    self._feature_mask(index, value)
                except (InvalidEntryError, ValueError, UnicodeError):
                    return InputError(
                        f"valor no codificable en la característica {self.feature_names[index]}"
                        " (value cannot be encoded)"
                    )
        return InputError("valor no codificable (value cannot be encoded)")


class _Unencodable(Exception):
    """A value of feature ``index`` that clkhash refuses (internal: becomes InputError)."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


def reference_clks(
    rows: Sequence[Sequence[str]], schema: dict[str, Any], *, secret: bytes, validate: bool = True
) -> list[bytes]:
    """Plain clkhash (``clkhash.clk.generate_clks``, one process): the benchmark's yardstick.

    >>> from vinculo_common.schemas import load_linkage_schema
    >>> row = ["ANA", "ANA", "QUISPE", "QUISPE", "", "", "", "", "", "F"]
    >>> s = load_linkage_schema("vinculo-v1")
    >>> reference_clks([row], s, secret=bytes(32)) == ClkEncoder(s, secret=bytes(32)).encode([row])
    True
    """
    part = clkhash_part(schema)
    _refuse_unsafe(part)
    try:
        parsed = clk_schema.from_json_dict(part, validate=True)
        return [
            clk.tobytes()
            for clk in generate_clks(rows, parsed, secret, validate=validate, max_workers=1)
        ]
    except (clk_schema.SchemaError, InvalidSchemaError) as exc:
        raise SchemaMismatch(f"esquema de enlace inválido: {type(exc).__name__}") from None
    except (InvalidEntryError, ValueError):
        raise InputError("valor no codificable (value cannot be encoded)") from None
