"""The PAS $submit route and the CLI on PAS Bundles: response Bundles, OperationOutcomes, no 5xx, exit 2."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from web_support import BUNDLE, EXAMPLE_CASE, Site, fake_kb, make_site

from agent.cli.main import app as cli

PAS = Path(__file__).parent / "fixtures" / "pas"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return make_site(fake_kb(tmp_path_factory.mktemp("pas-kb")), tmp_path_factory.mktemp("pas-data"))


@pytest.fixture(scope="module")
def client(site: Site) -> Iterator[TestClient]:
    with TestClient(site.app, raise_server_exceptions=False) as c:
        yield c


def post(client: TestClient, site: Site, body: Any) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {**site.auth("reviewer"), "content-type": "application/fhir+json"}
    return client.post("/fhir/Claim/$submit", content=raw, headers=headers)


def test_submit_answers_with_a_pas_response_bundle(client: TestClient, site: Site) -> None:
    response = post(client, site, BUNDLE)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    claim_response = bundle["entry"][0]["resource"]
    assert bundle["resourceType"] == "Bundle" and claim_response["resourceType"] == "ClaimResponse"
    assert claim_response["outcome"] in ("complete", "partial") and claim_response["use"] == "preauthorization"
    review_id = next(i["value"] for i in claim_response["identifier"] if i["system"] == "https://umreview.dev/review-id")
    stored = client.get(f"/v1/reviews/{review_id}", headers=site.auth("reviewer"))
    assert stored.status_code == 200 and stored.json()["review"]["status"] == "recommendation"
    # the example Bundle has no insurer or provider resources to send back
    assert {e["resource"]["resourceType"] for e in bundle["entry"][1:]} == {"Patient"}


@pytest.mark.parametrize("name", sorted(str(p.relative_to(PAS)) for p in PAS.rglob("*.json")))
def test_every_public_payload_is_answered_without_a_5xx(client: TestClient, site: Site, name: str) -> None:
    response = post(client, site, json.loads((PAS / name).read_text()))
    assert response.status_code in (200, 422), response.text
    assert response.json()["resourceType"] in ("Bundle", "OperationOutcome")


def test_unknown_resource_type_is_a_422_operation_outcome(client: TestClient, site: Site) -> None:
    bundle = copy.deepcopy(BUNDLE)
    bundle["entry"].append({"resource": {"resourceType": "Foo"}})
    response = post(client, site, bundle)
    assert response.status_code == 422
    issue = response.json()["issue"][0]
    assert issue["code"] == "not-supported" and issue["expression"][0].endswith(".resourceType")


def test_invalid_json_is_an_operation_outcome(client: TestClient, site: Site) -> None:
    response = post(client, site, b"{not json")
    assert response.status_code == 400 and response.json()["resourceType"] == "OperationOutcome"


def test_the_fhir_body_limit_is_a_setting(client: TestClient, site: Site) -> None:
    limit = site.service.settings.max_body_bytes
    headers = {**site.auth("reviewer"), "content-type": "application/fhir+json", "content-length": str(limit + 1)}
    refused = client.post("/fhir/Claim/$submit", content=b"{}", headers=headers)
    assert refused.status_code == 413 and refused.json()["resourceType"] == "OperationOutcome"
    assert "UMREVIEW_MAX_BODY_BYTES" in refused.json()["issue"][0]["diagnostics"]
    assert limit > 2_000_000  # above the 2 MB of every other route: scanned records travel inline


def test_an_api_case_with_an_attachment_path_is_a_clear_422(client: TestClient, site: Site) -> None:
    case = copy.deepcopy(EXAMPLE_CASE)
    case["request"]["attachments"] = [{"path": "records.pdf"}]
    response = client.post("/v1/reviews", json=case, headers=site.auth("reviewer"))
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert "request.attachments[0].path" in message and "attachments[i].text" in message


def test_cli_unknown_resource_type_exits_2_without_a_traceback(tmp_path: Path) -> None:
    bundle = copy.deepcopy(BUNDLE)
    bundle["entry"].append({"resource": {"resourceType": "Foo"}})
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    result = CliRunner().invoke(cli, ["review", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "resourceType" in result.stderr and "Foo" in result.stderr


# -- every /fhir error is an OperationOutcome ------------------------------------------------------------


def _broken_submit(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("boom")  # an unexpected failure inside the route


FHIR_ERRORS = [
    # (name, how to provoke it, HTTP status, issue type, FHIR path in expression)
    ("401 no token", lambda c, s: c.post("/fhir/Claim/$submit", json=BUNDLE), 401, "login", None),
    (
        "401 bad token",
        lambda c, s: c.post("/fhir/Claim/$inquire", json=BUNDLE, headers={"authorization": "Bearer nope"}),
        401,
        "login",
        None,
    ),
    (
        "403 session without CSRF",
        lambda c, s: c.post("/fhir/Claim/$submit", json=BUNDLE, headers={"cookie": f"umreview_token={s.tokens['reviewer']}"}),
        403,
        "forbidden",
        None,
    ),
    (
        "404 unknown operation",
        lambda c, s: c.post("/fhir/Claim/$nothing", json={}, headers=s.auth("reviewer")),
        404,
        "not-found",
        None,
    ),
    ("405 GET $submit", lambda c, s: c.get("/fhir/Claim/$submit", headers=s.auth("reviewer")), 405, "not-supported", None),
    (
        "413 over the limit",
        lambda c, s: c.post(
            "/fhir/Claim/$submit",
            content=b"{}",
            headers={**s.auth("reviewer"), "content-length": str(s.service.settings.max_body_bytes + 1)},
        ),
        413,
        "too-costly",
        None,
    ),
    (
        "415 XML",
        lambda c, s: c.post(
            "/fhir/Claim/$submit", content=b"<Bundle/>", headers={**s.auth("reviewer"), "content-type": "application/fhir+xml"}
        ),
        415,
        "not-supported",
        None,
    ),
    (
        "422 unknown resourceType",
        lambda c, s: post(c, s, {**BUNDLE, "entry": [*BUNDLE["entry"], {"resource": {"resourceType": "Foo"}}]}),
        422,
        "not-supported",
        f"Bundle.entry[{len(BUNDLE['entry'])}].resource.resourceType",
    ),
    ("400 not JSON", lambda c, s: post(c, s, b"{nope"), 400, "invalid", None),
]


@pytest.mark.parametrize(
    ("provoke", "status", "code", "expression"), [e[1:] for e in FHIR_ERRORS], ids=[e[0] for e in FHIR_ERRORS]
)
def test_every_fhir_error_is_an_operation_outcome(
    client: TestClient, site: Site, provoke: Any, status: int, code: str, expression: str | None
) -> None:
    from fhir.resources.R4B.operationoutcome import OperationOutcome

    response = provoke(client, site)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    (issue,) = OperationOutcome.model_validate(response.json()).issue
    assert issue.severity == "error" and issue.code == code and issue.diagnostics
    assert issue.expression == ([expression] if expression else None)


def test_an_unexpected_failure_is_a_500_operation_outcome(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    from fhir.resources.R4B.operationoutcome import OperationOutcome

    monkeypatch.setattr(site.service, "fhir_submit", _broken_submit)
    with TestClient(site.app, raise_server_exceptions=False) as c:
        response = post(c, site, BUNDLE)
    assert response.status_code == 500 and response.headers["content-type"].startswith("application/fhir+json")
    (issue,) = OperationOutcome.model_validate(response.json()).issue
    assert issue.code == "exception" and "boom" not in response.text
