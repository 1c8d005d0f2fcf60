"""Indicators over a person's history: re-victimisation, care coverage, time to care, and
the overlap of registries.

Definitions (also in ``docs/statistics.md``):

- **episode**: the person's known event dates, as intervals (``YYYY-MM`` is the whole month),
  merged when less than ``min_gap_days`` days apart (police and prosecutor often register one
  event days apart). **Re-victimised**: two or more episodes.
- **known to police or prosecutors**: at least one record of a source whose role is
  ``police`` or ``prosecutor``; **reached care**: at least one record of a ``care`` source.
- **time to care**: days from the person's first record (any source) to her first care
  record, for persons known to police or prosecutors who reached care and whose dates are
  known; a partial date counts from the first day of its month.

>>> import pandas as pd
>>> snap = pd.DataFrame({"person_id": ["A", "A"], "source": ["reta", "reta"],
...     "event_date": ["2019-01-10", "2021-06"]})
>>> episodes_per_person(snap, min_gap_days=30).to_dict()
{'A': 2}
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import numpy as np
import pandas as pd

from linkage_service.stats.cells import TOTAL, TOTAL_KEY, CountTable, Line, Row, VarKey
from linkage_service.stats.labels import SEX_LABELS
from linkage_service.stats.snapshot import (
    DEFAULT_SOURCE_ROLES,
    normalize_snapshot,
    parse_partial_date,
)

__all__ = [
    "DEFAULT_MIN_GAP_DAYS",
    "care_coverage_table",
    "care_delay_table",
    "care_delays",
    "episodes_per_person",
    "overlap_table",
    "person_roles",
    "revictimization_table",
]

DEFAULT_MIN_GAP_DAYS = 30
_ROLE_NAMES = {"police": "policía", "prosecutor": "fiscalía", "care": "atención"}
_MAIN_ROLES = ("police", "prosecutor", "care")


def _normal(snapshot: pd.DataFrame) -> pd.DataFrame:
    return snapshot if snapshot.attrs.get("vinculo_normalized") else normalize_snapshot(snapshot)


def episodes_per_person(snapshot: pd.DataFrame, *, min_gap_days: int = DEFAULT_MIN_GAP_DAYS,
                        ) -> pd.Series:
    """Number of episodes per person (0 when no event date is known)."""
    frame = _normal(snapshot)
    result: dict[str, int] = {}
    for person, dates in frame.groupby("person_id", sort=True)["event_date"]:
        spans = sorted(s for s in (parse_partial_date(d) for d in dates) if s is not None)
        episodes, end = 0, None
        for start, stop in spans:
            if end is None or (start - end).days > min_gap_days:
                episodes += 1
                end = stop
            else:
                end = max(end, stop)
        result[str(person)] = episodes
    return pd.Series(result, dtype="int64")


def revictimization_table(snapshot: pd.DataFrame, *,
                          min_gap_days: int = DEFAULT_MIN_GAP_DAYS) -> CountTable:
    """Persons by number of episodes (1, 2, 3 or more, no known date) with the total."""
    episodes = episodes_per_person(snapshot, min_gap_days=min_gap_days)
    keys = {"1": "Un episodio", "2": "Dos episodios", "3+": "Tres o más episodios",
            "": "Sin fecha conocida"}
    buckets = episodes.map(lambda n: "" if n == 0 else ("3+" if n >= 3 else str(n)))
    values: dict[VarKey, int] = {TOTAL_KEY: len(episodes)}
    rows: list[Row] = []
    for key, label in keys.items():
        count = int((buckets == key).sum())
        if count or key != "":
            values[("episodios", (key,))] = count
            rows.append(((label,), ("episodios", (key,))))
    members = tuple(k for _, k in rows)
    rows.append(((TOTAL,), TOTAL_KEY))
    return CountTable(
        name="revictimizacion",
        title="Revictimización: personas por número de episodios",
        description=(f"Episodios: fechas de hecho separadas por más de {min_gap_days} días. "
                     "Dos o más episodios = persona revictimizada."),
        columns=("episodios",), rows=rows, values=values, lines=[Line(members, TOTAL_KEY)],
    )


def person_roles(snapshot: pd.DataFrame, *,
                 source_roles: Mapping[str, str] = DEFAULT_SOURCE_ROLES) -> pd.Series:
    """Set of roles (``police``, ``prosecutor``, ``care``, ``other``) per person."""
    frame = _normal(snapshot)
    roles = frame["source"].map(lambda s: source_roles.get(s, "other"))
    return roles.groupby(frame["person_id"]).agg(frozenset)


def overlap_table(snapshot: pd.DataFrame, *,
                  source_roles: Mapping[str, str] = DEFAULT_SOURCE_ROLES) -> CountTable:
    """Persons by the combination of registries they appear in (exclusive rows)."""
    roles = person_roles(snapshot, source_roles=source_roles)
    names = {role: ", ".join(sorted(s.upper() for s, r in source_roles.items() if r == role))
             for role in _MAIN_ROLES}
    combos: list[tuple[str, ...]] = [("police",), ("prosecutor",), ("care",),
                                     ("police", "prosecutor"), ("police", "care"),
                                     ("prosecutor", "care"), ("police", "prosecutor", "care")]
    main = roles.map(lambda r: "+".join(x for x in _MAIN_ROLES if x in r)).astype(str)
    values: dict[VarKey, int] = {TOTAL_KEY: len(roles)}
    rows: list[Row] = []
    for combo in combos:
        parts = [f"{_ROLE_NAMES[r]} ({names[r]})" if names[r] else _ROLE_NAMES[r] for r in combo]
        label = ("Solo " if len(combo) == 1 else "") + (
            " y ".join(parts) if len(combo) < 3 else "Los tres registros")
        flags = tuple("Sí" if r in combo else "No" for r in _MAIN_ROLES)
        key = ("registros", ("+".join(combo),))
        values[key] = int((main == "+".join(combo)).sum())
        rows.append(((label[0].upper() + label[1:], *flags), key))
    others = int((main == "").sum())
    if others:
        values[("registros", ("otras",))] = others
        rows.append((("Solo otras fuentes", "No", "No", "No"), ("registros", ("otras",))))
    members = tuple(k for _, k in rows)
    rows.append(((TOTAL,) * 4, TOTAL_KEY))
    return CountTable(
        name="superposicion_registros",
        title="Superposición de registros: en qué registros aparece cada persona",
        description="Personas distintas según la combinación de registros donde aparecen.",
        columns=("registros", "en_policia", "en_fiscalia", "en_atencion"), rows=rows,
        values=values, lines=[Line(members, TOTAL_KEY)],
    )


def _person_care(frame: pd.DataFrame, source_roles: Mapping[str, str]) -> pd.DataFrame:
    """Per person: known (police/prosecutor), reached care, first year known, delay, sex."""
    role = frame["source"].map(lambda s: source_roles.get(s, "other")).to_numpy()
    starts = {d: (float(span[0].toordinal()) if span else np.nan)
              for d in set(frame["event_date"]) for span in [parse_partial_date(d)]}
    start = frame["event_date"].map(starts).to_numpy(float)
    official = np.isin(role, ("police", "prosecutor"))
    care = role == "care"
    data = pd.DataFrame({
        "person_id": frame["person_id"].to_numpy(),
        "official": official, "care": care,
        "any_start": start,
        "official_start": np.where(official, start, np.nan),
        "care_start": np.where(care, start, np.nan),
        "sex": frame["sex"].to_numpy(),
    })
    grouped = data.groupby("person_id", sort=True)
    people = grouped.agg(known=("official", "any"), care=("care", "any"),
                         first_any=("any_start", "min"), first_official=("official_start", "min"),
                         first_care=("care_start", "min"))
    known_sex = data[data["sex"] != ""].drop_duplicates(["person_id", "sex"])
    single = known_sex[~known_sex["person_id"].duplicated(keep=False)]
    sex_of = dict(zip(single["person_id"], single["sex"], strict=True))
    people["sex"] = [sex_of.get(p, "") for p in people.index]
    people["year"] = [str(date.fromordinal(int(v)).year) if not np.isnan(v) else ""
                      for v in people["first_official"]]
    people["delay"] = people["first_care"] - people["first_any"]
    return people.reset_index()[["person_id", "known", "care", "year", "delay", "sex"]]


def care_coverage_table(snapshot: pd.DataFrame, *,
                        source_roles: Mapping[str, str] = DEFAULT_SOURCE_ROLES) -> CountTable:
    """Persons known to police or prosecutors, by year of their first such record and by
    whether they reached a care service; margins; ``porcentaje_fila`` = share of the row."""
    people = _person_care(_normal(snapshot), source_roles)
    known = people[people["known"]]
    years = sorted(set(known["year"]), key=lambda y: (y == "", y))
    answers = {"si": "Sí", "no": "No"}
    total: VarKey = ("conocidas", ())
    values: dict[VarKey, int] = {total: len(known)}
    ratio_of: dict[VarKey, VarKey] = {}
    rows: list[Row] = []
    lines: list[Line] = []
    for year in years:
        in_year = known[known["year"] == year]
        members: list[VarKey] = []
        for answer, label in answers.items():
            key: VarKey = ("cobertura", (year, answer))
            values[key] = int((in_year["care"] == (answer == "si")).sum())
            ratio_of[key] = ("cobertura_anio", (year,))
            rows.append(((year or "Sin fecha", label), key))
            members.append(key)
        margin: VarKey = ("cobertura_anio", (year,))
        values[margin] = len(in_year)
        rows.append(((year or "Sin fecha", TOTAL), margin))
        lines.append(Line(tuple(members), margin))
    for answer, label in answers.items():
        margin = ("cobertura_atencion", (answer,))
        values[margin] = int((known["care"] == (answer == "si")).sum())
        ratio_of[margin] = total
        rows.append(((TOTAL, label), margin))
        lines.append(Line(tuple(("cobertura", (y, answer)) for y in years), margin))
    rows.append(((TOTAL, TOTAL), total))
    lines.append(Line(tuple(("cobertura_anio", (y,)) for y in years), total))
    lines.append(Line(tuple(("cobertura_atencion", (a,)) for a in answers), total))
    return CountTable(
        name="cobertura_atencion",
        title="Cobertura de atención: personas conocidas por policía o fiscalía que llegaron a "
              "un servicio de atención",
        description=("Población: personas con algún registro policial o fiscal. Año: del "
                     "primer registro policial o fiscal. porcentaje_fila: % de la fila."),
        columns=("anio_primer_registro", "llego_a_atencion"), rows=rows, values=values,
        lines=lines, ratio_column="porcentaje_fila", ratio_of=ratio_of,
    )


def care_delays(snapshot: pd.DataFrame, *,
                source_roles: Mapping[str, str] = DEFAULT_SOURCE_ROLES) -> pd.DataFrame:
    """Per person known to police/prosecutors who reached care: ``dias`` to first care and
    ``sexo`` (server-side only: record-level)."""
    people = _person_care(_normal(snapshot), source_roles)
    done = people[people["known"] & people["care"] & people["delay"].notna()]
    return pd.DataFrame({"person_id": done["person_id"], "dias": done["delay"].astype(int),
                         "sexo": done["sex"]}).reset_index(drop=True)


def care_delay_table(snapshot: pd.DataFrame, *,
                     source_roles: Mapping[str, str] = DEFAULT_SOURCE_ROLES) -> CountTable:
    """Days from first record to first care: persons (n), median and quartiles, by sex."""
    delays = care_delays(snapshot, source_roles=source_roles)
    total: VarKey = ("tiempo", ())
    values: dict[VarKey, int] = {total: len(delays)}
    extras: dict[VarKey, tuple[float | str | None, ...]] = {total: _quartiles(delays["dias"])}
    rows: list[Row] = []
    for sex in ("F", "M", ""):
        group = delays[delays["sexo"] == sex]
        if group.empty and sex == "":
            continue
        key: VarKey = ("tiempo_sexo", (sex,))
        values[key] = len(group)
        extras[key] = _quartiles(group["dias"])
        rows.append(((SEX_LABELS.get(sex, "Sin dato"),), key))
    members = tuple(k for _, k in rows)
    rows.append(((TOTAL,), total))
    return CountTable(
        name="tiempo_hasta_atencion",
        title="Tiempo desde el primer registro hasta la primera atención (días)",
        description=("Personas conocidas por policía o fiscalía que llegaron a atención y "
                     "tienen fechas: mediana y cuartiles de los días transcurridos."),
        columns=("sexo",), rows=rows, values=values, lines=[Line(members, total)],
        extra_columns=("mediana_dias", "cuartil_1_dias", "cuartil_3_dias"), extras=extras,
        notes=["Las medianas y cuartiles no llevan ruido de privacidad diferencial; se "
               "publican solo donde el número de personas se publica."],
    )


def _quartiles(days: pd.Series) -> tuple[float | str | None, ...]:
    if days.empty:
        return (None, None, None)
    q1, median, q3 = np.percentile(days.to_numpy(float), [25, 50, 75])
    return (round(float(median), 1), round(float(q1), 1), round(float(q3), 1))
