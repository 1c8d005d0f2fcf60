"""Synthetic CLKs with controlled noise, for tests and benchmarks of the linkage core.

No real person is involved: names are random syllable strings drawn with Zipf frequencies (so
unrelated records share common "surnames", as Quispe and Flores make them share in Peru), and
the encoding imitates clkhash (bigrams of each field, each bigram sets ``bits_per_token``
keyed positions of a 1024-bit filter; date parts as whole tokens). Each occurrence of a person
is a noisy copy: typos, missing second given name or maternal surname, swapped surnames,
birth date replaced by an age, day and month mixed up.

This is not the SDK's encoder (``client_sdk``): it exists so blocking recall, scoring and
clustering can be measured at scale, deterministically, from a seed.

>>> data = synthetic_registries(records_per_source=200, sources=3, seed=1)
>>> data.clks.shape
(600, 128)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

__all__ = ["SyntheticRegistries", "synthetic_registries"]

_SYLLABLES = [
    "ma",
    "ri",
    "a",
    "jo",
    "se",
    "lu",
    "is",
    "an",
    "to",
    "ni",
    "ca",
    "rl",
    "os",
    "ro",
    "sa",
    "qui",
    "spe",
    "flo",
    "res",
    "ma",
    "ma",
    "ni",
    "hu",
    "am",
    "an",
    "ch",
    "oq",
    "ue",
    "ti",
    "con",
    "do",
    "ri",
    "ya",
    "pa",
    "na",
    "gu",
    "ti",
    "er",
    "rez",
    "va",
    "ca",
    "ce",
    "li",
    "ta",
    "mi",
    "la",
    "gr",
    "os",
    "ju",
    "an",
    "ed",
    "wi",
    "n",
    "ye",
    "ni",
    "fer",
    "ka",
    "th",
    "er",
    "in",
    "ru",
    "th",
    "no",
    "em",
    "i",
    "de",
    "ys",
    "i",
]


@dataclass(frozen=True)
class SyntheticRegistries:
    """Encodings and content attributes of synthetic records, with the truth."""

    clks: np.ndarray  # (n, 128) uint8
    sources: np.ndarray  # (n,) int
    person: np.ndarray  # (n,) int, the truth
    sex: np.ndarray  # (n,) str
    birth_year_min: np.ndarray  # (n,) float, nan = unknown
    birth_year_max: np.ndarray
    doc_hash: np.ndarray  # (n, 32) uint8, zeros = none
    event_date: np.ndarray  # (n,) str


def _token_positions(token: str, *, bits: int, k: int) -> np.ndarray:
    digest = hashlib.shake_256(b"synthetic:" + token.encode()).digest(4 * k)
    return np.frombuffer(digest, dtype="<u4") % bits


def _encode_tokens(
    tokens: list[str], *, bits: int, k: int, cache: dict[str, np.ndarray]
) -> np.ndarray:
    row = np.zeros(bits, dtype=bool)
    for tok in tokens:
        pos = cache.get(tok)
        if pos is None:
            pos = cache[tok] = _token_positions(tok, bits=bits, k=k)
        row[pos] = True
    return np.packbits(row)


def _bigrams(field: str, value: str) -> list[str]:
    padded = f"_{value}_"
    return [f"{field}:{padded[i : i + 2]}" for i in range(len(padded) - 1)] if value else []


def _typo(value: str, rng: np.random.Generator) -> str:
    if len(value) < 3:
        return value + "a"
    i = int(rng.integers(1, len(value) - 1))
    kind = int(rng.integers(3))
    letters = "abcdefghijklmnopqrstuvwxyz"
    if kind == 0:
        return value[:i] + letters[int(rng.integers(26))] + value[i + 1 :]
    if kind == 1:
        return value[:i] + value[i + 1 :]
    return value[:i] + value[i + 1] + value[i] + value[i + 2 :]


def _vocabulary(size: int, rng: np.random.Generator) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        n = int(rng.integers(2, 6))
        words.add("".join(_SYLLABLES[int(j)] for j in rng.integers(len(_SYLLABLES), size=n)))
    return sorted(words)


def _zipf_choice(size: int, count: int, rng: np.random.Generator, a: float = 0.8) -> np.ndarray:
    weights = 1.0 / np.arange(1, size + 1) ** a
    return rng.choice(size, size=count, p=weights / weights.sum())


def synthetic_registries(
    *,
    records_per_source: int,
    sources: int = 3,
    seed: int = 0,
    overlap: float = 0.6,
    noise: float = 1.0,
    bits: int = 1024,
    bits_per_token: int = 15,
    variants: int = 4,
) -> SyntheticRegistries:
    """Records of ``sources`` registries drawn from one population of synthetic people.

    ``overlap`` sets the people pool (records_per_source / overlap people), so a person appears
    in about ``sources * overlap`` records on average, sometimes twice in one source.
    ``noise`` scales every error rate (0 = exact copies).

    >>> d = synthetic_registries(records_per_source=50, sources=2, seed=3)
    >>> int(d.sources.max()), d.doc_hash.shape
    (1, (100, 32))
    """
    if records_per_source < 1 or sources < 1:
        raise ValueError("records_per_source and sources must be ≥ 1")
    rng = np.random.default_rng(seed)
    n = records_per_source * sources
    people = max(1, int(records_per_source / overlap))
    cache: dict[str, np.ndarray] = {}

    def table(field: str, words: list[str]) -> np.ndarray:
        # rows[v, 0] exact spelling; rows[v, 1:] typo variants
        out = np.empty((len(words), variants + 1, bits // 8), dtype=np.uint8)
        for v, word in enumerate(words):
            out[v, 0] = _encode_tokens(
                _bigrams(field, word), bits=bits, k=bits_per_token, cache=cache
            )
            for t in range(variants):
                out[v, t + 1] = _encode_tokens(
                    _bigrams(field, _typo(word, rng)), bits=bits, k=bits_per_token, cache=cache
                )
        return out

    given = _vocabulary(3000, rng)
    surnames = _vocabulary(6000, rng)
    tables = {
        f: table(f, given if f.startswith("g") else surnames) for f in ("g1", "g2", "sp", "sm")
    }
    date_k = 2 * bits_per_token
    day_rows = np.stack(
        [_encode_tokens([f"d:{d}"], bits=bits, k=date_k, cache=cache) for d in range(1, 32)]
    )
    month_rows = np.stack(
        [_encode_tokens([f"m:{m}"], bits=bits, k=date_k, cache=cache) for m in range(1, 13)]
    )
    year_rows = np.stack(
        [_encode_tokens([f"y:{y}"], bits=bits, k=date_k, cache=cache) for y in range(1940, 2021)]
    )
    sex_rows = np.stack(
        [_encode_tokens([f"s:{s}"], bits=bits, k=bits_per_token, cache=cache) for s in "FM"]
    )

    # The truth per person.
    p_g1 = _zipf_choice(len(given), people, rng)
    p_g2 = np.where(rng.random(people) < 0.7, _zipf_choice(len(given), people, rng), -1)
    p_sp = _zipf_choice(len(surnames), people, rng)
    p_sm = _zipf_choice(len(surnames), people, rng)
    p_sex = (rng.random(people) < 0.25).astype(int)  # 0 = F (most victims), 1 = M
    p_year = rng.integers(1960, 2016, size=people)
    p_month = rng.integers(1, 13, size=people)
    p_day = rng.integers(1, 29, size=people)
    p_docs = rng.integers(1, 3, size=people)  # some victims hold two documents

    person = rng.integers(people, size=n)
    src = np.repeat(np.arange(sources), records_per_source)

    def occurs(rate: float) -> np.ndarray:
        return rng.random(n) < min(1.0, rate * noise)

    def variant(rate: float) -> np.ndarray:
        return np.where(occurs(rate), rng.integers(1, variants + 1, size=n), 0)

    g1, g2, sp, sm = p_g1[person], p_g2[person].copy(), p_sp[person], p_sm[person].copy()
    g2[occurs(0.25)] = -1
    sm[occurs(0.10)] = -1
    clks = tables["g1"][g1, variant(0.12)]
    has_g2 = g2 >= 0
    clks[has_g2] |= tables["g2"][g2[has_g2], variant(0.12)[has_g2]]
    swap = occurs(0.05) & (sm >= 0)
    first = np.where(swap, sm, sp)
    second = np.where(swap, sp, sm)
    clks |= tables["sp"][first, variant(0.12)]
    has_sm = second >= 0
    clks[has_sm] |= tables["sm"][second[has_sm], variant(0.12)[has_sm]]

    year = p_year[person]
    has_dob = ~occurs(0.25)
    day, month = p_day[person].copy(), p_month[person].copy()
    mixed = occurs(0.05) & (day <= 12)
    day[mixed], month[mixed] = month[mixed], day[mixed]
    year_err = occurs(0.04)
    year_rec = year + np.where(year_err, rng.choice([-1, 1], size=n), 0)
    clks[has_dob] |= (
        day_rows[day[has_dob] - 1]
        | month_rows[month[has_dob] - 1]
        | year_rows[year_rec[has_dob] - 1940]
    )
    sex_known = ~occurs(0.03)
    clks[sex_known] |= sex_rows[p_sex[person][sex_known]]

    event_year = rng.integers(2016, 2025, size=n)
    event_date = np.array(
        [
            f"{y}-{m:02d}-{d:02d}"
            for y, m, d in zip(
                event_year, rng.integers(1, 13, size=n), rng.integers(1, 29, size=n), strict=True
            )
        ],
        dtype=object,
    )
    age = event_year - year
    by_min = np.where(has_dob, year_rec, event_year - age - 1).astype(float)
    by_max = np.where(has_dob, year_rec, event_year - age).astype(float)
    no_age = ~has_dob & occurs(0.3)
    by_min[no_age] = np.nan
    by_max[no_age] = np.nan
    sex = np.where(sex_known, np.array(["F", "M"])[p_sex[person]], "").astype(object)

    doc_hash = np.zeros((n, 32), dtype=np.uint8)
    has_doc = rng.random(n) < 0.45
    doc_no = np.where(p_docs[person] > 1, rng.integers(2, size=n), 0)
    keys = (person * 2 + doc_no)[has_doc]
    doc_hash[has_doc] = np.frombuffer(
        b"".join(hashlib.sha256(f"doc{seed}:{k}".encode()).digest() for k in keys), dtype=np.uint8
    ).reshape(-1, 32)
    return SyntheticRegistries(
        clks=clks,
        sources=src,
        person=person,
        sex=sex,
        birth_year_min=by_min,
        birth_year_max=by_max,
        doc_hash=doc_hash,
        event_date=event_date,
    )
