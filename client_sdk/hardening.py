"""HAZMAT: hardening of CLKs after clkhash, declared by the versioned linkage schema.

A Bloom-filter CLK leaks: frequent names set frequent, co-occurring bit patterns that an
insider holding every encoding can mine (docs/security.md). The transforms here post-process
the filters so those patterns are weaker. Each is a pure function over a ``uint8 (n, bytes)``
array (bits in clkhash's big-endian order) and is deterministic under keys derived from the
linkage secret, so the same record encodes to the same bytes at every institution and on every
re-upload, while the service (which never holds the secret) cannot undo them.

Transforms (``type`` in the schema's ``vinculo.hardening.steps``):

- ``xor_fold``: the two halves XOR-ed together (halves the length; ``folds`` times).
- ``balance``: append the complement, then permute under the secret: every filter has exactly
  half its bits set, so the weight says nothing about the values (Schnell & Borgs 2016).
- ``blip``: permanent randomised response (BLIP): each bit is replaced by a random bit with
  probability ``f`` (then 1 or 0 with probability f/2 each); the randomness comes from a keyed
  PRNG seeded per record (the record reference), so re-encoding a record is stable.
  Per bit, ε = 2·ln((1 − f/2)/(f/2)).
- ``salt``: the filter's positions are permuted under a key derived from the secret *and* a
  per-record attribute (``attributes``: the first one the record has is used; none → left
  unsalted). Equivalent to salting every token's hash with that attribute: records with
  different salts are no longer comparable, which is the protection and the cost.
- ``diffusion``: each output bit is the XOR of a keyed random subset of ``t`` input bits
  (Armknecht, Heng & Schnell 2023); ``output_bits`` sets the length.

The schema lists the steps in order; the batch's schema fingerprint covers them, so a service
refuses a batch hardened differently (``Batch.check_compatible``). Output lengths must stay a
multiple of 64 bits (the linkage core compares 64-bit words).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from client_sdk.records import StandardizedRecord
from vinculo_common.errors import InputError, SchemaMismatch

__all__ = [
    "SALT_ATTRIBUTES",
    "STEP_TYPES",
    "Hardener",
    "HardeningStep",
    "apply",
    "balance",
    "blip",
    "blip_epsilon",
    "diffuse",
    "diffusion_taps",
    "hardening_steps",
    "keyed_permutation",
    "output_bits",
    "salt_permute",
    "salt_values",
    "xor_fold",
]

STEP_TYPES = ("xor_fold", "balance", "blip", "salt", "diffusion")
_KDF_SALT = b"vinculo hardening v1"


def _salt_birth_year(r: StandardizedRecord) -> str:
    return "" if r.birth_date is None else str(r.birth_date.year)


def _salt_birth_decade(r: StandardizedRecord) -> str:
    if r.birth_date is not None:
        return str(r.birth_date.year // 10)
    low, high = r.birth_year_min, r.birth_year_max
    if low is not None and high is not None and low // 10 == high // 10:
        return str(low // 10)
    return ""


# Per-record salts a schema may name; the value is code, versioned with the schema id.
SALT_ATTRIBUTES = {
    "birth_year": _salt_birth_year,
    "birth_decade": _salt_birth_decade,
    "birth_month": lambda r: "" if r.birth_date is None or r.birth_date.month is None
    else str(r.birth_date.month),
    "sex": lambda r: r.sex,
}


@dataclass(frozen=True, slots=True)
class HardeningStep:
    """One declared transform and its parameters (already checked)."""

    type: str
    params: dict[str, Any] = field(default_factory=dict)


def _bits(clks: np.ndarray) -> np.ndarray:
    arr = np.ascontiguousarray(clks)
    if arr.dtype != np.uint8 or arr.ndim != 2:
        raise InputError(f"se esperaba un arreglo uint8 (n, bytes), no {arr.dtype} {arr.shape}")
    return np.unpackbits(arr, axis=1)


def _pack(bits: np.ndarray) -> np.ndarray:
    return np.packbits(bits.astype(np.uint8, copy=False), axis=1)


def _stream(key: bytes, label: bytes, nbytes: int) -> bytes:
    return hashlib.shake_256(len(key).to_bytes(2, "big") + key + label).digest(nbytes)


def keyed_permutation(key: bytes, size: int) -> np.ndarray:
    """A permutation of ``range(size)`` fixed by ``key`` (sort by keyed BLAKE2b of the index).

    >>> keyed_permutation(bytes(32), 6).tolist() == keyed_permutation(bytes(32), 6).tolist()
    True
    >>> sorted(keyed_permutation(b"k" * 32, 6).tolist())
    [0, 1, 2, 3, 4, 5]
    """
    tags = [
        hashlib.blake2b(i.to_bytes(4, "big"), key=key[:64], digest_size=16).digest()
        for i in range(size)
    ]
    return np.asarray(sorted(range(size), key=tags.__getitem__), dtype=np.int64)


def xor_fold(clks: np.ndarray, *, folds: int = 1) -> np.ndarray:
    """XOR the first half of each filter with the second, ``folds`` times.

    >>> xor_fold(np.array([[0b11110000, 0b10101010]], dtype=np.uint8)).tolist()
    [[90]]
    """
    out = np.ascontiguousarray(clks, dtype=np.uint8)
    for _ in range(folds):
        half = out.shape[1] // 2
        if out.shape[1] % 2 or half == 0:
            raise InputError(f"no se puede plegar un filtro de {out.shape[1]} bytes")
        out = out[:, :half] ^ out[:, half:]
    return out


def balance(clks: np.ndarray, *, key: bytes) -> np.ndarray:
    """Append the complement and permute under ``key``: exactly half the bits are set.

    >>> out = balance(np.array([[0b11110000]], dtype=np.uint8), key=bytes(32))
    >>> out.shape, int(np.unpackbits(out).sum())
    ((1, 2), 8)
    """
    bits = _bits(clks)
    both = np.concatenate([bits, 1 - bits], axis=1)
    return _pack(both[:, keyed_permutation(key, both.shape[1])])


def blip_epsilon(f: float) -> float:
    """ε of permanent randomised response with flip probability ``f`` (per bit).

    >>> round(blip_epsilon(0.1), 3)
    5.889
    """
    return 2.0 * math.log((1.0 - f / 2.0) / (f / 2.0))


def blip(clks: np.ndarray, *, key: bytes, f: float,
         record_keys: Sequence[bytes] | None = None) -> np.ndarray:
    """Replace each bit by a random one with probability ``f``, from a PRNG keyed per record.

    ``record_keys`` (one per row, e.g. the record reference) seed each record's randomness
    together with ``key``; without them the record's own filter is the seed (identical
    filters then get identical noise).

    >>> c = np.zeros((2, 128), dtype=np.uint8)
    >>> a = blip(c, key=bytes(32), f=0.5, record_keys=[b"r1", b"r2"])
    >>> bool((a == blip(c, key=bytes(32), f=0.5, record_keys=[b"r1", b"r2"])).all())
    True
    """
    if not 0.0 < f < 1.0:
        raise InputError(f"f de BLIP debe estar en (0, 1), no {f}")
    bits = _bits(clks)
    n, width = bits.shape
    if record_keys is not None and len(record_keys) != n:
        raise InputError("record_keys debe tener una entrada por filtro")
    threshold = round(f * 65536)
    out = bits.copy()
    for i in range(n):
        seed = bytes(record_keys[i]) if record_keys is not None else bytes(clks[i])
        raw = np.frombuffer(_stream(key, b"blip" + seed, width * 2 + width // 8), dtype=np.uint8)
        draw = raw[: width * 2].view(">u2")
        coin = np.unpackbits(raw[width * 2:])
        pick = draw < threshold
        out[i, pick] = coin[pick]
    return _pack(out)


def salt_permute(clks: np.ndarray, *, key: bytes, salts: Sequence[str]) -> np.ndarray:
    """Permute each filter's bits under ``key`` and its salt; an empty salt leaves it as is.

    >>> c = np.array([[1, 2], [1, 2]], dtype=np.uint8)
    >>> out = salt_permute(c, key=bytes(32), salts=["1990", ""])
    >>> out[1].tolist(), int(np.unpackbits(out[0]).sum())
    ([1, 2], 2)
    """
    bits = _bits(clks)
    if len(salts) != len(bits):
        raise InputError("salts debe tener una entrada por filtro")
    out = bits.copy()
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(salts):
        if s:
            groups.setdefault(s, []).append(i)
    for s, rows in groups.items():
        sub_key = hashlib.blake2b(s.encode("utf-8"), key=key[:64], digest_size=32).digest()
        idx = np.asarray(rows, dtype=np.int64)
        out[idx] = bits[idx][:, keyed_permutation(sub_key, bits.shape[1])]
    return _pack(out)


def diffusion_taps(key: bytes, *, input_bits: int, output_bits: int, t: int) -> np.ndarray:
    """(output_bits, t) distinct input positions per output bit, fixed by ``key``.

    >>> taps = diffusion_taps(bytes(32), input_bits=64, output_bits=64, t=3)
    >>> taps.shape, all(len(set(row)) == 3 for row in taps.tolist())
    ((64, 3), True)
    """
    if not 1 <= t <= input_bits:
        raise InputError(f"t de difusión debe estar entre 1 y {input_bits}, no {t}")
    taps = np.empty((output_bits, t), dtype=np.int64)
    stream = np.frombuffer(_stream(key, b"taps", output_bits * t * 8), dtype=">u4")
    pos = 0
    for j in range(output_bits):
        row: list[int] = []
        while len(row) < t:
            if pos >= len(stream):
                stream = np.frombuffer(
                    _stream(key, b"taps" + j.to_bytes(4, "big"), t * 64), dtype=">u4")
                pos = 0
            cand = int(stream[pos]) % input_bits
            pos += 1
            if cand not in row:
                row.append(cand)
        taps[j] = row
    return taps


def diffuse(clks: np.ndarray, *, key: bytes, t: int, output_bits: int) -> np.ndarray:
    """Each output bit = XOR of ``t`` keyed input bits (a linear diffusion layer).

    >>> c = np.zeros((1, 8), dtype=np.uint8); c[0, 0] = 0x80
    >>> out = diffuse(c, key=bytes(32), t=2, output_bits=128)
    >>> out.shape
    (1, 16)
    """
    taps = diffusion_taps(key, input_bits=clks.shape[1] * 8, output_bits=output_bits, t=t)
    # Straight from the packed bytes, one row per input byte (bytes × records): output bit j
    # is the XOR over k of bit taps[j, k], i.e. byte taps >> 3 shifted right by 7 − taps & 7
    # (the same bits as unpacking every record, about 4× faster).
    columns = np.ascontiguousarray(np.asarray(clks, dtype=np.uint8).T)
    byte, shift = taps >> 3, (7 - (taps & 7)).astype(np.uint8)
    out = columns[byte[:, 0]] >> shift[:, 0, None]
    for k in range(1, t):
        out ^= columns[byte[:, k]] >> shift[:, k, None]
    out &= 1
    return np.packbits(out.T, axis=1)


def _check_steps(raw: Any, clk_bits: int) -> tuple[HardeningStep, ...]:
    if not isinstance(raw, list) or not raw:
        raise SchemaMismatch("vinculo.hardening.steps debe ser una lista no vacía")
    steps = []
    width = clk_bits
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or item.get("type") not in STEP_TYPES:
            raise SchemaMismatch(
                f"paso de endurecimiento {i} desconocido: use uno de {', '.join(STEP_TYPES)}")
        params = {k: v for k, v in item.items() if k != "type"}
        kind = item["type"]
        allowed = {"xor_fold": {"folds"}, "balance": set(), "blip": {"f"},
                   "salt": {"attributes"}, "diffusion": {"t", "output_bits"}}[kind]
        if set(params) - allowed:
            raise SchemaMismatch(f"paso {i} ({kind}): parámetros desconocidos "
                                 f"{sorted(set(params) - allowed)}")
        if kind == "xor_fold":
            folds = params.setdefault("folds", 1)
            if not isinstance(folds, int) or not 1 <= folds <= 4:
                raise SchemaMismatch(f"paso {i}: folds debe estar entre 1 y 4")
            width >>= folds
        elif kind == "balance":
            width *= 2
        elif kind == "blip":
            f = params.get("f")
            if not isinstance(f, int | float) or not 0.0 < f < 1.0:
                raise SchemaMismatch(f"paso {i}: f de BLIP debe estar en (0, 1)")
        elif kind == "salt":
            attrs = params.get("attributes")
            if (not isinstance(attrs, list) or not attrs
                    or any(a not in SALT_ATTRIBUTES for a in attrs)):
                raise SchemaMismatch(
                    f"paso {i}: attributes debe listar atributos de {sorted(SALT_ATTRIBUTES)}")
        else:
            t, out = params.get("t"), params.get("output_bits", width)
            params["output_bits"] = out
            if not isinstance(t, int) or not 1 <= t <= 64:
                raise SchemaMismatch(f"paso {i}: t de difusión debe estar entre 1 y 64")
            if not isinstance(out, int) or out <= 0 or out % 64:
                raise SchemaMismatch(f"paso {i}: output_bits debe ser múltiplo positivo de 64")
            width = out
        if width <= 0 or width % 64:
            raise SchemaMismatch(f"paso {i} ({kind}) deja {width} bits: múltiplo de 64")
        steps.append(HardeningStep(kind, params))
    return tuple(steps)


def hardening_steps(schema: Mapping[str, Any]) -> tuple[HardeningStep, ...]:
    """The steps the schema declares (``vinculo.hardening.steps``); () when it declares none.

    >>> hardening_steps({"clkConfig": {"l": 1024}, "vinculo": {"hardening": {"steps": [
    ...     {"type": "xor_fold"}]}}})
    (HardeningStep(type='xor_fold', params={'folds': 1}),)
    """
    block = (schema.get("vinculo") or {}).get("hardening")
    if block is None:
        return ()
    if not isinstance(block, dict):
        raise SchemaMismatch("vinculo.hardening debe ser un objeto")
    clk_bits = int((schema.get("clkConfig") or {}).get("l", 0))
    return _check_steps(block.get("steps"), clk_bits)


def output_bits(schema: Mapping[str, Any]) -> int:
    """Length of the stored filter after the declared hardening.

    >>> output_bits({"clkConfig": {"l": 1024}, "vinculo": {"hardening": {"steps": [
    ...     {"type": "balance"}, {"type": "xor_fold"}]}}})
    1024
    """
    width = int((schema.get("clkConfig") or {}).get("l", 0))
    for step in hardening_steps(schema):
        if step.type == "xor_fold":
            width >>= step.params["folds"]
        elif step.type == "balance":
            width *= 2
        elif step.type == "diffusion":
            width = step.params["output_bits"]
    return width


def salt_values(records: Sequence[StandardizedRecord], attributes: Sequence[str]) -> list[str]:
    """Per record, ``name=value`` of the first attribute it has, else "" (left unsalted).

    >>> from client_sdk.records import PartialDate
    >>> recs = [StandardizedRecord(row=2, record_id="a", birth_date=PartialDate(1990), sex="F"),
    ...         StandardizedRecord(row=3, record_id="b", sex="F")]
    >>> salt_values(recs, ["birth_year", "sex"])
    ['birth_year=1990', 'sex=F']
    """
    out = []
    for r in records:
        value = ""
        for name in attributes:
            v = SALT_ATTRIBUTES[name](r)
            if v:
                value = f"{name}={v}"
                break
        out.append(value)
    return out


class Hardener:
    """The schema's hardening with step keys derived once from the linkage secret.

    >>> h = Hardener({"clkConfig": {"l": 1024}, "vinculo": {"schema_id": "x", "hardening":
    ...     {"steps": [{"type": "balance"}]}}}, secret=bytes(32))
    >>> h.apply(np.zeros((1, 128), dtype=np.uint8)).shape, h.output_bits
    ((1, 256), 2048)
    """

    def __init__(self, schema: Mapping[str, Any], *, secret: bytes) -> None:
        self.steps = hardening_steps(schema)
        self.output_bits = output_bits(schema)
        schema_id = str((schema.get("vinculo") or {}).get("schema_id", ""))
        self._keys = [
            HKDF(algorithm=hashes.SHA256(), length=32, salt=_KDF_SALT,
                 info=f"{schema_id}|{i}|{step.type}".encode()).derive(secret)
            for i, step in enumerate(self.steps)
        ]
        self.salt_attributes: tuple[str, ...] = ()
        for step in self.steps:
            if step.type == "salt":
                self.salt_attributes = tuple(step.params["attributes"])

    @property
    def active(self) -> bool:
        return bool(self.steps)

    def apply(self, clks: np.ndarray, *, record_keys: Sequence[bytes] | None = None,
              salts: Sequence[str] | None = None) -> np.ndarray:
        """Run the declared steps in order; ``salts`` are required when a ``salt`` step exists."""
        out = np.ascontiguousarray(clks, dtype=np.uint8)
        for step, key in zip(self.steps, self._keys, strict=True):
            p = step.params
            if step.type == "xor_fold":
                out = xor_fold(out, folds=p["folds"])
            elif step.type == "balance":
                out = balance(out, key=key)
            elif step.type == "blip":
                out = blip(out, key=key, f=float(p["f"]), record_keys=record_keys)
            elif step.type == "salt":
                if salts is None:
                    raise InputError("el esquema sala los filtros: faltan los valores de sal")
                out = salt_permute(out, key=key, salts=salts)
            else:
                out = diffuse(out, key=key, t=p["t"], output_bits=p["output_bits"])
        return out


def apply(clks: np.ndarray, schema: Mapping[str, Any], secret: bytes, *,
          record_keys: Sequence[bytes] | None = None,
          salts: Sequence[str] | None = None) -> np.ndarray:
    """Harden ``clks`` as ``schema`` declares (unchanged when it declares nothing).

    >>> s = {"clkConfig": {"l": 1024}, "vinculo": {"schema_id": "x"}}
    >>> apply(np.ones((1, 128), dtype=np.uint8), s, bytes(32)).shape
    (1, 128)
    """
    hardener = Hardener(schema, secret=secret)
    if not hardener.active:
        return np.ascontiguousarray(clks, dtype=np.uint8)
    return hardener.apply(clks, record_keys=record_keys, salts=salts)
