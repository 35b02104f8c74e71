"""What a PAS payer sends back: a response Bundle (ClaimResponse first, then the Patient, requestor and
insurer it references), or an OperationOutcome when the request cannot be processed.

Per item: ``itemSequence`` echoes ``Claim.item.sequence``, the item trace numbers are echoed, and the
review action sits in the PAS ``extension-reviewAction`` (``code``: X12 306 A1 certified / A4 pended /
C cancelled, ``number``: the authorization number of a certified item). A recommended denial is never
sent as A3: it stays pended (A4) until a physician signs it. ``outcome`` is ``complete`` when every line
has an answer, ``partial`` when some lines were pended without a review, ``error`` when nothing could be
reviewed. ``extension-claimResponseReviewer.wasHumanReviewedFlag`` says whether a human reviewed it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from agent.cases.determination import Determination
from agent.cases.model import Decision
from agent.cases.pas_request import PasLine, PasRequest
from agent.errors import CaseFileError

PAS = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
REVIEW_ACTION = PAS + "extension-reviewAction"
REVIEW_ACTION_CODE = PAS + "extension-reviewActionCode"
REVIEWER = PAS + "extension-claimResponseReviewer"
ITEM_TRACE = PAS + "extension-itemTraceNumber"
ERROR_PATH = PAS + "extension-errorPath"
X12_306 = "https://codesystem.x12.org/005010/306"
X12_901 = "https://codesystem.x12.org/005010/901"
ADJUDICATION = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/adjudication", "code": "submitted"}]}
ADMIN_REF = PAS + "extension-administrationReferenceNumber"
# X12 306 (HCR01 action code), the value set bound to extension-reviewActionCode
# (https://valueset.x12.org/x217/005010/response/2000F/HCR/1/01/00/306, in the IG's ClaimResponse.fsh);
# codes and displays as in the IG's Examples.fsh (A1 "Certified in total", A3 "Not Certified"; A4 is
# "Pended" in X12's list, "Pending" in one IG example). The HCR03 reason (reviewAction.reasonCode,
# X12 external code list 886) is licensed X12 content and is not sent: the reason is text in
# adjudication.reason and processNote.
ACTIONS = {
    "approve": ("A1", "Certified in total"),
    "deny": ("A3", "Not Certified"),  # only after a physician reviewer signed the denial
    "pend": ("A4", "Pended"),
    "cancelled": ("C", "Cancelled"),
}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _review_action(action: str, number: str | None = None) -> dict[str, Any]:
    code, display = ACTIONS[action]
    parts: list[dict[str, Any]] = [
        {"url": REVIEW_ACTION_CODE, "valueCodeableConcept": {"coding": [{"system": X12_306, "code": code, "display": display}]}}
    ]
    if number:
        parts.append({"url": "number", "valueString": number})
    return {"url": REVIEW_ACTION, "extension": parts}


def _answer(line: PasLine, request: PasRequest, det: Determination | None, final: bool) -> tuple[str, str, str | None]:
    """(action, reason text, recommendation) for one line. ``final``: a physician reviewer has signed
    ``det`` (its decisions are the signed ones), so a deny is an adverse determination (A3)."""
    if line.status == "cancelled":
        return "cancelled", line.reason, None
    if line.status == "refer":
        return "pend", line.reason, "refer"
    if request.pend_reason or det is None:
        return "pend", request.pend_reason or "Pended for review.", None
    found = det.for_code(line.code or "")
    if found is None:
        return "pend", "No recommendation; referred to a physician reviewer.", "refer"
    if found.decision == Decision.approve:
        return "approve", found.rationale, "approve"
    if found.decision == Decision.deny and final:
        return "deny", found.rationale, "deny, signed by a physician reviewer"
    return "pend", found.rationale, found.decision.value


def claim_response(
    request: PasRequest,
    det: Determination | None,
    *,
    review_id: str | None = None,
    human_reviewed: bool = False,
    refs: dict[str, dict[str, Any]] | None = None,
    final: bool = False,
    reference: str | None = None,
) -> dict[str, Any]:
    """The PAS ClaimResponse for a read request and its determination (None when it was not reviewed);
    ``final``: the determination carries a physician reviewer's signed decisions."""
    claim = request.claim or {}
    refs = refs or {}
    items: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    certified = False
    for line in request.lines:
        action, reason, rec = _answer(line, request, det, final)
        number = f"{review_id}-{line.sequence}" if action == "approve" and review_id else None
        certified = certified or action == "approve"
        note = len(notes) + 1
        text = reason if rec is None else f"umreview recommendation: {rec}. {reason}"
        notes.append({"number": note, "type": "display", "text": text[:2000]})
        item: dict[str, Any] = {
            "itemSequence": line.sequence,
            "noteNumber": [note],
            "adjudication": [
                {"category": ADJUDICATION, "reason": {"text": text[:1000]}, "extension": [_review_action(action, number)]}
            ],
        }
        item_ext: list[dict[str, Any]] = [{"url": ITEM_TRACE, "valueIdentifier": t} for t in line.trace_numbers]
        admin_ref = reference or review_id
        if admin_ref and action != "approve":  # REF-NT: what an inquiry about a pended item can quote
            item_ext.append({"url": ADMIN_REF, "valueString": admin_ref})
        if item_ext:
            item["extension"] = item_ext
        items.append(item)
    reviewed_all = not request.pend_reason and all(ln.status != "refer" for ln in request.lines)
    body: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "id": str(uuid.uuid4()),
        "extension": [{"url": REVIEWER, "extension": [{"url": "wasHumanReviewedFlag", "valueBoolean": human_reviewed}]}],
        "identifier": list(claim.get("identifier") or []),
        "status": "active",
        "type": claim.get("type")
        or {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
        "use": "preauthorization",
        "patient": refs.get("patient") or {"display": "patient of the request"},
        "created": _now(),
        "insurer": refs.get("insurer") or {"display": "umreview"},
        "request": refs.get("request") or {"display": "the submitted request (no Claim in the Bundle)"},
        "outcome": "complete" if reviewed_all else "partial",
        "disposition": _disposition(request, det, certified, final),
        "item": items,
        "processNote": notes,
    }
    if "requestor" in refs:
        body["requestor"] = refs["requestor"]
    if review_id:
        body["identifier"].append({"system": "https://umreview.dev/review-id", "value": review_id})
    if certified and review_id:
        body["preAuthRef"] = review_id
    if not body["identifier"]:
        del body["identifier"]
    return _validated(body)


def _disposition(request: PasRequest, det: Determination | None, certified: bool, final: bool = False) -> str:
    if request.pend_reason:
        return f"Pended: {request.pend_reason}"
    if det is not None and final:
        return "Signed by a physician reviewer; see each item for its decision."
    if det is not None and not certified:
        return det.notice
    if det is not None and any(ln.status != "review" for ln in request.lines):
        return "Some services recommended for approval; the others are pended or were cancelled (see each item)."
    return "All requested services recommended for approval." if certified else "Pended for physician review."


def _validated(resource: dict[str, Any]) -> dict[str, Any]:
    from fhir.resources.R4B import get_fhir_model_class

    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


def error_response(request: PasRequest, reason: str) -> dict[str, Any]:
    """A ClaimResponse with outcome ``error`` for a request that is answered but not reviewed (e.g. Claim.use=claim)."""
    body = claim_response(request, None)
    body["outcome"] = "error"
    body["disposition"] = f"Not reviewed: {reason}."
    body["error"] = [
        {
            "code": {"coding": [{"system": X12_901, "code": "33", "display": "Input Errors"}]},
            "extension": [{"url": ERROR_PATH, "valueString": f"{request.claim_path}.use"}],
        }
    ]
    for item in body["item"]:
        item["adjudication"][0]["reason"] = {"text": f"Not reviewed: {reason}."}
    return _validated(body)


def response_bundle(
    request: PasRequest,
    det: Determination | None,
    *,
    review_id: str | None = None,
    human_reviewed: bool = False,
    final: bool = False,
    resources: dict[str, Any] | None = None,
    reference: str | None = None,
) -> dict[str, Any]:
    """The PAS response Bundle: ClaimResponse first, then the Patient, requestor and insurer of the Claim
    (resolved in the request's Bundle, or given as ``resources`` by role when answering a stored request)."""
    claim = request.claim or {}
    entries: list[dict[str, Any]] = []
    refs: dict[str, dict[str, Any]] = {}
    for role, ref in (("patient", claim.get("patient")), ("requestor", claim.get("provider")), ("insurer", claim.get("insurer"))):
        if resources is not None:
            target = resources.get(role)
        else:
            target = request.index.resolve(ref, container=claim) if ref and request.index else None
        if role == "patient" and target is None:
            target = request.patient
        if target is None:
            continue
        url = next((e["fullUrl"] for e in entries if e["resource"] is target), None) or f"urn:uuid:{uuid.uuid4()}"
        refs[role] = {"reference": url}
        if all(e["resource"] is not target for e in entries):
            entries.append({"fullUrl": url, "resource": target})
    if request.claim is not None:
        rid = claim.get("id")
        refs["request"] = {"reference": f"Claim/{rid}"} if rid else {"identifier": (claim.get("identifier") or [{}])[0]}
    if request.not_reviewed:
        response = error_response(request, request.not_reviewed)
        for key in ("patient", "insurer", "requestor", "request"):
            if key in refs:
                response[key] = refs[key]
    else:
        response = claim_response(
            request, det, review_id=review_id, human_reviewed=human_reviewed, refs=refs, final=final, reference=reference
        )
    return pas_bundle(response, entries, request.bundle.get("identifier"))


def pas_bundle(response: dict[str, Any], entries: list[dict[str, Any]], identifier: Any = None) -> dict[str, Any]:
    """A PAS response (or inquiry response) Bundle: ``collection``, the ClaimResponse first, then ``entries``."""
    bundle = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "identifier": identifier or {"system": "https://umreview.dev/response", "value": response["id"]},
        "type": "collection",
        "timestamp": _now(),
        "entry": [{"fullUrl": f"urn:uuid:{response['id']}", "resource": response}, *entries],
    }
    return _validated(bundle)


# FHIR issue-type (http://hl7.org/fhir/issue-type) for each HTTP status an OperationOutcome answers.
ISSUE_TYPES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "invalid",
    500: "exception",
    503: "transient",
}


def outcome(status: int, diagnostics: str, *, expression: list[str] | None = None, code: str | None = None) -> dict[str, Any]:
    """An OperationOutcome with one error issue for an HTTP ``status`` (the issue type follows from it)."""
    issue: dict[str, Any] = {
        "severity": "error" if status >= 400 else "information",
        "code": code or ISSUE_TYPES.get(status, "processing" if status < 500 else "exception"),
        "diagnostics": diagnostics,
    }
    if expression:
        issue["expression"] = expression
    return _validated({"resourceType": "OperationOutcome", "issue": [issue]})


def operation_outcome(exc: CaseFileError) -> dict[str, Any]:
    """An OperationOutcome for a request that cannot be processed; ``expression`` is the FHIR path."""
    problem = exc.problem
    code = (
        "not-supported"
        if "unknown FHIR resourceType" in problem
        else ("not-found" if "not in the Bundle" in problem else "invalid")
    )
    return outcome(422, problem, expression=[exc.field] if exc.field else None, code=code)
