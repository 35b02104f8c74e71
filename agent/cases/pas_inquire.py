"""Da Vinci PAS ``$inquire``: what an earlier ``$submit`` left to find it by, and the inquiry that finds it.

What the IG says (STU 2.1, specification.html "Prior Authorization Inquiries", ClaimOperation.fsh):

* the input is a PAS Inquiry Request Bundle whose Claim (profile-claim-inquiry) is a query by example;
* ``Claim.identifier`` is the trace number of the *inquiry itself* and is not used to search; a
  specific authorization is searched with the REF-NT / REF-BB numbers, sent in
  ``extension-administrationReferenceNumber`` and ``extension-authorizationNumber`` (on the Claim or
  its items); umreview also takes ``Claim.insurance.preAuthRef`` and the item trace numbers
  (``extension-itemTraceNumber``) the submission carried;
* the payer SHALL require a match on the patient's member or subscriber identifier plus the
  ordering or rendering provider's identifier (NPI) (spec-53), and an inquiry that does not identify
  a patient is not allowed;
* the output is a Parameters resource with zero or more PAS Inquiry Response Bundles (``return``, the
  name in the OperationDefinition; the IG's one example names it ``responseBundle``), each holding the
  current ClaimResponse of one matching request, every submitted item included (spec-46).

umreview's numbers: a review id (``R-`` and 12 characters) is ``preAuthRef`` and each pended item's
administration reference number; a certified item's authorization number is ``<review id>-<sequence>``.
A request answered without a review (pended for documentation, nothing reviewable) gets a reference
``P-`` and 12 characters instead, and is found by inquiries too.
A submission whose patient carried no identifier is matched on birth date and family name instead;
one whose provider carried no identifier needs one of the numbers above.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from agent.cases.pas_bundle import BundleIndex, Resource, extensions
from agent.cases.pas_request import PasRequest, procedure_code
from agent.errors import CaseFileError

REVIEW_ID = re.compile(r"^([RP]-[A-Za-z0-9]{12})(?:-\d+)?$")  # a review id, or P-... for a request answered unreviewed
NUMBER_EXTENSIONS = ("extension-authorizationNumber", "extension-administrationReferenceNumber")
KEPT_CLAIM_FIELDS = ("resourceType", "id", "identifier", "status", "type", "use", "patient", "provider", "insurer", "created")


def _ids(resource: Resource | None) -> list[list[str]]:
    """(system, value) pairs of a resource's identifiers, as JSON-friendly lists."""
    found = []
    for ident in (resource or {}).get("identifier") or []:
        if isinstance(ident, dict) and ident.get("value"):
            found.append([str(ident.get("system") or ""), str(ident["value"])])
    return found


def _family(patient: Resource | None) -> str:
    for name in (patient or {}).get("name") or []:
        if isinstance(name, dict) and name.get("family"):
            return str(name["family"]).strip().lower()
    return ""


def _providers(index: BundleIndex | None, claim: Resource | None) -> list[list[str]]:
    """Identifiers of the Claim's provider and care team (ordering and rendering providers)."""
    if index is None or claim is None:
        return []
    refs = [claim.get("provider")] + [(m or {}).get("provider") for m in claim.get("careTeam") or []]
    found: list[list[str]] = []
    for ref in refs:
        target = index.resolve(ref, container=claim)
        if target is not None and target.get("resourceType") == "PractitionerRole":
            for key in ("practitioner", "organization"):
                found += _ids(index.resolve(target.get(key), container=target))
        found += _ids(target)
        if isinstance(ref, dict) and isinstance(ref.get("identifier"), dict) and ref["identifier"].get("value"):
            found.append([str(ref["identifier"].get("system") or ""), str(ref["identifier"]["value"])])
    return found


def submission_record(request: PasRequest) -> dict[str, Any]:
    """What a ``$submit`` keeps (in the audit store, beside its review) so a later ``$inquire`` finds and answers it."""
    index, claim = request.index, request.claim or {}
    resources: dict[str, Any] = {}
    for role, ref in (("requestor", claim.get("provider")), ("insurer", claim.get("insurer"))):
        target = index.resolve(ref, container=claim) if index and ref else None
        if target is not None:
            resources[role] = target
    if request.patient is not None:
        resources["patient"] = request.patient
    return {
        "claim": {k: v for k, v in claim.items() if k in KEPT_CLAIM_FIELDS},
        "bundle_identifier": request.bundle.get("identifier"),
        "patient_ids": _ids(request.patient),
        "birth_date": str((request.patient or {}).get("birthDate") or ""),
        "family": _family(request.patient),
        "provider_ids": _providers(index, request.claim),
        "trace_numbers": [
            [str(t.get("system") or ""), str(t.get("value") or "")] for ln in request.lines for t in ln.trace_numbers
        ],
        "codes": [ln.code for ln in request.lines if ln.code],
        "lines": [
            {
                "sequence": ln.sequence,
                "code": ln.code,
                "label": ln.label,
                "status": ln.status,
                "reason": ln.reason,
                "trace_numbers": ln.trace_numbers,
            }
            for ln in request.lines
        ],
        "pend_reason": request.pend_reason,
        "resources": resources,
    }


@dataclass
class Inquiry:
    """The keys of a PAS inquiry; ``matches`` says whether a stored submission answers it."""

    patient_ids: set[tuple[str, str]]
    birth_date: str
    family: str
    provider_ids: set[tuple[str, str]]
    review_ids: set[str] = field(default_factory=set)
    trace_numbers: set[tuple[str, str]] = field(default_factory=set)
    codes: set[str] = field(default_factory=set)

    @property
    def names_a_request(self) -> bool:
        return bool(self.review_ids or self.trace_numbers)

    def matches(self, reference: str, stored: dict[str, Any]) -> bool:
        stored_patient = {tuple(p) for p in stored.get("patient_ids") or []}
        if stored_patient:
            patient_ok = bool(stored_patient & self.patient_ids)
        else:  # the submission's Patient had no member identifier
            patient_ok = bool(stored.get("birth_date")) and stored.get("birth_date") == self.birth_date
            patient_ok = patient_ok and (not stored.get("family") or stored.get("family") == self.family)
        if not patient_ok:
            return False
        stored_providers = {tuple(p) for p in stored.get("provider_ids") or []}
        if stored_providers and not (stored_providers & self.provider_ids):
            return False
        if not stored_providers and not self.names_a_request:
            return False  # nothing but the patient to go on: not enough to disclose a request
        if self.review_ids and reference not in self.review_ids:
            return False
        if self.trace_numbers and not (self.trace_numbers & {tuple(t) for t in stored.get("trace_numbers") or []}):
            return False
        return not self.codes or bool(self.codes & set(stored.get("codes") or []))


def _numbers(element: Resource) -> list[str]:
    values = []
    for suffix in NUMBER_EXTENSIONS:
        values += [str(e.get("valueString") or "") for e in extensions(element, suffix)]
    return values


def read_inquiry(bundle: Any, *, source: str = "inquiry") -> Inquiry:
    """The keys of a PAS Inquiry Request Bundle; ``CaseFileError`` (FHIR path) when it cannot be used."""
    index = BundleIndex(bundle, source)
    claims = index.of_type("Claim")
    if len(claims) != 1:
        raise CaseFileError(
            source, "Bundle.entry", f"{len(claims)} Claims; a PAS inquiry Bundle holds exactly one Claim (profile-claim-inquiry)"
        )
    claim = claims[0]
    path = index.path_of(claim)
    patient = index.resolve(claim.get("patient"), container=claim)
    if patient is None:
        raise CaseFileError(
            source,
            f"{path}.patient",
            "the inquiry does not identify the patient: reference the Patient (with the member identifier) in the Bundle; "
            "PAS inquiries are about one patient",
        )
    provider_ids = {tuple(p) for p in _providers(index, claim)}
    if not provider_ids:
        raise CaseFileError(
            source,
            f"{path}.provider",
            "the inquiry does not identify the requesting provider: reference an Organization or PractitionerRole "
            "with its NPI (PAS requires the patient's and the provider's identifiers to match)",
        )
    numbers = _numbers(claim) + [str(p) for i in claim.get("insurance") or [] for p in (i or {}).get("preAuthRef") or []]
    traces: set[tuple[str, str]] = set()
    codes: set[str] = set()
    for item in claim.get("item") or []:
        item = item or {}
        numbers += _numbers(item)
        for ext in extensions(item, "extension-itemTraceNumber"):
            ident = ext.get("valueIdentifier") or {}
            if ident.get("value"):
                traces.add((str(ident.get("system") or ""), str(ident["value"])))
        code, _ = procedure_code(item.get("productOrService"))
        if code:
            codes.add(code)  # 'not-applicable' (no specific service) is not CPT/HCPCS and is skipped
    review_ids = {m.group(1) for n in numbers if (m := REVIEW_ID.match(n.strip()))}
    unknown = [n for n in numbers if n.strip() and not REVIEW_ID.match(n.strip())]
    if unknown and not review_ids:
        review_ids = {"(none)"}  # a number umreview never issued matches nothing
    return Inquiry(
        patient_ids={tuple(p) for p in _ids(patient)},  # type: ignore[misc]  # pairs
        birth_date=str(patient.get("birthDate") or ""),
        family=_family(patient),
        provider_ids=provider_ids,  # type: ignore[arg-type]  # pairs
        review_ids=review_ids,
        trace_numbers=traces,
        codes=codes,
    )
