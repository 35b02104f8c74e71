"""FastAPI dependencies shared by the API and the pages: who is calling (token or session cookie, with
CSRF on writes), the role a route needs, and the service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from agent.service import Service
from agent.web.auth import Principal, Role, TokenStore, csrf_ok

TOKEN_COOKIE = "umreview_token"
CSRF_COOKIE = "umreview_csrf"


class AuthError(HTTPException):
    pass


async def principal(request: Request) -> Principal:
    """The caller, from ``Authorization: Bearer <token>`` or the session cookie (with CSRF on writes)."""
    tokens: TokenStore = request.app.state.tokens
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        who = tokens.lookup(header[7:].strip())
        if who is None:
            raise AuthError(401, "invalid or revoked API token")
        return who
    cookie = request.cookies.get(TOKEN_COOKIE)
    who = tokens.lookup(cookie or "")
    if who is None:
        raise AuthError(401, "authentication required: send 'Authorization: Bearer <token>' or sign in at /login")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        submitted = request.headers.get("x-csrf-token")
        if submitted is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            form = await request.form()  # starlette caches it for the endpoint
            value = form.get("csrf_token")
            submitted = value if isinstance(value, str) else None
        if not csrf_ok(request.cookies.get(CSRF_COOKIE), submitted):
            raise AuthError(403, "missing or wrong CSRF token; reload the page and try again")
    return who


def require(role: Role) -> Callable[[Principal], Principal]:
    def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if not who.can(role):
            raise AuthError(403, f"this action needs the {role.value} role; your token has the {who.role.value} role")
        return who

    return check


def require_any(*roles: Role) -> Callable[[Principal], Principal]:
    """Any one of ``roles`` exactly (no rank): the oversight page is for physicians and admins, not reviewers."""

    def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if who.role not in roles:
            allowed = " or ".join(r.value for r in roles)
            raise AuthError(403, f"this page needs the {allowed} role; your token has the {who.role.value} role")
        return who

    return check


def service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]  # set by create_app


Svc = Annotated[Service, Depends(service)]
Admin = Annotated[Principal, Depends(require(Role.admin))]
Reviewer = Annotated[Principal, Depends(require(Role.reviewer))]
Physician = Annotated[Principal, Depends(require(Role.physician))]
Overseer = Annotated[Principal, Depends(require_any(Role.physician, Role.admin))]
