"""Question understanding for ``ask``: intents and vocabularies as data (``data/ask_intents.yaml``).

A question is scored against every intent's weighted phrasings; the best intent above ``min_score``
wins (ties go to the intent listed first). The same vocabularies pick out what the question names:
care modalities, studies (CT, radiographs, MRI with or without contrast), red flags, a finding, a
region. Nothing here reads the case; ``agent.review.ask`` answers from the understanding.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.errors import ConfigError

DATA = "data/ask_intents.yaml"
_STRICT = ConfigDict(extra="forbid")


class Phrase(BaseModel):
    model_config = _STRICT
    rx: str
    weight: int = Field(ge=1)

    @field_validator("rx")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"pattern does not compile ({exc})") from exc
        return value


class Intent(BaseModel):
    model_config = _STRICT
    id: str
    description: str
    refuse: bool = False
    patterns: list[Phrase] = Field(min_length=1)


class Study(BaseModel):
    model_config = _STRICT
    kind: str
    rx: str


class DocumentWords(BaseModel):
    model_config = _STRICT
    ask: str = Field(description="how a question names the document")
    title: str = Field(description="what the document's title says")


class Vocabulary(BaseModel):
    """The whole data file."""

    model_config = _STRICT
    min_score: int = Field(ge=1)
    intents: list[Intent] = Field(min_length=1)
    modalities: dict[str, list[str]]
    studies: list[Study]
    red_flags: dict[str, list[str]]
    findings: dict[str, list[str]]
    documents: list[DocumentWords]
    mention_stopwords: str = Field(description="space-separated words")
    modality_labels: dict[str, str]
    contrast_reasons: dict[str, str]
    refusal: str = Field(min_length=20)


# A study word expands to the procedure kinds of the criteria ("CT" -> the three CT studies).
STUDY_GROUPS = {"ct": ("ct_wo", "ct_with", "ct_wwo"), "mri": ("mri_wo", "mri_with", "mri_wwo")}
REGIONS = {
    "lumbar": r"lumbar|low(?:er)?\s+back|l-?spine|sciatica",
    "thoracic": r"thoracic|mid[-\s]?back|t-?spine",
    "cervical": r"cervical|neck|c-?spine",
}


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    """The intents file, validated (a typo fails with the field path)."""
    text = resources.files("agent.review").joinpath(DATA).read_text(encoding="utf-8")
    try:
        return Vocabulary.model_validate(yaml.safe_load(text))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"agent/review/{DATA}: {where}: {err['msg']}; fix the entry and retry") from exc


class Understanding(BaseModel):
    """What a question asks: the intent and the things it names."""

    model_config = _STRICT
    intent: str
    scores: dict[str, int] = Field(default_factory=dict)
    modalities: list[str] = Field(default_factory=list)
    studies: list[str] = Field(default_factory=list, description="procedure kinds named (mri_wo, ct_wo, xr, ...)")
    red_flags: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    finding: str | None = Field(default=None, description="a findings key, or the question's own words")
    finding_patterns: list[str] = Field(default_factory=list)
    document_title: str | None = Field(default=None, description="regex a document's title must match, if named")


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def score(question: str) -> dict[str, int]:
    """Each intent's score for ``question`` (intents that match nothing are left out)."""
    scores = {}
    for intent in vocabulary().intents:
        total = sum(p.weight for p in intent.patterns if _rx(p.rx).search(question))
        if total:
            scores[intent.id] = total
    return scores


def best_intent(question: str) -> tuple[str | None, dict[str, int]]:
    """The winning intent id (None when nothing reaches ``min_score``) and all scores."""
    scores = score(question)
    order = [i.id for i in vocabulary().intents]
    ranked = sorted(scores, key=lambda i: (-scores[i], order.index(i)))
    if not ranked or scores[ranked[0]] < vocabulary().min_score:
        return None, scores
    return ranked[0], scores


def is_refusal(intent: str | None) -> bool:
    return intent is None or any(i.id == intent and i.refuse for i in vocabulary().intents)


def studies_named(question: str) -> list[str]:
    """Procedure kinds a question names, most specific phrasing first, without overlaps."""
    found: list[str] = []
    taken: list[tuple[int, int]] = []
    for study in vocabulary().studies:
        for m in _rx(study.rx).finditer(question):
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            taken.append((m.start(), m.end()))
            for kind in STUDY_GROUPS.get(study.kind, (study.kind,)):
                if kind not in found:
                    found.append(kind)
    return found


def _named(question: str, table: dict[str, list[str]]) -> list[str]:
    return [key for key, patterns in table.items() if any(_rx(p).search(question) for p in patterns)]


def finding_named(question: str) -> tuple[str | None, list[str]]:
    """The finding a question asks about: a findings key with its patterns, else the question's own
    content words (stop words removed) as one literal phrase."""
    vocab = vocabulary()
    for key, patterns in vocab.findings.items():  # a finding named by its name first ("foot drop")
        if _rx(rf"\b{re.escape(key)}").search(question):
            return key, patterns
    for key, patterns in vocab.findings.items():
        if any(_rx(p).search(question) for p in patterns):
            return key, patterns
    stop = set(vocab.mention_stopwords.split())
    for d in vocab.documents:  # the document named is not the finding ("what does the PT note say about X")
        question = _rx(d.ask).sub(" ", question)
    words = [w for w in re.findall(r"[a-z][a-z0-9/-]*", question.lower()) if w not in stop]
    if not words:
        return None, []
    phrase = " ".join(words)
    return phrase, [r"\b" + r"\s+".join(re.escape(w) for w in words) + r"\w*"]


def understand(question: str) -> Understanding:
    """The intent of ``question`` and what it names."""
    intent, scores = best_intent(question)
    vocab = vocabulary()
    finding, patterns = finding_named(question) if intent == "mentions" else (None, [])
    return Understanding(
        intent=intent or "refusal",
        scores=scores,
        modalities=_named(question, vocab.modalities),
        studies=studies_named(question),
        red_flags=_named(question, vocab.red_flags),
        regions=[r for r, words in REGIONS.items() if _rx(words).search(question)],
        finding=finding,
        finding_patterns=patterns,
        document_title=next((d.title for d in vocab.documents if _rx(d.ask).search(question)), None),
    )


def capabilities() -> list[str]:
    """What ``ask`` can answer, from the intents' descriptions (for the refusal message)."""
    return [i.description for i in vocabulary().intents if not i.refuse and i.description]


def refusal_text() -> str:
    """The refusal: what ``ask`` answers, for a question outside the case and the knowledge base."""
    return vocabulary().refusal.strip()
