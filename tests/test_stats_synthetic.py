"""A synthetic bank built truth-first, for the statistics tests (synthetic people only).

``make_bank(n, seed)`` draws persons with true attributes and true episodes, then writes the
records the registries would hold: one person in several sources, some records vaguer than
others (a blank or coarser UBIGEO, a month-only date, an age missing but the birth year
known), dates of one episode a few days apart in different sources. ``truth`` keeps the true
values so the tests count them with plain Python, without the code under test.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd

__all__ = ["Person", "make_bank"]

# A few districts per department, weighted so that some cells are large and many small.
DISTRICTS = ["150101", "150132", "150103", "150501", "160101", "160113", "080101", "080801",
             "170101", "170301", "210101", "211101", "250101", "200101", "130101", "070101"]
WEIGHTS = [30, 12, 6, 3, 12, 4, 8, 2, 7, 2, 6, 1, 5, 3, 3, 2]
FORMS = ["sexual", "laboral", "mendicidad", "venta_ninos"]


@dataclass
class Episode:
    day: date
    place: str
    residence: str
    forms: list[str]
    age: int
    sources: list[str]


@dataclass
class Person:
    person_id: str
    sex: str
    born: int
    birthplace: str
    nationality: str
    episodes: list[Episode] = field(default_factory=list)


def _coarser(code: str, rng: random.Random) -> str:
    return rng.choice(["", code[:2], code[:4]])


def make_bank(n: int = 400, seed: int = 1) -> tuple[pd.DataFrame, list[Person]]:
    rng = random.Random(seed)
    persons: list[Person] = []
    rows: list[dict[str, object]] = []
    for i in range(n):
        born = rng.randint(1975, 2012)
        person = Person(
            person_id=f"P-SYN{i:05d}",
            sex="F" if rng.random() < 0.8 else "M",
            born=born,
            birthplace=rng.choices(DISTRICTS, WEIGHTS)[0],
            nationality=rng.choices(["PER", "VEN", "COL"], [85, 10, 5])[0],
        )
        start = date(2015, 1, 1) + timedelta(days=rng.randint(0, 2500))
        for _ in range(rng.choices([1, 2, 3], [75, 20, 5])[0]):
            day = date(start.year, start.month, rng.randint(1, 10))
            if day.year > 2024:
                break
            sources = [s for s, p in (("reta", 0.7), ("sistra", 0.5), ("care", 0.4))
                       if rng.random() < p] or [rng.choice(["reta", "sistra", "care"])]
            age = day.year - born - (1 if (day.month, day.day) < (6, 30) else 0)
            person.episodes.append(Episode(
                day=day, place=rng.choices(DISTRICTS, WEIGHTS)[0],
                residence=rng.choices(DISTRICTS, WEIGHTS)[0],
                forms=sorted(rng.sample(FORMS, rng.choice([1, 1, 1, 2]))), age=max(age, 0),
                sources=sources))
            start = day + timedelta(days=rng.randint(200, 900))
        if not person.episodes:
            continue
        persons.append(person)
        full_birth_done = False
        for episode in person.episodes:
            for k, source in enumerate(episode.sources):
                full = k == 0  # the first record of each episode says everything
                vague = not full and rng.random() < 0.6
                day = episode.day + timedelta(days=rng.randint(0, 15) if k else 0)
                event_date = day.isoformat()
                if vague and rng.random() < 0.5:
                    event_date = day.isoformat()[:7]
                birth = person.birthplace
                if full_birth_done and rng.random() < 0.4:
                    birth = _coarser(birth, rng)
                full_birth_done = full_birth_done or birth == person.birthplace
                rows.append({
                    "person_id": person.person_id,
                    "source": source,
                    "sex": person.sex if full or rng.random() < 0.7 else "",
                    "birth_year_min": person.born,
                    "birth_year_max": person.born,
                    "age_at_event": episode.age if full or not vague else None,
                    "nationality": person.nationality if full or rng.random() < 0.8 else "",
                    "ubigeo_birth": birth,
                    "ubigeo_residence": (episode.residence if not vague
                                         else _coarser(episode.residence, rng)),
                    "ubigeo_event": episode.place if not vague else _coarser(episode.place, rng),
                    "event_date": event_date,
                    "exploitation": list(episode.forms) if not vague else [],
                })
    frame = pd.DataFrame(rows)
    frame["age_at_event"] = frame["age_at_event"].astype("Int64")
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True), persons


def test_every_person_has_a_full_record() -> None:
    frame, persons = make_bank(60, seed=3)
    assert frame["person_id"].nunique() == len(persons)
    for person in persons:
        mine = frame[frame["person_id"] == person.person_id]
        assert (mine["ubigeo_birth"] == person.birthplace).any()
        assert (mine["sex"] == person.sex).any()
