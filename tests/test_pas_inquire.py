"""PAS $inquire: an earlier $submit found again by the patient's and provider's identifiers and the
numbers umreview issued (or the submitter's trace numbers), answered pended until a physician signs,
then with the signed decisions. Every response is validated with fhir.resources and the PAS checks
of test_pas.py."""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_pas import REVIEW_ACTION, actions, check_pas_response
from web_support import BUNDLE, Site, fake_kb, make_site

from agent.cases.pas_response import ADMIN_REF, REVIEWER

PAS = Path(__file__).parent / "fixtures" / "pas"
P = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
NPI = "http://hl7.org/fhir/sid/us-npi"
MEMBER = "http://example.org/MIN"
TRACE = "http://example.org/ITEM_TRACE"
_members = itertools.count(1)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return make_site(fake_kb(tmp_path_factory.mktemp("inq-kb")), tmp_path_factory.mktemp("inq-data"))


@pytest.fixture(scope="module")
def client(site: Site) -> Iterator[TestClient]:
    with TestClient(site.app, raise_server_exceptions=False) as c:
        yield c


def post(client: TestClient, site: Site, op: str, body: Any) -> Any:
    headers = {**site.auth("reviewer"), "content-type": "application/fhir+json"}
    return client.post(f"/fhir/Claim/${op}", content=json.dumps(body).encode(), headers=headers)


def returned(response: Any) -> list[dict[str, Any]]:
    """The response Bundles of an $inquire answer, each checked like a $submit response."""
    from fhir.resources.R4B.parameters import Parameters

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    Parameters.model_validate(body)
    bundles = [p["resource"] for p in body.get("parameter", []) if p["name"] == "return"]
    for bundle in bundles:
        check_pas_response(bundle, {})
    if not bundles:
        (note,) = [p["resource"] for p in body["parameter"] if p["name"] == "outcome"]
        assert (
            note["issue"][0]["code"] == "not-found"
            and "No prior authorization request matches" in note["issue"][0]["diagnostics"]
        )
    return bundles


def human_reviewed(bundle: dict[str, Any]) -> bool:
    (ext,) = [e for e in bundle["entry"][0]["resource"]["extension"] if e["url"] == REVIEWER]
    return bool(ext["extension"][0]["valueBoolean"])


def item_numbers(bundle: dict[str, Any]) -> list[str]:
    return [
        e["valueString"] for i in bundle["entry"][0]["resource"]["item"] for e in i.get("extension", []) if e["url"] == ADMIN_REF
    ]


# -- a reviewable request (the example Bundle) with a member id, an NPI and item trace numbers ------------


def submission(member: str, npi: str = "1234567890") -> dict[str, Any]:
    bundle = copy.deepcopy(BUNDLE)
    for entry in bundle["entry"]:
        res = entry["resource"]
        if res["resourceType"] == "Patient":
            res["identifier"] = [{"system": MEMBER, "value": member}]
            res["name"] = [{"family": "Doe", "given": ["Sam"]}]
        if res["resourceType"] == "Claim":
            res["provider"] = {"reference": "urn:uuid:org-1"}
            for n, item in enumerate(res["item"], 1):
                item.setdefault("extension", []).append(
                    {"url": P + "extension-itemTraceNumber", "valueIdentifier": {"system": TRACE, "value": f"{member}-{n}"}}
                )
    bundle["entry"].append(
        {
            "fullUrl": "urn:uuid:org-1",
            "resource": {
                "resourceType": "Organization",
                "id": "org-1",
                "name": "Ordering clinic",
                "identifier": [{"system": NPI, "value": npi}],
            },
        }
    )
    return bundle


def inquiry(
    member: str,
    npi: str = "1234567890",
    *,
    items: list[dict[str, Any]] | None = None,
    claim: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """A PAS inquiry Bundle (profile-claim-inquiry) about ``member``, asked by the provider with ``npi``."""
    inquiry_claim: dict[str, Any] = {
        "resourceType": "Claim",
        "id": "inquiry-1",
        "identifier": [{"system": "urn:trnorg:1234567890", "value": "INQ-1"}],
        "status": "active",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
        "use": "preauthorization",
        "patient": {"reference": "Patient/p1"},
        "created": "2026-10-02T10:00:00Z",
        "insurer": {"reference": "Organization/payer"},
        "provider": {"reference": "Organization/clinic"},
        "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "member coverage"}}],
        "item": items
        or [
            {
                "sequence": 1,
                "productOrService": {
                    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "not-applicable"}]
                },
            }
        ],
    }
    if claim:
        claim(inquiry_claim)
    entries = [
        inquiry_claim,
        {"resourceType": "Patient", "id": "p1", "identifier": [{"system": MEMBER, "value": member}], "name": [{"family": "Doe"}]},
        {"resourceType": "Organization", "id": "clinic", "identifier": [{"system": NPI, "value": npi}]},
        {"resourceType": "Organization", "id": "payer", "name": "Payer"},
    ]
    return {
        "resourceType": "Bundle",
        "identifier": {"system": "urn:trnorg:1234567890", "value": "INQ-BUNDLE-1"},
        "type": "collection",
        "timestamp": "2026-10-02T10:00:00Z",
        "entry": [{"fullUrl": f"http://example.org/fhir/{r['resourceType']}/{r['id']}", "resource": r} for r in entries],
    }


def submitted(client: TestClient, site: Site) -> tuple[str, str, dict[str, Any]]:
    """(member id, review id, $submit response) of a fresh submission of the example (two recommended denials)."""
    member = f"M{next(_members):06d}"
    response = post(client, site, "submit", submission(member))
    assert response.status_code == 200, response.text
    claim_response = response.json()["entry"][0]["resource"]
    review_id = next(i["value"] for i in claim_response["identifier"] if i["system"] == "https://umreview.dev/review-id")
    return member, review_id, response.json()


def test_a_pended_request_is_found_and_answered_pended_until_a_physician_signs(client: TestClient, site: Site) -> None:
    member, review_id, first = submitted(client, site)
    assert actions(first) == ["A4", "A4"] and item_numbers(first) == [review_id, review_id]  # REF-NT to inquire with
    (bundle,) = returned(post(client, site, "inquire", inquiry(member)))
    assert actions(bundle) == ["A4", "A4"] and not human_reviewed(bundle)
    assert bundle["entry"][0]["resource"]["item"][0]["extension"][0]["valueIdentifier"]["value"] == f"{member}-1"  # trace echoed


@pytest.mark.parametrize(
    ("signoff", "codes"),
    [
        ({"decision": "uphold"}, ["A3", "A3"]),  # the signed denial is an adverse determination: not certified
        ({"decision": "overturn", "reason": "PT notes show 8 weeks"}, ["A1", "A1"]),  # overturned to approve: certified
    ],
    ids=["uphold", "overturn"],
)
def test_after_sign_off_the_inquiry_answers_the_signed_decision(
    client: TestClient, site: Site, signoff: dict[str, str], codes: list[str]
) -> None:
    member, review_id, _ = submitted(client, site)
    signed = client.post(f"/v1/reviews/{review_id}/sign", json={"credentials": "MD", **signoff}, headers=site.auth("physician"))
    assert signed.status_code == 200, signed.text
    (bundle,) = returned(post(client, site, "inquire", inquiry(member)))
    response = bundle["entry"][0]["resource"]
    assert actions(bundle) == codes and human_reviewed(bundle) and response["outcome"] == "complete"
    if codes[0] == "A1":
        assert response["preAuthRef"] == review_id
        action = next(e for e in response["item"][0]["adjudication"][0]["extension"] if e["url"] == REVIEW_ACTION)
        assert {"url": "number", "valueString": f"{review_id}-1"} in action["extension"]


def _preauth(review_id: str) -> Callable[[dict[str, Any]], None]:
    return lambda c: c["insurance"][0].__setitem__("preAuthRef", [review_id])


def _claim_number(value: str, ext: str = "extension-authorizationNumber") -> Callable[[dict[str, Any]], None]:
    return lambda c: c.setdefault("extension", []).append({"url": P + ext, "valueString": value})


def _item(code: str | None = None, **ext: str) -> list[dict[str, Any]]:
    product = {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": code}]} if code else {"text": "not-applicable"}
    extensions = [{"url": P + k, "valueString": v} for k, v in ext.items() if k != "trace"]
    if "trace" in ext:
        extensions.append({"url": P + "extension-itemTraceNumber", "valueIdentifier": {"system": TRACE, "value": ext["trace"]}})
    return [{"sequence": 1, "productOrService": product, "extension": extensions}]


# (what the inquiry carries, how many requests it finds); {member} and {review} are filled per test
VARIANTS = [
    ("patient and provider only", lambda m, r: inquiry(m), 1),
    ("preAuthRef (Claim.insurance)", lambda m, r: inquiry(m, claim=_preauth(r)), 1),
    ("authorization number R-...-1 (REF-BB)", lambda m, r: inquiry(m, claim=_claim_number(f"{r}-1")), 1),
    (
        "administration reference number on an item (REF-NT)",
        lambda m, r: inquiry(m, items=_item(**{"extension-administrationReferenceNumber": r})),
        1,
    ),
    ("item trace number", lambda m, r: inquiry(m, items=_item(trace=f"{m}-2")), 1),
    ("requested code", lambda m, r: inquiry(m, items=_item("72157")), 1),
    ("code not requested", lambda m, r: inquiry(m, items=_item("72148")), 0),
    ("a number umreview never issued", lambda m, r: inquiry(m, claim=_claim_number("AUTH0001")), 0),
    ("another review's id", lambda m, r: inquiry(m, claim=_preauth("R-000000000000")), 0),
    ("another provider", lambda m, r: inquiry(m, "9999999999"), 0),
    ("another patient", lambda m, r: inquiry("NOBODY"), 0),
    ("trace number of another request", lambda m, r: inquiry(m, items=_item(trace="X-1")), 0),
]


@pytest.mark.parametrize(("build", "count"), [(v[1], v[2]) for v in VARIANTS], ids=[v[0] for v in VARIANTS])
def test_what_an_inquiry_matches(client: TestClient, site: Site, build: Any, count: int) -> None:
    member, review_id, _ = submitted(client, site)
    bundles = returned(post(client, site, "inquire", build(member, review_id)))
    assert len(bundles) == count
    if count:
        assert item_numbers(bundles[0]) == [review_id, review_id]


def test_the_ig_examples_a_homecare_request_pended_for_documentation_then_the_igs_inquiry(client: TestClient, site: Site) -> None:
    request = json.loads((PAS / "davinci-pas" / "HomecareAuthorizationBundleExample.json").read_text())
    query = json.loads((PAS / "davinci-pas" / "PASClaimInquiryBundleExample.json").read_text())
    member = f"IG{next(_members):06d}"  # the store is shared by this module's tests
    for bundle in (request, query):
        patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
        patient["identifier"][0]["value"] = member
    first = post(client, site, "submit", request).json()
    assert actions(first) == ["A4", "A4"]
    reference = item_numbers(first)[0]
    assert reference.startswith("P-")  # answered without a review (no documentation): a reference, not a review id
    (bundle,) = returned(post(client, site, "inquire", query))
    assert actions(bundle) == ["A4", "A4"] and item_numbers(bundle) == [reference, reference]
    assert "clinical notes" in bundle["entry"][0]["resource"]["disposition"]
    assert site.service.store.verify() == []  # the kept submission is part of the hash chain, and checks out


def _without(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda c: c.pop(key)


REFUSED = [
    ("no patient", inquiry("M1", claim=_without("patient")), 422, "Bundle.entry[0].resource.patient"),
    ("no provider", inquiry("M1", claim=_without("provider")), 422, "Bundle.entry[0].resource.provider"),
    ("not a Bundle", {"resourceType": "Claim"}, 422, "Bundle.resourceType"),
]


@pytest.mark.parametrize(("body", "status", "expression"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_an_inquiry_that_cannot_be_answered_gets_an_operation_outcome(
    client: TestClient, site: Site, body: Any, status: int, expression: str
) -> None:
    from fhir.resources.R4B.operationoutcome import OperationOutcome

    response = post(client, site, "inquire", body)
    assert response.status_code == status
    (issue,) = OperationOutcome.model_validate(response.json()).issue
    assert issue.expression == [expression]
