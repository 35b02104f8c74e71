"""FHIR (R4/R4B, checked with fhir.resources) for Da Vinci PAS prior authorization: the entry points.

``read_pas_request`` (agent.cases.pas_request) reads a request Bundle into lines and a Case;
``response_bundle`` / ``operation_outcome`` (agent.cases.pas_response) answer it. This module keeps the
two calls the rest of umreview uses: ``case_from_bundle`` for the CLI and the workbench (a Bundle that
cannot be reviewed is a ``CaseFileError`` saying why) and ``claim_response`` for a stored Case.
"""

from __future__ import annotations

from typing import Any

from agent.cases.determination import Determination
from agent.cases.model import Case
from agent.cases.pas_request import PasLine, PasRequest, read_pas_request
from agent.cases.pas_response import REVIEW_ACTION, REVIEW_ACTION_CODE, X12_306, operation_outcome, response_bundle
from agent.cases.pas_response import claim_response as _claim_response
from agent.errors import CaseFileError

__all__ = [
    "REVIEW_ACTION",
    "REVIEW_ACTION_CODE",
    "X12_306",
    "case_from_bundle",
    "claim_response",
    "operation_outcome",
    "read_pas_request",
    "response_bundle",
]


def case_from_bundle(bundle: dict[str, Any], *, source: str = "bundle") -> Case:
    """The Case of a PAS request Bundle; ``CaseFileError`` (FHIR path in ``field``) if nothing in it can be reviewed."""
    request = read_pas_request(bundle, source=source)
    if request.case is not None:
        return request.case
    where = f"{request.claim_path}.item"
    if request.not_reviewed:
        raise CaseFileError(source, f"{request.claim_path}.use", f"not reviewed: {request.not_reviewed}")
    if request.pend_reason:
        raise CaseFileError(source, where, f"pended, not reviewed: {request.pend_reason}")
    why = "; ".join(f"item {ln.sequence}: {ln.reason}" for ln in request.lines)
    raise CaseFileError(
        source, where, f"no line can be reviewed ({why[:600]}); POST the Bundle to /fhir/Claim/$submit for a per-line answer"
    )


def claim_response(
    det: Determination, case: Case, *, claim_id: str | None = None, human_reviewed: bool = False
) -> dict[str, Any]:
    """A PAS ClaimResponse for a stored Case (items numbered in request order)."""
    lines = [PasLine(sequence=n, code=code, label=code) for n, code in enumerate(case.request.codes, start=1)]
    request = PasRequest(source=case.id, bundle={}, index=None, claim=None, original=None, patient=None, lines=lines, case=case)
    refs = {"request": {"reference": f"Claim/{claim_id or case.id}"}}
    return _claim_response(request, det, human_reviewed=human_reviewed, refs=refs)
