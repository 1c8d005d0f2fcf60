"""How two records of the same person differ, read from the plaintext canonical rows alone.

Held-out registries come with ``truth.csv`` but no ``quirks.csv``, so the kinds are inferred
from the rows themselves. Each kind is a heuristic on purpose-built normal forms; a pair can
have several kinds; ``no_difference`` when the identifying fields agree up to formatting.

Kinds (stable names, used in reports):

- names: ``whole_name_in_nombres``, ``swapped_surnames``, ``missing_maternal_surname``,
  ``married_name``, ``particle_spacing``, ``second_given_name_differs``,
  ``given_names_reordered``, ``nickname``, ``spelling_variant``, ``name_typo``,
  ``name_differs`` (unexplained), ``accents``, ``enye_variant``, ``case_or_spacing``;
- birth: ``age_instead_of_birth_date``, ``birth_date_missing``, ``partial_birth_date``,
  ``day_month_swapped``, ``birth_date_typo``, ``birth_date_differs``;
- documents: ``document_missing``, ``different_document_type``, ``document_type_missing``,
  ``dni_lost_leading_zero``, ``dni_check_character``, ``document_transposed``,
  ``document_typo``, ``different_document_number``;
- other: ``sex_missing``, ``sex_differs``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from functools import cache

__all__ = ["KINDS", "difference_kinds", "parse_partial_date"]

KINDS = (
    "whole_name_in_nombres", "swapped_surnames", "missing_maternal_surname", "married_name",
    "particle_spacing", "second_given_name_differs", "given_names_reordered", "nickname",
    "spelling_variant", "name_typo", "name_differs", "accents", "enye_variant",
    "case_or_spacing", "age_instead_of_birth_date", "birth_date_missing", "partial_birth_date",
    "day_month_swapped", "birth_date_typo", "birth_date_differs", "document_missing",
    "different_document_type", "document_type_missing", "dni_lost_leading_zero",
    "dni_check_character", "document_transposed", "document_typo", "different_document_number",
    "sex_missing", "sex_differs", "no_difference",
)

_ACCENTS = str.maketrans("ÁÉÍÓÚÜÀÈÌÒÙ", "AEIOUUAEIOU")
_MANGLED_ENYE = ("Ã‘", "—", "Ð", "¥", "?")
_PARTICLES = {"DE", "DEL", "LA", "LOS", "LAS"}
_SEX = {"F": "F", "FEMENINO": "F", "MUJER": "F", "M": "M", "MASCULINO": "M", "HOMBRE": "M"}
_NICKNAMES = {
    "MARY": "MARIA", "MARUJA": "MARIA", "MARI": "MARIA", "LUCHO": "LUIS", "PEPE": "JOSE",
    "CHEPE": "JOSE", "PANCHO": "FRANCISCO", "PACO": "FRANCISCO", "CHARO": "ROSARIO",
    "CHELO": "CONSUELO", "LUPE": "GUADALUPE", "LUPITA": "GUADALUPE", "MECHE": "MERCEDES",
    "LOLA": "DOLORES", "CHABELA": "ISABEL", "CHABE": "ISABEL", "CHUCHO": "JESUS",
    "CHUCHA": "JESUSA", "ALE": "ALEJANDRA", "GABY": "GABRIELA", "KATY": "KATHERINE",
    "ELI": "ELIZABETH", "BETTY": "ELIZABETH", "MILA": "MILAGROS", "MILAGRITOS": "MILAGROS",
    "FIO": "FIORELLA", "VALE": "VALERIA", "TONA": "ANTONIA", "YESI": "YESENIA",
    "CHELA": "GRACIELA", "CONCHA": "CONCEPCION", "CONCHITA": "CONCEPCION", "MANOLO": "MANUEL",
    "QUIQUE": "ENRIQUE", "BETO": "ROBERTO", "MEMO": "GUILLERMO", "RICHI": "RICARDO",
    "JESSI": "JESSICA", "DANI": "DANIELA", "SUSY": "SUSANA", "PATY": "PATRICIA",
    "BETY": "BEATRIZ", "ROSITA": "ROSA", "CHARITO": "ROSA", "TERE": "TERESA", "VICKY": "VICTORIA",
    "ANDRE": "ANDREA", "ALEXA": "ALEXANDRA", "CAMI": "CAMILA", "NATY": "NATALY", "FANY": "STEPHANY",
    "ROXY": "ROXANA", "TITA": "ESTHER", "ISA": "ISABELLA", "ORI": "ORIANA", "TONO": "ANTONIO",
    "PERICO": "PEDRO", "LALO": "EDUARDO",
}
# Spelling variations of Peruvian names collapse to one sound key (GONZALES/GONZALEZ,
# HUAMAN/GUAMAN/WAMAN, VASQUEZ/BASQUEZ, CCAHUANA/CAHUANA, KATHERINE/KATERINE).
_SOUND_RULES = ((r"^HUA|^GUA", "WA"), (r"(?<=.)HUA", "WA"), (r"CC", "C"), (r"QU(?=[EI])", "K"),
                (r"TH", "T"), (r"^JH", "J"), (r"SS", "S"), (r"LL", "Y"), (r"^X", "J"),
                (r"CK", "C"), (r"Z", "S"), (r"V", "B"), (r"Y", "I"), (r"(?<=[AEIOU])H", ""),
                (r"^H", ""), (r"J(?=[EI])", "G"), (r"^Y|^J", "I"))


def _norm_enye(text: str) -> str:
    for bad in _MANGLED_ENYE:
        text = text.replace(bad, "Ñ")
    return text


@cache
def _key(text: str) -> str:
    """Upper case, accents folded, mangled Ñ repaired then folded to N, letters and spaces."""
    text = _norm_enye(text.upper().translate(_ACCENTS)).replace("Ñ", "N")
    return " ".join(re.sub(r"[^A-Z ]", " ", text).split())


@cache
def _sound(token: str) -> str:
    for pattern, repl in _SOUND_RULES:
        token = re.sub(pattern, repl, token)
    return token


def _distance(a: str, b: str) -> int:
    """Optimal string alignment distance (edits with adjacent transpositions)."""
    if abs(len(a) - len(b)) > 3:
        return 4
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def _classify_tokens(a: str, b: str, kinds: set[str]) -> None:
    """Two keyed name strings that should be equal: say why they are not."""
    if a == b or not a or not b:
        return
    if a.replace(" ", "") == b.replace(" ", ""):
        kinds.add("particle_spacing")
    elif _NICKNAMES.get(a) == b or _NICKNAMES.get(b) == a:
        kinds.add("nickname")
    elif " ".join(_sound(t) for t in a.split()) == " ".join(_sound(t) for t in b.split()):
        kinds.add("spelling_variant")
    elif _distance(a, b) <= (1 if min(len(a), len(b)) <= 4 else 2):
        kinds.add("name_typo")
    else:
        kinds.add("name_differs")


def _split_married(surname: str) -> tuple[str, str]:
    m = re.match(r"^(\S.*?) DE (\S.*)$", surname)
    if m and m.group(1) not in _PARTICLES:
        return m.group(1), m.group(2)
    return surname, ""


def _surface_kinds(a: list[str], b: list[str], kinds: set[str]) -> None:
    """Accents, Ñ spellings and case/spacing, token by token, whatever else differs."""
    raw_a = " ".join(a)
    raw_b = " ".join(b)
    if (raw_a != raw_b and " ".join(raw_a.split()) != raw_a) or (
            raw_a != raw_b and " ".join(raw_b.split()) != raw_b):
        kinds.add("case_or_spacing")
    ta, tb = raw_a.split(), raw_b.split()
    up_b = {t.upper() for t in tb}
    up_a = {t.upper() for t in ta}
    if any(t not in tb and t.upper() in up_b for t in ta) or any(
            t not in ta and t.upper() in up_a for t in tb):
        kinds.add("case_or_spacing")
    fa = {t.upper().translate(_ACCENTS) for t in ta}
    fb = {t.upper().translate(_ACCENTS) for t in tb}
    if any(t.upper() not in up_b and t.upper().translate(_ACCENTS) in fb for t in ta) or any(
            t.upper() not in up_a and t.upper().translate(_ACCENTS) in fa for t in tb):
        kinds.add("accents")
    ea = {_norm_enye(t) for t in fa}
    eb = {_norm_enye(t) for t in fb}
    for x, other in ((ea, eb), (eb, ea)):
        for t in x:
            if "Ñ" in t and t not in other and (
                    t.replace("Ñ", "N") in other or t.replace("Ñ", "NI") in other):
                kinds.add("enye_variant")
    if any(any(m in t for m in _MANGLED_ENYE) for t in ta + tb):
        kinds.add("enye_variant")


def _name_kinds(a: Mapping[str, str], b: Mapping[str, str], kinds: set[str]) -> None:
    fields = ("nombres", "apellido_paterno", "apellido_materno")
    _surface_kinds([a.get(f, "") or "" for f in fields], [b.get(f, "") or "" for f in fields],
                   kinds)
    ga, pa, ma = (_key(a.get(f, "") or "") for f in fields)
    gb, pb, mb = (_key(b.get(f, "") or "") for f in fields)
    whole_a, whole_b = not (pa or ma), not (pb or mb)
    if whole_a != whole_b:
        kinds.add("whole_name_in_nombres")
        left = Counter(f"{ga} {pa} {ma}".split())
        right = Counter(f"{gb} {pb} {mb}".split())
        only_l, only_r = sorted((left - right).elements()), sorted((right - left).elements())
        for x, y in zip(only_l, only_r, strict=False):
            _classify_tokens(x, y, kinds)
        if len(only_l) != len(only_r):
            kinds.add("missing_maternal_surname" if abs(len(only_l) - len(only_r)) == 1
                      else "name_differs")
        return
    ma, married_a = _split_married(ma)
    mb, married_b = _split_married(mb)
    if bool(married_a) != bool(married_b):
        kinds.add("married_name")
    pairs = [(pa, pb), (ma, mb)]
    if pa and ma and pb and mb and pa != pb and (pa, ma) == (mb, pb):
        kinds.add("swapped_surnames")
        pairs = []
    elif bool(ma) != bool(mb):
        kinds.add("missing_maternal_surname")
        if (ma and pb == ma and pa != pb) or (mb and pa == mb and pa != pb):
            kinds.add("swapped_surnames")
            pairs = []
        else:
            pairs = [(pa, pb)]
    elif pa and ma and pb and mb and pa != pb and ma != mb and (
            _distance(pa, mb) <= 2 and _distance(ma, pb) <= 2):
        kinds.add("swapped_surnames")
        pairs = [(pa, mb), (ma, pb)]
    for x, y in pairs:
        _classify_tokens(x, y, kinds)
    _given_kinds(ga.split(), gb.split(), kinds)


def _given_kinds(ta: list[str], tb: list[str], kinds: set[str]) -> None:
    if ta == tb or not ta or not tb:
        return
    if len(ta) != len(tb) or any(len(t) == 1 for t in ta + tb):
        kinds.add("second_given_name_differs")
        _classify_tokens(ta[0], tb[0], kinds)
        return
    if sorted(ta) == sorted(tb):
        kinds.add("given_names_reordered")
        return
    for x, y in zip(ta, tb, strict=True):
        _classify_tokens(x, y, kinds)


def parse_partial_date(text: str) -> tuple[int, int | None, int | None] | None:
    """``YYYY-MM-DD``, ``DD/MM/YYYY``, ``YYYY-MM`` or ``YYYY`` -> (year, month, day); None if
    empty or unreadable (impossible dates are read as they are written).

    >>> parse_partial_date("07/03/2004"), parse_partial_date("2004-03")
    ((2004, 3, 7), (2004, 3, None))
    """
    text = (text or "").strip()
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    if m:
        return int(m.group(1)), int(m.group(2)), int(m.group(3))
    m = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)
    if m:
        return int(m.group(3)), int(m.group(2)), int(m.group(1))
    m = re.fullmatch(r"(\d{4})-(\d{1,2})", text)
    if m:
        return int(m.group(1)), int(m.group(2)), None
    m = re.fullmatch(r"\d{4}", text)
    return (int(text), None, None) if m else None


def _birth_kinds(a: Mapping[str, str], b: Mapping[str, str], kinds: set[str]) -> None:
    da = parse_partial_date(a.get("fecha_nacimiento", "") or "")
    db = parse_partial_date(b.get("fecha_nacimiento", "") or "")
    age_a = (a.get("edad", "") or "").strip()
    age_b = (b.get("edad", "") or "").strip()
    if da is None or db is None:
        if da is None and db is None:
            if bool(age_a) != bool(age_b):
                kinds.add("birth_date_missing")
            return
        missing_age = age_a if da is None else age_b
        kinds.add("age_instead_of_birth_date" if missing_age else "birth_date_missing")
        return
    if da == db:
        return
    if None in da or None in db:
        kinds.add("partial_birth_date")
        return
    if da[0] == db[0] and (da[1], da[2]) == (db[2], db[1]):
        kinds.add("day_month_swapped")
        return
    sa = f"{da[0]:04d}{da[1] or 0:02d}{da[2] or 0:02d}"
    sb = f"{db[0]:04d}{db[1] or 0:02d}{db[2] or 0:02d}"
    if sum(x != y for x, y in zip(sa, sb, strict=True)) == 1:
        kinds.add("birth_date_typo")
    else:
        kinds.add("birth_date_differs")


def _clean_number(text: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", (text or "").upper())


def _document_kinds(a: Mapping[str, str], b: Mapping[str, str], kinds: set[str]) -> None:
    na, nb = _clean_number(a.get("numero_documento", "")), _clean_number(
        b.get("numero_documento", ""))
    if not na and not nb:
        return
    if bool(na) != bool(nb):
        kinds.add("document_missing")
        return
    ta = (a.get("tipo_documento", "") or "").strip().upper()
    tb = (b.get("tipo_documento", "") or "").strip().upper()
    if ta and tb and ta != tb:
        kinds.add("different_document_type")
    elif bool(ta) != bool(tb):
        kinds.add("document_type_missing")
    if na == nb:
        return
    if (len(na) == 9 and na[:8] == nb) or (len(nb) == 9 and nb[:8] == na):
        kinds.add("dni_check_character")
        return
    if na.isdigit() and nb.isdigit() and na.lstrip("0") == nb.lstrip("0"):
        kinds.add("dni_lost_leading_zero")
        return
    if len(na) == len(nb):
        diff = [i for i in range(len(na)) if na[i] != nb[i]]
        if len(diff) == 2 and diff[1] == diff[0] + 1 and (na[diff[0]], na[diff[1]]) == (
                nb[diff[1]], nb[diff[0]]):
            kinds.add("document_transposed")
            return
        if len(diff) == 1:
            kinds.add("document_typo")
            return
    kinds.add("different_document_number")


def difference_kinds(rec_a: Mapping[str, str], rec_b: Mapping[str, str]) -> set[str]:
    """Classify how two rows of the canonical layout (true matches) differ.

    >>> sorted(difference_kinds(
    ...     {"nombres": "MARIA", "apellido_paterno": "QUISPE", "apellido_materno": "MAMANI"},
    ...     {"nombres": "MARIA", "apellido_paterno": "MAMANI", "apellido_materno": "QUISPE"}))
    ['swapped_surnames']
    """
    kinds: set[str] = set()
    _name_kinds(rec_a, rec_b, kinds)
    _birth_kinds(rec_a, rec_b, kinds)
    _document_kinds(rec_a, rec_b, kinds)
    sa = _SEX.get((rec_a.get("sexo", "") or "").strip().upper(), "")
    sb = _SEX.get((rec_b.get("sexo", "") or "").strip().upper(), "")
    if bool(sa) != bool(sb):
        kinds.add("sex_missing")
    elif sa != sb:
        kinds.add("sex_differs")
    return kinds or {"no_difference"}
