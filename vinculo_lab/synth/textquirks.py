"""String-level quirks: how a clerk, a keyboard, a scanner or a code page changes a name.

Pure functions of a string and a ``random.Random``; each returns the changed string, or the
same string when the quirk cannot apply (the caller then does not count it as applied).
"""

from __future__ import annotations

import random
import re
from functools import cache

from vinculo_lab.synth.lexicon import KEYBOARD_NEIGHBOURS

__all__ = [
    "ACCENTED",
    "ENYE_MANGLED",
    "OCR_DIGITS",
    "OCR_NAMES",
    "fold_accents",
    "has_accent",
    "keyboard_typo",
    "ocr_confusion",
    "particle_variant",
    "spelling_options",
    "spelling_variant",
    "with_particle",
]

ACCENTED = "ÁÉÍÓÚÜáéíóúü"
_ACCENT_RE = re.compile(f"[{ACCENTED}]")
_FOLD = str.maketrans("ÁÉÍÓÚÜáéíóúü", "AEIOUUaeiouu")
# How an Ñ comes out of a wrong code page or a careless converter.
ENYE_MANGLED = ("—", "Ð", "Ã‘", "?", "¥")
OCR_NAMES = (("RN", "M"), ("M", "RN"), ("CL", "D"), ("D", "CL"), ("I", "L"), ("L", "I"),
             ("O", "0"), ("E", "F"), ("U", "V"), ("H", "N"), ("B", "8"), ("S", "5"))
OCR_DIGITS = (("0", "O"), ("1", "I"), ("5", "S"), ("8", "B"), ("2", "Z"), ("6", "G"),
              ("0", "8"), ("1", "7"), ("3", "8"))
_PARTICLES = ("DE LOS ", "DE LAS ", "DE LA ", "DEL ", "DE ")


def fold_accents(text: str) -> str:
    """Drop acute accents and diaeresis, keep Ñ.

    >>> fold_accents("MARÍA PEÑA")
    'MARIA PEÑA'
    """
    return text.translate(_FOLD)


def has_accent(text: str) -> bool:
    """Whether the text has a vowel with an accent or diaeresis.

    >>> has_accent("JOSÉ"), has_accent("PEÑA")
    (True, False)
    """
    return _ACCENT_RE.search(text) is not None


def with_particle(surname: str) -> bool:
    """Whether a surname starts with a particle (DE, DEL, DE LA, DE LOS).

    >>> with_particle("DEL ÁGUILA"), with_particle("DELGADO")
    (True, False)
    """
    return surname.startswith(_PARTICLES)


def particle_variant(surname: str, rnd: random.Random) -> str:
    """Write the particle of a compound surname another way: joined, or half joined.

    >>> particle_variant("DE LA CRUZ", random.Random(3)) in {"DELA CRUZ", "DELACRUZ", "DE LACRUZ"}
    True
    """
    for particle in _PARTICLES:
        if surname.startswith(particle):
            words = surname.split(" ")
            options = {"".join(words), " ".join([*words[:-2], "".join(words[-2:])])}
            if len(words) == 3:
                options.add(words[0] + words[1] + " " + words[2])
            options.discard(surname)
            return rnd.choice(sorted(options)) if options else surname
    return surname


def keyboard_typo(text: str, rnd: random.Random) -> str:
    """One keyboard slip: an adjacent key, a dropped, doubled or swapped letter.

    >>> keyboard_typo("QUISPE", random.Random(1)) != "QUISPE"
    True
    """
    letters = [i for i, ch in enumerate(text) if ch.isalpha()]
    if len(letters) < 3:
        return text
    for _ in range(6):
        op = rnd.random()
        i = rnd.choice(letters)
        ch = text[i]
        if op < 0.4:
            near = KEYBOARD_NEIGHBOURS.get(ch.upper(), "")
            if not near:
                continue
            repl = rnd.choice(near)
            out = text[:i] + (repl if ch.isupper() else repl.lower()) + text[i + 1:]
        elif op < 0.65:
            out = text[:i] + text[i + 1:]
        elif op < 0.8:
            out = text[:i] + ch + text[i:]
        else:
            if i + 1 >= len(text) or not text[i + 1].isalpha() or text[i + 1] == ch:
                continue
            out = text[:i] + text[i + 1] + ch + text[i + 2:]
        if out != text and out.strip():
            return out
    return text


def ocr_confusion(text: str, rnd: random.Random, *, table: tuple[tuple[str, str], ...]) -> str:
    """Replace one occurrence of a confusable glyph group by its look-alike.

    >>> ocr_confusion("MAMANI", random.Random(0), table=OCR_NAMES) != "MAMANI"
    True
    """
    options = [(a, b) for a, b in table if a in text]
    if not options:
        return text
    a, b = rnd.choice(options)
    starts = [m.start() for m in re.finditer(re.escape(a), text)]
    i = rnd.choice(starts)
    return text[:i] + b + text[i + len(a):]


@cache
def spelling_options(token: str, rules: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """Every known spelling variation of a token (folded first: clerks who respell rarely keep
    accents). Cached: tokens repeat across records.

    >>> spelling_options("HUAMÁN", (("^HUA", "GUA"), ("^HUA", "WA")))
    ('GUAMAN', 'WAMAN')
    """
    plain = fold_accents(token)
    options: list[str] = []
    for pattern, repl in rules:
        out = re.sub(pattern, repl, plain, count=1)
        if out != plain and len(out) >= 2 and out not in options:
            options.append(out)
    return tuple(options)


def spelling_variant(token: str, rules: tuple[tuple[str, str], ...], rnd: random.Random) -> str:
    """Apply one known spelling variation (GONZALES -> GONZALEZ, HUAMAN -> GUAMAN).

    >>> spelling_variant("HUAMÁN", (("^HUA", "GUA"),), random.Random(0))
    'GUAMAN'
    """
    options = spelling_options(token, rules)
    return rnd.choice(options) if options else token
