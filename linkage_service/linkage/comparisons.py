"""Comparison vectors of candidate pairs: one level per comparison, from integer codes.

Per-record attributes become integer codes once (``encode_attributes``: sex, nationality,
event date and the keyed document as codes, each UBIGEO as the codes of its first 2, 4 and 6
characters), so comparing millions of pairs is a few integer gathers (``compare_pairs``). The
levels and their labels are in ``COMPARISONS``; −1 means a record lacks the attribute (no
evidence either way). ``scoring`` turns the levels into match weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from linkage_service.linkage.similarity import dice_of_pairs, popcounts
from vinculo_common.errors import InputError

__all__ = [
    "COMPARISONS",
    "DENSITY_DICE",
    "DENSITY_EDGES",
    "DICE_LEVELS",
    "DOC_DIFFERENT_LOW_DICE",
    "FAMILY_ALL_FAR",
    "FAMILY_FIRST_FAR",
    "FAMILY_FIRST_SAME",
    "FAMILY_REST_FAR",
    "FAMILY_REST_MIN_BITS",
    "FAR_YEARS",
    "UBIGEO_LEVEL_LABELS",
    "AttributeCodes",
    "PairAttributes",
    "compare_pairs",
    "density_levels",
    "encode_attributes",
    "neighbour_counts",
]

# Lower edges of the Dice levels above the candidate floor (level 0 = floor … first edge).
DICE_LEVELS: tuple[float, ...] = (0.74, 0.77, 0.8, 0.83, 0.86, 0.89, 0.92, 0.95)

# Birth-year ranges further apart than this are "far": a mother and her daughter, not a
# misstated age or a mistyped digit (true pairs in the generator: < 1 % that far apart).
FAR_YEARS = 5

# Different keyed document hashes *and* an encoding this far apart: twins (own DNIs, often
# consecutive, same surnames, birth date and places, different given names) or namesakes.
# True pairs with a mistyped or other document mostly keep a Dice above it (the CLK holds the
# document's bigrams and everything else agrees).
DOC_DIFFERENT_LOW_DICE = 0.77

# Equal family hashes (surnames and birth date, schema section "family"): the given names'
# filters tell one person written twice from twins. Far = first given name's filter Dice below
# FAMILY_FIRST_FAR *and* all given names' below FAMILY_ALL_FAR (MARÍA ISABEL / MARÍA ELENA share
# the first name and stay "close"). Chosen on default/hard seeds 11–14 in plaintext bigrams
# (0.4/0.5 against 0.5/0.6 and 0.6/0.7: same F1 within 0.002); see docs/linkage.md.
FAMILY_FIRST_FAR = 0.4
FAMILY_ALL_FAR = 0.5
# Far too: the first given names alike (filter Dice ≥ FAMILY_FIRST_SAME) and the *other* given
# names both present (≥ FAMILY_REST_MIN_BITS bits each of the all-names filter outside the
# first name's) with a Dice below FAMILY_REST_FAR: MARÍA GABRIELA / MARÍA KARELYS. A second
# name typed wrong keeps most bigrams; one left out or cut to an initial sets too few bits.
# Chosen on the eight default seeds (round 4; 0.3–0.5 the same within 0.0005).
FAMILY_FIRST_SAME = 0.8
FAMILY_REST_FAR = 0.4
FAMILY_REST_MIN_BITS = 6
# UBIGEO comparisons, at the finest precision both records hold (a source may coarsen its
# UBIGEOs to 4 or 2 digits): same district, same province, same department only, different.
UBIGEO_LEVEL_LABELS: tuple[str, ...] = ("district", "province", "department", "different")

# name → labels of its levels (index = level; −1 = missing, no evidence).
COMPARISONS: dict[str, tuple[str, ...]] = {
    "dice": ("<0.74", "0.74-0.77", "0.77-0.8", "0.8-0.83", "0.83-0.86", "0.86-0.89",
             "0.89-0.92", "0.92-0.95", ">=0.95"),
    "sex": ("agree", "disagree"),
    "birth_year": ("same_year", "compatible", "disjoint", "far"),
    "doc_hash": ("equal", "different", "different_low_dice", "consecutive_dni",
                 "different_low_dice_not_both_dni"),
    "family": ("same_family_given_close", "different_family", "same_family_given_far"),
    "nationality": ("agree", "disagree"),
    "same_source": ("other_source", "same_source", "same_source_same_event"),
    "ubigeo_birth": UBIGEO_LEVEL_LABELS,
    "ubigeo_residence": UBIGEO_LEVEL_LABELS,
    "ubigeo_event": UBIGEO_LEVEL_LABELS,
    "density": ("0-3", "4-6", "7-12", ">12"),
}

# Neighbourhood density, a privacy-preserving stand-in for name frequency (Splink's term-
# frequency adjustment needs the names): how many candidates of a record have Dice ≥
# DENSITY_DICE. MARÍA GONZÁLEZ with an age only has dozens of near encodings, a rare name has
# its own records; a pair's level is its later record's count (``density_levels``), cut at
# DENSITY_EDGES, and EM learns what each level is worth. Chosen on the eight default seeds
# (round 4: 0.75 against 0.7 / 0.8 / 0.85; edges 3, 6, 12 against 2, 5, 10 and 1, 3, 6, 12:
# the same within 0.001).
DENSITY_DICE = 0.75
DENSITY_EDGES = (3, 6, 12)


@dataclass(frozen=True)
class PairAttributes:
    """Content attributes per record (row index = record), all arrays of length n.

    ``birth_year_min/max``: float with NaN = unknown. ``sex``, ``nationality``,
    ``event_date``: str with "" = unknown. ``doc_hash``: (n, 32) uint8, all-zero = none.
    ``ubigeo_*``: INEI codes as str (6, 4 or 2 digits; "" = unknown). ``family``: (n, 64)
    uint8, the schema section of that name (``client_sdk.family``), all-zero = none.
    ``doc_near``: (n, 32) uint8, the section of that name (keyed halves of a DNI), zeros = none.
    """

    sources: np.ndarray
    sex: np.ndarray | None = None
    birth_year_min: np.ndarray | None = None
    birth_year_max: np.ndarray | None = None
    nationality: np.ndarray | None = None
    event_date: np.ndarray | None = None
    doc_hash: np.ndarray | None = None
    ubigeo_birth: np.ndarray | None = None
    ubigeo_residence: np.ndarray | None = None
    ubigeo_event: np.ndarray | None = None
    family: np.ndarray | None = None
    doc_near: np.ndarray | None = None


def _dice_level(dice: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.asarray(DICE_LEVELS), dice, side="right").astype(np.int8)


@dataclass(frozen=True)
class AttributeCodes:
    """Per-record integer codes of ``PairAttributes`` (``encode_attributes``), so comparing a
    pair is integer work: equal codes ⇔ equal values, −1 = missing.

    ``ubigeo_*``: (n, 4) int64: characters held (0–6) and the codes of the first 2, 4 and 6
    characters (padded with spaces, as compared before). ``family``: code of the family
    hash (−1 = none); ``family_given``: the first and all given names' filters, two (n, 16)
    uint8 arrays, then the other given names' bits (all names' filter without the first
    name's bits) and their popcount per record.
    """

    sources: np.ndarray
    sex: np.ndarray | None = None
    birth_year_min: np.ndarray | None = None
    birth_year_max: np.ndarray | None = None
    nationality: np.ndarray | None = None
    event_date: np.ndarray | None = None
    doc_hash: np.ndarray | None = None
    has_doc: np.ndarray | None = None
    ubigeo: dict[str, np.ndarray] = field(default_factory=dict)
    family: np.ndarray | None = None
    family_given: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
    doc_near: np.ndarray | None = None  # (n, 2) int64: codes of the two halves, −1 = none


def _factorize(values: np.ndarray) -> np.ndarray:
    """Integer code per value (equal values, equal codes, numbered in order of first
    appearance); "" → −1 (missing).

    >>> _factorize(np.array(["F", "", "M", "F"], dtype=object)).tolist()
    [0, -1, 1, 0]
    """
    # pandas' hash table in C (one Python dict lookup per record cost 0.4 s per 30,000).
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
    codes = codes.astype(np.int64, copy=False)
    empty = [k for k, v in enumerate(uniques.tolist()) if isinstance(v, str) and v == ""]
    if empty:
        e = empty[0]
        codes = np.where(codes == e, -1, np.where(codes > e, codes - 1, codes))
    return codes


def _ubigeo_codes(values: np.ndarray) -> np.ndarray:
    """Per record: the UBIGEO's length and codes of its first 2, 4 and 6 characters (equal
    prefixes, equal codes; hashed, not sorted: only equality is read).

    >>> _ubigeo_codes(np.array(["150101", "1501", "", "150102"])).tolist()
    [[6, 0, 0, 0], [4, 0, 0, 1], [0, 1, 1, 2], [6, 0, 0, 3]]
    """
    codes = np.asarray(values).astype("U6")
    out = np.empty((len(codes), 4), dtype=np.int64)
    out[:, 0] = np.char.str_len(codes) if len(codes) else 0
    padded = np.char.ljust(codes, 6) if len(codes) else codes
    for col, width in ((1, 2), (2, 4), (3, 6)):
        out[:, col] = pd.factorize(padded.astype(f"U{width}").astype(object))[0]
    return out


def encode_attributes(attributes: PairAttributes) -> AttributeCodes:
    """Integer codes per record, computed once and reused for every pair (``compare_pairs``).

    >>> c = encode_attributes(PairAttributes(sources=np.array([0, 1, 1]),
    ...                       sex=np.array(["F", "", "F"], dtype=object)))
    >>> c.sex.tolist()
    [0, -1, 0]
    """
    a = attributes
    docs = has = None
    if a.doc_hash is not None:
        raw = np.ascontiguousarray(a.doc_hash, dtype=np.uint8)
        if raw.ndim != 2 or raw.shape[1] % 8:
            raise InputError(f"doc_hash must be (n, 32) uint8 (got shape {raw.shape})")
        docs = _row_codes(raw)
        has = docs >= 0
    family = given = near = None
    if a.family is not None:
        family, given = _family_codes(a.family)
    if a.doc_near is not None:
        near = _doc_near_codes(a.doc_near)
    ubigeo = {}
    for name in ("ubigeo_birth", "ubigeo_residence", "ubigeo_event"):
        values = getattr(a, name)
        if values is not None:
            ubigeo[name] = _ubigeo_codes(values)
    return AttributeCodes(
        sources=_factorize(np.asarray(a.sources, dtype=object)),
        sex=None if a.sex is None else _factorize(np.asarray(a.sex, dtype=object)),
        birth_year_min=None if a.birth_year_min is None
        else np.asarray(a.birth_year_min, dtype=float),
        birth_year_max=None if a.birth_year_max is None
        else np.asarray(a.birth_year_max, dtype=float),
        nationality=None if a.nationality is None
        else _factorize(np.asarray(a.nationality, dtype=object)),
        event_date=None if a.event_date is None
        else _factorize(np.asarray(a.event_date, dtype=object)),
        doc_hash=docs,
        has_doc=has,
        ubigeo=ubigeo,
        family=family,
        family_given=given,
        doc_near=near,
    )


_FAMILY_HASH = 32


def _row_codes(raw: np.ndarray) -> np.ndarray:
    """An integer code per row of bytes (equal rows, equal codes); −1 for an all-zero row
    (a section's "none").

    >>> _row_codes(np.array([[1, 2], [0, 0], [1, 2], [3, 0]], dtype=np.uint8)).tolist()
    [1, -1, 1, 2]
    """
    raw = np.ascontiguousarray(raw, dtype=np.uint8)
    if raw.shape[1] % 8 or len(raw) == 0:
        rows = raw.view(np.dtype((np.void, raw.shape[1]))).reshape(-1)
        codes = np.unique(rows, return_inverse=True)[1].reshape(-1).astype(np.int64)
    else:  # 8-byte words hashed one after another (pandas' table): no sort of the rows
        words = raw.view(np.uint64)
        codes = pd.factorize(words[:, 0])[0].astype(np.int64)
        for j in range(1, words.shape[1]):
            word = pd.factorize(words[:, j])[0].astype(np.int64)
            codes = pd.factorize(codes * (int(word.max()) + 1) + word)[0].astype(np.int64)
    codes[~raw.any(axis=1)] = -1
    return codes


def _family_codes(
    raw_family: np.ndarray,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    raw = np.ascontiguousarray(raw_family, dtype=np.uint8)
    if raw.ndim != 2 or raw.shape[1] != _FAMILY_HASH + 32:
        raise InputError(f"family must be (n, 64) uint8 (got shape {raw.shape})")
    codes = _row_codes(raw[:, :_FAMILY_HASH])
    first = np.ascontiguousarray(raw[:, _FAMILY_HASH : _FAMILY_HASH + 16])
    whole = np.ascontiguousarray(raw[:, _FAMILY_HASH + 16 :])
    rest = whole & ~first
    return codes, (first, whole, rest, popcounts(rest))


def _doc_near_codes(raw_near: np.ndarray) -> np.ndarray:
    raw = np.ascontiguousarray(raw_near, dtype=np.uint8)
    if raw.ndim != 2 or raw.shape[1] != 32:
        raise InputError(f"doc_near must be (n, 32) uint8 (got shape {raw.shape})")
    return np.stack([_row_codes(raw[:, :16]), _row_codes(raw[:, 16:])], axis=1)


def _code_levels(codes: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    a, b = codes[left], codes[right]
    out = (a != b).astype(np.int8)
    out[(a < 0) | (b < 0)] = -1
    return out


def _ubigeo_levels(codes: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """UBIGEO agreement at the finest precision both hold (see ``UBIGEO_LEVEL_LABELS``)."""
    a, b = codes[left], codes[right]
    common = np.minimum(a[:, 0], b[:, 0])
    level = np.full(len(a), 3, dtype=np.int8)
    level[a[:, 1] == b[:, 1]] = 2
    level[(a[:, 2] == b[:, 2]) & (common >= 4)] = 1
    level[(a[:, 3] == b[:, 3]) & (common >= 6)] = 0
    level[common < 2] = -1
    return level


def neighbour_counts(left: np.ndarray, right: np.ndarray, dice: np.ndarray, n: int) -> np.ndarray:
    """Per record, how many of the given candidate pairs hold it at Dice ≥ ``DENSITY_DICE``.

    >>> neighbour_counts(np.array([0, 0, 1]), np.array([1, 2, 2]), np.array([0.9, 0.8, 0.7]), 4)
    array([2, 1, 1, 0])
    """
    close = np.asarray(dice) >= DENSITY_DICE
    left = np.asarray(left, dtype=np.int64)[close]
    right = np.asarray(right, dtype=np.int64)[close]
    return np.bincount(left, minlength=n) + np.bincount(right, minlength=n)


def density_levels(left: np.ndarray, right: np.ndarray, counts: np.ndarray,
                   complete: np.ndarray | None = None) -> np.ndarray:
    """The ``density`` level of each pair: the neighbour count of its later record (the larger
    row index), cut at ``DENSITY_EDGES``.

    The later record, not the larger count: an incremental job knows the whole neighbourhood
    of its new records only, and a bank lists new records after the ones it holds, so a pair's
    level is then the one a full run over the same records gives. ``complete``: the records
    whose counts saw all their candidates (None: all); a pair takes its later complete record,
    and is missing (−1, no evidence) when neither is. Taking the later record rather than the
    larger count measured the same (round 4: mean precision 0.9853 against 0.9849).

    >>> density_levels(np.array([0, 0]), np.array([1, 2]), np.array([20, 9, 30])).tolist()
    [2, 3]
    >>> old_new = np.array([False, True, False])
    >>> density_levels(np.array([0, 0]), np.array([1, 2]), np.array([20, 9, 30]), old_new).tolist()
    [2, -1]
    """
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    late, early = np.maximum(left, right), np.minimum(left, right)
    if complete is None:
        pick = late
    else:
        pick = np.where(complete[late], late, np.where(complete[early], early, -1))
    level = np.searchsorted(np.asarray(DENSITY_EDGES), counts[pick], side="left").astype(np.int8)
    if complete is not None:
        level[pick < 0] = -1
    return level


def compare_pairs(
    *,
    left: np.ndarray,
    right: np.ndarray,
    dice: np.ndarray,
    attributes: PairAttributes,
    codes: AttributeCodes | None = None,
) -> dict[str, np.ndarray]:
    """Comparison vectors (name → int8 level per pair, −1 = missing) for the given pairs.

    Birth years: ``same_year`` when both ranges are at most two years wide and intersect,
    ``compatible`` when they intersect after one year of slack on each side, ``far`` when they
    are more than ``FAR_YEARS`` apart, else ``disjoint``. Documents: ``different_low_dice``
    when the keyed hashes differ and Dice < ``DOC_DIFFERENT_LOW_DICE``, ``consecutive_dni``
    when they differ and the ``doc_near`` halves show two DNIs one apart (both incompatible);
    with ``doc_near``, a low-Dice difference that is not between two DNIs is
    ``different_low_dice_not_both_dni`` (incompatible, but it keeps nobody apart).
    Family: ``different_family`` when both hold family hashes and they differ; with equal
    hashes, ``same_family_given_far`` when the given names' filters are far apart (twins,
    incompatible), else ``same_family_given_close``.
    ``codes``: ``encode_attributes(attributes)`` when the caller already has them (a job
    compares several batches of pairs over the same records).

    >>> attrs = PairAttributes(sources=np.array([0, 1]), sex=np.array(["F", "M"], dtype=object))
    >>> v = compare_pairs(left=np.array([0]), right=np.array([1]), dice=np.array([0.91]),
    ...                   attributes=attrs)
    >>> {k: int(x[0]) for k, x in v.items()}
    {'dice': 6, 'sex': 1, 'same_source': 0}
    """
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    c = encode_attributes(attributes) if codes is None else codes
    out: dict[str, np.ndarray] = {"dice": _dice_level(np.asarray(dice))}
    if c.sex is not None:
        out["sex"] = _code_levels(c.sex, left, right)
    if c.birth_year_min is not None and c.birth_year_max is not None:
        lo, hi = c.birth_year_min, c.birth_year_max
        lo_a, hi_a, lo_b, hi_b = lo[left], hi[left], lo[right], hi[right]
        with np.errstate(invalid="ignore"):
            intersect = (lo_a <= hi_b) & (lo_b <= hi_a)
            slack = (lo_a - 1 <= hi_b + 1) & (lo_b - 1 <= hi_a + 1)
            narrow = (hi_a - lo_a <= 2) & (hi_b - lo_b <= 2)
            far = (lo_a - hi_b > FAR_YEARS) | (lo_b - hi_a > FAR_YEARS)
        level = np.where(intersect & narrow, 0, np.where(slack, 1, np.where(far, 3, 2)))
        level = level.astype(np.int8)
        level[np.isnan(lo_a) | np.isnan(hi_a) | np.isnan(lo_b) | np.isnan(hi_b)] = -1
        out["birth_year"] = level
    if c.doc_hash is not None and c.has_doc is not None:
        level = (c.doc_hash[left] != c.doc_hash[right]).astype(np.int8)
        level[(level == 1) & (np.asarray(dice) < DOC_DIFFERENT_LOW_DICE)] = 2
        if c.doc_near is not None:  # the section is there only for DNIs
            a, b = c.doc_near[left], c.doc_near[right]
            both_dni = (a[:, 0] >= 0) & (b[:, 0] >= 0)
            # A DNI against a passport or a CPP is the same person's other document as often
            # as not (foreigners hold several): no reason to keep the two apart.
            level[(level == 2) & ~both_dni] = 4
            near = ((a[:, 0] == b[:, 0]) | (a[:, 1] == b[:, 1])) & both_dni
            level[(level >= 1) & near] = 3  # different DNIs one apart: twins
        level[~(c.has_doc[left] & c.has_doc[right])] = -1
        out["doc_hash"] = level
    if c.family is not None and c.family_given is not None:
        level = _code_levels(c.family, left, right)
        same = np.flatnonzero(level == 0)
        first = dice_of_pairs(c.family_given[0], left[same], right[same])
        whole = dice_of_pairs(c.family_given[1], left[same], right[same])
        far = (first < FAMILY_FIRST_FAR) & (whole < FAMILY_ALL_FAR)
        # Same first name, other given names unlike: MARÍA GABRIELA / MARÍA KARELYS, twins.
        rest, rest_bits = c.family_given[2], c.family_given[3]
        both_rest = ((rest_bits[left[same]] >= FAMILY_REST_MIN_BITS)
                     & (rest_bits[right[same]] >= FAMILY_REST_MIN_BITS))
        rest_dice = dice_of_pairs(rest, left[same], right[same], counts=rest_bits)
        far |= (first >= FAMILY_FIRST_SAME) & both_rest & (rest_dice < FAMILY_REST_FAR)
        level[same[far]] = 2
        out["family"] = level
    if c.nationality is not None:
        out["nationality"] = _code_levels(c.nationality, left, right)
    for name, ub in c.ubigeo.items():
        out[name] = _ubigeo_levels(ub, left, right)
    same = c.sources[left] == c.sources[right]
    level = same.astype(np.int8)
    if c.event_date is not None:
        ev_a = c.event_date[left]
        level[same & (ev_a == c.event_date[right]) & (ev_a >= 0)] = 2
    out["same_source"] = level
    return out
