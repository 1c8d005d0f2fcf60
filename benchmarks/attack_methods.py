"""The insider's attacks on stored encodings (benchmarks/attack.py runs them).

The insider holds every stored filter and the clear content attributes, plus a public name
census with frequencies; never the plaintext of the targets nor the linkage secret. The
schema file is public, so the attacker knows the hardening parameters (not the keys).

- ``floor_guesses``: names alone: per record, the census's most frequent name among people
  with the same clear attributes (sex, nationality, department of birth), falling back to
  coarser groups. An attack is only worth what it adds to this.
- ``frequency_attack``: the classic frequency alignment (Kuzu et al. 2011; Christen et al.
  2017): identical stored encodings are grouped, groups ranked by size and aligned with the
  census's most frequent values.
- ``mining_attack``: pattern mining (after Christen et al. 2018, Kroll & Steinmetzer 2015): a
  greedy conditional search for maximal sets of bit positions that co-occur in a group of
  records (each step keeps the records holding the most frequent remaining position, until a
  large set of positions is present in all of them: the signature of one frequent value);
  signatures are classed as given name (present in one sex only, from the clear ``sex``) or
  surname (both sexes) and aligned with census frequencies by expected count. When the
  schema salts with an attribute that is also in clear, the attacker mines each salt group
  separately.

All functions are pure and deterministic.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Guesses", "Score", "floor_guesses", "frequency_attack", "mine_signature",
           "mining_attack", "score"]


@dataclass
class Guesses:
    """One guess per record ("" = none) and whether the attacker is confident in it."""

    value: np.ndarray
    confident: np.ndarray


def _top(values: np.ndarray) -> str:
    if len(values) == 0:
        return ""
    return Counter(values.tolist()).most_common(1)[0][0]


def floor_guesses(keys: Sequence[Sequence[str]], census_keys: Sequence[Sequence[str]],
                  census_values: np.ndarray, *, min_group: int = 30) -> np.ndarray:
    """Most frequent census value among people sharing the record's attributes.

    ``keys[i]`` and ``census_keys[j]`` are tuples of attributes from the most to the least
    specific; the first prefix with at least ``min_group`` census people is used.

    >>> floor_guesses([("F",), ("M",)], [("F",)] * 3 + [("M",)] * 2,
    ...               np.array(["ANA", "ANA", "ROSA", "JOSE", "JOSE"]), min_group=2).tolist()
    ['ANA', 'JOSE']
    """
    depth = max((len(k) for k in census_keys), default=0)
    tables: list[dict[tuple[str, ...], tuple[str, int]]] = []
    for d in range(depth, -1, -1):
        groups: dict[tuple[str, ...], list[int]] = {}
        for j, k in enumerate(census_keys):
            groups.setdefault(tuple(k[:d]), []).append(j)
        tables.append({g: (_top(census_values[idx]), len(idx)) for g, idx in groups.items()})
    out = []
    for k in keys:
        guess = ""
        for d, table in zip(range(depth, -1, -1), tables, strict=True):
            hit = table.get(tuple(k[:d]))
            if hit is not None and hit[1] >= min_group:
                guess = hit[0]
                break
        out.append(guess)
    return np.array(out, dtype=object)


def frequency_attack(stored: np.ndarray, census_values: np.ndarray, *,
                     min_count: int = 2) -> Guesses:
    """Align groups of identical encodings (by size) with the census's frequent values.

    >>> enc = np.array([[1], [1], [1], [2], [2], [3]], dtype=np.uint8)
    >>> g = frequency_attack(enc, np.array(["ANA"] * 5 + ["ROSA"] * 3 + ["LUZ"]))
    >>> g.value.tolist()
    ['ANA', 'ANA', 'ANA', 'ROSA', 'ROSA', '']
    """
    rows = np.ascontiguousarray(stored)
    _, inverse, counts = np.unique(rows, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    ranked_groups = [g for g in np.argsort(-counts, kind="stable") if counts[g] >= min_count]
    census_ranked = [v for v, _ in Counter(census_values.tolist()).most_common()]
    label = {int(g): census_ranked[r] for r, g in enumerate(ranked_groups)
             if r < len(census_ranked)}
    value = np.array([label.get(int(g), "") for g in inverse], dtype=object)
    # Confident only where group sizes are well separated from the next rank.
    confident = np.zeros(len(rows), dtype=bool)
    sizes = [int(counts[g]) for g in ranked_groups]
    for r, g in enumerate(ranked_groups[: len(census_ranked)]):
        nxt = sizes[r + 1] if r + 1 < len(sizes) else 0
        if sizes[r] >= 1.3 * max(nxt, 1):
            confident[inverse == g] = True
    return Guesses(value, confident)


def mine_signature(bits: np.ndarray, active: np.ndarray, *, seed: int,
                   min_support: int, sig: float, stop: float, min_bits: int
                   ) -> tuple[np.ndarray, np.ndarray] | None:
    """One greedy conditional search from position ``seed``: (records, positions) or None.

    Keeps the ``active`` records holding ``seed``, then those holding the next most frequent
    position among them, and so on, until at least ``min_bits`` positions (beyond those
    saturated in all active records) are present in a share ``sig`` of them. The record set
    is then widened to every active record holding the signature.
    """
    fb = bits if bits.dtype == np.bool_ else bits.astype(bool)

    def mean(mask: np.ndarray) -> np.ndarray:
        return fb[mask].sum(axis=0) / max(int(mask.sum()), 1)

    base = mean(active) >= sig
    rows = active & fb[:, seed]
    if rows.sum() < min_support:
        return None
    chosen = base.copy()
    chosen[seed] = True
    for _ in range(60):
        freq = mean(rows)
        signature = (freq >= sig) & ~base
        if signature.sum() >= min_bits:
            break
        cand = np.where(chosen, -1.0, freq)
        j = int(cand.argmax())
        if cand[j] < stop:
            return None
        narrowed = rows & fb[:, j]
        if narrowed.sum() < min_support:
            return None
        rows = narrowed
        chosen[j] = True
    else:
        return None
    positions = np.flatnonzero(signature)
    holding = active & (fb[:, positions].mean(axis=1) >= sig)
    if holding.sum() < min_support:
        return None
    return holding, positions


def _align(supports: list[int], expected: dict[str, float]) -> list[tuple[str, bool]]:
    """Pattern (by support) → census value with the nearest expected count, each used once."""
    out: list[tuple[str, bool]] = []
    free = dict(expected)
    for s in supports:
        if not free:
            out.append(("", False))
            continue
        dist = sorted((abs(math.log(s / max(e, 0.5))), v) for v, e in free.items())
        best = dist[0]
        second = dist[1][0] if len(dist) > 1 else math.inf
        out.append((best[1], second - best[0] > math.log(1.3) and best[0] < math.log(1.5)))
        del free[best[1]]
    return out


def mining_attack(bits: np.ndarray, *, sex: np.ndarray, birth_year: np.ndarray,
                  partitions: np.ndarray, census_sex: np.ndarray, census_first: np.ndarray,
                  census_paternal: np.ndarray, sig: float = 0.95, stop: float = 0.8,
                  min_bits: int = 80, max_tries: int = 150,
                  min_support: int = 12) -> tuple[Guesses, Guesses]:
    """Pattern-mining attack: (first given name guesses, paternal surname guesses).

    ``bits``: (n, L) 0/1 stored bits; ``birth_year``: the clear lower birth year (NaN when
    unknown), used to discard birth-date signatures; ``partitions``: the salt group the
    attacker can infer from clear attributes ("" everywhere when none).
    """
    b = bits.astype(bool)
    n = len(b)
    first = Guesses(np.array([""] * n, dtype=object), np.zeros(n, dtype=bool))
    paternal = Guesses(np.array([""] * n, dtype=object), np.zeros(n, dtype=bool))
    census_n = len(census_first)
    for part in sorted(set(partitions.tolist())):
        in_part = partitions == part
        surname_found: list[np.ndarray] = []
        for s in ("F", "M"):
            active = in_part & (sex == s)
            other = in_part & (sex != s) & (sex != "")
            if active.sum() < min_support:
                continue
            given, surnames = _patterns(b, active, other, in_part, birth_year, sig=sig,
                                        stop=stop, min_bits=min_bits, max_tries=max_tries,
                                        min_support=min_support)
            pool = census_first[census_sex == s]
            expected = {v: c / len(pool) * active.sum() for v, c in Counter(pool.tolist()).items()}
            _label(first, _dedupe(given), expected)
            surname_found.extend(surnames)
        expected = {v: c / census_n * in_part.sum()
                    for v, c in Counter(census_paternal.tolist()).items()}
        _label(paternal, _dedupe(surname_found), expected)
    return first, paternal


def _label(guesses: Guesses, found: list[np.ndarray], expected: dict[str, float]) -> None:
    found = sorted(found, key=lambda rows: -int(rows.sum()))
    for rows, (value, confident) in zip(found, _align([int(r.sum()) for r in found], expected),
                                        strict=True):
        take = rows & (guesses.value == "")
        guesses.value[take] = value
        guesses.confident[take] = confident


def _patterns(b: np.ndarray, active: np.ndarray, other: np.ndarray, scope: np.ndarray,
              birth_year: np.ndarray, *, sig: float, stop: float, min_bits: int, max_tries: int,
              min_support: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Mine signatures among ``active`` records (one sex); class them as given name (absent
    from the ``other`` sex) or surname (present in both; its records taken from ``scope``)."""
    fb = b
    banned = np.zeros(b.shape[1], dtype=bool)
    given: list[np.ndarray] = []
    surnames: list[np.ndarray] = []
    remaining = active.copy()
    for _ in range(max_tries):
        if remaining.sum() < min_support:
            break
        freq_all = fb[remaining].sum(axis=0) / int(remaining.sum())
        freq = np.where(banned, -1.0, freq_all)
        seed = int(freq.argmax())
        if freq[seed] <= 0:
            break
        hit = mine_signature(fb, remaining, seed=seed, min_support=min_support, sig=sig,
                             stop=stop, min_bits=min_bits)
        banned[seed] = True
        if hit is None:
            continue
        rows, positions = hit
        remaining &= ~rows
        holds = fb[:, positions].mean(axis=1) >= sig
        inside = (holds & active).sum() / active.sum()
        elsewhere = (holds & other).sum() / max(int(other.sum()), 1)
        if elsewhere < 0.25 * inside:
            given.append(rows)
            continue
        if elsewhere < 0.5 * inside:
            continue  # neither clearly: skip
        in_scope = holds & scope
        years = birth_year[in_scope]
        years = years[~np.isnan(years)]
        if len(years) and Counter((years // 3).tolist()).most_common(1)[0][1] > 0.5 * len(years):
            continue  # a birth-year signature, told apart by the clear birth years
        surnames.append(in_scope)
    return given, surnames


def _dedupe(found: list[np.ndarray]) -> list[np.ndarray]:
    """Merge patterns whose record sets overlap (Jaccard ≥ 0.5): fragments of one value."""
    merged: list[np.ndarray] = []
    for rows in sorted(found, key=lambda r: -int(r.sum())):
        for k, kept in enumerate(merged):
            if (rows & kept).sum() >= 0.5 * (rows | kept).sum():
                merged[k] = kept | rows
                break
        else:
            merged.append(rows)
    return merged


@dataclass
class Score:
    """Share of all records re-identified (attack guess, else the floor's guess), share with a
    confident guess, and the precision of confident guesses."""

    share: float
    confident: float
    precision: float
    correct: np.ndarray


def score(guess: Guesses, truth: np.ndarray, fallback: np.ndarray) -> Score:
    """Score an attack's guesses; records it does not guess get the floor's guess.

    >>> g = Guesses(np.array(["ANA", "", "LUZ"], dtype=object), np.array([True, False, True]))
    >>> s = score(g, np.array(["ANA", "ROSA", "ANA"]), np.array(["ANA", "ROSA", "ANA"]))
    >>> round(s.share, 3), round(s.precision, 3)
    (0.667, 0.5)
    """
    combined = np.where(guess.value != "", guess.value, fallback)
    correct = combined == truth
    conf = guess.confident & (guess.value != "")
    precision = float((guess.value[conf] == truth[conf]).mean()) if conf.any() else math.nan
    return Score(float(correct.mean()), float(conf.mean()), precision, correct)
