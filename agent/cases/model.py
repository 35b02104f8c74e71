"""Review requests and labeled cases: the models of docs/case-format.md (loaded by ``agent.cases.load``).

One case per YAML/JSON file, many per JSON Lines file. A bad file (or JSONL line) becomes a
``CaseFileError`` naming the file and the field path; the other cases of a batch still load.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from agent.errors import CaseFileError

CASE_SUFFIXES = (".yaml", ".yml", ".json", ".jsonl")

RED_FLAG_IDS = (
    "cauda_equina",
    "progressive_neuro_deficit",
    "infection",
    "malignancy",
    "fracture",
    "myelopathy",
)


class Sex(StrEnum):
    female = "female"
    male = "male"
    other = "other"
    unknown = "unknown"


class Urgency(StrEnum):
    standard = "standard"
    expedited = "expedited"


class Decision(StrEnum):
    """approve: criteria met; deny: recommend adverse determination; refer: route to a physician."""

    approve = "approve"
    deny = "deny"
    refer = "refer"


_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)
ProcedureCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9]{4,7}$", description="CPT/HCPCS code")]


class Patient(BaseModel):
    model_config = _STRICT
    age: int | None = Field(
        ge=0,
        le=130,
        description="Age in whole years; null (or 'unknown') when not known (no birth date), never guessed as 0: "
        "criteria gated on age then refer",
    )
    sex: Sex = Sex.unknown

    @field_validator("age", mode="before")
    @classmethod
    def _age_not_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):  # YAML's `age: true` would otherwise be read as 1
            raise ValueError("age must be a number of years, not true/false")
        if isinstance(value, str) and value.strip().lower() == "unknown":
            return None
        return value


class Procedure(BaseModel):
    model_config = _STRICT
    code: ProcedureCode

    @field_validator("code", mode="before")
    @classmethod
    def _code_as_string(cls, value: Any) -> Any:
        # YAML turns an unquoted 72148 into an int; the code is the same, so accept it as text.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


_Date = date  # the Attachment field below is called date
ATTACHMENT_HEADER = "=== ATTACHMENT {n}: {title}{when} ==="


class Attachment(BaseModel):
    """A document submitted with the request (case-format ``attachments``).

    ``path`` is relative to the case file; the loader reads it (text, HTML, a PDF's text layer, or OCR
    of scanned pages) into ``text``, so a stored case keeps its documentation without the file.
    """

    model_config = _STRICT
    path: str | None = Field(default=None, description="file relative to the case file: .pdf .txt .md .html .png .jpg .tif")
    title: str | None = None
    date: _Date | None = None
    text: str | None = Field(default=None, description="the document's text, filled when the case is loaded")
    media_type: str | None = None
    pages: int | None = Field(default=None, ge=0, description="pages read (PDF and images)")
    ocr_pages: int = Field(default=0, ge=0, description="pages whose text came from OCR")
    unreadable: str | None = Field(
        default=None,
        max_length=2000,
        description="why the document could not be read (a packet uploaded on the workbench); the request is "
        "then pended for a legible copy, never decided on the rest",
    )

    def header(self, n: int) -> str:
        when = f" ({self.date.isoformat()})" if self.date else ""
        return ATTACHMENT_HEADER.format(n=n, title=self.title or self.path or "document", when=when)


class Request(BaseModel):
    model_config = _STRICT
    patient: Patient
    procedures: list[Procedure] = Field(min_length=1)
    diagnoses: list[str] = Field(default_factory=list)
    urgency: Urgency = Urgency.standard
    note_date: date | None = None
    request_date: date | None = Field(
        default=None, description="the day the request was received; chooses the criteria version in force"
    )
    plan: str | None = Field(default=None, description="the member's health plan, routed to a criteria set by the plan map")
    line_of_business: str | None = Field(default=None, description="e.g. commercial, medicare-advantage, medicaid")
    clinical_notes: str | None = None
    attachments: list[Attachment] = Field(default_factory=list)

    @field_validator("note_date", "request_date")
    @classmethod
    def _not_in_the_future(cls, value: date | None) -> date | None:
        if value is not None and value > date.today():
            raise ValueError(f"{value.isoformat()} is in the future; give the date the note was written or the request received")
        return value

    @property
    def decision_date(self) -> tuple[date, str]:
        """The date that chooses the criteria version in force, and where it came from: the request date,
        else the note date, else today (a request reviewed as it arrives)."""
        if self.request_date is not None:
            return self.request_date, "request date"
        if self.note_date is not None:
            return self.note_date, "note date"
        return date.today(), "date of review"

    @model_validator(mode="after")
    def _some_documentation(self) -> Request:
        if not (self.clinical_notes or "").strip() and not any(
            a.path or a.unreadable or (a.text or "").strip() for a in self.attachments
        ):
            raise ValueError("no documentation: give clinical_notes, attachments, or both")
        return self

    @property
    def codes(self) -> list[str]:
        """Requested codes in request order, without duplicates."""
        return list(dict.fromkeys(p.code for p in self.procedures))

    @property
    def documentation(self) -> str:
        """Everything the reader reads: the clinical notes, then each attachment's text under a header line
        (``=== ATTACHMENT n: title (date) ===``). Evidence quotes and spans refer to this text."""
        notes = (self.clinical_notes or "").rstrip()
        parts = [notes] if notes.strip() else []
        for n, att in enumerate(self.attachments, start=1):
            body = (att.text or "").strip()
            if body:
                parts.append(f"{att.header(n)}\n{body}")
        return "\n\n".join(parts)


class LabelSource(BaseModel):
    """Where a label came from when it is a physician's signed decision (``umreview eval export --from-audit``):
    the stored review, who signed it and when, and what produced the recommendation. Hand-written labels
    leave it out; the eval ignores it."""

    model_config = _STRICT
    review_id: str = Field(min_length=1, description="the audit-store review the label was taken from")
    case_id: str = Field(min_length=1, description="the case id the request was submitted under")
    signed_by: str = Field(min_length=1, description="the physician reviewer who signed")
    credentials: str | None = None
    signed_at: datetime = Field(description="when the sign-off was logged (UTC)")
    sign_decision: str = Field(description="uphold or overturn")
    recommended: dict[str, Decision] = Field(description="the recommendation per code, before sign-off")
    reviewed_at: datetime | None = Field(default=None, description="when the recommendation was made (UTC)")
    backend: str
    model: str | None = None
    prompt_version: str | None = None
    criteria_set: str
    criteria_version: str
    kb_version: str | None = None


class Expected(BaseModel):
    model_config = _STRICT
    decisions: dict[str, Decision]
    red_flags: list[str] = Field(default_factory=list)
    alternatives: dict[str, str] = Field(default_factory=dict)
    notes: str | None = None
    source: LabelSource | None = Field(default=None, description="provenance of a label exported from sign-offs")

    @field_validator("red_flags")
    @classmethod
    def _known_flags(cls, flags: list[str]) -> list[str]:
        unknown = [f for f in flags if f not in RED_FLAG_IDS]
        if unknown:
            raise ValueError(f"unknown red-flag id(s) {unknown}; known ids: {', '.join(RED_FLAG_IDS)}")
        return flags

    @field_validator("decisions", "alternatives", mode="before")
    @classmethod
    def _codes_as_strings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): (str(v) if isinstance(v, int) else v) for k, v in value.items()}
        return value


class Case(BaseModel):
    """One review request; a labeled evaluation case also carries ``expected``."""

    model_config = _STRICT
    id: str = Field(pattern=r"^[A-Za-z0-9._-]+$", min_length=1)
    request: Request
    expected: Expected | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_string(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


_ECHO_FIELDS = {
    "id",
    "age",
    "sex",
    "code",
    "urgency",
    "note_date",
    "request_date",
    "plan",
    "line_of_business",
    "red_flags",
    "decisions",
    "alternatives",
}


def _field_path(loc: Iterable[int | str]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def case_from_data(data: Any, source: str) -> Case:
    """Validate parsed data as a Case; errors name ``source`` and the field, never note text."""
    if not isinstance(data, dict):
        raise CaseFileError(source, "", f"expected a mapping with id and request, got {type(data).__name__}")
    try:
        return Case.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = _field_path(err["loc"])
        problem = err["msg"]
        value = err.get("input")
        # Echo a value only for short coded fields; free text (a note under any key) is never repeated.
        if err["type"] != "extra_forbidden" and field.rsplit(".", 1)[-1].split("[")[0] in _ECHO_FIELDS:
            if isinstance(value, str | int | float) and len(str(value)) <= 40:
                problem += f" (got {value!r})"
        more = len(exc.errors()) - 1
        if more:
            problem += f"; and {more} more problem(s)"
        raise CaseFileError(source, field, problem) from None
