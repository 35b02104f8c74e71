"""Drafting backends: one small protocol, implemented by the rules engine and by LLMs alike."""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from agent.cases import Case
from agent.clinical_facts import ClinicalFacts
from agent.determination import CodeDetermination, Determination, Violation
from agent.retrieval import Hit
from agent.settings import Settings


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


def get_backend(name: str, settings: Settings | None = None) -> Backend:
    """The backend called ``name`` (``offline`` or ``openai``), configured from ``settings``."""
    from agent.errors import ConfigError

    if name == "offline":
        from agent.backends.offline import OfflineBackend

        return OfflineBackend()
    if name == "openai":
        from agent.backends.openai import OpenAIBackend

        return OpenAIBackend(settings)
    raise ConfigError(f"unknown backend {name!r}; choose offline or openai")
