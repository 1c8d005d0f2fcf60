"""Templates of the console (Jinja2, autoescaped) and the Spanish labels they show.

Pages are plain HTML with one local stylesheet: no JavaScript, no CDN, so they work offline and
under ``Content-Security-Policy: default-src 'self'`` (no inline styles or scripts either).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

__all__ = [
    "AGREEMENT_LABELS",
    "ATTRIBUTE_LABELS",
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
}

AGREEMENT_LABELS = {"agree": "coincide", "disagree": "difiere", "unknown": "sin dato"}

STATUS_LABELS = {
    "queued": "en cola", "running": "en curso", "done": "terminado", "failed": "falló",
    "pending": "pendiente", "approved": "aprobada", "denied": "denegada", "expired": "vencida",
    "linked": "enlazado", "not_linked": "no enlazado",
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
