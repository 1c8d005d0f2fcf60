"""From true identities to what three registries wrote down: which records exist (sources,
episodes, duplicate entries), and the quirks each record picks up on the way.

Quirk decisions are drawn up front with numpy (one uniform per record and quirk, compared with
its rate); a record's quirk happens when it is applicable and its draw falls under the rate.
The choices inside a quirk (which letter, which digit) use a ``random.Random`` seeded from the
same numpy generator, so one seed decides everything.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from vinculo_lab.synth.config import QuirkRates
from vinculo_lab.synth.lexicon import Lexicon, Places
from vinculo_lab.synth.people import LAST_DAY, Person, dni_check_characters
from vinculo_lab.synth.textquirks import (
    ENYE_MANGLED,
    OCR_DIGITS,
    OCR_NAMES,
    fold_accents,
    has_accent,
    keyboard_typo,
    ocr_confusion,
    particle_variant,
    spelling_options,
    with_particle,
)

__all__ = ["CANONICAL_COLUMNS", "SOURCES", "STYLES", "PlannedRecord", "RenderedRecord",
           "SourceStyle",
           "plan_records", "render_records"]

SOURCES = ("reta", "sistra", "care")
_LETTER = {"R": "reta", "S": "sistra", "C": "care"}
CANONICAL_COLUMNS = (
    "record_id", "nombres", "apellido_paterno", "apellido_materno", "sexo", "fecha_nacimiento",
    "edad", "tipo_documento", "numero_documento", "nacionalidad", "ubigeo_nacimiento",
    "ubigeo_residencia", "fecha_hecho", "ubigeo_hecho", "forma_explotacion",
)
_COUNTRY = {"PER": ("PERU", "PERÚ", "Perú"), "VEN": ("VENEZUELA", "Venezuela"),
            "COL": ("COLOMBIA",), "ECU": ("ECUADOR",), "BOL": ("BOLIVIA",), "EXT": ("EXT",)}
_DOC_TYPES = ("DNI", "CE", "PASAPORTE", "PTP", "CPP", "OTRO")


@dataclass(frozen=True, slots=True)
class SourceStyle:
    """How one registry writes things that are not errors (code lists, date formats)."""

    sex_words: tuple[tuple[str, str, float], ...]  # (female, male, weight)
    dmy_dates: float  # share of dates written DD/MM/YYYY (else YYYY-MM-DD)
    age_with_birth_date: float  # share of records with a birth date that also give the age
    nationality_as_name: float  # share written as a country name instead of ISO alpha-3
    event_delay_days: int  # this registry's date lags the episode by up to this many days
    exploitation_reread: float  # share recording the form of exploitation differently


STYLES: dict[str, SourceStyle] = {
    "reta": SourceStyle((("F", "M", 0.7), ("FEMENINO", "MASCULINO", 0.3)), 0.7, 0.6, 0.3, 0,
                        0.05),
    "sistra": SourceStyle((("FEMENINO", "MASCULINO", 0.8), ("F", "M", 0.2)), 0.2, 0.4, 0.5, 120,
                          0.12),
    "care": SourceStyle((("MUJER", "HOMBRE", 0.6), ("F", "M", 0.3), ("femenino", "masculino",
                         0.1)), 0.6, 0.85, 0.6, 60, 0.08),
}

# Quirks decided by one independent draw each (the exclusive groups are drawn separately).
_EXCLUSIVE = {"enye_as_n", "enye_as_ni", "enye_mangled", "birth_date_age_only",
              "birth_date_and_age_missing", "birth_date_year_only", "birth_date_year_month"}
# Quirks added after the others: drawn after them, and only when their rate is not zero, so
# the data of every earlier profile and seed stay the same.
LATE_QUIRKS = ("date_impossible",)
BIT_QUIRKS = tuple(n for n in QuirkRates().as_dict() if n not in _EXCLUSIVE
                   and n not in LATE_QUIRKS)
_BIT = {name: 1 << i for i, name in enumerate(BIT_QUIRKS)}
_DOB_KINDS = ("birth_date_age_only", "birth_date_and_age_missing", "birth_date_year_only",
              "birth_date_year_month", "")
_ENYE_KINDS = ("enye_as_n", "enye_as_ni", "enye_mangled", "")


@dataclass(frozen=True, slots=True)
class PlannedRecord:
    person: Person
    source: str
    episode: int
    duplicate: bool


@dataclass(slots=True)
class RenderedRecord:
    """One registry row (canonical columns but record_id) with its person and quirks."""

    source: str
    person_index: int
    values: list[str]  # CANONICAL_COLUMNS[1:], in order
    quirks: list[str]
    event_year: int


def plan_records(people: list[Person], *, later_episode_source: float, duplicate_entry: float,
                 pyr: random.Random) -> list[PlannedRecord]:
    """Which records exist: every registry of a person's pattern records the first episode;
    later episodes (re-victimisation) reach each of them with some probability; any record may
    be entered twice (duplicate entry)."""
    plan: list[PlannedRecord] = []
    for person in people:
        letters = person.sources
        for ei in range(len(person.episodes)):
            if ei == 0:
                chosen = letters
            else:
                chosen = "".join(c for c in letters if pyr.random() < later_episode_source)
                chosen = chosen or pyr.choice(letters)
            for letter in chosen:
                source = _LETTER[letter]
                plan.append(PlannedRecord(person, source, ei, False))
                if pyr.random() < duplicate_entry:
                    plan.append(PlannedRecord(person, source, ei, True))
    return plan


def _fmt_date(d: date, dmy: bool) -> str:
    return f"{d.day:02d}/{d.month:02d}/{d.year:04d}" if dmy else d.isoformat()


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _digit_typo(text: str, rnd: random.Random) -> str:
    positions = [i for i, ch in enumerate(text) if ch.isdigit()]
    if not positions:
        return text
    i = rnd.choice(positions)
    return text[:i] + rnd.choice([d for d in "0123456789" if d != text[i]]) + text[i + 1:]


def _date_typo(d: date, rnd: random.Random, latest: date) -> date | None:
    s = f"{d.year:04d}{d.month:02d}{d.day:02d}"
    for _ in range(8):
        i = rnd.choice((2, 3, 3, 3, 4, 5, 5, 6, 7, 7))  # mostly the last year digit and the day
        t = s[:i] + rnd.choice([c for c in "0123456789" if c != s[i]]) + s[i + 1:]
        try:
            out = date(int(t[:4]), int(t[4:6]), int(t[6:]))
        except ValueError:
            continue
        if date(1920, 1, 1) <= out <= latest:
            return out
    return None


def _impossible_date(d: date, dmy: bool, rnd: random.Random) -> str:
    """``d`` with its month or day mistyped into one no calendar has (month 00 or 13-19, day
    00, 32-39 or past the month's end), written as the registry writes dates."""
    year, month, day = f"{d.year:04d}", f"{d.month:02d}", f"{d.day:02d}"
    if rnd.random() < 0.4:
        month = rnd.choice(("00", "13", "14", "15", "16", "17", "18", "19"))
        if month[0] == "1" and d.month >= 10:  # keep it one slip: 1x stays 1x
            month = "1" + rnd.choice("3456789")
    else:
        last = 31 if d.month in (1, 3, 5, 7, 8, 10, 12) else 30 if d.month != 2 else 29
        day = rnd.choice(["00", *(f"{k}" for k in range(last + 1, 40))])
    return f"{day}/{month}/{year}" if dmy else f"{year}-{month}-{day}"


def _format_noise(number: str, doc_type: str, nationality: str, rnd: random.Random) -> str:
    if doc_type == "OTRO" and nationality == "VEN" and rnd.random() < 0.5:
        return "V-" + f"{int(number):,}".replace(",", ".") if number.isdigit() else number
    style = rnd.random()
    if style < 0.4:
        return " ".join(number[i:i + 3] for i in range(0, len(number), 3))
    if style < 0.7:
        return number[:2] + "-" + number[2:]
    return f" {number} "


class _Renderer:
    def __init__(self, rates: QuirkRates, lex: Lexicon, geo: Places, pyr: random.Random) -> None:
        self.rates, self.lex, self.geo, self.rnd = rates, lex, geo, pyr
        self.stats: dict[str, list[int]] = {name: [0, 0] for name in rates.as_dict()}

    def _seen(self, name: str, applied: bool, quirks: list[str]) -> bool:
        entry = self.stats[name]
        entry[0] += 1
        if applied:
            entry[1] += 1
            quirks.append(name)
        return applied

    def names(self, p: Person, mask: int, enye: int, q: list[str]) -> tuple[str, str, str]:
        rnd, seen = self.rnd, self._seen
        given = list(p.given)
        nicks = self.lex.nicknames.get(fold_accents(given[0]))
        if nicks and seen("nickname", bool(mask & _BIT["nickname"]), q):
            given[0] = rnd.choice(nicks)
        if len(given) >= 2:
            if seen("second_given_dropped", bool(mask & _BIT["second_given_dropped"]), q):
                given = given[:1]
            elif seen("second_given_initial", bool(mask & _BIT["second_given_initial"]), q):
                given = [given[0], given[1][0] + "."]
            elif seen("given_names_reordered", bool(mask & _BIT["given_names_reordered"]), q):
                given = [*given[1:], given[0]]
        pat, mat = p.paternal, p.maternal
        if pat and mat and seen("surnames_swapped", bool(mask & _BIT["surnames_swapped"]), q):
            pat, mat = mat, pat
        if p.married and seen("married_name", bool(mask & _BIT["married_name"]), q):
            mat = f"{mat} DE {p.married}".strip()
        fields = [" ".join(given), pat, mat]
        rules = self.lex.spelling_rules
        tokens = [(fi, w) for fi, f in enumerate(fields) for w in f.split(" ")
                  if w not in ("DE", "DEL", "LA", "LOS", "LAS") and spelling_options(w, rules)]
        if tokens and seen("spelling_variant", bool(mask & _BIT["spelling_variant"]), q):
            fi, w = rnd.choice(tokens)
            words = fields[fi].split(" ")
            words[words.index(w)] = rnd.choice(spelling_options(w, rules))
            fields[fi] = " ".join(words)
        if mask & _BIT["name_typo"]:
            for _ in range(2 if rnd.random() < 0.15 else 1):
                fi = rnd.choices((0, 1, 2), weights=[len(f) for f in fields])[0]
                fields[fi] = keyboard_typo(fields[fi], rnd)
        self._seen("name_typo", bool(mask & _BIT["name_typo"]), q)
        if fields[2] and seen("maternal_missing", bool(mask & _BIT["maternal_missing"]), q):
            fields[2] = ""
        particled = [i for i in (1, 2) if with_particle(fields[i])]
        if particled and seen("particle_spacing", bool(mask & _BIT["particle_spacing"]), q):
            i = rnd.choice(particled)
            fields[i] = particle_variant(fields[i], rnd)
        if any(has_accent(f) for f in fields) and seen(
                "accents_dropped", bool(mask & _BIT["accents_dropped"]), q):
            fields = [fold_accents(f) for f in fields]
        if any("Ñ" in f for f in fields):
            kind = _ENYE_KINDS[enye]
            for name in _ENYE_KINDS[:3]:
                seen(name, name == kind, q)
            if kind:
                repl = {"enye_as_n": "N", "enye_as_ni": "NI"}.get(kind) or rnd.choice(ENYE_MANGLED)
                fields = [f.replace("Ñ", repl) for f in fields]
        if seen("ocr_error_name", bool(mask & _BIT["ocr_error_name"]), q):
            fi = rnd.choice([i for i, f in enumerate(fields) if f] or [0])
            fields[fi] = ocr_confusion(fields[fi], rnd, table=OCR_NAMES)
        nombres, pat, mat = fields
        if seen("whole_name_in_nombres", bool(mask & _BIT["whole_name_in_nombres"]), q):
            surnames = " ".join(s for s in (pat, mat) if s)
            u = rnd.random()
            nombres = (f"{nombres} {surnames}" if u < 0.5 else f"{surnames} {nombres}"
                       if u < 0.75 else f"{surnames}, {nombres}")
            pat = mat = ""
        if seen("case_variation", bool(mask & _BIT["case_variation"]), q):
            change = str.title if rnd.random() < 0.7 else str.lower
            nombres, pat, mat = change(nombres), change(pat), change(mat)
        if seen("extra_whitespace", bool(mask & _BIT["extra_whitespace"]), q):
            if rnd.random() < 0.5:
                nombres = nombres.replace(" ", "  ", 1) if " " in nombres else nombres + " "
            else:
                pat = f" {pat} "
        return nombres, pat, mat

    def birth(self, p: Person, on: date, style: SourceStyle, mask: int, dob: int,
              q: list[str], late: int = 0) -> tuple[str, str]:
        rnd, seen = self.rnd, self._seen
        kind = _DOB_KINDS[dob]
        for name in _DOB_KINDS[:4]:
            seen(name, name == kind, q)
        age = max(_age(p.birth, on), 0)
        b = p.birth
        if kind == "birth_date_age_only":
            if seen("age_misstated", bool(mask & _BIT["age_misstated"]), q):
                age = max(0, age + rnd.choice((1, 1, 2, 3, -1, -2)))
            return "", str(age)
        if kind == "birth_date_and_age_missing":
            return "", ""
        with_age = str(age) if rnd.random() < style.age_with_birth_date else ""
        if kind == "birth_date_year_only":
            return f"{b.year:04d}", with_age
        if kind == "birth_date_year_month":
            return f"{b.year:04d}-{b.month:02d}", with_age
        if b.day <= 12 and b.day != b.month and seen(
                "day_month_swapped", bool(mask & _BIT["day_month_swapped"]), q):
            b = date(b.year, b.day, b.month)
        if mask & _BIT["date_digit_typo"]:
            typo = _date_typo(b, rnd, on)
            if typo is not None:
                b = typo
            seen("date_digit_typo", typo is not None, q)
        else:
            seen("date_digit_typo", False, q)
        dmy = rnd.random() < style.dmy_dates
        if self.rates.date_impossible and seen("date_impossible", bool(late & 1), q):
            return _impossible_date(b, dmy, rnd), with_age
        return _fmt_date(b, dmy), with_age

    def document(self, p: Person, mask: int, q: list[str]) -> tuple[str, str]:
        rnd, seen = self.rnd, self._seen
        docs = p.documents
        if not docs or seen("document_missing", bool(mask & _BIT["document_missing"]), q):
            return "", ""
        doc = docs[0]
        if len(docs) > 1 and seen("foreign_other_document",
                                  bool(mask & _BIT["foreign_other_document"]), q):
            doc = rnd.choice(docs[1:])
        kind, number = doc
        if kind == "DNI":
            if number.startswith("0") and seen(
                    "dni_lost_leading_zero", bool(mask & _BIT["dni_lost_leading_zero"]), q):
                number = number.lstrip("0") or "0"
            pairs = [i for i in range(len(number) - 1) if number[i] != number[i + 1]]
            if pairs and seen("dni_transposed", bool(mask & _BIT["dni_transposed"]), q):
                i = rnd.choice(pairs)
                number = number[:i] + number[i + 1] + number[i] + number[i + 2:]
        if seen("document_digit_typo", bool(mask & _BIT["document_digit_typo"]), q):
            number = _digit_typo(number, rnd)
        if kind == "DNI" and seen("dni_check_character",
                                  bool(mask & _BIT["dni_check_character"]), q):
            # The check character of the true number: a clerk copies it from the card.
            check = rnd.choice(dni_check_characters(doc[1]))
            number = number + ("-" if rnd.random() < 0.5 else "") + check
        if seen("ocr_error_document", bool(mask & _BIT["ocr_error_document"]), q):
            number = ocr_confusion(number, rnd, table=OCR_DIGITS)
        if seen("document_format_noise", bool(mask & _BIT["document_format_noise"]), q):
            number = _format_noise(number, kind, p.nationality, rnd)
        if seen("document_type_missing", bool(mask & _BIT["document_type_missing"]), q):
            kind = ""
        elif seen("document_type_wrong", bool(mask & _BIT["document_type_wrong"]), q):
            kind = rnd.choice([t for t in _DOC_TYPES if t != kind])
        return kind, number

    def record(self, planned: PlannedRecord, mask: int, enye: int, dob: int,
               late: int = 0) -> RenderedRecord:
        rnd, seen = self.rnd, self._seen
        p, source = planned.person, planned.source
        style = STYLES[source]
        q: list[str] = []
        ep = p.episodes[planned.episode]
        delay = rnd.randint(0, style.event_delay_days) if style.event_delay_days else 0
        if planned.duplicate and rnd.random() < 0.6:
            delay += rnd.randint(1, 30)
        on = min(ep.day + timedelta(days=delay), LAST_DAY)
        nombres, pat, mat = self.names(p, mask, enye, q)
        fnac, edad = self.birth(p, on, style, mask, dob, q, late)
        tdoc, ndoc = self.document(p, mask, q)
        sex = p.sex
        if seen("sex_missing", bool(mask & _BIT["sex_missing"]), q):
            sex = ""
        elif seen("sex_wrong", bool(mask & _BIT["sex_wrong"]), q):
            sex = "M" if sex == "F" else "F"
        if sex:
            u, acc = rnd.random() * sum(w for _, _, w in style.sex_words), 0.0
            for f_word, m_word, w in style.sex_words:
                acc += w
                if u < acc:
                    sex = f_word if sex == "F" else m_word
                    break
        nat = p.nationality
        if seen("nationality_missing", bool(mask & _BIT["nationality_missing"]), q):
            nat = ""
        elif rnd.random() < style.nationality_as_name:
            nat = rnd.choice(_COUNTRY[nat])
        ub_birth = p.birth_place
        if ub_birth and seen("ubigeo_birth_missing", bool(mask & _BIT["ubigeo_birth_missing"]), q):
            ub_birth = ""
        reniec = self.geo.reniec.get(ub_birth) if ub_birth else None
        if reniec and seen("ubigeo_reniec_code", bool(mask & _BIT["ubigeo_reniec_code"]), q):
            ub_birth = reniec
        ubigeos = [ub_birth, ep.residence, ep.place]
        if seen("ubigeo_coarsened", bool(mask & _BIT["ubigeo_coarsened"]), q):
            options = [i for i in (0, 1, 2) if len(ubigeos[i]) == 6
                       and not (i == 0 and reniec and ubigeos[0] == reniec)]
            if options:
                i = rnd.choice(options)
                ubigeos[i] = ubigeos[i][:rnd.choice((2, 4))]
        forms = ep.forms
        if rnd.random() < style.exploitation_reread:
            forms = rnd.choice(("", "sexual;laboral", "otra", forms.split(";")[0]))
        values = [nombres, pat, mat, sex, fnac, edad, tdoc, ndoc, nat, ubigeos[0], ubigeos[1],
                  _fmt_date(on, rnd.random() < style.dmy_dates), ubigeos[2], forms]
        if planned.duplicate:
            q.append("duplicate_entry")
        if planned.episode > 0:
            q.append("revictimisation")
        return RenderedRecord(source, p.index, values, q, on.year)


def render_records(plan: list[PlannedRecord], *, rates: QuirkRates, lex: Lexicon, geo: Places,
                   rng: np.random.Generator, pyr: random.Random,
                   ) -> tuple[list[RenderedRecord], dict[str, list[int]]]:
    """Render every planned record with its quirks; returns the records and, per quirk,
    ``[applicable, applied]`` counts."""
    n = len(plan)
    rate_vec = np.array([getattr(rates, name) for name in BIT_QUIRKS])
    draws = rng.random((n, len(BIT_QUIRKS))) < rate_vec
    weights = np.left_shift(np.uint64(1), np.arange(len(BIT_QUIRKS), dtype=np.uint64))
    masks = (draws.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64).tolist()
    enye_p = [rates.enye_as_n, rates.enye_as_ni, rates.enye_mangled]
    enye = rng.choice(4, size=n, p=[*enye_p, 1.0 - sum(enye_p)]).tolist()
    dob_p = [rates.birth_date_age_only, rates.birth_date_and_age_missing,
             rates.birth_date_year_only, rates.birth_date_year_month]
    dob = rng.choice(5, size=n, p=[*dob_p, 1.0 - sum(dob_p)]).tolist()
    late_vec = np.array([getattr(rates, name) for name in LATE_QUIRKS])
    if late_vec.any():  # drawn last, and only when used: earlier profiles' data unchanged
        late_draws = rng.random((n, len(LATE_QUIRKS))) < late_vec
        late = (late_draws.astype(np.int64) << np.arange(len(LATE_QUIRKS))).sum(axis=1).tolist()
    else:
        late = [0] * n
    renderer = _Renderer(rates, lex, geo, pyr)
    records = [renderer.record(pl, m, e, d, lt) for pl, m, e, d, lt in zip(
        plan, masks, enye, dob, late, strict=True)]
    return records, renderer.stats
