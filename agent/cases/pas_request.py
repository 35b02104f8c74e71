"""A Da Vinci PAS request Bundle (STU 2.x, 1.x accepted) read into a ``PasRequest``: lines and a Case.

Each ``Claim.item`` becomes a line keeping its ``sequence`` (the response SHALL echo it) and trace
numbers. A line whose code is CPT/HCPCS is reviewed; a line coded otherwise (an X12 service type such as
"3", SNOMED CT, text only) is referred to a physician reviewer on its own, without failing the request;
cancelled lines and Claims are answered, not reviewed. An update Bundle (an updated Claim whose
``related.claim`` is the original, both in the Bundle) is answered for the updated Claim.

The member's plan is read from the request's Coverage (``agent.cases.pas_coverage``) into
``Request.plan``, so the plan map chooses the criteria set as it does for a case file.

Requests that cannot be judged on their merits are pended, not refused: no readable documentation, a
document that cannot be read. Without a birth date the age is unknown (never 0): the lines whose
criteria are gated on age (every spine-imaging topic applies to adults) are referred by the engine.
Bundles that are not valid FHIR, or whose Claim refers to resources that are not there, are refused
with a ``CaseFileError`` naming the FHIR path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from agent.cases.model import Case, case_from_data
from agent.cases.pas_bundle import BundleIndex, Resource, codings, extensions, references
from agent.cases.pas_coverage import request_plan
from agent.cases.pas_evidence import EvidenceReader, concept_text, parse_date
from agent.errors import CaseFileError

CPT_SYSTEMS = {"http://www.ama-assn.org/go/cpt", "urn:oid:2.16.840.1.113883.6.12", "https://www.ama-assn.org/go/cpt"}
HCPCS_SYSTEMS = {
    "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
    "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
    "urn:oid:2.16.840.1.113883.6.285",
    "urn:oid:2.16.840.1.113883.6.14",
}
ICD10_SYSTEMS = {"http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10", "urn:oid:2.16.840.1.113883.6.90"}
SYSTEM_NAMES = {
    "1365": "an X12 service-type code",
    "snomed": "a SNOMED CT concept",
    "loinc": "a LOINC code",
    "ndc": "an NDC drug code",
}
CPT_SHAPE = re.compile(r"^(\d{4}[0-9AFTU]|[A-V]\d{4})$")
ICD10_SHAPE = re.compile(r"^[A-TV-Z]\d[0-9A-Z](\.?[0-9A-Z]{1,4})?$")
URGENT_LEVELS = {"U", "03"}  # X12 1338: U urgent, 03 emergency


@dataclass
class PasLine:
    sequence: int
    code: str | None  # CPT/HCPCS when the line is reviewed
    label: str  # what was asked for, for messages
    status: str = "review"  # review | refer | cancelled
    reason: str = ""
    trace_numbers: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class PasRequest:
    source: str
    bundle: dict[str, Any]
    index: BundleIndex | None  # None for a response built from a stored Case
    claim: Resource | None
    original: Resource | None  # the Claim an update replaces
    patient: Resource | None
    lines: list[PasLine]
    case: Case | None = None
    pend_reason: str | None = None  # why reviewable lines were pended without a review
    not_reviewed: str | None = None  # why nothing was reviewed at all (other Claim.use, cancelled Claim)

    @property
    def claim_path(self) -> str:
        return self.index.path_of(self.claim) if self.claim and self.index else "Bundle"


def _system_kind(system: str) -> str:
    s = system.lower()
    for key in SYSTEM_NAMES:
        if key in s:
            return key
    return s


def procedure_code(concept: Any) -> tuple[str | None, str]:
    """(CPT/HCPCS code or None, why not) of a productOrService concept, choosing among its codings."""
    found = codings(concept)
    for c in found:
        if str(c.get("system", "")) in CPT_SYSTEMS | HCPCS_SYSTEMS and re.fullmatch(r"[A-Za-z0-9]{4,7}", str(c["code"])):
            return str(c["code"]).upper(), ""
    for c in found:
        if not c.get("system") and CPT_SHAPE.fullmatch(str(c["code"])):
            return str(c["code"]), ""  # an uncoded-system code shaped like CPT/HCPCS
    if found:
        c = found[0]
        kind = SYSTEM_NAMES.get(
            _system_kind(str(c.get("system", ""))), f"a code of system {str(c.get('system') or 'unknown')[:80]!r}"
        )
        return None, f"coded as {kind} ({str(c['code'])[:20]} {str(c.get('display') or '')[:60]})".rstrip() + ", not CPT/HCPCS"
    if isinstance(concept, dict) and concept.get("text"):
        return None, f"described only as text ({str(concept['text'])[:80]!r}), without a CPT/HCPCS code"
    return None, "no procedure code"


def _cancelled(item: Resource) -> bool:
    if any(e.get("valueBoolean") for e in extensions(item, "modifierextension-infoCancelled", key="modifierExtension")):
        return True
    return any(
        c.get("code") == "3"
        for e in extensions(item, "extension-certificationType")
        for c in codings(e.get("valueCodeableConcept"))
    )


def _line(index: BundleIndex, item: Resource, path: str, claim: Resource, n: int) -> PasLine:
    seq = item["sequence"] if isinstance(item.get("sequence"), int) else n
    code, why = procedure_code(item.get("productOrService"))
    service = None
    for ext in extensions(item, "extension-requestedService"):
        service = index.require(ext.get("valueReference"), f"{path}.extension.valueReference", container=claim)
    if code is None and service is not None:
        alt, _ = procedure_code(service.get("code"))
        code = alt or None
    label = concept_text(item.get("productOrService")) or (code or "service")
    traces = [
        e["valueIdentifier"] for e in extensions(item, "extension-itemTraceNumber") if isinstance(e.get("valueIdentifier"), dict)
    ]
    line = PasLine(sequence=seq, code=code, label=label, trace_numbers=traces)
    if _cancelled(item):
        line.status, line.reason = "cancelled", "Cancelled by the requester; not reviewed."
    elif code is None:
        line.status = "refer"
        line.reason = (
            f"Referred to a physician reviewer: Claim.item[{n - 1}].productOrService is {why}. "
            "umreview reviews spine imaging requested by CPT/HCPCS code."
        )
    return line


def _claims(index: BundleIndex) -> tuple[Resource | None, Resource | None]:
    """(the Claim to answer, the original it updates). Two Claims are an update pair; more are refused."""
    claims = index.of_type("Claim")
    if not claims:
        return None, None
    if len(claims) == 1:
        return claims[0], None
    if len(claims) == 2:
        for claim, other in (claims, claims[::-1]):
            for rel in claim.get("related") or []:
                if index.resolve((rel or {}).get("claim"), container=claim) is other:
                    return claim, other
        raise CaseFileError(
            index.source,
            f"{index.path_of(claims[1])}",
            "two Claims, but neither is an update of the other (Claim.related.claim); send one Claim per Bundle",
        )
    raise CaseFileError(
        index.source, "Bundle.entry", f"{len(claims)} Claims; send one Claim per Bundle (an update may add the original)"
    )


def _check_references(index: BundleIndex, claim: Resource) -> None:
    path = index.path_of(claim)
    for ref_path, ref in references(claim, path):
        index.require(ref, ref_path, container=claim)


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _urgency(claim: Resource) -> str:
    for ext in extensions(claim, "extension-levelOfServiceCode") + extensions(claim, "extension-levelOfServiceType"):
        if any(str(c.get("code")).upper() in URGENT_LEVELS for c in codings(ext.get("valueCodeableConcept"))):
            return "expedited"
    if any(c.get("code") == "stat" for c in codings(claim.get("priority"))):
        return "expedited"
    return "standard"


def _diagnoses(index: BundleIndex, claim: Resource | None, reader: EvidenceReader) -> list[str]:
    found: list[str] = []
    concepts = []
    for d in (claim or {}).get("diagnosis") or []:
        concepts.append((d or {}).get("diagnosisCodeableConcept"))
        target = index.resolve((d or {}).get("diagnosisReference"), container=claim)
        if target is not None:
            concepts.append(target.get("code"))
    concepts += [c.get("code") for c in index.of_type("Condition") if reader.usable(c)]
    for concept in concepts:
        for c in codings(concept):
            code = str(c["code"]).strip()
            if str(c.get("system", "")) in ICD10_SYSTEMS or (not c.get("system") and ICD10_SHAPE.fullmatch(code)):
                found.append(code.upper())
    return list(dict.fromkeys(found))


def _documentation(index: BundleIndex, claim: Resource | None, reader: EvidenceReader) -> None:
    docs = index.of_type("DocumentReference") + [
        c for c in (claim or {}).get("contained") or [] if isinstance(c, dict) and c.get("resourceType") == "DocumentReference"
    ]
    replaced = {
        id(t)
        for d in docs
        for r in d.get("relatesTo") or []
        if (r or {}).get("code") in ("replaces", "transforms")
        for t in [index.resolve((r or {}).get("target"), container=d)]
        if t is not None
    }
    current = [d for d in docs if id(d) not in replaced]
    for doc in sorted(current, key=lambda d: str(d.get("date") or "")):
        reader.read(doc, index.path_of(doc))
    for i, info in enumerate((claim or {}).get("supportingInfo") or []):
        path = f"{index.path_of(claim) if claim else 'Claim'}.supportingInfo[{i}]"
        info = info or {}
        title = concept_text(info.get("category")) or "supporting information"
        when = parse_date(info.get("timingDate"))
        if info.get("valueString"):
            reader.out.add(title, when, str(info["valueString"]))
        elif info.get("valueAttachment"):
            got = reader.attachment_text(info["valueAttachment"], f"{path}.valueAttachment", claim)
            if got:
                reader.out.add(str(info["valueAttachment"].get("title") or title), when or got[1]["doc_date"], got[0])
        elif info.get("valueReference"):
            target = index.resolve(info["valueReference"], container=claim)
            if target is not None and id(target) not in replaced:
                reader.read(target, index.path_of(target))
    others = [c for c in (claim or {}).get("contained") or [] if isinstance(c, dict)]
    for rtype in ("Communication", "QuestionnaireResponse", "Observation", "ServiceRequest", "DeviceRequest"):
        for res in index.of_type(rtype) + [c for c in others if c.get("resourceType") == rtype]:
            reader.read(res, index.path_of(res))


def read_pas_request(bundle: Any, *, source: str = "bundle", today: date | None = None) -> PasRequest:
    """Read a PAS request Bundle. Raises ``CaseFileError`` (with a FHIR path) only for what cannot be answered."""
    index = BundleIndex(bundle, source)
    claim, original = _claims(index)
    if claim is not None:
        _check_references(index, claim)
    services = index.of_type("ServiceRequest")
    if claim is None and not services:
        raise CaseFileError(
            source, "Bundle.entry", "no Claim (and no ServiceRequest) in the Bundle: a PAS request Bundle starts with its Claim"
        )
    patient = index.require(
        (claim or {}).get("patient") or (services[0] if services else {}).get("subject"),
        f"{index.path_of(claim)}.patient" if claim else f"{index.path_of(services[0])}.subject",
    )
    if claim is not None:
        lines = [
            _line(index, item or {}, f"{index.path_of(claim)}.item[{n - 1}]", claim, n)
            for n, item in enumerate(claim.get("item") or [], 1)
        ]
    else:
        lines = []
        for n, sr in enumerate(services, 1):
            code, why = procedure_code(sr.get("code"))
            line = PasLine(sequence=n, code=code, label=concept_text(sr.get("code")) or "service")
            if code is None:
                line.status, line.reason = "refer", f"Referred to a physician reviewer: ServiceRequest.code is {why}."
            lines.append(line)
    if not lines:
        raise CaseFileError(
            source, f"{index.path_of(claim) if claim else 'Claim'}.item", "no items: list the requested services in Claim.item"
        )
    request = PasRequest(source, bundle, index, claim, original, patient, lines)
    if claim is not None and claim.get("use") not in (None, "preauthorization"):
        request.not_reviewed = (
            f"Claim.use is {claim.get('use')!r}; this service reviews prior authorization requests (use = preauthorization)"
        )
    elif claim is not None and claim.get("status") in ("cancelled", "entered-in-error"):
        request.not_reviewed = f"the Claim is {claim.get('status')}; nothing to review"
    reader = EvidenceReader(index, patient)
    _documentation(index, claim, reader)
    _build_case(request, reader, today or date.today())
    return request


def _build_case(request: PasRequest, reader: EvidenceReader, today: date) -> None:
    claim, patient = request.claim, request.patient or {}
    codes = [ln.code for ln in request.lines if ln.status == "review" and ln.code]
    if request.not_reviewed or not codes:
        return
    created = parse_date((claim or {}).get("created")) or parse_date(request.bundle.get("timestamp")) or today
    dated = [a["date"] for a in reader.out.attachments if a.get("date")]
    future = [d for d in dated if d > today]
    if future:
        raise CaseFileError(
            request.source,
            "DocumentReference.date",
            f"a document is dated {future[0].isoformat()}, in the future; correct the date",
        )
    birth = parse_date(patient.get("birthDate"))
    if birth is not None and birth > created:
        where = f"{request.index.path_of(patient)}.birthDate" if request.index and request.patient else "Patient.birthDate"
        raise CaseFileError(
            request.source, where, f"the birth date {birth.isoformat()} is after the request ({created.isoformat()}); correct it"
        )
    if reader.out.unreadable:
        request.pend_reason = "Documentation unreadable: " + "; ".join(reader.out.unreadable[:5]) + ". Send a legible copy."
    elif not reader.out.attachments:
        request.pend_reason = (
            "No clinical documentation could be read in the request. Send the clinical notes supporting "
            "the request (a DocumentReference or Claim.supportingInfo with the note text or a PDF)."
        )
    if request.pend_reason:
        return
    gender = str(patient.get("gender") or "unknown")
    data: dict[str, Any] = {
        "id": re.sub(r"[^A-Za-z0-9._-]", "-", str((claim or {}).get("id") or request.bundle.get("id") or "fhir-request"))[:80],
        "request": {
            # no birthDate: the age is unknown (never 0); criteria gated on age refer those lines
            "patient": {
                "age": _age(birth, created) if birth else None,
                "sex": gender if gender in ("female", "male", "other") else "unknown",
            },
            "procedures": [{"code": c} for c in dict.fromkeys(codes)],
            "diagnoses": _diagnoses(reader.index, claim, reader),
            "urgency": _urgency(claim) if claim else "standard",
            "note_date": max(dated) if dated else created,
            "attachments": [{k: v for k, v in a.items() if v is not None} for a in reader.out.attachments],
        },
    }
    plan = request_plan(reader.index, claim, request.patient)  # the plan map routes it (Coverage.class "plan")
    if plan:
        data["request"]["plan"] = plan
    request.case = case_from_data(data, request.source)
