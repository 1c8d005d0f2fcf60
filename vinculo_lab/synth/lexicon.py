"""Reference lists the generator draws from: names, nicknames, spelling variants and places.

Names live in ``vinculo_lab/synth/data/`` (written for vinculo; weights are Zipf-like over a
rank order close to RENIEC's published surname frequencies). Places come from the INEI UBIGEO
table in ``vinculo_common/data/ubigeo/`` (read directly with ``csv``), with each district's
population estimated as density x area.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from vinculo_common.paths import ubigeo_dir

__all__ = [
    "BIRTH_DEPARTMENT_WEIGHTS",
    "EXPLOITATION_PLACES",
    "KEYBOARD_NEIGHBOURS",
    "Lexicon",
    "NameList",
    "Places",
    "lexicon",
    "places",
]

_DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True, slots=True)
class NameList:
    """Names with sampling probabilities (``probs`` sums to 1)."""

    names: tuple[str, ...]
    probs: np.ndarray

    @classmethod
    def from_weights(cls, names: list[str], weights: list[float]) -> NameList:
        w = np.asarray(weights, dtype=float)
        return cls(tuple(names), w / w.sum())


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Every name list, keyed by nationality (PER, VEN, COL, ECU, BOL; EXT for the people of a
    non-Peruvian registry) and sex."""

    given: dict[tuple[str, str], NameList]  # (nationality, sex) -> list
    surnames: dict[str, NameList]  # nationality -> list (PER: all groups together)
    surname_group: dict[str, str]  # Peruvian surname -> general / quechua / aymara / amazonia
    nicknames: dict[str, tuple[str, ...]]  # unaccented given name -> nicknames
    spelling_rules: tuple[tuple[str, str], ...]  # (regex, replacement) on unaccented names


def _read_csv(name: str) -> list[dict[str, str]]:
    with (_DATA / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """Load (once) every name list.

    >>> lexicon().surnames["PER"].names[0]
    'QUISPE'
    """
    given: dict[tuple[str, str], NameList] = {}
    rows = _read_csv("given_names.csv")
    for nat in ("PER", "VEN"):
        for sex in ("F", "M"):
            sel = [r for r in rows if r["nationality"] == nat and r["sex"] == sex]
            given[(nat, sex)] = NameList.from_weights(
                [r["name"] for r in sel], [float(r["weight"]) for r in sel])
    # Colombians, Ecuadorians and Bolivians: the Peruvian and Venezuelan lists together.
    for nat in ("COL", "ECU", "BOL"):
        for sex in ("F", "M"):
            sel = [r for r in rows if r["sex"] == sex]
            given[(nat, sex)] = NameList.from_weights(
                [r["name"] for r in sel], [float(r["weight"]) for r in sel])
    # EXT: the people of a registry that is not Peruvian (profile "foreign"): English,
    # Irish, German, Italian, Greek, Vietnamese, Chinese and South Asian names.
    foreign = _read_csv("given_names_foreign.csv")
    for sex in ("F", "M"):
        sel = [r for r in foreign if r["sex"] == sex]
        given[("EXT", sex)] = NameList.from_weights(
            [r["name"] for r in sel], [float(r["weight"]) for r in sel])
    pe = _read_csv("surnames_pe.csv")
    surnames = {"PER": NameList.from_weights([r["surname"] for r in pe],
                                             [float(r["weight"]) for r in pe])}
    for nat, fname in (("VEN", "surnames_ve.csv"), ("COL", "surnames_co.csv"),
                       ("ECU", "surnames_ec.csv"), ("BOL", "surnames_bo.csv"),
                       ("EXT", "surnames_foreign.csv")):
        sel = _read_csv(fname)
        surnames[nat] = NameList.from_weights([r["surname"] for r in sel],
                                              [float(r["weight"]) for r in sel])
    variants = json.loads((_DATA / "variants.json").read_text(encoding="utf-8"))
    return Lexicon(
        given=given,
        surnames=surnames,
        surname_group={r["surname"]: r["group"] for r in pe},
        nicknames={k: tuple(v) for k, v in variants["nicknames"].items()},
        spelling_rules=tuple((p, r) for p, r in variants["spelling_rules"]),
    )


# Where victims are born (Peruvians): poorer departments weigh more than their population.
BIRTH_DEPARTMENT_WEIGHTS: dict[str, float] = {
    "LORETO": 12, "CUSCO": 9, "PUNO": 9, "HUANUCO": 8, "JUNIN": 7, "LIMA": 7, "UCAYALI": 6,
    "CAJAMARCA": 6, "SAN MARTIN": 5, "MADRE DE DIOS": 4, "AMAZONAS": 4, "AYACUCHO": 4,
    "PIURA": 4, "APURIMAC": 3, "HUANCAVELICA": 3, "AREQUIPA": 3, "LA LIBERTAD": 3, "ANCASH": 3,
    "LAMBAYEQUE": 2, "PASCO": 2, "ICA": 1, "TUMBES": 1, "TACNA": 1, "CALLAO": 1, "MOQUEGUA": 0.5,
}

# Where exploitation happens (INEI district -> weight): Lima, La Pampa and the gold-mining
# corridor of Madre de Dios, La Rinconada (Ananea), Cusco, Iquitos, the southern border.
EXPLOITATION_PLACES: dict[str, float] = {
    "150101": 6, "150132": 4, "150135": 3, "150115": 4, "150103": 2, "150110": 2, "150117": 2,
    "070101": 2, "170101": 8, "170102": 6, "170104": 2, "170204": 3, "080101": 4, "080108": 2,
    "080902": 1, "160101": 5, "160108": 2, "160201": 1, "211002": 5, "211101": 3, "210101": 1,
    "040101": 3, "040307": 1, "230101": 2, "240101": 2, "240302": 1, "250101": 2, "120601": 1,
}

# Where Venezuelan victims live at the event.
FOREIGN_RESIDENCES: dict[str, float] = {
    "150132": 5, "150135": 4, "150101": 4, "150117": 3, "150110": 2, "150103": 2, "070101": 2,
    "240101": 2, "230101": 1, "040101": 1, "160101": 0.5, "170101": 0.5,
}


@dataclass(frozen=True, slots=True)
class Places:
    """INEI districts with population weights, and the sampling tables built from them."""

    codes: tuple[str, ...]  # INEI district codes, table order
    reniec: dict[str, str]  # INEI -> RENIEC code, only where the RENIEC code is no INEI code
    birth_probs: np.ndarray  # probability of each district as a Peruvian victim's birthplace
    event_codes: tuple[str, ...]
    event_probs: np.ndarray
    foreign_residence_codes: tuple[str, ...]
    foreign_residence_probs: np.ndarray
    department_of: dict[str, str]  # 2-digit department code -> name


def _norm(weights: dict[str, float]) -> tuple[tuple[str, ...], np.ndarray]:
    w = np.asarray(list(weights.values()), dtype=float)
    return tuple(weights), w / w.sum()


@lru_cache(maxsize=1)
def places() -> Places:
    """Load (once) the INEI district table and build the sampling tables.

    >>> "170101" in places().codes
    True
    """
    with (ubigeo_dir() / "ubigeo_distrito.csv").open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if len(r["inei"]) == 6 and r["inei"].isdigit()]
    codes = tuple(r["inei"] for r in rows)
    inei_set = set(codes)
    reniec = {r["inei"]: r["reniec"] for r in rows
              if r["reniec"].isdigit() and len(r["reniec"]) == 6 and r["reniec"] not in inei_set}
    pop = np.array([_population(r) for r in rows])
    dept_weight = np.array([BIRTH_DEPARTMENT_WEIGHTS.get(r["departamento"], 1.0) for r in rows])
    # Within a department, districts weigh by population; departments by the table above.
    dept_total: dict[str, float] = {}
    for r, p in zip(rows, pop, strict=True):
        dept_total[r["departamento"]] = dept_total.get(r["departamento"], 0.0) + p
    share = np.array([p / dept_total[r["departamento"]] for r, p in zip(rows, pop, strict=True)])
    birth = share * dept_weight
    event_codes, event_probs = _norm({c: w for c, w in EXPLOITATION_PLACES.items()
                                      if c in inei_set})
    fr_codes, fr_probs = _norm({c: w for c, w in FOREIGN_RESIDENCES.items() if c in inei_set})
    departments = {r["inei"][:2]: r["departamento"] for r in rows}
    return Places(codes=codes, reniec=reniec, birth_probs=birth / birth.sum(),
                  event_codes=event_codes, event_probs=event_probs,
                  foreign_residence_codes=fr_codes, foreign_residence_probs=fr_probs,
                  department_of=departments)


def _population(row: dict[str, str]) -> float:
    try:
        return max(1.0, float(row["pob_densidad_2020"]) * float(row["superficie"]))
    except ValueError:
        return 1.0


def _keyboard() -> dict[str, str]:
    rows = ["1234567890", "QWERTYUIOP", "ASDFGHJKLÑ", "ZXCVBNM"]
    out: dict[str, str] = {}
    for i, row in enumerate(rows):
        for j, ch in enumerate(row):
            near = []
            for di, dj in ((0, -1), (0, 1), (-1, 0), (-1, 1), (1, 0), (1, -1)):
                ii, jj = i + di, j + dj
                if 0 <= ii < len(rows) and 0 <= jj < len(rows[ii]):
                    near.append(rows[ii][jj])
            out[ch] = "".join(c for c in near if c.isalpha() == ch.isalpha())
    return out


KEYBOARD_NEIGHBOURS: dict[str, str] = _keyboard()
