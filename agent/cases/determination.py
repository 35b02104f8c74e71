"""The Determination: the structured, cited recommendation for every requested code.

Every backend (rules engine or LLM) produces this model; the validator checks any instance of it.
A ``deny`` is a recommendation for an adverse determination until a physician reviewer signs it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.cases.model import Decision
from agent.cases.reading import Reading

RECOMMENDATION_NOTICE = (
    "Recommendation only. An adverse determination (deny) becomes final only when a physician reviewer signs it."
)


class CriterionStatus(StrEnum):
    met = "met"
    not_met = "not_met"
    not_documented = "not_documented"


class NoteQuote(BaseModel):
    """Verbatim text from the clinical note, with its character span when known."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1)
    start: int | None = Field(default=None, ge=0)
    end: int | None = Field(default=None, ge=0)


class GuidelineCitation(BaseModel):
    """A verbatim quote from one knowledge-base chunk."""

    model_config = ConfigDict(extra="forbid")
    chunk_id: str = Field(min_length=1)
    quote: str = Field(min_length=1)
    document_title: str | None = None
    section: str | None = None


class CriterionFinding(BaseModel):
    model_config = ConfigDict(extra="forbid")
    criterion_id: str
    label: str
    status: CriterionStatus
    role: Literal["required", "supporting", "info"] = "required"
    note_quotes: list[NoteQuote] = Field(default_factory=list)
    citation: GuidelineCitation | None = None
    explanation: str = ""


class CodeDetermination(BaseModel):
    """The recommendation for one requested code."""

    model_config = ConfigDict(extra="forbid")
    code: str
    description: str | None = None
    region: str | None = None
    decision: Decision
    topic_id: str | None = None
    topic_title: str | None = None
    variant_id: str | None = None
    variant_title: str | None = None
    rating: str | None = Field(default=None, description="UA, MBA or UNA for the requested procedure")
    criteria: list[CriterionFinding] = Field(default_factory=list)
    red_flags_present: list[str] = Field(default_factory=list, description="red flags bearing on this region")
    missing_documentation: list[str] = Field(default_factory=list)
    decision_changing_red_flags: list[str] = Field(
        default_factory=list, description="red flags that, if documented, would change the recommendation"
    )
    alternative_code: str | None = None
    alternative_reason: str | None = None
    rationale: str = ""
    departures: list[str] = Field(
        default_factory=list,
        description="deliberate departures of the criteria set from its source text that decided this code",
    )
    citations: list[GuidelineCitation] = Field(default_factory=list)
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)


class ViolationKind(StrEnum):
    deny_with_red_flag = "deny_with_red_flag"
    approve_without_conservative_care = "approve_without_conservative_care"
    approve_without_criteria = "approve_without_criteria"
    note_quote_not_found = "note_quote_not_found"
    guideline_quote_not_in_chunk = "guideline_quote_not_in_chunk"
    unknown_chunk = "unknown_chunk"
    missing_decision = "missing_decision"
    unrequested_code = "unrequested_code"
    out_of_scope_not_referred = "out_of_scope_not_referred"
    instruction_obeyed = "instruction_obeyed"
    red_flag_disagreement = "red_flag_disagreement"
    decision_disagreement = "decision_disagreement"
    model_red_flag_unconfirmed = "model_red_flag_unconfirmed"
    conservative_care_disagreement = "conservative_care_disagreement"
    model_evidence_refused = "model_evidence_refused"
    model_evidence_verified = "model_evidence_verified"
    readers_disagree = "readers_disagree"


class Severity(StrEnum):
    unsafe = "unsafe"  # the recommendation itself must change
    citation = "citation"  # evidence or citation is wrong; the decision may stand
    info = "info"


class Violation(BaseModel):
    """One problem the validator found; data, not an exception."""

    model_config = ConfigDict(extra="forbid")
    kind: ViolationKind
    severity: Severity
    code: str | None = None
    message: str
    safe_decision: Decision | None = Field(default=None, description="what the validator requires instead")
    red_flags: list[str] = Field(default_factory=list, description="red-flag ids the finding is about, as data")


class TokenUsage(BaseModel):
    """Tokens billed by a language-model API (LLM backends only); cache hits cost nothing."""

    model_config = ConfigDict(extra="forbid")
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    requests: int = Field(default=0, ge=0, description="API calls that returned a reply")
    cache_hits: int = Field(default=0, ge=0, description="replies served from the local LLM cache")

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            requests=self.requests + other.requests,
            cache_hits=self.cache_hits + other.cache_hits,
        )


class Provenance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    backend: str
    backend_kind: str = Field(description="'rules' for the deterministic engine, 'llm' for a language model")
    model: str | None = None
    prompt_version: str | None = None
    engine_version: str
    criteria_set: str
    criteria_version: str
    kb_version: str
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    attempts: int | None = Field(default=None, ge=1, description="drafts requested; 1 = the first draft was accepted")
    usage: TokenUsage | None = Field(default=None, description="tokens used by all drafts of this case (LLM backends)")


class ReportedFlag(BaseModel):
    model_config = ConfigDict(extra="forbid")
    flag: str
    quote: NoteQuote


class ReportedCare(BaseModel):
    """One course of conservative care as the model read it: the quote must carry its dates or duration."""

    model_config = ConfigDict(extra="forbid")
    modality: str
    weeks: float = Field(ge=0)
    quote: NoteQuote


class ReportedFacts(BaseModel):
    """What a language model says it read in the note. Never trusted as such: each fact counts only
    when its evidence checks out (``agent.review.evidence``)."""

    model_config = ConfigDict(extra="forbid")
    extractor: str = Field(description="e.g. 'llm:gpt-4o-mini'")
    red_flags: list[str] = Field(default_factory=list)
    red_flag_quotes: list[NoteQuote] = Field(default_factory=list)
    conservative_care_weeks: float | None = Field(default=None, ge=0)
    flag_evidence: list[ReportedFlag] = Field(default_factory=list, description="each red flag with its quote")
    care: list[ReportedCare] = Field(default_factory=list, description="courses of care with the quotes dating them")
    candidacy_quote: NoteQuote | None = Field(default=None, description="the planned injection or surgical referral")


class Fallback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reasons: list[str]
    attempts: int = 0


class Determination(BaseModel):
    """Recommendations for every code of one request."""

    model_config = ConfigDict(extra="forbid")
    case_id: str
    status: str = Field(default="recommendation", description="always a recommendation until signed")
    notice: str = RECOMMENDATION_NOTICE
    determinations: list[CodeDetermination]
    red_flags: list[str] = Field(default_factory=list, description="red flags present anywhere in the note")
    injection_quotes: list[NoteQuote] = Field(
        default_factory=list, description="instructions addressed to a reviewer found in the note (ignored)"
    )
    summary: str = ""
    retrieved: dict[str, list[str]] = Field(
        default_factory=dict, description="code -> guideline chunk ids retrieved for it, best first"
    )
    provenance: Provenance
    validator_findings: list[Violation] = Field(default_factory=list)
    fallback: Fallback | None = None
    requires_physician_review: bool = True
    llm_facts: ReportedFacts | None = Field(
        default=None, description="red flags and conservative care as read by the language model (LLM backends)"
    )
    reading: Reading | None = Field(
        default=None,
        description="how the rules reader read the submission: documents, sections, care timeline per region, "
        "red-flag findings (None in determinations stored before it was kept)",
    )

    def for_code(self, code: str) -> CodeDetermination | None:
        return next((d for d in self.determinations if d.code == code), None)

    @property
    def decisions(self) -> dict[str, Decision]:
        return {d.code: d.decision for d in self.determinations}

    @property
    def path(self) -> Literal["accepted", "repaired", "fallback"]:
        """How the draft became final: first draft accepted, accepted after repair, or rules fallback."""
        if self.fallback is not None:
            return "fallback"
        return "repaired" if (self.provenance.attempts or 1) > 1 else "accepted"
