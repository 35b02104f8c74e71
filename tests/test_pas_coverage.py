"""The member's plan from a PAS Bundle's Coverage (agent/cases/pas_coverage.py), so the plan map
(guidelines/plans.yaml) routes FHIR submissions as it routes case files; one small Bundle per row."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from web_support import BUNDLE, Site, fake_kb, make_site

from agent.cases.fhir import read_pas_request
from agent.cli.main import app as cli

PLAN = {"system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "plan"}


def coverage(
    cid: str, *, classes: list[dict[str, Any]] | None = None, payor: list[dict[str, Any]] | None = None, **more: Any
) -> dict[str, Any]:
    resource = {"resourceType": "Coverage", "id": cid, "status": "active", "beneficiary": {"reference": "urn:uuid:patient-1"}}
    resource |= {"payor": payor or [{"reference": "Organization/payer"}]}
    if classes is not None:
        resource["class"] = classes
    return {"fullUrl": f"urn:uuid:{cid}", "resource": resource | more}


def plan_class(name: str | None = None, value: str = "PLAN-01", *, coded: bool = True) -> dict[str, Any]:
    kind = {"coding": [PLAN]} if coded else {"text": "plan"}
    return {"type": kind, "value": value, **({"name": name} if name else {})}


def bundle(
    coverages: list[dict[str, Any]], insurance: list[dict[str, Any]] | None = None, *, claim: bool = True
) -> dict[str, Any]:
    """The example PAS Bundle with these Coverage entries and Claim.insurance (default: none)."""
    b = copy.deepcopy(BUNDLE)
    b["entry"] += coverages
    claim_resource = next(e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == "Claim")
    claim_resource["insurance"] = insurance or [{"sequence": 1, "focal": True, "coverage": {"display": "Member coverage"}}]
    if not claim:
        b["entry"] = [e for e in b["entry"] if e["resource"]["resourceType"] != "Claim"]
    return b


def insured(cid: str, sequence: int = 1, *, focal: bool = True) -> dict[str, Any]:
    return {"sequence": sequence, "focal": focal, "coverage": {"reference": f"urn:uuid:{cid}"}}


GOLD = "Summit Health Gold PPO"
ROWS = [
    pytest.param(bundle([coverage("c1", classes=[plan_class(GOLD)])], [insured("c1")]), GOLD, id="plan-class-name"),
    pytest.param(
        bundle([coverage("c1", classes=[plan_class(value="SHP-GOLD-01")])], [insured("c1")]), "SHP-GOLD-01", id="plan-class-value"
    ),
    pytest.param(
        bundle([coverage("c1", classes=[plan_class(GOLD, coded=False)])], [insured("c1")]), GOLD, id="plan-type-as-text"
    ),
    pytest.param(
        bundle([coverage("c1", classes=[plan_class("  Summit  Health Gold\nPPO ")])], [insured("c1")]),
        GOLD,
        id="spacing-normalised",
    ),
    pytest.param(
        bundle(
            [
                coverage(
                    "c1",
                    classes=[{"type": {"coding": [{"code": "group"}]}, "value": "G-9", "name": "Employer group"}],
                    payor=[{"display": "Summit Health Plan"}],
                )
            ],
            [insured("c1")],
        ),
        "Summit Health Plan",
        id="group-class-only-payor-display",
    ),
    pytest.param(bundle([coverage("c1")], [insured("c1")]), None, id="payor-by-reference-only"),
    pytest.param(bundle([]), None, id="coverage-by-display-only"),
    pytest.param(
        bundle(
            [coverage("c1", classes=[plan_class("Secondary Plan")]), coverage("c2", classes=[plan_class(GOLD)])],
            [insured("c1", 1, focal=False), insured("c2", 2, focal=True)],
        ),
        GOLD,
        id="focal-coverage-first",
    ),
    pytest.param(
        bundle(
            [coverage("c1", classes=[plan_class("Old Plan")], status="cancelled"), coverage("c2", classes=[plan_class(GOLD)])],
            [insured("c1", 1), insured("c2", 2, focal=False)],
        ),
        GOLD,
        id="cancelled-coverage-skipped",
    ),
    pytest.param(bundle([coverage("c1", classes=[plan_class(GOLD)])]), GOLD, id="unreferenced-coverage-of-the-patient"),
    pytest.param(
        bundle([coverage("c1", classes=[plan_class(GOLD)], beneficiary={"reference": "Patient/someone-else"})]),
        None,
        id="coverage-of-another-patient",
    ),
    pytest.param(bundle([coverage("c1", classes=[plan_class(GOLD)])], claim=False), GOLD, id="no-claim-service-request"),
]


@pytest.mark.parametrize(("body", "plan"), ROWS)
def test_the_plan_comes_from_the_coverage(body: dict[str, Any], plan: str | None) -> None:
    request = read_pas_request(body)
    assert request.case is not None
    assert request.case.request.plan == plan


# --- over HTTP: the plan map routes the submission -------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return make_site(fake_kb(tmp_path_factory.mktemp("coverage-kb")), tmp_path_factory.mktemp("coverage-data"))


@pytest.fixture(scope="module")
def client(site: Site) -> Iterator[TestClient]:
    with TestClient(site.app, raise_server_exceptions=False) as c:
        yield c


def submit(client: TestClient, site: Site, body: dict[str, Any]) -> Any:
    headers = {**site.auth("reviewer"), "content-type": "application/fhir+json"}
    return client.post("/fhir/Claim/$submit", content=json.dumps(body).encode(), headers=headers)


def test_a_summit_plan_coverage_is_judged_under_summit_spine(client: TestClient, site: Site) -> None:
    response = submit(client, site, bundle([coverage("c1", classes=[plan_class(GOLD)])], [insured("c1")]))
    assert response.status_code == 200, response.text
    claim_response = response.json()["entry"][0]["resource"]
    review_id = next(i["value"] for i in claim_response["identifier"] if i["system"] == "https://umreview.dev/review-id")
    stored = client.get(f"/v1/reviews/{review_id}", headers=site.auth("reviewer")).json()
    assert stored["case"]["request"]["plan"] == GOLD
    determination = stored["determination"]
    provenance = determination["provenance"]
    assert provenance["criteria_set"] == "summit-spine" and provenance["criteria_version"] == "2026.1"
    assert all(d["topic_id"] is None or d["topic_id"].startswith("summit-") for d in determination["determinations"])


def test_without_a_plan_the_default_set_judges(client: TestClient, site: Site) -> None:
    response = submit(client, site, bundle([coverage("c1")], [insured("c1")]))
    claim_response = response.json()["entry"][0]["resource"]
    review_id = next(i["value"] for i in claim_response["identifier"] if i["system"] == "https://umreview.dev/review-id")
    stored = client.get(f"/v1/reviews/{review_id}", headers=site.auth("reviewer")).json()
    assert stored["case"]["request"]["plan"] is None and stored["determination"]["provenance"]["criteria_set"] == "acr-default"


def test_a_plan_the_map_does_not_route_is_pended_never_judged_by_the_default(client: TestClient, site: Site) -> None:
    response = submit(client, site, bundle([coverage("c1", classes=[plan_class("Acme PPO Gold")])], [insured("c1")]))
    assert response.status_code == 200, response.text
    claim_response = response.json()["entry"][0]["resource"]
    assert claim_response["outcome"] == "partial"
    assert not any(i["system"] == "https://umreview.dev/review-id" for i in claim_response.get("identifier", []))
    assert "'Acme PPO Gold'" in claim_response["disposition"] and "plan map" in claim_response["disposition"]
    assert all(
        a["extension"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "A4"
        for item in claim_response["item"]
        for a in item["adjudication"]
    )


def test_the_cli_refuses_an_unrouted_plan_like_a_case_file(tmp_path: Path) -> None:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle([coverage("c1", classes=[plan_class("Acme PPO Gold")])], [insured("c1")])))
    result = CliRunner().invoke(cli, ["review", str(path), "--no-store"])
    assert result.exit_code == 2 and "Acme PPO Gold" in result.output
