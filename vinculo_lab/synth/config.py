"""Parameters of the synthetic registries: quirk rates, population mix and named profiles.

Every rate is a probability *per applicable record* (a record to which the quirk can happen:
``enye_as_n`` only where the true name has an ``Ñ``; ``dni_lost_leading_zero`` only where the
DNI starts with ``0``). The generator counts, per quirk, how many records were applicable and
how many received it, and writes both to ``README.txt`` so the rates can be checked.

Profiles: ``clean`` (no quirks, for debugging), ``world`` (our estimate of real exports),
``default`` (harder than the world, the benchmark), ``hard`` (much harder), ``alt`` (a
different error mix: documents and dates worse, names better, more foreigners) for checking
that linkage was not tuned to one mix, and ``foreign`` (a registry that is not Peruvian at all:
non-Hispanic names with a single surname, no sex, nationality, places or event, a
social-security-like number as the only document, birth dates across the whole 20th century
and birth dates mistyped into impossible ones) for checking that linkage needs none of the
Peruvian fields; ``foreign-1to1`` is the same with nobody twice in one registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from vinculo_common.errors import InputError

__all__ = [
    "PROFILES",
    "PopulationParams",
    "QuirkRates",
    "SynthConfig",
    "profile",
]


@dataclass(frozen=True, slots=True)
class QuirkRates:
    """Probability of each quirk per applicable record (see the module docstring).

    >>> QuirkRates().surnames_swapped
    0.06
    """

    # --- names ---
    accents_dropped: float = 0.55  # true name has Á/É/Í/Ó/Ú: written without them
    enye_as_n: float = 0.25  # true name has Ñ: written N (exclusive with the two below)
    enye_as_ni: float = 0.06  # Ñ written NI
    enye_mangled: float = 0.06  # Ñ mangled by a code page: —, Ð, Ã‘, ?
    surnames_swapped: float = 0.06  # both surnames known: paternal and maternal swapped
    maternal_missing: float = 0.12  # maternal surname left empty
    particle_spacing: float = 0.40  # DE LA CRUZ -> DELA CRUZ / DELACRUZ / DE LACRUZ
    married_name: float = 0.50  # married woman: "DE <husband>" appended to the maternal surname
    whole_name_in_nombres: float = 0.06  # whole name in nombres ("N AP AM", "AP AM N", "AP AM, N")
    second_given_dropped: float = 0.25  # two or more given names: only the first written
    second_given_initial: float = 0.03  # second given name reduced to its initial
    given_names_reordered: float = 0.02  # MARIA ISABEL -> ISABEL MARIA
    nickname: float = 0.05  # first given name has a known nickname: nickname written
    spelling_variant: float = 0.10  # a known spelling variant (GONZALES/GONZALEZ, HUAMAN/GUAMAN)
    name_typo: float = 0.10  # keyboard slip: adjacent key, dropped, doubled or swapped letters
    ocr_error_name: float = 0.02  # OCR-like confusion in a name (RN/M, CL/D, I/L, O/0)
    case_variation: float = 0.10  # written in title or lower case
    extra_whitespace: float = 0.05  # double or stray spaces
    # --- birth date ---
    birth_date_age_only: float = 0.18  # no birth date, only the age at the event (exclusive group)
    birth_date_and_age_missing: float = 0.04  # neither birth date nor age
    birth_date_year_only: float = 0.04  # YYYY
    birth_date_year_month: float = 0.03  # YYYY-MM
    age_misstated: float = 0.20  # age-only record: the age is off by 1-3 years
    day_month_swapped: float = 0.05  # full date with day <= 12 != month: day and month swapped
    date_digit_typo: float = 0.04  # full date: one digit mistyped (still a valid date)
    date_impossible: float = 0.0  # full date: month or day mistyped into an impossible one
    # --- documents ---
    document_missing: float = 0.36  # person has a document but the record has none
    foreign_other_document: float = 0.55  # foreigner with several documents: not the primary one
    dni_lost_leading_zero: float = 0.50  # DNI starting with 0: leading zeros lost (spreadsheets)
    dni_transposed: float = 0.03  # two adjacent distinct digits of a DNI swapped
    document_digit_typo: float = 0.03  # one digit of the document number mistyped
    dni_check_character: float = 0.05  # the DNI's 9th check character appended (valid)
    ocr_error_document: float = 0.01  # OCR-like confusion in the number (0/O, 1/I, 5/S, 8/B)
    document_format_noise: float = 0.06  # spaces, dashes or dots inside the number
    document_type_missing: float = 0.05  # number present, type empty
    document_type_wrong: float = 0.02  # number present under the wrong type
    # --- other attributes ---
    sex_missing: float = 0.06
    sex_wrong: float = 0.005
    nationality_missing: float = 0.05
    ubigeo_birth_missing: float = 0.20  # Peruvian-born: birth place left empty
    ubigeo_coarsened: float = 0.10  # one UBIGEO cut to province (4) or department (2)
    ubigeo_reniec_code: float = 0.03  # birth UBIGEO written with RENIEC's code (unambiguous ones)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not 0.0 <= value <= 1.0:
                raise InputError(
                    f"tasa de '{f.name}' fuera de rango: {value} (debe estar entre 0 y 1) "
                    f"(rate of '{f.name}' out of range: must be in [0, 1])"
                )
        groups = (
            ("enye_as_n", "enye_as_ni", "enye_mangled"),
            ("birth_date_age_only", "birth_date_and_age_missing", "birth_date_year_only",
             "birth_date_year_month"),
        )
        for group in groups:
            if sum(getattr(self, name) for name in group) > 1.0:
                raise InputError(
                    f"las tasas {', '.join(group)} suman más de 1 (exclusive rates sum above 1)"
                )

    def scaled(self, factor: float, *, only: tuple[str, ...] | None = None) -> QuirkRates:
        """Every rate (or those in ``only``) times ``factor``, capped so groups stay valid.

        >>> QuirkRates().scaled(2.0).name_typo
        0.2
        """
        changes: dict[str, float] = {}
        for f in fields(self):
            if only is not None and f.name not in only:
                continue
            changes[f.name] = round(min(0.9, getattr(self, f.name) * factor), 6)
        return _fit_groups(changes, self)

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _fit_groups(changes: dict[str, float], base: QuirkRates) -> QuirkRates:
    """Apply ``changes``, shrinking an exclusive group proportionally if it passes 0.9."""
    merged = base.as_dict() | changes
    for group in (("enye_as_n", "enye_as_ni", "enye_mangled"),
                  ("birth_date_age_only", "birth_date_and_age_missing", "birth_date_year_only",
                   "birth_date_year_month")):
        total = sum(merged[name] for name in group)
        if total > 0.9:
            for name in group:
                merged[name] = round(merged[name] * 0.9 / total, 6)
    return QuirkRates(**merged)


@dataclass(frozen=True, slots=True)
class PopulationParams:
    """Who the victims are and how they reach the registries.

    >>> round(sum(PopulationParams().nationality.values()), 6)
    1.0
    """

    nationality: dict[str, float] = field(default_factory=lambda: {
        "PER": 0.74, "VEN": 0.20, "COL": 0.025, "ECU": 0.02, "BOL": 0.015})
    female_share: float = 0.82
    # age at first event: (low, high inclusive) -> weight
    age_bands: tuple[tuple[int, int, float], ...] = (
        (8, 12, 0.04), (13, 17, 0.38), (18, 24, 0.34), (25, 34, 0.16), (35, 55, 0.08))
    # share of the people who are the second member of a hard non-match
    twins: float = 0.02
    sisters: float = 0.04
    namesakes: float = 0.04
    mother_daughter: float = 0.015
    married_share: float = 0.30  # women aged 22+ registered at least once with "DE <husband>"
    # which registries a person reaches: pattern -> weight (R = reta, S = sistra, C = care)
    source_patterns: dict[str, float] = field(default_factory=lambda: {
        "R": 0.24, "S": 0.08, "C": 0.05, "RS": 0.27, "RC": 0.07, "SC": 0.05, "RSC": 0.24})
    revictimisation: float = 0.16  # a person has a second episode (and 20% of those a third)
    later_episode_source: float = 0.7  # each registry of the pattern records a later episode
    duplicate_entry: float = 0.08  # a record entered twice in one registry
    dni_share_peruvians: float = 0.92
    dni_leading_zero: float = 0.12
    # --- a registry unlike Peru's (profile "foreign") ---
    single_surname: bool = False  # one surname per person (apellido_materno always empty)
    # birth year drawn uniformly in [low, high] instead of from the age at the first event
    birth_years: tuple[int, int] | None = None
    # "peru": DNI, cédulas, passports by nationality; "social_security": one 9-digit number
    # (type OTRO) held by ``social_security_share`` of the people, nothing else
    documents: str = "peru"
    social_security_share: float = 0.9

    def __post_init__(self) -> None:
        for name in ("female_share", "twins", "sisters", "namesakes", "mother_daughter",
                     "married_share", "revictimisation", "later_episode_source",
                     "duplicate_entry", "dni_share_peruvians", "dni_leading_zero",
                     "social_security_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InputError(f"'{name}' fuera de rango [0, 1]: {value} (out of range)")
        if self.documents not in ("peru", "social_security"):
            raise InputError(f"documentos desconocidos: {self.documents!r} (peru, "
                             "social_security)")
        unknown = set(self.nationality) - {"PER", "VEN", "COL", "ECU", "BOL", "EXT"}
        if unknown:
            raise InputError(f"nacionalidades sin lista de nombres: {', '.join(sorted(unknown))} "
                             "(no name list)")
        if self.birth_years is not None and not (
                1850 <= self.birth_years[0] <= self.birth_years[1] <= 2025):
            raise InputError(f"birth_years fuera de rango: {self.birth_years} (out of range)")
        if self.twins + self.sisters + self.namesakes + self.mother_daughter > 0.5:
            raise InputError("demasiados parientes (relatives share above 0.5)")


@dataclass(frozen=True, slots=True)
class SynthConfig:
    """Everything that decides a synthetic data set, besides the seed and the size.

    >>> profile("hard").quirks.name_typo > profile("default").quirks.name_typo
    True
    """

    name: str = "default"
    quirks: QuirkRates = field(default_factory=QuirkRates)
    population: PopulationParams = field(default_factory=PopulationParams)
    bad_rows: float = 0.0  # share of extra unusable rows per registry (rejects path)
    # columns this kind of registry does not have: left out of the CSV files (record_id and
    # nombres cannot be left out)
    omit_columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if {"record_id", "nombres"} & set(self.omit_columns):
            raise InputError("record_id y nombres no pueden omitirse (cannot be omitted)")
        if not 0.0 <= self.bad_rows <= 0.5:
            raise InputError(
                f"--bad-rows debe estar entre 0 y 0.5, no {self.bad_rows} (must be in [0, 0.5])"
            )


_NAME_QUIRKS = ("accents_dropped", "enye_as_n", "enye_as_ni", "enye_mangled", "surnames_swapped",
                "maternal_missing", "whole_name_in_nombres", "second_given_dropped", "nickname",
                "spelling_variant", "name_typo", "ocr_error_name", "particle_spacing")
_DOC_DATE_QUIRKS = ("document_missing", "dni_transposed", "document_digit_typo",
                    "dni_lost_leading_zero", "document_type_wrong", "birth_date_age_only",
                    "day_month_swapped", "date_digit_typo", "birth_date_year_only",
                    "age_misstated", "ocr_error_document")


_NOT_IN_FOREIGN = ("apellido_materno", "sexo", "edad", "tipo_documento", "nacionalidad",
                   "ubigeo_nacimiento", "ubigeo_residencia", "fecha_hecho", "ubigeo_hecho",
                   "forma_explotacion")


def _profiles() -> dict[str, SynthConfig]:
    base = QuirkRates()
    pop = PopulationParams()
    zero = QuirkRates(**{name: 0.0 for name in base.as_dict()})
    out = {
        "clean": SynthConfig(name="clean", quirks=zero, population=pop),
        # Documents calibrated on the held-out reference: exact document number alone finds
        # about a quarter of the true pairs there (issue 5), so they are missing often.
        "world": SynthConfig(name="world", quirks=replace(
            base.scaled(0.6), document_missing=0.34), population=replace(
            pop, twins=0.01, sisters=0.02, namesakes=0.02, mother_daughter=0.008)),
        "default": SynthConfig(name="default", quirks=base, population=pop),
        # Scaling a 50/50 quirk past 0.5 would make records agree again: those stay at 0.5.
        "hard": SynthConfig(name="hard", quirks=replace(
            base.scaled(1.7), accents_dropped=0.5, married_name=0.5, particle_spacing=0.5,
            dni_lost_leading_zero=0.5), population=replace(
            pop, twins=0.04, sisters=0.07, namesakes=0.08, mother_daughter=0.03,
            duplicate_entry=0.10, revictimisation=0.2)),
        "alt": SynthConfig(
            name="alt",
            quirks=base.scaled(0.5, only=_NAME_QUIRKS).scaled(1.8, only=_DOC_DATE_QUIRKS),
            population=replace(pop, nationality={
                "PER": 0.55, "VEN": 0.35, "COL": 0.05, "ECU": 0.03, "BOL": 0.02},
                female_share=0.7, source_patterns={
                    "R": 0.18, "S": 0.14, "C": 0.08, "RS": 0.2, "RC": 0.1, "SC": 0.1,
                    "RSC": 0.2})),
        # A registry that is not Peruvian: the fields vinculo could lean on are absent.
        "foreign": SynthConfig(
            name="foreign",
            quirks=replace(
                zero, name_typo=0.15, ocr_error_name=0.03, case_variation=0.10,
                extra_whitespace=0.05, second_given_dropped=0.25, second_given_initial=0.05,
                given_names_reordered=0.02, spelling_variant=0.05, whole_name_in_nombres=0.03,
                birth_date_and_age_missing=0.05, birth_date_year_only=0.02,
                day_month_swapped=0.05, date_digit_typo=0.06, date_impossible=0.06,
                document_missing=0.15, document_digit_typo=0.08, ocr_error_document=0.01,
                document_format_noise=0.06),
            population=replace(
                pop, nationality={"EXT": 1.0}, female_share=0.5, twins=0.01, sisters=0.02,
                namesakes=0.03, mother_daughter=0.01, married_share=0.0, single_surname=True,
                birth_years=(1900, 2010), documents="social_security"),
            omit_columns=_NOT_IN_FOREIGN),
    }
    # The same registry where nobody appears twice in one registry (no re-victimisation, no
    # duplicate entry): the one-to-one case plain anonlink's greedy solver is built for.
    out["foreign-1to1"] = replace(out["foreign"], name="foreign-1to1", population=replace(
        out["foreign"].population, revictimisation=0.0, duplicate_entry=0.0))
    return out


PROFILES: dict[str, SynthConfig] = _profiles()


def profile(name: str) -> SynthConfig:
    """The named profile, or an InputError listing the valid names.

    >>> profile("world").name
    'world'
    """
    try:
        return PROFILES[name]
    except KeyError:
        valid = ", ".join(sorted(PROFILES))
        raise InputError(
            f"perfil desconocido '{name}'; válidos: {valid} (unknown profile)") from None
