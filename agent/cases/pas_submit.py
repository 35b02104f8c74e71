"""``$submit`` from raw request bytes to (HTTP status, FHIR JSON): parse, read, review, answer.

The web route stays thin: it hands over the body and a ``submit`` callable (the Service's), so this
module needs no web or store imports. Every refusal is an OperationOutcome with the FHIR path in
``expression``; a request that is read but cannot be judged gets a pended PAS response, not an error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from agent.cases.determination import Determination
from agent.cases.model import Case
from agent.cases.pas_request import read_pas_request
from agent.cases.pas_response import operation_outcome, response_bundle
from agent.errors import CaseFileError


class Reviewed(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def determination(self) -> Determination: ...


def pas_submit(raw: bytes, submit: Callable[[Case], Reviewed], *, source: str = "request body") -> tuple[int, dict[str, Any]]:
    """Answer a PAS request body: (200, response Bundle) or (4xx, OperationOutcome)."""
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return 400, operation_outcome(
            CaseFileError(source, "", "the body is not UTF-8 JSON; send a FHIR Bundle as application/fhir+json")
        )
    except json.JSONDecodeError as exc:
        return 400, operation_outcome(
            CaseFileError(source, "", f"the body is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})")
        )
    except RecursionError:
        return 400, operation_outcome(CaseFileError(source, "", "the body nests too deeply to be a FHIR Bundle"))
    except ValueError:  # a number of thousands of digits (Python's integer-string limit)
        return 400, operation_outcome(CaseFileError(source, "", "the body holds a number too long to be FHIR data"))
    try:
        request = read_pas_request(data, source=source)
    except CaseFileError as exc:
        return 422, operation_outcome(exc)
    except RecursionError:
        return 422, operation_outcome(CaseFileError(source, "Bundle", "the Bundle nests too deeply to be read"))
    if request.case is None:
        return 200, response_bundle(request, None)
    record = submit(request.case)
    return 200, response_bundle(request, record.determination, review_id=record.id)
