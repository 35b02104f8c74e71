"""The outermost layer of the web app: request-size limit, security headers, PHI-free access log,
last-resort 500.

Every response gets a Content-Security-Policy (scripts and styles from this site only; the API docs
pages also load Swagger UI / ReDoc from their CDN), frame-ancestors 'none' and X-Frame-Options,
nosniff, no Referer, and ``Cache-Control: no-store`` (pages, letters and API replies hold notes; only
/static may be cached). Requests over https also get Strict-Transport-Security.

A plain ASGI middleware rather than ``@app.middleware("http")`` so that it sees the body as it
streams: a chunked upload without a Content-Length header is cut off at the limit too, not read to
the end. Unexpected exceptions are logged by type and stack only (their message can quote request
data, e.g. a validation error holding the note) and are not re-raised, so uvicorn does not print
them either.
"""

from __future__ import annotations

import logging
import re
import time
import traceback

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.web.views import error_page

log = logging.getLogger("umreview.web")
access_log = logging.getLogger("umreview.access")


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_CSP = (  # Swagger UI and ReDoc pages: FastAPI's HTML loads them from jsDelivr with an inline script
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; font-src https://fonts.gstatic.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
TRACE_FRAMES = 20  # a logged stack keeps its innermost frames only (deep recursion made thousands of lines)


def add_security_headers(headers: MutableHeaders, path: str, scheme: str) -> None:
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    headers.setdefault("content-security-policy", DOCS_CSP if path in ("/docs", "/redoc") else CSP)
    if not path.startswith("/static/"):
        headers["cache-control"] = "no-store"
    if scheme == "https":
        headers.setdefault("strict-transport-security", "max-age=31536000")


def error_body(status: int, code: str, message: str) -> dict[str, dict[str, object]]:
    return {"error": {"status": status, "code": code, "message": message}}


_ABSOLUTE_PATH = re.compile(r"(?<![\w:/.])/(?:[\w.~+-]+/)+[\w.~+-]*")


def public_message(message: str, *, secrets: dict[str, str]) -> str:
    """An error message fit for a caller outside the server: the audit-store URL, the data
    directory and other server-side locations (``secrets``: text -> what to say instead) and any
    remaining absolute file path are replaced, so errors do not map the server's disk."""
    for text, label in sorted(secrets.items(), key=lambda kv: -len(kv[0])):
        if text:
            message = message.replace(text, label)
    return _ABSOLUTE_PATH.sub("<server path>", message)


def wants_html(path: str) -> bool:
    """Workbench pages get HTML error pages; the API, FHIR and probes get JSON."""
    return not (path.startswith(("/v1", "/fhir")) or path in ("/healthz", "/readyz", "/openapi.json"))


def wants_fhir(path: str) -> bool:
    """Every error under /fhir is an OperationOutcome (FHIR clients read no other error shape)."""
    return path == "/fhir" or path.startswith("/fhir/")


def fhir_error(status: int, message: str, *, expression: list[str] | None = None) -> JSONResponse:
    from agent.cases.pas_response import outcome

    return JSONResponse(outcome(status, message, expression=expression), status_code=status, media_type="application/fhir+json")


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int, setting: str | None = None) -> None:
        where = f"the limit of {limit:,} bytes ({setting})" if setting else f"the {limit:,}-byte limit of this route"
        advice = "; send fewer or smaller documents, or ask the operator to raise it" if setting else ""
        super().__init__(413, f"the request body is over {where}{advice}")


class RequestGuard:
    """``upload_routes`` (exact paths) carry documents and may send up to ``upload_limit`` bytes
    (``UMREVIEW_MAX_BODY_BYTES``); every other route ``max_body_bytes``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        upload_routes: frozenset[str] = frozenset(),
        upload_limit: int | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.upload_routes = upload_routes
        self.upload_limit = upload_limit or max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status, received = time.perf_counter(), 0, 0
        upload = scope["path"] in self.upload_routes
        limit, setting = (self.upload_limit, "UMREVIEW_MAX_BODY_BYTES") if upload else (self.max_body_bytes, None)

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                add_security_headers(MutableHeaders(scope=message), scope["path"], scope.get("scheme", "http"))
            await send(message)

        async def receiving() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit, setting)  # FastAPI re-raises it; the app's handler answers
            return message

        length = Headers(scope=scope).get("content-length")
        try:
            if length is not None and (not length.isdigit() or int(length) > limit):
                raise BodyTooLarge(limit, setting)
            await self.app(scope, receiving, sending)
        except BodyTooLarge as exc:
            if not status:
                await self._reply(scope, sending, 413, "payload_too_large", str(exc.detail))
        except Exception as exc:
            route = getattr(scope.get("route"), "path", "unmatched")
            stack = "".join(traceback.format_tb(exc.__traceback__)[-TRACE_FRAMES:])
            log.error(
                "unexpected %s on %s %s (message withheld: it may quote request data)\n%s",
                type(exc).__name__,
                scope["method"],
                route,
                stack,
            )
            if not status:
                await self._reply(scope, sending, 500, "internal_error", "internal error; see the server log")
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")  # the route template, never ids or query strings
            ms = 1000 * (time.perf_counter() - started)
            access_log.info("%s %s %s %.0fms", scope["method"], route, status, ms)

    async def _reply(self, scope: Scope, send: Send, status: int, code: str, message: str) -> None:
        response: Response
        if wants_fhir(scope["path"]):
            response = fhir_error(status, message)
        elif wants_html(scope["path"]):
            response = error_page(Request(scope), status, message)
        else:
            response = JSONResponse(error_body(status, code, message), status_code=status)
        await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
