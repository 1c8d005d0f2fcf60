"""Review and linkage jobs in the console. Each page calls the same use case as the JSON
endpoint (``linkage_service.bank.review`` / ``.jobs``), so it reads, decides and audits exactly
as the API does; the page only parses the form and turns the answer into HTML.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from linkage_service.api.deps import SessionDep
from linkage_service.api.openapi import ID_MAX, IdPath, id_query
from linkage_service.auth import Actor
from linkage_service.bank import review as review_cases
from linkage_service.bank.jobs import launch_job, read_job, read_jobs
from linkage_service.bank.review import REVIEW_DECISIONS, QueueFilter
from linkage_service.models.common import utcnow
from linkage_service.web.access import ConsoleForm, ConsolePage
from linkage_service.web.common import page, redirect, refusal_message
from linkage_service.web.render import ATTRIBUTE_LABELS, EVIDENCE_LABELS, LEVEL_LABELS
from vinculo_common.errors import InputError, VinculoError

__all__ = ["console_filter", "evidence_items", "review_rows", "router"]

router = APIRouter(prefix="/consola", include_in_schema=False)


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


_STATUS_NOTICE = {
    "linked": "Decisión registrada: el par {id} es la misma persona.",
    "not_linked": "Decisión registrada: el par {id} no es la misma persona.",
    "second_review": "Voto registrado: el par {id} pasa a segunda revisión; otra persona debe "
                     "decidirlo.",
}
SECOND_REASONS = {
    "merge": "uniría dos personas que ya estaban en el banco antes de este trabajo (sus "
             "seudónimos ya se entregaron a las instituciones)",
    "disagree": "dos revisores no coincidieron",
}
QUEUE_LABELS = {"pending": "Pendientes", "second": "Segunda revisión"}
PAGE_SIZE = 20


def console_filter(
    cola: Literal["pending", "second"] = "pending",
    fuentes: str | None = Query(default=None, max_length=81),
    min: str | None = Query(default=None, max_length=10),
    max: str | None = Query(default=None, max_length=10),
    trabajo: str | None = Query(default=None, max_length=12),
) -> QueueFilter:
    """The queue's filters from the console's query (empty form fields mean "any")."""
    def number(text: str | None, kind: type) -> Any:
        text = (text or "").strip().replace(",", ".")
        if not text:
            return None
        try:
            value = kind(text)
        except ValueError:
            raise InputError("filtro inválido: no es un número (invalid filter)") from None
        if kind is int and not 1 <= value <= ID_MAX:
            raise InputError("filtro inválido: número de trabajo fuera de rango (invalid filter)")
        return value

    pair = tuple(fuentes.split(":", 1)) if fuentes and ":" in fuentes else None
    return QueueFilter(queue=cola, sources=pair,  # type: ignore[arg-type]
                       score_min=number(min, float), score_max=number(max, float),
                       job_id=number(trabajo, int))


def _query(where: QueueFilter, **extra: Any) -> str:
    return urlencode({**where.query(), **{k: v for k, v in extra.items() if v is not None}})


def _review_context(request: Request, session: SessionDep, actor: Actor, where: QueueFilter
                    ) -> dict[str, Any]:
    summary = review_cases.read_summary(session, actor=actor, now=utcnow())
    session.commit()
    return {"counts": summary["counts"], "source_pairs": summary["source_pairs"],
            "list_mode": request.url.path.endswith("/lista"),
            "where": where, "query": where.query(), "queue_labels": QUEUE_LABELS,
            "second_reasons": SECOND_REASONS}


def _pair_view(pair: dict[str, Any]) -> dict[str, Any]:
    return {**pair, "rows": review_rows(pair), "evidence": evidence_items(pair.get("evidence")
                                                                          or {}),
            "sources": f"{pair['left']['source']} × {pair['right']['source']}"}


def _review_page(request: Request, session: SessionDep, actor: Actor, where: QueueFilter, *,
                 pair_id: int | None = None, after: int | None = None, status: int = 200,
                 notice: str | None = None, error: str | None = None,
                 reason: str = "") -> Response:
    answer = review_cases.read_pair(session, actor=actor, where=where, pair_id=pair_id,
                                    after=None if pair_id is not None else after)
    session.commit()
    pair = _pair_view(answer["pair"]) if answer["pair"] else None
    # A decided pair can still get a vote (a second opinion: agreeing is recorded, disagreeing
    # sends it to second review); a pair in second review only from that queue.
    decidable = pair is not None and pair["status"] != "superseded" and (
        pair["status"] != "second_review" or where.queue == "second")
    context = _review_context(request, session, actor, where)
    links = {name: (f"/consola/revision?{_query(where, par=answer[name])}"
                    if answer[name] else None) for name in ("previous", "next")}
    return page(request, actor, "review.html", status=status, notice=notice, error=error,
                pair=pair, answer=answer, decidable=decidable, links=links, reason=reason,
                skip=(f"/consola/revision?{_query(where, tras=pair['id'])}" if pair else None),
                list_url=f"/consola/revision/lista?{_query(where)}", **context)


@router.get("/revision")
def review(
    request: Request,
    session: SessionDep,
    where: Annotated[QueueFilter, Depends(console_filter)],
    par: int | None = Query(default=None, ge=1, le=ID_MAX),
    tras: int | None = Query(default=None, ge=1, le=ID_MAX),
    hecho: Literal["linked", "not_linked", "second_review"] | None = None,
    decidido: int | None = Query(default=None, ge=1, le=ID_MAX),
    actor: Actor = ConsolePage("reviewer"),
) -> Response:
    """One pair at a time (``par``, or the queue's first, or the one after ``tras``), with the
    counts, the filters and previous/next (same data as ``GET /api/v1/review/next``,
    ``/api/v1/review/{pair_id}`` and ``/api/v1/review/summary``). Keys: s, n, o.

    Example: ``GET /consola/revision?cola=pending&fuentes=reta:care&min=0.7``
    """
    notice = _STATUS_NOTICE[hecho].format(id=decidido) if hecho and decidido else None
    try:
        return _review_page(request, session, actor, where, pair_id=par, after=tras,
                            notice=notice)
    except VinculoError as exc:
        message = refusal_message(request, session, exc)
        return _review_page(request, session, actor, QueueFilter(), status=exc.http_status,
                            error=message)


@router.get("/revision/lista")
def review_list(
    request: Request,
    session: SessionDep,
    where: Annotated[QueueFilter, Depends(console_filter)],
    pagina: int = Query(default=1, ge=1, le=100_000),
    actor: Actor = ConsolePage("reviewer"),
) -> Response:
    """The queue as a list, 20 pairs a page (same data as ``GET /api/v1/review?limit=20``).

    Example: ``GET /consola/revision/lista?pagina=3&cola=second``
    """
    answer = review_cases.read_queue(session, actor=actor, where=where, limit=PAGE_SIZE,
                                     offset=(pagina - 1) * PAGE_SIZE)
    session.commit()
    pages = max(1, -(-answer["total"] // PAGE_SIZE))
    rows = [{**_pair_view(p), "url": f"/consola/revision?{_query(where, par=p['id'])}"}
            for p in answer["pairs"]]
    pager = {"page": pagina, "pages": pages,
             "previous": f"/consola/revision/lista?{_query(where, pagina=pagina - 1)}"
             if pagina > 1 else None,
             "next": f"/consola/revision/lista?{_query(where, pagina=pagina + 1)}"
             if pagina < pages else None}
    return page(request, actor, "review_list.html", rows=rows, total=answer["total"],
                pager=pager, one_url=f"/consola/revision?{_query(where)}",
                **_review_context(request, session, actor, where))


@router.post("/revision/{pair_id}")
def review_decide(
    pair_id: IdPath,
    request: Request,
    session: SessionDep,
    decision: Annotated[str, Form(max_length=20)],
    reason: Annotated[str, Form(max_length=500)] = "",
    votos: Annotated[int | None, Form(ge=0)] = None,
    cola: Annotated[Literal["pending", "second"], Form()] = "pending",
    fuentes: Annotated[str, Form(max_length=81)] = "",
    score_min: Annotated[str, Form(max_length=10, alias="min")] = "",
    score_max: Annotated[str, Form(max_length=10, alias="max")] = "",
    trabajo: Annotated[str, Form(max_length=12)] = "",
    actor: Actor = ConsoleForm("reviewer"),
) -> Response:
    """Vote "Es la misma persona" (link) or "No es la misma persona" (not_link) exactly as
    ``POST /api/v1/review/{pair_id}`` does, with the vote count the page showed: when another
    reviewer voted in between, the page says so (409) and nothing is recorded.

    Example: form ``decision=link&votos=0&csrf=…`` → 303 to the next pair of the queue
    """
    try:
        where = console_filter(cola, fuentes or None, score_min or None, score_max or None,
                               trabajo or None)
    except VinculoError:
        where = QueueFilter()
    if decision not in REVIEW_DECISIONS:
        return _review_page(request, session, actor, where, pair_id=pair_id, status=422,
                            error="decisión inválida (invalid decision)", reason=reason)
    try:
        voted = review_cases.vote(session, actor=actor, pair_id=pair_id, decision=decision,
                                  reason=reason.strip() or None, expected_votes=votos,
                                  now=utcnow())
        session.commit()
    except VinculoError as exc:
        message = refusal_message(request, session, exc)
        try:
            return _review_page(request, session, actor, where, pair_id=pair_id,
                                status=exc.http_status, error=message, reason=reason)
        except VinculoError:
            session.rollback()
            return _review_page(request, session, actor, where, status=exc.http_status,
                                error=message)
    query = _query(where, tras=pair_id, hecho=voted.status, decidido=pair_id)
    return redirect(f"/consola/revision?{query}")


CHANGE_LABELS = {
    "persons_created": "Personas creadas",
    "persons_merged": "Personas unidas (fusiones)",
    "persons_split": "Personas separadas (divisiones)",
    "persons_retired": "Personas retiradas (todos sus registros retirados)",
    "review_pairs_new": "Pares enviados a revisión",
    "review_pairs_superseded": "Pares de revisión resueltos por el enlace",
}


def _elapsed(job: Any, now: datetime) -> str | None:
    """How long the job has run (or ran), as ``1 min 05 s``."""
    if job.started_at is None:
        return None
    seconds = max(0, int(((job.finished_at or now) - job.started_at).total_seconds()))
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def _job_view(job: Any, now: datetime) -> dict[str, Any]:
    counts = job.counts or {}
    return {"job": job, "elapsed": _elapsed(job, now), "percent": round(job.progress * 100),
            "changes": [(label, counts[name]) for name, label in CHANGE_LABELS.items()
                        if name in counts]}


def _jobs_page(request: Request, session: SessionDep, actor: Actor, *, job: Any = None,
               status: int = 200, error: str | None = None) -> Response:
    now = utcnow()
    recent = read_jobs(session, actor=actor)
    session.commit()
    return page(request, actor, "jobs.html", status=status, error=error,
                current=_job_view(job, now) if job is not None else None,
                recent=[_job_view(j, now) for j in recent[:20]], change_labels=CHANGE_LABELS)


@router.get("/trabajos")
def jobs(
    request: Request,
    session: SessionDep,
    id: int | None = id_query("número del trabajo"),
    actor: Actor = ConsolePage("operator"),
) -> Response:
    """Start a linkage job, look one up by number, and the latest 20 jobs with what each
    changed (same data as ``GET /api/v1/jobs``).

    Example: ``GET /consola/trabajos?id=4`` → 303 to ``/consola/trabajos/4``
    """
    if id is not None:
        return redirect(f"/consola/trabajos/{id}")
    return _jobs_page(request, session, actor)


@router.post("/trabajos")
def jobs_start(
    request: Request,
    session: SessionDep,
    actor: Actor = ConsoleForm("operator"),
) -> Response:
    """Start a job with the service's thresholds, as ``POST /api/v1/jobs {}`` does.

    Example: form ``csrf=…`` → 303 to ``/consola/trabajos/5``
    """
    settings = request.app.state.settings
    try:
        job = launch_job(session, actor=actor, upper_threshold=settings.match_upper_threshold,
                         lower_threshold=settings.match_lower_threshold,
                         linkage_schema=settings.linkage_schema,
                         lease_s=settings.job_lease_seconds)
    except VinculoError as exc:
        message = refusal_message(request, session, exc)
        return _jobs_page(request, session, actor, status=exc.http_status, error=message)
    return redirect(f"/consola/trabajos/{job.id}")


@router.get("/trabajos/{job_id}")
def job_status(
    job_id: IdPath,
    request: Request,
    session: SessionDep,
    actor: Actor = ConsolePage("operator"),
) -> Response:
    """Stage, share done and elapsed time of a job, and once finished what it changed (same
    data as ``GET /api/v1/jobs/{job_id}``); the page refreshes itself while the job runs.

    Example: ``GET /consola/trabajos/5``
    """
    try:
        job = read_job(session, actor=actor, job_id=job_id)
        session.commit()
    except VinculoError as exc:
        message = refusal_message(request, session, exc)
        return _jobs_page(request, session, actor, status=exc.http_status, error=message)
    return _jobs_page(request, session, actor, job=job)
