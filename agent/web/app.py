"""The umreview web service: REST API under /v1, FHIR PAS endpoint, and the reviewer workbench.

    umreview serve --host 127.0.0.1 --port 8000 --workers 2

Authentication is on by default (API tokens with roles; browser sessions carry the token in an
HttpOnly cookie plus a CSRF token for forms). Access logs carry method, route, status and time
only: no query strings, bodies or note text. Every error is JSON ``{"error": {status, code, message}}``
on /v1 and /fhir, a readable page in the workbench.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent import __version__
from agent.errors import (
    CaseFileError,
    ConfigError,
    KnowledgeBaseError,
    NotFoundError,
    PermissionDenied,
    RequestTooLarge,
    SignOffError,
    StoreError,
    UmreviewError,
)
from agent.knowledge.documents import builtin_guidelines_dir
from agent.service import Service
from agent.settings import Settings, get_settings
from agent.store.files import private_dir
from agent.web import api, pages
from agent.web.auth import TokenStore
from agent.web.deps import principal
from agent.web.guard import RequestGuard, error_body, fhir_error, public_message, wants_fhir, wants_html
from agent.web.views import error_page

log = logging.getLogger("umreview.web")
STATIC = Path(__file__).parent / "static"
MAX_BODY_BYTES = 2_000_000  # every route but the UPLOAD_ROUTES
UPLOAD_ROUTES = frozenset({"/v1/reviews", "/new", "/fhir/Claim/$submit", "/fhir/Claim/$inquire"})  # UMREVIEW_MAX_BODY_BYTES
STATUS_FOR = {
    RequestTooLarge: 413,
    CaseFileError: 422,
    NotFoundError: 404,
    PermissionDenied: 403,
    SignOffError: 409,
    StoreError: 503,  # the database is down: retry later, not the caller's mistake
    KnowledgeBaseError: 503,
    ConfigError: 500,
}
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    422: "invalid_request",
    503: "unavailable",
}
DOC_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")


async def too_deep(request: Request, exc: Exception) -> Response:
    """Deeply nested JSON or YAML (a RecursionError while parsing): the caller's mistake, answered
    with a 422 and one log line, not a 500 with a stack of thousands of lines."""
    log.warning("refused a request nested too deeply to parse on %s", request.url.path)
    message = "the request is nested too deeply to read; send a case as in the case format"
    if wants_fhir(request.url.path):
        return fhir_error(422, "the request is nested too deeply to read; send a FHIR R4 Bundle")
    if wants_html(request.url.path):
        return error_page(request, 422, message)
    return JSONResponse(error_body(422, "too_deeply_nested", message), status_code=422)


def docs_router(app: FastAPI, *, public: bool) -> APIRouter:
    """/openapi.json, /docs and /redoc: behind a token (any role) unless ``public`` (UMREVIEW_PUBLIC_API_DOCS)."""
    docs = APIRouter(include_in_schema=False, dependencies=[] if public else [Depends(principal)])

    @docs.get("/openapi.json")
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @docs.get("/docs")
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="umreview API")

    @docs.get("/redoc")
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title="umreview API")

    return docs


def create_app(settings: Settings | None = None, *, service: Service | None = None) -> FastAPI:
    settings = settings or get_settings()
    private_dir(settings.data_dir)  # notes, the token file and the LLM cache live here: owner only
    service = service or Service(settings)
    app = FastAPI(
        title="umreview",
        version=__version__,
        docs_url=None,  # served below: behind a token unless UMREVIEW_PUBLIC_API_DOCS
        redoc_url=None,
        openapi_url=None,
        description="Utilization review of spine-imaging requests: cited recommendations, validated by rules. "
        "A deny is a recommendation until a physician reviewer signs it.",
    )
    app.state.service = service
    app.state.tokens = TokenStore(service.store, settings.api_tokens)
    created = app.state.tokens.ensure_admin(settings.data_dir)
    if created:
        log.warning("First start: an admin API token was created and written to %s (readable by you only).", created)

    app.add_middleware(
        RequestGuard, max_body_bytes=MAX_BODY_BYTES, upload_routes=UPLOAD_ROUTES, upload_limit=settings.max_body_bytes
    )
    app.add_exception_handler(RecursionError, too_deep)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if wants_fhir(request.url.path):
            return fhir_error(exc.status_code, str(exc.detail))
        if exc.status_code == 401 and wants_html(request.url.path):
            return Response(status_code=303, headers={"location": f"/login?next={request.url.path}"})
        if wants_html(request.url.path):
            return error_page(request, exc.status_code, str(exc.detail))
        code = HTTP_CODES.get(exc.status_code, "error")
        return JSONResponse(error_body(exc.status_code, code, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        field = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{field}: {first.get('msg')}" if field else str(first.get("msg"))
        if wants_fhir(request.url.path):
            return fhir_error(422, message)
        return JSONResponse(error_body(422, "invalid_request", message), status_code=422)  # no input values echoed

    hidden = {
        f"the audit store {service.store.safe_url}": "the audit store",
        service.store.safe_url: "the audit store",
        str(settings.data_dir): "<data dir>",
        str(builtin_guidelines_dir()): "the built-in guidelines",
        settings.chroma_url or "": "the Chroma server",
    }

    @app.exception_handler(UmreviewError)
    async def domain_error(request: Request, exc: UmreviewError) -> Response:
        status = next((s for cls, s in STATUS_FOR.items() if isinstance(exc, cls)), 400)
        if status >= 500:
            log.error("server error: %s", exc.__class__.__name__)
        message = public_message(str(exc), secrets=hidden)
        if wants_fhir(request.url.path):
            where = [exc.field] if isinstance(exc, CaseFileError) and exc.field else None
            return fhir_error(status, message, expression=where)
        if wants_html(request.url.path):
            return error_page(request, status, message)
        return JSONResponse(error_body(status, exc.__class__.__name__, message), status_code=status)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["ops"])
    def readyz() -> JSONResponse:
        """Readiness: the audit database and the knowledge base can be used."""
        try:
            service.store.counts()
            version = service.kb.version
        except UmreviewError as exc:
            return JSONResponse(error_body(503, "not_ready", public_message(str(exc), secrets=hidden)), status_code=503)
        return JSONResponse({"status": "ready", "kb_version": version})

    app.include_router(docs_router(app, public=settings.public_api_docs))
    app.include_router(api.router)
    app.openapi = api.with_case_schema(app)  # type: ignore[method-assign]  # FastAPI's documented way to customise
    app.include_router(api.fhir_router)
    app.include_router(api.tokens_router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
