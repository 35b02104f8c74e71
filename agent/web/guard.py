"""The outermost layer of the web app: request-size limit, PHI-free access log, last-resort 500.

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

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.web.views import error_page

log = logging.getLogger("umreview.web")
access_log = logging.getLogger("umreview.access")


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


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over {limit} bytes")


class RequestGuard:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, route_limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.route_limits = route_limits or {}  # exact path -> its own limit (PAS $submit carries scanned records)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status, received = time.perf_counter(), 0, 0
        limit = self.route_limits.get(scope["path"], self.max_body_bytes)

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        async def receiving() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)  # FastAPI re-raises it; the app's handler answers
            return message

        length = Headers(scope=scope).get("content-length")
        try:
            if length is not None and (not length.isdigit() or int(length) > limit):
                raise BodyTooLarge(limit)
            await self.app(scope, receiving, sending)
        except BodyTooLarge as exc:
            if not status:
                await self._reply(scope, sending, 413, "payload_too_large", str(exc.detail))
        except Exception as exc:
            route = getattr(scope.get("route"), "path", "unmatched")
            stack = "".join(traceback.format_tb(exc.__traceback__))
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
        if wants_html(scope["path"]):
            response = error_page(Request(scope), status, message)
        else:
            response = JSONResponse(error_body(status, code, message), status_code=status)
        await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
