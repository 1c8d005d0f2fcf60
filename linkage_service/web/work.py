"""Review and linkage jobs in the console. Each page calls the JSON endpoint's own function
(``linkage_service.api.routes.review`` / ``.jobs``), so it reads, decides and audits exactly as
the API does; the page only turns the answer into HTML.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from linkage_service.api.deps import Auditor, SessionDep
from linkage_service.api.openapi import IdPath, id_query
from linkage_service.api.routes import jobs as jobs_api
from linkage_service.api.routes import review as review_api
from linkage_service.auth import Actor
from linkage_service.web.access import ConsoleForm, ConsolePage
from linkage_service.web.common import call_endpoint, page, redirect, refusal_message
from linkage_service.web.render import ATTRIBUTE_LABELS, EVIDENCE_LABELS, LEVEL_LABELS
from vinculo_common.errors import VinculoError

__all__ = ["evidence_items", "review_rows", "router"]

router = APIRouter(prefix="/consola", include_in_schema=False)
_DECIDED = {"link": "es la misma persona", "not_link": "no es la misma persona"}


def _birth_years(record: dict[str, Any]) -> str | None:
    low, high = record.get("birth_year_min"), record.get("birth_year_max")
    if low is None and high is None:
        return None
    if low is None or high is None or low == high:
        return str(low if low is not None else high)
    return f"{low}–{high}"


def review_rows(pair: dict[str, Any]) -> list[dict[str, Any]]:
    """The side-by-side rows of a pending pair (label, left, right, agreement).

    >>> rows = review_rows({"left": {"source": "reta", "sex": "F"},
    ...                     "right": {"source": "care", "sex": "F"}, "agreement": {"sex": "agree"}})
    >>> [(r["label"], r["left"], r["right"], r["agreement"]) for r in rows]
    [('Registro de origen', 'reta', 'care', None), ('Sexo', 'F', 'F', 'agree')]
    """
    left, right, agreement = pair["left"], pair["right"], pair.get("agreement", {})
    rows = []
    for name, label in ATTRIBUTE_LABELS.items():
        if name == "birth_year":
            a, b = _birth_years(left), _birth_years(right)
        else:
            a, b = left.get(name), right.get(name)
        if a is None and b is None and name not in agreement:
            continue
        rows.append({"label": label, "left": a, "right": b, "agreement": agreement.get(name)})
    return rows


def evidence_items(evidence: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """The model's evidence as (Spanish label, technical name, value read in Spanish).

    >>> evidence_items({"dice": 0.81, "comparisons": {"family": "same_family_given_far"}})
    ... # doctest: +NORMALIZE_WHITESPACE
    [('Similitud de las codificaciones (Dice)', 'dice', 0.81),
     ('Apellidos y fecha de nacimiento (comparados con clave, sin verlos)', 'comparisons.family',
      'iguales, con nombres distintos (posibles mellizos)')]
    """
    flat = sorted((k, v) for k, v in evidence.items() if not isinstance(v, dict))
    flat += sorted((f"{k}.{k2}", v2) for k, v in evidence.items() if isinstance(v, dict)
                   for k2, v2 in v.items())
    return [(EVIDENCE_LABELS.get(name, name), name,
             LEVEL_LABELS.get(value, value) if isinstance(value, str) else value)
            for name, value in flat]


def _review_page(request: Request, session: SessionDep, actor: Actor, *, status: int = 200,
                 notice: str | None = None, error: str | None = None) -> Response:
    answer = call_endpoint(review_api.pending, request=request, session=session, actor=actor,
                           limit=50, offset=0)
    pairs = [{"id": p["id"], "score": p["score"], "rows": review_rows(p),
              "evidence": evidence_items(p.get("evidence") or {})}
             for p in answer["pairs"]]
    return page(request, actor, "review.html", status=status, pairs=pairs, notice=notice,
                error=error)


@router.get("/revision")
def review(
    request: Request,
    session: SessionDep,
    hecho: Literal["link", "not_link"] | None = None,
    par: int | None = id_query("par recién decidido"),
    actor: Actor = ConsolePage("reviewer"),
) -> Response:
    """Pending review pairs with identity-free evidence (same data as ``GET /api/v1/review``).

    Example: ``GET /consola/revision``
    """
    notice = f"Decisión registrada: el par {par} {_DECIDED[hecho]}." if hecho and par else None
    return _review_page(request, session, actor, notice=notice)


@router.post("/revision/{pair_id}")
def review_decide(
    pair_id: IdPath,
    request: Request,
    session: SessionDep,
    decision: Annotated[str, Form(max_length=20)],
    reason: Annotated[str, Form(max_length=500)] = "",
    actor: Actor = ConsoleForm("reviewer"),
) -> Response:
    """Record "Es la misma persona" (link) or "No es la misma persona" (not_link), exactly as
    ``POST /api/v1/review/{pair_id}`` does.

    Example: form ``decision=link&csrf=…`` → 303 to ``/consola/revision?hecho=link&par=…``
    """
    try:
        body = review_api.ReviewDecision.model_validate(
            {"decision": decision, "reason": reason.strip() or None})
        call_endpoint(review_api.decide, request=request, session=session, actor=actor,
                      pair_id=pair_id, body=body)
    except ValidationError:
        session.rollback()
        return _review_page(request, session, actor, status=422,
                            error="decisión inválida (invalid decision)")
    except VinculoError as exc:
        message = refusal_message(request, session, exc)
        return _review_page(request, session, actor, status=exc.http_status, error=message)
    return redirect(f"/consola/revision?hecho={body.decision}&par={pair_id}")


@router.get("/trabajos")
def jobs(
    request: Request,
    session: SessionDep,
    id: int | None = id_query("número del trabajo"),
    actor: Actor = ConsolePage("operator"),
) -> Response:
    """Start a linkage job, or look one up by number.

    Example: ``GET /consola/trabajos?id=4`` → 303 to ``/consola/trabajos/4``
    """
    if id is not None:
        return redirect(f"/consola/trabajos/{id}")
    Auditor(session, actor)("console.jobs", objects=[])
    session.commit()
    return page(request, actor, "jobs.html", job=None)


@router.post("/trabajos")
def jobs_start(
    request: Request,
    session: SessionDep,
    actor: Actor = ConsoleForm("operator"),
) -> Response:
    """Start a job with the service's thresholds, as ``POST /api/v1/jobs {}`` does.

    Example: form ``csrf=…`` → 303 to ``/consola/trabajos/5``
    """
    try:
        job = call_endpoint(jobs_api.start, request=request, session=session, actor=actor,
                            body=None)
    except VinculoError as exc:
        message = refusal_message(request, session, exc)
        return page(request, actor, "jobs.html", status=exc.http_status, job=None,
                    error=message)
    return redirect(f"/consola/trabajos/{job.id}")


@router.get("/trabajos/{job_id}")
def job_status(
    job_id: IdPath,
    request: Request,
    session: SessionDep,
    actor: Actor = ConsolePage("operator"),
) -> Response:
    """Status and progress of a job (same data as ``GET /api/v1/jobs/{job_id}``); the page
    refreshes itself while the job runs.

    Example: ``GET /consola/trabajos/5``
    """
    try:
        job = call_endpoint(jobs_api.status, request=request, session=session, actor=actor,
                            job_id=job_id)
    except VinculoError as exc:
        message = refusal_message(request, session, exc)
        return page(request, actor, "jobs.html", status=exc.http_status, job=None,
                    error=message)
    return page(request, actor, "jobs.html", job=job)
