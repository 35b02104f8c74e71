"""``$submit`` and ``$inquire`` from a raw request body to (HTTP status, FHIR JSON): parse, read, review, answer.

The web routes stay thin: they hand over the body (bytes, or the temporary file it was streamed to)
and callables of the Service (``submit`` reviews and stores a Case, ``remember`` keeps what a later
inquiry needs, ``find`` looks submissions up), so this module needs no web or store imports. Every
refusal is an OperationOutcome with the FHIR path in ``expression``; a request that is read but
cannot be judged gets a pended PAS response, not an error: among them a request whose Coverage names a
plan the plan map does not route (it is never judged by the default set).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, Protocol

from agent.cases.determination import Determination
from agent.cases.model import Case
from agent.cases.pas_inquire import Inquiry, read_inquiry, submission_record
from agent.cases.pas_request import PasLine, PasRequest, read_pas_request
from agent.cases.pas_response import operation_outcome, outcome, response_bundle
from agent.errors import CaseFileError, PlanNotMapped

Body = bytes | IO[bytes]


class Reviewed(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def determination(self) -> Determination: ...


@dataclass
class Found:
    """A stored submission that answers an inquiry: its review, what ``$submit`` kept, and where it stands."""

    review_id: str | None  # None: the request was answered without a review (pended for documentation, ...)
    reference: str  # the administration reference number its response carried (the review id, or P-...)
    stored: dict[str, Any]
    determination: Determination | None  # with a physician's signed decisions applied when ``final``
    final: bool


class BodyError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status, self.body = status, body


def parse_json(raw: Body, source: str) -> Any:
    """The JSON of a body (bytes or a binary file), or ``BodyError`` with a 400 OperationOutcome."""
    stream = io.BytesIO(raw) if isinstance(raw, bytes) else raw

    def bad(problem: str) -> BodyError:
        return BodyError(400, outcome(400, problem))

    text = io.TextIOWrapper(stream, encoding="utf-8-sig")
    try:
        return json.load(text)
    except UnicodeDecodeError:
        raise bad("the body is not UTF-8 JSON; send a FHIR Bundle as application/fhir+json") from None
    except json.JSONDecodeError as exc:
        raise bad(f"the body is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise bad("the body nests too deeply to be a FHIR Bundle") from None
    except ValueError:  # a number of thousands of digits (Python's integer-string limit)
        raise bad("the body holds a number too long to be FHIR data") from None
    finally:
        text.detach()  # the caller owns (and closes) the stream


def pas_submit(
    raw: Body,
    submit: Callable[[Case], Reviewed],
    *,
    remember: Callable[[str | None, dict[str, Any]], str | None] | None = None,
    source: str = "request body",
) -> tuple[int, dict[str, Any]]:
    """Answer a PAS request body: (200, response Bundle) or (4xx, OperationOutcome). ``remember(review id or
    None, record)`` keeps what ``$inquire`` needs and returns the reference number of an unreviewed request."""
    try:
        data = parse_json(raw, source)
    except BodyError as exc:
        return exc.status, exc.body
    try:
        request = read_pas_request(data, source=source)
    except CaseFileError as exc:
        return 422, operation_outcome(exc)
    except RecursionError:
        return 422, operation_outcome(CaseFileError(source, "Bundle", "the Bundle nests too deeply to be read"))
    if request.case is None:
        reference = remember(None, submission_record(request)) if remember and not request.not_reviewed else None
        return 200, response_bundle(request, None, reference=reference)
    try:
        record = submit(request.case)
    except PlanNotMapped:
        request.pend_reason = (
            f"the member's plan {request.case.request.plan!r} (the request's Coverage) has no criteria set in this "
            "service's plan map; a physician reviewer will review the request"
        )
        reference = remember(None, submission_record(request)) if remember else None
        return 200, response_bundle(request, None, reference=reference)
    if remember is not None:
        remember(record.id, submission_record(request))
    return 200, response_bundle(request, record.determination, review_id=record.id)


def stored_request(stored: dict[str, Any]) -> PasRequest:
    """The PasRequest of a stored submission (its lines and Claim header), to answer it again."""
    lines = [PasLine(**line) for line in stored.get("lines") or []]
    claim = stored.get("claim") or None
    return PasRequest(
        source="stored request",
        bundle={},
        index=None,
        claim=claim,
        original=None,
        patient=(stored.get("resources") or {}).get("patient"),
        lines=lines,
        pend_reason=stored.get("pend_reason"),
    )


def pas_inquire(raw: Body, find: Callable[[Inquiry], list[Found]], *, source: str = "request body") -> tuple[int, dict[str, Any]]:
    """Answer a PAS inquiry body: (200, Parameters with one ``return`` Bundle per matching request) or (4xx,
    OperationOutcome). No match is an empty result with an informational OperationOutcome saying so."""
    try:
        data = parse_json(raw, source)
    except BodyError as exc:
        return exc.status, exc.body
    try:
        inquiry = read_inquiry(data, source=source)
    except CaseFileError as exc:
        return 422, operation_outcome(exc)
    except RecursionError:
        return 422, operation_outcome(CaseFileError(source, "Bundle", "the Bundle nests too deeply to be read"))
    params: list[dict[str, Any]] = []
    for found in find(inquiry):
        bundle = response_bundle(
            stored_request(found.stored),
            found.determination,
            review_id=found.review_id,
            human_reviewed=found.final,
            final=found.final,
            resources=found.stored.get("resources") or {},
            reference=found.reference,
        )
        params.append({"name": "return", "resource": bundle})
    if not params:
        note = outcome(
            200,
            "No prior authorization request matches this inquiry (the patient's member identifier and the provider's "
            "identifier must match the request's, and any authorization, reference or trace number given must be one "
            "umreview issued or received).",
            code="not-found",
        )
        params.append({"name": "outcome", "resource": note})
    return 200, _parameters(params)


def _parameters(params: list[dict[str, Any]]) -> dict[str, Any]:
    from fhir.resources.R4B.parameters import Parameters

    body = {"resourceType": "Parameters", "parameter": params}
    Parameters.model_validate(body)
    return body
