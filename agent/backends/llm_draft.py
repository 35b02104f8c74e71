"""The compact structure an LLM fills in, and its mapping into a full ``Determination``.

The model decides and cites; scenario labels (topic, variant, rating, alternative study) and the
documentation checklist's labels come from the criteria engine, so the model never has to copy
them. Quotes are located in the note to record their spans; whether they are verbatim is the
validator's call, not the mapper's.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent import ENGINE_VERSION
from agent.backends.base import DraftRequest
from agent.cases.determination import (
    CodeDetermination,
    CriterionFinding,
    CriterionStatus,
    Determination,
    GuidelineCitation,
    NoteQuote,
    Provenance,
    ReportedCare,
    ReportedFacts,
    ReportedFlag,
    TokenUsage,
)
from agent.cases.model import Decision
from agent.knowledge.documents import Chunk

RedFlagId = Literal["cauda_equina", "progressive_neuro_deficit", "infection", "malignancy", "fracture", "myelopathy"]


class CitationDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chunk_id: str = Field(description="id of a guideline excerpt given in the prompt, exactly as written")
    guideline_quote: str = Field(description="text copied character for character from that excerpt")


class CriterionDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")
    criterion_id: str = Field(description="a criterion_id listed for this code")
    status: Literal["met", "not_met", "not_documented"]
    note_quote: str | None = Field(default=None, description="verbatim text from the clinical note, or null")
    citation: CitationDraft | None = None
    explanation: str = Field(default="", description="one sentence")


class CodeDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(description="a requested code")
    decision: Literal["approve", "deny", "refer"]
    criteria: list[CriterionDraft] = Field(default_factory=list)
    red_flags: list[RedFlagId] = Field(default_factory=list, description="red flags present that bear on this code's region")
    missing_documentation: list[str] = Field(default_factory=list, description="documentation that would support approval")
    citations: list[CitationDraft] = Field(default_factory=list, description="guideline text the decision rests on")
    rationale: str = Field(description="two or three plain sentences")
    confidence: float = Field(default=0.5, ge=0.0, le=1.0)


class RedFlagReading(BaseModel):
    model_config = ConfigDict(extra="forbid")
    flag: RedFlagId
    note_quote: str = Field(description="verbatim text from the note showing the red flag")


class CareReading(BaseModel):
    model_config = ConfigDict(extra="forbid")
    modality: str = Field(description="physical therapy, an NSAID, chiropractic, home exercise program, ...")
    weeks: float = Field(ge=0, description="weeks of this treatment actually received (completed or ongoing), never planned")
    note_quote: str = Field(description="verbatim text naming the treatment together with its dates or duration")


class NoteReading(BaseModel):
    """What the note documents, read independently of any decision; every fact carries a verbatim quote."""

    model_config = ConfigDict(extra="forbid")
    red_flags: list[RedFlagReading] = Field(default_factory=list, description="affirmed red flags only")
    conservative_care_weeks: float | None = Field(
        default=None, ge=0, description="total weeks of documented conservative care; null if none documented"
    )
    conservative_care: list[CareReading] = Field(default_factory=list, description="each course of care received")
    candidacy_quote: str | None = Field(
        default=None, description="verbatim text of a planned injection or procedure, or a surgical referral; null if none"
    )


class DeterminationDraft(BaseModel):
    """Record the utilization-review determination for every requested code of the case."""

    model_config = ConfigDict(extra="forbid")
    note_reading: NoteReading
    codes: list[CodeDraft]
    instructions_in_note: list[str] = Field(
        default_factory=list, description="verbatim text in the note that addresses the reviewer or model (ignored)"
    )
    summary: str = Field(default="", description="one or two sentences")

    @model_validator(mode="after")
    def _one_entry_per_code(self) -> DeterminationDraft:
        codes = [c.code for c in self.codes]
        if len(codes) != len(set(codes)):
            raise ValueError("each code must appear once in codes")
        return self


LLM_NOTICE = (
    "Drafted by a language model ({model}); checked by the umreview validator against the note, the guidelines "
    "and the criteria engine."
)


def _quote(note: str, text: str | None) -> list[NoteQuote]:
    """The quote with its span when found verbatim in the note (the validator re-checks it)."""
    if not text or not text.strip():
        return []
    start = note.find(text)
    if start < 0:
        return [NoteQuote(text=text)]
    return [NoteQuote(text=text, start=start, end=start + len(text))]


def _citation(draft: CitationDraft | None, chunks: dict[str, Chunk]) -> GuidelineCitation | None:
    if draft is None or not draft.chunk_id.strip() or not draft.guideline_quote.strip():
        return None
    chunk = chunks.get(draft.chunk_id)
    return GuidelineCitation(
        chunk_id=draft.chunk_id,
        quote=draft.guideline_quote,
        document_title=chunk.document_title if chunk else None,
        section=chunk.section if chunk else None,
    )


def _code(draft: CodeDraft, engine: CodeDetermination | None, note: str, chunks: dict[str, Chunk]) -> CodeDetermination:
    known = {f.criterion_id: f for f in engine.criteria} if engine else {}
    findings = [
        CriterionFinding(
            criterion_id=c.criterion_id,
            label=known[c.criterion_id].label if c.criterion_id in known else c.criterion_id.replace("_", " "),
            status=CriterionStatus(c.status),
            role=known[c.criterion_id].role if c.criterion_id in known else "info",
            note_quotes=_quote(note, c.note_quote),
            citation=_citation(c.citation, chunks),
            explanation=c.explanation,
        )
        for c in draft.criteria
    ]
    scenario = (
        engine.model_dump(
            include={"description", "region", "topic_id", "topic_title", "variant_id", "variant_title", "rating", "departures"}
        )
        if engine
        else {}
    )
    decision = Decision(draft.decision)
    alternative = engine.alternative_code if engine and decision != Decision.approve else None
    return CodeDetermination(
        code=draft.code,
        decision=decision,
        criteria=findings,
        red_flags_present=sorted(set(draft.red_flags)),
        missing_documentation=draft.missing_documentation,
        decision_changing_red_flags=engine.decision_changing_red_flags if engine and decision == Decision.deny else [],
        alternative_code=alternative,
        alternative_reason=engine.alternative_reason if alternative and engine else None,
        rationale=draft.rationale,
        citations=[c for c in (_citation(x, chunks) for x in draft.citations) if c],
        confidence=draft.confidence,
        **scenario,
    )


def to_determination(
    draft: DeterminationDraft, request: DraftRequest, *, backend: str, model: str, prompt_version: str, usage: TokenUsage
) -> Determination:
    """The full Determination for ``draft``; instructions planted in the note come from the rules extractor too."""
    note = request.case.request.documentation
    chunks = {h.chunk.id: h.chunk for hits in request.hits.values() for h in hits}
    engine = {d.code: d for d in request.engine}
    codes = [_code(c, engine.get(c.code), note, chunks) for c in draft.codes]
    injections = [NoteQuote(text=e.quote, start=e.start, end=e.end) for e in request.facts.injections]
    for text in draft.instructions_in_note:
        quoted = _quote(note, text)
        if quoted and quoted[0].start is not None and not any(q.start == quoted[0].start for q in injections):
            injections += quoted
    reading = draft.note_reading
    flags: list[str] = sorted({r.flag for r in reading.red_flags})
    return Determination(
        case_id=request.case.id,
        determinations=codes,
        red_flags=flags,
        injection_quotes=injections,
        summary=" ".join(filter(None, [draft.summary, LLM_NOTICE.format(model=model)])),
        retrieved={code: [h.chunk.id for h in hits] for code, hits in request.hits.items()},
        provenance=Provenance(
            backend=backend,
            backend_kind="llm",
            model=model,
            prompt_version=prompt_version,
            engine_version=ENGINE_VERSION,
            criteria_set=request.criteria_set,
            criteria_version=request.criteria_version,
            kb_version=request.kb_version,
            usage=usage,
        ),
        llm_facts=ReportedFacts(
            extractor=f"llm:{model}",
            red_flags=flags,
            red_flag_quotes=[q for r in reading.red_flags for q in _quote(note, r.note_quote)],
            conservative_care_weeks=reading.conservative_care_weeks,
            flag_evidence=[ReportedFlag(flag=r.flag, quote=q) for r in reading.red_flags for q in _quote(note, r.note_quote)],
            care=[
                ReportedCare(modality=c.modality, weeks=c.weeks, quote=q)
                for c in reading.conservative_care
                for q in _quote(note, c.note_quote)
            ],
            candidacy_quote=next(iter(_quote(note, reading.candidacy_quote)), None),
        ),
    )
