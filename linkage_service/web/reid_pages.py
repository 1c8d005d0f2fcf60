"""Re-identification in the console: a requester asks, an approver (another person) approves or
denies. Every action calls the same use case as the JSON endpoint (``linkage_service.reid``), so
the two-person rule, the limits and the audit entries are the API's, word for word.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from linkage_service import reid as reid_cases
from linkage_service.api.deps import SessionDep
from linkage_service.auth import Actor
from linkage_service.models.reid import ReidRequestCreate
from linkage_service.reid import policy_from_settings, request_public, requested_by
from linkage_service.web.access import ConsoleForm, ConsolePage
from linkage_service.web.common import page, redirect, refusal_message
from vinculo_common.errors import VinculoError

__all__ = ["router", "split_list"]

router = APIRouter(prefix="/consola", include_in_schema=False)
_REQUEST_ID = r"^rq-[0-9a-f]{16}$"
_DONE = {"creada": "Solicitud {id} creada: espera la aprobación de otra persona.",
         "aprobada": "Solicitud {id} aprobada.", "denegada": "Solicitud {id} denegada."}
_EMPTY_FORM = {"persons": "", "sources": "", "legal_basis": "", "purpose": ""}


def split_list(text: str) -> list[str]:
    """Items of a comma-, space- or line-separated field.

    >>> split_list("P-7KQ2M4XZ3A, P-2B3C4D5E6F\\nP-7KQ2M4XZ3A")
    ['P-7KQ2M4XZ3A', 'P-2B3C4D5E6F', 'P-7KQ2M4XZ3A']
    """
    return [item for item in re.split(r"[\s,;]+", text) if item]


def _reid_page(request: Request, session: SessionDep, actor: Actor, *, status: int = 200,
               notice: str | None = None, error: str | None = None,
               form: dict[str, str] | None = None) -> Response:
    approver = actor.role == "reid_approver"
    found = reid_cases.list_visible(session, actor=actor,
                                    status="pending" if approver else None, limit=100)
    session.commit()
    rows = [request_public(session, r) for r in found]
    if approver:
        title = "Solicitudes pendientes de decisión"
    else:
        title = "Sus solicitudes" if actor.role == "reid_requester" else "Todas las solicitudes"
    own = {r.id for r in found if requested_by(r, actor)}
    return page(request, actor, "reid.html", status=status, requests=rows, own=own,
                list_title=title, notice=notice, error=error, form=form or _EMPTY_FORM)


@router.get("/reid")
def reid(
    request: Request,
    session: SessionDep,
    hecho: Literal["creada", "aprobada", "denegada"] | None = None,
    id: str | None = Query(default=None, pattern=_REQUEST_ID),
    actor: Actor = ConsolePage("reid_requester", "reid_approver", "auditor"),
) -> Response:
    """Requests: a requester's own (and a form for a new one), an approver's pending ones, or
    all of them for an auditor (same data as ``GET /api/v1/reid/requests``).

    Example: ``GET /consola/reid``
    """
    notice = _DONE[hecho].format(id=id) if hecho and id else None
    return _reid_page(request, session, actor, notice=notice)


@router.post("/reid")
def reid_create(
    request: Request,
    session: SessionDep,
    persons: Annotated[str, Form(max_length=5000)],
    legal_basis: Annotated[str, Form(max_length=500)],
    purpose: Annotated[str, Form(max_length=1000)],
    sources: Annotated[str, Form(max_length=500)] = "",
    actor: Actor = ConsoleForm("reid_requester"),
) -> Response:
    """Create a request, as ``POST /api/v1/reid/requests`` does.

    Example: form ``persons=P-7KQ2M4XZ3A&legal_basis=Ley 28950&purpose=Carpeta 123&csrf=…``
    """
    form = {"persons": persons, "sources": sources, "legal_basis": legal_basis,
            "purpose": purpose}
    try:
        body = ReidRequestCreate.model_validate({
            "persons": split_list(persons), "sources": split_list(sources) or None,
            "legal_basis": legal_basis.strip(), "purpose": purpose.strip()})
        created = reid_cases.submit_request(
            session, requester=actor, persons=body.persons, sources=body.sources,
            legal_basis=body.legal_basis, purpose=body.purpose,
            policy=policy_from_settings(request.app.state.settings))
        session.commit()
    except ValidationError:
        session.rollback()
        return _reid_page(request, session, actor, status=422, form=form,
                          error="la base legal y la finalidad necesitan al menos 3 caracteres "
                                "(legal basis and purpose are required)")
    except VinculoError as exc:
        message = refusal_message(request, session, exc)
        return _reid_page(request, session, actor, status=exc.http_status, error=message,
                          form=form)
    return redirect(f"/consola/reid?hecho=creada&id={created.id}")


@router.post("/reid/{request_id}/aprobar")
def reid_approve(
    request_id: str,
    request: Request,
    session: SessionDep,
    reason: Annotated[str, Form(max_length=2000)] = "",
    actor: Actor = ConsoleForm("reid_approver"),
) -> Response:
    """Approve, as ``POST /api/v1/reid/requests/{id}/approve`` does (never one's own request).

    Example: form ``reason=procede&csrf=…`` → 303 to ``/consola/reid?hecho=aprobada&id=…``
    """
    try:
        decided = reid_cases.approve_request(
            session, request_id=request_id, approver=actor, reason=reason.strip() or None,
            signer=request.app.state.service_key)
        session.commit()
    except VinculoError as exc:
        message = refusal_message(request, session, exc)
        return _reid_page(request, session, actor, status=exc.http_status, error=message)
    return redirect(f"/consola/reid?hecho=aprobada&id={decided.id}")


@router.post("/reid/{request_id}/denegar")
def reid_deny(
    request_id: str,
    request: Request,
    session: SessionDep,
    reason: Annotated[str, Form(max_length=2000)] = "",
    actor: Actor = ConsoleForm("reid_approver"),
) -> Response:
    """Deny with a reason, as ``POST /api/v1/reid/requests/{id}/deny`` does.

    Example: form ``reason=sin base legal&csrf=…`` → 303 to ``/consola/reid?hecho=denegada&id=…``
    """
    try:
        # An empty reason is refused by the workflow, with its message (and recorded).
        decided = reid_cases.deny_request(session, request_id=request_id, approver=actor,
                                          reason=reason.strip())
        session.commit()
    except VinculoError as exc:
        message = refusal_message(request, session, exc)
        return _reid_page(request, session, actor, status=exc.http_status, error=message)
    return redirect(f"/consola/reid?hecho=denegada&id={decided.id}")
