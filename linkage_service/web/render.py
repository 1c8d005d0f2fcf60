"""Templates of the console (Jinja2, autoescaped) and the Spanish labels they show.

Pages are plain HTML with one local stylesheet and one small local script (the review page's
keys, ``static/teclas.js``): no framework, no CDN, so they work offline and under
``Content-Security-Policy: default-src 'self'`` (no inline styles or scripts either; charts are
inline SVG with presentation attributes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

__all__ = [
    "AGREEMENT_LABELS",
    "ATTRIBUTE_LABELS",
    "EVIDENCE_LABELS",
    "LEVEL_LABELS",
    "NAV",
    "ROLE_LABELS",
    "STATUS_LABELS",
    "render",
]

TEMPLATES = Path(__file__).resolve().parent / "templates"

ROLE_LABELS = {
    "uploader": "carga de datos de una fuente (uploader)",
    "operator": "operación del servicio (operator)",
    "reviewer": "revisión de pares (reviewer)",
    "analyst": "análisis estadístico (analyst)",
    "reid_requester": "solicitud de reidentificación (reid requester)",
    "reid_approver": "aprobación de reidentificación (reid approver)",
    "auditor": "auditoría (auditor)",
    "admin": "administración (admin)",
}

# (path, Spanish label, short English label). Which roles see a link is read from the page's
# own role declaration (linkage_service.web.pages.allowed_links), never repeated here.
NAV = (
    ("/consola", "Inicio", "Home"),
    ("/consola/revision", "Revisión", "Review"),
    ("/consola/trabajos", "Trabajos de enlace", "Linkage jobs"),
    ("/consola/reid", "Reidentificación", "Re-identification"),
    ("/consola/estadisticas", "Estadísticas", "Statistics"),
    ("/consola/auditoria", "Auditoría", "Audit"),
)

ATTRIBUTE_LABELS = {
    "source": "Registro de origen",
    "sex": "Sexo",
    "birth_year": "Año de nacimiento",
    "age_at_event": "Edad en el hecho",
    "nationality": "Nacionalidad",
    "ubigeo_birth": "Lugar de nacimiento (UBIGEO)",
    "ubigeo_residence": "Lugar de residencia (UBIGEO)",
    "ubigeo_event": "Lugar del hecho (UBIGEO)",
    "event_date": "Fecha del hecho",
    "exploitation": "Forma de explotación",
    # The coarse release the per-record routes show (linkage_service.custody.release).
    "birth_year_band": "Años de nacimiento (quinquenio)",
    "age_band": "Grupo de edad en el hecho",
    "event_year": "Año del hecho",
}

AGREEMENT_LABELS = {"agree": "coincide", "disagree": "difiere", "unknown": "sin dato"}

# The linkage model's evidence for a pending pair (linkage.comparisons), as a reviewer reads it.
EVIDENCE_LABELS = {
    "probability": "Probabilidad de ser la misma persona",
    "dice": "Similitud de las codificaciones (Dice)",
    "reason": "Por qué está en revisión",
    "comparisons.dice": "Similitud de las codificaciones (tramo)",
    "comparisons.sex": "Sexo",
    "comparisons.birth_year": "Año de nacimiento",
    "comparisons.doc_hash": "Documento (comparado con clave, sin verlo)",
    "comparisons.family": "Apellidos y fecha de nacimiento (comparados con clave, sin verlos)",
    "comparisons.nationality": "Nacionalidad",
    "comparisons.ubigeo_birth": "Lugar de nacimiento",
    "comparisons.ubigeo_residence": "Lugar de residencia",
    "comparisons.ubigeo_event": "Lugar del hecho",
    "comparisons.same_source": "Registro",
    "comparisons.density": "Codificaciones parecidas alrededor (nombre común o raro)",
}

LEVEL_LABELS = {
    **AGREEMENT_LABELS, "missing": AGREEMENT_LABELS["unknown"],
    "same_year": "mismo año", "compatible": "compatible", "disjoint": "no coincide",
    "far": "más de 5 años de diferencia",
    "equal": "igual", "different": "distinto",
    "different_low_dice": "distinto, y codificaciones lejanas",
    "consecutive_dni": "DNI consecutivos (posibles mellizos)",
    "different_low_dice_not_both_dni": "distinto tipo de documento, codificaciones lejanas",
    "same_family_given_close": "iguales, con nombres parecidos",
    "different_family": "distintos",
    "same_family_given_far": "iguales, con nombres distintos (posibles mellizos)",
    "district": "mismo distrito", "province": "misma provincia",
    "department": "mismo departamento",
    "other_source": "de registros distintos", "same_source": "del mismo registro",
    "same_source_same_event": "del mismo registro y el mismo hecho",
    "band": "probabilidad intermedia",
    "cohesion": "uniría dos personas poco conectadas entre sí",
    "cannot_link": "contradice una decisión anterior o una evidencia de personas distintas",
    "size_cap": "superaría el tamaño máximo de una persona",
    "0-3": "pocas (nombre poco común)", "4-6": "algunas", "7-12": "muchas",
    ">12": "muchísimas (nombre muy común)",
}

STATUS_LABELS = {
    "queued": "en cola", "running": "en curso", "done": "terminado", "failed": "falló",
    "interrupted": "interrumpido",
    "pending": "pendiente", "approved": "aprobada", "denied": "denegada", "expired": "vencida",
    "linked": "enlazado", "not_linked": "no enlazado",
    "second_review": "en segunda revisión", "superseded": "resuelto por un trabajo posterior",
}

_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(("html",), default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.globals.update(role_labels=ROLE_LABELS, attribute_labels=ATTRIBUTE_LABELS,
                    agreement_labels=AGREEMENT_LABELS, status_labels=STATUS_LABELS)


def _cell(value: Any) -> str:
    """How a table cell reads: None (suppressed) is an em dash; lists are joined.

    >>> _cell(None), _cell(["sexual", "laboral"]), _cell(0.5)
    ('—', 'sexual, laboral', '0.5')
    """
    if value is None:
        return "—"
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    return str(value)


_ENV.filters["cell"] = _cell


def render(template: str, **context: Any) -> str:
    """Render a console template; every page gets ``actor``, ``nav`` and ``csrf`` (or None).

    >>> "Acceso denegado" in render("error.html", actor=None, status=403, message="x",
    ...                             login_needed=False)
    True
    """
    context.setdefault("actor", None)
    context.setdefault("nav", [])
    context.setdefault("csrf", None)
    context.setdefault("notice", None)
    context.setdefault("error", None)
    return _ENV.get_template(template).render(**context)
