"""Rendering workbench pages: the templates, the CSRF cookie they carry, and the error page."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from agent.web.auth import new_csrf_token
from agent.web.deps import CSRF_COOKIE, service

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["quote_url"] = lambda s: quote(str(s), safe="")
templates.env.filters["quote_path"] = lambda s: quote(str(s), safe="/")  # chunk ids hold '#' and '@'


def secure_cookies(request: Request) -> bool:
    """Cookies go over HTTPS only when the request came over HTTPS or the operator says TLS is in front."""
    return request.url.scheme == "https" or bool(service(request).settings.secure_cookies)


def render(request: Request, name: str, http_status: int = 200, **context: Any) -> HTMLResponse:
    csrf = request.cookies.get(CSRF_COOKIE) or new_csrf_token()
    response = templates.TemplateResponse(request, name, {"csrf": csrf, **context}, status_code=http_status)
    if request.cookies.get(CSRF_COOKIE) != csrf:
        response.set_cookie(CSRF_COOKIE, csrf, httponly=False, samesite="strict", secure=secure_cookies(request))
    return response


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", http_status=status, status_code=status, message=message, who=None)
