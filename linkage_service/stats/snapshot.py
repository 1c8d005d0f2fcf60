"""The bank snapshot every statistic reads, and the keys each dimension takes from it.

A **snapshot** is a pandas DataFrame with one row per current (not withdrawn) record of an
active person of the bank, and these columns:

| column | type | content |
|---|---|---|
| ``person_id`` | str | the person's pseudonym |
| ``source`` | str | source name (``reta``, ``sistra``, ``care`` …) |
| ``sex`` | str | ``"F"``, ``"M"`` or ``""`` |
| ``birth_year_min``, ``birth_year_max`` | nullable int | range of the birth year |
| ``age_at_event`` | nullable int | age in completed years at the event |
| ``nationality`` | str | ISO 3166-1 alpha-3 or ``""`` |
| ``ubigeo_birth``, ``_residence``, ``_event`` | str | INEI code, 2/4/6 digits, or ``""`` |
| ``event_date`` | str | ``YYYY-MM-DD``, ``YYYY-MM`` or ``""`` |
| ``exploitation`` | list[str] | forms of exploitation (``sexual``, ``laboral`` …), maybe empty |

Which source is the police, the prosecutor or a care service comes from a role mapping
(:data:`DEFAULT_SOURCE_ROLES`), so a new care service is one more entry, not new code.

Every dimension turns a record into a **key**: ``""`` means unknown (published as
``Sin dato``); place keys are INEI codes cut to the level asked (a record that only names the
department keeps its 2-digit code at province level: "province unknown").

>>> frame = normalize_snapshot(pd.DataFrame({"person_id": ["P-1"], "source": ["reta"]}))
>>> frame.loc[0, "sex"], frame.loc[0, "exploitation"]
('', [])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from vinculo_common.batch import ATTRIBUTE_FIELDS
from vinculo_common.errors import InputError

__all__ = [
    "AGE_BANDS",
    "AGE_GROUPS",
    "DEFAULT_SOURCE_ROLES",
    "SNAPSHOT_COLUMNS",
    "Dimension",
    "age_band_keys",
    "age_group_keys",
    "event_year_keys",
    "normalize_snapshot",
    "parse_partial_date",
    "place_keys",
]

# One row per current record: its person, its source and the batch format's content attributes.
SNAPSHOT_COLUMNS: tuple[str, ...] = ("person_id", "source", *ATTRIBUTE_FIELDS)
_TEXT = ("person_id", "source", "sex", "nationality", "ubigeo_birth", "ubigeo_residence",
         "ubigeo_event", "event_date")
_INTS = ("birth_year_min", "birth_year_max", "age_at_event")

DEFAULT_SOURCE_ROLES: Mapping[str, str] = {"reta": "police", "sistra": "prosecutor",
                                           "care": "care"}

# (key, lowest age, highest age); keys sort in age order.
AGE_GROUPS: tuple[tuple[str, int, int], ...] = (("menor", 0, 17), ("adulto", 18, 200))
AGE_BANDS: tuple[tuple[str, int, int], ...] = (
    ("00-11", 0, 11),
    ("12-14", 12, 14),
    ("15-17", 15, 17),
    ("18-24", 18, 24),
    ("25-34", 25, 34),
    ("35+", 35, 200),
)


@dataclass(frozen=True)
class Dimension:
    """One way of cutting persons: a name, how a record yields its key(s), and its nature.

    ``person_level`` dimensions (sex, place of birth, nationality) describe the person: the
    person's keys are gathered over all her records first. Record-level ones (year, place of
    exploitation, age at the event) describe an event. ``hierarchical`` keys are UBIGEO codes,
    where ``"15"`` is a coarser statement than ``"1501"``.

    >>> Dimension("sexo", lambda f: f["sex"], person_level=True).spec
    'sexo'
    """

    name: str
    extract: Callable[[pd.DataFrame], pd.Series]
    person_level: bool = False
    hierarchical: bool = False
    level: int = 0

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.level}" if self.level else self.name


def normalize_snapshot(snapshot: pd.DataFrame) -> pd.DataFrame:
    """A clean copy: every contract column present, text as str (``""`` for unknown), the
    three year/age columns as nullable ``Int64`` and ``exploitation`` as a list of str.

    Raises InputError when ``person_id`` or ``source`` is missing or empty.

    >>> normalize_snapshot(pd.DataFrame({"person_id": ["P-1"], "source": ["care"],
    ...     "exploitation": ["laboral;sexual"]})).loc[0, "exploitation"]
    ['laboral', 'sexual']
    """
    for needed in ("person_id", "source"):
        if needed not in snapshot.columns:
            raise InputError(f"la instantánea del banco no tiene la columna {needed}")
    frame = pd.DataFrame(index=range(len(snapshot)))
    for column in _TEXT:
        values = snapshot[column] if column in snapshot.columns else pd.Series([""] * len(frame))
        frame[column] = pd.Series([
            "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
            for value in values
        ], index=frame.index, dtype=object).astype(str)
    for column in _INTS:
        values = snapshot[column] if column in snapshot.columns else pd.Series([None] * len(frame))
        numbers = pd.to_numeric(pd.Series(list(values)), errors="coerce").round()
        frame[column] = numbers.astype("Int64")
    raw = snapshot["exploitation"] if "exploitation" in snapshot.columns else [None] * len(frame)
    frame["exploitation"] = pd.Series([_forms(value) for value in raw], index=frame.index,
                                      dtype=object)
    if (frame["person_id"] == "").any() or (frame["source"] == "").any():
        raise InputError("la instantánea del banco tiene filas sin person_id o sin source")
    frame["sex"] = frame["sex"].str.upper()
    frame["nationality"] = frame["nationality"].str.upper()
    frame.attrs["vinculo_normalized"] = True
    return frame


def _forms(value: object) -> list[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, str):
        items: list[object] = list(value.split(";"))
    elif isinstance(value, list | tuple | set | frozenset | np.ndarray):
        items = list(value)
    else:
        raise InputError("exploitation debe ser una lista o un texto separado por ';'")
    return sorted({str(item).strip() for item in items if str(item).strip()})


def place_keys(column: str, level: int) -> Callable[[pd.DataFrame], pd.Series]:
    """Extractor of a UBIGEO column cut to ``level`` digits (2, 4 or 6).

    >>> list(place_keys("ubigeo_birth", 4)(pd.DataFrame({"ubigeo_birth": ["150101", "15", ""]})))
    ['1501', '15', '']
    """
    if level not in (2, 4, 6):
        raise InputError(f"nivel de UBIGEO inválido: {level} (válidos: 2, 4, 6)")

    def extract(frame: pd.DataFrame) -> pd.Series:
        return frame[column].str.slice(0, level)

    return extract


def event_year_keys(frame: pd.DataFrame) -> pd.Series:
    """Year of the event (``""`` when the date is unknown).

    >>> list(event_year_keys(pd.DataFrame({"event_date": ["2021-03-04", ""]})))
    ['2021', '']
    """
    return frame["event_date"].str.slice(0, 4)


def parse_partial_date(text: str) -> tuple[date, date] | None:
    """First and last day a ``YYYY-MM-DD`` or ``YYYY-MM`` date can mean; None if empty/bad.

    >>> parse_partial_date("2020-02")
    (datetime.date(2020, 2, 1), datetime.date(2020, 2, 29))
    """
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return day, day
        if len(text) == 7:
            start = date(int(text[:4]), int(text[5:7]), 1)
            nxt = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
            return start, date.fromordinal(nxt.toordinal() - 1)
    except ValueError:
        return None
    return None


def _age_range(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest possible age at the event per record (NaN when unknown)."""
    known = frame["age_at_event"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    year = pd.to_numeric(frame["event_date"].str.slice(0, 4), errors="coerce").to_numpy(float)
    born_min = frame["birth_year_min"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    born_max = frame["birth_year_max"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    # Born in year b, the event in year e: the age is e - b - 1 or e - b.
    low = np.where(np.isnan(known), year - born_max - 1, known)
    high = np.where(np.isnan(known), year - born_min, known)
    return np.maximum(low, 0), high


def _banded(frame: pd.DataFrame, bands: tuple[tuple[str, int, int], ...]) -> pd.Series:
    low, high = _age_range(frame)
    keys = []
    for lo, hi in zip(low, high, strict=True):
        key = ""
        if not (np.isnan(lo) or np.isnan(hi)):
            for name, first, last in bands:
                if first <= lo and hi <= last:
                    key = name
        keys.append(key)
    return pd.Series(keys, index=frame.index)


def age_group_keys(frame: pd.DataFrame) -> pd.Series:
    """``menor`` (0–17) or ``adulto`` (18+) at the event; ``""`` when the age is unknown or
    the birth year leaves both possible.

    >>> list(age_group_keys(pd.DataFrame({"age_at_event": pd.array([15, None, None], "Int64"),
    ...     "event_date": ["2020-01-01", "2020-05", "2020-05"],
    ...     "birth_year_min": pd.array([None, 1990, 2002], "Int64"),
    ...     "birth_year_max": pd.array([None, 1990, 2002], "Int64")})))
    ['menor', 'adulto', '']
    """
    return _banded(frame, AGE_GROUPS)


def age_band_keys(frame: pd.DataFrame) -> pd.Series:
    """Finer age band at the event (0–11, 12–14, 15–17, 18–24, 25–34, 35+), as age_group_keys.

    >>> list(age_band_keys(pd.DataFrame({"age_at_event": pd.array([13], "Int64"),
    ...     "event_date": [""], "birth_year_min": pd.array([None], "Int64"),
    ...     "birth_year_max": pd.array([None], "Int64")})))
    ['12-14']
    """
    return _banded(frame, AGE_BANDS)
