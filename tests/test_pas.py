"""Da Vinci PAS intake and answers: the public payloads (tests/fixtures/pas, see SOURCES.md) and variants.

Each public payload is read and answered the way a PAS payer would (a response Bundle or an
OperationOutcome, never a crash); the variants each pin one behaviour of issue 11 and issue 12 finding 7.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from scans import scanned_pdf

from agent.cases.determination import Determination
from agent.cases.fhir import case_from_bundle
from agent.cases.pas_request import read_pas_request
from agent.cases.pas_response import REVIEW_ACTION, REVIEW_ACTION_CODE, operation_outcome, response_bundle
from agent.cases.pas_submit import pas_submit
from agent.errors import CaseFileError

ROOT = Path(__file__).parent.parent
PAS = Path(__file__).parent / "fixtures" / "pas"
EXAMPLE = json.loads((ROOT / "examples" / "pas-bundle-cervical-fusion.json").read_text())


def load(name: str) -> dict[str, Any]:
    return json.loads((PAS / name).read_text())  # type: ignore[no-any-return]


class FakeRecord:
    def __init__(self, det: Determination) -> None:
        self.id, self.determination = "R-TEST", det


@pytest.fixture(scope="module")
def submit(kb_offline):  # type: ignore[no-untyped-def]
    from agent.review.reviewer import Reviewer

    reviewer = Reviewer(kb_offline, retrieve=False)
    return lambda case: FakeRecord(reviewer.review(case))


@pytest.fixture(scope="module")
def submit_acr(kb_offline):  # type: ignore[no-untyped-def]
    """A reviewer with the criteria set chosen for it (as ``--policy``): the Bundle's own plan does not route."""
    from agent.review.reviewer import Reviewer

    reviewer = Reviewer(kb_offline, policy="acr-default", retrieve=False)
    return lambda case: FakeRecord(reviewer.review(case))


def answer(bundle: Any, submit: Any) -> tuple[int, dict[str, Any]]:
    status, body = pas_submit(json.dumps(bundle).encode(), submit)
    assert status < 500
    if status == 200:
        check_pas_response(body, bundle)
    else:
        assert body["resourceType"] == "OperationOutcome"
    return status, body


def check_pas_response(body: dict[str, Any], request: dict[str, Any]) -> None:
    """What fhir.resources does not check of the PAS response profiles."""
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate(body)
    assert body["type"] == "collection" and body["timestamp"] and body["identifier"]
    assert all(e.get("fullUrl") for e in body["entry"])
    response = body["entry"][0]["resource"]
    assert (
        response["resourceType"] == "ClaimResponse" and response["status"] == "active" and response["use"] == "preauthorization"
    )
    assert response["outcome"] in ("complete", "partial", "error") and response["request"]
    urls = {e["fullUrl"] for e in body["entry"]}
    for key in ("patient", "insurer", "requestor"):
        if "reference" in response.get(key, {}):
            assert response[key]["reference"] in urls  # the resources it references travel with it
    claim = next((e["resource"] for e in request.get("entry", []) if e["resource"]["resourceType"] == "Claim"), None)
    if claim is not None and response["outcome"] != "error":
        assert [i["itemSequence"] for i in response["item"]] == [i["sequence"] for i in claim["item"]]
    for item in response.get("item", []):
        adjudication = item["adjudication"][0]
        assert adjudication["category"]["coding"][0]["code"] == "submitted"
        if response["outcome"] != "error":
            (action,) = [e for e in adjudication["extension"] if e["url"] == REVIEW_ACTION]
            assert {e["url"] for e in action["extension"]} >= {REVIEW_ACTION_CODE}


def actions(body: dict[str, Any]) -> list[str]:
    response = body["entry"][0]["resource"]
    found = []
    for item in response["item"]:
        (action,) = [e for e in item["adjudication"][0]["extension"] if e["url"] == REVIEW_ACTION]
        found.append(
            next(e for e in action["extension"] if e["url"] == REVIEW_ACTION_CODE)["valueCodeableConcept"]["coding"][0]["code"]
        )
    return found


# -- the public payloads -----------------------------------------------------------------------------

PUBLIC = [
    # file, HTTP status, outcome, review action per item (or the OperationOutcome expression)
    ("davinci-pas/ReferralAuthorizationBundleExample.json", 200, "partial", ["A4"]),  # X12 "3" consultation: referred
    ("davinci-pas/HomecareAuthorizationBundleExample.json", 200, "partial", ["A4", "A4"]),  # no note: pended for documentation
    ("davinci-pas/HomecareAuthorizationUpdateBundleExample.json", 200, "partial", ["A4", "C", "A4"]),  # update: line 2 cancelled
    ("davinci-pas/MedicalServicesAuthorizationBundleExample.json", 200, "partial", ["A4"]),
    ("davinci-pas/SurgicalRequestBundleExample.json", 200, "partial", ["A4"]),
    ("inferno/conformant_pas_bundle_v110.json", 200, "partial", ["A4"]),
    ("inferno/conformant_pas_bundle_v110_multiple_items.json", 200, "partial", ["A4", "A4"]),
    ("inferno/conformant_pas_bundle_v110_uuid.json", 200, "partial", ["A4"]),
    (
        "inferno/missing_referenced_resource_request_bundle.json",
        422,
        "Bundle.entry[0].resource.careTeam[0].provider.reference",
        None,
    ),
    ("inferno/nonconformant_pas_bundle_v110.json", 422, "Bundle.entry", None),
    ("prior-auth/bundle-items.json", 200, "complete", ["A4", "A4"]),  # home health HCPCS: reviewed, no spine guideline -> refer
    ("prior-auth/DatabaseResources-Claim.json", 200, "complete", ["A4", "A4"]),
    ("prior-auth/DatabaseResources-ClaimUpdate1.json", 200, "complete", ["A4", "A4"]),
    ("prior-auth/DatabaseResources-ClaimUpdate2.json", 200, "complete", ["A4", "A4"]),
    ("prior-auth/bundle-request.json", 422, "Bundle.entry[0].resource.item", None),  # a Claim without items
    ("prior-auth/bundle-with-only-claim.json", 422, "Bundle.entry[0].resource.patient.reference", None),
    ("prior-auth/bundle-prior-auth.json", 422, "Bundle.entry[1].resource.insurance", None),  # STU3-shaped DeviceRequest
    ("prior-auth/bundle-dtr.json", 422, "Bundle.entry[4].resource.clinicalStatus", None),  # STU3-shaped Condition
    (
        "workbench/mri_lumbar_spine_golden.fhir-bundle.json",
        200,
        "partial",
        ["A4"],
    ),  # no Claim (the ServiceRequest is the request); its Coverage's plan "Acme PPO Gold" is not in the plan map: pended
    ("workbench/mri_lumbar_spine_missing_evidence.fhir-bundle.json", 200, "partial", ["A4"]),
    ("workbench/pas-claim-submit.bundle.json", 200, "partial", ["A4"]),  # item described only as text
]


@pytest.mark.parametrize(("name", "status", "outcome", "codes"), PUBLIC, ids=[p[0] for p in PUBLIC])
def test_public_payloads_are_answered_like_a_payer(
    name: str, status: int, outcome: str, codes: list[str] | None, submit: Any
) -> None:
    got, body = answer(load(name), submit)
    assert got == status, body
    if status == 200:
        assert body["entry"][0]["resource"]["outcome"] == outcome
        assert actions(body) == codes
    else:
        assert body["issue"][0]["expression"] == [outcome]
        assert "Error" not in body["issue"][0]["diagnostics"] and "Traceback" not in json.dumps(body)


def test_an_x12_service_type_line_is_referred_not_refused() -> None:
    request = read_pas_request(load("inferno/conformant_pas_bundle_v110.json"))
    (line,) = request.lines
    assert line.status == "refer" and "X12 service-type" in line.reason and request.case is None


def test_a_request_with_no_note_is_pended_asking_for_documentation(submit: Any) -> None:
    _, body = answer(load("davinci-pas/HomecareAuthorizationBundleExample.json"), submit)
    response = body["entry"][0]["resource"]
    assert "clinical notes" in response["disposition"] and response["processNote"]


# -- variants of the example Bundle ------------------------------------------------------------------


def example(**changes: Any) -> dict[str, Any]:
    bundle = copy.deepcopy(EXAMPLE)
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] in changes:
            changes[entry["resource"]["resourceType"]](entry["resource"])
    return bundle


def resource(bundle: dict[str, Any], rtype: str) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype)


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


NOTE = resource(EXAMPLE, "DocumentReference")["content"][0]["attachment"]["data"]


def test_the_example_reads_with_its_document_as_an_attachment() -> None:
    case = case_from_bundle(EXAMPLE)
    (att,) = case.request.attachments
    assert att.text == base64.b64decode(NOTE).decode().strip() and str(att.date) == "2026-09-14"
    assert case.request.codes == ["72157", "72158"] and case.request.patient.age == 58


def test_an_entered_in_error_document_is_never_used() -> None:
    wrong = {
        "resourceType": "DocumentReference",
        "id": "wrong-patient",
        "status": "entered-in-error",
        "date": "2026-09-15T00:00:00Z",
        "content": [{"attachment": {"contentType": "text/plain", "data": b64("Saddle anesthesia and urinary retention.")}}],
    }
    bundle = copy.deepcopy(EXAMPLE)
    bundle["entry"].append({"fullUrl": "urn:uuid:wrong", "resource": wrong})
    case = case_from_bundle(bundle)
    assert "Saddle" not in case.request.documentation and len(case.request.attachments) == 1


def test_a_replaced_document_gives_way_to_the_current_one() -> None:
    bundle = copy.deepcopy(EXAMPLE)
    newer = {
        "resourceType": "DocumentReference",
        "id": "addendum",
        "status": "current",
        "date": "2026-09-16T00:00:00Z",
        "relatesTo": [{"code": "replaces", "target": {"reference": "urn:uuid:doc-1"}}],
        "content": [{"attachment": {"contentType": "text/plain", "data": b64("Corrected note: 10 weeks of physical therapy.")}}],
    }
    bundle["entry"].append({"fullUrl": "urn:uuid:doc-2", "resource": newer})
    case = case_from_bundle(bundle)
    assert [a.text for a in case.request.attachments] == ["Corrected note: 10 weeks of physical therapy."]


def test_the_patient_is_claim_patient_not_the_first_patient() -> None:
    bundle = copy.deepcopy(EXAMPLE)
    parent = {"resourceType": "Patient", "id": "subscriber", "gender": "female", "birthDate": "1960-01-01"}
    bundle["entry"].insert(0, {"fullUrl": "urn:uuid:subscriber", "resource": parent})
    child = bundle["entry"][1]["resource"]
    child["birthDate"] = "2016-03-01"
    case = case_from_bundle(bundle)
    assert case.request.patient.age == 10 and case.request.patient.sex == "male"


def test_level_of_service_urgent_is_expedited() -> None:
    def urgent(claim: dict[str, Any]) -> None:
        claim["extension"] = [
            {
                "url": "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-levelOfServiceCode",
                "valueCodeableConcept": {"coding": [{"system": "https://codesystem.x12.org/005010/1338", "code": "U"}]},
            }
        ]

    assert case_from_bundle(example(Claim=urgent)).request.urgency == "expedited"
    assert case_from_bundle(EXAMPLE).request.urgency == "standard"


def test_structured_evidence_is_read_each_as_its_own_document() -> None:
    bundle = copy.deepcopy(EXAMPLE)
    patient_ref = {"reference": "urn:uuid:patient-1"}
    extra = [
        {
            "resourceType": "Observation",
            "id": "o1",
            "status": "final",
            "code": {"text": "Post-void residual"},
            "subject": patient_ref,
            "effectiveDateTime": "2026-09-13",
            "valueQuantity": {"value": 450, "unit": "mL"},
        },
        {
            "resourceType": "QuestionnaireResponse",
            "id": "q1",
            "status": "completed",
            "authored": "2026-09-12",
            "item": [{"linkId": "pt", "text": "Weeks of physical therapy", "answer": [{"valueInteger": 8}]}],
        },
        {
            "resourceType": "Communication",
            "id": "c1",
            "status": "completed",
            "sent": "2026-09-11T00:00:00Z",
            "payload": [{"contentString": "Patient reports new numbness in both feet."}],
        },
        {
            "resourceType": "Binary",
            "id": "bin1",
            "contentType": "text/html",
            "data": b64("<p>Clinic <b>letter</b>: MRI ordered.</p>"),
        },
    ]
    bundle["entry"] += [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in extra]
    resource(bundle, "ServiceRequest")["note"] = [{"text": "Please expedite: worsening gait."}]
    claim = resource(bundle, "Claim")
    claim["supportingInfo"].append(
        {"sequence": 9, "category": {"text": "letter"}, "valueAttachment": {"url": "urn:uuid:bin1", "title": "Referral letter"}}
    )
    docs = {a.title: a for a in case_from_bundle(bundle).request.attachments}
    assert docs["Observation: Post-void residual"].text == "Post-void residual: 450 mL"
    assert "Weeks of physical therapy: 8" in docs["Questionnaire responses (DTR)"].text
    assert any("numbness in both feet" in (a.text or "") for a in docs.values())
    assert docs["Referral letter"].text == "Clinic letter: MRI ordered."  # HTML stripped, by url to a Binary
    assert any("worsening gait" in (a.text or "") for a in docs.values())
    assert str(docs["Observation: Post-void residual"].date) == "2026-09-13"
    assert str(case_from_bundle(bundle).request.note_date) == "2026-09-14"  # the newest document, not the last read


def test_claim_diagnosis_codes_are_diagnoses() -> None:
    def cauda(claim: dict[str, Any]) -> None:
        claim["diagnosis"].append(
            {
                "sequence": 9,
                "diagnosisCodeableConcept": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "G83.4"}]},
            }
        )

    assert "G83.4" in case_from_bundle(example(Claim=cauda)).request.diagnoses


def test_a_contained_document_is_read() -> None:
    bundle = copy.deepcopy(EXAMPLE)
    claim = resource(bundle, "Claim")
    claim["contained"] = [
        {
            "resourceType": "DocumentReference",
            "id": "inline",
            "status": "current",
            "date": "2026-09-10T00:00:00Z",
            "content": [{"attachment": {"contentType": "text/plain", "data": b64("Contained note: foot drop on the left.")}}],
        }
    ]
    claim["supportingInfo"].append({"sequence": 8, "category": {"text": "note"}, "valueReference": {"reference": "#inline"}})
    assert "foot drop" in case_from_bundle(bundle).request.documentation


def test_a_scanned_pdf_attachment_is_ocrd(tmp_path: Path) -> None:
    pdf = scanned_pdf(base64.b64decode(NOTE).decode(), tmp_path / "fax.pdf").read_bytes()

    def as_pdf(doc: dict[str, Any]) -> None:
        doc["content"][0]["attachment"] = {"contentType": "application/pdf", "data": b64(pdf), "title": "faxed note"}

    (att,) = case_from_bundle(example(DocumentReference=as_pdf)).request.attachments
    assert att.ocr_pages == 1 and "anterior cervical discectomy" in (att.text or "")


def test_an_unreadable_attachment_pends_the_request(submit: Any) -> None:
    def broken(doc: dict[str, Any]) -> None:
        doc["content"][0]["attachment"] = {"contentType": "application/pdf", "data": b64(b"%PDF-1.4 garbage")}

    status, body = answer(example(DocumentReference=broken), submit)
    response = body["entry"][0]["resource"]
    assert status == 200 and actions(body) == ["A4", "A4"] and "unreadable" in response["disposition"]


def test_snomed_coded_items_are_referred_not_read_as_cpt() -> None:
    def snomed(claim: dict[str, Any]) -> None:
        claim["item"][0]["productOrService"] = {
            "coding": [{"system": "http://snomed.info/sct", "code": "241615005", "display": "MRI of lumbar spine"}]
        }

    request = read_pas_request(example(Claim=snomed))
    assert [ln.status for ln in request.lines] == ["refer", "review"] and "SNOMED CT" in request.lines[0].reason
    assert request.case is not None and request.case.request.codes == ["72158"]


@pytest.mark.parametrize(
    ("change", "expression", "code"),
    [
        (
            lambda b: b["entry"].append({"resource": {"resourceType": "Foo", "id": "x"}}),
            "Bundle.entry[5].resource.resourceType",
            "not-supported",
        ),
        (
            lambda b: resource(b, "Claim").__setitem__("patient", {"reference": "Patient/nobody"}),
            "Bundle.entry[1].resource.patient.reference",
            "not-found",
        ),
        (lambda b: resource(b, "Claim").__setitem__("status", 7), "Bundle.entry[1].resource.status", "invalid"),
        (lambda b: resource(b, "Claim").__setitem__("patient", "Patient/1"), "Bundle.entry[1].resource.patient", "invalid"),
    ],
    ids=["unknown-resourceType", "dangling-reference", "bad-value", "stu3-shape"],
)
def test_bad_bundles_get_an_operation_outcome_with_the_fhir_path(change: Any, expression: str, code: str, submit: Any) -> None:
    bundle = copy.deepcopy(EXAMPLE)
    change(bundle)
    status, body = answer(bundle, submit)
    assert status == 422 and body["issue"][0]["code"] == code and body["issue"][0]["expression"] == [expression]


@pytest.mark.parametrize(
    ("raw", "status"), [(b"{not json", 400), (b"\xff\xfe", 400), (b"[]", 422), (b'{"resourceType": "Patient"}', 422)]
)
def test_non_bundles_get_an_operation_outcome(raw: bytes, status: int, submit: Any) -> None:
    got, body = pas_submit(raw, submit)
    assert got == status and body["resourceType"] == "OperationOutcome"


def test_a_future_document_date_is_refused() -> None:
    def future(doc: dict[str, Any]) -> None:
        doc["date"] = "2999-01-01T00:00:00Z"

    with pytest.raises(CaseFileError, match="future"):
        case_from_bundle(example(DocumentReference=future))


def test_other_claim_uses_are_answered_not_reviewed(submit: Any) -> None:
    def claim_use(claim: dict[str, Any]) -> None:
        claim["use"] = "claim"

    status, body = answer(example(Claim=claim_use), submit)
    response = body["entry"][0]["resource"]
    assert (
        status == 200 and response["outcome"] == "error" and response["error"][0]["extension"][0]["valueString"].endswith(".use")
    )


def test_an_approval_carries_the_authorization_number(submit_acr: Any) -> None:
    from agent.cases.model import Decision

    request = read_pas_request(load("workbench/mri_lumbar_spine_golden.fhir-bundle.json"))
    det = submit_acr(request.case).determination
    approved = det.model_copy(
        update={"determinations": [d.model_copy(update={"decision": Decision.approve}) for d in det.determinations]}
    )
    bundle = response_bundle(request, approved, review_id="R-1")
    check_pas_response(bundle, request.bundle)
    response = bundle["entry"][0]["resource"]
    assert response["preAuthRef"] == "R-1" and actions(bundle) == ["A1"]
    action = response["item"][0]["adjudication"][0]["extension"][0]
    assert {"url": "number", "valueString": "R-1-1"} in action["extension"]


def test_item_trace_numbers_are_echoed(submit: Any) -> None:
    _, body = answer(load("inferno/conformant_pas_bundle_v110.json"), submit)
    item = body["entry"][0]["resource"]["item"][0]
    assert item["extension"][0]["valueIdentifier"]["value"] == "1122334"


def test_operation_outcome_never_names_python_classes() -> None:
    outcome = operation_outcome(CaseFileError("body", "Bundle.entry[0]", "missing resourceType"))
    assert outcome["issue"][0]["expression"] == ["Bundle.entry[0]"]


# -- birth dates ---------------------------------------------------------------------------------------


def test_a_missing_birth_date_is_an_unknown_age_and_age_gated_lines_are_referred(submit: Any) -> None:
    def no_birth(patient: dict[str, Any]) -> None:
        patient.pop("birthDate")

    bundle = example(Patient=no_birth)
    case = case_from_bundle(bundle)
    assert case.request.patient.age is None  # unknown, never 0
    status, body = answer(bundle, submit)
    response = body["entry"][0]["resource"]
    assert status == 200 and actions(body) == ["A4", "A4"] and response["outcome"] == "complete"
    assert all("age unknown" in item["adjudication"][0]["reason"]["text"] for item in response["item"])


def test_a_birth_date_after_the_request_is_refused_with_its_path() -> None:
    def unborn(patient: dict[str, Any]) -> None:
        patient["birthDate"] = "2026-12-01"

    def created(claim: dict[str, Any]) -> None:
        claim["created"] = "2026-09-20"

    with pytest.raises(CaseFileError) as caught:
        case_from_bundle(example(Patient=unborn, Claim=created))
    assert caught.value.field == "Bundle.entry[0].resource.birthDate" and "after the request" in caught.value.problem


@pytest.mark.parametrize(
    ("coding", "named"),
    [
        ({"system": "https://codesystem.x12.org/005010/1365", "code": "3", "display": "Consultation"}, "X12 service-type"),
        ({"system": "http://snomed.info/sct", "code": "241615005"}, "SNOMED CT"),
        ({"system": "http://loinc.org", "code": "24531-6"}, "LOINC"),
        ({"system": "http://example.org/local", "code": "MRI-L"}, "http://example.org/local"),
    ],
    ids=["x12-service-type", "snomed", "loinc", "local"],
)
def test_a_non_cpt_line_is_pended_on_its_own_beside_a_reviewed_cpt_line(coding: dict[str, str], named: str, submit: Any) -> None:
    def mixed(claim: dict[str, Any]) -> None:
        claim["item"][0]["productOrService"] = {"coding": [coding]}

    status, body = answer(example(Claim=mixed), submit)
    response = body["entry"][0]["resource"]
    first, second = response["item"]
    assert status == 200 and response["outcome"] == "partial" and actions(body)[0] == "A4"
    assert named in first["adjudication"][0]["reason"]["text"] and "not CPT/HCPCS" in first["adjudication"][0]["reason"]["text"]
    assert "not CPT/HCPCS" not in second["adjudication"][0]["reason"]["text"]
    assert [ln.status for ln in read_pas_request(example(Claim=mixed)).lines] == ["refer", "review"]  # 72158 reviewed
