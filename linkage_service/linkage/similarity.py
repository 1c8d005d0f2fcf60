"""Dice similarity of CLKs: the only module of vinculo that imports anonlink.

Everything else passes CLKs as numpy ``uint8`` arrays of shape (n, bytes): 1024-bit CLKs are
(n, 128), bits big-endian within a byte as clkhash's ``bitarray.tobytes()``. This wrapper turns
them into what anonlink wants (``bitarray`` per record) only where anonlink is called, so
anonlink can be replaced by touching one file.

Two kinds of work:

- ``dice_candidates`` / ``dice_candidates_within``: every pair at or above a threshold,
  with anonlink's native all-pairs kernel (exact, quadratic: for blocks, tests and baselines);
- ``dice_of_pairs``: Dice of given pairs, vectorised popcount on uint64 views (what the
  blocked job uses after candidate generation).

>>> import numpy as np
>>> clks = np.zeros((2, 128), dtype=np.uint8); clks[0, :2] = 0xFF; clks[1, 0] = 0xFF
>>> float(dice_of_pairs(clks, np.array([0]), np.array([1]))[0])  # 2·8 / (16 + 8)
0.6666666666666666
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from vinculo_common.errors import InputError

__all__ = [
    "PairArrays",
    "check_clks",
    "dice_candidates",
    "dice_candidates_within",
    "dice_of_pairs",
    "popcounts",
    "to_bitarrays",
]

# Pairs per vectorised step. Small, with buffers reused: the gathered CLKs (2 × 2048 × 128
# bytes) stay in cache; 2^18 pairs per step (64 MiB of temporaries) was twice as slow.
_CHUNK = 1 << 11


class PairArrays(NamedTuple):
    """Record pairs as parallel arrays: ``left < right`` (row indices) and their Dice."""

    left: np.ndarray  # int64
    right: np.ndarray  # int64
    dice: np.ndarray  # float64


def check_clks(clks: np.ndarray) -> np.ndarray:
    """Return ``clks`` as a C-contiguous uint8 (n, bytes) array or raise InputError.

    >>> check_clks(np.zeros((3, 128), dtype=np.uint8)).shape
    (3, 128)
    """
    arr = np.ascontiguousarray(clks)
    if arr.dtype != np.uint8 or arr.ndim != 2 or arr.shape[1] == 0 or arr.shape[1] % 8:
        raise InputError(
            "clks must be a uint8 array of shape (n, bytes) with bytes a positive multiple of 8 "
            f"(got dtype {arr.dtype}, shape {arr.shape})"
        )
    return arr


def _words(clks: np.ndarray) -> np.ndarray:
    return check_clks(clks).view(np.uint64)


def popcounts(clks: np.ndarray) -> np.ndarray:
    """Number of set bits per CLK (int64).

    >>> popcounts(np.full((1, 8), 0x0F, dtype=np.uint8)).tolist()
    [32]
    """
    return np.bitwise_count(_words(clks)).sum(axis=1, dtype=np.int64)


def dice_of_pairs(
    clks: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    *,
    counts: np.ndarray | None = None,
) -> np.ndarray:
    """Dice coefficient 2|a∧b| / (|a|+|b|) for each pair (left[k], right[k]); 0 for empty CLKs.

    ``counts`` (from ``popcounts``) may be passed to avoid recomputing them.

    >>> c = np.zeros((2, 8), dtype=np.uint8); c[:, 0] = 0b11110000; c[1, 1] = 0b1111
    >>> dice_of_pairs(c, np.array([0]), np.array([1])).tolist()  # 2·4 / (4 + 8)
    [0.6666666666666666]
    """
    words = _words(clks)
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    if left.shape != right.shape or left.ndim != 1:
        raise InputError("left and right must be 1-d arrays of the same length")
    if counts is None:
        counts = popcounts(clks)
    from linkage_service.linkage import kernel

    lib = kernel.load() if len(left) >= 64 else None
    if lib is not None:
        return kernel.dice_of_pairs(lib, words.view(np.uint8), left, right, counts)
    out = np.empty(len(left), dtype=np.float64)
    step = min(_CHUNK, len(left))
    a_buf = np.empty((step, words.shape[1]), dtype=np.uint64)
    b_buf = np.empty_like(a_buf)
    bits = np.empty(a_buf.shape, dtype=np.uint8)
    for start in range(0, len(left), step or 1):
        li, ri = left[start : start + step], right[start : start + step]
        m = len(li)
        a, b, c = a_buf[:m], b_buf[:m], bits[:m]
        np.take(words, li, axis=0, out=a)
        np.take(words, ri, axis=0, out=b)
        np.bitwise_and(a, b, out=a)
        np.bitwise_count(a, out=c)
        both = c.sum(axis=1, dtype=np.int64)
        total = counts[li] + counts[ri]
        out[start : start + m] = np.divide(
            2.0 * both, total, out=np.zeros(m), where=total > 0
        )
    return out


def to_bitarrays(clks: np.ndarray) -> list:
    """One ``bitarray`` (big-endian) per row, as anonlink and clkhash use them.

    >>> to_bitarrays(np.array([[0x80] + [0] * 7], dtype=np.uint8))[0][:2].tolist()
    [1, 0]
    """
    from bitarray import bitarray

    arr = check_clks(clks)
    out = []
    for row in arr:
        ba = bitarray(endian="big")
        ba.frombytes(row.tobytes())
        out.append(ba)
    return out


def _anonlink_dice(a: list, b: list, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from anonlink.similarities import dice_coefficient

    if not a or not b:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty.copy(), np.empty(0)
    sims, (ia, ib) = dice_coefficient((a, b), threshold)
    return (
        np.frombuffer(ia, dtype=ia.typecode).astype(np.int64),
        np.frombuffer(ib, dtype=ib.typecode).astype(np.int64),
        np.frombuffer(sims, dtype=sims.typecode).astype(np.float64),
    )


def _check_threshold(threshold: float) -> None:
    if not 0.0 < threshold <= 1.0:
        raise InputError(f"threshold must be in (0, 1] (got {threshold})")


def dice_candidates(clks_a: np.ndarray, clks_b: np.ndarray, *, threshold: float) -> PairArrays:
    """All pairs (row of a, row of b) with Dice ≥ threshold, by anonlink's native kernel.

    Here ``left`` indexes ``clks_a`` and ``right`` indexes ``clks_b``.

    >>> a = np.full((1, 8), 0xFF, dtype=np.uint8)
    >>> dice_candidates(a, a.copy(), threshold=0.9).dice.tolist()
    [1.0]
    """
    _check_threshold(threshold)
    i, j, d = _anonlink_dice(to_bitarrays(clks_a), to_bitarrays(clks_b), threshold)
    return PairArrays(i, j, d)


def dice_candidates_within(clks: np.ndarray, *, threshold: float) -> PairArrays:
    """All pairs i < j of one array with Dice ≥ threshold (anonlink's kernel, array vs itself).

    >>> c = np.full((3, 8), 0xFF, dtype=np.uint8)
    >>> len(dice_candidates_within(c, threshold=0.5).left)
    3
    """
    _check_threshold(threshold)
    bits = to_bitarrays(clks)
    i, j, d = _anonlink_dice(bits, bits, threshold)
    keep = i < j
    order = np.lexsort((j[keep], i[keep]))
    return PairArrays(i[keep][order], j[keep][order], d[keep][order])
