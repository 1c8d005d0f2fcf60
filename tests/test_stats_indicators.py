"""Each indicator against truth counted here, with plain Python, from the synthetic persons'
true attributes (not from the records the code under test reads), plus hand-built cases for
the counting rules (conflicts, vaguer records, several forms)."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pandas as pd
import pytest
from test_stats_synthetic import Person, make_bank

from linkage_service.stats.events import (
    care_coverage_table,
    care_delay_table,
    overlap_table,
    revictimization_table,
)
from linkage_service.stats.indicators import (
    flows_birth_to_exploitation,
    persons_by,
    persons_by_place,
)
from vinculo_common import ubigeo


@pytest.fixture(scope="module")
def bank() -> tuple[pd.DataFrame, list[Person]]:
    return make_bank(300, seed=11)


def _published(frame: pd.DataFrame, key_columns: list[str]) -> dict[tuple[str, ...], int]:
    """{labels: personas} without the rows where any key column says Total."""
    rows = frame[~frame[key_columns].eq("Total").any(axis=1)]
    return {tuple(r[c] for c in key_columns): int(r["personas"]) for _, r in rows.iterrows()}


def _band(age: int) -> str:
    return "Menor de edad (0–17)" if age < 18 else "Persona adulta (18 y más)"


def test_birthplace_at_three_levels(bank: tuple[pd.DataFrame, list[Person]]) -> None:
    snapshot, persons = bank
    for level, word in ((2, "departamento"), (4, "provincia"), (6, "distrito")):
        truth = Counter(p.birthplace[:level] for p in persons)
        table = persons_by_place(snapshot, place="nacimiento", level=word)
        got = _published(table, ["ubigeo_nacimiento"])
        assert got == {(code,): n for code, n in truth.items()}
        total = table[table["ubigeo_nacimiento"] == "Total"]["personas"].item()
        assert total == len(persons)
    lima = persons_by_place(snapshot, place="nacimiento", level="distrito")
    row = lima[lima["ubigeo_nacimiento"] == "150132"].iloc[0]
    assert (row["departamento_nacimiento"], row["provincia_nacimiento"]) == ("LIMA", "LIMA")
    assert row["distrito_nacimiento"] == ubigeo.unit("150132").district  # type: ignore[union-attr]


@pytest.mark.parametrize(("place", "attribute"), [("residencia", "residence"),
                                                  ("explotacion", "place")])
def test_event_places(bank: tuple[pd.DataFrame, list[Person]], place: str,
                      attribute: str) -> None:
    snapshot, persons = bank
    for level, word in ((2, "departamento"), (6, "distrito")):
        truth: Counter[str] = Counter()
        for p in persons:
            truth.update({getattr(e, attribute)[:level] for e in p.episodes})
        got = _published(persons_by_place(snapshot, place=place, level=word),
                         [f"ubigeo_{place}"])
        assert got == {(code,): n for code, n in truth.items()}


def test_one_dimension_tables(bank: tuple[pd.DataFrame, list[Person]]) -> None:
    snapshot, persons = bank
    sexes = Counter({"F": "Mujer", "M": "Hombre"}[p.sex] for p in persons)
    assert _published(persons_by(snapshot, dimensions=["sexo"]), ["sexo"]) == {
        (k,): n for k, n in sexes.items()}
    years: Counter[str] = Counter()
    groups: Counter[str] = Counter()
    forms: Counter[str] = Counter()
    for p in persons:
        years.update({str(e.day.year) for e in p.episodes})
        groups.update({_band(e.age) for e in p.episodes})
        forms.update({f for e in p.episodes for f in e.forms})
    assert _published(persons_by(snapshot, dimensions=["anio"]), ["anio"]) == {
        (k,): n for k, n in years.items()}
    assert _published(persons_by(snapshot, dimensions=["grupo_edad"]), ["grupo_edad"]) == {
        (k,): n for k, n in groups.items()}
    labels = {"sexual": "Explotación sexual", "laboral": "Explotación laboral",
              "mendicidad": "Mendicidad", "venta_ninos": "Venta de niñas, niños y adolescentes"}
    assert _published(persons_by(snapshot, dimensions=["forma_explotacion"]),
                      ["forma_explotacion"]) == {(labels[k],): n for k, n in forms.items()}
    nationalities = Counter(p.nationality for p in persons)
    got = _published(persons_by(snapshot, dimensions=["nacionalidad"]), ["nacionalidad"])
    assert {k[0][-4:-1]: n for k, n in got.items()} == dict(nationalities)


def test_fine_age_bands(bank: tuple[pd.DataFrame, list[Person]]) -> None:
    snapshot, persons = bank
    edges = [(0, 11, "0–11"), (12, 14, "12–14"), (15, 17, "15–17"), (18, 24, "18–24"),
             (25, 34, "25–34"), (35, 999, "35 y más")]
    truth: Counter[str] = Counter()
    for p in persons:
        truth.update({label for e in p.episodes for lo, hi, label in edges if lo <= e.age <= hi})
    got = _published(persons_by(snapshot, dimensions=["grupo_edad_detalle"]),
                     ["grupo_edad_detalle"])
    assert got == {(k,): n for k, n in truth.items()}


def test_year_by_sex_with_margins(bank: tuple[pd.DataFrame, list[Person]]) -> None:
    snapshot, persons = bank
    table = persons_by(snapshot, dimensions=["anio", "sexo"])
    truth: Counter[tuple[str, str]] = Counter()
    for p in persons:
        truth.update({(str(e.day.year), {"F": "Mujer", "M": "Hombre"}[p.sex])
                      for e in p.episodes})
    cells = _published(table, ["anio", "sexo"])
    assert {k: n for k, n in cells.items() if n} == dict(truth)
    margins = table[(table["sexo"] == "Total") & (table["anio"] != "Total")]
    by_year = Counter(y for p in persons for y in {str(e.day.year) for e in p.episodes})
    assert dict(zip(margins["anio"], margins["personas"], strict=True)) == dict(by_year)


def test_flows_from_birth_to_exploitation(bank: tuple[pd.DataFrame, list[Person]]) -> None:
    snapshot, persons = bank
    truth: Counter[tuple[str, str]] = Counter()
    for p in persons:
        truth.update({(p.birthplace[:2], e.place[:2]) for e in p.episodes})
    frame = flows_birth_to_exploitation(snapshot).frame()
    got = _published(frame, ["ubigeo_nacimiento", "ubigeo_explotacion"])
    assert {k: n for k, n in got.items() if n} == dict(truth)


def test_revictimization(bank: tuple[pd.DataFrame, list[Person]]) -> None:
    snapshot, persons = bank
    truth = Counter(min(len(p.episodes), 3) for p in persons)
    frame = revictimization_table(snapshot).frame()
    got = dict(zip(frame["episodios"], frame["personas"], strict=True))
    assert got["Un episodio"] == truth[1]
    assert got["Dos episodios"] == truth[2]
    assert got["Tres o más episodios"] == truth[3]
    assert got["Total"] == len(persons)


def test_registry_overlap(bank: tuple[pd.DataFrame, list[Person]]) -> None:
    snapshot, persons = bank
    truth = Counter(frozenset(s for e in p.episodes for s in e.sources) for p in persons)
    frame = overlap_table(snapshot).frame()
    flags = {tuple(r): n for *r, n in frame[["en_policia", "en_fiscalia", "en_atencion",
                                             "personas"]].itertuples(index=False)}
    for (police, prosecutor, care), n in flags.items():
        if police == "Total":
            assert n == len(persons)
            continue
        wanted = frozenset(s for s, flag in (("reta", police), ("sistra", prosecutor),
                                             ("care", care)) if flag == "Sí")
        assert n == truth[wanted], wanted


def test_care_coverage_and_time_to_care(bank: tuple[pd.DataFrame, list[Person]]) -> None:
    snapshot, persons = bank
    known = [p for p in persons if any(s in ("reta", "sistra") for e in p.episodes
                                       for s in e.sources)]
    cared = [p for p in known if any("care" in e.sources for e in p.episodes)]
    frame = care_coverage_table(snapshot).frame()
    totals = frame[frame["anio_primer_registro"] == "Total"]
    assert dict(zip(totals["llego_a_atencion"], totals["personas"], strict=True)) == {
        "Sí": len(cared), "No": len(known) - len(cared), "Total": len(known)}
    first_year = Counter(
        str(min(e.day for e in p.episodes if {"reta", "sistra"} & set(e.sources)).year)
        for p in cared)
    reached = frame[(frame["llego_a_atencion"] == "Sí")
                    & (frame["anio_primer_registro"] != "Total")]
    assert dict(zip(reached["anio_primer_registro"], reached["personas"], strict=True)) == dict(
        first_year)
    # Time to care, from the records with plain loops: first day each date can mean.
    starts: dict[str, list[date]] = {}
    care_starts: dict[str, list[date]] = {}
    for row in snapshot.itertuples(index=False):
        if row.event_date:
            day = date.fromisoformat(row.event_date if len(row.event_date) == 10
                                     else row.event_date + "-01")
            starts.setdefault(row.person_id, []).append(day)
            if row.source == "care":
                care_starts.setdefault(row.person_id, []).append(day)
    delays = sorted((min(care_starts[p.person_id]) - min(starts[p.person_id])).days
                    for p in cared)
    delay = care_delay_table(snapshot).frame()
    total = delay[delay["sexo"] == "Total"].iloc[0]
    assert total["personas"] == len(delays)
    assert total["mediana_dias"] == pytest.approx(pd.Series(delays).median())


def test_counting_rules_by_hand() -> None:
    """Vaguer records add nothing; a conflict counts in both cells; several forms each count."""
    snapshot = pd.DataFrame({
        "person_id": ["A", "A", "A", "B", "B", "C"],
        "source": ["reta", "sistra", "care", "reta", "reta", "sistra"],
        "sex": ["F", "", "F", "F", "M", ""],
        "ubigeo_birth": ["150101", "15", "", "0801", "1601", ""],
        "ubigeo_event": ["150101", "1501", "15", "080101", "", ""],
        "event_date": ["2020-01-10", "2020-01", "2020-01-20", "2019-05-01", "2023-07-01", ""],
        "exploitation": [["sexual"], [], ["sexual", "laboral"], ["laboral"], [], []],
    })
    birth = persons_by_place(snapshot, place="nacimiento", level="provincia")
    assert _published(birth, ["ubigeo_nacimiento"]) == {("1501",): 1, ("0801",): 1,
                                                         ("1601",): 1, ("",): 1}
    sex = _published(persons_by(snapshot, dimensions=["sexo"]), ["sexo"])
    assert sex == {("Mujer",): 2, ("Hombre",): 1, ("Sin dato",): 1}
    forms = _published(persons_by(snapshot, dimensions=["forma_explotacion"]),
                       ["forma_explotacion"])
    assert forms == {("Explotación sexual",): 1, ("Explotación laboral",): 2, ("Sin dato",): 1}
    years = _published(persons_by(snapshot, dimensions=["anio"]), ["anio"])
    assert years == {("2019",): 1, ("2020",): 1, ("2023",): 1, ("Sin dato",): 1}
    revisits = revictimization_table(snapshot).frame()
    assert dict(zip(revisits["episodios"], revisits["personas"], strict=True)) == {
        "Un episodio": 1, "Dos episodios": 1, "Tres o más episodios": 0,
        "Sin fecha conocida": 1, "Total": 3}
    overlap = overlap_table(snapshot).frame()
    assert dict(zip(overlap["registros"], overlap["personas"], strict=True)) == {
        "Solo policía (RETA)": 1, "Solo fiscalía (SISTRA)": 1, "Solo atención (CARE)": 0,
        "Policía (RETA) y fiscalía (SISTRA)": 0, "Policía (RETA) y atención (CARE)": 0,
        "Fiscalía (SISTRA) y atención (CARE)": 0, "Los tres registros": 1, "Total": 3}


def test_an_empty_bank_gives_empty_tables() -> None:
    from linkage_service.stats import SNAPSHOT_COLUMNS, build_tables

    tables = build_tables(pd.DataFrame(columns=list(SNAPSHOT_COLUMNS)))
    assert tables["personas_por_sexo"]["rows"] == [["Total", 0]]
    assert tables["superposicion_registros"]["rows"][-1][-1] == 0
