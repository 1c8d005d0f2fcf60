"""Candidate generation that grows far slower than n²: Hamming LSH over sampled CLK bits.

Each *band* samples ``bits_per_band`` bit positions of the CLK (fixed by a seed, the same for
every record); two records are candidates when they agree on all sampled bits of at least one
band. A pair of CLKs at Hamming distance h out of B bits agrees on one sampled bit with
probability q = 1 − h/B, on a band with q^k, and on at least one of L bands with
1 − (1 − q^k)^L: near-duplicates almost surely meet, unrelated records rarely. Sampling k bits
per band with k growing like log n keeps the expected bucket size flat, so the work grows like
L·n plus the (few) candidate pairs, instead of n². ``docs/linkage.md`` gives the measured
recall and the choice of L and k.

Optional attribute blocks (for example the keyed document hash) add pairs that share an exact
key, whatever their CLKs.

>>> import numpy as np
>>> from linkage_service.linkage.synthetic import synthetic_registries
>>> data = synthetic_registries(records_per_source=300, seed=2)
>>> pairs = lsh_candidate_pairs(data.clks, params=LshParams(bands=20, bits_per_band=12))
>>> bool((pairs[0] < pairs[1]).all())
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from linkage_service.linkage.similarity import check_clks, dice_of_pairs, popcounts

__all__ = [
    "LshParams",
    "band_keys",
    "bands_for",
    "bits_per_band_for",
    "key_block_pairs",
    "lsh_candidate_pairs",
    "merge_pairs",
    "pairs_within_groups",
]

_ROW_CHUNK = 1 << 15


@dataclass(frozen=True)
class LshParams:
    """Hamming-LSH parameters.

    ``bits_per_band`` None: chosen from the data (``bits_per_band_for``) so that an unrelated
    record meets about ``random_partners`` others per band. ``bands`` None: chosen
    (``bands_for``) so that a pair at Dice ``design_dice`` (with the mean popcount of the data)
    meets in at least one band with probability ``design_recall``; as n grows, k grows like
    log n and the bands with it, which keeps recall flat. ``max_bucket``: buckets larger
    than this are skipped (their key carries no information, e.g. a run of zero bits) and
    counted in the result.
    """

    bands: int | None = None
    bits_per_band: int | None = None
    random_partners: float = 0.2
    design_dice: float = 0.8
    design_recall: float = 0.9999
    max_bands: int = 1024
    max_bucket: int = 2000
    seed: int = 20240601

    def __post_init__(self) -> None:
        if self.bands is not None and not 1 <= self.bands <= 4096:
            raise ValueError(f"bands must be in [1, 4096] (got {self.bands})")
        if self.bits_per_band is not None and not 1 <= self.bits_per_band <= 64:
            raise ValueError(f"bits_per_band must be in [1, 64] (got {self.bits_per_band})")
        if self.random_partners <= 0:
            raise ValueError(f"random_partners must be > 0 (got {self.random_partners})")
        if not 0.0 < self.design_dice < 1.0 or not 0.0 < self.design_recall < 1.0:
            raise ValueError("design_dice and design_recall must be in (0, 1)")
        if self.max_bucket < 2:
            raise ValueError(f"max_bucket must be ≥ 2 (got {self.max_bucket})")


def bits_per_band_for(clks: np.ndarray, *, random_partners: float = 0.2) -> int:
    """Bits per band so that n²/2 · p^k ≈ random_partners · n, p = agreement of random pairs.

    p is estimated from the bit frequencies f as the mean of f² + (1 − f)².

    >>> rng = np.random.default_rng(0)
    >>> bits_per_band_for(rng.integers(0, 256, size=(4096, 128), dtype=np.uint8))
    14
    """
    arr = check_clks(clks)
    n = len(arr)
    if n < 2:
        return 1
    sample = arr[:: max(1, n // 20000)]
    freq = np.unpackbits(sample, axis=1).mean(axis=0)
    agree = float(np.clip(np.mean(freq**2 + (1 - freq) ** 2), 0.5, 0.999))
    k = math.log(max(n / (2 * random_partners), 2.0)) / -math.log(agree)
    return int(min(64, max(1, math.ceil(k))))


def bands_for(
    clks: np.ndarray,
    *,
    bits_per_band: int,
    design_dice: float,
    design_recall: float,
    max_bands: int = 1024,
) -> int:
    """Bands L with 1 − (1 − q^k)^L ≥ design_recall, q = 1 − 2·popcount·(1 − d)/bits.

    >>> c = np.zeros((10, 128), dtype=np.uint8); c[:, :48] = 0xFF  # popcount 384 of 1024
    >>> bands_for(c, bits_per_band=17, design_dice=0.8, design_recall=0.9995)
    117
    """
    arr = check_clks(clks)
    nbits = arr.shape[1] * 8
    sample = arr[:: max(1, len(arr) // 20000)]
    mean_pc = float(np.bitwise_count(sample.view(np.uint64)).sum(axis=1).mean()) if len(arr) else 0
    q = max(1e-6, 1.0 - 2.0 * mean_pc * (1.0 - design_dice) / nbits)
    hit = q**bits_per_band
    if hit >= 1.0:
        return 1
    bands = math.log(1.0 - design_recall) / math.log1p(-hit)
    return int(min(max_bands, max(1, math.ceil(bands))))


def band_keys(clks: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Keys (bands, n) uint64: the bits of each record at ``positions`` (bands, k ≤ 64).

    >>> c = np.zeros((2, 8), dtype=np.uint8); c[1, 0] = 0x80
    >>> band_keys(c, np.array([[0, 1]])).tolist()
    [[0, 1]]
    """
    arr = check_clks(clks)
    bands, k = positions.shape
    if k > 64:
        raise ValueError(f"at most 64 bits per band (got {k})")
    nbytes = (k + 7) // 8
    keys = np.zeros((bands, len(arr)), dtype=np.uint64)
    flat = positions.reshape(-1)
    for start in range(0, len(arr), _ROW_CHUNK):
        bits = np.unpackbits(arr[start : start + _ROW_CHUNK], axis=1)[:, flat]
        packed = np.packbits(bits.reshape(len(bits), bands, k), axis=2, bitorder="little")
        padded = np.zeros((len(bits), bands, 8), dtype=np.uint8)
        padded[:, :, :nbytes] = packed
        keys[:, start : start + len(bits)] = padded.view("<u8")[:, :, 0].T
    return keys


def pairs_within_groups(
    keys: np.ndarray, *, max_group: int | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """All pairs (i < j) of rows sharing a key; groups larger than ``max_group`` are skipped.

    Returns (left, right, skipped_records).

    >>> l, r, s = pairs_within_groups(np.array([5, 7, 5, 5]))
    >>> sorted(zip(l.tolist(), r.tolist())), s
    ([(0, 2), (0, 3), (2, 3)], 0)
    """
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    n = len(keys)
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    sizes = np.diff(np.r_[starts, n])
    skipped = 0
    if max_group is not None:
        big = sizes > max_group
        skipped = int(sizes[big].sum())
        keep = (sizes >= 2) & ~big
    else:
        keep = sizes >= 2
    starts, sizes = starts[keep], sizes[keep]
    if len(starts) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty.copy(), skipped
    # Each member at position p of a group ending at e pairs with p+1 … e−1.
    member_pos = _members(starts, sizes)
    group_end = np.repeat(starts + sizes, sizes)
    partners = group_end - member_pos - 1
    left_pos = np.repeat(member_pos, partners)
    first = np.cumsum(partners) - partners
    offset = np.arange(len(left_pos)) - np.repeat(first, partners) + 1
    right_pos = left_pos + offset
    a, b = order[left_pos], order[right_pos]
    return np.minimum(a, b).astype(np.int64), np.maximum(a, b).astype(np.int64), skipped


def _members(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    total = int(sizes.sum())
    first = np.cumsum(sizes) - sizes
    return np.repeat(starts - first, sizes) + np.arange(total)


def merge_pairs(
    parts: list[tuple[np.ndarray, np.ndarray]], *, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Union of pair lists (left < right), deduplicated and sorted.

    >>> merge_pairs([(np.array([0, 1]), np.array([2, 2])), (np.array([0]), np.array([2]))], n=3)
    (array([0, 1]), array([2, 2]))
    """
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty.copy()
    codes = np.concatenate([left * n + right for left, right in parts])
    codes.sort(kind="stable" if len(codes) < 2 else "quicksort")
    if len(codes):
        codes = codes[np.r_[True, codes[1:] != codes[:-1]]]
    return codes // n, codes % n


def key_block_pairs(
    keys: np.ndarray, *, valid: np.ndarray, max_group: int = 50
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of records sharing an exact key (e.g. a document hash); ``valid`` masks records
    that have one. Groups over ``max_group`` are skipped: an exact key shared by that many
    records is a data error, not evidence.

    >>> k = np.array([3, 3, 0, 3]); l, r = key_block_pairs(k, valid=k > 0)
    >>> list(zip(l.tolist(), r.tolist()))
    [(0, 1), (0, 3), (1, 3)]
    """
    rows = np.flatnonzero(valid)
    left, right, _ = pairs_within_groups(np.asarray(keys)[rows], max_group=max_group)
    return rows[left], rows[right]


def lsh_candidate_pairs(
    clks: np.ndarray,
    *,
    params: LshParams,
    involve: np.ndarray | None = None,
    min_dice: float | None = None,
    stats: dict[str, int] | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Deduplicated candidate pairs (left < right) from Hamming LSH, plus the number of
    record-band memberships skipped in oversized buckets.

    ``involve``: optional boolean mask; only pairs with at least one record in it are kept
    (an incremental job passes the new records). ``min_dice``: drop pairs below this Dice band
    by band, so memory holds only survivors (most LSH candidates are unrelated records).
    ``stats`` (a dict) receives ``compared``, the number of candidate pairs examined.

    >>> c = np.zeros((3, 8), dtype=np.uint8); c[2] = 0xFF
    >>> l, r, _ = lsh_candidate_pairs(c, params=LshParams(bands=2, bits_per_band=8))
    >>> list(zip(l.tolist(), r.tolist()))
    [(0, 1)]
    """
    arr = check_clks(clks)
    n = len(arr)
    k = params.bits_per_band or bits_per_band_for(arr, random_partners=params.random_partners)
    bands = params.bands or bands_for(
        arr,
        bits_per_band=k,
        design_dice=params.design_dice,
        design_recall=params.design_recall,
        max_bands=params.max_bands,
    )
    rng = np.random.default_rng(params.seed)
    nbits = arr.shape[1] * 8
    positions = np.stack(
        [rng.choice(nbits, size=min(k, nbits), replace=False) for _ in range(bands)]
    )
    keys = band_keys(arr, positions)
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    skipped = 0
    unique_size, raw_size, compared = 0, 0, 0
    counts = popcounts(arr) if min_dice is not None else None
    for band in range(bands):
        left, right, s = pairs_within_groups(keys[band], max_group=params.max_bucket)
        skipped += s
        if involve is not None:
            keep = involve[left] | involve[right]
            left, right = left[keep], right[keep]
        compared += len(left)
        if min_dice is not None:
            keep = dice_of_pairs(arr, left, right, counts=counts) >= min_dice
            left, right = left[keep], right[keep]
        parts.append((left, right))
        raw_size += len(left)
        # Deduplicate when the raw pairs have doubled: bounded memory, amortised O(P log P).
        if raw_size > 2 * unique_size + (1 << 22):
            parts = [merge_pairs(parts, n=n)]
            unique_size = raw_size = len(parts[0][0])
    left, right = merge_pairs(parts, n=n)
    if stats is not None:
        stats["compared"] = compared
    return left, right, skipped
