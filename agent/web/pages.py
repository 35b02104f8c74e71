"""Server-rendered workbench pages: sign-in, queue, new review, case view, guideline chunk."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast
from urllib.parse import urlencode

import yaml
from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool

from agent.cases.attachments import SUFFIX_FOR, DocumentError, OcrLimits, media_type_for, read_stream
from agent.cases.model import Decision, case_from_data
from agent.cases.reading import ASSERTION_WORDS
from agent.errors import CaseFileError, NotFoundError, RequestTooLarge
from agent.letters.model import MEDIA_TYPES, Audience, LetterFormat, LineOfBusiness
from agent.store.audit import ReviewStatus
from agent.web.auth import Role, csrf_ok
from agent.web.deps import CSRF_COOKIE, TOKEN_COOKIE, Overseer, Physician, Reviewer, service
from agent.web.note_view import note_view
from agent.web.views import error_page, render, secure_cookies

if TYPE_CHECKING:
    from agent.evals.oversight import Bucket

router = APIRouter(include_in_schema=False)
QUEUE_PAGE = 100  # reviews per queue page


def local_target(target: str) -> str:
    """Where to go after sign-in: a path on this site, else '/'. Browsers read '//x', '/\\x' and
    '/<tab>/x' as another host, so those are refused too (no open redirect)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target or any(ord(c) < 33 for c in target):
        return "/"
    return target


@router.get("/login")
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html", next=local_target(next), who=None, error=None)


@router.post("/login")
def login(
    request: Request,
    token: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    # The sign-in form carries the CSRF token too, so another site cannot sign a reviewer in
    # under its own token (login CSRF) and collect what they then submit.
    if not csrf_ok(request.cookies.get(CSRF_COOKIE), csrf_token):
        error = "The sign-in form expired or came from another site; please sign in again."
        return render(request, "login.html", http_status=403, next=local_target(next), who=None, error=error)
    who = request.app.state.tokens.lookup(token.strip())
    if who is None:
        error = "That token is not valid or was revoked."
        return render(request, "login.html", http_status=401, next=local_target(next), who=None, error=error)
    response = RedirectResponse(local_target(next), status_code=303)
    response.set_cookie(
        TOKEN_COOKIE, token.strip(), httponly=True, samesite="strict", max_age=12 * 3600, secure=secure_cookies(request)
    )
    return response


@router.post("/logout")
def logout(request: Request, who: Reviewer) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(TOKEN_COOKIE, httponly=True, samesite="strict", secure=secure_cookies(request))
    return response


@router.get("/")
def queue(
    request: Request,
    who: Reviewer,
    status: str | None = None,
    decision: str | None = None,
    overdue: bool | None = None,
    order: str = "due",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    for name, value, allowed in (("status", status, ReviewStatus), ("decision", decision, Decision)):
        if value and value not in {m.value for m in allowed}:
            return error_page(request, 422, f"unknown {name} filter; use one of {', '.join(m.value for m in allowed)}")
    if order not in ("due", "newest"):
        return error_page(request, 422, "unknown order; use due or newest")
    records = service(request).store.list_reviews(
        status=status or None,
        decision=decision or None,
        overdue=overdue,
        order="due" if order == "due" else "newest",
        limit=QUEUE_PAGE + 1,  # one more than shown: is there a next page?
        offset=(page - 1) * QUEUE_PAGE,
    )
    filters = {k: v for k, v in {"status": status, "decision": decision, "overdue": overdue, "order": order}.items() if v}
    return render(
        request,
        "queue.html",
        who=who,
        records=records[:QUEUE_PAGE],
        status=status,
        decision=decision,
        overdue=overdue,
        order=order,
        page=page,
        has_next=len(records) > QUEUE_PAGE,
        query=lambda n: urlencode({**filters, "page": n}),
    )


def _policies(request: Request) -> dict[str, Any]:
    svc = service(request)
    return {"policies": svc.kb.policies(), "default_policy": svc.settings.policy}


@dataclass
class QuickForm:
    """The request typed into the /new form's fields (used with a packet and no case text)."""

    codes: str = ""
    age: str = ""
    sex: str = "unknown"
    urgency: str = "standard"

    def case_data(self) -> dict[str, Any]:
        codes = [c for c in re.split(r"[\s,;]+", self.codes.strip()) if c]
        age: Any = self.age.strip() or None  # blank: unknown, never 0
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        return {
            "id": f"packet-{stamp}",
            "request": {
                "patient": {"age": age, "sex": self.sex},
                "procedures": [{"code": c} for c in codes],
                "urgency": self.urgency,
            },
        }


def _new(
    request: Request, who: Any, *, status: int = 200, error: str | None = None, text: str = "", form: QuickForm | None = None
) -> HTMLResponse:
    return render(
        request, "new.html", http_status=status, who=who, error=error, text=text, form=form or QuickForm(), **_policies(request)
    )


@router.get("/new")
def new_page(request: Request, who: Reviewer) -> HTMLResponse:
    return _new(request, who)


def _case_data(case_text: str, source: str) -> dict[str, Any]:
    """The case text (YAML, JSON or a PAS Bundle) as case-format data; ``CaseFileError`` / ``ValueError`` if bad."""
    data = json.loads(case_text) if case_text.lstrip().startswith("{") else yaml.safe_load(case_text)
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        from agent.cases.fhir import case_from_bundle

        return case_from_bundle(data, source=source).model_dump(mode="json")
    if not isinstance(data, dict):
        case_from_data(data, source)  # raises, naming what was expected
    return cast("dict[str, Any]", data)


def read_packet(files: list[UploadFile], limits: OcrLimits) -> list[dict[str, Any]]:
    """Each uploaded document as an attachment (read from its spooled file: text, PDF text layer or OCR).

    A file of a type that cannot hold documentation is refused with its name (``CaseFileError``); a document
    that cannot be read becomes an ``unreadable`` attachment, so the request is pended for a legible copy."""
    found = []
    for upload in files:
        name = Path(upload.filename or "document").name[:120]
        media = media_type_for(name) or (upload.content_type if upload.content_type in SUFFIX_FOR else None)
        if media is None:
            raise CaseFileError(
                name, "packet", "this type of file cannot be read; upload .pdf, .png, .jpg, .tif, .txt, .md or .html documents"
            )
        try:
            doc = read_stream(upload.file, media, name=name, limits=limits)
        except DocumentError as exc:
            found.append({"title": name, "unreadable": str(exc)})
            continue
        att: dict[str, Any] = {"title": name, "text": doc.text, "media_type": doc.media_type, "ocr_pages": doc.ocr_pages}
        if doc.pages is not None:
            att["pages"] = doc.pages
        if doc.date:
            att["date"] = doc.date.isoformat()
        found.append(att)
    return found


@router.post("/new")
async def submit(
    request: Request,
    who: Reviewer,
    case_text: Annotated[str, Form()] = "",
    case_file: Annotated[UploadFile | None, File()] = None,
    packet: Annotated[list[UploadFile] | None, File()] = None,
    policy: Annotated[str, Form()] = "",
    codes: Annotated[str, Form(max_length=200)] = "",
    age: Annotated[str, Form(max_length=10)] = "",
    sex: Annotated[str, Form(max_length=10)] = "unknown",
    urgency: Annotated[str, Form(max_length=10)] = "standard",
) -> Response:
    quick = QuickForm(codes=codes, age=age, sex=sex, urgency=urgency)
    choices = _policies(request)
    if policy and policy not in choices["policies"]:
        error = f"unknown criteria set {policy!r}; choose one of {', '.join(choices['policies'])}"
        return _new(request, who, status=422, error=error, text=case_text, form=quick)
    source = "submitted case"
    if case_file is not None and case_file.filename:
        source = Path(case_file.filename).name
        try:
            case_text = (await case_file.read()).decode("utf-8")
        except UnicodeDecodeError:
            error = f"{source}: the file is not UTF-8 text; upload a YAML or JSON case file or a FHIR Bundle."
            return _new(request, who, status=422, error=error, form=quick)
    uploads = [f for f in packet or [] if f.filename]
    if not case_text.strip() and not (uploads and quick.codes.strip()):
        error = (
            "Give the procedure codes (and the patient's age) for the packet, or paste the request."
            if uploads
            else "Paste a request or choose a file."
        )
        return _new(request, who, status=422, error=error, form=quick)
    try:
        data = _case_data(case_text, source) if case_text.strip() else quick.case_data()
        if uploads:
            limits = OcrLimits.from_settings()
            attachments = await run_in_threadpool(read_packet, uploads, limits)
            req = data.get("request")
            if isinstance(req, dict):
                req["attachments"] = [*(req.get("attachments") or []), *attachments]
                dates = [a["date"] for a in attachments if a.get("date")]
                if dates and not req.get("note_date"):
                    req["note_date"] = max(dates)
        case = case_from_data(data, source)
    except (yaml.YAMLError, ValueError):  # ValueError: JSONDecodeError, or a number of thousands of digits
        error = f"{source}: the text is neither valid YAML nor JSON."
        return _new(request, who, status=422, error=error, text=case_text, form=quick)
    except RecursionError:
        error = f"{source}: the text is nested too deeply to read; paste a case as in the case format."
        return _new(request, who, status=422, error=error, form=quick)
    except CaseFileError as exc:
        return _new(request, who, status=422, error=str(exc), text=case_text, form=quick)
    try:
        record = await run_in_threadpool(service(request).submit, case, actor=who.name, policy=policy or None)
    except (RequestTooLarge, CaseFileError) as exc:  # over a per-request limit
        status = 413 if isinstance(exc, RequestTooLarge) else 422
        return _new(request, who, status=status, error=str(exc), form=quick)
    return RedirectResponse(f"/reviews/{record.id}", status_code=303)


@router.get("/reviews/{review_id}")
def case_view(request: Request, review_id: str, who: Reviewer) -> HTMLResponse:
    svc = service(request)
    record = svc.get(review_id)
    det = record.determination
    reading = svc.reading(record)  # a review stored before readings were kept: the case read again
    view = note_view(record.case.request.documentation, det, reading)
    events = svc.store.events(review_id)
    chat = [e for e in events if e.kind.value == "asked"]
    return render(
        request,
        "case.html",
        who=who,
        record=record,
        det=det,
        case=record.case,
        segments=view.segments,
        anchors=view.anchors,
        view=view,
        reading=reading,
        assertion_words=ASSERTION_WORDS,
        events=events,
        chat=chat,
        can_sign=who.can(Role.physician) and not record.is_final,
        has_deny=any(d.decision.value == "deny" for d in det.determinations),
    )


Question = Annotated[str, Form(min_length=1, max_length=2000)]  # as in the API


@router.post("/reviews/{review_id}/ask")
def ask(request: Request, review_id: str, question: Question, who: Reviewer) -> HTMLResponse:
    answer, problems = service(request).ask(review_id, question, actor=who.name)
    return render(request, "answer.html", who=who, question=question, answer=answer, problems=problems)


@router.post("/reviews/{review_id}/sign")
def sign(
    request: Request,
    review_id: str,
    credentials: Annotated[str, Form()],
    decision: Annotated[str, Form()],
    who: Physician,
    reason: Annotated[str, Form()] = "",
) -> Response:
    svc = service(request)
    svc.sign(review_id, reviewer=who.name, credentials=credentials, decision=decision, reason=reason or None, role=who.role.value)
    return RedirectResponse(f"/reviews/{review_id}#signoff", status_code=303)


@router.get("/reviews/{review_id}/letter.{fmt}")
def letter(
    request: Request,
    review_id: str,
    fmt: str,
    who: Reviewer,
    audience: str = "member",
    line_of_business: str = "commercial",
) -> Response:
    if fmt not in MEDIA_TYPES:
        raise NotFoundError(f"no letter format {fmt!r}; use one of {', '.join(MEDIA_TYPES)}")
    content = service(request).letter(  # draft_letter refuses an unknown audience or line of business
        review_id,
        fmt=cast("LetterFormat", fmt),
        audience=cast("Audience", audience),
        line_of_business=cast("LineOfBusiness", line_of_business),
        actor=who.name,
    )
    disposition = "inline" if fmt == "html" else "attachment"
    return Response(
        content,
        media_type=MEDIA_TYPES[fmt],
        headers={"content-disposition": f'{disposition}; filename="{review_id}-{audience}-letter.{fmt}"'},
    )


@router.get("/oversight")
def oversight_page(
    request: Request,
    who: Overseer,
    since: str = "",
    bucket: str = "week",
) -> HTMLResponse:
    """Agreement of sign-offs with the recommendations (physicians and admins only)."""
    from agent.evals.charts import bars_svg, timeline_svg
    from agent.evals.oversight import BUCKETS, DIMENSIONS, oversight_report

    if bucket not in BUCKETS:
        return error_page(request, 422, f"unknown bucket; use one of {', '.join(BUCKETS)}")
    try:
        start = date.fromisoformat(since) if since else None
    except ValueError:
        return error_page(request, 422, "since is not a date; give YYYY-MM-DD, e.g. 2026-11-01")
    svc = service(request)
    settings = svc.settings
    report = oversight_report(
        svc.store,
        threshold=settings.oversight_overturn_alert,
        window_days=settings.oversight_window_days,
        min_codes=settings.oversight_min_codes,
        since=start,
        bucket=cast("Bucket", bucket),
    )
    charts = {d: Markup(bars_svg(report.breakdowns[d], title=f"Overturn rate by {DIMENSIONS[d].lower()}")) for d in DIMENSIONS}
    return render(
        request,
        "oversight.html",
        who=who,
        report=report,
        dimensions=DIMENSIONS,
        buckets=BUCKETS,
        timeline=Markup(timeline_svg(report.timeline, threshold=settings.oversight_overturn_alert)),
        charts=charts,
    )


@router.get("/chunks/{chunk_id:path}")
def chunk_page(request: Request, chunk_id: str, who: Reviewer, q: str = "") -> HTMLResponse:
    svc = service(request)
    found = svc.kb.corpus.chunk(chunk_id)
    if found is None:
        raise NotFoundError(f"no guideline chunk {chunk_id!r} in knowledge base {svc.kb.version}")
    text = escape(found.text)
    if q and q in found.text:
        text = Markup(str(text).replace(str(escape(q)), f'<mark class="cited">{escape(q)}</mark>', 1))
    doc = svc.kb.corpus.document(found.document_id)
    return render(request, "chunk.html", who=who, chunk=found, text=text, doc=doc)
