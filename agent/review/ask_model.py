"""The answer to a reviewer's question: text, verbatim quotes with their place, and guideline citations."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from agent.cases.determination import GuidelineCitation, NoteQuote
from agent.review.ask_sources import SourcedQuote

Kind = Literal["approvable", "failed_criteria", "criterion", "what_if", "guideline", "fact", "study", "refusal"]


class Answer(BaseModel):
    question: str
    kind: Kind
    intent: str | None = Field(default=None, description="the understood intent (data/ask_intents.yaml)")
    text: str
    citations: list[GuidelineCitation] = Field(default_factory=list)
    note_quotes: list[NoteQuote] = Field(default_factory=list)
    quotes: list[SourcedQuote] = Field(
        default_factory=list, description="verbatim quotes of the documentation with document, section and date"
    )
    changed: dict[str, tuple[str, str]] = Field(default_factory=dict, description="code -> (before, after) for what-if")
    answered_by: str = "rules"

    def with_quotes(self, quotes: list[SourcedQuote]) -> Answer:
        """The answer with ``quotes`` (deduplicated), also listed as plain note quotes."""
        kept = list({(q.start, q.end): q for q in quotes}.values())
        notes = [NoteQuote(text=q.text, start=q.start, end=q.end) for q in kept]
        return self.model_copy(update={"quotes": kept, "note_quotes": [*self.note_quotes, *notes]})
