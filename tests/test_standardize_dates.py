"""Date rules: accepted forms, impossible dates, partial dates, ages and birth-year ranges."""

from __future__ import annotations

from datetime import date

import pytest

from client_sdk.records import PartialDate
from client_sdk.standardize.dates import (
    age_at,
    birth_year_range,
    check_birth_date,
    implausible_age,
    parse_age,
    parse_age_band,
    parse_date,
    parse_event_date,
)
from client_sdk.standardize.text import InvalidValue, Salvaged

TODAY = date(2024, 6, 30)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1998-07-12", PartialDate(1998, 7, 12)),
        ("12/07/1998", PartialDate(1998, 7, 12)),
        ("2/7/1998", PartialDate(1998, 7, 2)),
        ("12-07-1998", PartialDate(1998, 7, 12)),
        ("12.07.1998", PartialDate(1998, 7, 12)),
        ("1998/07/12", PartialDate(1998, 7, 12)),
        ("1998-07", PartialDate(1998, 7)),
        ("07/1998", PartialDate(1998, 7)),
        ("1998", PartialDate(1998)),
        ("1998-07-12 00:00:00", PartialDate(1998, 7, 12)),  # spreadsheet datetime cell
        ("1998-07-12T00:00:00", PartialDate(1998, 7, 12)),
        ("35988", PartialDate(1998, 7, 12)),  # Excel serial day number
        ("35988.0", PartialDate(1998, 7, 12)),
        ("", None),
        ("  ", None),
    ],
)
def test_parse_date(raw: str, expected: PartialDate | None) -> None:
    assert parse_date(raw) == expected


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("31/02/1990", "el día no existe"),
        ("1990-13-01", "mes"),
        ("25/13/1990", "mes"),
        ("29/02/2001", "el día no existe"),
        ("0000-01-01", "año"),
        ("12/07/98", "formato"),
        ("ayer", "formato"),
    ],
)
def test_impossible_or_unknown_dates_are_refused(raw: str, fragment: str) -> None:
    with pytest.raises(InvalidValue, match=fragment):
        parse_date(raw)


def test_leap_day_is_a_date() -> None:
    assert parse_date("29/02/2000") == PartialDate(2000, 2, 29)


def test_event_date_full_and_not_future() -> None:
    assert parse_event_date("04/03/2021", today=TODAY) == date(2021, 3, 4)
    assert parse_event_date("", today=TODAY) is None
    with pytest.raises(InvalidValue, match="futuro"):
        parse_event_date("2024-07-01", today=TODAY)
    with pytest.raises(InvalidValue, match="incompleta"):
        parse_event_date("2021-03", today=TODAY)
    with pytest.raises(InvalidValue, match="antigua"):
        parse_event_date("1900-01-01", today=TODAY)


@pytest.mark.parametrize(
    ("birth", "event", "fragment"),
    [
        (PartialDate(2025, 1, 1), None, "futuro"),
        (PartialDate(2024, 7), None, "futuro"),
        (PartialDate(2021, 3, 5), date(2021, 3, 4), "posterior"),
    ],
)
def test_check_birth_date_refuses(birth: PartialDate, event: date | None, fragment: str) -> None:
    with pytest.raises(InvalidValue, match=fragment):
        check_birth_date(birth, event=event, today=TODAY)


def test_check_birth_date_accepts() -> None:
    check_birth_date(PartialDate(2021, 3, 4), event=date(2021, 3, 4), today=TODAY)
    check_birth_date(PartialDate(2021), event=date(2021, 3, 4), today=TODAY)
    check_birth_date(PartialDate(1911, 3, 5), event=date(2021, 3, 4), today=TODAY)  # 109
    # long ago is not refused: peer registries hold such dates, kept for linkage as typed
    check_birth_date(PartialDate(1900, 1, 1), event=date(2021, 3, 4), today=TODAY)
    check_birth_date(PartialDate(1905), event=None, today=TODAY)
    assert implausible_age(age_at(PartialDate(1900, 1, 1), date(2021, 3, 4)))


@pytest.mark.parametrize(
    ("raw", "kept", "fragment"),
    [
        ("1905-13-45", PartialDate(1905), "mes fuera de 1–12; se conserva el año"),
        ("2001-02-30", PartialDate(2001), "no existe en ese mes; se conserva el año"),
        ("31/04/2001", PartialDate(2001), "no existe en ese mes"),
        ("2001-05-45", PartialDate(2001, 5), "se conservan año y mes"),
        ("00/05/2001", PartialDate(2001, 5), "se conservan año y mes"),
        ("13/2001", PartialDate(2001), "mes fuera"),
        ("nacida en 1987", PartialDate(1987), "formato no reconocido; se conserva el año"),
    ],
)
def test_impossible_dates_keep_what_can_be_trusted(raw: str, kept: PartialDate,
                                                  fragment: str) -> None:
    with pytest.raises(Salvaged, match=fragment) as caught:
        parse_date(raw)
    assert caught.value.value == kept


def test_all_zero_dates_are_no_date() -> None:
    assert parse_date("0000-00-00") is None and parse_date("00/00/0000") is None


def test_compact_dates() -> None:
    assert parse_date("19560409") == PartialDate(1956, 4, 9)
    with pytest.raises(Salvaged):
        parse_date("19561304")  # day and month swapped into month 13: the year is kept


def test_an_impossible_event_date_is_not_salvaged() -> None:
    with pytest.raises(InvalidValue, match="el día no existe") as caught:
        parse_event_date("2021-02-30", today=TODAY)
    assert not isinstance(caught.value, Salvaged)


@pytest.mark.parametrize(
    ("raw", "band"),
    [("17", (17, 17)), ("", None), ("15-17", (15, 17)), ("15 a 17 años", (15, 17)),
     ("entre 17 y 15", (15, 17)), ("menor de edad", (0, 17)), ("8 meses", (0, 0)),
     ("17 años y 3 meses", (17, 17)), ("17.5", (17, 17)), ("17,5", (17, 17))],
)
def test_parse_age_band(raw: str, band: tuple[int, int] | None) -> None:
    assert parse_age_band(raw) == band


@pytest.mark.parametrize("raw", ["111", "15-200", "veinte", "-3"])
def test_bad_age_bands_are_refused(raw: str) -> None:
    with pytest.raises(InvalidValue):
        parse_age_band(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("17", 17), ("0", 0), ("110", 110), ("17 años", 17), ("17 ANOS", 17), ("17.0", 17),
     ("", None)],
)
def test_parse_age(raw: str, expected: int | None) -> None:
    assert parse_age(raw) == expected


@pytest.mark.parametrize(("raw", "fragment"), [("111", "rango"), ("-3", "entero"),
                                               ("diecisiete", "entero"), ("17.5", "entero")])
def test_bad_ages_are_refused(raw: str, fragment: str) -> None:
    with pytest.raises(InvalidValue, match=fragment):
        parse_age(raw)


def test_age_at() -> None:
    assert age_at(PartialDate(2000, 7, 12), date(2018, 7, 12)) == 18
    assert age_at(PartialDate(2000, 7, 12), date(2018, 7, 11)) == 17
    assert age_at(PartialDate(2000, 7), date(2018, 7, 11)) is None


def test_birth_year_range() -> None:
    # age a at event year Y -> birth year in [Y - a - 1, Y - a]
    assert birth_year_range(birth=None, age=17, event_year=2020) == (2002, 2003)
    assert birth_year_range(birth=None, age=0, event_year=2020) == (2019, 2020)
    full = PartialDate(2001, 5, 1)
    assert birth_year_range(birth=full, age=None, event_year=None) == (2001, 2001)
    assert birth_year_range(birth=None, age=17, event_year=None) == (None, None)
    assert birth_year_range(birth=None, age=None, event_year=2020) == (None, None)
