"""Standardization of Peruvian identities, one small rule per function.

- :mod:`.text`: folding shared by all rules (``Ñ`` kept, code-page damage repaired)
- :mod:`.names`: ``Ñ`` spellings, particles, married surnames, whole names split back
- :mod:`.documents`: document types, DNI with RENIEC check character
- :mod:`.dates`: birth and event dates, ages, birth-year ranges
- :mod:`.places`: UBIGEO validation, RENIEC → INEI, coarsening
- :mod:`.attributes`: sex, nationality, forms of exploitation, event-date coarsening

Every rule raises :class:`InvalidValue` (Spanish-first reason, never the value) for input it
cannot accept; :mod:`client_sdk.validation` turns that into a reject.
"""

from __future__ import annotations

from client_sdk.standardize.attributes import (
    EXPLOITATION_FORMS,
    coarsen_event_date,
    normalize_exploitation,
    normalize_nationality,
    normalize_sex,
)
from client_sdk.standardize.dates import (
    birth_year_range,
    check_birth_date,
    parse_age,
    parse_date,
    parse_event_date,
)
from client_sdk.standardize.documents import (
    DOCUMENT_TYPES,
    clean_dni,
    clean_document_number,
    normalize_document_type,
)
from client_sdk.standardize.names import (
    NameParts,
    clean_name,
    join_particles,
    standardize_names,
)
from client_sdk.standardize.places import coarsen_ubigeo, standardize_ubigeo
from client_sdk.standardize.text import InvalidValue, fold_name, value_key

__all__ = [
    "DOCUMENT_TYPES",
    "EXPLOITATION_FORMS",
    "InvalidValue",
    "NameParts",
    "birth_year_range",
    "check_birth_date",
    "clean_dni",
    "clean_document_number",
    "clean_name",
    "coarsen_event_date",
    "coarsen_ubigeo",
    "fold_name",
    "join_particles",
    "normalize_document_type",
    "normalize_exploitation",
    "normalize_nationality",
    "normalize_sex",
    "parse_age",
    "parse_date",
    "parse_event_date",
    "standardize_names",
    "standardize_ubigeo",
    "value_key",
]
