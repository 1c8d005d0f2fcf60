"""The synthetic victims: who they are, their documents, their episodes of exploitation, and the
relatives and namesakes that make linkage hard (twins, sisters, namesakes, mother/daughter).

A ``Person`` holds the *true* identity; the registries (``vinculo_lab.synth.registry``) write
what clerks recorded of it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import numpy as np

from vinculo_lab.synth.config import PopulationParams
from vinculo_lab.synth.lexicon import Lexicon, NameList, Places

__all__ = ["Episode", "Person", "dni_check_characters", "generate_people"]

FIRST_DAY = date(2012, 1, 1)
LAST_DAY = date(2025, 12, 31)
_SPAN = (LAST_DAY - FIRST_DAY).days

_FORMS_F = (("sexual", 0.62), ("laboral", 0.2), ("sexual;laboral", 0.05), ("mendicidad", 0.04),
            ("venta_ninos", 0.03), ("organos", 0.003), ("otra", 0.057))
_FORMS_M = (("laboral", 0.62), ("sexual", 0.2), ("sexual;laboral", 0.03), ("mendicidad", 0.08),
            ("venta_ninos", 0.02), ("organos", 0.01), ("otra", 0.04))
# Surname groups over-represented among people born in a region (Aymara in Puno, Quechua in
# the southern Andes, Amazonian surnames in the jungle): regional namesakes are more frequent.
_REGION_BOOST = {
    "PUNO": {"aymara": 8.0, "quechua": 2.0},
    "CUSCO": {"quechua": 4.0}, "APURIMAC": {"quechua": 4.0}, "AYACUCHO": {"quechua": 4.0},
    "HUANCAVELICA": {"quechua": 4.0}, "HUANUCO": {"quechua": 2.0},
    "LORETO": {"amazonia": 8.0}, "UCAYALI": {"amazonia": 6.0}, "SAN MARTIN": {"amazonia": 5.0},
    "MADRE DE DIOS": {"amazonia": 3.0, "quechua": 2.0}, "AMAZONAS": {"amazonia": 3.0},
}


@dataclass(slots=True)
class Episode:
    """One episode of exploitation: when, where, what, and where the victim lived then."""

    day: date
    place: str  # INEI district of the event
    forms: str  # forma_explotacion, ';'-joined
    residence: str  # INEI district of residence


@dataclass(slots=True)
class Person:
    """The true identity of one synthetic victim."""

    index: int
    sex: str  # F or M
    nationality: str  # PER, VEN, COL, ECU, BOL
    given: tuple[str, ...]  # given names with accents, e.g. ("MARÍA", "ISABEL")
    paternal: str
    maternal: str
    birth: date
    birth_place: str  # INEI district, "" for the foreign-born
    documents: tuple[tuple[str, str], ...]  # (type, number); the first is the primary one
    sources: str  # registries reached: a subset of "RSC"
    episodes: list[Episode] = field(default_factory=list)
    married: str = ""  # husband's surname when she is registered as "DE <married>"
    relation: str = ""  # twin, sister, namesake, mother: how this person mirrors related_to
    related_to: int = -1


def dni_check_characters(dni: str) -> str:
    """RENIEC's check character of an 8-digit DNI: a digit and a letter form are both in use.

    >>> dni_check_characters("10117410")
    '2G'
    """
    weights = (3, 2, 7, 6, 5, 4, 3, 2)
    c = sum(w * int(d) for w, d in zip(weights, dni, strict=True)) % 11
    return "65432110987"[c] + "KJIHGFEDCBA"[c]


def _digits(pyr: random.Random, n: int) -> str:
    return "".join(pyr.choice("0123456789") for _ in range(n))


def _dni(pyr: random.Random, leading_zero: float) -> str:
    if pyr.random() < leading_zero:
        return "0" + pyr.choice("0123456789") + _digits(pyr, 6)
    return pyr.choice("1234567777444666") + _digits(pyr, 7)


def _documents(nat: str, pyr: random.Random, pop: PopulationParams) -> tuple[tuple[str, str], ...]:
    docs: list[tuple[str, str]] = []
    offers: tuple[tuple[str, float, Callable[[], str]], ...]
    if pop.documents == "social_security":  # one 9-digit number, no leading zero, or none
        if pyr.random() < pop.social_security_share:
            docs.append(("OTRO", pyr.choice("123456789") + _digits(pyr, 8)))
        return tuple(docs)
    if nat == "PER":
        if pyr.random() < pop.dni_share_peruvians:
            docs.append(("DNI", _dni(pyr, pop.dni_leading_zero)))
        return tuple(docs)
    if nat == "VEN":
        offers = (("OTRO", 0.85, lambda: pyr.choice("12233") + _digits(pyr, 7)),  # cédula
                  ("PASAPORTE", 0.45, lambda: pyr.choice("1") + _digits(pyr, 8)),
                  ("PTP", 0.35, lambda: pyr.choice("123") + _digits(pyr, 8)),
                  ("CPP", 0.30, lambda: "0" + _digits(pyr, 8)),
                  ("CE", 0.15, lambda: "00" + _digits(pyr, 7)))
    else:
        cedula_len = {"COL": 10, "ECU": 10, "BOL": 7}[nat]
        offers = (("OTRO", 0.8, lambda: pyr.choice("123456789") + _digits(pyr, cedula_len - 1)),
                  ("PASAPORTE", 0.4, lambda: pyr.choice("ABP") + pyr.choice("ABCEN")
                   + _digits(pyr, 6)),
                  ("CE", 0.2, lambda: "00" + _digits(pyr, 7)))
    for kind, prob, make in offers:
        if pyr.random() < prob:
            docs.append((kind, make()))
    if not docs:  # everyone carries at least their national identity card
        docs.append((offers[0][0], offers[0][2]()))
    pyr.shuffle(docs)
    return tuple(docs)


def _pick(names: NameList, rng: np.random.Generator, n: int) -> list[str]:
    idx = rng.choice(len(names.names), size=n, p=names.probs)
    return [names.names[i] for i in idx]


class _Draw:
    """Scalar draws for one person (fast Python ``random`` seeded from the numpy generator)."""

    def __init__(self, lex: Lexicon, geo: Places, pop: PopulationParams,
                 rng: np.random.Generator, pyr: random.Random) -> None:
        self.lex, self.geo, self.pop, self.rng, self.pyr = lex, geo, pop, rng, pyr
        self._surname_tables: dict[tuple[str, str], NameList] = {}
        self._pools: dict[str, list[str]] = {}
        self._nat = NameList.from_weights(list(pop.nationality), list(pop.nationality.values()))
        self._birth = NameList(geo.codes, geo.birth_probs)
        self._event = NameList(geo.event_codes, geo.event_probs)
        self._foreign_res = NameList(geo.foreign_residence_codes, geo.foreign_residence_probs)
        self.districts_of: dict[str, list[str]] = {}
        for code in geo.codes:
            self.districts_of.setdefault(code[:2], []).append(code)

    def _pool(self, key: str, names: NameList, size: int = 4096) -> str:
        # Sampling from numpy one name at a time is slow; draw in blocks and pop.
        pool = self._pools.get(key)
        if not pool:
            pool = _pick(names, self.rng, size)
            self._pools[key] = pool
        return pool.pop()

    def surname(self, nat: str, birth_place: str) -> str:
        if nat != "PER":
            return self._pool("S" + nat, self.lex.surnames[nat])
        dept = self.geo.department_of.get(birth_place[:2], "") if birth_place else ""
        boost = _REGION_BOOST.get(dept)
        if boost is None:
            return self._pool("SPER", self.lex.surnames["PER"])
        key = ("PER", dept)
        if key not in self._surname_tables:
            base = self.lex.surnames["PER"]
            w = base.probs * np.array([boost.get(self.lex.surname_group.get(s, ""), 1.0)
                                       for s in base.names])
            self._surname_tables[key] = NameList(base.names, w / w.sum())
        return self._pool("SPER" + dept, self._surname_tables[key])

    def given(self, nat: str, sex: str, *, avoid: str = "") -> tuple[str, ...]:
        names = self.lex.given[(nat, sex)]
        first = self._pool(f"G{nat}{sex}", names)
        while first.split(" ")[0] == avoid:
            first = self._pool(f"G{nat}{sex}", names)
        tokens = first.split(" ")
        u = self.pyr.random()
        if nat == "EXT":  # one given name mostly, as English-speaking registries write them
            want = 1 if u < 0.8 else 2
        else:
            want = (1 if u < 0.38 else 2 if u < 0.97 else 3) if nat == "PER" else (
                2 if u < 0.8 else 1)
        while len(tokens) < want:
            extra = self._pool(f"G{nat}{sex}", names).split(" ")[0]
            if extra not in tokens:
                tokens.append(extra)
        return tuple(tokens)

    def birth_place(self) -> str:
        return self._pool("BP", self._birth)

    def event_place(self) -> str:
        if self.pyr.random() < 0.1:
            return self.birth_place()
        return self._pool("EP", self._event)

    def residence(self, nat: str, birth_place: str, event_place: str) -> str:
        u = self.pyr.random()
        if nat != "PER":
            if u < 0.7:
                return self._pool("FR", self._foreign_res)
            return event_place
        return birth_place if u < 0.45 else event_place if u < 0.8 else self.birth_place()

    def forms(self, sex: str) -> str:
        table = _FORMS_F if sex == "F" else _FORMS_M
        u, acc = self.pyr.random(), 0.0
        for name, p in table:
            acc += p
            if u < acc:
                return name
        return table[0][0]

    def event_day(self) -> date:
        # Reports grow over the years: half uniform, half leaning to recent years.
        u = self.pyr.random()
        frac = u if self.pyr.random() < 0.5 else u ** 0.5
        return FIRST_DAY + timedelta(days=int(frac * _SPAN))

    def age(self) -> int:
        bands = self.pop.age_bands
        u, acc = self.pyr.random() * sum(b[2] for b in bands), 0.0
        for low, high, w in bands:
            acc += w
            if u < acc:
                return self.pyr.randint(low, high)
        return self.pyr.randint(bands[-1][0], bands[-1][1])

    def pattern(self) -> str:
        pats = self.pop.source_patterns
        u, acc = self.pyr.random() * sum(pats.values()), 0.0
        for pat, w in pats.items():
            acc += w
            if u < acc:
                return pat
        return next(iter(pats))

    def episodes(self, first: Episode, nat: str, birth_place: str, sex: str) -> list[Episode]:
        out = [first]
        n_more = 0
        if self.pyr.random() < self.pop.revictimisation:
            n_more = 2 if self.pyr.random() < 0.2 else 1
        for _ in range(n_more):
            prev = out[-1]
            day = prev.day + timedelta(days=self.pyr.randint(90, 1100))
            if day > LAST_DAY:
                break
            place = prev.place if self.pyr.random() < 0.5 else self.event_place()
            forms = prev.forms if self.pyr.random() < 0.7 else self.forms(sex)
            res = prev.residence if self.pyr.random() < 0.6 else self.residence(
                nat, birth_place, place)
            out.append(Episode(day, place, forms, res))
        return out

    def person(self, index: int) -> Person:
        pyr = self.pyr
        nat = self._pool("NAT", self._nat)
        sex = "F" if pyr.random() < self.pop.female_share else "M"
        day = self.event_day()
        age = self.age()
        birth = day - timedelta(days=int((age + pyr.random()) * 365.25))
        if self.pop.birth_years is not None:  # a registry of the whole population, any age
            low, high = self.pop.birth_years
            birth = date(pyr.randint(low, high), 1, 1) + timedelta(days=pyr.randint(0, 364))
        birth_place = self.birth_place() if nat == "PER" else ""
        place = self.event_place()
        first = Episode(day, place, self.forms(sex), self.residence(nat, birth_place, place))
        person = Person(
            index=index, sex=sex, nationality=nat, given=self.given(nat, sex),
            paternal=self.surname(nat, birth_place),
            maternal="" if self.pop.single_surname else self.surname(nat, birth_place),
            birth=birth, birth_place=birth_place,
            documents=_documents(nat, pyr, self.pop), sources=self.pattern(),
        )
        person.episodes = self.episodes(first, nat, birth_place, sex)
        self.maybe_married(person)
        return person

    def maybe_married(self, person: Person) -> None:
        last = person.episodes[-1].day
        if (person.sex == "F" and (last - person.birth).days >= 22 * 365
                and self.pyr.random() < self.pop.married_share):
            person.married = self.surname(person.nationality, person.birth_place)


def generate_people(n: int, *, pop: PopulationParams, lex: Lexicon, geo: Places,
                    rng: np.random.Generator, pyr: random.Random) -> list[Person]:
    """``n`` people: independent victims plus their hard non-matches (relatives, namesakes).

    >>> from vinculo_lab.synth.lexicon import lexicon, places
    >>> people = generate_people(50, pop=PopulationParams(), lex=lexicon(), geo=places(),
    ...                          rng=np.random.default_rng(1), pyr=random.Random(1))
    >>> len(people)
    50
    """
    draw = _Draw(lex, geo, pop, rng, pyr)
    kinds = (("twin", pop.twins), ("sister", pop.sisters), ("namesake", pop.namesakes),
             ("mother", pop.mother_daughter))
    n_rel = {k: round(n * r) for k, r in kinds}
    n_base = n - sum(n_rel.values())
    people = [draw.person(i) for i in range(n_base)]
    for kind, count in n_rel.items():
        for _ in range(count):
            base = people[pyr.randrange(n_base)]
            people.append(_relative(kind, base, len(people), draw))
    return people


def _shared_or_own(base: Person, own: Person, share: float, draw: _Draw) -> None:
    """Relatives are often trafficked together: same registries, same episodes."""
    if draw.pyr.random() < share:
        own.sources = base.sources
        own.episodes = [replace(e) for e in base.episodes]


def _relative(kind: str, base: Person, index: int, draw: _Draw) -> Person:
    pyr = draw.pyr
    fresh = draw.person(index)  # a full independent person, then made to mirror the base
    fresh.relation, fresh.related_to = kind, base.index
    fresh.nationality = base.nationality
    if kind == "namesake":
        fresh.given, fresh.paternal, fresh.maternal = base.given, base.paternal, base.maternal
        fresh.sex = base.sex
        if pyr.random() < 0.35:  # close in age too
            fresh.birth = base.birth + timedelta(days=pyr.randint(-3 * 365, 3 * 365))
        if base.nationality != "PER":
            fresh.birth_place = ""
        elif pyr.random() < 0.5:  # same department: namesakes cluster by region
            fresh.birth_place = pyr.choice(draw.districts_of[base.birth_place[:2]])
        else:
            fresh.birth_place = draw.birth_place()
        fresh.documents = _documents(base.nationality, pyr, draw.pop)
        return fresh
    fresh.birth_place = base.birth_place
    fresh.documents = _documents(base.nationality, pyr, draw.pop)
    if kind == "twin":
        fresh.sex = base.sex if pyr.random() < 0.85 else ("M" if base.sex == "F" else "F")
        fresh.paternal, fresh.maternal, fresh.birth = base.paternal, base.maternal, base.birth
        fresh.given = draw.given(base.nationality, fresh.sex, avoid=base.given[0])
        if pyr.random() < 0.35 and len(base.given) > 1 and len(fresh.given) > 1:
            fresh.given = (base.given[0], *fresh.given[1:])  # MARÍA ISABEL / MARÍA ELENA
            if fresh.given == base.given:
                fresh.given = (base.given[0],)
        if base.documents and base.documents[0][0] == "DNI":  # twins' DNIs are consecutive
            number = int(base.documents[0][1]) + pyr.choice((1, -1))
            fresh.documents = (("DNI", f"{max(number, 0):08d}"),)
        _shared_or_own(base, fresh, 0.6, draw)
    elif kind == "sister":
        fresh.sex = "F"
        fresh.paternal, fresh.maternal = base.paternal, base.maternal
        gap = timedelta(days=pyr.randint(300, 6 * 365))
        fresh.birth = base.birth - gap if pyr.random() < 0.5 else base.birth + gap
        fresh.given = draw.given(base.nationality, "F", avoid=base.given[0])
        _shared_or_own(base, fresh, 0.5, draw)
        if fresh.episodes[0].day - fresh.birth < timedelta(days=6 * 365):
            fresh.birth = base.birth - gap
    else:  # mother: same given name as the daughter, and often her very surnames
        fresh.sex = "F"
        fresh.given = base.given if pyr.random() < 0.5 else base.given[:1]
        if pyr.random() < 0.5:  # a single mother gave the daughter both her surnames
            fresh.paternal, fresh.maternal = base.paternal, base.maternal
        else:
            fresh.paternal = base.maternal or base.paternal
        fresh.birth = base.birth - timedelta(days=pyr.randint(17 * 365, 32 * 365))
        _shared_or_own(base, fresh, 0.5, draw)
        for ep in fresh.episodes:
            ep.residence = base.episodes[0].residence
    fresh.married = ""
    draw.maybe_married(fresh)
    return fresh
