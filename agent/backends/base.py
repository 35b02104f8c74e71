"""The one door every drafting backend goes through: DraftRequest in, Determination out."""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from agent.cases.determination import CodeDetermination, Determination, Violation
from agent.cases.model import Case
from agent.facts.model import ClinicalFacts
from agent.knowledge.retrieval import Hit


class DraftRequest(BaseModel):
    """Everything a backend may use to draft a determination for one case."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    case: Case
    facts: ClinicalFacts
    engine: list[CodeDetermination]
    hits: dict[str, list[Hit]]
    criteria_set: str
    criteria_version: str
    kb_version: str


class Backend(Protocol):
    name: str
    kind: Literal["rules", "llm"]
    model: str | None
    prompt_version: str | None

    def draft(self, request: DraftRequest, feedback: list[Violation] | None = None) -> Determination:
        """A Determination for ``request``; ``feedback`` lists violations of a previous draft."""
        ...
