"""Dimensions with their Spanish column names and labels (what an official reads).

>>> dimension("sexo").label("F")
('Mujer',)
>>> dimension("nacimiento@4").columns
('ubigeo_nacimiento', 'departamento_nacimiento', 'provincia_nacimiento')
>>> dimension("nacimiento@4").label("15")
('15', 'LIMA', 'Sin dato')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from linkage_service.stats.cells import UNKNOWN
from linkage_service.stats.snapshot import (
    Dimension,
    age_band_keys,
    age_group_keys,
    event_year_keys,
    place_keys,
)
from vinculo_common import ubigeo
from vinculo_common.errors import InputError

__all__ = [
    "FORM_LABELS",
    "LEVELS",
    "PLACES",
    "LabelledDimension",
    "dimension",
]

# place kind -> (snapshot column, describes the person?)
PLACES: dict[str, tuple[str, bool]] = {
    "nacimiento": ("ubigeo_birth", True),
    "residencia": ("ubigeo_residence", False),
    "explotacion": ("ubigeo_event", False),
}
LEVELS: dict[int, str] = {2: "departamento", 4: "provincia", 6: "distrito"}

SEX_LABELS = {"F": "Mujer", "M": "Hombre"}
FORM_LABELS = {
    "sexual": "Explotación sexual",
    "laboral": "Explotación laboral",
    "mendicidad": "Mendicidad",
    "venta_ninos": "Venta de niñas, niños y adolescentes",
    "organos": "Extracción de órganos",
    "otra": "Otra forma",
}
AGE_GROUP_LABELS = {"menor": "Menor de edad (0–17)", "adulto": "Persona adulta (18 y más)"}
AGE_BAND_LABELS = {"00-11": "0–11", "12-14": "12–14", "15-17": "15–17", "18-24": "18–24",
                   "25-34": "25–34", "35+": "35 y más"}
COUNTRY_NAMES = {
    "PER": "Perú", "VEN": "Venezuela", "COL": "Colombia", "ECU": "Ecuador", "BOL": "Bolivia",
    "CHL": "Chile", "ARG": "Argentina", "BRA": "Brasil", "PRY": "Paraguay", "URY": "Uruguay",
    "CHN": "China", "DOM": "República Dominicana", "HTI": "Haití", "CUB": "Cuba",
    "MEX": "México", "ESP": "España", "USA": "Estados Unidos",
}


@dataclass(frozen=True)
class LabelledDimension:
    """A :class:`Dimension` with the columns it fills and the labels of each key."""

    dimension: Dimension
    columns: tuple[str, ...]
    label: Callable[[str], tuple[str, ...]]
    title: str


def _mapped(names: dict[str, str]) -> Callable[[str], tuple[str, ...]]:
    def label(key: str) -> tuple[str, ...]:
        return (names.get(key, key) if key else UNKNOWN,)

    return label


def _country(key: str) -> tuple[str, ...]:
    if not key:
        return (UNKNOWN,)
    return (f"{COUNTRY_NAMES[key]} ({key})" if key in COUNTRY_NAMES else key,)


def _place_label(level: int) -> Callable[[str], tuple[str, ...]]:
    def label(key: str) -> tuple[str, ...]:
        names: list[str] = []
        for size in (2, 4, 6)[: (2, 4, 6).index(level) + 1]:
            if len(key) < size:
                names.append(UNKNOWN)
                continue
            unit = ubigeo.unit(key[:size])
            if unit is None:
                names.append(f"código desconocido {key[:size]}")
            else:
                names.append({2: unit.department, 4: unit.province, 6: unit.district}[size])
        return (key, *names)

    return label


def dimension(name: str) -> LabelledDimension:
    """The dimension called ``name``: ``sexo``, ``anio``, ``grupo_edad``,
    ``grupo_edad_detalle``, ``nacionalidad``, ``forma_explotacion``, or a place
    ``<nacimiento|residencia|explotacion>@<2|4|6>``.
    """
    if "@" in name:
        kind, _, level_text = name.partition("@")
        if kind not in PLACES or level_text not in ("2", "4", "6"):
            raise InputError(f"dimensión desconocida: {name}")
        level = int(level_text)
        column, person_level = PLACES[kind]
        columns = (f"ubigeo_{kind}",
                   *(f"{LEVELS[size]}_{kind}" for size in (2, 4, 6) if size <= level))
        titles = {"nacimiento": "lugar de nacimiento", "residencia": "lugar de residencia",
                  "explotacion": "lugar de explotación"}
        return LabelledDimension(
            Dimension(kind, place_keys(column, level), person_level=person_level,
                      hierarchical=True, level=level),
            columns, _place_label(level), f"{titles[kind]} ({LEVELS[level]})",
        )
    simple: dict[str, LabelledDimension] = {
        "sexo": LabelledDimension(
            Dimension("sexo", lambda f: f["sex"], person_level=True), ("sexo",),
            _mapped(SEX_LABELS), "sexo"),
        "anio": LabelledDimension(
            Dimension("anio", event_year_keys), ("anio",), _mapped({}), "año del hecho"),
        "grupo_edad": LabelledDimension(
            Dimension("grupo_edad", age_group_keys), ("grupo_edad",), _mapped(AGE_GROUP_LABELS),
            "grupo de edad al momento del hecho"),
        "grupo_edad_detalle": LabelledDimension(
            Dimension("grupo_edad_detalle", age_band_keys), ("grupo_edad_detalle",),
            _mapped(AGE_BAND_LABELS), "grupo de edad detallado al momento del hecho"),
        "nacionalidad": LabelledDimension(
            Dimension("nacionalidad", lambda f: f["nationality"], person_level=True),
            ("nacionalidad",), _country, "nacionalidad"),
        "forma_explotacion": LabelledDimension(
            Dimension("forma_explotacion", lambda f: f["exploitation"]),
            ("forma_explotacion",), _mapped(FORM_LABELS), "forma de explotación"),
    }
    if name not in simple:
        raise InputError(f"dimensión desconocida: {name}")
    return simple[name]
