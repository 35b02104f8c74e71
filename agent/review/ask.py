"""Follow-up questions about a reviewed case, answered with citations.

The rules answerer handles the common kinds deterministically:
* what would make a code approvable (missing documentation + the criteria it comes from);
* which criterion failed and why;
* what the guidelines say about a topic (extractive quotes from retrieved chunks);
* whether a new fact would change the recommendation ("what if he had new urinary retention?"):
  the fact is added to the note as a stated finding and the extractor and engine are re-run.
Anything else gets a plain refusal, never an invented answer. Every citation is checked like a
determination's: guideline quotes must be in their chunk, note quotes in the note.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

from agent.cases.determination import CriterionStatus, Determination, GuidelineCitation, NoteQuote
from agent.cases.model import Case
from agent.facts.extract import extract_facts
from agent.review.reviewer import Reviewer

Kind = Literal["approvable", "failed_criteria", "criterion", "what_if", "guideline", "refusal"]

# Words in a question that point at one checklist criterion (criterion ids of the criteria files).
CRITERION_WORDS = {
    "prior_surgery_same_region": r"surg\w*|fusion|acdf|laminectomy|discectomy|post-?op\w*|operat\w*",
    "conservative_care": r"conservative|physical\s+therapy|\bpt\b|nsaid\w*|therapy|six\s+weeks|6\s+weeks|treatment",
    "candidacy": r"candida\w*|injection|esi|epidural|intervention",
    "radicular_findings": r"radicul\w*|sciatica|deficit|weakness|numbness|reflex",
    "red_flags": r"red\s+flags?|cauda|infection|cancer|fracture|myelopath\w*",
    "prior_imaging": r"imaging|x-?rays?|previous\s+mri|prior\s+mri",
    "persistent_symptoms": r"persist\w*|worse\w*|progress\w*",
}
REGION_WORDS = {
    "lumbar": r"lumbar|low(?:er)?\s+back|l-?spine",
    "thoracic": r"thoracic|mid[-\s]?back|t-?spine",
    "cervical": r"cervical|neck|c-?spine",
}
REFUSAL = (
    "I can only answer questions about this case, its recommendation and the guidelines in the knowledge "
    "base (for example: what would make it approvable, which criterion was not met, what the guideline "
    "says about a topic, or whether a new finding would change the recommendation)."
)

_WHAT_IF = re.compile(
    r"\b(?:what\s+if|suppose|assuming|if)\b\s+(?:(?:he|she|they|the\s+patient|pt|patient)\s+)?"
    r"(?:had|has|have|developed|develops|reported|reports|were\s+to\s+develop|also\s+had|now\s+has|was\s+found\s+to\s+have)?\s*(?P<fact>.+?)[?.!]*$",
    re.IGNORECASE,
)
_APPROVABLE = re.compile(
    r"approv(?:able|e|ed|al)|what\s+(?:would|could|is)\s+(?:be\s+)?need|missing|what\s+documentation|get\s+(?:it|this)\s+approved",
    re.I,
)
_FAILED = re.compile(r"\b(?:why|criteri\w*|fail\w*|not\s+met|reason|denied|deny|refer\w*)\b", re.I)
_GUIDELINE = re.compile(
    r"\b(?:guideline\w*|acr|policy|criteria\s+say|what\s+does|say\s+about|rating|appropriate|contrast|conservative|red\s+flag\w*|surgery|fusion)\b",
    re.I,
)


class Answer(BaseModel):
    question: str
    kind: Kind
    text: str
    citations: list[GuidelineCitation] = Field(default_factory=list)
    note_quotes: list[NoteQuote] = Field(default_factory=list)
    changed: dict[str, tuple[str, str]] = Field(default_factory=dict, description="code -> (before, after) for what-if")
    answered_by: str = "rules"


def classify(question: str) -> Kind:
    q = question.strip()
    if _WHAT_IF.match(q) and re.match(r"\s*(?:what\s+if|suppose|assuming|if)\b", q, re.I):
        return "what_if"
    if _APPROVABLE.search(q):
        return "approvable"
    if re.match(r"\s*(?:does|do|did|is|was|would|will|can|how\s+does)\b", q, re.I) and _criterion_ids(q):
        return "criterion"
    if _FAILED.search(q):
        return "failed_criteria"
    if _GUIDELINE.search(q):
        return "guideline"
    return "refusal"


def _criterion_ids(question: str) -> list[str]:
    return [cid for cid, words in CRITERION_WORDS.items() if re.search(words, question, re.I)]


def _codes_asked(question: str, det: Determination) -> list:
    """The determinations a question is about: codes or regions it names, else all."""
    named = [d for d in det.determinations if d.code in question]
    regions = [r for r, words in REGION_WORDS.items() if re.search(words, question, re.I)]
    named += [d for d in det.determinations if d.region in regions and d not in named]
    return named or list(det.determinations)


class RulesAnswerer:
    """Answers from the case, its determination and the knowledge base, without a language model."""

    def __init__(self, reviewer: Reviewer) -> None:
        self.reviewer = reviewer

    def answer(self, case: Case, det: Determination, question: str) -> Answer:
        kind = classify(question)
        handler = {
            "approvable": self._approvable,
            "failed_criteria": self._failed,
            "criterion": self._criterion,
            "what_if": self._what_if,
            "guideline": self._guideline,
            "refusal": self._refuse,
        }[kind]
        return handler(case, det, question)

    def _refuse(self, case: Case, det: Determination, question: str) -> Answer:
        return Answer(question=question, kind="refusal", text=REFUSAL)

    def _approvable(self, case: Case, det: Determination, question: str) -> Answer:
        lines, cites = [], []
        for d in _codes_asked(question, det):
            if d.decision.value == "approve":
                lines.append(f"{d.code} ({d.description}) is already recommended for approval.")
                continue
            if not d.missing_documentation:
                lines.append(f"{d.code} ({d.description}): {d.rationale}")
                continue
            lines.append(f"{d.code} ({d.description}) would meet the criteria with:")
            lines += [f"  - {m}" for m in d.missing_documentation]
            if d.decision_changing_red_flags:
                lines.append("  Or, without waiting, a documented red flag: " + "; ".join(d.decision_changing_red_flags) + ".")
            if d.alternative_code:
                lines.append(f"  A study that fits the current documentation: {d.alternative_code} ({d.alternative_reason}).")
            cites += [f.citation for f in d.criteria if f.citation and f.status != CriterionStatus.met and f.role != "info"]
        return Answer(question=question, kind="approvable", text="\n".join(lines), citations=_unique(cites))

    def _failed(self, case: Case, det: Determination, question: str) -> Answer:
        lines, cites, quotes = [], [], []
        for d in _codes_asked(question, det):
            unmet = [f for f in d.criteria if f.status != CriterionStatus.met and f.role == "required"]
            lines.append(f"{d.code}: recommendation {d.decision.value} ({d.variant_title or 'no applicable scenario'}).")
            for f in unmet:
                why = f.explanation or ("not documented in the note" if f.status == CriterionStatus.not_documented else "not met")
                lines.append(f"  - {f.label}: {f.status.value.replace('_', ' ')} ({why}).")
                if f.citation:
                    cites.append(f.citation)
                quotes += f.note_quotes[:1]
            if not unmet:
                lines.append("  - No required criterion is unmet." if d.criteria else f"  - {d.rationale}")
        return Answer(
            question=question, kind="failed_criteria", text="\n".join(lines), citations=_unique(cites), note_quotes=quotes[:6]
        )

    def _criterion(self, case: Case, det: Determination, question: str) -> Answer:
        wanted = _criterion_ids(question)
        lines, cites, quotes = [], [], []
        for d in _codes_asked(question, det):
            for f in d.criteria:
                if f.criterion_id not in wanted:
                    continue
                why = f" ({f.explanation})" if f.explanation else ""
                lines.append(f"{d.code} - {f.label}: {f.status.value.replace('_', ' ')}{why}.")
                if f.citation:
                    cites.append(f.citation)
                    lines.append(f'  Guideline: "{f.citation.quote}"')
                quotes += f.note_quotes[:1]
            lines.append(f"  Recommendation for {d.code} stays {d.decision.value} ({d.variant_title}).")
        if not cites and not quotes:
            return self._failed(case, det, question)
        return Answer(
            question=question, kind="criterion", text="\n".join(lines), citations=_unique(cites), note_quotes=quotes[:6]
        )

    def _guideline(self, case: Case, det: Determination, question: str) -> Answer:
        region = next((r for r, words in REGION_WORDS.items() if re.search(words, question, re.I)), None)
        hits = self.reviewer.kb.search(question, 4, self.reviewer.filters(region))
        cites = []
        for hit in hits[:3]:
            sentence = _best_sentence(hit.chunk.text, question)
            if sentence:
                cites.append(
                    GuidelineCitation(
                        chunk_id=hit.chunk.id, quote=sentence, document_title=hit.chunk.document_title, section=hit.chunk.section
                    )
                )
        if not cites:
            return self._refuse(case, det, question)
        text = "\n".join(f'- {c.section}: "{c.quote}"' for c in cites)
        return Answer(question=question, kind="guideline", text="The guidelines say:\n" + text, citations=cites)

    def _what_if(self, case: Case, det: Determination, question: str) -> Answer:
        match = _WHAT_IF.match(question.strip())
        fact = (match.group("fact") if match else "").strip().rstrip("?.! ")
        if not fact:
            return self._refuse(case, det, question)
        statement = f"\nAddendum (hypothetical, asked by the reviewer): Patient has {fact}."
        request = case.request.model_copy(update={"clinical_notes": (case.request.clinical_notes or "") + statement})
        variant = case.model_copy(update={"request": request, "expected": None})
        facts = extract_facts(variant)
        new_flags = [f for f in facts.present_flags() if f not in det.red_flags]
        changed: dict[str, tuple[str, str]] = {}
        lines, cites = [], []
        for d in det.determinations:
            after = self.reviewer.engine.decide_code(variant, facts, d.code)
            if after.decision != d.decision:
                changed[d.code] = (d.decision.value, after.decision.value)
                lines.append(
                    f"{d.code}: the recommendation would change from {d.decision.value} to {after.decision.value} "
                    f"({after.variant_title}, rated {after.rating})."
                )
                cites += after.citations
            else:
                lines.append(f"{d.code}: the recommendation would stay {d.decision.value}.")
        head = (
            f"If the note documented '{fact}', the rules would find red flag(s): {', '.join(new_flags)}."
            if new_flags
            else f"'{fact}' does not add a red flag the rules recognise."
        )
        verdict = "Yes, this would change the recommendation." if changed else "No, this would not change the recommendation."
        return Answer(
            question=question, kind="what_if", text="\n".join([verdict, head, *lines]), citations=_unique(cites), changed=changed
        )


def _unique(cites: list[GuidelineCitation]) -> list[GuidelineCitation]:
    return list({(c.chunk_id, c.quote): c for c in cites}.values())


def _best_sentence(text: str, question: str) -> str | None:
    words = {w for w in re.findall(r"[a-z]{4,}", question.lower())}
    best, score, previous = None, 0, ""
    for raw in re.split(r"(?<=[.!?])\s+|\n+", text):
        sentence = raw.strip().lstrip("- ").strip()
        if sentence.startswith("|") or len(sentence) < 25:
            continue
        overlap = len(words & set(re.findall(r"[a-z]{4,}", sentence.lower())))
        if overlap > score and sentence in text:
            # A sentence that leans on the one before it ("That is the main reason...") is quoted with it.
            joined = f"{previous} {sentence}"
            leaning = re.match(r"(?:That|This|These|It|They|Such)\b", sentence)
            best = joined if leaning and previous and joined in text else sentence
            score = overlap
        previous = sentence
    return best


def check_answer(answer: Answer, case: Case, reviewer: Reviewer) -> list[str]:
    """Problems with an answer's citations (same rules as a determination's)."""
    problems = []
    for c in answer.citations:
        chunk = reviewer.kb.corpus.chunk(c.chunk_id)
        if chunk is None:
            problems.append(f"unknown chunk {c.chunk_id}")
        elif c.quote not in chunk.text:
            problems.append(f"quote not in chunk {c.chunk_id}")
    for q in answer.note_quotes:
        if q.text not in case.request.documentation:
            problems.append("note quote not verbatim in the note")
    return problems
