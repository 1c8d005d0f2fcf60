"""Peruvian names: ``Ñ`` repair, particles, married surnames, whole names typed into one field.

Each rule is a small function; :func:`standardize_names` applies them in order to the three
name columns of one record.

>>> parts = standardize_names(nombres="María Isabel", paterno="dela Cruz", materno="Munioz de Ruiz")
>>> parts.given_names, parts.first_given_name, parts.surname_paternal
('MARIA ISABEL', 'MARIA', 'DE LA CRUZ')
>>> parts.surname_maternal, parts.married_surname
('MUÑOZ', 'RUIZ')
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from client_sdk.standardize.name_roles import NameRoles
from client_sdk.standardize.text import fold_name

__all__ = [
    "NameParts",
    "clean_name",
    "first_given_name",
    "join_particles",
    "normalize_particles",
    "repair_enye",
    "split_full_name",
    "split_married",
    "standardize_names",
]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Surnames (and a few given names) written with Ñ in Peru. Their "NI" spelling (MUNIOZ) is a
# keyboard or code-page workaround, never a name of its own, so it is always repaired.
_ENYE_WORDS = _words(
    """MUÑOZ NUÑEZ PEÑA IBAÑEZ YAÑEZ CASTAÑEDA ORDOÑEZ BRICEÑO CAÑARI ÑAHUI MUÑANTE PATIÑO
    ZUÑIGA ACUÑA OCAÑA CARREÑO PEÑALOZA PEÑARANDA QUIÑONES QUIÑONEZ CAÑETE MIÑANO MIÑAN LUDEÑA
    SALDAÑA PIÑA AÑAZCO ÑIQUE ÑAUPARI ÑAUPA MONTAÑEZ MAÑUICO NUÑONCA CHAÑI BAÑOS TREVIÑO
    MARIÑO LOGROÑO BEDOÑA VIÑAS CASTAÑEDA ARAÑA MUÑIZ PEÑAFIEL ESPAÑA YAÑAC ÑAVINCOPA
    CAÑAZCA CAMPAÑA BOLAÑOS MAGAÑA AVEÑA IÑIGO TOÑA"""
)
# Of those, the ones whose plain-N spelling is not itself a surname (PENA, PINA, BANOS and
# ESPANA are, so they stay as written).
_N_SPELLING_REPAIRED = _words(
    """MUÑOZ NUÑEZ IBAÑEZ YAÑEZ CASTAÑEDA ORDOÑEZ BRICEÑO MUÑANTE ZUÑIGA ACUÑA OCAÑA CARREÑO
    PEÑALOZA PEÑARANDA QUIÑONES QUIÑONEZ MIÑANO LUDEÑA SALDAÑA AÑAZCO ÑAUPARI MONTAÑEZ
    MAÑUICO NUÑONCA LOGROÑO PEÑAFIEL ÑAVINCOPA BOLAÑOS"""
)
_ENYE_REPAIRS: dict[str, str] = {}
for _word in _ENYE_WORDS:
    _ENYE_REPAIRS[_word.replace("Ñ", "NI")] = _word
for _word in _N_SPELLING_REPAIRED:
    _ENYE_REPAIRS[_word.replace("Ñ", "N")] = _word

_ARTICLES = ("LAS", "LOS", "LA")  # longest first
# Words that follow DE LA / DE LOS / DEL in Peruvian surnames; used to split joined forms
# (DELACRUZ, DE LACRUZ, DELAGUILA) without breaking ordinary words that start with DE or LA.
_PARTICLE_SURNAMES = _words(
    """CRUZ TORRE PUENTE FUENTE ROSA VEGA PAZ CALLE MATA SERNA PEÑA CASA CASAS SANTOS RIOS RIO
    REYES HERAS AGUILA CARPIO CASTILLO SOLAR BARRA CUBA FLOR JARA OLIVA PIEDRA TORRES VILLA
    MAZA CRUZADO MORA CERDA CADENA QUINTANA RIVA GALA ROCA MAR CAMPO PINO VALLE PORTAL
    ALAMO ARCO BOSQUE CARMEN PILAR"""
)
_PLACEHOLDERS = frozenset(
    {"NN", "N N", "SN", "S N", "XX", "XXX", "SIN NOMBRE", "SIN NOMBRES", "SIN APELLIDO",
     "DESCONOCIDO", "DESCONOCIDA", "NO REGISTRA", "NO INDICA", "NO PRECISA", "NINGUNO",
     "NO SABE", "NO REFIERE", "NO CONSIGNA"}
)
_WIDOW_MARKERS = frozenset({"VDA", "VIUDA", "VIUDO", "VD"})
# "DE <X>" that is a surname in its own right, not a married woman's "de <husband>".
_DE_SURNAMES = frozenset({"SOUZA", "SOUSA", "OLIVEIRA", "JESUS", "PAZ", "LEON", "ARMAS"})


@dataclass(frozen=True, slots=True)
class NameParts:
    given_names: str
    first_given_name: str
    surname_paternal: str
    surname_maternal: str
    married_surname: str


@lru_cache(maxsize=65536)
def repair_enye(token: str) -> str:
    """Restore ``Ñ`` in a known name spelled with ``NI`` (or, when unambiguous, ``N``).

    >>> repair_enye("MUNIOZ"), repair_enye("PENIA"), repair_enye("IBANEZ")
    ('MUÑOZ', 'PEÑA', 'IBAÑEZ')
    >>> repair_enye("DANIEL"), repair_enye("ANTONIO"), repair_enye("PENA")
    ('DANIEL', 'ANTONIO', 'PENA')
    """
    return _ENYE_REPAIRS.get(token, token)


def _split_joined_particle(token: str, *, after_de: bool) -> list[str]:
    """``DELACRUZ`` → ``DE LA CRUZ``; after a ``DE``: ``LACRUZ`` → ``LA CRUZ``."""
    prefixes = ("LAS", "LOS", "LA") if after_de else ("DELAS", "DELOS", "DELA", "DEL")
    for prefix in prefixes:
        rest = token[len(prefix):]
        if token.startswith(prefix) and rest in _PARTICLE_SURNAMES:
            if prefix.startswith("DEL") and prefix != "DEL":
                return ["DE", prefix[2:], rest]
            return [prefix, rest]
    return [token]


@lru_cache(maxsize=65536)
def normalize_particles(text: str) -> str:
    """Write particles as separate words: ``DELA CRUZ``, ``DE LACRUZ`` → ``DE LA CRUZ``.

    >>> normalize_particles("DELA CRUZ"), normalize_particles("DE LACRUZ")
    ('DE LA CRUZ', 'DE LA CRUZ')
    >>> normalize_particles("DELOS SANTOS"), normalize_particles("DELAGUILA")
    ('DE LOS SANTOS', 'DEL AGUILA')
    >>> normalize_particles("DELGADO"), normalize_particles("LAZO")
    ('DELGADO', 'LAZO')
    """
    out: list[str] = []
    for token in text.split():
        if token in ("DELA", "DELOS", "DELAS"):
            out.extend(["DE", token[2:]])
        elif out and out[-1] == "DE" and token not in _ARTICLES:
            out.extend(_split_joined_particle(token, after_de=True))
        elif token.startswith("DEL") and len(token) > 3:
            out.extend(_split_joined_particle(token, after_de=False))
        else:
            out.append(token)
    return " ".join(out)


def join_particles(text: str) -> str:
    """The particle-free comparison form: ``DE LA CRUZ`` → ``DELACRUZ``.

    Registries disagree on spaces inside compound surnames; encoders may feed this form
    alongside the spaced one so both spellings share q-grams.

    >>> join_particles("DE LA CRUZ"), join_particles("DEL AGUILA")
    ('DELACRUZ', 'DELAGUILA')
    """
    return text.replace(" ", "")


@lru_cache(maxsize=131072)
def clean_name(text: str) -> str:
    """Fold, repair ``Ñ``, normalise particles; placeholders such as ``N.N.`` become ``""``.

    >>> clean_name("Pe—a  de la  Cruz"), clean_name("N.N."), clean_name("MUNIOZ")
    ('PEÑA DE LA CRUZ', '', 'MUÑOZ')
    """
    folded = fold_name(text)
    if not folded or folded in _PLACEHOLDERS:
        return ""
    repaired = " ".join([_ENYE_REPAIRS.get(token, token) for token in folded.split()])
    return normalize_particles(repaired)


def split_married(surname: str) -> tuple[str, str]:
    """Separate a married woman's ``DE <husband>`` (or ``VDA. DE <husband>``) from a surname.

    Returns ``(surname, married_surname)``.

    >>> split_married("QUISPE DE FLORES"), split_married("DE FLORES")
    (('QUISPE', 'FLORES'), ('', 'FLORES'))
    >>> split_married("DE LA CRUZ"), split_married("QUISPE VDA DE ROJAS")
    (('DE LA CRUZ', ''), ('QUISPE', 'ROJAS'))
    """
    if "DE " not in surname:
        return surname, ""
    tokens = surname.split()
    if len(tokens) < 2 or tokens[-2] != "DE":
        return surname, ""
    husband = tokens[-1]
    if husband in _ARTICLES or (len(tokens) == 2 and husband in _DE_SURNAMES):
        return surname, ""
    own = tokens[:-2]
    while own and own[-1] in _WIDOW_MARKERS:
        own.pop()
    return " ".join(own), husband


def _units(tokens: list[str]) -> list[str]:
    """Group particles with the word they belong to: DE LA CRUZ is one surname."""
    units: list[str] = []
    pending: list[str] = []
    for token in tokens:
        pending.append(token)
        if token not in ("DE", "DEL", *_ARTICLES):
            units.append(" ".join(pending))
            pending = []
    if pending:
        if units:
            units[-1] = f"{units[-1]} {' '.join(pending)}"
        else:
            units.append(" ".join(pending))
    return units


def _whole_name_units(tokens: list[str]) -> list[str]:
    """Units of a whole name, a married ``DE <husband>`` (after ``VDA``) kept with the surname
    before it: ``ROJAS VDA DE PAZ`` is one unit, ``DE LA CRUZ`` another."""
    units: list[str] = []
    for unit in _units(tokens):
        words = unit.split()
        married = (len(words) == 2 and words[0] == "DE" and words[1] not in _DE_SURNAMES)
        if married and units:
            if units[-1] in _WIDOW_MARKERS and len(units) > 1:
                units[-2:] = [f"{units[-2]} {units[-1]}"]
            units[-1] = f"{units[-1]} {unit}"
        else:
            units.append(unit)
    return units


_DEFAULT_ROLES = NameRoles()


def split_full_name(text: str, roles: NameRoles | None = None) -> tuple[str, str, str]:
    """Split a whole name typed into ``nombres`` into (given, paternal, maternal).

    With a comma the order is ``APELLIDOS, NOMBRES``. Otherwise the words' roles decide
    (:class:`~client_sdk.standardize.name_roles.NameRoles`: built-in common names, plus what
    the export itself says when ``roles`` learned from it); unknown words keep the Peruvian
    order: given names, paternal, maternal. A name made only of given names is left whole.

    >>> split_full_name("ROSA ELENA QUISPE DE LA CRUZ")
    ('ROSA ELENA', 'QUISPE', 'DE LA CRUZ')
    >>> split_full_name("QUISPE MAMANI, ROSA"), split_full_name("MARIA ISABEL")
    (('ROSA', 'QUISPE', 'MAMANI'), ('MARIA ISABEL', '', ''))
    >>> split_full_name("MAYTA ZUÑIGA ZENAIDA"), split_full_name("ROSA ELENA QUISPE")
    (('ZENAIDA', 'MAYTA', 'ZUÑIGA'), ('ROSA ELENA', 'QUISPE', ''))
    >>> split_full_name("RODRIGUEZ BENITES DE SANCHEZ SANDRA DAYANA")
    ('SANDRA DAYANA', 'RODRIGUEZ', 'BENITES DE SANCHEZ')
    """
    if "," in text:
        surnames, _, given = text.partition(",")
        units = _units(clean_name(surnames).split())
        paternal = units[0] if units else ""
        return clean_name(given), paternal, " ".join(units[1:])
    tokens = clean_name(text).split()
    units = _whole_name_units(tokens)
    if len(units) < 2:
        return " ".join(tokens), "", ""
    return (roles or _DEFAULT_ROLES).split(units)


def first_given_name(given_names: str) -> str:
    """The first given name, its own feature for linkage (second names come and go).

    >>> first_given_name("MARIA DEL CARMEN")
    'MARIA'
    """
    return given_names.split(" ", 1)[0] if given_names else ""


def standardize_names(
    *, nombres: str, paterno: str, materno: str, roles: NameRoles | None = None
) -> NameParts:
    """Apply every name rule to the three name columns of one record (``roles``: what decides
    a whole name's split, see :func:`split_full_name`).

    >>> standardize_names(nombres="Quispe Mamani, Rosa", paterno="", materno="").surname_maternal
    'MAMANI'
    >>> standardize_names(nombres="", paterno="de Paoli", materno="").surname_paternal
    'DE PAOLI'
    """
    given = clean_name(nombres)
    paternal = clean_name(paterno)
    maternal = clean_name(materno)
    if not paternal and not maternal and nombres:
        given, paternal, maternal = split_full_name(nombres, roles)
    married = ""
    if maternal:
        maternal, married = split_married(maternal)
    elif paternal:
        own, married = split_married(paternal)
        # "DE PAOLI", "DE SOUZA" as the only surname is a surname, not a husband's name: taken
        # off, the record would keep no surname at all.
        paternal, married = (own, married) if own else (paternal, "")
    return NameParts(
        given_names=given,
        first_given_name=first_given_name(given),
        surname_paternal=paternal,
        surname_maternal=maternal,
        married_surname=married,
    )
