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
>>> from vinculo_lab.synthetic_clks import synthetic_registries
>>> data = synthetic_registries(records_per_source=300, seed=2)
>>> pairs = lsh_candidate_pairs(data.clks, params=LshParams(bands=20, bits_per_band=12))
>>> bool((pairs[0] < pairs[1]).all())
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from linkage_service.linkage import kernel
from linkage_service.linkage.similarity import check_clks, dice_of_pairs, popcounts
from vinculo_common.errors import InputError

__all__ = [
    "LshParams",
    "band_keys",
    "band_positions",
    "bands_for",
    "bits_per_band_for",
    "budget_mask",
    "key_block_pairs",
    "lsh_candidate_pairs",
    "merge_codes",
    "merge_pairs",
    "pairs_within_groups",
]

_ROW_CHUNK = 1 << 15
# Dice as an integer rank: floor(d · 2^26) is exact (a power-of-two scale) and injective on
# Dice values 2c / (|a| + |b|) of CLKs up to 4,096 bits (distinct ones differ by ≥ 1/8192²).
_RANK_BITS = 26


@dataclass(frozen=True)
class LshParams:
    """Hamming-LSH parameters.

    ``bits_per_band`` None: chosen from the data (``bits_per_band_for``) so that an unrelated
    record meets about ``random_partners`` others per band. ``bands`` None: chosen
    (``bands_for``) so that a pair at Dice ``design_dice`` (with the mean popcount of the data)
    meets in at least one band with probability ``design_recall``; as n grows, k grows like
    log n and the bands with it, which keeps recall flat. ``max_bands`` caps that L, but never
    below the bands that give ``recall_floor`` at ``design_dice`` (up to ``max_floor_bands``):
    the cap binds from about 3 × 10k records on, and without the floor the recall of a pair at
    the design Dice fell from 0.94 there to 0.81 at 3 × 300k (k grows, L did not).
    ``max_bucket``: buckets larger than this are skipped (their key carries no information,
    e.g. a run of zero bits) and counted in the result. ``key_budget_mb``: band keys held at
    once (a group of bands over all records); ``pair_buffer``: raw pairs buffered before they
    are deduplicated and checked by Dice. Neither changes the result, only memory and speed.
    """

    bands: int | None = None
    bits_per_band: int | None = None
    random_partners: float = 0.2
    design_dice: float = 0.8
    design_recall: float = 0.9999
    max_bands: int = 1024
    recall_floor: float = 0.94
    max_floor_bands: int = 8192
    max_bucket: int = 2000
    seed: int = 20240601
    key_budget_mb: int = 256
    pair_buffer: int = 1 << 23

    def __post_init__(self) -> None:
        if self.bands is not None and not 1 <= self.bands <= 4096:
            raise InputError(f"bands must be in [1, 4096] (got {self.bands})")
        if self.bits_per_band is not None and not 1 <= self.bits_per_band <= 64:
            raise InputError(f"bits_per_band must be in [1, 64] (got {self.bits_per_band})")
        if self.random_partners <= 0:
            raise InputError(f"random_partners must be > 0 (got {self.random_partners})")
        if not 0.0 < self.design_dice < 1.0 or not 0.0 < self.design_recall < 1.0:
            raise InputError("design_dice and design_recall must be in (0, 1)")
        if not 0.0 <= self.recall_floor < 1.0:
            raise InputError(f"recall_floor must be in [0, 1) (got {self.recall_floor})")
        if self.max_bucket < 2:
            raise InputError(f"max_bucket must be ≥ 2 (got {self.max_bucket})")
        if self.key_budget_mb < 1 or self.pair_buffer < 1:
            raise InputError("key_budget_mb and pair_buffer must be ≥ 1")


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
    recall_floor: float = 0.0,
    max_floor_bands: int = 8192,
) -> int:
    """Bands L with 1 − (1 − q^k)^L ≥ design_recall, q = 1 − 2·popcount·(1 − d)/bits, at
    most ``max_bands``, but at least those reaching ``recall_floor`` (at most
    ``max_floor_bands``).

    >>> c = np.zeros((10, 128), dtype=np.uint8); c[:, :48] = 0xFF  # popcount 384 of 1024
    >>> bands_for(c, bits_per_band=17, design_dice=0.8, design_recall=0.9995)
    117
    >>> bands_for(c, bits_per_band=17, design_dice=0.8, design_recall=0.9995, max_bands=50,
    ...           recall_floor=0.99)
    71
    """
    arr = check_clks(clks)
    nbits = arr.shape[1] * 8
    sample = arr[:: max(1, len(arr) // 20000)]
    mean_pc = float(np.bitwise_count(sample.view(np.uint64)).sum(axis=1).mean()) if len(arr) else 0
    q = max(1e-6, 1.0 - 2.0 * mean_pc * (1.0 - design_dice) / nbits)
    hit = q**bits_per_band
    if hit >= 1.0:
        return 1

    def needed(recall: float) -> int:
        return max(1, math.ceil(math.log(1.0 - recall) / math.log1p(-hit)))

    bands = min(max_bands, needed(design_recall))
    if recall_floor > 0:
        bands = max(bands, min(max_floor_bands, needed(recall_floor)))
    return int(bands)


def band_keys(
    clks: np.ndarray, positions: np.ndarray, *, rows: slice | None = None
) -> np.ndarray:
    """Keys (bands, n) uint64: the bits of each record at ``positions`` (bands, k ≤ 64).

    Bit j of a band's key is the CLK bit at ``positions[band, j]``. The CLKs are turned into
    bit planes (one row per bit position, a chunk of records at a time), so each band costs
    k cheap operations on contiguous planes, not a pass over all bits. ``rows``: only
    these records (a band group of a large input is computed chunk by chunk).

    >>> c = np.zeros((2, 8), dtype=np.uint8); c[1, 0] = 0x80
    >>> band_keys(c, np.array([[0, 1]])).tolist()
    [[0, 1]]
    """
    arr = check_clks(clks)
    if rows is not None:
        arr = arr[rows]
    bands, k = positions.shape
    if k > 64:
        raise InputError(f"at most 64 bits per band (got {k})")
    keys = np.zeros((bands, len(arr)), dtype=np.uint64)
    for start in range(0, len(arr), _ROW_CHUNK):
        planes = np.unpackbits(np.ascontiguousarray(arr[start : start + _ROW_CHUNK].T), axis=0)
        width = planes.shape[1]
        for band in range(bands):
            out = keys[band, start : start + width]
            where = positions[band].tolist()
            # Eight planes at a time into a byte (cheap uint8 ops), then the byte into the key.
            for low in range(0, k, 8):
                byte = planes[where[low]].copy()
                for j in range(1, min(8, k - low)):
                    byte |= planes[where[low + j]] << j
                out |= byte.astype(np.uint64) << np.uint64(low)
    return keys


def pairs_within_groups(
    keys: np.ndarray,
    *,
    max_group: int | None = None,
    involve: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """All pairs (i < j) of rows sharing a key; groups larger than ``max_group`` are skipped.

    ``involve`` (boolean mask): only pairs with at least one row in it are emitted, and only
    those are generated (an incremental job: new × new and new × existing, never
    existing × existing). Returns (left, right, skipped_records): the records of skipped
    groups (with ``involve``, of skipped groups holding an involved row).

    >>> l, r, s = pairs_within_groups(np.array([5, 7, 5, 5]))
    >>> sorted(zip(l.tolist(), r.tolist())), s
    ([(0, 2), (0, 3), (2, 3)], 0)
    >>> l, r, _ = pairs_within_groups(np.array([5, 7, 5, 5]), involve=np.array([0, 0, 0, 1], bool))
    >>> sorted(zip(l.tolist(), r.tolist()))
    [(0, 3), (2, 3)]
    """
    order, sorted_keys = _sort_keys(np.asarray(keys))
    n = len(keys)
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    sizes = np.diff(np.r_[starts, n])
    skipped = 0
    if max_group is not None:
        big = sizes > max_group
        if involve is not None and big.any():  # only groups whose pairs would be generated
            inv_sorted = np.asarray(involve, dtype=bool)[order]
            big &= np.add.reduceat(inv_sorted, starts) > 0
        skipped = int(sizes[big].sum())
        keep = (sizes >= 2) & ~big
    else:
        keep = sizes >= 2
    starts, sizes = starts[keep], sizes[keep]
    if len(starts) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty.copy(), skipped
    member_pos = _members(starts, sizes)
    group_start = np.repeat(starts, sizes)
    group_end = group_start + np.repeat(sizes, sizes)
    if involve is None:
        # Each member at position p of a group ending at e pairs with p+1 … e−1.
        partners = group_end - member_pos - 1
        left_pos = np.repeat(member_pos, partners)
        first = np.cumsum(partners) - partners
        right_pos = left_pos + np.arange(len(left_pos)) - np.repeat(first, partners) + 1
    else:
        # Each involved member pairs with every other member of its group, except involved
        # members before it (that pair comes from the other side).
        inv = np.asarray(involve, dtype=bool)[order]
        chosen = inv[member_pos]
        pos, g_start = member_pos[chosen], group_start[chosen]
        partners = group_end[chosen] - g_start - 1
        left_pos = np.repeat(pos, partners)
        first = np.cumsum(partners) - partners
        right_pos = np.repeat(g_start, partners) + np.arange(len(left_pos)) - np.repeat(
            first, partners
        )
        right_pos += right_pos >= left_pos  # skip the member itself
        ok = ~inv[right_pos] | (right_pos > left_pos)
        left_pos, right_pos = left_pos[ok], right_pos[ok]
    a, b = order[left_pos], order[right_pos]
    return np.minimum(a, b).astype(np.int64), np.maximum(a, b).astype(np.int64), skipped


def _sort_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order, keys[order]); one ``np.sort`` of key·2^b + row when both fit in 64 bits
    (about twice as fast as ``argsort``), else ``argsort``. Ties come out by row."""
    n = len(keys)
    row_bits = max(1, (n - 1).bit_length())
    if (
        n
        and keys.dtype.kind in "ui"
        and int(keys.min()) >= 0
        and int(keys.max()).bit_length() + row_bits <= 63
    ):
        packed = np.sort((keys.astype(np.int64) << row_bits) | np.arange(n, dtype=np.int64))
        return packed & ((1 << row_bits) - 1), (packed >> row_bits).astype(keys.dtype)
    order = np.argsort(keys, kind="stable")
    return order, keys[order]


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
    codes = merge_codes(parts, n=n)
    return codes // n, codes % n


def merge_codes(parts: list[tuple[np.ndarray, np.ndarray]], *, n: int) -> np.ndarray:
    """``merge_pairs`` as sorted unique codes left·n + right (one array instead of two).

    >>> merge_codes([(np.array([1, 0]), np.array([2, 2]))], n=3).tolist()
    [2, 5]
    """
    if not parts:
        return np.empty(0, dtype=np.int64)
    codes = np.concatenate([left * n + right for left, right in parts])
    codes.sort(kind="stable" if len(codes) < 2 else "quicksort")
    if len(codes):
        codes = codes[np.r_[True, codes[1:] != codes[:-1]]]
    return codes


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


def band_positions(nbits: int, *, bands: int, bits_per_band: int, seed: int) -> np.ndarray:
    """Sampled bit positions (bands, k) of each band: fixed by the seed, the same for all.

    >>> band_positions(1024, bands=3, bits_per_band=5, seed=1).shape
    (3, 5)
    """
    rng = np.random.default_rng(seed)
    return np.stack(
        [rng.choice(nbits, size=min(bits_per_band, nbits), replace=False) for _ in range(bands)]
    )


def _dice_rank(dice: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(dice, dtype=np.float64) * (1 << _RANK_BITS)).astype(np.int64)


def _kth_best_rank(
    left: np.ndarray, right: np.ndarray, rank: np.ndarray, *, n: int, per_record: int
) -> np.ndarray:
    """Per record, the rank of its ``per_record``-th best pair (−1 with fewer pairs)."""
    ends = np.concatenate([left, right])
    keys = np.sort((ends << (_RANK_BITS + 1)) | np.concatenate([rank, rank]))
    rec = keys >> (_RANK_BITS + 1)
    stops = np.flatnonzero(np.r_[rec[1:] != rec[:-1], True])  # last entry of each record
    sizes = np.diff(np.r_[-1, stops])
    full = sizes >= per_record
    out = np.full(n, -1, dtype=np.int64)
    at = stops[full] - (per_record - 1)
    out[rec[at]] = keys[at] & ((1 << (_RANK_BITS + 1)) - 1)
    return out


def budget_mask(
    left: np.ndarray, right: np.ndarray, dice: np.ndarray, *, n: int, per_record: int
) -> np.ndarray:
    """Pairs among the ``per_record`` best (by Dice) of either of their records.

    A pair is kept when its Dice is at least the ``per_record``-th best Dice of its left or
    of its right record: ties with that one are all kept, so the result does not depend on
    the order of the pairs. A record with fewer pairs keeps them all.

    >>> l, r = np.array([0, 0, 0, 1]), np.array([1, 2, 3, 2])
    >>> budget_mask(l, r, np.array([0.9, 0.8, 0.75, 0.95]), n=4, per_record=1).tolist()
    [True, False, True, True]
    """
    if per_record < 1:
        raise InputError(f"per_record must be ≥ 1 (got {per_record})")
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    rank = _dice_rank(dice)
    kth = _kth_best_rank(left, right, rank, n=n, per_record=per_record)
    return np.asarray((rank >= kth[left]) | (rank >= kth[right]), dtype=bool)


class _Survivors:
    """Candidate pairs collected band by band as packed codes (left·n + right).

    Raw codes from many bands are buffered, then sorted and deduplicated once (``np.sort``:
    numpy 2's ``np.unique`` hashes and is far slower on int64), pairs already kept are
    dropped, and the Dice filter runs once per distinct pair instead of once per band that
    finds it (true pairs meet in dozens of bands).

    With a ``budget`` (pairs per record), a pair is kept only while it is among the
    ``budget`` best of one of its records (``budget_mask``). Each record's ``budget``-th best
    Dice so far (``floor``) only rises as pairs arrive, so a new pair below both of its
    records' floors is dropped at once, and the kept pairs are pruned each time they double
    (and pass ``buffer``): memory stays near n · budget pairs, never the whole set above the
    Dice floor. A pruned
    pair found again in a later band is checked again and dropped again; the result equals
    ``budget_mask`` over all pairs (a record's best pairs are never pruned, so its floor is
    exact).
    """

    def __init__(
        self, clks: np.ndarray, *, min_dice: float | None, buffer: int, budget: int | None
    ) -> None:
        self.clks = clks
        self.n = len(clks)
        self.min_dice = min_dice
        self.budget = budget
        self.counts = popcounts(clks) if min_dice is not None or budget else None
        self.buffer = buffer
        self.raw: list[np.ndarray] = []
        self.raw_size = 0
        self.kept = np.empty(0, dtype=np.int64)
        self.rank = np.empty(0, dtype=np.int64)
        self.floor = np.full(self.n, -1, dtype=np.int64)
        self.pruned_size = 0
        self.distinct = 0
        self.peak = 0

    def add(self, left: np.ndarray, right: np.ndarray) -> None:
        if len(left):
            self.raw.append(left * self.n + right)
            self.raw_size += len(left)
        if self.raw_size >= self.buffer:
            self.flush()

    def flush(self) -> None:
        if not self.raw:
            return
        codes = np.sort(np.concatenate(self.raw))
        self.raw, self.raw_size = [], 0
        codes = codes[np.r_[True, codes[1:] != codes[:-1]]]
        if len(self.kept):
            at = np.minimum(np.searchsorted(self.kept, codes), len(self.kept) - 1)
            codes = codes[self.kept[at] != codes]
        self.distinct += len(codes)
        rank = np.empty(0, dtype=np.int64)
        if (self.min_dice is not None or self.budget) and len(codes):
            left, right = codes // self.n, codes % self.n
            dice = dice_of_pairs(self.clks, left, right, counts=self.counts)
            keep = np.flatnonzero(dice >= (self.min_dice or 0.0))  # most pairs fail here
            codes = codes[keep]
            if self.budget:
                rank = _dice_rank(dice[keep])
                left, right = left[keep], right[keep]
                within = (rank >= self.floor[left]) | (rank >= self.floor[right])
                codes, rank = codes[within], rank[within]
        if len(codes):
            at = np.searchsorted(self.kept, codes)
            self.kept = np.insert(self.kept, at, codes)  # a linear merge of sorted codes
            if self.budget:
                self.rank = np.insert(self.rank, at, rank)
        self.peak = max(self.peak, len(self.kept))
        if self.budget and len(self.kept) >= max(self.buffer, 2 * self.pruned_size):
            self.prune()

    def prune(self) -> None:
        assert self.budget
        left, right = self.kept // self.n, self.kept % self.n
        self.floor = np.maximum(
            self.floor,
            _kth_best_rank(left, right, self.rank, n=self.n, per_record=self.budget),
        )
        keep = (self.rank >= self.floor[left]) | (self.rank >= self.floor[right])
        self.kept, self.rank = self.kept[keep], self.rank[keep]
        self.pruned_size = len(self.kept)

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        self.flush()
        if self.budget and len(self.kept):
            self.prune()
        return self.kept // self.n, self.kept % self.n


def lsh_candidate_pairs(
    clks: np.ndarray,
    *,
    params: LshParams,
    involve: np.ndarray | None = None,
    min_dice: float | None = None,
    budget: int | None = None,
    stats: dict[str, int] | None = None,
    band_range: slice | None = None,
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Deduplicated candidate pairs (left < right) from Hamming LSH, plus the number of
    record-band memberships skipped in oversized buckets.

    ``band_range``: only these of the designed bands (a slice of a partitioned run,
    ``linkage.partition``; the design, hence k and the positions, is that of all bands).
    ``threads``: the compiled kernel's threads for this call.

    ``involve``: optional boolean mask; only pairs with at least one record in it are
    generated (an incremental job passes the new records: new × new and new × existing,
    never existing × existing). ``min_dice``: keep only pairs at or above this Dice; each
    distinct pair is checked once. ``budget``: keep only pairs among the ``budget`` best by
    Dice of one of their records (``budget_mask``), pruned as bands go, so the pairs held
    stay near n · budget. ``stats`` (a dict) receives ``compared`` (pairs found in buckets,
    counted once per band that finds them), ``distinct`` (distinct pairs whose Dice was
    checked; with a budget a pruned pair found again counts again; −1 from the compiled
    kernel), ``held`` (most pairs held at once; the kernel: most partner-list entries),
    ``bands`` and ``bits_per_band``.

    The compiled kernel (``kernel.py``) computes the same pairs when it is available
    (``VINCULO_KERNEL``); the code below is its NumPy fallback and reference.

    Memory: band keys are computed ``params.key_budget_mb`` at a time (a group of bands over
    all records), raw pairs are buffered up to ``params.pair_buffer`` codes.

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
        recall_floor=params.recall_floor,
        max_floor_bands=params.max_floor_bands,
    )
    positions = band_positions(arr.shape[1] * 8, bands=bands, bits_per_band=k, seed=params.seed)
    if band_range is not None:
        positions = positions[band_range]
    if involve is not None:
        involve = np.asarray(involve, dtype=bool)
        if len(involve) != n:
            raise InputError(f"involve must have one entry per CLK ({n}), got {len(involve)}")
    if budget is not None and budget < 1:
        raise InputError(f"budget must be ≥ 1 (got {budget})")
    lib = kernel.load()
    if lib is not None:
        if involve is not None and not involve.any():
            empty = np.empty(0, dtype=np.int64)
            left, right, info = empty, empty.copy(), {"compared": 0, "skipped": 0, "held": 0}
        else:
            left, right, info = kernel.lsh_candidates(
                lib,
                arr,
                positions,
                max_bucket=params.max_bucket,
                involve=None if involve is None or involve.all() else involve,
                min_dice=-1.0 if min_dice is None else min_dice,
                budget=budget,
                group_bytes=params.key_budget_mb << 20,
                n_threads=threads,
            )
        if stats is not None:
            stats.update(compared=info["compared"], distinct=-1, held=info["held"],
                         bands=len(positions), bits_per_band=k)
        return left, right, info["skipped"]
    survivors = _Survivors(arr, min_dice=min_dice, buffer=params.pair_buffer, budget=budget)
    skipped = compared = 0
    group = max(1, (params.key_budget_mb << 20) // max(1, 8 * n))
    if involve is None or involve.any():
        for first in range(0, len(positions), group):
            keys = band_keys(arr, positions[first : first + group])
            for band_key in keys:
                left, right, s = pairs_within_groups(
                    band_key, max_group=params.max_bucket, involve=involve
                )
                skipped += s
                compared += len(left)
                survivors.add(left, right)
            del keys
    left, right = survivors.pairs()
    if stats is not None:
        stats.update(
            compared=compared,
            distinct=survivors.distinct,
            held=survivors.peak,
            bands=len(positions),
            bits_per_band=k,
        )
    return left, right, skipped
