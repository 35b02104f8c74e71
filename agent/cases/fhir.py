"""FHIR (R4B models of fhir.resources) for Da Vinci PAS-style prior authorization.

``case_from_bundle`` turns a PAS-style request Bundle (Claim with CPT items, Patient, Condition,
ServiceRequest, DocumentReference or attachments with the clinical notes) into a Case.
``claim_response`` answers with a ClaimResponse whose items carry the review action (X12 306),
the specific reason, and whether a human has reviewed it. A deny is "pended" until a physician
signs it: the automated recommendation never goes out as a final adverse determination.
"""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime
from typing import Any

from pydantic import ValidationError

from agent.cases.determination import Determination
from agent.cases.model import Case, Decision, case_from_data
from agent.errors import CaseFileError

X12_306 = "https://codesystem.x12.org/005010/306"
REVIEW_ACTION_CODE = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-reviewActionCode"
HUMAN_REVIEWED = "https://umreview.dev/fhir/StructureDefinition/human-reviewed"
# approve -> A1 certified in total; deny/refer -> A4 pended (a physician decides; never an automatic denial)
ACTION = {Decision.approve: ("A1", "Certified in total"), Decision.deny: ("A4", "Pended"), Decision.refer: ("A4", "Pended")}


def _resources(bundle: dict[str, Any], source: str) -> dict[str, list[Any]]:
    from fhir.resources.R4B.bundle import Bundle

    try:
        parsed = Bundle.model_validate(bundle)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise CaseFileError(source, f"Bundle.{field}", f"not a valid FHIR R4 Bundle: {err['msg']}") from None
    found: dict[str, list[Any]] = {}
    for entry in parsed.entry or []:
        if entry.resource is not None:
            found.setdefault(entry.resource.get_resource_type(), []).append(entry.resource)
    return found


def _codes(concept: Any) -> list[str]:
    return [c.code for c in (getattr(concept, "coding", None) or []) if c.code]


def _attachment_text(att: Any) -> str | None:
    if att is None or not att.data:
        return None
    raw = att.data if isinstance(att.data, bytes) else str(att.data).encode()
    try:
        return base64.b64decode(raw, validate=False).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return raw.decode("utf-8", errors="replace")


def _age(birth: date | None, on: date) -> int:
    if birth is None:
        return 0
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def case_from_bundle(bundle: dict[str, Any], *, source: str = "bundle") -> Case:
    """A Case from a PAS-style request Bundle; errors name the source and the FHIR element."""
    res = _resources(bundle, source)
    claims = res.get("Claim", [])
    if len(claims) != 1:
        raise CaseFileError(source, "Bundle.entry", f"expected exactly one Claim, found {len(claims)}")
    claim = claims[0]
    codes = [code for item in claim.item or [] for code in _codes(item.productOrService)]
    codes += [code for sr in res.get("ServiceRequest", []) for code in _codes(sr.code) if code not in codes]
    if not codes:
        raise CaseFileError(source, "Claim.item.productOrService", "no procedure code in the Claim items")
    diagnoses = [c for d in claim.diagnosis or [] for c in _codes(d.diagnosisCodeableConcept)]
    diagnoses += [c for cond in res.get("Condition", []) for c in _codes(cond.code) if c not in diagnoses]
    notes, note_date = [], None
    for doc in res.get("DocumentReference", []):
        for content in doc.content or []:
            text = _attachment_text(content.attachment)
            if text:
                notes.append(text)
        if doc.date:
            note_date = doc.date.date() if isinstance(doc.date, datetime) else doc.date
    for info in claim.supportingInfo or []:
        text = _attachment_text(getattr(info, "valueAttachment", None)) or getattr(info, "valueString", None)
        if text:
            notes.append(text)
    if not notes:
        raise CaseFileError(source, "DocumentReference.content.attachment", "no clinical notes in the Bundle")
    created = claim.created.date() if isinstance(claim.created, datetime) else (claim.created or date.today())
    patient = (res.get("Patient") or [None])[0]
    gender = getattr(patient, "gender", None) or "unknown"
    priority = _codes(claim.priority) if claim.priority else []
    data = {
        "id": claim.id or bundle.get("id") or "fhir-claim",
        "request": {
            "patient": {
                "age": _age(getattr(patient, "birthDate", None), created),
                "sex": gender if gender in ("female", "male", "other") else "unknown",
            },
            "procedures": [{"code": c} for c in dict.fromkeys(codes)],
            "diagnoses": list(dict.fromkeys(diagnoses)),
            "urgency": "expedited" if "stat" in priority else "standard",
            "note_date": note_date or created,
            "clinical_notes": "\n\n".join(notes),
        },
    }
    return case_from_data(data, source)


def claim_response(
    det: Determination, case: Case, *, claim_id: str | None = None, human_reviewed: bool = False
) -> dict[str, Any]:
    """A ClaimResponse (as JSON-ready dict, validated against the R4B model) for a determination."""
    from fhir.resources.R4B.claimresponse import ClaimResponse

    items: list[dict[str, Any]] = []
    pended = False
    for seq, code in enumerate(case.request.codes, start=1):
        d = det.for_code(code)
        decision = d.decision if d else Decision.refer
        action, display = ACTION[decision]
        pended = pended or action == "A4"
        reason = (d.rationale if d else "No recommendation; referred to a physician reviewer.")[:1000]
        items.append(
            {
                "itemSequence": seq,
                "adjudication": [
                    {
                        "category": {
                            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/adjudication", "code": "submitted"}]
                        },
                        "reason": {"text": reason},
                        "extension": [
                            {
                                "url": REVIEW_ACTION_CODE,
                                "valueCodeableConcept": {
                                    "coding": [{"system": X12_306, "code": action, "display": display}],
                                    "text": f"umreview recommendation: {decision.value}",
                                },
                            },
                            {"url": HUMAN_REVIEWED, "valueBoolean": human_reviewed},
                        ],
                    }
                ],
            }
        )
    body = {
        "resourceType": "ClaimResponse",
        "status": "active",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
        "use": "preauthorization",
        "patient": {"display": "patient of the request"},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "insurer": {"display": "umreview"},
        "request": {"reference": f"Claim/{claim_id or case.id}"},
        "outcome": "queued" if pended else "complete",
        "disposition": det.notice if pended else "All requested services recommended for approval.",
        "item": items,
    }
    return ClaimResponse.model_validate(body).model_dump(mode="json", exclude_none=True)
