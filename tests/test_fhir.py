"""Da Vinci PAS-style Bundle -> Case, and Determination -> ClaimResponse (fhir.resources R4B)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from agent.cases.fhir import REVIEW_ACTION, REVIEW_ACTION_CODE, case_from_bundle, claim_response
from agent.cases.load import load_case
from agent.errors import CaseFileError

EXAMPLES = Path(__file__).parent.parent / "examples"
BUNDLE = json.loads((EXAMPLES / "pas-bundle-cervical-fusion.json").read_text())


def test_bundle_becomes_the_same_case_as_the_yaml() -> None:
    case = case_from_bundle(BUNDLE)
    yaml_case = load_case(EXAMPLES / "cervical-fusion-mid-low-back-burning.yaml")
    assert case.request.codes == ["72157", "72158"]
    assert case.request.patient.age == 58 and case.request.patient.sex == "male"
    (att,) = case.request.attachments  # the DocumentReference, read as its own document
    assert att.text == (yaml_case.request.clinical_notes or "").strip()
    assert str(case.request.note_date) == "2026-09-14"
    assert "Z98.1" in case.request.diagnoses


def test_bundle_file_loads_through_the_case_loader() -> None:
    case = load_case(EXAMPLES / "pas-bundle-cervical-fusion.json")
    assert case.id == "pas-claim-cervical-fusion-back-burning"


def _without(resource_type: str) -> dict:
    bundle = copy.deepcopy(BUNDLE)
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != resource_type]
    return bundle


@pytest.mark.parametrize(
    ("bundle", "field"),
    [
        (
            {
                **_without("Claim"),
                "entry": [e for e in _without("Claim")["entry"] if e["resource"]["resourceType"] != "ServiceRequest"],
            },
            "Bundle.entry",
        ),
        (_without("DocumentReference"), "Bundle.entry[1].resource.supportingInfo[0].valueReference.reference"),
        (
            {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Claim", "status": 7}}]},
            "Bundle.entry[0].resource.status",
        ),
    ],
    ids=["no claim or service request", "dangling document reference", "invalid resource"],
)
def test_bad_bundles_name_the_element(bundle: dict, field: str) -> None:
    with pytest.raises(CaseFileError) as info:
        case_from_bundle(bundle, source="req.json")
    assert info.value.path == "req.json" and info.value.field.startswith(field)


def test_claim_response_pends_denials_and_says_no_human_reviewed(kb_offline) -> None:
    from agent.review.reviewer import Reviewer

    case = case_from_bundle(BUNDLE)
    det = Reviewer(kb_offline, retrieve=False).review(case)
    response = claim_response(det, case)
    assert response["resourceType"] == "ClaimResponse" and response["use"] == "preauthorization"
    assert response["outcome"] == "complete"  # PAS allows complete | partial | error; pended items carry A4
    for item in response["item"]:
        (action,) = item["adjudication"][0]["extension"]
        assert action["url"] == REVIEW_ACTION
        code = next(e for e in action["extension"] if e["url"] == REVIEW_ACTION_CODE)
        assert code["valueCodeableConcept"]["coding"][0]["code"] == "A4"
        assert item["adjudication"][0]["reason"]["text"].startswith("umreview recommendation: deny. Recommend denial")
    (reviewer,) = response["extension"]
    assert reviewer["extension"] == [{"url": "wasHumanReviewedFlag", "valueBoolean": False}]
