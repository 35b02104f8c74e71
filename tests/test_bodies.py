"""Bodies of the document routes stream to a temporary file up to UMREVIEW_MAX_BODY_BYTES: a body at the
limit arrives whole, one byte more is a 413 naming the setting (an OperationOutcome on /fhir), nothing
is left open or on disk afterwards, and the memory used does not grow with the body."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request
from web_support import BUNDLE, EXAMPLE_CASE, Site, fake_kb

from agent.service import Service
from agent.settings import Settings
from agent.web.app import create_app
from agent.web.auth import Role
from agent.web.bodies import spool_dir, spooled_body

LIMIT = 400_000  # a small limit, so the test bodies stay small


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    data_dir = tmp_path_factory.mktemp("bodies-data")
    settings = Settings(data_dir=data_dir, max_body_bytes=LIMIT)
    app = create_app(settings, service=Service(settings, kb=fake_kb(tmp_path_factory.mktemp("bodies-kb"))))
    tokens = {"reviewer": app.state.tokens.create("nurse.kim", Role.reviewer)}
    return Site(app=app, data_dir=data_dir, tokens=tokens)


@pytest.fixture(scope="module")
def client(site: Site) -> Iterator[TestClient]:
    with TestClient(site.app, raise_server_exceptions=False) as c:
        yield c


def padded(document: dict[str, Any], size: int) -> bytes:
    """``document`` as JSON of exactly ``size`` bytes: spaces before the closing brace, so a body cut short
    anywhere (or missing its last chunk) is not valid JSON."""
    raw = json.dumps(document).encode()
    return raw[:-1] + b" " * (size - len(raw)) + raw[-1:]


def chunked(raw: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    """The body without a Content-Length header: the server only learns its length by reading it."""
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


ROUTES = [
    ("/fhir/Claim/$submit", BUNDLE, "application/fhir+json", 200),
    ("/v1/reviews", EXAMPLE_CASE, "application/json", 201),
]


@pytest.mark.parametrize(("path", "document", "media", "ok"), ROUTES, ids=[r[0] for r in ROUTES])
@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_a_body_at_the_limit_arrives_whole_and_one_byte_more_is_413(
    client: TestClient, site: Site, path: str, document: dict[str, Any], media: str, ok: int, streamed: bool
) -> None:
    headers = {**site.auth("reviewer"), "content-type": media}
    at_limit = padded(document, LIMIT)
    # warm-up: the store and the knowledge base open their files, and the refusal path its own (a pooled
    # connection may open on a later request); a leak shows as growth across the measured round
    client.post(path, content=at_limit, headers=headers)
    client.post(path, content=padded(document, LIMIT + 1), headers=headers)
    client.post(path, content=at_limit, headers=headers)
    fds = open_fds()
    response = client.post(path, content=chunked(at_limit) if streamed else at_limit, headers=headers)
    assert response.status_code == ok, response.text[:500]

    over = padded(document, LIMIT + 1)
    refused = client.post(path, content=chunked(over) if streamed else over, headers=headers)
    assert refused.status_code == 413
    if path.startswith("/fhir"):
        from fhir.resources.R4B.operationoutcome import OperationOutcome

        (issue,) = OperationOutcome.model_validate(refused.json()).issue
        message = issue.diagnostics or ""
        assert issue.code == "too-costly" and refused.headers["content-type"].startswith("application/fhir+json")
    else:
        message = refused.json()["error"]["message"]
    assert "UMREVIEW_MAX_BODY_BYTES" in message and f"{LIMIT:,}" in message
    assert list(spool_dir(site.service.settings).iterdir()) == []  # nothing left on disk
    assert open_fds() <= fds  # nor open


def test_a_workbench_upload_over_the_limit_is_a_413_page(client: TestClient, site: Site) -> None:
    client.get("/login")
    csrf = client.cookies["umreview_csrf"]
    client.post("/login", data={"token": site.tokens["reviewer"], "csrf_token": csrf})
    files = {"packet": ("big.pdf", b"%PDF-1.4 " + b"0" * LIMIT, "application/pdf")}
    page = client.post("/new", data={"case_text": "", "csrf_token": csrf}, files=files)
    assert page.status_code == 413 and "UMREVIEW_MAX_BODY_BYTES" in page.text
    client.cookies.clear()


def test_a_bad_body_under_the_limit_leaves_nothing_behind(client: TestClient, site: Site) -> None:
    bad = copy.deepcopy(BUNDLE)
    bad["entry"].append({"resource": {"resourceType": "Foo"}})
    headers = {**site.auth("reviewer"), "content-type": "application/fhir+json"}
    assert client.post("/fhir/Claim/$submit", content=padded(bad, LIMIT - 10), headers=headers).status_code == 422
    assert list(spool_dir(site.service.settings).iterdir()) == []


# -- memory does not grow with the body ---------------------------------------------------------------


def _request(total: int, chunk: int = 64 * 1024) -> Request:
    sent = 0
    piece = b"x" * chunk

    async def receive() -> dict[str, Any]:
        nonlocal sent
        n = min(chunk, total - sent)
        sent += n
        return {"type": "http.request", "body": piece[:n], "more_body": sent < total}

    return Request({"type": "http", "method": "POST", "path": "/", "headers": []}, receive)


def _spool_peak(settings: Settings, total: int) -> tuple[int, int]:
    """(peak bytes allocated while ``total`` bytes are spooled, bytes found in the spool)."""

    async def run() -> int:
        async with spooled_body(_request(total), settings) as body:
            body.seek(0, 2)
            return body.tell()

    tracemalloc.start()
    try:
        size = asyncio.run(run())
        return tracemalloc.get_traced_memory()[1], size
    finally:
        tracemalloc.stop()


def test_spooling_memory_does_not_grow_with_the_body(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, max_body_bytes=50_000_000)
    small_peak, small = _spool_peak(settings, 2_000_000)
    large_peak, large = _spool_peak(settings, 40_000_000)
    assert (small, large) == (2_000_000, 40_000_000)  # every byte arrived
    assert large_peak < 2_000_000  # 40 MB went through about one chunk plus the in-memory part
    assert large_peak < small_peak + 500_000  # 20 times the body, about the same memory
