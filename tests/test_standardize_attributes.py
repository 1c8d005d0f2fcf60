"""Content-attribute rules: sex, nationality, forms of exploitation, event-date coarsening."""

from __future__ import annotations

from datetime import date

import pytest

from client_sdk.standardize.attributes import (
    coarsen_event_date,
    normalize_exploitation,
    normalize_nationality,
    normalize_sex,
)
from client_sdk.standardize.text import InvalidValue


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("F", "F"), ("f", "F"), ("Femenino", "F"), ("MUJER", "F"), ("M", "M"), ("Masculino", "M"),
     ("HOMBRE", "M"), ("Varón", "M"), ("", ""), ("No especifica", "")],
)
def test_normalize_sex(raw: str, expected: str) -> None:
    assert normalize_sex(raw) == expected


def test_sex_source_codes() -> None:
    assert normalize_sex("1", codes={"1": "M", "2": "F"}) == "M"
    with pytest.raises(InvalidValue, match="sexo"):
        normalize_sex("1")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("PER", "PER"), ("per", "PER"), ("Perú", "PER"), ("PERUANA", "PER"), ("peruano", "PER"),
     ("VENEZUELA", "VEN"), ("venezolana", "VEN"), ("Colombia", "COL"), ("ECUATORIANA", "ECU"),
     ("BOLIVIA", "BOL"), ("Chile", "CHL"), ("ARGENTINA", "ARG"), ("Brasil", "BRA"),
     ("brasileña", "BRA"), ("China", "CHN"), ("REPÚBLICA DOMINICANA", "DOM"), ("HTI", "HTI"),
     ("ZWE", "ZWE"), ("", ""), ("NO REGISTRA", "")],
)
def test_normalize_nationality(raw: str, expected: str) -> None:
    assert normalize_nationality(raw) == expected


@pytest.mark.parametrize("raw", ["MARCIANA", "XYZ", "PE", "NO"])
def test_unknown_nationality_is_refused(raw: str) -> None:
    with pytest.raises(InvalidValue, match="nacionalidad"):
        normalize_nationality(raw)


def test_nationality_source_codes() -> None:
    assert normalize_nationality("9589", codes={"9589": "PER"}) == "PER"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sexual", ("sexual",)),
        ("Explotación sexual", ("sexual",)),
        ("TRABAJO FORZOSO", ("laboral",)),
        ("mendicidad;sexual", ("sexual", "mendicidad")),
        ("SEXUAL, LABORAL", ("sexual", "laboral")),
        ("sexual;sexual", ("sexual",)),
        ("venta_ninos", ("venta_ninos",)),
        ("Venta de niños", ("venta_ninos",)),
        ("Tráfico de órganos", ("organos",)),
        ("OTROS", ("otra",)),
        ("TRABAJOS O SERVICIOS FORZADOS", ("laboral",)),
        ("", ()),
    ],
)
def test_normalize_exploitation(raw: str, expected: tuple[str, ...]) -> None:
    assert normalize_exploitation(raw) == expected


def test_unknown_exploitation_is_refused() -> None:
    with pytest.raises(InvalidValue, match="explotación"):
        normalize_exploitation("sexual;pesca")


def test_exploitation_source_codes_may_map_to_unknown() -> None:
    codes = {"01": "sexual", "NO DETERMINADA": ""}
    assert normalize_exploitation("01", codes=codes) == ("sexual",)
    assert normalize_exploitation("No determinada", codes=codes) == ()


def test_coarsen_event_date() -> None:
    event = date(2021, 3, 4)
    assert coarsen_event_date(event, level="day") == "2021-03-04"
    assert coarsen_event_date(event, level="month") == "2021-03"
    assert coarsen_event_date(event, level="year") == "2021"
    assert coarsen_event_date(None, level="month") == ""
