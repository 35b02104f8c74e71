"""REST API, FHIR endpoint and web security, in-process with FastAPI's TestClient (httpx)."""

from __future__ import annotations

import copy
import html
import logging
import re
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from web_support import BUNDLE, EXAMPLE_CASE, EXAMPLE_YAML, PHI, RED_FLAG_CASE, Site, fake_kb, make_site

from agent.cases.model import Case
from agent.knowledge.base import KnowledgeBase
from agent.service import Service
from agent.settings import Settings
from agent.web.app import MAX_BODY_BYTES, create_app
from agent.web.auth import Role, TokenStore


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    return fake_kb(tmp_path_factory.mktemp("web-kb"))


@pytest.fixture(scope="module")
def site(kb: KnowledgeBase, tmp_path_factory: pytest.TempPathFactory) -> Site:
    return make_site(kb, tmp_path_factory.mktemp("web-data"))


@pytest.fixture(scope="module")
def client(site: Site) -> Iterator[TestClient]:
    with TestClient(site.app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def denied(client: TestClient, site: Site) -> dict[str, Any]:
    """The example case, reviewed once for the read-only tests (two recommended denials)."""
    response = client.post("/v1/reviews", json=EXAMPLE_CASE, headers=site.auth("reviewer"))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def submit(client: TestClient, site: Site, case: dict[str, Any] = EXAMPLE_CASE) -> str:
    response = client.post("/v1/reviews", json=case, headers=site.auth("reviewer"))
    assert response.status_code == 201, response.text
    return response.json()["review"]["id"]  # type: ignore[no-any-return]


def assert_error_shape(response: httpx.Response, status: int) -> dict[str, Any]:
    """The one error shape of /v1 (``{"error": ...}``); under /fhir an OperationOutcome, returned in the same form."""
    assert response.status_code == status, response.text
    if response.request.url.path.startswith("/fhir/"):
        from fhir.resources.R4B.operationoutcome import OperationOutcome

        assert response.headers["content-type"].startswith("application/fhir+json")
        (issue,) = OperationOutcome.model_validate(response.json()).issue
        assert issue.severity == "error" and issue.diagnostics and not any(p in response.text for p in PHI)
        return {"status": status, "code": issue.code, "message": issue.diagnostics}
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"status", "code", "message"}
    assert body["error"]["status"] == status and body["error"]["code"] and body["error"]["message"]
    assert not any(p in response.text for p in PHI)
    return body["error"]  # type: ignore[no-any-return]


# -- reviews ---------------------------------------------------------------------------------------


def test_submit_returns_the_recommendation_without_labels(denied: dict[str, Any]) -> None:
    review = denied["review"]
    assert review["id"].startswith("R-") and review["status"] == "recommendation"
    assert review["recommendations"] == {"72157": "deny", "72158": "deny"} == review["final_decisions"]
    assert review["case_id"] == EXAMPLE_CASE["id"] and review["backend"] == "offline"
    assert denied["case"]["expected"] is None  # the labels never reach the reviewer or the store
    assert {d["code"] for d in denied["determination"]["determinations"]} == {"72157", "72158"}


def test_get_returns_the_stored_review(client: TestClient, site: Site, denied: dict[str, Any]) -> None:
    review_id = denied["review"]["id"]
    response = client.get(f"/v1/reviews/{review_id}", headers=site.auth("reviewer"))
    assert response.status_code == 200
    assert response.json()["review"] == denied["review"]
    assert response.json()["case"]["request"]["clinical_notes"] == EXAMPLE_CASE["request"]["clinical_notes"].strip()


def test_list_filters_by_status_decision_and_overdue(client: TestClient, site: Site) -> None:
    deny_id, approve_id = submit(client, site), submit(client, site, RED_FLAG_CASE)
    month_ago = datetime.now(UTC) - timedelta(days=30)
    late = site.service.submit(Case.model_validate(EXAMPLE_CASE), actor="test", received_at=month_ago)

    def ids(**params: str) -> list[str]:
        response = client.get("/v1/reviews", params=params, headers=site.auth("reviewer"))
        assert response.status_code == 200, response.text
        assert all("clinical_notes" not in str(item) for item in response.json())  # the queue carries no note text
        return [r["id"] for r in response.json()]

    everything = ids()
    assert everything.index(approve_id) < everything.index(deny_id)  # newest first
    assert approve_id in ids(decision="approve") and deny_id not in ids(decision="approve")
    assert deny_id in ids(decision="deny") and approve_id not in ids(decision="deny")
    assert {deny_id, approve_id} <= set(ids(status="recommendation")) and deny_id not in ids(status="final")
    assert late.id in ids(overdue="true") and late.id not in ids(overdue="false")
    assert deny_id in ids(overdue="false") and deny_id not in ids(overdue="true")
    assert len(ids(limit="1")) == 1


def test_ask_answers_with_citations_and_logs_the_question(client: TestClient, site: Site, denied: dict[str, Any]) -> None:
    review_id = denied["review"]["id"]
    question = "What would make the lumbar MRI approvable?"
    response = client.post(f"/v1/reviews/{review_id}/questions", json={"question": question}, headers=site.auth("reviewer"))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["kind"] == "approvable" and "72158" in answer["text"]
    assert answer["citations"] and answer["citation_problems"] == []
    asked = [e for e in site.service.store.events(review_id) if e.kind.value == "asked"]
    assert asked[-1].actor == "nurse.kim" and asked[-1].payload["question"] == question


LETTERS = [
    pytest.param("md", "text/markdown", b"> **DRAFT", id="markdown"),
    pytest.param("html", "text/html", b"<!DOCTYPE html>", id="html"),
    pytest.param("pdf", "application/pdf", b"%PDF-", id="pdf"),
    pytest.param("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK\x03\x04", id="docx"),
]


@pytest.mark.parametrize(("fmt", "media_type", "magic"), LETTERS)
def test_letter_in_each_format(
    client: TestClient, site: Site, denied: dict[str, Any], fmt: str, media_type: str, magic: bytes
) -> None:
    review_id = denied["review"]["id"]
    response = client.get(f"/v1/reviews/{review_id}/letter", params={"format": fmt}, headers=site.auth("reviewer"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["content-disposition"] == f'attachment; filename="{review_id}-member-letter.{fmt}"'
    assert response.content.startswith(magic)


def test_letter_for_an_approval_is_refused(client: TestClient, site: Site) -> None:
    review_id = submit(client, site, RED_FLAG_CASE)
    response = client.get(f"/v1/reviews/{review_id}/letter", headers=site.auth("reviewer"))
    assert "no code is denied" in assert_error_shape(response, 400)["message"]


def test_physician_upholds_and_the_denials_become_final(client: TestClient, site: Site) -> None:
    review_id = submit(client, site)
    body = {"credentials": "MD, board-certified radiology", "decision": "uphold"}
    response = client.post(f"/v1/reviews/{review_id}/sign", json=body, headers=site.auth("physician"))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "final" and response.json()["final_decisions"] == {"72157": "deny", "72158": "deny"}
    again = client.post(f"/v1/reviews/{review_id}/sign", json=body, headers=site.auth("physician"))
    assert "already signed" in assert_error_shape(again, 409)["message"]
    letter = client.get(f"/v1/reviews/{review_id}/letter", params={"format": "md"}, headers=site.auth("reviewer"))
    assert letter.status_code == 200 and b"DRAFT" not in letter.content


def test_the_sign_off_is_recorded_under_the_tokens_name(client: TestClient, site: Site) -> None:
    review_id = submit(client, site)
    body = {"reviewer": "Dr. Somebody Else", "credentials": "MD", "decision": "uphold"}
    forged = client.post(f"/v1/reviews/{review_id}/sign", json=body, headers=site.auth("physician"))
    assert "dr.lee" in assert_error_shape(forged, 403)["message"]
    assert site.service.get(review_id).signoff is None  # nothing was signed
    body["reviewer"] = "dr.lee"  # naming yourself is allowed
    assert client.post(f"/v1/reviews/{review_id}/sign", json=body, headers=site.auth("physician")).status_code == 200
    record = site.service.get(review_id)
    assert record.signoff is not None and record.signoff.reviewer == "dr.lee"
    signed = [e for e in site.service.store.events(review_id) if e.kind.value == "signed"]
    assert [e.actor for e in signed] == ["dr.lee"]


def test_physician_overturns_with_a_reason(client: TestClient, site: Site) -> None:
    review_id = submit(client, site)
    body = {"credentials": "MD", "decision": "overturn"}
    no_reason = client.post(f"/v1/reviews/{review_id}/sign", json=body, headers=site.auth("physician"))
    assert "reason" in assert_error_shape(no_reason, 409)["message"]
    body["reason"] = "Peer-to-peer call: six weeks of physical therapy documented since the note."
    response = client.post(f"/v1/reviews/{review_id}/sign", json=body, headers=site.auth("physician"))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "overturned"
    assert response.json()["final_decisions"] == {"72157": "approve", "72158": "approve"}
    assert response.json()["recommendations"] == {"72157": "deny", "72158": "deny"}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("post", "/v1/reviews?policy=no-such-policy", 400),
        ("get", "/v1/reviews/R-0000", 404),
        ("get", "/reviews/R-0000", 404),
        ("get", "/v1/reviews/R-0000/letter", 404),
    ],
)
def test_errors_do_not_reveal_server_paths(client: TestClient, site: Site, method: str, path: str, status: int) -> None:
    kwargs: dict[str, Any] = {"json": EXAMPLE_CASE} if method == "post" else {}
    response = getattr(client, method)(path, headers=site.auth("reviewer"), **kwargs)
    assert response.status_code == status
    assert str(site.data_dir) not in response.text and "sqlite" not in response.text
    assert not re.search(r"/(?:home|root|tmp|work|usr)/", response.text), response.text


def test_health_and_readiness_need_no_token(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready" and ready.json()["kb_version"].startswith("kb-")


def test_openapi_documents_the_v1_and_fhir_routes(client: TestClient, site: Site) -> None:
    paths = client.get("/openapi.json", headers=site.auth("reviewer")).json()["paths"]
    assert {"/v1/reviews", "/v1/reviews/{review_id}", "/v1/reviews/{review_id}/sign", "/fhir/Claim/$submit"} <= set(paths)
    assert not any(p.startswith(("/login", "/new")) for p in paths)  # the workbench pages stay out of the API


# -- FHIR ------------------------------------------------------------------------------------------


def test_fhir_submit_answers_with_a_valid_pas_response_bundle(client: TestClient, site: Site) -> None:
    from fhir.resources.R4B.bundle import Bundle

    response = client.post("/fhir/Claim/$submit", json=BUNDLE, headers=site.auth("reviewer"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    Bundle.model_validate(response.json())
    body = response.json()["entry"][0]["resource"]
    assert body["use"] == "preauthorization" and body["outcome"] == "complete"
    claim = next(e["resource"] for e in BUNDLE["entry"] if e["resource"]["resourceType"] == "Claim")
    assert [i["itemSequence"] for i in body["item"]] == [i["sequence"] for i in claim["item"]]
    assert body["extension"][0]["extension"][0] == {"url": "wasHumanReviewedFlag", "valueBoolean": False}
    for item in body["item"]:
        assert item["adjudication"][0]["reason"]["text"]
    review_id = next(i["value"] for i in body["identifier"] if i["system"] == "https://umreview.dev/review-id")
    stored = client.get(f"/v1/reviews/{review_id}", headers=site.auth("reviewer"))
    assert stored.status_code == 200 and stored.json()["review"]["status"] == "recommendation"


def test_fhir_submit_rejects_a_bundle_without_a_claim(client: TestClient, site: Site) -> None:
    bundle = copy.deepcopy(BUNDLE)
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] not in ("Claim", "ServiceRequest")]
    response = client.post("/fhir/Claim/$submit", json=bundle, headers=site.auth("reviewer"))
    assert response.status_code == 422 and response.headers["content-type"].startswith("application/fhir+json")
    issue = response.json()["issue"][0]  # an OperationOutcome, with the FHIR path
    assert "Claim" in issue["diagnostics"] and issue["expression"] == ["Bundle.entry"]


# -- security --------------------------------------------------------------------------------------


def test_no_token_is_401_json(client: TestClient) -> None:
    error = assert_error_shape(client.get("/v1/reviews"), 401)
    assert error["code"] == "unauthorized" and "Bearer" in error["message"]


def test_bad_token_is_401(client: TestClient) -> None:
    assert_error_shape(client.get("/v1/reviews", headers={"authorization": "Bearer umr_not-a-token"}), 401)


def test_a_revoked_token_is_401(client: TestClient, site: Site) -> None:
    tokens: TokenStore = site.app.state.tokens
    token = tokens.create("temp", "reviewer")
    assert client.get("/v1/reviews", headers={"authorization": f"Bearer {token}"}).status_code == 200
    tokens.revoke(next(row.id for row in tokens.list() if row.name == "temp"))
    assert_error_shape(client.get("/v1/reviews", headers={"authorization": f"Bearer {token}"}), 401)


def test_a_reviewer_cannot_sign(client: TestClient, site: Site, denied: dict[str, Any]) -> None:
    body = {"reviewer": "Nurse Kim", "credentials": "RN", "decision": "uphold"}
    response = client.post(f"/v1/reviews/{denied['review']['id']}/sign", json=body, headers=site.auth("reviewer"))
    error = assert_error_shape(response, 403)
    assert error["code"] == "forbidden" and "physician" in error["message"]


WRITES = [
    ("/v1/reviews", {"json": EXAMPLE_CASE}),
    ("/fhir/Claim/$submit", {"json": BUNDLE}),
    ("/v1/reviews/R-0000/questions", {"json": {"question": "why?"}}),
    ("/v1/reviews/R-0000/sign", {"json": {"reviewer": "x", "credentials": "MD", "decision": "uphold"}}),
]


@pytest.mark.parametrize(("path", "body"), WRITES, ids=[w[0] for w in WRITES])
def test_anonymous_api_writes_are_refused(client: TestClient, site: Site, path: str, body: dict[str, Any]) -> None:
    before = site.service.store.counts()
    assert_error_shape(client.post(path, **body), 401)
    assert site.service.store.counts() == before


@pytest.mark.parametrize("path", ["/new", "/reviews/R-0000/ask", "/reviews/R-0000/sign", "/logout"])
def test_anonymous_form_posts_go_to_sign_in(client: TestClient, path: str) -> None:
    response = client.post(path, data={"case_text": "{}", "question": "why?"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_anonymous_pages_redirect_to_sign_in(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/"


@pytest.fixture
def signed_in(site: Site) -> Iterator[TestClient]:
    """A client signed in through the login form (session cookie + CSRF cookie), as a reviewer."""
    with TestClient(site.app, raise_server_exceptions=False) as c:
        c.get("/login")
        data = {"token": site.tokens["reviewer"], "next": "/new", "csrf_token": c.cookies["umreview_csrf"]}
        response = c.post("/login", data=data, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/new"
        yield c


@pytest.mark.parametrize("csrf", [None, "forged"], ids=["missing", "wrong"])
def test_the_sign_in_form_needs_the_csrf_token(site: Site, csrf: str | None) -> None:
    """Login CSRF: a form on another site must not sign a reviewer in under someone else's token."""
    with TestClient(site.app) as c:
        c.get("/login")
        data = {"token": site.tokens["reviewer"], "next": "/"}
        if csrf:
            data["csrf_token"] = csrf
        response = c.post("/login", data=data, follow_redirects=False)
    assert response.status_code == 403 and "sign in again" in response.text
    assert "umreview_token" not in response.cookies


def test_cookies_are_secure_behind_tls(kb: KnowledgeBase, tmp_path: Path) -> None:
    plain = make_site(kb, tmp_path / "plain")
    with TestClient(plain.app) as c:
        assert "secure" not in c.get("/login").headers["set-cookie"].lower()
    settings = Settings(data_dir=tmp_path / "tls", secure_cookies=True)
    app = create_app(settings, service=Service(settings, kb=kb))
    token = app.state.tokens.create("nurse.kim", Role.reviewer)
    with TestClient(app) as c:  # TLS ends at a proxy, so the app sees plain http, and still marks cookies Secure
        assert "; secure" in c.get("/login").headers["set-cookie"].lower()
    with TestClient(app, base_url="https://proxy.example") as c:  # (a client sends Secure cookies over https only)
        first = c.get("/login")
        assert "; secure" in first.headers["set-cookie"].lower()
        csrf = first.cookies["umreview_csrf"]
        signed = c.post("/login", data={"token": token, "csrf_token": csrf}, follow_redirects=False)
    cookie = signed.headers["set-cookie"].lower()
    assert cookie.startswith("umreview_token=") and "; secure" in cookie and "httponly" in cookie
    with TestClient(plain.app, base_url="https://testserver") as c:  # an https request always gets Secure
        assert "; secure" in c.get("/login").headers["set-cookie"].lower()


def test_a_cookie_session_needs_the_csrf_token(signed_in: TestClient, site: Site) -> None:
    csrf = signed_in.cookies["umreview_csrf"]
    before = site.service.store.counts()
    missing = signed_in.post("/new", data={"case_text": EXAMPLE_YAML}, follow_redirects=False)
    assert missing.status_code == 403 and "CSRF" in missing.text
    wrong = signed_in.post("/new", data={"case_text": EXAMPLE_YAML, "csrf_token": "forged"}, follow_redirects=False)
    assert wrong.status_code == 403
    api = signed_in.post("/v1/reviews", json=EXAMPLE_CASE)
    assert "CSRF" in assert_error_shape(api, 403)["message"]
    assert site.service.store.counts() == before
    ok = signed_in.post("/new", data={"case_text": EXAMPLE_YAML, "csrf_token": csrf}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"].startswith("/reviews/R-")
    assert signed_in.post("/v1/reviews", json=EXAMPLE_CASE, headers={"x-csrf-token": csrf}).status_code == 201


def test_a_body_over_the_limit_is_413(client: TestClient, site: Site) -> None:
    # routes that take no documents keep 2 MB; the document routes' limit is tested in test_bodies.py
    headers = {**site.auth("reviewer"), "content-type": "application/json"}
    path = "/v1/reviews/R-0000/questions"
    declared = client.post(path, content=b"x" * (MAX_BODY_BYTES + 1), headers=headers)
    assert assert_error_shape(declared, 413)["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while the body streams
        for _ in range(MAX_BODY_BYTES // 100_000 + 1):
            yield b" " * 100_000

    streamed = client.post(path, content=chunks(), headers=headers)
    assert assert_error_shape(streamed, 413)["code"] == "payload_too_large"


def test_every_4xx_has_the_error_shape(client: TestClient, site: Site, denied: dict[str, Any]) -> None:
    review_id = denied["review"]["id"]
    as_json = {**site.auth("reviewer"), "content-type": "application/json"}
    bad_case = copy.deepcopy(EXAMPLE_CASE)
    bad_case["request"]["urgency"] = "whenever"
    no_procedures = copy.deepcopy(EXAMPLE_CASE)
    no_procedures["request"]["procedures"] = []
    cases = [
        (client.get("/v1/reviews/R-NOSUCHREVIEW", headers=site.auth("reviewer")), 404),
        (client.get("/v1/nothing-here", headers=site.auth("reviewer")), 404),
        (client.delete(f"/v1/reviews/{review_id}", headers=site.auth("admin")), 405),
        (client.post("/v1/reviews", json=bad_case, headers=site.auth("reviewer")), 422),
        (client.post("/v1/reviews", json=no_procedures, headers=site.auth("reviewer")), 422),
        (client.post("/v1/reviews", content=b"{not json", headers=as_json), 422),
        (client.post("/v1/reviews", params={"policy": "no-such-policy"}, json=EXAMPLE_CASE, headers=site.auth("reviewer")), 400),
        (client.get("/v1/reviews", params={"status": "pending"}, headers=site.auth("reviewer")), 422),
        (client.get(f"/v1/reviews/{review_id}/letter", params={"format": "rtf"}, headers=site.auth("reviewer")), 422),
        (client.post(f"/v1/reviews/{review_id}/questions", json={"question": ""}, headers=site.auth("reviewer")), 422),
        (client.get("/v1/chunks/no-such-chunk", headers=site.auth("reviewer")), 404),
    ]
    for response, status in cases:
        assert_error_shape(response, status)


def test_validation_errors_do_not_echo_the_note(client: TestClient, site: Site) -> None:
    bad = copy.deepcopy(EXAMPLE_CASE)
    bad["request"]["clinical_notes"] = {"text": EXAMPLE_CASE["request"]["clinical_notes"]}  # wrong type: pydantic quotes inputs
    error = assert_error_shape(client.post("/v1/reviews", json=bad, headers=site.auth("reviewer")), 422)
    assert error["message"].startswith("request.clinical_notes")


def test_the_access_log_has_routes_not_ids_notes_or_questions(
    client: TestClient, site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    question = "Would the toe numbness change anything?"
    with caplog.at_level(logging.INFO, logger="umreview.access"):
        review_id = submit(client, site)
        client.get(f"/v1/reviews/{review_id}?include=everything", headers=site.auth("reviewer"))
        client.post(f"/v1/reviews/{review_id}/questions", json={"question": question}, headers=site.auth("reviewer"))
        client.post("/fhir/Claim/$submit", json=BUNDLE, headers=site.auth("reviewer"))
        client.post("/v1/reviews", json={"request": {"clinical_notes": EXAMPLE_CASE["request"]["clinical_notes"]}})
    lines = [r.getMessage() for r in caplog.records if r.name == "umreview.access"]
    assert "POST /v1/reviews 201" in lines[0] and "GET /v1/reviews/{review_id} 200" in lines[1]
    assert "POST /v1/reviews 401" in lines[-1]
    text = "\n".join(lines)
    assert review_id not in text and "include" not in text and question not in text
    assert not any(p in text for p in PHI)


def test_an_unexpected_error_is_a_json_500_logged_without_its_message(
    client: TestClient, site: Site, denied: dict[str, Any], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    note = EXAMPLE_CASE["request"]["clinical_notes"]

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError(f"cannot parse {note!r}")

    monkeypatch.setattr(site.service, "get", broken)
    with caplog.at_level(logging.INFO):
        response = client.get(f"/v1/reviews/{denied['review']['id']}", headers=site.auth("reviewer"))
    assert response.status_code == 500
    assert response.json()["error"] == {"status": 500, "code": "internal_error", "message": "internal error; see the server log"}
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "ValueError" in logged and "GET /v1/reviews/{review_id} 500" in logged
    assert not any(p in logged for p in PHI)


# -- workbench pages (the signed_in flow is in test_web_browser.py) ---------------------------------


def test_the_queue_page_refuses_unknown_filters(signed_in: TestClient) -> None:
    response = signed_in.get("/", params={"status": "pending", "decision": "maybe"})
    assert response.status_code == 422 and "unknown status filter" in response.text
    assert signed_in.get("/", params={"status": "final", "decision": "deny"}).status_code == 200


def test_guideline_links_on_the_case_page_open_the_cited_chunk(signed_in: TestClient, denied: dict[str, Any]) -> None:
    page = signed_in.get(f"/reviews/{denied['review']['id']}")
    assert page.status_code == 200
    links = set(re.findall(r'href="(/chunks/[^"]+)"', page.text))
    assert links and not any("#" in link for link in links)  # chunk ids hold '#': unescaped, it starts a fragment
    for link in links:
        chunk = signed_in.get(html.unescape(link))
        assert chunk.status_code == 200 and '<mark class="cited">' in chunk.text, link


@pytest.mark.parametrize(
    ("target", "landing"),
    [
        ("/reviews/R-1?tab=letter", "/reviews/R-1?tab=letter"),
        ("//evil.example/", "/"),
        ("/\\evil.example/", "/"),
        ("/\t/evil.example/", "/"),
        ("https://evil.example/", "/"),
    ],
    ids=["local", "scheme-relative", "backslash", "tab", "absolute"],
)
def test_sign_in_only_redirects_within_the_site(site: Site, target: str, landing: str) -> None:
    with TestClient(site.app) as c:
        c.get("/login")
        data = {"token": site.tokens["reviewer"], "next": target, "csrf_token": c.cookies["umreview_csrf"]}
        response = c.post("/login", data=data, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == landing


# -- first start -----------------------------------------------------------------------------------


def test_first_start_writes_a_private_admin_token_once(kb: KnowledgeBase, tmp_path: Path) -> None:
    first = make_site(kb, tmp_path)
    token_file = tmp_path / "admin-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    assert token.startswith("umr_") and token == first.tokens["admin"]
    with TestClient(first.app) as c:
        assert c.get("/v1/reviews", headers=first.auth("admin")).status_code == 200
    make_site(kb, tmp_path)  # second start over the same database
    assert token_file.read_text().strip() == token
    admins = [row for row in TokenStore(first.service.store).list() if row.role == "admin"]
    assert len(admins) == 1


@pytest.fixture
def fresh(kb: KnowledgeBase, tmp_path: Path) -> Iterator[tuple[TestClient, Site]]:
    """A site with an empty queue."""
    site = make_site(kb, tmp_path)
    with TestClient(site.app) as c:
        yield c, site


def test_queue_filters_and_pages_in_the_database(fresh: tuple[TestClient, Site]) -> None:
    client, site = fresh
    store = site.service.store
    case = Case.model_validate(EXAMPLE_CASE)
    now = datetime.now(UTC)
    ids = []
    for days in (10, 1, 5):  # received 10, 1 and 5 days ago: standard clock is 7 days
        det = site.service.reviewer().review(case)
        ids.append(store.save_review(case, det, actor="t", received_at=now - timedelta(days=days)).id)
    auth = site.auth("reviewer")
    soonest = client.get("/v1/reviews", params={"order": "due"}, headers=auth).json()
    assert [r["id"] for r in soonest] == [ids[0], ids[2], ids[1]]
    assert [r["id"] for r in client.get("/v1/reviews", params={"overdue": True}, headers=auth).json()] == [ids[0]]
    due_soon = client.get("/v1/reviews", params={"due_before": (now + timedelta(days=3)).isoformat()}, headers=auth).json()
    assert {r["id"] for r in due_soon} == {ids[0], ids[2]}
    page2 = client.get("/v1/reviews", params={"order": "due", "limit": 1, "offset": 1}, headers=auth).json()
    assert [r["id"] for r in page2] == [ids[2]]
    denied = client.get("/v1/reviews", params={"decision": "deny", "limit": 2, "offset": 1}, headers=auth).json()
    assert len(denied) == 2


def test_queue_page_links_to_the_next_page(fresh: tuple[TestClient, Site], monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.web import pages

    client, site = fresh
    monkeypatch.setattr(pages, "QUEUE_PAGE", 2)
    case = Case.model_validate(EXAMPLE_CASE)
    for _ in range(3):
        site.service.store.save_review(case, site.service.reviewer().review(case), actor="t")
    first = client.get("/", params={"order": "newest"}, headers=site.auth("reviewer"))
    assert first.text.count('<tr class="') == 2 and 'rel="next"' in first.text and "order=newest" in first.text
    second = client.get("/", params={"order": "newest", "page": 2}, headers=site.auth("reviewer"))
    assert second.text.count('<tr class="') == 1 and 'rel="prev"' in second.text and 'rel="next"' not in second.text


# -- token management ------------------------------------------------------------------------------


def test_admins_manage_tokens_over_the_api(fresh: tuple[TestClient, Site]) -> None:
    client, site = fresh
    body = {"name": "dr.new", "role": "physician"}
    assert_error_shape(client.post("/v1/tokens", json=body, headers=site.auth("physician")), 403)
    created = client.post("/v1/tokens", json=body, headers=site.auth("admin"))
    assert created.status_code == 201, created.text
    token, token_id = created.json()["token"], created.json()["id"]
    assert client.get("/v1/reviews", headers={"authorization": f"Bearer {token}"}).status_code == 200
    listed = client.get("/v1/tokens", headers=site.auth("admin")).json()
    assert {"dr.new", "nurse.kim", "dr.lee", "first-admin"} <= {t["name"] for t in listed}
    assert all("token" not in t for t in listed)
    assert client.delete(f"/v1/tokens/{token_id}", headers=site.auth("admin")).status_code == 204
    assert client.get("/v1/reviews", headers={"authorization": f"Bearer {token}"}).status_code == 401
    assert_error_shape(client.delete("/v1/tokens/nope", headers=site.auth("admin")), 404)


def test_tokens_declared_in_configuration(kb: KnowledgeBase, tmp_path: Path) -> None:
    from agent.settings import ConfiguredToken
    from agent.web.auth import new_token, token_hash

    admin, bot = new_token(), new_token()
    declared = [
        ConfiguredToken(name="ops", role="admin", sha256=token_hash(admin)),
        ConfiguredToken(name="ci-bot", role="reviewer", sha256=token_hash(bot)),
    ]
    settings = Settings(data_dir=tmp_path, api_tokens=declared)
    app = create_app(settings, service=Service(settings, kb=kb))
    assert not (tmp_path / "admin-token").exists()  # an admin is declared: no first-start token
    with TestClient(app) as c:
        assert c.post("/v1/reviews", json=EXAMPLE_CASE, headers={"authorization": f"Bearer {bot}"}).status_code == 201
        tokens = c.get("/v1/tokens", headers={"authorization": f"Bearer {admin}"}).json()
    assert {(t["name"], t["source"]) for t in tokens} >= {("ops", "config"), ("ci-bot", "config")}


def test_cli_token_hash_prints_a_token_and_its_configuration_entry() -> None:
    from typer.testing import CliRunner

    from agent.cli.main import app
    from agent.web.auth import token_hash

    result = CliRunner().invoke(app, ["token", "hash", "--name", "ci-bot", "--role", "reviewer"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("umr_") and token_hash(token) in result.stderr and "UMREVIEW_API_TOKENS" in result.stderr
    bad = CliRunner().invoke(app, ["token", "hash", "--name", "x", "--role", "boss"])
    assert bad.exit_code == 2


def test_a_case_file_can_be_uploaded_on_the_new_review_page(signed_in: TestClient) -> None:
    csrf = signed_in.cookies["umreview_csrf"]
    files = {"case_file": ("cervical-fusion.yaml", EXAMPLE_YAML.encode(), "text/yaml")}
    ok = signed_in.post("/new", data={"csrf_token": csrf}, files=files, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"].startswith("/reviews/R-")
    broken = {"case_file": ("broken.yaml", b"id: x\nrequest: {patient: {age: -3}}\n", "text/yaml")}
    bad = signed_in.post("/new", data={"csrf_token": csrf}, files=broken)
    assert bad.status_code == 422 and "broken.yaml" in bad.text
    binary = {"case_file": ("scan.pdf", b"%PDF-\xff\xfe", "application/pdf")}
    assert "not UTF-8" in signed_in.post("/new", data={"csrf_token": csrf}, files=binary).text
    empty = signed_in.post("/new", data={"csrf_token": csrf, "case_text": "  "})
    assert empty.status_code == 422 and "choose a file" in empty.text
    forged = signed_in.post("/new", data={"csrf_token": "forged"}, files=files, follow_redirects=False)
    assert forged.status_code == 403


def test_queue_paging_bounds_are_checked(client: TestClient, site: Site) -> None:
    """Found by schemathesis: an offset past SQLite's integer range was a 500."""
    huge = client.get("/v1/reviews", params={"offset": 3282128093102856994816}, headers=site.auth("reviewer"))
    assert "offset" in assert_error_shape(huge, 422)["message"]
    assert client.get("/", params={"page": 10**12}, headers=site.auth("reviewer")).status_code == 422


def test_the_new_review_page_offers_each_criteria_set(signed_in: TestClient) -> None:
    page = signed_in.get("/new")
    assert 'value="acr-default" selected' in page.text and 'value="payer-model"' in page.text
    csrf = signed_in.cookies["umreview_csrf"]
    data = {"csrf_token": csrf, "case_text": EXAMPLE_YAML, "policy": "payer-model"}
    done = signed_in.post("/new", data=data)
    assert done.status_code == 200 and "payer-model" in done.text  # the case view names the set it used
    bad = signed_in.post("/new", data={**data, "policy": "no-such-set"})
    assert bad.status_code == 422 and "unknown criteria set" in bad.text
