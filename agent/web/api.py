"""REST API (/v1) and the Da Vinci PAS endpoint (/fhir). Thin: each route calls the Service."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import IO, Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError

from agent.cases.model import Case, Decision
from agent.cases.reading import Reading
from agent.errors import NotFoundError, PermissionDenied
from agent.letters.model import MEDIA_TYPES
from agent.store.audit import ReviewStatus
from agent.store.reviews import ReviewRecord
from agent.web.auth import Role, TokenStore
from agent.web.bodies import spooled_body
from agent.web.deps import Admin, Physician, Reviewer, Svc
from agent.web.guard import fhir_error

log = logging.getLogger("umreview.web")
router = APIRouter(prefix="/v1", tags=["reviews"])
fhir_router = APIRouter(prefix="/fhir", tags=["fhir"])
tokens_router = APIRouter(prefix="/v1/tokens", tags=["tokens"])


class ReviewSummary(BaseModel):
    id: str
    case_id: str
    status: str
    urgency: str
    received_at: datetime
    due_at: datetime
    overdue: bool
    recommendations: dict[str, str]
    final_decisions: dict[str, str]
    red_flags: list[str]
    backend: str
    criteria_set: str
    kb_version: str


class ReviewOut(BaseModel):
    review: ReviewSummary
    case: dict[str, Any]
    determination: dict[str, Any]


def summary(rec: ReviewRecord) -> ReviewSummary:
    return ReviewSummary(
        id=rec.id,
        case_id=rec.case_id,
        status=rec.status.value,
        urgency=rec.urgency.value,
        received_at=rec.received_at,
        due_at=rec.due_at,
        overdue=rec.overdue(),
        recommendations={k: v.value for k, v in rec.recommendations.items()},
        final_decisions={k: v.value for k, v in rec.final_decisions.items()},
        red_flags=rec.determination.red_flags,
        backend=rec.backend,
        criteria_set=rec.criteria_set,
        kb_version=rec.kb_version,
    )


def full(rec: ReviewRecord) -> ReviewOut:
    return ReviewOut(
        review=summary(rec),
        case=rec.case.model_dump(mode="json"),
        determination=rec.determination.model_dump(mode="json"),
    )


CASE_BODY = {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Case"}}}}


def case_from_json(body: IO[bytes]) -> Case:
    """A Case from a JSON body in a file; errors as FastAPI's own (``RequestValidationError``, located in ``body``)."""
    text = io.TextIOWrapper(body, encoding="utf-8-sig")
    try:
        data = json.load(text)
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, or a number of thousands of digits
        pos = exc.pos if isinstance(exc, json.JSONDecodeError) else 0
        raise RequestValidationError([{"type": "json_invalid", "loc": ("body", pos), "msg": "JSON decode error"}]) from None
    finally:
        text.detach()
    try:
        return Case.model_validate(data)
    except ValidationError as exc:
        errors = [{"type": e["type"], "loc": ("body", *e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        raise RequestValidationError(errors) from None


@router.post("/reviews", status_code=201, response_model=ReviewOut, openapi_extra={"requestBody": CASE_BODY})
async def submit_review(request: Request, who: Reviewer, svc: Svc, policy: str | None = None) -> ReviewOut:
    """Review a case (the case-file format as JSON) and store the recommendation. The body streams to a
    temporary file (up to UMREVIEW_MAX_BODY_BYTES) before it is read."""
    async with spooled_body(request, svc.settings) as body:
        case = await run_in_threadpool(case_from_json, body)
    return full(await run_in_threadpool(svc.submit, case, actor=who.name, policy=policy))


def with_case_schema(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """``app.openapi`` with the Case models in ``components.schemas`` (the review route reads its body itself)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes, tags=app.openapi_tags
            )
            defs = Case.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(defs.pop("$defs", {}))
            components["Case"] = defs
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi


@router.get("/reviews", response_model=list[ReviewSummary])
def list_reviews(
    who: Reviewer,
    svc: Svc,
    status: ReviewStatus | None = None,
    decision: Decision | None = None,
    overdue: bool | None = None,
    due_before: Annotated[datetime | None, Query(description="only reviews due at or before this time (ISO 8601)")] = None,
    order: Annotated[Literal["newest", "due"], Query(description="newest first, or soonest due first")] = "newest",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[ReviewSummary]:
    """The review queue (no note text), a page at a time: ``limit`` reviews after skipping ``offset``."""
    records = svc.store.list_reviews(
        status=status, decision=decision, overdue=overdue, due_before=due_before, order=order, limit=limit, offset=offset
    )
    return [summary(r) for r in records]


@router.get("/reviews/{review_id}", response_model=ReviewOut)
def get_review(review_id: str, who: Reviewer, svc: Svc) -> ReviewOut:
    return full(svc.get(review_id))


@router.get("/reviews/{review_id}/reading", response_model=Reading)
def get_reading(review_id: str, who: Reviewer, svc: Svc) -> Reading:
    """How the rules reader read the documentation: documents (date, kind, sections), the care timeline per
    region and the red-flag findings, each quote with its offsets into the documentation (``Request.documentation``)."""
    return svc.reading(svc.get(review_id))


class Question(BaseModel):
    question: str = Field(min_length=1, max_length=2000)


class AnswerOut(BaseModel):
    kind: str
    intent: str | None = None
    text: str
    citations: list[dict[str, Any]]
    note_quotes: list[dict[str, Any]]
    quotes: list[dict[str, Any]] = Field(
        default_factory=list, description="verbatim quotes of the documentation with document, section and date"
    )
    changed: dict[str, tuple[str, str]]
    citation_problems: list[str]


@router.post("/reviews/{review_id}/questions", response_model=AnswerOut)
def ask(review_id: str, body: Question, who: Reviewer, svc: Svc) -> AnswerOut:
    """A follow-up question about the case, answered with checked citations (logged in the audit trail)."""
    answer, problems = svc.ask(review_id, body.question, actor=who.name)
    return AnswerOut(
        kind=answer.kind,
        intent=answer.intent,
        text=answer.text,
        citations=[c.model_dump() for c in answer.citations],
        note_quotes=[q.model_dump() for q in answer.note_quotes],
        quotes=[q.model_dump(mode="json") for q in answer.quotes],
        changed=answer.changed,
        citation_problems=problems,
    )


class SignIn(BaseModel):
    reviewer: str | None = Field(
        default=None,
        max_length=200,
        description="Optional check: must equal the signed-in token's name, under which the sign-off is recorded.",
    )
    credentials: str = Field(min_length=1, max_length=300)
    decision: Literal["uphold", "overturn"]
    reason: str | None = Field(default=None, max_length=4000)


@router.post("/reviews/{review_id}/sign", response_model=ReviewSummary)
def sign(review_id: str, body: SignIn, who: Physician, svc: Svc) -> ReviewSummary:
    """Physician sign-off: uphold makes recommended denials final; overturn needs a reason.

    The signer is the physician the API token belongs to; a ``reviewer`` in the body that names
    someone else is refused, so nobody signs in another physician's name."""
    if body.reviewer is not None and body.reviewer.strip() != who.name:
        raise PermissionDenied(
            f"this token belongs to {who.name!r}; a sign-off is recorded under the signed-in physician's name, "
            "so leave 'reviewer' out or send that name"
        )
    record = svc.sign(
        review_id,
        reviewer=who.name,
        credentials=body.credentials,
        decision=body.decision,
        reason=body.reason,
        role=who.role.value,
    )
    return summary(record)


@router.get("/reviews/{review_id}/letter", responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}})
def letter(
    review_id: str,
    who: Reviewer,
    svc: Svc,
    format: Literal["md", "html", "pdf", "docx"] = "html",
    audience: Literal["member", "provider"] = "member",
    line_of_business: Literal["commercial", "medicare-advantage", "medicaid"] = "commercial",
) -> Response:
    """The denial-letter draft (DRAFT until a physician signs)."""
    content = svc.letter(review_id, fmt=format, audience=audience, line_of_business=line_of_business, actor=who.name)
    return Response(
        content,
        media_type=MEDIA_TYPES[format],
        headers={"content-disposition": f'attachment; filename="{review_id}-{audience}-letter.{format}"'},
    )


@router.get("/chunks/{chunk_id:path}")
def chunk(chunk_id: str, who: Reviewer, svc: Svc) -> dict[str, Any]:
    """A guideline chunk by id (what citations point at)."""
    found = svc.kb.corpus.chunk(chunk_id)
    if found is None:
        raise NotFoundError(f"no guideline chunk {chunk_id!r} in knowledge base {svc.kb.version}")
    return {
        "id": found.id,
        "document": found.document_title,
        "version": found.document_version,
        "section": found.section,
        "text": found.text,
    }


PAS_BODY = {
    "required": True,
    "content": {t: {"schema": {"type": "object"}} for t in ("application/fhir+json", "application/json")},
}


FHIR_JSON = ("application/fhir+json", "application/json")


def _fhir_media_type(request: Request) -> JSONResponse | None:
    """A 415 OperationOutcome unless the body is JSON (a missing Content-Type is taken as JSON)."""
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if not kind or kind in FHIR_JSON:
        return None
    return fhir_error(
        415,
        f"Content-Type {kind[:60]!r} is not supported: send the Bundle as FHIR JSON (application/fhir+json); "
        "XML and other formats are not accepted",
    )


@fhir_router.post("/Claim/$submit", openapi_extra={"requestBody": PAS_BODY})
async def fhir_submit(request: Request, who: Reviewer, svc: Svc) -> JSONResponse:
    """Da Vinci PAS $submit: a PAS request Bundle in, a PAS response Bundle out (ClaimResponse first).

    The body streams to a temporary file (up to UMREVIEW_MAX_BODY_BYTES). A Bundle that cannot be
    processed gets an OperationOutcome (4xx) naming the FHIR path."""
    refused = _fhir_media_type(request)
    if refused is not None:
        return refused
    async with spooled_body(request, svc.settings) as body:
        status, answer = await run_in_threadpool(svc.fhir_submit, body, actor=who.name)
    return JSONResponse(answer, status_code=status, media_type="application/fhir+json")


@fhir_router.post("/Claim/$inquire", openapi_extra={"requestBody": PAS_BODY})
async def fhir_inquire(request: Request, who: Reviewer, svc: Svc) -> JSONResponse:
    """Da Vinci PAS $inquire: a PAS inquiry Bundle in; a Parameters resource out with one PAS response
    Bundle (``return``) per earlier request that matches, pended until a physician signs, then the signed
    decisions. No match: an empty result with an informational OperationOutcome (``outcome``)."""
    refused = _fhir_media_type(request)
    if refused is not None:
        return refused
    async with spooled_body(request, svc.settings) as body:
        status, answer = await run_in_threadpool(svc.fhir_inquire, body)
    return JSONResponse(answer, status_code=status, media_type="application/fhir+json")


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="who the token is for, e.g. dr.lee")
    role: Role = Role.reviewer


class TokenOut(BaseModel):
    id: str | None = Field(description="null for tokens declared in configuration")
    name: str
    role: Role
    created_at: datetime | None = None
    revoked: bool = False
    source: Literal["database", "config"] = "database"


class TokenCreated(TokenOut):
    token: str = Field(description="shown once; only its SHA-256 is stored")


def _tokens(request: Request) -> TokenStore:
    return request.app.state.tokens  # type: ignore[no-any-return]  # set by create_app


@tokens_router.post("", status_code=201, response_model=TokenCreated)
def create_token(body: TokenIn, who: Admin, request: Request) -> TokenCreated:
    """Create an API token (admins only). The token is in this response and nowhere else."""
    row, token = _tokens(request).issue(body.name, body.role, actor=who.name)
    log.info("token %s (%s) created by %s", row.id, row.role, who.name)
    return TokenCreated(id=row.id, name=row.name, role=Role(row.role), created_at=row.created_at, token=token)


@tokens_router.get("", response_model=list[TokenOut])
def list_tokens(who: Admin, request: Request) -> list[TokenOut]:
    """Every token's id, name and role (never the token)."""
    store = _tokens(request)
    stored = [TokenOut(id=r.id, name=r.name, role=Role(r.role), created_at=r.created_at, revoked=r.revoked) for r in store.list()]
    declared = [TokenOut(id=None, name=t.name, role=Role(t.role), source="config") for t in store.configured.values()]
    return stored + declared


@tokens_router.delete("/{token_id}", status_code=204)
def revoke_token(token_id: str, who: Admin, request: Request) -> Response:
    """Revoke a stored token (tokens declared in configuration are removed from the configuration)."""
    _tokens(request).revoke(token_id, actor=who.name)
    log.info("token %s revoked by %s", token_id, who.name)
    return Response(status_code=204)
